"""The exact worst error of a pruned network on the unit ball, for inputs of dimension d ≤ 3.

Both the target F(x) = W_l σ(… σ(W_1 x)) and the pruned network
G̃(x) = g_l(σ(g_{l−1}(… σ(g_1(x))))), g_1(x) = W_1 x + E⁺_1 σ(x) − E⁻_1 σ(−x),
g_i(h) = (W_i + E⁺_i) h for i ≥ 2 (its input h is ≥ 0), are positively homogeneous and piecewise
linear, so the error e(x) = G̃(x) − F(x) is linear, e(x) = M_R x, on each cone R of a finite
partition of R^d, and

    sup_{‖x‖₂ ≤ 1} ‖e(x)‖₂ = max over cones R of max_{x ∈ R, ‖x‖₂ = 1} ‖M_R x‖₂.

:func:`exact_supremum` enumerates that partition — the orthants of x (where σ(x), σ(−x) are
linear), then, layer by layer, the sign of every pre-activation of *both* networks — by cutting
spherical regions (an arc for d = 2, a convex spherical polygon for d = 3) with the hyperplanes
through the origin where a pre-activation changes sign. On each final region the maximum of the
quadratic form xᵀ M_Rᵀ M_R x over the region of the sphere is attained at a vertex, at a
stationary point inside an edge (a 2×2 eigenproblem in the edge's plane), or at an eigenvector
of M_Rᵀ M_R inside the region; all of them are tried. The result is exact up to floating-point
rounding of the vertices (a few ulps), which is why tests compare it to certificates with a
relative margin of 10⁻⁹.

Introduced in chapter 12, *How tight is the certificate* ("where the truth lies").
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .checks import check_layers

__all__ = ["MAX_REGIONS", "ExactSupremum", "exact_supremum"]

MAX_REGIONS = 200_000
"""Refuse (with a message) rather than enumerate more regions than this."""

_TOL = 1e-13


@dataclass(frozen=True)
class ExactSupremum:
    """sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ (``value``), an input ``x`` attaining it, and the number of linear regions."""

    value: float
    x: torch.Tensor
    regions: int


def _check(weights: Sequence[torch.Tensor], plus: Sequence[torch.Tensor], minus: Sequence[torch.Tensor]) -> tuple:
    weights, plus, minus = check_layers(weights, plus, minus)
    d = weights[0].shape[1]
    if d > 3:
        raise ValueError(f"exact_supremum enumerates regions of the sphere for d <= 3 only, got d = {d}; "
                         "use lottolib.adversary.strong_adversary for a lower bound instead")
    return weights, plus, minus, d


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm()


def _split(vertices: list[torch.Tensor], a: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Cut a spherical region (arc or convex polygon, vertices in order) by the plane a·x = 0."""
    values = [float(a @ v) for v in vertices]
    if len(vertices) == 2:  # an arc u → v
        (u, v), (fu, fv) = vertices, values
        cut = _unit(abs(fu) * v + abs(fv) * u)  # the positive combination of u and v with a·cut = 0
        return ([u, cut], [cut, v]) if fu > 0 else ([cut, v], [u, cut])
    positive, negative = [], []
    count = len(vertices)
    for i in range(count):
        u, v, fu, fv = vertices[i], vertices[(i + 1) % count], values[i], values[(i + 1) % count]
        if fu >= 0:
            positive.append(u)
        if fu <= 0:
            negative.append(u)
        if (fu > 0 > fv) or (fu < 0 < fv):
            cut = _unit(abs(fu) * v + abs(fv) * u)
            positive.append(cut)
            negative.append(cut)
    return positive, negative


def _arc_max(quadratic: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> tuple[float, torch.Tensor]:
    """max of xᵀQx over the great-circle arc from u to v (unit vectors, angle < π) and the maximiser."""
    best_value, best_x = float(u @ quadratic @ u), u
    value = float(v @ quadratic @ v)
    if value > best_value:
        best_value, best_x = value, v
    w = v - (u @ v) * u
    if w.norm() <= 1e-15:
        return best_value, best_x
    basis = torch.stack([u, _unit(w)], dim=1)  # (d, 2)
    _, vectors = torch.linalg.eigh(basis.T @ quadratic @ basis)
    for sign in (1.0, -1.0):
        x = basis @ (sign * vectors[:, -1])
        # x on the arc: x = α u + β v with α, β ≥ 0
        coefficients = torch.linalg.lstsq(torch.stack([u, v], dim=1), x.unsqueeze(1)).solution.squeeze(1)
        if bool((coefficients >= -1e-12).all()):
            value = float(x @ quadratic @ x)
            if value > best_value:
                best_value, best_x = value, x
    return best_value, best_x


def _region_max(quadratic: torch.Tensor, vertices: list[torch.Tensor]) -> tuple[float, torch.Tensor]:
    """max of xᵀQx over the region of the sphere spanned by ``vertices`` (d = 1, 2 or 3)."""
    if len(vertices) == 1:
        return float(vertices[0] @ quadratic @ vertices[0]), vertices[0]
    if len(vertices) == 2:
        return _arc_max(quadratic, *vertices)
    best_value, best_x = -1.0, vertices[0]
    count = len(vertices)
    for i in range(count):
        value, x = _arc_max(quadratic, vertices[i], vertices[(i + 1) % count])
        if value > best_value:
            best_value, best_x = value, x
    centre = sum(vertices)
    normals = []
    for i in range(count):
        normal = torch.linalg.cross(vertices[i], vertices[(i + 1) % count])
        normals.append(normal if float(normal @ centre) >= 0 else -normal)
    _, vectors = torch.linalg.eigh(quadratic)
    for j in range(vectors.shape[1]):
        for sign in (1.0, -1.0):
            x = sign * vectors[:, j]
            if all(float(n @ x) >= -1e-12 for n in normals):
                value = float(x @ quadratic @ x)
                if value > best_value:
                    best_value, best_x = value, x
    return best_value, best_x


def _orthants(d: int) -> list[tuple[tuple[float, ...], list[torch.Tensor]]]:
    eye = torch.eye(d, dtype=torch.float64)
    regions = []
    for signs in itertools.product((1.0, -1.0), repeat=d):
        if d == 1:
            vertices = [eye[0] * signs[0]]
        elif d == 2:
            vertices = [eye[0] * signs[0], eye[1] * signs[1]]
        else:
            vertices = [eye[0] * signs[0], eye[1] * signs[1], eye[2] * signs[2]]
        regions.append((signs, vertices))
    return regions


def _relu_cut(regions: list, rows_of) -> list:
    """Cut every region until each row of its pre-activation matrix has one sign on it; apply σ."""
    out: list = []
    stack = list(regions)
    while stack:
        vertices, state = stack.pop()
        pre = rows_of(state)  # (m, d)
        values = torch.stack(vertices) @ pre.T  # (vertices, m)
        scale = pre.norm(dim=1).clamp(min=1e-300)
        mixed = ((values > _TOL * scale).any(dim=0) & (values < -_TOL * scale).any(dim=0)).nonzero()
        if len(mixed) and len(vertices) > 1:
            row = int(mixed[0])
            for part in _split(vertices, pre[row]):
                if len(part) >= len(vertices[:2]) and len(part) >= (3 if len(vertices) > 2 else 2):
                    stack.append((part, state))
            if len(stack) + len(out) > MAX_REGIONS:
                raise ValueError(f"more than {MAX_REGIONS} linear regions: use a smaller target for exact_supremum")
            continue
        active = (values > _TOL * scale).any(dim=0) | ~((values < -_TOL * scale).any(dim=0))
        # a row that is ≈ 0 on the whole region is the same either way; treat it as active
        out.append((vertices, state, active))
    return out


def exact_supremum(
    weights: Sequence[torch.Tensor], plus_errors: Sequence[torch.Tensor], minus_errors: Sequence[torch.Tensor]
) -> ExactSupremum:
    """sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂, exactly (up to rounding), for input dimension d ≤ 3.

    Parameters
    ----------
    weights
        W_1 … W_l, W_i of shape (n_i, n_{i−1}), n_0 = d ≤ 3 (any real entries).
    plus_errors, minus_errors
        E⁺_i, E⁻_i of the same shapes as W_i: the pruned block i computes
        W_i h + E⁺_i σ(h) − E⁻_i σ(−h).

    Returns
    -------
    ExactSupremum
        The supremum, a unit-norm maximiser and the number of linear regions enumerated.

    Raises
    ------
    ValueError
        If the shapes do not fit, d > 3, or the regions exceed :data:`MAX_REGIONS`.
    """
    weights, plus, minus, d = _check(weights, plus_errors, minus_errors)
    regions = []
    for signs, vertices in _orthants(d):
        positive = torch.tensor([s > 0 for s in signs], dtype=torch.float64)
        target = weights[0]  # pre-activations as matrices acting on x
        pruned = weights[0] + plus[0] * positive + minus[0] * (1 - positive)
        regions.append((vertices, (target, pruned)))
    for i in range(1, len(weights)):
        cut = _relu_cut(regions, lambda state: torch.cat(state))
        regions = []
        for vertices, (target, pruned), active in cut:
            n = target.shape[0]
            target_post = target * active[:n].double().unsqueeze(1)
            pruned_post = pruned * active[n:].double().unsqueeze(1)
            regions.append((vertices, (weights[i] @ target_post, (weights[i] + plus[i]) @ pruned_post)))
    best_value, best_x = -1.0, torch.zeros(weights[0].shape[1], dtype=torch.float64)
    for vertices, (target, pruned) in regions:
        difference = pruned - target
        value, x = _region_max(difference.T @ difference, vertices)
        if value > best_value:
            best_value, best_x = value, x
    return ExactSupremum(max(best_value, 0.0) ** 0.5, best_x, len(regions))
