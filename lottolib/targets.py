"""Synthetic targets within the theorem's assumptions.

Introduced in chapter 5.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch

from .checks import check_positive_int

__all__ = ["random_target"]


def random_target(widths: Sequence[int], seed: int) -> list[torch.Tensor]:
    """Weights W_1 … W_l (float64) for layer widths (d, n_1, …, n_l): U[-1, 1] entries, each matrix
    divided by its spectral norm, so ‖W_i‖₂ = 1 and every entry lies in [-1, 1]."""
    widths = [check_positive_int(w, "width") for w in widths]
    if len(widths) < 2:
        raise ValueError("random_target needs at least (d, n_1): two widths")
    generator = torch.Generator().manual_seed(int(seed))
    weights = []
    for d, n in itertools.pairwise(widths):
        weight = torch.rand(n, d, generator=generator, dtype=torch.float64) * 2 - 1
        weights.append(weight / torch.linalg.matrix_norm(weight, ord=2))
    return weights
