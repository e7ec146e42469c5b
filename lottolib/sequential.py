"""Any bias-free sequential ReLU network, and its pruned random twin with one certificate.

A :class:`SequentialTarget` is a sequence of stages, in any order:

- a weight layer (:class:`WeightLayer`): x ↦ W x for a matrix W (n, d), or x ↦ K ∗ x for a convolution
  kernel K (c_out, c_in, h, w) with stride 1 and zero padding, every entry in [-1, 1];
- ``"relu"`` (σ, elementwise) and ``"flatten"`` (an image (c, H, W) read as a vector, channel by channel);
- a residual block (:class:`ResidualStage`) x ↦ x + second(σ(first(x))), its two layers dense or convolutional.

Its pruned random twin replaces every weight layer by its own pruned random pair, chapter 4's block
for a matrix (:func:`~lottolib.prune_block`) or chapter 10's conv pair for a kernel
(:class:`~lottolib.conv.ConvConstruction`), and keeps the ReLUs, flattens and skip connections, which have
no weights. Every pair comes from one random stream, sampled before the target is read, in layer order.

**Certificate.** For ‖x‖₂ ≤ 1 let R bound the norm of the target's stream and Δ the distance of the
pruned network's stream from it (R = 1, Δ = 0 at the input). A weight layer with operator norm at most a
whose pair has relative error at most η (‖pair(z) − W z‖₂ ≤ η ‖z‖₂) maps them to

    Δ' = η (R + Δ) + a Δ,   R' = a R,

σ and flatten leave both unchanged (σ is 1-Lipschitz and does not increase norms), and a residual block
with layers (a₁, η₁) and (a₂, η₂) maps them to

    D = η₁ (R + Δ) + a₁ Δ,   Δ' = Δ + η₂ (a₁ R + D) + a₂ D,   R' = R + a₂ a₁ R,

as in chapter 5 and chapter 11; the final Δ bounds sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (every step rounded
up, :func:`sequential_certificate`). η is ‖[E⁺ | E⁻]‖₂ for a dense pair, and ‖E⁺‖₂ when the pair's input is
the output of a ReLU (σ(−h) = 0 there); a conv pair uses its image-level numbers (chapter 10).

Introduced in chapter 5, *Deep networks*, with :func:`lottolib.prune_model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from . import bounds
from .checks import as_tensor, check_bounded, check_eps, check_positive_int
from .construction import CompositeConstruction
from .conv import ConvConstruction, kernel_matrix
from .conv_bounds import conv_output_size
from .layer import METHODS, LayerConstruction, prune_block
from .propagation import sqrt_up
from .random_network import RandomBlock, linear, sample_weights
from .residual import Residual
from .seeds import check_seed

__all__ = [
    "BlockStep",
    "LayerStep",
    "ResidualStage",
    "SequentialConstruction",
    "SequentialTarget",
    "WeightLayer",
    "prune_sequential",
    "random_parameters_per_unit",
    "sequential_certificate",
]


@dataclass(frozen=True, eq=False)
class WeightLayer:
    """x ↦ W x (``weight`` of shape (n, d)) or x ↦ K ∗ x (``weight`` a kernel (c_out, c_in, h, w), stride 1,
    zero ``padding``), bias-free, every entry in [-1, 1]; stored as float64 (the constructor converts and checks).

    Raises
    ------
    ValueError, TypeError
        For a weight that is not a non-empty matrix or kernel, an entry outside [-1, 1], NaN, or a bad padding.
    """

    weight: torch.Tensor
    padding: int = 0

    def __post_init__(self) -> None:
        weight = as_tensor(self.weight, "weight")
        if weight.ndim not in (2, 4) or 0 in weight.shape:
            raise ValueError(f"a weight layer is a matrix (n, d) or a kernel (c_out, c_in, h, w), got shape "
                             f"{tuple(weight.shape)}")
        if isinstance(self.padding, bool) or not isinstance(self.padding, int) or self.padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {self.padding!r}")
        if weight.ndim == 2 and self.padding:
            raise ValueError("a dense layer has no padding; pass padding=0")
        object.__setattr__(self, "weight", check_bounded(weight, "weight"))

    @property
    def is_conv(self) -> bool:
        """True for a convolution."""
        return self.weight.ndim == 4

    @property
    def matrix(self) -> torch.Tensor:
        """The matrix the pruned block approximates, W or the kernel flattened to (c_out, c_in·h·w)."""
        return kernel_matrix(self.weight) if self.is_conv else self.weight

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one output for one input of ``shape`` ((d,), or (c_in, H, W) for a convolution).

        Raises
        ------
        ValueError
            If the layer does not accept inputs of that shape.
        """
        if not self.is_conv:
            if shape != (self.weight.shape[1],):
                raise ValueError(f"a dense layer with {self.weight.shape[1]} inputs gets inputs of shape {shape}")
            return (self.weight.shape[0],)
        c_out, c_in, h, w = self.weight.shape
        if len(shape) != 3 or shape[0] != c_in:
            raise ValueError(f"a convolution with {c_in} input channels gets inputs of shape {shape}")
        rows, cols = conv_output_size(shape[1], shape[2], (h, w), self.padding)
        if rows < 1 or cols < 1:
            raise ValueError(f"a {h}x{w} kernel with padding {self.padding} does not fit a {shape[1]}x{shape[2]} image")
        return (c_out, rows, cols)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """W x (or K ∗ x) for a batch ``x`` of shape ``(m, *input_shape)``, in the dtype of ``x``."""
        if self.is_conv:
            return nn.functional.conv2d(x, self.weight.to(x.dtype), padding=self.padding)
        return x @ self.weight.to(x.dtype).T


@dataclass(frozen=True, eq=False)
class ResidualStage:
    """x ↦ x + second(σ(first(x))): a skip connection around two weight layers, dense or convolutional."""

    first: WeightLayer
    second: WeightLayer

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """x + second(σ(first(x)))."""
        return x + self.second.apply(torch.relu(self.first.apply(x)))


Stage = WeightLayer | ResidualStage | str
"""One stage of a :class:`SequentialTarget`: a weight layer, a residual block, ``"relu"`` or ``"flatten"``."""


@dataclass(frozen=True, eq=False)
class SequentialTarget:
    """A bias-free network: ``stages`` applied in order to inputs of shape ``input_shape``.

    Raises
    ------
    ValueError, TypeError
        For no weight layer, an unknown stage, or shapes that do not chain (a residual block must map its
        input shape to itself).
    """

    stages: list[Stage]
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if isinstance(self.stages, (str, torch.Tensor)) or not isinstance(self.stages, Sequence):
            raise TypeError("stages must be a list of WeightLayer, ResidualStage, 'relu' or 'flatten'")
        shape = tuple(check_positive_int(s, "input_shape entry") for s in self.input_shape)
        for i, stage in enumerate(self.stages):
            if isinstance(stage, WeightLayer):
                shape = stage.output_shape(shape)
            elif isinstance(stage, ResidualStage):
                inner = stage.second.output_shape(stage.first.output_shape(shape))
                if inner != shape:
                    raise ValueError(f"stage {i}: the residual block maps inputs of shape {shape} to {inner}; "
                                     "a skip connection needs both shapes equal")
            elif stage == "flatten":
                shape = (math.prod(shape),)
            elif stage != "relu":
                raise ValueError(f"stage {i} is {stage!r}: a stage is a WeightLayer, a ResidualStage, 'relu' or "
                                 "'flatten'")
        if not self.layers:
            raise ValueError("the target has no weight layer: nothing to approximate")
        object.__setattr__(self, "stages", list(self.stages))
        object.__setattr__(self, "input_shape", tuple(self.input_shape))

    @property
    def layers(self) -> list[WeightLayer]:
        """Every weight layer, in order (a residual block contributes its two)."""
        return [layer for stage in self.stages
                for layer in ((stage.first, stage.second) if isinstance(stage, ResidualStage) else (stage,))
                if isinstance(layer, WeightLayer)]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of one input of each stage, then of the output."""
        shapes = [self.input_shape]
        for stage in self.stages:
            shape = shapes[-1]
            if isinstance(stage, WeightLayer):
                shape = stage.output_shape(shape)
            elif stage == "flatten":
                shape = (math.prod(shape),)
            shapes.append(shape)
        return shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) in float64, for a batch ``x`` of shape ``(m, *input_shape)``."""
        x = torch.as_tensor(x, dtype=torch.float64)
        for stage in self.stages:
            if isinstance(stage, (WeightLayer, ResidualStage)):
                x = stage.apply(x)
            elif stage == "relu":
                x = torch.relu(x)
            else:
                x = x.flatten(1)
        return x


@dataclass(frozen=True)
class LayerStep:
    """A weight layer in the certificate's recursion: a bound ``norm`` on its operator norm and the relative
    error ``eta`` of its pruned pair."""

    norm: float
    eta: float


@dataclass(frozen=True)
class BlockStep:
    """A residual block in the certificate's recursion: its two layers as :class:`LayerStep`."""

    first: LayerStep
    second: LayerStep


def _checked(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"every {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def sequential_certificate(steps: Sequence[LayerStep | BlockStep], reach: float = 1.0) -> float:
    """Δ after the last step of the recursion of the module docstring, every step rounded up.

    Parameters
    ----------
    steps
        The weight layers (:class:`LayerStep`) and residual blocks (:class:`BlockStep`) in order; ReLUs and
        flattens change nothing and are left out.
    reach
        R at the input: a bound on ‖x‖₂ (1 for the unit ball).

    Returns
    -------
    float
        A float ≥ sup over ‖x‖₂ ≤ ``reach`` of ‖G̃(x) − F(x)‖₂, for the norms and η given.

    Raises
    ------
    ValueError
        For a norm, η or reach that is negative, NaN or infinite.
    """
    add, mul = bounds.add_up, bounds.mul_up
    reach, gap = _checked(reach, "reach"), 0.0
    for step in steps:
        if isinstance(step, LayerStep):
            norm, eta = _checked(step.norm, "norm"), _checked(step.eta, "eta")
            gap = add(mul(eta, add(reach, gap)), mul(norm, gap))
            reach = mul(norm, reach)
            continue
        a1, eta1 = _checked(step.first.norm, "norm"), _checked(step.first.eta, "eta")
        a2, eta2 = _checked(step.second.norm, "norm"), _checked(step.second.eta, "eta")
        inner = add(mul(eta1, add(reach, gap)), mul(a1, gap))
        inner_reach = mul(a1, reach)
        gap = add(gap, add(mul(eta2, add(inner_reach, inner)), mul(a2, inner)))
        reach = add(reach, mul(a2, inner_reach))
    return gap


Pair = LayerConstruction | ConvConstruction


def _pair_step(pair: Pair, nonnegative_input: bool) -> LayerStep:
    """The pair's :class:`LayerStep`: η⁺ where its input is a ReLU's output, else η (image-level for a conv)."""
    if isinstance(pair, LayerConstruction):
        return LayerStep(bounds.spectral_norm_bound(pair.target), pair.eta_plus if nonnegative_input else pair.eta)
    eta = pair.certificate
    if nonnegative_input:
        _, _, h, w = pair.kernel.shape
        eta = min(eta, bounds.mul_up(pair.layer.eta_plus, sqrt_up(h * w)))
    return LayerStep(pair.operator_bound, eta)


def _pair_module(pair: Pair, compact: bool, dtype: torch.dtype) -> list[nn.Module]:
    if isinstance(pair, LayerConstruction):
        first, second = pair.pruned_weights(compact=compact, dtype=dtype)
        return [linear(first), nn.ReLU(), linear(second)]
    return list(pair.module(compact=compact, dtype=dtype))


@dataclass(frozen=True, eq=False)
class SequentialConstruction(CompositeConstruction):
    """The pruned random twin of a :class:`SequentialTarget`: ``pairs`` holds one pruned pair per weight layer
    of ``target.layers``, in order (:class:`~lottolib.LayerConstruction` for a matrix,
    :class:`~lottolib.conv.ConvConstruction` for a kernel)."""

    target: SequentialTarget
    pairs: list[Pair]
    eps: float | None = None
    seed: int | None = None

    @cached_property
    def steps(self) -> list[LayerStep | BlockStep]:
        """The recursion's steps (module docstring), from the pairs' norms and errors."""
        steps: list[LayerStep | BlockStep] = []
        pairs = iter(self.pairs)
        nonnegative = False  # the input can have any sign
        for stage in self.target.stages:
            if isinstance(stage, WeightLayer):
                steps.append(_pair_step(next(pairs), nonnegative))
            elif isinstance(stage, ResidualStage):
                steps.append(BlockStep(_pair_step(next(pairs), nonnegative), _pair_step(next(pairs), True)))
            if stage != "flatten":
                nonnegative = stage == "relu"
        return steps

    @cached_property
    def certificate(self) -> float:
        """A float ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂, :func:`sequential_certificate` of :attr:`steps`."""
        return sequential_certificate(self.steps)

    @property
    def parts(self) -> list[Pair]:
        return self.pairs

    @property
    def method(self) -> str:
        """``"pair"`` or ``"subset_sum"``."""
        return self._layer(self.pairs[0]).method

    @property
    def k_per_layer(self) -> list[int]:
        """Units per input k of every pair, in layer order."""
        return [self._layer(pair).block.k for pair in self.pairs]

    @staticmethod
    def _layer(pair: Pair) -> LayerConstruction:
        return pair if isinstance(pair, LayerConstruction) else pair.layer

    @property
    def description(self) -> str:
        return f"pruned random network for {len(self.pairs)} weight layers (k = {self.k_per_layer}, {self.method})"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.target.input_shape

    def report(self) -> list[dict[str, object]]:
        """Per weight layer: its shape (n, d of the matrix approximated), k, hidden units, η, random and kept weights."""
        rows: list[dict[str, object]] = []
        for i, (pair, step) in enumerate(zip(self.pairs, self._layer_steps(), strict=True)):
            layer = self._layer(pair)
            rows.append({"layer": i + 1, "kind": "conv" if isinstance(pair, ConvConstruction) else "dense",
                         "n": layer.target.shape[0], "d": layer.target.shape[1], "k": layer.block.k,
                         "hidden": layer.block.hidden_width, "eta": step.eta,
                         "random_parameters": layer.random_parameters, "kept_parameters": layer.kept_parameters})
        return rows

    def _layer_steps(self) -> list[LayerStep]:
        return [part for step in self.steps
                for part in ((step.first, step.second) if isinstance(step, BlockStep) else (step,))]

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """The stages in order, every weight layer replaced by its pruned pair (Linear, ReLU, Linear or Conv2d,
        ReLU, 1×1 Conv2d), a residual block by ``Residual(pair, ReLU, pair)``; bias-free."""
        pairs = iter(self.pairs)
        modules: list[nn.Module] = []
        for stage in self.target.stages:
            if isinstance(stage, WeightLayer):
                modules.extend(_pair_module(next(pairs), compact, dtype))
            elif isinstance(stage, ResidualStage):
                branch = [*_pair_module(next(pairs), compact, dtype), nn.ReLU(),
                          *_pair_module(next(pairs), compact, dtype)]
                modules.append(Residual(nn.Sequential(*branch)))
            else:
                modules.append(nn.ReLU() if stage == "relu" else nn.Flatten())
        return nn.Sequential(*modules)

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.target.forward(x)

    def adversary_starts(self) -> torch.Tensor | None:
        """The first pair's starts (:meth:`lottolib.Construction.adversary_starts`) when it is dense, else None."""
        first = self.pairs[0]
        return first.adversary_starts() if isinstance(first, LayerConstruction) else None


def random_parameters_per_unit(target: SequentialTarget) -> int:
    """Random weights of the twin per unit of k (all pairs with the same k): Σ over layers of d (d + n), where the
    pair for an n × d matrix has a first layer (d·k, d) and a second (n, d·k)."""
    return sum(layer.matrix.shape[1] * sum(layer.matrix.shape) for layer in target.layers)


def prune_sequential(
    target: SequentialTarget, *, k: int | Sequence[int], seed: object, method: str = "pair", eps: float | None = None
) -> SequentialConstruction:
    """Sample a random network from ``seed`` and prune it into the twin of ``target`` (module docstring).

    Parameters
    ----------
    target
        The bias-free network to approximate.
    k
        Units per input coordinate: one int for every pair, or a list with one per weight layer.
    seed
        A non-negative integer or a ``torch.Generator``: every pair comes from its one stream, in layer order
        (the first layer (d·k, d) of a pair, then its second (n, d·k)).
    method
        ``"pair"`` or ``"subset_sum"``.
    eps
        If given, ``succeeded`` says whether the certificate is ≤ eps.

    Returns
    -------
    SequentialConstruction
        Returned whether or not its certificate meets ``eps``.

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before sampling, if the random network would exceed the memory limit.
    ValueError, TypeError
        For a bad k, seed, method or eps.
    """
    if not isinstance(target, SequentialTarget):
        raise TypeError(f"target must be a SequentialTarget, got {type(target).__name__}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    layers = target.layers
    if isinstance(k, (list, tuple)):
        ks = [check_positive_int(value, "k") for value in k]
        if len(ks) != len(layers):
            raise ValueError(f"k lists {len(ks)} values for {len(layers)} weight layers: give one per layer, or one int")
    else:
        ks = [check_positive_int(k, "k")] * len(layers)
    eps = None if eps is None else check_eps(eps)
    checked = check_seed(seed)
    shapes = [shape for layer, kk in zip(layers, ks, strict=True)
              for shape in ((layer.matrix.shape[1] * kk, layer.matrix.shape[1]),
                            (layer.matrix.shape[0], layer.matrix.shape[1] * kk))]
    sampled = sample_weights(shapes, checked, what=f"a random network for {len(layers)} weight layers with k = {ks}")
    image_sizes = _conv_image_sizes(target)
    pairs: list[Pair] = []
    for layer, kk, first, second in zip(layers, ks, sampled[0::2], sampled[1::2], strict=True):
        pruned = prune_block(RandomBlock(first, second, kk), layer.matrix, method=method)
        if layer.is_conv:
            pairs.append(ConvConstruction(layer.weight, pruned, layer.padding, None, image_sizes[id(layer)]))
        else:
            pairs.append(pruned)
    return SequentialConstruction(target, pairs, eps, checked if isinstance(checked, int) else None)


def _conv_image_sizes(target: SequentialTarget) -> dict[int, tuple[int, int]]:
    """The input image size (H, W) of every convolution of ``target``, by the layer's id."""
    sizes: dict[int, tuple[int, int]] = {}
    for stage, shape in zip(target.stages, target.shapes, strict=False):
        if isinstance(stage, WeightLayer) and stage.is_conv:
            sizes[id(stage)] = (shape[1], shape[2])
        elif isinstance(stage, ResidualStage):
            for layer, layer_shape in ((stage.first, shape), (stage.second, stage.first.output_shape(shape))):
                if layer.is_conv:
                    sizes[id(layer)] = (layer_shape[1], layer_shape[2])
    return sizes
