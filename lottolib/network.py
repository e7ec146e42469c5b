"""The theorem: a depth-l target from a pruned random network of depth 2l.

Pair i of the random network (layers 2i−1, 2i) is a random block pruned to approximate W_i;
the ReLU after layer 2i plays the target's ReLU, and there is none after layer 2l. The
certificate bounds sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ from the construction itself (A₀ = 1, Δ₀ = 0):

    Δ_i = η_i (A_{i−1} + Δ_{i−1}) + ‖W_i‖₂ Δ_{i−1},   A_i = Π_{j ≤ i} ‖W_j‖₂,

since σ is 1-Lipschitz and does not increase norms, so the input of pair i is within Δ_{i−1}
of the target's and has norm at most A_{i−1} + Δ_{i−1}. For i ≥ 2 that input is the output of a
ReLU, so only E⁺_i acts on it and η_i can be ‖E⁺_i‖₂. Every step is rounded outward
(:mod:`lottolib.bounds`). For small networks :meth:`NetworkConstruction.tight_certificate` gives a
far tighter verified bound (:mod:`lottolib.propagation`).

Introduced in chapter 5, *Deep networks*.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from . import bounds
from .adversary import singular_starts
from .bisection import smallest_k
from .checks import as_matrix, check_bounded, check_eps, check_fraction, check_positive_int
from .construction import CompositeConstruction
from .layer import METHODS, LayerConstruction, prune_block
from .memory import LARGER_EPS, SMALLER_K, MemoryLimitError, format_widths
from .probability import layer_width_bound
from .propagation import (
    DEFAULT_MAX_SIZE,
    DEFAULT_SECONDS,
    DEFAULT_STRUCTURED_MAX_SIZE,
    CertificateReport,
    tight_certificate_of,
)
from .random_network import RandomBlock, linear, relu_stack, sample_weights
from .seeds import check_seed

__all__ = [
    "NetworkConstruction",
    "forward_target",
    "network_width_bound",
    "prune_random_network",
    "target_weights",
]


def target_weights(target: nn.Module | Sequence[object]) -> list[torch.Tensor]:
    """The weight matrices W_1 … W_l (float64) of a bias-free ReLU network, checked.

    Parameters
    ----------
    target
        An ``nn.Sequential`` alternating bias-free ``nn.Linear`` and ``nn.ReLU`` (exactly that
        class; Linear first and last), or a list of matrices W_i of shape (n_i, n_{i−1}).

    Returns
    -------
    list[torch.Tensor]
        Float64 copies of the weights, on the CPU.

    Raises
    ------
    TypeError, ValueError
        For anything else, biases, shapes that do not chain, entries outside [-1, 1], NaN or
        infinite entries, complex weights, or weights not on the CPU.
    """
    if isinstance(target, nn.Sequential):
        modules = list(target)
        linears = modules[0::2]
        if not modules or len(modules) % 2 == 0 or not all(type(m) is nn.Linear for m in linears) \
                or not all(type(m) is nn.ReLU for m in modules[1::2]):
            raise ValueError("target must alternate nn.Linear and nn.ReLU (exactly these classes), "
                             "starting and ending with nn.Linear")
        if any(m.bias is not None for m in linears):
            raise ValueError("target layers must have bias=False: fold biases into the weights with a constant "
                             "input coordinate (append 1 to x and the bias as a column of W)")
        matrices: list[object] = [m.weight for m in linears]
    elif isinstance(target, nn.Module):
        raise TypeError(f"target must be an nn.Sequential or a list of matrices, got {type(target).__name__}")
    elif isinstance(target, (torch.Tensor, str)):
        raise TypeError("target must be a list of weight matrices (or an nn.Sequential); for one layer pass [W]")
    else:
        matrices = list(target)
        if not matrices:
            raise ValueError("target has no layers: pass at least one weight matrix")
    weights = [as_matrix(m, f"W_{i + 1}") for i, m in enumerate(matrices)]
    for i, (previous, current) in enumerate(itertools.pairwise(weights)):
        if current.shape[1] != previous.shape[0]:
            raise ValueError(f"W_{i + 2} takes {current.shape[1]} inputs but W_{i + 1} has {previous.shape[0]} outputs")
    for i, weight in enumerate(weights):
        check_bounded(weight, f"W_{i + 1}")
    return weights


def network_width_bound(shapes: Sequence[tuple[int, int]], eps: float, delta: float = 0.05) -> list[int]:
    """Units per input k_i for each layer such that, for a target with ‖W_i‖₂ ≤ 1 fixed before
    sampling, the certificate is ≤ ε with probability ≥ 1 − δ (chapter 5's theorem).

    Proof (chapter 5): with η_i ≤ ε/(2l) and ‖W_i‖₂ ≤ 1 the recursion gives
    Δ_l ≤ (1 + ε/(2l))^l − 1 ≤ e^{ε/2} − 1 ≤ ε; each layer gets failure budget δ/l, and
    :func:`~lottolib.layer_width_bound` gives its k_i.

    Parameters
    ----------
    shapes
        The target's layer shapes (n_i, n_{i−1}).
    eps
        The tolerance, 0 < ε ≤ 1.
    delta
        The failure probability, 0 < δ < 1.

    Returns
    -------
    list[int]
        k_i for each layer.

    Raises
    ------
    ValueError
        Unless 0 < ε ≤ 1 and 0 < δ < 1.
    """
    eps = check_eps(eps)
    delta = check_fraction(delta, "delta")
    if eps > 1:
        raise ValueError(f"network_width_bound needs eps <= 1, got {eps}")
    depth = len(shapes)
    return [layer_width_bound(n, d, eps / (2 * depth), delta / depth) for n, d in shapes]


def forward_target(weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """F(x) = W_l σ(W_{l−1} … σ(W_1 x)), the target network.

    Parameters
    ----------
    weights
        W_1 … W_l, W_i of shape (n_i, n_{i−1}).
    x
        Inputs (..., d).

    Returns
    -------
    torch.Tensor
        (..., n_l), in the dtype of ``x``.
    """
    for i, weight in enumerate(weights):
        x = x @ weight.to(x.dtype).T
        if i < len(weights) - 1:
            x = torch.relu(x)
    return x


@dataclass(frozen=True, eq=False)
class NetworkConstruction(CompositeConstruction):
    """A pruned random network of depth 2l approximating a depth-l target, with its certificate.

    ``target`` lists the float64 W_1 … W_l; ``layers[i]`` is the pruned block for W_{i+1}.
    ``masks`` lists 2l boolean masks in the order of the network's ``nn.Linear`` layers.
    """

    target: list[torch.Tensor]
    layers: list[LayerConstruction]
    eps: float | None = None
    seed: int | None = None

    @cached_property
    def norms(self) -> list[float]:
        """Upper bounds on ‖W_i‖₂, rounded up."""
        return [bounds.spectral_norm_bound(w) for w in self.target]

    @cached_property
    def certificate(self) -> float:
        """Δ_l ≥ sup over ‖x‖₂ ≤ 1 of ‖G̃(x) − F(x)‖₂ (exact arithmetic, rounded outward).

        The recursion of the module docstring with η_1 = ‖[E⁺_1 | E⁻_1]‖₂ and, for i ≥ 2,
        η⁺_i = ‖E⁺_i‖₂: the input of pair i ≥ 2 is the output of a ReLU, so σ(−h) = 0 there and
        only E⁺_i acts (chapter 5).
        """
        return bounds.certificate(self.norms, _certified_etas(self.layers))

    @cached_property
    def recursion_certificate(self) -> float:
        """Chapter 5's first form, kept for comparison, the recursion with η_i = ‖[E⁺_i | E⁻_i]‖₂ at every layer."""
        return bounds.certificate(self.norms, self.etas)

    # Not mutated: its tests run the SDP solver, which deadlocks in mutmut's forked workers.
    def tight_certificate(self, *, max_size: int = DEFAULT_MAX_SIZE,  # pragma: no mutate block
                          structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE,
                          seconds: float = DEFAULT_SECONDS) -> CertificateReport:
        """The verified Lagrangian certificate (:func:`lottolib.propagation.tight_certificate_of`).

        Parameters
        ----------
        max_size
            Solve the full semidefinite relaxation only when its side k = 2d + 2Σ_{i<l} n_i is at most
            this (the cost grows like k⁶: seconds at k = 40, minutes at k = 90); an integer in
            1 … :data:`lottolib.propagation.LARGEST_MAX_SIZE`.
        structured_max_size, seconds
            Above both ``max_size`` and :data:`lottolib.propagation.DEFAULT_MAX_SIZE`, up to
            ``structured_max_size`` coordinates, the structured solver with this wall-clock budget.

        Returns
        -------
        lottolib.propagation.CertificateReport
            ``recursion`` is :attr:`certificate`; ``tight`` ≤ ``recursion`` bounds the exact error. The relaxation is
            solved for the stored float64 errors Ê; the distance to the exact errors is added as the
            recursion bound of ‖G̃_exact − G̃_Ê‖ (layer gains ‖W_i‖ + η_i, per-layer slack ‖E − Ê‖_F).
            When the relaxation is not used, ``method`` is ``"recursion"`` and ``note`` says why.

        Raises
        ------
        ModuleNotFoundError
            When the full relaxation is to be solved and cvxpy or Clarabel is missing (never the recursion
            silently in its place); ``TypeError``/``ValueError`` for a bad ``max_size``, ``structured_max_size``
            or ``seconds``.
        """
        return tight_certificate_of(self, max_size=max_size, structured_max_size=structured_max_size, seconds=seconds)

    @property
    def method(self) -> str:
        """``"pair"`` or ``"subset_sum"``."""
        return self.layers[0].method

    @property
    def etas(self) -> list[float]:
        """η_i of each pruned pair."""
        return [layer.eta for layer in self.layers]

    @property
    def k_per_layer(self) -> list[int]:
        """Units per input k_i of each pair."""
        return [layer.block.k for layer in self.layers]

    @property
    def hidden_widths(self) -> list[int]:
        """Widths of the random network's layers 1, 3, …, 2l−1 (n_{i−1}·k_i)."""
        return [layer.block.hidden_width for layer in self.layers]

    @property
    def parts(self) -> list[LayerConstruction]:
        return self.layers

    @property
    def description(self) -> str:
        return f"depth-{2 * len(self.layers)} pruned random network (k = {self.k_per_layer}, {self.method})"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.target[0].shape[1],)

    def report(self) -> list[dict[str, float | int]]:
        """Per target layer: shape, k, hidden width, η, random and kept parameter counts."""
        return [
            {"layer": i + 1, "n": layer.target.shape[0], "d": layer.target.shape[1], "k": layer.block.k,
             "hidden": layer.block.hidden_width, "eta": layer.eta,
             "random_parameters": layer.random_parameters, "kept_parameters": layer.kept_parameters}
            for i, layer in enumerate(self.layers)
        ]

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Module:
        return relu_stack([linear(weight) for layer in self.layers
                           for weight in layer.pruned_weights(compact=compact, dtype=dtype)])

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        return forward_target(self.target, torch.as_tensor(x, dtype=torch.float64))

    def adversary_starts(self) -> torch.Tensor:
        """The first pair's starts (:meth:`LayerConstruction.adversary_starts`) and the singular vectors of
        the target's products W_i ⋯ W_1."""
        products, product = [], self.target[0]
        for weight in self.target[1:]:
            product = weight @ product
            products.append(product)
        return torch.cat([self.layers[0].adversary_starts(), singular_starts(products, self.input_shape[0])])


def _build(weights: list[torch.Tensor], ks: list[int], eps: float, seed: object, method: str,
           proved: float | None = None, exact: bool = False) -> NetworkConstruction:
    """Sample and prune; ``proved`` is δ when ks is the proved width (for the memory message)."""
    shapes = [(d * k, d) if first else (n, d * k)
              for (n, d), k in zip((w.shape for w in weights), ks, strict=True) for first in (True, False)]
    if proved is None:
        what, advice = f"a depth-{2 * len(weights)} random network with k = {format_widths(ks)} units per input", SMALLER_K
    else:
        what = f"the proved width for eps={eps:g} and delta={proved:g}, k = {format_widths(ks)} units per input,"
        advice = LARGER_EPS
    sampled = sample_weights(shapes, seed, what=what, advice=advice)
    blocks = [RandomBlock(first, second, k) for k, first, second in zip(ks, sampled[0::2], sampled[1::2], strict=True)]
    if method == "subset_sum" and not exact:
        layers = _prune_within_budgets(blocks, weights, eps)
    else:
        layers = [prune_block(block, weight, method=method) for block, weight in zip(blocks, weights, strict=True)]
    checked = check_seed(seed)
    return NetworkConstruction(weights, layers, eps, checked if isinstance(checked, int) else None)


def _shares(weights: list[torch.Tensor]) -> list[float]:
    """Each layer's share of the error budget, ∝ (n d √(√n + √(2d)))^{2/3} for an n×d layer.

    SubsetSum's time for a layer is about its n·d weights times 2^{m/2} for m units searched, and
    m grows like log₂(1/t) for a per-weight tolerance t ∝ η_i / (√n + √(2d)) (see
    :func:`~lottolib.subset_sum.layer_tolerance`): time ∝ n d √((√n + √(2d)) / η_i). Minimising the
    sum over layers for a fixed Σ η_i gives these shares: large layers get most of ε.
    """
    costs = [(w.shape[0] * w.shape[1] * math.sqrt(math.sqrt(w.shape[0]) + math.sqrt(2 * w.shape[1]))) ** (2 / 3)
             for w in weights]
    return [cost / sum(costs) for cost in costs]


def _next_budget(norms: list[float], etas: list[float], shares: list[float], eps: float) -> float:
    """The η the next layer may have: the largest x·shares[i] (i = len(etas)) such that the certificate
    with the layers built so far at their ``etas`` and every layer from i on at x·share stays at most
    eps (bisection; 0 when the layers so far leave nothing)."""
    i = len(etas)

    def fits(x: float) -> bool:
        return bounds.certificate(norms, etas + [x * share for share in shares[i:]]) <= eps * (1 - 1e-9)

    if not fits(0.0):
        return 0.0
    low, high = 0.0, eps
    while fits(high) and high < 1e300:
        low, high = high, 2 * high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low * shares[i]


def _prune_within_budgets(blocks: list[RandomBlock], weights: list[torch.Tensor], eps: float) -> list[LayerConstruction]:
    """SubsetSum layers, each searched only until its η meets its share of eps (:func:`_next_budget`).

    Layer i's certificate term is η for the first layer and η⁺ after it (the network's
    certificate); a layer that leaves budget unused passes it on. If the certificate still
    misses eps while some layers stopped early and the full search could make it meet eps, those
    layers are searched fully: the network then succeeds whenever the full search of every layer does.
    """
    norms = [bounds.spectral_norm_bound(w) for w in weights]
    shares = _shares(weights)
    layers: list[LayerConstruction] = []
    for block, weight in zip(blocks, weights, strict=True):
        budget = _next_budget(norms, _certified_etas(layers), shares, eps)
        layers.append(prune_block(block, weight, method="subset_sum", eps=budget) if budget > 0
                      else prune_block(block, weight, method="subset_sum"))
    if bounds.certificate(norms, _certified_etas(layers)) <= eps or all(layer.exact for layer in layers):
        return layers
    best_case = [eta if layer.exact else 0.0 for layer, eta in zip(layers, _certified_etas(layers), strict=True)]
    if bounds.certificate(norms, best_case) > eps:
        return layers  # the full search cannot make it meet eps either
    return [layer if layer.exact else prune_block(layer.block, layer.target, method="subset_sum", eps=layer.eps,
                                                  exact=True) for layer in layers]


def _certified_etas(layers: list[LayerConstruction]) -> list[float]:
    """What the network certificate uses of each layer: η for the first, η⁺ after it."""
    return [layer.eta if i == 0 else layer.eta_plus for i, layer in enumerate(layers)]


def _fixed_k(k: object, depth: int) -> list[int]:
    if isinstance(k, (list, tuple)):
        ks = [check_positive_int(value, "k") for value in k]
        if len(ks) != depth:
            raise ValueError(f"k lists {len(ks)} values for a target of depth {depth}: give one per layer, or one int")
        return ks
    return [check_positive_int(k, "k")] * depth


def prune_random_network(
    target: nn.Module | Sequence[object],
    eps: float,
    *,
    seed: object,
    k: int | Sequence[int] | str = "search",
    delta: float = 0.05,
    method: str = "pair",
    exact: bool = False,
) -> NetworkConstruction:
    """Sample a random ReLU network of depth 2l from ``seed`` and prune it to approximate ``target``.

    Parameters
    ----------
    target
        A bias-free ReLU network: ``nn.Sequential`` of Linear/ReLU or a list of matrices W_i with
        entries in [-1, 1] (see :func:`target_weights`).
    eps
        The tolerance the certificate must meet.
    seed
        A non-negative integer or a ``torch.Generator``; all blocks come from its one stream, in order.
    k
        Hidden units per input coordinate (pair i has n_{i−1}·k_i hidden units):

        - ``"search"`` (default): the smallest common k, by doubling then bisection (to 2%),
          whose certificate meets ``eps`` for this seed;
        - ``"proved"``: :func:`network_width_bound` for (``eps``, ``delta``), which works with
          probability ≥ 1 − δ for every target with ‖W_i‖₂ ≤ 1 (the pair method's bound);
        - an int (every layer) or a list (one per layer).
    delta
        Failure probability for ``k="proved"``.
    method
        ``"pair"`` (chapter 2) or ``"subset_sum"`` (chapter 9). SubsetSum stops searching a layer's
        weights once its η meets that layer's share of eps (see :func:`~lottolib.prune_block`); the
        network succeeds whenever the full search of every layer would.
    exact
        SubsetSum only: search every weight fully (the exact best subset of its top window).

    Returns
    -------
    NetworkConstruction
        For a fixed k, returned whether or not its certificate meets ``eps`` (``succeeded`` and
        ``message`` say which).

    Raises
    ------
    lottolib.memory.MemoryLimitError
        Before sampling, if the network would exceed the memory limit (for ``"search"``: if no k
        below the limit meets ``eps``).
    ValueError, TypeError
        For a bad target, eps, seed, k, delta or method.
    """
    eps = check_eps(eps)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_seed(seed)
    weights = target_weights(target)
    if k == "proved":
        ks = network_width_bound([(w.shape[0], w.shape[1]) for w in weights], min(eps, 1.0), delta)
        return _build(weights, ks, eps, seed, method, proved=delta, exact=exact)
    if k == "search":
        if isinstance(seed, torch.Generator):
            raise TypeError("k='search' samples several networks from one seed, so it needs an integer seed")
        try:
            return smallest_k(lambda value: _build(weights, [value] * len(weights), eps, seed, method, exact=exact),
                              lambda construction: construction.succeeded)[1]
        except MemoryLimitError as err:
            raise MemoryLimitError(f"no k below the memory limit certifies eps={eps} for seed {seed} with "
                                   f"method={method!r}: {err}") from None
    if isinstance(k, str):
        raise ValueError(f"k must be 'search', 'proved', an int or a list of ints, got {k!r}")
    return _build(weights, _fixed_k(k, len(weights)), eps, seed, method, exact=exact)
