"""Time and memory of the residual construction (chapter 11), written to bench/residual.json.

Usage: python bench/residual_bench.py [--out bench/residual.json] [--quick] [--threads 2]

Sections (each construction in a fresh subprocess, so that its peak memory is its own):
- scaling: random residual targets with a stream of width d, blocks of d hidden units (‖W₁‖₂ = ‖W₂‖₂ = 1)
  and a read-out to 10 outputs, pruned with both methods at k = 48: seconds for sampling, pruning and the
  certificate, peak resident memory (VmHWM) before and after, the library's memory estimate, random
  weights, certificate;
- digits: training the digits residual target, and pruning it as chapter 11 does (SubsetSum, k = 64);
- conv: the chapter's convolutional residual block (SubsetSum, k = 48);
- widget: median and worst of 20 updates of the chapter's widget across its slider range.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K = 48
THREADS = 2
SIZES = [(32, 2), (64, 2), (128, 2), (128, 4), (256, 2)]  # (stream width d = hidden units, blocks)
QUICK_SIZES = [(32, 2), (64, 2)]


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM, which exec resets)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def scaling_case(d: int, blocks: int, method: str) -> dict:
    from lottolib import memory
    from lottolib.residual import prune_residual_network, random_residual_target

    target = random_residual_target(d, d, blocks, 10, seed=0, strength=1.0)
    baseline = _peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    construction = prune_residual_network(target, k=K, seed=0, method=method)
    certificate = construction.certificate  # computed lazily: part of the construction's cost
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"d": d, "hidden": d, "blocks": blocks, "method": method, "k": K, "seconds": seconds, "cpu_seconds": cpu,
            "peak_rss_mb": _peak_mb(), "baseline_rss_mb": baseline,
            "estimated_peak_mb": memory.estimated_peak_bytes(construction.random_parameters) / 2**20,
            "random_parameters": construction.random_parameters, "target_weights": sum(w.numel() for w in target.layers),
            "certificate": certificate}


def digits_case() -> dict:
    from lottolib.residual import prune_residual_network
    from lottolib.residual_digits import digits_residual_target

    started, cpu = time.perf_counter(), time.process_time()
    digits = digits_residual_target()
    trained, trained_cpu = time.perf_counter(), time.process_time()
    construction = prune_residual_network(digits.target, k=64, seed=0, method="subset_sum", eps=0.01)
    certificate = construction.certificate
    pruned, pruned_cpu = time.perf_counter(), time.process_time()
    return {"train_seconds": trained - started, "train_cpu_seconds": trained_cpu - cpu,
            "prune_seconds": pruned - trained, "prune_cpu_seconds": pruned_cpu - trained_cpu, "peak_rss_mb": _peak_mb(),
            "certificate": certificate, "random_parameters": construction.random_parameters,
            "target_accuracy": digits.accuracy(), "pruned_accuracy": digits.accuracy(construction.module(compact=True))}


def conv_case() -> dict:
    import torch

    from lottolib.conv import operator_bound
    from lottolib.residual import prune_conv_residual

    generator = torch.Generator().manual_seed(0)
    kernel1 = torch.rand(8, 3, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1
    kernel2 = torch.rand(3, 8, 3, 3, generator=generator, dtype=torch.float64) * 2 - 1
    kernel1, kernel2 = kernel1 / operator_bound(kernel1), kernel2 / operator_bound(kernel2)
    started, cpu = time.perf_counter(), time.process_time()
    block = prune_conv_residual(kernel1, kernel2, k=48, seed=0, method="subset_sum", image_size=(12, 12))
    certificate = block.certificate  # the exact image-level numbers at 12x12
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
            "peak_rss_mb": _peak_mb(), "certificate": certificate,
            "random_parameters": block.random_parameters}


def widget_latency() -> dict:
    import numpy as np

    from lottolib.residual_plots import MAX_BLOCKS, MAX_K, ResidualView
    from lottolib.widgets import time_update

    view = ResidualView()
    time_update(view)  # the first draw builds fonts and ticks
    ks = [max(1, int(k)) for k in np.geomspace(2, MAX_K, 20).round()]
    blocks = np.resize(np.arange(1, MAX_BLOCKS + 1), 20)
    strengths = np.linspace(0.05, 1.0, 20)
    times = [time_update(view, k=k, blocks=int(count), strength=float(strength))
             for k, count, strength in zip(ks, blocks, strengths, strict=True)]
    return {"updates": len(times), "median_ms": 1000 * statistics.median(times), "worst_ms": 1000 * max(times)}


CASES = {"scaling": lambda args: scaling_case(int(args[0]), int(args[1]), args[2]), "digits": lambda args: digits_case(),
         "conv": lambda args: conv_case(), "widget": lambda args: widget_latency()}


def _in_subprocess(case: str, *args: object) -> dict:
    command = [sys.executable, __file__, "--threads", str(THREADS), "--case", case, *map(str, args)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "residual.json"))
    parser.add_argument("--quick", action="store_true", help="only the two smallest sizes (a smoke test)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", nargs="+")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.case:
        name, *rest = args.case
        print(json.dumps(CASES[name](rest)))
        return
    global THREADS
    THREADS = args.threads
    results: dict = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                                 "torch": torch.__version__, "threads": torch.get_num_threads(),
                                 "load_average_at_start": os.getloadavg()}, "k": K,
                     "note": "seconds are wall-clock, cpu_seconds the process's CPU time; on a shared, loaded "
                             "machine the wall-clock times are inflated (see load_average_at_start)"}
    results["scaling"] = []
    for d, blocks in QUICK_SIZES if args.quick else SIZES:
        for method in ("pair", "subset_sum"):
            results["scaling"].append(_in_subprocess("scaling", d, blocks, method))
            print("scaling", results["scaling"][-1], flush=True)
    for name in ("digits", "conv", "widget"):
        results[name] = _in_subprocess(name)
        print(name, results[name], flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
