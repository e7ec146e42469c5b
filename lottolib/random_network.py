"""Sampling the random network: every weight i.i.d. U[-1, 1], drawn from a seed.

The random network is drawn *before* the target is seen: only shapes enter here. Every
construction samples through :func:`sample_weights`, which refuses (before allocating) a
network whose construction would exceed the memory limit (:mod:`lottolib.memory`).

Introduced in chapter 2, *One weight*; the deep version in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .checks import check_positive_int
from .memory import SMALLER_K, check_memory
from .seeds import generator

__all__ = ["RandomBlock", "linear", "random_mlp", "relu_stack", "sample_block", "sample_uniform", "sample_weights"]


def sample_uniform(shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """A float32 tensor of ``shape`` with i.i.d. U[-1, 1] entries.

    Parameters
    ----------
    shape
        The tensor's shape.
    generator
        The ``torch.Generator`` to draw from (advanced by the draw).

    Returns
    -------
    torch.Tensor
        2·U[0, 1) − 1 elementwise, float32.
    """
    return torch.rand(tuple(shape), generator=generator, dtype=torch.float32).mul_(2).sub_(1)


def sample_weights(
    shapes: Sequence[tuple[int, int]], seed: object, *, what: str = "the random network", advice: str = SMALLER_K
) -> list[torch.Tensor]:
    """One U[-1, 1] float32 matrix per shape, in order, from one generator for ``seed``.

    Parameters
    ----------
    shapes
        The matrices' shapes (rows, columns), in sampling order.
    seed
        A non-negative integer or a ``torch.Generator`` (:mod:`lottolib.seeds`). The same integer
        seed and shapes always give bit-identical matrices.
    what, advice
        Name the network in the memory-limit message, and say what to change.

    Returns
    -------
    list[torch.Tensor]
        The sampled matrices, float32.

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before sampling, if a construction on this many weights would exceed the memory limit.
    TypeError, ValueError
        For a shape that is not a pair of integers ≥ 1, or a bad seed.
    """
    checked = [(check_positive_int(rows, "rows"), check_positive_int(cols, "columns")) for rows, cols in shapes]
    check_memory(sum(rows * cols for rows, cols in checked), what, advice=advice)
    stream = generator(seed)
    return [sample_uniform(shape, stream) for shape in checked]


@dataclass(frozen=True, eq=False)
class RandomBlock:
    """A dense random block x ↦ second · σ(first · x) with d groups of k hidden units.

    ``first`` (d·k, d) and ``second`` (n, d·k), float32, i.i.d. U[-1, 1]. Hidden unit (j, a), the
    a-th of the k units reserved for input coordinate j, is row ``j*k + a`` of ``first``.
    """

    first: torch.Tensor
    second: torch.Tensor
    k: int

    def __post_init__(self) -> None:
        first, second = self.first, self.second
        if first.ndim != 2 or second.ndim != 2 or second.shape[1] != first.shape[0]:
            raise ValueError(f"block shapes do not fit: first {tuple(first.shape)}, second {tuple(second.shape)}")
        if first.shape[0] != first.shape[1] * self.k:
            raise ValueError(f"first layer has {first.shape[0]} units, not d·k = {first.shape[1]}·{self.k}")

    @property
    def d(self) -> int:
        """Inputs of the block."""
        return self.first.shape[1]

    @property
    def n(self) -> int:
        """Outputs of the block."""
        return self.second.shape[0]

    @property
    def hidden_width(self) -> int:
        """Hidden units d·k."""
        return self.first.shape[0]


def sample_block(d: int, n: int, k: int, seed: object) -> RandomBlock:
    """The dense random block for a d-input, n-output layer with k hidden units per input.

    Parameters
    ----------
    d, n, k
        Inputs, outputs, and hidden units per input (integers ≥ 1).
    seed
        A non-negative integer or a ``torch.Generator``.

    Returns
    -------
    RandomBlock
        ``first`` (d·k, d) and ``second`` (n, d·k), i.i.d. U[-1, 1], sampled in that order.
    """
    d, n, k = (check_positive_int(v, name) for v, name in ((d, "d"), (n, "n"), (k, "k")))
    first, second = sample_weights([(d * k, d), (n, d * k)], seed,
                                   what=f"a random block for a {n}x{d} target with k = {k} units per input")
    return RandomBlock(first, second, k)


def linear(weight: torch.Tensor) -> nn.Linear:
    """A bias-free ``nn.Linear`` holding a copy of ``weight`` (out, in), in its dtype, frozen.

    A compact network may have a layer with no unit in use (a zero-element weight): that is a valid
    layer computing 0, so torch's warning about initialising it is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        layer = nn.utils.skip_init(nn.Linear, weight.shape[1], weight.shape[0], bias=False, dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
    layer.weight.requires_grad_(False)
    return layer


def random_mlp(weights: Sequence[torch.Tensor]) -> nn.Sequential:
    """A bias-free ReLU network from weight matrices: Linear, ReLU, …, Linear (no ReLU at the end).

    Parameters
    ----------
    weights
        ``weights[i]`` of shape (out_i, in_i), as ``nn.Linear.weight``; copied, in their dtype.

    Returns
    -------
    torch.nn.Sequential
        The network, with frozen weights.
    """
    return relu_stack([linear(weight) for weight in weights])


def relu_stack(layers: Sequence[nn.Module]) -> nn.Sequential:
    """``layers[0]``, ReLU, ``layers[1]``, …, ReLU, ``layers[-1]``: a ReLU between layers, none after the last."""
    modules: list[nn.Module] = []
    for i, layer in enumerate(layers):
        modules.append(layer)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)
