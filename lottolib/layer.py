"""One layer x ↦ W x from a pruned random two-layer block (MATH.md §2).

The block has d groups of k hidden units; unit (j, a) keeps only its connection u_{j,a} to
input j, and output i keeps, for every input j, the pair of units of group j chosen by
:func:`~lottolib.one_weight.choose_pairs` from the products M₂[i, (j, ·)]·u_{j, ·}.
The first layer is shared by all outputs. The pruned block computes exactly

    W x + E⁺ σ(x) − E⁻ σ(−x),

so ‖block(x) − W x‖₂ ≤ η ‖x‖₂ with η = ‖[E⁺ | E⁻]‖₂ (spectral norm).

Introduced in chapter 2 ({ref}`one-neuron`) and chapter 3 ({ref}`one-layer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from .checks import as_matrix, check_bounded, check_eps, check_positive_int
from .one_weight import NONE, choose_pairs
from .random_network import RandomBlock, ReluBlock, sample_block

__all__ = ["CHUNK_ELEMENTS", "LayerConstruction", "prune_block", "prune_layer"]

CHUNK_ELEMENTS = 1 << 22
"""Candidate products held at once (float64): bounds peak memory to a few tens of MB."""


@dataclass(frozen=True, eq=False)
class LayerConstruction:
    """The pruned block for one target layer, with its errors and certificate.

    Shapes (n outputs, d inputs, k units per input): ``target`` (n, d); ``first_mask``
    (d·k, d) and ``second_mask`` (n, d·k), boolean; ``plus_error``/``minus_error`` (n, d),
    the signed per-weight errors E⁺, E⁻; ``plus_index``/``minus_index`` (n, d), the chosen
    unit of group j (or ``NONE``).
    """

    target: torch.Tensor
    block: RandomBlock
    first_mask: torch.Tensor
    second_mask: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor
    plus_index: torch.Tensor
    minus_index: torch.Tensor
    eps: float

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
        head = f"layer {n}x{d} with k={self.block.k} units per input"
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


def prune_block(block: RandomBlock, target: torch.Tensor, eps: float) -> LayerConstruction:
    """Prune a sampled random block so that it approximates x ↦ target·x.

    ``target`` is (n, d) with entries in [-1, 1], matching ``block`` (d inputs, n outputs).
    Vectorised over all weights, chunked over output rows (at most ``CHUNK_ELEMENTS``
    candidate products at once). Returns the construction whether or not η ≤ eps;
    ``succeeded`` and ``message`` report which.
    """
    eps = check_eps(eps)
    target = check_bounded(as_matrix(target, "target"), "target")
    n, d = target.shape
    if (block.n, block.d) != (n, d):
        raise ValueError(f"target is {n}x{d} but the random block maps {block.d} inputs to {block.n} outputs")
    k = block.k
    u = _group_first_weights(block)
    second = block.second.detach().view(n, d, k)
    rows = max(1, CHUNK_ELEMENTS // (d * k))
    parts = []
    for start in range(0, n, rows):
        products = second[start : start + rows].double() * u
        parts.append(choose_pairs(products, u, target[start : start + rows]))
    plus_index = torch.cat([p.plus_index for p in parts])
    minus_index = torch.cat([p.minus_index for p in parts])

    second_mask = torch.zeros(n, d * k, dtype=torch.bool)
    group_offset = torch.arange(d) * k
    for index in (plus_index, minus_index):
        row, col = (index != NONE).nonzero(as_tuple=True)
        second_mask[row, group_offset[col] + index[row, col]] = True
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
        plus_index=plus_index,
        minus_index=minus_index,
        eps=eps,
    )


def prune_layer(target: object, eps: float, *, k: int, seed: int) -> LayerConstruction:
    """Sample a random block with k units per input from ``seed`` and prune it to approximate ``target``.

    ``target`` is an (n, d) matrix (tensor, array or nested list) with entries in [-1, 1].
    """
    matrix = as_matrix(target, "target")
    k = check_positive_int(k, "k")
    n, d = matrix.shape
    return prune_block(sample_block(d, n, k, seed), matrix, eps)
