"""A figure with sliders that moves with a kernel and without one.

:func:`slider` is the book's one way to make an interactive figure. With a kernel (Colab,
Jupyter) it returns the live ``ipywidgets.interactive``. In the static book (the build sets
``ARNN_STATIC_WIDGETS=1``, see :mod:`arnn_lite.progress`) there is no kernel to redraw the
figure, so a live widget there is a slider whose readout moves while the picture stays. There
it draws every combination of the slider positions once, to PNG, and returns a
:class:`StaticSlider`: self-contained HTML with one ``<input type="range">`` per parameter, a
readout, and a few lines of inline script that swap the image. No kernel, no external script.

Defined for chapters 01, 02, 03, 04, 06 and 08.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import io
import itertools
import json
import numbers
from contextlib import contextmanager
from typing import Callable, Mapping, Optional, Sequence

from ..progress import static_build

__all__ = ["MAX_FRAMES", "StaticSlider", "slider"]

MAX_FRAMES = 200  # combinations drawn for one static slider (about 10-40 kB of PNG each)
_COUNTER = itertools.count()


def _label(value) -> str:
    """How a slider value reads: ``0.05`` not ``0.05000000000000001``."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _evenly_spaced(values: Sequence) -> bool:
    """Numbers (not bools) in increasing order with one constant step."""
    if len(values) < 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                  for v in values):
        return False
    step = values[1] - values[0]
    return step > 0 and all(abs((b - a) - step) <= 1e-9 * max(1.0, abs(step))
                            for a, b in zip(values, values[1:]))


def _default(draw: Callable, name: str, values: Sequence):
    """The grid value nearest to ``draw``'s default for ``name`` (the first value if none)."""
    param = inspect.signature(draw).parameters.get(name)
    want = None if param is None else param.default
    if want is None or want is inspect.Parameter.empty:
        return values[0]
    if want in values:
        return values[list(values).index(want)]
    if isinstance(want, numbers.Real) and all(isinstance(v, numbers.Real) for v in values):
        return min(values, key=lambda v: abs(v - want))
    return values[0]


def _live_control(name: str, values: Sequence, value):
    """The ipywidgets control for a grid: checkbox, int/float slider, or selection slider."""
    import ipywidgets as widgets

    if all(isinstance(v, bool) for v in values):
        return widgets.Checkbox(value=value, description=name)
    if _evenly_spaced(values):
        step = values[1] - values[0]
        if all(isinstance(v, numbers.Integral) for v in values):
            return widgets.IntSlider(value=value, min=values[0], max=values[-1], step=step,
                                     description=name)
        return widgets.FloatSlider(value=value, min=values[0], max=values[-1], step=step,
                                   description=name)
    return widgets.SelectionSlider(options=[(_label(v), v) for v in values], value=value,
                                   description=name)


@contextmanager
def _no_show():
    """Make ``plt.show()`` a no-op while frames are drawn: under the inline backend it would
    print every frame into the cell's output."""
    import matplotlib.pyplot as plt

    show, plt.show = plt.show, (lambda *args, **kwargs: None)
    try:
        yield
    finally:
        plt.show = show


def _render(draw: Callable, values: dict, dpi: float) -> tuple[bytes, str]:
    """Draw one frame; return its PNG bytes and the figure's title (closes every new figure)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    with _no_show():
        fig = draw(**values)
    fig = fig if fig is not None else plt.gcf()
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    title = title or next((ax.get_title() for ax in fig.axes if ax.get_title()), "")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    for number in set(plt.get_fignums()) - before:
        plt.close(number)
    return _palette_png(buffer.getvalue()), title


def _palette_png(png: bytes) -> bytes:
    """The same picture with a 256-colour palette: about 3x smaller, and figures of flat
    colours, grids and text look the same (a page holds dozens of frames)."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(out, format="png", optimize=True)
    return out.getvalue()


_SCRIPT = """(function () {
  var root = document.getElementById("%(uid)s");
  var data = JSON.parse(document.getElementById("%(uid)s-data").textContent);
  var img = root.querySelector("img");
  var inputs = root.querySelectorAll("input[type=range]");
  function update() {
    var flat = 0;
    for (var k = 0; k < inputs.length; k++) {
      var pos = Number(inputs[k].value), label = data.labels[k][pos];
      flat = flat * data.labels[k].length + pos;
      document.getElementById(inputs[k].id + "-value").textContent = label;
      inputs[k].setAttribute("aria-valuetext", label);
    }
    img.src = "data:image/png;base64," + data.frames[data.index[flat]];
    img.alt = data.alts[flat];
  }
  for (var k = 0; k < inputs.length; k++) inputs[k].addEventListener("input", update);
})();"""


class StaticSlider:
    """Precomputed frames of a :func:`slider`, shown as HTML that needs no kernel.

    Attributes:
        names: parameter names, one ``<input type="range">`` each, in this order.
        labels: for each parameter, the readout of each position.
        frames: distinct PNG images (identical frames are stored once).
        index: for each combination of positions (row-major over ``names``), its frame.
        alts: for each combination, the image's alt text.
        start: the initial position of each parameter.
        uid: the HTML id of the widget; every other id starts with it.
    """

    def __init__(self, names, labels, frames, index, alts, start, uid):
        self.names, self.labels, self.frames = list(names), labels, frames
        self.index, self.alts, self.start, self.uid = index, alts, list(start), uid

    def _flat(self, positions: Sequence[int]) -> int:
        flat = 0
        for pos, labels in zip(positions, self.labels):
            flat = flat * len(labels) + pos
        return flat

    def _repr_html_(self) -> str:
        uid, flat = self.uid, self._flat(self.start)
        src = base64.b64encode(self.frames[self.index[flat]]).decode()
        controls = []
        for k, (name, labels, pos) in enumerate(zip(self.names, self.labels, self.start)):
            cid = f"{uid}-{k}"
            controls.append(
                f'<label for="{cid}" style="min-width:6em">{html.escape(name)}</label>'
                f'<input type="range" id="{cid}" min="0" max="{len(labels) - 1}" step="1" '
                f'value="{pos}" aria-valuetext="{html.escape(labels[pos])}" style="width:16em">'
                f'<output id="{cid}-value" for="{cid}">{html.escape(labels[pos])}</output>')
        data = {"frames": [base64.b64encode(f).decode() for f in self.frames],
                "index": self.index, "alts": self.alts, "labels": self.labels}
        payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
        rows = "".join(f'<div style="display:flex;gap:0.6em;align-items:center">{c}</div>'
                       for c in controls)
        return (f'<div class="arnn-slider" id="{uid}">'
                f'<div class="arnn-slider-controls">{rows}</div>'
                f'<img src="data:image/png;base64,{src}" alt="{html.escape(self.alts[flat])}" '
                f'style="max-width:100%;height:auto">'
                f'<script type="application/json" id="{uid}-data">{payload}</script>'
                f'<script>{_SCRIPT % {"uid": uid}}</script></div>')

    def save(self, path, title: str = "Slider") -> None:
        """Write a standalone HTML page holding only this widget (for a browser, or a test)."""
        from pathlib import Path

        Path(path).write_text(f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                              f'<title>{html.escape(title)}</title></head>'
                              f'<body>{self._repr_html_()}</body></html>\n', encoding="utf-8")

    def __repr__(self) -> str:
        sizes = "x".join(str(len(labels)) for labels in self.labels)
        return (f"StaticSlider({', '.join(self.names)}: {sizes} positions, "
                f"{len(self.frames)} distinct frames)")


def _static(draw: Callable, grid: Mapping[str, Sequence], start: dict, alt: Optional[str],
            dpi: float) -> StaticSlider:
    """Draw every combination of the grid values once and wrap them as a StaticSlider."""
    names = list(grid)
    frames, seen, index, alts = [], {}, [], []
    for combo in itertools.product(*(grid[n] for n in names)):
        values = dict(zip(names, combo))
        png, title = _render(draw, values, dpi)
        digest = hashlib.sha1(png).hexdigest()
        if digest not in seen:
            seen[digest] = len(frames)
            frames.append(png)
        index.append(seen[digest])
        described = ", ".join(f"{n} = {_label(v)}" for n, v in values.items())
        if alt is None:
            alts.append(f"{title or 'Figure'} ({described})")
        else:
            alts.append(alt(**values) if callable(alt) else alt.format(**values))
    digest = hashlib.sha1(b"".join(frames) + repr(names).encode()).hexdigest()[:8]
    uid = f"arnn-slider-{next(_COUNTER)}-{digest}"
    labels = [[_label(v) for v in grid[n]] for n in names]
    positions = [list(grid[n]).index(start[n]) for n in names]
    return StaticSlider(names, labels, frames, index, alts, positions, uid)


def slider(draw: Callable, alt=None, live: Optional[Mapping] = None,
           static: Optional[bool] = None, dpi: Optional[float] = None, **grid: Sequence):
    """A figure redrawn by sliders: live with a kernel, precomputed frames in the static book.

    Args:
        draw: ``draw(**values)`` draws one figure and returns it (or leaves it as the current
            figure); it need not call ``plt.show()``. Its keyword defaults pick the start.
        alt: the picture's alt text: a string whose ``{name}`` fields are filled with each
            frame's values (``"receptive field of output ({i}, {j})"``), or a function
            ``alt(**values) -> str``. Default: the figure's title plus the values.
        live: per parameter, an ipywidgets control (or ``interactive`` abbreviation) that
            replaces the default one in the live widget, e.g. a finer range than the grid;
            or a function returning that mapping (called only when the widget is live, so
            the static book creates no ipywidgets at all).
        static: ``True`` for the precomputed HTML, ``False`` for the live widget, ``None``
            to follow ``$ARNN_STATIC_WIDGETS`` (:func:`arnn_lite.progress.static_build`).
        dpi: resolution of the precomputed PNG frames (default ``figure.dpi``, the size at
            which the notebook shows figures; page size grows with its square).
        **grid: per parameter, the values a slider steps through (a ``range``, a list of
            numbers, strings or bools). The static page draws all combinations, at most
            :data:`MAX_FRAMES`; the live slider spans the same values unless ``live`` says.

    Returns:
        ``ipywidgets.interactive`` (live) or :class:`StaticSlider` (static), to be the last
        expression of a cell or passed to ``display``.
    """
    if not grid:
        raise ValueError("slider: give at least one parameter grid, e.g. t=range(9); got none")
    grid = {name: list(values) for name, values in grid.items()}
    empty = [name for name, values in grid.items() if not values]
    if empty:
        raise ValueError(f"slider: every grid needs at least one value; {empty} are empty")
    is_static = static_build() if static is None else static
    live = {} if is_static else dict((live() if callable(live) else live) or {})
    unknown = sorted(set(live) - set(grid))
    if unknown:
        raise ValueError(f"slider: live controls {unknown} have no grid; grids are {list(grid)}")
    start = {name: _default(draw, name, values) for name, values in grid.items()}
    if is_static:
        count = 1
        for values in grid.values():
            count *= len(values)
        if count > MAX_FRAMES:
            sizes = {name: len(values) for name, values in grid.items()}
            raise ValueError(f"slider: {count} combinations to precompute (grid sizes {sizes}), "
                             f"expected at most {MAX_FRAMES}; give coarser grids")
        import matplotlib

        return _static(draw, grid, start, alt, dpi or matplotlib.rcParams["figure.dpi"])
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def redraw(**values):
        draw(**values)
        plt.show()

    controls = {}
    for name, values in grid.items():
        if name in live:  # a widget passes through; an abbreviation starts where draw does
            controls[name] = widgets.interactive.widget_from_abbrev(live[name], start[name])
        else:
            controls[name] = _live_control(name, values, start[name])
    return widgets.interactive(redraw, **controls)
