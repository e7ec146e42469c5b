"""Certificate benchmark: how far each certificate is above the worst error a strong adversary finds.

Writes bench/certificate.json. For every construction: the recursion of chapter 5 in its first form
(η_i = ‖[E⁺_i | E⁻_i]‖₂ at every layer, ``recursion``), the library's default certificate (η⁺_i =
‖E⁺_i‖₂ for pairs fed by a ReLU, image-level bounds for convolutions, ``certificate``), the verified
Lagrangian bound where the network is small enough (``tight``; else equal to ``certificate``), and
the error of one strong adversary (``empirical_error``), with each ratio and time.

- random targets with ‖W_i‖₂ = 1, layer sizes [5]·(depth + 1), depths 1–4, both methods, 3 seeds,
  at widths where the certificate is near ε = 0.05;
- the digits MLP (65-33-10, both methods), the LeNet-300-100-shaped random target (SubsetSum), and
  the digits CNN (SubsetSum), where the Lagrangian bound is out of reach (too large).

Run: .venv/bin/python bench/certificate_bench.py  (about 10 minutes on two cores)
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

import lottolib as L
from lottolib import bounds
from lottolib.conv import operator_bound, prune_cnn
from lottolib.digits import digits_cnn_target, digits_target

WIDTH = 5
EPS = 0.05
K = {"pair": 200, "subset_sum": 12}
SEEDS = (0, 1, 2)
OUT = Path(__file__).with_name("certificate.json")


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def measure(construction, recursion: float, *, tight: bool, samples: int = 4096, starts: int = 32) -> dict:
    """The certificates of one construction against the strong adversary of ``empirical_error``."""
    certificate, seconds_certificate = _timed(lambda: construction.certificate)
    report = construction.tight_certificate() if tight else None
    measured, seconds_adversary = _timed(lambda: L.empirical_error(construction, samples=samples, starts=starts))
    worst = measured.adversarial
    row = {"recursion": recursion, "certificate": certificate, "adversary": worst,
           "ratio_recursion": recursion / worst, "ratio_certificate": certificate / worst,
           "seconds_certificate": seconds_certificate, "seconds_adversary": seconds_adversary}
    if report is not None:
        row.update({"tight": report.tight, "ratio_tight": report.tight / worst, "tight_method": report.method,
                    "tight_size": report.size, "seconds_tight": report.seconds})
    return row


def random_targets() -> list[dict]:
    rows = []
    for method in L.METHODS:
        for depth in (1, 2, 3, 4):
            for seed in SEEDS:
                weights = L.random_target([WIDTH] * (depth + 1), seed)
                construction = L.prune_random_network(weights, EPS, seed=seed, k=K[method], method=method)
                row = {"target": "random", "method": method, "depth": depth, "seed": seed, "k": K[method],
                       **measure(construction, construction.recursion_certificate, tight=True)}
                rows.append(row)
                print(f"{method:10s} depth {depth} seed {seed}: recursion {row['ratio_recursion']:.2f}, certificate "
                      f"{row['ratio_certificate']:.2f}, tight {row['ratio_tight']:.3f} ({row['seconds_tight']:.1f} s)",
                      flush=True)
    return rows


def real_targets() -> list[dict]:
    rows = []
    digits = digits_target()
    for method, k in (("pair", 3000), ("subset_sum", 24)):
        construction = L.prune_random_network(digits.weights, 0.01, seed=0, k=k, method=method)
        rows.append({"target": "digits MLP", "method": method, "depth": 2, "k": k,
                     **measure(construction, construction.recursion_certificate, tight=False)})
        print(rows[-1], flush=True)
    lenet = L.random_target([784, 300, 100, 10], seed=0)
    construction = L.prune_random_network(lenet, 0.01, seed=0, k=64, method="subset_sum")
    rows.append({"target": "LeNet-300-100 shape", "method": "subset_sum", "depth": 3, "k": 64,
                 **measure(construction, construction.recursion_certificate, tight=False, samples=1024, starts=8)})
    print(rows[-1], flush=True)
    cnn = digits_cnn_target()
    construction = prune_cnn(cnn.kernel, cnn.weight, k=48, seed=0, method="subset_sum")
    patch_eta = bounds.mul_up(construction.conv.patch_eta, 3.0)  # η √(hw) for a 3 × 3 kernel
    recursion = bounds.certificate([operator_bound(cnn.kernel), bounds.spectral_norm_bound(cnn.weight)],
                                   [patch_eta, construction.linear.eta])  # patch-level bounds, full η
    rows.append({"target": "digits CNN", "method": "subset_sum", "depth": 2, "k": 48,
                 **measure(construction, recursion, tight=False)})
    print(rows[-1], flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    summary = {}
    for method in L.METHODS:
        for depth in (1, 2, 3, 4):
            chosen = [r for r in rows if r["target"] == "random" and r["method"] == method and r["depth"] == depth]
            summary[f"{method} depth {depth}"] = {
                key: [min(r[f"ratio_{key}"] for r in chosen), max(r[f"ratio_{key}"] for r in chosen)]
                for key in ("recursion", "certificate", "tight")} | {
                "tight_seconds_median": statistics.median(r["seconds_tight"] for r in chosen)}
    for row in rows:
        if row["target"] != "random":
            summary[f"{row['target']} ({row['method']})"] = {
                key: [row[f"ratio_{key}"]] * 2 for key in ("recursion", "certificate")}
    return summary


def main() -> None:
    torch.set_num_threads(2)
    rows = random_targets() + real_targets()
    output = {"description": "ratio certificate / strong-adversary error; random targets have ||W_i||_2 = 1, "
                             f"layer sizes [{WIDTH}]*(depth+1), eps {EPS}, k {K}",
              "summary": summarise(rows), "rows": rows}
    OUT.write_text(json.dumps(output, indent=1) + "\n")
    print(json.dumps(output["summary"], indent=1))


if __name__ == "__main__":
    main()
