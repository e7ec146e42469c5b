"""A trained target: an MLP on scikit-learn's bundled 8×8 digits, rewritten to meet the theorem's assumptions.

Inputs are scaled to the unit ball with a constant coordinate appended,
x = (pixels / 16, 1) / √65, so ‖x‖₂ ≤ 1. Biases are folded in: the first layer reads the
constant coordinate, and each hidden layer gets one extra unit that carries the constant
forward (σ(c) = c for c > 0). Each layer is then divided by its spectral norm: a ReLU network
is positively homogeneous, so the outputs shrink by one positive factor and the argmax, hence
the accuracy, is unchanged.

Introduced in chapter 5, *Deep networks*; the CNN in chapter 10, *Convolutions*.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .conv import operator_bound, target_cnn_forward
from .network import forward_target
from .random_network import relu_stack
from .seeds import generator

__all__ = [
    "DigitsCNN",
    "DigitsTarget",
    "accuracy",
    "digits_cnn_target",
    "digits_target",
    "load_digits_unit_ball",
    "prediction_accuracy",
]

CONSTANT = 1 / 65**0.5


def load_digits_unit_ball(test_fraction: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test): float64 inputs of shape (m, 65) in the unit ball, int64 labels.

    The data are scikit-learn's bundled 8×8 digits (no download); the split is a seeded permutation.
    """
    from sklearn.datasets import load_digits  # here, so that importing lottolib does not load scikit-learn

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float64) / 16
    x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1) * CONSTANT
    y = torch.tensor(data.target, dtype=torch.int64)
    order = torch.randperm(len(x), generator=generator(seed))
    cut = int(len(x) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


@dataclass(frozen=True)
class DigitsTarget:
    """The folded, rescaled weights W_1 … W_l (‖W_i‖₂ = 1) and the data split they were trained on."""

    weights: list[torch.Tensor]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def prediction_accuracy(outputs: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of ``outputs`` (m, classes) whose argmax equals the label y (m,)."""
    return float((outputs.argmax(dim=1) == y).double().mean())


def accuracy(network: nn.Module | Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows of x whose argmax output equals y (a module, or a list of target weights)."""
    with torch.no_grad():
        out = network(x) if isinstance(network, nn.Module) else forward_target(network, x)
    return prediction_accuracy(out, y)


def _fold_and_rescale(linears: Sequence[nn.Linear]) -> list[torch.Tensor]:
    folded = []
    for i, linear in enumerate(linears):
        weight, bias = linear.weight.detach(), linear.bias.detach()
        if i == 0:  # the input's last coordinate is already the constant
            weight = torch.cat([weight[:, :-1], weight[:, -1:] + bias[:, None] / CONSTANT], dim=1)
        else:
            weight = torch.cat([weight, bias[:, None] / CONSTANT], dim=1)
        if i < len(linears) - 1:  # one more unit that carries the constant forward
            carry = torch.zeros(1, weight.shape[1], dtype=weight.dtype)
            carry[0, -1] = 1.0
            weight = torch.cat([weight, carry], dim=0)
        folded.append(weight)
    return [w / torch.linalg.matrix_norm(w, ord=2) for w in folded]


def digits_target(hidden: Sequence[int] = (32,), *, seed: int = 0, epochs: int = 300) -> DigitsTarget:
    """Train a ReLU MLP 65 → hidden… → 10 on the digits (full-batch Adam, float64, fixed seed), then fold
    its biases and rescale it to the theorem's assumptions. Deterministic for a given seed."""
    x_train, y_train, x_test, y_test = load_digits_unit_ball(seed=seed)
    sizes = [65, *hidden, 10]
    with torch.random.fork_rng():  # nn.Linear draws its initial weights from the global generator
        torch.manual_seed(seed)
        model = relu_stack([nn.Linear(d, n).double() for d, n in itertools.pairwise(sizes)])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x_train / CONSTANT), y_train).backward()
        optimizer.step()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():  # the model saw x / c; fold that scale into the first layer
        linears[0].weight /= CONSTANT
    return DigitsTarget(_fold_and_rescale(linears), x_train, y_train, x_test, y_test)


@dataclass(frozen=True)
class DigitsCNN:
    """A trained bias-free CNN x ↦ W flatten(σ(conv(x, K))) on 8×8 digit images (m, 1, 8, 8), ‖x‖₂ ≤ 1,
    rescaled so that ‖K̂‖₂ √(h w) = 1 and ‖W‖₂ = 1 (argmax unchanged)."""

    kernel: torch.Tensor
    weight: torch.Tensor
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def accuracy(self, network: nn.Module | None = None) -> float:
        """Test accuracy of ``network`` (run in its parameters' dtype), or of the target itself when None."""
        if network is not None:
            return accuracy(network, self.x_test.to(next(iter(network.parameters())).dtype), self.y_test)
        with torch.no_grad():
            return prediction_accuracy(target_cnn_forward(self.kernel, self.weight, self.x_test), self.y_test)


def digits_cnn_target(channels: int = 4, *, seed: int = 0, epochs: int = 300) -> DigitsCNN:
    """Train conv(1 → ``channels``, 3×3) → ReLU → flatten → linear(→ 10), bias-free, on the digits images
    scaled by 1/(16·8) (so ‖x‖₂ ≤ 1), full-batch Adam in float64; then rescale each layer. Deterministic."""
    x_train, y_train, x_test, y_test = load_digits_unit_ball(seed=seed)
    images = [x[:, :64].reshape(-1, 1, 8, 8) / (8 * CONSTANT) for x in (x_train, x_test)]  # pixels / 16 / 8
    stream = generator(seed)
    kernel = nn.Parameter(torch.randn(channels, 1, 3, 3, generator=stream, dtype=torch.float64) / 3)
    weight = nn.Parameter(torch.randn(10, channels * 36, generator=stream, dtype=torch.float64) / channels / 6)
    optimizer = torch.optim.Adam([kernel, weight], lr=0.01)
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(target_cnn_forward(kernel, weight, images[0]) * 64, y_train).backward()
        optimizer.step()
    trained_kernel, trained_weight = kernel.detach(), weight.detach()
    return DigitsCNN(trained_kernel / operator_bound(trained_kernel),
                     trained_weight / torch.linalg.matrix_norm(trained_weight, ord=2), images[0], y_train, images[1], y_test)
