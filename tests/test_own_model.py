"""lottolib.prune_model: a trained model with biases, pruned in one call, certified on the ball it names.

The trained models are small (digits MLP, CNN and residual network with biases) so that the strong adversary
runs in seconds. Every check is against something independent of the code under test: the user's own torch
model, the random weights re-sampled from the seed, the library's other constructions, or the recursion of
the book computed in exact rationals.
"""

from __future__ import annotations

import copy
import math
from fractions import Fraction

import pytest
import reference
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import lottolib as L
from lottolib.bisection import smallest_k
from lottolib.folding import SUPPORTED, fold_model, read_model
from lottolib.own_model import AppendConstant, Scale
from lottolib.residual import Residual, prune_residual_network, random_residual_target
from lottolib.sequential import (
    ResidualStage,
    SequentialTarget,
    WeightLayer,
    prune_sequential,
    sequential_certificate,
)
from lottolib.widgets import one_thread


@pytest.fixture(scope="module")
def digits() -> dict[str, torch.Tensor]:
    """The 8×8 digits, pixels / 16 (float32, as a user would load them), and a seeded 70/30 split."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    cut = int(0.7 * len(x))
    return {"x": x, "y": torch.tensor(data.target), "train": order[:cut], "test": order[cut:]}


def _train(model: nn.Module, x: torch.Tensor, digits: dict[str, torch.Tensor]) -> nn.Module:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train = digits["train"]
    with one_thread():
        for _ in range(200):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[train]), digits["y"][train]).backward()
            optimizer.step()
    return model.eval()


def _images(digits: dict[str, torch.Tensor]) -> torch.Tensor:
    return digits["x"].view(-1, 1, 8, 8)


@pytest.fixture(scope="module")
def trained(digits) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """Three trained models with biases, each with its inputs: an MLP, a CNN and a residual network."""
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 10))
    residual = nn.Sequential(nn.Linear(64, 12), nn.ReLU(),
                             Residual(nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 12))), nn.Linear(12, 10))
    return {"mlp": (_train(mlp, digits["x"], digits), digits["x"]),
            "cnn": (_train(cnn, _images(digits), digits), _images(digits)),
            "residual": (_train(residual, digits["x"], digits), digits["x"])}


@pytest.fixture(scope="module")
def pruned(trained) -> dict[str, L.ModelConstruction]:
    """Each trained model pruned in one call, certified on the ball of all the digits, to eps = 1 (logits)."""
    return {name: L.prune_model(model, 1.0, data=x, seed=0) for name, (model, x) in trained.items()}


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).double().mean())


# ----------------------------------------------------------------------------------------------
# The certificate, on the stated ball, for the user's own model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_certificate_bounds_a_strong_adversary_on_the_stated_ball(pruned, trained, name):
    construction = pruned[name]
    _, x = trained[name]
    assert construction.succeeded and construction.certificate <= 1.0
    assert construction.input_radius == pytest.approx(float(x.double().flatten(1).norm(dim=1).max()), rel=1e-12)
    assert construction.input_radius >= float(x.double().flatten(1).norm(dim=1).max())
    assert not construction.positively_homogeneous  # biases: the adversary searches the whole ball
    measured = L.empirical_error(construction, samples=512, starts=8, steps=40, seed=1)  # the data rows seed it too
    assert measured.sampled <= measured.adversarial <= construction.certificate
    assert measured.adversarial > 1e-3 * construction.certificate  # it measured the model's error, not zero


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_pruned_network_keeps_the_test_accuracy_and_the_certified_classes(pruned, trained, digits, name):
    construction = pruned[name]
    model, x = trained[name]
    test, y = x[digits["test"]], digits["y"][digits["test"]]
    network = construction.module(compact=True)
    target_accuracy = _accuracy(model, test, y)
    assert target_accuracy > 0.9
    assert _accuracy(network, test.double(), y) == target_accuracy
    with torch.no_grad():  # a margin above √2·certificate cannot flip: each logit gap moves by at most √2·‖error‖₂
        logits, twin = model(test).double(), network(test.double())
    top = logits.topk(2, dim=1).values
    safe = (top[:, 0] - top[:, 1]) > math.sqrt(2) * construction.certificate * (1 + 1e-6)
    assert safe.double().mean() > 0.5
    assert torch.equal(twin[safe].argmax(dim=1), logits[safe].argmax(dim=1))


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_raw_inputs_in_the_ball_give_the_models_outputs_within_the_certificate(pruned, trained, name):
    """The rescaling is undone: module(x) is the model's own unscaled output, up to the certificate, for the data
    and for random points of the ball (its centre, where only the biases act, included)."""
    construction = pruned[name]
    model, x = trained[name]
    r = construction.input_radius
    shape = x.shape[1:]
    generator = torch.Generator().manual_seed(3)
    directions = torch.randn(256, math.prod(shape), generator=generator, dtype=torch.float64)
    radii = r * torch.rand(256, 1, generator=generator, dtype=torch.float64) ** (1 / directions.shape[1])
    points = torch.cat([x.double().flatten(1), directions / directions.norm(dim=1, keepdim=True) * radii,
                        torch.zeros(1, directions.shape[1], dtype=torch.float64)]).view(-1, *shape)
    network = construction.module()  # the whole random network, pruned weights +0.0
    with torch.no_grad():
        gap = (network(points) - copy.deepcopy(model).double()(points)).norm(dim=1)
    assert float(gap.max()) <= construction.certificate
    assert float(gap[-1]) > 0  # at x = 0 only the biases act: reproduced, approximately, through the constant


def test_certificate_is_scale_times_lifted_radius_times_the_unit_ball_certificate(pruned):
    for construction in pruned.values():
        c, r = construction.constant, construction.input_radius
        copies = 1 if len(construction.folded.target.input_shape) == 1 else 64  # the 8×8 constant channel
        exact = (Fraction(construction.scale) * Fraction(construction.lifted.certificate)) ** 2 \
            * (Fraction(r) ** 2 + copies * Fraction(c) ** 2)
        assert Fraction(construction.certificate) ** 2 >= exact
        assert construction.certificate <= math.sqrt(float(exact)) * (1 + 1e-12)
        for value in (c, construction.scale):
            assert math.frexp(value)[0] == 0.5  # powers of two: folding and unfolding are exact


# ----------------------------------------------------------------------------------------------
# Mask-only, deterministic


@pytest.mark.parametrize("name", ["mlp", "cnn", "residual"])
def test_every_kept_weight_is_a_random_weight_bit_for_bit_and_nothing_else_is_learned(pruned, name):
    construction = pruned[name]
    shapes = [(layer.matrix.shape[1] * construction.k, layer.matrix.shape[1]) for layer in construction.folded.target.layers]
    shapes = [shape for (cols_k, cols), layer in zip(shapes, construction.folded.target.layers, strict=True)
              for shape in ((cols_k, cols), (layer.matrix.shape[0], cols_k))]
    drawn = L.sample_weights(shapes, 0)  # the random network, re-sampled from the seed
    for mine, fresh in zip(construction.random_weights, drawn, strict=True):
        assert torch.equal(mine.reshape(fresh.shape), fresh)
    network = construction.module(dtype=torch.float32)
    weighted = [m for m in network.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert len(weighted) == len(construction.masks)
    for layer, mask, weights in zip(weighted, construction.masks, construction.random_weights, strict=True):
        assert layer.bias is None
        kept = layer.weight.detach().view_as(mask)
        assert torch.equal(kept[mask], weights[mask])
        assert not bool(kept[~mask].any())
    allowed = (nn.Sequential, nn.Linear, nn.Conv2d, nn.ReLU, nn.Flatten, Residual, AppendConstant, Scale)
    assert all(isinstance(m, allowed) for m in network.modules())
    assert isinstance(network[0], AppendConstant) and network[0].value == construction.constant
    assert isinstance(network[-1], Scale) and network[-1].factor == construction.scale
    exported = L.to_torch(construction)
    for layer, weights in zip([m for m in exported.modules() if isinstance(m, (nn.Linear, nn.Conv2d))],
                              construction.random_weights, strict=True):
        assert torch.equal(layer.weight_orig.view_as(weights), weights)


def test_same_seed_gives_the_same_masks_and_another_seed_other_masks(trained, pruned):
    model, x = trained["mlp"]
    again = L.prune_model(model, 1.0, data=x, seed=0)
    first = pruned["mlp"]
    assert again.k == first.k and again.certificate == first.certificate
    assert all(torch.equal(a, b) for a, b in zip(again.masks, first.masks, strict=True))
    other = L.prune_model(model, 1.0, data=x, seed=1, k=first.k)
    assert not all(torch.equal(a, b) for a, b in zip(other.masks, first.masks, strict=True))


def test_the_model_is_copied_not_changed(trained):
    model, x = trained["mlp"]
    before = [p.detach().clone() for p in model.parameters()]
    L.prune_model(model, 10.0, data=x, seed=0, k=24)
    assert all(p.dtype == torch.float32 and torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_search_returns_the_smallest_k_it_tried_that_meets_eps(pruned):
    for construction in pruned.values():
        works = sorted(k for k, certificate in construction.search if certificate <= construction.eps)
        fails = [k for k, certificate in construction.search if certificate > construction.eps]
        assert construction.k == works[0]
        assert max(k for k in fails if k < construction.k) >= 0.9 * construction.k - 1  # known within 10%
        assert dict(construction.search)[construction.k] == construction.certificate


# ----------------------------------------------------------------------------------------------
# Folding: exact, in range, for every supported layer


def _random_model(kind: str, seed: int, scale: float) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(seed)
    models = {
        "mlp": (nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3)), (5,)),
        "flatten_first": (nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2)), (3, 2, 2)),
        "relu_first": (nn.Sequential(nn.ReLU(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2)), (5,)),
        "cnn": (nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, (3, 2)), nn.ReLU(),
                              nn.Flatten(), nn.Linear(2 * 3 * 4, 3), nn.ReLU(), nn.Linear(3, 2)), (2, 5, 5)),
        "conv_residual": (nn.Sequential(Residual(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(),
                                                               nn.Conv2d(3, 2, 1))), nn.Flatten()), (2, 3, 3)),
        "residual_end": (nn.Sequential(nn.Linear(4, 3), Residual(nn.Sequential(nn.Linear(3, 2), nn.ReLU(),
                                                                               nn.Linear(2, 3)))), (4,)),
        "no_bias": (nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2, bias=False)), (4,)),
        "last_bias_only": (nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(), nn.Linear(3, 2)), (4,)),
    }
    model, shape = models[kind]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "branch" in name:
                parameter.mul_(0.5)  # a residual branch weaker than its skip
            else:
                parameter.mul_(scale)
    return model.double(), shape


KINDS = ["mlp", "flatten_first", "relu_first", "cnn", "conv_residual", "residual_end", "no_bias", "last_bias_only"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("max_entry", [1.0, 0.5])
def test_folding_rewrites_the_model_exactly_within_the_weight_range(kind, max_entry):
    model, shape = _random_model(kind, 0, 3.0)
    folded = fold_model(read_model(model), shape, 0.25, max_entry)
    x = torch.randn(50, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    prefix = nn.Sequential(*[nn.ReLU() if s == "relu" else nn.Flatten() for s in folded.prefix])
    lifted = prefix(x) if folded.constant is None else AppendConstant(folded.constant)(prefix(x))
    out = folded.target.forward(lifted) * folded.scale
    if folded.outputs is not None:
        out = out.narrow(1, 0, folded.outputs)
    with torch.no_grad():
        expected = model(x)
    assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12 * float(expected.abs().max()))
    for layer in folded.target.layers:
        assert float(layer.weight.abs().max()) <= max_entry
    assert math.frexp(folded.scale)[0] == 0.5
    assert (folded.constant is None) == (kind == "no_bias")


def _pow2_ceiling(value: float) -> float:
    return 2.0 ** math.ceil(math.log2(value))


def test_folded_weights_are_the_models_weights_times_powers_of_two():
    """Layer i folded is [W_i·s_{i−1} | b_i/κ_{i−1}] / s_i, plus the constant unit ρ·e_last; s_i the power of two
    that brings the largest entry to at most ρ, κ_i = ρ κ_{i−1}, κ_0 = c: every entry exact."""
    model, _ = _random_model("mlp", 1, 3.0)
    c, rho = 0.5, 1.0
    folded = fold_model(read_model(model), (5,), c, rho)
    scale, kappa = 1.0, c
    layers = [m for m in model if isinstance(m, nn.Linear)]
    for i, (layer, mine) in enumerate(zip(layers, folded.target.layers, strict=True)):
        w, b = layer.weight.detach(), layer.bias.detach()
        n, d = w.shape
        s = _pow2_ceiling(float(torch.cat([w * scale, (b / kappa)[:, None]], dim=1).abs().max()) / rho)
        assert torch.equal(mine.weight[:n, :d] * s, w * scale)
        assert torch.equal(mine.weight[:n, d] * s * kappa, b)
        if i < len(layers) - 1:
            assert torch.equal(mine.weight[n], torch.tensor([0.0] * d + [rho], dtype=torch.float64))
            assert mine.weight.shape == (n + 1, d + 1)
        scale, kappa = s, rho * kappa
    assert folded.scale == scale and folded.constant == c


# ----------------------------------------------------------------------------------------------
# The sequential twin: the library's other constructions, and the book's recursion


def test_sequential_twin_of_an_mlp_is_prune_random_network_bit_for_bit():
    weights = L.random_target([6, 5, 4, 3], seed=2)
    stages = [WeightLayer(weights[0]), "relu", WeightLayer(weights[1]), "relu", WeightLayer(weights[2])]
    target = SequentialTarget(stages, (6,))
    for method in L.METHODS:
        mine = prune_sequential(target, k=12, seed=5, method=method)
        theirs = L.prune_random_network(weights, 1.0, seed=5, k=12, method=method)
        assert all(torch.equal(a, b) for a, b in zip(mine.masks, theirs.masks, strict=True))
        assert mine.certificate == theirs.certificate


def test_sequential_twin_of_a_cnn_is_prune_cnn_bit_for_bit():
    generator = torch.Generator().manual_seed(4)
    kernel = torch.rand(3, 2, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1
    weight = torch.rand(4, 3 * 4 * 4, generator=generator, dtype=torch.float64) * 2 - 1
    target = SequentialTarget([WeightLayer(kernel, 1), "relu", "flatten", WeightLayer(weight)], (2, 4, 4))
    mine = prune_sequential(target, k=6, seed=7)
    theirs = L.conv.prune_cnn(kernel, weight, k=6, seed=7, padding=1, image_size=(4, 4))
    assert all(torch.equal(a, b) for a, b in zip(mine.masks, theirs.masks, strict=True))
    assert mine.certificate == theirs.certificate


def test_sequential_twin_of_a_residual_network_is_prune_residual_network_bit_for_bit():
    target = random_residual_target(5, 4, 2, 3, seed=1, strength=0.8)
    stages = [ResidualStage(WeightLayer(a), WeightLayer(b)) for a, b in target.blocks] + [WeightLayer(target.readout)]
    mine = prune_sequential(SequentialTarget(stages, (5,)), k=10, seed=3)
    theirs = prune_residual_network(target, k=10, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(mine.masks, theirs.masks, strict=True))
    assert mine.certificate == theirs.certificate


def test_sequential_certificate_is_the_books_recursion_rounded_up():
    norms, etas = [1.25, 0.5, 2.0], [1e-3, 0.3, 1e-7]
    steps = [L.sequential.LayerStep(a, e) for a, e in zip(norms, etas, strict=True)]
    exact = reference.certificate_exact(norms, etas)
    assert Fraction(sequential_certificate(steps)) >= exact
    assert sequential_certificate(steps) <= float(exact) * (1 + 1e-12)
    # one residual block: Π(1 + (a + η₁)(b + η₂)) − Π(1 + a b), then a read-out (c, η)
    a, b, e1, e2, c, e = (Fraction(v) for v in (0.75, 1.5, 0.01, 0.02, 2.0, 0.03))
    block = (1 + (a + e1) * (b + e2)) - (1 + a * b)
    readout = e * ((1 + a * b) + block) + c * block
    step = L.sequential.BlockStep(L.sequential.LayerStep(0.75, 0.01), L.sequential.LayerStep(1.5, 0.02))
    value = sequential_certificate([step, L.sequential.LayerStep(2.0, 0.03)])
    assert Fraction(value) >= readout and value <= float(readout) * (1 + 1e-12)


def test_sequential_certificate_uses_eta_plus_only_after_a_relu():
    weights = L.random_target([4, 4, 4], seed=0)
    with_relu = prune_sequential(SequentialTarget([WeightLayer(weights[0]), "relu", WeightLayer(weights[1])], (4,)),
                                 k=6, seed=0)
    without = prune_sequential(SequentialTarget([WeightLayer(weights[0]), WeightLayer(weights[1])], (4,)), k=6, seed=0)
    second_plus, second_full = with_relu.steps[1].eta, without.steps[1].eta
    assert second_plus == with_relu.pairs[1].eta_plus and second_full == without.pairs[1].eta
    assert with_relu.steps[0].eta == with_relu.pairs[0].eta  # the input can have any sign


@pytest.mark.slow
@settings(max_examples=8)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 10.0), radius=st.floats(0.5, 20.0),
       kind=st.sampled_from(["mlp", "cnn", "residual_end", "relu_first"]))
def test_certificate_bounds_the_error_for_any_model_scale_and_radius(seed, scale, radius, kind):
    model, shape = _random_model(kind, seed, scale)
    construction = L.prune_model(model, 1.0, input_radius=radius, input_shape=shape, seed=seed % 7, k=20)
    assert construction.folded.target.layers  # built, whatever its certificate
    measured = L.empirical_error(construction, samples=256, starts=4, steps=20, seed=seed)
    assert measured.adversarial <= construction.certificate


def test_smallest_k_never_goes_above_its_ceiling():
    tried = []

    def attempt(k):
        tried.append(k)
        return k

    assert smallest_k(attempt, lambda k: k >= 40, ceiling=50) == (40, 40)
    assert max(tried) == 50
    tried.clear()
    assert smallest_k(attempt, lambda k: k >= 70, ceiling=50) == (50, 50)
    assert tried == [1, 2, 4, 8, 16, 32, 50]


# ----------------------------------------------------------------------------------------------
# Errors say what to change


@pytest.mark.parametrize("module, where, name", [
    (nn.Tanh(), "model[1]", "nn.Tanh"),
    (nn.BatchNorm1d(3), "model[1]", "nn.BatchNorm1d"),
    (nn.Sequential(nn.ReLU(), nn.Dropout()), "model[1][1]", "nn.Dropout"),
])
def test_an_unsupported_layer_is_named_with_its_index(module, where, name):
    model = nn.Sequential(nn.Linear(4, 3), module, nn.Linear(3, 2))
    hints = {"nn.Tanh": "", "nn.BatchNorm1d": " (in eval mode a BatchNorm is an affine map: fold it into the layer "
             "before it)", "nn.Dropout": " (at inference it is the identity: remove it)"}
    with pytest.raises(ValueError) as error:
        L.prune_model(model, 0.1, input_radius=1.0)
    assert str(error.value) == f"{where} is {name}, which lottolib.prune_model does not support{hints[name]}. " \
                               f"It supports {SUPPORTED}"


def test_a_pooling_layer_and_a_strided_convolution_are_named():
    pooled = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"^model\[1\] is nn\.MaxPool2d, which lottolib\.prune_model does not support\."):
        L.prune_model(pooled, 0.1, input_radius=1.0, input_shape=(1, 6, 6))
    strided = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Flatten())
    with pytest.raises(ValueError, match=r"^model\[0\] is nn\.Conv2d with stride=\(2, 2\), which"):
        L.prune_model(strided, 0.1, input_radius=1.0, input_shape=(1, 6, 6))
    wide = nn.Sequential(nn.Conv2d(1, 2, 3, padding=2), nn.Flatten())
    with pytest.raises(ValueError, match=r"^model\[0\] is nn\.Conv2d with padding \(2, 2\) for a 3x3 kernel"):
        L.prune_model(wide, 0.1, input_radius=1.0, input_shape=(1, 6, 6))


def test_bad_calls_say_what_to_change(trained):
    model, x = trained["mlp"]
    cases = [
        (dict(), ValueError, r"^the certificate holds on a ball \|\|x\|\| <= r: pass input_radius=r, or data="),
        (dict(input_radius=1.0, data=x), ValueError, r"^a data row has norm 4\.80\d+ > input_radius=1: the certificate"),
        (dict(input_radius=-1.0), ValueError, r"^input_radius must be a finite number > 0, got -1\.0$"),
        (dict(input_radius=1.0, constant=3.0), ValueError, r"^constant must be a power of two"),
        (dict(input_radius=1.0, method="best"), ValueError, r"^method must be one of \('pair', 'subset_sum'\)"),
        (dict(input_radius=1.0, k="proved"), ValueError, r"^k must be 'search' or an int, got 'proved'$"),
        (dict(input_radius=1.0, input_shape=(65,)), ValueError, r"^the model does not accept inputs of shape \(65,\)"),
        (dict(input_radius=1.0, seed=torch.Generator()), TypeError, r"seed must be an integer, not a torch.Generator"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            L.prune_model(model, 0.5, **kwargs)
    with pytest.raises(TypeError, match=r"^model must be an nn\.Sequential"):
        L.prune_model(model[0], 0.5, input_radius=1.0)
    with pytest.raises(ValueError, match=r"^the model's input shape cannot be read from its first layer: pass input_shape"):
        L.prune_model(trained["cnn"][0], 0.5, input_radius=1.0)


@pytest.mark.parametrize("max_entry", [1.0, 0.5])
def test_a_residual_branch_too_strong_for_its_skip_is_split_into_copies_exactly(max_entry):
    """A block cannot be rescaled as a whole; a hidden unit whose weights in and out are too large is split into
    2^t copies (and the constant unit too, for a large bias): the folded block computes the same, in range."""
    torch.manual_seed(1)
    model = nn.Sequential(Residual(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))), nn.Linear(3, 2))
    with torch.no_grad():
        for parameter in model[0].parameters():
            parameter.mul_(20.0)
    folded = fold_model(read_model(model.double()), (3,), 0.5, max_entry)
    block = folded.target.stages[0]
    assert block.first.weight.shape[0] > 4 + 1  # more hidden units than the model's 4 and the constant unit
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
    out = folded.scale * folded.target.forward(AppendConstant(0.5)(x))
    assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12 * float(expected.abs().max()))
    assert all(float(layer.weight.abs().max()) <= max_entry for layer in folded.target.layers)


@pytest.fixture()
def memory_limit_restored():
    previous = L.memory_limit()
    yield
    L.set_memory_limit(previous)


def test_a_model_too_large_for_the_memory_limit_is_refused_before_anything_is_built(memory_limit_restored):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
    L.set_memory_limit("600MiB")
    with pytest.raises(L.MemoryLimitError) as error:
        L.prune_model(model, 0.01, input_radius=28.0)
    per_unit = 785 * (785 + 301) + 301 * (301 + 101) + 101 * (101 + 10)  # d (d + n) per folded layer
    k_max = (600 * 2**20 - 512 * 2**20) // (16 * per_unit)
    assert k_max == 5
    assert str(error.value) == (
        f"the model is too large for the memory limit of 600.0 MiB: it allows at most k = {k_max} units per input "
        f"({per_unit:,} random weights per unit of k), but method='subset_sum' certifies nothing below about k = 16, "
        f"and k = 16 units per input gives {16 * per_unit:,} random weights, an estimated peak of 752.4 MiB. "
        "Raise the limit with lottolib.set_memory_limit if the machine has the memory, or prune a smaller model")


def test_the_pair_method_stops_when_its_trend_needs_more_memory_than_the_limit(trained, memory_limit_restored):
    model, x = trained["mlp"]
    L.set_memory_limit("1GiB")
    with pytest.raises(L.MemoryLimitError, match=r"^method='pair' certifies .* at k = 8, and its certificate falls like "
                                                 r"1/k, so eps needs about k = .* above the memory limit of 1\.0 GiB\. "
                                                 r"Use method='subset_sum' \(the default\)"):
        L.prune_model(model, 1e-3, data=x, method="pair")


def test_the_search_stops_at_the_largest_k_the_memory_limit_allows(trained, memory_limit_restored):
    model, x = trained["mlp"]
    per_unit = 65 * (65 + 13) + 13 * (13 + 10)
    L.set_memory_limit(512 * 2**20 + 16 * per_unit * 20)  # k_max = 20
    with pytest.raises(L.MemoryLimitError, match=r"^no k within the memory limit of .* certifies eps = 0\.001: the "
                                                 r"largest, k = 20 units per input gives"):
        L.prune_model(model, 1e-3, data=x)


def test_the_memory_check_counts_the_random_weights_of_the_folded_model_for_its_chosen_constant(memory_limit_restored):
    # With biases, a residual block's folded units (the γ copies and the constant carried past it) depend on c: on
    # the ball of radius 8 prune_model chooses c = 8, which needs fewer random weights per unit of k than c = 1. The
    # limit below allows exactly k = 16 for the twin's own count (summed from its layers), so the call must pass.
    torch.manual_seed(0)
    block = Residual(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 6)))
    model = nn.Sequential(nn.Linear(4, 6), block, nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(0.5)
        block.branch[2].bias.fill_(0.9)

    def random_weights(twin: L.ModelConstruction) -> int:
        return sum(row["random_parameters"] for row in twin.lifted.report())

    chosen = L.prune_model(model, 0.5, input_radius=8.0, k=1, seed=0)
    per_unit = random_weights(chosen)
    assert chosen.constant == 8.0
    assert per_unit < random_weights(L.prune_model(model, 0.5, input_radius=8.0, constant=1.0, k=1, seed=0))
    L.set_memory_limit(512 * 2**20 + 16 * per_unit * 16)  # k_max = 16 = MIN_USEFUL_K for SubsetSum
    twin = L.prune_model(model, 0.5, input_radius=8.0, k=16, seed=0)
    assert random_weights(twin) == 16 * per_unit
    with pytest.raises(L.MemoryLimitError, match=r"it allows at most k = 1[0-5] units per input"):
        L.prune_model(model, 0.5, input_radius=8.0, constant=1.0, k=16, seed=0)
