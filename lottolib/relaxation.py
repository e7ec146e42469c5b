"""The Lagrangian relaxation of a pruned ReLU network as one generic problem, and its verified bound.

Any network this library prunes (a plain network, a residual network, a CNN at a fixed image size)
compares a target F with a pruned twin G̃ that has the same ReLU units. For an input x with
‖x‖₂ = 1 write p = σ(x), q = σ(−x) and, for every ReLU unit, h (the target's output) and
δ = (h̃ − h)/s (the pruned network's, relative, s a power of two). The coordinates

    w = (p, q, h, δ of the first group of units, h, δ of the next group, …) ∈ R^k

determine the error linearly, e = G̃(x) − F(x) = s·O w, and each of the following *forms* is a
linear function of w and is ≥ 0:

    p_j, q_j;  per unit: h, r = h − z, g = h + sδ = h̃, s̃ = h̃ − z̃

(z, z̃ the unit's pre-activations in both networks; r = σ(−z) and s̃ = σ(−z̃) are the ReLU slacks).
The pairs (p_j, q_j), (h, r), (g, s̃) are *complementary*: their product is 0. Also
‖p‖² + ‖q‖² = 1 and ‖w_b‖² ≤ R_b² for every block b of coordinates after (p, q).

**Proposition** (chapter 12). For multipliers y_e on pairs of forms e = (a, b), with y_e ≥ 0 unless
e is complementary, any real t and τ_b ≥ 0, let

    K = OᵀO + Σ_e y_e (f_a f_bᵀ + f_b f_aᵀ)/2 − t·C − Σ_b τ_b I_b     (C, I_b: identities on (p, q), on block b)

and μ ≥ λ_max(K). Then sup_{‖x‖ ≤ 1} ‖e(x)‖² ≤ s² (t + Σ_b τ_b R_b² + max(0, μ)·R²), R² = 1 + Σ_b R_b².
Proof: wᵀOᵀOw ≤ wᵀOᵀOw + Σ_e y_e f_a(w) f_b(w) = wᵀKw + t + Σ_b τ_b‖w_b‖² ≤ max(0, μ)‖w‖² + t + Σ_b τ_b R_b²,
and e is positively homogeneous in x. Every choice is sound, so a solver may choose them.

This module holds the problem (:class:`LagrangianProblem`, built from a plain network by
:func:`network_problem` or from a residual network by :func:`residual_problem`; a CNN at a fixed image
size is a plain network whose first matrices are convolution matrices) and :func:`verified_bound`,
which turns any multipliers into a float that bounds the exact supremum, rounding errors included.
The solvers that choose the multipliers are in :mod:`lottolib.interior_point` and
:mod:`lottolib.propagation`.

**Rounding.** The forms are computed in float64; ``forms_error`` and ``objective_error`` bound,
entry by entry, their distance to the exact forms of the given float matrices (each computed entry
is within a few units of the last place of its exact value, or within 2⁻¹⁰⁷⁴ if it is subnormal).
:func:`verified_bound` adds the effect of those errors, of forming K in floating point, and of the
eigenvalue estimate (a floating-point Cholesky factorisation of μI − K̂, Higham's Theorem 10.3),
every step rounded upward.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from .bounds import UNIT_ROUNDOFF, add_up, certificate, mul_up, power_of_two_at_least, spectral_norm_bound

__all__ = [
    "LagrangianProblem",
    "Multipliers",
    "network_problem",
    "residual_problem",
    "verified_bound",
    "verified_eigenvalue",
]

TINY = 2.0**-1074
"""The smallest positive float64 (subnormal): the absolute error of one rounding below 2⁻¹⁰²² is at most half of it."""

SMALLEST_SCALE = 2.0**-900
"""Below this scale s (errors of order 1e-271 and less) the scaled forms would underflow: the recursion is kept."""

BATCH_ABOVE = 300
"""Problems with more coordinates than this multiply by the forms batch by batch (:class:`FormBatches`)."""

LARGEST_SCALE = 2.0**900
"""Above this scale s the scaled forms could overflow: the recursion is kept."""


def sqrt_up(value: float) -> float:
    """A float ≥ √value (exact real square root of the float ``value`` ≥ 0)."""
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"sqrt_up needs a finite value >= 0, got {value!r}")
    return math.nextafter(math.sqrt(value), math.inf)


def _rounding_error(computed: torch.Tensor, roundings: int = 2) -> torch.Tensor:
    """Entrywise bound on |exact − computed| for a value obtained from exact floats by ``roundings``
    operations (sums of two terms, products with a power of two, divisions by one): each rounding
    moves a normal result by at most u times its size, a subnormal one by at most 2⁻¹⁰⁷⁵."""
    return computed.abs() * (2.0 * roundings * UNIT_ROUNDOFF) + roundings * TINY


def _product_error(left: torch.Tensor, right: torch.Tensor, left_error: torch.Tensor,
                   right_error: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``left @ right`` computed in float64 and a bound on its distance to the exact product of the exact
    matrices (|L − L̂| ≤ left_error, |R − R̂| ≤ right_error): the inputs' errors propagated, plus
    γ_n·|L̂||R̂| for the floating-point sum of n products and n·2⁻¹⁰⁷⁴ for underflow."""
    product = left @ right
    n = left.shape[-1]
    gamma = 2.0 * (n + 2) * UNIT_ROUNDOFF
    magnitude = left.abs() @ right.abs()
    error = magnitude * gamma + left_error @ (right.abs() + right_error) + left.abs() @ right_error
    return product, error * (1.0 + 4.0 * (n + 2) * UNIT_ROUNDOFF) + (n + 2) * TINY


class FormBatches:
    """Rows of a matrix stored as contiguous row ranges, each with only its non-zero columns: the forms of one
    kind of one group of units (h, r, g̃ or s̃) touch the group's own coordinates and those its pre-activation
    reads, so products with the forms cost far less than with the dense matrix.

    ``ranges`` are (start, stop) row ranges covering every row; ``columns[i]`` the column indices of range i
    (every non-zero entry of its rows lies there), ``blocks[i]`` the values (stop − start, len(columns[i])).
    """

    def __init__(self, matrix: torch.Tensor, ranges: Sequence[tuple[int, int]], support: torch.Tensor | None = None) -> None:
        self.shape = tuple(matrix.shape)
        self.ranges = list(ranges)
        support = matrix if support is None else support
        self.columns = [torch.nonzero(support[a:b].abs().sum(0) > 0).flatten() for a, b in self.ranges]
        self.blocks = [matrix[a:b][:, cols] for (a, b), cols in zip(self.ranges, self.columns, strict=True)]
        self.starts = torch.tensor([a for a, _ in self.ranges], dtype=torch.long)

    def with_blocks(self, matrix: torch.Tensor) -> FormBatches:
        """Another matrix with non-zero entries only where this one may have them (same ranges and columns)."""
        other = object.__new__(FormBatches)
        other.shape, other.ranges, other.columns, other.starts = self.shape, self.ranges, self.columns, self.starts
        other.blocks = [matrix[a:b][:, cols] for (a, b), cols in zip(self.ranges, self.columns, strict=True)]
        return other

    def map_blocks(self, function: Callable[[torch.Tensor], torch.Tensor]) -> FormBatches:
        other = object.__new__(FormBatches)
        other.shape, other.ranges, other.columns, other.starts = self.shape, self.ranges, self.columns, self.starts
        other.blocks = [function(block) for block in self.blocks]
        return other

    def matmul(self, matrix: torch.Tensor) -> torch.Tensor:
        """self @ matrix (rows × matrix.shape[1])."""
        out = torch.zeros(self.shape[0], matrix.shape[1], dtype=torch.float64)
        for (a, b), cols, block in zip(self.ranges, self.columns, self.blocks, strict=True):
            if len(cols):
                out[a:b] = block @ matrix[cols]
        return out

    def transpose_matmul(self, matrix: torch.Tensor) -> torch.Tensor:
        """selfᵀ @ matrix (columns × matrix.shape[1])."""
        out = torch.zeros(self.shape[1], matrix.shape[1], dtype=torch.float64)
        for (a, b), cols, block in zip(self.ranges, self.columns, self.blocks, strict=True):
            if len(cols):
                out.index_add_(0, cols, block.T @ matrix[a:b])
        return out

    def gram(self, pairs: torch.Tensor, weights: torch.Tensor, right: FormBatches | None = None) -> torch.Tensor:
        """Σ_e w_e f_a g_bᵀ (k × k, not symmetrised) over pairs e = (a, b), f the rows of self, g of ``right``."""
        right = self if right is None else right
        size = self.shape[1]
        out = torch.zeros(size, size, dtype=torch.float64)
        if len(pairs) == 0:
            return out
        left_batch = torch.bucketize(pairs[:, 0].contiguous(), self.starts, right=True) - 1
        right_batch = torch.bucketize(pairs[:, 1].contiguous(), right.starts, right=True) - 1
        keys = left_batch * len(right.ranges) + right_batch
        for key in torch.unique(keys).tolist():
            chosen = keys == key
            i, j = divmod(key, len(right.ranges))
            rows_a = pairs[chosen, 0] - self.ranges[i][0]
            rows_b = pairs[chosen, 1] - right.ranges[j][0]
            left = self.blocks[i][rows_a]
            if len(self.columns[i]) == 0 or len(right.columns[j]) == 0:
                continue
            block = left.T @ (right.blocks[j][rows_b] * weights[chosen][:, None])
            out[self.columns[i][:, None], right.columns[j][None, :]] += block
        return out


@dataclass(frozen=True)
class LagrangianProblem:
    """The forms, objective and radii of one pruned network (module docstring), in float64.

    Shapes: ``forms`` Φ̂ (m, k) and ``forms_error`` (m, k) with |Φ − Φ̂| ≤ forms_error entrywise for
    the exact forms Φ; ``objective`` Ô (n, k), ``objective_error`` likewise; the first
    ``input_size`` = 2d coordinates are (p, q); ``blocks`` lists the other coordinate blocks
    (start, stop) with ``radii_squared`` ≥ sup ‖w_b‖² (rounded up); ``complementary`` (c, 2) pairs
    of form indices whose product is 0; ``units`` (u, 4) the forms (h, r, g, s̃) of each ReLU unit;
    ``scale`` s, a power of two in [2⁻⁹⁰⁰, 2⁹⁰⁰]; ``recursion`` the recursion's bound on the same error.
    """

    forms: torch.Tensor
    forms_error: torch.Tensor
    objective: torch.Tensor
    objective_error: torch.Tensor
    input_size: int
    blocks: tuple[tuple[int, int], ...]
    radii_squared: tuple[float, ...]
    complementary: torch.Tensor
    units: torch.Tensor
    scale: float
    recursion: float
    group_sizes: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        """k, the number of coordinates."""
        return int(self.forms.shape[1])

    @property
    def radius_squared(self) -> float:
        """R² = 1 + Σ_b R_b², rounded up: ‖w‖² ≤ R²."""
        total = 1.0
        for value in self.radii_squared:
            total = add_up(total, value)
        return total

    @cached_property
    def row_ranges(self) -> list[tuple[int, int]]:
        """Contiguous row ranges of Φ: p, q, then h, r, g, s̃ of each group of units."""
        d = self.input_size // 2
        ranges, start = [(0, d), (d, 2 * d)], 2 * d
        for n in self.group_sizes:
            for _ in range(4):
                ranges.append((start, start + n))
                start += n
        if start < self.forms.shape[0]:
            ranges.append((start, self.forms.shape[0]))
        return [(a, b) for a, b in ranges if b > a]

    @cached_property
    def batches(self) -> FormBatches:
        """Φ̂ as :class:`FormBatches` (its column supports include those of ``forms_error``); one dense batch for
        small problems, where batching gains nothing."""
        ranges = self.row_ranges if self.size > BATCH_ABOVE else [(0, self.forms.shape[0])]
        return FormBatches(self.forms, ranges, self.forms.abs() + self.forms_error)

    def unit_pairs(self) -> torch.Tensor:
        """The non-complementary pairs of forms of one unit, (h, g), (h, s̃), (r, g), (r, s̃), as (4u, 2)."""
        h, r, g, s = self.units.unbind(1)
        return torch.cat([torch.stack(pair, 1) for pair in ((h, g), (h, s), (r, g), (r, s))])

    def first_pattern(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The structured solver's first pattern: the complementary pairs, then :meth:`unit_pairs`, as (N, 2)
        form indices and an (N,) bool, True on the complementary pairs (any sign)."""
        units = self.unit_pairs()
        free = torch.cat([torch.ones(len(self.complementary), dtype=torch.bool), torch.zeros(len(units), dtype=torch.bool)])
        return torch.cat([self.complementary, units]), free


@dataclass(frozen=True)
class Multipliers:
    """A choice (y, t, τ) for the proposition: ``pairs`` (p, 2) form indices with values ``values`` (p,);
    ``free`` (p,) bool marks complementary pairs (any sign), the others must be ≥ 0 (negative values
    count as 0); ``t`` a float; ``taus`` one value ≥ 0 per block (negative values count as 0)."""

    pairs: torch.Tensor
    values: torch.Tensor
    free: torch.Tensor
    t: float
    taus: tuple[float, ...]

    def admissible(self) -> Multipliers:
        """The same multipliers with the sign constraints enforced and subnormal-range values dropped."""
        values = torch.where(self.free, self.values, self.values.clamp(min=0.0)).double()
        values = torch.where(values.abs() < 2.0**-300, torch.zeros_like(values), values)
        taus = tuple(max(0.0, float(tau)) for tau in self.taus)
        return Multipliers(self.pairs, values, self.free, float(self.t), taus)


# ----------------------------------------------------------------------------------------------
# Building the problem


class _Rows:
    """Accumulates rows over the k coordinates with their entrywise error bounds."""

    def __init__(self, count: int, size: int) -> None:
        self.values = torch.zeros(count, size, dtype=torch.float64)
        self.errors = torch.zeros(count, size, dtype=torch.float64)

    def add(self, columns: slice, values: torch.Tensor, errors: torch.Tensor | None = None) -> _Rows:
        self.values[:, columns] += values
        if errors is not None:
            self.errors[:, columns] += errors
        return self


def _unit_forms(size: int, h: slice, delta: slice, scale: float, target: _Rows, pruned: _Rows) -> list[_Rows]:
    """The four forms of a group of n units: h, r = h − z, g = h + sδ, s̃ = g − z̃, given −z and −z̃
    as rows (``target``, ``pruned``); the pre-activation rows are negated in place."""
    n = h.stop - h.start
    identity = torch.eye(n, dtype=torch.float64)
    forms = _Rows(n, size).add(h, identity)
    slack = target.add(h, identity)
    pruned_output = _Rows(n, size).add(h, identity).add(delta, scale * identity)
    pruned_slack = pruned.add(h, identity).add(delta, scale * identity)
    return [forms, slack, pruned_output, pruned_slack]


def _assemble(size: int, d: int, groups: list[list[_Rows]], objective: _Rows, blocks: list[tuple[int, int]],
              radii: list[float], scale: float, recursion: float) -> LagrangianProblem | None:
    p = _Rows(d, size).add(slice(0, d), torch.eye(d, dtype=torch.float64))
    q = _Rows(d, size).add(slice(d, 2 * d), torch.eye(d, dtype=torch.float64))
    rows = [p, q] + [form for group in groups for form in group]
    complementary = [torch.stack([torch.arange(d), torch.arange(d, 2 * d)], 1)]
    units, offset = [], 2 * d
    for group in groups:
        n = group[0].values.shape[0]
        index = [torch.arange(offset + j * n, offset + (j + 1) * n) for j in range(4)]
        units.append(torch.stack(index, 1))
        complementary += [torch.stack([index[0], index[1]], 1), torch.stack([index[2], index[3]], 1)]
        offset += 4 * n
    forms, forms_error = torch.cat([r.values for r in rows]), torch.cat([r.errors for r in rows])
    quantities = (forms, forms_error, objective.values, objective.errors)
    if not all(bool(torch.isfinite(values).all()) for values in quantities) or not all(map(math.isfinite, radii)):
        return None  # a scaled entry or an error bound overflowed: no sound problem in float64
    return LagrangianProblem(
        forms=forms, forms_error=forms_error,
        objective=objective.values, objective_error=objective.errors, input_size=2 * d,
        blocks=tuple(blocks), radii_squared=tuple(radii), complementary=torch.cat(complementary),
        units=torch.cat(units) if units else torch.zeros(0, 4, dtype=torch.long), scale=scale, recursion=recursion,
        group_sizes=tuple(group[0].values.shape[0] for group in groups))


def _scale_for(recursion: float) -> float | None:
    """s: the smallest power of two ≥ the recursion's bound, or None if it lies outside [2⁻⁹⁰⁰, 2⁹⁰⁰]."""
    if not math.isfinite(recursion) or not SMALLEST_SCALE <= recursion <= LARGEST_SCALE:
        return None
    return power_of_two_at_least(recursion)


def mul_up_or_inf(a: float, b: float) -> float:
    """A float ≥ a·b (floats ≥ 0), ``math.inf`` when the product overflows (mul_up's exact check cannot take it)."""
    return mul_up(a, b) if math.isfinite(a * b) else math.inf


def _squared_up(value: float) -> float:
    return mul_up_or_inf(value, value)


def divide_up(value: float, scale: float) -> float:
    """A float ≥ value / scale for floats value ≥ 0 and a power of two ``scale`` (the quotient is exact unless it
    underflows; then it is rounded up to the next float)."""
    quotient = value / scale
    return quotient if quotient * scale >= value else math.nextafter(quotient, math.inf)


def network_problem(weights: Sequence[torch.Tensor], plus: Sequence[torch.Tensor],
                    minus: Sequence[torch.Tensor]) -> LagrangianProblem | None:
    """The problem for F(x) = W_l σ(⋯σ(W_1 x)) and G̃ with g_1(x) = W_1x + E⁺_1σ(x) − E⁻_1σ(−x),
    g_i(h) = (W_i + E⁺_i)h for i ≥ 2 (its input is ≥ 0); float64 matrices, already checked.

    Coordinates (p, q, h_1, δ_1, …, h_{l−1}, δ_{l−1}), k = 2d + 2Σ_{i<l} n_i; the radii are
    ‖h_i‖ ≤ A_i = Π_{j≤i}‖W_j‖₂ and ‖δ_i‖ ≤ Δ_i/s with Δ_i the recursion after i layers
    (η_1 = ‖[E⁺_1 | E⁻_1]‖₂, η⁺_i = ‖E⁺_i‖₂ for i ≥ 2). Returns None when the scale s would leave
    [2⁻⁹⁰⁰, 2⁹⁰⁰] (errors too small or too large for float64 forms).
    """
    norms = [spectral_norm_bound(w) for w in weights]
    etas = [spectral_norm_bound(torch.cat([plus[0], minus[0]], dim=1))] + [spectral_norm_bound(p) for p in plus[1:]]
    gaps = [certificate(norms[: i + 1], etas[: i + 1]) for i in range(len(weights))]
    scale = _scale_for(gaps[-1])
    if scale is None:
        return None
    d = weights[0].shape[1]
    hidden = [w.shape[0] for w in weights[:-1]]
    size = 2 * d + 2 * sum(hidden)
    p, q = slice(0, d), slice(d, 2 * d)
    groups, blocks, radii = [], [], []
    previous: tuple[slice, slice] | None = None
    offset, reach = 2 * d, 1.0
    for i, n in enumerate(hidden):
        h, delta = slice(offset, offset + n), slice(offset + n, offset + 2 * n)
        offset += 2 * n
        target, pruned = _Rows(n, size), _Rows(n, size)
        if previous is None:  # −z = −W_1(p − q); −z̃ = −(W_1 + E⁺_1)p + (W_1 + E⁻_1)q
            target.add(p, -weights[0]).add(q, weights[0])
            first, second = weights[0] + plus[0], weights[0] + minus[0]
            pruned.add(p, -first, _rounding_error(first, 1)).add(q, second, _rounding_error(second, 1))
        else:  # −z = −W_i h_{i−1}; −z̃ = −(W_i + E⁺_i)(h_{i−1} + s δ_{i−1})
            target.add(previous[0], -weights[i])
            matrix = weights[i] + plus[i]
            scaled = matrix * scale
            pruned.add(previous[0], -matrix, _rounding_error(matrix, 1)).add(previous[1], -scaled,
                                                                              _rounding_error(scaled, 2))
        groups.append(_unit_forms(size, h, delta, scale, target, pruned))
        reach = mul_up_or_inf(reach, norms[i])  # ‖h_i‖ ≤ A_i (inf: no problem, see _assemble)
        blocks += [(h.start, h.stop), (delta.start, delta.stop)]
        radii += [_squared_up(reach), _squared_up(divide_up(gaps[i], scale))]
        previous = (h, delta)
    objective = _Rows(weights[-1].shape[0], size)
    if previous is None:  # e/s = (E⁺p − E⁻q)/s
        first, second = plus[0] / scale, -minus[0] / scale
        objective.add(p, first, _rounding_error(first, 1)).add(q, second, _rounding_error(second, 1))
    else:  # e/s = (E⁺_l/s) h_{l−1} + (W_l + E⁺_l) δ_{l−1}
        first, matrix = plus[-1] / scale, weights[-1] + plus[-1]
        objective.add(previous[0], first, _rounding_error(first, 1)).add(previous[1], matrix,
                                                                         _rounding_error(matrix, 1))
    return _assemble(size, d, groups, objective, blocks, radii, scale, gaps[-1])


def residual_problem(blocks: Sequence[tuple[torch.Tensor, torch.Tensor]], readout: torch.Tensor | None,
                     errors: Sequence[tuple[torch.Tensor, torch.Tensor]], recursion: float,
                     radii: Sequence[tuple[float, float]]) -> LagrangianProblem | None:
    """The problem for a residual target z_i = z_{i−1} + W₂⁽ⁱ⁾σ(W₁⁽ⁱ⁾z_{i−1}), F = W_out z_B (or z_B), and its
    pruned twin, whose pairs compute W z + E⁺σ(z) − E⁻σ(−z) (chapter 11).

    The stream after block i is fed to the next pair through σ(z̃_i) and σ(−z̃_i): a group of d "split"
    units with pre-activation z_i (target) and z̃_i (pruned) gives them as g and s̃. The pre-activations
    are expanded into the coordinates (products W₁W₂ rounded, with their error bounds).

    Parameters
    ----------
    blocks
        (W₁, W₂) per block, float64.
    readout
        W_out or None.
    errors
        (E⁺, E⁻) of every pair, in the order W₁⁽¹⁾, W₂⁽¹⁾, …, W_out (for W₂ only E⁺ acts: its input is ≥ 0).
    recursion
        The residual recursion's bound (the fallback, and it fixes the scale s).
    radii
        Per ReLU group, in coordinate order (branch units of block 1, stream split after block 1, branch
        units of block 2, …, and the split after block B if there is a read-out): (bound on ‖h‖, bound on
        ‖h̃ − h‖), floats ≥ the exact suprema over ‖x‖ ≤ 1.

    """
    scale = _scale_for(recursion)
    if scale is None:
        return None
    d = blocks[0][0].shape[1]
    widths = []
    for i, (first, _) in enumerate(blocks):
        widths.append(first.shape[0])
        if i < len(blocks) - 1 or readout is not None:
            widths.append(d)
    size = 2 * d + 2 * sum(widths)
    identity = torch.eye(d, dtype=torch.float64)

    def stream_rows() -> tuple[_Rows, _Rows]:  # z_0 = x = p − q in both networks
        target, pruned = _Rows(d, size), _Rows(d, size)
        for rows in (target, pruned):
            rows.add(slice(0, d), identity).add(slice(d, 2 * d), -identity)
        return target, pruned

    def apply(matrix: torch.Tensor, rows: _Rows, matrix_error: torch.Tensor | None = None) -> _Rows:
        zero = torch.zeros_like(matrix)
        values, errors = _product_error(matrix, rows.values, zero if matrix_error is None else matrix_error,
                                        rows.errors)
        out = _Rows(matrix.shape[0], size)
        out.values, out.errors = values, errors
        return out

    stream, pruned_stream = stream_rows()
    split: tuple[slice, slice] | None = None  # the (h, δ) of the split units of the current stream
    groups, coordinate_blocks, radii_squared = [], [], []
    offset, group = 2 * d, 0
    for i, (first, second) in enumerate(blocks):
        plus1, minus1 = errors[2 * i]
        plus2 = errors[2 * i + 1][0]
        n = first.shape[0]
        h, delta = slice(offset, offset + n), slice(offset + n, offset + 2 * n)
        offset += 2 * n
        target = apply(-first, stream)
        if split is None:  # the first pair reads x: W₁(p − q) + E⁺p − E⁻q
            pruned = _Rows(n, size)
            a, b = first + plus1, first + minus1
            pruned.add(slice(0, d), -a, _rounding_error(a, 1)).add(slice(d, 2 * d), b, _rounding_error(b, 1))
        else:  # W₁z̃ + E⁺σ(z̃) − E⁻σ(−z̃) = (W₁ + E⁻)z̃ + (E⁺ − E⁻)(S + sδ_S), S + sδ_S = σ(z̃)
            a, b = first + minus1, plus1 - minus1
            pruned = apply(-a, pruned_stream, _rounding_error(a, 1))
            pruned.add(split[0], -b, _rounding_error(b, 1)).add(split[1], -(b * scale), _rounding_error(b * scale, 2))
        groups.append(_unit_forms(size, h, delta, scale, target, pruned))
        coordinate_blocks += [(h.start, h.stop), (delta.start, delta.stop)]
        radii_squared += [_squared_up(radii[group][0]), _squared_up(divide_up(radii[group][1], scale))]
        group += 1
        # z_i = z_{i−1} + W₂h; z̃_i = z̃_{i−1} + (W₂ + E⁺₂)(h + sδ)
        stream.add(h, second)
        c = second + plus2
        pruned_stream.add(h, c, _rounding_error(c, 1)).add(delta, c * scale, _rounding_error(c * scale, 2))
        if i < len(blocks) - 1 or readout is not None:
            s_h, s_delta = slice(offset, offset + d), slice(offset + d, offset + 2 * d)
            offset += 2 * d
            minus_target, minus_pruned = _Rows(d, size), _Rows(d, size)
            minus_target.values, minus_target.errors = -stream.values, stream.errors.clone()
            minus_pruned.values, minus_pruned.errors = -pruned_stream.values, pruned_stream.errors.clone()
            groups.append(_unit_forms(size, s_h, s_delta, scale, minus_target, minus_pruned))
            coordinate_blocks += [(s_h.start, s_h.stop), (s_delta.start, s_delta.stop)]
            radii_squared += [_squared_up(radii[group][0]),
                              _squared_up(divide_up(radii[group][1], scale))]
            group += 1
            split = (s_h, s_delta)
    # e/s = W_out(z̃_B − z_B)/s + E⁺σ(z̃_B)/s − E⁻σ(−z̃_B)/s  (read-out)   or   (z̃_B − z_B)/s
    difference = _Rows(d, size)
    difference.values = (pruned_stream.values - stream.values) / scale
    difference.errors = ((pruned_stream.errors + stream.errors) / scale) * (1 + 4 * UNIT_ROUNDOFF) \
        + _rounding_error(difference.values, 2)
    if readout is None:
        objective = difference
    else:
        plus_o, minus_o = errors[-1]
        assert split is not None
        objective = apply(readout, difference)
        # E⁺(S + sδ)/s − E⁻(S + sδ − z̃)/s = ((E⁺ − E⁻)/s)(S + sδ) + (E⁻/s) z̃
        b = (plus_o - minus_o) / scale
        objective.add(split[0], b, _rounding_error(b, 2)).add(split[1], b * scale, _rounding_error(b * scale, 3))
        tail = apply(minus_o / scale, pruned_stream, _rounding_error(minus_o / scale, 1))
        objective.values += tail.values
        objective.errors += tail.errors + _rounding_error(objective.values, 1)
    return _assemble(size, d, groups, objective, coordinate_blocks, radii_squared, scale, recursion)


# ----------------------------------------------------------------------------------------------
# The verified bound


def lagrangian_matrix(problem: LagrangianProblem, multipliers: Multipliers) -> torch.Tensor:
    """K̂ = fl(ÔᵀÔ + Σ_e y_e sym(f̂_a f̂_bᵀ) − tC − Σ_b τ_b I_b), symmetric (k, k)."""
    objective = problem.objective
    half = problem.batches.gram(multipliers.pairs, multipliers.values / 2)
    matrix = objective.T @ objective + (half + half.T)  # symmetric: both orders of every pair
    diagonal = torch.zeros(problem.size, dtype=torch.float64)
    diagonal[: problem.input_size] = multipliers.t
    for (start, stop), tau in zip(problem.blocks, multipliers.taus, strict=True):
        diagonal[start:stop] = tau
    return matrix - torch.diag(diagonal)


def _matrix_error(problem: LagrangianProblem, multipliers: Multipliers) -> float:
    """A float ≥ ‖K − K̂‖_F: the forms' and objective's errors and the rounding of forming K̂."""
    objective, objective_error = problem.objective.abs(), problem.objective_error
    forms = problem.batches.map_blocks(torch.abs)
    errors = problem.batches.with_blocks(problem.forms_error)
    widened = problem.batches.with_blocks(problem.forms.abs() + problem.forms_error)
    weights = multipliers.values.abs() / 2
    pairs = multipliers.pairs
    # |Φ|ᵀ|Y||Φ| (magnitude of every product) and the propagated errors of the forms, both orders of each pair
    magnitude = forms.gram(pairs, weights) + objective.T @ objective
    propagated = (errors.gram(pairs, weights, widened) + forms.gram(pairs, weights, errors)
                  + objective_error.T @ (objective + objective_error) + objective.T @ objective_error)
    magnitude, propagated = magnitude + magnitude.T, propagated + propagated.T
    terms = 2 * len(pairs) + problem.forms.shape[0] + objective.shape[0] + 16  # products summed per entry, and batches
    gamma = 2.0 * terms * UNIT_ROUNDOFF
    diagonal = abs(multipliers.t) + max(multipliers.taus, default=0.0)
    total = propagated + gamma * magnitude
    # the bound is itself computed in floating point: sums of at most `terms` non-negative products per entry
    # (relative error ≤ γ_terms) and a norm of k² of them; the factor covers both with a wide margin
    margin = 1 + 4.0 * (terms + problem.size * problem.size) * UNIT_ROUNDOFF
    frobenius = float(total.norm()) * margin + 2 * UNIT_ROUNDOFF * diagonal * math.sqrt(problem.size)
    if not math.isfinite(frobenius):
        return math.inf
    return add_up(frobenius * (1 + 1e-9), problem.size * terms * 8 * TINY)


def _cholesky_bound(matrix: torch.Tensor, shift: float) -> float | None:
    """A float ≥ λ_max(matrix) (exact, for the float matrix given) if the floating-point Cholesky
    factorisation of A = fl(shift·I − matrix) succeeds, else None.

    Higham, *Accuracy and Stability of Numerical Algorithms*, Thm 10.3: if Cholesky runs to completion
    on A (any order of summation), R̂ᵀR̂ = A + ΔA with |ΔA| ≤ γ_{k+1}|R̂ᵀ||R̂|, hence
    λ_min(A) ≥ −γ_{k+1}‖R̂‖_F² ≥ −γ_{k+1} tr(A)/(1 − γ_{k+1}). Forming A rounds its diagonal (≤ u|a_ii|),
    and underflow adds at most 4k(2(k + 2) + max a_ii)·2⁻¹⁰⁷⁴ (Rump, *Verification of positive
    definiteness*, 2006). We take γ_{2k+2} for a margin.
    """
    k = matrix.shape[0]
    shifted = -matrix
    shifted.diagonal().add_(shift)
    factor, info = torch.linalg.cholesky_ex(shifted)
    if int(info) != 0 or not bool(torch.isfinite(factor).all()):
        return None
    diagonal = shifted.diagonal()
    trace = float(diagonal.sum()) * (1 + 2.0 * (k + 1) * UNIT_ROUNDOFF)
    gamma = (2 * k + 2) * UNIT_ROUNDOFF / (1 - (2 * k + 2) * UNIT_ROUNDOFF)
    largest = float(diagonal.abs().max())
    slack = gamma * trace + UNIT_ROUNDOFF * largest + 4 * k * (2 * (k + 2) + largest) * TINY
    return add_up(shift, slack * (1 + 1e-9))


DENSE_EIGENVALUES_UP_TO = 1200
"""Up to this side the eigenvalue estimate is dense (eigvalsh); above it, a Cholesky factorisation at a tiny
positive shift is tried first (it succeeds when λ_max ≤ 0, as for the solver's strictly feasible multipliers),
then Lanczos: near the solver's optimum the top of the spectrum is a cluster of nearly equal eigenvalues, on
which Lanczos at tolerance 1e-10 ran for minutes (LeNet-300-100 shape, k = 2368)."""


def largest_eigenvalue_bound(matrix: torch.Tensor) -> float:
    """A float ≥ λ_max of the symmetric float64 ``matrix`` (exactly as given), by Cholesky factorisations of
    shifted matrices (:func:`_cholesky_bound`) above an estimate of λ_max; ``math.inf`` if none succeeds."""
    k = matrix.shape[0]
    diagonal = float(matrix.diagonal().abs().max())

    def margin_above(estimate: float) -> float:  # 64k·u times the matrix's scale: a shift above the rounding
        return max(diagonal, abs(estimate), 1e-300) * 64 * k * UNIT_ROUNDOFF

    if k > DENSE_EIGENVALUES_UP_TO:  # λ_max ≤ 0 (up to rounding): the usual case for a solver's multipliers
        found = _cholesky_bound(matrix, margin_above(0.0))
        if found is not None:
            return found
    estimate = float(torch.linalg.eigvalsh(matrix).max()) if k <= DENSE_EIGENVALUES_UP_TO else _lanczos_estimate(matrix)
    margin = margin_above(estimate)
    for _ in range(12):
        found = _cholesky_bound(matrix, estimate + margin)
        if found is not None:
            return found
        margin *= 8
    return math.inf


def _lanczos_estimate(matrix: torch.Tensor) -> float:
    """λ_max estimate of a large symmetric matrix (scipy's Lanczos); only a starting point for the shift."""
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    try:
        values = eigsh(matrix.numpy(), k=1, which="LA", tol=1e-10, maxiter=300, return_eigenvectors=False)
    except ArpackNoConvergence as failure:  # a cluster at the top: Gershgorin's bound is an estimate from above
        values = failure.eigenvalues if len(failure.eigenvalues) else matrix.abs().sum(1)
    return float(values.max())


def verified_eigenvalue(problem: LagrangianProblem, multipliers: Multipliers) -> float:
    """A float μ ≥ λ_max(K) for the *exact* K of the proposition (exact forms Φ, O of the given float matrices,
    the admissible multipliers as given): ``largest_eigenvalue_bound`` of the float K̂ plus a bound on
    ‖K − K̂‖_F (``_matrix_error``: the forms' tracked errors and the rounding of forming K̂), rounded up;
    ``math.inf`` if no bound could be verified (non-finite values, a failing factorisation)."""
    chosen = multipliers.admissible()
    matrix = lagrangian_matrix(problem, chosen)
    if not bool(torch.isfinite(matrix).all()):
        return math.inf
    eigenvalue = largest_eigenvalue_bound(matrix)
    error = _matrix_error(problem, chosen)
    if not (math.isfinite(eigenvalue) and math.isfinite(error)):
        return math.inf
    try:
        return add_up(eigenvalue, error)
    except (OverflowError, ValueError):  # add_up compares exactly (Fraction): an overflow to infinity raises
        return math.inf


def verified_bound(problem: LagrangianProblem, multipliers: Multipliers) -> float:
    """A float ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ in exact arithmetic, from any multipliers (module docstring):
    s·√(t + Σ_b τ_b R_b² + max(0, μ)·R²) with μ = :func:`verified_eigenvalue` ≥ λ_max of the exact K, every
    step rounded up; ``math.inf`` if no bound could be verified."""
    chosen = multipliers.admissible()
    eigenvalue = verified_eigenvalue(problem, chosen)
    if not all(math.isfinite(value) for value in (eigenvalue, chosen.t, *chosen.taus)):
        return math.inf  # huge multipliers or entries: nothing to verify in float64
    try:  # add_up and mul_up are exact comparisons (Fraction): an overflow to infinity raises
        total = chosen.t
        for tau, radius in zip(chosen.taus, problem.radii_squared, strict=True):
            total = add_up(total, mul_up(tau, radius))
        total = add_up(total, mul_up(max(0.0, eigenvalue), problem.radius_squared))
        return mul_up(problem.scale, sqrt_up(max(0.0, total)))
    except (OverflowError, ValueError):
        return math.inf
