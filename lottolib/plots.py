"""Figures the chapters show: each function draws from a construction and returns the Figure.

Every widget in :mod:`lottolib.widgets` redraws one of these; the chapters call the same
function once with default values as the widget's static twin for readers without a kernel.

No figure here touches pyplot's state: each is a ``BookFigure``, a
:class:`matplotlib.figure.Figure` with its own Agg canvas that IPython displays as a PNG (through
its ``_repr_png_``, or through the inline backend's Figure formatter when that is active). So a
notebook shows a figure only where a cell returns or displays it: a widget cell shows the widget
and nothing else (a pyplot figure would also be shown, frozen, when the cell ends), and a static
twin cell shows its figure when the figure is the cell's last expression (or is passed to
``IPython.display.display``), with or without pyplot imported. ``plt.show()`` does not show it.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar, cast

import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from .digits import DigitsTarget, digits_target, prediction_accuracy
from .layer import LayerConstruction, prune_layer
from .network import forward_target, prune_random_network
from .neuron_pruning import compare_pruning
from .one_weight import prune_one_weight
from .probability import pair_success_probability, sampled_pair_errors
from .seeds import derived
from .style import COLORMAPS, COLORS, mark_floor
from .targets import random_target
from .verify import sample_unit_ball

__all__ = [
    "DeepView",
    "LayerView",
    "NeuronPruningView",
    "NeuronView",
    "OneWeightView",
    "SubsetSumView",
    "View",
    "deep_figure",
    "layer_figure",
    "masks_figure",
    "neuron_figure",
    "neuron_pruning_figure",
    "one_weight_figure",
    "pruned_block_diagram",
    "subset_sum_figure",
]


class BookFigure(Figure):
    """A matplotlib Figure outside pyplot, drawn by its own Agg canvas, that Jupyter shows as a PNG.

    pyplot never sees it: the inline backend does not show it when a cell ends and it is never
    "open" (nothing to close). IPython displays it through ``_repr_png_`` (or through the
    inline backend's own Figure formatter when that is active: the same PNG, cropped to the drawn
    area at the figure's dpi), so a cell whose last expression is the figure shows it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi, bbox_inches="tight",
                     facecolor=self.get_facecolor(), edgecolor=self.get_edgecolor())
        return buffer.getvalue()


class View:
    """A figure drawn once and redrawn by ``update``, which changes only the data.

    Reusing the axes (their ticks and text) keeps one widget update fast; ``figure`` with
    default values is the static twin the HTML book shows.

    ``redrawn`` lists, in drawing order, every artist that ``update`` changes (whole axes, or the
    y axis of axes whose y limits follow the data), followed by the artists that must stay on top
    of them (spines, legends). :meth:`png` then draws everything else once, keeps that background
    while the limits it shows stay the same, and on each update draws only ``redrawn`` over it.
    An empty list means a full draw each time.
    """

    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self) -> None:
        self.figure: Figure = BookFigure(figsize=(8.5, 3.0))
        self.figure.subplots_adjust(left=0.08, right=0.97, bottom=0.17, top=0.8, wspace=0.28)
        self.redrawn: list[Artist] = []
        self._background: tuple[tuple, Any] | None = None

    def png(self, dpi: float) -> bytes:
        """The figure as PNG bytes at ``dpi`` (which becomes the figure's dpi), for a widget.

        Draws only ``redrawn`` over a cached background when it can: the same picture as a full
        draw except that grid lines, which a full draw puts over markers and bars, stay under them.
        Unlike ``savefig``, it does not crop or add metadata.
        """
        figure, canvas = self.figure, cast(FigureCanvasAgg, self.figure.canvas)
        if figure.dpi != dpi:
            figure.set_dpi(dpi)
        if not self.redrawn:
            canvas.draw()
        else:
            static = [axes for axes in figure.axes if axes not in self.redrawn]
            key = (dpi, tuple(figure.get_size_inches()),
                   *((axes.get_position().bounds, None if axes.xaxis in self.redrawn else axes.get_xlim(),
                      None if axes.yaxis in self.redrawn else axes.get_ylim()) for axes in static))
            if self._background is None or self._background[0] != key:
                shown = [artist for artist in self.redrawn if artist.get_visible()]
                for artist in shown:
                    artist.set_visible(False)
                canvas.draw()
                for artist in shown:
                    artist.set_visible(True)
                self._background = (key, canvas.copy_from_bbox(figure.bbox))
            canvas.restore_region(self._background[1])
            renderer = canvas.get_renderer()
            for artist in self.redrawn:
                artist.draw(renderer)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def update(self, *args: Any, **values: Any) -> View:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @classmethod
    def draw(cls, **values: float) -> Figure:
        """A new figure drawn with ``values`` (missing ones from ``defaults``)."""
        return cls().update(**{**cls.defaults, **values}).figure


class OneWeightView(View):
    """Left: the k products u·v (teal for u > 0, sand for u < 0; at most ~400 drawn), the band w ± ε and
    the kept pair (circled). Right: the pruned block against w·x. The title gives the error, the
    exact probability that k units succeed and the fraction of independent seeds that did."""

    defaults: ClassVar[dict[str, float]] = {"k": 200, "w": 0.6, "eps": 0.02, "seed": 0}

    def __init__(self) -> None:
        super().__init__()
        left, right = self.figure.subplots(1, 2)
        left.set(xlabel="first-layer weight u", ylabel="product u·v", xlim=(-1, 1), ylim=(-1, 1))
        self.products = left.scatter([], [], s=5, alpha=0.85)
        self.band = left.axhspan(-0.01, 0.01, color=COLORS["reference"], alpha=0.3, linewidth=0)  # w ± ε
        self.kept = left.scatter([], [], s=70, facecolor="none", edgecolor=COLORS["pruned"], linewidth=2)
        self.x = torch.linspace(-1, 1, 101, dtype=torch.float64)
        (self.target,) = right.plot(self.x, self.x, color=COLORS["target"], label="w·x")
        (self.pruned,) = right.plot(self.x, self.x, color=COLORS["pruned"], linestyle="--", label="pruned block")
        right.set(xlabel="x", xlim=(-1, 1), ylim=(-1.05, 1.05))
        legend = right.legend(loc="upper left")
        self.title = self.figure.suptitle("", fontsize=10)
        self._sampled: tuple[tuple, torch.Tensor] | None = None  # the simulated errors do not depend on ε
        self.redrawn = [self.band, self.products, self.kept, *left.spines.values(),
                        self.target, self.pruned, *right.spines.values(), legend, self.title]

    def update(self, k: int, w: float, eps: float, seed: int = 0) -> OneWeightView:
        result = prune_one_weight(w, k=k, seed=seed, eps=eps)
        exact = float(pair_success_probability(w, eps, k))
        trials = max(20, min(400, 1_000_000 // k))
        key = (w, k, trials, seed)
        if self._sampled is None or self._sampled[0] != key:  # independent of the pictured block's stream
            self._sampled = (key, sampled_pair_errors(w, k, trials, derived(seed, "one weight trials")))
        simulated = float((self._sampled[1] <= eps).double().mean())  # = empirical_success_probability(w, eps, k, ...)
        products = result.u * result.v
        shown = slice(None, None, max(1, k // 400))
        self.products.set_offsets(torch.stack([result.u[shown], products[shown]], dim=1).numpy())
        self.products.set_facecolor(np.where(result.u[shown].numpy() > 0, COLORS["positive"], COLORS["negative"]))
        self.band.set_y(w - eps)
        self.band.set_height(2 * eps)
        kept = result.kept
        self.kept.set_offsets(torch.stack([result.u[kept], products[kept]], dim=1).numpy().reshape(-1, 2))
        self.target.set_ydata(w * self.x)
        with torch.no_grad():
            self.pruned.set_ydata(result.module(compact=True)(self.x.unsqueeze(1)).squeeze(1))
        verdict = "succeeded" if result.succeeded else "FAILED"
        self.title.set_text(f"k = {k}, w = {w:.2f}: error {result.certificate:.2g}·|x|, {verdict} at ε = {eps:.2g}.  "
                            f"P(success) = {exact:.3f} exact, {simulated:.3f} over {trials} seeds")
        return self


class NeuronView(View):
    """σ(⟨w, x⟩) on the unit disk for w = (0.8, −0.5) (left) and |error| of the pruned network (right),
    whose maximum the title compares with η."""

    defaults: ClassVar[dict[str, float]] = {"k": 500, "eps": 0.05, "seed": 0}
    weight = torch.tensor([[0.8, -0.5]], dtype=torch.float64)

    def __init__(self) -> None:
        super().__init__()
        self.figure.subplots_adjust(left=0.06, right=0.95, top=0.86, bottom=0.14)
        left, self.right = self.figure.subplots(1, 2)
        grid = torch.linspace(-1, 1, 121, dtype=torch.float64)
        xx, yy = torch.meshgrid(grid, grid, indexing="xy")
        self.points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
        self.outside = self.points.norm(dim=1) > 1
        target = torch.relu(self.points @ self.weight.T).squeeze(1)
        self.target = target
        extent = (-1, 1, -1, 1)
        image = left.imshow(self._disk(target), origin="lower", extent=extent, cmap=COLORMAPS["value"])
        self.figure.colorbar(image, ax=left, shrink=0.85)
        left.set(title="target σ(⟨w, x⟩)", xlabel="x₁", ylabel="x₂")
        self.error = self.right.imshow(self._disk(target), origin="lower", extent=extent, cmap=COLORMAPS["error"])
        colorbar = self.figure.colorbar(self.error, ax=self.right, shrink=0.85)
        self.right.set(xlabel="x₁")
        for axis in (left, self.right):
            axis.grid(False)
        self.redrawn = [self.right, colorbar.ax]  # the error panel and its color scale; the target stays

    def _disk(self, values: torch.Tensor) -> np.ndarray:
        return values.masked_fill(self.outside, float("nan")).view(121, 121).numpy()

    def update(self, k: int, eps: float, seed: int = 0) -> NeuronView:
        construction = prune_layer(self.weight, k=k, seed=seed, eps=eps)
        with torch.no_grad():
            pruned = torch.relu(construction.module(compact=True)(self.points)).squeeze(1)
        error = (pruned - self.target).abs().masked_fill(self.outside, 0)
        self.error.set_data(self._disk(error))
        self.error.set_clim(0, max(float(error.max()), 1e-12))
        verdict = "ok" if construction.succeeded else "FAILED"
        self.right.set_title(f"|error| ≤ {float(error.max()):.2g} ≤ η = {construction.eta:.2g}, "
                             f"width {2 * k} ({verdict} at ε = {eps:.2g})", fontsize=9)
        return self


class LayerView(View):
    """A fixed random 16×16 target with ‖W‖₂ = 1. Left: histogram of ‖block(x) − Wx‖ over 2,000
    inputs on the unit sphere, against η and ε. Right: histogram of the per-weight errors |E±|. Errors
    below 10⁻⁷ or above 10 are counted in the end bins."""

    defaults: ClassVar[dict[str, float]] = {"k": 400, "eps": 0.05, "seed": 0}
    edges = np.linspace(-7, 1, 81)

    def __init__(self, n: int = 16, d: int = 16) -> None:
        super().__init__()
        self.target_matrix = random_target([d, n], seed=1234)[0]
        self.inputs = sample_unit_ball(2000, d, 0, on_sphere_fraction=1.0)
        self.left, self.right = self.figure.subplots(1, 2)
        zeros = np.zeros(len(self.edges) - 1)
        self.measured = self.left.stairs(zeros, self.edges, fill=True, color=COLORS["measured"], alpha=0.8)
        self.eta = self.left.axvline(0, color=COLORS["certificate"], label="log₁₀ η")
        self.eps = self.left.axvline(0, color=COLORS["reference"], linestyle=":", label="log₁₀ ε")
        self.left.set(xlabel="log₁₀ ‖block(x) − Wx‖,  ‖x‖ = 1", ylabel="inputs", xlim=(-7, 1))
        legend = self.left.legend(loc="upper left")
        self.weights = self.right.stairs(zeros, self.edges, fill=True, color=COLORS["pruned"], alpha=0.8)
        self.right.set(xlabel="log₁₀ per-weight error |E±|", xlim=(-7, 1))
        self.title = self.figure.suptitle("", fontsize=10)
        self.redrawn = [self.measured, self.left.yaxis, self.eta, self.eps, *self.left.spines.values(), legend,
                        self.weights, self.right.yaxis, *self.right.spines.values(), self.title]

    def update(self, k: int, eps: float, seed: int = 0) -> LayerView:
        construction = prune_layer(self.target_matrix, k=k, seed=seed, eps=eps)
        error = construction.error(self.inputs)
        per_weight = torch.cat([construction.plus_error, construction.minus_error]).abs().flatten()
        for stairs, axis, values in ((self.measured, self.left, error), (self.weights, self.right, per_weight)):
            counts = _log_histogram(values.numpy(), self.edges)
            stairs.set_data(counts)
            axis.set_ylim(0, counts.max() * 1.1 + 1)
        self.eta.set_xdata([np.log10(construction.eta)] * 2)
        self.eps.set_xdata([np.log10(eps)] * 2)
        self.title.set_text(construction.message)
        return self


def _log_histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of log₁₀ of the non-negative ``values`` over the bins ``edges`` (in log₁₀ units), every value counted.

    Values below 10^edges[0] (0 included) fall in the first bin and values above 10^edges[-1] in the
    last, so the histogram never drops one off its axis.
    """
    with np.errstate(divide="ignore"):
        logs = np.log10(values)
    counts, _ = np.histogram(np.clip(logs, edges[0], edges[-1]), bins=edges)
    return counts


one_weight_figure = OneWeightView.draw
neuron_figure = NeuronView.draw
layer_figure = LayerView.draw


def masks_figure(construction: LayerConstruction) -> Figure:
    """The two masks of a small pruned block: kept weights dark, group boundaries marked."""
    k, d = construction.block.k, construction.block.d
    fig = BookFigure(figsize=(9, 3.2), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
    left.imshow(construction.first_mask.numpy(), aspect="auto", cmap=COLORMAPS["mask"], interpolation="nearest")
    left.set(title="first layer mask (d·k × d)", xlabel="input j", ylabel="hidden unit (j, a)")
    right.imshow(construction.second_mask.numpy(), aspect="auto", cmap=COLORMAPS["mask"], interpolation="nearest")
    right.set(title="second layer mask (n × d·k)", xlabel="hidden unit (j, a)", ylabel="output i")
    left.set_xticks(range(d))
    right.set_yticks(range(construction.block.n))
    for boundary in range(1, d):
        left.axhline(boundary * k - 0.5, color=COLORS["reference"], linewidth=0.8)
        right.axvline(boundary * k - 0.5, color=COLORS["reference"], linewidth=0.8)
    for axis in (left, right):
        axis.grid(False)
    return fig


def pruned_block_diagram(construction: LayerConstruction) -> Figure:
    """Draw a small pruned block as a graph, inputs at the top, the d·k random hidden units in a row,
    outputs at the bottom: every random edge thin and grey, the kept ones bold, coloured by the sign
    of their hidden unit's first-layer weight u (teal for u > 0: the unit computes a multiple of σ(x_j);
    sand for u < 0: of σ(−x_j)), as in the one-weight figure. Used units are circled; a legend says so."""
    first, second = construction.block.first.numpy(), construction.block.second.numpy()
    hidden, d = first.shape
    n = second.shape[0]
    fig = BookFigure(figsize=(7, 3.4), layout="constrained")
    axis = fig.subplots()
    x_in, x_hidden, x_out = (np.linspace(0, 1, m + 2)[1:-1] for m in (d, hidden, n))
    first_mask, second_mask = construction.first_mask.numpy(), construction.second_mask.numpy()
    own_input = np.arange(hidden) // construction.block.k
    side = np.where(first[np.arange(hidden), own_input] > 0, COLORS["positive"], COLORS["negative"])
    pruned: list[list[tuple[float, float]]] = []
    kept: list[list[tuple[float, float]]] = []
    kept_colors: list[str] = []
    for unit in range(hidden):
        edges = [((x_in[j], 2.0), bool(first_mask[unit, j])) for j in range(d)]
        edges += [((x_out[i], 0.0), bool(second_mask[i, unit])) for i in range(n)]
        for end, is_kept in edges:
            (kept if is_kept else pruned).append([end, (x_hidden[unit], 1.0)])
            if is_kept:
                kept_colors.append(side[unit])
    axis.add_collection(LineCollection(pruned, colors=COLORS["removed"], linewidths=0.3, alpha=0.7))
    axis.add_collection(LineCollection(kept, colors=kept_colors, linewidths=2))
    used = first_mask.any(axis=1)
    axis.scatter(x_hidden[~used], np.ones(int((~used).sum())), s=2, color=COLORS["removed"], zorder=3)
    background = axis.get_facecolor()  # nodes are filled with the page, so edges stop at their outline
    axis.scatter(x_hidden[used], np.ones(int(used.sum())), s=30, color=background, edgecolor=COLORS["reference"],
                 zorder=3)
    for y, xs, names, va in ((2.0, x_in, [f"$x_{j + 1}$" for j in range(d)], "bottom"),
                             (0.0, x_out, [f"$\\approx (Wx)_{i + 1}$" for i in range(n)], "top")):
        axis.scatter(xs, np.full_like(xs, y), s=60, color=background, edgecolor=COLORS["reference"], zorder=3)
        for x, name in zip(xs, names, strict=True):
            axis.text(x, y + (0.1 if va == "bottom" else -0.1), name, ha="center", va=va)
    for y, label in ((2.0, "input"), (1.0, f"{hidden} random\nhidden units"), (0.0, "output")):
        axis.text(-0.03, y, label, ha="right", va="center")
    handles = [Line2D([], [], color=COLORS["positive"], linewidth=2, label="kept, unit with $u > 0$"),
               Line2D([], [], color=COLORS["negative"], linewidth=2, label="kept, unit with $u < 0$"),
               Line2D([], [], color=COLORS["removed"], linewidth=1, label="pruned")]
    axis.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3)
    axis.set_axis_off()
    axis.set_xlim(-0.2, 1.0)
    axis.set_ylim(-0.3, 2.3)
    return fig


class DeepView(View):
    """A pruned random network for a trained digits target: per-layer η (left) and, on a log scale,
    the certificate, the largest error measured on the test inputs, and ε (right); the title gives the
    test accuracy of target and pruned network."""

    defaults: ClassVar[dict[str, float]] = {"k": 400, "eps": 0.1, "seed": 0}

    def __init__(self, target: DigitsTarget | None = None) -> None:
        super().__init__()
        self.target = target if target is not None else digits_target()
        self.target_outputs = forward_target(self.target.weights, self.target.x_test)
        self.target_accuracy = prediction_accuracy(self.target_outputs, self.target.y_test)
        self.left, self.right = self.figure.subplots(1, 2)
        depth = len(self.target.weights)
        self.eta_bars = self.left.bar([f"$\\eta_{i + 1}$" for i in range(depth)], [1.0] * depth, color=COLORS["certificate"])
        self.left.set(yscale="log", ylim=(1e-4, 10), title="per-layer η")
        labels = ["certificate", "measured\n(test set)", "ε"]
        colors = [COLORS["certificate"], COLORS["measured"], COLORS["reference"]]
        self.error_bars = self.right.bar(labels, [1.0] * 3, color=colors)
        self.right.set(yscale="log", ylim=(1e-5, 10))
        self.title = self.figure.suptitle("", fontsize=10)
        self.redrawn = [*self.eta_bars, *self.left.spines.values(), *self.error_bars, *self.right.spines.values(),
                        self.title]

    def update(self, k: int, eps: float, seed: int = 0) -> DeepView:
        construction = prune_random_network(self.target.weights, eps, seed=seed, k=k)
        pruned = construction.module(compact=True)
        with torch.no_grad():
            outputs = pruned(self.target.x_test)
        measured = float((outputs - self.target_outputs).norm(dim=1).max())
        pruned_accuracy = prediction_accuracy(outputs, self.target.y_test)
        for bar, value in zip(self.eta_bars, construction.etas, strict=True):
            bar.set_height(value)
        for bar, value in zip(self.error_bars, (construction.certificate, measured, eps), strict=True):
            bar.set_height(value)
        verdict = "certified" if construction.succeeded else "FAILED (not certified)"
        self.title.set_text(f"k = {k} ({construction.random_parameters:,} random weights): {verdict} at ε = {eps:.2g}; "
                            f"test accuracy target {self.target_accuracy:.3f}, pruned {pruned_accuracy:.3f}")
        return self


deep_figure = DeepView.draw


class NeuronPruningView(View):
    """One ReLU neuron on the unit sphere of R^d, from a random net whose first hidden layer has ``hidden_width``
    units: the best any neuron pruning can do (random-features lower bound) against weight pruning
    (pair and SubsetSum), as relative L2 errors on a log scale. The axis stops at the floor 10⁻⁸, which no
    value in the widget's range reaches; the title would name a value below it."""

    defaults: ClassVar[dict[str, float]] = {"d": 8, "hidden_width": 512, "seed": 0}
    floor = 1e-8

    def __init__(self) -> None:
        super().__init__()
        self.axis = self.figure.subplots(1, 1)
        labels = ["neuron pruning\n(lower bound)", "weight pruning\n(pair)", "weight pruning\n(SubsetSum)"]
        self.bars = self.axis.bar(labels, [1.0] * 3, color=[COLORS["lower_bound"], COLORS["pair"], COLORS["subset_sum"]])
        self.axis.set(yscale="log", ylabel="relative L2 error", ylim=(self.floor, 2))
        mark_floor(self.axis, self.floor)
        self.title = self.figure.suptitle("", fontsize=10)
        self.redrawn = [*self.bars, *self.axis.spines.values(), self.title]

    def update(self, d: int, hidden_width: int, seed: int = 0) -> NeuronPruningView:
        row = compare_pruning(d, max(hidden_width, d), seed=seed, samples=2000)
        for bar, value in zip(self.bars, (row.neuron, row.pair, row.subset_sum), strict=True):
            bar.set_height(max(value, self.floor))
        below = [name for name, value in (("neuron", row.neuron), ("pair", row.pair), ("SubsetSum", row.subset_sum))
                 if value < self.floor]
        floor_note = f" ({', '.join(below)} below the floor 10⁻⁸, not drawn)" if below else ""
        self.title.set_text(f"σ(⟨w*, x⟩) on the sphere in d = {d}, hidden width {row.hidden_width}: "
                            f"neuron ≥ {row.neuron:.2g}, pair {row.pair:.2g}, SubsetSum {row.subset_sum:.2g}{floor_note}")
        return self


class SubsetSumView(View):
    """A fixed random 16×16 target (‖W‖₂ = 1) from the same random block, pruned by the pair method and by
    SubsetSum: histograms of the per-weight errors |E±| (log scale), with η for each against ε. Errors
    below 10⁻⁹ or above 1 are counted in the end bins."""

    defaults: ClassVar[dict[str, float]] = {"k": 48, "eps": 0.01, "seed": 0}
    edges = np.linspace(-9, 0, 91)

    def __init__(self, n: int = 16, d: int = 16) -> None:
        super().__init__()
        self.target_matrix = random_target([d, n], seed=1234)[0]
        self.axis = self.figure.subplots(1, 1)
        zeros = np.zeros(len(self.edges) - 1)
        self.stairs = {m: self.axis.stairs(zeros, self.edges, fill=True, alpha=0.7, color=c, label=m)
                       for m, c in (("pair", COLORS["pair"]), ("subset_sum", COLORS["subset_sum"]))}
        self.eps = self.axis.axvline(0, color=COLORS["reference"], linestyle=":", label="log₁₀ ε")
        self.axis.set(xlabel="log₁₀ per-weight error |E±|", ylabel="weights", xlim=(-9, 0))
        legend = self.axis.legend(loc="upper left")
        self.title = self.figure.suptitle("", fontsize=10)
        self.redrawn = [*self.stairs.values(), self.axis.yaxis, self.eps, *self.axis.spines.values(), legend, self.title]

    def update(self, k: int, eps: float, seed: int = 0) -> SubsetSumView:
        verdicts, top = {}, 1
        for method, stairs in self.stairs.items():
            construction = prune_layer(self.target_matrix, k=k, seed=seed, method=method, eps=eps)
            errors = torch.cat([construction.plus_error, construction.minus_error]).abs().flatten()
            counts = _log_histogram(errors.numpy(), self.edges)
            stairs.set_data(counts)
            top = max(top, counts.max())
            verdicts[method] = f"{construction.eta:.2g} ({'ok' if construction.succeeded else 'FAILED'})"
        self.axis.set_ylim(0, top * 1.1)
        self.eps.set_xdata([np.log10(eps)] * 2)
        self.title.set_text(f"k = {k} units per input, ε = {eps:.2g}: η pair {verdicts['pair']}, "
                            f"η SubsetSum {verdicts['subset_sum']}")
        return self


neuron_pruning_figure = NeuronPruningView.draw
subset_sum_figure = SubsetSumView.draw
