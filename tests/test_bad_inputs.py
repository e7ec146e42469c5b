"""Every bad input gets a clear error that says what to change (issue 12's table, and the book's rules)."""

import numpy as np
import pytest
import torch
from torch import nn

import lottolib as L
from lottolib.conv import prune_cnn, prune_conv
from lottolib.neuron_pruning import compare_pruning

TARGET = [torch.full((2, 3), 0.2, dtype=torch.float64), torch.full((1, 2), -0.3, dtype=torch.float64)]
KERNEL = torch.full((2, 1, 3, 3), 0.1, dtype=torch.float64)


class NotReLU(nn.ReLU):
    def forward(self, x):
        return torch.tanh(x)


BAD = [
    # widths
    ("k=2.0", lambda: L.prune_random_network(TARGET, 0.1, seed=0, k=2.0), TypeError,
     r"k must be an integer, got 2\.0 \(float\); pass k=2"),
    ("k=0", lambda: L.prune_layer(TARGET[0], k=0, seed=0), ValueError, "k must be an integer >= 1"),
    ("k='wide'", lambda: L.prune_random_network(TARGET, 0.1, seed=0, k="wide"), ValueError, "'search', 'proved', an int"),
    ("k=[3]", lambda: L.prune_random_network(TARGET, 0.1, seed=0, k=[3]), ValueError, "one per layer"),
    ("k=2.5 (layer)", lambda: L.prune_layer(TARGET[0], k=2.5, seed=0), TypeError, "k must be an integer"),
    # eps
    ("eps=0", lambda: L.prune_random_network(TARGET, 0.0, seed=0, k=3), ValueError, "eps must be a finite number > 0"),
    ("eps=-1", lambda: L.prune_layer(TARGET[0], k=3, seed=0, eps=-1.0), ValueError, "eps must be a finite number > 0"),
    ("eps=nan", lambda: L.prune_layer(TARGET[0], k=3, seed=0, eps=float("nan")), ValueError, "finite number > 0"),
    ("eps='0.1'", lambda: L.prune_random_network(TARGET, "0.1", seed=0, k=3), TypeError, "eps must be a real number"),
    ("eps=1j", lambda: L.prune_random_network(TARGET, 1j, seed=0, k=3), TypeError, "eps must be a real number"),
    # seeds
    ("seed=1.7", lambda: L.prune_layer(TARGET[0], k=3, seed=1.7), TypeError, "seed must be a non-negative integer"),
    ("seed='12'", lambda: L.prune_layer(TARGET[0], k=3, seed="12"), TypeError, "seed must be a non-negative integer"),
    ("seed=True", lambda: L.prune_layer(TARGET[0], k=3, seed=True), TypeError, "boolean"),
    ("seed=-1", lambda: L.prune_layer(TARGET[0], k=3, seed=-1), ValueError, r"seed must lie in \[0, 2\*\*64\)"),
    ("seed=2**64", lambda: L.prune_layer(TARGET[0], k=3, seed=2**64), ValueError, r"seed must lie in \[0, 2\*\*64\)"),
    # targets
    ("NaN weight", lambda: L.prune_layer([[0.1, float("nan")]], k=3, seed=0), ValueError, "NaN or infinite"),
    ("inf weight", lambda: L.prune_layer([[0.1, float("inf")]], k=3, seed=0), ValueError, "NaN or infinite"),
    ("|w| > 1", lambda: L.prune_layer([[0.1, 1.5]], k=3, seed=0), ValueError, "rescale the target"),
    ("complex tensor", lambda: L.prune_layer(torch.tensor([[0.1 + 0.2j]]), k=3, seed=0), TypeError, "complex numbers"),
    ("complex array", lambda: L.prune_random_network([np.array([[0.1 + 0j]])], 0.1, seed=0, k=3), TypeError, "complex"),
    ("vector target", lambda: L.prune_layer([0.1, 0.2], k=3, seed=0), ValueError, "2-D matrix"),
    ("text target", lambda: L.prune_layer([["a"]], k=3, seed=0), TypeError, "real numbers"),
    ("meta target", lambda: L.prune_layer(torch.zeros(2, 2, device="meta"), k=3, seed=0), ValueError, "device 'meta'"),
    ("bias", lambda: L.prune_random_network(nn.Sequential(nn.Linear(3, 2)), 0.1, seed=0, k=3), ValueError, "bias=False"),
    ("tanh", lambda: L.prune_random_network(nn.Sequential(nn.Linear(3, 2, bias=False), nn.Tanh(),
                                                          nn.Linear(2, 1, bias=False)), 0.1, seed=0, k=3),
     ValueError, "alternate nn.Linear and nn.ReLU"),
    ("ReLU subclass", lambda: L.prune_random_network(nn.Sequential(nn.Linear(3, 2, bias=False), NotReLU(),
                                                                   nn.Linear(2, 1, bias=False)), 0.1, seed=0, k=3),
     ValueError, "exactly these classes"),
    ("shapes do not chain", lambda: L.prune_random_network([torch.zeros(2, 3), torch.zeros(1, 3)], 0.1, seed=0, k=3),
     ValueError, "takes 3 inputs"),
    ("no layers", lambda: L.prune_random_network([], 0.1, seed=0, k=3), ValueError, "no layers"),
    ("a Linear alone", lambda: L.prune_random_network(nn.Linear(2, 2, bias=False), 0.1, seed=0, k=3), TypeError,
     "nn.Sequential or a list"),
    ("a bare matrix", lambda: L.prune_random_network(torch.zeros(2, 2), 0.1, seed=0, k=3), TypeError, "pass \\[W\\]"),
    ("block shape", lambda: L.prune_block(L.sample_block(3, 2, 4, 0), torch.zeros(2, 2)), ValueError, "random block maps"),
    ("method", lambda: L.prune_layer([[0.1]], k=3, seed=0, method="best"), ValueError, "method must be one of"),
    ("w > 1", lambda: L.prune_one_weight(1.01, k=10, seed=0), ValueError, "rescale the target"),
    ("w a vector", lambda: L.prune_one_weight([0.1, 0.2], k=10, seed=0), ValueError, "one number"),
    # probabilities and widths
    ("delta=1.5", lambda: L.smallest_width(TARGET, 0.1, delta=1.5), ValueError,
     "delta must lie strictly between 0 and 1, got 1.5"),
    ("delta=0 (proved)", lambda: L.prune_random_network(TARGET, 0.1, seed=0, k="proved", delta=0.0), ValueError,
     "delta must lie strictly between 0 and 1, got 0.0"),
    ("seeds=[]", lambda: L.success_rate(TARGET, 0.1, k=3, seeds=[]), ValueError, "at least one seed"),
    ("eps >= 1/2 (counting)", lambda: L.pruning_lower_bound(0.5), ValueError, "eps < 1/2"),
    ("proved eps > 1", lambda: L.network_width_bound([(2, 2)], 1.5), ValueError, "eps <= 1"),
    # certificates
    ("negative eta", lambda: L.certificate([1.0], [-0.1]), ValueError, "every eta must be a finite number >= 0"),
    ("NaN eta", lambda: L.certificate([1.0], [float("nan")]), ValueError, "every eta must be a finite number >= 0"),
    ("eta count", lambda: L.certificate([1.0, 1.0], [0.1]), ValueError, "one eta per layer"),
    # convolutions
    ("padding=-1", lambda: prune_conv(KERNEL, k=2, seed=0, padding=-1), ValueError, "padding must be an integer >= 0"),
    ("padding=0.5", lambda: prune_conv(KERNEL, k=2, seed=0, padding=0.5), TypeError, "padding must be an integer"),
    ("3-D kernel", lambda: prune_conv(torch.zeros(2, 3, 3), k=2, seed=0), ValueError, r"\(c_out, c_in, h, w\)"),
    ("weight fits no image", lambda: prune_cnn(KERNEL, torch.zeros(10, 2 * 15), k=2, seed=0), ValueError,
     "not a square image per channel"),
    ("weight not per channel", lambda: prune_cnn(KERNEL, torch.zeros(10, 31), k=2, seed=0), ValueError,
     "not a multiple of the 2 conv channels"),
    ("image size does not fit", lambda: prune_cnn(KERNEL, torch.zeros(10, 2 * 16), k=2, seed=0, image_size=(5, 5)),
     ValueError, "gives 18 conv outputs"),
    # neuron pruning
    ("hidden_width < d", lambda: compare_pruning(8, 4), ValueError, "hidden_width 4 < d = 8"),
    # memory
    ("48 GB layer", lambda: L.prune_layer(torch.zeros(2000, 2000), k=3000, seed=0), L.MemoryLimitError,
     "estimated peak of .* above the limit"),
    ("memory limit text", lambda: L.set_memory_limit("lots"), ValueError, "not a size"),
]


@pytest.mark.parametrize(("name", "call", "error", "words"), BAD, ids=[case[0] for case in BAD])
def test_bad_input_gets_a_clear_error(name, call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("value", [np.int64(4), torch.tensor(4), 4])
def test_integral_widths_of_any_type_are_accepted(value):
    assert L.prune_layer(TARGET[0], k=value, seed=np.int64(3)).block.k == 4


@pytest.mark.parametrize("eps", [np.float32(0.1), torch.tensor(0.1), 0.1, 1])
def test_real_eps_of_any_type_is_accepted(eps):
    assert L.prune_random_network(TARGET, eps, seed=0, k=4).eps == pytest.approx(float(eps))


def test_small_eps_with_the_proved_width_is_refused_by_memory_not_by_a_division_by_zero():
    with pytest.raises(L.MemoryLimitError, match="estimated peak"):
        L.prune_random_network([[[0.5]]], 1e-9, seed=0, k="proved")
    assert L.network_width_bound([(1, 1)], 1e-9, 0.05)[0] > 10**18

