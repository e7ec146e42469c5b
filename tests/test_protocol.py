"""Every construction follows one protocol: masks, random weights, certificate, succeeded/message,
module (full or compact), error; to_torch and sparsity take any of them."""

import math

import pytest
import torch
from torch import nn

import lottolib as L
from lottolib.conv import prune_cnn, prune_conv
from lottolib.edge_popup import train_edge_popup
from lottolib.residual import prune_conv_residual, prune_residual_network, random_residual_target

WEIGHTED = (nn.Linear, nn.Conv2d)


def _kernel(seed, shape=(3, 2, 3, 3)):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1


def _images(seed, shape):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(16, *shape, generator=generator, dtype=torch.float64)
    return x / x.flatten(1).norm(dim=1).view(-1, *[1] * len(shape))


def _edge_popup():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(60, 5, generator=generator, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    return train_edge_popup(x[:40], y[:40], x[40:], y[40:], hidden=(8,), epochs=5, seed=3)


CASES = {
    "one weight": lambda: L.prune_one_weight(-0.4, k=30, seed=1, eps=0.05),
    "layer": lambda: L.prune_layer(L.random_target([5, 4], seed=0)[0], k=12, seed=2, eps=0.1),
    "subset layer": lambda: L.prune_layer(L.random_target([5, 4], seed=0)[0], k=12, seed=2, method="subset_sum"),
    "network": lambda: L.prune_random_network(L.random_target([4, 5, 3], seed=1), 0.2, seed=3, k=20),
    "conv": lambda: prune_conv(_kernel(0), k=4, seed=5, padding=1, eps=0.5, image_size=(6, 6)),
    "cnn": lambda: prune_cnn(_kernel(1), _kernel(2, (2, 3 * 16, 1, 1))[:, :, 0, 0], k=(4, 6), seed=7),
    "edge-popup": _edge_popup,
    "residual": lambda: prune_residual_network(random_residual_target(5, 4, 2, 3, seed=0, strength=0.7), k=12, seed=9,
                                               eps=0.5),
    "subset residual": lambda: prune_residual_network(random_residual_target(4, 3, 1, seed=1), k=10, seed=2,
                                                      method="subset_sum"),
    "conv residual": lambda: prune_conv_residual(0.5 * _kernel(3, (4, 2, 3, 3)), 0.5 * _kernel(4, (2, 4, 1, 1)), k=(3, 5),
                                                 seed=11, eps=1.0, image_size=(5, 5)),
}


@pytest.fixture(scope="module", params=list(CASES))
def construction(request):
    return CASES[request.param]()


def test_masks_and_random_weights_match_the_module_layers_bit_for_bit(construction):
    assert isinstance(construction, L.Construction)
    layers = [m for m in construction.module(dtype=torch.float32).modules() if isinstance(m, WEIGHTED)]
    assert len(layers) == len(construction.masks) == len(construction.random_weights)
    for layer, mask, random in zip(layers, construction.masks, construction.random_weights, strict=True):
        assert mask.dtype == torch.bool and random.dtype == torch.float32 and mask.shape == random.shape
        assert layer.weight.shape == mask.shape
        assert torch.equal(layer.weight[mask], random[mask])
        assert (layer.weight[~mask].view(torch.int32) == 0).all()
    assert construction.kept_parameters == sum(int(m.sum()) for m in construction.masks)
    assert construction.random_parameters == sum(m.numel() for m in construction.masks)


def test_to_torch_and_sparsity_accept_every_construction(construction):
    exported = L.to_torch(construction)
    layers = [m for m in exported.modules() if isinstance(m, WEIGHTED)]
    full = [m for m in construction.module(dtype=torch.float32).modules() if isinstance(m, WEIGHTED)]
    for layer, reference, mask, random in zip(layers, full, construction.masks, construction.random_weights, strict=True):
        assert torch.equal(layer.weight_orig, random) and torch.equal(layer.weight_mask.bool(), mask)
        assert torch.equal(layer.weight.view(torch.int32), reference.weight.view(torch.int32))
    expected = 1 - construction.kept_parameters / construction.random_parameters
    assert L.sparsity(construction) == L.sparsity(exported) == pytest.approx(expected)


def test_compact_module_computes_the_same_function(construction):
    shape = construction.input_shape
    x = _images(4, shape)
    with torch.no_grad():
        full, compact = construction.module()(x), construction.module(compact=True)(x)
    assert torch.allclose(full, compact, atol=1e-13, rtol=0)
    assert sum(p.numel() for p in construction.module(compact=True).parameters()) <= construction.random_parameters


def test_error_and_certificate_and_message(construction):
    x = _images(5, construction.input_shape)
    if math.isinf(construction.certificate):  # a search: its error counts misclassified labels
        labels = (x[:, 0] > 0).long()
        errors = construction.error(x, labels)
        assert set(errors.tolist()) <= {0.0, 1.0}
        with pytest.raises(TypeError, match="labels"):
            construction.error(x)
        assert "no certificate" in construction.message
        return
    with torch.no_grad():
        expected = (construction.module()(x) - construction.target_forward(x)).flatten(1).norm(dim=1)
    assert torch.allclose(construction.error(x), expected, atol=1e-13, rtol=0)
    assert (construction.error(x) <= construction.certificate + 1e-13).all()
    verdict = "succeeded" if construction.succeeded else "FAILED"
    assert construction.eps is None or verdict in construction.message
    assert f"{construction.certificate:.3g}" in construction.message
    with pytest.raises(TypeError, match="without labels"):
        construction.error(x, torch.zeros(len(x), dtype=torch.long))


def test_module_is_built_anew_on_each_call(construction):
    first, second = construction.module(), construction.module()
    assert first is not second
    parameter = next(iter(first.parameters()))
    with torch.no_grad():
        parameter.add_(1.0)
    assert not torch.equal(parameter, next(iter(second.parameters())))
