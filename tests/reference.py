"""Reference implementations written from the book's formulas, independently of lottolib.

Plain Python and NumPy/SciPy, loops where the book has sums, exact rationals where exactness is the
point. Tests compare the library with these, never the library with itself.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
from scipy import integrate


def best_pair_errors(products: list[float], first_weights: list[float], w: float) -> tuple[float, float]:
    """Chapter 2: on each side (sign of u) the signed error of the unit whose product is closest to w, or −w
    when keeping no unit is at least as close."""
    errors = []
    for side in (1, -1):
        best = -w
        for product, u in zip(products, first_weights, strict=True):
            if u * side > 0 and abs(product - w) < abs(best):
                best = product - w
        errors.append(best)
    return errors[0], errors[1]


def best_subset_error(values: list[float], w: float) -> float:
    """Chapter 9: min over all subsets S (∅ included) of |Σ_S values − w|, by enumeration."""
    best = abs(w)
    for size in range(1, len(values) + 1):
        for subset in itertools.combinations(values, size):
            best = min(best, abs(sum(subset) - w))
    return best


def product_density_one_side(z: float) -> float:
    """Density of u·v on the event u > 0, for u, v i.i.d. U[-1, 1]: −¼ ln|z| (total mass ½)."""
    return -0.25 * math.log(abs(z))


def unit_probability(w: float, eps: float) -> float:
    """p(w, ε) = P(u > 0, |uv − w| ≤ ε), by numerical integration of the one-sided product density."""
    low, high = max(w - eps, -1.0), min(w + eps, 1.0)
    points = [0.0] if low < 0 < high else None
    value, _ = integrate.quad(product_density_one_side, low, high, points=points, limit=200, epsabs=0, epsrel=1e-13)
    return value


def pair_success_probability(p: float, k: int) -> float:
    """Both sides have a unit within ε: 1 − 2(1 − p)^k + (1 − 2p)^k (inclusion–exclusion over the two sides)."""
    return 1 - 2 * (1 - p) ** k + (1 - 2 * p) ** k


def layer_width(n: int, d: int, eps: float, delta: float) -> int:
    """Chapter 4's width: the smallest k with 2nd (1 − p(1, ε/√(2nd)))^k ≤ δ, found by counting up from the
    closed-form guess; p by integration."""
    p_min = unit_probability(1.0, eps / math.sqrt(2 * n * d))
    k = max(1, int(math.log(2 * n * d / delta) / -math.log1p(-p_min)) - 2)
    while 2 * n * d * math.exp(k * math.log1p(-p_min)) > delta:  # (1 − p)^k, without rounding 1 − p
        k += 1
    return k


def network_widths(shapes: list[tuple[int, int]], eps: float, delta: float) -> list[int]:
    """Chapter 5's theorem: every layer gets ε/(2l) and δ/l."""
    depth = len(shapes)
    return [layer_width(n, d, eps / (2 * depth), delta / depth) for n, d in shapes]


def spectral_norm(matrix: np.ndarray) -> float:
    """‖A‖₂ by NumPy's SVD."""
    return float(np.linalg.norm(np.asarray(matrix, dtype=np.float64), 2))


def certificate_exact(norms: list[float], etas: list[float]) -> Fraction:
    """Chapter 5's recursion in exact rationals: Δ_i = η_i (A_{i−1} + Δ_{i−1}) + ‖W_i‖ Δ_{i−1}, A_i = Π ‖W_j‖."""
    reach, gap = Fraction(1), Fraction(0)
    for norm, eta in zip(norms, etas, strict=True):
        gap = Fraction(eta) * (reach + gap) + Fraction(norm) * gap
        reach *= Fraction(norm)
    return gap


def relu_network(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """W_l σ(… σ(W_1 x)) row-wise in float64: x (m, d)."""
    for i, weight in enumerate(weights):
        x = x @ np.asarray(weight, dtype=np.float64).T
        if i < len(weights) - 1:
            x = np.maximum(x, 0)
    return x


def one_output_sup(plus: list[float], minus: list[float]) -> float:
    """Chapter 3's exercise: sup over ‖x‖ ≤ 1 of |Σ_j e⁺_j σ(x_j) − e⁻_j σ(−x_j)| = max(‖m‖, ‖m'‖),
    m_j = max(e⁺_j, −e⁻_j, 0), m'_j = max(−e⁺_j, e⁻_j, 0)."""
    m = [max(a, -b, 0.0) for a, b in zip(plus, minus, strict=True)]
    m_prime = [max(-a, b, 0.0) for a, b in zip(plus, minus, strict=True)]
    return max(math.sqrt(sum(v * v for v in m)), math.sqrt(sum(v * v for v in m_prime)))


def one_output_sup_squared_exact(plus: list[Fraction], minus: list[Fraction]) -> Fraction:
    """The same supremum, squared, in exact rationals."""
    m = [max(a, -b, Fraction(0)) for a, b in zip(plus, minus, strict=True)]
    m_prime = [max(-a, b, Fraction(0)) for a, b in zip(plus, minus, strict=True)]
    return max(sum(v * v for v in m), sum(v * v for v in m_prime))


def exact_side_errors(products: list[float], first_weights: list[float], keep: list[bool], w: float
                      ) -> tuple[Fraction, Fraction]:
    """The exact per-side errors Σ_{kept, ±u > 0} u_a v_a − w of a mask, in rationals."""
    plus = sum((Fraction(p) for p, u, kept in zip(products, first_weights, keep, strict=True) if kept and u > 0),
               Fraction(0))
    minus = sum((Fraction(p) for p, u, kept in zip(products, first_weights, keep, strict=True) if kept and u < 0),
                Fraction(0))
    return plus - Fraction(w), minus - Fraction(w)


def best_pair_max_errors(u: np.ndarray, v: np.ndarray, w: float) -> np.ndarray:
    """Chapter 2, row by row: max(|e⁺|, |e⁻|) for blocks of units with first weights u and second weights v
    (shape (trials, k)); on each side (sign of u) |e| is the distance of the product closest to w, or |w| when
    that side has no unit or keeping none is at least as close. Vectorised NumPy, float64."""
    products = np.asarray(u, dtype=np.float64) * np.asarray(v, dtype=np.float64)
    distance = np.abs(products - w)
    worst = np.zeros(products.shape[0])
    for side in (1, -1):
        on_side = np.where(np.asarray(u) * side > 0, distance, np.inf)
        worst = np.maximum(worst, np.minimum(on_side.min(axis=1), abs(w)))
    return worst


def conv2d(x: np.ndarray, kernel: np.ndarray, padding: int = 0) -> np.ndarray:
    """Chapter 10's convolution by its definition, stride 1, zero padding: x (m, c_in, H, W), kernel
    (c_out, c_in, h, w) → (m, c_out, H + 2p − h + 1, W + 2p − w + 1), out[o, r, s] = Σ_{c,i,j} K[o,c,i,j] x̃[c, r+i, s+j]."""
    x, kernel = np.asarray(x, dtype=np.float64), np.asarray(kernel, dtype=np.float64)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    c_out, _, h, w = kernel.shape
    rows, cols = padded.shape[2] - h + 1, padded.shape[3] - w + 1
    out = np.zeros((x.shape[0], c_out, rows, cols))
    for r in range(rows):
        for s in range(cols):
            out[:, :, r, s] = np.einsum("mcij,ocij->mo", padded[:, :, r:r + h, s:s + w], kernel)
    return out


def conv_dense_matrix(kernel: np.ndarray, image: tuple[int, int, int], padding: int = 0) -> np.ndarray:
    """The matrix of x ↦ conv2d(x, K) on images of shape ``image`` (c_in, H, W), column by column from the
    convolutions of the basis images."""
    size = int(np.prod(image))
    basis = np.eye(size).reshape(size, *image)
    return conv2d(basis, kernel, padding).reshape(size, -1).T


def cnn_forward(kernel: np.ndarray, weight: np.ndarray, x: np.ndarray, padding: int = 0) -> np.ndarray:
    """Chapter 10's target CNN: W · flatten(σ(conv(x, K))), row-wise."""
    hidden = np.maximum(conv2d(x, kernel, padding), 0).reshape(np.asarray(x).shape[0], -1)
    return hidden @ np.asarray(weight, dtype=np.float64).T
