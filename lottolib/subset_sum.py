"""Logarithmic width: each weight is the best *subset sum* of random products (Pensia et al., 2020).

The pair method keeps one unit per side; here each side keeps any subset of the units of
its sign. Unit a with u_a > 0 contributes (u_a v_a)·x on x ≥ 0 and nothing on x < 0, so a
subset S⁺ of positive units gives (Σ_{a∈S⁺} u_a v_a)·x on x ≥ 0; likewise a subset S⁻ of
negative units on x < 0. The per-side errors e^± = Σ_{S^±} u_a v_a − w enter the layer's
exact error W x + E⁺ σ(x) − E⁻ σ(−x) just as in the pair method, so η and the network
certificate are unchanged in form.

With m candidates per side the 2^m subset sums of products are spread over an interval of
length O(√m) and, by Lueker's theorem, ε-cover [-1, 1] once m = O(log 1/ε). The best subset
is found *exactly* by meet in the middle: the 2^{m/2} sums of each half, one half sorted,
a binary search per sum of the other half. Cost per weight O(2^{m/2}·m).

Introduced in chapter 8 ({ref}`subset-sum`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MAX_SIDE_CANDIDATES", "SubsetChoice", "choose_subsets", "subset_bits"]

MAX_SIDE_CANDIDATES = 16
"""At most this many units of each sign are searched per weight (see :func:`_candidates`): 2^8 sums per half.

They are spread evenly over the sorted products, so they keep both the reach of the large
products and the resolution of the small; 2^16 subset sums then resolve far below any ε the
book uses. Units beyond these are never kept.
"""


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


def _best_subset(values: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact best subset sum by meet in the middle. values (N, c), w (N,) → keep (N, c) bool, error (N,).

    error = Σ_{kept} values − w, the smallest in magnitude over all 2^c subsets (the empty one included).
    """
    count = values.shape[1]
    low, high = count // 2, count - count // 2
    low_bits, high_bits = subset_bits(low), subset_bits(high)
    low_sums = values[:, :low] @ low_bits.T  # (N, 2^low)
    high_sums, high_order = (values[:, low:] @ high_bits.T).sort(dim=1)  # (N, 2^high)
    wanted = (w.unsqueeze(1) - low_sums).contiguous()
    above = torch.searchsorted(high_sums, wanted).clamp(max=high_sums.shape[1] - 1)
    below = (above - 1).clamp(min=0)
    best_error, best_low, best_high = None, None, None
    for position in (below, above):
        error = low_sums + high_sums.gather(1, position) - w.unsqueeze(1)
        magnitude, low_index = error.abs().min(dim=1)
        high_index = position.gather(1, low_index.unsqueeze(1)).squeeze(1)
        chosen = error.gather(1, low_index.unsqueeze(1)).squeeze(1)
        if best_error is None:
            best_error, best_low, best_high = chosen, low_index, high_index
        else:
            better = magnitude < best_error.abs()
            best_error = torch.where(better, chosen, best_error)
            best_low = torch.where(better, low_index, best_low)
            best_high = torch.where(better, high_index, best_high)
    high_subset = high_order.gather(1, best_high.unsqueeze(1)).squeeze(1)
    keep = torch.cat([low_bits[best_low], high_bits[high_subset]], dim=1).bool()
    error = (values * keep).sum(dim=1) - w  # recomputed from the kept products, as the network adds them
    return keep, error


def _candidates(products: torch.Tensor, on_side: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` units searched per weight, (N, k) → (N, count) indices: all units of the side if there
    are at most ``count``, else ``count`` of them evenly spaced in the sorted order of their products
    (a representative sample keeps both the reach of the large products and the resolution of the small).
    """
    order = products.masked_fill(~on_side, torch.inf).argsort(dim=1)
    available = on_side.sum(dim=1, keepdim=True)
    spaced = ((torch.arange(count) + 0.5) * available / count).long()
    positions = torch.where(available > count, spaced, torch.arange(count))
    return order.gather(1, positions)


def _side(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best subset among at most MAX_SIDE_CANDIDATES units with ``on_side``: (N, k) → keep (N, k), error (N,)."""
    count = min(int(on_side.sum(dim=1).max()) if products.shape[1] else 0, MAX_SIDE_CANDIDATES)
    candidates = _candidates(products, on_side, count)
    values = products.gather(1, candidates) * on_side.gather(1, candidates)
    keep_candidates, error = _best_subset(values, w)
    keep = torch.zeros_like(on_side)
    keep.scatter_(1, candidates, keep_candidates & on_side.gather(1, candidates))
    return keep, error


def choose_subsets(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor) -> SubsetChoice:
    """For each target weight, the best subset of units with u > 0 and the best with u < 0.

    Shapes as :func:`~lottolib.choose_pairs`: ``products`` (..., k) holds u_a·v_a,
    ``first_weights`` (..., k), broadcastable, holds u_a; ``w`` (...) the target weights.
    Guarantee: each side's error is the smallest |Σ_S u_a v_a − w| over subsets S of the
    first ``MAX_SIDE_CANDIDATES`` units of that sign (S = ∅ allowed, error −w).
    Vectorised over all leading dimensions; the caller chunks to bound memory (about
    2^13 float64 values per weight).
    """
    first_weights = first_weights.expand_as(products)
    batch, k = products.shape[:-1], products.shape[-1]
    flat = products.reshape(-1, k)
    signs = first_weights.reshape(-1, k)
    target = w.reshape(-1).to(flat.dtype)
    plus_keep, plus_error = _side(flat, signs > 0, target)
    minus_keep, minus_error = _side(flat, signs < 0, target)
    return SubsetChoice((plus_keep | minus_keep).view(*batch, k), plus_error.view(batch), minus_error.view(batch))
