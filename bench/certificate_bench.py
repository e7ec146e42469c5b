"""Certificate benchmark: old recursion vs the verified relaxation bound, against one strong adversary.

Writes bench/certificate.json: for random targets with ‖W_i‖₂ = 1 (layer sizes [WIDTH]*(depth+1)),
depths 1–4, both pruning methods, several seeds: the old and new certificates, the strong
adversary's error, their ratios and the time of each certificate; where d ≤ 3 also the exact
supremum. Then the digits MLP with the same adversary (the relaxation is above the default size
there, so its "new" is the old bound, marked "recursion").

Run: .venv/bin/python bench/certificate_bench.py  (about 5 minutes on one core)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lottolib as L
from lottolib.adversary import singular_starts, strong_adversary
from lottolib.digits import digits_target
from lottolib.propagation import recursion_certificate, tight_certificate_report

WIDTH = 5
EPS = 0.05
K = {"pair": 200, "subset_sum": 12}
SEEDS = (0, 1, 2)


def error_function(weights, plus, minus):
    def err(x):
        h = x
        for i, (w, p, m) in enumerate(zip(weights, plus, minus, strict=True)):
            z = h @ w.T + torch.relu(h) @ p.T - torch.relu(-h) @ m.T
            h = torch.relu(z) if i < len(weights) - 1 else z
        return (h - L.forward_target(weights, x)).norm(dim=1)
    return err


def adversary(weights, plus, minus):
    d = weights[0].shape[1]
    products = [weights[0]]
    for w in weights[1:]:
        products.append(w @ products[-1])
    starts = singular_starts(list(weights[:1]) + list(plus[:1]) + list(minus[:1]) + products, d)
    return strong_adversary(error_function(weights, plus, minus), d, extra_starts=starts)


def one(weights, construction):
    plus = [layer.plus_error for layer in construction.layers]
    minus = [layer.minus_error for layer in construction.layers]
    start = time.perf_counter()
    old = recursion_certificate(weights, plus, minus)
    old_seconds = time.perf_counter() - start
    report = tight_certificate_report(weights, plus, minus)
    start = time.perf_counter()
    found = adversary(weights, plus, minus)
    return {"old": old, "new": report.new, "certificate_method": report.method, "size": report.size,
            "adversary": found.error, "ratio_old": old / found.error, "ratio_new": report.new / found.error,
            "seconds_old": old_seconds, "seconds_new": report.seconds,
            "seconds_adversary": time.perf_counter() - start, "note": report.note}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for method in ("pair", "subset_sum"):
        for depth in (1, 2, 3, 4):
            for seed in SEEDS:
                weights = L.random_target([WIDTH] * (depth + 1), seed)
                construction = L.prune_random_network(weights, EPS, seed=seed, k=K[method], method=method)
                row = {"target": "random", "method": method, "depth": depth, "seed": seed, "width": WIDTH,
                       "k": K[method], **one(weights, construction)}
                rows.append(row)
                print(f"{method:10s} depth {depth} seed {seed}: old/adv {row['ratio_old']:.2f}  new/adv "
                      f"{row['ratio_new']:.3f}  ({row['certificate_method']}, {row['seconds_new']:.1f} s)", flush=True)
    digits = digits_target()
    for method in ("pair", "subset_sum"):
        construction = L.prune_random_network(digits.weights, EPS, seed=0, k=K[method], method=method)
        row = {"target": "digits MLP", "method": method, "depth": len(digits.weights), "seed": 0,
               "k": K[method], **one(digits.weights, construction)}
        rows.append(row)
        print(f"digits {method}: old/adv {row['ratio_old']:.2f} new/adv {row['ratio_new']:.2f} "
              f"({row['certificate_method']})",
              flush=True)
    summary = {}
    for method in ("pair", "subset_sum"):
        for depth in (1, 2, 3, 4):
            chosen = [r for r in rows if r["target"] == "random" and r["method"] == method and r["depth"] == depth]
            summary[f"{method} depth {depth}"] = {
                "old": [min(r["ratio_old"] for r in chosen), max(r["ratio_old"] for r in chosen)],
                "new": [min(r["ratio_new"] for r in chosen), max(r["ratio_new"] for r in chosen)],
                "new_seconds_median": statistics.median(r["seconds_new"] for r in chosen),
            }
    output = {"description": "ratio certificate / strong-adversary error; random targets have ||W_i||_2 = 1, "
                             f"layer sizes [{WIDTH}]*(depth+1), eps {EPS}, k {K}",
              "summary": summary, "rows": rows}
    path = Path(__file__).with_name("certificate.json")
    path.write_text(json.dumps(output, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
