"""The performance appendix's measurements, written to bench/results.json (run by `make bench`).

Usage: python bench/suite.py [--out bench/results.json] [--skip-clone] [--only SECTION]

Sections (each timed on this machine, 2 threads):
- per_weight: random parameters per target weight at ε ∈ {0.1, 0.03, 0.01, 0.003, 0.001} for a
  16×16 random target (pair, SubsetSum, the proved pair width, the counting lower bound);
- scaling: construction time and peak memory of one n×n layer (n² = 10³ … 3·10⁵ target weights),
  both methods at k = 48, each case in a fresh subprocess so that its peak memory (VmHWM) is its own;
- lenet: the LeNet-300-100-shaped target with SubsetSum at k = 64, in a fresh subprocess;
- own_model: lottolib.prune_model on trained-model shapes with biases, each in a fresh subprocess: the digits
  MLP 64→32→10 (trained as in chapter 5, k searched for eps = 0.1 on the data's ball) and the LeNet-300-100
  shape 784→300→100→10 with biases (torch's default initialisation, k = 64 as in `lenet`, unit ball);
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
OWN_MODELS = ["digits_mlp", "lenet_300_100"]


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


def _digits_mlp() -> tuple[object, object, object]:
    """The chapter 5 model: 64→32→10 with biases, trained on the digits (pixels / 16) with the chapter's recipe."""
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[order[:1257]]), y[order[:1257]]).backward()
        optimizer.step()
    return model, x, y


def own_model_case(name: str) -> dict:
    """prune_model's time and peak memory (VmHWM) on one model with biases (module docstring)."""
    import torch
    from torch import nn

    import lottolib as L

    if name == "digits_mlp":
        model, x, y = _digits_mlp()
        baseline = _peak_mb()
        started = time.perf_counter()
        twin = L.prune_model(model, 0.1, data=x, seed=0)
    else:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
        baseline = _peak_mb()
        started = time.perf_counter()
        twin = L.prune_model(model, 0.01, input_radius=1.0, k=64, seed=0)
    seconds = time.perf_counter() - started
    row = {"model": name, "seconds": seconds, "peak_rss_mb": _peak_mb(), "baseline_rss_mb": baseline,
           "method": twin.method, "k": twin.k, "k_tried": [k for k, _ in twin.search],
           "input_radius": twin.input_radius, "certificate": twin.certificate,
           "random_parameters": twin.random_parameters, "kept_parameters": twin.kept_parameters}
    if name == "digits_mlp":
        test = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[1257:]
        with torch.no_grad():
            row["accuracy"] = float((model(x[test]).argmax(1) == y[test]).double().mean())
            row["pruned_accuracy"] = float((twin.module()(x[test].double()).argmax(1) == y[test]).double().mean())
    return row


def own_model() -> list[dict]:
    rows = []
    for name in OWN_MODELS:
        rows.append(_in_subprocess("own_model", name))
        print("own_model", rows[-1], flush=True)
    return rows


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
    parser.add_argument("--only", choices=["own_model", "lenet"],
                        help="re-measure this section alone and keep the others already in --out")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    if args.case:
        name, *rest = args.case
        cases = {"scaling": lambda: scaling_case(int(rest[0]), rest[1]), "lenet": lenet_case,
                 "own_model": lambda: own_model_case(rest[0])}
        print(json.dumps(cases[name]()))
        return
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    if args.only:
        previous[args.only] = own_model() if args.only == "own_model" else _in_subprocess("lenet")
        out.write_text(json.dumps(previous, indent=1) + "\n")
        print(f"wrote {out}")
        return
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
    results["own_model"] = own_model()
    results["widgets"] = widget_latency()
    results["clean_clone"] = previous.get("clean_clone") if args.skip_clone else clean_clone()
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
