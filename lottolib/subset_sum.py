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
    "full_search_lower_bound",
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

FIRST_STAGE = 8
"""With a tolerance, the units searched first per side (2^4 subset sums per half)."""

STAGE_STEP = 4
"""With a tolerance, the units a window grows by per stage (16 times more subsets)."""

TOLERANCE_SHARE = 1.0
"""c in :func:`~lottolib.subset_sum.layer_tolerance`: the per-weight tolerance is c·ε / (√n + √(2d))."""

LOW_BLOCK = 1 << 12
"""Subsets of the enumerated half handled at once by the meet in the middle (bounds memory)."""

SUMS_PER_PASS = 1 << 16
"""Rows searched at once: about this many sums of the sorted half (512 KB), so that the large
temporaries have the same few sizes pass after pass (the allocator reuses their memory) and the
pass's working set stays near a core's cache (1 MB of L2 here: at 16 units, twice as many sums
per pass took 1.3 times as long per weight)."""

BUCKET = 4
"""Rows are searched in groups whose widths are multiples of this (fewer, larger tensor operations)."""

ROWS_PER_JOB = 2048
"""Weights searched together, one side at a time: large enough that each tensor operation has
work, small enough that its temporaries stay in the cache. These jobs run in parallel (:func:`_run`)."""


@dataclass(frozen=True)
class SubsetChoice:
    """The kept units and the signed per-side errors for a batch of target weights.

    ``keep`` (..., k) is True for every kept unit (of either sign); ``plus_error`` and
    ``minus_error`` (...) are Σ_{kept, u>0} u_a v_a − w and Σ_{kept, u<0} u_a v_a − w.
    """

    keep: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor
    searched: torch.Tensor | None = None
    """The units searched on the plus and the minus side (a long tensor of shape (2, ...))."""
    complete: torch.Tensor | None = None
    """Whether each side's top window was searched, so that its error is the full search's (bool, shape (2, ...))."""


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


def values_per_weight(k: int) -> int:
    """Float64 values a call of :func:`~lottolib.choose_subsets` holds per target weight, for chunk sizing: 4·k.

    The products (k values), the caller's copy it is made from, and the kept units of both sides.
    The search itself works on ``ROWS_PER_JOB`` weights at a time per thread (about 16·k values
    each: the sorted side, its prefix sums and the window scores) and, within those, on passes of
    about ``SUMS_PER_PASS`` subset sums (one weight at a time beyond 34 units), so its memory
    does not grow with the batch.
    """
    return 4 * k


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
    """The per-weight ``tolerance`` at which an n×d layer that needs η ≤ ε stops a weight's search.

    It is c·ε / (√n + √(2d)) with c = :data:`TOLERANCE_SHARE`. Errors spread up to t over the
    n × 2d matrix [E⁺ | E⁻] have a root mean square of about t/√3, and a random matrix's spectral
    norm is about √n + √(2d) times that: about 0.58·c·ε here. The weights that cannot reach the
    tolerance at all (too few units of the right sign) add to that, so η usually stays below ε;
    when it does not, :func:`~lottolib.prune_block` searches every weight fully.
    """
    return TOLERANCE_SHARE * eps / (math.sqrt(n) + math.sqrt(2 * d))


def full_search_lower_bound(errors: torch.Tensor, complete: torch.Tensor) -> float:
    """A lower bound on ‖E*‖₂ for the errors E* the full search (tolerance 0) would give, from a staged search.

    ``errors`` (n, m) are a staged search's errors E; ``complete`` (n, m) marks the entries whose top
    window was searched, where E* = E. Elsewhere the search stopped early and |E*| ≤ |E|, since the
    top window contains the window searched. With σ, x, y the top singular value and vectors of E
    restricted to the complete entries, ‖E*‖₂ ≥ yᵀ E* x ≥ σ − Σ_{incomplete} |y_i| |E_ij| |x_j|.
    Computed in float64 and lowered by a relative 10⁻⁹ for rounding; 0.0 if no entry is complete.
    """
    settled = torch.where(complete, errors, 0.0)
    if not bool(settled.any()):
        return 0.0
    left, singular, right = torch.linalg.svd(settled, full_matrices=False)
    y, x = left[:, 0].abs(), right[0].abs()
    rest = float(y @ torch.where(complete, 0.0, errors.abs()) @ x)
    return max(0.0, (float(singular[0]) - rest) * (1 - 1e-9))


def _all_sums(values: torch.Tensor) -> torch.Tensor:
    """(N, c) → (N, 2^c): column s holds the sum of the values whose bit is set in s, added in
    order of the items (elementwise, so a row's sums never depend on the other rows)."""
    sums = values.new_empty(values.shape[0], 1 << values.shape[1])
    sums[:, 0] = 0.0
    for item in range(values.shape[1]):
        torch.add(sums[:, : 1 << item], values[:, item : item + 1], out=sums[:, 1 << item : 2 << item])
    return sums


SIGN_FREE = (1 << 63) - 1
"""The 63 bits below the sign of an int64: xor-ing them into negative floats' bit patterns orders patterns as values."""


def _sorted(sums: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sums.sort(dim=1, stable=True)`` for finite float64 rows without −0.0, about a third faster.

    Each float's bit pattern b, read as an int64, becomes b ^ ((b >> 63) & SIGN_FREE): non-negative
    floats keep their patterns, negative ones have the 63 bits below the sign flipped, and the
    integers are then in the order of the floats (equal exactly when the floats are equal; −0.0 would
    come before +0.0, and subset sums built from +0.0 are never −0.0). The integers are sorted stably
    and mapped back by the same xor.
    """
    bits = sums.view(torch.int64)
    keys, order = (bits ^ ((bits >> 63) & SIGN_FREE)).sort(dim=1, stable=True)
    keys ^= (keys >> 63) & SIGN_FREE
    return keys.view(torch.float64), order


def _count_below(ordered: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """For rows of ``ordered`` (N, 2^h), sorted, each ending with an entry ≥ every query, and ``queries``
    (N, m): how many entries of the row are < each query, (N, m) long, which is
    ``torch.searchsorted(ordered, queries)``. Binary lifting: h gathers of one probe per query
    (from the largest step down, a probe below the query adds its step to the count), branch-free
    and so faster than a binary search per query on unsorted queries.
    """
    count = torch.zeros(queries.shape, dtype=torch.long)
    probe = torch.empty_like(count)
    step = ordered.shape[1] >> 1
    while step:
        torch.add(count, step - 1, out=probe)
        count.add_(ordered.gather(1, probe) < queries, alpha=step)
        step >>= 1
    return count


def _best_subset(values: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact best subset sum by meet in the middle. values (N, c), w (N,) → keep (N, c) bool, error (N,).

    error = Σ_{kept} values − w, the smallest in magnitude over all 2^c subsets (the empty one
    included; among equal magnitudes the first found, and of the sorted half's subsets with that sum
    the one with the smallest code). The last ⌊c/2⌋ values form the sorted
    half; the first ⌈c/2⌉ are enumerated in blocks of ``LOW_BLOCK`` subsets. For each sum s of
    the enumerated half, the sorted sum nearest to w − s is found by one binary search
    (:func:`_count_below`) among the midpoints between consecutive sorted sums.
    """
    count = values.shape[1]
    high = count // 2
    low = count - high
    ordered, order = _sorted(_all_sums(values[:, low:]))  # (N, 2^high); order: the subsets
    midpoints = torch.full_like(ordered, torch.inf)  # the last one, +inf, closes the search range
    torch.add(ordered[:, 1:], ordered[:, :-1], out=midpoints[:, :-1]).mul_(0.5)
    block_bits = min(low, LOW_BLOCK.bit_length() - 1)
    block_sums = _all_sums(values[:, :block_bits])  # the first block_bits items; the rest offset each block
    best_magnitude = torch.full_like(w, torch.inf)
    best_low = torch.zeros(w.shape, dtype=torch.long)
    best_position = torch.zeros(w.shape, dtype=torch.long)  # of the sorted half's sum in the best pair
    for block in range(1 << (low - block_bits)):
        target = w.unsqueeze(1)
        for bit in range(low - block_bits):
            if block >> bit & 1:
                target = target - values[:, block_bits + bit : block_bits + bit + 1]
        wanted = target - block_sums  # (N, 2^block_bits): the sum each low subset needs
        positions = _count_below(midpoints, wanted)  # the nearest sorted sum to each wanted one
        gaps = ordered.gather(1, positions).sub_(wanted).abs_()
        magnitude, low_index = gaps.min(dim=1)
        better = magnitude < best_magnitude
        best_magnitude = torch.where(better, magnitude, best_magnitude)
        best_low = torch.where(better, low_index + (block << block_bits), best_low)
        best_position = torch.where(better, positions.gather(1, low_index.unsqueeze(1)).squeeze(1), best_position)
    # among equal sorted sums the first position: the stable sort puts the smallest subset with that sum there
    first = torch.searchsorted(ordered, ordered.gather(1, best_position.unsqueeze(1)))
    codes = torch.stack([best_low, order.gather(1, first).squeeze(1)], dim=1)
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
    def of(cls, ordered: torch.Tensor, order: torch.Tensor, on_side: torch.Tensor) -> _SortedSide:
        """From all units sorted by product (``ordered``, ``order``: (N, k), stable) and ``on_side`` (N, k)
        in that order: the side's units keep their order (a stable partition)."""
        rows, k = ordered.shape
        available = on_side.sum(dim=1)
        slot = torch.where(on_side, on_side.cumsum(dim=1) - 1, k)  # place among the side's units; k: none
        values = ordered.new_zeros(rows, k + 1).scatter_(1, slot, ordered)[:, :k]
        side_order = order.new_zeros(rows, k + 1).scatter_(1, slot, order)[:, :k]

        def prefix(x: torch.Tensor) -> torch.Tensor:
            sums = x.new_zeros(rows, k + 1)
            torch.cumsum(x, dim=1, out=sums[:, 1:])
            return sums

        return cls(side_order, available, values, prefix(values), prefix(values.square()), prefix(values.clamp(min=0)))


def _window(side: _SortedSide, w: torch.Tensor, count: int, lowest: torch.Tensor, highest: torch.Tensor) -> torch.Tensor:
    """For every row, the first position (N,) of the ``count`` consecutive sorted units to search,
    among the first positions ``lowest`` … ``highest`` (per row, inclusive). Rows where no window
    of ``count`` units fits get a position to ignore.

    For a set S of units the 2^|S| subset sums have mean μ = Σ_S p/2 and variance σ² = Σ_S p²/4
    and lie in [Σ_S p⁻, Σ_S p⁺], so about 2^|S|·φ((w − μ)/σ)/σ of them fall per unit length near
    w (normal approximation). Among the windows whose sums reach w, the one maximising
    −ln σ − (w − μ)²/(2σ²) is taken (the first of equal ones); if none reaches w, the one that misses
    it least. A window around the zero crossing of the products holds small products of both signs
    (fine resolution, μ ≈ 0); a larger |w| moves it outward.
    """
    last = side.values.shape[1] - count
    if last < 0:
        return lowest.clone()
    lowest = lowest.clamp(max=last)
    highest = highest.clamp(max=last).maximum(lowest)
    span = int((highest - lowest).max().clamp(min=0)) + 1
    starts = (lowest.unsqueeze(1) + torch.arange(span)).minimum(highest.unsqueeze(1))  # (N, span), repeats at the end
    ends = starts + count

    def window_sum(prefix: torch.Tensor) -> torch.Tensor:
        return prefix.gather(1, ends) - prefix.gather(1, starts)

    mean, variance = window_sum(side.sums) / 2, (window_sum(side.squares) / 4).clamp(min=1e-300)
    high = window_sum(side.positives)
    low = 2 * mean - high
    target = w.unsqueeze(1)
    miss = (low - target).clamp(min=0) + (target - high).clamp(min=0)
    score = -0.5 * variance.log() - (target - mean).square() / (2 * variance)
    score = torch.where(miss > 0, -1e30 * (1 + miss), score)
    return starts.gather(1, score.argmax(dim=1, keepdim=True)).squeeze(1)


def _stages(max_units: int, tolerance: float) -> list[int]:
    """Window sizes tried in turn: only ``max_units`` when tolerance is 0, else :data:`FIRST_STAGE`,
    then :data:`STAGE_STEP` more units at a time, up to ``max_units``."""
    if tolerance == 0 or max_units <= FIRST_STAGE:
        return [max_units]
    return [*range(FIRST_STAGE, max_units, STAGE_STEP), max_units]


def _stage_windows(side: _SortedSide, w: torch.Tensor, stages: list[int], top_start: torch.Tensor,
                   top_count: torch.Tensor) -> dict[int, torch.Tensor]:
    """The first position (N,) of each stage's window: the top window at the last stage and wherever
    the side has at most the stage's units; elsewhere the stage's number of units, placed by
    :func:`_window` inside the next larger stage's window (from the top down, all rows at once)."""
    windows = {stages[-1]: top_start}
    outer_start, outer_count = top_start, top_count
    for stage in reversed(stages[:-1]):
        chosen = _window(side, w, stage, outer_start, outer_start + outer_count - stage)
        windows[stage] = outer_start = torch.where(top_count > stage, chosen, top_start)
        outer_count = top_count.clamp(max=stage)
    return windows


def _bucket(count: torch.Tensor, stage: int) -> torch.Tensor:
    """Search width for rows whose side searches ``count`` units: rounded up to a multiple of
    :data:`BUCKET`, at most ``stage`` (fewer, padded groups of rows; padding units are 0)."""
    return (((count + BUCKET - 1) // BUCKET) * BUCKET).clamp(max=stage)


def _search(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor, max_units: int, tolerance: float,
            keep: torch.Tensor, errors: torch.Tensor, searched: torch.Tensor, complete: torch.Tensor) -> None:
    """Both sides of a block of rows (one job): ``products``, ``first_weights`` (N, k), ``w`` (N,) →
    ``keep`` (N, k) or-ed with the kept units of both sides, and ``errors``, ``searched``, ``complete``
    (2, N) filled for the plus and the minus side (:func:`_side`). The units are sorted by product
    once, for both sides."""
    ordered, order = products.sort(dim=1, stable=True)
    signs = first_weights.gather(1, order)
    for index, on_side in enumerate((signs > 0, signs < 0)):
        _side(_SortedSide.of(ordered, order, on_side), w, max_units, tolerance, keep, errors[index], searched[index],
              complete[index])


def _side(side: _SortedSide, w: torch.Tensor, max_units: int, tolerance: float,
          keep_out: torch.Tensor, error: torch.Tensor, searched: torch.Tensor, complete: torch.Tensor) -> None:
    """Best subset among at most ``max_units`` units of one ``side``: → ``keep_out`` (N, k)
    or-ed with the kept units, ``error`` (N,) filled with the side's errors, ``searched`` (N,) with the
    number of units searched and ``complete`` (N,) with whether that is the whole top window.

    The *top window* of a row is all of its side's units if there are at most ``max_units``, else
    the ``max_units`` consecutive sorted units that :func:`_window` chooses. Stage by stage
    (:func:`_stages`), a row whose error is still above ``tolerance`` (at first −w, the empty
    subset's) searches a larger window (:func:`_stage_windows`): the stage's size, inside the top
    window and containing the window searched before (so its error never grows), or the top window
    itself once the stage reaches its size. A row that stops early has |error| ≤ tolerance; any
    other row ends with the top window's search, the same computation as with tolerance 0.

    Rows are grouped by a search width that depends on their own number of units only, and a
    row short of its group's width is padded with units of product 0 (no new sums), so each
    row's result depends on that row alone: chunking the batch does not change it.
    """
    rows_total, k = side.values.shape
    stages = _stages(max_units, tolerance)
    top_count = side.available.clamp(max=max_units)
    top_start = torch.zeros(rows_total, dtype=torch.long)
    capped = side.available > max_units
    if bool(capped.any()):
        chosen = _window(side, w, max_units, top_start, side.available - max_units)
        top_start = torch.where(capped, chosen, top_start)
    windows = _stage_windows(side, w, stages, top_start, top_count)
    keep = torch.zeros(rows_total, k + 1, dtype=torch.bool)  # column k collects the padding
    torch.neg(w, out=error)  # a side without units keeps the empty subset
    size = torch.zeros(rows_total, dtype=torch.long)  # units searched so far
    for stage in stages:
        count = top_count.clamp(max=stage)
        grow = (count > size) & (error.abs() > tolerance)
        start = windows[stage]
        size[grow] = count[grow]
        widths = _bucket(count, stage)
        for width in widths[grow].unique().tolist():
            group = (grow & (widths == width)).nonzero(as_tuple=True)[0]
            for rows in group.split(max(1, SUMS_PER_PASS >> (width // 2))):  # equal-sized passes reuse memory
                positions = start[rows].unsqueeze(1) + torch.arange(width)
                real = torch.arange(width) < count[rows].unsqueeze(1)
                positions = positions.clamp(max=k - 1)
                values = side.values[rows.unsqueeze(1), positions] * real
                keep_window, error[rows] = _best_subset(values, w[rows])
                units = torch.where(real, side.order[rows.unsqueeze(1), positions], k)
                keep[rows] = torch.zeros(len(rows), k + 1, dtype=torch.bool).scatter_(1, units, keep_window & real)
    keep_out |= keep[:, :k]
    searched.copy_(size)
    torch.eq(size, top_count, out=complete)


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
    keep = torch.zeros(flat.shape, dtype=torch.bool)
    errors = torch.empty(2, *target.shape, dtype=target.dtype)
    searched = torch.empty(2, *target.shape, dtype=torch.long)
    complete = torch.empty(2, *target.shape, dtype=torch.bool)
    jobs = [functools.partial(_search, flat[rows], signs[rows], target[rows], max_units, float(tolerance),
                              keep[rows], errors[:, rows], searched[:, rows], complete[:, rows])
            for rows in (slice(start, start + ROWS_PER_JOB) for start in range(0, flat.shape[0], ROWS_PER_JOB))]
    _run(jobs, torch.get_num_threads())
    return SubsetChoice(keep.view(*batch, k), errors[0].view(batch), errors[1].view(batch),
                        searched.view(2, *batch), complete.view(2, *batch))


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
