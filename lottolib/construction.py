"""One shape for every construction: what a pruned random network hands back.

Whatever was approximated (one weight, a layer, a deep network, a convolution, a CNN) or
searched (edge-popup), the result is a :class:`Construction` with

- ``masks`` and ``random_weights``: one boolean mask and one tensor of sampled weights (float32,
  as drawn) per weight-bearing layer of :meth:`~Construction.module`, in the same order;
- ``certificate``: a float ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ in exact arithmetic, every
  step rounded outward (``math.inf`` where there is none); over ‖x‖₂ ≤ ``input_radius`` for a
  construction that says so (:func:`lottolib.prune_model`'s, for a trained model's own inputs);
- ``eps``, ``succeeded`` and ``message``: whether the certificate meets the tolerance asked for;
- :meth:`~Construction.module`: the torch module, full (the random network with every pruned
  weight +0.0) or compact (only the hidden units in use; the same function);
- :meth:`~Construction.error`: the error on given inputs.

:func:`lottolib.to_torch` and :func:`lottolib.sparsity` accept any of them.

Introduced in chapter 2, *One weight*.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["CompositeConstruction", "Construction", "masked", "shape_tuple"]


def shape_tuple(shape: object) -> tuple[int, ...]:
    """``shape`` (the shape of one input: an int or a sequence of ints ≥ 1) as a tuple of ints, or raise saying so."""
    values = (shape,) if isinstance(shape, numbers.Integral) and not isinstance(shape, bool) else shape
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values):
        raise TypeError(f"input_shape must be a tuple of integers (the shape of one input, e.g. (3,) or (1, 8, 8)), "
                        f"got {shape!r}")
    if not values or any(v < 1 for v in values):
        raise ValueError(f"input_shape must be a non-empty tuple of integers >= 1 (e.g. (3,) or (1, 8, 8)), "
                         f"got {shape!r}")
    return tuple(int(v) for v in values)


def masked(weights: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``weights`` where ``mask`` is True and +0.0 elsewhere, in ``dtype`` (float32 weights are exact in float64)."""
    return torch.where(mask, weights.to(dtype), torch.zeros((), dtype=dtype))


class Construction(ABC):
    """The protocol every result of :mod:`lottolib` follows (see the module docstring).

    Subclasses provide ``masks``, ``random_weights``, ``certificate``, ``eps``, ``description``,
    :meth:`module` and :meth:`target_forward`; the rest is derived here.
    """

    eps: float | None

    @property
    @abstractmethod
    def masks(self) -> list[torch.Tensor]:
        """One boolean mask per weight-bearing layer of :meth:`module`, in order."""

    @property
    @abstractmethod
    def random_weights(self) -> list[torch.Tensor]:
        """The sampled random weights (float32), one tensor per mask, of the mask's shape."""

    @property
    @abstractmethod
    def certificate(self) -> float:
        """A float ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (exact arithmetic, rounded outward); ``math.inf`` if none."""

    @property
    @abstractmethod
    def description(self) -> str:
        """What was built, for the message (e.g. ``"layer 16x16 with k = 48 units per input (pair)"``)."""

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...] | None:
        """The shape of one input (``(d,)``, or ``(c, H, W)`` for images); None where any size works."""

    @abstractmethod
    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Module:
        """The pruned network as a torch module, built anew on each call.

        Parameters
        ----------
        compact
            False: the whole random network, each pruned weight +0.0, its weight-bearing layers in the
            order of :attr:`~lottolib.Construction.masks`. True: only the hidden units in use (the same
            function, cheap to run).
        dtype
            The module's dtype. float64 (default) evaluates the float32 random weights exactly.
        """

    @abstractmethod
    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), the function approximated, in float64, for a batch ``x`` of shape ``(m, *input_shape)``."""

    @property
    def input_radius(self) -> float:
        """The radius r of the ball ‖x‖₂ ≤ r on which the certificate holds (1, the unit ball, for every construction but
        :func:`lottolib.prune_model`'s)."""
        return 1.0

    @property
    def positively_homogeneous(self) -> bool:
        """Whether G̃ − F is positively homogeneous (bias-free networks), so that its largest error on a ball lies on
        the ball's sphere, where :func:`lottolib.empirical_error` searches; otherwise it searches the whole ball."""
        return True

    @property
    def kept_parameters(self) -> int:
        """Weights the masks keep."""
        return sum(int(mask.sum()) for mask in self.masks)

    @property
    def random_parameters(self) -> int:
        """Weights of the random network (kept or not)."""
        return sum(mask.numel() for mask in self.masks)

    @property
    def succeeded(self) -> bool:
        """``certificate <= eps``; True when no ``eps`` was asked for."""
        return self.eps is None or self.certificate <= self.eps

    @property
    def failure_hint(self) -> str:
        """What to change when the certificate misses ``eps``."""
        return "increase k or eps"

    @property
    def message(self) -> str:
        """One line saying what was built, its certificate, and whether it meets ``eps``."""
        bound = "no certificate" if math.isinf(self.certificate) else f"certificate {self.certificate:.3g}"
        if self.eps is None:
            return f"{self.description}: {bound} (no eps asked)"
        if self.succeeded:
            return f"{self.description} succeeded: {bound} <= eps={self.eps:.3g}"
        return f"{self.description} FAILED: {bound} > eps={self.eps:.3g}; {self.failure_hint}"

    def adversary_starts(self) -> torch.Tensor | None:
        """Inputs (m, prod(input_shape)) worth trying first when searching for the worst input, or None."""
        return None

    def check_input_shape(self, shape: object) -> tuple[int, ...]:
        """``shape``, the shape of one input, as a tuple of ints, if the certificate holds for such inputs.

        By default that is :attr:`input_shape` exactly; constructions that accept several sizes (a
        convolution) override this.

        Raises
        ------
        TypeError
            For a shape that is not a sequence of integers.
        ValueError
            For entries < 1, or a shape the certificate does not cover (the message says which to pass).
        """
        checked = shape_tuple(shape)
        if self.input_shape is not None and checked != self.input_shape:
            raise ValueError(f"{self.description} takes inputs of shape {self.input_shape}, got inputs of shape "
                             f"{checked}")
        return checked

    def error(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """‖G̃(x) − F(x)‖₂ for each input of a batch ``x`` of shape ``(m, *input_shape)``, as a float64 tensor (m,).

        ``y`` is for searches that fit labelled data instead of a target network (edge-popup), where
        the error is 1 for a misclassified input and 0 otherwise; a construction with a target takes none.

        Raises
        ------
        ValueError
            For inputs of a shape the certificate does not cover (:meth:`check_input_shape`).
        """
        if y is not None:
            raise TypeError(f"{type(self).__name__} approximates a target network: call error(x) without labels")
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.ndim < 2:
            raise ValueError(f"x must be a batch of inputs, of shape (m, *input_shape), got shape {tuple(x.shape)}: "
                             "pass x.unsqueeze(0) for one input")
        self.check_input_shape(tuple(x.shape[1:]))
        with torch.no_grad():
            return (self.module(compact=True)(x) - self.target_forward(x)).flatten(1).norm(dim=1)


class CompositeConstruction(Construction):
    """A construction made of smaller ones (layers, pairs, blocks): its masks and random weights
    are theirs, in the order of :attr:`parts`, which is the order of the layers of :meth:`module`."""

    @property
    @abstractmethod
    def parts(self) -> Sequence[Construction]:
        """The constructions this one is made of, in the order of the module's layers."""

    @property
    def masks(self) -> list[torch.Tensor]:
        return [mask for part in self.parts for mask in part.masks]

    @property
    def random_weights(self) -> list[torch.Tensor]:
        return [weight for part in self.parts for weight in part.random_weights]
