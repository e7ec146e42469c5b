"""Chapter 5: the deep construction, its certificate, the width search and export."""

import io
import itertools
import re
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import lottolib as L


@st.composite
def targets(draw):
    """Bias-free targets with entries in [-1, 1]; spectral norms from 0.2 to well above 1 (unnormalised)."""
    widths = draw(st.lists(st.integers(1, 7), min_size=2, max_size=4))
    seed = draw(st.integers(0, 10**6))
    generator = torch.Generator().manual_seed(seed)
    weights = []
    for d, n in itertools.pairwise(widths):
        weight = torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1
        normalise = draw(st.booleans())
        scale = draw(st.floats(0.2, 1.0))
        weights.append(weight * scale / float(torch.linalg.matrix_norm(weight, ord=2)) if normalise else weight * scale)
    return weights


def reference_certificate(construction, *, plus_only_after_first=True):
    """Chapter 5's recursion from NumPy's spectral norms, in exact rationals: η_1 = ‖[E⁺|E⁻]‖ and, for layers
    fed by a ReLU, η_i = ‖E⁺_i‖ (or ‖[E⁺_i|E⁻_i]‖ everywhere, the first form)."""
    norms = [reference.spectral_norm(w.numpy()) for w in construction.target]
    etas = [reference.spectral_norm(layer.plus_error.numpy() if i and plus_only_after_first
                                    else np.hstack([layer.plus_error.numpy(), layer.minus_error.numpy()]))
            for i, layer in enumerate(construction.layers)]
    return reference.certificate_exact(norms, etas)


@given(target=targets(), k=st.integers(1, 60), seed=st.integers(0, 10**6), method=st.sampled_from(L.METHODS))
def test_certificate_is_the_recursion_rounded_up_and_bounds_the_measured_error(target, k, seed, method):
    construction = L.prune_random_network(target, 0.1, seed=seed, k=k, method=method)
    first_form = reference_certificate(construction, plus_only_after_first=False)
    for value, exact in ((construction.certificate, reference_certificate(construction)),
                         (construction.recursion_certificate, first_form)):
        assert Fraction(value) >= exact * (1 - Fraction(1, 10**12))
        assert value <= float(exact) * (1 + 1e-9) + 1e-12  # + the rounding slack of subset sums
    assert construction.certificate <= construction.recursion_certificate
    measured = L.empirical_error(construction, samples=512, starts=8, steps=30, seed=seed)
    assert measured.sampled <= measured.adversarial <= construction.certificate + 1e-12
    assert construction.succeeded == (construction.certificate <= 0.1)


def test_certificate_matches_the_recursion_by_hand_at_depth_three():
    target = L.random_target([5, 6, 4, 2], seed=3)
    construction = L.prune_random_network(target, 0.1, seed=0, k=30)
    eta = [reference.spectral_norm(np.hstack([construction.layers[0].plus_error.numpy(),
                                              construction.layers[0].minus_error.numpy()]))]
    eta += [reference.spectral_norm(layer.plus_error.numpy()) for layer in construction.layers[1:]]  # inputs >= 0
    norm = [reference.spectral_norm(w.numpy()) for w in target]
    delta1 = eta[0]
    delta2 = eta[1] * (norm[0] + delta1) + norm[1] * delta1
    delta3 = eta[2] * (norm[0] * norm[1] + delta2) + norm[2] * delta2
    assert construction.certificate == pytest.approx(delta3, rel=1e-9)
    assert construction.certificate >= delta3 * (1 - 1e-12)


@given(target=targets(), k=st.integers(1, 25), seed=st.integers(0, 10**6), method=st.sampled_from(L.METHODS))
def test_pruned_network_has_depth_2l_and_keeps_random_weights_bit_for_bit(target, k, seed, method):
    construction = L.prune_random_network(target, 0.1, seed=seed, k=k, method=method)
    network = construction.module(dtype=torch.float32)
    linears = [m for m in network if isinstance(m, nn.Linear)]
    assert len(linears) == len(construction.masks) == 2 * len(target)
    assert sum(isinstance(m, nn.ReLU) for m in network) == 2 * len(target) - 1
    shapes = [tuple(mask.shape) for mask in construction.masks]
    assert all(torch.equal(a, b) for a, b in zip(construction.random_weights, L.sample_weights(shapes, seed), strict=True))
    for linear, mask, random in zip(linears, construction.masks, construction.random_weights, strict=True):
        assert torch.equal(linear.weight[mask], random[mask])
        assert (linear.weight[~mask].view(torch.int32) == 0).all()


def test_full_and_compact_network_compute_the_same_function_as_the_reference():
    target = L.random_target([4, 5, 3], seed=1)
    construction = L.prune_random_network(target, 0.1, seed=1, k=50)
    x = L.sample_unit_ball(200, 4, seed=0)
    weights = [w.double().numpy() for w in construction.random_weights]
    masks = [m.numpy() for m in construction.masks]
    expected = reference.relu_network([w * m for w, m in zip(weights, masks, strict=True)], x.numpy())
    with torch.no_grad():
        assert np.allclose(construction.module()(x).numpy(), expected, atol=1e-12, rtol=0)
        assert np.allclose(construction.module(compact=True)(x).numpy(), expected, atol=1e-12, rtol=0)
    assert np.allclose(construction.target_forward(x).numpy(), reference.relu_network(target, x.numpy()), atol=1e-14)


def test_search_finds_a_k_that_certifies_and_a_quarter_of_it_does_not():
    target = L.random_target([4, 4, 2], seed=0)
    found = L.prune_random_network(target, 0.05, seed=2)
    assert found.succeeded and len(set(found.k_per_layer)) == 1
    k = found.k_per_layer[0]
    again = L.prune_random_network(target, 0.05, seed=2, k=k)
    assert torch.equal(again.masks[1], found.masks[1]) and again.certificate == found.certificate
    assert not L.prune_random_network(target, 0.05, seed=2, k=max(1, k // 4)).succeeded
    subset = L.prune_random_network(target, 0.05, seed=2, method="subset_sum")
    assert subset.succeeded and subset.k_per_layer[0] < k


def test_proved_width_is_the_theorem_width_and_is_refused_before_sampling(monkeypatch):
    small = L.prune_random_network([[[0.5]]], 0.5, seed=0, k="proved")
    assert small.k_per_layer == reference.network_widths([(1, 1)], 0.5, 0.05)

    def no_sampling(*args, **kwargs):
        raise AssertionError("sampled before the memory check")

    monkeypatch.setattr("lottolib.random_network.sample_uniform", no_sampling)
    with pytest.raises(L.MemoryLimitError, match=r"estimated peak .* above the limit"):
        L.prune_random_network(L.random_target([5, 7, 3], seed=0), 0.1, seed=0, k="proved")


def test_failed_network_says_so():
    construction = L.prune_random_network([torch.full((2, 2), 0.9)], 1e-4, seed=0, k=3)
    assert not construction.succeeded
    assert "FAILED" in construction.message and "increase k or eps" in construction.message


def test_smallest_width_is_minimal_on_its_grid():
    target = [torch.full((2, 2), 0.3, dtype=torch.float64), torch.full((1, 2), -0.4, dtype=torch.float64)]
    k = L.smallest_width(target, 0.05, delta=0.2, seeds=5)
    assert L.success_rate(target, 0.05, k=k, seeds=range(5)) >= 0.8
    assert L.success_rate(target, 0.05, k=max(1, int(k * 0.9)), seeds=range(5)) < 0.8 or k == 1


def test_export_round_trips_bit_for_bit_with_positive_zeros():
    target = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU(), nn.Linear(5, 2, bias=False))
    with torch.no_grad():
        for m in target[0::2]:
            m.weight.uniform_(-0.4, 0.4, generator=torch.Generator().manual_seed(0))
    construction = L.prune_random_network(target, 0.2, seed=4, k=60)
    exported = L.to_torch(construction)
    reference_module = construction.module(dtype=torch.float32)
    for layer, expected, random in zip([m for m in exported if isinstance(m, nn.Linear)],
                                       [m for m in reference_module if isinstance(m, nn.Linear)],
                                       construction.random_weights, strict=True):
        assert torch.equal(layer.weight_orig, random)
        assert torch.equal(layer.weight.view(torch.int32), expected.weight.view(torch.int32))  # +0.0, not -0.0
    buffer = io.BytesIO()
    torch.save(exported.state_dict(), buffer)
    buffer.seek(0)
    loaded = L.pruned_sequential([tuple(mask.shape) for mask in construction.masks])
    loaded.load_state_dict(torch.load(buffer))
    assert L.sparsity(loaded) == L.sparsity(exported) == L.sparsity(construction)  # before any forward pass
    x = torch.rand(10, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), exported(x))
    assert 0 < L.sparsity(construction) < 1


def test_report_lists_each_pair_with_its_shape_width_and_counts():
    target = L.random_target([3, 5, 2], seed=4)
    construction = L.prune_random_network(target, 0.1, seed=5, k=[7, 9])
    rows = construction.report()
    assert [row["layer"] for row in rows] == [1, 2]
    for row, (n, d), k, layer in zip(rows, [(5, 3), (2, 5)], [7, 9], construction.layers, strict=True):
        assert (row["n"], row["d"], row["k"], row["hidden"]) == (n, d, k, d * k)
        assert row["random_parameters"] == d * k * d + n * d * k
        assert row["kept_parameters"] == int(layer.first_mask.sum() + layer.second_mask.sum())
        assert row["eta"] == layer.eta
    assert construction.hidden_widths == [21, 45] and construction.k_per_layer == [7, 9]


@pytest.mark.solver
def test_tight_certificate_lies_between_the_exact_supremum_and_the_certificate():
    from lottolib.exact import exact_supremum

    construction = L.prune_random_network(L.random_target([2, 4, 3], seed=6), 0.1, seed=6, k=60)
    report = construction.tight_certificate()
    exact = exact_supremum(construction.target, [layer.plus_error for layer in construction.layers],
                           [layer.minus_error for layer in construction.layers]).value
    assert report.method == "relaxation" and report.recursion == construction.certificate
    assert exact <= report.tight <= construction.certificate
    assert report.tight < 0.5 * construction.certificate  # far tighter on this network
    large = construction.tight_certificate(max_size=4)  # the relaxation is too large: the certificate stands
    assert large.method == "recursion" and large.tight == large.recursion == construction.certificate


def _sequential(*widths, bias=False):
    """Linear/ReLU alternating, bias-free, with entries in [-1, 1] (from a fixed seed)."""
    torch.manual_seed(0)
    modules = []
    for d, n in itertools.pairwise(widths):
        modules += [nn.Linear(d, n, bias=bias), nn.ReLU()]
    return nn.Sequential(*modules[:-1])


def test_target_weights_of_a_sequential_are_all_its_linear_layers_in_order():
    target = _sequential(3, 4, 2, 1)
    weights = L.target_weights(target)
    assert [tuple(w.shape) for w in weights] == [(4, 3), (2, 4), (1, 2)]
    assert all(w.dtype == torch.float64 for w in weights)
    assert [w.tolist() for w in weights] == [target[i].weight.double().tolist() for i in (0, 2, 4)]


ALTERNATE = ("target must alternate nn.Linear and nn.ReLU (exactly these classes), starting and ending with "
             "nn.Linear")
BIAS = ("target layers must have bias=False: fold biases into the weights with a constant input coordinate (append 1 "
        "to x and the bias as a column of W)")
BOUND = ("W_2 has an entry of magnitude 1.5 > 1.0: the construction needs every weight in [-1.0, 1.0]; rescale the "
         "target (ReLU networks are positively homogeneous)")
OK = torch.full((2, 3), 0.2, dtype=torch.float64)


@pytest.mark.parametrize(("target", "error", "message"), [
    (nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU()), ValueError, ALTERNATE),
    (nn.Sequential(), ValueError, ALTERNATE),
    (nn.Sequential(nn.Linear(3, 2, bias=False), nn.Tanh(), nn.Linear(2, 1, bias=False)), ValueError, ALTERNATE),
    (_sequential(3, 2, 1, bias=True), ValueError, BIAS),
    (nn.Linear(2, 2, bias=False), TypeError, "target must be an nn.Sequential or a list of matrices, got Linear"),
    (torch.zeros(2, 2), TypeError,
     "target must be a list of weight matrices (or an nn.Sequential); for one layer pass [W]"),
    ("W", TypeError, "target must be a list of weight matrices (or an nn.Sequential); for one layer pass [W]"),
    ([], ValueError, "target has no layers: pass at least one weight matrix"),
    ([OK, [[0.1, float("nan")]]], ValueError, "W_2 holds 1 NaN or infinite entries; every weight must be a finite number"),
    ([OK, [0.1, 0.2]], ValueError, "W_2 must be a non-empty 2-D matrix (n outputs x d inputs), got shape (2,)"),
    ([OK, torch.zeros(1, 3)], ValueError, "W_2 takes 3 inputs but W_1 has 2 outputs"),
    ([OK, torch.zeros(4, 2), torch.zeros(1, 3)], ValueError, "W_3 takes 3 inputs but W_2 has 4 outputs"),
    ([OK, [[0.1, 1.5]]], ValueError, BOUND),
])
def test_bad_targets_get_the_exact_message(target, error, message):
    with pytest.raises(error, match=re.escape(message) + "$"):
        L.target_weights(target)


def test_forward_target_keeps_the_dtype_of_x():
    weights = [torch.tensor([[0.5, -1.0], [0.25, 0.75]], dtype=torch.float64), torch.tensor([[1.0, -0.5]],
                                                                                           dtype=torch.float64)]
    x = torch.tensor([[0.5, 0.25], [-1.0, 0.5]], dtype=torch.float32)
    out = L.forward_target(weights, x)
    assert out.dtype == torch.float32
    expected = reference.relu_network([w.numpy() for w in weights], x.double().numpy())  # exact in float32 here
    assert out.tolist() == expected.tolist()


def test_network_module_is_compact_on_request_and_target_forward_is_float64():
    construction = L.prune_random_network([OK, torch.full((1, 2), -0.3, dtype=torch.float64)], 0.1, seed=0, k=4)
    full = [m for m in construction.module() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in full] == [(12, 3), (2, 12), (8, 2), (1, 8)]
    compact = [m for m in construction.module(compact=True) if isinstance(m, nn.Linear)]
    used = [int(layer.first_mask.any(dim=1).sum()) for layer in construction.layers]
    assert [tuple(m.weight.shape) for m in compact] == [(used[0], 3), (2, used[0]), (used[1], 2), (1, used[1])]
    assert used[0] < 12 or used[1] < 8
    out = construction.target_forward([[0.5, -0.5, 1.0]])
    assert out.dtype == torch.float64
    assert out.flatten().tolist() == pytest.approx([-0.3 * 0.2 * 2], rel=1e-15)  # both hidden units are 0.2 (x sums to 1)


def test_an_integer_seed_is_recorded_and_a_generator_is_not():
    target = [OK]
    assert L.prune_random_network(target, 0.1, seed=7, k=3).seed == 7
    assert L.prune_random_network(target, 0.1, seed=0, k=3).seed == 0
    assert L.prune_random_network(target, 0.1, seed=torch.Generator().manual_seed(7), k=3).seed is None


def test_proved_width_uses_each_layers_own_shape_and_eps_capped_at_one(monkeypatch):
    """k = 'proved' takes (n_i, d_i) of each layer (not d_i twice) and min(eps, 1) (the theorem needs eps <= 1)."""
    widths, epses = [], []
    monkeypatch.setattr(L.network, "_build", lambda weights, ks, eps, *_, **__: widths.append(ks) or epses.append(eps))
    target = [OK, torch.full((1, 2), 0.5, dtype=torch.float64)]
    L.prune_random_network(target, 0.5, seed=0, k="proved", delta=0.1)
    L.prune_random_network(target, 1.5, seed=0, k="proved", delta=0.1)
    assert widths == [reference.network_widths([(2, 3), (1, 2)], 0.5, 0.1),
                      reference.network_widths([(2, 3), (1, 2)], 1.0, 0.1)]
    assert reference.network_widths([(3, 3), (2, 2)], 0.5, 0.1) != widths[0]
    assert epses == [0.5, 1.5]  # the construction is judged against the asked eps


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: L.prune_random_network([OK], 0.1, seed=0, k=[0]), ValueError,
     "k must be an integer >= 1, got 0; use at least k=1"),
    (lambda: L.prune_random_network([OK], 0.1, seed=0, k=0), ValueError,
     "k must be an integer >= 1, got 0; use at least k=1"),
    (lambda: L.prune_random_network([OK], 0.1, seed=0, k=3, method="best"), ValueError,
     "method must be one of ('pair', 'subset_sum'), got 'best'"),
    (lambda: L.prune_random_network([OK], 0.1, seed=torch.Generator()), TypeError,
     "k='search' samples several networks from one seed, so it needs an integer seed"),
])
def test_bad_network_arguments_get_the_exact_message(call, error, message):
    with pytest.raises(error, match=re.escape(message) + "$"):
        call()


def _memory_message(what, parameters, limit):
    peak = L.memory.format_bytes(L.memory.estimated_peak_bytes(parameters))
    return (f"{what} has {parameters:.3g} random weights: an estimated peak of {peak}, above the limit of "
            f"{L.memory.format_bytes(limit)}. Use a smaller k (or method='subset_sum', which needs far fewer units), "
            "or raise the limit with lottolib.set_memory_limit('16GiB') if the machine has the memory")


def test_memory_errors_name_the_network_and_the_search(monkeypatch):
    """The sampled network is "a depth-2l random network with k = [k_1, …] units per input"; a search that reaches the
    limit says which eps, seed and method it could not certify."""
    monkeypatch.setattr(L.memory, "_limit", 2**21)
    target = [OK, torch.full((1, 2), 0.5, dtype=torch.float64)]
    parameters = 3 * 4 * 3 + 2 * 12 + 2 * 5 * 2 + 1 * 10  # (d·k, d) and (n, d·k) per layer
    what = "a depth-4 random network with k = [4, 5] units per input"
    with pytest.raises(L.MemoryLimitError, match=re.escape(_memory_message(what, parameters, 2**21)) + "$"):
        L.prune_random_network(target, 0.1, seed=0, k=[4, 5])
    inner = _memory_message("a depth-2 random network with k = [1] units per input", 3 * 3 + 2 * 3, 2**21)
    message = f"no k below the memory limit certifies eps=1e-09 for seed 3 with method='subset_sum': {inner}"
    with pytest.raises(L.MemoryLimitError, match=re.escape(message) + "$"):
        L.prune_random_network([OK], 1e-9, seed=3, method="subset_sum")


def test_search_under_a_tight_memory_limit_stops_at_a_certified_k(monkeypatch):
    """With room for k ≤ 4096 only (2k random weights for a 1 × 1 target), the search must stop at a k whose
    certificate meets eps, not run into the limit."""
    monkeypatch.setattr(L.memory, "_limit", L.memory.estimated_peak_bytes(2 * 4096))
    found = L.prune_random_network([torch.full((1, 1), 0.5, dtype=torch.float64)], 0.05, seed=0)
    assert found.succeeded and found.certificate <= 0.05 and found.k_per_layer[0] <= 4096
