"""One matplotlib style for every figure of the book."""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

__all__ = ["COLORS", "use_book_style"]

COLORS = {"target": "#222222", "pruned": "#d1495b", "plus": "#00798c", "minus": "#edae49", "bound": "#66a182"}


def use_book_style() -> None:
    """Set the book's rcParams: small, legible, high-resolution figures with the book's colors."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 3.2),
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.prop_cycle": cycler(color=[*list(COLORS.values())[1:], "#30638e", "#8d96a3"]),
        "legend.frameon": False,
    })
