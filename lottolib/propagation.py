"""A certificate for deep pruned networks that does not loosen with depth: a verified Lagrangian bound.

Setting (chapter 5, *Deep networks*). Target F(x) = W_l σ(W_{l−1} ⋯ σ(W_1 x)); pruned network
G̃(x) = g_l(σ(g_{l−1}(⋯ σ(g_1(x))))), with g_1(x) = W_1 x + E⁺_1 σ(x) − E⁻_1 σ(−x) and, for i ≥ 2,
g_i(h) = (W_i + E⁺_i) h (its input is ≥ 0, so only E⁺_i acts). We bound
sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂.

**Variables.** For an input x write p = σ(x), q = σ(−x) (so x = p − q), h_i = σ(z_i) for the
target's pre-activations z_1 = W_1 x, z_i = W_i h_{i−1}, and g_i = σ(z̃_i) for the pruned
network's, z̃_1 = g_1(x), z̃_i = (W_i + E⁺_i) g_{i−1}. We use the coordinates
w = (p, q, h_1, δ_1, …, h_{l−1}, δ_{l−1}) with δ_i = (g_i − h_i)/s for a power of two s (so the
coordinates of the error are of order 1). The error is e = s·O w for a matrix O, and every
"real" w satisfies, with the linear *forms* f(w) listed in the rows of a matrix Φ —
p, q, h_i, r_i = h_i − z_i, g_i = h_i + s δ_i, and s̃_i = g_i − z̃_i, all ≥ 0 —

  (a) f_a(w) f_b(w) ≥ 0 for every pair of forms,  (b) f_a(w) f_b(w) = 0 for the complementary
  pairs (p_j, q_j), (h_{i,j}, r_{i,j}), (g_{i,j}, s̃_{i,j}) (a ReLU's output or its slack is 0),
  (c) ‖p‖² + ‖q‖² = ‖x‖² ≤ 1 and (d) ‖w‖² ≤ R², R² = 1 + Σ_i (A_i² + (Δ_i/s)²), since
  ‖h_i‖ ≤ ‖z_i‖ ≤ A_i = Π_{j≤i}‖W_j‖₂ and ‖g_i − h_i‖ ≤ ‖z̃_i − z_i‖ ≤ Δ_i (chapter 5's recursion).

**The bound (weak Lagrangian duality, the S-procedure).** For any symmetric Y with Y_ab ≥ 0 off
the complementary pairs (any sign on them) and any real t, let K = OᵀO + ΦᵀYΦ − t·C (C the
identity on the (p, q) block) and τ = max(0, λ_max(K)). Then for every real w with ‖x‖ = 1,

  ‖e‖²/s² = wᵀOᵀOw ≤ wᵀOᵀOw + Σ_ab Y_ab f_a f_b = wᵀKw + t ≤ t + τ‖w‖² ≤ t + τR²,

and the error is positively homogeneous in x, so the same holds on the whole ball. Every choice
of (Y, t) is sound; a good one comes from the doubly non-negative (DNN) semidefinite relaxation
of the same constraints, whose dual variables are exactly such a Y. The relaxation is solved
numerically (cvxpy + Clarabel); its output is *not trusted*: the bound is recomputed from Y
with every rounding error bounded (``_verified_lambda_max``), and the result is never above
the recursion's bound (:func:`recursion_certificate`), which is returned (with a note saying why) when
the problem is larger than ``max_size``, when a scaled quantity would leave float64's normal range
(tiny or huge errors: see ``_build``), or when the solver fails (then a ``RuntimeWarning`` says so).
Without cvxpy or Clarabel the relaxation cannot be solved: :func:`tight_certificate_report` raises
``ModuleNotFoundError`` rather than return the recursion in its place.

Cost: the semidefinite program has one matrix variable of side k = 2d + 2Σ_{i<l} n_i; an
interior-point solve grows like k⁶ (measured: about 1 s at k = 30, 15 s at k = 50, 80 s at
k = 70, 220 s at k = 90 on one core). It is solved when k ≤ ``max_size`` (default 60);
``max_size`` above :data:`LARGEST_MAX_SIZE` is refused (such a solve would run for hours).

**Larger networks: the structured solver.** Above both ``max_size`` and :data:`DEFAULT_MAX_SIZE`, up to
``structured_max_size`` (default :data:`DEFAULT_STRUCTURED_MAX_SIZE`), the same proposition is used with
multipliers on a *pattern* of pairs only (the complementary pairs, the other pairs of forms of each ReLU
unit, then cutting planes), chosen by a structured interior-point method within a wall-clock budget
``seconds`` (:mod:`lottolib.interior_point`, cost per iteration about k³ + m²k instead of k⁶, no optional
dependency), with one τ_b per coordinate block instead of one radius R. Its forms are built with an
entrywise bound on their distance to the exact forms (every rounding, subnormal results included:
:func:`lottolib.relaxation.network_problem`), and :func:`lottolib.relaxation.verified_bound` adds the
effect of those errors, of forming K and of the eigenvalue bound (a floating-point Cholesky factorisation,
Higham's Theorem 10.3), every step rounded up; a non-finite quantity gives no bound. The result is again
never above the recursion. :func:`tight_certificate_of` does the same for a construction (plain, residual,
convolutional network, or one layer), against the construction's own certificate.

Introduced in chapter 12, *How tight is the certificate*, where the proof is.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from .bounds import UNIT_ROUNDOFF, add_up, certificate, mul_up, power_of_two_at_least, spectral_norm_bound
from .checks import as_matrix, check_layers, check_nonnegative_int, check_positive_int
from .interior_point import cutting_planes, solve_restricted
from .memory import format_bytes, memory_limit
from .relaxation import (
    TINY,
    LagrangianProblem,
    divide_up,
    mul_up_or_inf,
    network_problem,
    residual_problem,
    sqrt_up,
    verified_bound,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_SECONDS",
    "DEFAULT_STRUCTURED_MAX_SIZE",
    "LARGEST_MAX_SIZE",
    "CertificateReport",
    "recursion_certificate",
    "sqrt_up",
    "tight_certificate",
    "tight_certificate_of",
    "tight_certificate_report",
]

DEFAULT_MAX_SIZE = 60
"""Largest side k of the semidefinite program solved by default (above it, the recursion's bound)."""

LARGEST_MAX_SIZE = 120
"""Largest ``max_size`` accepted: the interior-point solve grows like k⁶ (about 220 s at k = 90)."""

DEFAULT_STRUCTURED_MAX_SIZE = 3000
"""Largest k for which the structured solver is attempted by default (within the memory limit)."""

DEFAULT_SECONDS = 30.0
"""Default wall-clock budget of the structured solver (the verification of its last round comes on top)."""

SINGLE_THREAD_SIZE = 1000
"""Below this k the structured solver runs on one torch thread (small matrices gain nothing from threads,
and on a loaded machine waiting threads cost more than they give); the caller's setting is restored."""

LARGEST_PATTERN = 5000
"""Cutting planes stop at this many multipliers N: the Schur matrix's Cholesky factorisation costs N³/3 per
iteration (about 15 s at N = 5000 on one core) and its assembly about 8N² floats of memory."""

STALE_ROUNDS = 3
"""The structured solver's cutting-plane rounds stop after this many rounds in a row without a 0.1 % gain."""

def _etas(plus: list[torch.Tensor], minus: list[torch.Tensor]) -> list[float]:
    return [spectral_norm_bound(torch.cat([p, m], dim=1)) for p, m in zip(plus, minus, strict=True)]


def _checked(weights: Sequence[object], plus_errors: Sequence[object],
             minus_errors: Sequence[object]) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Every matrix as a non-empty, real, finite float64 CPU matrix (:func:`~lottolib.checks.as_matrix`:
    complex, boolean, string, empty and meta-device values are refused), then the shapes."""
    lists = []
    for name, values in (("W", weights), ("E+", plus_errors), ("E-", minus_errors)):
        if isinstance(values, (str, bytes, torch.Tensor)) or not isinstance(values, Sequence):
            raise TypeError(f"{name} must be a list of matrices, one per layer, got {type(values).__name__}")
        lists.append([as_matrix(value, f"{name}_{i + 1}") for i, value in enumerate(values)])
    return check_layers(*lists)


def _overflow_message(what: str) -> str:
    return (f"{what} overflows float64: the matrices are too large (the spectral norms multiplied over the layers "
            "exceed 1e308); rescale the network (a ReLU network is positively homogeneous: divide each W_i and its "
            "E_i by a power of two c_i, and multiply the bound by the product of the c_i)")


def recursion_certificate(weights: Sequence[object], plus_errors: Sequence[object],
                          minus_errors: Sequence[object]) -> float:
    """The recursion's certificate Δ_l (chapter 5) from the matrices: ‖W_i‖₂ and η_i = ‖[E⁺_i | E⁻_i]‖₂ bounded
    with :func:`~lottolib.bounds.spectral_norm_bound`, the recursion rounded up.

    Returns a float ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂.

    Raises
    ------
    TypeError, ValueError
        For matrices that are not real, finite, non-empty CPU matrices of matching shapes, or a bound
        beyond float64's range.
    """
    weights, plus, minus = _checked(weights, plus_errors, minus_errors)
    return _recursion(weights, plus, minus)


def _recursion(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor]) -> float:
    try:
        value = certificate([spectral_norm_bound(w) for w in weights], _etas(plus, minus))
    except OverflowError:  # an intermediate product overflowed to infinity
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(_overflow_message("the recursion's bound"))
    return value


@dataclass(frozen=True)
class _Problem:
    forms: torch.Tensor       # Φ (m, k)
    objective: torch.Tensor   # O (n_l, k): e = scale · O w
    input_block: int          # C = identity on the first input_block coordinates
    complementary: torch.Tensor  # (m, m) bool: pairs whose product is 0
    radius_squared: float     # R² ≥ ‖w‖² (rounded up)
    scale: float              # s, a power of two


def _scales_exactly(values: torch.Tensor, factor: float) -> bool:
    """Whether ``values · factor`` is exact in float64 for every entry (``factor`` a power of two).

    A product by a power of two is exact unless it overflows or underflows; rounded, it would not
    come back to ``values`` when divided by ``factor`` (that division is exact for the rounded
    product, which then lies in the normal range or is 0)."""
    scaled = values * factor
    return bool(torch.isfinite(scaled).all()) and bool((scaled / factor == values).all())


def _build(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor]) -> _Problem | None:
    """The forms Φ, the objective O and R² of the module docstring, or None when some scaled entry
    (s·(W_i + E⁺_i), s·W_l, s·E⁺_l, E⁺_l / s) would not be exact in float64 (tiny or huge errors):
    the rounding analysis of :func:`_verified_lambda_max` needs every entry of Φ and O to be the
    network's entry rounded at most once (an addition W + E), and a product that underflows
    (e.g. s ≈ 1e-322 times 0.09) breaks that."""
    norms = [spectral_norm_bound(w) for w in weights]
    etas = _etas(plus, minus)
    reach, gaps = [1.0], [0.0]  # A_i, Δ_i, rounded up
    for i in range(len(weights)):
        gaps.append(certificate(norms[: i + 1], etas[: i + 1]))
        reach.append(mul_up_or_inf(reach[-1], norms[i]))
    scale = power_of_two_at_least(gaps[-1])  # Δ_l > 0, the recursion's bound
    if len(weights) == 1:
        scaled = [(plus[0], 1.0 / scale), (minus[0], 1.0 / scale)]
    else:
        scaled = [(w + e, scale) for w, e in zip(weights[1:-1], plus[1:-1], strict=True)]
        scaled += [(weights[-1], scale), (plus[-1], scale), (plus[-1], 1.0 / scale)]
    if not all(_scales_exactly(matrix, factor) for matrix, factor in scaled) or not math.isfinite(reach[-1]):
        return None
    d = weights[0].shape[1]
    hidden = [w.shape[0] for w in weights[:-1]]
    k = 2 * d + 2 * sum(hidden)
    dtype = torch.float64

    def coordinates(start: int, count: int) -> torch.Tensor:
        rows = torch.zeros(count, k, dtype=dtype)
        rows[:, start:start + count] = torch.eye(count, dtype=dtype)
        return rows

    p, q = coordinates(0, d), coordinates(d, d)
    forms, pairs = [p, q], [(0, d, d)]
    count, offset = 2 * d, 2 * d
    radius = 1.0
    previous_h = previous_g = torch.zeros(0, dtype=torch.float64)  # set by the first layer
    for i, n in enumerate(hidden):
        h, delta = coordinates(offset, n), coordinates(offset + n, n)
        offset += 2 * n
        g = h + scale * delta  # exact: scale is a power of two, on columns of its own
        if i == 0:
            z = weights[0] @ (p - q)  # entries ±W_1: exact
            z_pruned = torch.cat([weights[0] + plus[0], -(weights[0] + minus[0])], dim=1)
            z_pruned = torch.nn.functional.pad(z_pruned, (0, k - 2 * d))
        else:
            z = weights[i] @ previous_h  # a copy of W_i's entries: exact
            # entries W+E and s(W+E): the sum rounded once, the product by s exact (checked above)
            z_pruned = (weights[i] + plus[i]) @ previous_g
        forms += [h, h - z, g, g - z_pruned]
        pairs += [(count, count + n, n), (count + 2 * n, count + 3 * n, n)]
        count += 4 * n
        previous_h, previous_g = h, g
        ratio = divide_up(gaps[i + 1], scale)
        terms = (radius, mul_up_or_inf(reach[i + 1], reach[i + 1]), mul_up_or_inf(ratio, ratio))
        if not all(math.isfinite(term) for term in terms) or sum(terms) == math.inf:
            return None  # ‖w‖² beyond float64 (activations of order 1e154 and more): no problem
        radius = add_up(radius, add_up(terms[1], terms[2]))
    if len(weights) == 1:
        objective = torch.cat([plus[0], -minus[0]], dim=1) / scale  # exact (checked above)
    else:  # entries E/s (exact) and W + E (rounded once): the products by s and 1/s are exact
        objective = weights[-1] @ (previous_g - previous_h) / scale + plus[-1] @ previous_g / scale
    if not (math.isfinite(radius) and bool(torch.isfinite(objective).all())):
        return None
    complementary = torch.zeros(count, count, dtype=torch.bool)
    for a, b, n in pairs:
        complementary[torch.arange(a, a + n), torch.arange(b, b + n)] = True
        complementary[torch.arange(b, b + n), torch.arange(a, a + n)] = True
    return _Problem(torch.cat(forms), objective, 2 * d, complementary, radius, scale)


def _lagrangian(problem: _Problem, multipliers: torch.Tensor) -> torch.Tensor:
    """OᵀO + ΦᵀYΦ (without the −tC term)."""
    forms, objective = problem.forms, problem.objective
    return objective.T @ objective + forms.T @ multipliers @ forms


def _verified_lambda_max(problem: _Problem, multipliers: torch.Tensor, t: float) -> float:
    """A float ≥ λ_max(OᵀO + ΦᵀYΦ − tC) in exact arithmetic, for the exact Φ and O of the network.

    Rounding: Φ and O are the network's forms with each entry rounded at most once (relative
    error ≤ u); the computed matrix K̂ differs from the exact K entrywise by at most
    c·u·(|O|ᵀ|O| + |Φ|ᵀ|Y||Φ| + |t|C) with c = 4(m + k + 4) (products of m terms and the perturbed
    entries, with a wide margin); ‖ΔK‖₂ ≤ ‖ΔK‖_F; and LAPACK's λ_max of K̂ is within
    4k²·u·‖K̂‖_F of the exact one (backward stability, as in spectral_norm_bound).

    Underflow: an operation whose result underflows errs by at most an absolute 2⁻¹⁰⁷⁵ on top of
    the relative error (additions are exact then). Each entry of K̂ comes from at most
    m(m + 1) + n + 4 products, and an error of the inner product YΦ is multiplied by at most
    m·max|Φ| in the outer one, so these add at most a = (m + k + 4)²(1 + m·max|Φ|)·2⁻¹⁰⁷⁴ per entry
    (k·a in Frobenius norm); LAPACK's eigenvalue computation adds at most 64k³·2⁻¹⁰⁷⁴ (O(k³)
    operations, each error at most 2⁻¹⁰⁷⁵, none amplified by more than its factor ≤ 1 rotations).
    Returns ``math.inf`` when a quantity is not finite (the caller then discards Y).
    """
    forms, objective = problem.forms, problem.objective
    m, k = forms.shape
    input_identity = torch.zeros(k, k, dtype=torch.float64)
    input_identity[: problem.input_block, : problem.input_block] = torch.eye(problem.input_block, dtype=torch.float64)
    matrix = _lagrangian(problem, multipliers) - t * input_identity
    matrix = (matrix + matrix.T) / 2
    magnitude = objective.abs().T @ objective.abs() + forms.abs().T @ multipliers.abs() @ forms.abs() \
        + abs(t) * input_identity
    rounding = 4.0 * (m + k + 4) * UNIT_ROUNDOFF * float(magnitude.norm())
    eigen = 4.0 * k * k * UNIT_ROUNDOFF * float(matrix.norm())
    largest_form = float(forms.abs().max()) if forms.numel() else 0.0
    underflow = (k * (m + k + 4) ** 2 * (1 + m * largest_form) + 64 * k**3) * TINY
    estimate = float(torch.linalg.eigvalsh(matrix).max())
    if not all(math.isfinite(value) for value in (estimate, rounding, eigen, underflow)):
        return math.inf
    return add_up(add_up(add_up(estimate, rounding * (1 + 1e-6)), eigen * (1 + 1e-6)), underflow * 2)


def _bound_for(problem: _Problem, multipliers: torch.Tensor) -> float:
    """The certified bound on sup ‖e‖ for one multiplier matrix Y (Y already in the dual cone)."""
    k = problem.forms.shape[1]
    base = _lagrangian(problem, multipliers)
    base = (base + base.T) / 2
    input_identity = torch.zeros(k, k, dtype=torch.float64)
    input_identity[: problem.input_block, : problem.input_block] = torch.eye(problem.input_block, dtype=torch.float64)
    radius = problem.radius_squared

    def value(t: float) -> float:
        return t + radius * max(0.0, float(torch.linalg.eigvalsh(base - t * input_identity).max()))

    # value(t) is convex in t: ternary search on a bracket around λ_max(base)
    top = float(torch.linalg.eigvalsh(base).max())
    low, high = -abs(top) - 1.0, abs(top) + 1.0
    for _ in range(80):
        left, right = low + (high - low) / 3, high - (high - low) / 3
        if value(left) <= value(right):
            high = right
        else:
            low = left
    t = (low + high) / 2
    if not math.isfinite(t):  # a solver's Y with huge entries: no bound from it
        return math.inf
    tau = max(0.0, _verified_lambda_max(problem, multipliers, t))
    if not math.isfinite(tau):
        return math.inf
    squared = max(0.0, add_up(t, mul_up(radius, tau)))  # ‖e‖²/s² ≤ t + R²τ, and ‖e‖² ≥ 0
    if not math.isfinite(squared):
        return math.inf
    return mul_up(problem.scale, sqrt_up(squared))  # s·√(…): a product rounded up, exact in subnormals too


def _solve_relaxation(problem: _Problem) -> list[torch.Tensor]:
    """Candidate multiplier matrices Y from the DNN relaxation's dual (cvxpy + Clarabel)."""
    import cvxpy as cp  # optional dependency: only the tight certificate needs it
    import numpy as np

    forms = problem.forms.numpy()
    objective = problem.objective.numpy()
    k = forms.shape[1]
    moment = cp.Variable((k, k), PSD=True)
    products = forms @ moment @ forms.T
    rows, cols = np.nonzero(np.triu(problem.complementary.numpy()))
    constraints = [
        cp.trace(moment[: problem.input_block, : problem.input_block]) == 1,
        cp.trace(moment) <= problem.radius_squared,
        products >= 0,
        products[rows, cols] == 0,
    ]
    relaxation = cp.Problem(cp.Maximize(cp.trace(objective @ moment @ objective.T)), constraints)
    with warnings.catch_warnings():  # an inaccurate solution is fine: the bound is verified afterwards
        warnings.simplefilter("ignore")
        relaxation.solve(solver="CLARABEL")
    if constraints[2].dual_value is None:
        raise RuntimeError(f"the relaxation's solver returned no dual ({relaxation.status})")
    nonnegative = np.asarray(constraints[2].dual_value, dtype=float)
    nonnegative = (nonnegative + nonnegative.T) / 2
    candidates = []
    for sign in (1.0, -1.0):
        multipliers = np.maximum(nonnegative, 0.0)
        if constraints[3].dual_value is not None:
            multipliers[rows, cols] += sign * np.asarray(constraints[3].dual_value, dtype=float) / 2
            multipliers[cols, rows] = multipliers[rows, cols]
        candidates.append(torch.tensor(multipliers, dtype=torch.float64))
    return candidates


def _in_dual_cone(problem: _Problem, multipliers: torch.Tensor) -> torch.Tensor:
    """Y made exactly symmetric, with Y_ab ≥ 0 off the complementary pairs (free on them)."""
    upper = torch.triu(multipliers)
    symmetric = upper + torch.triu(multipliers, diagonal=1).T
    return torch.where(problem.complementary, symmetric, symmetric.clamp(min=0.0))


@dataclass(frozen=True)
class CertificateReport:
    """The recursion's and the tight certificate for one pruned network, with how the tight one was obtained.

    ``recursion`` is the recursion's bound (chapter 5; for a construction its own ``certificate``, chapter 11
    for residual networks); ``tight`` = min(``recursion``, ``relaxation``) ≤ ``recursion`` is the tight
    certificate, ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ in exact arithmetic. ``method`` is ``"relaxation"``
    (``tight`` is the verified Lagrangian bound) or ``"recursion"`` (not attempted, no solver, the solver
    failed, or its bound was not below the recursion: then ``tight == recursion`` and ``note`` says why);
    ``size`` is k, the number of coordinates (the side of the semidefinite program); ``seconds`` the wall time.

    Added for the structured solver (defaults keep older reports valid): ``solver`` says how the
    multipliers were chosen (``"full"``: every pair of forms, cvxpy + Clarabel; ``"structured"``: a pattern
    of pairs, :mod:`lottolib.interior_point`; ``""``: not attempted); ``pairs`` the number of multipliers;
    ``relaxation`` the verified relaxation bound even when it is not below the recursion (``math.inf``
    when none was computed).
    """

    recursion: float
    tight: float
    method: str
    size: int
    seconds: float
    note: str = ""
    solver: str = ""
    pairs: int = 0
    relaxation: float = math.inf


def _check_max_size(max_size: object) -> int:
    size = check_positive_int(max_size, "max_size")
    if size > LARGEST_MAX_SIZE:
        raise ValueError(f"max_size = {size} is beyond what the relaxation's solver can do: its cost grows like k⁶ "
                         f"(about 220 s at k = 90, hours beyond); pass max_size <= {LARGEST_MAX_SIZE} (larger "
                         "networks get the recursion's bound, recursion_certificate)")
    return size


@dataclass(frozen=True)
class _Budget:
    """The checked limits: full relaxation up to ``full`` coordinates, the structured solver up to
    ``structured`` within ``seconds``; ``force`` True (structured solver even for small k), False (never),
    None (above both ``full`` and DEFAULT_MAX_SIZE)."""

    full: int
    structured: int
    seconds: float
    force: bool | None


def _check_budget(max_size: object, structured_max_size: object, seconds: object, structured: object) -> _Budget:
    full = _check_max_size(max_size)
    largest = check_nonnegative_int(structured_max_size, "structured_max_size")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds must be a number, got {seconds!r} ({type(seconds).__name__}); pass e.g. seconds=30")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}; pass e.g. seconds=30")
    if structured is not None and not isinstance(structured, bool):
        raise TypeError(f"structured must be True, False or None, got {structured!r}")
    return _Budget(full, largest, float(seconds), structured)


def _require_solver() -> None:
    """Raise a clear error when cvxpy or Clarabel is missing (never return the recursion silently)."""
    import importlib.util

    missing = [name for name in ("cvxpy", "clarabel") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"the tight certificate solves a semidefinite relaxation with cvxpy and Clarabel, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: run `pip install cvxpy clarabel` (the versions "
            "are in the book's requirements.txt); recursion_certificate gives the recursion's bound without them")


@dataclass(frozen=True)
class _Attempt:
    """A verified relaxation bound for the given matrices (``math.inf``: none), how, and why not."""

    bound: float = math.inf
    solver: str = ""
    pairs: int = 0
    note: str = ""


UNDERFLOW_NOTE = ("the errors are too small or too large for the relaxation's scaled forms to be exact in float64 "
                  "(a product underflows or overflows): the recursion's bound is returned")


def _full(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor]) -> _Attempt:
    """The doubly non-negative relaxation (every pair of forms), verified by :func:`_bound_for`."""
    problem = _build(weights, plus, minus)
    if problem is None:
        return _Attempt(note=UNDERFLOW_NOTE)
    _require_solver()
    try:
        candidates = _solve_relaxation(problem)
    except Exception as error:  # a failing solver falls back to the recursion's sound bound, announced
        note = f"relaxation not solved ({type(error).__name__}: {error}); the recursion's bound is returned"
        warnings.warn(f"tight certificate: {note}", RuntimeWarning, stacklevel=3)
        return _Attempt(note=note)
    m = problem.forms.shape[0]
    return _Attempt(min(_candidate_bound(problem, y) for y in candidates), "full", m * (m + 1) // 2)


def _pattern_sizes(d: int, hidden: Sequence[int]) -> tuple[int, int]:
    """(m, N): the number of forms and of multipliers of the structured solver's first pattern, from the
    shapes alone (2d + 4Σn forms; d + 2Σn complementary pairs and 4Σn other pairs of a unit's forms)."""
    units = sum(hidden)
    return 2 * d + 4 * units, d + 2 * units + 4 * units


def _estimated_bytes(size: int, forms: int, pairs: int) -> int:
    """Peak memory of the structured solver: about 14 dense k × k, 8 m × k, 4 m × m and 8 N × N float64 arrays
    (the Schur matrix, its factor and the gathered products that assemble it)."""
    return 8 * (14 * size * size + 8 * forms * size + 4 * forms * forms + 8 * pairs * pairs)


@contextlib.contextmanager
def _threads(size: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if size < SINGLE_THREAD_SIZE:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _structured(problem: LagrangianProblem, deadline: float, max_pairs: int) -> tuple[float, int]:
    """The best verified bound of the structured solver and its cutting planes before ``deadline``,
    and the number of multipliers it used."""
    complementary, units = problem.complementary, problem.unit_pairs()
    pairs = torch.cat([complementary, units])
    free = torch.cat([torch.ones(len(complementary), dtype=torch.bool), torch.zeros(len(units), dtype=torch.bool)])
    best, used, rounds, stale, verify_seconds = math.inf, len(pairs), 0, 0, 0.0
    while True:
        remaining = deadline - time.perf_counter() - 2 * verify_seconds
        if remaining <= 0 and rounds:
            break
        try:
            solution = solve_restricted(problem, pairs, free,
                                        seconds=max(remaining, 0.5 * (deadline - time.perf_counter())))
        except (RuntimeError, ValueError) as error:  # torch.linalg errors: the solver is only a heuristic
            warnings.warn(f"tight certificate: the structured solver stopped ({type(error).__name__}: {error}); "
                          "the best verified bound so far is kept", RuntimeWarning, stacklevel=4)
            break
        started = time.perf_counter()
        bound = verified_bound(problem, solution.multipliers)
        verify_seconds = time.perf_counter() - started
        rounds += 1
        stale = 0 if bound < best * (1 - 1e-3) else stale + 1  # the solver is inexact: a round may not improve
        if bound < best:
            best, used = bound, len(pairs)
        room = max_pairs - len(pairs)
        if stale >= STALE_ROUNDS or solution.products is None or room <= 0:
            break
        offset = solution.offset  # in reduced coordinates the products cover the forms from offset on
        local = complementary[(complementary >= offset).all(1)] - offset
        present = pairs[(pairs >= offset).all(1)] - offset
        new = cutting_planes(solution.products, present, local, min(room, max(8, len(pairs) // 2))) + offset
        if len(new) == 0:
            break
        pairs = torch.cat([pairs, new])
        free = torch.cat([free, torch.zeros(len(new), dtype=torch.bool)])
    return best, used


def _structured_attempt(build: Callable[[], LagrangianProblem | None], size: int, forms: int, pairs: int,
                        budget: _Budget, start: float) -> _Attempt:
    """Check the size and memory before any work, then build the problem (``build()``) and run :func:`_structured`."""
    if size > budget.structured:
        return _Attempt(note=f"k = {size} > structured_max_size = {budget.structured}: the relaxation was not attempted")
    limit, needed = memory_limit(), _estimated_bytes(size, forms, pairs)
    if needed > limit:
        return _Attempt(note=f"the structured relaxation would need about {format_bytes(needed)} (above the memory "
                             f"limit {format_bytes(limit)}): the recursion's bound is returned")
    most = pairs  # cutting planes: at most 4 times the first pattern, LARGEST_PATTERN, and the memory limit
    while most < 4 * pairs and _estimated_bytes(size, forms, 2 * most) <= limit:
        most *= 2
    most = max(pairs, min(most, LARGEST_PATTERN))
    problem = build()
    if problem is None:
        return _Attempt(note=UNDERFLOW_NOTE)
    with _threads(size):
        bound, used = _structured(problem, start + budget.seconds, most)
    return _Attempt(bound, "structured", used)


def _attempt(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor],
             budget: _Budget, start: float) -> _Attempt:
    """The verified relaxation bound of a plain network (stored matrices), full or structured (module docstring)."""
    d, hidden = weights[0].shape[1], [w.shape[0] for w in weights[:-1]]
    size = 2 * d + 2 * sum(hidden)
    if budget.force is not True and size <= budget.full:
        return _full(weights, plus, minus)
    if budget.force is False or (budget.force is None and size <= max(budget.full, DEFAULT_MAX_SIZE)):
        return _Attempt(note=f"k = {size} > max_size = {budget.full}: the relaxation was not solved")
    forms, pairs = _pattern_sizes(d, hidden)
    return _structured_attempt(lambda: network_problem(weights, plus, minus), size, forms, pairs, budget, start)


def _compared(recursion: float, attempt: _Attempt, size: int, start: float, slack: float = 0.0) -> CertificateReport:
    """The report: the attempt's bound plus ``slack`` (rounded up) if it is below ``recursion``, else the recursion."""
    relaxation = attempt.bound
    if math.isfinite(relaxation) and slack:
        relaxation = add_up(relaxation, slack)
    seconds = time.perf_counter() - start
    if relaxation < recursion:
        return CertificateReport(recursion, relaxation, "relaxation", size, seconds, attempt.note, attempt.solver,
                                 attempt.pairs, relaxation)
    note = attempt.note or "the verified relaxation bound was not below the recursion"
    return CertificateReport(recursion, recursion, "recursion", size, seconds, note, attempt.solver, attempt.pairs,
                             relaxation)


def tight_certificate_report(
    weights: Sequence[object],
    plus_errors: Sequence[object],
    minus_errors: Sequence[object],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE,
    seconds: float = DEFAULT_SECONDS,
    structured: bool | None = None,
) -> CertificateReport:
    """Both certificates for G̃ vs F (see the module docstring), and how the tight one was obtained.

    Parameters
    ----------
    weights
        W_1 … W_l (n_i, n_{i−1}); any finite real entries (no norm assumption is needed).
    plus_errors, minus_errors
        E⁺_i, E⁻_i, same shapes: the pruned block i computes W_i h + E⁺_i σ(h) − E⁻_i σ(−h)
        (for i ≥ 2 only E⁺_i matters, its input being ≥ 0).
    max_size
        Solve the full relaxation when k = 2d + 2Σ_{i<l} n_i ≤ max_size (an integer, 1 … LARGEST_MAX_SIZE).
    structured_max_size
        Use the structured solver when k is above both ``max_size`` and :data:`DEFAULT_MAX_SIZE` and at most
        this (an integer ≥ 0; 0 turns it off), within the memory limit (:func:`lottolib.memory_limit`).
    seconds
        Wall-clock budget of the structured solver (a number > 0); the verification of its last round
        comes on top.
    structured
        None (default: as above), True (the structured solver whatever k, up to ``structured_max_size``),
        or False (never).

    Returns
    -------
    CertificateReport
        ``tight`` ≤ ``recursion``, both ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ in exact arithmetic. ``method`` is
        ``"recursion"`` with a ``note`` saying why when the relaxation was not used.

    Raises
    ------
    TypeError, ValueError
        For matrices that are not lists of real, finite, non-empty CPU matrices of matching shapes
        (complex, boolean, string or meta-device values included), a bound beyond float64's range,
        a ``max_size`` that is not an integer in 1 … :data:`LARGEST_MAX_SIZE`, or a bad
        ``structured_max_size``, ``seconds`` or ``structured``.
    ModuleNotFoundError
        When the full relaxation is to be solved and cvxpy or Clarabel is not installed.

    Warns
    -----
    RuntimeWarning
        When the full relaxation's solver fails (the recursion's bound is returned, as the report's note says).
    """
    start = time.perf_counter()
    budget = _check_budget(max_size, structured_max_size, seconds, structured)
    weights, plus, minus = _checked(weights, plus_errors, minus_errors)
    recursion = _recursion(weights, plus, minus)
    size = 2 * weights[0].shape[1] + 2 * sum(w.shape[0] for w in weights[:-1])
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    return _compared(recursion, _attempt(weights, plus, minus, budget, start), size, start)


def _candidate_bound(problem: _Problem, multipliers: torch.Tensor) -> float:
    """The verified bound for one solver's Y, or ``math.inf`` if its arithmetic leaves float64's range."""
    try:
        return _bound_for(problem, _in_dual_cone(problem, multipliers))
    except (OverflowError, RuntimeError):  # Fraction(inf) in add_up/mul_up; LAPACK on non-finite entries
        return math.inf


def tight_certificate(
    weights: Sequence[object],
    plus_errors: Sequence[object],
    minus_errors: Sequence[object],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE,
    seconds: float = DEFAULT_SECONDS,
    structured: bool | None = None,
) -> float:
    """A float ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂, never above :func:`recursion_certificate`.

    See :func:`tight_certificate_report` for the parameters, errors and warnings; this returns its ``tight``.
    """
    return tight_certificate_report(weights, plus_errors, minus_errors, max_size=max_size,
                                    structured_max_size=structured_max_size, seconds=seconds,
                                    structured=structured).tight


# ----------------------------------------------------------------------------------------------
# Constructions: the stored errors Ê are float64 roundings of the exact ones E


def tight_certificate_of(construction: object, *, max_size: int = DEFAULT_MAX_SIZE,
                         structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE, seconds: float = DEFAULT_SECONDS,
                         structured: bool | None = None) -> CertificateReport:
    """The tight certificate of a construction against its own target.

    Parameters
    ----------
    construction
        A :class:`~lottolib.NetworkConstruction`, :class:`~lottolib.residual.ResidualConstruction`,
        :class:`~lottolib.conv.CNNConstruction` (at its image size: a plain network of depth 2 whose first
        matrices are the convolution matrices, each entry a kernel entry or 0) or
        :class:`~lottolib.LayerConstruction`.
    max_size, structured_max_size, seconds, structured
        As in :func:`tight_certificate_report` (a residual network is always left to the structured solver:
        its relaxation has split units for the stream, which the full relaxation does not model).

    Returns
    -------
    CertificateReport
        ``recursion`` is the construction's own ``certificate``. The relaxation is solved for the stored
        float64 errors Ê, and the distance of G̃ with the exact errors to G̃ with Ê is added (rounded up):
        the recursion of the pruned maps with gains ‖W_i‖₂ + η_i and per-pair slack ‖E − Ê‖_F
        (``rounding_slack``), so ``tight`` ≥ the exact worst error of the construction.

    Raises
    ------
    TypeError
        For any other object, or a bad ``structured_max_size``, ``seconds`` or ``structured``;
        ValueError for a bad ``max_size`` (as :func:`tight_certificate_report`).
    """
    from .conv import CNNConstruction
    from .layer import LayerConstruction
    from .network import NetworkConstruction
    from .residual import ResidualConstruction

    start = time.perf_counter()
    budget = _check_budget(max_size, structured_max_size, seconds, structured)
    if isinstance(construction, LayerConstruction):
        return _plain([construction.target], [construction], construction.certificate,
                      [spectral_norm_bound(construction.target)], [construction.eta], budget, start)
    if isinstance(construction, NetworkConstruction):
        return _plain(list(construction.target), construction.layers, construction.certificate, construction.norms,
                      construction.etas, budget, start)
    if isinstance(construction, CNNConstruction):
        return _cnn(construction, budget, start)
    if isinstance(construction, ResidualConstruction):
        return _residual(construction, budget, start)
    raise TypeError(f"tight_certificate_of takes a network, residual, CNN or layer construction, "
                    f"got {type(construction).__name__}")


def _plain(weights: list[torch.Tensor], layers: Sequence[object], recursion: float, norms: list[float],
           etas: list[float], budget: _Budget, start: float) -> CertificateReport:
    plus = [layer.plus_error for layer in layers]  # type: ignore[attr-defined]
    minus = [layer.minus_error for layer in layers]  # type: ignore[attr-defined]
    slacks = [layer.rounding_slack for layer in layers]  # type: ignore[attr-defined]
    size = 2 * weights[0].shape[1] + 2 * sum(w.shape[0] for w in weights[:-1])
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    attempt = _attempt(weights, plus, minus, budget, start)
    # G̃ with the exact errors against G̃ with the stored ones: pruned maps with gains ‖W_i‖ + η_i, slack per pair
    gains = [add_up(norm, eta) for norm, eta in zip(norms, etas, strict=True)]
    return _compared(recursion, attempt, size, start, certificate(gains, slacks))


def _cnn(construction: object, budget: _Budget, start: float) -> CertificateReport:
    """A CNN at its image size as a plain network of depth 2: the pruned conv pair at image level is
    conv(x, K) + conv(σ(x), E⁺) − conv(σ(−x), E⁻), since taking patches commutes with σ (zero padding
    included, σ(0) = 0)."""
    from .conv import CNNConstruction, _sqrt_up
    from .conv_bounds import conv_matrix

    assert isinstance(construction, CNNConstruction)
    conv, linear = construction.conv, construction.linear
    image = construction.input_shape
    shape = conv.kernel.shape
    matrices = [conv_matrix(kernel, image, conv.padding)
                for kernel in (conv.kernel, conv.layer.plus_error.view(shape), conv.layer.minus_error.view(shape))]
    conv_slack = mul_up(conv.layer.rounding_slack, _sqrt_up(shape[2] * shape[3]))  # ‖ΔK̂‖_F per patch, hw patches/pixel
    norms = [conv.operator_bound, spectral_norm_bound(linear.target)]
    etas = [conv.certificate, linear.eta]
    size = 2 * math.prod(image) + 2 * linear.target.shape[1]
    recursion = construction.certificate
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    attempt = _attempt([matrices[0], linear.target], [matrices[1], linear.plus_error],
                       [matrices[2], linear.minus_error], budget, start)
    gains = [add_up(norm, eta) for norm, eta in zip(norms, etas, strict=True)]
    return _compared(recursion, attempt, size, start, certificate(gains, [conv_slack, linear.rounding_slack]))


def _residual(construction: object, budget: _Budget, start: float) -> CertificateReport:
    """The residual problem of :func:`lottolib.relaxation.residual_problem`, with radii from chapter 11's
    recursion: branch units ‖h‖ ≤ a_i R_{i−1}, ‖h̃ − h‖ ≤ D_i = η₁ᵢ(R_{i−1} + Δ_{i−1}) + a_iΔ_{i−1}; stream
    (split) units ‖σ(z_i)‖ ≤ R_i, ‖σ(z̃_i) − σ(z_i)‖ ≤ Δ_i."""
    from .residual import ResidualConstruction, residual_certificate

    assert isinstance(construction, ResidualConstruction)
    target = construction.target
    count, d = len(target.blocks), target.d
    widths = [first.shape[0] for first, _ in target.blocks]
    splits = count - 1 + (target.readout is not None)
    size = 2 * d + 2 * sum(widths) + 2 * d * splits
    recursion = construction.certificate
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    norms, readout_norm = target.norm_bounds()
    reaches = target.reaches()
    gaps = [0.0, *construction.gaps]
    etas = construction.etas
    radii: list[tuple[float, float]] = []
    try:  # an overflow (Fraction(inf) in add_up) leaves an infinite radius: no problem, the recursion stands
        for i, (a, _) in enumerate(norms):
            inner = add_up(mul_up_or_inf(etas[2 * i], add_up(reaches[i], gaps[i])), mul_up_or_inf(a, gaps[i]))
            radii.append((mul_up_or_inf(a, reaches[i]), inner))
            if i < count - 1 or target.readout is not None:
                radii.append((reaches[i + 1], gaps[i + 1]))
    except OverflowError:
        radii = [(math.inf, math.inf)] * (count + splits)
    pairs = construction.pairs
    errors = [(pair.plus_error, pair.minus_error) for pair in pairs]
    units = sum(widths) + d * splits
    forms, first_pattern = 2 * d + 4 * units, d + 6 * units
    if budget.force is False:
        attempt = _Attempt(note="structured=False: the residual relaxation (structured solver only) was not attempted")
    else:
        attempt = _structured_attempt(lambda: residual_problem(target.blocks, target.readout, errors, recursion, radii),
                                      size, forms, first_pattern, budget, start)
    pruned_norms = [(add_up(a, pairs[2 * i].eta), add_up(b, pairs[2 * i + 1].eta)) for i, (a, b) in enumerate(norms)]
    slacks = [(pairs[2 * i].rounding_slack, pairs[2 * i + 1].rounding_slack) for i in range(count)]
    readout = None if readout_norm is None else (add_up(readout_norm, pairs[-1].eta), pairs[-1].rounding_slack)
    return _compared(recursion, attempt, size, start, residual_certificate(pruned_norms, slacks, readout))
