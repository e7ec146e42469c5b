"""Time and peak memory of prune_random_network for a 64-128-128-10 target and larger ones.

Usage: python bench/construction.py [--out bench/construction.json]
Each case runs in a fresh subprocess so that ru_maxrss is that case's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CASES = [
    ([64, 128, 128, 10], 0.05, None),
    ([128, 256, 256, 10], 0.05, 1000),  # fixed k: the largest size that fits the 4e8-parameter cap well
]


def run_case(widths: list[int], eps: float, width: int | None) -> dict:
    import torch

    import lottolib as L

    torch.set_num_threads(2)
    target = L.random_target(widths, seed=0)
    if width is None:
        width = L.smallest_width(target, eps, delta=0.0, seeds=1, max_width=1 << 14)
    started = time.perf_counter()
    construction = L.prune_random_network(target, eps, seed=0, width=width)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"target": widths, "eps": eps, "k": width, "random_parameters": construction.random_parameters,
            "seconds": round(seconds, 2), "peak_rss_mb": round(peak), "certificate": construction.certificate,
            "succeeded": construction.succeeded}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/construction.json")
    parser.add_argument("--case", type=int)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(*CASES[args.case])))
        return
    rows = []
    for index in range(len(CASES)):
        out = subprocess.run([sys.executable, __file__, "--case", str(index)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout))
        print(rows[-1], flush=True)
    with open(args.out, "w") as handle:
        json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
