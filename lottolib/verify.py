"""Measuring the error of a pruned network on inputs in the unit ball.

Introduced in chapter 2 ({ref}`one-neuron`).
"""

from __future__ import annotations

import torch

from .checks import check_positive_int

__all__ = ["sample_unit_ball"]


def sample_unit_ball(count: int, d: int, seed: int, *, on_sphere_fraction: float = 0.5) -> torch.Tensor:
    """Return (count, d) float64 points with ‖x‖₂ ≤ 1.

    A fraction ``on_sphere_fraction`` lies on the unit sphere (where the error bounds are
    tightest, since they scale with ‖x‖); the rest are uniform in the ball.
    """
    count, d = check_positive_int(count, "count"), check_positive_int(d, "d")
    generator = torch.Generator().manual_seed(int(seed))
    x = torch.randn(count, d, generator=generator, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
    radius = torch.rand(count, 1, generator=generator, dtype=torch.float64) ** (1.0 / d)
    on_sphere = torch.arange(count).unsqueeze(1) < round(on_sphere_fraction * count)
    return torch.where(on_sphere, x, x * radius)
