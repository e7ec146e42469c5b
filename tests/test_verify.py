"""The measured error: sampling, and an adversary that must find the worst input where it is known."""

import math
import re
import types

import pytest
import reference
import torch

import lottolib as L


def test_adversary_finds_the_known_worst_input_of_a_one_output_layer():
    """For one output the exact supremum is max(‖m‖, ‖m'‖) (chapter 3's exercise). In d = 64 random samples
    see little of it, so only a working adversary reaches it."""
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1, 64, generator=generator, dtype=torch.float64) * 2 - 1
    construction = L.prune_layer(target, k=6, seed=1)
    exact = reference.one_output_sup(construction.plus_error[0].tolist(), construction.minus_error[0].tolist())
    measured = L.empirical_error(construction, samples=256, starts=8, steps=100, seed=2)
    assert measured.sampled < 0.8 * exact  # the samples alone miss it
    assert measured.adversarial >= 0.99 * exact
    assert exact <= construction.certificate


def test_sampled_points_lie_in_the_ball_with_the_asked_share_on_the_sphere():
    x = L.sample_unit_ball(1000, 7, seed=3, on_sphere_fraction=0.25)
    norms = x.norm(dim=1)
    assert (norms <= 1 + 1e-12).all()
    assert torch.allclose(norms[:250], torch.ones(250, dtype=torch.float64))
    assert (norms[250:] < 1 - 1e-9).all()
    inner = norms[250:] ** 7  # uniform in the ball: ‖x‖^d is uniform on [0, 1]
    assert abs(float(inner.mean()) - 0.5) < 0.05


def test_empirical_error_of_a_convolution_needs_an_image_shape():
    from lottolib.conv import prune_conv

    kernel = torch.full((1, 1, 3, 3), 0.2, dtype=torch.float64)
    construction = prune_conv(kernel, k=3, seed=0, padding=1)
    with pytest.raises(ValueError, match="input_shape"):
        L.empirical_error(construction)
    measured = L.empirical_error(construction, input_shape=(1, 5, 5), samples=64, starts=4, steps=20)
    assert 0 < measured.sampled <= measured.adversarial <= construction.certificate
    assert not math.isinf(measured.certificate)


class _Spike(torch.nn.Module):
    """x ↦ max(⟨x, x₀⟩ − 0.999, 0): zero (and flat) except in a tiny cap around x₀; records its batch sizes."""

    def __init__(self, x0):
        super().__init__()
        self.x0, self.calls = x0, []

    def forward(self, x):
        self.calls.append(x.shape[0])
        return torch.relu(x @ self.x0 - 0.999).unsqueeze(1)


class _SpikeConstruction:
    """A construction whose error is a spike only its adversary_starts point at (d = 50: random points miss it)."""

    certificate = 1.0
    input_radius = 1.0
    positively_homogeneous = True

    def __init__(self, dim=50):
        self.input_shape = (dim,)
        self.x0 = torch.ones(dim, dtype=torch.float64) / dim**0.5
        self.pruned = _Spike(self.x0)
        self.compact = []

    def module(self, *, compact=False):
        self.compact.append(compact)
        return self.pruned

    def target_forward(self, x):
        return torch.zeros(x.shape[0], 1, dtype=torch.float64)

    def adversary_starts(self):
        return self.x0.unsqueeze(0)


def test_empirical_error_searches_from_the_constructions_starts_with_the_given_effort():
    """The sampled points miss the spike; the adversary starts from adversary_starts() (so it finds 1 − 0.999), screens
    ``samples`` random points plus that start, and runs ``steps`` Adam steps on the ``starts`` best points."""
    construction = _SpikeConstruction()
    measured = L.empirical_error(construction, samples=40, starts=3, steps=6, seed=4)
    assert measured.sampled == 0.0
    assert measured.adversarial == pytest.approx(1 - 0.999, rel=1e-9)
    assert measured.certificate == 1.0
    assert construction.compact == [True]
    calls = construction.pruned.calls
    assert calls[:2] == [40, 41]  # the sampled points, then the screening: 40 random points and the one start
    assert calls[2:8] == [3] * 6 and calls[8] != 3  # Adam: 6 steps on the 3 best points


def test_the_adversary_uses_its_own_stream_of_the_seed():
    """Its random screening points are the unit-normalised N(0, I) draws of seeds.derived(seed, "adversary"): they
    change with the seed and are independent of the sampled points (which come from seeds.generator(seed))."""
    inputs = []

    class Recording(_SpikeConstruction):
        def target_forward(self, x):
            inputs.append(x.detach().clone())
            return super().target_forward(x)

    for seed in (0, 5):
        inputs.clear()
        L.empirical_error(Recording(), samples=40, starts=2, steps=1, seed=seed)
        sampled, screened = inputs[0], inputs[1][1:]
        expected = torch.randn(40, 50, generator=L.seeds.derived(seed, "adversary"), dtype=torch.float64)
        assert torch.allclose(screened, expected / expected.norm(dim=1, keepdim=True), rtol=0, atol=1e-15)
        assert not torch.allclose(screened, sampled[:40] / sampled[:40].norm(dim=1, keepdim=True))
        assert torch.equal(sampled, L.sample_unit_ball(40, 50, seed))


def test_empirical_error_of_a_convolution_names_the_class_in_its_message():
    from lottolib.conv import prune_conv

    construction = prune_conv(torch.full((1, 1, 3, 3), 0.2, dtype=torch.float64), k=3, seed=0, padding=1)
    message = "ConvConstruction accepts inputs of any size: pass input_shape=(c, H, W)"
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        L.empirical_error(construction)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: L.sample_unit_ball(0, 3, 0), "count must be an integer >= 1, got 0; use at least count=1"),
    (lambda: L.sample_unit_ball(3, 0, 0), "d must be an integer >= 1, got 0; use at least d=1"),
    (lambda: L.sample_unit_ball(3, 2, 0, on_sphere_fraction=1.5), "on_sphere_fraction must lie in [0, 1], got 1.5"),
    (lambda: L.sample_unit_ball(3, 2, 0, on_sphere_fraction=-0.1), "on_sphere_fraction must lie in [0, 1], got -0.1"),
    (lambda: L.empirical_error(L.prune_layer([[0.5]], k=2, seed=0), steps=0),
     "steps must be an integer >= 1, got 0; use at least steps=1"),
])
def test_bad_sampling_arguments_get_the_exact_message(call, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        call()


def test_sampling_is_reproducible_from_the_seed_alone():
    """The points come from the seed's own stream, not torch's global generator."""
    torch.manual_seed(1)
    first = L.sample_unit_ball(20, 3, seed=7)
    torch.manual_seed(2)
    torch.rand(5)
    assert torch.equal(L.sample_unit_ball(20, 3, seed=7), first)
    assert not torch.equal(L.sample_unit_ball(20, 3, seed=8), first)


def test_sphere_points_have_norm_one_even_in_one_dimension_and_the_fraction_may_be_zero_or_one():
    """In d = 1 the Gaussian draws are often shorter than 1: normalising must still put them on the sphere {±1}."""
    x = L.sample_unit_ball(200, 1, seed=0, on_sphere_fraction=1)
    assert x.abs().flatten().tolist() == [1.0] * 200
    inside = L.sample_unit_ball(200, 1, seed=0, on_sphere_fraction=0).abs().flatten()
    assert bool((inside < 1).all())
    # radii uniform in float64, not on float32's grid of multiples of 2⁻²⁴
    assert any(float(r) * 2**24 != int(float(r) * 2**24) for r in inside)


def test_empirical_error_defaults_are_the_documented_effort(monkeypatch):
    """By default: 4096 sampled points, and an adversary with 32 starts and 100 steps on seed 0's "adversary" stream."""
    seen = {}

    def recording_adversary(gap, shape, **options):
        seen.update(options, shape=shape)
        return types.SimpleNamespace(error=0.0)

    monkeypatch.setattr(L.verify, "strong_adversary", recording_adversary)
    construction = _SpikeConstruction(dim=3)
    L.empirical_error(construction)
    assert construction.pruned.calls == [4096]
    assert (seen["shape"], seen["samples"], seen["starts"], seen["steps"]) == ((3,), 4096, 32, 100)
    assert torch.equal(seen["extra_starts"], construction.x0.unsqueeze(0))
    assert torch.equal(seen["seed"].get_state(), L.seeds.derived(0, "adversary").get_state())
