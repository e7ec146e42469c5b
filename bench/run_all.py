"""Run All of every chapter, timed: writes bench/run_all.json.

Usage: python bench/run_all.py [--out bench/run_all.json] [chapters/NAME.ipynb ...]   (default: every chapter)

Each committed notebook ``chapters/NAME.ipynb`` is executed top to bottom in a fresh kernel with
nbclient, as JupyterLab's Run All does, in the environment the Makefile gives `make notebooks`
(:data:`ENVIRONMENT`, set here too when run by hand; MPLBACKEND unset); nothing is written back.
Per chapter: the Run All time (from the first cell's start to the last cell's end, kernel start-up
excluded), the slowest cells, and the load average (1, 5, 15 minutes) before and after, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SLOWEST = 3
ENVIRONMENT = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "PYTHONHASHSEED": "0"}
"""The Makefile's exports for executing notebooks; the kernels inherit them."""


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def chapter_label(stem: str) -> str:
    """The rendered chapter number (the file number + 1), or "appendix" for the performance page."""
    return "appendix" if stem.startswith("13_") else str(int(stem[:2]) + 1)


def run_all(path: Path) -> dict:
    """Execute one notebook in memory; its Run All time and slowest cells."""
    notebook = nbformat.read(path, as_version=4)
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    total = time.perf_counter() - started
    cells = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.status.busy" in timing and "shell.execute_reply" in timing:
            cells.append((index, _seconds(timing["iopub.status.busy"]), _seconds(timing["shell.execute_reply"]),
                          cell.source.splitlines()[0] if cell.source else ""))
    run_all_s = cells[-1][2] - cells[0][1] if cells else total
    slowest = sorted(cells, key=lambda c: c[2] - c[1], reverse=True)[:SLOWEST]
    return {"notebook": path.name, "chapter": chapter_label(path.stem), "run_all_s": round(run_all_s, 2),
            "with_kernel_start_s": round(total, 2), "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "slowest_cells": [{"cell": index, "seconds": round(end - start, 2), "first_line": first}
                              for index, start, end, first in slowest]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "run_all.json"))
    parser.add_argument("notebooks", nargs="*", help="default: every chapters/*.ipynb")
    args = parser.parse_args()
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ.pop("MPLBACKEND", None)
    paths = [Path(p).resolve() for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
    out = Path(args.out)
    # earlier rows stay until re-measured: the appendix, run last, reads every chapter's row, its own included
    results = json.loads(out.read_text()) if out.exists() else {"chapters": []}
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "cpus": os.cpu_count()}
    chapters = {path.name for path in (ROOT / "chapters").glob("*.ipynb")}
    rows = {row["notebook"]: row for row in results["chapters"] if row["notebook"] in chapters}
    for path in paths:
        rows[path.name] = run_all(path)
        print(f"{path.name}: Run All {rows[path.name]['run_all_s']:.1f} s (load {rows[path.name]['load_before'][0]})",
              flush=True)
        results["chapters"] = [rows[name] for name in sorted(rows)]
        out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
