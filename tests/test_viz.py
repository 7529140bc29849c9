"""Light tests of the plotting helpers: they return Figures with the expected axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from arnn_lite.book import viz  # noqa: E402


def teardown_function(_):
    plt.close("all")


def test_show_images_axes_and_titles():
    fig = viz.show_images(torch.rand(5, 3, 10, 12), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == list("abcde")
    assert fig.axes[0].get_xlabel()


def test_show_masks_with_images_and_colorbars():
    masks, images = torch.rand(4, 1, 6, 6), torch.rand(4, 3, 12, 12)
    fig = viz.show_masks(masks, images, titles=["m"] * 4, ncols=4)
    panels = [ax for ax in fig.axes if ax.get_title() == "m"]
    assert len(panels) == 4
    assert len(fig.axes) == 5  # four panels and one colour bar for the row
    assert panels[0].get_images()[-1].get_array().shape == (12, 12)  # upsampled


def test_show_masks_without_images():
    fig = viz.show_masks(torch.rand(3, 1, 5, 7), colorbar=False)
    assert len(fig.axes) == 3


def test_show_mask_grid():
    fig = viz.show_mask_grid({"A": torch.rand(3, 1, 4, 4), "B": torch.rand(3, 1, 4, 4)},
                             torch.rand(3, 3, 8, 8), col_titles=["x", "y", "z"])
    assert len(fig.axes) == 9
    assert fig.axes[3].get_ylabel() == "A"


def test_plot_history_and_bars():
    h = {"step": list(range(50)), "loss": list(torch.rand(50).tolist())}
    fig = viz.plot_history({"run": h, "run2": h}, window=5)
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.get_lines()) == 2 and ax.get_xlabel() == "training step"
    fig2 = viz.plot_bars({"a": 1.0, "b": 2.0}, ylabel="y", title="t")
    assert fig2.axes[0].get_title() == "t"
