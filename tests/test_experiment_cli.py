"""Every experiment CLI turns a bad value into one line (``PROG: error: ...``, exit status 2)
that names the option, before any data is built (issue 15, item 3).

Each data builder is replaced by one that raises :class:`DataBuilt`, so a value that slips
through fails the test at once instead of training."""

import argparse

import pytest
import torch

from arnn_lite.experiments import bench, cbam, mbg, mgan, scalability, vqa

MODULES = {"mbg": mbg, "cbam": cbam, "vqa": vqa, "mgan": mgan, "scalability": scalability}
BUILDERS = {"mbg": "mbg_split", "cbam": "build_data", "vqa": "load_data", "mgan": "load_splits",
            "scalability": "mbg_split"}
# The attention option's earlier spellings, which the commands of older results files use.
OLD_FLAGS = {"mbg": "--model", "scalability": "--front", "cbam": "--spatial"}
NAMES = {"mbg": "ctx", "scalability": "brnn", "cbam": "cbam", "vqa": "att", "mgan": "mgan"}
COMMON = [("--train", "0"), ("--val", "0"), ("--test", "0"), ("--seed", "-1"), ("--batch-size", "0"),
          ("--epochs", "0"), ("--device", "gpu7"), ("--device", "cuda"), ("--seed", "x")]
EXTRA = {  # option, value, other arguments the case needs ("EMPTY": an empty folder)
    "mbg": [("--patience", "0", ()), ("--canvas", "83", ()), ("--canvas", "40", ("--inverse",))],
    "cbam": [("--data-root", "EMPTY", ("--dataset", "cifar100")), ("--depth", "7", ()),
             ("--width", "0", ()), ("--context-size", "4", ())],
    "vqa": [("--canvas", "37", ()), ("--lr", "0", ()), ("--lr", "-0.001", ()), ("--lr", "nan", ()),
            ("--lr", "inf", ()), ("--vqa2-root", "EMPTY", ()), ("--d", "0", ()), ("--d-att", "0", ()),
            ("--channels", "1", ()), ("--hidden", "0", ())],
    "mgan": [("--data-root", "EMPTY", ("--dataset", "celeba")), ("--data-root", None, ("--dataset", "celeba"))],
    "scalability": [("--canvas", "93", ()), ("--block-size", "0", ()), ("--timing-steps", "0", ())],
}
CASES = [(name, option, value, ()) for name in MODULES for option, value in COMMON] + \
        [(name, *case) for name, cases in EXTRA.items() for case in cases]


class DataBuilt(Exception):
    """Raised by the stand-in data builders: the run got past its checks."""


@pytest.fixture
def no_data(monkeypatch):
    def refuse(*args, **kwargs):
        raise DataBuilt
    for name, module in MODULES.items():
        monkeypatch.setattr(module, BUILDERS[name], refuse)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # "--device cuda" has no CUDA here


def _argv(option, value, extra, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    argv = [*extra, "--out-dir", str(tmp_path / "out")]
    if value is not None:
        argv += [option, str(empty) if value == "EMPTY" else value]
    return argv


@pytest.mark.parametrize("name, option, value, extra", CASES,
                         ids=[f"{c[0]}{' ' + ' '.join(c[3]) if c[3] else ''} {c[1]} {c[2]}" for c in CASES])
def test_bad_value_is_one_line_naming_the_option(name, option, value, extra, tmp_path, no_data, capsys):
    with pytest.raises(SystemExit) as stop:
        MODULES[name].main(_argv(option, value, extra, tmp_path))
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1, lines
    assert option in lines[0] and "error:" in lines[0], lines[0]


@pytest.mark.parametrize("name", MODULES)
def test_good_values_reach_the_data(name, tmp_path, no_data):
    with pytest.raises(DataBuilt):  # not refused: the stand-ins above are really in the way
        MODULES[name].main(["--train", "2", "--device", "cpu", "--out-dir", str(tmp_path)])


def _capture_run(monkeypatch, module) -> list:
    """Replace ``module.run`` by one that records its arguments, then raises :class:`DataBuilt`."""
    calls = []

    def run(*args, **kw):
        calls.append((args, kw))
        raise DataBuilt
    monkeypatch.setattr(module, "run", run)
    return calls


@pytest.mark.parametrize("name", MODULES)
def test_every_cli_takes_attention_and_records_it(name, tmp_path, no_data, monkeypatch):
    """One flag for the attention in every experiment (issue 17), handed to ``run``."""
    calls = _capture_run(monkeypatch, MODULES[name])
    with pytest.raises(DataBuilt):
        MODULES[name].main(["--attention", NAMES[name], "--device", "cpu", "--out-dir", str(tmp_path)])
    [(args, kw)] = calls
    assert args[0] == NAMES[name]
    assert kw["command"] == (f"python -m arnn_lite.experiments.{name} --attention {NAMES[name]} "
                             f"--device cpu --out-dir {tmp_path}")


@pytest.mark.parametrize("name", OLD_FLAGS)
def test_old_attention_flags_parse_to_the_same_arguments(name, tmp_path, no_data, monkeypatch, capsys):
    """``--model`` / ``--front`` / ``--spatial`` still work, hidden from --help, so every
    command a results file records still runs; a bad value names the flag used."""
    calls = _capture_run(monkeypatch, MODULES[name])
    for flag in ("--attention", OLD_FLAGS[name]):
        with pytest.raises(DataBuilt):
            MODULES[name].main([flag, NAMES[name], "--seed", "3", "--out-dir", str(tmp_path)])
    (new_args, new_kw), (old_args, old_kw) = calls
    assert new_args == old_args and new_args[0] == NAMES[name]
    assert {**new_kw, "command": None} == {**old_kw, "command": None}  # only the recorded command differs
    with pytest.raises(SystemExit):
        MODULES[name].main(["--help"])
    shown = capsys.readouterr().out
    assert "--attention" in shown and OLD_FLAGS[name] not in shown
    with pytest.raises(SystemExit):
        MODULES[name].main([OLD_FLAGS[name], "nope"])
    assert f"argument {OLD_FLAGS[name]}: invalid choice: 'nope'" in capsys.readouterr().err


def test_the_shared_parser_gathers_the_common_options():
    from arnn_lite.experiments.common import ExperimentParser

    p = ExperimentParser("x", "a test", ("none", "arnn"), {"book": {}, "paper": {}}, old_flag="--model")
    p.add_sizes(("train", "batch_size"))
    a = p.parse(["--model", "none", "--train", "5", "--protocol", "paper", "--out-dir", "a b"])
    assert isinstance(a, argparse.Namespace) and a.attention == "none" and a.protocol == "paper"
    assert a.overrides == {"train": 5, "batch_size": None} and a.seed == 0 and not a.resume
    assert a.command == "python -m arnn_lite.experiments.x --model none --train 5 --protocol paper --out-dir 'a b'"
    assert p.parse([]).attention == "arnn"


def test_missing_data_folders_say_what_to_put_there(tmp_path, no_data, capsys):
    (tmp_path / "empty").mkdir()
    for module, argv, expected in (
            (cbam, ["--dataset", "cifar100"], ("cifar-100-python", "train, test, meta", "--download")),
            (vqa, [], ("v2_OpenEnded_mscoco_train2014_questions.json", "features")),
            (mgan, ["--dataset", "celeba"], ("img_align_celeba", "list_attr_celeba.txt"))):
        root = "--vqa2-root" if module is vqa else "--data-root"
        with pytest.raises(SystemExit):
            module.main([*argv, root, str(tmp_path / "empty"), "--out-dir", str(tmp_path / "out")])
        line = capsys.readouterr().err
        assert str(tmp_path / "empty") in line and all(word in line for word in expected), line


def test_bench_rejects_an_unknown_device(capsys):
    with pytest.raises(SystemExit) as stop:
        bench.main(["--device", "gpu7", "--quick"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and "--device" in lines[0]
