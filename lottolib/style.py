"""One matplotlib style for every figure of the book."""

from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

__all__ = ["COLORS", "readable", "use_book_style"]

COLORS = {"target": "#222222", "pruned": "#d1495b", "plus": "#00798c", "minus": "#edae49", "bound": "#66a182"}


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable(x: float, significant: int = 2) -> str:
    """``x`` to ``significant`` digits as a reader writes it: 0.00039, 1.2, 3400, or 2.2 × 10⁻⁵.

    Trailing zeros after the decimal point are dropped (0.5, not 0.50).

    Numbers from 10⁻⁴ up to 10⁶ (and 0) are written out in full; others as m × 10ᵉ with a
    Unicode exponent, never as ``2.2e-05``. For numbers that the prose glues in.
    """
    if x == 0:
        return "0"
    rounded = f"{x:.{significant - 1}e}"
    mantissa, exponent = rounded.split("e")
    if 1e-4 <= abs(float(rounded)) < 1e6:
        written = f"{float(rounded):.{max(0, significant - 1 - int(exponent))}f}"
        return written.rstrip("0").rstrip(".") if "." in written else written
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def use_book_style() -> None:
    """Set the book's rcParams (small, legible figures with the book's colors) and sharp inline figures.

    In a notebook (under IPython) figures are also stored as PNG at twice their resolution ("retina"):
    the image keeps its displayed size in the output's metadata, so the book shows it at that size
    and a high-density screen gets every pixel. nbval does not compare PNG data, so re-run notebooks
    still compare equal to the stored ones. Outside IPython only the rcParams change.
    """
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
    _sharp_inline_figures()


def _sharp_inline_figures() -> None:
    """Under IPython, show (and so store) figures as PNG at twice the resolution, at the same displayed size."""
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: a script, nothing is displayed inline
        return
    if get_ipython() is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")
