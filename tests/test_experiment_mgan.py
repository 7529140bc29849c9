"""The MGAN experiment on a tiny protocol: results files with provenance, a run stopped
after one epoch and resumed ends where an uninterrupted one does, and the metrics."""

import json
import shutil

import pytest
import torch

from arnn_lite.experiments import mgan, results
from arnn_lite.experiments.mgan_eval import mask_tv, masked_change
from arnn_lite.models.metrics import mask_iou
from arnn_lite.models.mgan import ModularGenerator
from arnn_lite.train import CheckpointError, load_checkpoint

ARGS = ["--train", "40", "--val", "3", "--test", "4", "--batch-size", "8", "--epochs", "2", "--seed", "1"]


def test_run_writes_results_and_resumes_to_the_same_generator(tmp_path):
    mgan.main(["--attention", "arnn", "--out-dir", str(tmp_path / "a"), *ARGS])
    ref = json.loads((tmp_path / "a" / "arnn_seed1.json").read_text())  # seed 1: its own files
    assert ref["experiment"] == "mgan" and ref["protocol"] == "custom"
    assert ref["provenance"]["command"].startswith("python -m arnn_lite.experiments.mgan --attention arnn")
    assert ref["config"]["gan"]["n_critic"] == 5 and ref["config"]["gan"]["betas"] == [0.5, 0.999]
    assert {"target_accuracy", "mask_iou", "mask_tv_hair", "change_outside_hair",
            "l1_to_truth"} <= set(ref["metrics"]["test"])
    assert [h["step"] for h in ref["metrics"]["history"]] == [5, 10]
    assert "g_loss" in ref["metrics"]["history"][0]  # a generator step happened in epoch 1
    judge = json.loads((tmp_path / "a" / "classifier_seed1.json").read_text())
    assert ref["classifier"]["file"] == "classifier_seed1.pt"
    assert judge["experiment"] == "mgan_classifier" and "true_translation_accuracy" in judge["metrics"]
    weights = load_checkpoint(tmp_path / "a" / ref["checkpoint"]["file"], ref["checkpoint"]["sha256"])
    G = ModularGenerator("arnn", **ref["config"]["generator"])
    G.load_state_dict(weights)  # generator only: no critic in the shipped file
    assert not any(k.startswith("critic") for k in weights)

    (tmp_path / "b").mkdir()
    for name in ("classifier_seed1.json", "classifier_seed1.pt"):  # the same judge
        shutil.copy(tmp_path / "a" / name, tmp_path / "b" / name)
    overrides = dict(train=40, val=3, test=4, batch_size=8, epochs=2)
    test, history = mgan.run("arnn", "book", seed=1, out_dir=tmp_path / "b", overrides=overrides,
                             progress=False, stop_after=1)
    assert test is None and len(history) == 1 and not (tmp_path / "b" / "arnn_seed1.json").exists()
    shutil.copytree(tmp_path / "b", tmp_path / "c")  # a damaged copy must refuse to resume
    ckpt = tmp_path / "c" / "arnn_seed1.ckpt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0x01
    ckpt.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        mgan.run("arnn", "book", seed=1, out_dir=tmp_path / "c", overrides=overrides,
                 progress=False, resume=True)
    mgan.run("arnn", "book", seed=1, out_dir=tmp_path / "b", overrides=overrides, progress=False,
             resume=True)
    got = json.loads((tmp_path / "b" / "arnn_seed1.json").read_text())
    assert got["metrics"]["test"] == ref["metrics"]["test"]
    resumed = load_checkpoint(tmp_path / "b" / got["checkpoint"]["file"], got["checkpoint"]["sha256"])
    assert all(torch.equal(resumed[k], weights[k]) for k in weights)
    assert [h["g_loss"] for h in got["metrics"]["history"]] == [h["g_loss"] for h in ref["metrics"]["history"]]


def test_results_carry_per_face_mask_values_for_the_test_split_only(tmp_path):
    """The test split's mask measures per translation pair (2 per face: the two other colours),
    in pair order, so the findings can pair MGAN and MGAN+ARNN face by face; their means are
    the recorded means. Validation (the per-epoch history) keeps means only."""
    test, _ = mgan.run("mgan", "book", seed=0, out_dir=tmp_path, progress=False,
                       overrides=dict(train=16, val=2, test=3, epochs=1, batch_size=8))
    result = results.read_result(tmp_path / "mgan.json")
    per_face = result["metrics"]["test"]["per_face"]
    assert set(per_face) == {"mask_tv_hair", "mask_iou"} and per_face == test["per_face"]
    for key, values in per_face.items():
        assert len(values) == 2 * 3 and all(type(v) is float for v in values)
        assert sum(values) / len(values) == pytest.approx(result["metrics"]["test"][key], rel=1e-6, abs=1e-9)
    assert all("per_face" not in h for h in result["metrics"]["history"])


def test_gradient_penalty_is_zero_for_a_unit_slope_critic():
    w = torch.zeros(1, 3, 4, 4)
    w[0, 0, 0, 0] = 1.0  # critic(x) = x[:, 0, 0, 0]: gradient norm exactly 1
    critic = lambda z: (z * w).sum((1, 2, 3))
    real, fake = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    assert float(mgan.gradient_penalty(critic, real, fake, torch.rand(2, 1, 1, 1))) == pytest.approx(0.0)
    assert float(mgan.gradient_penalty(lambda z: 3 * critic(z), real, fake, torch.rand(2, 1, 1, 1))) == \
        pytest.approx(4.0)


def test_lr_decays_linearly_to_zero_in_the_paper_protocol():
    cfg = mgan.PROTOCOLS["paper"]["gan"]
    assert [cfg.lr_at(e) for e in (0, 9)] == [1e-4, 1e-4]
    assert cfg.lr_at(10) < 1e-4 and cfg.lr_at(19) == pytest.approx(1e-4 / 11) and cfg.lr_at(19) > 0


def test_mask_metrics_on_hand_made_masks():
    hair = torch.zeros(1, 1, 4, 4)
    hair[..., :2, :] = 1  # top half is hair
    assert float(mask_iou(hair * 0.9, hair)) == 1.0
    assert float(mask_iou(torch.full_like(hair, 0.7), hair)) == 0.5
    assert float(mask_iou(torch.zeros_like(hair), torch.zeros_like(hair))) == 1.0
    stripes = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    # inside the hair: 6 horizontal pairs differ by 1, 4 vertical pairs by 0
    assert float(mask_tv(stripes, hair > 0)) == pytest.approx(6 / 10)
    assert float(mask_tv(torch.full_like(hair, 0.3), hair > 0)) == 0.0
    a, b = torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)
    b[..., 2:, :] = 0.5  # change only outside the hair
    assert float(masked_change(a, b, hair < 0.5)) == 0.5 and float(masked_change(a, b, hair > 0.5)) == 0.0


def test_paper_protocol_keeps_the_recipe_and_book_says_what_it_changes():
    paper = mgan.PROTOCOLS["paper"]["gan"]
    assert (paper.lr, tuple(paper.betas), paper.n_critic, paper.batch_size) == (1e-4, (0.5, 0.999), 5, 16)
    assert (paper.lambda_gp, paper.lambda_cls, paper.lambda_rec, paper.lambda_cyc) == (10, 1, 10, 10)
    book = mgan.PROTOCOLS["book"]
    assert book["gan"].n_critic == 5 and "lr 1e-3" in book["changes_from_recipe"]


def test_celeba_path_runs_on_a_tiny_celeba_folder(tmp_path):
    from tests.test_datasets_faces import write_tiny_celeba
    write_tiny_celeba(tmp_path / "data")
    test, history = mgan.run("mgan", "book", dataset="celeba", data_root=tmp_path / "data",
                             out_dir=tmp_path / "out", progress=False,
                             overrides=dict(train=3, val=2, test=2, epochs=1, batch_size=3))
    assert set(test) == {"target_accuracy", "reconstruction_l1"}  # CelebA has no hair masks
    result = json.loads((tmp_path / "out" / "mgan.json").read_text())
    assert result["config"]["dataset"] == "celeba" and result["protocol"] == "custom"
    with pytest.raises(ValueError, match="data_root"):
        mgan.run("mgan", "book", dataset="celeba", out_dir=tmp_path / "x", progress=False)
