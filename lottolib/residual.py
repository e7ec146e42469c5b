"""Residual networks: a residual target from a pruned random residual network.

A residual target with B blocks on R^d and an optional linear read-out computes

    z_0 = x,   z_i = z_{i−1} + W₂⁽ⁱ⁾ σ(W₁⁽ⁱ⁾ z_{i−1})  (i = 1 … B),   F(x) = W_out z_B  (or z_B),

with W₁⁽ⁱ⁾ (h_i, d), W₂⁽ⁱ⁾ (d, h_i), W_out (n, d), σ = ReLU, and no σ after a block.

**The random network keeps the skip connections; they are not weights.** As in a ResNet, whose
identity shortcuts carry no parameters, the random residual network has the target's skips, and
only the branches are random: branch i is a random ReLU network of depth 4, two random blocks
(:func:`~lottolib.sample_block`) pruned to approximate W₁⁽ⁱ⁾ and W₂⁽ⁱ⁾ (:func:`~lottolib.prune_block`),
the ReLU between them playing the target's σ. The read-out is one more pruned block. So the random
network has depth 4B + 2 counted in weight layers, and every weight it keeps is a random weight.

**Certificate** (chapter 11, *Residual networks*). With a_i ≥ ‖W₁⁽ⁱ⁾‖₂, b_i ≥ ‖W₂⁽ⁱ⁾‖₂, c ≥ ‖W_out‖₂,
the layer bounds η₁ᵢ = ‖[E⁺ | E⁻]‖₂ and η_out of the pairs that read the stream (‖g(z) − W z‖₂ ≤ η ‖z‖₂
for every z) and η₂ᵢ = ‖E⁺‖₂ for the pair that reads σ(·) ≥ 0 (where only E⁺ acts), start from
R_0 = 1, Δ_0 = 0 and set

    D_i = η₁ᵢ (R_{i−1} + Δ_{i−1}) + a_i Δ_{i−1}                 (error after the first pair and σ),
    Δ_i = Δ_{i−1} + η₂ᵢ (a_i R_{i−1} + D_i) + b_i D_i          (error after block i),
    R_i = R_{i−1} (1 + a_i b_i)                                 (‖z_i‖ ≤ R_i),

and after the read-out Δ = η_out (R_B + Δ_B) + c Δ_B. Then sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ ≤ Δ.
In exact arithmetic the recursion telescopes to
Δ_B = Π_i (1 + (a_i + η₁ᵢ)(b_i + η₂ᵢ)) − Π_i (1 + a_i b_i); here every step is rounded up
(:mod:`lottolib.bounds`), all terms being non-negative.

A convolutional residual block x ↦ x + K₂ ∗ σ(K₁ ∗ x) (stride 1, "same" zero padding) is handled by
the same recursion with image-level numbers: η√(hw) for a pruned conv pair and ‖K̂‖₂√(hw) for a
convolution (:mod:`lottolib.conv`), or, for a given image size, the smaller exact numbers of the conv
matrices (:class:`~lottolib.conv.ConvConstruction` with ``image_size``).

Introduced in chapter 11, *Residual networks*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from . import bounds
from .bisection import smallest_k
from .checks import as_matrix, as_tensor, check_bounded, check_eps, check_fraction, check_positive_int
from .construction import CompositeConstruction
from .conv import ConvConstruction, check_image_shape, kernel_matrix
from .layer import METHODS, LayerConstruction, prune_block
from .memory import LARGER_EPS, RAISE_LIMIT, SMALLER_K, MemoryLimitError, check_memory, format_widths
from .probability import layer_width_bound
from .propagation import sqrt_up
from .random_network import RandomBlock, linear, relu_stack, sample_weights
from .seeds import check_seed, generator
from .targets import TARGET_BYTES

__all__ = [
    "ConvResidualConstruction",
    "Residual",
    "ResidualConstruction",
    "ResidualTarget",
    "balance_residual",
    "prune_conv_residual",
    "prune_residual_network",
    "random_residual_target",
    "residual_certificate",
    "residual_gaps",
    "residual_target",
    "residual_width_bound",
]


class Residual(nn.Module):
    """x ↦ x + branch(x): a skip connection (which has no weights) around the module ``branch``."""

    def __init__(self, branch: nn.Module) -> None:
        super().__init__()
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + branch(x)."""
        return x + self.branch(x)


# ----------------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True, eq=False)
class ResidualTarget:
    """A bias-free residual target: ``blocks`` lists (W₁, W₂) per block, ``readout`` is W_out or None.

    Shapes: W₁ (h_i, d), W₂ (d, h_i), W_out (n, d); every entry in [-1, 1], finite. Stored as float64
    (the constructor converts and checks; see :func:`residual_target` for other inputs).

    Raises
    ------
    ValueError, TypeError
        For no blocks, shapes that do not chain, entries outside [-1, 1], or non-finite entries.
    """

    blocks: list[tuple[torch.Tensor, torch.Tensor]]
    readout: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if isinstance(self.blocks, (torch.Tensor, str)) or not isinstance(self.blocks, Sequence):
            raise TypeError("blocks must be a list of (W1, W2) pairs, one per residual block")
        if not self.blocks:
            raise ValueError("a residual target needs at least one block (W1, W2)")
        checked, width = [], None
        for i, pair in enumerate(self.blocks):
            if isinstance(pair, torch.Tensor) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise TypeError(f"block {i + 1} must be a pair (W1, W2), got {type(pair).__name__}")
            first = check_bounded(as_matrix(pair[0], f"W1 of block {i + 1}"), f"W1 of block {i + 1}")
            second = check_bounded(as_matrix(pair[1], f"W2 of block {i + 1}"), f"W2 of block {i + 1}")
            width = first.shape[1] if width is None else width
            if first.shape[1] != width:
                raise ValueError(f"W1 of block {i + 1} takes {first.shape[1]} inputs, but the residual stream has "
                                 f"{width} coordinates: every block maps R^{width} to itself")
            if second.shape != (width, first.shape[0]):
                raise ValueError(f"W2 of block {i + 1} has shape {tuple(second.shape)}; it must map the block's "
                                 f"{first.shape[0]} hidden units back to the stream: shape ({width}, {first.shape[0]})")
            checked.append((first, second))
        readout = self.readout
        if readout is not None:
            readout = check_bounded(as_matrix(readout, "readout"), "readout")
            if readout.shape[1] != width:
                raise ValueError(f"the readout takes {readout.shape[1]} inputs but the residual stream has {width}")
        object.__setattr__(self, "blocks", checked)
        object.__setattr__(self, "readout", readout)

    @property
    def d(self) -> int:
        """Width of the residual stream (= the input dimension)."""
        return self.blocks[0][0].shape[1]

    @property
    def outputs(self) -> int:
        """The number of outputs (n with a read-out, else d)."""
        return self.d if self.readout is None else self.readout.shape[0]

    @property
    def layers(self) -> list[torch.Tensor]:
        """The weight matrices W₁⁽¹⁾, W₂⁽¹⁾, …, W_out, in the order the random network approximates them."""
        matrices = [matrix for pair in self.blocks for matrix in pair]
        return matrices if self.readout is None else [*matrices, self.readout]

    def norm_bounds(self) -> tuple[list[tuple[float, float]], float | None]:
        """([(a_i, b_i)], c): floats ≥ the exact spectral norms of W₁⁽ⁱ⁾, W₂⁽ⁱ⁾ and W_out (c None without read-out)."""
        norms = [(bounds.spectral_norm_bound(first), bounds.spectral_norm_bound(second)) for first, second in self.blocks]
        return norms, None if self.readout is None else bounds.spectral_norm_bound(self.readout)

    def reaches(self) -> list[float]:
        """R_0 = 1, R_i = R_{i−1}(1 + a_i b_i), rounded up: ‖z_i‖₂ ≤ R_i for ‖x‖₂ ≤ 1 (and c R_B for the read-out)."""
        norms, readout = self.norm_bounds()
        values = [1.0]
        for a, b in norms:
            values.append(bounds.add_up(values[-1], bounds.mul_up(bounds.mul_up(a, b), values[-1])))
        if readout is not None:
            values.append(bounds.mul_up(readout, values[-1]))
        return values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) in float64: x (m, d) → (m, outputs)."""
        z = torch.as_tensor(x, dtype=torch.float64)
        for first, second in self.blocks:
            z = z + torch.relu(z @ first.T) @ second.T
        return z if self.readout is None else z @ self.readout.T

    def module(self, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """The target as torch: ``Residual(Linear, ReLU, Linear)`` per block, then the read-out ``Linear``."""
        modules: list[nn.Module] = [Residual(relu_stack([linear(first.to(dtype)), linear(second.to(dtype))]))
                                    for first, second in self.blocks]
        if self.readout is not None:
            modules.append(linear(self.readout.to(dtype)))
        return nn.Sequential(*modules)


def _bias_free_linear(module: nn.Module, what: str) -> torch.Tensor:
    if type(module) is not nn.Linear:
        raise ValueError(f"{what} must be an nn.Linear, got {type(module).__name__}")
    if module.bias is not None:
        raise ValueError(f"{what} has a bias: fold biases into the weights with a constant input coordinate "
                         "(lottolib.residual_digits shows how) and pass bias-free layers")
    return module.weight


def residual_target(blocks: object, readout: object = None) -> ResidualTarget:
    """A checked :class:`ResidualTarget` from a module, a list of (W₁, W₂) pairs, or a target.

    Parameters
    ----------
    blocks
        A :class:`ResidualTarget`; or an ``nn.Sequential`` of :class:`Residual` modules whose branch is
        exactly ``nn.Sequential(nn.Linear, nn.ReLU, nn.Linear)`` (bias-free), optionally followed by one
        bias-free ``nn.Linear`` (the read-out); or a list of (W₁, W₂) pairs (tensors, arrays or lists).
    readout
        W_out (n, d) for a list of pairs; must be None otherwise (the module or target carries its own).

    Raises
    ------
    TypeError, ValueError
        For anything else (see :class:`ResidualTarget`).
    """
    if isinstance(blocks, ResidualTarget):
        if readout is not None:
            raise ValueError("this ResidualTarget already has its readout; pass readout=None")
        return blocks
    if isinstance(blocks, nn.Sequential):
        if readout is not None:
            raise ValueError("an nn.Sequential target carries its own read-out (a final nn.Linear); pass readout=None")
        modules = list(blocks)
        if modules and not isinstance(modules[-1], Residual):
            readout = _bias_free_linear(modules.pop(), "the read-out (the last module)")
        pairs = []
        for i, module in enumerate(modules):
            branch = module.branch if isinstance(module, Residual) else None
            if not isinstance(branch, nn.Sequential) or len(branch) != 3 or type(branch[1]) is not nn.ReLU:
                raise ValueError(f"module {i} must be Residual(nn.Sequential(nn.Linear, nn.ReLU, nn.Linear)); "
                                 f"got {type(module).__name__}")
            pairs.append((_bias_free_linear(branch[0], f"block {i + 1}'s first layer"),
                          _bias_free_linear(branch[2], f"block {i + 1}'s second layer")))
        return ResidualTarget(pairs, readout)
    if isinstance(blocks, nn.Module):
        raise TypeError(f"a residual target must be an nn.Sequential of Residual blocks, got {type(blocks).__name__}")
    return ResidualTarget(blocks, readout)  # type: ignore[arg-type]


def random_residual_target(d: int, hidden: int, blocks: int, outputs: int | None = None, *, seed: object,
                           strength: float = 1.0) -> ResidualTarget:
    """A random residual target: U[-1, 1] entries, W₁ and W₂ of every block rescaled to spectral norm
    ``strength`` (so ‖W₂‖₂‖W₁‖₂ = strength²), a read-out (if ``outputs``) of spectral norm 1.

    Raises
    ------
    ValueError
        Unless 0 < strength ≤ 1 (larger spectral norms could put entries outside [-1, 1]).
    lottolib.memory.MemoryLimitError
        Before drawing, if the target would exceed the memory limit.
    """
    d, hidden, count = (check_positive_int(v, name) for v, name in ((d, "d"), (hidden, "hidden"), (blocks, "blocks")))
    readout_rows = 0 if outputs is None else check_positive_int(outputs, "outputs")
    check_memory(count * 2 * d * hidden + readout_rows * d,
                 f"a random residual target with d = {d}, hidden = {hidden} and blocks = {count}", noun="weights",
                 bytes_per_value=TARGET_BYTES, advice=f"Use smaller layers, or {RAISE_LIMIT}")
    strength = check_eps(strength)
    if strength > 1:
        raise ValueError(f"strength must lie in (0, 1] (entries stay in [-1, 1]), got {strength}")
    stream = generator(seed)

    def draw(rows: int, cols: int, norm: float) -> torch.Tensor:
        weight = torch.rand(rows, cols, generator=stream, dtype=torch.float64) * 2 - 1
        return weight * (norm / float(torch.linalg.matrix_norm(weight, ord=2)))

    pairs = [(draw(hidden, d, strength), draw(d, hidden, strength)) for _ in range(count)]
    readout = None if outputs is None else draw(readout_rows, d, 1.0)
    return ResidualTarget(pairs, readout)


def balance_residual(blocks: Sequence[tuple[object, object]], readout: object = None, *,
                     readout_norm: float = 1.0) -> ResidualTarget:
    """A target for the same classifier, within the construction's assumptions: balanced blocks
    (W₁/γ_i, γ_i W₂ with ‖W₁/γ_i‖₂ = ‖γ_i W₂‖₂ = √(‖W₁‖₂‖W₂‖₂)) and the read-out rescaled to spectral
    norm ``readout_norm``.

    Each block computes the same function (σ(z/γ) = σ(z)/γ for γ > 0), and the read-out scales every
    output by one positive factor, so the argmax is unchanged (chapter 11). Unlike a plain network, a
    block cannot be divided by its norm: the skip has weight 1, so the product ‖W₁‖₂‖W₂‖₂ (the branch's
    strength against the skip) is fixed by the function.

    Parameters
    ----------
    blocks
        (W₁, W₂) per block, any finite real entries (W₁ (h_i, d), W₂ (d, h_i)).
    readout
        W_out (n, d), any finite real entries, or None.
    readout_norm
        The read-out's spectral norm after rescaling (1 meets the width theorem's assumption).

    Raises
    ------
    ValueError
        If a balanced block has an entry outside [-1, 1] (its branch is too strong for the construction:
        train with ‖W₁‖₂‖W₂‖₂ ≤ 1), the read-out is zero, or there is no read-out but ``readout_norm`` ≠ 1.
    """
    if isinstance(blocks, (torch.Tensor, str)) or not isinstance(blocks, Sequence):
        raise TypeError("blocks must be a list of (W1, W2) pairs, one per residual block")
    pairs = []
    for i, pair in enumerate(blocks):
        if isinstance(pair, torch.Tensor) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"block {i + 1} must be a pair (W1, W2), got {type(pair).__name__}")
        first, second = as_matrix(pair[0], f"W1 of block {i + 1}"), as_matrix(pair[1], f"W2 of block {i + 1}")
        a, b = (float(torch.linalg.matrix_norm(m, ord=2)) for m in (first, second))
        if a == 0 or b == 0:
            pairs.append((torch.zeros_like(first), torch.zeros_like(second)))  # the branch computes 0
            continue
        gamma = math.sqrt(a / b)
        first, second = first / gamma, second * gamma
        worst = max(float(first.abs().max()), float(second.abs().max()))
        if worst > 1:
            raise ValueError(f"block {i + 1}, balanced, has an entry of magnitude {worst:.4g} > 1: its branch is too "
                             f"strong against the skip (‖W1‖‖W2‖ = {a * b:.4g}) for weights in [-1, 1]; train it with "
                             "‖W1‖‖W2‖ <= 1")
        pairs.append((first, second))
    norm = check_eps(readout_norm)
    if readout is not None:
        readout = as_matrix(readout, "readout")
        scale = float(torch.linalg.matrix_norm(readout, ord=2))
        if scale == 0:
            raise ValueError("the readout is zero: every output is 0 and there is no class to keep")
        readout = readout * (norm / scale)
    elif norm != 1.0:
        raise ValueError("the target has no read-out to rescale; pass readout_norm=1.0")
    return ResidualTarget(pairs, readout)


# ----------------------------------------------------------------------------------------------
# The certificate


def _check_numbers(values: Sequence[float], name: str) -> list[float]:
    for value in values:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise ValueError(f"every {name} must be a finite number >= 0, got {value!r}")
    return [float(value) for value in values]


def residual_gaps(norms: Sequence[tuple[float, float]], etas: Sequence[tuple[float, float]],
                  readout: tuple[float, float] | None = None) -> list[float]:
    """Δ_1, …, Δ_B (and the read-out's Δ) of the residual recursion (module docstring), every step rounded up.

    Parameters
    ----------
    norms
        (a_i, b_i) per block: upper bounds on the operator norms of x ↦ W₁x and h ↦ W₂h.
    etas
        (η₁ᵢ, η₂ᵢ) per block: each pruned pair's relative error ‖g(z) − W z‖₂ ≤ η ‖z‖₂.
    readout
        (c, η_out) for a read-out, or None.

    Returns
    -------
    list[float]
        Δ_i ≥ sup over ‖x‖₂ ≤ 1 of the exact ‖z̃_i − z_i‖₂ (the pruned network's stream after block i
        against the target's), and last the read-out's bound if there is one.

    Raises
    ------
    ValueError
        If ``norms`` and ``etas`` differ in length, or a value is negative, NaN, infinite or not a number.
    """
    norms, etas = list(norms), list(etas)
    if len(norms) != len(etas):
        raise ValueError(f"one (eta1, eta2) per block: {len(norms)} norm pairs but {len(etas)} eta pairs")
    add, mul = bounds.add_up, bounds.mul_up
    reach, gap, gaps = 1.0, 0.0, []
    for pair, eta_pair in zip(norms, etas, strict=True):
        a, b = _check_numbers(pair, "norm")
        eta1, eta2 = _check_numbers(eta_pair, "eta")
        inner = add(mul(eta1, add(reach, gap)), mul(a, gap))
        inner_reach = mul(a, reach)
        gap = add(gap, add(mul(eta2, add(inner_reach, inner)), mul(b, inner)))
        reach = add(reach, mul(b, inner_reach))
        gaps.append(gap)
    if readout is not None:
        c, eta = _check_numbers(readout, "readout value")
        gaps.append(add(mul(eta, add(reach, gap)), mul(c, gap)))
    return gaps


def residual_certificate(norms: Sequence[tuple[float, float]], etas: Sequence[tuple[float, float]],
                         readout: tuple[float, float] | None = None) -> float:
    """The last of :func:`residual_gaps`: a float ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (0.0 for no block).

    Raises
    ------
    ValueError
        As :func:`residual_gaps`.
    """
    gaps = residual_gaps(norms, etas, readout)
    return gaps[-1] if gaps else 0.0


def residual_width_bound(target: object, eps: float, delta: float = 0.05) -> list[int]:
    """Units per input k for each of the m = 2B (+1) pairs such that, for a target fixed before sampling,
    the pair method's certificate is ≤ ε with probability ≥ 1 − δ.

    Proof (chapter 11): the certificate is increasing in every η, so if every η ≤ τ it is at most C(τ), the
    recursion with every η = τ. τ is the largest float (by bisection, C evaluated rounded up) with C(τ) ≤ ε;
    each pair gets failure budget δ/m and the width of :func:`~lottolib.layer_width_bound` for τ. When every
    spectral norm is ≤ 1, C(τ) ≤ P((1 + τ)^m − 1) with P = Π(1 + a_i b_i), so τ ≥ ε/(2Pm).

    Raises
    ------
    ValueError
        Unless 0 < ε and 0 < δ < 1, or for a bad target (see :func:`residual_target`).
    """
    target = residual_target(target)
    eps, delta = check_eps(eps), check_fraction(delta, "delta")
    norms, readout = target.norm_bounds()

    def bound(tau: float) -> float:
        return residual_certificate(norms, [(tau, tau)] * len(norms), None if readout is None else (readout, tau))

    low, high = (eps, eps) if bound(eps) <= eps else (0.0, eps)  # C(0) = 0 <= eps
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        low, high = (middle, high) if bound(middle) <= eps else (low, middle)
    if low == 0:
        raise ValueError(f"eps={eps} is too small for any per-pair tolerance to meet it in floating point")
    layers = target.layers
    return [layer_width_bound(w.shape[0], w.shape[1], low, delta / len(layers)) for w in layers]


# ----------------------------------------------------------------------------------------------
# The dense residual construction


@dataclass(frozen=True, eq=False)
class ResidualConstruction(CompositeConstruction):
    """A pruned random residual network approximating a :class:`ResidualTarget`, with its certificate.

    ``pairs`` lists the pruned blocks in the order of :attr:`ResidualTarget.layers` (W₁⁽¹⁾, W₂⁽¹⁾, …,
    W_out); the skips are the network's own (not weights). ``masks`` lists 4B (+2) masks in the order of
    the module's ``nn.Linear`` layers.
    """

    target: ResidualTarget
    pairs: list[LayerConstruction]
    eps: float | None = None
    seed: int | None = None

    @property
    def method(self) -> str:
        """``"pair"`` or ``"subset_sum"``."""
        return self.pairs[0].method

    @property
    def block_pairs(self) -> list[tuple[LayerConstruction, LayerConstruction]]:
        """(pair for W₁, pair for W₂) per block."""
        count = len(self.target.blocks)
        return [(self.pairs[2 * i], self.pairs[2 * i + 1]) for i in range(count)]

    @property
    def readout_pair(self) -> LayerConstruction | None:
        """The pruned block for W_out, or None."""
        return None if self.target.readout is None else self.pairs[-1]

    @property
    def etas(self) -> list[float]:
        """The η the certificate uses for every pruned pair, in layer order.

        That is ‖[E⁺ | E⁻]‖₂ for the pairs that read the stream (W₁ of each block, the read-out), and
        η⁺ = ‖E⁺‖₂ for W₂ of each block, whose input σ(·) is never negative."""
        return [pair.eta_plus if i % 2 == 1 and i < 2 * len(self.target.blocks) else pair.eta
                for i, pair in enumerate(self.pairs)]

    @property
    def k_per_layer(self) -> list[int]:
        """Units per input k of every pair, in layer order."""
        return [pair.block.k for pair in self.pairs]

    @cached_property
    def gaps(self) -> list[float]:
        """Δ after each block (and after the read-out), rounded up; the last is the certificate."""
        norms, readout = self.target.norm_bounds()
        etas = self.etas
        pairs = [(etas[2 * i], etas[2 * i + 1]) for i in range(len(norms))]
        return residual_gaps(norms, pairs, None if readout is None else (readout, etas[-1]))

    @property
    def certificate(self) -> float:
        """≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (exact arithmetic, rounded outward; module docstring)."""
        return self.gaps[-1]

    @property
    def parts(self) -> list[LayerConstruction]:
        return self.pairs

    def adversary_starts(self) -> torch.Tensor:
        """Singular vectors (and their sign-split parts) of the first block's W₁ and of its pair's errors."""
        return self.pairs[0].adversary_starts()

    @property
    def description(self) -> str:
        """What was built (blocks, k per pair, method), for the message."""
        readout = "" if self.target.readout is None else " and a read-out"
        return (f"pruned random residual network, {len(self.target.blocks)} blocks{readout} "
                f"(k = {self.k_per_layer}, {self.method})")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.target.d,)

    def report(self) -> list[dict[str, object]]:
        """Per pruned pair: which weight it approximates, its shape, k, hidden width, the η the certificate uses
        (:attr:`etas`), random and kept weights."""
        names = [f"W{j + 1} of block {i + 1}" for i in range(len(self.target.blocks)) for j in range(2)]
        names += ["readout"] if self.target.readout is not None else []
        return [{"layer": name, "n": pair.target.shape[0], "d": pair.target.shape[1], "k": pair.block.k,
                 "hidden": pair.block.hidden_width, "eta": eta, "random_parameters": pair.random_parameters,
                 "kept_parameters": pair.kept_parameters}
                for name, pair, eta in zip(names, self.pairs, self.etas, strict=True)]

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """``Residual(branch)`` per block (branch: Linear, ReLU, Linear, ReLU, Linear, ReLU, Linear), then
        the read-out pair (Linear, ReLU, Linear); bias-free, the skips are the network's identity."""
        weights = [pair.pruned_weights(compact=compact, dtype=dtype) for pair in self.pairs]
        modules: list[nn.Module] = [Residual(relu_stack([linear(w) for w in (*weights[2 * i], *weights[2 * i + 1])]))
                                    for i in range(len(self.target.blocks))]
        if self.target.readout is not None:
            modules.extend(relu_stack([linear(w) for w in weights[-1]]))
        return nn.Sequential(*modules)

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The target's output F(x) in float64, for inputs x of shape (m, d)."""
        return self.target.forward(x)


def _build(target: ResidualTarget, ks: list[int], eps: float | None, seed: object, method: str,
           proved: float | None = None) -> ResidualConstruction:
    """Sample and prune; ``proved`` is δ when ks is the proved width (for the memory message)."""
    layers = target.layers
    shapes = [shape for weight, k in zip(layers, ks, strict=True)
              for shape in ((weight.shape[1] * k, weight.shape[1]), (weight.shape[0], weight.shape[1] * k))]
    if proved is None:
        what = f"a random residual network with {len(target.blocks)} blocks and k = {format_widths(ks)} units per input"
        advice = SMALLER_K
    else:
        what = f"the proved width for eps={eps:g} and delta={proved:g}, k = {format_widths(ks)} units per input,"
        advice = LARGER_EPS
    sampled = sample_weights(shapes, seed, what=what, advice=advice)
    pairs = [prune_block(RandomBlock(first, second, k), weight, method=method)
             for weight, k, first, second in zip(layers, ks, sampled[0::2], sampled[1::2], strict=True)]
    checked = check_seed(seed)
    return ResidualConstruction(target, pairs, eps, checked if isinstance(checked, int) else None)


def prune_residual_network(
    target: object,
    *,
    k: int | Sequence[int] | str,
    seed: object,
    method: str = "pair",
    eps: float | None = None,
    delta: float = 0.05,
) -> ResidualConstruction:
    """Sample a random residual network from ``seed`` and prune its branches to approximate ``target``.

    Parameters
    ----------
    target
        A :class:`ResidualTarget`, an ``nn.Sequential`` of :class:`Residual` blocks (and a read-out), or a
        list of (W₁, W₂) pairs; every entry in [-1, 1] (see :func:`residual_target`).
    k
        Units per input coordinate: an int (every pair), a list (one per pair: 2 per block, one more
        for the read-out), ``"search"`` (the smallest common k whose certificate meets ``eps`` for this
        seed, by doubling then bisection), or ``"proved"`` (:func:`residual_width_bound`).
    seed
        A non-negative integer or a ``torch.Generator``: the whole random network comes from its one
        stream, in layer order.
    method
        ``"pair"`` or ``"subset_sum"``.
    eps
        If given, ``succeeded`` says whether the certificate is ≤ eps; required for ``"search"`` and ``"proved"``.
    delta
        Failure probability for ``k="proved"``.

    Returns
    -------
    ResidualConstruction
        For a fixed k, returned whether or not its certificate meets ``eps``.

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before sampling, if the random network would exceed the memory limit.
    ValueError, TypeError
        For a bad target, k, seed, eps or method.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_seed(seed)
    target = residual_target(target)
    eps = None if eps is None else check_eps(eps)
    count = len(target.layers)
    if isinstance(k, str):
        if k not in ("search", "proved"):
            raise ValueError(f"k must be 'search', 'proved', an int or a list of ints, got {k!r}")
        if eps is None:
            raise ValueError(f"k={k!r} chooses k from eps: pass eps=... (e.g. eps=0.05)")
        if k == "proved":
            return _build(target, residual_width_bound(target, min(eps, 1.0), delta), eps, seed, method, proved=delta)
        if isinstance(seed, torch.Generator):
            raise TypeError("k='search' samples several networks from one seed, so it needs an integer seed")
        try:
            return smallest_k(lambda value: _build(target, [value] * count, eps, seed, method),
                              lambda construction: construction.succeeded)[1]
        except MemoryLimitError as err:
            raise MemoryLimitError(f"no k below the memory limit certifies eps={eps} for seed {seed}: {err}") from None
    if isinstance(k, (list, tuple)):
        ks = [check_positive_int(value, "k") for value in k]
        if len(ks) != count:
            raise ValueError(f"k lists {len(ks)} values but the target has {count} weight matrices to approximate "
                             f"(2 per block{', 1 for the read-out' if target.readout is not None else ''}): "
                             "give one per matrix, or one int")
    else:
        ks = [check_positive_int(k, "k")] * count
    return _build(target, ks, eps, seed, method)


# ----------------------------------------------------------------------------------------------
# One convolutional residual block


def _same_padding_kernel(kernel: object, name: str) -> tuple[torch.Tensor, int]:
    tensor = as_tensor(kernel, name)
    if tensor.ndim != 4 or 0 in tensor.shape:
        raise ValueError(f"{name} must have shape (c_out, c_in, h, w), got {tuple(tensor.shape)}")
    h, w = tensor.shape[2:]
    if h != w or h % 2 == 0:
        raise ValueError(f"{name} is {h}x{w}: a residual block keeps the image size, so each kernel must be square "
                         "with an odd side (padding (side - 1) / 2, stride 1)")
    return check_bounded(tensor, name), (h - 1) // 2


@dataclass(frozen=True, eq=False)
class ConvResidualConstruction(CompositeConstruction):
    """The pruned random twin of one convolutional residual block x ↦ x + K₂ ∗ σ(K₁ ∗ x).

    ``first`` and ``second`` are the pruned conv pairs for K₁ (c_h, c, h, h) and K₂ (c, c_h, h', h'),
    each with "same" padding. Without ``image_size`` the certificate uses patch-level numbers and holds
    for images of every size; with ``image_size`` (H, W) it may use the exact numbers at that size, and
    holds there only (:meth:`~lottolib.Construction.error` and :func:`~lottolib.empirical_error` refuse
    other sizes, :func:`~lottolib.to_torch` flags them).
    """

    first: ConvConstruction
    second: ConvConstruction
    eps: float | None = None
    image_size: tuple[int, int] | None = None

    @cached_property
    def image_numbers(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The image-level numbers ``((a, b), (eta1, eta2))`` of the block: bounds on the operator norms of
        x ↦ K₁ ∗ x and h ↦ K₂ ∗ h and on the two pruned pairs' relative errors, from the conv pairs'
        ``operator_bound`` and ``certificate`` (exact at ``image_size`` when the conv matrices have at most
        :data:`~lottolib.conv.EXACT_CONV_ENTRIES` entries, else the patch-level numbers, which hold for every size); for the
        second pair, whose input σ(·) is never negative, also η⁺√(hw) with η⁺ = ‖E⁺‖₂, if smaller."""
        _, _, h, w = self.second.kernel.shape
        second_plus = bounds.mul_up(self.second.layer.eta_plus, sqrt_up(h * w))
        return ((self.first.operator_bound, self.second.operator_bound),
                (self.first.certificate, min(self.second.certificate, second_plus)))

    @cached_property
    def certificate(self) -> float:
        """The one-block recursion with the image-level numbers of :attr:`image_numbers`, rounded up."""
        norms, etas = self.image_numbers
        return residual_certificate([norms], [etas])

    @property
    def parts(self) -> tuple[ConvConstruction, ConvConstruction]:
        return self.first, self.second

    @property
    def description(self) -> str:
        """What was built (kernel shapes, k per pair, method), for the message."""
        shapes = " and ".join("x".join(str(s) for s in c.kernel.shape) for c in (self.first, self.second))
        ks = [self.first.layer.block.k, self.second.layer.block.k]
        return f"convolutional residual block (kernels {shapes}, k = {ks}, {self.first.layer.method})"

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return None if self.image_size is None else (self.first.kernel.shape[1], *self.image_size)

    def check_input_shape(self, shape: object) -> tuple[int, ...]:
        """(c, H, W) of an image the certificate covers: any size ("same" padding fits every image), or
        ``image_size`` if given."""
        return check_image_shape(self, shape, self.image_size, self.first.kernel.shape, self.first.padding)

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """``Residual(conv pair, ReLU, conv pair)``: Conv2d, ReLU, 1×1 Conv2d, ReLU, Conv2d, ReLU, 1×1 Conv2d."""
        branch = nn.Sequential(*self.first.module(compact=compact, dtype=dtype), nn.ReLU(),
                               *self.second.module(compact=compact, dtype=dtype))
        return nn.Sequential(Residual(branch))

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        """x + K₂ ∗ σ(K₁ ∗ x) in float64, for images x of shape (m, c, H, W)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        hidden = torch.relu(nn.functional.conv2d(x, self.first.kernel, padding=self.first.padding))
        return x + nn.functional.conv2d(hidden, self.second.kernel, padding=self.second.padding)


def prune_conv_residual(
    first_kernel: object, second_kernel: object, *, k: int | tuple[int, int], seed: object, method: str = "pair",
    eps: float | None = None, image_size: tuple[int, int] | None = None,
) -> ConvResidualConstruction:
    """Prune a random convolutional residual block to approximate x ↦ x + K₂ ∗ σ(K₁ ∗ x).

    Parameters
    ----------
    first_kernel, second_kernel
        K₁ (c_h, c, h, h) and K₂ (c, c_h, h', h'), entries in [-1, 1], square with odd sides; each
        convolution has stride 1 and padding (side − 1)/2, so the block keeps the image size.
    k
        Units per kernel entry for both conv pairs (one value or a pair).
    seed
        A non-negative integer or a ``torch.Generator``: both conv pairs come from its one stream, K₁'s first.
    method
        ``"pair"`` or ``"subset_sum"``.
    eps
        If given, judged against the image-level certificate.
    image_size
        (H, W) of the inputs, or None. Given, the certificate may use the exact image-level numbers,
        which hold at that size only (other sizes are refused); None gives a certificate for every size.

    Raises
    ------
    ValueError, TypeError
        For kernels that are not square and odd, channels that do not chain, entries outside [-1, 1],
        or a bad k, seed, method or image size.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    kernel1, padding1 = _same_padding_kernel(first_kernel, "first_kernel")
    kernel2, padding2 = _same_padding_kernel(second_kernel, "second_kernel")
    if kernel2.shape[0] != kernel1.shape[1] or kernel2.shape[1] != kernel1.shape[0]:
        raise ValueError(f"first_kernel maps {kernel1.shape[1]} channels to {kernel1.shape[0]}, so second_kernel must "
                         f"map {kernel1.shape[0]} back to {kernel1.shape[1]}: got shape {tuple(kernel2.shape)}")
    ks = (k, k) if not isinstance(k, (tuple, list)) else tuple(k)
    if len(ks) != 2:
        raise ValueError(f"k must be one int or a pair (k1, k2), got {k!r}")
    k1, k2 = (check_positive_int(value, "k") for value in ks)
    size = None
    if image_size is not None:
        if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
            raise TypeError(f"image_size must be a pair (H, W), got {image_size!r}")
        size = (check_positive_int(image_size[0], "image height"), check_positive_int(image_size[1], "image width"))
    eps = None if eps is None else check_eps(eps)
    matrices = (kernel_matrix(kernel1), kernel_matrix(kernel2))
    shapes = [shape for matrix, kk in zip(matrices, (k1, k2), strict=True)
              for shape in ((matrix.shape[1] * kk, matrix.shape[1]), (matrix.shape[0], matrix.shape[1] * kk))]
    sampled = sample_weights(shapes, seed, what=f"a random convolutional residual block with k = {[k1, k2]}")
    convs = [ConvConstruction(kernel, prune_block(RandomBlock(first, second, kk), matrix, method=method),
                              padding, None, size)
             for kernel, matrix, padding, kk, first, second in zip(
                 (kernel1, kernel2), matrices, (padding1, padding2), (k1, k2), sampled[0::2], sampled[1::2], strict=True)]
    return ConvResidualConstruction(convs[0], convs[1], eps, size)
