"""Sound arithmetic for certificates: every bound is rounded outward, never to nearest.

A certificate is a statement about real numbers: sup over ‖x‖₂ ≤ 1 of the exact error of the
pruned network. It is computed in floating point, where each operation rounds to the nearest
float and can land *below* the real value. This module rounds every step up instead:

- :func:`add_up`, :func:`mul_up`: one operation rounded upward (the nearest result, moved one
  step towards +∞ when it lies below the exact value, checked in exact rationals);
- :func:`spectral_norm_bound`: an upper bound on the exact spectral norm of a float64 matrix.
  LAPACK's SVD is backward stable: the computed largest singular value σ̂ is exact for A + δA
  with ‖δA‖₂ ≤ p(m, n)·u·‖A‖₂, u = 2⁻⁵³, p a modest polynomial; so ‖A‖₂ ≤ σ̂ / (1 − p u). We take
  p = 4 (m + n)², far above the polynomials in LAPACK's error analysis, and still a relative
  inflation below 10⁻⁹ for every matrix in the book;
- :func:`certificate`: the recursion of the deep-network proposition with every step rounded up.

Introduced in chapter 5, *Deep networks* (the certificate), and used by every construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import torch

__all__ = [
    "UNIT_ROUNDOFF",
    "add_up",
    "certificate",
    "error_matrix_bound",
    "frobenius_norm_bound",
    "mul_up",
    "power_of_two_at_least",
    "rounding_slack",
    "spectral_norm_bound",
]

UNIT_ROUNDOFF = 2.0**-53
"""The unit roundoff u = 2⁻⁵³, the relative error of one float64 operation rounded to nearest."""


def add_up(a: float, b: float) -> float:
    """The smallest float ≥ a + b (the exact real sum of the two floats): a + b rounded upward."""
    total = a + b
    return total if Fraction(total) >= Fraction(a) + Fraction(b) else math.nextafter(total, math.inf)


def mul_up(a: float, b: float) -> float:
    """The smallest float ≥ a·b (the exact real product of the two floats): a·b rounded upward."""
    product = a * b
    return product if Fraction(product) >= Fraction(a) * Fraction(b) else math.nextafter(product, math.inf)


def power_of_two_at_least(value: float) -> float:
    """The smallest power of two ≥ ``value`` (> 0, finite), exactly."""
    mantissa, exponent = math.frexp(value)
    return math.ldexp(1.0, exponent - 1) if mantissa == 0.5 else math.ldexp(1.0, exponent)


def spectral_norm_bound(matrix: torch.Tensor) -> float:
    """An upper bound on the exact spectral norm ‖A‖₂ of the float64 matrix ``matrix`` (m, n).

    σ̂ / (1 − p u) with σ̂ the largest singular value LAPACK computes, p = 4 (m + n)² and
    u = 2⁻⁵³ (see the module docstring), rounded up; never above the Frobenius norm rounded up,
    which is a bound too. Returns 0.0 only for a zero matrix (then the exact norm is 0).
    """
    if matrix.ndim != 2:
        raise ValueError(f"spectral_norm_bound needs a matrix, got shape {tuple(matrix.shape)}")
    matrix = matrix.double()
    if matrix.numel() == 0 or not bool(matrix.any()):
        return 0.0
    m, n = matrix.shape
    sigma = float(torch.linalg.matrix_norm(matrix, ord=2))
    slack = 4.0 * (m + n) ** 2 * UNIT_ROUNDOFF
    if slack >= 0.5:  # beyond any matrix we meet; fall back to the Frobenius bound alone
        return frobenius_norm_bound(matrix)
    svd_bound = math.nextafter(math.nextafter(sigma / (1.0 - slack), math.inf), math.inf)
    return min(svd_bound, frobenius_norm_bound(matrix))


def frobenius_norm_bound(matrix: torch.Tensor) -> float:
    """A float ≥ the exact Frobenius norm ‖A‖_F = (Σ A_ij²)^½ of a float64 tensor of any shape.

    The computed sum of squares of N entries is within γ_{N+1} ≤ 2 (N + 1) u of the exact one (any
    summation order), and the square root adds one rounding.
    """
    matrix = matrix.double()
    total = float(matrix.square().sum())
    if total == 0.0 and not bool(matrix.any()):
        return 0.0
    count = matrix.numel()
    inflated = total * (1.0 + 2.0 * (count + 1) * UNIT_ROUNDOFF)
    return math.nextafter(math.sqrt(math.nextafter(inflated, math.inf)) * (1.0 + UNIT_ROUNDOFF), math.inf)


def certificate(norms: Sequence[float], etas: Sequence[float]) -> float:
    """Δ_l from Δ_i = η_i (A_{i−1} + Δ_{i−1}) + ‖W_i‖ Δ_{i−1}, A_i = Π_{j≤i} ‖W_j‖ (Δ₀ = 0, A₀ = 1), rounded up.

    Parameters
    ----------
    norms
        Upper bounds on the operator norms ‖W_i‖₂ of the target's layers, in order.
    etas
        Upper bounds η_i on each pruned pair's relative error ‖G̃_i(z) − W_i z‖₂ / ‖z‖₂.

    Returns
    -------
    float
        A float ≥ the exact Δ_l, which bounds sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂.

    Raises
    ------
    ValueError
        If the two lists differ in length, or any value is negative, NaN or infinite.
    """
    norms, etas = list(norms), list(etas)
    if len(norms) != len(etas):
        raise ValueError(f"certificate needs one eta per layer: {len(norms)} norms but {len(etas)} etas")
    for name, values in (("norm", norms), ("eta", etas)):
        for value in values:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"every {name} must be a finite number >= 0, got {value!r}")
    reach, gap = 1.0, 0.0
    for norm, eta in zip(norms, etas, strict=True):
        gap = add_up(mul_up(float(eta), add_up(reach, gap)), mul_up(float(norm), gap))
        reach = mul_up(reach, float(norm))
    return gap


def error_matrix_bound(errors: torch.Tensor, kept_counts: torch.Tensor) -> float:
    """A float ≥ the exact ‖E‖₂ of per-weight errors computed in float64 as ê = fl(Σ_kept p_a − w).

    Parameters
    ----------
    errors
        The computed Ê (n, m), float64.
    kept_counts
        (n, m): how many products p_a (each exact in float64, |p_a| ≤ 1) entered each entry's sum.

    Returns
    -------
    float
        ‖Ê‖₂ (bounded above by :func:`spectral_norm_bound`) plus the Frobenius norm of the per-entry
        rounding slack, rounded up; by the triangle inequality a bound on the exact ‖E‖₂. A sum of c
        non-zero terms in any order (adding the pruned units' exact zeros changes nothing) is within
        γ_{c−1} Σ|p_a| ≤ 2(c − 1)·u·c of the exact sum, and the subtraction of w adds at most 2u|ê|.
    """
    return add_up(spectral_norm_bound(errors), frobenius_norm_bound(rounding_slack(errors, kept_counts)))


def rounding_slack(errors: torch.Tensor, kept_counts: torch.Tensor) -> torch.Tensor:
    """Per entry, a bound on |exact e − ê| for ê = fl(Σ_kept p_a − w) (see :func:`error_matrix_bound`).

    Parameters
    ----------
    errors
        The computed Ê, float64.
    kept_counts
        How many products |p_a| ≤ 1 entered each entry's sum (same shape).

    Returns
    -------
    torch.Tensor
        2u((c − 1)₊ c + |ê|) entrywise, float64.
    """
    counts = kept_counts.double()
    return 2.0 * UNIT_ROUNDOFF * ((counts - 1).clamp(min=0) * counts + errors.abs())
