"""Input validation shared by every construction.

Each check raises ``ValueError`` (or ``TypeError`` for wrong types) with a message that
says what was wrong and what to change, so a reader never meets a bare assertion.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "as_matrix",
    "check_bounded",
    "check_eps",
    "check_finite",
    "check_positive_int",
]


def check_eps(eps: float) -> float:
    """Return ``eps`` as a float after checking 0 < eps < inf."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a number, got {type(eps).__name__}; pass e.g. eps=0.05")
    eps = float(eps)
    if math.isnan(eps) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {eps}; pass e.g. eps=0.05")
    return eps


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` after checking it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}; use at least {name}=1")
    return value


def check_finite(tensor: torch.Tensor, name: str) -> torch.Tensor:
    """Raise if ``tensor`` holds NaN or infinite entries."""
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{name} holds {bad} NaN or infinite entries; every weight must be a finite number")
    return tensor


def check_bounded(tensor: torch.Tensor, name: str, bound: float = 1.0) -> torch.Tensor:
    """Raise unless every entry of ``tensor`` lies in [-bound, bound] (after a finiteness check)."""
    check_finite(tensor, name)
    worst = float(tensor.abs().max()) if tensor.numel() else 0.0
    if worst > bound:
        raise ValueError(
            f"{name} has an entry of magnitude {worst:.4g} > {bound}: the construction needs every "
            f"weight in [-{bound}, {bound}]; rescale the target (ReLU networks are positively homogeneous)"
        )
    return tensor


def as_matrix(weights: object, name: str = "W") -> torch.Tensor:
    """Return ``weights`` as a 2-D float64 tensor, raising on a wrong shape or non-finite entries."""
    try:
        tensor = torch.as_tensor(weights, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a matrix of numbers (tensor, array or nested list): {err}") from err
    if tensor.ndim != 2 or tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix (n outputs x d inputs), got shape {tuple(tensor.shape)}")
    return check_finite(tensor, name)
