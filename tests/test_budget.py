"""Full mode's time budget: ``fit`` stops within it and says why, every experiment has a
``budget`` protocol that runs end to end, full mode never starts the paper protocol without
the reader's opt-in, and batch sizes are fitted to a 16 GB GPU's memory (issue 20)."""

import dataclasses
import time

import pytest
import torch
from torch.utils.data import TensorDataset

from arnn_lite import train


# --------------------------------------------------------------------------- fit's budget
def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long())


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def _evaluate(model, loader, device):
    right = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
    return {"accuracy": right / len(loader.dataset)}


class FakeClock:
    """A clock that moves only when a training step runs (``step_s`` per step), so that
    budget decisions are the same on every machine."""

    def __init__(self, step_s=0.1):
        self.now, self.step_s = 0.0, step_s

    def __call__(self):
        return self.now

    def loss(self, net, batch, device):
        self.now += self.step_s
        x, y = batch
        return torch.nn.functional.cross_entropy(net(x), y)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(train, "_clock", fake)
    return fake


# 64 items in batches of 16: 4 steps, 0.4 fake seconds per epoch
CONFIG = train.TrainConfig(epochs=50, batch_size=16, lr=1e-2, patience=None)


def _fit(clock, budget_s, **kw):
    config = dataclasses.replace(CONFIG, budget_s=budget_s)
    return train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate, config, progress=False, **kw)


def test_budget_stops_before_an_epoch_that_would_not_fit(clock):
    history, best = _fit(clock, 1.0)  # 0.4 + 0.4 = 0.8 fits; a third epoch would end at 1.2
    assert len(history) == 2 and best is not None
    assert history[-1]["stopped"] == "budget" and "stopped" not in history[0]
    assert [h["budget_left_s"] for h in history] == pytest.approx([0.6, 0.2])
    summary = train.budget_summary(history, dataclasses.replace(CONFIG, budget_s=1.0))
    assert summary == {"budget_s": 1.0, "seconds": pytest.approx(0.8), "epochs_run": 2, "epochs_max": 50,
                       "stopped": "budget", "cut_short": False}


def test_an_epoch_longer_than_the_budget_is_cut_at_the_step_that_spends_it(clock):
    history, _ = _fit(clock, 0.25)  # steps end at 0.1, 0.2, 0.3: the third spends the budget
    assert len(history) == 1
    assert history[0]["budget_cut"] is True and history[0]["steps"] == 3
    assert history[0]["stopped"] == "budget" and history[0]["seconds"] == pytest.approx(0.3)


def test_without_a_budget_nothing_changes(clock):
    history, _ = train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
                           dataclasses.replace(CONFIG, epochs=3), progress=False)
    assert len(history) == 3 and not {"stopped", "budget_left_s", "budget_cut"} & set(history[-1])
    assert not train.budget_ends(history, None)


def test_epochs_and_patience_still_end_a_budgeted_run_and_say_so(clock):
    history, _ = _fit(clock, 100.0, **{})  # 50 epochs of 0.4 s fit in 100 s
    assert len(history) == 50 and history[-1]["stopped"] == "epochs"


def test_real_clock_budget_of_about_two_epochs_stops_early():
    def slow_loss(net, batch, device):
        time.sleep(0.02)  # 4 steps: about 0.08 s per epoch
        x, y = batch
        return torch.nn.functional.cross_entropy(net(x), y)

    config = dataclasses.replace(CONFIG, budget_s=0.2)
    history, _ = train.fit(_model(), _data(), _data(seed=1), slow_loss, _evaluate, config, progress=False)
    assert 1 <= len(history) < CONFIG.epochs and history[-1]["stopped"] == "budget"
    spent = sum(h["seconds"] for h in history)
    assert spent <= config.budget_s + max(h["seconds"] for h in history)  # never a whole epoch over


def test_resume_of_a_budgeted_run_is_exact_and_counts_the_time_already_spent(clock, tmp_path):
    straight = _model()
    config = dataclasses.replace(CONFIG, budget_s=1.3)  # three epochs of 0.4 s
    h1, _ = train.fit(straight, _data(), _data(seed=1), clock.loss, _evaluate, config, progress=False)
    assert len(h1) == 3

    def killed_in_epoch_2(model, loader, device):
        if clock.now > 0.5:
            raise KeyboardInterrupt  # the kill, after epoch 1's checkpoint
        return _evaluate(model, loader, device)

    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train.fit(_model(), _data(), _data(seed=1), clock.loss, killed_in_epoch_2, config, checkpoint=ckpt,
                  progress=False)
    clock.now = 1000.0  # time between the kill and the resume does not count
    resumed = _model()
    h2, _ = train.fit(resumed, _data(), _data(seed=1), clock.loss, _evaluate, config, checkpoint=ckpt,
                      resume=True, progress=False)
    assert [h["accuracy"] for h in h2] == [h["accuracy"] for h in h1] and h2[-1]["stopped"] == "budget"
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    again, _ = train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate, config, checkpoint=ckpt,
                         resume=True, progress=False)  # ended: nothing more is trained
    assert len(again) == 3
    with pytest.raises(ValueError, match="budget_s: 1.3 -> 60"):  # the budget is part of the identity
        train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
                  dataclasses.replace(config, budget_s=60), checkpoint=ckpt, resume=True, progress=False)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_a_bad_budget_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="budget_s: expected None or a finite number"):
        train.fit(_model(), _data(), _data(seed=1), lambda *a: None, _evaluate,
                  dataclasses.replace(CONFIG, budget_s=bad), progress=False)


def test_progress_bar_shows_the_time_left(clock, capsys):
    _fit(clock, 1.0, **{})
    train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
              dataclasses.replace(CONFIG, budget_s=100.0, epochs=1), progress=True)
    err = capsys.readouterr().err
    assert "left" in err and "epoch 1/1" in err


# --------------------------------------------------------------------------- batch vs memory
def _linear_loss(net, batch, device):
    x, y = batch
    return torch.nn.functional.cross_entropy(net(x), y)


def _linear_sample():
    return [(torch.randn(100), torch.tensor(i % 2)) for i in range(3)]


def test_activation_bytes_grow_with_the_batch_as_the_layers_say():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    sizes = {b: train.activation_bytes(net, train._collate(_linear_sample(), b), _linear_loss) for b in (2, 4, 8)}
    per_item = (sizes[8] - sizes[4]) / 4
    assert sizes[4] - sizes[2] == 2 * per_item  # linear in the batch
    # ReLU's output (kept once for the ReLU and the second layer) is 50 float32 per item;
    # the loss keeps a few more bytes per item
    assert 50 * 4 <= per_item <= 50 * 4 + 32


class _KeepsOnContext(torch.autograd.Function):
    """Keeps a large buffer on ``ctx`` rather than through ``save_for_backward``, as the
    fused scan does with its per-step gates."""

    @staticmethod
    def forward(ctx, x):
        ctx.buffer = x.repeat(1, 64)  # (B, 64 * F)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_activation_bytes_count_what_a_custom_function_keeps_on_its_context():
    def loss(net, batch, device):
        return _KeepsOnContext.apply(net(batch[0])).sum()

    net = torch.nn.Linear(100, 10)
    got = train.activation_bytes(net, train._collate(_linear_sample(), 4), loss)
    assert got >= 4 * 64 * 10 * 4  # the buffer: 4 items x 640 float32


def test_estimate_scales_with_the_batch_and_counts_the_weights():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    weights = sum(p.numel() * 4 for p in net.parameters())
    small, large = (train.estimate_peak_bytes(net, _linear_sample(), _linear_loss, b) for b in (10, 1010))
    assert small > 4 * weights
    assert large - small == pytest.approx(1.5 * 1000 * (large - small) / 1500, rel=1e-6)
    assert 1.5 * 1000 * 200 <= large - small <= 1.5 * 1000 * 232


def test_halve_to_fit_halves_until_the_step_fits_and_refuses_when_nothing_does():
    gib = 2**30
    asked = []
    batch, peak = train.halve_to_fit(lambda b: asked.append(b) or b * gib, 200, 12 * gib)
    assert asked == [200, 100, 50, 25, 12] and (batch, peak) == (12, 12 * gib)
    assert train.halve_to_fit(lambda b: 1.0, 200) == (200, 1.0)  # fits: unchanged
    with pytest.raises(ValueError, match="batch_size: expected a batch that fits 12.0 GiB, but even a batch of 1"):
        train.halve_to_fit(lambda b: 13 * gib, 8, 12 * gib)


def test_fit_batch_to_memory_on_the_cpu_estimates_and_scales_the_learning_rate():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    config = train.TrainConfig(batch_size=200, lr=3e-3)
    same, info = train.fit_batch_to_memory(net, _linear_sample(), _linear_loss, config, "cpu")
    assert same is config and info["method"] == "estimated" and info["batch_to"] == 200
    limit = train.estimate_peak_bytes(net, _linear_sample(), _linear_loss, 60)  # 50 fits, 100 does not
    fitted, info = train.fit_batch_to_memory(net, _linear_sample(), _linear_loss, config, "cpu", limit)
    assert (fitted.batch_size, info["batch_from"], info["batch_to"]) == (50, 200, 50)
    assert fitted.lr == pytest.approx(3e-3 * 50 / 200) and info["peak_bytes"] <= limit
