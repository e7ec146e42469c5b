"""Chapters 7, 8 and 10: neuron pruning's floor, edge-popup, convolutions."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import lottolib as L
from lottolib.conv import kernel_matrix, operator_bound, prune_cnn, prune_conv, target_cnn_forward
from lottolib.digits import digits_cnn_target, load_digits_unit_ball
from lottolib.edge_popup import exhaustive_mask_search, train_edge_popup
from lottolib.neuron_pruning import compare_pruning


def test_neuron_pruning_stays_above_a_floor_that_weight_pruning_goes_below():
    for d in (6, 8, 10):
        rows = [compare_pruning(d, hidden_width, samples=3000) for hidden_width in (256, 1024)]
        assert min(r.neuron for r in rows) > 0.03  # best random-features fit: a lower bound for neuron pruning
        assert rows[-1].subset_sum < 0.003  # weight pruning at the same random width


def test_random_features_bound_shrinks_slower_in_higher_dimension():
    low, high = compare_pruning(2, 256, samples=2000), compare_pruning(10, 256, samples=2000)
    assert low.neuron < 0.01 < high.neuron


def test_neuron_pruning_features_are_the_weight_pruning_first_layer():
    row = compare_pruning(4, 64, samples=500, seed=3)
    construction = L.prune_random_network(L.random_target([4, 1, 1], 0), 0.01, seed=3, k=16)
    assert torch.equal(L.sample_weights([(64, 4)], 3)[0], construction.random_weights[0])
    assert row.hidden_width == 64


@pytest.fixture(scope="module")
def digits():
    return load_digits_unit_ball()


def test_edge_popup_beats_chance_widely_and_keeps_random_weights(digits):
    x_train, y_train, x_test, y_test = digits
    result = train_edge_popup(x_train, y_train, x_test, y_test, hidden=(64, 64), epochs=60)
    assert result.test_accuracy > 0.7  # chance is 0.1
    sampled = L.sample_weights([(64, 65), (64, 64), (10, 64)], 0)
    assert all(torch.equal(w, s) for w, s in zip(result.random_weights, sampled, strict=True))  # untouched
    assert all(abs(float(mask.double().mean()) - 0.5) < 0.01 for mask in result.masks)
    assert float(result.error(x_test, y_test).mean()) == pytest.approx(1 - result.test_accuracy)


def test_exhaustive_search_tries_every_mask():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    weights = [torch.tensor([[1.0, -1.0], [-1.0, 1.0]]), torch.eye(2)]
    best, tried, _ = exhaustive_mask_search(x, y, weights)
    assert tried == 2**8 and best == 1.0
    with pytest.raises(ValueError, match="limited to 24 weights"):
        exhaustive_mask_search(x, y, [torch.zeros(5, 5)])


@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 3]), st.integers(0, 1), st.integers(0, 10**6),
       st.sampled_from(L.METHODS))
def test_conv_pair_matches_conv2d_within_its_image_level_bound(c_in, c_out, size, padding, seed, method):
    padding = min(padding, size - 1)  # a larger padding is refused (it only adds outputs that are 0)
    generator = torch.Generator().manual_seed(seed)
    kernel = torch.rand(c_out, c_in, size, size, generator=generator, dtype=torch.float64) * 2 - 1
    construction = prune_conv(kernel, k=12, seed=seed, padding=padding, method=method)
    x = torch.randn(4, c_in, 6, 6, generator=generator, dtype=torch.float64)
    reference = torch.nn.functional.conv2d(x, kernel, padding=padding)
    with torch.no_grad():
        pruned = construction.module()(x)
    error = (pruned - reference).flatten(1).norm(dim=1)
    assert (error <= construction.certificate * x.flatten(1).norm(dim=1) + 1e-12).all()
    patches = torch.nn.functional.unfold(x, size, padding=padding)  # (m, c_in·h·w, locations)
    at_location = (pruned - reference).flatten(2).norm(dim=1)
    assert (at_location <= construction.patch_eta * patches.norm(dim=1) + 1e-12).all()
    assert construction.certificate >= construction.patch_eta * size - 1e-12
    assert kernel_matrix(kernel).shape == (c_out, c_in * size * size)
    exact_norm = float(torch.linalg.matrix_norm(kernel_matrix(kernel), ord=2)) * size
    assert exact_norm <= operator_bound(kernel) <= exact_norm * (1 + 1e-9)


def test_conv_success_is_judged_on_the_image_level_bound():
    kernel = torch.full((1, 1, 3, 3), 0.5, dtype=torch.float64)
    construction = prune_conv(kernel, k=6, seed=0)
    between = (construction.patch_eta + construction.certificate) / 2
    judged = prune_conv(kernel, k=6, seed=0, eps=between)
    assert construction.patch_eta < between < construction.certificate and not judged.succeeded


def test_digits_cnn_pruned_matches_target_within_certificate():
    target = digits_cnn_target(epochs=100)
    construction = prune_cnn(target.kernel, target.weight, k=48, seed=0, method="subset_sum", eps=0.01)
    assert construction.succeeded and construction.image_size == (8, 8)
    error = construction.error(target.x_test)
    assert float(error.max()) <= construction.certificate
    with torch.no_grad():
        assert torch.allclose(construction.target_forward(target.x_test),
                              target_cnn_forward(target.kernel, target.weight, target.x_test))
    assert abs(target.accuracy(construction.module()) - target.accuracy()) < 0.01
