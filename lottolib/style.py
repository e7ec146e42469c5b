"""One matplotlib style for every figure of the book: a palette of named roles, and a check that no figure hides data.

Every colour in the book's figures comes from a *role*: what a mark means, not how it looks. A
role has one colour, and a colour has one role, in every chapter: vermillion is always the
library's certificate, blue always an error that was measured. Where a figure compares the two
pruning methods, each method's series takes the method's role (``pair``, ``subset_sum``);
elsewhere a series takes the role of its kind (``measured``, ``certificate``, ``proved``,
``lower_bound``). Colour maps have roles too
(:data:`COLORMAPS`). :func:`shades` gives lighter versions of one role's colour for a series of
the same quantity (for example the measured error at four target weights). The colours come from
Paul Tol's and Okabe and Ito's colour-blind-safe sets, chosen so that any two roles that share a
figure stay apart under simulated protanopia, deuteranopia and tritanopia (``tests/test_style.py``
checks it).

:func:`check_visible` raises if a figure draws a point, a bar or a line outside its axes' limits
(on a log axis, a value ≤ 0 is outside too), unless the axes have a floor (:func:`mark_floor`) that
the figure's caption states. In a notebook, :func:`use_book_style` makes every displayed figure go
through :func:`hidden_data`, which warns (:class:`HiddenDataWarning`) under the figure when it
hides data; the book's executed notebooks hold no such warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_hex, to_rgb
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

__all__ = [
    "COLORMAPS",
    "COLORS",
    "ROLES",
    "HiddenDataError",
    "HiddenDataWarning",
    "Role",
    "check_visible",
    "hidden_data",
    "mark_floor",
    "readable",
    "shades",
    "use_book_style",
]


@dataclass(frozen=True)
class Role:
    """What a colour means in the book's figures: its colour (``#rrggbb``), what the prose calls it, its meaning."""

    color: str
    called: str
    meaning: str


ROLES: Mapping[str, Role] = {
    "target": Role("#222222", "black", "the target network, the truth: w·x, the target's reach Rᵢ"),
    "pruned": Role("#332288", "indigo", "the pruned network: its output, its kept weights and their errors |E±|, "
                                        "its accuracy"),
    "measured": Role("#0072B2", "blue", "an error measured on samples, on the test set or by an adversary; "
                                        "a width found to work in practice"),
    "proved": Role("#AA3377", "purple", "a bound proved in advance by a theorem: the proved width"),
    "certificate": Role("#D55E00", "vermillion", "the library's certificate, by recursion: η per layer or pair, "
                                                 "Δᵢ per block"),
    "first_form": Role("#B2182B", "dark red", "the recursion in its first form, ηᵢ = ‖[E⁺ᵢ | E⁻ᵢ]‖₂ (chapter 12)"),
    "tight": Role("#E69F00", "orange", "the tight certificate, by relaxation (chapter 12)"),
    "pair": Role("#228833", "green", "the pair method"),
    "subset_sum": Role("#56B4E9", "sky blue", "SubsetSum"),
    "lower_bound": Role("#EE6677", "rose", "a lower bound that no pruning of its kind beats"),
    "positive": Role("#44AA99", "teal", "a hidden unit with first-layer weight u > 0 (it computes a multiple of σ(x))"),
    "negative": Role("#DDCC77", "sand", "a hidden unit with first-layer weight u < 0 (it computes a multiple of σ(−x))"),
    "reference": Role("#666666", "grey", "a level to compare with, not data: ε and the band w ± ε, a slope, "
                                         "the ratio 1, group boundaries, outlines"),
    "removed": Role("#D0D0D0", "light grey", "random weights and units pruned away"),
}
"""The book's colour roles, name → :class:`Role`. Use colours only through :data:`COLORS` (or :func:`shades`)."""


class _Palette(dict):
    """A dict of role → colour (or colour map) whose missing keys name the roles there are."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        super().__init__(entries)
        self.kind = kind

    def __missing__(self, key: str) -> str:
        raise KeyError(f"no {self.kind} role {key!r}; the roles are {', '.join(self)} (lottolib.style)")


COLORS: Mapping[str, str] = _Palette("colour", {name: role.color for name, role in ROLES.items()})
"""Role → colour (``#rrggbb``), the way figures use :data:`ROLES`, as in ``color=COLORS["measured"]``."""

COLORMAPS: Mapping[str, str] = _Palette("colour map", {
    "value": "viridis",   # a function's value over the input space (the target neuron on the disk)
    "error": "magma",     # an error's magnitude over the input space
    "signed": "BrBG",     # signed weights, symmetric about 0: blue-green positive, brown negative, as the
                          # roles positive (teal) and negative (sand) of a hidden unit's weight u
    "mask": "Greys",      # a pruning mask: kept weights dark
})
"""Role → matplotlib colour map, for images, as in ``cmap=COLORMAPS["error"]``."""


def shades(role: str, n: int, darkest: float = 0.45) -> list[str]:
    """``n`` shades of one role's colour, from a mix with ``darkest`` black to the colour itself.

    For a series of the same quantity at several parameter values: one meaning, one hue. Shades go
    darker, not lighter: the lighter blues, greens and reds are other roles' colours.

    Raises
    ------
    KeyError
        If ``role`` is not in :data:`ROLES`.
    ValueError
        If ``n < 1`` or ``darkest`` is outside [0, 1).
    """
    if n < 1 or not 0 <= darkest < 1:
        raise ValueError(f"shades needs n >= 1 and 0 <= darkest < 1, got n={n}, darkest={darkest}")
    red, green, blue = to_rgb(COLORS[role])
    scales = (1 - darkest * (n - 1 - i) / max(n - 1, 1) for i in range(n))
    return [to_hex((red * scale, green * scale, blue * scale)) for scale in scales]


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


class HiddenDataError(ValueError):
    """A figure draws data outside its axes' limits."""


class HiddenDataWarning(UserWarning):
    """A figure shown in a notebook draws data outside its axes' limits."""


_FLOORS: WeakKeyDictionary[Axes, float] = WeakKeyDictionary()


def mark_floor(axis: Axes, floor: float) -> None:
    """Give ``axis`` a floor: its y axis starts at ``floor`` and values below it are not drawn.

    :func:`check_visible` then accepts values at or below ``floor`` on these axes (a bar cut to the
    floor, a point under it), and nothing else off the axes. The figure's caption (or, in a widget,
    its title) must say that values below the floor are not drawn, and which they are.
    """
    if not floor > 0 and axis.get_yscale() == "log":
        raise ValueError(f"a floor on a log axis must be > 0, got {floor}")
    axis.set_ylim(bottom=floor)
    _FLOORS[axis] = floor


def _data_dims(artist: Any, axis: Axes, transform: Any = None) -> tuple[bool, bool]:
    """Whether the artist's x and y coordinates are data coordinates of ``axis``."""
    transform = artist.get_transform() if transform is None else transform
    return transform.contains_branch_seperately(axis.transData)


def _outside(values: np.ndarray, limits: tuple[float, float], log: bool, floor: float | None = None,
             bar_ends: bool = False) -> np.ndarray:
    """True where a drawn value lies outside the limits: beyond them, or ≤ 0 on a log axis (NaN is never drawn).

    Values at or below ``floor`` count as inside (the axes' floor, which the caption states). For
    ``bar_ends`` (the far ends of bars that rise from below the axes) the lowest 1% of the axis is
    outside too: such a bar has no visible length, or a sliver.
    """
    values = np.asarray(values, dtype=float).ravel()
    low, high = sorted(float(limit) for limit in limits)
    finite = ~np.isnan(values)
    outside = np.zeros(values.shape, dtype=bool)
    if log:
        nonpositive = finite & (values <= 0)
        outside |= nonpositive
        finite &= ~nonpositive
        scaled, low, high = np.log10(np.where(finite, values, 1.0)), np.log10(low), np.log10(high)
    else:
        scaled = np.where(finite, values, 0.0)
    slack = 1e-9 * max(high - low, 1e-300)
    below = scaled < low + 0.01 * (high - low) if bar_ends else scaled < low - slack
    outside |= finite & (below | (scaled > high + slack))
    if floor is not None:
        outside &= ~(finite & (values <= floor))
    return outside


def _describe(artist: Any) -> str:
    label = artist.get_label() if hasattr(artist, "get_label") else ""
    return repr(label) if label and not label.startswith("_") else type(artist).__name__


def _drawn_points(axis: Axes) -> Iterator[tuple[Any, np.ndarray | None, np.ndarray | None, str]]:
    """Every data mark of ``axis`` as (artist, x values or None, y values or None, which coordinate is a bar's end).

    None stands for a coordinate that is not in data space (axhline's x). Bars give their centre
    and their far end ("x" or "y" for the coordinate of the end, "" for other marks), stairs their
    edges and values. A bar's end is marked only when the bar rises from below the axes (from 0 on a
    log axis): then an end at the lower limit leaves nothing visible. Images, text and other
    patches are not data marks here.
    """
    bars = set()
    for container in axis.containers:
        if isinstance(container, BarContainer):
            vertical = getattr(container, "orientation", "vertical") != "horizontal"
            for bar in container.patches:
                bars.add(bar)
                x, y, width, height = bar.get_x(), bar.get_y(), bar.get_width(), bar.get_height()
                centre, base, end = (x + width / 2, y, y + height) if vertical else (y + height / 2, x, x + width)
                limits, log = (axis.get_ylim(), axis.get_yscale() == "log") if vertical else \
                    (axis.get_xlim(), axis.get_xscale() == "log")
                from_below = base < min(limits) or (log and base <= 0)  # then a bar ending at the limit is not seen
                if vertical:
                    yield bar, np.array([centre]), np.array([end]), "y" if from_below else ""
                else:
                    yield bar, np.array([end]), np.array([centre]), "x" if from_below else ""
    for line in axis.lines:
        xdata, ydata = (np.asarray(data, dtype=float) for data in line.get_data(orig=False))
        in_x, in_y = _data_dims(line, axis)
        yield line, xdata if in_x else None, ydata if in_y else None, ""
    for collection in axis.collections:
        if isinstance(collection, PathCollection):
            offsets = np.asarray(collection.get_offsets(), dtype=float).reshape(-1, 2)
            in_x, in_y = _data_dims(collection, axis, collection.get_offset_transform())
            yield collection, offsets[:, 0] if in_x else None, offsets[:, 1] if in_y else None, ""
        elif isinstance(collection, LineCollection):
            segments = [np.asarray(s, dtype=float).reshape(-1, 2) for s in collection.get_segments()]
            vertices = np.concatenate(segments) if segments else np.zeros((0, 2))
            in_x, in_y = _data_dims(collection, axis)
            yield collection, vertices[:, 0] if in_x else None, vertices[:, 1] if in_y else None, ""
    for patch in axis.patches:
        if isinstance(patch, StepPatch) and patch not in bars:
            values, edges, _ = patch.get_data()  # (values, edges, baseline)
            values, edges = np.asarray(values, dtype=np.float64), np.asarray(edges, dtype=np.float64)
            if patch.orientation == "vertical":
                yield patch, edges, values, ""
            else:
                yield patch, values, edges, ""


def hidden_data(figure: Figure) -> list[str]:
    """What ``figure`` draws outside its axes' limits, one line per artist (empty if nothing).

    Checked: lines (every vertex, markers or not), scatter points, line collections (error bars),
    bars (centre and far end; a bar that ends in the bottom 1% of a log axis is hidden) and stairs
    (edges and values). On a log axis a value ≤ 0 is hidden. NaN is never drawn and is not
    counted: leave a value out on purpose with NaN, and say so in the caption. On axes with a floor
    (:func:`mark_floor`), values below the floor are accepted.
    """
    problems = []
    for index, axis in enumerate(figure.axes):
        if not axis.get_visible():
            continue
        name = f"axes {index + 1}" + (f" ({axis.get_title()!r})" if axis.get_title() else "")
        floor = _FLOORS.get(axis)
        for artist, xs, ys, bar_end in _drawn_points(axis):
            if not artist.get_visible():
                continue
            for label, values, limits, log, below in (
                    ("x", xs, axis.get_xlim(), axis.get_xscale() == "log", None),
                    ("y", ys, axis.get_ylim(), axis.get_yscale() == "log", floor)):
                if values is None or not len(values):
                    continue
                outside = _outside(values, limits, log, below, bar_ends=bar_end == label)
                if outside.any():
                    shown = ", ".join(f"{v:.3g}" for v in np.asarray(values, dtype=float).ravel()[outside][:5])
                    problems.append(f"{name}: {int(outside.sum())} of {len(outside)} {label} values of "
                                    f"{_describe(artist)} lie outside {label} limits "
                                    f"({min(limits):.3g}, {max(limits):.3g}): {shown}")
    return problems


def check_visible(figure: Figure) -> Figure:
    """Return ``figure`` if every data mark lies within its axes' limits; raise otherwise.

    Raises
    ------
    HiddenDataError
        Listing, per axes and artist, the values off the axes (see :func:`hidden_data`): widen
        the limits, or give the axes a floor (:func:`mark_floor`) that the caption states.
    """
    problems = hidden_data(figure)
    if problems:
        raise HiddenDataError("the figure hides data:\n  " + "\n  ".join(problems)
                              + "\nWiden the limits, or mark a floor (lottolib.style.mark_floor) that the caption states.")
    return figure


def use_book_style() -> None:
    """Set the book's rcParams (small, legible figures) and sharp, checked inline figures.

    In a notebook (under IPython) figures are also stored as PNG at twice their resolution ("retina"):
    the image keeps its displayed size in the output's metadata, so the book shows it at that size
    and a high-density screen gets every pixel. nbval does not compare PNG data, so re-run notebooks
    still compare equal to the stored ones. Every figure displayed there is also checked by
    :func:`hidden_data`: data off its axes gives a :class:`HiddenDataWarning` under the figure.
    Outside IPython only the rcParams change.

    A figure drawn without a colour gets shades of the ``measured`` role: what a reader plots is
    usually something measured; the book's figures always name a role.
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
        "axes.prop_cycle": cycler(color=shades("measured", 4)),
        "legend.frameon": False,
    })
    _sharp_checked_inline_figures()


def _warn_if_hidden(figure: Figure) -> None:
    problems = hidden_data(figure)
    if problems:
        with warnings.catch_warnings():
            warnings.simplefilter("always", HiddenDataWarning)
            warnings.warn_explicit("the figure hides data:\n  " + "\n  ".join(problems), HiddenDataWarning,
                                   "lottolib.style.hidden_data", 0)


def _sharp_checked_inline_figures() -> None:
    """Under IPython, show (and so store) figures as PNG at twice the resolution, checked for hidden data."""
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: a script, nothing is displayed inline
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")
    formatter = shell.display_formatter.formatters["image/png"]
    printer = formatter.lookup_by_type(Figure)

    def checked_printer(figure: Figure, *args: Any, **kwargs: Any) -> Any:
        _warn_if_hidden(figure)
        return printer(figure, *args, **kwargs)

    formatter.for_type(Figure, checked_printer)


def _palette_table() -> str:
    """The roles as a reStructuredText table, for the module's documentation (the API page)."""
    rows = [f"   * - ``{name}``\n     - ``{role.color}`` ({role.called})\n     - {role.meaning}"
            for name, role in ROLES.items()]
    maps = [f"   * - ``{name}``\n     - ``{cmap}``" for name, cmap in COLORMAPS.items()]
    return ("\n\n.. list-table:: Colour roles (:data:`COLORS`)\n   :header-rows: 1\n\n"
            "   * - role\n     - colour\n     - meaning\n" + "\n".join(rows)
            + "\n\n.. list-table:: Colour map roles (:data:`COLORMAPS`)\n   :header-rows: 1\n\n"
            "   * - role\n     - colour map\n" + "\n".join(maps) + "\n")


__doc__ = (__doc__ or "") + _palette_table()
