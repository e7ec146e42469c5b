"""Choosing the multipliers of the Lagrangian certificate for large networks: a structured interior-point method.

The proposition of :mod:`lottolib.relaxation` holds for every choice of multipliers, so this module only
has to find good ones; it is never trusted (:func:`~lottolib.relaxation.verified_bound` checks the result).

**The restricted relaxation.** Instead of one multiplier for every pair of forms (the doubly non-negative
relaxation, m² multipliers, an interior-point cost growing like k⁶), we use a *pattern* of pairs: the
complementary pairs, the four other pairs of forms of each ReLU unit ((h, g̃), (h, s̃), (r, g̃), (r, s̃):
the per-neuron blocks, which contain LipSDP's slope restriction (h̃ − h)((z̃ − z) − (h̃ − h)) ≥ 0), and
cutting planes added where the previous solution violates a product's sign. Its dual,

    minimise t + Σ_b τ_b R_b²  over y_e (≥ 0 off complementary pairs), t, τ_b ≥ 0
    subject to  Z = −OᵀO − Σ_e y_e sym(f_a f_bᵀ) + t·C + Σ_b τ_b I_b ≥ 0 (positive semidefinite),

is a semidefinite program with one k × k block and N = #pairs + 1 + #blocks scalar variables, solved by
a primal–dual path-following method (HKM direction, Mehrotra's predictor–corrector, as in SDPT3). Every
iterate keeps Z ≻ 0, so every iterate is a valid choice; the primal matrix X (the relaxed moment
matrix E[wwᵀ]) shows which products the pattern leaves negative: the next cutting planes. The Schur
matrix M_ij = tr(A_i X A_j Z⁻¹) needs only ΦXΦᵀ and ΦZ⁻¹Φᵀ (each A_e has rank 2), so one iteration
costs O(k³ + mk² + m²k + N³) instead of the full relaxation's O(k⁶).

**Start.** The dual starts diagonally dominant (so Z ≻ 0). The primal starts at the average of w wᵀ over
random inputs (the real networks' coordinates, ``_sampled_points``), which meets every product constraint
and the radii: started from a diagonal X instead, the method drove y to values of order 10⁷ and stalled
with a large duality gap (a 3-block residual network: 137 against about 0.001). In reduced coordinates
(LeNet-sized networks) the primal starts on the central path of the dual start instead, X = νZ⁻¹
(``_centred_start``): from the sampled start the steps there were 10⁻³–10⁻² of the way.

Introduced in chapter 12, *How tight is the certificate*.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from .relaxation import BATCH_ABOVE, FormBatches, LagrangianProblem, Multipliers

__all__ = ["RestrictedSolve", "cutting_planes", "solve_restricted"]


@dataclass(frozen=True)
class RestrictedSolve:
    """The best dual iterate (as :class:`~lottolib.relaxation.Multipliers` of the original forms), its
    unverified value t + Σ τ_b R_b², the primal products ΦXΦᵀ of the last iterate (normalised forms; in
    reduced coordinates only the forms from index ``offset`` on, row i being the problem's form i + offset)
    and how many iterations ran."""

    multipliers: Multipliers
    value: float
    products: torch.Tensor | None
    iterations: int
    offset: int = 0


class _Operators:
    """The linear maps of the restricted dual for one pattern, on row-normalised forms.

    ``diagonals`` lists, for t and each τ_b, the coordinates it acts on and the matrix there (None: the
    identity): Ã_t = −C, Ã_b = −I_b (a reduced problem has a dense C on its input block)."""

    def __init__(self, forms: torch.Tensor, ranges: list[tuple[int, int]], objective: torch.Tensor,
                 diagonals: list[tuple[torch.Tensor, torch.Tensor | None]], radii_squared: tuple[float, ...],
                 pairs: torch.Tensor, free: torch.Tensor) -> None:
        norms = forms.norm(dim=1)
        self.row_scale = torch.where(norms > 0, 1.0 / norms, torch.ones_like(norms))
        self.forms = forms * self.row_scale[:, None]
        self.k, self.m = forms.shape[1], forms.shape[0]
        self.batches = FormBatches(self.forms, ranges if self.k > BATCH_ABOVE else [(0, self.m)])
        self.objective_gram = objective.T @ objective
        self.pairs, self.free = pairs, free
        self.edges = len(pairs)
        self.sets = diagonals
        self.count = self.edges + len(self.sets)
        self.b = torch.zeros(self.count, dtype=torch.float64)
        self.b[self.edges] = -1.0
        self.b[self.edges + 1:] = -torch.tensor(radii_squared, dtype=torch.float64)
        slack_free = torch.cat([free, torch.tensor([True]), torch.zeros(len(self.sets) - 1, dtype=torch.bool)])
        self.slacked = torch.nonzero(~slack_free).flatten()  # variables with y ≥ 0 (an LP slack)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Σ_i y_i Ã_i (k, k): Ã_e = sym(f_a f_bᵀ), Ã_t = −C, Ã_b = −I_b."""
        half = self.batches.gram(self.pairs, y[: self.edges] / 2)
        matrix = half + half.T
        for j, (index, block) in enumerate(self.sets):
            if block is None:
                matrix[index, index] -= y[self.edges + j]
            else:
                matrix[index[:, None], index[None, :]] -= y[self.edges + j] * block
        return matrix

    def adjoint_times(self, y: torch.Tensor, forms_z_inverse: torch.Tensor, z_inverse: torch.Tensor) -> torch.Tensor:
        """(Σ_i y_i Ã_i) Z⁻¹ (k, k) from ΦZ⁻¹ (m, k), without the k³ product: Φᵀ(S·ΦZ⁻¹) with S the symmetric
        m × m matrix of the pairs' y_e/2, minus y_j D_j Z⁻¹ on the rows of each diagonal set."""
        half = (y[: self.edges] / 2)[:, None]
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        mixed = torch.zeros_like(forms_z_inverse)
        mixed.index_add_(0, a, forms_z_inverse[b] * half)
        mixed.index_add_(0, b, forms_z_inverse[a] * half)
        out = self.batches.transpose_matmul(mixed)
        for j, (index, block) in enumerate(self.sets):
            rows = z_inverse[index]
            out[index] -= y[self.edges + j] * (rows if block is None else block @ rows)
        return out

    def slack(self, y: torch.Tensor) -> torch.Tensor:
        """Z = −OᵀO − Σ y_i Ã_i."""
        return -self.objective_gram - self.adjoint(y)

    def apply(self, matrix: torch.Tensor) -> torch.Tensor:
        """𝒜(S)_i = ⟨Ã_i, S⟩ for any (not necessarily symmetric) S."""
        product = self.batches.matmul(matrix)
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        out = torch.empty(self.count, dtype=torch.float64)
        out[: self.edges] = ((product[a] * self.forms[b]).sum(1) + (product[b] * self.forms[a]).sum(1)) / 2
        for j, (index, block) in enumerate(self.sets):
            inner = matrix[index[:, None], index[None, :]]
            out[self.edges + j] = -(torch.diagonal(inner).sum() if block is None else (block * inner).sum())
        return out

    def schur(self, x: torch.Tensor, z_inverse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """M_ij = tr(Ã_i X Ã_j Z⁻¹) (N, N), ΦXΦᵀ for the cutting planes, and ΦZ⁻¹ for the directions."""
        fx, fz = self.batches.matmul(x), self.batches.matmul(z_inverse)
        h, g = self.batches.matmul(fx.T.contiguous()).T, self.batches.matmul(fz.T.contiguous()).T
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        n = self.edges
        matrix = torch.empty(self.count, self.count, dtype=torch.float64)
        # tr(sym(f_a f_bᵀ) X sym(f_c f_dᵀ) Z⁻¹) = (H_bc G_da + H_bd G_ca + H_ac G_db + H_ad G_cb) / 4
        rows_a, rows_b, cols_a, cols_b = a[:, None], b[:, None], a[None, :], b[None, :]
        matrix[:n, :n] = (h[rows_b, cols_a] * g[rows_a, cols_b] + h[rows_b, cols_b] * g[rows_a, cols_a]
                          + h[rows_a, cols_a] * g[rows_b, cols_b] + h[rows_a, cols_b] * g[rows_b, cols_a]) / 4
        for j, (index, block) in enumerate(self.sets):
            left = fz[:, index] if block is None else fz[:, index] @ block  # rows f Z⁻¹ D
            column = -((left[b] * fx[a][:, index]).sum(1) + (left[a] * fx[b][:, index]).sum(1)) / 2
            matrix[n + j, :n], matrix[:n, n + j] = column, column
            for jj, (other, other_block) in enumerate(self.sets):
                # tr(D X D' Z⁻¹) with D, D' supported on index, other
                inner = x[index[:, None], other[None, :]]
                inner = inner if other_block is None else inner @ other_block
                inner = inner if block is None else block @ inner
                matrix[n + j, n + jj] = (inner * z_inverse[other[:, None], index[None, :]].T).sum()
        return (matrix + matrix.T) / 2, h, fz


def _largest_step(factor: torch.Tensor, step: torch.Tensor, tolerance: float) -> float:
    """The largest α with LLᵀ + α·step positive semidefinite (``factor`` = L), from λ_min(L⁻¹ step L⁻ᵀ): a dense eigenvalue
    solver for small k, Lanczos (scipy) otherwise (an estimate: the caller checks the step)."""
    k = factor.shape[0]
    if k <= 800:
        scaled = torch.linalg.solve_triangular(factor, step, upper=False)
        scaled = torch.linalg.solve_triangular(factor, scaled.T, upper=False)
        smallest = float(torch.linalg.eigvalsh((scaled + scaled.T) / 2)[0])
    else:
        from scipy.linalg import solve_triangular
        from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

        lower, upper, direction = factor.numpy(), factor.T.contiguous().numpy(), step.numpy()

        def apply(v: object) -> object:  # L⁻¹ step L⁻ᵀ v
            return solve_triangular(lower, direction @ solve_triangular(upper, v, lower=False), lower=True)

        operator = LinearOperator((k, k), matvec=apply, dtype=float)
        try:
            smallest = float(eigsh(operator, k=1, which="SA", tol=tolerance, maxiter=300,
                                   return_eigenvectors=False)[0])
        except ArpackNoConvergence as failure:
            values = failure.eigenvalues
            smallest = float(values.min()) if len(values) else -1.0
        smallest -= 2 * tolerance * abs(smallest) + 1e-12
    return math.inf if smallest >= 0 else -1.0 / smallest


def _inverse(factor: torch.Tensor) -> torch.Tensor:
    """(LLᵀ)⁻¹ from the Cholesky factor L, as L⁻ᵀL⁻¹ (torch's cholesky_inverse can be many times slower with
    several threads on a busy machine)."""
    inverse_factor = torch.linalg.solve_triangular(factor, torch.eye(factor.shape[0], dtype=torch.float64), upper=False)
    return inverse_factor.T @ inverse_factor


def _vector_step(current: torch.Tensor, step: torch.Tensor) -> float:
    negative = step < 0
    return float((-current[negative] / step[negative]).min()) if bool(negative.any()) else math.inf


@dataclass(frozen=True)
class _Restricted:
    """What the interior-point method solves: forms (rows over the solver's coordinates), the objective, the
    diagonal terms (coordinates, matrix or None for the identity, initial primal block) of t and each τ_b,
    the radii, and how its form indices map to the problem's (add ``offset``); ``input_map`` M (2n, 2d) maps
    the problem's input coordinates (p, q) to the solver's first coordinates (None: the problem's own)."""

    forms: torch.Tensor
    ranges: list[tuple[int, int]]
    objective: torch.Tensor
    diagonals: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]
    radii_squared: tuple[float, ...]
    offset: int
    input_map: torch.Tensor | None = None

    def start(self, problem: LagrangianProblem) -> torch.Tensor | None:
        """The sampled primal start (``_sampled_points``) in the problem's own coordinates, or None."""
        points = _sampled_points(problem)
        return None if points is None else _moments(points)


def _as_given(problem: LagrangianProblem) -> _Restricted:
    diagonals: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = [
        (torch.arange(problem.input_size), None, torch.eye(problem.input_size, dtype=torch.float64)
         / max(1, problem.input_size))]
    for (a, b), radius in zip(problem.blocks, problem.radii_squared, strict=True):
        level = min(max(radius / max(1, b - a) / 2, 1e-150), 1e150)  # a positive definite start, any radius
        diagonals.append((torch.arange(a, b), None, torch.eye(b - a, dtype=torch.float64) * level))
    return _Restricted(problem.forms, problem.row_ranges, problem.objective, diagonals, problem.radii_squared, 0)


def _reduced_inputs(problem: LagrangianProblem) -> _Restricted | None:
    """The same relaxation without the input complementarity, in fewer coordinates, or None if it does not apply.

    When only the first group of units reads the input (forms r = h − z and s̃ = h̃ − z̃ with z, z̃ linear in
    (p, q)) and the objective does not, the input enters only through v = (z, (z̃ − z)/s) = M(p, q), 2n
    numbers instead of 2d. For multipliers without input-pair terms, K ⪯ 0 on (p, q, rest) is equivalent
    (for t ≥ 0) to K' ⪯ 0 on (v, rest), where t·C becomes t·(MMᵀ)⁻¹ on v (write (p, q) = Mᵀα + w⊥). The
    multipliers found are then checked on the full problem; only the solver uses this form.
    """
    d2 = problem.input_size
    if problem.objective[:, :d2].abs().max() > 0 if problem.objective.numel() else True:
        return None
    reads = torch.nonzero(problem.forms[d2:, :d2].abs().sum(1) > 0).flatten() + d2
    units = problem.units
    first = units[torch.isin(units[:, 1], reads)]
    expected = torch.cat([first[:, 1], first[:, 3]]).sort().values
    n = len(first)
    if n == 0 or not torch.equal(expected, reads.sort().values) or 4 * n > 1.5 * d2:
        return None
    scale = problem.scale
    slack, pruned_slack = problem.forms[first[:, 1], :d2], problem.forms[first[:, 3], :d2]
    basis = torch.cat([-slack, (slack - pruned_slack) / scale])  # rows of M: z and (z̃ − z)/s
    gram = basis @ basis.T
    factor, info = torch.linalg.cholesky_ex(gram)
    if int(info):
        return None
    inverse = _inverse(factor)
    inverse = (inverse + inverse.T) / 2
    shift = 2 * n - d2
    forms = torch.zeros(problem.forms.shape[0] - d2, problem.size + shift, dtype=torch.float64)
    forms[:, 2 * n:] = problem.forms[d2:, d2:]
    rows = torch.arange(n)
    forms[first[:, 1] - d2, rows] = -1.0
    forms[first[:, 3] - d2, rows] = -1.0
    forms[first[:, 3] - d2, n + rows] = -scale
    objective = torch.zeros(problem.objective.shape[0], problem.size + shift, dtype=torch.float64)
    objective[:, 2 * n:] = problem.objective[:, d2:]
    diagonals: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = [
        (torch.arange(2 * n), inverse, gram / (2 * n))]
    for (a, b), radius in zip(problem.blocks, problem.radii_squared, strict=True):
        level = min(max(radius / max(1, b - a) / 2, 1e-150), 1e150)
        diagonals.append((torch.arange(a + shift, b + shift), None, torch.eye(b - a, dtype=torch.float64) * level))
    ranges = [(a - d2, b - d2) for a, b in problem.row_ranges if a >= d2]
    return _Restricted(forms, ranges, objective, diagonals, problem.radii_squared, d2, basis)


@dataclass(frozen=True)
class _NewtonSystem:
    """The HKM Newton system of one iteration: the current primal X (and the LP part x_lp), the primal
    residual, the Cholesky factor of the Schur matrix, Z⁻¹, ΦZ⁻¹ and the LP ratios x_lp / z_lp."""

    ops: _Operators
    x: torch.Tensor
    x_lp: torch.Tensor
    residual: torch.Tensor
    schur_factor: torch.Tensor
    z_inverse: torch.Tensor
    forms_z_inverse: torch.Tensor
    ratio: torch.Tensor
    slacked: torch.Tensor

    def direction(self, centering: torch.Tensor | None, centering_lp: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(dy, dX, dZ, dx_lp, dz_lp, dZ Z⁻¹) for the given centering term (None: the affine predictor)."""
        target = -self.x if centering is None else centering - self.x
        rhs = self.residual - self.ops.apply(target)
        rhs[self.slacked] += centering_lp - self.x_lp
        dy = torch.cholesky_solve(rhs[:, None], self.schur_factor)[:, 0]
        adjoint_z = self.ops.adjoint_times(dy, self.forms_z_inverse, self.z_inverse)  # dZ Z⁻¹ = −adjoint_z
        dx = target + self.x @ adjoint_z
        dx = (dx + dx.T) / 2
        dz_lp = dy[self.slacked]
        return dy, dx, -self.ops.adjoint(dy), centering_lp - self.x_lp - self.ratio * dz_lp, dz_lp, -adjoint_z


def _step_lengths(x_factor: torch.Tensor, z_factor: torch.Tensor, x_lp: torch.Tensor, z_lp: torch.Tensor,
                  step: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
                  precision: float) -> tuple[float, float]:
    """Largest primal and dual step lengths keeping X and Z positive semidefinite and the LP parts ≥ 0."""
    dx, dz, dx_lp, dz_lp = step
    primal_step = min(_largest_step(x_factor, dx, precision), _vector_step(x_lp, dx_lp))
    dual_step = min(_largest_step(z_factor, dz, precision), _vector_step(z_lp, dz_lp))
    return primal_step, dual_step


REDUCE_ABOVE = 1000
"""Problems with more coordinates than this drop the input-pair multipliers and solve in the reduced
coordinates of :func:`_reduced_inputs` when they apply (the verification stays on the full problem)."""


def solve_restricted(problem: LagrangianProblem, pairs: torch.Tensor, free: torch.Tensor, *,
                     seconds: float, iterations: int = 60, tolerance: float = 1e-7,
                     reduce_above: int | None = None) -> RestrictedSolve:
    """Solve the restricted dual (module docstring) for the given pattern of pairs.

    Parameters
    ----------
    problem
        The forms and radii (:mod:`lottolib.relaxation`).
    pairs, free
        (N, 2) indices of form pairs and (N,) bool: True for complementary pairs (free sign).
    seconds
        Wall-clock budget: the best iterate so far is returned when it is spent.
    iterations, tolerance
        At most this many iterations; stop when the relative duality gap and primal infeasibility are
        below ``tolerance``.
    reduce_above
        Problems with more coordinates than this (default ``REDUCE_ABOVE``, 1000) are solved, when they
        can be, without the input-pair multipliers in the 2n coordinates (z₁, (z̃₁ − z₁)/s) through which
        the input enters; a larger value keeps them (slower: 2d coordinates for the input instead of 2n).

    Returns
    -------
    RestrictedSolve
        Multipliers for the problem's (unnormalised) forms; unverified. ``products`` is None when the
        solver ran no iteration.
    """
    start = time.perf_counter()
    limit = REDUCE_ABOVE if reduce_above is None else reduce_above
    restricted = _reduced_inputs(problem) if problem.size > limit else None
    if restricted is None:
        restricted = _as_given(problem)
    else:
        keep = (pairs >= restricted.offset).all(1)
        pairs, free = pairs[keep], free[keep]
    local = pairs - restricted.offset
    ops = _Operators(restricted.forms, restricted.ranges, restricted.objective, [(i, m) for i, m, _ in restricted.diagonals],
                     restricted.radii_squared, local, free)
    k = ops.k
    slacked = ops.slacked
    y = torch.zeros(ops.count, dtype=torch.float64)
    y[: ops.edges][~free] = 1e-3
    # start dual-feasible and near the scale of the problem: Gershgorin per diagonal set, so Z is diagonally dominant
    rows = (ops.objective_gram + ops.adjoint(y)).abs().sum(1)
    for j, (index, block, _) in enumerate(restricted.diagonals):
        level = 2.0 * float(rows[index].max()) + 1e-12
        y[ops.edges + j] = level if block is None else level / max(1e-300, float(torch.linalg.eigvalsh(block)[0]))
    z = ops.slack(y)
    z_factor, info = torch.linalg.cholesky_ex(z)
    z_inverse: torch.Tensor | None = None
    reduced = restricted.input_map is not None
    sampled = None if reduced else restricted.start(problem)
    if reduced and int(info) == 0:  # reduced coordinates: a centred start
        z_inverse = _inverse(z_factor)
        x, x_lp = _centred_start(ops, y, z_inverse)
    elif sampled is None:
        x = torch.zeros(k, k, dtype=torch.float64)
        for index, _, initial in restricted.diagonals:
            x[index[:, None], index[None, :]] = initial
        x_lp = torch.full((len(slacked),), 0.1, dtype=torch.float64)
    else:  # nearly primal feasible: every product constraint holds, the radii too
        x = sampled
        slack = (ops.apply(x) - ops.b)[slacked]
        x_lp = slack.clamp(min=1e-3 * max(float(slack.abs().mean()), 1e-12))
    best_value, best_y = -float(ops.b @ y), y.clone()
    products: torch.Tensor | None = None
    x_factor = torch.linalg.cholesky(x)
    coarse, fine = (1e-1, 1e-2) if k > 800 else (0.0, 0.0)
    done = 0
    while done < iterations:
        done += 1
        if int(info):
            break
        z_inverse = _inverse(z_factor) if z_inverse is None else z_inverse
        z_lp = y[slacked]
        mu = (float((x * z).sum()) + float(x_lp @ z_lp)) / (k + len(slacked))
        residual = ops.b - ops.apply(x)
        residual[slacked] += x_lp
        value = -float(ops.b @ y)
        if value < best_value:
            best_value, best_y = value, y.clone()
        primal = float((ops.objective_gram * x).sum())
        gap = abs(value - primal) / (1 + abs(value))
        if (gap < tolerance and float(residual.norm()) < tolerance) or mu < 1e-12 * (1 + abs(value)) \
                or time.perf_counter() - start > seconds:
            break
        schur, products, forms_z_inverse = ops.schur(x, z_inverse)
        ratio = x_lp / z_lp
        schur[slacked, slacked] += ratio
        schur.diagonal().add_(1e-13 * float(schur.diagonal().abs().max()))
        schur_factor, schur_info = torch.linalg.cholesky_ex(schur)
        if int(schur_info):
            break

        system = _NewtonSystem(ops, x, x_lp, residual, schur_factor, z_inverse, forms_z_inverse, ratio, slacked)
        dy, dx, dz, dx_lp, dz_lp, dz_z_inverse = system.direction(None, torch.zeros_like(x_lp))
        steps = _step_lengths(x_factor, z_factor, x_lp, z_lp, (dx, dz, dx_lp, dz_lp), coarse)
        primal_step, dual_step = (min(1.0, length) for length in steps)
        affine = (float(((x + primal_step * dx) * (z + dual_step * dz)).sum())
                  + float((x_lp + primal_step * dx_lp) @ (z_lp + dual_step * dz_lp))) / (k + len(slacked))
        sigma = min(1.0, max(0.0, affine / mu) ** 3)
        centering = sigma * mu * z_inverse - dx @ dz_z_inverse
        centering_lp = (sigma * mu - dx_lp * dz_lp) / z_lp
        dy, dx, dz, dx_lp, dz_lp, _ = system.direction(centering, centering_lp)
        steps = _step_lengths(x_factor, z_factor, x_lp, z_lp, (dx, dz, dx_lp, dz_lp), fine)
        primal_step, dual_step = (min(1.0, 0.95 * length) for length in steps)
        for _ in range(10):  # keep both iterates positive definite (the step lengths are estimates for large k)
            trial = x + primal_step * dx
            trial = (trial + trial.T) / 2
            trial_factor, trial_info = torch.linalg.cholesky_ex(trial)
            if int(trial_info) == 0:
                break
            primal_step /= 2
        for _ in range(10):
            trial_z = z + dual_step * dz
            trial_z_factor, info = torch.linalg.cholesky_ex(trial_z)
            if int(info) == 0:
                break
            dual_step /= 2
        x, x_factor = trial, trial_factor
        x_lp = x_lp + primal_step * dx_lp
        y = y + dual_step * dy
        z, z_factor, z_inverse = trial_z, trial_z_factor, None
    values = best_y[: ops.edges] * ops.row_scale[local[:, 0]] * ops.row_scale[local[:, 1]]
    multipliers = Multipliers(pairs, values, free, float(best_y[ops.edges]),
                              tuple(float(v) for v in best_y[ops.edges + 1:]))
    return RestrictedSolve(multipliers, best_value, products, done, restricted.offset)


CENTRED_GAP = 10.0
"""The centred start's duality gap ⟨X, Z⟩ + ⟨x_lp, z_lp⟩ as a multiple of the starting dual value."""


def _centred_start(ops: _Operators, y: torch.Tensor, z_inverse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The primal start X = νZ⁻¹, x_lp = ν/z_lp: on the central path of the dual start (XZ = νI), primal
    infeasible, with ν chosen so that the duality gap is ``CENTRED_GAP`` times the dual value.

    Used in reduced coordinates (LeNet-sized networks), where the sampled start of :meth:`_Restricted.start`
    is far from the central path of the diagonally dominant dual start: the predictor steps were 10⁻³–10⁻²
    of the way and the dual value fell by 10 % in six iterations (3.79 → 3.46, LeNet-300-100 shape), against
    3.79 → 0.70 in four iterations from this start."""
    count = ops.k + len(ops.slacked)
    value = abs(float(ops.b @ y)) + 1e-300
    nu = CENTRED_GAP * value / count
    x = nu * z_inverse
    return (x + x.T) / 2, nu / y[ops.slacked]


SAMPLES_PER_COORDINATE = 2
"""The sampled primal start averages w wᵀ over this many random inputs per coordinate."""


def _sampled_points(problem: LagrangianProblem) -> torch.Tensor | None:
    """The coordinates w of the real networks at random unit inputs x (rows; ``SAMPLES_PER_COORDINATE``·k of
    them), or None if the forms do not have
    the layout of :mod:`lottolib.relaxation` (each unit's h form a coordinate, g = h + sδ) or a value is not
    finite. Such points meet every product constraint and the radii.

    The networks are evaluated through the forms themselves, group by group: with h and δ of a group still 0,
    r·w = −z and s̃·w = h − z̃, so z = −r·w, h = σ(z), z̃ = h − s̃·w, δ = (σ(z̃) − h)/s. Only a start for the
    solver: nothing about it is trusted."""
    d, k, scale = problem.input_size // 2, problem.size, problem.scale
    units = problem.units
    if len(units) == 0:
        return None
    forms = problem.forms
    h_columns = forms[units[:, 0]].abs().argmax(1)
    delta_columns = (forms[units[:, 2]] - forms[units[:, 0]]).abs().argmax(1)
    count = SAMPLES_PER_COORDINATE * k
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(count, d, generator=generator, dtype=torch.float64)
    inputs = inputs / inputs.norm(dim=1, keepdim=True).clamp(min=1e-300)
    w = torch.zeros(count, k, dtype=torch.float64)
    w[:, :d], w[:, d:2 * d] = torch.relu(inputs), torch.relu(-inputs)
    start = 0
    for size in problem.group_sizes or (len(units),):
        group = units[start:start + size]
        h_cols, delta_cols = h_columns[start:start + size], delta_columns[start:start + size]
        start += size
        h = torch.relu(-(w @ forms[group[:, 1]].T))
        w[:, h_cols] = h
        pruned = torch.relu(h - w @ forms[group[:, 3]].T)
        w[:, delta_cols] = (pruned - h) / scale
    return w if bool(torch.isfinite(w).all()) else None


def _moments(points: torch.Tensor) -> torch.Tensor:
    """The mean of w wᵀ over the rows, plus a small multiple of the identity (positive definite)."""
    moments = points.T @ points / points.shape[0]
    moments = (moments + moments.T) / 2
    level = 1e-4 * float(moments.diagonal().mean()) + 1e-12
    return moments + level * torch.eye(points.shape[1], dtype=torch.float64)


def cutting_planes(products: torch.Tensor, present: torch.Tensor, complementary: torch.Tensor,
                   count: int) -> torch.Tensor:
    """Up to ``count`` new pairs (a, b), a < b, whose product (ΦXΦᵀ)_ab is most negative relative to
    √((ΦXΦᵀ)_aa (ΦXΦᵀ)_bb), among pairs not yet in ``present`` and not complementary; (c, 2) long."""
    m = products.shape[0]
    diagonal = products.diagonal().clamp(min=1e-300).sqrt()
    relative = products / diagonal[:, None] / diagonal[None, :]
    taken = torch.zeros(m, m, dtype=torch.bool)
    for pairs in (present, complementary):
        taken[pairs[:, 0], pairs[:, 1]] = True
        taken[pairs[:, 1], pairs[:, 0]] = True
    taken |= torch.tril(torch.ones(m, m, dtype=torch.bool))
    relative = relative.masked_fill(taken, math.inf)
    flat = relative.flatten()
    chosen = torch.topk(-flat, min(count, flat.numel())).indices
    chosen = chosen[flat[chosen] < -1e-6]
    return torch.stack([chosen // m, chosen % m], 1)
