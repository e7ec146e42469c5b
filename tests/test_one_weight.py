"""Chapter 2: one weight from k random units, and the probabilities and widths that follow from it.

Every expectation comes from tests/reference.py (the book's formulas, implemented separately).
"""

import math
import re
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L

weights = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


@given(w=weights, k=st.integers(1, 400), seed=st.integers(0, 2**32))
def test_chosen_pair_is_the_best_unit_of_each_sign(w, k, seed):
    result = L.prune_one_weight(w, k=k, seed=seed)
    plus, minus = reference.best_pair_errors((result.u * result.v).tolist(), result.u.tolist(), w)
    assert float(result.choice.plus_error) == plus
    assert float(result.choice.minus_error) == minus
    kept_signs = sorted(float(result.u[a]) > 0 for a in result.kept)
    assert kept_signs in ([], [False], [True], [False, True])


@given(w=weights, k=st.integers(1, 400), seed=st.integers(0, 2**32))
def test_certificate_is_the_exact_sup_rounded_up(w, k, seed):
    result = L.prune_one_weight(w, k=k, seed=seed)
    keep = [a in result.kept for a in range(k)]
    u, v = result.block.first[:, 0].tolist(), result.block.second[0].tolist()
    products = [Fraction(a) * Fraction(b) for a, b in zip(u, v, strict=True)]
    plus = sum((p for p, a, kept in zip(products, u, keep, strict=True) if kept and a > 0), Fraction(0)) - Fraction(w)
    minus = sum((p for p, a, kept in zip(products, u, keep, strict=True) if kept and a < 0), Fraction(0)) - Fraction(w)
    exact = max(abs(plus), abs(minus))  # sup over |x| <= 1 of |g(x) - w x|
    assert Fraction(result.certificate) >= exact
    assert result.certificate <= float(exact) * (1 + 1e-12) + 1e-300
    assert result.certificate <= abs(w) * (1 + 1e-12)  # keeping no unit is always allowed


@given(w=weights, k=st.integers(1, 300), seed=st.integers(0, 2**32))
def test_pruned_block_computes_w_x_plus_the_side_errors(w, k, seed):
    result = L.prune_one_weight(w, k=k, seed=seed)
    x = torch.linspace(-1, 1, 201, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        full, compact = result.module()(x), result.module(compact=True)(x)
    plus, minus = float(result.choice.plus_error), float(result.choice.minus_error)
    expected = w * x + plus * torch.relu(x) - minus * torch.relu(-x)
    assert torch.allclose(full, expected, atol=1e-15, rtol=0)
    assert torch.equal(full, compact)
    assert (result.error(x) <= result.certificate * x.abs().squeeze(1) + 1e-15).all()


def test_a_weight_of_zero_keeps_no_unit():
    result = L.prune_one_weight(0.0, k=50, seed=3)
    assert result.kept == [] and result.certificate == 0.0 and result.kept_parameters == 0


def test_same_seed_same_units_and_another_seed_differs():
    a, b, c = (L.prune_one_weight(0.3, k=500, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.block.first, b.block.first) and a.kept == b.kept
    assert not torch.equal(a.block.first, c.block.first)
    assert torch.equal(a.block.first, L.sample_block(1, 1, 500, 7).first)


def test_failure_is_reported_not_hidden():
    result = L.prune_one_weight(0.9, k=3, seed=1, eps=1e-6)
    assert not result.succeeded
    assert "FAILED" in result.message and "increase k or eps" in result.message
    assert L.prune_one_weight(0.9, k=3, seed=1).succeeded  # no eps asked: nothing to miss
    assert "no eps asked" in L.prune_one_weight(0.9, k=3, seed=1).message


@pytest.mark.parametrize("w", [0.0, 0.3, -0.7, 0.95, 1.0, -1.0])
@pytest.mark.parametrize("eps", [0.05, 0.3, 1.5])
def test_unit_probability_integrates_the_one_sided_product_density(w, eps):
    assert float(L.unit_success_probability(w, eps)) == pytest.approx(reference.unit_probability(w, eps), rel=1e-9)


@pytest.mark.parametrize("eps", [0.5, 0.1, 1e-3, 1e-6, 1e-9, 1e-12])
def test_worst_case_probability_is_at_the_bound_and_stable_for_tiny_eps(eps):
    worst = L.worst_case_unit_probability(eps)
    assert eps**2 / 8 <= worst <= eps**2 / (8 * (1 - eps))  # chapter 6's exercise
    series = 0.25 * sum(eps**m / (m * (m - 1)) for m in range(2, 60))
    assert worst == pytest.approx(series, rel=1e-12)
    grid = torch.linspace(-1, 1, 401, dtype=torch.float64)
    if eps >= 1e-3:
        assert worst <= float(L.unit_success_probability(grid, eps).min()) * (1 + 1e-9)


@pytest.mark.parametrize(("w", "eps", "k"), [(0.5, 0.01, 100), (0.9, 0.02, 300), (1.0, 0.01, 2000), (0.005, 0.01, 3)])
def test_pair_probability_is_inclusion_exclusion_over_the_two_sides(w, eps, k):
    p = reference.unit_probability(w, eps)
    expected = 1.0 if abs(w) <= eps else reference.pair_success_probability(p, k)
    assert float(L.pair_success_probability(w, eps, k)) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(("w", "k"), [(0.5, 100), (0.9, 300), (1.0, 2000)])
def test_exact_pair_probability_matches_simulation(w, k):
    eps, trials = 0.01, 4000
    exact = float(L.pair_success_probability(w, eps, k))
    simulated = L.empirical_success_probability(w, eps, k, trials, seed=11)
    sigma = math.sqrt(max(exact * (1 - exact), 1e-4) / trials)
    assert abs(simulated - exact) <= 4 * sigma


@given(w=weights, k=st.integers(1, 50), trials=st.integers(1, 20), seed=st.integers(0, 10**6))
def test_sampled_pair_errors_are_best_pair_errors_of_independent_blocks(w, k, trials, seed):
    errors = L.sampled_pair_errors(w, k, trials, seed)
    stream = torch.Generator().manual_seed(seed)
    u, v = (torch.rand(trials, k, generator=stream, dtype=torch.float32).mul_(2).sub_(1).double() for _ in range(2))
    for trial in range(trials):
        plus, minus = reference.best_pair_errors((u[trial] * v[trial]).tolist(), u[trial].tolist(), w)
        assert float(errors[trial]) == max(abs(plus), abs(minus))


@pytest.mark.parametrize(("n", "d", "eps", "delta"), [(1, 1, 0.5, 0.1), (2, 3, 0.1, 0.05), (16, 16, 0.05, 0.1),
                                                       (32, 24, 0.05, 0.05), (4, 4, 1e-3, 0.01)])
def test_layer_width_is_the_smallest_k_the_union_bound_allows(n, d, eps, delta):
    assert L.layer_width_bound(n, d, eps, delta) == reference.layer_width(n, d, eps, delta)


@pytest.mark.parametrize(("shapes", "eps", "delta"), [([(1, 1)], 0.5, 0.05), ([(2, 2)], 1.0, 0.2),
                                                       ([(4, 4), (2, 4)], 0.1, 0.1), ([(3, 5), (3, 3), (2, 3)], 0.05, 0.05)])
def test_network_width_splits_eps_and_delta_over_the_layers(shapes, eps, delta):
    assert L.network_width_bound(shapes, eps, delta) == reference.network_widths(shapes, eps, delta)


def test_layer_width_bound_delivers_its_promise_on_a_small_layer():
    n, d, eps, delta = 2, 2, 0.3, 0.05
    k = L.layer_width_bound(n, d, eps, delta)
    worst = -torch.ones(n, d, dtype=torch.float64)  # |w| = 1 is the hardest weight
    failures = sum(not L.prune_layer(worst, k=k, seed=s, eps=eps).succeeded for s in range(40))
    assert failures <= 6  # expectation <= delta * 40 = 2


def test_a_tie_between_a_unit_and_keeping_none_keeps_none():
    """|u v − w| = |w| (product 1, w = ½): keeping no unit is as close, and the book keeps none (error −w, never +w
    from a unit); the reference does the same (strict improvement only)."""
    products = torch.tensor([1.0, -1.0], dtype=torch.float64)
    first = torch.tensor([1.0, -1.0], dtype=torch.float64)
    w = torch.tensor(0.5, dtype=torch.float64)
    choice = L.choose_pairs(products, first, w)
    assert (int(choice.plus_index), float(choice.plus_error)) == (L.one_weight.NONE, -0.5)
    assert reference.best_pair_errors([1.0, -1.0], [1.0, -1.0], 0.5) == (-0.5, -0.5)
    assert (int(choice.minus_index), float(choice.minus_error)) == (L.one_weight.NONE, -0.5)  # |−1 − ½| > ½


def test_target_forward_is_w_x_in_float64_for_any_input_type():
    """Python floats and ints are read as float64 (not torch's default float32); float32 tensors are widened exactly."""
    result = L.prune_one_weight(0.3, k=5, seed=0)
    single = float(np.float32(0.1))
    cases = [([0.1, -0.7], [0.3 * 0.1, 0.3 * -0.7]), (torch.tensor([0.1], dtype=torch.float32), [0.3 * single]),
             ([1, 2], [0.3, 0.3 * 2])]
    for x, expected in cases:
        out = result.target_forward(x)
        assert out.dtype == torch.float64
        assert out.tolist() == expected


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: L.prune_one_weight(0.5, k=0, seed=0), ValueError, "k must be an integer >= 1, got 0; use at least k=1"),
    (lambda: L.prune_one_weight(1.5, k=3, seed=0), ValueError,
     "w has an entry of magnitude 1.5 > 1.0: the construction needs every weight in [-1.0, 1.0]; rescale the target "
     "(ReLU networks are positively homogeneous)"),
    (lambda: L.prune_one_weight(float("nan"), k=3, seed=0), ValueError,
     "w holds 1 NaN or infinite entries; every weight must be a finite number"),
])
def test_bad_one_weight_inputs_get_the_exact_message(call, error, message):
    with pytest.raises(error, match=re.escape(message) + "$"):
        call()
