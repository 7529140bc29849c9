"""The guard in conftest.py: a test that leaves a global torch setting changed fails, and the
setting is put back so the leak does not reach later tests."""

import pytest
import torch

from tests.conftest import _check_unchanged, global_torch_state
from tests.helpers import subprocess_env, torch_threads


def test_guard_fails_on_a_changed_thread_count_and_restores_it():
    before = global_torch_state()
    torch.set_num_threads(before["num_threads"] + 1)
    with pytest.raises(pytest.fail.Exception, match="num_threads"):
        _check_unchanged(before, "this test")
    assert global_torch_state() == before


def test_guard_fails_on_a_changed_default_dtype_and_restores_it():
    before = global_torch_state()
    torch.set_default_dtype(torch.float64)
    with pytest.raises(pytest.fail.Exception, match="default_dtype"):
        _check_unchanged(before, "this test")
    assert torch.get_default_dtype() == torch.float32


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_subprocesses_get_this_process_thread_count():
    with torch_threads(1):
        assert subprocess_env()["OMP_NUM_THREADS"] == "1"
