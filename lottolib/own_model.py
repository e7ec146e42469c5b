"""Prune your own trained model: one call, biases and all, with the certificate's domain stated.

:func:`~lottolib.prune_model` takes a trained ``nn.Sequential`` F (linear layers and convolutions with biases, ReLUs,
flattens, residual blocks), and returns a :class:`~lottolib.ModelConstruction` whose
:meth:`~lottolib.ModelConstruction.module` takes the model's own raw inputs and computes

    x ↦ S · G̃(x, c),

where G̃ is a pruned random network (every weight it keeps is a random weight, bit for bit: nothing trained
or rescaled inside it) and c, S are two fixed powers of two from the model: c the constant appended to every
input, S the output scale. How they come about (:mod:`lottolib.folding`): F is rewritten, exactly, as a
bias-free network F̃ with F(x) = S · F̃(x, c), its biases read from the constant coordinate and carried
through σ by one constant unit per layer, and every layer scaled by a power of two into the construction's
range; G̃ is pruned to approximate F̃ (:mod:`lottolib.sequential`).

**The certificate, on the ball of radius r, for the model itself.** Let Δ be G̃'s certificate on the unit
ball: ‖G̃(z) − F̃(z)‖₂ ≤ Δ for ‖z‖₂ ≤ 1. G̃ and F̃ are bias-free ReLU networks, so both are positively
homogeneous (G̃(t z) = t G̃(z) for t > 0), and so is their difference: ‖G̃(z) − F̃(z)‖₂ ≤ Δ ‖z‖₂ for every z.
With biases, F itself is not homogeneous in x, which is why the bound is taken on the lifted input: for
‖x‖₂ ≤ r the lifted input z = (x, c) has ‖z‖₂ ≤ R = √(r² + m c²) (m = 1 for a vector, H·W for an image whose
constant channel has H·W pixels), so

    sup over ‖x‖₂ ≤ r of ‖S G̃(x, c) − F(x)‖₂ = S · sup ‖G̃(z) − F̃(z)‖₂ ≤ S · R · Δ,

which is :attr:`~lottolib.ModelConstruction.certificate` (every step rounded up). Nothing else is assumed: the bound
holds for every input in the ball, not only for the data. ``input_radius`` gives r; or ``data``, whose
largest row norm (rounded up) becomes r.

**c and S are not pruned weights.** G̃ has no biases, so the constant must come from outside, as an input;
and a pruned network can only keep weights in [-1, 1], so the scale S that undoes the rescaling is a fixed
factor after it. Both are exact powers of two, chosen before anything is sampled. For a classifier S changes
no argmax: G̃(x, c) alone predicts the same classes.

Introduced in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn

from . import bounds
from .bisection import smallest_k
from .checks import as_tensor, check_eps, check_positive_int
from .construction import CompositeConstruction
from .folding import FoldedModel, ModelLayer, ModelStage, fold_model, read_model
from .layer import METHODS
from .memory import (
    BYTES_PER_PARAMETER,
    OVERHEAD_BYTES,
    RAISE_LIMIT,
    MemoryLimitError,
    estimated_peak_bytes,
    format_bytes,
    memory_limit,
)
from .propagation import sqrt_up
from .seeds import check_seed
from .sequential import (
    LayerStep,
    SequentialConstruction,
    prune_sequential,
    random_parameters_per_unit,
    sequential_certificate,
)
from .subset_sum import MAX_SIDE_CANDIDATES

__all__ = [
    "DATA_STARTS",
    "MAX_ENTRY",
    "MIN_USEFUL_K",
    "SEARCH_PRECISION",
    "SUBSET_SUM_K_CAP",
    "AppendConstant",
    "ModelConstruction",
    "Scale",
    "prune_model",
]

MAX_ENTRY = {"subset_sum": 1.0, "pair": 0.5}
"""The bound ρ per method, every folded weight lying in [-ρ, ρ]. SubsetSum reaches any weight in [-1, 1]; the pair method's
error grows as |w| → 1 (chapter 2), so its weights are kept within [-1/2, 1/2]."""

SEARCH_PRECISION = 0.1
"""The k search stops when the smallest k that works is known within 10%."""

MIN_USEFUL_K = {"subset_sum": 16, "pair": 64}
"""Below this k the method certifies nothing for a trained layer of any size. With fewer than 8 units per side
SubsetSum's subsets rarely reach weights near 1 (the searches in chapter 5 and the appendix certify from
k ≈ 32 on), and the pair method's per-weight error is then of order 1/64 or worse. When the memory limit does
not allow this k, :func:`~lottolib.prune_model` says so before building anything."""

SUBSET_SUM_K_CAP = 16 * MAX_SIDE_CANDIDATES
"""SubsetSum's k search stops here. With k ≥ 8m units per input (m searched per side) its η has reached its floor
(:func:`~lottolib.subset_sum.eta_floor`), so a larger k no longer helps."""

DATA_STARTS = 256
"""The adversary starts from (at most) this many data rows, those of largest norm, besides its own."""


class AppendConstant(nn.Module):
    """x ↦ (x, c): one more input coordinate (for a batch (m, d)) or channel (for images (m, C, H, W)) equal to
    the fixed constant ``value``. It has no weight: the pruned network reads the constant through random weights."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(x, c) along dimension 1."""
        return torch.cat([x, torch.full((x.shape[0], 1, *x.shape[2:]), self.value, dtype=x.dtype, device=x.device)], 1)

    def extra_repr(self) -> str:
        return f"value={self.value!r}"


class Scale(nn.Module):
    """x ↦ ``factor``·x, the fixed output scale S that undoes the rescaling (a power of two, not a pruned weight)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """factor · x."""
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor!r}"


class _Narrow(nn.Module):
    """x ↦ its first ``count`` entries along dimension 1: drops the constant from a model that ends in a residual
    block (whose stream still carries it)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.narrow(1, 0, self.count)


@dataclass(frozen=True, eq=False)
class ModelConstruction(CompositeConstruction):
    """A pruned random twin of the user's trained model, certified on the ball ‖x‖₂ ≤ ``input_radius``.

    ``model`` is a float64 copy of the user's model (in eval mode), the target; ``folded`` its exact bias-free
    rewrite (:class:`~lottolib.folding.FoldedModel`); ``lifted`` the pruned random network G̃ for it, certified
    on the unit ball; ``seconds`` the time :func:`~lottolib.prune_model` took (search included), ``search`` the (k,
    certificate) of every k tried, in order.
    """

    model: nn.Module
    folded: FoldedModel
    lifted: SequentialConstruction
    raw_input_shape: tuple[int, ...]
    radius: float
    eps: float | None = None
    seconds: float = 0.0
    search: list[tuple[int, float]] = field(default_factory=list)
    data_starts: torch.Tensor | None = None

    @property
    def input_radius(self) -> float:
        """The radius r of the ball ‖x‖₂ ≤ r on which the certificate holds."""
        return self.radius

    @property
    def constant(self) -> float | None:
        """The constant c appended to every input (None for a model without biases, where nothing is appended)."""
        return self.folded.constant

    @property
    def scale(self) -> float:
        """S, the fixed output scale (a power of two)."""
        return self.folded.scale

    @cached_property
    def lifted_radius(self) -> float:
        """A float R ≥ √(r² + m c²), rounded up, so that every lifted input (x, c) with ‖x‖₂ ≤ r has norm at most R."""
        r = self.input_radius
        if self.constant is None:
            return r
        copies = 1 if len(self.folded.target.input_shape) == 1 else math.prod(self.folded.target.input_shape[1:])
        square = bounds.add_up(bounds.mul_up(r, r), bounds.mul_up(bounds.mul_up(self.constant, self.constant), copies))
        return sqrt_up(square)

    @cached_property
    def certificate(self) -> float:
        """S · R · Δ ≥ sup over ‖x‖₂ ≤ ``input_radius`` of ‖module(x) − model(x)‖₂ (exact arithmetic, rounded up;
        module docstring)."""
        return bounds.mul_up(bounds.mul_up(self.scale, self.lifted_radius), self.lifted.certificate)

    @property
    def positively_homogeneous(self) -> bool:
        """False when the model has biases, since then the largest error on the ball need not lie on its sphere."""
        return self.constant is None

    @property
    def parts(self) -> list[SequentialConstruction]:
        return [self.lifted]

    @property
    def method(self) -> str:
        """``"pair"`` or ``"subset_sum"``."""
        return self.lifted.method

    @property
    def k(self) -> int:
        """Units per input of every pair."""
        return self.lifted.k_per_layer[0]

    @property
    def description(self) -> str:
        return f"pruned random twin of the model (k = {self.k}, {self.method}) on ||x|| <= {self.input_radius:.4g}"

    @property
    def failure_hint(self) -> str:
        return "increase k or eps (the certificate scales with input_radius)"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.raw_input_shape

    def report(self) -> list[dict[str, object]]:
        """Per weight layer of the folded model (:meth:`lottolib.sequential.SequentialConstruction.report`)."""
        return self.lifted.report()

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Sequential:
        """The model's leading ReLUs and flattens (if any), :class:`~lottolib.own_model.AppendConstant` (c), the
        pruned random network G̃ (:meth:`lottolib.sequential.SequentialConstruction.module`), and
        :class:`~lottolib.own_model.Scale` (S): it takes the model's raw inputs.

        Parameters
        ----------
        compact, dtype
            As in :meth:`lottolib.Construction.module`.
        """
        modules: list[nn.Module] = [nn.ReLU() if stage == "relu" else nn.Flatten() for stage in self.folded.prefix]
        if self.constant is not None:
            modules.append(AppendConstant(self.constant))
        modules.extend(self.lifted.module(compact=compact, dtype=dtype))
        if self.folded.outputs is not None:
            modules.append(_Narrow(self.folded.outputs))
        modules.append(Scale(self.scale))
        return nn.Sequential(*modules)

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The user's model on raw inputs, in float64."""
        with torch.no_grad():
            return self.model(torch.as_tensor(x, dtype=torch.float64))

    def adversary_starts(self) -> torch.Tensor | None:
        """The data rows of largest norm (at most :data:`~lottolib.own_model.DATA_STARTS`), divided by
        ``input_radius``, if data was given."""
        return self.data_starts


def _positive(value: object, name: str) -> float:
    """``value`` as a float after checking it is a finite real number > 0."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _input_shape(stages: list[ModelStage], data: torch.Tensor | None, input_shape: object) -> tuple[int, ...]:
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or not input_shape:
            raise TypeError(f"input_shape must be the shape of one input as a tuple, e.g. (64,) or (1, 8, 8), "
                            f"got {input_shape!r}")
        shape = tuple(check_positive_int(s, "input_shape entry") for s in input_shape)
        if data is not None and shape != tuple(data.shape[1:]):
            raise ValueError(f"input_shape={shape} but the data rows have shape {tuple(data.shape[1:])}")
        return shape
    if data is not None:
        return tuple(data.shape[1:])
    first = next(stage for stage in stages if not isinstance(stage, str))
    layer = first if isinstance(first, ModelLayer) else first.first
    if layer.weight.ndim == 2 and "flatten" not in stages[: stages.index(first)]:
        return (layer.weight.shape[1],)
    raise ValueError("the model's input shape cannot be read from its first layer: pass input_shape=(C, H, W) "
                     "(the shape of one input) or data=...")


def _radius(data: torch.Tensor | None, input_radius: object) -> float:
    """r: ``input_radius``, or a float ≥ the largest exact row norm of ``data`` (the computed sum of d squares is
    within (d + 1)·u relative of the exact one, u = 2⁻⁵³; the inflation below covers it with room)."""
    largest = None
    if data is not None:
        squares = data.flatten(1).square().sum(dim=1)
        inflation = 1.0 + 4.0 * (data[0].numel() + 2) * bounds.UNIT_ROUNDOFF
        largest = sqrt_up(bounds.mul_up(float(squares.max()), inflation))
    if input_radius is None:
        if largest is None:
            raise ValueError("the certificate holds on a ball ||x|| <= r: pass input_radius=r, or data=... (a tensor "
                             "of inputs, one per row; r is the largest row norm)")
        return largest
    radius = _positive(input_radius, "input_radius")
    if largest is not None and largest > radius * (1 + 1e-12):
        raise ValueError(f"a data row has norm {largest:.6g} > input_radius={radius:.6g}: the certificate must cover "
                         "the data; pass a larger input_radius, or leave it out to use the data's")
    return radius


def _proxy(folded: FoldedModel, radius: float) -> float:
    """S · R · Δ for the folded model with the same small per-weight error in every pair: the recursion with
    Frobenius norms (cheap bounds on the spectral ones) and η = 10⁻³ (√n + √(2d)), the size of ‖[E⁺ | E⁻]‖₂ for
    n × 2d errors of size 10⁻³ (a conv pair's η also grows by √(hw)). Used only to choose c."""
    steps = []
    for layer in folded.target.layers:
        n, d = layer.matrix.shape
        spread = math.sqrt(math.prod(layer.weight.shape[2:])) if layer.is_conv else 1.0
        steps.append(LayerStep(float(layer.matrix.norm()) * spread, 1e-3 * (math.sqrt(n) + math.sqrt(2 * d)) * spread))
    copies = 1 if len(folded.target.input_shape) == 1 else math.prod(folded.target.input_shape[1:])
    lifted = math.sqrt(radius**2 + copies * (folded.constant or 0.0) ** 2)
    return folded.scale * lifted * sequential_certificate(steps)


def _fold(stages: list[ModelStage], input_shape: tuple[int, ...], radius: float, constant: float | None,
          max_entry: float) -> FoldedModel:
    """The folded model for the given c, or for the power of two c = 2^j that minimises :func:`_proxy`: j every 5
    within 30 of log₂ r, then every j within 4 of the best (skipping any c for which a residual block does not
    fit)."""
    if constant is not None:
        return fold_model(stages, input_shape, constant, max_entry)
    centre = math.frexp(radius)[1]
    scores: dict[int, tuple[float, FoldedModel]] = {}
    error: ValueError | None = None

    def score(exponent: int) -> None:
        nonlocal error
        if exponent in scores:
            return
        try:
            folded = fold_model(stages, input_shape, math.ldexp(1.0, exponent), max_entry)
        except ValueError as err:
            error = err
            return
        scores[exponent] = (_proxy(folded, radius), folded)

    for exponent in range(centre - 30, centre + 31, 5):
        score(exponent)
    if not scores:
        raise error  # type: ignore[misc]
    best = min(scores, key=lambda j: scores[j][0])
    for exponent in range(best - 4, best + 5):
        score(exponent)
    return min(scores.values(), key=lambda pair: pair[0])[1]


def _k_max(per_unit: int) -> int:
    """The largest k whose random network (``per_unit`` random weights per unit of k) stays within the memory
    limit's estimate (:mod:`lottolib.memory`), or 0."""
    return max(0, (memory_limit() - OVERHEAD_BYTES) // (BYTES_PER_PARAMETER * per_unit))


def _network_size(k: int, per_unit: int) -> str:
    return (f"k = {k:,} units per input gives {per_unit * k:,} random weights, an estimated peak of "
            f"{format_bytes(estimated_peak_bytes(per_unit * k))}")


GO_FURTHER = f"{RAISE_LIMIT}, ask for a larger eps or a smaller input_radius, or prune a smaller model"
"""What a model too large for the memory limit can do instead."""


def _check_fits(per_unit: int, method: str) -> None:
    """Raise :class:`~lottolib.memory.MemoryLimitError`, before anything is built, if the memory limit does not
    allow even :data:`MIN_USEFUL_K` units per input."""
    k_max, needed = _k_max(per_unit), MIN_USEFUL_K[method]
    if k_max < needed:
        raise MemoryLimitError(
            f"the model is too large for the memory limit of {format_bytes(memory_limit())}: it allows at most k = "
            f"{k_max} units per input ({per_unit:,} random weights per unit of k), but method={method!r} certifies "
            f"nothing below about k = {needed}, and {_network_size(needed, per_unit)}. "
            + ("Use method='subset_sum' (the default), which needs far fewer units, raise" if method == "pair" else "Raise")
            + " the limit with lottolib.set_memory_limit if the machine has the memory, or prune a smaller model")


def _search(build: Callable[[int], tuple[SequentialConstruction, float]], eps: float, method: str,
            per_unit: int) -> tuple[SequentialConstruction, float]:
    """The smallest k (within :data:`SEARCH_PRECISION`) whose certificate meets eps, by doubling then bisection
    (:func:`~lottolib.bisection.smallest_k`), never above the largest k the memory limit allows; for SubsetSum
    never above :data:`SUBSET_SUM_K_CAP`, where its η has reached its floor."""
    k_max = _k_max(per_unit)
    limit = format_bytes(memory_limit())
    ceiling = min(k_max, SUBSET_SUM_K_CAP) if method == "subset_sum" else k_max

    def attempt(k: int) -> tuple[SequentialConstruction, float]:
        construction, certificate = build(k)
        trend = math.ceil(k * certificate / eps)  # the pair method's certificate falls like 1/k
        if method == "pair" and k >= 8 and trend > k_max:
            raise MemoryLimitError(
                f"method='pair' certifies {certificate:.3g} > eps = {eps:.3g} at k = {k}, and its certificate falls "
                f"like 1/k, so eps needs about {_network_size(trend, per_unit)}, above the memory limit of {limit}. "
                "Use method='subset_sum' (the default), which needs far fewer units, or " + GO_FURTHER)
        return construction, certificate

    k, (construction, certificate) = smallest_k(attempt, lambda result: result[1] <= eps,
                                                precision=SEARCH_PRECISION, ceiling=ceiling)
    if certificate <= eps:
        return construction, certificate
    if k == k_max:
        raise MemoryLimitError(f"no k within the memory limit of {limit} certifies eps = {eps:.3g}: the largest, "
                               f"{_network_size(k, per_unit)}, certifies {certificate:.3g}. To go further, " + GO_FURTHER)
    raise ValueError(f"SubsetSum certifies {certificate:.3g} > eps = {eps:.3g} at k = {k}, beyond which its η has reached "
                     f"its floor (it searches at most {MAX_SIDE_CANDIDATES} units per side): ask for eps >= "
                     f"{certificate:.3g} or a smaller input_radius")


def prune_model(
    model: nn.Module,
    eps: float,
    *,
    input_radius: float | None = None,
    data: object = None,
    input_shape: tuple[int, ...] | None = None,
    seed: int = 0,
    method: str = "subset_sum",
    k: int | str = "search",
    constant: float | None = None,
) -> ModelConstruction:
    """Prune a random network into a certified twin of a trained model, biases and all (module docstring).

    Parameters
    ----------
    model
        A trained ``nn.Sequential`` of ``nn.Linear``, ``nn.Conv2d`` (stride 1, small zero padding), ``nn.ReLU``,
        ``nn.Flatten`` and :class:`lottolib.residual.Residual` blocks, with or without biases
        (:data:`lottolib.folding.SUPPORTED`). It is copied, never changed.
    eps
        The tolerance: the certificate must satisfy sup over ‖x‖₂ ≤ r of ‖module(x) − model(x)‖₂ ≤ eps, in the
        model's own output units.
    input_radius
        r, the radius of the ball of inputs the certificate covers.
    data
        Inputs, one per row, of shape ``(m, *input_shape)``: r defaults to their largest norm (rounded up), the input shape
        to theirs, and the rows of largest norm seed the adversary of :func:`lottolib.empirical_error`.
    input_shape
        The shape of one input, needed for a model that starts with a convolution or a flatten when no data is
        given.
    seed
        A non-negative integer: the random network comes from its one stream (the same seed gives the same
        masks).
    method
        ``"subset_sum"`` (default: chapter 9's logarithmic width, which the appendix measures at 4 to 300 times
        fewer random weights than the pair method for the same certificate) or ``"pair"`` (chapter 2).
    k
        Units per input of every pair: ``"search"`` (default), the smallest k (within 10%) whose certificate
        meets eps, by doubling then bisection, never above the memory limit; or an int.
    constant
        c, a power of two; by default the c = 2^j that minimises the certificate one would get with equal
        per-weight errors in every layer.

    Returns
    -------
    ModelConstruction
        Its ``module()`` takes the model's raw inputs; ``certificate`` holds on ‖x‖₂ ≤ r for the model itself.
        With a fixed k it is returned whether or not it meets eps (``succeeded``, ``message``).

    Raises
    ------
    ValueError
        For a module the construction does not support (naming it and its index, and what is supported), a
        residual block too strong for weights in [-1, 1], no radius, data outside ``input_radius``, or a bad
        eps, seed, method, k or constant.
    TypeError
        If ``model`` is not an ``nn.Sequential``.
    lottolib.memory.MemoryLimitError
        Before building anything above the memory limit, with the estimate, the limit and what to change:
        when even k = 1 would exceed it, when the search reaches the largest k the limit allows without
        meeting eps, or (pair method) when the certificate's 1/k trend puts the k eps needs above it.
    """
    started = time.perf_counter()
    eps = check_eps(eps)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    checked = check_seed(seed)
    if isinstance(checked, torch.Generator):
        raise TypeError("seed must be an integer, not a torch.Generator: pruning samples one network per k it tries, "
                        "each from the same seed")
    stages = read_model(model)
    rows = None if data is None else as_tensor(data, "data")
    if rows is not None and (rows.ndim < 2 or rows.shape[0] == 0):
        raise ValueError(f"data must hold one input per row, shape (m, *input shape), got {tuple(rows.shape)}")
    shape = _input_shape(stages, rows, input_shape)
    target_model = copy.deepcopy(model).double().eval()
    try:
        with torch.no_grad():
            target_model(torch.zeros(1, *shape, dtype=torch.float64))
    except RuntimeError as err:
        raise ValueError(f"the model does not accept inputs of shape {shape}: {err}") from None
    radius = _radius(rows, input_radius)
    value = None if constant is None else _positive(constant, "constant")
    if value is not None and math.frexp(value)[0] != 0.5:
        raise ValueError(f"constant must be a power of two (so that folding is exact), e.g. 0.5, 1 or 2; got {value}")
    folded = _fold(stages, shape, radius, value, MAX_ENTRY[method])
    per_unit = random_parameters_per_unit(folded.target)  # a residual block's units (γ copies, carried) depend on c
    _check_fits(per_unit, method)
    starts = None
    if rows is not None:
        flat = rows.flatten(1)
        starts = flat[flat.norm(dim=1).argsort(descending=True)[:DATA_STARTS]] / radius

    tried: list[tuple[int, float]] = []

    def make(lifted: SequentialConstruction, seconds: float) -> ModelConstruction:
        return ModelConstruction(target_model, folded, lifted, shape, radius, eps, seconds, tried, starts)

    def build(value: int) -> tuple[SequentialConstruction, float]:
        lifted = prune_sequential(folded.target, k=value, seed=checked, method=method)
        certificate = make(lifted, 0.0).certificate
        tried.append((value, certificate))
        return lifted, certificate

    if k == "search":
        lifted, _ = _search(build, eps, method, per_unit)
    elif isinstance(k, str):
        raise ValueError(f"k must be 'search' or an int, got {k!r}")
    else:
        lifted, _ = build(check_positive_int(k, "k"))
    return make(lifted, time.perf_counter() - started)


prune = prune_model
"""``lottolib.prune(model, eps, ...)``: :func:`~lottolib.prune_model` under the short name."""
