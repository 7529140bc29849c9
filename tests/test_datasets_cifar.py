"""CIFAR-100 loading on a tiny CIFAR-format folder the test writes itself (no network),
the offline error message, and one training step on the loaded images."""

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from arnn_lite.datasets.cifar import FOLDER, ImageTensors, load_cifar100, split_train_val
from arnn_lite.models.cbam import cbam_resnet


def write_tiny_cifar100(root, n_train=12, n_test=6, seed=0):
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
            pickle.dump(entry, f)
    meta = {"fine_label_names": [f"class{i}" for i in range(100)],
            "coarse_label_names": [f"super{i}" for i in range(20)]}
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f)
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
