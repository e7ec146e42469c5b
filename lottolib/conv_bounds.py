"""Image-level bounds for a convolution and for a pruned conv pair, at a given image size.

A stride-1 convolution with kernel K (c_out, c_in, h, w) and zero padding is a linear map
𝒦: R^{c_in·H·W} → R^{c_out·H'·W'}; its matrix (one column per input pixel, built by convolving
the basis images) has entries that are kernel entries or 0, so it is *exact* in floating point,
and :func:`~lottolib.bounds.spectral_norm_bound` of it bounds the true operator norm ‖𝒦‖₂ — for
the digits CNN about half of the patch bound ‖K̂‖₂ √(h w).

A pruned conv pair (chapter 10) computes, at every location, the patch map
W p + E⁺ σ(p) − E⁻ σ(−p). Taking patches commutes with the pixelwise σ, so over the whole image

    pair(x) − conv(x, K) = 𝓔⁺ σ(x) − 𝓔⁻ σ(−x),

with 𝓔^± the convolutions with the kernels E^± (reshaped to K's shape). Since
‖(σ(x), σ(−x))‖₂ = ‖x‖₂, the image-level error is at most η_img ‖x‖₂ with
η_img = ‖[𝓔⁺ | 𝓔⁻]‖₂ ≤ η √(h w) (the patch-level bound): :func:`conv_pair_eta`.

Introduced in chapter 10, *Convolutions*, and used there by sized convolutions and the CNN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .bounds import spectral_norm_bound
from .memory import RAISE_LIMIT, check_memory

__all__ = ["conv_matrix", "conv_operator_norm_bound", "conv_output_size", "conv_pair_eta"]


def conv_output_size(height: int, width: int, kernel_size: Sequence[int], padding: int = 0) -> tuple[int, int]:
    """(H', W') = (H + 2p − h + 1, W + 2p − w + 1): the output of a stride-1 convolution with an h × w kernel on an
    H × W image zero-padded by p on every side. A side ≤ 0 means the kernel does not fit the padded image."""
    h, w = kernel_size
    return height + 2 * padding - h + 1, width + 2 * padding - w + 1


def conv_matrix(kernel: torch.Tensor, image_shape: Sequence[int], padding: int = 0) -> torch.Tensor:
    """The exact float64 matrix (c_out·H'·W', c_in·H·W) of x ↦ conv2d(x, kernel, padding) on (c_in, H, W) images.

    Raises ValueError if the kernel is not 4-D, the image shape is not (c_in, H, W) with c_in as
    the kernel's, or the kernel does not fit in the padded image; :class:`~lottolib.MemoryLimitError`
    if the basis images and the matrix (8 bytes per entry) would exceed the memory limit.
    """
    kernel = torch.as_tensor(kernel).double()
    if kernel.ndim != 4:
        raise ValueError(f"a convolution kernel has shape (c_out, c_in, h, w), got {tuple(kernel.shape)}")
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or shape[0] != kernel.shape[1]:
        raise ValueError(f"image_shape must be (c_in, H, W) with c_in = {kernel.shape[1]}, got {shape}")
    rows, cols = conv_output_size(shape[1], shape[2], kernel.shape[2:], padding)
    if rows < 1 or cols < 1:
        raise ValueError(f"a {kernel.shape[2]}x{kernel.shape[3]} kernel does not fit a {shape[1]}x{shape[2]} image "
                         f"with padding {padding}")
    size = shape[0] * shape[1] * shape[2]
    outputs = kernel.shape[0] * rows * cols
    name = "x".join(str(s) for s in kernel.shape)
    check_memory(size * (size + outputs), f"the exact matrix of a {name} convolution on {'x'.join(map(str, shape))} "
                 "images", noun="entries", bytes_per_value=8, advice=f"Use smaller images, or {RAISE_LIMIT}")
    basis = torch.eye(size, dtype=torch.float64).reshape(size, *shape)
    columns = torch.nn.functional.conv2d(basis, kernel, padding=padding)  # each entry: one kernel entry or 0
    return columns.reshape(size, -1).T


def conv_operator_norm_bound(kernel: torch.Tensor, image_shape: Sequence[int], padding: int = 0) -> float:
    """A float ≥ the operator norm of x ↦ conv2d(x, kernel, padding) on images of ``image_shape``."""
    return spectral_norm_bound(conv_matrix(kernel, image_shape, padding))


def conv_pair_eta(plus_kernel: torch.Tensor, minus_kernel: torch.Tensor, image_shape: Sequence[int],
                  padding: int = 0) -> float:
    """A float η_img ≥ sup_{x ≠ 0} ‖pair(x) − conv(x, K)‖₂ / ‖x‖₂ for a pruned conv pair (see the module docstring).

    ``plus_kernel``, ``minus_kernel``: E⁺, E⁻ reshaped to the kernel's shape (c_out, c_in, h, w)
    (a LayerConstruction's ``plus_error.reshape(kernel.shape)``).
    """
    plus = conv_matrix(plus_kernel, image_shape, padding)
    minus = conv_matrix(minus_kernel, image_shape, padding)
    return spectral_norm_bound(torch.cat([plus, minus], dim=1))
