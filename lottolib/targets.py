"""Synthetic targets within the theorem's assumptions.

Introduced in chapter 6, *How wide is wide enough*.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from .checks import check_positive_int
from .memory import RAISE_LIMIT, check_memory
from .seeds import generator

__all__ = ["TARGET_BYTES", "random_target"]

TARGET_BYTES = 32
"""Peak bytes per target weight while drawing and normalising it: the float64 matrix, the uniform draw,
and the SVD's workspace for the spectral norm."""


def random_target(layer_sizes: Sequence[int], seed: object) -> list[torch.Tensor]:
    """A random target within the theorem's assumptions.

    Parameters
    ----------
    layer_sizes
        (d, n_1, …, n_l): the input size and each layer's outputs.
    seed
        A non-negative integer or a ``torch.Generator``.

    Returns
    -------
    list[torch.Tensor]
        W_1 … W_l (float64), W_i of shape (n_i, n_{i−1}): U[-1, 1] entries, each matrix divided by
        its spectral norm, so ‖W_i‖₂ = 1 and every entry lies in [-1, 1].

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before drawing, if the target would exceed the memory limit.
    """
    sizes = [check_positive_int(size, "layer size") for size in layer_sizes]
    if len(sizes) < 2:
        raise ValueError("random_target needs at least two layer sizes (d, n_1)")
    check_memory(sum(d * n for d, n in itertools.pairwise(sizes)), f"a random target with layer sizes {sizes}",
                 noun="weights", bytes_per_value=TARGET_BYTES, advice=f"Use smaller layers, or {RAISE_LIMIT}")
    stream = generator(seed)
    weights = []
    for d, n in itertools.pairwise(sizes):
        weight = torch.rand(n, d, generator=stream, dtype=torch.float64) * 2 - 1
        weights.append(weight / torch.linalg.matrix_norm(weight, ord=2))
    return weights
