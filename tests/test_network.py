import io
import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import lottolib as L


@st.composite
def targets(draw):
    """Random bias-free targets within the assumptions: entries in [-1, 1] and ||W_i||_2 <= 1."""
    widths = draw(st.lists(st.integers(1, 8), min_size=2, max_size=4))
    seed = draw(st.integers(0, 10**6))
    generator = torch.Generator().manual_seed(seed)
    weights = []
    for d, n in itertools.pairwise(widths):
        weight = torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1
        scale = draw(st.floats(0.2, 1.0))
        weights.append(weight * scale / max(1.0, float(torch.linalg.matrix_norm(weight, ord=2))))
    return weights


@given(target=targets(), k=st.integers(1, 80), seed=st.integers(0, 10**6), method=st.sampled_from(L.METHODS))
def test_certificate_bounds_sampled_and_adversarial_error(target, k, seed, method):
    construction = L.prune_random_network(target, 0.1, seed=seed, width=k, method=method)
    measured = L.empirical_error(construction, samples=512, starts=8, steps=30, seed=seed)
    assert measured.sampled <= measured.adversarial <= construction.certificate * (1 + 1e-9) + 1e-12
    assert construction.succeeded == (construction.certificate <= 0.1)


@given(target=targets(), k=st.integers(1, 30), seed=st.integers(0, 10**6), method=st.sampled_from(L.METHODS))
def test_pruned_network_has_depth_2l_and_keeps_random_weights_bit_for_bit(target, k, seed, method):
    construction = L.prune_random_network(target, 0.1, seed=seed, width=k, method=method)
    pruned = [m for m in construction.network if isinstance(m, nn.Linear)]
    random = [m for m in construction.random_network if isinstance(m, nn.Linear)]
    assert len(pruned) == len(random) == len(construction.masks) == 2 * len(target)
    assert sum(isinstance(m, nn.ReLU) for m in construction.network) == 2 * len(target) - 1
    for p, r, mask in zip(pruned, random, construction.masks, strict=True):
        assert torch.equal(p.weight[mask], r.weight[mask])
        assert (p.weight[~mask].view(torch.int32) == 0).all()
    resampled = L.prune_random_network(target, 0.1, seed=seed, width=k).random_network
    again = [m for m in resampled if isinstance(m, nn.Linear)]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(random, again, strict=True))


def test_network_and_compact_network_compute_the_same_function():
    target = [torch.rand(5, 4, dtype=torch.float64) - 0.5, torch.rand(3, 5, dtype=torch.float64) - 0.5]
    construction = L.prune_random_network(target, 0.1, seed=1, width=50)
    x = L.sample_unit_ball(200, 4, seed=0)
    full = construction.network.double()(x)
    assert torch.allclose(full, construction.compact()(x), atol=1e-12)


def test_certificate_matches_the_recursion_by_hand():
    generator = torch.Generator().manual_seed(3)
    target = [torch.rand(6, 3, generator=generator, dtype=torch.float64) - 0.5 for _ in range(1)]
    target.append(torch.rand(2, 6, generator=generator, dtype=torch.float64) - 0.5)
    construction = L.prune_random_network(target, 0.1, seed=0, width=40)
    eta1, eta2 = construction.etas
    norm1, norm2 = (float(torch.linalg.matrix_norm(w, ord=2)) for w in target)
    delta1 = eta1
    assert construction.certificate == pytest.approx(eta2 * (norm1 + delta1) + norm2 * delta1, rel=1e-12)


def test_export_round_trip_through_state_dict():
    target = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU(), nn.Linear(5, 2, bias=False))
    with torch.no_grad():
        for m in target[0::2]:
            m.weight.uniform_(-0.4, 0.4, generator=torch.Generator().manual_seed(0))
    construction = L.prune_random_network(target, 0.2, seed=4, width=60)
    exported = L.to_torch(construction)
    buffer = io.BytesIO()
    torch.save(exported.state_dict(), buffer)
    buffer.seek(0)
    loaded = L.pruned_sequential([tuple(mask.shape) for mask in construction.masks])
    loaded.load_state_dict(torch.load(buffer))
    x = L.sample_unit_ball(100, 6, seed=1).float()
    assert torch.equal(exported(x), loaded(x))
    assert torch.equal(exported(x), construction.network(x))
    expected = 1 - construction.kept_parameters / construction.random_parameters
    assert L.sparsity(exported) == pytest.approx(expected)


def test_failure_is_reported_plainly():
    construction = L.prune_random_network([[[0.9, -0.8]], [[0.7]]], 1e-6, seed=0, width=3)
    assert not construction.succeeded
    assert "FAILED" in construction.message and "increase width" in construction.message


def test_width_none_uses_the_proved_bound_or_refuses_clearly():
    small = L.prune_random_network([[[0.5]]], 0.5, seed=0)
    assert small.widths_per_input == L.network_width_bound([(1, 1)], 0.5)
    with pytest.raises(ValueError, match="pass a smaller width="):
        L.prune_random_network([torch.zeros(64, 64, dtype=torch.float64)], 0.05, seed=0)


def test_smallest_width_is_minimal_on_its_grid():
    target = [torch.full((2, 2), 0.3, dtype=torch.float64), torch.full((1, 2), -0.4, dtype=torch.float64)]
    k = L.smallest_width(target, 0.05, delta=0.2, seeds=5)
    assert L.success_rate(target, 0.05, k, range(5)) >= 0.8
    assert L.success_rate(target, 0.05, max(1, int(k * 0.9)), range(5)) < 0.8 or k == 1


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        (nn.Sequential(nn.Linear(3, 2)), ValueError, "bias=False"),
        (nn.Sequential(nn.Linear(3, 2, bias=False), nn.Tanh(), nn.Linear(2, 1, bias=False)), ValueError, "alternate"),
        (nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU()), ValueError, "alternate"),
        ([torch.zeros(2, 3), torch.zeros(1, 3)], ValueError, "takes 3 inputs"),
        ([[[2.0]]], ValueError, "rescale"),
        ([[[float("nan")]]], ValueError, "NaN"),
        ([], ValueError, "no layers"),
        (nn.Linear(2, 2, bias=False), TypeError, "nn.Sequential"),
    ],
)
def test_bad_targets_are_rejected_clearly(target, error, words):
    with pytest.raises(error, match=words):
        L.prune_random_network(target, 0.1, seed=0, width=4)


@pytest.mark.parametrize(("width", "words"), [(0, "width must be an integer >= 1"), ([3], "width lists 1 values")])
def test_bad_width_is_rejected(width, words):
    with pytest.raises(ValueError, match=words):
        L.prune_random_network([torch.zeros(2, 2), torch.zeros(1, 2)], 0.1, seed=0, width=width)
