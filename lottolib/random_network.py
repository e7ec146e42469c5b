"""Sampling the random network: every weight i.i.d. U[-1, 1], drawn from a seed.

The random network is drawn *before* the target is seen: only shapes enter here.
Introduced in chapter 1 ({ref}`one-weight`); the deep version in chapter 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .checks import check_positive_int

__all__ = ["RandomBlock", "ReluBlock", "random_mlp", "relu_stack", "sample_block", "sample_uniform", "sample_weights"]


def sample_uniform(shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """Return a float32 tensor of ``shape`` with i.i.d. U[-1, 1] entries from ``generator``."""
    return torch.rand(tuple(shape), generator=generator, dtype=torch.float32).mul_(2).sub_(1)


class ReluBlock(nn.Module):
    """A bias-free two-layer ReLU block x ↦ second · σ(first · x).

    Shapes: ``first`` (h, d), ``second`` (n, h). The forward pass runs in the input's dtype
    (float32 weights are exact in float64, so float64 inputs evaluate the block without rounding
    of the weights).
    """

    def __init__(self, first: torch.Tensor, second: torch.Tensor) -> None:
        super().__init__()
        if first.ndim != 2 or second.ndim != 2 or second.shape[1] != first.shape[0]:
            raise ValueError(f"block shapes do not fit: first {tuple(first.shape)}, second {tuple(second.shape)}")
        self.first = nn.Parameter(first, requires_grad=False)
        self.second = nn.Parameter(second, requires_grad=False)

    @property
    def d(self) -> int:
        return self.first.shape[1]

    @property
    def n(self) -> int:
        return self.second.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., d) → (..., n)."""
        return torch.relu(x @ self.first.to(x.dtype).T) @ self.second.to(x.dtype).T


class RandomBlock(ReluBlock):
    """A dense random block with d groups of k hidden units: ``first`` (d·k, d), ``second`` (n, d·k).

    Hidden unit (j, a), the a-th of the k units reserved for input coordinate j, is row
    ``j*k + a`` of ``first``.
    """

    def __init__(self, first: torch.Tensor, second: torch.Tensor, k: int) -> None:
        super().__init__(first, second)
        if first.shape[0] != first.shape[1] * k:
            raise ValueError(f"first layer has {first.shape[0]} units, not d·k = {first.shape[1]}·{k}")
        self.k = k


def sample_weights(shapes: Sequence[tuple[int, int]], seed: int) -> list[torch.Tensor]:
    """Sample one U[-1, 1] matrix per shape, in order, from one generator seeded by ``seed``.

    The same seed and shapes always give bit-identical matrices.
    """
    generator = torch.Generator().manual_seed(int(seed))
    return [sample_uniform(shape, generator) for shape in shapes]


def sample_block(d: int, n: int, k: int, seed: int) -> RandomBlock:
    """Sample the dense random block for a d-input, n-output layer with k hidden units per input.

    Returns a :class:`RandomBlock` with ``first`` (d·k, d) and ``second`` (n, d·k), all i.i.d. U[-1, 1].
    """
    d, n, k = (check_positive_int(v, name) for v, name in ((d, "d"), (n, "n"), (k, "k")))
    first, second = sample_weights([(d * k, d), (n, d * k)], seed)
    return RandomBlock(first, second, k)


def random_mlp(weights: Sequence[torch.Tensor]) -> nn.Sequential:
    """A bias-free ReLU network from weight matrices: Linear, ReLU, …, Linear (no ReLU at the end).

    ``weights[i]`` has shape (out_i, in_i), as ``nn.Linear.weight``. The tensors are copied.
    """
    linears = []
    for weight in weights:
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(weight)
        linear.weight.requires_grad_(False)
        linears.append(linear)
    return relu_stack(linears)


def relu_stack(layers: Sequence[nn.Module]) -> nn.Sequential:
    """``layers[0]``, ReLU, ``layers[1]``, …, ReLU, ``layers[-1]``: a ReLU between layers, none after the last."""
    modules: list[nn.Module] = []
    for i, layer in enumerate(layers):
        modules.append(layer)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)
