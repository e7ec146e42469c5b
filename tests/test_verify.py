"""The measured error: sampling, and an adversary that must find the worst input where it is known."""

import math

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
