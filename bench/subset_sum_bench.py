"""SubsetSum measurements, written to bench/subset_sum.json.

Usage: python bench/subset_sum_bench.py [--out bench/subset_sum.json] [--only SECTION ...] [--quick]

Sections (times on this machine: ``cpu_s`` is process time, which other jobs on the shared
machine inflate less than ``wall_s``):
- floor: η against the number of units searched per side (``max_units``), for 1×1, 4×4 and
  16×16 random targets (‖W‖₂ = 1, seed 0) at several k, seed 0 (the floor is the smallest η);
- speed: microseconds per target weight (both sides, one thread) of ``choose_subsets`` at each
  ``max_units``, on sides with more units than searched, next to the rule before the cap was
  lifted (16 evenly spaced units, kept here as a reference copy);
- beyond_cap: on sides with more units than searched, how often the exact best over all of the
  side's units beats the choice, for that rule and for today's;
- eps_1e5: the smallest k (seed 0) whose layer certifies η ≤ 1e-5 on the 16×16 target;
- per_weight: random parameters per target weight at ε ∈ {0.1, 0.03, 0.01, 0.003, 0.001}
  (16×16 target, smallest k for 9 of 10 seeds), with the counting lower bound;
- lenet: the LeNet-300-100-shaped target at ε = 0.01 and 1e-3 (k = 64), each case in a fresh
  subprocess, with 1 thread and with --threads (default 2): time, peak memory (VmHWM), certificate;
- proposed: what two changes outside this module would give, measured here by calling
  ``choose_subsets`` on blocks built as the change would build them: (a) ``tolerance`` passed by
  the layer (LeNet times), (b) units assigned to inputs by ``assign_units`` (parameters per
  weight), and the per-side failure rate that bounds parameters per weight from below.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lottolib as L  # noqa: E402
import lottolib.subset_sum as S  # noqa: E402
from lottolib.random_network import sample_block  # noqa: E402

EPSILONS = [0.1, 0.03, 0.01, 0.003, 0.001]
FLOOR_UNITS = [8, 12, 16, 20, 24, 28, 32]
LENET = [784, 300, 100, 10]
THREADS = 2


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


def _prune(target: object, eps: float, k: int, seed: int = 0) -> object:
    """prune_random_network with SubsetSum and k units per input."""
    return L.prune_random_network(target, eps, seed=seed, k=k, method="subset_sum")


def _today_choose(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The rule before the cap was lifted (reference copy): per side, at most 16 units evenly spaced in
    the sorted products, then the exact best subset of those by meet in the middle. Returns the
    errors (2, N): plus side, minus side."""
    errors = []
    for on_side in (first_weights > 0, first_weights < 0):
        count = min(int(on_side.sum(dim=1).max()), 16)
        order = products.masked_fill(~on_side, torch.inf).argsort(dim=1)
        available = on_side.sum(dim=1, keepdim=True)
        spaced = ((torch.arange(count) + 0.5) * available / count).long()
        candidates = order.gather(1, torch.where(available > count, spaced, torch.arange(count)))
        values = products.gather(1, candidates) * on_side.gather(1, candidates)
        low, high = count // 2, count - count // 2
        low_sums = values[:, :low] @ S.subset_bits(low).T
        high_sums = (values[:, low:] @ S.subset_bits(high).T).sort(dim=1).values
        wanted = (w.unsqueeze(1) - low_sums).contiguous()
        above = torch.searchsorted(high_sums, wanted).clamp(max=high_sums.shape[1] - 1)
        below = (above - 1).clamp(min=0)
        best = torch.minimum((low_sums + high_sums.gather(1, above) - w.unsqueeze(1)).abs().min(dim=1).values,
                             (low_sums + high_sums.gather(1, below) - w.unsqueeze(1)).abs().min(dim=1).values)
        errors.append(best)
    return torch.stack(errors)


def floor(quick: bool) -> list[dict]:
    rows = []
    for d in (1, 4, 16):
        target = L.random_target([d, d], seed=0)[0]
        for max_units in FLOOR_UNITS[:5] if quick else FLOOR_UNITS:
            for k in (4 * max_units, 8 * max_units, 16 * max_units):
                with _cap(max_units), _Clock() as clock:
                    construction = L.prune_layer(target, eps=1e-9, k=k, seed=0, method="subset_sum")
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
    torch.set_num_threads(1)
    out = []
    for max_units in (8, 12, 16, 20, 24) if quick else (8, 12, 16, 20, 24, 28, 32):
        k = 2 * max_units + 16  # sides of about max_units + 8 units: every side searches max_units
        rows = max(64, min(4096, (1 << 22) // S.values_per_weight(k, max_units)))
        products, u, w = _side_problem(rows, k, seed=max_units)
        S.choose_subsets(products[:8], u[:8], w[:8], max_units=max_units)  # warm up
        with _Clock() as clock:
            S.choose_subsets(products, u, w, max_units=max_units)
        row = {"max_units": max_units, "k": k, "weights": rows, "threads": 1,
               "us_per_weight_cpu": 1e6 * clock.cpu_s / rows,
               "us_per_weight_wall": 1e6 * clock.wall_s / rows}
        if max_units == 16:
            with _Clock() as clock:
                _today_choose(products, u, w)
            row["today_us_per_weight_cpu"] = 1e6 * clock.cpu_s / rows
            row["today_us_per_weight_wall"] = 1e6 * clock.wall_s / rows
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
        best_all = S._best_subset(products, w)[1].abs()
        now = S.choose_subsets(products, u, w).plus_error.abs()
        today = _today_choose(products, u, w)[0]
        row = {"side_units": units, "max_units": S.MAX_SIDE_CANDIDATES, "weights": rows}
        for name, errors in (("now", now), ("today", today)):
            row[f"{name}_beaten_by_all_units"] = float((best_all < errors * (1 - 1e-12)).double().mean())
            row[f"{name}_median_ratio_to_best"] = float((errors / best_all.clamp(min=1e-300)).median())
            row[f"{name}_median_error"] = float(errors.median())
        row["best_over_all_units_median_error"] = float(best_all.median())
        out.append(row)
        print("beyond_cap", row, flush=True)
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
                     "cpu_s": round(clock.cpu_s, 1), "wall_s": round(clock.wall_s, 1)})
        print("per_weight", rows[-1], flush=True)
    return rows


def lenet_case(eps: float, k: int, tolerance_factor: float | None, threads: int) -> dict:
    """One LeNet construction (run in a fresh subprocess). ``tolerance_factor`` c: the layer passes
    tolerance = c·ε/(√n + √(2d)) to choose_subsets (the proposed change, patched in here)."""
    torch.set_num_threads(threads)
    if tolerance_factor is not None:
        import lottolib.layer as layer

        original = layer.choose_subsets

        def choose(products: torch.Tensor, first_weights: torch.Tensor, w: torch.Tensor) -> S.SubsetChoice:
            n, d = current_shape
            tolerance = 2 * tolerance_factor * S.layer_tolerance(eps, n, d)  # c·ε/(√n + √(2d))
            return original(products, first_weights, w, tolerance=tolerance)

        layer.choose_subsets = choose
        prune_block = layer.prune_block

        def shaped_prune_block(block: object, target: torch.Tensor, *args: object, **kwargs: object) -> object:
            nonlocal current_shape
            current_shape = tuple(target.shape)
            return prune_block(block, target, *args, **kwargs)

        current_shape = (1, 1)
        import lottolib.network as network

        network.prune_block = shaped_prune_block
    target = L.random_target(LENET, seed=0)
    baseline = _peak_mb()
    with _Clock() as clock:
        construction = _prune(target, eps, k)
    return {"eps": eps, "k": k, "tolerance_factor": tolerance_factor, "max_units": S.MAX_SIDE_CANDIDATES,
            "wall_s": clock.wall_s, "cpu_s": clock.cpu_s, "threads": torch.get_num_threads(),
            "certificate": construction.certificate, "succeeded": construction.certificate <= eps,
            "etas": [layer_.eta for layer_ in construction.layers],
            "random_parameters": construction.random_parameters, "peak_rss_mb": _peak_mb(),
            "baseline_rss_mb": baseline}


def _in_subprocess(*args: object) -> dict:
    command = [sys.executable, __file__, "--case", *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def lenet() -> list[dict]:
    """Each case with one thread (process time is the steadier figure on a shared machine) and with --threads."""
    rows = []
    for threads in sorted({1, THREADS}):
        for eps, k in ((0.01, 64), (0.001, 64)):
            rows.append(_in_subprocess("lenet", eps, k, "none", threads))
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
    out["lenet_tolerance"] = []
    for eps, k, factor in ((0.01, 64, 0.5), (0.001, 64, 0.5), (0.001, 64, 0.25)):
        out["lenet_tolerance"].append(_in_subprocess("lenet", eps, k, factor, THREADS))
        print("proposed lenet", out["lenet_tolerance"][-1], flush=True)
    return out


SECTIONS = ("floor", "speed", "beyond_cap", "eps_1e5", "per_weight", "lenet", "proposed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "subset_sum.json"))
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run these sections, keep the others in --out")
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (speed always uses 1); on a busy machine 1 gives steadier times")
    parser.add_argument("--case", nargs="+")
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    torch.set_num_threads(args.threads)
    if args.case:
        _, eps, k, factor, threads = args.case
        print(json.dumps(lenet_case(float(eps), int(k), None if factor == "none" else float(factor), int(threads))))
        return
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() and args.only else {}
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "torch": torch.__version__, "load_average": Path("/proc/loadavg").read_text().split()[:3]}
    results["max_units_default"] = S.MAX_SIDE_CANDIDATES
    results["threads"] = args.threads
    for name in args.only or SECTIONS:
        function = globals()[name]
        results[name] = function(args.quick) if name in ("floor", "speed", "beyond_cap", "proposed") else function()
        out.write_text(json.dumps(results, indent=1) + "\n")  # after each section: a long run keeps what it did
        print(f"wrote {name} to {out}", flush=True)


if __name__ == "__main__":
    main()
