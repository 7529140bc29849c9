"""The training loop: learning, exact resume, early stopping, checkpoint integrity."""

import dataclasses

import pytest
import torch
from torch.utils.data import TensorDataset

from arnn_lite import train


def _data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long())


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Linear(16, 2))


def _loss(net, batch, device):
    x, y = (t.to(device) for t in batch)
    return torch.nn.functional.cross_entropy(net(x), y)


def _evaluate(model, loader, device):
    right = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
    return {"accuracy": right / len(loader.dataset)}


CONFIG = train.TrainConfig(epochs=6, batch_size=16, lr=1e-2, patience=None, decay_start=2, decay_every=2)


def test_learns_and_decays_lr(tmp_path):
    history, best = train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, CONFIG, progress=False)
    assert len(history) == 6 and history[-1]["accuracy"] > 0.8
    assert [h["lr"] for h in history] == [CONFIG.lr_at(e) for e in range(6)]
    assert CONFIG.lr_at(1) == 1e-2 and CONFIG.lr_at(2) == pytest.approx(1e-2 / 1.5)
    assert CONFIG.lr_at(4) == pytest.approx(1e-2 / 1.5 ** 2)


def test_resume_after_a_stop_gives_the_same_result(tmp_path):
    straight = _model()
    h1, _ = train.fit(straight, _data(), _data(seed=1), _loss, _evaluate, CONFIG, progress=False)
    ckpt = tmp_path / "run.pt"
    resumed = _model()
    train.fit(resumed, _data(), _data(seed=1), _loss, _evaluate,
              dataclasses.replace(CONFIG, epochs=3), checkpoint=ckpt, progress=False)
    torch.manual_seed(123)  # whatever happened in between must not matter
    resumed = _model()
    h2, _ = train.fit(resumed, _data(), _data(seed=1), _loss, _evaluate, CONFIG,
                      checkpoint=ckpt, resume=True, progress=False)
    assert [h["accuracy"] for h in h1] == [h["accuracy"] for h in h2]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_early_stopping():
    config = dataclasses.replace(CONFIG, epochs=50, lr=0.0, patience=3)
    history, _ = train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, config, progress=False)
    assert len(history) == 4  # best at epoch 1, then three epochs without improvement


def test_checkpoint_sha_is_checked(tmp_path):
    path = tmp_path / "c.pt"
    train.save_checkpoint({"w": torch.ones(2)}, path)
    digest = train.sha256(path)
    assert torch.equal(train.load_checkpoint(path, digest)["w"], torch.ones(2))
    with pytest.raises(ValueError, match="SHA-256 does not match"):
        train.load_checkpoint(path, "0" * 64)


def test_make_optimizer_choices():
    model, make_optimizer, TrainConfig = torch.nn.Linear(2, 2), train.make_optimizer, train.TrainConfig
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.RMSprop)
    sgd = make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["weight_decay"] == 1e-4
    with pytest.raises(ValueError, match=r"optimizer: expected one of \['rmsprop', 'sgd'\], got 'adam'"):
        make_optimizer(model, TrainConfig(optimizer="adam"))


def test_same_state_saves_to_same_bytes(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3)}
    train.save_checkpoint(state, tmp_path / "a.pt")
    train.save_checkpoint(state, tmp_path / "b.pt")
    assert train.sha256(tmp_path / "a.pt") == train.sha256(tmp_path / "b.pt")
    assert torch.equal(train.load_checkpoint(tmp_path / "a.pt")["w"], state["w"])


def _counting(loss_fn, calls):
    """``loss_fn`` that records each call (one per training step)."""
    return lambda net, batch, device: calls.append(1) or loss_fn(net, batch, device)


def test_resume_of_an_early_stopped_run_trains_nothing(tmp_path):
    # killed after its last checkpoint, before its results file: the stop must be re-checked
    config, ckpt = dataclasses.replace(CONFIG, epochs=50, lr=0.0, patience=3), tmp_path / "run.ckpt"
    history, _ = train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, config,
                           checkpoint=ckpt, progress=False)
    assert len(history) == 4
    calls = []
    again, best = train.fit(_model(), _data(), _data(seed=1), _counting(_loss, calls), _evaluate, config,
                            checkpoint=ckpt, resume=True, progress=False)
    assert calls == [] and len(again) == 4 and best is not None


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    ckpt, calls = tmp_path / "run.ckpt", []
    train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, CONFIG, checkpoint=ckpt, progress=False)
    history, _ = train.fit(_model(), _data(), _data(seed=1), _counting(_loss, calls), _evaluate, CONFIG,
                           checkpoint=ckpt, resume=True, progress=False)
    assert calls == [] and len(history) == CONFIG.epochs


def test_resume_refuses_a_run_this_stopping_rule_ends_earlier(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, CONFIG, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match=r"run\.ckpt: .*6 epochs.*stops after epoch 3"):
        train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, dataclasses.replace(CONFIG, epochs=3),
                  checkpoint=ckpt, resume=True, progress=False)


def test_resume_refuses_another_configuration(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    short = dataclasses.replace(CONFIG, epochs=2)
    train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, short, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match=r"run\.ckpt: .*another configuration.*seed: 0 -> 1"):
        train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, dataclasses.replace(short, seed=1),
                  checkpoint=ckpt, resume=True, progress=False)
    ckpt2 = tmp_path / "named.ckpt"
    train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, short, checkpoint=ckpt2, progress=False,
              identity={"model": "ctx", "train": 20})
    with pytest.raises(ValueError, match=r"named\.ckpt: .*model: 'ctx' -> 'arnn'; train: 20 -> 40"):
        train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate, short, checkpoint=ckpt2, resume=True,
                  progress=False, identity={"model": "arnn", "train": 40})


def test_non_finite_loss_stops_naming_the_epoch_and_step():
    calls = []

    def nan_at_step_2(net, batch, device):
        calls.append(1)
        loss = _loss(net, batch, device)
        return loss * float("nan") if len(calls) == 7 else loss  # epoch 2 (4 steps each), step 2

    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 2, step 2 \(batch 3 of 4\)"):
        train.fit(_model(), _data(), _data(seed=1), nan_at_step_2, _evaluate, CONFIG, progress=False)
