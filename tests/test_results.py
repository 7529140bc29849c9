"""Results files: provenance, validation, atomic writes; the paper's numbers."""

import json

import pytest

from arnn_lite.book import paper
from arnn_lite.experiments import results


def test_write_then_load_round_trip(tmp_path):
    prov = results.provenance(seed=3, device="cpu", started=results.now(), duration_s=1.25,
                              command="python -m arnn_lite.experiments.mbg --model ctx")
    path = results.write_result(tmp_path / "mbg" / "ctx.json", "mbg", "book", {"epochs": 1},
                                {"accuracy": 0.5}, prov)
    loaded = results.load_results(root=tmp_path)
    assert len(loaded) == 1 and loaded[0]["path"] == str(path)
    assert loaded[0]["provenance"]["seed"] == 3 and loaded[0]["provenance"]["duration_s"] == 1.2
    assert loaded[0]["provenance"]["git_commit"] != ""
    assert not list(tmp_path.glob("**/*.tmp"))


def test_incomplete_results_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="provenance lacks 'git_commit'"):
        results.write_result(tmp_path / "x.json", "mbg", "book", {}, {}, {"command": "x"})
    (tmp_path / "bad.json").write_text(json.dumps({"experiment": "mbg"}))
    with pytest.raises(ValueError, match="bad.json: missing key 'protocol'"):
        results.load_results(root=tmp_path)


def test_git_commit_outside_a_repository(tmp_path):
    assert results.git_commit(cwd=tmp_path) == "unknown"


def _git(cwd, *args):
    import subprocess
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_git_commit_ignores_rewritten_results_but_not_code(tmp_path):
    """A run that rewrites a shipped results file leaves the code it ran clean: the next run of
    the same queue, in the same worktree, must still record a clean commit. Code changes count."""
    (tmp_path / "data" / "results" / "mbg").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "results" / "mbg" / "ctx.json").write_text("{}\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start")
    sub = tmp_path / "data"  # git_commit is asked from inside the tree, as the package is
    assert not results.git_commit(cwd=sub).endswith("+dirty")
    (tmp_path / "data" / "results" / "mbg" / "ctx.json").write_text('{"rerun": true}\n')
    assert not results.git_commit(cwd=sub).endswith("+dirty")
    (tmp_path / "code.py").write_text("x = 2\n")
    assert results.git_commit(cwd=sub).endswith("+dirty")


def test_paper_numbers_are_the_supplements():
    row = paper.paper_row("mbg", "unet3_arnn")
    assert row["values"]["total"] == 92.29 and "Table 1" in row["source"]
    assert paper.paper_row("mbg", "arnn") is None  # main-paper tables are not available to us


def test_markdown_table_formats_and_marks_missing():
    text = results.markdown_table([{"model": "ctx", "acc": 0.51234}, {"model": "arnn"}],
                                  ["model", "acc"], {"acc": "{:.1%}"})
    assert text.splitlines() == ["| model | acc |", "|---|---|", "| ctx | 51.2% |", "| arnn | – |"]


def test_any_override_makes_the_protocol_custom():
    from arnn_lite.experiments.common import resolve_protocol
    from arnn_lite.experiments.mbg import PROTOCOLS

    spec, config, label = resolve_protocol(PROTOCOLS, "book", None, seed=3)
    assert label == "book" and config.seed == 3 and spec["train"] == PROTOCOLS["book"]["train"]
    spec, config, label = resolve_protocol(PROTOCOLS, "book", {"epochs": 2, "train": None}, seed=0)
    assert label == "custom" and config.epochs == 2 and "epochs" not in spec
    spec, config, label = resolve_protocol(PROTOCOLS, "book", {"patience": 9, "train": 30}, seed=0)
    assert label == "custom" and config.patience == 9 and spec["train"] == 30 and "patience" not in spec


def test_standard_error_of_an_accuracy():
    assert results.standard_error(0.5, 100) == 0.05
    assert results.standard_error(1.0, 10) == 0.0
    assert abs(results.standard_error(0.2, 1000) - (0.16 / 1000) ** 0.5) < 1e-15


def _good(**change):
    prov = results.provenance(seed=0, device="cpu", started="2024-01-01T00:00:00+00:00", duration_s=1.0,
                              command="python -m x", commit="abc")
    result = {"experiment": "mbg", "protocol": "book", "config": {"epochs": 1},
              "metrics": {"accuracy": 0.5}, "provenance": prov}
    for key, value in change.items():
        if key.startswith("prov_"):
            result["provenance"] = {**prov, key[5:]: value}
        else:
            result[key] = value
    return result


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (json.dumps(_good()).encode()[:40], "not valid JSON .*truncated"),
    ("{\"experiment\": \"caf\u00e9\"}".encode("latin-1"), "not UTF-8"),
    (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "HTML"),
    (b"[1, 2]", "expected a JSON object, got list"),
])
def test_unreadable_results_files_are_named(tmp_path, content, problem):
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(ValueError, match=f"run.json: {problem}") as err:
        results.load_results(root=tmp_path)
    assert type(err.value) is ValueError  # not a JSONDecodeError or UnicodeDecodeError


@pytest.mark.parametrize("change, problem", [
    ({"provenance": "seed 0"}, "'provenance': expected an object .*got str"),
    ({"metrics": None}, "'metrics': expected an object .*got null"),
    ({"config": [1]}, "'config': expected an object .*got list"),
    ({"experiment": 3}, "'experiment': expected a string, got int"),
    ({"prov_seed": "0"}, "provenance 'seed': expected an integer, got str"),
    ({"prov_duration_s": None}, "provenance 'duration_s': expected a number, got null"),
    ({"prov_command": ["python"]}, "provenance 'command': expected a string, got list"),
])
def test_wrong_field_types_are_rejected(tmp_path, change, problem):
    (tmp_path / "run.json").write_text(json.dumps(_good(**change)))
    with pytest.raises(ValueError, match=f"run.json: {problem}"):
        results.load_results(root=tmp_path)
    with pytest.raises(ValueError, match=problem):
        results.validate(_good(**change))


def test_a_missing_results_root_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        results.load_results(root=tmp_path / "nowhere")
    assert results.load_results("mbg/*.json", root=tmp_path) == []  # no match in a real folder: empty


def test_uncommitted_names_the_runs_made_from_a_dirty_worktree(tmp_path):
    for name, commit in (("clean", "a" * 40), ("dirty", "b" * 40 + "+dirty")):
        prov = results.provenance(0, "cpu", results.now(), 1.0, command="x", commit=commit)
        results.write_result(tmp_path / f"{name}.json", "mbg", "book", {"model": name}, {"history": []}, prov)
    found = results.load_results(root=tmp_path)
    assert [r["config"]["model"] for r in results.uncommitted(found)] == ["dirty"]
