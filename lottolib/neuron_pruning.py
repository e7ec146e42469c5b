"""Neuron pruning is only random features: one ReLU neuron, two kinds of pruning.

Removing whole hidden units of a random two-layer net x ↦ Σ_a v_a σ(⟨u_a, x⟩) leaves
Σ_{a∈S} v_a σ(⟨u_a, x⟩): a random-features model with coefficients restricted to {0, v_a}.
So the least-squares error of the random-features model with *arbitrary* coefficients c_a,

    min_c ‖Σ_a c_a σ(⟨u_a, x_s⟩) − f(x_s)‖ over the sample points x_s,

is a lower bound on the error of *every* neuron-pruned subnetwork on those points. Weight
pruning instead runs the book's construction on the target network f(x) = 1·σ(⟨w*, x⟩).
Both use random networks whose first hidden layer has the same width.

Introduced in chapter 7, *Neuron pruning is only random features*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_positive_int
from .network import prune_random_network
from .random_network import sample_weights
from .seeds import derived, generator
from .verify import sample_unit_ball

__all__ = ["NeuronVsWeight", "compare_pruning", "single_neuron_target"]


def single_neuron_target(d: int, seed: object) -> list[torch.Tensor]:
    """The target f(x) = σ(⟨w*, x⟩) as weights [W_1 = w*ᵀ (1, d), W_2 = [[1]]], with ‖w*‖₂ = 1 (w* Gaussian, normalised)."""
    w = torch.randn(1, check_positive_int(d, "d"), generator=generator(seed), dtype=torch.float64)
    return [w / w.norm(), torch.ones(1, 1, dtype=torch.float64)]


@dataclass(frozen=True)
class NeuronVsWeight:
    """Relative L2 errors ‖g − f‖/‖f‖ on the sample for one (d, hidden width).

    ``neuron`` lower-bounds every neuron-pruned subnetwork of the random net (random-features
    least squares); ``pair`` and ``subset_sum`` are weight pruning with k = hidden_width // d units per input.
    """

    d: int
    hidden_width: int
    neuron: float
    pair: float
    subset_sum: float


def _relative_error(prediction: torch.Tensor, target: torch.Tensor) -> float:
    return float((prediction - target).norm() / target.norm())


def compare_pruning(d: int, hidden_width: int, *, seed: object = 0, samples: int = 4000) -> NeuronVsWeight:
    """Approximate σ(⟨w*, x⟩) on the unit sphere of R^d by neuron pruning and by weight pruning.

    The random network's first hidden layer has ``hidden_width`` units in both cases and is the same
    random matrix (for weight pruning, k = hidden_width // d units per input coordinate, so
    ``hidden_width`` must be at least d). The target and the points come from streams derived from
    ``seed``. Errors are measured on ``samples`` sphere points; ``samples`` should be several times
    ``hidden_width`` for the random-features bound to be meaningful (it is exact on the sample either way).
    """
    d, hidden_width = check_positive_int(d, "d"), check_positive_int(hidden_width, "hidden_width")
    if hidden_width < d:
        raise ValueError(f"hidden_width {hidden_width} < d = {d}: weight pruning needs at least one unit per input")
    target = single_neuron_target(d, derived(seed, "neuron target"))
    x = sample_unit_ball(samples, d, derived(seed, "sphere points"), on_sphere_fraction=1.0)
    f = torch.relu(x @ target[0].T).squeeze(1)
    features = torch.relu(x @ sample_weights([(hidden_width, d)], seed)[0].double().T)
    # rank-revealing QR: the same minimum as the SVD driver, 3x faster at width 1024
    coefficients = torch.linalg.lstsq(features, f.unsqueeze(1), driver="gelsy").solution
    neuron = _relative_error((features @ coefficients).squeeze(1), f)
    errors = {}
    for method in ("pair", "subset_sum"):
        # exact: the best each method can do at this width, not SubsetSum stopped once 0.01 is certified
        construction = prune_random_network(target, 0.01, seed=seed, k=hidden_width // d, method=method, exact=True)
        with torch.no_grad():
            errors[method] = _relative_error(construction.module(compact=True)(x).squeeze(1), f)
    return NeuronVsWeight(d, hidden_width, neuron, errors["pair"], errors["subset_sum"])
