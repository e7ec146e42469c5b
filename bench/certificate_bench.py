"""Certificate benchmark: how far each certificate is above the worst error a strong adversary finds.

Writes bench/certificate.json. For every construction: the recursion of chapter 5 in its first form
(η_i = ‖[E⁺_i | E⁻_i]‖₂ at every layer, ``recursion``), the library's default certificate (η⁺_i =
‖E⁺_i‖₂ for pairs fed by a ReLU, image-level bounds for convolutions, ``certificate``), the verified
Lagrangian bound (``tight``, from :func:`lottolib.propagation.tight_certificate_of`: the full relaxation
for small networks, the structured solver within ``SECONDS`` for larger ones; equal to ``certificate``
where it does not help, ``tight_method`` says which), and the error of one strong adversary
(``empirical_error``), with each ratio and time (``seconds_certificate``, ``seconds_tight``,
``seconds_adversary``).

- random targets with ‖W_i‖₂ = 1, layer sizes [5]·(depth + 1), depths 1–4, both methods, 3 seeds,
  at widths where the certificate is near ε = 0.05 (part ``random``);
- real sizes (part ``real``): the digits MLP (65-33-10, both methods), random residual targets (stream
  and blocks of width 8, 2 and 3 blocks, 3 seeds, SubsetSum k = 24), the digits CNN (SubsetSum) and the
  LeNet-300-100-shaped random target (SubsetSum, k = 64; its structured solver gets ``LENET_SECONDS``).

Run: .venv/bin/python bench/certificate_bench.py [--parts random real] [--threads 2] [--keep-lenet]
(about 20 minutes on two cores). Rows of a part not run (and with --keep-lenet the LeNet row) are kept
from the existing JSON.
The summary's ``tight`` entries are [min, max] ratios to the adversary, ``tight_seconds_median`` the
median time of the tight certificate; real-size entries also give ``tight_seconds`` ([min, max]).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import lottolib as L
from lottolib import bounds
from lottolib.conv import operator_bound, prune_cnn
from lottolib.digits import digits_cnn_target, digits_target
from lottolib.propagation import tight_certificate_of
from lottolib.residual import prune_residual_network, random_residual_target

WIDTH = 5
EPS = 0.05
K = {"pair": 200, "subset_sum": 12}
SEEDS = (0, 1, 2)
SECONDS = 30.0  # budget of the structured solver at real sizes
LENET_SECONDS = 50.0  # the LeNet shape's budget: its goal is a bound within 60 s in all
RESIDUAL = {"width": 8, "outputs": 4, "k": 24, "blocks": (2, 3)}
OUT = Path(__file__).with_name("certificate.json")


def _timed(function):
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def measure(construction, recursion: float, *, tight: bool, samples: int = 4096, starts: int = 32,
            seconds: float = SECONDS) -> dict:
    """The certificates of one construction against the strong adversary of ``empirical_error``."""
    certificate, seconds_certificate = _timed(lambda: construction.certificate)
    report = tight_certificate_of(construction, seconds=seconds) if tight else None
    measured, seconds_adversary = _timed(lambda: L.empirical_error(construction, samples=samples, starts=starts))
    worst = measured.adversarial
    row = {"recursion": recursion, "certificate": certificate, "adversary": worst,
           "ratio_recursion": recursion / worst, "ratio_certificate": certificate / worst,
           "seconds_certificate": seconds_certificate, "seconds_adversary": seconds_adversary}
    if report is not None:
        row.update({"tight": report.tight, "ratio_tight": report.tight / worst, "tight_method": report.method,
                    "tight_solver": report.solver, "tight_size": report.size, "tight_pairs": report.pairs,
                    "tight_relaxation": report.relaxation, "seconds_tight": report.seconds,
                    "tight_note": report.note})
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


def _real(rows: list[dict], row: dict) -> None:
    rows.append(row)
    print(f"{row['target']} ({row['method']}): recursion {row['ratio_recursion']:.2f}, certificate "
          f"{row['ratio_certificate']:.2f}, tight {row['ratio_tight']:.2f} ({row['tight_method']}, "
          f"{row['seconds_tight']:.1f} s)", flush=True)


def lenet_construction():
    """The LeNet-300-100-shaped random target (seed 0) pruned by SubsetSum at ε = 0.01, k = 64, seed 0: the construction
    of this bench's LeNet row and of ``lenet_limit.py``."""
    return L.prune_random_network(L.random_target([784, 300, 100, 10], seed=0), 0.01, seed=0, k=64, method="subset_sum")


def real_targets(lenet: bool = True) -> list[dict]:
    rows: list[dict] = []
    digits = digits_target()
    for method, k in (("pair", 3000), ("subset_sum", 24)):
        construction = L.prune_random_network(digits.weights, 0.01, seed=0, k=k, method=method)
        _real(rows, {"target": "digits MLP", "method": method, "depth": 2, "k": k,
                     **measure(construction, construction.recursion_certificate, tight=True)})
    width, k = RESIDUAL["width"], RESIDUAL["k"]
    for blocks in RESIDUAL["blocks"]:
        for seed in SEEDS:
            target = random_residual_target(width, width, blocks, RESIDUAL["outputs"], seed=seed, strength=1.0)
            construction = prune_residual_network(target, k=k, seed=seed, method="subset_sum")
            _real(rows, {"target": f"residual {blocks} blocks", "method": "subset_sum", "depth": blocks, "seed": seed,
                         "k": k, **measure(construction, construction.certificate, tight=True, samples=1024, starts=8)})
    cnn = digits_cnn_target()
    construction = prune_cnn(cnn.kernel, cnn.weight, k=48, seed=0, method="subset_sum")
    patch_eta = bounds.mul_up(construction.conv.patch_eta, 3.0)  # η √(hw) for a 3 × 3 kernel
    recursion = bounds.certificate([operator_bound(cnn.kernel), bounds.spectral_norm_bound(cnn.weight)],
                                   [patch_eta, construction.linear.eta])  # patch-level bounds, full η
    _real(rows, {"target": "digits CNN", "method": "subset_sum", "depth": 2, "k": 48,
                 **measure(construction, recursion, tight=True)})
    if not lenet:
        return rows
    construction = lenet_construction()
    _real(rows, {"target": "LeNet-300-100 shape", "method": "subset_sum", "depth": 3, "k": 64,
                 **measure(construction, construction.recursion_certificate, tight=True, samples=1024, starts=8,
                           seconds=LENET_SECONDS)})
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
    real: dict[str, list[dict]] = {}
    for row in rows:
        if row["target"] != "random":
            real.setdefault(f"{row['target']} ({row['method']})", []).append(row)
    for name, chosen in real.items():
        summary[name] = {key: [min(r[f"ratio_{key}"] for r in chosen), max(r[f"ratio_{key}"] for r in chosen)]
                         for key in ("recursion", "certificate", "tight") if all(f"ratio_{key}" in r for r in chosen)}
        if all("seconds_tight" in r for r in chosen):
            summary[name]["tight_seconds"] = [min(r["seconds_tight"] for r in chosen),
                                              max(r["seconds_tight"] for r in chosen)]
            summary[name]["ratio_tight_median"] = statistics.median(r["ratio_tight"] for r in chosen)
            summary[name]["ratio_certificate_median"] = statistics.median(r["ratio_certificate"] for r in chosen)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=("random", "real"), default=["random", "real"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep-lenet", action="store_true",
                        help="keep the LeNet-shape row of the existing JSON (its tight certificate takes minutes)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kept = json.loads(OUT.read_text())["rows"] if OUT.exists() else []

    def stays(row: dict) -> bool:  # rows of parts not re-run, and the LeNet row when asked to keep it
        lenet = row["target"] == "LeNet-300-100 shape"
        return ("random" if row["target"] == "random" else "real") not in args.parts or (lenet and args.keep_lenet)

    rows = [row for row in kept if stays(row)]
    if "random" in args.parts:
        rows = random_targets() + rows
    if "real" in args.parts:
        rows += real_targets(lenet=not args.keep_lenet)
    output = {"description": "ratio certificate / strong-adversary error; random targets have ||W_i||_2 = 1, "
                             f"layer sizes [{WIDTH}]*(depth+1), eps {EPS}, k {K}; real sizes: tight certificate "
                             f"within {SECONDS} s of structured solver ({LENET_SECONDS} s for the LeNet shape), residual "
                             f"targets {RESIDUAL}",
              "summary": summarise(rows), "rows": rows}
    OUT.write_text(json.dumps(output, indent=1) + "\n")
    print(json.dumps(output["summary"], indent=1))


if __name__ == "__main__":
    main()
