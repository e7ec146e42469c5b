"""Finding a subnetwork by search instead of construction: edge-popup (Ramanujan et al., 2020).

Every weight of a random network gets a score s; the forward pass uses the weight only if |s|
is among the top ``keep`` fraction of its layer, so the network computes with
W ⊙ M(s), M(s) ∈ {0, 1}. The weights W are never changed; the scores are trained by gradient
descent with the straight-through estimator: the gradient of the loss with respect to the
masked weight's mask entry, ∂L/∂M · W, is passed to s as if M(s) were the identity.

Also here: exhaustive mask search, which shows why search must be heuristic (2 to the power of the number of weights, masks).

Introduced in chapter 8, *Hardness, and heuristics that work*.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .checks import check_positive_int
from .construction import Construction, masked
from .digits import accuracy
from .random_network import linear, relu_stack, sample_weights
from .seeds import derived
from .subset_sum import subset_bits

__all__ = ["EdgePopupResult", "MaskedLinear", "exhaustive_mask_search", "train_dense", "train_edge_popup"]


class _TopFraction(torch.autograd.Function):
    """Forward: the 0/1 mask of the largest ``keep`` fraction of ``magnitudes``. Backward: straight through."""

    @staticmethod
    def forward(ctx: object, magnitudes: torch.Tensor, keep: float) -> torch.Tensor:
        count = max(1, round(keep * magnitudes.numel()))
        threshold = magnitudes.flatten().kthvalue(magnitudes.numel() - count + 1).values
        return (magnitudes >= threshold).to(magnitudes.dtype)

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


class MaskedLinear(nn.Module):
    """A bias-free linear layer with frozen random weights (out, in) and trainable scores of the same shape."""

    def __init__(self, weight: torch.Tensor, keep: float, generator: torch.Generator) -> None:
        super().__init__()
        if not 0 < keep <= 1:
            raise ValueError(f"keep must be a fraction in (0, 1], got {keep}")
        self.weight = nn.Parameter(weight.clone(), requires_grad=False)
        bound = 1 / weight.shape[1] ** 0.5
        self.scores = nn.Parameter((torch.rand(weight.shape, generator=generator, dtype=weight.dtype) * 2 - 1) * bound)
        self.keep = keep

    def mask(self) -> torch.Tensor:
        """The current 0/1 mask (out, in)."""
        return _TopFraction.apply(self.scores.abs(), self.keep)  # the gradient reaches s through |s|

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ (self.weight * self.mask()).T


@dataclass(frozen=True, eq=False)
class EdgePopupResult(Construction):
    """The subnetwork edge-popup found: ``kept`` (the masks) over the ``sampled`` random weights (float32, untouched).

    A search fits labelled data, not a target network: there is no certificate (``math.inf``),
    :meth:`error` takes labels and returns 1 for each misclassified input, and ``scores`` are the
    trained scores the masks came from.
    """

    sampled: list[torch.Tensor]
    kept: list[torch.Tensor]
    scores: list[torch.Tensor]
    keep: float
    train_accuracy: float
    test_accuracy: float
    eps: float | None = None

    @property
    def random_weights(self) -> list[torch.Tensor]:
        return self.sampled

    @property
    def masks(self) -> list[torch.Tensor]:
        return self.kept

    @property
    def certificate(self) -> float:
        return math.inf

    @property
    def description(self) -> str:
        sizes = [self.random_weights[0].shape[1], *(w.shape[0] for w in self.random_weights)]
        return (f"edge-popup subnetwork of a random {'-'.join(map(str, sizes))} network keeping {self.keep:.0%} "
                f"of each layer (test accuracy {self.test_accuracy:.4f})")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.random_weights[0].shape[1],)

    def module(self, *, compact: bool = False, dtype: torch.dtype = torch.float64) -> nn.Module:
        """The subnetwork as a plain bias-free ReLU MLP: random weights where the mask is 1, +0.0 elsewhere
        (``compact`` changes nothing: a search keeps no unit structure)."""
        return relu_stack([linear(masked(w, m, dtype)) for w, m in zip(self.random_weights, self.masks, strict=True)])

    def target_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise TypeError("edge-popup fits labelled data and has no target network: use error(x, y) or accuracy")

    def error(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """1.0 for each input of x (m, d) the subnetwork misclassifies against the labels y (m,), else 0.0."""
        if y is None:
            raise TypeError("edge-popup has no target network: pass the labels, error(x, y)")
        with torch.no_grad():
            return (self.module()(torch.as_tensor(x, dtype=torch.float64)).argmax(dim=1) != y).double()


def train_edge_popup(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    hidden: Sequence[int] = (256, 256),
    keep: float = 0.5,
    epochs: int = 150,
    lr: float = 0.01,
    temperature: float = 100.0,
    seed: object = 0,
) -> EdgePopupResult:
    """Edge-popup on a bias-free random ReLU MLP (weights U[-1, 1] from ``seed``), full-batch Adam on the scores.

    Shapes: x (m, d) float64, y (m,) int64 class labels. Only scores are trained (from their own
    stream, derived from ``seed``); the random weights are returned untouched (``random_weights``, the
    sampled float32).
    The loss reads the logits times ``temperature``/Π√(fan-in): a positive factor, so predictions
    are unchanged, but without it the logits of a random U[-1, 1] network on unit-ball inputs are
    too flat to learn from (measured: test accuracy 0.65 at factor 1/Π√(fan-in), 0.97 at 100×).
    """
    sizes = [x_train.shape[1], *(check_positive_int(h, "hidden width") for h in hidden), int(y_train.max()) + 1]
    shapes = [(n, d) for d, n in itertools.pairwise(sizes)]
    sampled = sample_weights(shapes, seed, what="the edge-popup network")
    generator = derived(seed, "edge-popup scores")
    network = relu_stack([MaskedLinear(weight.double(), keep, generator) for weight in sampled])
    scale = temperature / torch.tensor([float(d) ** 0.5 for _, d in shapes]).prod()
    optimizer = torch.optim.Adam([m.scores for m in network if isinstance(m, MaskedLinear)], lr=lr)
    for _ in range(check_positive_int(epochs, "epochs")):
        optimizer.zero_grad()
        nn.functional.cross_entropy(network(x_train) * scale, y_train).backward()
        optimizer.step()
    layers = [m for m in network if isinstance(m, MaskedLinear)]
    masks = [m.mask().detach().bool() for m in layers]
    return EdgePopupResult(sampled, masks, [m.scores.detach() for m in layers], keep,
                           accuracy(network, x_train, y_train), accuracy(network, x_test, y_test))


def train_dense(
    x_train: torch.Tensor, y_train: torch.Tensor, *, hidden: Sequence[int] = (256, 256), epochs: int = 150,
    lr: float = 0.01, seed: int = 0,
) -> nn.Sequential:
    """The usual alternative for comparison: train all weights of a bias-free ReLU MLP of the same shape (Adam)."""
    sizes = [x_train.shape[1], *hidden, int(y_train.max()) + 1]
    with torch.random.fork_rng():  # nn.Linear draws its initial weights from the global generator
        torch.manual_seed(seed)
        network = relu_stack([nn.Linear(d, n, bias=False).double() for d, n in itertools.pairwise(sizes)])
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    for _ in range(check_positive_int(epochs, "epochs")):
        optimizer.zero_grad()
        nn.functional.cross_entropy(network(x_train), y_train).backward()
        optimizer.step()
    return network


def exhaustive_mask_search(x: torch.Tensor, y: torch.Tensor, weights: Sequence[torch.Tensor]) -> tuple[float, int, float]:
    """Try every mask of a tiny bias-free ReLU net (2 to the power of the number of weights) and return
    (best training accuracy, masks tried, seconds). Vectorised over masks in chunks; feasible only
    up to about 20 weights, which is the point.
    """
    sizes = [w.numel() for w in weights]
    total = sum(sizes)
    if total > 24:
        raise ValueError(f"{total} weights means 2^{total} masks; exhaustive search is limited to 24 weights")
    start, best = time.perf_counter(), 0.0
    chunk = 1 << min(total, 14)
    for first in range(0, 1 << total, chunk):
        bits = subset_bits(total, x.dtype, first, min(first + chunk, 1 << total))  # (masks, total)
        out = x.unsqueeze(0).expand(len(bits), *x.shape)
        offset = 0
        for i, (weight, size) in enumerate(zip(weights, sizes, strict=True)):
            masked = weight.to(x.dtype) * bits[:, offset : offset + size].view(-1, *weight.shape)
            out = out @ masked.transpose(1, 2)
            if i < len(weights) - 1:
                out = torch.relu(out)
            offset += size
        best = max(best, float((out.argmax(dim=2) == y).double().mean(dim=1).max()))
    return best, 1 << total, time.perf_counter() - start
