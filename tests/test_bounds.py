"""Sound arithmetic: every bound is the exact real value rounded upward, checked in exact rationals."""

import math
import re
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


def test_frobenius_bound_of_one_is_the_documented_rounding_chain_by_hand():
    """‖[1]‖_F: the sum 1 inflated by 2(N + 1)u = 4u is 1 + 2⁻⁵¹ exactly, one step up gives 1 + 3·2⁻⁵²; its
    square root 1 + 1.5·2⁻⁵² − O(2⁻¹⁰⁴) rounds to 1 + 2⁻⁵²; 1 + u is 1.0 in float64; one step up: 1 + 2⁻⁵¹.
    Any other inflation count (N, N + 2, 3(N + 1), 2/(N + 1)) or a factor 1 − u changes the result."""
    assert bounds.frobenius_norm_bound(torch.ones(1, 1, dtype=torch.float64)) == 1.0 + 2.0**-51
    assert bounds.frobenius_norm_bound(torch.full((1, 1), -0.5, dtype=torch.float64)) == 0.5 + 2.0**-52


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 10**6))
def test_frobenius_bound_covers_the_inflated_computed_sum_and_no_more(n, m, seed):
    """The docstring's argument: the exact sum of squares is at most Ŝ (1 + 2(N + 1)u) for the computed Ŝ, so the
    bound's square must reach that (in exact rationals); it adds only a few roundings on top."""
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.rand(n, m, generator=generator, dtype=torch.float64) * 2 - 1
    computed = Fraction(float(matrix.square().sum()))
    inflated = computed * (1 + 2 * (n * m + 1) * Fraction(2) ** -53)
    bound = Fraction(bounds.frobenius_norm_bound(matrix))
    assert bound**2 >= inflated
    assert bound**2 <= inflated * (1 + 16 * Fraction(2) ** -53)


def test_frobenius_bound_of_a_matrix_whose_squares_underflow_is_positive():
    """Entries 1e-200 square to 0.0 in float64, yet the exact norm is 2e-200 > 0: the bound must stay positive
    (and cover it)."""
    matrix = torch.full((2, 2), 1e-200, dtype=torch.float64)
    assert float(matrix.square().sum()) == 0.0
    bound = bounds.frobenius_norm_bound(matrix)
    assert Fraction(bound) ** 2 >= 4 * Fraction(1e-200) ** 2
    assert bounds.spectral_norm_bound(matrix) >= 2e-200


def test_spectral_bound_is_the_svd_value_inflated_by_exactly_4_m_plus_n_squared_u():
    """For diag(1, ½) padded to 3 × 2, σ̂ = 1 exactly and p = 4 (3 + 2)² = 100: the bound is 1 / (1 − 100u) rounded
    up (two steps), far below the Frobenius bound √1.25."""
    matrix = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    assert reference.spectral_norm(matrix.numpy()) == 1.0
    exact = 1 / (1 - 100 * Fraction(2) ** -53)
    bound = bounds.spectral_norm_bound(matrix)
    assert exact <= Fraction(bound) <= exact + 3 * Fraction(2) ** -52


def test_spectral_bound_falls_back_to_frobenius_when_the_slack_reaches_one_half(monkeypatch):
    """With u = 2⁻⁹ a 4 × 4 matrix has p u = 4·8²·2⁻⁹ = ½, where σ̂ / (1 − p u) = 2σ̂ no longer helps: the bound is
    the Frobenius one, whose square covers 4 (1 + 2·17·2⁻⁹) for the identity (σ̂ = 1 would give 2)."""
    monkeypatch.setattr(bounds, "UNIT_ROUNDOFF", 2.0**-9)
    bound = bounds.spectral_norm_bound(torch.eye(4, dtype=torch.float64))
    assert Fraction(bound) ** 2 >= 4 * (1 + Fraction(34, 512))


@pytest.mark.parametrize(("name", "norms", "etas", "value"), [
    ("norm", [-1.0], [0.1], "-1.0"), ("norm", [float("inf")], [0.1], "inf"), ("eta", [1.0], ["0.1"], "'0.1'"),
    ("eta", [1.0], [True], "True"), ("norm", [None], [0.1], "None"), ("eta", [1.0, 1.0], [0.1, -0.5], "-0.5"),
])
def test_certificate_names_the_bad_value_exactly(name, norms, etas, value):
    message = f"every {name} must be a finite number >= 0, got {value}"
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        bounds.certificate(norms, etas)
    with pytest.raises(ValueError, match=re.escape("certificate needs one eta per layer: 2 norms but 1 etas") + "$"):
        bounds.certificate([1.0, 1.0], [0.1])


def test_certificate_accepts_zero_norms_and_etas():
    """Δ₁ = η₁ (A₀ + Δ₀) + ‖W₁‖ Δ₀ = η₁ with A₀ = 1, Δ₀ = 0: exact zeros are allowed and give exact results."""
    assert bounds.certificate([1.0], [0.0]) == 0.0
    assert bounds.certificate([0.0], [0.5]) == 0.5
    assert bounds.certificate([0.0, 1.0], [0.5, 0.25]) == 0.25 * (0.0 + 0.5) + 1.0 * 0.5  # A₁ = 0, Δ₁ = ½


def test_rounding_slack_is_two_u_times_c_minus_one_c_plus_the_error_by_hand():
    """2u((c − 1)₊ c + |ê|): c = 0 or 1 leaves 2u|ê|; c = 2 adds 2u·(1·2); c = 3 adds 2u·(2·3) (all exact in float64)."""
    errors = torch.tensor([[0.5, -0.25, -0.5, 1.0]], dtype=torch.float64)
    counts = torch.tensor([[0, 1, 2, 3]])
    u = 2.0**-53
    expected = [2 * u * 0.5, 2 * u * 0.25, 2 * u * (1 * 2 + 0.5), 2 * u * (2 * 3 + 1.0)]
    assert bounds.rounding_slack(errors, counts).tolist() == [expected]


def test_error_matrix_bound_needs_its_rounding_slack_on_this_data():
    """Entries ê = fl(fl(p₁ + p₂) − w) with w one ulp from fl(p₁ + p₂) towards the side the sum was rounded to: then
    |ê| is one ulp while the exact |e| is one ulp plus the sum's rounding error (up to 1.5 ulp). The exact spectral
    norm (50 digits) is above the spectral bound of Ê alone, so a bound without the rounding slack would be
    unsound here; error_matrix_bound, with it, is above the exact norm."""
    products = [[(0.1, 0.2), (0.2, 0.4)], [(0.3, 0.6), (0.7, 0.1)]]
    computed, exact = [], []
    for row in products:
        computed.append([])
        exact.append([])
        for p1, p2 in row:
            total = p1 + p2
            rounding = Fraction(total) - Fraction(p1) - Fraction(p2)  # fl(p₁ + p₂) − (p₁ + p₂), non-zero here
            w = total + math.copysign(math.ulp(total), rounding)
            computed[-1].append((p1 + p2) - w)
            exact[-1].append(Fraction(p1) + Fraction(p2) - Fraction(w))
    errors = torch.tensor(computed, dtype=torch.float64)
    exact_norm = reference.spectral_norm_digits(exact)
    assert Fraction(bounds.spectral_norm_bound(errors)) < exact_norm  # the stored errors alone fall short
    assert Fraction(bounds.error_matrix_bound(errors, torch.full((2, 2), 2))) >= exact_norm


@pytest.mark.parametrize("value", [1.0, 0.75, 3.0, 4.0, 1e-310, 5e-324, 2.0**-1022, 1e300, 2.0**1023, 0.1])
def test_power_of_two_at_least_is_the_smallest_power_of_two_not_below_the_value(value):
    power = bounds.power_of_two_at_least(value)
    assert math.frexp(power)[0] == 0.5 and power >= value  # a power of two, not below the value
    assert Fraction(power) / 2 < Fraction(value)  # the next smaller power of two is below it
