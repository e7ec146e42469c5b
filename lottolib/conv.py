"""Convolutions (MATH.md §7): a convolution is one linear map applied to every image patch.

A target convolution with kernel K (c_out, c_in, h, w) computes, at every output location,
K̂ p where p ∈ R^{c_in·h·w} is the patch there and K̂ (c_out, c_in·h·w) is K flattened
(im2col). A pruned random block for K̂ (chapter 3) applied to every patch *is* a pruned random
convolution with c_in·h·w·k filters (each keeping one kernel entry), a ReLU, and a pruned
random 1×1 convolution. At each location the error is at most η‖p‖₂; every pixel lies in at
most h·w patches, so over the whole output ‖error‖₂ ≤ η √(h w) ‖x‖₂, and likewise
‖conv(x)‖₂ ≤ ‖K̂‖₂ √(h w) ‖x‖₂. These two numbers enter the network certificate.

Introduced in chapter 9 ({ref}`convolutions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layer import LayerConstruction, prune_layer
from .network import certificate

__all__ = [
    "CNNConstruction",
    "ConvConstruction",
    "kernel_matrix",
    "operator_bound",
    "prune_cnn",
    "prune_conv",
    "target_cnn_forward",
]


def kernel_matrix(kernel: torch.Tensor) -> torch.Tensor:
    """K̂ = the kernel (c_out, c_in, h, w) flattened to (c_out, c_in·h·w), in ``F.unfold``'s patch order."""
    if kernel.ndim != 4:
        raise ValueError(f"a convolution kernel has shape (c_out, c_in, h, w), got {tuple(kernel.shape)}")
    return kernel.reshape(kernel.shape[0], -1).double()


def operator_bound(kernel: torch.Tensor) -> float:
    """‖K̂‖₂ √(h w): an upper bound on the operator norm of x ↦ conv(x, K) (stride 1, any zero padding)."""
    return float(torch.linalg.matrix_norm(kernel_matrix(kernel), ord=2)) * (kernel.shape[2] * kernel.shape[3]) ** 0.5


@dataclass(frozen=True, eq=False)
class ConvConstruction:
    """The pruned random conv → ReLU → 1×1 conv pair for one target kernel, with ``padding`` as the target's."""

    kernel: torch.Tensor
    layer: LayerConstruction
    padding: int

    @property
    def patch_eta(self) -> float:
        """η: at every location, ‖pair − conv‖₂ ≤ η ‖patch‖₂."""
        return self.layer.eta

    @property
    def eta(self) -> float:
        """η √(h w): ‖pair(x) − conv(x)‖₂ ≤ this · ‖x‖₂ over the whole image."""
        return self.layer.eta * (self.kernel.shape[2] * self.kernel.shape[3]) ** 0.5

    @property
    def operator_bound(self) -> float:
        """‖K̂‖₂ √(h w) ≥ the target convolution's operator norm."""
        return operator_bound(self.kernel)

    def module(self) -> nn.Sequential:
        """Conv2d(c_in → c_in·h·w·k, h×w) → ReLU → Conv2d(→ c_out, 1×1), bias-free, holding the pruned random weights."""
        c_out, c_in, h, w = self.kernel.shape
        block = self.layer.module()
        hidden = block.first.shape[0]
        first = nn.Conv2d(c_in, hidden, (h, w), padding=self.padding, bias=False)
        second = nn.Conv2d(hidden, c_out, 1, bias=False)
        with torch.no_grad():
            first.weight.copy_(block.first.view(hidden, c_in, h, w))
            second.weight.copy_(block.second.view(c_out, hidden, 1, 1))
        for conv in (first, second):
            conv.weight.requires_grad_(False)
        return nn.Sequential(first, nn.ReLU(), second)


def prune_conv(
    kernel: torch.Tensor, eps: float, *, k: int, seed: int, padding: int = 0, method: str = "pair"
) -> ConvConstruction:
    """Prune a random conv pair (k units per kernel entry, sampled from ``seed``) to approximate ``kernel``.

    ``kernel`` (c_out, c_in, h, w) with entries in [-1, 1]. ``eps`` is compared with the
    patch-level η, as for a layer.
    """
    layer = prune_layer(kernel_matrix(torch.as_tensor(kernel)), eps, k=k, seed=seed, method=method)
    return ConvConstruction(torch.as_tensor(kernel).double(), layer, int(padding))


@dataclass(frozen=True, eq=False)
class CNNConstruction:
    """A target conv → ReLU → flatten → linear network and its pruned random twin (depth 4), with a certificate."""

    conv: ConvConstruction
    linear: LayerConstruction

    @property
    def certificate(self) -> float:
        """Δ bounding ‖G̃(x) − F(x)‖₂ for every image with ‖x‖₂ ≤ 1 (the recursion of chapter 4)."""
        norms = [self.conv.operator_bound, float(torch.linalg.matrix_norm(self.linear.target, ord=2))]
        return certificate(norms, [self.conv.eta, self.linear.eta])

    @property
    def network(self) -> nn.Sequential:
        """The pruned random network: pruned conv pair, ReLU, flatten, pruned linear pair (bias-free)."""
        linear = self.linear.module()
        return nn.Sequential(*self.conv.module(), nn.ReLU(), nn.Flatten(), linear)


def target_cnn_forward(kernel: torch.Tensor, weight: torch.Tensor, x: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """F(x) = W · flatten(σ(conv(x, K))): x (m, c_in, H, W) → (m, n)."""
    hidden = torch.relu(nn.functional.conv2d(x, kernel.to(x.dtype), padding=padding))
    return hidden.flatten(1) @ weight.to(x.dtype).T


def prune_cnn(
    kernel: torch.Tensor, weight: torch.Tensor, eps: float, *, k: int | tuple[int, int], seed: int,
    padding: int = 0, method: str = "pair",
) -> CNNConstruction:
    """Prune a random depth-4 network to approximate x ↦ W flatten(σ(conv(x, K))).

    ``kernel`` (c_out, c_in, h, w) and ``weight`` (n, c_out·H'·W') with entries in [-1, 1];
    ``k`` units per input for the conv and the linear layer (one value or a pair); the two
    blocks are sampled from ``seed`` and ``seed + 1``.
    """
    k_conv, k_linear = (k, k) if isinstance(k, int) else k
    conv = prune_conv(kernel, eps, k=k_conv, seed=seed, padding=padding, method=method)
    linear = prune_layer(weight, eps, k=k_linear, seed=seed + 1, method=method)
    return CNNConstruction(conv, linear)

