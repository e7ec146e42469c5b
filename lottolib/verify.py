"""Measuring the error of a pruned network on inputs in the unit ball.

Introduced in chapter 2 ({ref}`one-neuron`); the deep version in chapter 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_positive_int
from .network import NetworkConstruction, forward_target, target_weights

__all__ = ["EmpiricalError", "empirical_error", "sample_unit_ball"]


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


@dataclass(frozen=True)
class EmpiricalError:
    """Measured sup-error of a pruned network against its target on ‖x‖₂ ≤ 1, beside its certificate.

    ``sampled``: max over random inputs; ``adversarial``: max after projected gradient ascent
    started from the worst samples (never below ``sampled``); both ≤ ``certificate``.
    """

    sampled: float
    adversarial: float
    certificate: float


def _project_to_ball(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=1.0)


def empirical_error(
    construction: NetworkConstruction,
    target: object | None = None,
    *,
    samples: int = 4096,
    starts: int = 32,
    steps: int = 100,
    seed: int = 0,
) -> EmpiricalError:
    """max ‖G̃(x) − F(x)‖₂ over ‖x‖₂ ≤ 1, measured two ways, in float64.

    ``target`` defaults to the construction's own target (any form :func:`prune_random_network`
    accepts). Sampling uses ``samples`` points of the unit ball (half on the sphere); the
    adversarial search runs ``steps`` steps of normalised gradient ascent on ‖G̃(x) − F(x)‖²,
    projected onto the ball, from the ``starts`` worst samples. Neither can exceed the
    certificate (a test checks it).
    """
    weights = construction.target if target is None else target_weights(target)
    pruned = construction.compact()
    d = weights[0].shape[1]

    def gap(x: torch.Tensor) -> torch.Tensor:
        return (pruned(x) - forward_target(weights, x)).norm(dim=-1)

    x = sample_unit_ball(samples, d, seed)
    with torch.no_grad():
        errors = gap(x)
    sampled = float(errors.max())
    x = x[errors.argsort(descending=True)[: min(starts, samples)]].clone()
    step = 0.1
    best = sampled
    for _ in range(steps):
        x.requires_grad_(True)
        values = gap(x)
        best = max(best, float(values.detach().max()))
        (grad,) = torch.autograd.grad(values.square().sum(), x)
        with torch.no_grad():
            x = _project_to_ball(x + step * grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-30))
        step *= 0.97
    with torch.no_grad():
        best = max(best, float(gap(x).max()))
    return EmpiricalError(sampled, best, construction.certificate)
