"""One layer x ↦ W x from a pruned random two-layer block (MATH.md §2).

The block has d groups of k hidden units; unit (j, a) keeps only its connection u_{j,a} to
input j, and output i keeps, for every input j, the pair of units of group j chosen by
:func:`~lottolib.one_weight.choose_pairs` from the products M₂[i, (j, ·)]·u_{j, ·}.
The first layer is shared by all outputs. The pruned block computes exactly

    W x + E⁺ σ(x) − E⁻ σ(−x),

so ‖block(x) − W x‖₂ ≤ η ‖x‖₂ with η = ‖[E⁺ | E⁻]‖₂ (spectral norm). With
``method="subset_sum"`` each side keeps the best *subset* of its units instead of one unit
(:mod:`lottolib.subset_sum`); the exact error, η and the masks' meaning are the same.

Introduced in chapter 2 ({ref}`one-neuron`) and chapter 3 ({ref}`one-layer`); SubsetSum in chapter 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from .checks import as_matrix, check_bounded, check_eps, check_positive_int
from .one_weight import choose_pairs
from .random_network import RandomBlock, ReluBlock, sample_block
from .subset_sum import SubsetChoice, choose_subsets, values_per_weight

__all__ = ["CHUNK_ELEMENTS", "METHODS", "LayerConstruction", "prune_block", "prune_layer"]

CHUNK_ELEMENTS = 1 << 22
"""Candidate values held at once (float64): bounds peak memory to a few tens of MB."""

METHODS = ("pair", "subset_sum")
"""How each side of a target weight is approximated: the best single unit, or the best subset of units."""


@dataclass(frozen=True, eq=False)
class LayerConstruction:
    """The pruned block for one target layer, with its errors and certificate.

    Shapes (n outputs, d inputs, k units per input): ``target`` (n, d); ``first_mask``
    (d·k, d) and ``second_mask`` (n, d·k), boolean; ``plus_error``/``minus_error`` (n, d),
    the signed per-weight errors E⁺, E⁻. ``method`` is one of :data:`METHODS`.
    """

    target: torch.Tensor
    block: RandomBlock
    first_mask: torch.Tensor
    second_mask: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor
    eps: float
    method: str = "pair"

    @cached_property
    def eta(self) -> float:
        """η = ‖[E⁺ | E⁻]‖₂: ‖block(x) − W x‖₂ ≤ η ‖x‖₂ for every x."""
        return float(torch.linalg.matrix_norm(torch.cat([self.plus_error, self.minus_error], dim=1), ord=2))

    @property
    def max_weight_error(self) -> float:
        """The largest per-weight error max(|E⁺|, |E⁻|) over all target weights."""
        return float(torch.maximum(self.plus_error.abs(), self.minus_error.abs()).max())

    @property
    def succeeded(self) -> bool:
        return self.eta <= self.eps

    @property
    def message(self) -> str:
        n, d = self.target.shape
        head = f"layer {n}x{d} with k={self.block.k} units per input ({self.method})"
        if self.succeeded:
            return f"{head} succeeded: eta {self.eta:.3g} <= eps={self.eps:.3g}"
        return f"{head} FAILED: eta {self.eta:.3g} > eps={self.eps:.3g}; increase k or eps"

    @property
    def kept_parameters(self) -> int:
        return int(self.first_mask.sum() + self.second_mask.sum())

    @property
    def random_parameters(self) -> int:
        return self.block.first.numel() + self.block.second.numel()

    def module(self) -> RandomBlock:
        """The pruned block as a module: the random weights where the masks keep them, +0 elsewhere."""
        zero = torch.zeros((), dtype=self.block.first.dtype)
        first = torch.where(self.first_mask, self.block.first.detach(), zero)
        second = torch.where(self.second_mask, self.block.second.detach(), zero)
        return RandomBlock(first, second, self.block.k)

    def compact(self) -> RandomBlock:
        """The same function as :meth:`module`, keeping only the hidden units the masks use.

        Dropped units have no kept outgoing weight, so they contribute exactly 0; the compact
        block is the subnetwork itself, cheap to evaluate however wide the random block is.
        """
        units = self.first_mask.any(dim=1).nonzero(as_tuple=True)[0]
        pruned = self.module()
        return ReluBlock(pruned.first[units].detach().clone(), pruned.second[:, units].detach().clone())


def _group_first_weights(block: RandomBlock) -> torch.Tensor:
    """u (d, k): u[j, a] = first[j*k + a, j], the one incoming weight unit (j, a) keeps."""
    d, k = block.d, block.k
    return block.first.detach().view(d, k, d).diagonal(dim1=0, dim2=2).T.double()


def _pair_choice(products: torch.Tensor, u: torch.Tensor, w: torch.Tensor) -> SubsetChoice:
    """The pair method's choice as a keep mask: at most one unit per side."""
    pairs = choose_pairs(products, u, w)
    units = torch.arange(products.shape[-1])
    keep = (units == pairs.plus_index.unsqueeze(-1)) | (units == pairs.minus_index.unsqueeze(-1))  # NONE matches no unit
    return SubsetChoice(keep, pairs.plus_error, pairs.minus_error)


def _values_per_weight(method: str, k: int) -> int:
    """Float64 values the method holds per target weight: bounds the chunk size."""
    if method == "pair":
        return k
    return values_per_weight(k)


def prune_block(block: RandomBlock, target: torch.Tensor, eps: float, method: str = "pair") -> LayerConstruction:
    """Prune a sampled random block so that it approximates x ↦ target·x.

    ``target`` is (n, d) with entries in [-1, 1], matching ``block`` (d inputs, n outputs);
    ``method`` is ``"pair"`` (one unit per side, chapter 1) or ``"subset_sum"`` (a subset per
    side, chapter 8). Vectorised over all weights, chunked over output rows (at most
    ``CHUNK_ELEMENTS`` values at once). Returns the construction whether or not η ≤ eps;
    ``succeeded`` and ``message`` report which.
    """
    eps = check_eps(eps)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    target = check_bounded(as_matrix(target, "target"), "target")
    n, d = target.shape
    if (block.n, block.d) != (n, d):
        raise ValueError(f"target is {n}x{d} but the random block maps {block.d} inputs to {block.n} outputs")
    k = block.k
    u = _group_first_weights(block)
    second = block.second.detach().view(n, d, k)
    choose = _pair_choice if method == "pair" else choose_subsets
    rows = max(1, CHUNK_ELEMENTS // (d * _values_per_weight(method, k)))
    parts = [choose(second[start : start + rows].double() * u, u, target[start : start + rows])
             for start in range(0, n, rows)]
    second_mask = torch.cat([p.keep for p in parts]).view(n, d * k)
    used_units = second_mask.any(dim=0).nonzero(as_tuple=True)[0]
    first_mask = torch.zeros(d * k, d, dtype=torch.bool)
    first_mask[used_units, used_units // k] = True

    return LayerConstruction(
        target=target,
        block=block,
        first_mask=first_mask,
        second_mask=second_mask,
        plus_error=torch.cat([p.plus_error for p in parts]),
        minus_error=torch.cat([p.minus_error for p in parts]),
        eps=eps,
        method=method,
    )


def prune_layer(target: object, eps: float, *, k: int, seed: int, method: str = "pair") -> LayerConstruction:
    """Sample a random block with k units per input from ``seed`` and prune it to approximate ``target``.

    ``target`` is an (n, d) matrix (tensor, array or nested list) with entries in [-1, 1];
    ``method`` as in :func:`prune_block`.
    """
    matrix = as_matrix(target, "target")
    k = check_positive_int(k, "k")
    n, d = matrix.shape
    return prune_block(sample_block(d, n, k, seed), matrix, eps, method)
