"""Export a pruned network as plain torch: ``nn.Linear`` layers pruned with ``torch.nn.utils.prune``.

Introduced in chapter 4.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils import prune

from .network import NetworkConstruction
from .random_network import relu_stack

__all__ = ["pruned_sequential", "sparsity", "to_torch"]


def pruned_sequential(shapes: list[tuple[int, int]]) -> nn.Sequential:
    """An empty bias-free Linear/ReLU stack with a pruning mask on every weight, ready for ``load_state_dict``.

    ``shapes`` lists each layer's weight shape (out, in), as ``[m.shape for m in masks]``.
    """
    linears = [nn.Linear(in_features, out_features, bias=False) for out_features, in_features in shapes]
    for linear in linears:
        prune.identity(linear, "weight")
    return relu_stack(linears)


def to_torch(construction: NetworkConstruction) -> nn.Sequential:
    """The random network of depth 2l with each Linear pruned by ``prune.custom_from_mask``.

    ``weight_orig`` holds the random weights and ``weight_mask`` the mask, so the module's
    ``weight`` equals the construction's pruned weights and ``state_dict`` round-trips through
    :func:`pruned_sequential`.
    """
    network = construction.random_network
    linears = [m for m in network if isinstance(m, nn.Linear)]
    for linear, mask in zip(linears, construction.masks, strict=True):
        prune.custom_from_mask(linear, "weight", mask)
    return network


def sparsity(network: nn.Module) -> float:
    """Fraction of weights that are zero across all ``nn.Linear`` layers."""
    weights = [m.weight for m in network.modules() if isinstance(m, nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


