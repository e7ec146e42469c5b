"""Convolutions: a convolution is one linear map applied to every image patch.

A target convolution with kernel K (c_out, c_in, h, w) computes, at every output location,
K̂ p where p ∈ R^{c_in·h·w} is the patch there and K̂ (c_out, c_in·h·w) is K flattened
(im2col). A pruned random block for K̂ (chapter 4) applied to every patch *is* a pruned random
convolution with c_in·h·w·k filters (each keeping one kernel entry), a ReLU, and a pruned
random 1×1 convolution. At each location the error is at most η‖p‖₂; every pixel lies in at
most h·w patches, so over the whole image ‖error‖₂ ≤ η √(h w) ‖x‖₂, and likewise
‖conv(x)‖₂ ≤ ‖K̂‖₂ √(h w) ‖x‖₂. The image-level numbers enter the network certificate, and
success is judged on the image-level bound.

Introduced in chapter 10, *Convolutions*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from . import bounds
from .checks import as_matrix, as_tensor, check_bounded, check_eps, check_nonnegative_int, check_positive_int
from .construction import CompositeConstruction, Construction, shape_tuple
from .conv_bounds import conv_operator_norm_bound, conv_output_size, conv_pair_eta
from .layer import LayerConstruction, prune_block
from .memory import check_memory
from .random_network import sample_block
from .seeds import generator

__all__ = [
    "EXACT_CONV_ENTRIES",
    "CNNConstruction",
    "ConvConstruction",
    "kernel_matrix",
    "operator_bound",
    "prune_cnn",
    "prune_conv",
    "target_cnn_forward",
]


def _check_kernel(kernel: object) -> torch.Tensor:
    tensor = as_tensor(kernel, "kernel")
    if tensor.ndim != 4 or 0 in tensor.shape:
        raise ValueError(f"a convolution kernel has shape (c_out, c_in, h, w), got {tuple(tensor.shape)}")
    return check_bounded(tensor, "kernel")


def _check_padding(padding: object, kernel: torch.Tensor) -> int:
    """``padding`` as an int in [0, max(h, w) − 1]: a larger zero padding only adds outputs that are 0 for every
    input (and memory for them)."""
    value = check_nonnegative_int(padding, "padding")
    h, w = kernel.shape[2:]
    if value > max(h, w) - 1:
        raise ValueError(f"padding must be at most max(h, w) - 1 = {max(h, w) - 1} for a {h}x{w} kernel (a larger "
                         f"padding only adds outputs that are 0 for every input), got {value}")
    return value


EXACT_CONV_ENTRIES = 1 << 22
"""The largest convolution matrix (input pixels × output pixels, summed over the pair's two matrices) for
which image-level bounds use the exact matrices at the given image size; above it the patch-level bounds,
which hold for every size, are used (the exact matrix of a 3 × 200 × 200 image would need 115 GB)."""


def exact_bounds_fit(kernel: torch.Tensor, image_size: tuple[int, int] | None, padding: int = 0) -> bool:
    """Whether :data:`EXACT_CONV_ENTRIES` allows the exact conv matrices of ``kernel`` at ``image_size``: two
    matrices of (c_out·H'·W') × (c_in·H·W) entries, H' × W' the output of the padded image."""
    if image_size is None:
        return False
    c_out, c_in, _, _ = kernel.shape
    height, width = image_size
    rows, cols = conv_output_size(height, width, kernel.shape[2:], padding)
    return 2 * c_out * c_in * height * width * max(rows, 0) * max(cols, 0) <= EXACT_CONV_ENTRIES


def kernel_matrix(kernel: torch.Tensor) -> torch.Tensor:
    """K̂ = the kernel (c_out, c_in, h, w) flattened to (c_out, c_in·h·w), in ``F.unfold``'s patch order."""
    if kernel.ndim != 4:
        raise ValueError(f"a convolution kernel has shape (c_out, c_in, h, w), got {tuple(kernel.shape)}")
    return kernel.reshape(kernel.shape[0], -1).double()


def _sqrt_up(value: int) -> float:
    """A float ≥ √value: exact for a perfect square, else one step above the correctly rounded root (a rounded
    ``root * root == value`` is no proof: √11 rounds down, yet its square rounds to 11)."""
    root = math.isqrt(value)
    return float(root) if root * root == value else math.nextafter(math.sqrt(value), math.inf)


def operator_bound(kernel: torch.Tensor) -> float:
    """A float ≥ ‖K̂‖₂ √(h w) ≥ the operator norm of x ↦ conv(x, K) (stride 1, any zero padding), rounded up."""
    return bounds.mul_up(bounds.spectral_norm_bound(kernel_matrix(kernel)), _sqrt_up(kernel.shape[2] * kernel.shape[3]))


def target_cnn_forward(kernel: torch.Tensor, weight: torch.Tensor, x: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """F(x) = W · flatten(σ(conv(x, K))): x (m, c_in, H, W) → (m, n)."""
    hidden = torch.relu(nn.functional.conv2d(x, kernel.to(x.dtype), padding=padding))
    return hidden.flatten(1) @ weight.to(x.dtype).T


@dataclass(frozen=True, eq=False)
class ConvConstruction(Construction):
    """The pruned random conv → ReLU → 1×1 conv pair for one target kernel (padding as the target's).

    ``layer`` is the pruned block for K̂. Without ``image_size`` the certificate is the patch-level
    bound η √(h w), which holds for images of every size. With ``image_size`` (H, W) it may be the
    smaller image-level bound, which holds at that size only: :meth:`~lottolib.Construction.error`,
    :func:`~lottolib.empirical_error` refuse other sizes and :func:`~lottolib.to_torch` flags them.
    """

    kernel: torch.Tensor
    layer: LayerConstruction
    padding: int = 0
    eps: float | None = None
    image_size: tuple[int, int] | None = None

    @property
    def patch_eta(self) -> float:
        """η of the patch-level block, so that at every location ‖pair − conv‖₂ ≤ η ‖patch‖₂."""
        return self.layer.eta

    @cached_property
    def certificate(self) -> float:
        """Upper bound on sup over images ‖x‖₂ ≤ 1 of ‖pair(x) − conv(x)‖₂, for images of every size or,
        with ``image_size``, for images of that size only.

        η √(h w) rounded up, which holds for every image size; with ``image_size`` also the
        image-level η_img = ‖[𝓔⁺ | 𝓔⁻]‖₂ of :func:`~lottolib.conv_bounds.conv_pair_eta` (the
        convolutions with the error kernels, at that size only, plus the rounding slack of the stored
        errors), whichever is smaller, while the exact matrices are small enough
        (:data:`EXACT_CONV_ENTRIES`). The image-level bound is the one success is judged on.
        """
        patch_bound = bounds.mul_up(self.layer.eta, _sqrt_up(self.kernel.shape[2] * self.kernel.shape[3]))
        if self.image_size is None or not exact_bounds_fit(self.kernel, self.image_size, self.padding):
            return patch_bound
        image = (self.kernel.shape[1], *self.image_size)
        image_eta = conv_pair_eta(self.layer.plus_error.view(self.kernel.shape),
                                  self.layer.minus_error.view(self.kernel.shape), image, self.padding)
        slack = bounds.mul_up(self.layer.rounding_slack, _sqrt_up(self.kernel.shape[2] * self.kernel.shape[3]))
        return min(patch_bound, bounds.add_up(image_eta, slack))

    @property
    def operator_bound(self) -> float:
        """A float ≥ the target convolution's operator norm, namely ‖K̂‖₂ √(h w) or, with ``image_size``, the
        spectral norm of the convolution's exact matrix at that size if smaller."""
        patch_bound = operator_bound(self.kernel)
        if self.image_size is None or not exact_bounds_fit(self.kernel, self.image_size, self.padding):
            return patch_bound
        image = (self.kernel.shape[1], *self.image_size)
        return min(patch_bound, conv_operator_norm_bound(self.kernel, image, self.padding))

    @property
    def masks(self) -> list[torch.Tensor]:
        return [self.layer.first_mask.view(self._first_shape), self.layer.second_mask.view(self._second_shape)]

    @property
    def random_weights(self) -> list[torch.Tensor]:
        block = self.layer.block
        return [block.first.view(self._first_shape), block.second.view(self._second_shape)]

    @property
    def _first_shape(self) -> tuple[int, int, int, int]:
        _, c_in, h, w = self.kernel.shape
        return (self.layer.block.hidden_width, c_in, h, w)

    @property
    def _second_shape(self) -> tuple[int, int, int, int]:
        return (self.kernel.shape[0], self.layer.block.hidden_width, 1, 1)

    @property
    def description(self) -> str:
        shape = "x".join(str(s) for s in self.kernel.shape)
        return f"convolution {shape} with k={self.layer.block.k} units per kernel entry ({self.layer.method})"

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return None if self.image_size is None else (self.kernel.shape[1], *self.image_size)

    def check_input_shape(self, shape: object) -> tuple[int, ...]:
        """(c_in, H, W) of an image the certificate covers: any size the kernel fits, or ``image_size`` if given."""
        return check_image_shape(self, shape, self.image_size, self.kernel.shape, self.padding)

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """Conv2d(c_in → hidden, h×w, the target's padding) → ReLU → Conv2d(hidden → c_out, 1×1), bias-free.

        A compact pair that keeps no unit (a zero kernel) gets one zero filter: torch has no convolution
        without filters, and the function is the same, 0."""
        c_out, c_in, h, w = self.kernel.shape
        first, second = self.layer.pruned_weights(compact=compact, dtype=dtype)
        if first.shape[0] == 0:
            first, second = first.new_zeros(1, first.shape[1]), second.new_zeros(second.shape[0], 1)
        hidden = first.shape[0]
        convolutions = (nn.Conv2d(c_in, hidden, (h, w), padding=self.padding, bias=False, dtype=dtype),
                        nn.Conv2d(hidden, c_out, 1, bias=False, dtype=dtype))
        for conv, weight in zip(convolutions, (first.view(hidden, c_in, h, w), second.view(c_out, hidden, 1, 1)),
                                strict=True):
            with torch.no_grad():
                conv.weight.copy_(weight)
            conv.weight.requires_grad_(False)
        return nn.Sequential(convolutions[0], nn.ReLU(), convolutions[1])

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(torch.as_tensor(x, dtype=torch.float64), self.kernel, padding=self.padding)


def _prune_conv_block(kernel: torch.Tensor, k: int, stream: object, padding: int, method: str,
                      eps: float | None, image_size: tuple[int, int] | None) -> ConvConstruction:
    matrix = kernel_matrix(kernel)
    block = sample_block(matrix.shape[1], matrix.shape[0], k, stream)
    return ConvConstruction(kernel, prune_block(block, matrix, method=method), padding, eps, image_size)


def prune_conv(
    kernel: object, *, k: int, seed: object, padding: int = 0, method: str = "pair", eps: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> ConvConstruction:
    """Prune a random conv pair (k units per kernel entry, sampled from ``seed``) to approximate ``kernel``.

    Parameters
    ----------
    kernel
        (c_out, c_in, h, w) with entries in [-1, 1].
    k
        Hidden units per kernel entry: the first random convolution has c_in·h·w·k filters.
    seed
        A non-negative integer or a ``torch.Generator``.
    padding
        Zero padding of the target convolution (stride 1), an integer from 0 to max(h, w) − 1.
    method
        ``"pair"`` or ``"subset_sum"``.
    eps
        If given, judged against the image-level certificate η √(h w).
    image_size
        (H, W) of the inputs, or None. Given, the certificate may use the exact image-level bounds,
        which hold at that size only (other sizes are refused, see :class:`ConvConstruction`);
        None gives the patch-level certificate, which holds for images of every size.
    """
    kernel_tensor = _check_kernel(kernel)
    padding = _check_padding(padding, kernel_tensor)
    k = check_positive_int(k, "k")
    size = None if image_size is None else _check_image(image_size)
    return _prune_conv_block(kernel_tensor, k, seed, padding, method, None if eps is None else check_eps(eps), size)


def check_image_shape(construction: Construction, shape: object, image_size: tuple[int, int] | None,
                      kernel_shape: Sequence[int], padding: int) -> tuple[int, ...]:
    """``shape`` as (c_in, H, W) if the construction's certificate covers such images, else a ValueError saying why:
    the channels must be the kernel's, the kernel must fit the padded image, and with ``image_size`` the size
    must be that one (the image-level certificate holds there only)."""
    checked = shape_tuple(shape)
    _, channels, h, w = kernel_shape
    what = construction.description
    if len(checked) != 3 or checked[0] != channels:
        raise ValueError(f"{what} takes images of shape ({channels}, H, W), got inputs of shape {checked}")
    if image_size is not None and checked[1:] != tuple(image_size):
        raise ValueError(f"{what} was certified for inputs of shape {(channels, *image_size)} (image_size="
                         f"{tuple(image_size)}) only; its certificate does not hold for inputs of shape {checked}: "
                         f"prune it with image_size={checked[1:]}, or with image_size=None for a certificate that "
                         "holds at every size")
    if min(conv_output_size(checked[1], checked[2], (h, w), padding)) < 1:
        raise ValueError(f"{what}: a {h}x{w} kernel does not fit an image of size {checked[1]}x{checked[2]} with "
                         f"padding {padding}")
    return checked


def _check_image(image_size: object) -> tuple[int, int]:
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size must be a pair (H, W), got {image_size!r}")
    height, width = image_size
    return check_positive_int(height, "image height"), check_positive_int(width, "image width")


def _infer_image(kernel: torch.Tensor, columns: int, padding: int, image_size: object) -> tuple[int, int]:
    c_out, _, h, w = kernel.shape
    if image_size is not None:
        height, width = _check_image(image_size)
        rows, cols = conv_output_size(height, width, (h, w), padding)
        out = max(rows, 0) * max(cols, 0) * c_out  # no output when the kernel is larger than the padded image
        if out != columns:
            raise ValueError(f"an image of size {height}x{width} gives {out} conv outputs, but the linear "
                             f"weight takes {columns} inputs")
        return height, width
    if columns % c_out:
        raise ValueError(f"the linear weight takes {columns} inputs, not a multiple of the {c_out} conv channels: "
                         "it fits no image")
    side = math.isqrt(columns // c_out)
    if side * side != columns // c_out:
        raise ValueError(f"the linear weight takes {columns} = {c_out} x {columns // c_out} inputs, not a square "
                         "image per channel: pass image_size=(H, W)")
    height, width = side - 2 * padding + h - 1, side - 2 * padding + w - 1
    if min(height, width) < 1:
        raise ValueError(f"no image gives {side}x{side} conv outputs with a {h}x{w} kernel and padding {padding}")
    return height, width


@dataclass(frozen=True, eq=False)
class CNNConstruction(CompositeConstruction):
    """A target conv → ReLU → flatten → linear network and its pruned random twin (depth 4), with a certificate."""

    conv: ConvConstruction
    linear: LayerConstruction
    image_size: tuple[int, int]
    eps: float | None = None

    @cached_property
    def certificate(self) -> float:
        """Δ ≥ ‖G̃(x) − F(x)‖₂ for every image with ‖x‖₂ ≤ 1, by the recursion of chapter 5 rounded up, with the
        image-level bounds of the convolution and η⁺ of the linear pair (its input is a ReLU's output)."""
        norms = [self.conv.operator_bound, bounds.spectral_norm_bound(self.linear.target)]
        return bounds.certificate(norms, [self.conv.certificate, self.linear.eta_plus])  # its input σ(·) ≥ 0

    @property
    def parts(self) -> tuple[ConvConstruction, LayerConstruction]:
        return self.conv, self.linear

    @property
    def description(self) -> str:
        return f"pruned random CNN (k = {[self.conv.layer.block.k, self.linear.block.k]}, {self.linear.method})"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.conv.kernel.shape[1], *self.image_size)

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Module:
        """The pruned conv pair, ReLU, flatten, the pruned linear pair (bias-free)."""
        return nn.Sequential(*self.conv.module(compact=compact, dtype=dtype), nn.ReLU(), nn.Flatten(),
                             *self.linear.module(compact=compact, dtype=dtype))

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return target_cnn_forward(self.conv.kernel, self.linear.target, torch.as_tensor(x, dtype=torch.float64),
                                  self.conv.padding)


def prune_cnn(
    kernel: object, weight: object, *, k: int | tuple[int, int], seed: object, padding: int = 0,
    method: str = "pair", eps: float | None = None, image_size: tuple[int, int] | None = None,
) -> CNNConstruction:
    """Prune a random depth-4 network to approximate x ↦ W flatten(σ(conv(x, K))).

    Parameters
    ----------
    kernel
        (c_out, c_in, h, w), entries in [-1, 1].
    weight
        (n, c_out·H'·W'), entries in [-1, 1], where H'×W' is the conv output for the input images.
    k
        Units per input for the conv and the linear block (one value or a pair).
    seed
        A non-negative integer or a ``torch.Generator``: both blocks come from its one stream, conv first.
    padding, method, eps
        As in :func:`prune_conv`; ``eps`` is judged against the whole network's certificate.
    image_size
        (H, W); inferred from ``weight`` when the conv output is square.

    Raises
    ------
    ValueError
        For shapes that fit no image, entries outside [-1, 1], or a bad padding (more than max(h, w) − 1),
        k (one int or a pair) or seed.
    """
    kernel_tensor = _check_kernel(kernel)
    matrix = check_bounded(as_matrix(weight, "weight"), "weight")
    padding = _check_padding(padding, kernel_tensor)
    size = _infer_image(kernel_tensor, matrix.shape[1], padding, image_size)
    ks = (k, k) if not isinstance(k, (tuple, list)) else tuple(k)
    if len(ks) != 2:
        raise ValueError(f"k must be one int or a pair (k_conv, k_linear), got {k!r}")
    k_conv, k_linear = check_positive_int(ks[0], "k"), check_positive_int(ks[1], "k")
    c_out, c_in, h, w = kernel_tensor.shape
    entries = c_in * h * w
    check_memory(entries * k_conv * (entries + c_out) + matrix.shape[1] * k_linear * (matrix.shape[1] + matrix.shape[0]),
                 f"a random CNN with k = {[k_conv, k_linear]}")
    stream = generator(seed)
    conv = _prune_conv_block(kernel_tensor, k_conv, stream, padding, method, None, size)  # judged as a whole
    linear = prune_block(sample_block(matrix.shape[1], matrix.shape[0], k_linear, stream), matrix, method=method)
    return CNNConstruction(conv, linear, size, None if eps is None else check_eps(eps))
