"""Files a killed or damaged run leaves behind: resume checkpoints verified, atomic writes
(normal permissions, no orphans), dataset caches rebuilt when corrupt."""

import dataclasses
import os
import stat
import traceback

import pytest
import torch

from arnn_lite import train
from arnn_lite.datasets.tensors import CachedSplit
from arnn_lite.experiments import results
from tests.test_train import CONFIG, _data, _evaluate, _loss, _model


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def _fit(ckpt, resume=False, epochs=2):
    return train.fit(_model(), _data(), _data(seed=1), _loss, _evaluate,
                     dataclasses.replace(CONFIG, epochs=epochs), checkpoint=ckpt, resume=resume,
                     progress=False)


def _flip_a_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _garble_header(path):
    path.write_bytes(b"\x00garbled" + path.read_bytes()[8:])


@pytest.mark.parametrize("damage, problem", [
    (_flip_a_bit, "SHA-256 does not match"),
    (lambda p: p.write_bytes(b""), "empty"),
    (_garble_header, "SHA-256 does not match"),  # any damage: the record no longer matches
    (lambda p: p.write_bytes(p.read_bytes()[:300]), "SHA-256 does not match"),
])
def test_a_damaged_resume_checkpoint_is_refused_naming_it(tmp_path, damage, problem):
    ckpt = tmp_path / "run.ckpt"
    _fit(ckpt)
    damage(ckpt)
    with pytest.raises(ValueError, match=f"run.ckpt: .*{problem}") as err:
        _fit(ckpt, resume=True, epochs=4)
    assert "weights_only" not in "".join(traceback.format_exception(err.value))


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"\x00garbled-not-a-zip" * 8, "not a torch checkpoint"),
    (b"<html><body>404</body></html>", "not a torch checkpoint"),
])
def test_load_checkpoint_names_the_file_and_the_problem(tmp_path, content, problem):
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"weights.pt: .*{problem}") as err:
        train.load_checkpoint(path)
    assert "weights_only" not in "".join(traceback.format_exception(err.value))  # no unsafe advice


def test_load_checkpoint_names_a_truncated_archive(tmp_path):
    path = tmp_path / "weights.pt"
    train.save_checkpoint({"w": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="weights.pt: .*(corrupt|truncated)"):
        train.load_checkpoint(path)


def test_a_resume_checkpoint_without_its_integrity_record_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    _fit(ckpt)
    (tmp_path / "run.ckpt.sha256").unlink()
    with pytest.raises(ValueError, match=r"run.ckpt: no integrity record .*run.ckpt.sha256"):
        _fit(ckpt, resume=True, epochs=4)


def test_writes_have_normal_permissions(tmp_path, umask_022):
    train.save_checkpoint({"w": torch.ones(2)}, tmp_path / "w.pt")
    prov = results.provenance(0, "cpu", results.now(), 1.0, command="x", commit="abc")
    results.write_result(tmp_path / "r.json", "mbg", "book", {}, {"accuracy": 1.0}, prov)
    CachedSplit(_Items(4), ("image", "label"), tmp_path / "cache.pt")
    for name in ("w.pt", "r.json", "cache.pt"):
        assert _mode(tmp_path / name) == 0o644, name


def test_orphan_temporary_files_are_cleaned_up(tmp_path):
    target = tmp_path / "r.json"
    orphan = tmp_path / "r.json.999999999.tmp"  # left by a killed writer whose process is gone
    orphan.write_text("{half a fi")
    prov = results.provenance(0, "cpu", results.now(), 1.0, command="x", commit="abc")
    results.write_result(target, "mbg", "book", {}, {"accuracy": 1.0}, prov)
    with pytest.raises(TypeError):  # a write that fails half-way leaves the old file and no temp
        results.write_result(target, "mbg", "book", {}, {"accuracy": object()}, prov)
    assert results.load_results(root=tmp_path)[0]["metrics"] == {"accuracy": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    live = tmp_path / f"w.pt.{os.getppid()}.tmp"  # the parent process is alive
    live.write_bytes(b"in progress")
    train.save_checkpoint({"w": torch.ones(2)}, tmp_path / "w.pt")
    assert live.exists()


def test_gitignore_ignores_temporary_files():
    lines = open(os.path.join(os.path.dirname(__file__), "..", ".gitignore")).read().split()
    assert "*.tmp" in lines


class _Items(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n, self.built = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.built += 1
        return {"image": torch.full((3, 2, 2), i / 10), "label": i}


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),  # a killed torch.save
    lambda p: p.write_bytes(b""),
    lambda p: torch.save({"image": torch.zeros(4, 3, 2, 2)}, p),  # a key missing
    lambda p: torch.save({"image": torch.zeros(4, 3, 2, 2), "label": torch.zeros(3)}, p),  # lengths
    lambda p: torch.save({"image": torch.zeros(4, 3, 2, 2), "label": torch.zeros(4)}, p),  # float image
    lambda p: torch.save([1, 2], p),
])
def test_a_corrupt_dataset_cache_is_rebuilt_with_a_warning(tmp_path, damage):
    path = tmp_path / "split.pt"
    first = CachedSplit(_Items(4), ("image", "label"), path)
    damage(path)
    source = _Items(4)
    with pytest.warns(UserWarning, match="split.pt: .*rebuilding"):
        again = CachedSplit(source, ("image", "label"), path)
    assert source.built == 4
    for k in first.data:
        assert torch.equal(first.data[k], again.data[k])
    source = _Items(4)
    CachedSplit(source, ("image", "label"), path)  # the rebuilt cache is used as is
    assert source.built == 0
