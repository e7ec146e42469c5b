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


def pruned_relu_network(weights: list[np.ndarray], plus: list[np.ndarray], minus: list[np.ndarray],
                        x: np.ndarray) -> np.ndarray:
    """Chapter 5's pruned network G̃ from its per-weight errors, row-wise in float64: block i computes
    W h + E⁺ σ(h) − E⁻ σ(−h), with a ReLU between blocks and none after the last."""
    h = np.asarray(x, dtype=np.float64)
    for i, (w, p, m) in enumerate(zip(weights, plus, minus, strict=True)):
        w, p, m = (np.asarray(a, dtype=np.float64) for a in (w, p, m))
        h = h @ w.T + np.maximum(h, 0) @ p.T - np.maximum(-h, 0) @ m.T
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return h


def relu_error_norms(weights, plus, minus, x: np.ndarray) -> np.ndarray:
    """‖G̃(x) − F(x)‖₂ row-wise in float64."""
    return np.linalg.norm(pruned_relu_network(weights, plus, minus, x) - relu_network(weights, x), axis=1)


def relu_error_vectors(weights, plus, minus, x: np.ndarray) -> np.ndarray:
    """G̃(x) − F(x) row-wise in float64, propagated as a difference so that tiny errors are not lost to
    cancellation: layer 1 adds E⁺σ(x) − E⁻σ(−x); a later block, whose input h̃ = h + δ is ≥ 0, adds
    W δ + E⁺ h̃; the ReLU maps (z, δ) to σ(z + δ) − σ(z), which is δ where both are positive."""
    h = np.asarray(x, dtype=np.float64)
    delta = np.maximum(h, 0) @ np.asarray(plus[0], dtype=np.float64).T \
        - np.maximum(-h, 0) @ np.asarray(minus[0], dtype=np.float64).T
    z = h @ np.asarray(weights[0], dtype=np.float64).T
    for w, p in zip(weights[1:], plus[1:], strict=True):
        w, p = np.asarray(w, dtype=np.float64), np.asarray(p, dtype=np.float64)
        shifted = z + delta
        both = (z > 0) & (shifted > 0)
        relu_delta = np.where(both, delta, np.maximum(shifted, 0) - np.maximum(z, 0))
        h = np.maximum(z, 0)
        z, delta = h @ w.T, relu_delta @ w.T + (h + relu_delta) @ p.T
    return delta


def _rational_matrix(matrix) -> list[list[Fraction]]:
    return [[Fraction(float(v)) for v in row] for row in np.asarray(matrix, dtype=np.float64)]


def exact_error_squared(weights, plus, minus, x) -> Fraction:
    """‖G̃(x) − F(x)‖₂² for one input x, in exact rationals (every float read as the rational it is)."""
    def apply(matrix, h):
        return [sum((a * b for a, b in zip(row, h, strict=True)), Fraction(0)) for row in matrix]

    target = pruned = [Fraction(float(v)) for v in x]
    for i, (w, p, m) in enumerate(zip(weights, plus, minus, strict=True)):
        w, p, m = _rational_matrix(w), _rational_matrix(p), _rational_matrix(m)
        positive = [max(v, Fraction(0)) for v in pruned]
        negative = [max(-v, Fraction(0)) for v in pruned]
        pruned = [a + b - c for a, b, c in zip(apply(w, pruned), apply(p, positive), apply(m, negative), strict=True)]
        target = apply(w, target)
        if i < len(weights) - 1:
            pruned = [max(v, Fraction(0)) for v in pruned]
            target = [max(v, Fraction(0)) for v in target]
    return sum(((a - b) ** 2 for a, b in zip(pruned, target, strict=True)), Fraction(0))


def circle_supremum(weights, plus, minus, points: int = 20_000, digits: int = 40) -> float:
    """d = 2: sup over the unit circle of ‖G̃(x) − F(x)‖₂ by dense sampling, then a golden-section search in
    ``digits``-digit arithmetic (mpmath) around each of the three best sampled angles. A value the error
    attains (so at most the supremum), equal to it to about 15 digits once a search lands on the peak."""
    import mpmath

    angles = np.linspace(0, 2 * np.pi, points, endpoint=False)
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    values = np.linalg.norm(relu_error_vectors(weights, plus, minus, x), axis=1)
    step = 2 * np.pi / points
    best = 0.0
    with mpmath.workdps(digits):
        layers = [[mpmath.matrix(np.asarray(a, dtype=np.float64).tolist()) for a in layer]
                  for layer in zip(weights, plus, minus, strict=True)]

        def error(angle):
            target = pruned = mpmath.matrix([mpmath.cos(angle), mpmath.sin(angle)])
            for i, (w, p, m) in enumerate(layers):
                positive = pruned.apply(lambda v: max(v, 0))
                negative = pruned.apply(lambda v: max(-v, 0))
                pruned, target = w * pruned + p * positive - m * negative, w * target
                if i < len(layers) - 1:
                    pruned, target = pruned.apply(lambda v: max(v, 0)), target.apply(lambda v: max(v, 0))
            return mpmath.norm(pruned - target)

        ratio = (mpmath.sqrt(5) - 1) / 2
        for index in np.argsort(values)[-3:]:
            low, high = mpmath.mpf(angles[index] - step), mpmath.mpf(angles[index] + step)
            a, b = high - ratio * (high - low), low + ratio * (high - low)
            fa, fb = error(a), error(b)
            for _ in range(80):  # the bracket shrinks by 0.618 per step: from 6e-4 to below 1e-19
                if fa < fb:
                    low, a, fa = a, b, fb
                    b = low + ratio * (high - low)
                    fb = error(b)
                else:
                    high, b, fb = b, a, fa
                    a = high - ratio * (high - low)
                    fa = error(a)
            best = max(best, float(max(fa, fb)))
    return best


def sphere_supremum(weights, plus, minus, samples: int = 50_000, seed: int = 0) -> float:
    """d = 3: sup over the unit sphere of ‖G̃(x) − F(x)‖₂ by ``samples`` uniform points (NumPy's generator),
    then, around each of the five best, rounds of 256 points in a shrinking cap (radius halved after a round
    that finds nothing better). A value the error attains in float64 (so, up to rounding, at most the supremum)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    values = relu_error_norms(weights, plus, minus, x)
    best = float(values.max())
    for index in np.argsort(values)[-5:]:
        point, value, radius = x[index], float(values[index]), 0.05
        while radius > 1e-15:
            cloud = point + radius * rng.standard_normal((256, 3))
            cloud /= np.linalg.norm(cloud, axis=1, keepdims=True)
            found = relu_error_norms(weights, plus, minus, cloud)
            if found.max() > value:
                point, value = cloud[int(found.argmax())], float(found.max())
            else:
                radius /= 2
        best = max(best, value)
    return best


def layer_width_high_precision(n: int, d: int, eps: float, delta: float, digits: int = 1400) -> int:
    """Chapter 4's width in ``digits``-digit arithmetic (mpmath), from the closed form
    p(1, ε') = ¼ [ε' + (1 − ε') ln(1 − ε')], ε' = ε/√(2nd): the smallest k with k·(−ln(1 − p)) ≥ ln(2nd/δ).
    For every ε > 0 a float can hold, down to 5e-324 (p ≈ 10⁻⁶⁴⁸, k ≈ 10⁶⁴⁸)."""
    import mpmath

    with mpmath.workdps(digits):
        tolerance = mpmath.mpf(eps) / mpmath.sqrt(2 * n * d)
        p = (tolerance + (1 - tolerance) * mpmath.log(1 - tolerance)) / 4
        return int(mpmath.ceil(mpmath.log(mpmath.mpf(2 * n * d) / mpmath.mpf(delta)) / -mpmath.log(1 - p)))


UNIT_ROUNDOFF = 2.0**-53


def exact_pair_errors(target: np.ndarray, first: np.ndarray, second: np.ndarray, second_mask: np.ndarray, k: int
                      ) -> tuple[list[list[Fraction]], list[list[Fraction]], np.ndarray, np.ndarray]:
    """Chapter 4's per-weight errors of a pruned block, exactly: E^±[i, j] = Σ_a u_{j,a} v_{i,(j,a)} − w_ij over the
    kept units a of group j with ±u_{j,a} > 0 (u_{j,a} = first[j·k + a, j], v = second), in rationals; and how many
    products each sum has (for the rounding slack of the stored float64 errors)."""
    n, d = np.asarray(target).shape
    plus = [[Fraction(0)] * d for _ in range(n)]
    minus = [[Fraction(0)] * d for _ in range(n)]
    counts = np.zeros((2, n, d), dtype=int)
    for i in range(n):
        for j in range(d):
            for side, errors in enumerate((plus, minus)):
                total = Fraction(0)
                for a in range(k):
                    u = float(first[j * k + a, j])
                    if second_mask[i, j * k + a] and (u > 0 if side == 0 else u < 0):
                        total += Fraction(u) * Fraction(float(second[i, j * k + a]))
                        counts[side, i, j] += 1
                errors[i][j] = total - Fraction(float(target[i, j]))
    return plus, minus, counts[0], counts[1]


def spectral_norm_digits(matrix, digits: int = 50) -> Fraction:
    """‖A‖₂ of a matrix of rationals (or floats), by a ``digits``-digit SVD (mpmath), as a rational."""
    import mpmath

    with mpmath.workdps(digits):
        entries = mpmath.matrix([[mpmath.mpf(Fraction(v).numerator) / Fraction(v).denominator for v in row]
                                 for row in matrix])
        largest = max(mpmath.svd_r(entries, compute_uv=False))
        return Fraction(mpmath.nstr(largest, digits))


def rounding_slack_frobenius(errors: np.ndarray, counts: np.ndarray) -> float:
    """The bounds module's documented rounding slack of float64 errors ê = fl(Σ_c p − w), |p| ≤ 1: per entry
    2u((c − 1)₊ c + |ê|), and its Frobenius norm (float64; a test's margin, not a bound)."""
    counts = np.asarray(counts, dtype=np.float64)
    slack = 2 * UNIT_ROUNDOFF * (np.maximum(counts - 1, 0) * counts + np.abs(np.asarray(errors, dtype=np.float64)))
    return float(np.linalg.norm(slack))


def residual_recursion(norms, etas, readout=None) -> list[Fraction]:
    """Chapter 11's recursion in exact rationals: Δ_i after each block (and after the read-out).
    D_i = η₁ᵢ(R_{i−1} + Δ_{i−1}) + a_i Δ_{i−1}, Δ_i = Δ_{i−1} + η₂ᵢ(a_i R_{i−1} + D_i) + b_i D_i, R_i = R_{i−1}(1 + a_i b_i),
    read-out: η_out (R_B + Δ_B) + c Δ_B."""
    reach, gap, gaps = Fraction(1), Fraction(0), []
    for (a, b), (eta1, eta2) in zip(norms, etas, strict=True):
        a, b, eta1, eta2 = map(Fraction, (a, b, eta1, eta2))
        inner = eta1 * (reach + gap) + a * gap
        gap = gap + eta2 * (a * reach + inner) + b * inner
        reach = reach * (1 + a * b)
        gaps.append(gap)
    if readout is not None:
        c, eta = map(Fraction, readout)
        gaps.append(eta * (reach + gap) + c * gap)
    return gaps


def residual_widths(norms, readout_norm, shapes, eps: float, delta: float) -> list[int]:
    """Chapter 11's proved widths: τ = the largest float with C(τ) ≤ ε, C the recursion with every η = τ (exact
    rationals, from the given norms); each of the m pairs (shapes (n, d) in layer order) gets failure budget δ/m and
    chapter 4's width for τ."""
    def fits(tau: float) -> bool:
        readout = None if readout_norm is None else (readout_norm, tau)
        return residual_recursion(norms, [(tau, tau)] * len(norms), readout)[-1] <= Fraction(eps)

    low, high = 0.0, eps  # fits(0), and C(ε) ≥ ε: the largest τ lies in [0, ε]
    if fits(high):
        low = high
    while math.nextafter(low, math.inf) < high:
        middle = (low + high) / 2
        if middle in (low, high):
            break
        low, high = (middle, high) if fits(middle) else (low, middle)
    return [layer_width(n, d, low, delta / len(shapes)) for n, d in shapes]
