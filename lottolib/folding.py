"""Reading a trained torch model, and rewriting it as a bias-free network within the construction's assumptions.

A trained ``nn.Sequential`` F with biases (linear layers, convolutions, ReLUs, flattens, residual blocks) is
rewritten, exactly, as a bias-free :class:`~lottolib.sequential.SequentialTarget` F̃ on lifted inputs:

    F(x) = S · F̃(x, c)   for every x,

with two fixed positive numbers, the constant c and the output scale S, both powers of two.

**Biases, through a constant.** The input x is lifted to (x, c): one more coordinate (or, for images, one
more channel) equal to c. A layer's bias b becomes a column b/κ on that constant (κ is the constant's value
there), so that W h + b = [W | b/κ] (h, κ); a convolution reads the constant channel at the kernel tap
(p, p) only (p its padding), which lies inside the image at every output position when p ≤ (side − 1)/2.
While a later layer has a bias, every layer gets one more unit, the constant unit, whose only weight τ reads
the constant: it computes σ(τκ) = τκ (τ, κ > 0), the constant of the next layer. Across a residual block the
skip carries the constant and the branch writes 0 onto it. After a flatten the constant fills the H·W
coordinates of its channel; biases and the constant unit then read 2^j of them (the largest power of two at
most H·W), each with 1/2^j of the weight.

**Scaling, by positive homogeneity.** σ(t z) = t σ(z) for t > 0, so dividing a layer by s divides every later
pre-activation by s, and the next layer can undo it. Each folded layer is divided by the power of two s that
brings its largest entry into (ρ/2, ρ], where ρ = 1 (SubsetSum, which reaches any weight in [-1, 1]) or
ρ = 1/2 (the pair method, whose error grows as |w| → 1, chapter 2); the next layer's weights are multiplied by
the same s. A residual block keeps the scale of its stream (its skip has weight 1), so it cannot be divided as a
whole; instead each hidden unit j is balanced with a power of two γ_j (its weights in divided by γ_j, out multiplied
by it), and a unit still too strong is split into q_j = 2^t copies that each carry 1/q_j of its output:
σ(r·z) c = Σ over the copies of σ(r·z/γ_j) c γ_j/q_j. So every block fits, at the price of a few more units. The
output is F/S for S the last scale. The constant unit's weight is τ = ρ.

Every factor is a power of two, so every folded weight is the user's float32 (or float64) weight times a power
of two, exact in float64: F̃ is the user's network, not a rounding of it.

Introduced in chapter 5, *Deep networks*, with :func:`lottolib.prune_model`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch
from torch import nn

from .bounds import power_of_two_at_least
from .checks import as_tensor
from .residual import Residual
from .sequential import ResidualStage, SequentialTarget, Stage, WeightLayer

__all__ = ["SUPPORTED", "FoldedModel", "ModelLayer", "ModelResidual", "fold_model", "read_model"]

SUPPORTED = ("nn.Linear, nn.Conv2d (stride 1, zero padding of at most (kernel side - 1) / 2, equal on both sides, "
             "no dilation, one group), nn.ReLU, nn.Flatten (from dimension 1), nested nn.Sequential, and "
             "lottolib.residual.Residual blocks whose branch is nn.Sequential(nn.Linear, nn.ReLU, nn.Linear) or "
             "nn.Sequential(nn.Conv2d, nn.ReLU, nn.Conv2d)")
"""What :func:`read_model` accepts, as its error messages say it."""


@dataclass(frozen=True, eq=False)
class ModelLayer:
    """One trained layer: ``weight`` (n, d) or a kernel (c_out, c_in, h, w), ``bias`` (n,) or None, float64."""

    name: str
    weight: torch.Tensor
    bias: torch.Tensor | None
    padding: int = 0

    @property
    def has_bias(self) -> bool:
        """Whether the layer adds a bias that is not zero."""
        return self.bias is not None and bool(self.bias.any())


@dataclass(frozen=True, eq=False)
class ModelResidual:
    """One trained residual block x ↦ x + second(σ(first(x)))."""

    name: str
    first: ModelLayer
    second: ModelLayer

    @property
    def has_bias(self) -> bool:
        """Whether either layer adds a bias that is not zero."""
        return self.first.has_bias or self.second.has_bias


ModelStage = ModelLayer | ModelResidual | str


def _children(module: nn.Sequential, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    for name, child in module.named_children():
        path = f"{prefix}[{name}]"
        if type(child) is nn.Sequential:
            yield from _children(child, path)
        else:
            yield path, child


_HINTS = {
    "BatchNorm1d": " (in eval mode a BatchNorm is an affine map: fold it into the layer before it)",
    "BatchNorm2d": " (in eval mode a BatchNorm is an affine map: fold it into the layer before it)",
    "Dropout": " (at inference it is the identity: remove it)",
}


def _unsupported(path: str, module: nn.Module, why: str = "") -> ValueError:
    cls = type(module)
    what = f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__qualname__}"
    hint = _HINTS.get(cls.__name__, "")
    return ValueError(f"{path} is {what}{why}, which lottolib.prune_model does not support{hint}. It supports "
                      f"{SUPPORTED}")


def _conv_padding(path: str, conv: nn.Conv2d) -> int:
    settings = {"stride": (conv.stride, (1, 1)), "dilation": (conv.dilation, (1, 1)), "groups": (conv.groups, 1),
                "padding_mode": (conv.padding_mode, "zeros")}
    wrong = [f"{name}={value!r}" for name, (value, supported) in settings.items() if value != supported]
    if wrong:
        raise _unsupported(path, conv, f" with {', '.join(wrong)}")
    h, w = conv.kernel_size
    if conv.padding == "valid":
        return 0
    if conv.padding == "same":
        if h != w or h % 2 == 0:
            raise _unsupported(path, conv, f" with padding='same' and a {h}x{w} kernel (same padding needs a square "
                                           "kernel with an odd side here)")
        return (h - 1) // 2
    ph, pw = (int(p) for p in conv.padding)
    if ph != pw or 2 * ph > min(h, w) - 1:
        raise _unsupported(path, conv, f" with padding {conv.padding} for a {h}x{w} kernel")
    return ph


def _layer(path: str, module: nn.Module) -> ModelLayer:
    if type(module) is nn.Linear:
        padding = 0
    elif type(module) is nn.Conv2d:
        padding = _conv_padding(path, module)
    else:
        raise _unsupported(path, module)
    weight = as_tensor(module.weight, f"{path}.weight")
    bias = None if module.bias is None else as_tensor(module.bias, f"{path}.bias")
    return ModelLayer(path, weight, bias, padding)


def read_model(model: nn.Module) -> list[ModelStage]:
    """The stages of a trained ``nn.Sequential``, with its weights and biases as float64 copies, checked.

    Parameters
    ----------
    model
        An ``nn.Sequential`` of the modules :data:`SUPPORTED` lists (exactly those classes).

    Returns
    -------
    list
        One entry per module, in order: :class:`ModelLayer`, :class:`ModelResidual`, ``"relu"`` or ``"flatten"``.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Sequential``.
    ValueError
        For any other module, naming it and its index (e.g. ``model[2] is nn.Tanh``), for a convolution with
        a stride, dilation, groups or padding that is not supported, or for NaN, infinite or non-CPU weights.
    """
    if type(model) is not nn.Sequential:
        raise TypeError(f"model must be an nn.Sequential (of {SUPPORTED}), got {type(model).__name__}")
    stages: list[ModelStage] = []
    for path, module in _children(model, "model"):
        if type(module) is nn.ReLU:
            stages.append("relu")
        elif type(module) is nn.Flatten:
            if module.start_dim != 1 or module.end_dim != -1:
                raise _unsupported(path, module, f" with start_dim={module.start_dim}, end_dim={module.end_dim}")
            stages.append("flatten")
        elif type(module) is Residual:
            branch = module.branch
            if type(branch) is not nn.Sequential or len(branch) != 3 or type(branch[1]) is not nn.ReLU:
                raise _unsupported(path, module, f" whose branch is {branch}")
            first, second = (_layer(f"{path}.branch[{i}]", branch[i]) for i in (0, 2))
            stages.append(ModelResidual(path, first, second))
        else:
            stages.append(_layer(path, module))
    if not any(isinstance(stage, (ModelLayer, ModelResidual)) for stage in stages):
        raise ValueError("model has no nn.Linear or nn.Conv2d layer: there is nothing to prune")
    return stages


def _spread(count: int) -> int:
    """2^j, the largest power of two ≤ ``count``: how many of the constant's entries a bias or constant unit reads."""
    return 1 << (count.bit_length() - 1)


def _pow2_tensor(values: torch.Tensor, *, up: bool) -> torch.Tensor:
    """Entrywise the smallest power of two ≥ ``values`` (``up``) or the largest ≤ it, for values > 0."""
    mantissa, exponent = torch.frexp(values)
    exponent = torch.where(mantissa == 0.5, exponent - 1, exponent) if up else exponent - 1
    return torch.ldexp(torch.ones_like(values), exponent)


@dataclass(frozen=True)
class _Stream:
    """The folded stream at one point: its ``scale`` S (folded value = true value / S), the ``constant``'s value κ
    (None: no constant), and how many entries along dimension 1 hold it, the last ``count`` coordinates of a vector
    or channels of an image (1 after the lift; the copies of a split constant unit; the H·W pixels of a constant
    channel after a flatten)."""

    scale: float
    constant: float | None
    count: int

    def flattened(self, shape: tuple[int, ...]) -> _Stream:
        """The stream after a flatten of an image of ``shape`` (c, H, W)."""
        return replace(self, count=self.count * math.prod(shape[1:]))

    @property
    def entries(self) -> int:
        """How many entries along dimension 1 hold the constant (0 without one)."""
        return 0 if self.constant is None else self.count


def _with_constant(weight: torch.Tensor, column: torch.Tensor | None, stream: _Stream, padding: int) -> torch.Tensor:
    """[weight | column on the constant]: the column (one weight per output, zeros for None) is spread evenly over
    2^j of the constant's entries, each read at the kernel tap (p, p) for a convolution."""
    if stream.constant is None:
        return weight
    extra = torch.zeros(weight.shape[0], stream.count, *weight.shape[2:], dtype=torch.float64)
    if column is not None:
        spread = _spread(stream.count)
        index = (slice(None), slice(0, spread)) + ((padding, padding) if weight.ndim == 4 else ())
        extra[index] = (column / spread).unsqueeze(1)
    return torch.cat([weight, extra], dim=1)


def _constant_units(weight: torch.Tensor, stream: _Stream, tau: float, padding: int, copies: int = 1) -> torch.Tensor:
    """``weight`` with ``copies`` more outputs, constant units that read only the constant, each with total weight
    τ: each computes σ(τκ) = τκ."""
    rows = _with_constant(torch.zeros(copies, weight.shape[1] - stream.entries, *weight.shape[2:], dtype=torch.float64),
                          torch.full((copies,), tau, dtype=torch.float64), stream, padding)
    return torch.cat([weight, rows])


def _zero_rows(weight: torch.Tensor, stream: _Stream) -> torch.Tensor:
    """``weight`` with outputs of zeros appended for the constant of the stream (a branch writes 0 onto it)."""
    return torch.cat([weight, torch.zeros(stream.entries, *weight.shape[1:], dtype=torch.float64)])


def _bias(layer: ModelLayer, divisor: float) -> torch.Tensor | None:
    return None if layer.bias is None else layer.bias / divisor


@dataclass(frozen=True, eq=False)
class FoldedModel:
    """The folded network F̃ with F(x) = ``scale`` · F̃(x, ``constant``) (module docstring).

    ``target`` is F̃ on lifted inputs; ``constant`` is c, or None when no layer has a bias (nothing is lifted);
    ``outputs`` is None, or, for a model that ends in a residual block (whose stream still carries the
    constant), how many leading output coordinates (or channels) are the model's; ``prefix`` lists the ReLUs and
    flattens before the first weight layer, applied to the raw input; ``max_entry`` is ρ.
    """

    target: SequentialTarget
    constant: float | None
    scale: float
    outputs: int | None
    prefix: list[str]
    max_entry: float


def fold_model(stages: list[ModelStage], input_shape: tuple[int, ...], constant: float,
               max_entry: float) -> FoldedModel:
    """Rewrite the model's stages as a bias-free network F̃ with F(x) = S · F̃(x, c) (module docstring).

    Parameters
    ----------
    stages
        From :func:`read_model`.
    input_shape
        The shape of one raw input.
    constant
        c, a power of two > 0 (unused when no layer has a bias).
    max_entry
        ρ, a power of two ≤ 1: every folded weight lies in [-ρ, ρ].

    Returns
    -------
    FoldedModel

    Raises
    ------
    ValueError
        If a residual block's branch is too strong for weights in [-ρ, ρ] (its skip has weight 1, so it cannot
        be rescaled), naming the block.
    """
    first = next(i for i, stage in enumerate(stages) if not isinstance(stage, str))
    prefix = [stage for stage in stages[:first] if isinstance(stage, str)]
    body = stages[first:]
    needs = [any(not isinstance(s, str) and s.has_bias for s in body[i:]) for i in range(len(body) + 1)]
    shape = (math.prod(input_shape),) if "flatten" in prefix else tuple(input_shape)
    if needs[0]:
        shape = (shape[0] + 1, *shape[1:])
    lifted_shape = shape
    stream = _Stream(1.0, constant if needs[0] else None, 1)
    folded: list[Stage] = []
    for i, stage in enumerate(body):
        if stage == "relu":
            folded.append("relu")
        elif stage == "flatten":
            folded.append("flatten")
            stream = stream.flattened(shape)
            shape = (math.prod(shape),)
        elif isinstance(stage, ModelLayer):
            layer, stream = _fold_layer(stage, stream, needs[i + 1], max_entry)
            folded.append(layer)
            shape = layer.output_shape(shape)
        elif isinstance(stage, ModelResidual):
            folded.append(_fold_residual(stage, stream, max_entry))
    outputs = shape[0] - stream.entries if stream.constant is not None else None
    return FoldedModel(SequentialTarget(folded, lifted_shape), constant if needs[0] else None, stream.scale, outputs,
                       prefix, max_entry)


def _fold_layer(layer: ModelLayer, stream: _Stream, carry: bool, max_entry: float) -> tuple[WeightLayer, _Stream]:
    """The folded layer [W·S | b/κ] / s, with a constant unit τ = ρ if a later layer needs the constant, and the
    stream after it (scale s, constant τκ)."""
    constant = stream.constant
    weight = _with_constant(layer.weight * stream.scale, None if constant is None else _bias(layer, constant),
                            stream, layer.padding)
    scale = power_of_two_at_least(float(weight.abs().max()) / max_entry) if bool(weight.any()) else 1.0
    weight = weight / scale
    if not carry or constant is None:
        return WeightLayer(weight, layer.padding), _Stream(scale, None, 1)
    return (WeightLayer(_constant_units(weight, stream, max_entry, layer.padding), layer.padding),
            _Stream(scale, max_entry * constant, 1))


def _fold_residual(block: ModelResidual, stream: _Stream, max_entry: float) -> ResidualStage:
    """The folded block x ↦ x + W₂' σ(W₁' x) with the stream's scale and constant kept (module docstring).

    Hidden unit j, with largest incoming weight a_j in [W₁·S | b₁/κ] and outgoing b_j in W₂/S, becomes q_j copies,
    each with incoming weights divided by γ_j and outgoing ones multiplied by γ_j / q_j (powers of two): together
    they compute the same, and γ_j, q_j ≥ 1 are the smallest that bring a_j/γ_j and b_j γ_j/q_j into [-ρ, ρ] (γ_j
    balanced between the two where there is room). The constant unit (τ = ρ, if b₂ ≠ 0) is split alike so that its
    column b₂/(S τ κ) fits; the rows onto the constant are zero.
    """
    constant, scale = stream.constant, stream.scale
    first = _with_constant(block.first.weight * scale, None if constant is None else _bias(block.first, constant),
                           stream, block.first.padding)
    second = block.second.weight / scale
    into = first.flatten(1).abs().amax(dim=1)
    out = second.transpose(0, 1).flatten(1).abs().amax(dim=1)
    gamma = torch.where(into > 0, _pow2_tensor(into.clamp(min=1e-300) / max_entry, up=True), 1.0)
    copies = torch.where(out * gamma > max_entry, _pow2_tensor((out * gamma / max_entry).clamp(min=1.0), up=True), 1.0)
    room = torch.where(out > 0, _pow2_tensor(max_entry * copies / out.clamp(min=1e-300), up=False), gamma)
    balanced = _pow2_tensor(torch.where((into > 0) & (out > 0), into / out.clamp(min=1e-300), 1.0).sqrt(), up=True)
    gamma = torch.minimum(torch.maximum(balanced, gamma), torch.maximum(room, gamma))
    first = (first / gamma.view((-1,) + (1,) * (first.ndim - 1))).repeat_interleave(copies.long(), dim=0)
    second = (second * (gamma / copies).view((1, -1) + (1,) * (second.ndim - 2))).repeat_interleave(copies.long(), dim=1)
    if constant is not None and block.second.has_bias:
        column = _bias(block.second, scale * max_entry * constant)
        carried = int(power_of_two_at_least(max(1.0, float(column.abs().max()) / max_entry)))  # type: ignore[union-attr]
        first = _constant_units(first, stream, max_entry, block.first.padding, carried)
        second = _with_constant(second, column, _Stream(1.0, max_entry * constant, carried), block.second.padding)
    return ResidualStage(WeightLayer(first, block.first.padding),
                         WeightLayer(_zero_rows(second, stream), block.second.padding))
