"""Export any construction as plain torch: its layers pruned with ``torch.nn.utils.prune``.

Introduced in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import prune

from .construction import Construction
from .random_network import relu_stack

__all__ = ["pruned_sequential", "sparsity", "to_torch"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _KeepMasked(prune.CustomFromMask):
    """``torch.nn.utils.prune.CustomFromMask`` whose pruned weights are +0.0, as the constructions' modules have.

    The stock method multiplies ``weight_orig * weight_mask``, which gives −0.0 where a negative
    random weight is pruned; here the kept weights are copied and the others are +0.0.
    """

    def apply_mask(self, module: nn.Module) -> torch.Tensor:
        original = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return torch.where(mask.bool(), original, torch.zeros((), dtype=original.dtype))


class _CertifiedShape:
    """A forward pre-hook that warns when the exported network runs on inputs of another shape than the one its
    certificate covers (a convolution pruned for one ``image_size`` runs on any size, but is certified at that one)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __call__(self, module: nn.Module, args: tuple) -> None:
        if not args or not isinstance(args[0], torch.Tensor):
            return
        x = args[0]
        shape = tuple(x.shape) if x.ndim == len(self.shape) else tuple(x.shape[1:])  # one input, or a batch
        if shape != self.shape:
            warnings.warn(f"this pruned network's certificate holds for inputs of shape {self.shape} only, got {shape}",
                          UserWarning, stacklevel=3)


def _weighted_layers(module: nn.Module) -> list[nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d]:
    return [m for m in module.modules() if isinstance(m, _WEIGHTED)]


def to_torch(construction: Construction) -> nn.Module:
    """The random network of any construction, each weight-bearing layer pruned by its mask.

    Parameters
    ----------
    construction
        Any :class:`~lottolib.Construction`.

    Returns
    -------
    torch.nn.Module
        ``construction.module()`` in float32 with ``torch.nn.utils.prune`` applied to every Linear
        and Conv weight: ``weight_orig`` holds the random weights (bit for bit), ``weight_mask`` the
        mask, and ``weight`` the pruned weights (+0.0 where pruned, as in ``module()``). Its
        ``state_dict`` round-trips through :func:`pruned_sequential` for multilayer perceptrons.
        Its attribute ``certified_input_shape`` is the shape of one input the certificate covers
        (``construction.input_shape``; None for a convolution certified at every size); on inputs of
        another shape the module warns (``UserWarning``) before it runs.
    """
    if not isinstance(construction, Construction):
        raise TypeError(f"to_torch needs a lottolib construction, got {type(construction).__name__}")
    network = construction.module(dtype=torch.float32)
    layers = _weighted_layers(network)
    if len(layers) != len(construction.masks):
        raise AssertionError(f"{len(layers)} weighted layers but {len(construction.masks)} masks")  # a library bug
    for layer, mask, weights in zip(layers, construction.masks, construction.random_weights, strict=True):
        with torch.no_grad():
            layer.weight.copy_(weights.view_as(layer.weight))
        _KeepMasked.apply(layer, "weight", mask=mask.view_as(layer.weight))
    network.certified_input_shape = construction.input_shape  # type: ignore[assignment]  # a plain attribute
    if construction.input_shape is not None:
        network.register_forward_pre_hook(_CertifiedShape(construction.input_shape))
    return network


def pruned_sequential(shapes: Sequence[tuple[int, int]]) -> nn.Sequential:
    """An empty bias-free Linear/ReLU stack with a pruning mask on every weight, ready for ``load_state_dict``.

    Parameters
    ----------
    shapes
        Each layer's weight shape (out, in), e.g. ``[m.shape for m in construction.masks]``.

    Returns
    -------
    torch.nn.Sequential
        Linear, ReLU, …, Linear, each Linear pruned (``weight_orig``, ``weight_mask``) as by :func:`to_torch`.
    """
    linears = [nn.Linear(in_features, out_features, bias=False) for out_features, in_features in shapes]
    for layer in linears:
        _KeepMasked.apply(layer, "weight", mask=torch.ones_like(layer.weight))
    return relu_stack(linears)


def sparsity(network: Construction | nn.Module) -> float:
    """The fraction of pruned weights.

    Parameters
    ----------
    network
        A construction (counted from its masks), or a module: counted from its pruning masks
        (``weight_mask`` buffers, current even right after ``load_state_dict``), or else from the
        zeros of its Linear and Conv weights.

    Returns
    -------
    float
        Pruned weights / all weights.

    Raises
    ------
    ValueError
        For a module with no Linear or Conv layer, or whose layers hold no weights.
    """
    if isinstance(network, Construction):
        return 1 - network.kept_parameters / network.random_parameters
    if not isinstance(network, nn.Module):
        raise TypeError(f"sparsity needs a construction or an nn.Module, got {type(network).__name__}")
    layers = _weighted_layers(network)
    if not layers:
        raise ValueError("the module has no Linear or Conv layer, so it has no weights to count")
    kept = total = 0
    for layer in layers:
        mask = getattr(layer, "weight_mask", None)
        values: torch.Tensor = mask.bool() if isinstance(mask, torch.Tensor) else layer.weight != 0
        kept += int(values.sum())
        total += values.numel()
    if total == 0:
        raise ValueError("the module's Linear and Conv layers hold no weights (each has size 0), so there is no "
                         "fraction to count")
    return 1 - kept / total
