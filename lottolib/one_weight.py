"""The one-weight lemma: w·x = w σ(x) − w σ(−x), from k random hidden units.

Hidden unit a computes v_a σ(u_a x) with u_a, v_a i.i.d. U[-1, 1]. A unit with u_a > 0 is
(u_a v_a)·x on x ≥ 0 and 0 on x < 0; one with u_b < 0 is (u_b v_b)·x on x < 0 and 0 on x ≥ 0.
Keeping one unit of each sign whose product is close to w therefore gives w·x up to the
per-side errors e⁺ = u_a v_a − w and e⁻ = u_b v_b − w:
g(x) − w x = e⁺ σ(x) − e⁻ σ(−x), so sup over |x| ≤ 1 of |g(x) − w x| = max(|e⁺|, |e⁻|).
Keeping *no* unit on a side is also allowed (its product is 0, its error −w): it wins when
|w| is smaller than every candidate's error, so the chosen error never exceeds |w|.

Introduced in chapter 2, *One weight*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .bounds import error_matrix_bound
from .checks import as_tensor, check_bounded, check_eps, check_positive_int
from .construction import Construction, masked
from .random_network import RandomBlock, linear, relu_stack, sample_block

__all__ = ["NONE", "OneWeight", "PairChoice", "choose_pairs", "prune_one_weight"]

NONE = -1
"""Index meaning "no unit kept on this side"."""


@dataclass(frozen=True)
class PairChoice:
    """The chosen unit per side, and the signed per-side errors, for a batch of target weights.

    All four tensors have the batch shape of the target weights. An index is in [0, k) or
    ``NONE`` (= -1). Errors are signed: ``plus_error = u_a v_a − w`` (0 − w when no unit is kept).
    """

    plus_index: torch.Tensor
    minus_index: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor


def _best_on_side(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    distance = (products - w.unsqueeze(-1)).abs().masked_fill(~on_side, torch.inf)
    best, index = distance.min(dim=-1)
    keep_none = w.abs() <= best
    index = index.masked_fill(keep_none, NONE)
    chosen = products.gather(-1, index.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    error = torch.where(keep_none, -w, chosen - w)
    return index, error


def choose_pairs(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor) -> PairChoice:
    """Choose, for each target weight, the best unit with u > 0 and the best with u < 0.

    Parameters
    ----------
    products
        (..., k): u_a·v_a for the k candidate units of each target weight (float64).
    first_weights
        (..., k), broadcastable to ``products``: u_a (only its sign is used).
    w
        (...): the target weights.

    Returns
    -------
    PairChoice
        For each side, the error is the smallest |u_a v_a − w| over units of that sign, or −w if
        that is smaller in magnitude (no unit kept). Vectorised over every leading dimension.
    """
    first_weights = first_weights.expand_as(products)
    plus_index, plus_error = _best_on_side(products, first_weights > 0, w)
    minus_index, minus_error = _best_on_side(products, first_weights < 0, w)
    return PairChoice(plus_index, minus_index, plus_error, minus_error)


@dataclass(frozen=True, eq=False)
class OneWeight(Construction):
    """One weight w approximated by a pruned random block of k hidden units (x ↦ Σ_kept v_a σ(u_a x)).

    ``block`` holds the random weights (first (k, 1) = u, second (1, k) = v), ``choice`` the kept
    pair. The certificate is max(|e⁺|, |e⁻|), the exact sup over |x| ≤ 1 of |g(x) − w x|, rounded up.
    """

    w: float
    block: RandomBlock
    choice: PairChoice
    eps: float | None = None

    @property
    def u(self) -> torch.Tensor:
        """First-layer weights u_a (k,), float64."""
        return self.block.first[:, 0].double()

    @property
    def v(self) -> torch.Tensor:
        """Second-layer weights v_a (k,), float64."""
        return self.block.second[0].double()

    @property
    def kept(self) -> list[int]:
        """Indices of the kept hidden units (0, 1 or 2 of them)."""
        return [int(i) for i in (self.choice.plus_index, self.choice.minus_index) if int(i) != NONE]

    @property
    def weight_error(self) -> float:
        """max(|e⁺|, |e⁻|) as computed in float64 (the certificate rounds it up)."""
        return float(max(self.choice.plus_error.abs(), self.choice.minus_error.abs()))

    @property
    def masks(self) -> list[torch.Tensor]:
        keep = torch.zeros(self.block.k, dtype=torch.bool)
        keep[self.kept] = True
        return [keep.unsqueeze(1), keep.unsqueeze(0)]

    @property
    def random_weights(self) -> list[torch.Tensor]:
        return [self.block.first, self.block.second]

    @property
    def certificate(self) -> float:
        worst = torch.stack([self.choice.plus_error, self.choice.minus_error]).abs().max().view(1, 1)
        return error_matrix_bound(worst, torch.zeros(1, 1))  # one exact product per side: no sum to round

    @property
    def description(self) -> str:
        return f"one weight w={self.w:.4g} from k={self.block.k} units"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1,)

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Module:
        first_mask, second_mask = self.masks
        first = masked(self.block.first, first_mask, dtype)
        second = masked(self.block.second, second_mask, dtype)
        if compact:
            first, second = first[self.kept], second[:, self.kept]
        return relu_stack([linear(first), linear(second)])

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float64) * self.w


def prune_one_weight(w: float, *, k: int, seed: object, eps: float | None = None) -> OneWeight:
    """Approximate x ↦ w·x, |w| ≤ 1, by keeping at most two of k random hidden units.

    Parameters
    ----------
    w
        The target weight, in [-1, 1].
    k
        Random hidden units, sampled by ``sample_block(1, 1, k, seed)``.
    seed
        A non-negative integer or a ``torch.Generator``.
    eps
        If given, ``succeeded`` says whether the certificate meets it.

    Returns
    -------
    OneWeight
        Returned whether or not it meets ``eps``; ``succeeded`` and ``message`` say which.

    Raises
    ------
    ValueError, TypeError
        For |w| > 1, a non-finite w, k < 1 or a bad seed or eps.
    """
    eps = None if eps is None else check_eps(eps)
    k = check_positive_int(k, "k")
    target = check_bounded(as_tensor(w, "w"), "w")
    if target.numel() != 1:
        raise ValueError(f"w must be one number, got shape {tuple(target.shape)}; use prune_layer for a matrix")
    target = target.reshape(())
    block = sample_block(1, 1, k, seed)
    u = block.first[:, 0].double()
    choice = choose_pairs(u * block.second[0].double(), u, target)
    return OneWeight(float(target), block, choice, eps)
