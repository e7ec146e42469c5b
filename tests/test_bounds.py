"""Sound arithmetic: every bound is the exact real value rounded upward, checked in exact rationals."""

import math
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from hypothesis import given
from hypothesis import strategies as st

from lottolib import bounds

finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_subnormal=True)


@given(finite, finite)
def test_add_and_mul_round_up_to_the_nearest_float_above(a, b):
    pairs = ((bounds.add_up(a, b), Fraction(a) + Fraction(b)), (bounds.mul_up(a, b), Fraction(a) * Fraction(b)))
    for result, exact in pairs:
        assert Fraction(result) >= exact
        assert result == 0.0 or Fraction(math.nextafter(result, -math.inf)) < exact  # the smallest such float


@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 10**6), st.sampled_from([1e-8, 1.0, 1e8]))
def test_spectral_and_frobenius_bounds_are_above_the_exact_norms(n, m, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    matrix = (torch.rand(n, m, generator=generator, dtype=torch.float64) * 2 - 1) * scale
    spectral = reference.spectral_norm(matrix.numpy())
    assert spectral <= bounds.spectral_norm_bound(matrix) <= spectral * (1 + 1e-9)
    squares = sum(Fraction(v) ** 2 for v in matrix.flatten().tolist())
    frobenius = bounds.frobenius_norm_bound(matrix)
    assert Fraction(frobenius) ** 2 >= squares
    assert frobenius <= float(np.linalg.norm(matrix.numpy())) * (1 + 1e-12)
    assert bounds.spectral_norm_bound(matrix) <= frobenius


def test_zero_matrices_have_norm_zero_exactly():
    assert bounds.spectral_norm_bound(torch.zeros(3, 4, dtype=torch.float64)) == 0.0
    assert bounds.frobenius_norm_bound(torch.zeros(3, 4, dtype=torch.float64)) == 0.0
    assert bounds.error_matrix_bound(torch.zeros(2, 2, dtype=torch.float64), torch.ones(2, 2)) == 0.0


def test_spectral_bound_of_a_rank_one_matrix_is_exact_up_to_the_rounding_margin():
    u, v = torch.tensor([[3.0], [4.0]], dtype=torch.float64), torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert 5.0 <= bounds.spectral_norm_bound(u @ v) <= 5.0 * (1 + 1e-12)
    with pytest.raises(ValueError, match="needs a matrix"):
        bounds.spectral_norm_bound(torch.zeros(3, dtype=torch.float64))


def test_error_matrix_bound_covers_the_rounding_of_sums_of_kept_products():
    """ê = fl(Σ p_a − w) may differ from the exact value; the bound must cover the exact one."""
    generator = torch.Generator().manual_seed(0)
    products = (torch.rand(6, 5, 20, generator=generator, dtype=torch.float32) * 2 - 1).double() ** 2 / 3
    keep = torch.rand(6, 5, 20, generator=generator) < 0.5
    w = torch.rand(6, 5, generator=generator, dtype=torch.float64) * 2 - 1
    computed = (products * keep).sum(dim=2) - w
    exact = [[sum((Fraction(p) for p, k in zip(products[i, j].tolist(), keep[i, j].tolist(), strict=True) if k),
                  Fraction(0)) - Fraction(float(w[i, j])) for j in range(5)] for i in range(6)]
    slack = max(abs(exact[i][j] - Fraction(float(computed[i, j]))) for i in range(6) for j in range(5))
    bound = bounds.error_matrix_bound(computed, keep.sum(dim=2))
    spectral = reference.spectral_norm(np.array([[float(v) for v in row] for row in exact]))
    assert bound >= spectral and bound >= bounds.spectral_norm_bound(computed) + float(slack) * 0.99
    assert bound <= spectral * (1 + 1e-9)


@pytest.mark.parametrize(("norms", "etas"), [([1.0], [0.1]), ([0.5, 2.0], [0.01, 0.02]), ([1.0, 1.0, 1.0], [0.3, 0.2, 0.1])])
def test_certificate_is_the_exact_recursion_rounded_up(norms, etas):
    exact = reference.certificate_exact(norms, etas)
    result = bounds.certificate(norms, etas)
    assert Fraction(result) >= exact and result <= float(exact) * (1 + 1e-12)


def test_certificate_adds_the_previous_gap_inside_the_eta_term():
    """Δ₂ = η₂ (A₁ + Δ₁) + ‖W₂‖ Δ₁: dropping Δ₁ from the η term would give 0.1·1 + 1·0.5 = 0.6."""
    assert bounds.certificate([1.0, 1.0], [0.5, 0.1]) == pytest.approx(0.1 * (1 + 0.5) + 0.5, rel=1e-15)
