"""A strong adversary: the largest error it can find over the unit ball, by several searches at once.

A certificate is an upper bound on sup_{‖x‖₂ ≤ 1} err(x); an adversary gives a lower bound (an
input and its error). The gap between the two is what a table of "certificate / adversarial
error" measures, so the adversary must be as strong as is cheap. :func:`strong_adversary`
combines, for a callable ``err`` that maps a batch of inputs to one error per row:

1. **screening**: ``samples`` random points of the sphere, plus any ``extra_starts`` (for a
   pruned network: singular vectors of the target's W_i and of the error matrices E^±, see
   :func:`singular_starts`), evaluated in one batch; the best ``starts`` are kept;
2. **Adam on the sphere** (x = y/‖y‖, ascent on err) from each kept start;
3. **power steps** x ← ∇(err²/2)/‖∇(err²/2)‖: on a linear region where err(x) = ‖M x‖ this is one
   step of the power method for MᵀM (the best step on that region), and it jumps between regions;
4. **sign steps** x ← normalise(x + α sign(∇err)) with a shrinking α;
5. **L-BFGS** (strong Wolfe line search) on the sphere parametrisation for the best few points;
6. **snapping**: coordinates of the best point below a fraction of its largest are set to 0
   (worst inputs often lie on a face of an orthant, which gradient steps approach slowly), then
   a few power steps on that face;
7. **sign flips**: every single-coordinate sign flip of the best point, then power steps from
   the best flipped points, while that improves (orthant changes that local steps cannot make).

The errors of piecewise-linear, positively homogeneous networks (bias-free ReLU networks, their
differences) peak on the sphere, so by default the search runs on the sphere (``on_sphere=True``);
with ``on_sphere=False`` points are kept in the ball by x = y·min(1, 1/‖y‖). The returned error is
re-evaluated at the returned input in float64: it is a value err actually takes.

Used by :func:`lottolib.empirical_error`; introduced in chapter 12, *How tight is the certificate*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from . import seeds
from .checks import check_positive_int

__all__ = ["AdversaryResult", "singular_starts", "strong_adversary"]


@dataclass(frozen=True)
class AdversaryResult:
    """The best input found and its error.

    ``error`` = err(``x``) (float64, re-evaluated), ``x`` of shape ``input_shape`` with ‖x‖₂ ≤ 1;
    ``by_stage`` maps each search stage to the best error it reached (for diagnostics).
    """

    error: float
    x: torch.Tensor
    by_stage: dict[str, float]


def _shape(input_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(input_shape, int):  # check_positive_int refuses a boolean
        return (check_positive_int(input_shape, "input_shape"),)
    shape = tuple(check_positive_int(s, "input_shape entry") for s in input_shape)
    if not shape:
        raise ValueError("input_shape must name at least one dimension, e.g. 8 or (1, 8, 8)")
    return shape


def singular_starts(matrices: Sequence[torch.Tensor], dim: int, *, per_matrix: int = 3) -> torch.Tensor:
    """Candidate worst inputs for a network on R^dim: unit vectors built from singular vectors.

    For every matrix with ``dim`` columns, its top ``per_matrix`` right singular vectors v, each
    with both signs, and the sign-split parts v⁺ = max(v, 0), −v⁻ (normalised): the worst input of
    x ↦ E⁺σ(x) − E⁻σ(−x) lives in one orthant, where such parts are good guesses. For a product
    of matrices, pass the product (e.g. W_l ⋯ W_1). Matrices with another column count are
    skipped. Returns (m, dim) float64 rows of norm 1 (possibly m = 0).
    """
    dim = check_positive_int(dim, "dim")
    rows = []
    for matrix in matrices:
        matrix = torch.as_tensor(matrix).double()
        if matrix.ndim != 2 or matrix.shape[1] != dim or not bool(matrix.any()):
            continue
        _, _, vh = torch.linalg.svd(matrix, full_matrices=False)
        for v in vh[:per_matrix]:
            for candidate in (v, -v, v.clamp(min=0), -(v.clamp(max=0))):
                norm = candidate.norm()
                if norm > 0:
                    rows.extend([candidate / norm, -candidate / norm])
    if not rows:
        return torch.zeros(0, dim, dtype=torch.float64)
    return torch.stack(rows)


def _to_ball(y: torch.Tensor, on_sphere: bool) -> torch.Tensor:
    norm = y.norm(dim=1, keepdim=True)
    if on_sphere:
        return y / norm.clamp(min=1e-300)
    return y / norm.clamp(min=1.0)


class _Tracker:
    """Keeps the best (error, x) seen, per stage and overall."""

    def __init__(self, err: Callable[[torch.Tensor], torch.Tensor], shape: tuple[int, ...]) -> None:
        self.err, self.shape = err, shape
        self.best = -math.inf
        self.best_x: torch.Tensor | None = None
        self.by_stage: dict[str, float] = {}

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        values = self.err(x.reshape(-1, *self.shape)).reshape(-1)
        if values.shape[0] != x.shape[0]:
            raise ValueError(f"err must return one error per row: {x.shape[0]} inputs gave {values.shape[0]} values")
        return values

    def see(self, stage: str, x: torch.Tensor, values: torch.Tensor) -> None:
        values = values.detach()
        finite = torch.isfinite(values)
        if not bool(finite.any()):
            return
        index = int(torch.where(finite, values, -math.inf).argmax())
        value = float(values[index])
        self.by_stage[stage] = max(self.by_stage.get(stage, -math.inf), value)
        if value > self.best:
            self.best, self.best_x = value, x[index].detach().clone()


def _gradient(tracker: _Tracker, stage: str, x: torch.Tensor, power: bool) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    values = tracker.evaluate(x)
    tracker.see(stage, x, values)
    objective = values.square().sum() / 2 if power else values.sum()
    (grad,) = torch.autograd.grad(objective, x)
    return torch.nan_to_num(grad)


def _polish(tracker: _Tracker, start: torch.Tensor, on_sphere: bool) -> None:
    """L-BFGS (strong Wolfe) ascent from one point, on the sphere (or ball) parametrisation."""
    y = start.requires_grad_(True)
    optimizer = torch.optim.LBFGS([y], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        point = _to_ball(y, on_sphere)
        value = tracker.evaluate(point)
        tracker.see("lbfgs", point, value)
        loss = -value.sum()
        loss.backward()
        return loss

    optimizer.step(closure)


def strong_adversary(
    err: Callable[[torch.Tensor], torch.Tensor],
    input_shape: int | Sequence[int],
    *,
    samples: int = 4096,
    starts: int = 64,
    steps: int = 200,
    lbfgs_points: int = 4,
    extra_starts: torch.Tensor | None = None,
    on_sphere: bool = True,
    flip_rounds: int = 10,
    seed: object = 0,
) -> AdversaryResult:
    """The largest err(x) found over ‖x‖₂ ≤ 1 by screening, Adam, power steps, sign steps and L-BFGS.

    Parameters
    ----------
    err
        Maps a float64 batch x of shape ``(m, *input_shape)`` to the errors (m,), differentiably
        (torch operations), e.g. ``lambda x: (pruned(x) - target(x)).norm(dim=1)``.
    input_shape
        d for vectors, or e.g. (1, 8, 8) for images; ‖x‖₂ is over all entries of one input.
    samples, starts, steps
        Random sphere points screened; starts kept for the local searches; steps of each
        local search (Adam; power and sign steps use ``steps // 2`` each).
    lbfgs_points
        How many of the best points L-BFGS polishes (0 to skip).
    extra_starts
        Optional (m, prod(input_shape)) inputs screened with the random ones (normalised onto
        the sphere), e.g. :func:`singular_starts`.
    on_sphere
        Search the sphere (right for positively homogeneous err), else the whole ball.
    flip_rounds
        Rounds of single-coordinate sign flips (each: d evaluations, then power steps).
    seed
        A non-negative integer or a ``torch.Generator`` for the random starts; the search is
        deterministic for a given integer seed.

    Returns
    -------
    AdversaryResult
        ``error`` = err(``x``) at the best input found, ``x`` in the unit ball.

    Raises
    ------
    ValueError
        If a count is not positive, ``extra_starts`` has the wrong width, or err returns the
        wrong number of values or never a finite one.
    """
    shape = _shape(input_shape)
    dim = math.prod(shape)
    samples, starts, steps = (check_positive_int(v, name) for v, name in
                              ((samples, "samples"), (starts, "starts"), (steps, "steps")))
    generator = seeds.generator(seed)
    tracker = _Tracker(err, shape)

    # 1. screening
    x = torch.randn(samples, dim, generator=generator, dtype=torch.float64)
    if extra_starts is not None:
        extra = torch.as_tensor(extra_starts, dtype=torch.float64).reshape(-1, dim) if len(extra_starts) else None
        if extra is not None:
            x = torch.cat([extra, x])
    x = _to_ball(x, True)
    with torch.no_grad():
        values = torch.cat([tracker.evaluate(chunk) for chunk in x.split(8192)])
    tracker.see("screen", x, values)
    if tracker.best_x is None:
        raise ValueError("err returned no finite value on the screened inputs")
    order = torch.where(torch.isfinite(values), values, -math.inf).argsort(descending=True)
    kept = x[order[: min(starts, len(x))]].clone()

    # 2. Adam on the sphere (or ball)
    y = kept.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([y], lr=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=1e-4)
    for _ in range(steps):
        point = _to_ball(y, on_sphere)
        values = tracker.evaluate(point)
        tracker.see("adam", point, values)
        optimizer.zero_grad()
        (-values[torch.isfinite(values)].sum()).backward()
        optimizer.step()
        schedule.step()
    adam_points = _to_ball(y.detach(), on_sphere)

    # 3. power steps from the Adam points and from the screened starts
    points = torch.cat([adam_points, kept])
    for _ in range(max(1, steps // 2)):
        grad = _gradient(tracker, "power", points, power=True)
        norm = grad.norm(dim=1, keepdim=True)
        stuck = norm.squeeze(1) == 0
        moved = grad / norm.clamp(min=1e-300)
        points = torch.where(stuck.unsqueeze(1), points, moved if on_sphere else _to_ball(points + moved, False))

    # 4. sign steps from the best points so far
    points = torch.cat([tracker.best_x.reshape(1, dim), adam_points])
    alpha = 0.1
    for _ in range(max(1, steps // 2)):
        grad = _gradient(tracker, "sign", points, power=False)
        points = _to_ball(points + alpha * grad.sign() / math.sqrt(dim), on_sphere)
        alpha *= 0.97

    # 5. L-BFGS polish of the best few
    if lbfgs_points > 0:
        with torch.no_grad():
            candidates = torch.cat([tracker.best_x.reshape(1, dim), adam_points, points])
            values = tracker.evaluate(candidates)
        best = candidates[torch.where(torch.isfinite(values), values, -math.inf).argsort(descending=True)[:lbfgs_points]]
        for start in best:
            _polish(tracker, start.clone().reshape(1, dim), on_sphere)

    # 6. snap: worst inputs of ReLU networks often sit on a face of an orthant (some x_j = 0), which
    #    gradient steps approach only slowly; zero the tiny coordinates and take a few power steps.
    with torch.no_grad():
        best = tracker.best_x.reshape(1, dim)
        snapped = torch.cat([torch.where(best.abs() < threshold * best.abs().max(), 0.0, best)
                             for threshold in (1e-9, 1e-6, 1e-4, 1e-3, 1e-2)])
        snapped = _to_ball(snapped, True)
        tracker.see("snap", snapped, tracker.evaluate(snapped))
    for _ in range(10):
        grad = _gradient(tracker, "snap", snapped, power=True)
        zero = snapped == 0
        grad = torch.where(zero, 0.0, grad)  # stay on the face
        norm = grad.norm(dim=1, keepdim=True)
        snapped = torch.where(norm > 0, grad / norm.clamp(min=1e-300), snapped)

    # 7. sign flips: from the best point, flip the sign of one coordinate (all d at once, batched),
    #    then power steps from the best few flipped points; repeat while it improves.
    for _ in range(flip_rounds):
        before = tracker.best
        best = tracker.best_x.reshape(1, dim)
        flips = best.repeat(dim, 1)
        flips[torch.arange(dim), torch.arange(dim)] *= -1
        with torch.no_grad():
            values = torch.cat([tracker.evaluate(chunk) for chunk in flips.split(4096)])
        tracker.see("flip", flips, values)
        points = flips[torch.where(torch.isfinite(values), values, -math.inf).argsort(descending=True)[:8]]
        for _ in range(20):
            grad = _gradient(tracker, "flip", points, power=True)
            norm = grad.norm(dim=1, keepdim=True)
            points = torch.where(norm > 0, grad / norm.clamp(min=1e-300), points)
        if tracker.best <= before * (1 + 1e-12):
            break

    x_best = tracker.best_x.reshape(1, dim)
    with torch.no_grad():
        final = float(tracker.evaluate(x_best)[0])
    return AdversaryResult(final, x_best.reshape(shape), dict(tracker.by_stage))
