"""The CBAM experiment end to end on tiny data: a CIFAR-format folder written here, a
killed run resumed to the same result, and the offline MNIST (book) data path."""

import json

import pytest
import torch

from arnn_lite import train
from arnn_lite.experiments import cbam as experiment
from arnn_lite.train import load_checkpoint
from tests.helpers import assert_same_run, kill_then_resume

from .test_datasets_cifar import write_tiny_cifar100

ARGS = ["--spatial", "arnn", "--dataset", "cifar100", "--no-verify", "--depth", "8", "--width", "4",
        "--train", "30", "--val", "10", "--test", "6", "--batch-size", "10", "--seed", "1"]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    write_tiny_cifar100(root, n_train=40, n_test=6)
    return root


def _result(out):
    return json.loads((out / "arnn_seed1.json").read_text())  # seed 1: its own file name


def test_killed_run_resumes_to_the_same_result(tmp_path, cifar_root):
    experiment.main([*ARGS, "--data-root", str(cifar_root), "--out-dir", str(tmp_path / "a"),
                     "--epochs", "3"])  # in this process: one interpreter start fewer
    ref = _result(tmp_path / "a")
    assert ref["experiment"] == "cbam" and ref["protocol"] == "custom"
    assert ref["config"]["dataset"] == "cifar100" and ref["config"]["context_size"] == 3
    assert ref["config"]["optimizer_used"]["name"] in ("rmsprop", "sgd")
    assert ref["provenance"]["command"].startswith("python -m arnn_lite.experiments.cbam --spatial arnn")
    test = ref["metrics"]["test"]
    assert {"accuracy", "top5", "mask_mean", "mask_mass_in_box", "parameters"} <= set(test)
    assert len(test["mask_mean"]) == 3 and test["mask_mass_in_box"] is None  # CIFAR: no boxes
    state = load_checkpoint(tmp_path / "a" / ref["checkpoint"]["file"], ref["checkpoint"]["sha256"])
    assert any(".arnn." in k for k in state)

    got = kill_then_resume("cbam", [*ARGS, "--data-root", str(cifar_root)], tmp_path / "b", "arnn_seed1",
                           "--epochs", "3")
    assert_same_run(got, ref)


def test_book_data_path_on_cluttered_mnist(tmp_path):
    sizes = dict(train=16, val=8, test=8, epochs=1, batch_size=8, depth=8, width=4)
    test, history = experiment.run("cbam", "book", out_dir=tmp_path, overrides=sizes, progress=False,
                                   command="test")
    result = json.loads((tmp_path / "cbam.json").read_text())
    assert result["protocol"] == "custom" and result["config"]["dataset"] == "mnist"
    assert len(history) == 1 and 0 <= test["accuracy"] <= 1
    assert len(test["mask_mass_in_box"]) == 3 and all(0 <= v <= 1 for v in test["mask_mass_in_box"])


def test_paper_protocol_is_the_cifar_recipe():
    spec = experiment.PROTOCOLS["paper"]
    assert spec["dataset"] == "cifar100" and spec["depth"] == 56 and spec["augment"]
    assert spec["optimizer"] == {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}
    assert spec["config"].epochs == 182 and spec["config"].batch_size == 128
    lrs = [spec["config"].lr_at(e) for e in (0, 90, 91, 136, 137, 181)]  # 32k, 48k of 64k iterations
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    config = experiment.optimizer_config(spec["config"], spec["optimizer"])
    assert (config.optimizer, config.lr, config.momentum, config.weight_decay) == ("sgd", 0.1, 0.9, 1e-4)
    opt = train.make_optimizer(torch.nn.Linear(2, 2), config)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
