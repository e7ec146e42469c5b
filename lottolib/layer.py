"""One layer x ↦ W x from a pruned random two-layer block.

The block has d groups of k hidden units; unit (j, a) keeps only its connection u_{j,a} to
input j, and output i keeps, for every input j, the pair of units of group j chosen by
:func:`~lottolib.one_weight.choose_pairs` from the products M₂[i, (j, ·)]·u_{j, ·}.
The first layer is shared by all outputs. The pruned block computes exactly

    W x + E⁺ σ(x) − E⁻ σ(−x),

so ‖block(x) − W x‖₂ ≤ η ‖x‖₂ with η = ‖[E⁺ | E⁻]‖₂ (spectral norm, rounded outward). With
``method="subset_sum"`` each side keeps the best *subset* of its units instead of one unit
(:mod:`lottolib.subset_sum`); the exact error, η and the masks' meaning are the same. Given ``eps``,
SubsetSum stops searching a weight once its error is small enough for η ≤ ε (a per-weight
tolerance), and searches every weight fully only if η misses ε even at a smaller tolerance
(``exact=True`` always does).

Introduced in chapter 3, *One neuron*, and chapter 4, *One layer*; SubsetSum in chapter 9.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from .adversary import singular_starts
from .bounds import error_matrix_bound, frobenius_norm_bound, rounding_slack
from .checks import as_matrix, check_bounded, check_eps, check_positive_int
from .construction import Construction, masked
from .one_weight import choose_pairs
from .random_network import RandomBlock, linear, relu_stack, sample_block
from .subset_sum import (
    SubsetChoice,
    choose_subsets,
    eta_floor,
    floor_note,
    full_search_lower_bound,
    layer_tolerance,
    values_per_weight,
)

__all__ = ["CHUNK_ELEMENTS", "METHODS", "RETRY_FACTOR", "LayerConstruction", "prune_block", "prune_layer"]

CHUNK_ELEMENTS = 1 << 22
"""Candidate values held at once (float64), which bounds the search's memory to a few tens of MB."""

RETRY_FACTOR = 4
"""SubsetSum: when η misses eps at the first per-weight tolerance, the search is run again at this many
times less before every weight is searched fully."""

METHODS = ("pair", "subset_sum")
"""How each side of a target weight is approximated, by the best single unit or the best subset of units."""


@dataclass(frozen=True, eq=False)
class LayerConstruction(Construction):
    """The pruned block for one target layer x ↦ W x, with its per-weight errors and η.

    Shapes (n outputs, d inputs, k units per input): ``target`` (n, d) float64; ``block`` the
    random block (first (d·k, d), second (n, d·k), float32); ``first_mask`` (d·k, d) and
    ``second_mask`` (n, d·k), boolean; ``plus_error``/``minus_error`` (n, d), the signed
    per-weight errors E⁺, E⁻ (float64). ``method`` is one of :data:`METHODS`. The certificate is
    η (see :attr:`eta`). ``exact`` is False when SubsetSum stopped some weights' search once they
    met the tolerance for ``eps`` (True for the full search and for the pair method);
    ``searched`` (2, n, d), SubsetSum only, the units searched on the plus and minus side.
    """

    target: torch.Tensor
    block: RandomBlock
    first_mask: torch.Tensor
    second_mask: torch.Tensor
    plus_error: torch.Tensor
    minus_error: torch.Tensor
    method: str = "pair"
    eps: float | None = None
    exact: bool = True
    searched: torch.Tensor | None = None

    @cached_property
    def kept_counts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """How many units each side of each target weight keeps, as the pair (plus, minus), each of shape (n, d)."""
        kept = self.second_mask.view(self.block.n, self.block.d, self.block.k)
        u = _group_first_weights(self.block)
        return (kept & (u > 0)).sum(dim=2), (kept & (u < 0)).sum(dim=2)

    @cached_property
    def eta(self) -> float:
        """η, a float ≥ the exact ‖[E⁺ | E⁻]‖₂ (rounded outward), so that ‖block(x) − W x‖₂ ≤ η ‖x‖₂ for every x."""
        return error_matrix_bound(torch.cat([self.plus_error, self.minus_error], dim=1), torch.cat(self.kept_counts, dim=1))

    @cached_property
    def eta_plus(self) -> float:
        """η⁺, a float ≥ the exact ‖E⁺‖₂, so that ‖block(h) − W h‖₂ ≤ η⁺ ‖h‖₂ for every h ≥ 0 (there σ(−h) = 0)."""
        return error_matrix_bound(self.plus_error, self.kept_counts[0])

    @cached_property
    def rounding_slack(self) -> float:
        """How far the stored float64 errors may be from the exact ones, a float ≥ ‖[E⁺ − Ê⁺ | E⁻ − Ê⁻]‖_F."""
        slack = [rounding_slack(errors, counts) for errors, counts in
                 zip((self.plus_error, self.minus_error), self.kept_counts, strict=True)]
        return frobenius_norm_bound(torch.cat(slack, dim=1))

    @property
    def certificate(self) -> float:
        """The block's error on the unit ball is at most η, so η is its certificate."""
        return self.eta

    @property
    def max_weight_error(self) -> float:
        """The largest per-weight error max(|E⁺|, |E⁻|) over all target weights."""
        return float(torch.maximum(self.plus_error.abs(), self.minus_error.abs()).max())

    @property
    def masks(self) -> list[torch.Tensor]:
        return [self.first_mask, self.second_mask]

    @property
    def random_weights(self) -> list[torch.Tensor]:
        return [self.block.first, self.block.second]

    @property
    def description(self) -> str:
        n, d = self.target.shape
        return f"layer {n}x{d} with k={self.block.k} units per input ({self.method})"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.block.d,)

    @property
    def failure_hint(self) -> str:
        """A larger k, unless SubsetSum's search cap puts η's floor near ``eps`` (then no k helps)."""
        n, d = self.target.shape
        if self.method != "subset_sum" or self.eps is None or self.eps >= 4 * eta_floor(n, d):
            return super().failure_hint
        change = "increase eps" if self.eps < eta_floor(n, d) else "increase k (a little) or eps"
        return f"{change}: {floor_note(n, d)}"

    @property
    def used_units(self) -> torch.Tensor:
        """Indices of the hidden units the masks use (each keeps one incoming and at least one outgoing weight)."""
        return self.first_mask.any(dim=1).nonzero(as_tuple=True)[0]

    def pruned_weights(
        self, *, compact: bool = False, dtype: torch.dtype = torch.float64
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(first, second): the random weights where the masks keep them, +0.0 elsewhere; compact keeps
        only :attr:`used_units` (dropped units have no kept outgoing weight, so they contribute exactly 0)."""
        first = masked(self.block.first, self.first_mask, dtype)
        second = masked(self.block.second, self.second_mask, dtype)
        if compact:
            units = self.used_units
            first, second = first[units], second[:, units]
        return first, second

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        return relu_stack([linear(weight) for weight in self.pruned_weights(compact=compact, dtype=dtype)])

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float64) @ self.target.T

    def adversary_starts(self) -> torch.Tensor:
        """Singular vectors of W, E⁺, E⁻ and of E⁺ and E⁻ stacked (2n × d), and their sign-split parts."""
        plus_minus = torch.cat([self.plus_error, -self.minus_error], dim=0)
        return singular_starts([self.target, self.plus_error, self.minus_error, plus_minus], self.block.d)


def _group_first_weights(block: RandomBlock) -> torch.Tensor:
    """u (d, k): u[j, a] = first[j*k + a, j], the one incoming weight unit (j, a) keeps."""
    d, k = block.d, block.k
    return block.first.view(d, k, d).diagonal(dim1=0, dim2=2).T.double()


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


def _choose(method: str, block: RandomBlock, target: torch.Tensor, tolerance: float) -> SubsetChoice:
    """Every weight's choice, chunked over output rows (at most ``CHUNK_ELEMENTS`` candidate values at once)."""
    n, d = target.shape
    k = block.k
    u = _group_first_weights(block)
    second = block.second.view(n, d, k)
    rows = max(1, CHUNK_ELEMENTS // (d * _values_per_weight(method, k)))
    if method == "pair":
        parts = [_pair_choice(second[start : start + rows].double() * u, u, target[start : start + rows])
                 for start in range(0, n, rows)]
        return SubsetChoice(torch.cat([p.keep for p in parts]), torch.cat([p.plus_error for p in parts]),
                            torch.cat([p.minus_error for p in parts]))
    parts = [choose_subsets(second[start : start + rows].double() * u, u, target[start : start + rows],
                            tolerance=tolerance)
             for start in range(0, n, rows)]
    return SubsetChoice(*(torch.cat([getattr(p, name) for p in parts]) for name in ("keep", "plus_error", "minus_error")),
                        *(torch.cat([getattr(p, name) for p in parts], dim=1) for name in ("searched", "complete")))


def _construction(block: RandomBlock, target: torch.Tensor, choice: SubsetChoice, method: str,
                  eps: float | None, exact: bool) -> LayerConstruction:
    n, d = target.shape
    k = block.k
    second_mask = choice.keep.reshape(n, d * k)
    used_units = second_mask.any(dim=0).nonzero(as_tuple=True)[0]
    first_mask = torch.zeros(d * k, d, dtype=torch.bool)
    first_mask[used_units, used_units // k] = True
    return LayerConstruction(target=target, block=block, first_mask=first_mask, second_mask=second_mask,
                             plus_error=choice.plus_error, minus_error=choice.minus_error, method=method, eps=eps,
                             exact=exact, searched=choice.searched)


def prune_block(
    block: RandomBlock, target: object, *, method: str = "pair", eps: float | None = None, exact: bool = False
) -> LayerConstruction:
    """Prune a sampled random block so that it approximates x ↦ target·x.

    Parameters
    ----------
    block
        The random block (d inputs, n outputs, k units per input).
    target
        An (n, d) matrix with entries in [-1, 1] (tensor, array or nested list).
    method
        ``"pair"`` (one unit per side, chapter 2) or ``"subset_sum"`` (a subset per side, chapter 9).
    eps
        If given, ``succeeded`` says whether η ≤ eps, and SubsetSum stops searching a weight as soon
        as its error is at most :func:`~lottolib.subset_sum.layer_tolerance` (eps, n, d); if η then
        misses eps, again at a tolerance ``RETRY_FACTOR`` = 4 times smaller, then every weight is
        searched fully (so the layer succeeds whenever the full search does). A retry is skipped when
        :func:`~lottolib.subset_sum.full_search_lower_bound` shows that even the full search misses eps.
    exact
        SubsetSum only: search every weight fully (the best subset of its top window) even when eps
        is met earlier.

    Returns
    -------
    LayerConstruction
        Returned whether or not η meets ``eps``. Vectorised over all weights, chunked over output
        rows (at most ``CHUNK_ELEMENTS`` candidate values at once).

    Raises
    ------
    ValueError
        For a method not in :data:`METHODS`, a target outside [-1, 1], or shapes that do not fit.
    """
    eps = None if eps is None else check_eps(eps)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    target = check_bounded(as_matrix(target, "target"), "target")
    n, d = target.shape
    if (block.n, block.d) != (n, d):
        raise ValueError(f"target is {n}x{d} but the random block maps {block.d} inputs to {block.n} outputs")
    if method == "pair" or eps is None or exact:
        return _construction(block, target, _choose(method, block, target, 0.0), method, eps, exact=True)
    for tolerance in (layer_tolerance(eps, n, d), layer_tolerance(eps, n, d) / RETRY_FACTOR):
        choice = _choose(method, block, target, tolerance)
        staged = _construction(block, target, choice, method, eps, exact=False)
        assert choice.complete is not None
        if staged.eta <= eps or full_search_lower_bound(torch.cat([staged.plus_error, staged.minus_error], dim=1),
                                                        torch.cat([choice.complete[0], choice.complete[1]], dim=1)) > eps:
            return staged  # certified, or the full search cannot certify either
    return _construction(block, target, _choose(method, block, target, 0.0), method, eps, exact=True)


def prune_layer(
    target: object, *, k: int, seed: object, method: str = "pair", eps: float | None = None, exact: bool = False
) -> LayerConstruction:
    """Sample a random block with k units per input from ``seed`` and prune it to approximate ``target``.

    Parameters
    ----------
    target
        An (n, d) matrix with entries in [-1, 1] (tensor, array or nested list).
    k
        Hidden units per input coordinate: the block has d·k hidden units.
    seed
        A non-negative integer or a ``torch.Generator``.
    method, eps, exact
        As in :func:`prune_block`.

    Returns
    -------
    LayerConstruction
        Returned whether or not η meets ``eps``.

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before sampling, if the construction would exceed the memory limit.
    """
    matrix = check_bounded(as_matrix(target, "target"), "target")
    k = check_positive_int(k, "k")
    n, d = matrix.shape
    return prune_block(sample_block(d, n, k, seed), matrix, method=method, eps=eps, exact=exact)
