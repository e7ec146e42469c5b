"""A certificate for deep pruned networks that does not loosen with depth: a verified Lagrangian bound.

Setting (chapter 5, *Deep networks*). Target F(x) = W_l σ(W_{l−1} ⋯ σ(W_1 x)); pruned network
G̃(x) = g_l(σ(g_{l−1}(⋯ σ(g_1(x))))), with g_1(x) = W_1 x + E⁺_1 σ(x) − E⁻_1 σ(−x) and, for i ≥ 2,
g_i(h) = (W_i + E⁺_i) h (its input is ≥ 0, so only E⁺_i acts). We bound
sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂.

**The bound** is the proposition of :mod:`lottolib.relaxation` (its module docstring; chapter 12 has the
proof): in coordinates w = (p, q, h_1, δ_1, …, h_{l−1}, δ_{l−1}) with p = σ(x), q = σ(−x), h_i the
target's hidden outputs and δ_i = (g_i − h_i)/s (s a power of two), the error is e = s·O w, the *forms*
p, q, h_i, h_i − z_i, g_i, g_i − z̃_i are ≥ 0, the complementary pairs among them multiply to 0, and
‖w‖ ≤ R. Weak Lagrangian duality (the S-procedure) turns *any* multipliers on pairs of forms, with a real
t (and τ_b ≥ 0 per block), into a bound. The problem of a plain network is
:func:`lottolib.relaxation.network_problem` (the forms Φ and O computed in float64 with an entrywise bound
on their distance to the exact ones, subnormal results included; the radii and s rounded up), and
:func:`lottolib.relaxation.verified_bound` turns any multipliers into a float ≥ the exact supremum: it adds
the effect of those errors, of forming K and of the eigenvalue bound (a floating-point Cholesky
factorisation, Higham's Theorem 10.3), every step rounded up; a non-finite quantity gives no bound. This
module only *chooses* the multipliers, two ways, and compares the result with the recursion's bound
(:func:`recursion_certificate`): it is never above it.

**Small networks: the full relaxation.** When k = 2d + 2Σ_{i<l} n_i ≤ ``max_size`` (default 60), every pair
of forms gets a multiplier, from the dual of the doubly non-negative (DNN) semidefinite relaxation of the
same facts (``_solve_relaxation``, cvxpy + Clarabel), and t is chosen by a search on a convex function
(``_with_best_t``). The solver's output is *not trusted*: ``verified_bound`` checks it. The recursion's
bound is returned (with a note saying why) when the problem is larger than ``max_size``, when the scale s
would leave [2⁻⁹⁰⁰, 2⁹⁰⁰] or a radius overflows (tiny or huge errors: ``network_problem`` returns no
problem), or when the solver fails (then a ``RuntimeWarning`` says so). Without cvxpy or Clarabel the
relaxation cannot be solved: :func:`tight_certificate_report` raises ``ModuleNotFoundError`` rather than
return the recursion in its place.

Cost: the semidefinite program has one matrix variable of side k; an interior-point solve grows like k⁶
(measured on one core at load 2–4: about 0.5 s at k = 20, 2.5 s at k = 38, 13 s at k = 56, 42 s at k = 70,
170 s at k = 90). ``max_size`` above :data:`LARGEST_MAX_SIZE` is refused (such a solve would run for hours).

**Larger networks: the structured solver.** Above both ``max_size`` and :data:`DEFAULT_MAX_SIZE`, up to
``structured_max_size`` (default :data:`DEFAULT_STRUCTURED_MAX_SIZE`), the multipliers sit on a *pattern* of
pairs only (the complementary pairs, the other pairs of forms of each ReLU unit, then cutting planes),
chosen by a structured interior-point method within a wall-clock budget ``seconds``
(:mod:`lottolib.interior_point`, cost per iteration about k³ + m²k instead of k⁶, no optional dependency),
with one τ_b per coordinate block, and verified the same way. :func:`tight_certificate_of` does the same for
a construction (plain, residual, convolutional network, or one layer), against the construction's own
certificate.

Introduced in chapter 12, *How tight is the certificate*, where the proof is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from .bounds import add_up, certificate, mul_up, spectral_norm_bound
from .checks import as_matrix, check_layers, check_nonnegative_int, check_positive_int
from .interior_point import cutting_planes, solve_restricted
from .memory import format_bytes, memory_limit
from .relaxation import (
    LagrangianProblem,
    Multipliers,
    lagrangian_matrix,
    mul_up_or_inf,
    network_problem,
    residual_problem,
    sqrt_up,
    verified_bound,
)

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DEFAULT_SECONDS",
    "DEFAULT_STRUCTURED_MAX_SIZE",
    "LARGEST_MAX_SIZE",
    "CertificateReport",
    "recursion_certificate",
    "sqrt_up",
    "tight_certificate",
    "tight_certificate_of",
    "tight_certificate_report",
]

DEFAULT_MAX_SIZE = 60
"""Largest side k of the semidefinite program solved by default (above it, the recursion's bound)."""

LARGEST_MAX_SIZE = 120
"""Largest ``max_size`` accepted: the interior-point solve grows like k⁶ (about 170 s at k = 90)."""

DEFAULT_STRUCTURED_MAX_SIZE = 3000
"""Largest k for which the structured solver is attempted by default (within the memory limit)."""

DEFAULT_SECONDS = 30.0
"""Default wall-clock budget of the structured solver (the verification of its last round comes on top)."""

SINGLE_THREAD_SIZE = 1000
"""Below this k the structured solver runs on one torch thread (small matrices gain nothing from threads,
and on a loaded machine waiting threads cost more than they give); the caller's setting is restored."""

LARGEST_PATTERN = 5000
"""Cutting planes stop at this many multipliers N: the Schur matrix's Cholesky factorisation costs N³/3 per
iteration (about 15 s at N = 5000 on one core) and its assembly about 8N² floats of memory."""

STALE_ROUNDS = 3
"""The structured solver's cutting-plane rounds stop after this many rounds in a row without a 0.1 % gain."""

def _etas(plus: list[torch.Tensor], minus: list[torch.Tensor]) -> list[float]:
    return [spectral_norm_bound(torch.cat([p, m], dim=1)) for p, m in zip(plus, minus, strict=True)]


def _checked(weights: Sequence[object], plus_errors: Sequence[object],
             minus_errors: Sequence[object]) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """Every matrix as a non-empty, real, finite float64 CPU matrix (:func:`~lottolib.checks.as_matrix`:
    complex, boolean, string, empty and meta-device values are refused), then the shapes."""
    lists = []
    for name, values in (("W", weights), ("E+", plus_errors), ("E-", minus_errors)):
        if isinstance(values, (str, bytes, torch.Tensor)) or not isinstance(values, Sequence):
            raise TypeError(f"{name} must be a list of matrices, one per layer, got {type(values).__name__}")
        lists.append([as_matrix(value, f"{name}_{i + 1}") for i, value in enumerate(values)])
    return check_layers(*lists)


def _overflow_message(what: str) -> str:
    return (f"{what} overflows float64: the matrices are too large (the spectral norms multiplied over the layers "
            "exceed 1e308); rescale the network (a ReLU network is positively homogeneous: divide each W_i and its "
            "E_i by a power of two c_i, and multiply the bound by the product of the c_i)")


def recursion_certificate(weights: Sequence[object], plus_errors: Sequence[object],
                          minus_errors: Sequence[object]) -> float:
    """The recursion's certificate Δ_l (chapter 5) from the matrices: ‖W_i‖₂ and η_i = ‖[E⁺_i | E⁻_i]‖₂ bounded
    with :func:`~lottolib.bounds.spectral_norm_bound`, the recursion rounded up.

    Returns a float ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂.

    Raises
    ------
    TypeError, ValueError
        For matrices that are not real, finite, non-empty CPU matrices of matching shapes, or a bound
        beyond float64's range.
    """
    weights, plus, minus = _checked(weights, plus_errors, minus_errors)
    return _recursion(weights, plus, minus)


def _recursion(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor]) -> float:
    try:
        value = certificate([spectral_norm_bound(w) for w in weights], _etas(plus, minus))
    except OverflowError:  # an intermediate product overflowed to infinity
        value = math.inf
    if not math.isfinite(value):
        raise ValueError(_overflow_message("the recursion's bound"))
    return value


@dataclass(frozen=True)
class CertificateReport:
    """The recursion's and the tight certificate for one pruned network, with how the tight one was obtained.

    ``recursion`` is the recursion's bound (chapter 5; for a construction its own ``certificate``, chapter 11
    for residual networks); ``tight`` = min(``recursion``, ``relaxation``) ≤ ``recursion`` is the tight
    certificate, ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ in exact arithmetic. ``method`` is ``"relaxation"``
    (``tight`` is the verified Lagrangian bound) or ``"recursion"`` (not attempted, no solver, the solver
    failed, or its bound was not below the recursion: then ``tight == recursion`` and ``note`` says why);
    ``size`` is k, the number of coordinates (the side of the semidefinite program); ``seconds`` the wall time.

    Added for the structured solver (defaults keep older reports valid): ``solver`` says how the
    multipliers were chosen (``"full"``: every pair of forms, cvxpy + Clarabel; ``"structured"``: a pattern
    of pairs, :mod:`lottolib.interior_point`; ``""``: not attempted); ``pairs`` the number of multipliers;
    ``relaxation`` the verified relaxation bound even when it is not below the recursion (``math.inf``
    when none was computed).
    """

    recursion: float
    tight: float
    method: str
    size: int
    seconds: float
    note: str = ""
    solver: str = ""
    pairs: int = 0
    relaxation: float = math.inf


def _check_max_size(max_size: object) -> int:
    size = check_positive_int(max_size, "max_size")
    if size > LARGEST_MAX_SIZE:
        raise ValueError(f"max_size = {size} is beyond what the relaxation's solver can do: its cost grows like k⁶ "
                         f"(about 170 s at k = 90, hours beyond); pass max_size <= {LARGEST_MAX_SIZE} (larger "
                         "networks get the recursion's bound, recursion_certificate)")
    return size


@dataclass(frozen=True)
class _Budget:
    """The checked limits: full relaxation up to ``full`` coordinates, the structured solver up to
    ``structured`` within ``seconds``; ``force`` True (structured solver even for small k), False (never),
    None (above both ``full`` and DEFAULT_MAX_SIZE)."""

    full: int
    structured: int
    seconds: float
    force: bool | None


def _check_budget(max_size: object, structured_max_size: object, seconds: object, structured: object) -> _Budget:
    full = _check_max_size(max_size)
    largest = check_nonnegative_int(structured_max_size, "structured_max_size")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"seconds must be a number, got {seconds!r} ({type(seconds).__name__}); pass e.g. seconds=30")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}; pass e.g. seconds=30")
    if structured is not None and not isinstance(structured, bool):
        raise TypeError(f"structured must be True, False or None, got {structured!r}")
    return _Budget(full, largest, float(seconds), structured)


def _require_solver() -> None:
    """Raise a clear error when cvxpy or Clarabel is missing (never return the recursion silently)."""
    import importlib.util

    missing = [name for name in ("cvxpy", "clarabel") if importlib.util.find_spec(name) is None]
    if missing:
        raise ModuleNotFoundError(
            f"the tight certificate solves a semidefinite relaxation with cvxpy and Clarabel, and {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: run `pip install cvxpy clarabel` (the versions "
            "are in the book's requirements.txt); recursion_certificate gives the recursion's bound without them")


@dataclass(frozen=True)
class _Attempt:
    """A verified relaxation bound for the given matrices (``math.inf``: none), how, and why not."""

    bound: float = math.inf
    solver: str = ""
    pairs: int = 0
    note: str = ""


UNDERFLOW_NOTE = ("the errors are too small or too large for the relaxation's scaled forms in float64 "
                  "(a scaled entry underflows or overflows): the recursion's bound is returned")


def _full(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor]) -> _Attempt:
    """The doubly non-negative relaxation of :func:`lottolib.relaxation.network_problem` (a multiplier on every
    pair of forms, :func:`_solve_relaxation`), verified by :func:`lottolib.relaxation.verified_bound`."""
    problem = network_problem(weights, plus, minus)
    if problem is None:
        return _Attempt(note=UNDERFLOW_NOTE)
    _require_solver()
    try:
        multipliers = _solve_relaxation(problem)
    except BaseException as error:  # a failing solver falls back to the recursion's sound bound, announced
        if not isinstance(error, Exception) and type(error).__name__ != "PanicException":
            raise  # KeyboardInterrupt, SystemExit; a panic in Clarabel's Rust core is pyo3's PanicException
        note = f"relaxation not solved ({type(error).__name__}: {error}); the recursion's bound is returned"
        warnings.warn(f"tight certificate: {note}", RuntimeWarning, stacklevel=3)
        return _Attempt(note=note)
    return _Attempt(verified_bound(problem, _with_best_t(problem, multipliers)), "full", len(multipliers.pairs))


def _solve_relaxation(problem: LagrangianProblem) -> Multipliers:
    """Multipliers on every pair of forms from the dual of the doubly non-negative relaxation (cvxpy + Clarabel).

    The relaxation of the facts of :mod:`lottolib.relaxation` (put X = wwᵀ): maximise ⟨ÔᵀÔ, X⟩ over X ⪰ 0 with
    f̂_aᵀXf̂_b ≥ 0 for every pair a ≤ b of forms that is not complementary, = 0 for the complementary pairs,
    tr X_C = 1 on the (p, q) block and tr X ≤ R². Its Lagrangian is the proposition's K, since
    f_aᵀXf_b = ⟨X, (f_a f_bᵀ + f_b f_aᵀ)/2⟩: the dual of pair (a, b) is y_e and that of tr X_C = 1 is t; that of
    tr X ≤ R², τ ≥ 0, makes K ⪯ τI, so with every τ_b = 0 the proposition's μ is about τ and its bound
    t + μR² the dual's value (:func:`_with_best_t` then refines t). In a maximisation cvxpy's dual ν of an
    equality g = c enters the Lagrangian as −ν(g − c), so y_e = −ν on the complementary pairs and t = ν.

    The program is solved in the coordinates w'_b = w_b / R_b (every block in the unit ball, R_b clipped to
    [1e-4, 1e4]; the forms' columns multiplied by R_b and tr X ≤ R² written as Σ_b R_b² tr X'_b + tr X'_C ≤ R²):
    the same program, and the
    multipliers of the forms and t do not depend on the coordinates, but Clarabel stops short of the optimum
    about half as often (865 random networks of depth 2–3, d ≤ 3: 86 inaccurate solves against 160 unscaled;
    the bound more than 0.1 % above the best of the three 44 times, against 102 unscaled and 117 for the
    earlier formulation with both orders of every pair). One trace constraint per block,
    tr X_b ≤ R_b² with its τ_b, is allowed too, but those radii are not active on the book's networks: the
    bounds came out the same or up to 7e-5 worse. Nothing here needs to be right:
    :func:`lottolib.relaxation.verified_bound` checks whatever is returned (as admissible multipliers).
    """
    import cvxpy as cp  # optional dependency: only the tight certificate needs it
    import numpy as np

    k, m, inputs = problem.size, problem.forms.shape[0], problem.input_size
    radii = np.ones(k)  # w_b = R_b w'_b, R_b clipped to [1e-4, 1e4] (Clarabel panicked on 1e-300 and 1e300 radii)
    for (start, stop), radius_squared in zip(problem.blocks, problem.radii_squared, strict=True):
        radii[start:stop] = min(max(math.sqrt(radius_squared), 1e-4), 1e4)
    forms, objective = problem.forms.numpy() * radii, problem.objective.numpy() * radii
    complementary = problem.complementary.numpy()
    rows, cols = np.triu_indices(m)
    is_complementary = np.zeros((m, m), dtype=bool)
    is_complementary[complementary[:, 0], complementary[:, 1]] = True
    is_complementary[complementary[:, 1], complementary[:, 0]] = True
    signed = ~is_complementary[rows, cols]
    rows, cols = rows[signed], cols[signed]
    moment = cp.Variable((k, k), PSD=True)
    products = forms @ moment @ forms.T
    constraints = [
        cp.trace(moment[:inputs, :inputs]) == 1,
        products[rows, cols] >= 0,
        products[complementary[:, 0], complementary[:, 1]] == 0,
        cp.sum(cp.multiply(radii**2, cp.diag(moment))) <= problem.radius_squared,
    ]
    relaxation = cp.Problem(cp.Maximize(cp.trace(objective @ moment @ objective.T)), constraints)
    with warnings.catch_warnings():  # an inaccurate solution is fine: the bound is verified afterwards
        warnings.simplefilter("ignore")
        relaxation.solve(solver="CLARABEL")
    duals = [constraint.dual_value for constraint in constraints]
    if any(dual is None for dual in duals):
        raise RuntimeError(f"the relaxation's solver returned no dual ({relaxation.status})")
    pairs = torch.tensor(np.concatenate([np.stack([rows, cols], 1), complementary]), dtype=torch.long)
    values = torch.tensor(np.concatenate([np.asarray(duals[1], dtype=float).ravel(),
                                          -np.asarray(duals[2], dtype=float).ravel()]), dtype=torch.float64)
    free = torch.cat([torch.zeros(len(rows), dtype=torch.bool), torch.ones(len(complementary), dtype=torch.bool)])
    return Multipliers(pairs, values, free, float(duals[0]), (0.0,) * len(problem.blocks)).admissible()


def _with_best_t(problem: LagrangianProblem, multipliers: Multipliers) -> Multipliers:
    """The multipliers with t minimising t + R²·max(0, λ_max(K₀ − tC)), K₀ the proposition's K at t = 0 (float
    eigenvalues; the function is convex in t: a ternary search on a bracket around the solver's t). Unchanged
    when K₀ has non-finite entries or LAPACK fails on it (the verified bound then says what it can)."""
    base = lagrangian_matrix(problem, dataclasses.replace(multipliers, t=0.0))
    if not bool(torch.isfinite(base).all()):
        return multipliers
    input_identity = torch.diag((torch.arange(problem.size) < problem.input_size).double())
    radius = problem.radius_squared

    def value(t: float) -> float:
        return t + radius * max(0.0, float(torch.linalg.eigvalsh(base - t * input_identity).max()))

    try:
        top = float(torch.linalg.eigvalsh(base).max())
        low, high = min(-abs(top), multipliers.t) - 1.0, max(abs(top), multipliers.t) + 1.0
        for _ in range(80):
            left, right = low + (high - low) / 3, high - (high - low) / 3
            if value(left) <= value(right):
                high = right
            else:
                low = left
    except RuntimeError:  # torch.linalg's error for an eigenvalue problem LAPACK cannot solve
        return multipliers
    t = (low + high) / 2
    return dataclasses.replace(multipliers, t=t) if math.isfinite(t) else multipliers


def _pattern_sizes(d: int, hidden: Sequence[int]) -> tuple[int, int]:
    """(m, N): the number of forms and of multipliers of the structured solver's first pattern, from the
    shapes alone (2d + 4Σn forms; d + 2Σn complementary pairs and 4Σn other pairs of a unit's forms)."""
    units = sum(hidden)
    return 2 * d + 4 * units, d + 2 * units + 4 * units


def _estimated_bytes(size: int, forms: int, pairs: int) -> int:
    """Peak memory of the structured solver: about 14 dense k × k, 8 m × k, 4 m × m and 8 N × N float64 arrays
    (the Schur matrix, its factor and the gathered products that assemble it)."""
    return 8 * (14 * size * size + 8 * forms * size + 4 * forms * forms + 8 * pairs * pairs)


@contextlib.contextmanager
def _threads(size: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    if size < SINGLE_THREAD_SIZE:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _structured(problem: LagrangianProblem, deadline: float, max_pairs: int) -> tuple[float, int]:
    """The best verified bound of the structured solver and its cutting planes before ``deadline``,
    and the number of multipliers it used."""
    complementary = problem.complementary
    pairs, free = problem.first_pattern()
    best, used, rounds, stale, verify_seconds = math.inf, len(pairs), 0, 0, 0.0
    while True:
        remaining = deadline - time.perf_counter() - 2 * verify_seconds
        if remaining <= 0 and rounds:
            break
        try:
            solution = solve_restricted(problem, pairs, free,
                                        seconds=max(remaining, 0.5 * (deadline - time.perf_counter())))
        except (RuntimeError, ValueError) as error:  # torch.linalg errors: the solver is only a heuristic
            warnings.warn(f"tight certificate: the structured solver stopped ({type(error).__name__}: {error}); "
                          "the best verified bound so far is kept", RuntimeWarning, stacklevel=4)
            break
        started = time.perf_counter()
        bound = verified_bound(problem, solution.multipliers)
        verify_seconds = time.perf_counter() - started
        rounds += 1
        stale = 0 if bound < best * (1 - 1e-3) else stale + 1  # the solver is inexact: a round may not improve
        if bound < best:
            best, used = bound, len(pairs)
        room = max_pairs - len(pairs)
        if stale >= STALE_ROUNDS or solution.products is None or room <= 0:
            break
        offset = solution.offset  # in reduced coordinates the products cover the forms from offset on
        local = complementary[(complementary >= offset).all(1)] - offset
        present = pairs[(pairs >= offset).all(1)] - offset
        new = cutting_planes(solution.products, present, local, min(room, max(8, len(pairs) // 2))) + offset
        if len(new) == 0:
            break
        pairs = torch.cat([pairs, new])
        free = torch.cat([free, torch.zeros(len(new), dtype=torch.bool)])
    return best, used


def _structured_attempt(build: Callable[[], LagrangianProblem | None], size: int, forms: int, pairs: int,
                        budget: _Budget, start: float) -> _Attempt:
    """Check the size and memory before any work, then build the problem (``build()``) and run :func:`_structured`."""
    if size > budget.structured:
        return _Attempt(note=f"k = {size} > structured_max_size = {budget.structured}: the relaxation was not attempted")
    limit, needed = memory_limit(), _estimated_bytes(size, forms, pairs)
    if needed > limit:
        return _Attempt(note=f"the structured relaxation would need about {format_bytes(needed)} (above the memory "
                             f"limit {format_bytes(limit)}): the recursion's bound is returned")
    most = pairs  # cutting planes: at most 4 times the first pattern, LARGEST_PATTERN, and the memory limit
    while most < 4 * pairs and _estimated_bytes(size, forms, 2 * most) <= limit:
        most *= 2
    most = max(pairs, min(most, LARGEST_PATTERN))
    problem = build()
    if problem is None:
        return _Attempt(note=UNDERFLOW_NOTE)
    with _threads(size):
        bound, used = _structured(problem, start + budget.seconds, most)
    return _Attempt(bound, "structured", used)


def _attempt(weights: list[torch.Tensor], plus: list[torch.Tensor], minus: list[torch.Tensor],
             budget: _Budget, start: float) -> _Attempt:
    """The verified relaxation bound of a plain network (stored matrices), full or structured (module docstring)."""
    d, hidden = weights[0].shape[1], [w.shape[0] for w in weights[:-1]]
    size = 2 * d + 2 * sum(hidden)
    if budget.force is not True and size <= budget.full:
        return _full(weights, plus, minus)
    if budget.force is False or (budget.force is None and size <= max(budget.full, DEFAULT_MAX_SIZE)):
        return _Attempt(note=f"k = {size} > max_size = {budget.full}: the relaxation was not solved")
    forms, pairs = _pattern_sizes(d, hidden)
    return _structured_attempt(lambda: network_problem(weights, plus, minus), size, forms, pairs, budget, start)


def _compared(recursion: float, attempt: _Attempt, size: int, start: float, slack: float = 0.0) -> CertificateReport:
    """The report: the attempt's bound plus ``slack`` (rounded up) if it is below ``recursion``, else the recursion."""
    relaxation = attempt.bound
    if math.isfinite(relaxation) and slack:
        relaxation = add_up(relaxation, slack)
    seconds = time.perf_counter() - start
    if relaxation < recursion:
        return CertificateReport(recursion, relaxation, "relaxation", size, seconds, attempt.note, attempt.solver,
                                 attempt.pairs, relaxation)
    note = attempt.note or "the verified relaxation bound was not below the recursion"
    return CertificateReport(recursion, recursion, "recursion", size, seconds, note, attempt.solver, attempt.pairs,
                             relaxation)


def tight_certificate_report(
    weights: Sequence[object],
    plus_errors: Sequence[object],
    minus_errors: Sequence[object],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE,
    seconds: float = DEFAULT_SECONDS,
    structured: bool | None = None,
) -> CertificateReport:
    """Both certificates for G̃ vs F (see the module docstring), and how the tight one was obtained.

    Parameters
    ----------
    weights
        W_1 … W_l (n_i, n_{i−1}); any finite real entries (no norm assumption is needed).
    plus_errors, minus_errors
        E⁺_i, E⁻_i, same shapes: the pruned block i computes W_i h + E⁺_i σ(h) − E⁻_i σ(−h)
        (for i ≥ 2 only E⁺_i matters, its input being ≥ 0).
    max_size
        Solve the full relaxation when k = 2d + 2Σ_{i<l} n_i ≤ max_size (an integer, 1 … LARGEST_MAX_SIZE).
    structured_max_size
        Use the structured solver when k is above both ``max_size`` and :data:`DEFAULT_MAX_SIZE` and at most
        this (an integer ≥ 0; 0 turns it off), within the memory limit (:func:`lottolib.memory_limit`).
    seconds
        Wall-clock budget of the structured solver (a number > 0); the verification of its last round
        comes on top.
    structured
        None (default: as above), True (the structured solver whatever k, up to ``structured_max_size``),
        or False (never).

    Returns
    -------
    CertificateReport
        ``tight`` ≤ ``recursion``, both ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂ in exact arithmetic. ``method`` is
        ``"recursion"`` with a ``note`` saying why when the relaxation was not used.

    Raises
    ------
    TypeError, ValueError
        For matrices that are not lists of real, finite, non-empty CPU matrices of matching shapes
        (complex, boolean, string or meta-device values included), a bound beyond float64's range,
        a ``max_size`` that is not an integer in 1 … :data:`LARGEST_MAX_SIZE`, or a bad
        ``structured_max_size``, ``seconds`` or ``structured``.
    ModuleNotFoundError
        When the full relaxation is to be solved and cvxpy or Clarabel is not installed.

    Warns
    -----
    RuntimeWarning
        When the full relaxation's solver fails (the recursion's bound is returned, as the report's note says).
    """
    start = time.perf_counter()
    budget = _check_budget(max_size, structured_max_size, seconds, structured)
    weights, plus, minus = _checked(weights, plus_errors, minus_errors)
    recursion = _recursion(weights, plus, minus)
    size = 2 * weights[0].shape[1] + 2 * sum(w.shape[0] for w in weights[:-1])
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    return _compared(recursion, _attempt(weights, plus, minus, budget, start), size, start)


def tight_certificate(
    weights: Sequence[object],
    plus_errors: Sequence[object],
    minus_errors: Sequence[object],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE,
    seconds: float = DEFAULT_SECONDS,
    structured: bool | None = None,
) -> float:
    """A float ≥ sup_{‖x‖₂ ≤ 1} ‖G̃(x) − F(x)‖₂, never above :func:`recursion_certificate`.

    See :func:`tight_certificate_report` for the parameters, errors and warnings; this returns its ``tight``.
    """
    return tight_certificate_report(weights, plus_errors, minus_errors, max_size=max_size,
                                    structured_max_size=structured_max_size, seconds=seconds,
                                    structured=structured).tight


# ----------------------------------------------------------------------------------------------
# Constructions: the stored errors Ê are float64 roundings of the exact ones E


def tight_certificate_of(construction: object, *, max_size: int = DEFAULT_MAX_SIZE,
                         structured_max_size: int = DEFAULT_STRUCTURED_MAX_SIZE, seconds: float = DEFAULT_SECONDS,
                         structured: bool | None = None) -> CertificateReport:
    """The tight certificate of a construction against its own target.

    Parameters
    ----------
    construction
        A :class:`~lottolib.NetworkConstruction`, :class:`~lottolib.residual.ResidualConstruction`,
        :class:`~lottolib.conv.CNNConstruction` (at its image size: a plain network of depth 2 whose first
        matrices are the convolution matrices, each entry a kernel entry or 0) or
        :class:`~lottolib.LayerConstruction`.
    max_size, structured_max_size, seconds, structured
        As in :func:`tight_certificate_report` (a residual network is always left to the structured solver:
        its relaxation has split units for the stream, which the full relaxation does not model).

    Returns
    -------
    CertificateReport
        ``recursion`` is the construction's own ``certificate``. The relaxation is solved for the stored
        float64 errors Ê, and the distance of G̃ with the exact errors to G̃ with Ê is added (rounded up):
        the recursion of the pruned maps with gains ‖W_i‖₂ + η_i and per-pair slack ‖E − Ê‖_F
        (``rounding_slack``), so ``tight`` ≥ the exact worst error of the construction.

    Raises
    ------
    TypeError
        For any other object, or a bad ``structured_max_size``, ``seconds`` or ``structured``;
        ValueError for a bad ``max_size`` (as :func:`tight_certificate_report`).
    """
    from .conv import CNNConstruction
    from .layer import LayerConstruction
    from .network import NetworkConstruction
    from .residual import ResidualConstruction

    start = time.perf_counter()
    budget = _check_budget(max_size, structured_max_size, seconds, structured)
    if isinstance(construction, LayerConstruction):
        return _plain([construction.target], [construction], construction.certificate,
                      [spectral_norm_bound(construction.target)], [construction.eta], budget, start)
    if isinstance(construction, NetworkConstruction):
        return _plain(list(construction.target), construction.layers, construction.certificate, construction.norms,
                      construction.etas, budget, start)
    if isinstance(construction, CNNConstruction):
        return _cnn(construction, budget, start)
    if isinstance(construction, ResidualConstruction):
        return _residual(construction, budget, start)
    raise TypeError(f"tight_certificate_of takes a network, residual, CNN or layer construction, "
                    f"got {type(construction).__name__}")


def _plain(weights: list[torch.Tensor], layers: Sequence[object], recursion: float, norms: list[float],
           etas: list[float], budget: _Budget, start: float) -> CertificateReport:
    plus = [layer.plus_error for layer in layers]  # type: ignore[attr-defined]
    minus = [layer.minus_error for layer in layers]  # type: ignore[attr-defined]
    slacks = [layer.rounding_slack for layer in layers]  # type: ignore[attr-defined]
    size = 2 * weights[0].shape[1] + 2 * sum(w.shape[0] for w in weights[:-1])
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    attempt = _attempt(weights, plus, minus, budget, start)
    # G̃ with the exact errors against G̃ with the stored ones: pruned maps with gains ‖W_i‖ + η_i, slack per pair
    gains = [add_up(norm, eta) for norm, eta in zip(norms, etas, strict=True)]
    return _compared(recursion, attempt, size, start, certificate(gains, slacks))


def _cnn(construction: object, budget: _Budget, start: float) -> CertificateReport:
    """A CNN at its image size as a plain network of depth 2: the pruned conv pair at image level is
    conv(x, K) + conv(σ(x), E⁺) − conv(σ(−x), E⁻), since taking patches commutes with σ (zero padding
    included, σ(0) = 0)."""
    from .conv import CNNConstruction, _sqrt_up
    from .conv_bounds import conv_matrix

    assert isinstance(construction, CNNConstruction)
    conv, linear = construction.conv, construction.linear
    image = construction.input_shape
    shape = conv.kernel.shape
    matrices = [conv_matrix(kernel, image, conv.padding)
                for kernel in (conv.kernel, conv.layer.plus_error.view(shape), conv.layer.minus_error.view(shape))]
    conv_slack = mul_up(conv.layer.rounding_slack, _sqrt_up(shape[2] * shape[3]))  # ‖ΔK̂‖_F per patch, hw patches/pixel
    norms = [conv.operator_bound, spectral_norm_bound(linear.target)]
    etas = [conv.certificate, linear.eta]
    size = 2 * math.prod(image) + 2 * linear.target.shape[1]
    recursion = construction.certificate
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    attempt = _attempt([matrices[0], linear.target], [matrices[1], linear.plus_error],
                       [matrices[2], linear.minus_error], budget, start)
    gains = [add_up(norm, eta) for norm, eta in zip(norms, etas, strict=True)]
    return _compared(recursion, attempt, size, start, certificate(gains, [conv_slack, linear.rounding_slack]))


def _residual(construction: object, budget: _Budget, start: float) -> CertificateReport:
    """The residual problem of :func:`lottolib.relaxation.residual_problem`, with radii from chapter 11's
    recursion: branch units ‖h‖ ≤ a_i R_{i−1}, ‖h̃ − h‖ ≤ D_i = η₁ᵢ(R_{i−1} + Δ_{i−1}) + a_iΔ_{i−1}; stream
    (split) units ‖σ(z_i)‖ ≤ R_i, ‖σ(z̃_i) − σ(z_i)‖ ≤ Δ_i."""
    from .residual import ResidualConstruction, residual_certificate

    assert isinstance(construction, ResidualConstruction)
    target = construction.target
    count, d = len(target.blocks), target.d
    widths = [first.shape[0] for first, _ in target.blocks]
    splits = count - 1 + (target.readout is not None)
    size = 2 * d + 2 * sum(widths) + 2 * d * splits
    recursion = construction.certificate
    if recursion == 0.0:
        return _compared(recursion, _Attempt(note="the errors are zero"), size, start)
    norms, readout_norm = target.norm_bounds()
    reaches = target.reaches()
    gaps = [0.0, *construction.gaps]
    etas = construction.etas
    radii: list[tuple[float, float]] = []
    try:  # an overflow (Fraction(inf) in add_up) leaves an infinite radius: no problem, the recursion stands
        for i, (a, _) in enumerate(norms):
            inner = add_up(mul_up_or_inf(etas[2 * i], add_up(reaches[i], gaps[i])), mul_up_or_inf(a, gaps[i]))
            radii.append((mul_up_or_inf(a, reaches[i]), inner))
            if i < count - 1 or target.readout is not None:
                radii.append((reaches[i + 1], gaps[i + 1]))
    except OverflowError:
        radii = [(math.inf, math.inf)] * (count + splits)
    pairs = construction.pairs
    errors = [(pair.plus_error, pair.minus_error) for pair in pairs]
    units = sum(widths) + d * splits
    forms, first_pattern = 2 * d + 4 * units, d + 6 * units
    if budget.force is False:
        attempt = _Attempt(note="structured=False: the residual relaxation (structured solver only) was not attempted")
    else:
        attempt = _structured_attempt(lambda: residual_problem(target.blocks, target.readout, errors, recursion, radii),
                                      size, forms, first_pattern, budget, start)
    pruned_norms = [(add_up(a, pairs[2 * i].eta), add_up(b, pairs[2 * i + 1].eta)) for i, (a, b) in enumerate(norms)]
    slacks = [(pairs[2 * i].rounding_slack, pairs[2 * i + 1].rounding_slack) for i in range(count)]
    readout = None if readout_norm is None else (add_up(readout_norm, pairs[-1].eta), pairs[-1].rounding_slack)
    return _compared(recursion, attempt, size, start, residual_certificate(pruned_norms, slacks, readout))
