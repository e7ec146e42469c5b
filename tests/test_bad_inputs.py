"""Every bad input gets a clear error that says what to change (issue 12's table, issue 17's, and the book's rules)."""

import re

import numpy as np
import pytest
import torch
from torch import nn

import lottolib as L
from lottolib.conv import prune_cnn, prune_conv
from lottolib.conv_bounds import conv_matrix
from lottolib.neuron_pruning import compare_pruning
from lottolib.residual import prune_residual_network, random_residual_target

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



# ---------------------------------------------------------------- issue 17: each input, its exact message

NUMBER = r"\d\.\d\de\+\d+"  # a count in scientific notation, e.g. 1.23e+601
PROVED = (r"the proved width for eps=1e-300 and delta=0\.05, k = \[{k}\] units per input, has {n} random weights: "
          r"an estimated peak of \S+ \S+, above the limit of 8\.0 GiB\. Use a larger eps, or k='search' \(the "
          r"smallest k whose certificate meets eps for this seed\)")
RESIDUAL = [(torch.full((2, 3), 0.2), torch.full((3, 2), -0.3))]
NETWORK = L.prune_random_network(TARGET, 0.1, seed=0, k=3)
SEEDS = "seeds must be at most 10000 (each seed prunes a random network for every k tried), got 18446744073709551615"


def _limit_message(what: str, count: str, peak: str, advice: str) -> str:
    return f"{what} has {count}: an estimated peak of {peak}, above the limit of 8.0 GiB. {advice}"


ISSUE_17 = [
    ("proved width, eps=1e-300", lambda: L.prune_random_network(TARGET, 1e-300, seed=0, k="proved"),
     L.MemoryLimitError, PROVED.format(k=f"{NUMBER}, {NUMBER}", n=NUMBER)),
    ("proved residual width, eps=1e-300", lambda: prune_residual_network(RESIDUAL, k="proved", seed=0, eps=1e-300),
     L.MemoryLimitError, PROVED.format(k=f"{NUMBER}, {NUMBER}", n=NUMBER)),
    ("smallest_width(seeds=2**64-1)", lambda: L.smallest_width(TARGET, 0.1, seeds=2**64 - 1), ValueError,
     re.escape(SEEDS)),
    ("random_parameters_per_weight(seeds=2**64-1)", lambda: L.random_parameters_per_weight(TARGET, 0.1,
                                                                                          seeds=2**64 - 1),
     ValueError, re.escape(SEEDS)),
    ("success_rate(seeds=range(2**64-1))", lambda: L.success_rate(TARGET, 0.1, k=3, seeds=range(2**64 - 1)), ValueError,
     re.escape("success_rate takes at most 10000 seeds (each prunes a random network), got more")),
    ("prune_cnn(k=(2,))", lambda: prune_cnn(KERNEL, torch.zeros(1, 2 * 16), k=(2,), seed=0), ValueError,
     re.escape("k must be one int or a pair (k_conv, k_linear), got (2,)")),
    ("empirical_error(input_shape=(7,))", lambda: L.empirical_error(NETWORK, input_shape=(7,)), ValueError,
     re.escape(f"{NETWORK.description} takes inputs of shape (3,), got inputs of shape (7,)")),
    ("error(x) of the wrong shape", lambda: NETWORK.error(torch.zeros(4, 7)), ValueError,
     re.escape(f"{NETWORK.description} takes inputs of shape (3,), got inputs of shape (7,)")),
    ("error(x) of one input", lambda: NETWORK.error(torch.zeros(3)), ValueError,
     re.escape("x must be a batch of inputs, of shape (m, *input_shape), got shape (3,): pass x.unsqueeze(0) for "
               "one input")),
    ("empirical_error(input_shape='3')", lambda: L.empirical_error(NETWORK, input_shape="3"), TypeError,
     re.escape("input_shape must be a tuple of integers (the shape of one input, e.g. (3,) or (1, 8, 8)), got '3'")),
    ("empirical_error(nn.Linear)", lambda: L.empirical_error(nn.Linear(3, 2)), TypeError,
     re.escape("empirical_error measures a lottolib construction (what prune_layer, prune_random_network, prune_conv, "
               "… return) against its target, got Linear")),
    ("sparsity(nn.Linear(0, 0))", lambda: L.sparsity(nn.Linear(0, 0)), ValueError,
     re.escape("the module's Linear and Conv layers hold no weights (each has size 0), so there is no fraction to "
               "count")),
    ("prune_conv(padding=3000, image_size=(2, 2))", lambda: prune_conv(KERNEL, k=2, seed=0, padding=3000,
                                                                       image_size=(2, 2)),
     ValueError, re.escape("padding must be at most max(h, w) - 1 = 2 for a 3x3 kernel (a larger padding only adds "
                           "outputs that are 0 for every input), got 3000")),
    ("prune_cnn(padding=3000)", lambda: prune_cnn(KERNEL, torch.zeros(1, 2 * 16), k=2, seed=0, padding=3000),
     ValueError, re.escape("padding must be at most max(h, w) - 1 = 2 for a 3x3 kernel (a larger padding only adds "
                           "outputs that are 0 for every input), got 3000")),
    ("random_target([10**6, 10**6])", lambda: L.random_target([10**6, 10**6], seed=0), L.MemoryLimitError,
     re.escape(_limit_message("a random target with layer sizes [1000000, 1000000]", "1e+12 weights", "29.1 TiB",
                              "Use smaller layers, or raise the limit with lottolib.set_memory_limit('16GiB') if "
                              "the machine has the memory"))),
    ("random_residual_target(10**5, 10**5, 1)", lambda: random_residual_target(10**5, 10**5, 1, seed=0),
     L.MemoryLimitError,
     re.escape(_limit_message("a random residual target with d = 100000, hidden = 100000 and blocks = 1",
                              "2e+10 weights", "596.5 GiB", "Use smaller layers, or raise the limit with "
                              "lottolib.set_memory_limit('16GiB') if the machine has the memory"))),
    ("conv_matrix on 3000x3000 images", lambda: conv_matrix(KERNEL, (1, 3000, 3000)), L.MemoryLimitError,
     re.escape(_limit_message("the exact matrix of a 2x1x3x3 convolution on 1x3000x3000 images", "2.43e+14 entries",
                              "1.7 PiB", "Use smaller images, or raise the limit with lottolib.set_memory_limit("
                              "'16GiB') if the machine has the memory"))),
    ("sample_unit_ball(10**12, 10)", lambda: L.sample_unit_ball(10**12, 10, seed=0), L.MemoryLimitError,
     re.escape(_limit_message("a sample of 1000000000000 points of the unit ball in R^10", "1e+13 float64 values",
                              "145.5 TiB", "Use fewer points, or raise the limit with lottolib.set_memory_limit("
                              "'16GiB') if the machine has the memory"))),
    ("empirical_error on 1x10000x10000 images", lambda: L.empirical_error(prune_conv(KERNEL, k=2, seed=0),
                                                                          input_shape=(1, 10**4, 10**4)),
     L.MemoryLimitError,
     re.escape(_limit_message("empirical_error's search on 4096 inputs of shape (1, 10000, 10000)", "1e+16 float64 values",
                              "142.1 PiB", "Use fewer samples or smaller inputs, or raise the limit with "
                              "lottolib.set_memory_limit('16GiB') if the machine has the memory"))),
]


@pytest.mark.parametrize(("name", "call", "error", "pattern"), ISSUE_17, ids=[case[0] for case in ISSUE_17])
def test_issue_17_inputs_get_their_exact_message(name, call, error, pattern):
    with pytest.raises(error) as raised:
        call()
    assert re.fullmatch(pattern, str(raised.value)), str(raised.value)


ONE = torch.ones(1, 1, dtype=torch.float64)
LAYERS = [  # (name, W_1, message): E⁺_1 = E⁻_1 = [[1]] unless W_1 is refused first
    ("complex entries", torch.tensor([[1 + 1j]]),
     "W_1 holds complex numbers; the construction needs real weights (pass W_1.real if the imaginary part is zero)"),
    ("bool matrix", torch.ones(1, 1, dtype=torch.bool), "W_1 must hold real numbers, got dtype torch.bool"),
    ("empty 0x3 matrix", torch.zeros(0, 3), "W_1 must be a non-empty 2-D matrix (n outputs x d inputs), got shape (0, 3)"),
    ("meta tensor", torch.zeros(1, 1, device="meta"),
     "W_1 is on the device 'meta'; lottolib computes on the CPU (a meta tensor holds no values)"),
    ("strings", [["a"]], "W_1 must hold real numbers (tensor, array or nested list): "),
]


@pytest.mark.parametrize("function", ["exact_supremum", "tight_certificate"])
@pytest.mark.parametrize(("name", "weight", "message"), LAYERS, ids=[case[0] for case in LAYERS])
def test_layers_of_a_network_get_their_exact_message(function, name, weight, message):
    """exact_supremum and tight_certificate read W_i, E⁺_i, E⁻_i through check_layers: complex entries are not
    silently cut to their real part, and bool, empty, meta and text inputs are refused before any work."""
    from lottolib.exact import exact_supremum
    from lottolib.propagation import tight_certificate

    call = {"exact_supremum": exact_supremum, "tight_certificate": tight_certificate}[function]
    with pytest.raises((TypeError, ValueError)) as raised:
        call([weight], [ONE], [ONE])
    assert str(raised.value).startswith(message) and (name == "strings" or str(raised.value) == message)


def test_layers_given_as_lists_are_read_in_float64():
    """[[0.1]] is the float64 0.1 (not float32's 0.100000001): the exact supremum of E⁺ = E⁻ = [[0.1]] on
    W = [[1]] is 0.1, enclosed."""
    from lottolib.exact import exact_supremum

    result = exact_supremum([[[1.0]]], [[[0.1]]], [[[0.1]]])
    assert result.value <= 0.1 <= result.upper <= 0.1 * (1 + 1e-9)
