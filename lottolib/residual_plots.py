"""The residual chapter's figure and widget: how the certificate and the measured error grow block by block.

:class:`ResidualView` follows the pattern of :mod:`lottolib.plots` (a figure drawn once, ``update``
changes the data, ``draw`` with defaults is the widget's static twin); it builds a
``matplotlib.figure.Figure`` directly, without pyplot. :func:`residual_explorer` puts sliders on it.

Introduced in chapter 11, *Residual networks*.
"""

from __future__ import annotations

from typing import ClassVar

import ipywidgets as widgets
import numpy as np
import torch

from .plots import View
from .residual import prune_residual_network, random_residual_target
from .style import COLORS
from .verify import sample_unit_ball
from .widgets import SLIDER_LAYOUT, SLIDER_STYLE, Explorer, log_grid

__all__ = ["ResidualView", "residual_explorer", "residual_figure"]

STREAM = 8
"""Width d of the widget's residual stream (and hidden units per block)."""

MAX_BLOCKS = 6
MAX_K = 96


class ResidualView(View):
    """A random residual target on R⁸ (8 hidden units per block, ‖W₁‖₂ = ‖W₂‖₂ = ``strength``, no read-out)
    and its pruned random twin (SubsetSum, ``k`` units per input, random network from ``seed``).

    Left, per block i (log scale): the certificate Δ_i, the largest stream error ‖z̃_i − z_i‖₂ over
    2,000 inputs on the unit sphere, and the target's reach R_i = (1 + strength²)^i. Right: η of every
    pruned pair (W₁ filled, W₂ hatched, both in the certificate's colour), every one on the axis. The title
    gives the certificate's verdict at ``eps``.
    """

    defaults: ClassVar[dict[str, float]] = {"k": 48, "blocks": 3, "strength": 0.8, "eps": 0.05, "seed": 0}

    def __init__(self) -> None:
        super().__init__()
        self.figure.set_size_inches(8.5, 3.2)
        self.figure.subplots_adjust(left=0.08, right=0.97, bottom=0.15, top=0.76, wspace=0.3)
        self.left, self.right = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        self.inputs = sample_unit_ball(2000, STREAM, 0, on_sphere_fraction=1.0)
        styles = {"certificate Δᵢ": (COLORS["certificate"], "-", "o"), "measured ‖z̃ᵢ − zᵢ‖": (COLORS["measured"], "-", "s"),
                  "reach Rᵢ of the target": (COLORS["target"], ":", "")}
        self.lines = {label: self.left.plot([], [], color=color, linestyle=line, marker=marker, label=label)[0]
                      for label, (color, line, marker) in styles.items()}
        self.eps_line = self.left.axhline(1.0, color=COLORS["reference"], linestyle="--", label="ε")
        self.left.set(yscale="log", xlabel="block i", ylabel="error / norm")
        self.figure.legend(loc="upper center", bbox_to_anchor=(0.5, 0.91), ncol=4, fontsize=8)
        self.title = self.figure.suptitle("", fontsize=10)

    def update(self, k: int, blocks: int, strength: float,
               eps: float = 0.05, seed: int = 0) -> ResidualView:
        """Prune a fresh random residual network for these values and redraw; returns self."""
        target = random_residual_target(STREAM, STREAM, int(blocks), seed=1234, strength=float(strength))
        construction = prune_residual_network(target, k=int(k), seed=int(seed), method="subset_sum", eps=float(eps))
        pruned, exact = self.inputs, self.inputs
        measured = []
        with torch.no_grad():
            for block, (first, second) in zip(construction.module(compact=True), target.blocks, strict=True):
                pruned = block(pruned)
                exact = exact + torch.relu(exact @ first.T) @ second.T
                measured.append(float((pruned - exact).norm(dim=1).max()))
        index = np.arange(1, int(blocks) + 1)
        values = {"certificate Δᵢ": construction.gaps, "measured ‖z̃ᵢ − zᵢ‖": measured,
                  "reach Rᵢ of the target": target.reaches()[1:]}
        for label, line in self.lines.items():
            line.set_data(index, values[label])
        self.eps_line.set_ydata([eps, eps])
        every = [v for series in values.values() for v in series] + [eps]
        self.left.set_xlim(0.7, int(blocks) + 0.3)
        self.left.set_xticks(index)
        self.left.set_ylim(_smallest_positive(every) / 3, max(every) * 3)
        self.right.clear()
        for j, (name, fill) in enumerate((("W₁", COLORS["certificate"]), ("W₂", "none"))):  # W₂: hatched outline
            self.right.bar(index + (j - 0.5) * 0.4, construction.etas[j::2], width=0.4, facecolor=fill,
                           edgecolor=COLORS["certificate"], hatch="" if j == 0 else "////", label=name)
        self.right.set(yscale="log", ylabel="η of each pruned pair",
                       ylim=(_smallest_positive(construction.etas) / 3, max(*construction.etas, 0.7) * 3),
                       xlabel="block i", xticks=index)
        self.right.legend(loc="upper right", fontsize=8)
        verdict = "certified" if construction.succeeded else "NOT certified"
        self.title.set_text(f"k = {int(k)}, {int(blocks)} blocks, ‖W₁‖‖W₂‖ = {strength ** 2:.2f}: certificate "
                            f"{construction.certificate:.2g} ({verdict} at ε = {eps:.2g}), measured {measured[-1]:.2g}")
        return self


def _smallest_positive(values: list[float]) -> float:
    """The smallest positive value (for the bottom of a log axis that shows them all); 1e-12 if none is positive."""
    return min((value for value in values if value > 0), default=1e-12)


residual_figure = ResidualView.draw


def residual_explorer() -> Explorer:
    """Sliders for k, the number of blocks and the branch strength over :class:`ResidualView`."""
    def slider(kind: type, **options: object) -> widgets.ValueWidget:
        return kind(continuous_update=False, layout=widgets.Layout(**SLIDER_LAYOUT), style=SLIDER_STYLE, **options)

    note = (f"k moves over a log-spaced grid and is capped at {MAX_K} units per input, the blocks at {MAX_BLOCKS} "
            f"(at most {2 * MAX_BLOCKS * 2 * STREAM * STREAM * MAX_K:,} random weights); ‖W₁‖₂ = ‖W₂‖₂ ≤ 1 keeps "
            "every entry in [-1, 1]; ε = 0.05.")
    return Explorer(
        ResidualView(), note,
        k=slider(widgets.SelectionSlider, options=[(f"{k:,}", k) for k in log_grid(1, MAX_K, include=[48])],
                 value=48, description="k"),
        blocks=slider(widgets.IntSlider, value=3, min=1, max=MAX_BLOCKS, description="blocks"),
        strength=slider(widgets.FloatSlider, value=0.8, min=0.05, max=1.0, step=0.05, description="‖W₁‖₂ = ‖W₂‖₂"),
    )
