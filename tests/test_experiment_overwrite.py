"""A run never replaces the results of another configuration (issue 15, item 1): it checks
its results path before building any data and refuses (one line, exit 2) unless
``--overwrite``; the same run may rewrite its own file; seeds other than 0 get their own
file names; and every run hands its config to the training loop as its identity."""

import json
import shlex
import shutil
from pathlib import Path

import pytest
import torch

from arnn_lite._repo import data_dir
from arnn_lite.datasets.tensors import TensorDict
from arnn_lite.experiments import common, mbg, mgan, results, scalability, vqa
from arnn_lite.models.mgan import Discriminator, ModularGenerator

SHIPPED = data_dir() / "results"
# the stand-in data builders of the CLI tests: a run that gets past its checks raises DataBuilt
from tests.test_experiment_cli import BUILDERS, MODULES, DataBuilt, no_data  # noqa: E402,F401


def _copy(src, dst, *names):
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(src / name, dst / name)
    return {p.name: p.read_bytes() for p in dst.iterdir()}


def _refusal(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_issue_command_cannot_replace_a_shipped_run(tmp_path, no_data, capsys):
    out = tmp_path / "custom"
    before = _copy(SHIPPED / "mbg_inv" / "custom", out, "none.json", "none.pt")  # 6,000 images, 12 epochs
    argv = ["--model", "none", "--inverse", "--train", "8", "--val", "4", "--test", "4", "--epochs", "1",
            "--out-dir", str(out)]
    with pytest.raises(SystemExit) as stop:
        mbg.main(argv)
    line = _refusal(capsys)
    assert stop.value.code == 2 and str(out / "none.json") in line and "--overwrite" in line
    assert all(key in line for key in ("epochs", "train", "val", "test")), line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(DataBuilt):  # asked for explicitly: allowed
        mbg.main([*argv, "--overwrite"])


def test_another_seed_is_another_file(tmp_path, no_data):
    _copy(SHIPPED / "mbg_inv" / "custom", tmp_path, "none.json")
    with pytest.raises(DataBuilt):  # seed 1 writes none_seed1.json: no conflict with seed 0's file
        mbg.main(["--model", "none", "--inverse", "--train", "6000", "--epochs", "12", "--patience", "12",
                  "--seed", "1", "--out-dir", str(tmp_path)])
    assert common.results_stem("arnn", 0) == "arnn" and common.results_stem("arnn", 2) == "arnn_seed2"


# Written before cbam dropped its RMSprop fallback (commit 2726124): their config records an
# ``optimizer_requested`` that today's runs no longer write, so rerunning their command needs
# --overwrite. Fields *added* to TrainConfig since a file was written are not a difference
# when the run keeps their default (the judge in mgan/book predates ``optimizer``).
OLDER_CONFIG = {}  # shipped files whose own command today is another configuration: {path: the key}


@pytest.mark.parametrize("path", sorted(p.relative_to(SHIPPED).as_posix() for p in SHIPPED.glob("*/*/*.json")))
def test_every_shipped_command_may_rewrite_its_own_file(path, no_data, capsys):
    """Reproducing a shipped result (same config, same seed) passes the check: the command
    its provenance records reaches the data, for the default results folder."""
    command = shlex.split(json.loads((SHIPPED / path).read_text())["provenance"]["command"])
    assert command[:2] == ["python", "-m"]
    command.append("--allow-dirty")  # the clean-tree rule is tested in test_run_records.py
    module = MODULES[command[2].rsplit(".", 1)[1]]
    if path in OLDER_CONFIG:
        with pytest.raises(SystemExit):
            module.main(command[3:])
        assert f"differs in {OLDER_CONFIG[path]})" in _refusal(capsys)
        command.append("--overwrite")
    if path.startswith(("mbg/", "mbg_inv/")):
        # Made with MBG's generator v1 and the book recipe before it followed PAN's batch/lr
        # rule: today's command is another configuration, refused rather than replacing them.
        with pytest.raises(SystemExit):
            module.main(command[3:])
        line = _refusal(capsys)
        assert "generator_version" in line and "lr" in line, line
        return
    with pytest.raises(DataBuilt):
        module.main(command[3:])


def test_mgan_protects_its_results_and_its_judge(tmp_path, no_data, capsys):
    out = tmp_path / "mgan"
    before = _copy(SHIPPED / "mgan" / "book", out, "arnn.json", "arnn.pt", "classifier.json", "classifier.pt")
    with pytest.raises(SystemExit):
        mgan.main(["--attention", "arnn", "--epochs", "1", "--out-dir", str(out)])
    line = _refusal(capsys)
    assert "arnn.json" in line and "gan.epochs" in line, line
    with pytest.raises(DataBuilt):  # the judge's config does not depend on the GAN's: reused
        mgan.main(["--attention", "mgan", "--epochs", "1", "--out-dir", str(out)])

    judge = json.loads((out / "classifier.json").read_text())
    judge["config"]["epochs"] = 99  # a judge trained otherwise
    (out / "classifier.json").write_text(json.dumps(judge))
    before["classifier.json"] = (out / "classifier.json").read_bytes()
    for argv in (["--classifier"], ["--attention", "mgan"]):
        with pytest.raises(SystemExit):
            mgan.main([*argv, "--out-dir", str(out)])
        line = _refusal(capsys)
        assert "classifier.json" in line and "epochs" in line, line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with pytest.raises(DataBuilt):
        mgan.main(["--classifier", "--out-dir", str(out), "--overwrite"])


def test_results_conflict_names_the_keys(tmp_path):
    config = {"model": "ctx", "train": 20, "scene": {"scales": (0.7, 0.9)}, "seed": 0}
    results.write_result(tmp_path / "ctx.json", "mbg", "custom", config, {},
                         results.provenance(0, "cpu", results.now(), 1.0, "test"))
    assert common.results_conflict(tmp_path / "none.json", "mbg", config, 0) is None
    assert common.results_conflict(tmp_path / "ctx.json", "mbg", config, 0) == []  # tuples as stored
    assert common.results_conflict(tmp_path / "ctx.json", "mbg_inv", config, 0) == ["experiment"]
    other = {**config, "train": 30, "scene": {"scales": (0.5, 0.9)}, "seed": 1}
    assert common.results_conflict(tmp_path / "ctx.json", "mbg", other, 1) == ["scene.scales", "seed", "train"]
    (tmp_path / "bad.json").write_text("{")
    assert common.results_conflict(tmp_path / "bad.json", "mbg", config, 0) == ["(unreadable results file)"]
    with pytest.raises(common.Refused, match="ctx.json holds another run"):
        common.claim_results(tmp_path, "ctx", "mbg", other, 0)
    assert common.claim_results(tmp_path, "ctx", "mbg", other, 0, overwrite=True) == "ctx"


class Stop(Exception):
    pass


class FakeSplit(list):
    qtype_names = ("colour",)


def _capture(monkeypatch, module, name, store):
    def fake(*args, **kwargs):
        store.update(kwargs, args=args)
        raise Stop
    monkeypatch.setattr(module, name, fake)


@pytest.mark.parametrize("name", ["mbg", "cbam", "vqa", "scalability", "mgan"])
def test_every_experiment_hands_its_config_to_the_training_loop(name, tmp_path, monkeypatch):
    got = {}
    fake_sets = {s: FakeSplit() for s in ("train", "val", "test")}
    if name == "mgan":
        monkeypatch.setattr(mgan, "load_splits", lambda *a: fake_sets)
        monkeypatch.setattr(mgan, "train_classifier", lambda *a: torch.nn.Identity())
        _capture(monkeypatch, mgan, "train_gan", got)
    else:
        monkeypatch.setattr(MODULES[name], BUILDERS[name], lambda *a, **k: (fake_sets, 10) if name == "cbam"
                            else fake_sets if name == "vqa" else [])
        monkeypatch.setattr(vqa, "build_model", lambda *a, **k: torch.nn.Linear(1, 1))
        monkeypatch.setattr(scalability, "time_steps", lambda *a, **k: [0.1])
        _capture(monkeypatch, common, "train_and_test", got)
    with pytest.raises(Stop):
        MODULES[name].main(["--seed", "2", "--epochs", "1", "--out-dir", str(tmp_path), "--device", "cpu"])
    identity = got["identity"]
    assert json.loads(json.dumps(identity)) == identity  # as the results file stores it
    seed = identity["gan"]["seed"] if name == "mgan" else identity["seed"]
    epochs = identity["gan"]["epochs"] if name == "mgan" else identity["epochs"]
    assert (seed, epochs) == (2, 1)
    checkpoint = got["args"][4] if name == "mgan" else got["args"][5]
    assert checkpoint.name.endswith("_seed2.ckpt"), checkpoint


def test_resuming_another_runs_gan_checkpoint_is_refused(tmp_path):
    spec = mgan.PROTOCOLS["book"]
    faces = TensorDict({"image": torch.rand(8, 3, 32, 32), "label": torch.arange(8) % 3})
    cfg = mgan.GANConfig(epochs=2, batch_size=8, decay_start=None)

    def nets():
        torch.manual_seed(0)
        return ModularGenerator("mgan", **spec["generator"]), Discriminator(32, **spec["critic"])

    ckpt = tmp_path / "mgan.ckpt"
    mgan.train_gan(*nets(), faces, cfg, ckpt, progress=False, stop_after=1, identity={"train": 8, "seed": 0})
    with pytest.raises(common.Refused, match=r"mgan.ckpt is a checkpoint of another run \(differs in seed\)"):
        mgan.train_gan(*nets(), faces, cfg, ckpt, resume=True, progress=False, identity={"train": 8, "seed": 1})
    history = mgan.train_gan(*nets(), faces, cfg, ckpt, resume=True, progress=False,
                             identity={"train": 8, "seed": 0})
    assert [h["epoch"] for h in history] == [1, 2]


def test_a_real_run_rewrites_its_own_file_and_seeds_sit_side_by_side(tmp_path, monkeypatch, capsys):
    """End to end on a tiny MBG run (canvas 84, the smallest the digits fit): the same run
    twice rewrites its file; seed 1 writes its own; other settings are refused. The identity
    handed to the training loop is the config the results file records."""
    tiny = ["--attention", "none", "--train", "4", "--val", "2", "--test", "2", "--batch-size", "2",
            "--epochs", "1", "--canvas", "84", "--out-dir", str(tmp_path)]
    identities, real = [], common.train_and_test
    monkeypatch.setattr(common, "train_and_test", lambda *a, **k: identities.append(k["identity"]) or real(*a, **k))
    mbg.main(tiny)
    first = json.loads((tmp_path / "none.json").read_text())
    assert identities == [first["config"]]
    written = (tmp_path / "none.json").stat().st_mtime_ns
    mbg.main(tiny)  # reproducing the same run is allowed
    assert (tmp_path / "none.json").stat().st_mtime_ns > written
    mbg.main([*tiny, "--seed", "1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "none.ckpt", "none.ckpt.sha256", "none.json", "none.pt",
        "none_seed1.ckpt", "none_seed1.ckpt.sha256", "none_seed1.json", "none_seed1.pt"]
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    capsys.readouterr()
    with pytest.raises(SystemExit):
        mbg.main([*tiny, "--epochs", "2"])
    assert "none.json holds another run (differs in epochs)" in _refusal(capsys)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_variant_run_records_its_generator_and_is_another_run(tmp_path, monkeypatch, capsys):
    """``--variant small`` trains on the small generator settings, records them in the
    results file, and cannot silently replace the paper variant's run at the same path."""
    from arnn_lite.datasets import mbg as mbg_data

    tiny = ["--attention", "none", "--train", "4", "--val", "2", "--test", "2", "--batch-size", "2",
            "--epochs", "1", "--canvas", "84", "--out-dir", str(tmp_path)]
    made, real = [], mbg_data.MBG.__init__
    monkeypatch.setattr(mbg.MBG, "__init__", lambda self, *a, **k: made.append(k) or real(self, *a, **k))
    mbg.main([*tiny, "--variant", "small"])
    config = json.loads((tmp_path / "none.json").read_text())["config"]
    small = mbg.VARIANTS["small"]
    assert config["variant"] == "small" and config["num_digits"] == list(small["num_digits"])
    assert config["scales"] == list(small["scales"])
    assert made and all(k["num_digits"] == small["num_digits"] for k in made)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        mbg.main(tiny)  # the paper variant: another run
    assert "scales, variant); pass --overwrite" in _refusal(capsys)


def test_shipped_mbg_results_read_as_the_paper_variant(tmp_path):
    """Files written before --variant existed hold the paper's generator settings."""
    shipped = Path(__file__).resolve().parents[1] / "data" / "results" / "mbg" / "book" / "none.json"
    old = json.loads(shipped.read_text())
    record = {**old["config"], "variant": "paper", **common.as_json(mbg.VARIANTS["paper"])}
    assert common.results_conflict(shipped, "mbg", record, old["provenance"]["seed"]) == []
    assert common.results_conflict(shipped, "mbg", {**record, "variant": "small"},
                                   old["provenance"]["seed"]) == ["variant"]


def test_a_custom_run_does_not_carry_its_protocols_description():
    """With sizes set on the command line the book protocol's 'instead of' lines no longer
    hold (they named its own 2,000 training images): the config says what was overridden."""
    spec, config, label = common.resolve_protocol(mbg.PROTOCOLS, "book", {"train": 4000, "lr": 3e-3})
    assert label == "custom" and spec["train"] == 4000 and config.lr == 3e-3
    text = " ".join(spec["changes_from_recipe"])
    assert "2,000" not in text and "train=4000" in text and "lr=0.003" in text
    spec, _, label = common.resolve_protocol(mbg.PROTOCOLS, "book")
    assert label == "book" and spec["changes_from_recipe"] == mbg.PROTOCOLS["book"]["changes_from_recipe"]


def test_a_corrected_description_is_still_the_same_run(tmp_path):
    """results_conflict compares settings, not the words that describe them."""
    config = {"train": 10, "changes_from_recipe": ["old words"]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"experiment": "mbg", "config": config, "provenance": {"seed": 0}}))
    assert common.results_conflict(path, "mbg", {**config, "changes_from_recipe": ["new"]}, 0) == []
    assert common.results_conflict(path, "mbg", {**config, "train": 11}, 0) == ["train"]
