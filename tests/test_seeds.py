"""One seed rule everywhere, and derived streams that share no random numbers."""

import torch

import lottolib as L
from lottolib.conv import prune_cnn
from lottolib.seeds import derived, generator


def test_integer_seeds_give_torch_streams_and_generators_are_used_as_given():
    assert torch.equal(L.sample_weights([(3, 4)], 5)[0], torch.rand(3, 4, generator=torch.Generator().manual_seed(5))
                       .mul_(2).sub_(1))
    stream = torch.Generator().manual_seed(5)
    first = L.sample_weights([(3, 4)], stream)[0]
    second = L.sample_weights([(3, 4)], stream)[0]  # the generator advanced
    assert torch.equal(first, L.sample_weights([(3, 4)], 5)[0]) and not torch.equal(first, second)
    assert generator(stream) is stream


def test_seeds_that_torch_would_confuse_are_distinct_or_refused():
    assert not torch.equal(L.sample_weights([(4, 4)], 2**64 - 1)[0], L.sample_weights([(4, 4)], 0)[0])


def test_derived_streams_differ_from_the_main_stream_and_from_each_other():
    draws = {label: torch.rand(1000, generator=derived(7, label)) for label in ("a", "b")}
    main = torch.rand(1000, generator=generator(7))
    neighbour = torch.rand(1000, generator=generator(8))
    values = [set(v.tolist()) for v in (draws["a"], draws["b"], main, neighbour)]
    assert all(not (values[i] & values[j]) for i in range(4) for j in range(i + 1, 4))
    assert torch.equal(draws["a"], torch.rand(1000, generator=derived(7, "a")))  # deterministic


def test_a_cnn_draws_both_blocks_from_one_stream_so_neighbouring_seeds_share_nothing():
    kernel = torch.full((2, 1, 3, 3), 0.1, dtype=torch.float64)
    weight = torch.full((3, 2 * 16), 0.1, dtype=torch.float64)
    s, t = (prune_cnn(kernel, weight, k=4, seed=seed) for seed in (11, 12))
    linear_s = set(torch.cat([w.flatten() for w in s.random_weights[2:]]).tolist())
    conv_t = set(torch.cat([w.flatten() for w in t.random_weights[:2]]).tolist())
    assert not linear_s & conv_t
    shapes = [tuple(w.shape) for w in s.linear.random_weights]
    conv_shapes = [(w.shape[0], w[0].numel()) for w in s.conv.random_weights]
    stream = L.sample_weights(conv_shapes + shapes, 11)
    assert torch.equal(stream[2], s.linear.random_weights[0]) and torch.equal(stream[3], s.linear.random_weights[1])
