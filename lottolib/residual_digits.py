"""A trained residual target: a small residual network on scikit-learn's 8×8 digits, within the
residual construction's assumptions.

Inputs are those of :func:`~lottolib.digits.load_digits_unit_ball`: x = (pixels / 16, 1) / √65, so
‖x‖₂ ≤ 1 and the last coordinate is a constant. The network works on the 65-dimensional stream

    z_0 = x,   z_i = z_{i−1} + W₂⁽ⁱ⁾ σ(W₁⁽ⁱ⁾ z_{i−1}),   logits = W_out z_B,

bias-free, with biases folded in through the constant coordinate as in chapter 5: W₁'s last column is
the first layer's bias; one hidden unit per block starts as a copy of the constant (row e_65 of W₁), and
W₂'s column on it is the second layer's bias; W₂'s last row is zero, so the skip carries the constant
through every block unchanged; W_out's last column is the read-out's bias. The folded weights are
trained directly (full-batch Adam, float64, on x·√65 = (pixels / 16, 1), as :func:`~lottolib.digits.digits_target`;
a bias-free network is positively homogeneous, so the same weights on x give logits divided by √65
and the same argmax).

A block cannot be rescaled on its own (the skip has weight 1), so the training keeps every branch
within the construction's assumptions: after each step, W₁⁽ⁱ⁾ and W₂⁽ⁱ⁾ are divided by
max(1, ‖·‖₂) (spectral normalisation), so ‖W₁⁽ⁱ⁾‖₂‖W₂⁽ⁱ⁾‖₂ ≤ 1 and every entry lies in [-1, 1].
Then :func:`~lottolib.residual.balance_residual` balances the blocks and rescales the read-out to
spectral norm 1, which leaves the argmax, hence the accuracy, unchanged.

Introduced in chapter 11, *Residual networks*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .checks import check_positive_int
from .digits import CONSTANT, load_digits_unit_ball, prediction_accuracy
from .residual import ResidualTarget, balance_residual
from .seeds import generator

__all__ = ["DigitsResidual", "digits_residual_target"]


@dataclass(frozen=True)
class DigitsResidual:
    """The trained residual target (balanced, read-out of spectral norm 1) and the data split it was trained on."""

    target: ResidualTarget
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def accuracy(self, network: nn.Module | None = None) -> float:
        """Test accuracy of ``network`` (run in its parameters' dtype), or of the target itself when None."""
        with torch.no_grad():
            if network is None:
                return prediction_accuracy(self.target.forward(self.x_test), self.y_test)
            dtype = next(iter(network.parameters())).dtype
            return prediction_accuracy(network(self.x_test.to(dtype)), self.y_test)


def _project(weight: torch.Tensor) -> None:
    """Divide ``weight`` in place by max(1, ‖weight‖₂)."""
    norm = float(torch.linalg.matrix_norm(weight, ord=2))
    if norm > 1:
        weight /= norm


def digits_residual_target(blocks: int = 2, hidden: int = 32, *, seed: int = 0, epochs: int = 300) -> DigitsResidual:
    """Train a residual network with ``blocks`` blocks of ``hidden`` (+1 bias) units on the digits, within
    the residual construction's assumptions (module docstring). Deterministic for a given seed.

    Parameters
    ----------
    blocks, hidden
        Residual blocks, and hidden units per block (one more carries the constant for W₂'s bias).
    seed
        Seeds the data split and the initial weights.
    epochs
        Full-batch Adam steps (learning rate 0.01).

    Returns
    -------
    DigitsResidual
        ``target`` has W₁⁽ⁱ⁾ (hidden + 1, 65), W₂⁽ⁱ⁾ (65, hidden + 1) and W_out (10, 65), balanced, with
        ‖W₁⁽ⁱ⁾‖₂‖W₂⁽ⁱ⁾‖₂ ≤ 1 and ‖W_out‖₂ = 1.
    """
    count, hidden, epochs = (check_positive_int(v, name) for v, name in
                             ((blocks, "blocks"), (hidden, "hidden"), (epochs, "epochs")))
    x_train, y_train, x_test, y_test = load_digits_unit_ball(seed=seed)
    d = x_train.shape[1]
    stream = generator(seed)
    firsts, seconds = [], []
    for _ in range(count):
        first = torch.randn(hidden + 1, d, generator=stream, dtype=torch.float64) / d**0.5
        first[-1] = 0.0
        first[-1, -1] = 1.0  # the bias unit: σ(constant) = constant
        second = torch.randn(d, hidden + 1, generator=stream, dtype=torch.float64) * (0.1 / (hidden + 1) ** 0.5)
        second[-1] = 0.0  # the branch never writes to the constant coordinate
        firsts.append(first.requires_grad_())
        seconds.append(second.requires_grad_())
    readout = (torch.randn(10, d, generator=stream, dtype=torch.float64) / d**0.5).requires_grad_()

    def logits(z: torch.Tensor) -> torch.Tensor:
        for first, second in zip(firsts, seconds, strict=True):
            z = z + torch.relu(z @ first.T) @ second.T
        return z @ readout.T

    optimizer = torch.optim.Adam([*firsts, *seconds, readout], lr=0.01)
    inputs = x_train / CONSTANT
    for _ in range(epochs):
        optimizer.zero_grad()
        nn.functional.cross_entropy(logits(inputs), y_train).backward()
        optimizer.step()
        with torch.no_grad():
            for first, second in zip(firsts, seconds, strict=True):
                second[-1] = 0.0
                _project(first)
                _project(second)
    pairs = [(first.detach().clone(), second.detach().clone()) for first, second in zip(firsts, seconds, strict=True)]
    target = balance_residual(pairs, readout.detach().clone())
    return DigitsResidual(target, x_train, y_train, x_test, y_test)
