"""The worst error of a pruned network on the unit ball, for inputs of dimension d ≤ 3, enclosed and attained.

Both the target F(x) = W_l σ(… σ(W_1 x)) and the pruned network
G̃(x) = g_l(σ(g_{l−1}(… σ(g_1(x))))), g_1(x) = W_1 x + E⁺_1 σ(x) − E⁻_1 σ(−x),
g_i(h) = (W_i + E⁺_i) h for i ≥ 2 (its input h is ≥ 0), are positively homogeneous and piecewise
linear, so the error e(x) = G̃(x) − F(x) is linear, e(x) = M_R x, on each cone R of a finite
partition of R^d, and

    S = sup_{‖x‖₂ ≤ 1} ‖e(x)‖₂ = max over cones R of max_{x ∈ R, ‖x‖₂ = 1} ‖M_R x‖₂.

:func:`exact_supremum` computes that partition **in exact integer arithmetic**: every float64 is an
integer times a power of two, so each layer's W, E⁺, E⁻ are integer matrices over one power of two.
It starts from the orthants of x and cuts, layer by layer, every cone on which a pre-activation of
*either* network takes both signs by that pre-activation's hyperplane. A cone is a half-line (d = 1),
the cone over an arc (d = 2) or over a convex spherical polygon (d = 3), stored by integer edge
vectors; new edge vectors are cross products of integer normals, so nothing is rounded. On each final
cone M_R and Q_R = M_Rᵀ M_R are exact. Then:

- *candidates* (exact): xᵀQ_R x / xᵀx at the cone's edge vectors, at the stationary points inside its
  sides (roots of a quadratic, to 256 bits) and, for d = 3, at the top eigenvector of Q_R if that lies
  inside (the quotient has no other local maximum on the sphere). Each candidate is a point of the
  cone, so each value is attained; the largest, over all cones, is Λ̂.
- *upper* (proved): Λ = Λ̂ (1 + 2⁻⁴⁰) bounds xᵀQ_R x / xᵀx on every cone. The cone is split into
  simplicial cones R = [r_1 … r_m] (m ≤ 3), and B = Rᵀ(Λ I − Q_R)R must be copositive (yᵀBy ≥ 0 for
  y ≥ 0), for m ≤ 3 a closed-form test (Hadeler 1983) on integers with integer square-root bounds.
  A cone that fails is retried with a larger margin, and at worst bounded by trace Q_R ≥ λ_max(Q_R).
- *value* (exact): the best candidate, rounded to a float x with ‖x‖₂ ≤ 1 (and, should a region be
  thinner than a float can resolve, the best of its neighbours a few ulps away), is pushed through
  both networks in rationals, and ``value`` = ‖e(x)‖₂ rounded down.

So ``value`` ≤ S ≤ ``upper`` always, ``value`` is attained at ``x``, and in practice
``upper`` / ``value`` − 1 is about 10⁻¹²; the returned numbers show when it is not.

Introduced in chapter 12, *How tight is the certificate* ("where the truth lies").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from .checks import check_layers

__all__ = ["MAX_REGIONS", "ExactSupremum", "exact_supremum"]

MAX_REGIONS = 200_000
"""Refuse (with a message) rather than enumerate more regions than this."""

_MARGINS = (Fraction(1, 2**40), Fraction(1, 2**30), Fraction(1, 2**20), Fraction(1, 2**10), Fraction(1))
"""Relative margins tried in turn when proving the upper bound on a cone."""

_ROOT_BITS = 256
"""Bits after the binary point of the integer square-root bounds."""

Vector = tuple[int, ...]
Matrix = list[list[int]]


@dataclass(frozen=True)
class ExactSupremum:
    """The exact supremum S = sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂, enclosed: ``value`` ≤ S ≤ ``upper``.

    ``value`` is ‖G̃(x) − F(x)‖₂ at the returned float64 ``x`` (‖x‖₂ ≤ 1), computed in exact rationals
    and rounded down, so it is attained; ``upper`` is a float proved ≥ S; ``regions`` counts the
    linear regions.
    """

    value: float
    upper: float
    x: torch.Tensor
    regions: int


def _check(weights: Sequence[torch.Tensor], plus: Sequence[torch.Tensor], minus: Sequence[torch.Tensor]) -> tuple:
    weights, plus, minus = check_layers(weights, plus, minus)
    d = weights[0].shape[1]
    if d > 3:
        raise ValueError(f"exact_supremum enumerates regions of the sphere for d <= 3 only, got d = {d}; "
                         "use lottolib.adversary.strong_adversary for a lower bound instead")
    return weights, plus, minus, d


# ----------------------------------------------------------------------------------------------
# Integer vectors and matrices


def _integer_layer(*matrices: torch.Tensor) -> tuple[list[Matrix], int]:
    """Integer matrices N_j and one power of two D with matrices[j] = N_j / D exactly (every float64 is dyadic)."""
    fractions = [[[Fraction(v) for v in row] for row in m.tolist()] for m in matrices]
    denominator = max((f.denominator for m in fractions for row in m for f in row), default=1)
    return [[[f.numerator * (denominator // f.denominator) for f in row] for row in m] for m in fractions], denominator


def _product(a: Matrix, b: Matrix) -> Matrix:
    columns = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, column, strict=True)) for column in columns] for row in a]


def _dot(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _primitive(vector: Sequence[int]) -> Vector:
    """``vector`` divided by the gcd of its entries (0 stays 0)."""
    divisor = math.gcd(*vector)
    return tuple(v // divisor for v in vector) if divisor else tuple(vector)


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _negated(vector: Vector) -> Vector:
    return tuple(-v for v in vector)


def _float_ray(vector: Sequence[int]) -> tuple[np.ndarray, int]:
    """(f, shift) with f a float64 array and vector ≈ f · 2^shift (the integers may exceed the float range)."""
    shift = max(0, max(abs(v).bit_length() for v in vector) - 60)
    return np.array([float(v >> shift) for v in vector]), shift  # floor division: a relative error ≤ 2^−59


def _isqrt_bounds(value: int) -> tuple[int, int]:
    """(lo, hi) with lo ≤ √value · 2^256 ≤ hi = lo + 1 (value ≥ 0)."""
    root = math.isqrt(value << (2 * _ROOT_BITS))
    return root, root + 1


# ----------------------------------------------------------------------------------------------
# Cones: rays (integer vectors) in order, and for d = 3 the normal of each side (ray i → ray i + 1)


@dataclass(frozen=True)
class _Cone:
    rays: tuple[Vector, ...]
    normals: tuple[Vector, ...] | None = None  # d = 3 only


def _orthants(d: int) -> list[tuple[tuple[int, ...], _Cone]]:
    cones = []
    for signs in itertools.product((1, -1), repeat=d):
        rays = tuple(tuple(signs[i] if j == i else 0 for j in range(d)) for i in range(d))
        # d = 3: the side from ray i to ray i + 1 lies in the plane x_{i+2} = 0
        normals = tuple(tuple(int(j == (i + 2) % 3) for j in range(3)) for i in range(3)) if d == 3 else None
        cones.append((signs, _Cone(rays, normals)))
    return cones


def _crossing(direction: Vector, u: Vector, v: Vector, fu: int, fv: int) -> Vector:
    """±direction, whichever is along |f(v)| u + |f(u)| v, where the side u → v meets the plane (f(u) f(v) < 0)."""
    point = [abs(fv) * a + abs(fu) * b for a, b in zip(u, v, strict=True)]
    return _primitive(direction if _dot(direction, point) > 0 else _negated(direction))


def _clip(cone: _Cone, plane: Vector, values: list[int], side: int) -> _Cone:
    """The part of a polygonal cone (d = 3) where side·(plane · x) ≥ 0 (Sutherland–Hodgman, keeping side normals)."""
    assert cone.normals is not None
    rays, normals = [], []
    count = len(cone.rays)
    for i in range(count):
        u, v, normal = cone.rays[i], cone.rays[(i + 1) % count], cone.normals[i]
        fu, fv = side * values[i], side * values[(i + 1) % count]
        if fu > 0:
            rays.append(u)
            normals.append(normal)
            if fv < 0:
                rays.append(_crossing(_cross(plane, normal), u, v, fu, fv))
                normals.append(plane)
        elif fu == 0:
            rays.append(u)
            normals.append(normal if fv > 0 else plane)
        elif fv > 0:
            rays.append(_crossing(_cross(plane, normal), u, v, fu, fv))
            normals.append(normal)
    return _Cone(tuple(rays), tuple(normals))


def _cut(cone: _Cone, plane: Vector) -> list[_Cone] | None:
    """The two parts of ``cone`` on either side of the hyperplane plane · x = 0, or None if it does not cross it."""
    values = [_dot(plane, ray) for ray in cone.rays]
    if not (any(v > 0 for v in values) and any(v < 0 for v in values)):
        return None
    if cone.normals is None:  # d = 2: an arc u → v
        (u, v), (fu, fv) = cone.rays, values
        crossing = _crossing((-plane[1], plane[0]), u, v, fu, fv)
        return [_Cone((u, crossing)), _Cone((crossing, v))]
    return [_clip(cone, plane, values, 1), _clip(cone, plane, values, -1)]


def _signed_cones(regions: list, rows_of: Callable) -> list:
    """Cut every (cone, state) until each pre-activation row is ≥ 0 or ≤ 0 on the whole cone; add the 0/1
    pattern of the rows (active where ≥ 0: a row that is 0 on a cone gives 0 either way)."""
    out, stack = [], list(regions)
    while stack:
        cone, state = stack.pop()
        rows = [_primitive(row) for row in rows_of(state)]
        for row in rows:
            parts = _cut(cone, row)
            if parts:
                stack.extend((part, state) for part in parts)
                break
        else:
            out.append((cone, state, [not any(_dot(row, ray) < 0 for ray in cone.rays) for row in rows]))
        if len(stack) + len(out) > MAX_REGIONS:
            raise ValueError(f"more than {MAX_REGIONS} linear regions: use a smaller target for exact_supremum")
    return out


# ----------------------------------------------------------------------------------------------
# The maximum of xᵀQx / xᵀx on a cone: the best of a few points of the cone, exactly; then proved


def _form(quadratic: Matrix, x: Sequence[int], y: Sequence[int]) -> int:
    return _dot(x, [_dot(row, y) for row in quadratic])


def _side_candidates(quadratic: Matrix, u: Vector, v: Vector, normal: Vector | None) -> list[Vector]:
    """Integer points of the arc u → v (angle ≤ π/2: both lie in one orthant) where xᵀQx / xᵀx is stationary.

    On x = e₁ + τ e₂ (e₁ = u, e₂ ⊥ u in the arc's plane, towards v, both integer vectors) the quotient is
    (A₁₁ + 2A₁₂τ + A₂₂τ²) / (g₁ + g₂τ²), A_ij = e_iᵀQe_j, g_i = ‖e_i‖², and its derivative vanishes where
    a τ² + b τ + c = 0 with a = −A₁₂g₂, b = A₂₂g₁ − A₁₁g₂, c = A₁₂g₁. Each root (to 256 bits) is kept if
    0 < τ < τ_v, the end v, and returned as the integer point (denominator of τ) e₁ + (numerator) e₂.
    """
    across = (-u[1], u[0]) if normal is None else _cross(normal, u)
    if _dot(across, v) < 0:
        across = _negated(across)
    a11, a12, a22 = _form(quadratic, u, u), _form(quadratic, u, across), _form(quadratic, across, across)
    if a12 == 0:
        return []  # the quotient is monotone (or constant) along the arc: its ends are the candidates
    g1, g2 = _dot(u, u), _dot(across, across)
    a, b, c = -a12 * g2, a22 * g1 - a11 * g2, a12 * g1
    root = _isqrt_bounds(b * b - 4 * a * c)[0]  # ≈ √(b² − 4ac) · 2^256
    q = -((b << _ROOT_BITS) + root) if b >= 0 else -((b << _ROOT_BITS) - root)  # 2q · 2^256, no cancellation
    roots = [(q, 2 * a << _ROOT_BITS)] + ([(2 * c << _ROOT_BITS, q)] if q else [])  # τ = numerator / denominator
    along, out = _dot(v, u), _dot(v, across)  # v ∝ (along / g1) e₁ + (out / g2) e₂
    points = []
    for numerator, denominator in roots:
        if denominator < 0:
            numerator, denominator = -numerator, -denominator
        if numerator > 0 and (along == 0 or numerator * along * g2 < out * g1 * denominator):
            points.append(_primitive([denominator * p + numerator * r for p, r in zip(u, across, strict=True)]))
    return points


def _interior_candidates(quadratic: Matrix, cone: _Cone) -> list[Vector]:
    """d = 3: the integer point of the cone at (or next to) the top eigenvector of Q, if that lies inside.

    On the sphere xᵀQx/xᵀx has no local maximum but the top eigenvectors, so an interior maximum of a
    cone is there. The eigenvector is computed in floats (Q scaled by a power of two) and written as a
    non-negative combination of three rays of the cone, so the point is exactly in the cone."""
    largest = max(abs(v) for row in quadratic for v in row)
    if largest == 0:
        return []
    shift = max(0, largest.bit_length() - 60)
    _, vectors = np.linalg.eigh(np.array([[float(v >> shift) for v in row] for row in quadratic]))
    rays, points = cone.rays, []
    for direction in (vectors[:, -1], -vectors[:, -1]):
        for i in range(1, len(rays) - 1):
            simplex = (rays[0], rays[i], rays[i + 1])
            floats = [_float_ray(r) for r in simplex]
            units = np.stack([f / np.linalg.norm(f) for f, _ in floats], axis=1)
            if abs(np.linalg.det(units)) < 1e-12:
                continue
            weights = np.linalg.solve(units, direction)  # direction = Σ w_j r_j / ‖r_j‖
            if (weights >= -1e-9).all():
                top = max(s for _, s in floats)
                coefficients = [Fraction(max(float(w), 0.0) / float(np.linalg.norm(f))) * (1 << (top - s))
                                for w, (f, s) in zip(weights, floats, strict=True)]
                common = math.lcm(*(c.denominator for c in coefficients))
                scaled = [c.numerator * (common // c.denominator) for c in coefficients]
                points.append(_primitive([_dot(scaled, column) for column in zip(*simplex, strict=True)]))
                break
    return [point for point in points if any(point)]


def _cone_candidate(quadratic: Matrix, cone: _Cone) -> tuple[Fraction, Vector]:
    """The best of the rays, the sides' stationary points and the interior candidate: a value of xᵀQx / xᵀx
    attained in the cone (exact) and the integer point of the cone that attains it."""
    rays, count = cone.rays, len(cone.rays)
    points = list(rays)
    if count == 2 and cone.normals is None:
        points += _side_candidates(quadratic, rays[0], rays[1], None)
    elif cone.normals is not None:
        for i in range(count):
            points += _side_candidates(quadratic, rays[i], rays[(i + 1) % count], cone.normals[i])
        points += _interior_candidates(quadratic, cone)
    return max(((Fraction(_form(quadratic, x, x), _dot(x, x)), x) for x in points), key=lambda pair: pair[0])


def _copositive(matrix: Sequence[Sequence[int | Fraction]]) -> bool:
    """Proved: yᵀBy ≥ 0 for every y ≥ 0, for a symmetric B of size 1, 2 or 3 (integer or rational entries).
    False when B is not copositive and, for size 3, when the square-root bounds cannot decide (rare).

    Size 3 by Hadeler's criterion (On copositive matrices, Linear Algebra Appl. 49, 1983): b_ii ≥ 0,
    b̄_ij = b_ij + √(b_ii b_jj) ≥ 0, and √(b₁₁b₂₂b₃₃) + b₁₂√b₃₃ + b₁₃√b₂₂ + b₂₃√b₁₁ + √(2 b̄₁₂ b̄₁₃ b̄₂₃) ≥ 0.
    """
    size = len(matrix)
    common = math.lcm(*(Fraction(v).denominator for row in matrix for v in row))
    b = [[int(Fraction(v) * common) for v in row] for row in matrix]  # a positive multiple: same verdict
    if any(b[i][i] < 0 for i in range(size)):
        return False
    pairs = list(itertools.combinations(range(size), 2))
    if any(b[i][j] < 0 and b[i][j] ** 2 > b[i][i] * b[j][j] for i, j in pairs):  # b̄_ij < 0, exactly
        return False
    if size < 3:
        return True
    one = 1 << _ROOT_BITS  # below, every quantity is in units of 2^−256
    roots = [_isqrt_bounds(b[i][i]) for i in range(3)]
    bar = [max(b[i][j] * one + _isqrt_bounds(b[i][i] * b[j][j])[0], 0) for i, j in pairs]  # lower bounds, ≥ 0
    total = _isqrt_bounds(b[0][0] * b[1][1] * b[2][2])[0]
    for (i, j), k in zip(pairs, (2, 1, 0), strict=True):
        total += b[i][j] * (roots[k][0] if b[i][j] >= 0 else roots[k][1])
    total += math.isqrt((2 * bar[0] * bar[1] * bar[2]) >> _ROOT_BITS)  # √(2 b̄b̄b̄) in units of 2^−256, rounded down
    return total >= 0


def _bounded_by(level: Fraction, quadratic: Matrix, cone: _Cone) -> bool:
    """Proved: xᵀQx ≤ level · xᵀx for every x in the cone."""
    rays = cone.rays
    simplices = [rays] if len(rays) <= 2 else [(rays[0], rays[i], rays[i + 1]) for i in range(1, len(rays) - 1)]
    for simplex in simplices:
        form = [[level.numerator * _dot(r, s) - level.denominator * _form(quadratic, r, s) for s in simplex]
                for r in simplex]
        if not _copositive(form):
            return False
    return True


def _rounded_up(value: Fraction, bits: int = 64) -> Fraction:
    """A dyadic rational ≥ value with about ``bits`` significant bits (keeps the integers of the tests small)."""
    if value <= 0:
        return Fraction(0)
    power = Fraction(2) ** (bits - (value.numerator.bit_length() - value.denominator.bit_length()))
    return math.ceil(value * power) / power


def _proved_level(estimate: Fraction, quadratic: Matrix, cone: _Cone) -> Fraction:
    """A rational ≥ max xᵀQx / xᵀx over the cone: the estimate with the first margin that can be proved,
    else trace Q (≥ the largest eigenvalue of the positive semidefinite Q)."""
    for margin in _MARGINS:
        level = _rounded_up(estimate * (1 + margin))
        if _bounded_by(level, quadratic, cone):
            return level
    return Fraction(sum(quadratic[i][i] for i in range(len(quadratic))))


# ----------------------------------------------------------------------------------------------
# Exact evaluation at a float point, and rounding


def _exact_error_squared(layers: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], x: Sequence[float]
                         ) -> Fraction:
    """‖G̃(x) − F(x)‖₂² in exact rationals."""
    def apply(matrix: list[list[Fraction]], h: list[Fraction]) -> list[Fraction]:
        return [sum((a * b for a, b in zip(row, h, strict=True)), Fraction(0)) for row in matrix]

    zero = Fraction(0)
    target = pruned = [Fraction(v) for v in x]
    for i, group in enumerate(layers):
        w, p, m = ([[Fraction(v) for v in row] for row in matrix.tolist()] for matrix in group)
        positive, negative = [max(v, zero) for v in pruned], [max(-v, zero) for v in pruned]
        pruned = [a + b - c for a, b, c in zip(apply(w, pruned), apply(p, positive), apply(m, negative), strict=True)]
        target = apply(w, target)
        if i < len(layers) - 1:
            pruned, target = [max(v, zero) for v in pruned], [max(v, zero) for v in target]
    return sum(((a - b) ** 2 for a, b in zip(pruned, target, strict=True)), zero)


def _sqrt_near(value: Fraction) -> float:
    """√value to a few ulps, for any value ≥ 0 (also beyond the float range: scaled by a power of four first)."""
    if value == 0:
        return 0.0
    half = (value.numerator.bit_length() - value.denominator.bit_length()) // 2
    return math.ldexp(math.sqrt(float(value / Fraction(4) ** half)), half)


def _sqrt_down(value: Fraction) -> float:
    """The largest float ≤ √value."""
    root = _sqrt_near(value)
    while Fraction(root) ** 2 > value:
        root = math.nextafter(root, 0.0)
    while Fraction(math.nextafter(root, math.inf)) ** 2 <= value:
        root = math.nextafter(root, math.inf)
    return root


def _sqrt_up(value: Fraction) -> float:
    """The smallest float ≥ √value."""
    root = _sqrt_near(value)
    while Fraction(root) ** 2 < value:
        root = math.nextafter(root, math.inf)
    while root > 0 and Fraction(math.nextafter(root, 0.0)) ** 2 >= value:
        root = math.nextafter(root, 0.0)
    return root


def _float_points(x: Sequence[int]) -> list[list[float]]:
    """Float vectors of norm ≤ 1 (checked in rationals) along the integer direction x: x/‖x‖ (1 − 2⁻⁵⁰) rounded,
    then that point moved by up to 3 ulps in one coordinate. A worst input on a region thinner than a
    float's resolution (errors ≲ 10⁻¹⁶ of the weights) may be missed by the first and hit by a neighbour."""
    floats, _ = _float_ray(x)
    start = [float(v) for v in floats / np.linalg.norm(floats) * (1 - 2.0**-50)]
    points = [start]
    for j, value in enumerate(start):
        for steps in (-3, -2, -1, 1, 2, 3):
            moved = list(start)
            moved[j] = value + steps * math.ulp(value)
            points.append(moved)
    return [point for point in points if sum(Fraction(v) ** 2 for v in point) <= 1]


def exact_supremum(
    weights: Sequence[torch.Tensor], plus_errors: Sequence[torch.Tensor], minus_errors: Sequence[torch.Tensor]
) -> ExactSupremum:
    """sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ for input dimension d ≤ 3, as a verified enclosure.

    Parameters
    ----------
    weights
        W_1 … W_l, W_i of shape (n_i, n_{i−1}), n_0 = d ≤ 3 (any real entries).
    plus_errors, minus_errors
        E⁺_i, E⁻_i of the same shapes as W_i: the pruned block i computes
        W_i h + E⁺_i σ(h) − E⁻_i σ(−h). Every float is read as the rational it is.

    Returns
    -------
    ExactSupremum
        ``value`` ≤ the supremum ≤ ``upper``: ``value`` is the error at the returned ``x`` (‖x‖₂ ≤ 1),
        rounded down, and ``upper`` is proved (module docstring); and the number of linear regions.

    Raises
    ------
    ValueError
        If the shapes do not fit, d > 3, or the regions exceed :data:`MAX_REGIONS`.
    """
    weights, plus, minus, d = _check(weights, plus_errors, minus_errors)
    integer = [_integer_layer(*group) for group in zip(weights, plus, minus, strict=True)]
    layers = [matrices for matrices, _ in integer]  # layer i is D_i times (W_i, E⁺_i, E⁻_i)
    unit = math.prod(denominator for _, denominator in integer) ** 2  # so Q below is `unit` times the true one
    regions = []
    for signs, cone in _orthants(d):
        # on this orthant g_1(x) = (W_1 + E⁺_1 D + E⁻_1 (I − D)) x, D = diag(x_j > 0)
        w, p, m = layers[0]
        pruned = [[a + (b if s > 0 else c) for a, b, c, s in zip(rw, rp, rm, signs, strict=True)]
                  for rw, rp, rm in zip(w, p, m, strict=True)]
        regions.append((cone, (w, pruned)))
    for w, p, _ in layers[1:]:
        later = [[a + b for a, b in zip(rw, rp, strict=True)] for rw, rp in zip(w, p, strict=True)]  # W + E⁺
        following = []
        for cone, (target, pruned), active in _signed_cones(regions, lambda state: [*state[0], *state[1]]):
            n = len(target)
            target_post = [row if on else [0] * d for row, on in zip(target, active[:n], strict=True)]
            pruned_post = [row if on else [0] * d for row, on in zip(pruned, active[n:], strict=True)]
            following.append((cone, (_product(w, target_post), _product(later, pruned_post))))
        regions = following
    cones = []
    for cone, (target, pruned) in regions:
        difference = [[a - b for a, b in zip(rp, rt, strict=True)] for rp, rt in zip(pruned, target, strict=True)]
        cones.append((cone, _product([list(column) for column in zip(*difference, strict=True)], difference)))
    candidates = [_cone_candidate(quadratic, cone) for cone, quadratic in cones]
    level, best = max(candidates, key=lambda pair: pair[0])
    upper_squared = max(_proved_level(level, quadratic, cone) for cone, quadratic in cones) / unit
    attained, x = Fraction(-1), [0.0] * d
    for point in _float_points(best):
        value = _exact_error_squared(list(zip(weights, plus, minus, strict=True)), point)
        if value > attained:
            attained, x = value, point
        if value * unit >= level * (1 - Fraction(1, 2**40)):
            break  # the usual case: the first point attains the candidate's value up to its rounding
    if attained > upper_squared:
        raise AssertionError("exact_supremum: the error at x exceeds the proved upper bound")  # a library bug
    return ExactSupremum(_sqrt_down(attained), _sqrt_up(upper_squared), torch.tensor(x, dtype=torch.float64),
                         len(cones))

