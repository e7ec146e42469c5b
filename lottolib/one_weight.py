"""The one-weight lemma: w·x = w σ(x) − w σ(−x), from k random hidden units.

Hidden unit a computes v_a σ(u_a x) with u_a, v_a i.i.d. U[-1, 1]. A unit with u_a > 0 is
(u_a v_a)·x on x ≥ 0 and 0 on x < 0; one with u_b < 0 is (u_b v_b)·x on x < 0 and 0 on x ≥ 0.
Keeping one unit of each sign whose product is close to w therefore gives w·x up to the
per-side errors e⁺ = u_a v_a − w and e⁻ = u_b v_b − w, with |error(x)| ≤ max(|e⁺|, |e⁻|)·|x|.
Keeping *no* unit on a side is also allowed (its product is 0, its error −w): it wins when
|w| is smaller than every candidate's error, so the chosen error never exceeds |w|.

Introduced in chapter 1 ({ref}`one-weight`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_bounded, check_eps, check_positive_int
from .random_network import sample_block

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

    Shapes: ``products`` (..., k) holds u_a·v_a for the k candidate units of each target
    weight; ``first_weights`` (..., k), broadcastable to it, holds u_a (only its sign is used);
    ``w`` (...) holds the target weights. Vectorised over every leading dimension.
    Guarantee: for each side the chosen error is the smallest |u_a v_a − w| over units of that
    sign, or −w if that is smaller in magnitude.
    """
    first_weights = first_weights.expand_as(products)
    plus_index, plus_error = _best_on_side(products, first_weights > 0, w)
    minus_index, minus_error = _best_on_side(products, first_weights < 0, w)
    return PairChoice(plus_index, minus_index, plus_error, minus_error)


@dataclass(frozen=True)
class OneWeight:
    """One weight w approximated by a pruned random block of k hidden units.

    ``u`` and ``v`` (k,) are the random first- and second-layer weights, ``choice`` the kept
    pair. ``error = max(|e⁺|, |e⁻|)`` bounds |approximation(x) − w x| / |x| for every x.
    """

    w: float
    eps: float
    u: torch.Tensor
    v: torch.Tensor
    choice: PairChoice

    @property
    def error(self) -> float:
        return float(max(self.choice.plus_error.abs(), self.choice.minus_error.abs()))

    @property
    def succeeded(self) -> bool:
        return self.error <= self.eps

    @property
    def kept(self) -> list[int]:
        """Indices of the kept hidden units (0, 1 or 2 of them)."""
        return [int(i) for i in (self.choice.plus_index, self.choice.minus_index) if int(i) != NONE]

    @property
    def message(self) -> str:
        verdict = "succeeded" if self.succeeded else "FAILED"
        return (
            f"one weight w={self.w:.4g} with k={self.u.numel()} units {verdict}: "
            f"error {self.error:.3g} {'<=' if self.succeeded else '>'} eps={self.eps:.3g}"
            + ("" if self.succeeded else "; increase k or eps")
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The pruned block's output Σ_kept v_a σ(u_a x), elementwise in x (float64)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        out = torch.zeros_like(x)
        for a in self.kept:
            out = out + float(self.v[a]) * torch.relu(float(self.u[a]) * x)
        return out


def prune_one_weight(w: float, k: int, seed: int, eps: float = 0.01) -> OneWeight:
    """Approximate x ↦ w·x, |w| ≤ 1, by keeping at most two of k random hidden units.

    The random units come from ``sample_block(1, 1, k, seed)``. The result reports its error
    and whether it meets ``eps``; it is returned either way, and ``succeeded`` says which.
    """
    eps = check_eps(eps)
    k = check_positive_int(k, "k")
    target = check_bounded(torch.as_tensor(float(w), dtype=torch.float64), "w")
    block = sample_block(1, 1, k, seed)
    u = block.first[:, 0].double()
    v = block.second[0].double()
    choice = choose_pairs(u * v, u, target)
    return OneWeight(float(target), eps, u, v, choice)
