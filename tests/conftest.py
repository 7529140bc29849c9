"""Shared fixtures: deterministic seeds, the list of devices this machine has, and a guard
that keeps process-wide torch settings from leaking from one test into the next.

A test that needs one thread (or another global setting) uses :func:`tests.helpers.torch_threads`
or the ``one_thread`` fixture, which restore the setting afterwards. A test (or module fixture)
that changes a setting and leaves it changed fails here, naming the setting: later tests would
otherwise run under it, and in-process reference runs would differ from the subprocesses they are
compared with (float reductions depend on the thread count)."""

import pytest
import torch

from tests.helpers import torch_threads

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def global_torch_state() -> dict:
    """The process-wide torch settings a test could change and forget."""
    return {
        "num_threads": torch.get_num_threads(),
        "default_dtype": torch.get_default_dtype(),
        "grad_enabled": torch.is_grad_enabled(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "anomaly_detection": torch.is_anomaly_enabled(),
    }


def _check_unchanged(before: dict, where: str) -> None:
    after = global_torch_state()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if changed:
        # restore first, so one leak fails one test instead of every later one
        torch.set_num_threads(before["num_threads"])
        torch.set_default_dtype(before["default_dtype"])
        torch.set_grad_enabled(before["grad_enabled"])
        torch.use_deterministic_algorithms(before["deterministic_algorithms"])
        torch.autograd.set_detect_anomaly(before["anomaly_detection"])
        pytest.fail(f"{where} left global torch settings changed (before, after): {changed}; "
                    "restore them (tests.helpers.torch_threads, a fixture with yield)",
                    pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def _module_leaves_torch_settings_alone(request):
    before = global_torch_state()
    yield
    _check_unchanged(before, f"module {request.module.__name__}")


@pytest.fixture(autouse=True)
def _test_leaves_torch_settings_alone(request):
    before = global_torch_state()
    yield
    _check_unchanged(before, f"test {request.node.nodeid}")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """Run the test with one torch thread; the previous count is restored afterwards."""
    with torch_threads(1):
        yield
