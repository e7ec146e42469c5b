"""Interactive explorers for the chapters: sliders that redraw a figure from :mod:`lottolib.plots`.

Each explorer is a :class:`Explorer`: a row of sliders, the figure as a PNG image, and a note
that states the sliders' caps. Width sliders (k, the random width) move over a log-spaced grid
of integers (:func:`log_grid`), so every order of magnitude takes the same share of the track
and the readout shows the actual value; ε moves over a log scale. No slider updates while it is
dragged (``continuous_update=False``): the figure is redrawn once, for the value where the
slider is released. Each cap is chosen so that one update stays well under a second on two CPU
cores. An update runs torch on one thread: on a busy two-core machine two threads wait for each
other (and spin), which made one update several times slower than one thread. The image is drawn
by :meth:`lottolib.plots.View.png`, which redraws only the artists an update changes over a
cached background (axes, ticks, labels) and encodes the PNG with light compression. :func:`time_update`
measures an update in the kernel (compute and render); ``Explorer.update_seconds`` keeps the
kernel-side time of recent updates; ``bench/widget_latency.py`` measures the whole path in a
browser, from the release of a slider to the new image in the page.
"""

from __future__ import annotations

import collections
import contextlib
import html
import io
import time
from collections.abc import Iterable, Iterator

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from .plots import DeepView, LayerView, NeuronPruningView, NeuronView, OneWeightView, SubsetSumView, View

__all__ = [
    "WIDGET_DPI",
    "Explorer",
    "deep_explorer",
    "layer_explorer",
    "log_grid",
    "neuron_explorer",
    "neuron_pruning_explorer",
    "one_thread",
    "one_weight_explorer",
    "render_png",
    "subset_sum_explorer",
    "time_update",
]

WIDGET_DPI = 80
MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
SLIDER_LAYOUT = {"width": "330px"}
SLIDER_STYLE = {"description_width": "initial"}


def log_grid(low: int, high: int, *, include: Iterable[int] = (),
             mantissas: Iterable[float] = MANTISSAS) -> list[int]:
    """The integers a width slider moves over: log-spaced from ``low`` to ``high``, both included.

    With the default mantissas the grid holds every integer up to 10, then m·10^e for
    m ∈ {1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8}: about ten values per decade, so two neighbours differ
    by a factor of at most 4/3 (or by 1 below 10).

    Parameters
    ----------
    low, high : int
        The ends of the grid, 1 <= low <= high.
    include : Iterable of int
        Extra values (e.g. the slider's default), each in [low, high].
    mantissas : Iterable of float
        The values m in [1, 10) of the series m·10^e.

    Returns
    -------
    list of int
        Sorted, without repeats, starting at ``low`` and ending at ``high``.

    Raises
    ------
    ValueError
        If ``low < 1``, ``low > high``, or an ``include`` value lies outside [low, high].
    """
    if not 1 <= low <= high:
        raise ValueError(f"log_grid needs 1 <= low <= high, got low={low}, high={high}")
    extra = [int(value) for value in include]
    if any(not low <= value <= high for value in extra):
        raise ValueError(f"log_grid: include={extra} must lie in [{low}, {high}]")
    values = {low, high, *extra, *range(low, min(high, 10) + 1)}
    mantissas = tuple(mantissas)
    scale = 1
    while scale <= high:
        values.update(round(m * scale) for m in mantissas)
        scale *= 10
    return sorted(value for value in values if low <= value <= high)


def _grid_slider(value: int, grid: list[int], description: str = "k") -> widgets.SelectionSlider:
    if value not in grid:
        raise ValueError(f"the slider's default {value} is not on its grid {grid}")
    return widgets.SelectionSlider(
        options=[(f"{k:,}", k) for k in grid], value=value, description=description, continuous_update=False,
        layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE)


def _k_slider(value: int, cap: int, description: str = "k") -> widgets.SelectionSlider:
    return _grid_slider(value, log_grid(1, cap, include=[value]), description)


def _eps_slider(value: float) -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(value=value, base=10, min=-4, max=0, step=0.1, description="ε", readout_format=".2g",
                                  continuous_update=False, layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with torch on one thread, then restore the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def render_png(figure: Figure) -> bytes:
    """Render ``figure`` to PNG bytes at the widgets' resolution (``WIDGET_DPI`` dots per inch)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=WIDGET_DPI)
    return buffer.getvalue()


class Explorer(widgets.VBox):
    """Sliders over a :class:`~lottolib.plots.View`: children are the slider row, the image, the note.

    The image is drawn on construction (slider defaults) and again each time a slider is released.
    An update that raises shows the error in the note instead of the image changing silently.

    Parameters
    ----------
    view : View
        The figure to redraw; its ``defaults`` supply every value without a slider.
    note : str
        Plain text under the sliders: their ranges and caps.
    **sliders : ipywidgets.ValueWidget
        Keyword arguments: one slider per argument of ``view.update`` that the reader can move.
    """

    def __init__(self, view: View, note: str, **sliders: widgets.ValueWidget) -> None:
        self.view = view
        self.sliders = sliders
        self.fixed = {name: value for name, value in view.defaults.items() if name not in sliders}
        self.note_text = note
        self.image = widgets.Image(format="png")
        self.note = widgets.HTML(self._note_html())
        self.update_seconds: collections.deque[float] = collections.deque(maxlen=1000)
        row = widgets.HBox(list(sliders.values()), layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([row, self.image, self.note])
        for slider in sliders.values():
            slider.observe(self._changed, names="value")
        self.redraw()

    def values(self) -> dict[str, float]:
        """The arguments of the next update: the sliders' values and the view's other defaults."""
        return {**self.fixed, **{name: slider.value for name, slider in self.sliders.items()}}

    def redraw(self) -> None:
        """Update the view with :meth:`values` and show it; an exception is reported in the note."""
        started = time.perf_counter()
        try:
            with one_thread():
                png = self.view.update(**self.values()).png(WIDGET_DPI)
            self.update_seconds.append(time.perf_counter() - started)
            self.image.value = png
        except Exception as error:  # shown to the reader, who cannot see the kernel's log
            self.note.value = self._note_html(f"update failed: {type(error).__name__}: {error}")
        else:
            self.note.value = self._note_html()

    def _changed(self, change: dict) -> None:
        self.redraw()

    def _note_html(self, error: str | None = None) -> str:
        text = f"<small>{html.escape(self.note_text)}</small>"
        if error is not None:
            text += f"<br><b>{html.escape(error)}</b>"
        return text


def one_weight_explorer() -> Explorer:
    """Sliders for k (units), w (target weight) and ε over :func:`~lottolib.plots.one_weight_figure`."""
    return Explorer(
        OneWeightView(),
        "k moves over 1, 2, …, 10, 12, 15, 20, … (about ten values per decade) and is capped at 20,000 units "
        "(each update simulates about 10⁶ random units); |w| ≤ 1 is the lemma's assumption; ε from 10⁻⁴ to 1.",
        k=_k_slider(200, 20_000),
        w=widgets.FloatSlider(value=0.6, min=-1, max=1, step=0.01, description="w", continuous_update=False,
                              layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE),
        eps=_eps_slider(0.02),
    )


def neuron_explorer() -> Explorer:
    """Sliders for k (units per input; hidden width 2k) and ε over :func:`~lottolib.plots.neuron_figure`."""
    return Explorer(NeuronView(), "k moves over a log-spaced grid and is capped at 5,000 units per input "
                    "(hidden width 10,000); ε from 10⁻⁴ to 1.", k=_k_slider(500, 5_000), eps=_eps_slider(0.05))


def layer_explorer() -> Explorer:
    """Sliders for k (units per input; hidden width 16k) and ε over :func:`~lottolib.plots.layer_figure`."""
    return Explorer(LayerView(), "k moves over a log-spaced grid and is capped at 2,000 units per input "
                    "(hidden width 32,000); ε from 10⁻⁴ to 1.", k=_k_slider(400, 2_000), eps=_eps_slider(0.05))


def deep_explorer() -> Explorer:
    """Sliders for k (units per input) and ε over :class:`~lottolib.plots.DeepView` (the digits target)."""
    return Explorer(DeepView(), "k moves over a log-spaced grid and is capped at 500 units per input "
                    "(about 4 million random weights) to keep an update fast; ε from 10⁻⁴ to 1.",
                    k=_k_slider(400, 500), eps=_eps_slider(0.1))


NEURON_PRUNING_WIDTHS = sorted(m * 2**e for m in (4, 5, 6) for e in range(2, 9) if m * 2**e <= 1024)
"""Random widths of :func:`neuron_pruning_explorer`: 16, 20, 24, 32, 40, 48, 64, …, 512, 640, 768, 1,024
(4, 5, 6 times a power of two: neighbours differ by a factor of at most 4/3)."""


def neuron_pruning_explorer() -> Explorer:
    """Sliders for the dimension d and the hidden width over :func:`~lottolib.plots.neuron_pruning_figure`."""
    note = ("d runs from 2 to 12 and the hidden width over a log-spaced grid from 16, capped at 1,024 units "
            "(a least-squares fit over 2,000 points).")
    return Explorer(NeuronPruningView(), note,
                    d=widgets.IntSlider(value=8, min=2, max=12, description="d", continuous_update=False,
                                        layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE),
                    hidden_width=_grid_slider(512, NEURON_PRUNING_WIDTHS, "hidden width"))


def subset_sum_explorer() -> Explorer:
    """Sliders for k (units per input) and ε over :func:`~lottolib.plots.subset_sum_figure`."""
    return Explorer(SubsetSumView(), "k moves over a log-spaced grid and is capped at 128 units per input "
                    "(SubsetSum searches at most 16 units per side); ε from 10⁻⁴ to 1.",
                    k=_k_slider(48, 128), eps=_eps_slider(0.01))


def time_update(view: View, **values: float) -> float:
    """Seconds for one widget update of ``view``: compute, redraw and render to PNG, as the widget does."""
    started = time.perf_counter()
    with one_thread():
        view.update(**{**view.defaults, **values}).png(WIDGET_DPI)
    return time.perf_counter() - started
