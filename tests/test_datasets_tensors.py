"""The one in-memory dataset (arnn_lite.datasets.tensors, issue 17): a dict of equal-length
tensors, used by every experiment's splits, CIFAR and cluttered MNIST, the MGAN faces and the
toy problem; caches written before it still read."""

import pytest
import torch

from arnn_lite.datasets.cifar import ImageTensors
from arnn_lite.datasets.tensors import CachedSplit, TensorDict, stack_items
from arnn_lite.experiments import mgan, vqa
from arnn_lite.toys.shapes import make_toy
from arnn_lite.train import save_checkpoint


def test_items_are_the_rows_and_uint8_images_read_as_floats():
    data = TensorDict({"image": torch.tensor([[[[0, 255]]], [[[51, 102]]]], dtype=torch.uint8),
                       "label": torch.tensor([3, 4])})
    assert len(data) == 2 and int(data[1]["label"]) == 4
    assert data[1]["image"].dtype == torch.float32
    assert torch.allclose(data[1]["image"], torch.tensor([[[0.2, 0.4]]]))
    floats = TensorDict({"image": torch.rand(2, 1, 1, 2)})  # float images read as they are
    assert torch.equal(floats[0]["image"], floats.data["image"][0])


@pytest.mark.parametrize("data, message", [
    ({"image": torch.zeros(3, 1), "label": torch.zeros(2)}, "one length"),
    ({}, "non-empty dict of tensors"),
    ({"label": [1, 2]}, "non-empty dict of tensors"),
    ([torch.zeros(2)], "non-empty dict of tensors"),
])
def test_mismatched_tensors_are_refused(data, message):
    with pytest.raises(ValueError, match=f"data: expected .*{message}"):
        TensorDict(data)


class _Refuse(torch.utils.data.Dataset):
    """A source that must not be read: the cache has the split."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise AssertionError("the cache was not used")


def test_a_cache_written_before_the_move_is_read_as_it_is(tmp_path):
    """The cache format is unchanged: a dict of tensors, images uint8 (what the experiments'
    splits wrote before they shared this class)."""
    old = {"image": torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8), "label": torch.tensor([1, 0])}
    save_checkpoint(old, tmp_path / "split.pt")
    split = CachedSplit(_Refuse(), ("image", "label"), tmp_path / "split.pt")
    assert torch.equal(split.data["image"], old["image"])
    assert torch.equal(split[0]["image"], old["image"][0] / 255)


def test_stack_items_stacks_the_chosen_keys():
    items = [{"image": torch.full((2,), float(i)), "label": i, "other": "x"} for i in range(3)]
    out = stack_items(items, ("image", "label"), indices=[2, 0])
    assert set(out) == {"image", "label"} and out["label"].tolist() == [2, 0] and out["image"][0, 0] == 2


def test_every_in_memory_dataset_is_the_one_class(tmp_path, monkeypatch):
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    assert isinstance(ImageTensors(images, torch.tensor([0, 1])), TensorDict)
    assert isinstance(TensorDict(make_toy(2, seed=0)), TensorDict)
    spec = {**mgan.PROTOCOLS["book"], "train": 3, "val": 1, "test": 1, "image_size": 16}
    assert isinstance(mgan.load_splits(spec, seed=0)["train"], TensorDict)
    scenes = vqa.VQAScenes("test", 2, 0, 48, **vqa.SCENE)
    split = vqa.scene_split(scenes, tmp_path)
    assert isinstance(split, CachedSplit) and split.vocab == scenes.vocab and len(split) == 2
    assert set(split[0]) == set(vqa.KEYS) and split[0]["image"].dtype == torch.float32
