"""Chapter 10 checkers: solutions pass, stubs and plausible mistakes fail helpfully; the
mask measures behave as their docstrings say; MBGNet's ARNN~ samples are seeded."""

import pytest
import torch
import torch.nn.functional as F

from arnn_lite.datasets.mbg import PALETTE
from arnn_lite.exercises import ExerciseError, ch10
from arnn_lite.models.mbg import MBGNet
from arnn_lite.models.metrics import ink_coverage, same_colour_mass


def stub(*args, **kwargs):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch10.check_ink_coverage(ink_coverage)
    ch10.check_same_colour_mass(same_colour_mass)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch10.check_ink_coverage, ch10.check_same_colour_mass])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_forgetting_the_maximum_is_explained():
    def raw(mask, ink, threshold=0.5):
        up = F.interpolate(mask, size=ink.shape[-2:], mode="bilinear", align_corners=False)
        return ((up >= threshold).float() * ink).sum((1, 2, 3)) / ink.sum((1, 2, 3))
    with pytest.raises(ExerciseError, match="maximum"):
        ch10.check_ink_coverage(raw)


def test_counting_the_box_is_explained():
    def with_box(mask, image, colour, box, tolerance=60.0):
        up = F.interpolate(mask, size=image.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        near = (image - PALETTE[colour][:, :, None, None] / 255).norm(dim=1) * 255 < tolerance
        return (up * near).sum((1, 2)) / up.sum((1, 2))
    with pytest.raises(ExerciseError, match="inside the target's box"):
        ch10.check_same_colour_mass(with_box)


def test_measures_on_known_masks():
    ink = torch.zeros(1, 1, 8, 8)
    ink[0, 0, 2:4, 2:4] = 1.0
    full = torch.ones(1, 1, 2, 2)
    assert ink_coverage(full, ink).item() == pytest.approx(1.0)
    left = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])  # only the left half attended
    assert 0.0 < ink_coverage(left, ink).item() <= 1.0
    image = torch.zeros(1, 3, 8, 8)
    image[0, :, 0, 6:] = PALETTE[2][:, None] / 255  # two blue pixels, outside the box
    box = torch.tensor([[0, 2, 4, 5]])
    share = same_colour_mass(torch.ones(1, 1, 8, 8), image, torch.tensor([2]), box)
    assert share.item() == pytest.approx(2 / 64)
    assert same_colour_mass(torch.ones(1, 1, 8, 8), image, torch.tensor([0]), box).item() == 0.0


def test_mbgnet_samples_are_seeded():
    net = MBGNet("arnn", channels=4, hidden=2).eval()
    x, q = torch.rand(1, 3, 64, 64), torch.eye(10)[:1]
    with torch.no_grad():
        a = net(x, q, sample=True, generator=torch.Generator().manual_seed(3))[1]
        b = net(x, q, sample=True, generator=torch.Generator().manual_seed(3))[1]
        c = net(x, q, sample=True, generator=torch.Generator().manual_seed(4))[1]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
