"""lottolib.exact: the worst error of a pruned network on the unit ball (d ≤ 3) as a verified enclosure
[value, upper], value attained at the returned x. Checked against methods written independently in
tests/reference.py: exact rational evaluation, a closed form for one output, dense sampling of the circle
refined in 40-digit arithmetic, dense sampling of the sphere refined in shrinking caps."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lottolib as L
from lottolib.exact import _copositive, exact_supremum

TINY = 2.0**-66  # ≈ 1.4e-20: errors far below the weights, where W + E − W in floats loses every digit


def errors_of(construction, scale: float = 1.0):
    """(W_i, scale·E⁺_i, scale·E⁻_i) of a network construction, as NumPy arrays (scale a power of two: exact)."""
    return ([w.numpy() for w in construction.target], [layer.plus_error.numpy() * scale for layer in construction.layers],
            [layer.minus_error.numpy() * scale for layer in construction.layers])


def exact_of(weights, plus, minus):
    return exact_supremum(*([torch.tensor(a) for a in group] for group in (weights, plus, minus)))


def assert_attained_and_enclosed(weights, plus, minus, result, relative_gap=1e-9):
    """x lies in the unit ball (in exact rationals), value is the exact error at x rounded down to at most
    one ulp, and value ≤ upper ≤ value (1 + relative_gap)."""
    x = result.x.tolist()
    assert sum(Fraction(v) ** 2 for v in x) <= 1
    at_x = reference.exact_error_squared(weights, plus, minus, x)
    assert Fraction(result.value) ** 2 <= at_x
    assert Fraction(math.nextafter(result.value, math.inf)) ** 2 > at_x
    assert result.value <= result.upper <= result.value * (1 + relative_gap)


def test_the_issue_case_is_enclosed_and_attained():
    """random_target([3, 4, 4, 2], 1), SubsetSum, k = 8, seed 1: once reported as 0.22285 at an x whose error
    is 0.1068; sampling, the adversary and the tight certificate agree on 0.19461."""
    construction = L.prune_random_network(L.random_target([3, 4, 4, 2], seed=1), 0.1, seed=1, k=8, method="subset_sum")
    weights, plus, minus = errors_of(construction)
    result = exact_of(weights, plus, minus)
    assert_attained_and_enclosed(weights, plus, minus, result)
    sampled = reference.sphere_supremum(weights, plus, minus)  # a value the error attains
    assert result.upper >= sampled * (1 - 1e-12)  # float64 evaluation of the samples: a few ulps
    assert result.value >= sampled * (1 - 1e-9)
    assert result.value == pytest.approx(0.194608, abs=1e-6)
    # the float64 forward pass at x (NumPy, from the formulas) gives the same value
    at_x = reference.relu_error_norms(weights, plus, minus, result.x.numpy()[None])[0]
    assert at_x == pytest.approx(result.value, rel=1e-12)


def test_one_layer_one_output_equals_the_closed_form_at_any_scale():
    """One layer, one output: sup² = max(‖m‖², ‖m'‖²) (chapter 3's exercise), exact in rationals; at errors of
    2⁻⁶⁶ (≈ 1e-20) the value is the same up to that factor (the map is linear in the errors)."""
    construction = L.prune_random_network(L.random_target([3, 1], seed=4), 0.1, seed=2, k=6)
    for scale in (1.0, TINY, 2.0**-1040):  # the last: errors in the subnormal range
        weights, plus, minus = errors_of(construction, scale)
        result = exact_of(weights, plus, minus)
        truth = reference.one_output_sup_squared_exact([Fraction(float(v)) for v in plus[0][0]],
                                                       [Fraction(float(v)) for v in minus[0][0]])
        assert Fraction(result.value) ** 2 <= truth <= Fraction(result.upper) ** 2
        assert truth > 0 and result.value > 0
        if scale != 2.0**-1040:  # in the subnormal range a float holds fewer digits
            assert_attained_and_enclosed(weights, plus, minus, result)


@pytest.mark.parametrize("scale", [1.0, TINY])
def test_depth_two_in_the_plane_against_the_refined_circle(scale):
    """d = 2, depth 2, errors of normal size and of size 1e-20: the enclosure holds the circle's refined peak."""
    construction = L.prune_random_network(L.random_target([2, 3, 2], seed=3), 0.1, seed=2, k=6)
    weights, plus, minus = errors_of(construction, scale)
    result = exact_of(weights, plus, minus)
    assert_attained_and_enclosed(weights, plus, minus, result)
    peak = reference.circle_supremum(weights, plus, minus)
    assert result.upper >= peak * (1 - 1e-15)
    assert result.value >= peak * (1 - 1e-12)


def test_a_sliver_region_between_two_nearly_parallel_hyperplanes():
    """Two hidden units whose hyperplanes differ by 1e-15 in angle cut a sliver region; its end vertices agree to
    about 1e-15 (where a basis built from their difference is rounding noise)."""
    weights = [np.array([[1.0, 1.0], [1.0, 1.0 + 2.0**-50], [0.3, -0.9]]), np.array([[0.8, -0.7, 0.5]])]
    plus = [np.full((3, 2), 0.01), np.array([[0.02, -0.03, 0.01]])]
    minus = [np.array([[0.004, -0.01], [0.02, 0.0], [-0.01, 0.02]]), np.zeros((1, 3))]
    result = exact_of(weights, plus, minus)
    assert_attained_and_enclosed(weights, plus, minus, result)
    peak = reference.circle_supremum(weights, plus, minus)
    assert result.upper >= peak * (1 - 1e-15) and result.value >= peak * (1 - 1e-12)


@st.composite
def tiny_networks(draw):
    d = draw(st.integers(1, 3))
    widths = [d] + [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 3)))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    error = draw(st.sampled_from([TINY, 0.001, 0.05, 0.3]))
    weights = [rng.uniform(-1, 1, (b, a)) for a, b in itertools.pairwise(widths)]
    plus = [rng.uniform(-error, error, w.shape) for w in weights]
    minus = [rng.uniform(-error, error, w.shape) for w in weights]
    return weights, plus, minus


@settings(max_examples=20, deadline=None)
@given(tiny_networks())
def test_enclosure_against_dense_sampling(network):
    """Every sampled error (float64, propagated as a difference) is ≤ upper; value is attained at x; with errors
    of normal size the best sample is ≥ value up to the sampling's resolution (at 1e-20 the worst input may lie
    on a region of width 1e-20, which no sample hits)."""
    weights, plus, minus = network
    result = exact_of(weights, plus, minus)
    assert_attained_and_enclosed(weights, plus, minus, result)
    d = weights[0].shape[1]
    x = np.random.default_rng(0).standard_normal((20_000, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sampled = np.linalg.norm(reference.relu_error_vectors(weights, plus, minus, x), axis=1)
    assert sampled.max() <= result.upper * (1 + 1e-12)
    if max(float(np.abs(p).max()) for p in plus) > 1e-10:
        assert sampled.max() >= result.value * (1 - {1: 1e-12, 2: 1e-3, 3: 0.1}[d])


STEPS = 300
SIMPLEX = np.array([(i, j, STEPS - i - j) for i in range(STEPS + 1) for j in range(STEPS + 1 - i)]) / STEPS


def _copositive_by_brute_force(matrix: np.ndarray) -> float:
    """min of yᵀ B y over the simplex {y ≥ 0, Σ y = 1}, on a grid of spacing 1/300."""
    return float((SIMPLEX @ matrix * SIMPLEX).sum(axis=1).min())


def test_the_copositivity_test_agrees_with_brute_force_on_the_simplex():
    """3×3 matrices B = P − t I near the copositivity boundary: _copositive says yes only if the minimum of
    yᵀBy over the simplex is ≥ 0, and says yes whenever that minimum is clearly positive."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        base = rng.uniform(-1, 1, (3, 3))
        base = (base + base.T) / 2
        minimum = _copositive_by_brute_force(base)
        for shift in (minimum - 0.01, minimum + 0.01):  # just copositive, just not
            matrix = base - shift * np.ones((3, 3))  # yᵀ 1 1ᵀ y = 1 on the simplex: shifts the minimum
            verdict = _copositive([[Fraction(float(v)) for v in row] for row in matrix])
            truth = _copositive_by_brute_force(matrix)
            assert verdict == (truth > 0), (matrix, truth)


def test_too_many_regions_and_wide_inputs_are_refused_with_the_message(monkeypatch):
    with pytest.raises(ValueError, match=r"for d <= 3 only, got d = 4; use lottolib\.adversary\.strong_adversary"):
        exact_supremum([torch.ones(2, 4, dtype=torch.float64)], [torch.zeros(2, 4)], [torch.zeros(2, 4)])
    monkeypatch.setattr("lottolib.exact.MAX_REGIONS", 5)
    weights = L.random_target([2, 4, 2], seed=0)
    with pytest.raises(ValueError, match="more than 5 linear regions: use a smaller target for exact_supremum"):
        exact_supremum(weights, [w * 0.01 for w in weights], [w * 0.02 for w in weights])
