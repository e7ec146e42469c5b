"""The theorem: a depth-l target from a pruned random network of depth 2l (MATH.md §3).

Pair i of the random network (layers 2i−1, 2i) is a random block pruned to approximate W_i;
the ReLU after layer 2i plays the target's ReLU, and there is none after layer 2l. The
certificate bounds sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ from the construction itself (A₀ = 1, Δ₀ = 0):

    Δ_i = η_i (A_{i−1} + Δ_{i−1}) + ‖W_i‖₂ Δ_{i−1},   A_i = Π_{j ≤ i} ‖W_j‖₂,

since σ is 1-Lipschitz and does not increase norms, so the input of pair i is within Δ_{i−1}
of the target's and has norm at most A_{i−1} + Δ_{i−1}.

Introduced in chapter 4.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from .checks import as_matrix, check_bounded, check_eps, check_positive_int
from .layer import LayerConstruction, prune_block
from .probability import layer_width_bound
from .random_network import RandomBlock, random_mlp, relu_stack, sample_weights

__all__ = [
    "MAX_RANDOM_PARAMETERS",
    "NetworkConstruction",
    "certificate",
    "forward_target",
    "network_width_bound",
    "prune_random_network",
    "target_weights",
]

MAX_RANDOM_PARAMETERS = 400_000_000
"""The largest random network :func:`prune_random_network` samples (1.6 GB of float32)."""


def target_weights(target: nn.Module | Sequence[object]) -> list[torch.Tensor]:
    """The weight matrices W_1 … W_l (float64) of a bias-free ReLU network, checked.

    ``target`` is an ``nn.Sequential`` alternating bias-free ``nn.Linear`` and ``nn.ReLU``
    (Linear first and last), or a list of matrices W_i of shape (n_i, n_{i−1}).
    """
    if isinstance(target, nn.Sequential):
        modules = list(target)
        linears = modules[0::2]
        if not modules or len(modules) % 2 == 0 or not all(isinstance(m, nn.Linear) for m in linears) \
                or not all(isinstance(m, nn.ReLU) for m in modules[1::2]):
            raise ValueError("target must alternate nn.Linear and nn.ReLU, starting and ending with nn.Linear")
        if any(m.bias is not None for m in linears):
            raise ValueError("target layers must have bias=False: fold biases into the weights with a constant "
                             "input coordinate (append 1 to x and the bias as a column of W)")
        matrices = [m.weight.detach() for m in linears]
    elif isinstance(target, nn.Module):
        raise TypeError(f"target must be an nn.Sequential or a list of matrices, got {type(target).__name__}")
    else:
        matrices = list(target)
        if not matrices:
            raise ValueError("target has no layers: pass at least one weight matrix")
    weights = [as_matrix(m, f"W_{i + 1}") for i, m in enumerate(matrices)]
    for i, (previous, current) in enumerate(itertools.pairwise(weights)):
        if current.shape[1] != previous.shape[0]:
            raise ValueError(f"W_{i + 2} takes {current.shape[1]} inputs but W_{i + 1} has {previous.shape[0]} outputs")
    for i, weight in enumerate(weights):
        check_bounded(weight, f"W_{i + 1}")
    return weights


def network_width_bound(shapes: Sequence[tuple[int, int]], eps: float, delta: float = 0.05) -> list[int]:
    """Units per input k_i for each layer such that, for a target with ‖W_i‖₂ ≤ 1 and entries in
    [-1, 1] fixed before sampling, the certificate is ≤ ε with probability ≥ 1 − δ (ε ≤ 1).

    Proof (chapter 4): with η_i ≤ ε/(2l) and ‖W_i‖₂ ≤ 1 the recursion gives
    Δ_l ≤ (1 + ε/(2l))^l − 1 ≤ e^{ε/2} − 1 ≤ ε; each layer gets failure budget δ/l, and
    :func:`~lottolib.layer_width_bound` gives its k_i.
    """
    eps = check_eps(eps)
    if eps > 1:
        raise ValueError(f"network_width_bound needs eps <= 1, got {eps}")
    depth = len(shapes)
    return [layer_width_bound(n, d, eps / (2 * depth), delta / depth) for n, d in shapes]


def certificate(norms: Sequence[float], etas: Sequence[float]) -> float:
    """Δ_l from the recursion Δ_i = η_i (A_{i−1} + Δ_{i−1}) + ‖W_i‖ Δ_{i−1}, A_i = Π_{j≤i} ‖W_j‖ (Δ₀ = 0, A₀ = 1).

    ``norms[i]`` is an upper bound on layer i's operator norm and ``etas[i]`` on its relative
    error ‖G̃_i(z) − W_i z‖ / ‖z‖; then Δ_l bounds the network error on the unit ball.
    """
    reach, gap = 1.0, 0.0
    for norm, eta in zip(norms, etas, strict=True):
        gap = eta * (reach + gap) + norm * gap
        reach *= norm
    return gap


@dataclass(frozen=True, eq=False)
class NetworkConstruction:
    """A pruned random network of depth 2l approximating a depth-l target, with its certificate.

    ``layers[i]`` is the pruned block for W_{i+1}. ``masks`` lists 2l boolean masks in the order
    of the network's ``nn.Linear`` layers; ``network`` keeps exactly the random weights where
    the masks are True and +0 elsewhere.
    """

    target: list[torch.Tensor]
    layers: list[LayerConstruction]
    eps: float
    seed: int

    @cached_property
    def certificate(self) -> float:
        """Δ_l ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (exact arithmetic; see the module docstring)."""
        return certificate([float(torch.linalg.matrix_norm(w, ord=2)) for w in self.target], self.etas)

    @property
    def succeeded(self) -> bool:
        return self.certificate <= self.eps

    @property
    def message(self) -> str:
        head = f"depth-{2 * len(self.layers)} pruned random network (k = {self.widths_per_input}, {self.method})"
        if self.succeeded:
            return f"{head} succeeded: certificate {self.certificate:.3g} <= eps={self.eps:.3g}"
        return (f"{head} FAILED: certificate {self.certificate:.3g} > eps={self.eps:.3g}; "
                f"increase width or eps (see lottolib.smallest_width)")

    @property
    def method(self) -> str:
        return self.layers[0].method

    @property
    def etas(self) -> list[float]:
        return [layer.eta for layer in self.layers]

    @property
    def widths_per_input(self) -> list[int]:
        return [layer.block.k for layer in self.layers]

    @property
    def hidden_widths(self) -> list[int]:
        """Widths of the random network's layers 1, 3, …, 2l−1 (n_{i−1}·k_i)."""
        return [layer.block.first.shape[0] for layer in self.layers]

    @property
    def masks(self) -> list[torch.Tensor]:
        return [mask for layer in self.layers for mask in (layer.first_mask, layer.second_mask)]

    @property
    def kept_parameters(self) -> int:
        return sum(layer.kept_parameters for layer in self.layers)

    @property
    def random_parameters(self) -> int:
        return sum(layer.random_parameters for layer in self.layers)

    def report(self) -> list[dict[str, float | int]]:
        """Per target layer: shape, k, hidden width, η, random and kept parameter counts."""
        return [
            {"layer": i + 1, "n": layer.target.shape[0], "d": layer.target.shape[1], "k": layer.block.k,
             "hidden": layer.block.first.shape[0], "eta": layer.eta,
             "random_parameters": layer.random_parameters, "kept_parameters": layer.kept_parameters}
            for i, layer in enumerate(self.layers)
        ]

    @property
    def random_network(self) -> nn.Sequential:
        """The dense random network of depth 2l, as sampled (float32, bias-free, ReLU between layers)."""
        return random_mlp([w for layer in self.layers for w in (layer.block.first.detach(), layer.block.second.detach())])

    @property
    def network(self) -> nn.Sequential:
        """The pruned network of depth 2l: the random network with every masked-out weight set to +0."""
        blocks = [layer.module() for layer in self.layers]
        return random_mlp([w for block in blocks for w in (block.first.detach(), block.second.detach())])

    def compact(self) -> nn.Sequential:
        """The same function as :attr:`network`, keeping only the hidden units in use (fast to evaluate)."""
        return relu_stack([layer.compact() for layer in self.layers])


def _widths(width: int | Sequence[int] | None, shapes: list[tuple[int, int]], eps: float, delta: float) -> list[int]:
    if width is None:
        return network_width_bound(shapes, min(eps, 1.0), delta)
    if isinstance(width, int):
        return [check_positive_int(width, "width")] * len(shapes)
    widths = [check_positive_int(w, "width") for w in width]
    if len(widths) != len(shapes):
        raise ValueError(f"width lists {len(widths)} values for a target of depth {len(shapes)}")
    return widths


def prune_random_network(
    target: nn.Module | Sequence[object],
    eps: float,
    *,
    seed: int,
    width: int | Sequence[int] | None = None,
    delta: float = 0.05,
    method: str = "pair",
) -> NetworkConstruction:
    """Sample a random ReLU network of depth 2l from ``seed`` and prune it to approximate ``target``.

    ``width`` is k, the hidden units per input coordinate (one value, or one per layer); hidden
    layer 2i−1 has n_{i−1}·k_i units. If ``width`` is None, k comes from the proved
    :func:`network_width_bound` for (ε, δ); a random network larger than
    :data:`MAX_RANDOM_PARAMETERS` is refused with a message, never sampled. The result is
    returned whether or not its certificate meets ``eps``: ``succeeded`` and ``message`` say.
    ``method`` is ``"pair"`` (chapter 4) or ``"subset_sum"`` (chapter 8); the proved width bound
    (``width=None``) is the pair method's.
    """
    eps = check_eps(eps)
    weights = target_weights(target)
    shapes = [tuple(w.shape) for w in weights]
    widths = _widths(width, shapes, eps, delta)
    block_shapes = [s for (n, d), k in zip(shapes, widths, strict=True) for s in ((d * k, d), (n, d * k))]
    size = sum(a * b for a, b in block_shapes)
    if size > MAX_RANDOM_PARAMETERS:
        source = "the proved width bound gives" if width is None else "width"
        raise ValueError(
            f"{source} k = {widths}, a random network of {size:.3g} parameters (limit {MAX_RANDOM_PARAMETERS:.3g}); "
            "pass a smaller width= (lottolib.smallest_width finds the smallest that works in practice)"
        )
    sampled = sample_weights(block_shapes, seed)
    layers = [
        prune_block(RandomBlock(first, second, k), weight, eps, method)
        for weight, k, first, second in zip(weights, widths, sampled[0::2], sampled[1::2], strict=True)
    ]
    return NetworkConstruction(weights, layers, eps, int(seed))


def forward_target(weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """F(x) = W_l σ(W_{l−1} … σ(W_1 x)) in the dtype of x; x (..., d) → (..., n_l)."""
    for i, weight in enumerate(weights):
        x = x @ weight.to(x.dtype).T
        if i < len(weights) - 1:
            x = torch.relu(x)
    return x
