"""lottolib.probability against the book's formulas (chapter 2's p(w, ε), the pair, chapter 4's widths),
its edge cases, its stream layout and its exact error messages."""

import math
import re

import numpy as np
import pytest
import reference
import torch
from scipy import stats

import lottolib as L
from lottolib.probability import empirical_success_probability, sampled_pair_errors
from lottolib.random_network import sample_uniform

W_RANGE = "w has an entry of magnitude 1.5 > 1.0: the construction needs every weight in [-1.0, 1.0]; rescale the " \
          "target (ReLU networks are positively homogeneous)"
W_NAN = "w holds 1 NaN or infinite entries; every weight must be a finite number"


def k_message(name: str, value: int = 0) -> str:
    return f"{name} must be an integer >= 1, got {value}; use at least {name}=1"


@pytest.mark.parametrize("call", [
    lambda w: L.unit_success_probability(w, 0.1),
    lambda w: L.pair_success_probability(w, 0.1, 3),
    lambda w: sampled_pair_errors(w, 3, 2, seed=0),
])
def test_bad_weights_get_the_exact_message(call):
    with pytest.raises(ValueError, match=re.escape(W_RANGE)):
        call(1.5)
    with pytest.raises(ValueError, match=re.escape(W_NAN)):
        call(float("nan"))


def test_bad_counts_get_the_exact_message():
    with pytest.raises(ValueError, match=re.escape(k_message("k"))):
        L.pair_success_probability(0.5, 0.1, 0)
    with pytest.raises(ValueError, match=re.escape(k_message("k"))):
        sampled_pair_errors(0.5, 0, 2, seed=0)
    with pytest.raises(ValueError, match=re.escape(k_message("trials"))):
        sampled_pair_errors(0.5, 3, 0, seed=0)
    with pytest.raises(ValueError, match=re.escape(k_message("n"))):
        L.layer_width_bound(0, 2, 0.1, 0.1)
    with pytest.raises(ValueError, match=re.escape(k_message("d"))):
        L.layer_width_bound(2, 0, 0.1, 0.1)
    with pytest.raises(ValueError, match=re.escape("delta must lie strictly between 0 and 1, got 1.5; pass e.g. "
                                                   "delta=0.1")):
        L.layer_width_bound(2, 2, 0.1, 1.5)


@pytest.mark.parametrize("eps", [1.2, 1.9, 0.5, 0.75, 0.999, 1.001])
def test_worst_case_probability_for_large_eps(eps):
    """p(1, ε) by integrating the one-sided density over [max(1 − ε, −1), 1]; for ε ≥ 1 the window reaches 0."""
    assert L.worst_case_unit_probability(eps) == pytest.approx(reference.unit_probability(1.0, eps), rel=1e-9)


def test_unit_probability_at_the_bound_with_eps_one():
    """p(1, 1) = ¼ [1 + (1 − 1) ln(1 − 1)] = ¼ (the limit 0·ln 0 = 0); by symmetry p(−1, 1) = ¼ too."""
    assert float(L.unit_success_probability(1.0, 1.0)) == 0.25
    assert float(L.unit_success_probability(-1.0, 1.0)) == 0.25


@pytest.mark.parametrize("eps", [2.0, 3.0, 1e6])
def test_worst_case_probability_is_one_half_once_the_window_covers_everything(eps):
    """For ε ≥ 2 every product is within ε of w = 1: p = P(u > 0) = ½ exactly."""
    assert L.worst_case_unit_probability(eps) == 0.5
    assert float(L.unit_success_probability(1.0, eps)) == 0.5


def test_worst_case_probability_of_an_underflowing_eps_is_zero():
    """ε²/8 ≤ p(1, ε) ≤ ε²/(8(1 − ε)) underflows to 0 for ε = 1e-170 (ε² is below the smallest float)."""
    assert L.worst_case_unit_probability(1e-322) == 0.0  # a subnormal eps: ε² is 0 in floats, so is p
    assert L.worst_case_unit_probability(1e-155) == pytest.approx(1e-310 / 8, rel=1e-6, abs=0)  # subnormal p
    assert L.worst_case_unit_probability(1e-170) == 0.0


@pytest.mark.parametrize("w", [0.25, -0.25, 1.0, -1.0])
def test_a_weight_of_magnitude_eps_needs_no_unit(w):
    """|w| = ε: keeping no unit leaves the error |w| = ε ≤ ε on both sides, so success is certain for every k."""
    eps = abs(w)
    for k in (1, 3):
        assert float(L.pair_success_probability(w, eps, k)) == 1.0
        assert float(L.pair_success_probability(torch.tensor([w, 0.0]), eps, k)[0]) == 1.0


def test_one_unit_leaves_one_side_at_w():
    """k = 1: the side without the unit keeps no unit (error exactly −w), the other side is never worse, so
    max(|e⁺|, |e⁻|) = |w| exactly, and the empirical success at ε = |w| is 1 (at ε just below, 0)."""
    for w in (0.5, -0.75, 1.0):
        assert torch.equal(sampled_pair_errors(w, 1, 7, seed=3), torch.full((7,), abs(w), dtype=torch.float64))
        assert empirical_success_probability(w, abs(w), 1, 7, seed=3) == 1.0
        assert empirical_success_probability(w, math.nextafter(abs(w), 0), 1, 7, seed=3) == 0.0


def _errors_drawn_in_chunks(w, k, trials, seed):
    """The documented layout: blocks drawn in chunks of ⌊2²²/k⌋ (at least 1) rows, u then v for each chunk, each
    float32 2·U[0, 1) − 1 from torch's generator for the seed (drawn here, not by the library's sampler)."""
    stream, rows, out = torch.Generator().manual_seed(seed), max(1, (1 << 22) // k), []
    for start in range(0, trials, rows):
        size = min(rows, trials - start)
        u, v = (torch.rand((size, k), generator=stream, dtype=torch.float32) * 2 - 1 for _ in range(2))
        out.append(reference.best_pair_max_errors(u.numpy(), v.numpy(), w))
    return np.concatenate(out)


@pytest.mark.parametrize(("k", "trials"), [(1, 3), (5, 4), ((1 << 21) + 1, 2), (1 << 20, 5)])
def test_sampled_errors_follow_the_stream_layout_and_the_book(k, trials):
    errors = sampled_pair_errors(0.3, k, trials, seed=5)
    assert errors.shape == (trials,)
    np.testing.assert_array_equal(errors.numpy(), _errors_drawn_in_chunks(0.3, k, trials, seed=5))


@pytest.mark.parametrize("eps", [1e-9, 1e-30, 1e-155, 1e-300, 5e-324])
def test_layer_width_for_tiny_eps_against_high_precision(eps):
    """Where p(1, ε') underflows (or k passes 2⁵³), the width is still the smallest k of the union bound: checked
    against the closed form in 1400-digit arithmetic. (Once a ZeroDivisionError for ε = 1e-300.)"""
    for n, d, delta in ((2, 3, 0.05), (1, 1, 0.5)):
        assert L.layer_width_bound(n, d, eps, delta) == reference.layer_width_high_precision(n, d, eps, delta)


def test_sample_uniform_is_uniform_on_minus_one_to_one():
    """The random network's weights: float32, in [-1, 1), and U[-1, 1] by a Kolmogorov–Smirnov test (10⁶ draws:
    a sampler on [0, 1), or one with a bias of 0.005, fails it)."""
    draws = sample_uniform((1000, 1000), torch.Generator().manual_seed(0))
    assert draws.dtype == torch.float32 and draws.shape == (1000, 1000)
    assert float(draws.min()) >= -1 and float(draws.max()) < 1
    assert stats.kstest(draws.double().flatten().numpy(), stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4


@pytest.mark.parametrize(("w", "eps", "k"), [(0.5, 0.02, 100), (-0.9, 0.05, 60), (1.0, 0.05, 300)])
def test_pair_success_against_an_independent_simulation(w, eps, k):
    """Chapter 2's probability, simulated with NumPy's generator (u, v i.i.d. U[-1, 1], the best pair by the
    book's rule): the exact formula and the library's own simulation both agree with it within 4σ."""
    trials = 20_000
    rng = np.random.default_rng(5)
    u, v = rng.uniform(-1, 1, (trials, k)), rng.uniform(-1, 1, (trials, k))
    independent = float((reference.best_pair_max_errors(u, v, w) <= eps).mean())
    exact = float(L.pair_success_probability(w, eps, k))
    library = empirical_success_probability(w, eps, k, trials, seed=5)
    sigma = math.sqrt(max(exact * (1 - exact), 1e-3) / trials)
    assert abs(independent - exact) <= 4 * sigma
    assert abs(library - independent) <= 4 * math.sqrt(2) * sigma
