"""CIFAR-100 loading on a tiny CIFAR-format folder the test writes itself (no network),
the offline error message, the restricted unpickler (a planted pickle never runs), and one
training step on the loaded images."""

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arnn_lite.datasets import cifar
from arnn_lite.datasets.cifar import FOLDER, ImageTensors, load_cifar100, split_train_val
from arnn_lite.models.cbam import cbam_resnet


def write_tiny_cifar100(root, n_train=12, n_test=6, seed=0, protocol=None):
    """Write ``root/cifar-100-python/{train,test,meta}`` in the python-pickle format that
    torchvision reads (rows of 3072 bytes: the red plane, then green, then blue)."""
    rng = np.random.default_rng(seed)
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        entry = {"filenames": [f"img{i}.png" for i in range(n)], "batch_label": name,
                 "fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                 "coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=protocol)
    meta = {"fine_label_names": [f"class{i}" for i in range(100)],
            "coarse_label_names": [f"super{i}" for i in range(20)]}
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=protocol)
    return folder


def test_loads_a_cifar_format_folder_without_the_md5_check(tmp_path):
    folder = write_tiny_cifar100(tmp_path)
    images, labels, classes = load_cifar100("train", tmp_path, download=False, verify=False)
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.shape == (12,) and labels.dtype == torch.int64 and len(classes) == 100
    with open(folder / "train", "rb") as f:
        raw = pickle.load(f)
    assert torch.equal(images[3], torch.from_numpy(raw["data"][3].reshape(3, 32, 32)))  # planes R, G, B
    assert labels.tolist() == raw["fine_labels"]
    test_images, _, _ = load_cifar100("test", tmp_path, download=False, verify=False)
    assert test_images.shape == (6, 3, 32, 32)


@pytest.mark.parametrize("protocol", [2, 4, 5, "numpy-1-names"])
def test_every_pickle_protocol_loads(tmp_path, protocol):
    """Files from any pickle protocol load the same, also with numpy 1's module names
    (``numpy.core.multiarray``, as in the official release)."""
    folder = write_tiny_cifar100(tmp_path, protocol=2 if protocol == "numpy-1-names" else protocol)
    if protocol == "numpy-1-names":
        for name in ("test", "meta"):
            raw = (folder / name).read_bytes()
            (folder / name).write_bytes(raw.replace(b"numpy._core.", b"numpy.core."))
        assert b"numpy.core.multiarray" in (folder / "test").read_bytes()
    write_tiny_cifar100(tmp_path / "ref", protocol=4)
    images, labels, classes = load_cifar100("test", tmp_path, download=False, verify=False)
    ref = load_cifar100("test", tmp_path / "ref", download=False, verify=False)
    assert torch.equal(images, ref[0]) and torch.equal(labels, ref[1]) and classes == ref[2]


class Planted:
    """Unpickling this calls ``call(*args)``: what a planted CIFAR file could run."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def _plant(folder, name, payload):
    """Replace ``folder/name`` with a CIFAR-looking pickle that carries ``payload``."""
    with open(folder / name, "rb") as f:
        entry = pickle.load(f)
    entry["data" if name != "meta" else "fine_label_names"] = payload
    with open(folder / name, "wb") as f:
        pickle.dump(entry, f)


@pytest.mark.parametrize("name", ["train", "meta"])
@pytest.mark.parametrize("how", ["open", "os.system", "exec"])
@pytest.mark.parametrize("verify", [False, True])
def test_a_planted_pickle_never_runs(tmp_path, monkeypatch, name, how, verify):
    """Refused by name, before anything runs, with or without the MD5 check (here made to
    pass, as if the attacker had matched it)."""
    folder = write_tiny_cifar100(tmp_path)
    marker = tmp_path / "ran"
    payload = {"open": Planted(open, str(marker), "w"),
               "os.system": Planted(os.system, f"touch {marker}"),
               "exec": Planted(exec, f"open({str(marker)!r}, 'w')")}[how]
    _plant(folder, name, payload)
    if verify:
        monkeypatch.setattr(cifar, "_failed_md5", lambda folder: [])
    with pytest.raises(RuntimeError) as err:
        load_cifar100("train", tmp_path, download=False, verify=verify)
    assert not marker.exists(), "the planted pickle ran"
    assert str(folder / name) in str(err.value) and "refus" in str(err.value), err.value


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (pickle.dumps({"data": b"xx"})[:-3], "truncated"),
    (pickle.dumps([1, 2, 3]), "expected a dict"),
    (pickle.dumps({"fine_labels": [1]}), "'data'"),
    (pickle.dumps({"data": np.zeros((2, 10), np.uint8), "fine_labels": [1, 2]}), "3072"),
    (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "fine_labels": [1]}), "fine_labels"),
    (pickle.dumps({"data": np.zeros((1, 3072), np.uint8), "fine_labels": [100]}), "fine_labels"),
], ids=["empty", "truncated", "list", "no-data", "row-size", "label-count", "label-range"])
def test_a_bad_cifar_file_is_named(tmp_path, content, problem):
    folder = write_tiny_cifar100(tmp_path)
    (folder / "train").write_bytes(content)
    with pytest.raises(RuntimeError) as err:
        load_cifar100("train", tmp_path, download=False, verify=False)
    assert str(folder / "train") in str(err.value) and problem in str(err.value), err.value


def test_nothing_is_downloaded_off_colab_unless_asked(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils
    monkeypatch.delenv("ARNN_DOWNLOAD", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setattr(tv_utils, "download_and_extract_archive",
                        lambda *a, **k: pytest.fail("a download was attempted"))
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_cifar100("train", tmp_path)


def test_md5_check_rejects_files_that_are_not_the_official_ones(tmp_path):
    folder = write_tiny_cifar100(tmp_path)
    with pytest.raises(RuntimeError, match="MD5") as err:
        load_cifar100("train", tmp_path, download=False, verify=True)
    assert str(folder) in str(err.value) and "verify=False" in str(err.value)


def test_missing_files_offline_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_cifar100("test", tmp_path / "nowhere", download=False)
    message = str(err.value)
    assert str(tmp_path / "nowhere" / FOLDER) in message
    assert "train, test, meta" in message and "--download" in message


def test_bad_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_cifar100("val", tmp_path)


def test_one_training_step_on_the_loaded_images(tmp_path):
    write_tiny_cifar100(tmp_path)
    images, labels, _ = load_cifar100("train", tmp_path, download=False, verify=False)
    data = ImageTensors(images, labels, augment=True)
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].dtype == torch.float32
    net = cbam_resnet(8, 100, "arnn", width=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    before = [p.detach().clone() for p in net.parameters()]
    loss = F.cross_entropy(net(batch["image"])[0], batch["label"])
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))


def test_augmentation_is_a_shifted_or_flipped_copy():
    images = torch.randint(0, 256, (1, 3, 8, 8), dtype=torch.uint8)
    plain = ImageTensors(images, torch.zeros(1, dtype=torch.int64), (0, 0, 0), (1, 1, 1))
    aug = ImageTensors(images, torch.zeros(1, dtype=torch.int64), (0, 0, 0), (1, 1, 1), augment=True)
    x = plain[0]["image"]
    padded = F.pad(x, (4, 4, 4, 4))
    candidates = [c for dy in range(9) for dx in range(9)
                  for c in (padded[:, dy:dy + 8, dx:dx + 8], padded[:, dy:dy + 8, dx:dx + 8].flip(-1))]
    for _ in range(5):
        drawn = aug[0]["image"]
        assert any(torch.equal(drawn, c) for c in candidates)


def test_split_train_val_is_fixed_and_disjoint():
    a, b = split_train_val(50, 10, seed=3)
    assert len(a) == 40 and len(b) == 10 and not set(a.tolist()) & set(b.tolist())
    assert torch.equal(a, split_train_val(50, 10, seed=3)[0])
    with pytest.raises(ValueError, match="val"):
        split_train_val(10, 10)
