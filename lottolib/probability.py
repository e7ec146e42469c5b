"""Exact success probabilities of the pair construction, and the widths they imply.

For u, v i.i.d. U[-1, 1] the product z = u v has density −½ ln|z| on [-1, 1], and so does
the product restricted to units of one sign of u (with total mass ½). Hence, for one unit,

    p(w, ε) = P(u > 0, |u v − w| ≤ ε) = ¼ [G(min(w + ε, 1)) − G(max(w − ε, −1))],
    G(z) = sign(z)·(|z| − |z| ln|z|),

and the same for u < 0. p(w, ε) decreases in |w|; its minimum over |w| ≤ 1 is
p(1, ε) = ¼ [ε + (1 − ε) ln(1 − ε)] ≥ ε²/8.

Introduced in chapter 2, *One weight*; widths in chapters 4–6.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable

import torch

from .checks import as_tensor, check_bounded, check_eps, check_fraction, check_positive_int
from .one_weight import choose_pairs
from .random_network import sample_uniform
from .seeds import generator

__all__ = [
    "empirical_success_probability",
    "layer_width_bound",
    "pair_success_probability",
    "sampled_pair_errors",
    "unit_success_probability",
    "worst_case_unit_probability",
]


def _antiderivative(z: torch.Tensor) -> torch.Tensor:
    a = z.abs()
    return torch.sign(z) * torch.where(a > 0, a - a * torch.log(a.clamp(min=1e-300)), torch.zeros_like(a))


def unit_success_probability(w: float | torch.Tensor, eps: float) -> torch.Tensor:
    """p(w, ε) = P(u > 0 and |u v − w| ≤ ε) for one random unit, u, v i.i.d. U[-1, 1] (equal for u < 0).

    Parameters
    ----------
    w
        Target weight(s) in [-1, 1]: a number or a tensor (vectorised).
    eps
        The tolerance ε > 0.

    Returns
    -------
    torch.Tensor
        ¼ [G(min(w + ε, 1)) − G(max(w − ε, −1))] with G(z) = sign(z)(|z| − |z| ln|z|), float64, the
        shape of ``w``.

    Raises
    ------
    ValueError
        For |w| > 1, non-finite w, or ε ≤ 0.
    """
    eps = check_eps(eps)
    w = check_bounded(as_tensor(w, "w"), "w")
    upper = (w + eps).clamp(max=1.0)
    lower = (w - eps).clamp(min=-1.0)
    return 0.25 * (_antiderivative(upper) - _antiderivative(lower))


def worst_case_unit_probability(eps: float) -> float:
    """min over |w| ≤ 1 of p(w, ε), attained at |w| = 1: ¼ [ε + (1 − ε) ln(1 − ε)].

    Parameters
    ----------
    eps
        The tolerance ε > 0.

    Returns
    -------
    float
        p(1, ε). For ε < ½ the bracket is summed as its series Σ_{m ≥ 2} ε^m / (m(m − 1)), which has
        no cancellation (the closed form loses every digit below ε ≈ 10⁻⁸), so the result stays
        positive and accurate for every ε > 0; it lies between ε²/8 and ε²/(8(1 − ε)).
    """
    eps = check_eps(eps)
    if eps >= 0.5:
        return float(unit_success_probability(1.0, eps))
    total, power = 0.0, eps
    for m in range(2, 1100):  # power = ε^m < 2^-m is 0 by m = 1075, and a zero term ends the sum: never reached
        power *= eps
        term = power / (m * (m - 1))
        total += term
        if term <= total * 1e-17:
            break
    return 0.25 * total


def pair_success_probability(w: float | torch.Tensor, eps: float, k: int) -> torch.Tensor:
    """P(max(|e⁺|, |e⁻|) ≤ ε) for one weight w and k random units, exactly.

    Each unit is "good on the + side" with probability p = p(w, ε), "good on the − side" with
    probability p, never both (disjoint signs of u). Both sides succeed with probability
    1 − 2(1 − p)^k + (1 − 2p)^k; if |w| ≤ ε, keeping no unit already succeeds (probability 1).

    Parameters
    ----------
    w
        Target weight(s) in [-1, 1] (number or tensor).
    eps
        The tolerance ε > 0.
    k
        Random units, an integer ≥ 1.

    Returns
    -------
    torch.Tensor
        The probability, float64, the shape of ``w``.
    """
    k = check_positive_int(k, "k")
    w = check_bounded(as_tensor(w, "w"), "w")
    p = unit_success_probability(w, eps)
    both = 1 - 2 * (1 - p) ** k + (1 - 2 * p) ** k
    return torch.where(w.abs() <= eps, torch.ones_like(both), both)


def sampled_pair_errors(w: float, k: int, trials: int, seed: object) -> torch.Tensor:
    """max(|e⁺|, |e⁻|) for weight w in each of ``trials`` independent blocks of k units.

    Parameters
    ----------
    w
        The target weight, in [-1, 1].
    k
        Units per block.
    trials
        Independent blocks, drawn one after the other from one stream.
    seed
        A non-negative integer or a ``torch.Generator``.

    Returns
    -------
    torch.Tensor
        Shape (trials,), float64. Vectorised over trials; at most about 2²² candidate units are
        held at once: the blocks are drawn in chunks of ⌊2²²/k⌋ blocks (at least 1), the chunk's
        first-layer weights u, then its second-layer weights v, so a seed fixes every block.
    """
    k, trials = check_positive_int(k, "k"), check_positive_int(trials, "trials")
    target = check_bounded(as_tensor(float(w), "w"), "w")
    stream = generator(seed)
    per_chunk = max(1, (1 << 22) // k)
    errors = []
    for start in range(0, trials, per_chunk):
        rows = min(per_chunk, trials - start)
        u = sample_uniform((rows, k), stream).double()
        v = sample_uniform((rows, k), stream).double()
        choice = choose_pairs(u * v, u, target.expand(rows))
        errors.append(torch.maximum(choice.plus_error.abs(), choice.minus_error.abs()))
    return torch.cat(errors)


def empirical_success_probability(w: float, eps: float, k: int, trials: int, seed: object) -> float:
    """Fraction of ``trials`` independent random blocks of k units whose pair meets ε for weight w.

    Parameters
    ----------
    w, k, trials, seed
        As in :func:`sampled_pair_errors`.
    eps
        The tolerance ε > 0.

    Returns
    -------
    float
        The fraction of blocks with max(|e⁺|, |e⁻|) ≤ ε.
    """
    eps = check_eps(eps)
    return float((sampled_pair_errors(w, k, trials, seed) <= eps).double().mean())


def layer_width_bound(n: int, d: int, eps: float, delta: float) -> int:
    """Units per input k that make a random block certify η ≤ ε for any fixed n×d target in [-1, 1], w.p. ≥ 1 − δ.

    Proof (chapter 4): with per-weight tolerance ε' = ε / √(2nd), η ≤ ‖[E⁺|E⁻]‖_F ≤ ε' √(2nd) = ε.
    One side of one weight fails with probability ≤ (1 − p_min)^k, p_min = p(1, ε'); a union
    bound over the 2nd sides gives failure ≤ 2nd (1 − p_min)^k ≤ δ for the returned k.

    Parameters
    ----------
    n, d
        The target layer's outputs and inputs.
    eps
        The tolerance ε > 0 for η.
    delta
        The failure probability, 0 < δ < 1.

    Returns
    -------
    int
        ⌈ln(2nd/δ) / −ln(1 − p_min)⌉, the smallest k the union bound allows. In floats while k < 2⁵⁰;
        beyond (p_min ≈ ε'²/8 underflows below ε ≈ 10⁻¹⁵⁰, and a float k is rounded) in decimal
        arithmetic with enough digits for every digit of k.

    Raises
    ------
    ValueError, TypeError
        For n, d < 1, ε ≤ 0, or δ outside (0, 1).
    """
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    eps = check_eps(eps)
    delta = check_fraction(delta, "delta")
    tolerance = eps / math.sqrt(2 * n * d)
    p_min = worst_case_unit_probability(tolerance) if tolerance > 0 else 0.0
    if p_min > 1e-290:
        k = math.ceil(math.log(2 * n * d / delta) / -math.log1p(-p_min))
        if k < 2**50:
            return k
    return _width_in_decimals(2 * n * d, eps, delta)


def _width_in_decimals(sides: int, eps: float, delta: float) -> int:
    """⌈ln(sides/δ) / −ln(1 − p(1, ε'))⌉, ε' = ε/√sides, in decimals with 40 digits more than k has: p from
    its series ¼ Σ_{m≥2} ε'^m / (m(m − 1)) and −ln(1 − p) from Σ_{j≥1} p^j / j (no cancellation)."""
    magnitude = math.log10(math.log(sides / delta)) - 2 * (math.log10(eps) - math.log10(sides) / 2) + 1
    with decimal.localcontext() as context:
        context.prec = max(int(magnitude), 0) + 40
        tolerance = decimal.Decimal(eps) / decimal.Decimal(sides).sqrt()
        p = _series(lambda m: tolerance ** (m + 1) / (m * (m + 1)), context.prec) / 4  # m + 1 = 2, 3, …
        rate = _series(lambda j: p**j / j, context.prec)
        k = (decimal.Decimal(sides) / decimal.Decimal(delta)).ln() / rate
        return int(k.to_integral_value(rounding=decimal.ROUND_CEILING))


def _series(term: Callable[[int], decimal.Decimal], digits: int) -> decimal.Decimal:
    """Σ_{i ≥ 1} term(i) for positive, decreasing terms, until a term is below 10^−digits of the sum."""
    total, i = decimal.Decimal(0), 1
    while True:
        value = term(i)
        total += value
        if value <= total.scaleb(-digits):
            return total
        i += 1
