"""The tight certificate, the strong adversary and the exact supremum, checked against each other
and against formulas written here from the mathematics (not by calling the functions under test)."""

from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lottolib as L
from lottolib.adversary import singular_starts, strong_adversary
from lottolib.exact import exact_supremum
from lottolib.propagation import (
    _with_best_t,
    recursion_certificate,
    sqrt_up,
    tight_certificate,
    tight_certificate_of,
    tight_certificate_report,
)
from lottolib.relaxation import Multipliers, network_problem, verified_bound

pytest.importorskip("cvxpy")
RELATIVE = 1e-9  # exact_supremum is exact up to a few ulps of its region vertices

pytestmark = pytest.mark.solver  # the semidefinite solver: not in mutation runs (make mutants)


def pruned_numpy(weights, plus, minus, x):
    """G̃(x) from the formulas: layer i computes W h + E⁺ σ(h) − E⁻ σ(−h), ReLU between layers."""
    h = np.asarray(x, dtype=float)
    for i, (w, p, m) in enumerate(zip(weights, plus, minus, strict=True)):
        w, p, m = (np.asarray(a, dtype=float) for a in (w, p, m))
        z = h @ w.T + np.maximum(h, 0) @ p.T - np.maximum(-h, 0) @ m.T
        h = np.maximum(z, 0) if i < len(weights) - 1 else z
    return h


def target_numpy(weights, x):
    h = np.asarray(x, dtype=float)
    for i, w in enumerate(weights):
        h = h @ np.asarray(w, dtype=float).T
        if i < len(weights) - 1:
            h = np.maximum(h, 0)
    return h


def error_torch(weights, plus, minus):
    def err(x):
        h = x
        for i, (w, p, m) in enumerate(zip(weights, plus, minus, strict=True)):
            z = h @ w.T + torch.relu(h) @ p.T - torch.relu(-h) @ m.T
            h = torch.relu(z) if i < len(weights) - 1 else z
        return (h - L.forward_target(weights, x)).norm(dim=1)
    return err


def planted_sup(plus_row, minus_row):
    """One layer, one output: sup = max(‖m‖, ‖m'‖), m_j = max(e⁺_j, −e⁻_j, 0), m'_j = max(−e⁺_j, e⁻_j, 0)."""
    m = np.maximum(np.maximum(plus_row, -minus_row), 0)
    m2 = np.maximum(np.maximum(-plus_row, minus_row), 0)
    return max(np.linalg.norm(m), np.linalg.norm(m2))


def test_planted_one_layer_one_output():
    rng = np.random.default_rng(3)
    weights = [torch.tensor(rng.uniform(-1, 1, (1, 3)))]
    plus = [torch.tensor([[0.03, -0.05, 0.01]], dtype=torch.float64)]
    minus = [torch.tensor([[-0.02, 0.04, 0.06]], dtype=torch.float64)]
    truth = planted_sup(plus[0].numpy()[0], minus[0].numpy()[0])
    exact = exact_supremum(weights, plus, minus)
    assert exact.value == pytest.approx(truth, rel=1e-12)
    found = strong_adversary(error_torch(weights, plus, minus), 3, samples=512, starts=16, steps=60)
    assert truth * (1 - 1e-9) <= found.error <= truth * (1 + 1e-9)
    assert float(torch.as_tensor(found.x).norm()) <= 1 + 1e-12
    report = tight_certificate_report(weights, plus, minus)
    assert report.tight >= truth
    assert report.recursion >= report.tight


def test_adversary_on_planted_wide_input():
    """d = 40: the adversary still finds the planted worst error (its orthant has 2^40 rivals)."""
    rng = np.random.default_rng(5)
    plus = [torch.tensor(rng.uniform(-0.05, 0.05, (1, 40)))]
    minus = [torch.tensor(rng.uniform(-0.05, 0.05, (1, 40)))]
    weights = [torch.tensor(rng.uniform(-1, 1, (1, 40)))]
    truth = planted_sup(plus[0].numpy()[0], minus[0].numpy()[0])
    found = strong_adversary(error_torch(weights, plus, minus), 40, samples=1024, starts=32, steps=100,
                             extra_starts=singular_starts(plus + minus, 40))
    assert found.error >= truth * (1 - 1e-6)
    assert found.error <= truth * (1 + 1e-9)


def test_exact_supremum_against_a_fine_circle_grid():
    """d = 2: the exact value is ≥ every grid value, and within Lipschitz × spacing of the best one."""
    weights = L.random_target([2, 5, 5, 3], 4)
    construction = L.prune_random_network(weights, 0.1, seed=2, k=20)
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    angles = np.linspace(0, 2 * np.pi, 200_001)
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    grid = np.linalg.norm(pruned_numpy(weights, plus, minus, x) - target_numpy(weights, x), axis=1)
    exact = exact_supremum(weights, plus, minus)
    lipschitz = 2 * math.prod(float(np.linalg.norm(w, 2)) + 1 for w in weights)
    assert exact.value >= grid.max() * (1 - RELATIVE)
    assert exact.value <= grid.max() + lipschitz * (angles[1] - angles[0])
    assert np.linalg.norm(pruned_numpy(weights, plus, minus, exact.x.numpy()) - target_numpy(weights, exact.x.numpy())) \
        == pytest.approx(exact.value, rel=1e-9)


@st.composite
def tiny_networks(draw):
    d = draw(st.integers(1, 3))
    depth = draw(st.integers(1, 3))
    widths = [d] + [draw(st.integers(1, 3)) for _ in range(depth)]
    seed = draw(st.integers(0, 2**32 - 1))
    gain = draw(st.sampled_from([0.5, 1.0, 1.5]))  # ‖W_i‖₂ above 1 too; entries up to 1
    error = draw(st.sampled_from([0.001, 0.05, 0.3]))
    rng = np.random.default_rng(seed)
    weights, plus, minus = [], [], []
    for a, b in itertools.pairwise(widths):
        w = rng.uniform(-1, 1, (b, a))
        w = w * min(gain / np.linalg.norm(w, 2), 1 / np.abs(w).max())
        weights.append(torch.tensor(w))
        plus.append(torch.tensor(rng.uniform(-error, error, (b, a))))
        minus.append(torch.tensor(rng.uniform(-error, error, (b, a))))
    return weights, plus, minus


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_networks())
def test_certificates_bound_the_exact_supremum(network):
    weights, plus, minus = network
    exact = exact_supremum(weights, plus, minus)
    report = tight_certificate_report(weights, plus, minus)
    assert report.tight >= exact.value * (1 - RELATIVE)
    assert report.recursion >= report.tight
    assert report.recursion >= exact.value * (1 - RELATIVE)
    d = weights[0].shape[1]
    found = strong_adversary(error_torch(weights, plus, minus), d, samples=256, starts=8, steps=40, lbfgs_points=1)
    assert found.error <= exact.value * (1 + RELATIVE) + 1e-15


def _every_pair(problem):
    """All pairs a ≤ b of the problem's forms as (N, 2) indices, and which of them are complementary (any sign)."""
    rows, cols = np.triu_indices(problem.forms.shape[0])
    pairs = torch.tensor(np.stack([rows, cols], 1))
    complementary = {tuple(pair) for pair in problem.complementary.tolist()}
    free = torch.tensor([(a, b) in complementary or (b, a) in complementary for a, b in pairs.tolist()])
    return pairs, free


@settings(max_examples=10, deadline=None)
@given(tiny_networks(), st.integers(0, 2**32 - 1))
def test_any_multipliers_give_a_sound_bound(network, seed):
    """The Lagrangian bound holds for *every* admissible multipliers, not only the solver's (the proposition):
    random values on every pair a ≤ b of forms (any sign on the complementary ones, negative values elsewhere
    count as 0), random τ_b ≥ 0, and t random or chosen by the full relaxation's search (_with_best_t)."""
    weights, plus, minus = network
    problem = network_problem(weights, plus, minus)
    assert problem is not None  # errors of order 1e-3 … 0.3: the scale s is well inside float64's range
    exact = exact_supremum(weights, plus, minus).value
    pairs, free = _every_pair(problem)
    rng = np.random.default_rng(seed)
    for scale in (0.0, 0.1, 3.0):
        values = torch.tensor(scale * rng.normal(size=len(pairs)))
        taus = tuple(float(tau) for tau in rng.uniform(0, scale, len(problem.blocks)))
        drawn = Multipliers(pairs, values, free, float(rng.normal()), taus).admissible()
        searched = _with_best_t(problem, drawn)
        for multipliers in (drawn, searched):
            assert verified_bound(problem, multipliers) >= exact * (1 - RELATIVE)
        if scale == 0.0:  # Y = 0, τ = 0 and the searched t give a finite bound: the check above is not vacuous
            assert math.isfinite(verified_bound(problem, searched))


def test_new_certificate_is_tight_on_a_small_random_target():
    """Depth 3: within 1.2× of the exact supremum, where the recursion's bound is > 3× above it."""
    weights = L.random_target([2, 4, 4, 2], 0)
    construction = L.prune_random_network(weights, 0.1, seed=1, k=30)
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    exact = exact_supremum(weights, plus, minus).value
    report = tight_certificate_report(weights, plus, minus)
    assert report.method == "relaxation"
    assert exact <= report.tight <= 1.2 * exact
    assert report.recursion > 3 * exact


def test_one_ulp_example_in_exact_rational_arithmetic():
    """W = [[0.0837…, 0.2599…]], seed 16, k 8: the exact sup is ‖E⁺‖₂ (both E⁺ entries ≥ 0, E⁻ ≤ 0
    pattern checked below); both certificates are ≥ it as rationals, not only as floats."""
    layer = L.prune_layer([[0.08372988203996101, 0.25997019012064015]], k=8, seed=16)
    plus, minus = layer.plus_error, layer.minus_error
    m = [max(float(a), -float(b), 0.0) for a, b in zip(plus[0], minus[0], strict=True)]
    m2 = [max(-float(a), float(b), 0.0) for a, b in zip(plus[0], minus[0], strict=True)]
    exact_squared = max(sum(Fraction(v) ** 2 for v in m), sum(Fraction(v) ** 2 for v in m2))
    assert exact_squared == sum(Fraction(float(v)) ** 2 for v in plus[0])  # the sup is ‖E⁺‖₂ here
    args = ([layer.target], [plus], [minus])
    for value in (tight_certificate(*args), recursion_certificate(*args)):
        assert Fraction(value) ** 2 >= exact_squared


def test_fallback_above_max_size_and_bad_input():
    weights = L.random_target([3, 3, 2], 1)
    construction = L.prune_random_network(weights, 0.1, seed=1, k=20)
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    report = tight_certificate_report(weights, plus, minus, max_size=4)
    assert report.method == "recursion" and report.tight == report.recursion and "max_size" in report.note
    with pytest.raises(ValueError, match="one E"):
        tight_certificate(weights, plus[:1], minus)
    with pytest.raises(ValueError, match=r"one shape"):
        tight_certificate(weights, [plus[0][:, :2], plus[1]], minus)
    with pytest.raises(ValueError, match="d <= 3"):
        exact_supremum(L.random_target([4, 2], 0), [torch.zeros(2, 4)], [torch.zeros(2, 4)])
    assert sqrt_up(2.0) ** 2 >= 2.0 and Fraction(sqrt_up(2.0)) ** 2 >= 2


def _one_unit_supremum(w2: float, e1_plus: float, e2_plus: float) -> Fraction:
    """d = 1, W1 = [[1]], W2 = [[w2]] with w2 > 0, E⁺_1 ≥ 0, E⁻ = 0 except E⁻_1 ≥ 0: for x > 0 the pruned
    network outputs (w2 + E⁺_2)(1 + E⁺_1)x against w2·x, for x < 0 both output 0 (the first layer's
    output (1 + E⁻_1)x is negative); the error is linear in x, so the supremum is at x = 1. Exact rationals."""
    return abs((Fraction(w2) + Fraction(e2_plus)) * (1 + Fraction(e1_plus)) - Fraction(w2))


@pytest.mark.parametrize("exponent", [0, -900, -1000, -1040, -1060, -1062])
@pytest.mark.parametrize("w2", [0.09215484771471874, 3e-300])
def test_tiny_and_subnormal_errors_are_bounded_in_exact_arithmetic(exponent, w2):
    """Issue 17's counterexample (E⁺_1 = 5.9e-322: the relaxation returned 4e-323 against an exact
    5.418e-323) and its relatives: errors scaled down to subnormals, and a tiny W2 (s·W2 underflows)."""
    e1_plus, e1_minus = math.ldexp(0.01, exponent), math.ldexp(0.0005, exponent)
    weights = [torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[w2]], dtype=torch.float64)]
    plus = [torch.tensor([[e1_plus]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    minus = [torch.tensor([[e1_minus]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    exact = _one_unit_supremum(w2, e1_plus, 0.0)
    report = tight_certificate_report(weights, plus, minus)
    assert Fraction(report.tight) >= exact
    assert report.recursion >= report.tight


def test_issue_17_subnormal_counterexample():
    weights = [torch.tensor([[1.0]], dtype=torch.float64), torch.tensor([[0.09215484771471874]], dtype=torch.float64)]
    plus = [torch.tensor([[5.9e-322]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    minus = [torch.tensor([[3e-323]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    exact = _one_unit_supremum(0.09215484771471874, 5.9e-322, 0.0)
    assert float(exact) == pytest.approx(5.418e-323, rel=0.01)
    report = tight_certificate_report(weights, plus, minus)
    assert Fraction(report.tight) >= exact
    assert report.method == "recursion" and "underflows" in report.note  # announced, not silent


def _small_network():
    weights = [torch.tensor([[1.0, -0.5], [0.25, 1.0]], dtype=torch.float64),
               torch.tensor([[0.5, -1.0]], dtype=torch.float64)]
    errors = [torch.full((2, 2), 0.01, dtype=torch.float64), torch.full((1, 2), 0.01, dtype=torch.float64)]
    return weights, errors, [e.clone() for e in errors]


@pytest.mark.parametrize(("change", "error", "message"), [
    (lambda w, p, m: ([w[0].to(torch.complex128), w[1]], p, m), TypeError, "complex"),
    (lambda w, p, m: (w, [p[0] > 0, p[1]], m), TypeError, "real numbers"),
    (lambda w, p, m: ([torch.zeros(0, 3, dtype=torch.float64)], [torch.zeros(0, 3)], [torch.zeros(0, 3)]),
     ValueError, "non-empty"),
    (lambda w, p, m: ([w[0].to("meta"), w[1]], p, m), ValueError, "meta"),
    (lambda w, p, m: ([[["a", "b"], ["c", "d"]], w[1]], p, m), TypeError, "real numbers"),
    (lambda w, p, m: ("W", p, m), TypeError, "list of matrices"),
    (lambda w, p, m: ([w[0] * 1e160, w[1] * 1e200], p, m), ValueError, "overflows float64"),
])
def test_bad_inputs_get_clear_errors(change, error, message):
    weights, plus, minus = change(*_small_network())
    with pytest.raises(error, match=message):
        tight_certificate(weights, plus, minus)
    with pytest.raises(error, match=message):
        recursion_certificate(weights, plus, minus)


@pytest.mark.parametrize(("max_size", "error", "message"), [
    ("60", TypeError, "max_size must be an integer"), (2.5, TypeError, "max_size must be an integer"),
    (0, ValueError, "max_size must be an integer >= 1"), (10**9, ValueError, "max_size <= 120"),
])
def test_bad_max_size_gets_a_clear_error(max_size, error, message):
    weights, plus, minus = _small_network()
    with pytest.raises(error, match=message):
        tight_certificate(weights, plus, minus, max_size=max_size)


def test_a_large_problem_with_a_huge_max_size_is_refused_before_any_work():
    weights = [torch.zeros(3000, 3000, dtype=torch.float64), torch.zeros(1, 3000, dtype=torch.float64)]
    with pytest.raises(ValueError, match="max_size <= 120"):
        tight_certificate(weights, weights, weights, max_size=10**7)


def test_missing_solver_is_an_error_not_the_recursion(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "clarabel" else real(name, *a))
    weights, plus, minus = _small_network()
    with pytest.raises(ModuleNotFoundError, match="pip install cvxpy clarabel"):
        tight_certificate(weights, plus, minus)
    assert recursion_certificate(weights, plus, minus) > 0  # the recursion needs no solver


class PanicException(BaseException):
    """Stands for pyo3's PanicException (a BaseException), raised when Clarabel's Rust core panics."""


@pytest.mark.parametrize("failure", [RuntimeError, PanicException])
def test_failing_solver_is_announced(monkeypatch, failure):
    import lottolib.propagation as propagation

    def broken(problem):
        raise failure("solver crashed")

    monkeypatch.setattr(propagation, "_solve_relaxation", broken)
    weights, plus, minus = _small_network()
    with pytest.warns(RuntimeWarning, match="solver crashed"):
        report = tight_certificate_report(weights, plus, minus)
    assert report.method == "recursion" and report.tight == report.recursion and "solver crashed" in report.note


# ----------------------------------------------------------------------------------------------
# The structured solver (networks too large for the full relaxation), on small networks where the exact
# supremum is known: structured=True forces it whatever k.


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_networks())
def test_structured_bound_lies_between_the_exact_supremum_and_the_recursion(network):
    weights, plus, minus = network
    exact = exact_supremum(weights, plus, minus)  # value ≤ sup (attained, rounded down)
    report = tight_certificate_report(weights, plus, minus, structured=True, seconds=2.0)
    assert report.tight >= exact.value
    assert report.tight <= report.recursion
    assert report.method == "recursion" or report.solver == "structured"
    found = strong_adversary(error_torch(weights, plus, minus), weights[0].shape[1], samples=256, starts=8, steps=40,
                             lbfgs_points=1)
    assert found.error <= report.tight * (1 + RELATIVE)


@st.composite
def small_residual_constructions(draw):
    from lottolib.residual import prune_residual_network, random_residual_target

    d, hidden, blocks = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    outputs = draw(st.sampled_from([None, 1, 2]))
    seed = draw(st.integers(0, 2**16))
    strength = draw(st.sampled_from([0.5, 0.8, 1.0]))
    target = random_residual_target(d, hidden, blocks, outputs, seed=seed, strength=strength)
    return prune_residual_network(target, k=draw(st.sampled_from([4, 8])), seed=seed, method="subset_sum")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_residual_constructions())
def test_residual_tight_certificate_bounds_the_strong_adversary(construction):
    """Residual targets (1–2 blocks, with and without read-out): the relaxation bound (split units for the
    stream) is ≥ the worst error a strong adversary finds, and never above the residual recursion."""
    report = tight_certificate_of(construction, seconds=2.0)
    assert report.recursion == construction.certificate
    assert report.tight <= construction.certificate
    found = L.empirical_error(construction, samples=128, starts=4, steps=30).adversarial
    assert found <= report.tight * (1 + RELATIVE)


def _two_unit_supremum(w1: float, w2: float, e1_plus: float) -> Fraction:
    """d = 1, W1 = [[w1]], W2 = [[w2]] with w1, w2 > 0, E⁺_1 ≥ 0, E⁻_1 ≥ 0, E_2 = 0: for x > 0 the pruned network
    outputs w2(w1 + E⁺_1)x against w2·w1·x, for x < 0 both output 0; the supremum is w2·E⁺_1 (exact rationals)."""
    return Fraction(w2) * (Fraction(w1) + Fraction(e1_plus)) - Fraction(w2) * Fraction(w1)


@pytest.mark.parametrize(("w1", "w2", "e1_plus", "e1_minus"), [
    (1.0, 0.09215484771471874, 5.9e-322, 3e-323),  # issue 17's counterexample: s·W2 underflows
    (1.0, 0.09215484771471874, math.ldexp(0.01, -1000), math.ldexp(0.0005, -1000)),
    (1.0, 0.09215484771471874, math.ldexp(0.01, -1040), math.ldexp(0.0005, -1040)),
    (1.0, 3e-300, 0.01, 0.0005),  # s·W2 is subnormal: rounded, with its error tracked
    (1.0, 3e-300, math.ldexp(0.01, -900), math.ldexp(0.0005, -900)),
    (1e300, 1e-300, 1e298, 1e296),  # hidden activations of order 1e300: R² overflows
    (1e-300, 1e300, 1e-302, 1e-304),  # a tiny hidden layer read by a huge weight
])
@pytest.mark.parametrize("structured", [True, None])
def test_tiny_and_huge_values_fall_back_soundly_in_exact_arithmetic(w1, w2, e1_plus, e1_minus, structured):
    weights = [torch.tensor([[w1]], dtype=torch.float64), torch.tensor([[w2]], dtype=torch.float64)]
    plus = [torch.tensor([[e1_plus]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    minus = [torch.tensor([[e1_minus]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)]
    with warnings.catch_warnings(record=True) as caught:  # the full relaxation's solver may refuse huge data
        warnings.simplefilter("always")
        report = tight_certificate_report(weights, plus, minus, structured=structured, seconds=2.0)
    assert all(issubclass(w.category, RuntimeWarning) and "recursion" in str(w.message) for w in caught)
    assert Fraction(report.tight) >= _two_unit_supremum(w1, w2, e1_plus)
    assert report.tight <= report.recursion
    if report.method == "recursion":
        assert report.note  # announced, not silent


def _exact_lagrangian(weights, plus, minus, scale, multipliers, blocks):
    """K = OᵀO + Σ_e y_e sym(f_a f_bᵀ) − tC − Σ_b τ_b I_b in exact rationals for a depth-2 network, written
    from the proposition (module docstring of lottolib.relaxation): coordinates w = (p, q, h, δ), forms
    p, q, h, r = h − z, g = h + sδ, s̃ = g − z̃ with z = W₁(p − q), z̃ = (W₁ + E⁺₁)p − (W₁ + E⁻₁)q, and
    e/s = (E⁺₂/s)h + (W₂ + E⁺₂)δ."""
    w1, w2 = ([[Fraction(float(v)) for v in row] for row in m.tolist()] for m in weights)
    p1, p2 = ([[Fraction(float(v)) for v in row] for row in m.tolist()] for m in plus)
    m1 = [[Fraction(float(v)) for v in row] for row in minus[0].tolist()]
    n, d = len(w1), len(w1[0])
    k, s = 2 * d + 2 * n, Fraction(scale)

    def unit(i):
        return [Fraction(int(j == i)) for j in range(k)]

    forms = [unit(j) for j in range(2 * d)]
    h = [unit(2 * d + j) for j in range(n)]
    g = [[a + s * b for a, b in zip(unit(2 * d + j), unit(2 * d + n + j), strict=True)] for j in range(n)]
    r, slack = [], []
    for j in range(n):
        z = [w1[j][c] for c in range(d)] + [-w1[j][c] for c in range(d)] + [Fraction(0)] * (2 * n)
        pruned = [w1[j][c] + p1[j][c] for c in range(d)] + [-(w1[j][c] + m1[j][c]) for c in range(d)] \
            + [Fraction(0)] * (2 * n)
        r.append([a - b for a, b in zip(h[j], z, strict=True)])
        slack.append([a - b for a, b in zip(g[j], pruned, strict=True)])
    forms += h + r + g + slack
    objective = [[Fraction(0)] * (2 * d) + [p2[o][j] / s for j in range(n)] + [w2[o][j] + p2[o][j] for j in range(n)]
                 for o in range(len(w2))]
    matrix = [[sum(row[a] * row[b] for row in objective) for b in range(k)] for a in range(k)]
    for (a, b), y in zip(multipliers.pairs.tolist(), multipliers.values.tolist(), strict=True):
        y = Fraction(y) / 2
        for i in range(k):
            for j in range(k):
                matrix[i][j] += y * (forms[a][i] * forms[b][j] + forms[b][i] * forms[a][j])
    for i in range(2 * d):
        matrix[i][i] -= Fraction(multipliers.t)
    for (start, stop), tau in zip(blocks, multipliers.taus, strict=True):
        for i in range(start, stop):
            matrix[i][i] -= Fraction(tau)
    return matrix


def _is_positive_semidefinite(matrix) -> bool:
    """Symmetric Gaussian elimination in exact rationals: PSD iff every pivot is ≥ 0 and a zero pivot has a zero row."""
    a = [row[:] for row in matrix]
    size = len(a)
    for i in range(size):
        if a[i][i] < 0:
            return False
        if a[i][i] == 0:
            if any(a[i][j] != 0 for j in range(i + 1, size)):
                return False
            continue
        for j in range(i + 1, size):
            factor = a[j][i] / a[i][i]
            for c in range(i, size):
                a[j][c] -= factor * a[i][c]
    return True


def test_verified_eigenvalue_bounds_the_exact_lagrangian_in_rational_arithmetic():
    """μ = verified_eigenvalue(Y, t, τ) must make μI − K ⪰ 0 for the exact K (forms of the float matrices, in
    rationals, written here from the proposition), for random multipliers on every pair of forms. A float
    eigenvalue of the float K̂ (eigvalsh, unverified) is below the exact λ_max for about half such draws."""
    from lottolib.relaxation import verified_eigenvalue

    rng = np.random.default_rng(7)
    weights = [torch.tensor(rng.uniform(-1, 1, (2, 2))), torch.tensor(rng.uniform(-1, 1, (1, 2)))]
    plus = [torch.tensor(rng.uniform(-0.05, 0.05, (2, 2))), torch.tensor(rng.uniform(-0.05, 0.05, (1, 2)))]
    minus = [torch.tensor(rng.uniform(-0.05, 0.05, (2, 2))), torch.tensor(rng.uniform(-0.05, 0.05, (1, 2)))]
    problem = network_problem(weights, plus, minus)
    assert problem is not None
    pairs, free = _every_pair(problem)
    for draw in range(12):
        values = torch.tensor(rng.normal(size=len(pairs)) * 10.0 ** rng.uniform(-2, 2, size=len(pairs)))
        taus = tuple(float(v) for v in rng.uniform(0, 1, len(problem.blocks)))
        multipliers = Multipliers(pairs, values, free, float(rng.normal()), taus).admissible()
        mu = verified_eigenvalue(problem, multipliers)
        exact = _exact_lagrangian(weights, plus, minus, problem.scale, multipliers, problem.blocks)
        shifted = [[Fraction(mu) * (i == j) - exact[i][j] for j in range(len(exact))] for i in range(len(exact))]
        assert _is_positive_semidefinite(shifted), draw


def test_structured_solver_options_get_clear_errors():
    weights, plus, minus = _small_network()
    with pytest.raises(ValueError, match="seconds must be a finite number > 0"):
        tight_certificate(weights, plus, minus, seconds=0)
    with pytest.raises(TypeError, match="seconds must be a number"):
        tight_certificate(weights, plus, minus, seconds="30")
    with pytest.raises(ValueError, match="structured_max_size must be an integer >= 0"):
        tight_certificate(weights, plus, minus, structured_max_size=-1)
    with pytest.raises(TypeError, match="structured must be True, False or None"):
        tight_certificate(weights, plus, minus, structured="yes")
    off = tight_certificate_report(weights, plus, minus, structured=True, structured_max_size=0)
    assert off.method == "recursion" and off.tight == off.recursion and "structured_max_size" in off.note


def test_a_network_above_max_size_gets_the_structured_solver():
    """k = 2·3 + 2·(20 + 20) = 86 > DEFAULT_MAX_SIZE: the structured solver, far below the recursion."""
    weights = L.random_target([3, 20, 20, 2], 0)
    construction = L.prune_random_network(weights, 0.1, seed=0, k=12, method="subset_sum")
    report = construction.tight_certificate(seconds=2.0)
    assert report.size == 86 and report.solver == "structured" and report.method == "relaxation"
    assert report.recursion == construction.certificate and report.tight < 0.5 * construction.certificate
    found = L.empirical_error(construction, samples=128, starts=4, steps=30).adversarial
    assert found <= report.tight * (1 + RELATIVE)


def test_cnn_tight_certificate_bounds_the_strong_adversary():
    """A CNN at its image size (2 channels of 2 × 2 kernels on 3 × 3 images, padding 1) as a plain network of depth 2 whose
    first matrices are convolution matrices: ≥ the worst error a strong adversary finds, ≤ the certificate."""
    from lottolib.conv import prune_cnn

    padding = 1
    generator = torch.Generator().manual_seed(padding)
    kernel = torch.rand(2, 1, 2, 2, generator=generator, dtype=torch.float64) * 2 - 1
    side = 3 + 2 * padding - 1
    weight = torch.rand(2, 2 * side * side, generator=generator, dtype=torch.float64) * 2 - 1
    construction = prune_cnn(kernel, weight, k=6, seed=padding, padding=padding, method="subset_sum")
    report = tight_certificate_of(construction, structured=True, seconds=1.0)
    assert report.recursion == construction.certificate and report.tight <= construction.certificate
    assert report.size == 2 * 9 + 2 * 2 * side * side
    module = construction.module()

    def error(x):
        return (module(x) - construction.target_forward(x)).norm(dim=1)

    found = strong_adversary(error, construction.input_shape, samples=64, starts=2, steps=20, lbfgs_points=1,
                             flip_rounds=2).error
    assert found <= report.tight * (1 + RELATIVE)


def _structured_report_of_a_small_network(seed):
    """A SubsetSum-pruned d = 3 → 2 → 2 → 1 network, its errors and the structured solver's report (1 s budget)."""
    weights = L.random_target([3, 2, 2, 1], seed)
    construction = L.prune_random_network(weights, 0.1, seed=seed, k=8, method="subset_sum")
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    return weights, plus, minus, tight_certificate_report(weights, plus, minus, structured=True, seconds=1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reduced_coordinates_give_a_sound_bound(seed, monkeypatch):
    """Above REDUCE_ABOVE coordinates the solver drops the input-pair multipliers and works in (z, (z̃ − z)/s);
    forced here on d = 3 → 2 → 2 → 1 networks (4n ≤ 3d), the verified bound still lies between the exact
    supremum and the recursion, and the reduced path was taken."""
    import lottolib.interior_point as interior_point
    import lottolib.propagation as propagation

    monkeypatch.setattr(interior_point, "REDUCE_ABOVE", 4)
    offsets = []

    def recording(*args, **kwargs):
        solution = interior_point.solve_restricted(*args, **kwargs)
        offsets.append(solution.offset)
        return solution

    monkeypatch.setattr(propagation, "solve_restricted", recording)
    weights, plus, minus, report = _structured_report_of_a_small_network(seed)
    assert offsets and all(offset == 6 for offset in offsets)
    assert exact_supremum(weights, plus, minus).value <= report.tight <= report.recursion


@pytest.mark.parametrize("seed", [0, 1])
def test_reduce_above_chooses_the_coordinates_and_both_bounds_are_sound(seed):
    """solve_restricted's ``reduce_above``: at or above the problem's size the input-pair multipliers stay (offset 0,
    some of them nonzero), below it the solver works in reduced coordinates (offset 2d, no input pair used); the
    first pattern's verified bounds are sound either way."""
    from lottolib.interior_point import solve_restricted

    weights = L.random_target([3, 2, 2, 1], seed)
    construction = L.prune_random_network(weights, 0.1, seed=seed, k=8, method="subset_sum")
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    problem = network_problem(weights, plus, minus)
    pairs, free = problem.first_pattern()
    assert free.sum() == len(problem.complementary) and not free[len(problem.complementary):].any()
    exact = exact_supremum(weights, plus, minus).value
    for reduce_above, offset in ((problem.size, 0), (problem.size - 1, 6)):
        solution = solve_restricted(problem, pairs, free, seconds=5.0, reduce_above=reduce_above)
        assert solution.offset == offset
        on_inputs = (solution.multipliers.pairs < 6).any(1) & (solution.multipliers.values != 0)
        assert bool(on_inputs.any()) == (offset == 0)
        assert exact <= verified_bound(problem, solution.multipliers) < math.inf


@pytest.mark.parametrize("top", ["negative", "zero cluster", "positive"])
def test_large_matrix_eigenvalue_bound_in_rational_arithmetic(top, monkeypatch):
    """Above DENSE_EIGENVALUES_UP_TO (forced here to 2), largest_eigenvalue_bound first tries a Cholesky factorisation
    at a tiny positive shift, then Lanczos: μI − M must be positive semidefinite in exact rationals either way,
    for a negative definite M, an M whose top eigenvalue 0 has multiplicity 3 (the cluster on which Lanczos
    stalled) and an indefinite M; the first two take the fast path (μ tiny)."""
    import lottolib.relaxation as relaxation

    monkeypatch.setattr(relaxation, "DENSE_EIGENVALUES_UP_TO", 2)
    rng = np.random.default_rng(3)
    factor = torch.tensor(rng.normal(size=(7, 4 if top == "zero cluster" else 7)))
    matrix = -(factor @ factor.T) - (0.5 if top == "negative" else 0.0) * torch.eye(7, dtype=torch.float64)
    if top == "positive":
        matrix = matrix + 3.0 * torch.eye(7, dtype=torch.float64)
    mu = relaxation.largest_eigenvalue_bound(matrix.clone())
    exact = [[Fraction(float(v)) for v in row] for row in matrix.tolist()]
    shifted = [[Fraction(mu) * (i == j) - exact[i][j] for j in range(7)] for i in range(7)]
    assert _is_positive_semidefinite(shifted)
    if top == "positive":
        assert mu >= float(torch.linalg.eigvalsh(matrix).max()) > 0
    else:
        assert 0 < mu < 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reduced_solver_starts_on_the_central_path(seed, monkeypatch):
    """In reduced coordinates (forced here on d = 3 → 2 → 2 → 1 networks) the primal start is X = νZ⁻¹ with the
    duality gap a fixed multiple of the dual value, and the verification takes the large-matrix path (forced): the
    bound still lies between the exact supremum and the recursion."""
    import lottolib.interior_point as interior_point
    import lottolib.relaxation as relaxation

    monkeypatch.setattr(interior_point, "REDUCE_ABOVE", 4)
    monkeypatch.setattr(relaxation, "DENSE_EIGENVALUES_UP_TO", 2)
    starts = []
    original = interior_point._centred_start

    def recording(ops, y, z_inverse):
        x, x_lp = original(ops, y, z_inverse)
        starts.append((ops, y, z_inverse, x, x_lp))
        return x, x_lp

    monkeypatch.setattr(interior_point, "_centred_start", recording)
    weights, plus, minus, report = _structured_report_of_a_small_network(seed)
    assert starts
    for ops, y, z_inverse, x, x_lp in starts:
        z = torch.linalg.inv(z_inverse)
        nu = float(torch.diagonal(x @ z).mean())
        assert torch.allclose(x @ z, nu * torch.eye(len(z), dtype=torch.float64), atol=1e-8 * nu)
        assert torch.allclose(x_lp * y[ops.slacked], torch.full_like(x_lp, nu))
        gap = nu * (ops.k + len(ops.slacked))
        assert gap == pytest.approx(interior_point.CENTRED_GAP * abs(float(ops.b @ y)))
    assert exact_supremum(weights, plus, minus).value <= report.tight <= report.recursion
