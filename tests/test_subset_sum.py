import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L
from lottolib.subset_sum import MAX_SIDE_CANDIDATES, subset_bits


@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 10**6))
def test_meet_in_the_middle_finds_the_exact_best_subset(size, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    products = torch.rand(batch, size, generator=generator, dtype=torch.float64) * 2 - 1
    signs = torch.ones(batch, size)
    w = torch.rand(batch, generator=generator, dtype=torch.float64) * 2 - 1
    choice = L.choose_subsets(products, signs, w)
    every_sum = products @ subset_bits(size).T  # brute force over all 2^size subsets
    best = (every_sum - w.unsqueeze(1)).abs().min(dim=1).values
    assert torch.allclose(choice.plus_error.abs(), best, atol=1e-12)
    assert torch.allclose((products * choice.keep).sum(dim=1) - w, choice.plus_error, atol=1e-12)
    assert torch.equal(choice.minus_error, -w)  # no unit with u < 0: the empty subset


def test_each_side_keeps_only_units_of_its_sign_within_the_candidate_limit():
    construction = L.prune_layer(torch.full((3, 4), 0.7), k=80, seed=1, method="subset_sum")
    u = construction.block.first.view(4, 80, 4).diagonal(dim1=0, dim2=2).T  # (d, k)
    kept = construction.second_mask.view(3, 4, 80)
    for sign in (u > 0, u < 0):
        assert (kept & sign).sum(dim=2).max() <= MAX_SIDE_CANDIDATES


def test_subset_sum_beats_the_pair_method_at_equal_width():
    target = L.random_target([16, 16], seed=0)[0]
    for k in (48, 96):
        pair = L.prune_layer(target, k=k, seed=0)
        subset = L.prune_layer(target, k=k, seed=0, method="subset_sum")
        assert subset.eta < pair.eta / 10


def test_subset_sum_certifies_with_fewer_random_parameters_than_the_pair_method():
    target = L.random_target([8, 8, 4], seed=0)
    sizes = {}
    for method in L.METHODS:
        k = L.smallest_width(target, 0.05, seeds=4, method=method)
        sizes[method] = L.prune_random_network(target, 0.05, seed=0, k=k, method=method).random_parameters
    assert sizes["subset_sum"] * 5 < sizes["pair"]


def test_subset_bits_lists_every_subset_once():
    bits = subset_bits(4)
    assert bits.shape == (16, 4)
    assert {tuple(row.tolist()) for row in bits} == set(itertools.product((0.0, 1.0), repeat=4))


@pytest.mark.parametrize("method", L.METHODS)
def test_chunking_does_not_change_the_result(monkeypatch, method):
    target = L.random_target([6, 9], seed=2)[0]
    whole = L.prune_layer(target, k=30, seed=3, method=method)
    monkeypatch.setattr("lottolib.layer.CHUNK_ELEMENTS", 1)  # one output row per chunk
    chunked = L.prune_layer(target, k=30, seed=3, method=method)
    assert torch.equal(whole.second_mask, chunked.second_mask)
    assert torch.equal(whole.plus_error, chunked.plus_error)


def test_parameters_per_weight_respect_the_counting_lower_bound():
    target = L.random_target([8, 8], seed=0)
    for eps in (0.1, 0.03):
        bound = L.pruning_lower_bound(eps)
        assert L.random_parameters_per_weight(target, eps, method="subset_sum", seeds=3) >= bound
    assert L.pruning_lower_bound(0.01) == pytest.approx(6.6438, abs=1e-4)  # log2(100)
    with pytest.raises(ValueError, match="eps < 1/2"):
        L.pruning_lower_bound(0.5)
