"""SubsetSum measurements, written to bench/subset_sum.json.

Usage: python bench/subset_sum_bench.py [--out bench/subset_sum.json] [--only SECTION ...] [--quick]

Sections (times on this machine: ``cpu_s`` is process time, which other jobs on the shared
machine inflate less than ``wall_s``; every section records the load average when it ran):
- floor: η against the number of units searched per side (``max_units``), for 1×1, 4×4 and
  16×16 random targets (‖W‖₂ = 1, seed 0) at several k, seed 0, with the full search (the floor is
  the smallest η);
- speed: microseconds per target weight (both sides, one thread) of the full search
  (``choose_subsets``, tolerance 0) at each ``max_units``, on sides with more units than searched;
  at 16, 20 and 24 units also the previous implementation (:func:`previous_choose_subsets`, a copy
  kept here) on the same weights in the same run;
- peers: one side's best subset of exactly m ∈ {16, 20, 24} random products, by the library, by
  brute force over all 2^m subset sums, by an exact MILP (SciPy's HiGHS) and by the enumeration of
  LT-existence (subsets by increasing size, itertools): microseconds per subset problem and the
  largest difference to the library's optimum;
- beyond_cap: on sides with more units than searched, how often the exact best over all of the
  side's units beats the window's;
- eps_1e5: the smallest k (seed 0) whose layer certifies η ≤ 1e-5 on the 16×16 target;
- per_weight: random parameters per target weight at ε ∈ {0.1, 0.03, 0.01, 0.003, 0.001}
  (16×16 target, smallest k for 9 of 10 seeds), with the counting lower bound;
- lenet: the LeNet-300-100-shaped target at ε = 0.01 and 1e-3 (k = 64) with --threads (default 2),
  each case in a fresh subprocess: the search stopped at the tolerance (the library's default) and
  the previous implementation's full search, in the same run; time, peak memory (VmHWM) of the
  construction and its certificate, certificate, η per layer, how many units each layer's sides
  searched, and the largest error on 256 random inputs (and the peak memory after that check, which
  evaluates the random and the pruned network);
- proposed: what a change outside this module would give, measured here by calling
  ``choose_subsets`` on blocks built as the change would build them: units assigned to inputs by
  ``assign_units`` (parameters per weight), and the per-side failure rate that bounds parameters
  per weight from below.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import Bounds, LinearConstraint, milp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lottolib as L  # noqa: E402
import lottolib.layer as layer_module  # noqa: E402
import lottolib.subset_sum as S  # noqa: E402
from lottolib.random_network import sample_block  # noqa: E402

EPSILONS = [0.1, 0.03, 0.01, 0.003, 0.001]
FLOOR_UNITS = [8, 12, 16, 20, 24, 28, 32]
COMPARED_UNITS = [16, 20, 24]
LENET = [784, 300, 100, 10]
THREADS = 2


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM, reset by exec)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


@contextlib.contextmanager
def _cap(max_units: int) -> Iterator[None]:
    """Make ``max_units`` the library's default search size (the layer calls choose_subsets without it)."""
    saved = S.MAX_SIDE_CANDIDATES
    S.MAX_SIDE_CANDIDATES = max_units
    try:
        yield
    finally:
        S.MAX_SIDE_CANDIDATES = saved


class _Clock:
    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self.wall
        self.cpu_s = time.process_time() - self.cpu


# ---------------------------------------------------------------------------------------------
# The previous implementation of the full search (tolerance 0), kept here only to be timed against
# the library in the same run: the same windows and the same best subsets, computed with a binary
# search for both neighbours of every sum, one job per side, and chunks sized for 2^10-sum halves.
# ---------------------------------------------------------------------------------------------

def _previous_best_subset(values: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    count = values.shape[1]
    high = count // 2
    low = count - high
    high_sums, high_order = S._all_sums(values[:, low:]).sort(dim=1, stable=True)
    last = high_sums.shape[1] - 1
    block_bits = min(low, S.LOW_BLOCK.bit_length() - 1)
    block_sums = S._all_sums(values[:, :block_bits])
    target = w.unsqueeze(1)
    best_magnitude = torch.full_like(w, torch.inf)
    best_low = torch.zeros(w.shape, dtype=torch.long)
    best_high = torch.zeros(w.shape, dtype=torch.long)
    for block in range(1 << (low - block_bits)):
        offset = w.new_zeros(w.shape[0], 1)
        for bit in range(low - block_bits):
            if block >> bit & 1:
                offset = offset + values[:, block_bits + bit : block_bits + bit + 1]
        low_sums = block_sums + offset
        above = torch.searchsorted(high_sums, (target - low_sums).contiguous())
        for position in (above.clamp(max=last), (above - 1).clamp(min=0)):
            magnitude, low_index = (low_sums + high_sums.gather(1, position) - target).abs().min(dim=1)
            better = magnitude < best_magnitude
            best_magnitude = torch.where(better, magnitude, best_magnitude)
            best_low = torch.where(better, low_index + (block << block_bits), best_low)
            best_high = torch.where(better, position.gather(1, low_index.unsqueeze(1)).squeeze(1), best_high)
    high_subset = high_order.gather(1, best_high.unsqueeze(1)).squeeze(1)
    codes = torch.cat([best_low.unsqueeze(1), high_subset.unsqueeze(1)], dim=1)
    keep = torch.cat([(codes[:, :1] >> torch.arange(low)) & 1, (codes[:, 1:] >> torch.arange(high)) & 1], dim=1).bool()
    return keep, (values * keep).sum(dim=1) - w


def _previous_sorted_side(products: torch.Tensor, on_side: torch.Tensor) -> dict[str, torch.Tensor]:
    order = products.masked_fill(~on_side, torch.inf).argsort(dim=1, stable=True)
    available = on_side.sum(dim=1)
    values = products.gather(1, order).masked_fill(torch.arange(products.shape[1]) >= available.unsqueeze(1), 0.0)
    zero = values.new_zeros(values.shape[0], 1)
    prefix = {name: torch.cat([zero, x.cumsum(dim=1)], dim=1)
              for name, x in (("sums", values), ("squares", values.square()), ("positives", values.clamp(min=0)))}
    return {"order": order, "available": available, "values": values, **prefix}


def _previous_window(side: dict[str, torch.Tensor], rows: torch.Tensor, w: torch.Tensor, count: int) -> torch.Tensor:
    starts = torch.arange(side["values"].shape[1] - count + 1)
    ends = starts + count

    def window_sum(prefix: torch.Tensor) -> torch.Tensor:
        return prefix[rows][:, ends] - prefix[rows][:, starts]

    mean, variance = window_sum(side["sums"]) / 2, (window_sum(side["squares"]) / 4).clamp(min=1e-300)
    high = window_sum(side["positives"])
    low = 2 * mean - high
    target = w.unsqueeze(1)
    miss = (low - target).clamp(min=0) + (target - high).clamp(min=0)
    score = -0.5 * variance.log() - (target - mean).square() / (2 * variance)
    score = torch.where(miss > 0, -1e30 * (1 + miss), score)
    allowed = ends <= side["available"][rows].unsqueeze(1)
    return score.masked_fill(~allowed, -torch.inf).argmax(dim=1)


def _previous_side(products: torch.Tensor, on_side: torch.Tensor, w: torch.Tensor, max_units: int,
                   keep_out: torch.Tensor, error: torch.Tensor) -> None:
    side = _previous_sorted_side(products, on_side)
    rows_total, k = products.shape
    keep = torch.zeros(rows_total, k + 1, dtype=torch.bool)
    torch.neg(w, out=error)
    counts = side["available"].clamp(max=max_units)
    widths = S._bucket(counts, max_units)
    for width in widths[counts > 0].unique().tolist():
        group = ((counts > 0) & (widths == width)).nonzero(as_tuple=True)[0]
        for rows in group.split(max(1, S.SUMS_PER_PASS >> (width // 2))):
            capped = side["available"][rows] > counts[rows]
            first = torch.zeros(len(rows), dtype=torch.long)
            if bool(capped.any()):
                chosen = rows[capped]
                first[capped] = _previous_window(side, chosen, w[chosen], width)
            positions = first.unsqueeze(1) + torch.arange(width)
            real = positions < (first + counts[rows]).unsqueeze(1)
            positions = positions.clamp(max=k - 1)
            values = side["values"][rows].gather(1, positions) * real
            keep_window, error[rows] = _previous_best_subset(values, w[rows])
            units = torch.where(real, side["order"][rows].gather(1, positions), k)
            keep[rows] = torch.zeros(len(rows), k + 1, dtype=torch.bool).scatter_(1, units, keep_window & real)
    keep_out |= keep[:, :k]


def previous_choose_subsets(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor, *,
                            max_units: int | None = None, tolerance: float = 0.0) -> S.SubsetChoice:
    """The previous implementation of ``choose_subsets`` with tolerance 0 (the full search of each top window).

    It returns the same kept units and errors as the library's full search; ``searched`` is the top
    window's size and ``complete`` is True everywhere. A tolerance is refused.
    """
    if tolerance != 0:
        raise ValueError("the previous implementation is kept for the full search only (tolerance 0)")
    max_units = S.MAX_SIDE_CANDIDATES if max_units is None else max_units
    first_weights = first_weights.expand_as(products)
    batch, k = products.shape[:-1], products.shape[-1]
    flat, signs, target = products.reshape(-1, k), first_weights.reshape(-1, k), w.reshape(-1).to(products.dtype)
    keep = torch.zeros(2, *flat.shape, dtype=torch.bool)
    errors = torch.empty(2, *target.shape, dtype=target.dtype)
    threads = torch.get_num_threads()
    parallel = flat.shape[0] >= 64
    parts = max(1, threads // 2) if parallel else 1
    size = math.ceil(flat.shape[0] / parts)
    jobs = [functools.partial(_previous_side, flat[rows], on_side[rows], target[rows], max_units, keep[index, rows],
                              errors[index, rows])
            for index, on_side in enumerate((signs > 0, signs < 0))
            for rows in (slice(start, start + size) for start in range(0, flat.shape[0], size))]
    S._run(jobs, threads if parallel else 1)
    searched = torch.stack([(signs > 0).sum(dim=1), (signs < 0).sum(dim=1)]).clamp(max=max_units)
    return S.SubsetChoice((keep[0] | keep[1]).view(*batch, k), errors[0].view(batch), errors[1].view(batch),
                          searched.view(2, *batch), torch.ones(2, *batch, dtype=torch.bool))


def _previous_values_per_weight(k: int) -> int:
    """The previous chunk sizing: the sorted half and a block of the other half counted per weight."""
    m = S.searched_units(k)
    high, low = m // 2, m - m // 2
    return 16 * k + 2 * (1 << high) + 8 * min(1 << low, S.LOW_BLOCK)


@contextlib.contextmanager
def previous_implementation() -> Iterator[None]:
    """Make the layer use the previous implementation (with its chunk sizing); call it with exact=True."""
    saved = layer_module.choose_subsets, layer_module.values_per_weight
    layer_module.choose_subsets, layer_module.values_per_weight = previous_choose_subsets, _previous_values_per_weight
    try:
        yield
    finally:
        layer_module.choose_subsets, layer_module.values_per_weight = saved


# ---------------------------------------------------------------------------------------------
# Peers: other ways to find one side's best subset of m products exactly.
# ---------------------------------------------------------------------------------------------

def brute_force(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """|error| (N,) of the best of all 2^m subsets of each row of ``values`` (N, m), enumerated in blocks of
    2^20 sums (every subset sum formed by doubling, then the smallest distance to w)."""
    rows, m = values.shape
    first = min(m, 20)
    base = S._all_sums(values[:, :first])  # (N, 2^first)
    best = torch.full((rows,), torch.inf, dtype=values.dtype)
    for code in range(1 << (m - first)):
        offset = (values[:, first:] * torch.tensor([(code >> i) & 1 for i in range(m - first)],
                                                   dtype=values.dtype)).sum(dim=1, keepdim=True)
        best = torch.minimum(best, (base + offset - w.unsqueeze(1)).abs().min(dim=1).values)
    return best


def milp_best(values: np.ndarray, w: float) -> float:
    """|error| of the best subset by a mixed-integer program (SciPy's HiGHS, relative gap 0):
    minimise t over x ∈ {0, 1}^m, t ≥ 0 with −t ≤ Σ x_a p_a − w ≤ t; the error recomputed from x."""
    m = len(values)
    cost = np.r_[np.zeros(m), 1.0]
    rows = np.vstack([np.r_[values, -1.0], np.r_[-values, -1.0]])
    constraint = LinearConstraint(rows, [-np.inf, -np.inf], [w, -w])
    result = milp(cost, constraints=constraint, integrality=np.r_[np.ones(m), 0],
                  bounds=Bounds(0, np.r_[np.ones(m), np.inf]), options={"mip_rel_gap": 0.0})
    chosen = np.round(result.x[:m]).astype(bool)
    return abs(float(values[chosen].sum()) - w)


def enumeration_best(values: np.ndarray, w: float, limit: int | None = None) -> tuple[float, int]:
    """LT-existence's enumeration (RelationalML/LT-existence, ``exhaustive``), rewritten here: subsets by
    increasing size with itertools.combinations, each summed with NumPy, keeping the closest; run to the
    end (every size, tolerance 0) so that it finds the optimum, or stopped after ``limit`` subsets.
    Returns |error| and the number of subsets visited."""
    best, visited = abs(w), 1
    for size in range(1, len(values) + 1):
        for subset in itertools.combinations(range(len(values)), size):
            difference = abs(w - np.sum(values[np.array(subset)]))
            best = min(best, difference)
            visited += 1
            if limit is not None and visited >= limit:
                return best, visited
    return best, visited


def _one_side_problem(rows: int, m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """m products u·v with u ~ U(0, 1], v ~ U[-1, 1] (all on one side) and w from the 16×16 target."""
    generator = torch.Generator().manual_seed(seed)
    u = 1 - torch.rand(rows, m, generator=generator, dtype=torch.float64)
    products = u * (torch.rand(rows, m, generator=generator, dtype=torch.float64) * 2 - 1)
    entries = L.random_target([16, 16], seed=0)[0].flatten()
    return products, entries[torch.randint(0, entries.numel(), (rows,), generator=generator)]


def peers(quick: bool) -> list[dict]:
    """Microseconds per subset problem (one side of one weight, one thread) for each method at m units."""
    torch.set_num_threads(1)
    out = []
    for m in COMPARED_UNITS:
        counts = {"library": 2048 >> (m - 16) // 2, "brute_force": 16 >> (m - 16) // 4, "milp": 8 if quick else 20,
                  "enumeration": 1 if m > 16 else 3}
        products, w = _one_side_problem(counts["library"], m, seed=m)
        with _Clock() as clock:
            choice = S.choose_subsets(products, torch.ones_like(products), w, max_units=m)
        ours = choice.plus_error.abs()
        row: dict = {"units": m, "load_average": _load(),
                     "library": {"problems": counts["library"], "us": 1e6 * clock.cpu_s / counts["library"]}}
        n = counts["brute_force"]
        with _Clock() as clock:
            best = brute_force(products[:n], w[:n])
        row["brute_force"] = {"problems": n, "us": 1e6 * clock.cpu_s / n,
                              "largest_difference": float((best - ours[:n]).abs().max())}
        n = counts["milp"]
        with _Clock() as clock:
            found = [milp_best(products[i].numpy(), float(w[i])) for i in range(n)]
        row["milp"] = {"problems": n, "us": 1e6 * clock.cpu_s / n,
                       "largest_difference": max(abs(a - float(b)) for a, b in zip(found, ours[:n], strict=True)),
                       "worse_than_library": sum(a > float(b) + 1e-15 for a, b in zip(found, ours[:n], strict=True))}
        n = counts["enumeration"]
        limit = None if m <= 20 else 1 << 21
        with _Clock() as clock:
            found_visited = [enumeration_best(products[i].numpy(), float(w[i]), limit) for i in range(n)]
        per_subset = clock.cpu_s / sum(visited for _, visited in found_visited)
        row["enumeration"] = {"problems": n, "us": 1e6 * per_subset * (1 << m),
                              "estimated_from_subsets": None if limit is None else limit}
        if limit is None:
            row["enumeration"]["largest_difference"] = max(abs(a - float(b)) for (a, _), b
                                                           in zip(found_visited, ours[:n], strict=True))
        out.append(row)
        print("peers", row, flush=True)
    torch.set_num_threads(THREADS)
    return out


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

def floor(quick: bool) -> list[dict]:
    rows = []
    for d in (1, 4, 16):
        target = L.random_target([d, d], seed=0)[0]
        for max_units in FLOOR_UNITS[:5] if quick else FLOOR_UNITS:
            for k in (4 * max_units, 8 * max_units, 16 * max_units):
                with _cap(max_units), _Clock() as clock:
                    construction = L.prune_layer(target, eps=1e-9, k=k, seed=0, method="subset_sum", exact=True)
                rows.append({"target": f"{d}x{d}", "max_units": max_units, "k": k, "eta": construction.eta,
                             "max_weight_error": construction.max_weight_error, "cpu_s": round(clock.cpu_s, 3)})
                print("floor", rows[-1], flush=True)
    return rows


def _side_problem(rows: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random products u·v of k units (u, v ~ U[-1, 1]) and targets w from the 16×16 target's entries."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(rows, k, generator=generator, dtype=torch.float64) * 2 - 1
    products = u * (torch.rand(rows, k, generator=generator, dtype=torch.float64) * 2 - 1)
    entries = L.random_target([16, 16], seed=0)[0].flatten()
    w = entries[torch.randint(0, entries.numel(), (rows,), generator=generator)]
    return products, u, w


def speed(quick: bool) -> list[dict]:
    """Full search, one thread: the library at each size and, at 16, 20 and 24 units, the previous
    implementation on the same weights, alternating three times (the fastest of each is kept)."""
    torch.set_num_threads(1)
    out = []
    for max_units in (8, 12, 16, 20, 24) if quick else FLOOR_UNITS:
        k = 2 * max_units + 16  # sides of about max_units + 8 units: every side searches max_units
        rows = max(64, min(4096, 1 << max(0, 27 - max_units)))
        products, u, w = _side_problem(rows, k, seed=max_units)
        methods = {"library": S.choose_subsets}
        if max_units in COMPARED_UNITS:
            methods["previous"] = previous_choose_subsets
        for method in methods.values():
            method(products[:8], u[:8], w[:8], max_units=max_units)  # warm up
        cpu: dict[str, list[float]] = {name: [] for name in methods}
        wall: dict[str, list[float]] = {name: [] for name in methods}
        results = {}
        for _ in range(1 if quick or max_units > 24 else 3):
            for name, method in methods.items():
                with _Clock() as clock:
                    results[name] = method(products, u, w, max_units=max_units)
                cpu[name].append(clock.cpu_s)
                wall[name].append(clock.wall_s)
        row = {"max_units": max_units, "k": k, "weights": rows, "threads": 1, "load_average": _load(),
               "us_per_weight_cpu": 1e6 * min(cpu["library"]) / rows,
               "us_per_weight_wall": 1e6 * min(wall["library"]) / rows}
        if "previous" in methods:
            row["previous_us_per_weight_cpu"] = 1e6 * min(cpu["previous"]) / rows
            row["previous_us_per_weight_wall"] = 1e6 * min(wall["previous"]) / rows
            row["same_result"] = all(torch.equal(getattr(results["library"], name), getattr(results["previous"], name))
                                     for name in ("keep", "plus_error", "minus_error"))
        out.append(row)
        print("speed", row, flush=True)
    torch.set_num_threads(THREADS)
    return out


def beyond_cap(quick: bool) -> list[dict]:
    """Sides with more units than searched: how often the exact best over all units is better."""
    out = []
    rows = 200 if quick else 1000
    for units in (21, 24, 28):
        products, _, w = _side_problem(rows, units, seed=units)
        u = torch.ones_like(products)  # every unit on the plus side
        best_all = S.choose_subsets(products, u, w, max_units=units).plus_error.abs()
        errors = S.choose_subsets(products, u, w).plus_error.abs()
        out.append({"side_units": units, "max_units": S.MAX_SIDE_CANDIDATES, "weights": rows,
                    "beaten_by_all_units": float((best_all < errors * (1 - 1e-12)).double().mean()),
                    "median_ratio_to_best": float((errors / best_all.clamp(min=1e-300)).median()),
                    "median_error": float(errors.median()),
                    "best_over_all_units_median_error": float(best_all.median())})
        print("beyond_cap", out[-1], flush=True)
    return out


def eps_1e5() -> dict:
    target = L.random_target([16, 16], seed=0)[0]
    tried = []
    for k in (32, 40, 48, 56, 64, 80, 96, 128):
        with _Clock() as clock:
            construction = L.prune_layer(target, eps=1e-5, k=k, seed=0, method="subset_sum")
        tried.append({"k": k, "eta": construction.eta, "cpu_s": round(clock.cpu_s, 3),
                      "wall_s": round(clock.wall_s, 3)})
        print("eps_1e5", tried[-1], flush=True)
        if construction.succeeded:
            return {"max_units": S.MAX_SIDE_CANDIDATES, "certified": True, **tried[-1], "tried": tried}
    return {"max_units": S.MAX_SIDE_CANDIDATES, "certified": False, "tried": tried}


def per_weight() -> list[dict]:
    target = L.random_target([16, 16], seed=0)
    rows = []
    for eps in EPSILONS:
        with _Clock() as clock:
            value = L.random_parameters_per_weight(target, eps, method="subset_sum")
        rows.append({"eps": eps, "subset_sum": value, "lower_bound": L.pruning_lower_bound(eps),
                     "cpu_s": round(clock.cpu_s, 1), "wall_s": round(clock.wall_s, 1), "load_average": _load()})
        print("per_weight", rows[-1], flush=True)
    return rows


def lenet_case(eps: float, k: int, method: str, threads: int) -> dict:
    """One LeNet construction (run in a fresh subprocess): ``method`` "library" (the search stopped at
    the tolerance) or "previous" (the previous implementation's full search, exact=True)."""
    torch.set_num_threads(threads)
    target = L.random_target(LENET, seed=0)
    baseline = _peak_mb()
    load = _load()
    with contextlib.ExitStack() as stack:
        if method == "previous":
            stack.enter_context(previous_implementation())
        with _Clock() as clock:
            construction = L.prune_random_network(target, eps, seed=0, k=k, method="subset_sum",
                                                  exact=method == "previous")
            certificate = construction.certificate
    peak = _peak_mb()  # the construction's peak, before the check below builds both networks on 256 inputs
    x = L.sample_unit_ball(256, LENET[0], seed=0)
    with torch.no_grad():
        sampled = float(construction.error(x).max())
    searched = []
    for layer in construction.layers:
        counts = layer.searched.flatten()
        searched.append({str(int(v)): round(float((counts == v).double().mean()), 4) for v in counts.unique()})
    return {"eps": eps, "k": k, "method": method, "max_units": S.MAX_SIDE_CANDIDATES, "threads": threads,
            "wall_s": clock.wall_s, "cpu_s": clock.cpu_s, "load_average": load, "load_average_after": _load(),
            "certificate": certificate, "succeeded": construction.succeeded,
            "etas": construction.etas, "certified_etas": [construction.layers[0].eta]
            + [layer.eta_plus for layer in construction.layers[1:]],
            "exact_layers": [layer.exact for layer in construction.layers], "searched": searched,
            "sampled_max_error": sampled, "random_parameters": construction.random_parameters,
            "kept_parameters": construction.kept_parameters, "peak_rss_mb": peak, "baseline_rss_mb": baseline,
            "peak_rss_after_sampling_mb": _peak_mb()}


def _in_subprocess(*args: object) -> dict:
    command = [sys.executable, __file__, "--case", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def lenet() -> list[dict]:
    """Each ε: the library and the previous implementation, one after the other, with --threads."""
    rows = []
    for eps in (0.01, 0.001):
        for method in ("library", "previous"):
            rows.append(_in_subprocess("lenet", eps, 64, method, THREADS))
            print("lenet", rows[-1], flush=True)
    return rows


def assign_units(first: torch.Tensor, k: int, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Which hidden units of a dense random block serve which input: (d, k) indices into its d·k units.

    In the dense random block every hidden unit h has a weight ``first[h, j]`` to every input j,
    and the pruned block keeps exactly one of them, so any unit can serve any input. This
    assignment gives every input j exactly k units, ⌈k/2⌉ with ``first[h, j]`` > 0 (the side
    x_j ≥ 0) and ⌊k/2⌋ with ``first[h, j]`` < 0, where the weights allow it, preferring units whose
    |first[h, j]| is closest to ``scale`` (a number, or one per input, shape (d,)): a large |u| lets
    the subset sums of u·v reach a large |w|, a small one resolves small weights finely. It is
    a greedy matching in parallel rounds: each unit still free asks for its closest option among
    the places with room, and each place takes the closest of those who ask; units left without
    a place of their sign fill the remaining places, each then swapped with a unit that fits
    both ways where one exists.
    Row j lists the units of input j, those with first[h, j] > 0 first.

    Parameters
    ----------
    first
        (d·k, d): the first-layer weights of the random block.
    k
        Units per input.
    scale
        Preferred |u|, in (0, 1]; default 1 (the largest weights).

    Returns
    -------
    torch.Tensor
        (d, k) long: each of the d·k units exactly once.

    Raises
    ------
    ValueError
        If ``first`` is not (d·k, d).
    """
    if first.ndim != 2 or first.shape[0] != first.shape[1] * k:
        raise ValueError(f"first must have shape (d*k, d) with k={k}, got {tuple(first.shape)}")
    units, d = first.shape
    weights = first.detach().double()
    cost = (weights.abs() - torch.as_tensor(scale, dtype=torch.float64).expand(d)).abs()  # (units, d), < 2
    place = torch.arange(d) * 2 + (weights < 0).long()  # the (input, sign) place of option (h, j)
    remaining = torch.tensor([(k + 1) // 2, k // 2]).repeat(d)  # open slots of places 2j (u > 0), 2j + 1 (u < 0)
    assigned_place = torch.full((units,), -1, dtype=torch.long)
    free = (weights != 0).any(dim=1).nonzero(as_tuple=True)[0]
    while len(free):
        usable = (remaining[place[free]] > 0) & (weights[free] != 0)
        reachable = usable.any(dim=1)
        free, usable = free[reachable], usable[reachable]
        if not len(free):
            break
        choice = cost[free].masked_fill(~usable, torch.inf).argmin(dim=1)
        wanted = place[free, choice]
        order = (wanted.double() * 4 + cost[free, choice]).argsort(stable=True)  # by place, then closeness
        sorted_place = wanted[order]
        rank = torch.arange(len(order)) - torch.searchsorted(sorted_place, sorted_place)
        accepted = torch.zeros(len(order), dtype=torch.bool)
        accepted[order] = rank < remaining[sorted_place]
        assigned_place[free[accepted]] = wanted[accepted]
        remaining -= torch.bincount(wanted[accepted], minlength=2 * d)
        free = free[~accepted]
    left = (assigned_place < 0).nonzero(as_tuple=True)[0]
    assigned_place[left] = torch.repeat_interleave(torch.arange(2 * d), remaining)
    index = torch.arange(units)
    sign_place = torch.stack([weights > 0, weights < 0], dim=2).reshape(units, 2 * d)  # unit h fits place q
    for unit in left.tolist():  # a few units: swap each into a place of its sign, if one can make room
        spot = int(assigned_place[unit])
        other_place = assigned_place
        fits = sign_place[unit, other_place] & sign_place[:, spot] & (index != unit)
        fits &= sign_place[index, other_place]  # the other unit is in a place of its sign
        if bool(fits.any()):
            extra = (cost[unit, other_place // 2] + cost[:, spot // 2] - cost[index, other_place // 2])
            other = int(extra.masked_fill(~fits, torch.inf).argmin())
            assigned_place[unit], assigned_place[other] = assigned_place[other].clone(), spot
    order = (assigned_place * units + index).argsort()
    return index[order].view(d, k)


def _assigned_eta(target: torch.Tensor, k: int, seed: int, scale: float | None) -> float:
    """η of a layer whose units are assigned to inputs by assign_units (scale None: today's grouping)."""
    n, d = target.shape
    block = sample_block(d, n, k, seed)
    first, second = block.first.detach(), block.second.detach()
    units = torch.arange(d * k).view(d, k) if scale is None else assign_units(first, k, scale)
    u = first[units, torch.arange(d).unsqueeze(1)].double()  # (d, k): the weight each unit keeps
    choice = S.choose_subsets(second[:, units].double() * u, u, target)
    return float(torch.linalg.matrix_norm(torch.cat([choice.plus_error, choice.minus_error], dim=1), ord=2))


def _smallest_k(works: object, low: int = 8, high: int = 256) -> int:
    """Smallest k in [low, high] with works(k), by doubling then bisection (assumes monotone)."""
    k = low
    while not works(k):
        k *= 2
        if k > high:
            return -1
    lo, hi = k // 2, k
    while hi - lo > 1:
        middle = (lo + hi) // 2
        lo, hi = (lo, middle) if works(middle) else (middle, hi)
    return hi


def side_failure_rate(quick: bool) -> list[dict]:
    """P(no subset of m random products comes within t of w), per side, w from the 16×16 target."""
    rows = []
    samples = 20_000 if quick else 100_000
    for scale_name in ("u ~ U(0,1)", "|u| = 0.5", "|u| = 1"):
        for m in (8, 10, 12, 14, 16):
            products, u, w = _side_problem(samples, m, seed=m)
            magnitude = u.abs() if scale_name.startswith("u ~") else torch.full_like(u, float(scale_name[6:]))
            products = products / u.abs().clamp(min=1e-300) * magnitude
            errors = S.choose_subsets(products, magnitude, w).plus_error.abs()
            failure = float((errors > 0.01).double().mean())
            rows.append({"u": scale_name, "m": m, "p_error_above_0.01": failure,
                         "p_error_above_0.001": float((errors > 0.001).double().mean()),
                         "rms_error": float(errors.square().mean().sqrt()),
                         "p_all_512_sides_within_0.01": (1 - failure) ** 512})
            print("side_failure", rows[-1], flush=True)
    return rows


def proposed(quick: bool) -> dict:
    target = L.random_target([16, 16], seed=0)[0]
    out: dict = {"assigned_per_weight": []}
    seeds = range(10)
    for scale in (None, 1.0, 0.8, 0.5):
        def works(k: int, scale: float | None = scale) -> bool:
            return sum(_assigned_eta(target, k, s, scale) <= 0.01 for s in seeds) >= 9

        k = _smallest_k(works)
        row = {"scale": scale, "k": k, "random_parameters_per_weight": 2 * k, "eps": 0.01}
        out["assigned_per_weight"].append(row)
        print("proposed assigned", row, flush=True)
    out["side_failure"] = side_failure_rate(quick)
    return out


SECTIONS = ("floor", "speed", "peers", "beyond_cap", "eps_1e5", "per_weight", "lenet", "proposed")
QUICK_AWARE = ("floor", "speed", "peers", "beyond_cap", "proposed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "subset_sum.json"))
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run these sections, keep the others in --out")
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (speed and peers always use 1); on a busy machine 1 gives steadier times")
    parser.add_argument("--case", nargs="+")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    torch.set_num_threads(args.threads)
    if args.case:
        _, eps, k, method, threads = args.case
        print(json.dumps(lenet_case(float(eps), int(k), method, int(threads))))
        return
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() and args.only else {}
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "torch": torch.__version__, "load_average": _load()}
    results["max_units_default"] = S.MAX_SIDE_CANDIDATES
    results["threads"] = args.threads
    for name in args.only or SECTIONS:
        function = globals()[name]
        results[name] = function(args.quick) if name in QUICK_AWARE else function()
        out.write_text(json.dumps(results, indent=1) + "\n")  # after each section: a long run keeps what it did
        print(f"wrote {name} to {out}", flush=True)


if __name__ == "__main__":
    main()
