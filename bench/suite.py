"""The performance appendix's measurements, written to bench/results.json (run by `make bench`).

Usage: python bench/suite.py [--out bench/results.json] [--skip-clone]

Sections (each timed on this machine, 2 threads):
- per_weight: random parameters per target weight at ε ∈ {0.1, 0.03, 0.01, 0.003, 0.001} for a
  16×16 random target (pair, SubsetSum, the proved pair width, the counting lower bound);
- scaling: construction time and peak memory of one n×n layer (n² = 10³ … 3·10⁵ target weights),
  both methods at k = 48, each case in a fresh subprocess so that its peak memory (VmHWM) is its own;
- lenet: the LeNet-300-100-shaped target with SubsetSum at k = 64, in a fresh subprocess;
- widgets: median and worst of 20 updates of every widget in the book, across its slider range;
- clean_clone: `make book` (creating the venv) and `make test` from a fresh clone of HEAD.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPSILONS = [0.1, 0.03, 0.01, 0.003, 0.001]
LAYER_SIZES = [32, 100, 316, 548]  # n² ≈ 1e3, 1e4, 1e5, 3e5 target weights
SCALING_K = 48


def per_weight() -> list[dict]:
    import lottolib as L

    target = L.random_target([16, 16], seed=0)
    rows = []
    for eps in EPSILONS:
        started = time.perf_counter()
        row = {"eps": eps, "lower_bound": L.pruning_lower_bound(eps),
               "proved_pair": L.layer_width_bound(16, 16, eps, 0.1) * 2}
        for method in L.METHODS:
            row[method] = L.random_parameters_per_weight(target, eps, method=method)
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print("per_weight", row, flush=True)
    return rows


def _in_subprocess(case: str, *args: object) -> dict:
    command = [sys.executable, __file__, "--case", case, *map(str, args)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ru_maxrss, which Linux carries over)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def scaling_case(n: int, method: str) -> dict:
    import lottolib as L

    target = L.random_target([n, n], seed=0)
    baseline = _peak_mb()
    started = time.perf_counter()
    construction = L.prune_random_network(target, 0.01, seed=0, k=SCALING_K, method=method)
    seconds = time.perf_counter() - started
    return {"n": n, "target_weights": n * n, "method": method, "k": SCALING_K, "seconds": seconds,
            "peak_rss_mb": _peak_mb(), "baseline_rss_mb": baseline,
            "random_parameters": construction.random_parameters, "certificate": construction.certificate}


def lenet_case() -> dict:
    import lottolib as L

    target = L.random_target([784, 300, 100, 10], seed=0)
    started = time.perf_counter()
    construction = L.prune_random_network(target, 0.01, seed=0, k=64, method="subset_sum")
    return {"seconds": time.perf_counter() - started, "certificate": construction.certificate,
            "random_parameters": construction.random_parameters, "peak_rss_mb": _peak_mb()}


def widget_latency() -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from lottolib import plots, widgets

    def ks(cap: int) -> list[int]:  # 20 widths from cap/50 to the slider's cap, log-spaced
        return [max(1, int(k)) for k in np.geomspace(cap / 50, cap, 20).round()]

    sweeps = {
        "one_weight": (plots.OneWeightView,
                       [{"k": k, "w": w} for k, w in zip(ks(20_000), np.linspace(-1, 1, 20), strict=True)]),
        "neuron": (plots.NeuronView, [{"k": k} for k in ks(5_000)]),
        "layer": (plots.LayerView, [{"k": k} for k in ks(2_000)]),
        "deep": (plots.DeepView, [{"k": k} for k in ks(500)]),
        "neuron_pruning": (plots.NeuronPruningView, [{"d": d, "hidden_width": w} for d, w in
                           zip(np.resize([2, 4, 6, 8, 10, 12], 20), np.linspace(16, 1024, 20), strict=True)]),
        "subset_sum": (plots.SubsetSumView, [{"k": k} for k in ks(128)]),
    }
    rows = []
    for name, (view_class, updates) in sweeps.items():
        view = view_class()
        widgets.time_update(view)  # the first draw builds fonts and ticks
        times = [widgets.time_update(view, **{key: type(view.defaults[key])(value) for key, value in update.items()})
                 for update in updates]
        rows.append({"widget": name, "updates": len(times), "median_ms": 1000 * statistics.median(times),
                     "worst_ms": 1000 * max(times)})
        print("widgets", rows[-1], flush=True)
    return rows


def clean_clone() -> dict:
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(["git", "clone", "-q", str(ROOT), directory], check=True)
        timings = {}
        for target in ("book", "test"):
            started = time.perf_counter()
            subprocess.run(["make", target], cwd=directory, check=True, capture_output=True)
            timings[f"make_{target}_seconds"] = time.perf_counter() - started
    print("clean_clone", timings, flush=True)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--skip-clone", action="store_true", help="keep the clean-clone timings already in --out")
    parser.add_argument("--case", nargs="+")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    if args.case:
        name, *rest = args.case
        result = scaling_case(int(rest[0]), rest[1]) if name == "scaling" else lenet_case()
        print(json.dumps(result))
        return
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    results = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "torch": torch.__version__, "threads": torch.get_num_threads()}}
    results["per_weight"] = per_weight()
    results["scaling"] = []
    for n in LAYER_SIZES:
        for method in ("pair", "subset_sum"):
            results["scaling"].append(_in_subprocess("scaling", n, method))
            print("scaling", results["scaling"][-1], flush=True)
    results["lenet"] = _in_subprocess("lenet")
    print("lenet", results["lenet"], flush=True)
    results["widgets"] = widget_latency()
    results["clean_clone"] = previous.get("clean_clone") if args.skip_clone else clean_clone()
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
