"""Chapters 3-4: one layer from a pruned random block; its exact error and η."""

import re
from fractions import Fraction

import numpy as np
import pytest
import reference
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L


def bounded_matrix(n, d, seed, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1) * scale


shapes = st.tuples(st.integers(1, 10), st.integers(1, 10), st.integers(1, 40), st.integers(0, 10**6))
methods = st.sampled_from(L.METHODS)


def first_weights(construction):
    """u[j, a] = first[j*k + a, j], from the block's definition (chapter 4)."""
    block = construction.block
    return np.array([[float(block.first[j * block.k + a, j]) for a in range(block.k)] for j in range(block.d)])


@given(shapes, methods)
def test_pruned_weights_are_the_random_weights_bit_for_bit(shape, method):
    n, d, k, seed = shape
    construction = L.prune_layer(bounded_matrix(n, d, seed), k=k, seed=seed, method=method)
    layers = [m for m in construction.module(dtype=torch.float32) if isinstance(m, torch.nn.Linear)]
    for layer, mask, random in zip(layers, construction.masks, construction.random_weights, strict=True):
        assert torch.equal(layer.weight[mask], random[mask])
        assert (layer.weight[~mask].view(torch.int32) == 0).all()  # +0.0 bits
    assert torch.equal(construction.block.first, L.sample_block(d, n, k, seed).first)


@given(shapes, methods)
def test_block_computes_w_x_plus_the_signed_side_errors(shape, method):
    n, d, k, seed = shape
    target = bounded_matrix(n, d, seed)
    construction = L.prune_layer(target, k=k, seed=seed, method=method)
    x = L.sample_unit_ball(300, d, seed)
    with torch.no_grad():
        error = construction.module()(x) - x @ target.T
        compact = construction.module(compact=True)(x) - x @ target.T
    exact = torch.relu(x) @ construction.plus_error.T - torch.relu(-x) @ construction.minus_error.T
    assert torch.allclose(error, exact, atol=1e-13, rtol=0)
    assert torch.allclose(compact, error, atol=1e-13, rtol=0)
    assert (construction.error(x) <= construction.eta * x.norm(dim=1) + 1e-13).all()


@given(shapes)
def test_pair_errors_are_the_best_unit_of_each_sign(shape):
    n, d, k, seed = shape
    target = bounded_matrix(n, d, seed)
    construction = L.prune_layer(target, k=k, seed=seed)
    u = first_weights(construction)
    second = construction.block.second.double().numpy().reshape(n, d, k)
    for i in range(n):
        for j in range(d):
            plus, minus = reference.best_pair_errors(list(second[i, j] * u[j]), list(u[j]), float(target[i, j]))
            assert float(construction.plus_error[i, j]) == plus and float(construction.minus_error[i, j]) == minus


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 14), st.integers(0, 10**6))
def test_subset_errors_are_the_best_subset_of_each_sign(n, d, k, seed):
    target = bounded_matrix(n, d, seed)
    construction = L.prune_layer(target, k=k, seed=seed, method="subset_sum")
    u = first_weights(construction)
    second = construction.block.second.double().numpy().reshape(n, d, k)
    keep = construction.second_mask.view(n, d, k).numpy()
    for i in range(n):
        for j in range(d):
            products = second[i, j] * u[j]
            for side, error in ((u[j] > 0, construction.plus_error[i, j]), (u[j] < 0, construction.minus_error[i, j])):
                assert abs(float(error)) <= reference.best_subset_error(list(products[side]), float(target[i, j])) + 1e-15
            plus, minus = reference.exact_side_errors(list(products), list(u[j]), list(keep[i, j]), float(target[i, j]))
            assert abs(float(plus) - float(construction.plus_error[i, j])) <= 1e-15
            assert abs(float(minus) - float(construction.minus_error[i, j])) <= 1e-15


@given(shapes, methods, st.sampled_from([0.3, 1.0]))
def test_eta_is_the_spectral_norm_of_the_error_matrix_rounded_up(shape, method, scale):
    n, d, k, seed = shape
    construction = L.prune_layer(bounded_matrix(n, d, seed, scale), k=k, seed=seed, method=method)
    spectral = reference.spectral_norm(np.hstack([construction.plus_error.numpy(), construction.minus_error.numpy()]))
    assert spectral <= construction.eta <= spectral * (1 + 1e-9) + 1e-12  # + the rounding slack of subset sums
    assert construction.certificate == construction.eta


@given(st.integers(1, 12), st.integers(1, 30), st.integers(0, 10**6), methods)
def test_eta_bounds_the_exact_sup_of_a_one_output_layer(d, k, seed, method):
    construction = L.prune_layer(bounded_matrix(1, d, seed), k=k, seed=seed, method=method)
    u = first_weights(construction)
    second = construction.block.second.double().numpy().reshape(d, k)
    keep = construction.second_mask.view(d, k).numpy()
    target = construction.target[0].tolist()
    sides = [reference.exact_side_errors(list(second[j] * u[j]), list(u[j]), list(keep[j]), target[j]) for j in range(d)]
    exact = reference.one_output_sup_squared_exact([p for p, _ in sides], [m for _, m in sides])
    assert Fraction(construction.eta) ** 2 >= exact
    x = torch.tensor([[1.0] + [0.0] * (d - 1)], dtype=torch.float64)
    assert float(construction.error(x)[0]) <= construction.eta


def test_the_one_ulp_case_of_issue_12_is_certified():
    """E⁻ = 0 and the worst input is the top singular vector of E⁺: the certificate must not land below
    the exact supremum, which rounding to nearest did (0.22232060880190882 < 0.22232060880190885)."""
    target = [[0.08372988203996101, 0.25997019012064015]]
    construction = L.prune_layer(target, k=8, seed=16)
    u = first_weights(construction)
    second = construction.block.second.double().numpy().reshape(2, 8)
    keep = construction.second_mask.view(2, 8).numpy()
    sides = [reference.exact_side_errors([Fraction(s) * Fraction(a) for s, a in zip(second[j], u[j], strict=True)],
                                         list(u[j]), list(keep[j]), target[0][j]) for j in range(2)]
    exact = reference.one_output_sup_squared_exact([p for p, _ in sides], [m for _, m in sides])
    assert exact > Fraction(0.22232060880190882) ** 2  # rounding to nearest lands below the truth
    assert Fraction(construction.eta) ** 2 >= exact
    network = L.prune_random_network([target], 0.5, seed=16, k=8)
    assert Fraction(network.certificate) ** 2 >= exact


def test_each_output_keeps_at_most_two_units_per_input_and_units_keep_one_input():
    construction = L.prune_layer(bounded_matrix(6, 5, 0), k=40, seed=0)
    per_group = construction.second_mask.view(6, 5, 40).sum(dim=2)
    assert per_group.max() <= 2
    assert construction.first_mask.sum(dim=1).max() <= 1
    group_of_unit = torch.arange(5 * 40) // 40
    rows, cols = construction.first_mask.nonzero(as_tuple=True)
    assert torch.equal(cols, group_of_unit[rows])
    assert set(rows.tolist()) == set(construction.second_mask.any(dim=0).nonzero().flatten().tolist())
    assert construction.kept_parameters <= 4 * 6 * 5  # chapter 1's exercise


def test_same_seed_same_masks_and_another_seed_differs():
    target = bounded_matrix(4, 3, 1)
    a, b, c = (L.prune_layer(target, k=50, seed=s) for s in (5, 5, 6))
    assert torch.equal(a.second_mask, b.second_mask) and torch.equal(a.plus_error, b.plus_error)
    assert not torch.equal(a.block.second, c.block.second)


@pytest.mark.parametrize("method", L.METHODS)
def test_chunking_does_not_change_the_result(monkeypatch, method):
    target = bounded_matrix(9, 6, 2)
    whole = L.prune_layer(target, k=30, seed=3, method=method)
    monkeypatch.setattr("lottolib.layer.CHUNK_ELEMENTS", 1)  # one output row per chunk
    chunked = L.prune_layer(target, k=30, seed=3, method=method)
    assert torch.equal(whole.second_mask, chunked.second_mask)
    assert torch.equal(whole.plus_error, chunked.plus_error) and torch.equal(whole.minus_error, chunked.minus_error)


def test_eta_shrinks_as_k_grows():
    target = bounded_matrix(8, 8, 3) / 2
    etas = [L.prune_layer(target, k=k, seed=0).eta for k in (10, 100, 1000)]
    assert etas[0] > 3 * etas[1] > 9 * etas[2]


def test_failed_layer_says_so_and_eps_only_judges():
    target = bounded_matrix(5, 5, 0)
    failed = L.prune_layer(target, k=5, seed=0, eps=1e-4)
    assert not failed.succeeded and "FAILED" in failed.message and "increase k or eps" in failed.message
    unjudged = L.prune_layer(target, k=5, seed=0)
    assert torch.equal(failed.second_mask, unjudged.second_mask) and unjudged.succeeded
    assert L.prune_layer(target, k=5, seed=0, eps=10.0).succeeded


def test_pruned_weights_and_module_are_full_size_by_default_and_compact_on_request():
    """Full: first (d·k, d), second (n, d·k), the random weights where the masks keep them and 0 elsewhere; compact
    keeps only the units with a kept incoming weight (columns of the first mask that are used)."""
    construction = L.prune_layer(bounded_matrix(3, 4, 0), k=5, seed=1)
    first_mask, second_mask = construction.first_mask, construction.second_mask
    used = [a for a in range(20) if bool(first_mask[a].any())]
    assert 0 < len(used) < 20
    first, second = construction.pruned_weights()
    assert first.shape == (20, 4) and second.shape == (3, 20) and first.dtype == torch.float64
    expected_first = [[float(construction.block.first[a, j]) if first_mask[a, j] else 0.0 for j in range(4)]
                      for a in range(20)]
    assert first.tolist() == expected_first
    layers = [m for m in construction.module() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in layers] == [(20, 4), (3, 20)]
    compact = [m for m in construction.module(compact=True) if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in compact] == [(len(used), 4), (3, len(used))]
    assert compact[0].weight.tolist() == [expected_first[a] for a in used]
    assert compact[1].weight.tolist() == [[float(construction.block.second[i, a]) if second_mask[i, a] else 0.0
                                           for a in used] for i in range(3)]
    single = [m for m in construction.module(dtype=torch.float32) if isinstance(m, torch.nn.Linear)]
    assert all(m.weight.dtype == torch.float32 for m in single)


def test_layer_target_forward_is_w_x_in_float64_for_lists():
    target = [[0.5, -0.25], [1.0, 0.75]]
    construction = L.prune_layer(target, k=3, seed=0)
    out = construction.target_forward([[0.1, 0.3]])
    assert out.dtype == torch.float64
    assert out.tolist() == [[0.5 * 0.1 + -0.25 * 0.3, 1.0 * 0.1 + 0.75 * 0.3]]


NAN_MESSAGE = "target holds 1 NaN or infinite entries; every weight must be a finite number"
BOUND_MESSAGE = ("target has an entry of magnitude 1.5 > 1.0: the construction needs every weight in [-1.0, 1.0]; "
                 "rescale the target (ReLU networks are positively homogeneous)")
SHAPE_MESSAGE = "target must be a non-empty 2-D matrix (n outputs x d inputs), got shape (2,)"


@pytest.mark.parametrize("prune", [lambda t: L.prune_layer(t, k=3, seed=0),
                                   lambda t: L.prune_block(L.sample_block(2, 1, 3, 0), t)], ids=["layer", "block"])
@pytest.mark.parametrize(("target", "message"), [([[0.1, float("nan")]], NAN_MESSAGE), ([[0.1, 1.5]], BOUND_MESSAGE),
                                                 ([0.1, 0.2], SHAPE_MESSAGE)], ids=["nan", "bound", "shape"])
def test_bad_layer_targets_get_the_exact_message(prune, target, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        prune(target)
