"""Input validation shared by every construction.

Each check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value)
with a message that says what was wrong and what to change, so a reader never meets a bare
assertion or a deep torch error.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable

import numpy as np
import torch

__all__ = [
    "as_matrix",
    "as_tensor",
    "check_bounded",
    "check_eps",
    "check_finite",
    "check_fraction",
    "check_layers",
    "check_nonnegative_int",
    "check_positive_int",
]


def _real_number(value: object, name: str, example: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__}); pass e.g. {name}={example}")
    return float(value)


def check_eps(eps: object) -> float:
    """Return ``eps`` as a float after checking 0 < eps < ∞ (any real number type: float, int, numpy, 0-d tensor)."""
    value = _real_number(eps, "eps", "0.05")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"eps must be a finite number > 0, got {value}; pass e.g. eps=0.05")
    return value


def check_fraction(value: object, name: str) -> float:
    """Return ``value`` as a float after checking 0 < value < 1 (a probability such as δ)."""
    number = _real_number(value, name, "0.1")
    if not 0 < number < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {number}; pass e.g. {name}=0.1")
    return number


def _integer(value: object, name: str, example: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        whole = isinstance(value, float) and value.is_integer()
        hint = f"; pass {name}={int(value)}" if whole else f"; pass e.g. {name}={example}"  # type: ignore[call-overload]
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}){hint}") from None


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer ≥ 1 (``int``, NumPy or 0-d integer tensor)."""
    number = _integer(value, name, "1")
    if number < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {number}; use at least {name}=1")
    return number


def check_nonnegative_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer ≥ 0."""
    number = _integer(value, name, "0")
    if number < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {number}")
    return number


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


def as_tensor(values: object, name: str) -> torch.Tensor:
    """``values`` (tensor, array or nested list of real numbers) as a float64 CPU tensor, checked finite.

    Raises
    ------
    TypeError
        For complex or non-numeric values.
    ValueError
        For a tensor that is not on the CPU (CUDA, meta), or NaN / infinite entries.
    """
    if isinstance(values, torch.Tensor):
        if values.device.type != "cpu":
            hint = "a meta tensor holds no values" if values.device.type == "meta" else f"pass {name}.cpu()"
            raise ValueError(f"{name} is on the device {values.device.type!r}; lottolib computes on the CPU ({hint})")
        tensor = values.detach()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(values))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must hold real numbers (tensor, array or nested list): {err}") from None
    if tensor.is_complex():
        raise TypeError(f"{name} holds complex numbers; the construction needs real weights (pass {name}.real if "
                        "the imaginary part is zero)")
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    return check_finite(tensor.to(torch.float64), name)


def as_matrix(weights: object, name: str = "W") -> torch.Tensor:
    """Return ``weights`` as a non-empty 2-D float64 CPU tensor (see :func:`as_tensor`), or raise."""
    tensor = as_tensor(weights, name)
    if tensor.ndim != 2 or tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix (n outputs x d inputs), got shape {tuple(tensor.shape)}")
    return tensor


def check_layers(
    weights: Iterable[object], plus_errors: Iterable[object], minus_errors: Iterable[object]
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """A network's target weights W_i and per-weight errors E⁺_i, E⁻_i as float64 matrices, checked.

    Each is read by :func:`as_matrix` (named W_i, E+_i, E-_i): real numbers (tensor, array or nested
    list; a list is read in float64), on the CPU, finite, a non-empty matrix.

    Raises
    ------
    TypeError
        For complex, boolean or non-numeric entries.
    ValueError
        Unless there is one E⁺ and one E⁻ per layer, each of the shape of its W, the layers chain
        (W_{i+1} takes as many inputs as W_i has outputs) and every matrix is non-empty, on the CPU
        and finite.
    """
    groups = [list(weights), list(plus_errors), list(minus_errors)]
    if not groups[0] or len(groups[0]) != len(groups[1]) or len(groups[0]) != len(groups[2]):
        raise ValueError(f"need one E⁺ and one E⁻ per layer: got {len(groups[0])} weights, {len(groups[1])} E⁺, "
                         f"{len(groups[2])} E⁻")
    matrices, plus, minus = ([as_matrix(m, f"{name}_{i + 1}") for i, m in enumerate(group)]
                             for name, group in zip(("W", "E+", "E-"), groups, strict=True))
    for i, (w, p, m) in enumerate(zip(matrices, plus, minus, strict=True)):
        if p.shape != w.shape or m.shape != w.shape:
            raise ValueError(f"layer {i + 1}: W, E⁺, E⁻ must be matrices of one shape, got "
                             f"{tuple(w.shape)}, {tuple(p.shape)}, {tuple(m.shape)}")
        if i and w.shape[1] != matrices[i - 1].shape[0]:
            raise ValueError(f"W_{i + 1} takes {w.shape[1]} inputs but W_{i} has {matrices[i - 1].shape[0]} outputs")
    return matrices, plus, minus
