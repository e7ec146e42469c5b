"""Interactive explorers for the chapters: sliders that redraw a figure from :mod:`lottolib.plots`.

Each slider's range is capped so that one update stays well under a second on two CPU cores;
the cap is stated under the sliders. :func:`time_update` measures an update (compute and render).
"""

from __future__ import annotations

import io
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .plots import DeepView, LayerView, NeuronPruningView, NeuronView, OneWeightView, SubsetSumView, View

__all__ = [
    "WIDGET_DPI",
    "deep_explorer",
    "layer_explorer",
    "neuron_explorer",
    "neuron_pruning_explorer",
    "one_weight_explorer",
    "render_png",
    "subset_sum_explorer",
    "time_update",
]

WIDGET_DPI = 80


def _eps_slider(value: float) -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(value=value, base=10, min=-4, max=0, step=0.1, description="ε", readout_format=".2g")


def _k_slider(value: int, cap: int, description: str = "k") -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=1, max=cap, step=1, description=description, continuous_update=False)


def render_png(figure: Figure, *, close: bool = True) -> bytes:
    """Render ``figure`` to PNG bytes at the widgets' resolution (and close it unless ``close=False``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=WIDGET_DPI)
    if close:
        plt.close(figure)
    return buffer.getvalue()


def _explorer(view: type[View], note: str, **sliders: widgets.Widget) -> widgets.VBox:
    figure_view = view()
    image = widgets.Image(format="png")
    fixed = {name: value for name, value in view.defaults.items() if name not in sliders}

    def update(**values: float) -> None:
        image.value = render_png(figure_view.update(**fixed, **values).figure, close=False)

    controls = widgets.interactive(update, **sliders)
    controls.update()
    return widgets.VBox([widgets.HBox(controls.children[:-1]), image, widgets.HTML(f"<small>{note}</small>")])


def one_weight_explorer() -> widgets.VBox:
    """Sliders for k (units), w (target weight) and ε over :func:`~lottolib.plots.one_weight_figure`."""
    return _explorer(
        OneWeightView,
        "k is capped at 20,000 units (each update simulates about 10⁶ random units); |w| ≤ 1 is the lemma's assumption.",
        k=_k_slider(200, 20_000),
        w=widgets.FloatSlider(value=0.6, min=-1, max=1, step=0.01, description="w", continuous_update=False),
        eps=_eps_slider(0.02),
    )


def neuron_explorer() -> widgets.VBox:
    """Sliders for k (units per input; width 2k) and ε over :func:`~lottolib.plots.neuron_figure`."""
    return _explorer(NeuronView, "k is capped at 5,000 units per input (hidden width 10,000).",
                     k=_k_slider(50, 5_000), eps=_eps_slider(0.05))


def layer_explorer() -> widgets.VBox:
    """Sliders for k (units per input; width 16k) and ε over :func:`~lottolib.plots.layer_figure`."""
    return _explorer(LayerView, "k is capped at 2,000 units per input (hidden width 32,000).",
                     k=_k_slider(400, 2_000), eps=_eps_slider(0.05))


def deep_explorer() -> widgets.VBox:
    """Sliders for k (units per input) and ε over :class:`~lottolib.plots.DeepView` (the digits target)."""
    return _explorer(DeepView, "k is capped at 500 units per input (about 4 million random weights) to keep an update fast.",
                     k=_k_slider(300, 500), eps=_eps_slider(0.05))


def neuron_pruning_explorer() -> widgets.VBox:
    """Sliders for the dimension d and the random width over :func:`~lottolib.plots.neuron_pruning_figure`."""
    note = "width is capped at 1,024 units and d at 12 (a least-squares fit over 2,000 points)."
    return _explorer(NeuronPruningView, note,
                     d=widgets.IntSlider(value=8, min=2, max=12, description="d", continuous_update=False),
                     width=widgets.IntSlider(value=512, min=16, max=1024, step=16, description="width",
                                             continuous_update=False))


def subset_sum_explorer() -> widgets.VBox:
    """Sliders for k (units per input) and ε over :func:`~lottolib.plots.subset_sum_figure`."""
    return _explorer(SubsetSumView, "k is capped at 128 units per input; SubsetSum searches at most 16 units per side.",
                     k=_k_slider(48, 128), eps=_eps_slider(0.01))


def time_update(view: View, **values: float) -> float:
    """Seconds for one widget update of ``view``: compute, redraw and render to PNG, as the widget does."""
    started = time.perf_counter()
    render_png(view.update(**{**view.defaults, **values}).figure, close=False)
    return time.perf_counter() - started
