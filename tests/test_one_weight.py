import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L

weights = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


@given(w=weights, k=st.integers(1, 2000), seed=st.integers(0, 2**31 - 1))
def test_pair_error_bounds_the_function_error(w, k, seed):
    result = L.prune_one_weight(w, k, seed, eps=0.05)
    x = torch.linspace(-1, 1, 401, dtype=torch.float64)
    measured = (result(x) - w * x).abs()
    assert (measured <= result.error * x.abs() + 1e-12).all()
    assert result.error <= abs(w) + 1e-15  # keeping no unit is always allowed


@given(w=weights, k=st.integers(1, 500), seed=st.integers(0, 2**31 - 1))
def test_chosen_pair_is_optimal_on_each_side(w, k, seed):
    result = L.prune_one_weight(w, k, seed, eps=0.05)
    pairs = list(zip((result.u * result.v).tolist(), result.u.tolist(), strict=True))
    best_plus = min([abs(w)] + [abs(p - w) for p, u in pairs if u > 0])
    best_minus = min([abs(w)] + [abs(p - w) for p, u in pairs if u < 0])
    assert float(result.choice.plus_error.abs()) == pytest.approx(best_plus, abs=1e-15)
    assert float(result.choice.minus_error.abs()) == pytest.approx(best_minus, abs=1e-15)


def test_kept_units_have_one_of_each_sign():
    result = L.prune_one_weight(0.5, 1000, seed=0)
    u_plus, u_minus = (float(result.u[int(i)]) for i in (result.choice.plus_index, result.choice.minus_index))
    assert u_plus > 0 > u_minus


def test_same_seed_same_result_and_other_seed_differs():
    a, b, c = (L.prune_one_weight(0.3, 500, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.u, b.u) and torch.equal(a.v, b.v) and a.kept == b.kept
    assert not torch.equal(a.u, c.u)


def test_failure_is_reported_not_hidden():
    result = L.prune_one_weight(0.9, 3, seed=1, eps=1e-6)
    assert not result.succeeded
    assert "FAILED" in result.message and "increase k" in result.message


@pytest.mark.parametrize("w", [0.0, 0.3, -0.7, 1.0])
def test_unit_probability_integrates_the_product_density(w):
    eps = 0.05
    z = torch.linspace(max(w - eps, -1), min(w + eps, 1), 200001, dtype=torch.float64)
    density = -0.5 * torch.log(z.abs().clamp(min=1e-300)) / 2  # half the units have u > 0
    numeric = float(torch.trapezoid(density, z))
    assert float(L.unit_success_probability(w, eps)) == pytest.approx(numeric, rel=2e-3)


def test_worst_case_probability_is_at_the_bound_and_at_least_eps_squared_over_8():
    eps = 0.01
    grid = torch.linspace(-1, 1, 2001, dtype=torch.float64)
    assert L.worst_case_unit_probability(eps) == pytest.approx(float(L.unit_success_probability(grid, eps).min()))
    assert L.worst_case_unit_probability(eps) >= eps**2 / 8


@pytest.mark.parametrize(("w", "k"), [(0.5, 100), (0.9, 300), (1.0, 2000)])
def test_exact_pair_probability_matches_simulation(w, k):
    eps, trials = 0.01, 4000
    exact = float(L.pair_success_probability(w, eps, k))
    simulated = L.empirical_success_probability(w, eps, k, trials, seed=11)
    sigma = math.sqrt(max(exact * (1 - exact), 1e-4) / trials)
    assert abs(simulated - exact) <= 4 * sigma


def test_layer_width_bound_delivers_its_promise_on_a_small_layer():
    n, d, eps, delta = 2, 2, 0.3, 0.05
    k = L.layer_width_bound(n, d, eps, delta)
    worst = -torch.ones(n, d, dtype=torch.float64)  # |w| = 1 is the hardest weight
    failures = sum(not L.prune_layer(worst, eps, k=k, seed=s).succeeded for s in range(40))
    assert failures <= 6  # expectation <= delta * 40 = 2
