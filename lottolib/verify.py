"""Measuring the error of a pruned network on inputs in the unit ball.

Introduced in chapter 3, *One neuron*; the deep version in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .adversary import strong_adversary
from .checks import check_positive_int
from .construction import Construction, shape_tuple
from .memory import RAISE_LIMIT, check_memory
from .seeds import derived, generator

__all__ = ["EmpiricalError", "empirical_error", "sample_unit_ball"]


def sample_unit_ball(count: int, d: int, seed: object, *, on_sphere_fraction: float = 0.5) -> torch.Tensor:
    """Random points of the unit ball.

    Parameters
    ----------
    count, d
        How many points, and their dimension.
    seed
        A non-negative integer or a ``torch.Generator``.
    on_sphere_fraction
        The share of points (the first rows) on the unit sphere, where the error bounds are
        tightest since they scale with ‖x‖; the rest are uniform in the ball.

    Returns
    -------
    torch.Tensor
        (count, d) float64 points with ‖x‖₂ ≤ 1.
    """
    count, d = check_positive_int(count, "count"), check_positive_int(d, "d")
    check_memory(count * d, f"a sample of {count} points of the unit ball in R^{d}", noun="float64 values",
                 bytes_per_value=16, advice=f"Use fewer points, or {RAISE_LIMIT}")  # the points and their scaled copy
    if not 0 <= on_sphere_fraction <= 1:
        raise ValueError(f"on_sphere_fraction must lie in [0, 1], got {on_sphere_fraction}")
    stream = generator(seed)
    x = torch.randn(count, d, generator=stream, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
    radius = torch.rand(count, 1, generator=stream, dtype=torch.float64) ** (1.0 / d)
    on_sphere = torch.arange(count).unsqueeze(1) < round(on_sphere_fraction * count)
    return torch.where(on_sphere, x, x * radius)


@dataclass(frozen=True)
class EmpiricalError:
    """Measured sup-error of a pruned network against its target on ‖x‖₂ ≤ 1 (on ‖x‖₂ ≤ ``input_radius`` for a
    construction that has one), beside its certificate.

    ``sampled``: max over random inputs; ``adversarial``: the best a strong adversary finds (never
    below ``sampled``); both ≤ ``certificate``.
    """

    sampled: float
    adversarial: float
    certificate: float


def empirical_error(
    construction: Construction,
    *,
    samples: int = 4096,
    starts: int = 32,
    steps: int = 100,
    seed: object = 0,
    input_shape: tuple[int, ...] | None = None,
) -> EmpiricalError:
    """max ‖G̃(x) − F(x)‖₂ over ‖x‖₂ ≤ 1, measured two ways, in float64, against the construction's own target.

    Over ‖x‖₂ ≤ r for a construction whose :attr:`~lottolib.Construction.input_radius` is r (the points below
    are scaled by r), and in the whole ball, not only on its sphere, when the error is not positively
    homogeneous (:attr:`~lottolib.Construction.positively_homogeneous`: a trained model with biases).

    Parameters
    ----------
    construction
        Any construction with a target (the certificate bounds the error against that target only).
    samples
        Random points of the unit ball (half on the sphere).
    starts, steps
        The adversarial search (:func:`~lottolib.adversary.strong_adversary`: Adam, power and sign
        steps, L-BFGS, snapping and sign flips on the sphere, where the error of a bias-free ReLU
        network peaks) runs ``steps`` steps from the ``starts`` best of its screened points, which
        include the construction's :meth:`~lottolib.Construction.adversary_starts`.
    seed
        For the random points (:func:`sample_unit_ball` with this seed); the adversary's random
        screening points come from the independent stream ``seeds.derived(seed, "adversary")``.
    input_shape
        The shape of one input, for constructions that accept any size (a convolution); by default
        ``construction.input_shape``.

    Returns
    -------
    EmpiricalError
        Neither measurement can exceed the certificate (the tests check it).

    Raises
    ------
    ValueError
        If the construction takes inputs of any size and no ``input_shape`` is given, or the certificate
        does not cover inputs of ``input_shape`` (:meth:`~lottolib.Construction.check_input_shape`).
    TypeError
        For anything but a construction, and for a search without a target network (edge-popup).
    """
    needed = ("module", "target_forward", "input_shape", "certificate", "input_radius", "positively_homogeneous",
              "adversary_starts")
    if not all(hasattr(construction, name) for name in needed):
        raise TypeError(f"empirical_error measures a lottolib construction (what prune_layer, prune_random_network, "
                        f"prune_conv, … return) against its target, got {type(construction).__name__}")
    shape = construction.input_shape if input_shape is None else input_shape
    if shape is None:
        raise ValueError(f"{type(construction).__name__} accepts inputs of any size: pass input_shape=(c, H, W)")
    shape = construction.check_input_shape(shape) if isinstance(construction, Construction) else shape_tuple(shape)
    samples = check_positive_int(samples, "samples")
    dim = math.prod(shape)
    check_memory(samples * dim + dim * dim, f"empirical_error's search on {samples} inputs of shape {shape}",
                 noun="float64 values", bytes_per_value=16,
                 advice=f"Use fewer samples or smaller inputs, or {RAISE_LIMIT}")  # the points, and d sign flips of d
    pruned = construction.module(compact=True)
    radius = construction.input_radius

    def gap(u: torch.Tensor) -> torch.Tensor:  # u in the unit ball, x = r·u in the certificate's
        x = radius * u
        return (pruned(x) - construction.target_forward(x)).flatten(1).norm(dim=1)

    x = sample_unit_ball(samples, math.prod(shape), seed).view(samples, *shape)
    with torch.no_grad():
        errors = gap(x)
    sampled = float(errors.max())
    search = strong_adversary(gap, shape, samples=samples, starts=starts, steps=check_positive_int(steps, "steps"),
                              extra_starts=construction.adversary_starts(), seed=derived(seed, "adversary"),
                              on_sphere=construction.positively_homogeneous)
    return EmpiricalError(sampled, max(sampled, search.error), construction.certificate)
