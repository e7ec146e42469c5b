"""Where the structured relaxation levels off on the LeNet-300-100 shape: its first pattern, solved to the end.

Writes bench/lenet_limit.json. The target and construction are those of ``certificate_bench.py``
(``lenet_construction``: 784-300-100-10, SubsetSum, k = 64). For the first two layers (the network
784-300-100, whose error is ‖z̃₂ − z₂‖) and for all three, each row gives

- ``recursion``: the construction's certificate (chapter 5);
- the first pattern of the structured solver (complementary and per-unit pairs, no cutting planes) solved until
  the interior-point method stops (``ITERATIONS`` iterations or ``SECONDS`` s), once in reduced coordinates (the
  library's choice at this size: no input-pair multipliers) and once in full coordinates (with them): the dual
  value t + Σ_b τ_b R_b² at the best iterate, its terms (``t`` and ``radius_terms``, one τ_b R_b² per block h₁,
  δ₁, h₂, δ₂), the verified bound, iterations and seconds;
- ``adversary``: ``empirical_error`` with a strong budget (4096 samples, 32 starts, 200 steps).

If the full-coordinate bound, solved to the end, stays far above the adversary, no faster solver of this pattern
closes the gap: the relaxation needs more facts. Run: .venv/bin/python bench/lenet_limit.py (about 20 minutes
on two cores).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import torch
from certificate_bench import lenet_construction

import lottolib as L
from lottolib.interior_point import solve_restricted
from lottolib.relaxation import network_problem, verified_bound

OUT = Path(__file__).with_name("lenet_limit.json")
SECONDS = 600.0  # per solve: far beyond the point where the method stops
ITERATIONS = 120
ADVERSARY = {"samples": 4096, "starts": 32, "steps": 200}


def first_pattern_solve(problem, *, full_coordinates: bool) -> dict:
    """The first pattern solved until the method stops, and the verified bound of its best iterate."""
    pairs, free = problem.first_pattern()
    start = time.perf_counter()
    solution = solve_restricted(problem, pairs, free, seconds=SECONDS, iterations=ITERATIONS,
                                reduce_above=problem.size if full_coordinates else None)
    bound = verified_bound(problem, solution.multipliers)
    multipliers = solution.multipliers
    return {"dual_value": solution.value, "t": multipliers.t,
            "radius_terms": [tau * radius for tau, radius in zip(multipliers.taus, problem.radii_squared, strict=True)],
            "bound": bound, "iterations": solution.iterations, "seconds": time.perf_counter() - start,
            "reduced": solution.offset > 0}


def measure(construction, depth: int) -> dict:
    prefix = dataclasses.replace(construction, target=construction.target[:depth], layers=construction.layers[:depth])
    problem = network_problem(prefix.target, [layer.plus_error for layer in prefix.layers],
                              [layer.minus_error for layer in prefix.layers])
    row = {"depth": depth, "layer_sizes": [prefix.target[0].shape[1]] + [w.shape[0] for w in prefix.target],
           "scale": problem.scale, "recursion": prefix.certificate, "size_full": problem.size,
           "size_reduced": problem.size - problem.input_size + 2 * prefix.target[0].shape[0]}
    for name, full in (("reduced", False), ("full", True)):
        row[name] = first_pattern_solve(problem, full_coordinates=full)
        print(f"depth {depth}, {name} coordinates: bound {row[name]['bound']:.4g} after {row[name]['iterations']} "
              f"iterations, {row[name]['seconds']:.0f} s", flush=True)
    start = time.perf_counter()
    row["adversary"] = L.empirical_error(prefix, **ADVERSARY).adversarial
    row["seconds_adversary"] = time.perf_counter() - start
    for name in ("reduced", "full"):
        row[name]["ratio"] = row[name]["bound"] / row["adversary"]
    row["ratio_recursion"] = row["recursion"] / row["adversary"]
    print(f"depth {depth}: adversary {row['adversary']:.4g}; ratios recursion {row['ratio_recursion']:.2f}, reduced "
          f"{row['reduced']['ratio']:.2f}, full {row['full']['ratio']:.2f}", flush=True)
    return row


def main() -> None:
    torch.set_num_threads(2)
    construction = lenet_construction()
    load_before = os.getloadavg()[0]
    rows = [measure(construction, depth) for depth in (2, 3)]
    output = {"description": "LeNet-300-100 shape (SubsetSum, k = 64, eps 0.01, seed 0): the structured solver's "
                             f"first pattern solved until it stops ({ITERATIONS} iterations or {SECONDS:.0f} s), "
                             "reduced and full coordinates, against a strong adversary of the same network "
                             f"({ADVERSARY}); two threads",
              "load_average": [load_before, os.getloadavg()[0]], "rows": rows}
    OUT.write_text(json.dumps(output, indent=1) + "\n")


if __name__ == "__main__":
    main()
