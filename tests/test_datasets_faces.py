"""Synthetic faces (deterministic, exact hair masks, true translations) and the CelebA
loader on a tiny CelebA-format folder written here."""

import pytest
import torch

from arnn_lite.datasets.faces import CELEBA_FILES, HAIR_STYLES, SyntheticFaces, celeba_hair, materialize


def test_items_have_the_documented_shapes_and_ranges():
    item = SyntheticFaces("train", 10, seed=0, image_size=32)[3]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert 0 <= item["image"].min() and item["image"].max() <= 1
    assert item["hair_mask"].shape == (1, 32, 32)
    assert set(item["hair_mask"].unique().tolist()) <= {0.0, 1.0} and item["hair_mask"].sum() > 0
    assert item["label"] in (0, 1, 2) and torch.equal(item["attributes"], torch.eye(3)[item["label"]])
    assert SyntheticFaces("val", 2, image_size=48)[0]["image"].shape == (3, 48, 48)


def test_deterministic_per_seed_split_and_index():
    a, b = SyntheticFaces("train", 5, seed=1), SyntheticFaces("train", 5, seed=1)
    assert all(torch.equal(a[i]["image"], b[i]["image"]) for i in range(5))
    assert not torch.equal(a[0]["image"], SyntheticFaces("train", 5, seed=2)[0]["image"])
    assert not torch.equal(a[0]["image"], SyntheticFaces("test", 5, seed=1)[0]["image"])


def test_hair_mask_is_exactly_where_a_colour_change_changes_the_image():
    faces = SyntheticFaces("test", 30, seed=0)
    for i in range(30):
        item = faces[i]
        for colour in range(3):
            other = faces.render(i, colour)
            assert torch.equal(other["hair_mask"], item["hair_mask"])
            changed = (other["image"] != item["image"]).any(0, keepdim=True).float()  # (1, S, S)
            if colour == item["label"]:
                assert torch.equal(other["image"], item["image"])
            else:
                assert torch.equal(changed, item["hair_mask"]), f"item {i}, colour {colour}"


def test_labels_and_styles_all_occur():
    faces = SyntheticFaces("train", 120, seed=0)
    items = [faces[i] for i in range(120)]
    assert {it["label"] for it in items} == {0, 1, 2}
    assert {it["style"] for it in items} == set(range(len(HAIR_STYLES)))
    data = materialize(faces, range(4))
    assert data["image"].shape == (4, 3, 32, 32) and data["hair_mask"].shape == (4, 1, 32, 32)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="split"):
        SyntheticFaces("training", 5)
    with pytest.raises(ValueError, match="image_size"):
        SyntheticFaces("train", 5, image_size=8)
    with pytest.raises(ValueError, match="colour"):
        SyntheticFaces("train", 5).render(0, 3)
    with pytest.raises(IndexError):
        SyntheticFaces("train", 5)[5]


ATTRS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
         "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
         "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
         "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
         "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
# (black, blond, brown, partition 0 train / 1 valid / 2 test), two train rows to drop
ROWS = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (1, 1, 0, 0), (0, 0, 0, 0), (0, 1, 0, 2), (0, 0, 1, 2),
        (1, 0, 0, 1), (0, 0, 1, 1)]


def write_tiny_celeba(root):
    """The files torchvision's CelebA reads, in CelebA's formats, for 7 small images."""
    from PIL import Image
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    names = [f"{k + 1:06d}.jpg" for k in range(len(ROWS))]
    attr, part = [str(len(ROWS)), " ".join(ATTRS)], []
    for k, (name, (black, blond, brown, split)) in enumerate(zip(names, ROWS)):
        Image.new("RGB", (40, 48), (20 * k, 100, 200)).save(base / "img_align_celeba" / name)
        values = {"Black_Hair": black, "Blond_Hair": blond, "Brown_Hair": brown}
        attr.append(name + " " + " ".join("1" if values.get(a) else "-1" for a in ATTRS))
        part.append(f"{name} {split}")
    (base / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (base / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    (base / "identity_CelebA.txt").write_text("\n".join(f"{n} {k}" for k, n in enumerate(names)) + "\n")
    (base / "list_bbox_celeba.txt").write_text(
        f"{len(names)}\nimage_id x_1 y_1 width height\n" + "".join(f"{n} 1 2 30 40\n" for n in names))
    (base / "list_landmarks_align_celeba.txt").write_text(
        f"{len(names)}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
        "rightmouth_x rightmouth_y\n" + "".join(f"{n} " + " ".join(["10"] * 10) + "\n" for n in names))


def test_celeba_loader_reads_a_celeba_format_folder(tmp_path):
    write_tiny_celeba(tmp_path)
    train = celeba_hair(tmp_path, "train", image_size=16, crop_size=32)
    assert len(train) == 3  # two-colour and no-colour rows are dropped
    assert [train[i]["label"] for i in range(3)] == [0, 1, 2]
    item = train[1]
    assert item["image"].shape == (3, 16, 16) and 0 <= item["image"].min() <= item["image"].max() <= 1
    assert torch.equal(item["attributes"], torch.eye(3)[1]) and "hair_mask" not in item
    assert [t["label"] for t in celeba_hair(tmp_path, "test", 16, 32)] == [1, 2]


def test_celeba_loader_names_the_expected_layout_when_files_are_missing(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        celeba_hair(tmp_path / "nowhere")
    message = str(err.value)
    assert "img_align_celeba" in message and all(f in message for f in CELEBA_FILES)
    write_tiny_celeba(tmp_path)
    (tmp_path / "celeba" / "list_attr_celeba.txt").unlink()
    with pytest.raises(FileNotFoundError, match="missing list_attr_celeba.txt"):
        celeba_hair(tmp_path)
