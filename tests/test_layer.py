import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L


def bounded_matrix(n, d, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1


shapes = st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 60), st.integers(0, 10**6))
methods = st.sampled_from(L.METHODS)


@given(shapes, methods)
def test_pruned_weights_are_the_random_weights_bit_for_bit(shape, method):
    n, d, k, seed = shape
    construction = L.prune_layer(bounded_matrix(n, d, seed), 0.1, k=k, seed=seed, method=method)
    pruned, random = construction.module(), construction.block
    for kept, mask, full in ((pruned.first, construction.first_mask, random.first),
                             (pruned.second, construction.second_mask, random.second)):
        assert torch.equal(kept[mask], full[mask])  # same float32 values where kept
        assert (kept[~mask].view(torch.int32) == 0).all()  # +0.0 bits everywhere else
    assert torch.equal(random.first, L.sample_block(d, n, k, seed).first)


@given(shapes, methods)
def test_eta_and_weight_errors_bound_the_measured_error(shape, method):
    n, d, k, seed = shape
    target = bounded_matrix(n, d, seed)
    construction = L.prune_layer(target, 0.1, k=k, seed=seed, method=method)
    x = L.sample_unit_ball(500, d, seed)
    error = construction.module()(x) - x @ target.T
    exact = torch.relu(x) @ construction.plus_error.T - torch.relu(-x) @ construction.minus_error.T
    assert torch.allclose(error, exact, atol=1e-12)
    assert (error.norm(dim=1) <= construction.eta * x.norm(dim=1) + 1e-12).all()
    assert (error.abs() <= construction.max_weight_error * x.abs().sum(dim=1, keepdim=True) + 1e-12).all()


def test_each_output_keeps_at_most_two_units_per_input_and_units_keep_one_input():
    construction = L.prune_layer(bounded_matrix(6, 5, 0), 0.1, k=40, seed=0)
    per_group = construction.second_mask.view(6, 5, 40).sum(dim=2)
    assert per_group.max() <= 2
    assert construction.first_mask.sum(dim=1).max() <= 1
    group_of_unit = torch.arange(5 * 40) // 40
    rows, cols = construction.first_mask.nonzero(as_tuple=True)
    assert torch.equal(cols, group_of_unit[rows])


def test_same_seed_same_masks():
    target = bounded_matrix(4, 3, 1)
    a, b = (L.prune_layer(target, 0.1, k=50, seed=5) for _ in range(2))
    assert torch.equal(a.second_mask, b.second_mask) and torch.equal(a.plus_error, b.plus_error)


def test_chunking_does_not_change_the_result(monkeypatch):
    target = bounded_matrix(9, 4, 2)
    whole = L.prune_layer(target, 0.1, k=30, seed=3)
    monkeypatch.setattr("lottolib.layer.CHUNK_ELEMENTS", 4 * 30)  # one output row per chunk
    chunked = L.prune_layer(target, 0.1, k=30, seed=3)
    assert torch.equal(whole.second_mask, chunked.second_mask)
    assert torch.equal(whole.minus_error, chunked.minus_error)


def test_eta_shrinks_as_k_grows():
    target = bounded_matrix(8, 8, 3) / 2
    etas = [L.prune_layer(target, 0.1, k=k, seed=0).eta for k in (10, 100, 1000)]
    assert etas[0] > etas[1] > etas[2]


def test_failed_layer_says_so():
    construction = L.prune_layer(bounded_matrix(5, 5, 0), 1e-4, k=5, seed=0)
    assert not construction.succeeded and "FAILED" in construction.message


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: L.prune_layer([[0.1, float("nan")]], 0.1, k=3, seed=0), ValueError, "NaN or infinite"),
        (lambda: L.prune_layer([[0.1, float("inf")]], 0.1, k=3, seed=0), ValueError, "NaN or infinite"),
        (lambda: L.prune_layer([[0.1, 1.5]], 0.1, k=3, seed=0), ValueError, "rescale the target"),
        (lambda: L.prune_layer([[0.1]], 0.0, k=3, seed=0), ValueError, "eps must be a finite number > 0"),
        (lambda: L.prune_layer([[0.1]], -1.0, k=3, seed=0), ValueError, "eps must be a finite number > 0"),
        (lambda: L.prune_layer([[0.1]], float("nan"), k=3, seed=0), ValueError, "eps must be a finite number > 0"),
        (lambda: L.prune_layer([[0.1]], 0.1, k=0, seed=0), ValueError, "k must be an integer >= 1"),
        (lambda: L.prune_layer([[0.1]], 0.1, k=2.5, seed=0), TypeError, "k must be an integer"),
        (lambda: L.prune_layer([0.1, 0.2], 0.1, k=3, seed=0), ValueError, "2-D matrix"),
        (lambda: L.prune_block(L.sample_block(3, 2, 4, 0), torch.zeros(2, 2), 0.1), ValueError, "random block maps"),
        (lambda: L.prune_one_weight(1.01, 10, 0), ValueError, "rescale the target"),
        (lambda: L.prune_one_weight(0.5, 10, 0, eps=0), ValueError, "eps must be"),
        (lambda: L.sample_block(0, 1, 1, 0), ValueError, "d must be an integer >= 1"),
        (lambda: L.prune_layer([[0.1]], 0.1, k=3, seed=0, method="best"), ValueError, "method must be one of"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
