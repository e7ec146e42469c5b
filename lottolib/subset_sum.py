"""Logarithmic width: each weight is the best *subset sum* of random products (Pensia et al., 2020).

The pair method keeps one unit per side; here each side keeps any subset of the units of
its sign. Unit a with u_a > 0 contributes (u_a v_a)·x on x ≥ 0 and nothing on x < 0, so a
subset S⁺ of positive units gives (Σ_{a∈S⁺} u_a v_a)·x on x ≥ 0; likewise a subset S⁻ of
negative units on x < 0. The per-side errors e^± = Σ_{S^±} u_a v_a − w enter the layer's
exact error W x + E⁺ σ(x) − E⁻ σ(−x) just as in the pair method, so η and the network
certificate are unchanged in form.

With m units per side the 2^m subset sums of products are spread over an interval of
length O(√m) and, by Lueker's theorem, ε-cover [-1, 1] once m = O(log 1/ε). The best subset
is found *exactly* by meet in the middle: the 2^{⌊m/2⌋} sums of one half sorted, the
2^{⌈m/2⌉} sums of the other half enumerated in blocks of ``LOW_BLOCK``, and a binary
search per sum. Cost per weight O(2^{m/2}·m), memory O(2^{m/2}).

A side with more than :data:`~lottolib.subset_sum.MAX_SIDE_CANDIDATES` units searches that many of them: the
window of consecutive units, in the sorted order of the side's products, around which the
most subset sums are expected near w: small products of both signs for
a small |w|, larger ones of the sign of w for a large |w|. The chosen subset is the exact best
among the window's subsets. With a ``tolerance``, the search starts at ``FIRST_STAGE``
units and grows the window only for weights whose error is still above it.

Introduced in chapter 9, *Logarithmic width with SubsetSum*.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

__all__ = [
    "MAX_SEARCH_LIMIT",
    "MAX_SIDE_CANDIDATES",
    "SubsetChoice",
    "choose_subsets",
    "eta_floor",
    "floor_note",
    "layer_tolerance",
    "searched_units",
    "subset_bits",
    "values_per_weight",
]

MAX_SIDE_CANDIDATES = 20
"""At most this many units of each sign are searched per weight, by default (2^10 subset sums per half).

Sides with at most this many units are searched completely. The exact search over m units
costs about 2^{m/2} (a sort and a binary search per weight); 20 certifies η ≤ 10⁻⁵ on a 16×16
target (see :func:`~lottolib.subset_sum.eta_floor`). ``choose_subsets(..., max_units=...)`` searches more or fewer.
"""

MAX_SEARCH_LIMIT = 40
"""The largest ``max_units`` accepted: 2^20 sorted sums (8 MB) per weight and half."""

FIRST_STAGE = 16
"""With a tolerance, the units searched first (the cap before it was lifted)."""

STAGE_STEP = 4
"""With a tolerance, the units a window grows by per stage (16 times more subsets)."""

LOW_BLOCK = 1 << 12
"""Subsets of the enumerated half handled at once by the meet in the middle (bounds memory)."""

SUMS_PER_PASS = 1 << 17
"""Rows searched at once: about this many sums of the sorted half (1 MB), so that the large
temporaries have the same few sizes pass after pass and the allocator reuses their memory."""

BUCKET = 4
"""Rows are searched in groups whose widths are multiples of this (fewer, larger tensor operations)."""

PARALLEL_ROWS = 64
"""With more weights than this in a call and torch using several threads, the two sides (and,
beyond two threads, parts of the rows) are searched in parallel jobs (see :func:`_run`)."""


@dataclass(frozen=True)
class SubsetChoice:
    """The kept units and the signed per-side errors for a batch of target weights.

    ``keep`` (..., k) is True for every kept unit (of either sign); ``plus_error`` and
    ``minus_error`` (...) are Σ_{kept, u>0} u_a v_a − w and Σ_{kept, u<0} u_a v_a − w.
    """

    keep: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor


def subset_bits(size: int, dtype: torch.dtype = torch.float64, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Subsets ``start`` … ``stop``−1 (default: all 2^size) of ``size`` items as 0/1 rows: shape
    (stop − start, size), and the row for subset s is the binary expansion of s."""
    codes = torch.arange(start, (1 << size) if stop is None else stop).unsqueeze(1)
    return ((codes >> torch.arange(size)) & 1).to(dtype)


def searched_units(k: int, max_units: int | None = None) -> int:
    """The most units one side of a weight can have searched with k units per input: min(k, cap).

    ``max_units`` defaults to :data:`~lottolib.subset_sum.MAX_SIDE_CANDIDATES`.
    """
    return min(k, MAX_SIDE_CANDIDATES if max_units is None else max_units)


def values_per_weight(k: int, max_units: int | None = None) -> int:
    """Float64 values :func:`~lottolib.choose_subsets` holds at its peak per target weight, for chunk sizing.

    With m = :func:`~lottolib.subset_sum.searched_units` (k): the products, signs, sorted side with its prefix sums,
    window scores and masks (16·k), the sorted half 2^{⌊m/2⌋} with its order (2·2^{⌊m/2⌋}), and
    one block of the other half with its temporaries (8·min(2^{⌈m/2⌉}, ``LOW_BLOCK``)).
    """
    m = searched_units(k, max_units)
    high, low = m // 2, m - m // 2
    return 16 * k + 2 * (1 << high) + 8 * min(1 << low, LOW_BLOCK)


def eta_floor(n: int, d: int, max_units: int | None = None) -> float:
    """About the smallest η SubsetSum reaches at any k for an n×d target layer: an estimate, not a bound.

    With m = ``max_units`` (default :data:`~lottolib.subset_sum.MAX_SIDE_CANDIDATES`) units searched per side, η
    levels off at about 0.1·2^{−m}·(√n + √(2d)) as k grows: the per-weight errors of the best
    subsets of m products scale like 2^{−m}, and η, the spectral norm of the n × 2d matrix
    [E⁺ | E⁻], grows like √n + √(2d) as for a random matrix. The constant 0.1 is measured on
    random 1×1, 4×4 and 16×16 targets with ‖W‖₂ = 1 for m = 16 … 28 and k ≥ 8m (within a
    factor 2; at k ≈ 4m, η is 2–3 times larger). Used to say when a larger k cannot help.
    """
    m = MAX_SIDE_CANDIDATES if max_units is None else max_units
    return 0.1 * 2.0 ** -m * (math.sqrt(n) + math.sqrt(2 * d))


def floor_note(n: int, d: int, max_units: int | None = None) -> str:
    """The sentence a failed SubsetSum layer's message adds when ε is near or below its η floor.

    The floor is :func:`~lottolib.subset_sum.eta_floor` (n, d, max_units).
    """
    m = MAX_SIDE_CANDIDATES if max_units is None else max_units
    return (f"SubsetSum searches at most {m} units per side (max_units); for a {n}x{d} layer its eta floor is "
            f"about {eta_floor(n, d, m):.2g} at any k")


def layer_tolerance(eps: float, n: int, d: int) -> float:
    """A per-weight ``tolerance`` for :func:`~lottolib.choose_subsets` in an n×d layer that needs η ≤ ε.

    It is ε / (2(√n + √(2d))).

    Errors of this size spread over the n × 2d matrix [E⁺ | E⁻] give a spectral norm of about
    ε/2 (a random matrix's √n + √(2d) times their root mean square), so weights searched no
    further than this rarely decide η, while a loose ε stops nearly every search at
    ``FIRST_STAGE`` units. Measured on the LeNet-300-100-shaped target at k = 64: ε = 10⁻³
    certifies 9.1 × 10⁻⁴ in 24 s of one core instead of 6.9 × 10⁻⁴ in 76 s; ε = 0.01 takes 18 s instead
    of 70 s.
    """
    return eps / (2 * (math.sqrt(n) + math.sqrt(2 * d)))


def _all_sums(values: torch.Tensor) -> torch.Tensor:
    """(N, c) → (N, 2^c): column s holds the sum of the values whose bit is set in s, added in
    order of the items (elementwise, so a row's sums never depend on the other rows)."""
    sums = values.new_empty(values.shape[0], 1 << values.shape[1])
    sums[:, 0] = 0.0
    for item in range(values.shape[1]):
        torch.add(sums[:, : 1 << item], values[:, item : item + 1], out=sums[:, 1 << item : 2 << item])
    return sums


def _best_subset(values: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact best subset sum by meet in the middle. values (N, c), w (N,) → keep (N, c) bool, error (N,).

    error = Σ_{kept} values − w, the smallest in magnitude over all 2^c subsets (the empty one
    included; among equal magnitudes the first found). The last ⌊c/2⌋ values form the sorted
    half; the first ⌈c/2⌉ are enumerated in blocks of ``LOW_BLOCK`` subsets.
    """
    count = values.shape[1]
    high = count // 2
    low = count - high
    high_sums, high_order = _all_sums(values[:, low:]).sort(dim=1, stable=True)  # (N, 2^high)
    last = high_sums.shape[1] - 1
    block_bits = min(low, LOW_BLOCK.bit_length() - 1)
    block_sums = _all_sums(values[:, :block_bits])  # the first block_bits items; the rest offset each block
    target = w.unsqueeze(1)
    best_magnitude = torch.full_like(w, torch.inf)
    best_low = torch.zeros(w.shape, dtype=torch.long)
    best_high = torch.zeros(w.shape, dtype=torch.long)
    for block in range(1 << (low - block_bits)):
        offset = w.new_zeros(w.shape[0], 1)
        for bit in range(low - block_bits):
            if block >> bit & 1:
                offset = offset + values[:, block_bits + bit : block_bits + bit + 1]
        low_sums = block_sums + offset  # (N, 2^block_bits)
        above = torch.searchsorted(high_sums, (target - low_sums).contiguous())
        for position in (above.clamp(max=last), (above - 1).clamp(min=0)):
            magnitude, low_index = (low_sums + high_sums.gather(1, position) - target).abs().min(dim=1)
            better = magnitude < best_magnitude
            best_magnitude = torch.where(better, magnitude, best_magnitude)
            best_low = torch.where(better, low_index + (block << block_bits), best_low)
            best_high = torch.where(better, position.gather(1, low_index.unsqueeze(1)).squeeze(1), best_high)
    high_subset = high_order.gather(1, best_high.unsqueeze(1)).squeeze(1)
    codes = torch.cat([best_low.unsqueeze(1), high_subset.unsqueeze(1)], dim=1)
    keep = torch.cat([(codes[:, :1] >> torch.arange(low)) & 1, (codes[:, 1:] >> torch.arange(high)) & 1], dim=1).bool()
    error = (values * keep).sum(dim=1) - w  # recomputed from the kept products, as the network adds them
    return keep, error


@dataclass(frozen=True)
class _SortedSide:
    """One side of a batch of weights, its units sorted by product: the side's ``available`` units
    come first in ``order`` (N, k), with ``values`` (N, k) their products (0 past them) and prefix
    sums (N, k + 1) of the values, their squares and their positive parts."""

    order: torch.Tensor
    available: torch.Tensor
    values: torch.Tensor
    sums: torch.Tensor
    squares: torch.Tensor
    positives: torch.Tensor

    @classmethod
    def of(cls, products: torch.Tensor, on_side: torch.Tensor) -> _SortedSide:
        order = products.masked_fill(~on_side, torch.inf).argsort(dim=1, stable=True)
        available = on_side.sum(dim=1)
        values = products.gather(1, order).masked_fill(torch.arange(products.shape[1]) >= available.unsqueeze(1), 0.0)
        zero = values.new_zeros(values.shape[0], 1)

        def prefix(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([zero, x.cumsum(dim=1)], dim=1)

        return cls(order, available, values, prefix(values), prefix(values.square()), prefix(values.clamp(min=0)))


def _window(side: _SortedSide, rows: torch.Tensor, w: torch.Tensor, count: int,
            inside: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The first position (len(rows),) of the ``count`` consecutive sorted units searched for each row.

    For a set S of units the 2^|S| subset sums have mean μ = Σ_S p/2 and variance σ² = Σ_S p²/4
    and lie in [Σ_S p⁻, Σ_S p⁺], so about 2^|S|·φ((w − μ)/σ)/σ of them fall per unit length near
    w (normal approximation). Among the windows whose sums reach w, the one maximising
    −ln σ − (w − μ)²/(2σ²) is taken; if none reaches w, the one that misses it least. A window
    around the zero crossing of the products holds small products of both signs (fine
    resolution, μ ≈ 0); a larger |w| moves it outward. ``inside`` = (start, size) per row: where
    size > 0, only windows containing that one are allowed (a longer search keeps a shorter one's
    subsets, so its error is never larger).
    """
    starts = torch.arange(side.values.shape[1] - count + 1)
    ends = starts + count

    def window_sum(prefix: torch.Tensor) -> torch.Tensor:
        return prefix[rows][:, ends] - prefix[rows][:, starts]

    mean, variance = window_sum(side.sums) / 2, (window_sum(side.squares) / 4).clamp(min=1e-300)
    high = window_sum(side.positives)
    low = 2 * mean - high
    target = w.unsqueeze(1)
    miss = (low - target).clamp(min=0) + (target - high).clamp(min=0)
    score = -0.5 * variance.log() - (target - mean).square() / (2 * variance)
    score = torch.where(miss > 0, -1e30 * (1 + miss), score)
    allowed = ends <= side.available[rows].unsqueeze(1)
    start, size = (x.unsqueeze(1) for x in inside)
    allowed &= (size == 0) | ((starts <= start) & (ends >= start + size))
    return score.masked_fill(~allowed, -torch.inf).argmax(dim=1)


def _stages(max_units: int, tolerance: float) -> list[int]:
    """Search sizes tried in turn: only ``max_units`` when tolerance is 0, else from
    ``FIRST_STAGE`` up to ``max_units`` in steps of :data:`STAGE_STEP`."""
    if tolerance == 0 or max_units <= FIRST_STAGE:
        return [max_units]
    return [*range(FIRST_STAGE, max_units, STAGE_STEP), max_units]


def _bucket(count: torch.Tensor, stage: int) -> torch.Tensor:
    """Search width for rows whose side searches ``count`` units: rounded up to a multiple of
    :data:`BUCKET`, at most ``stage`` (fewer, padded groups of rows; padding units are 0)."""
    return (((count + BUCKET - 1) // BUCKET) * BUCKET).clamp(max=stage)


def _side(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor, max_units: int, tolerance: float,
          keep_out: torch.Tensor, error: torch.Tensor) -> None:
    """Best subset among at most ``max_units`` units with ``on_side``: (N, k) → ``keep_out`` (N, k)
    or-ed with the kept units, ``error`` (N,) filled with the side's errors.

    Rows are grouped by a search width that depends on their own number of units only, and a
    row short of its group's width is padded with units of product 0 (no new sums), so each
    row's result depends on that row alone: chunking the batch does not change it.
    """
    side = _SortedSide.of(products, on_side)
    rows_total, k = products.shape
    keep = torch.zeros(rows_total, k + 1, dtype=torch.bool)  # column k collects the padding
    torch.neg(w, out=error)  # a side without units keeps the empty subset
    start = torch.zeros(rows_total, dtype=torch.long)
    size = torch.zeros(rows_total, dtype=torch.long)
    for stage in _stages(max_units, tolerance):
        counts = side.available.clamp(max=stage)
        grow = (counts > size) & ((error.abs() > tolerance) | (size == 0))
        widths = _bucket(counts, stage)
        for width in widths[grow].unique().tolist():
            group = (grow & (widths == width)).nonzero(as_tuple=True)[0]
            for rows in group.split(max(1, SUMS_PER_PASS >> (width // 2))):  # equal-sized passes reuse memory
                capped = side.available[rows] > counts[rows]  # more units than searched: choose a window
                first = torch.zeros(len(rows), dtype=torch.long)
                if bool(capped.any()):
                    chosen = rows[capped]
                    first[capped] = _window(side, chosen, w[chosen], width, (start[chosen], size[chosen]))
                positions = first.unsqueeze(1) + torch.arange(width)
                real = positions < (first + counts[rows]).unsqueeze(1)
                positions = positions.clamp(max=k - 1)
                values = side.values[rows].gather(1, positions) * real
                keep_window, error[rows] = _best_subset(values, w[rows])
                units = torch.where(real, side.order[rows].gather(1, positions), k)
                keep[rows] = torch.zeros(len(rows), k + 1, dtype=torch.bool).scatter_(1, units, keep_window & real)
                start[rows], size[rows] = first, counts[rows]
    keep_out |= keep[:, :k]


def choose_subsets(
    products: torch.Tensor,
    first_weights: torch.Tensor,
    w: torch.Tensor,
    *,
    max_units: int | None = None,
    tolerance: float = 0.0,
) -> SubsetChoice:
    """For each target weight, the best subset of units with u > 0 and the best with u < 0.

    Guarantee: the units searched for a side are all of them if it has at most ``max_units`` (with
    ``tolerance`` = 0), else a window of consecutive units in the order of their products (the
    window with the most subset sums expected near w); the side's error is the exact smallest |Σ_S
    u_a v_a − w| over the subsets S of the searched units (S = ∅ allowed: error −w). Vectorised over
    all leading dimensions; each weight's result depends only on its own inputs, so chunking the
    batch does not change it. The caller chunks to bound memory (:func:`~lottolib.subset_sum.values_per_weight` values
    per weight).

    Parameters
    ----------
    products
        (..., k): u_a·v_a for the k units of the weight's input coordinate (float64 for exact errors).
    first_weights
        (..., k), broadcastable to ``products``: u_a; its sign puts unit a on a side (0: on neither).
    w
        (...): the target weights.
    max_units
        Units searched per side, default :data:`~lottolib.subset_sum.MAX_SIDE_CANDIDATES`; from 1 to
        :data:`~lottolib.subset_sum.MAX_SEARCH_LIMIT`.
    tolerance
        A side whose error is at most this stops growing its search (0: always search
        ``max_units`` units, or all of a smaller side's). A layer that needs η ≤ ε can pass
        :func:`~lottolib.subset_sum.layer_tolerance` (ε, n, d) to save time where ε is loose.

    Returns
    -------
    SubsetChoice
        ``keep`` (..., k), and the per-side errors Σ_{kept} u_a v_a − w recomputed from the kept
        products in their dtype, as the network adds them.

    Raises
    ------
    ValueError
        If ``max_units`` is not an integer in 1 … :data:`~lottolib.subset_sum.MAX_SEARCH_LIMIT` or ``tolerance`` is
        negative or not finite.
    """
    max_units = MAX_SIDE_CANDIDATES if max_units is None else max_units
    if isinstance(max_units, bool) or not isinstance(max_units, int) or not 1 <= max_units <= MAX_SEARCH_LIMIT:
        raise ValueError(f"max_units must be an integer in 1 … {MAX_SEARCH_LIMIT}, got {max_units!r}: the exact "
                         "search over m units holds 2^(m/2) sums per weight")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}; pass 0 for the full search")
    first_weights = first_weights.expand_as(products)
    batch, k = products.shape[:-1], products.shape[-1]
    flat = products.reshape(-1, k)
    signs = first_weights.reshape(-1, k)
    target = w.reshape(-1).to(flat.dtype)
    # the outputs first, before the search's temporaries, so that they do not split the memory those free
    keep = torch.zeros(2, *flat.shape, dtype=torch.bool)
    errors = torch.empty(2, *target.shape, dtype=target.dtype)
    threads = torch.get_num_threads()
    parts = max(1, threads // 2) if flat.shape[0] >= PARALLEL_ROWS else 1
    jobs = [functools.partial(_side, flat[rows], on_side[rows], target[rows], max_units, float(tolerance),
                              keep[index, rows], errors[index, rows])
            for index, on_side in enumerate((signs > 0, signs < 0))
            for rows in (slice(start, start + math.ceil(flat.shape[0] / parts))
                         for start in range(0, flat.shape[0], math.ceil(flat.shape[0] / parts)))]
    _run(jobs, threads if flat.shape[0] >= PARALLEL_ROWS else 1)
    return SubsetChoice((keep[0] | keep[1]).view(*batch, k), errors[0].view(batch), errors[1].view(batch))


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _run(jobs: list[functools.partial], threads: int) -> None:
    """Run independent jobs (each a side of some rows, writing its own rows of the outputs) on
    ``threads`` threads, each job single-threaded: coarser than torch's per-operation threads,
    so a busy core delays one job instead of every operation. Restores torch's thread count."""
    global _pool
    if threads == 1 or len(jobs) == 1:
        for job in jobs:
            job()
        return
    if _pool is None or _pool[0] != threads:
        _pool = (threads, ThreadPoolExecutor(threads, thread_name_prefix="subset_sum"))
    torch.set_num_threads(1)
    try:
        for future in [_pool[1].submit(job) for job in jobs]:
            future.result()
    finally:
        torch.set_num_threads(threads)
