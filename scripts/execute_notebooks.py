"""Regenerate every chapter notebook from its MyST source and execute it in place.

Usage: python scripts/execute_notebooks.py [chapters/source/NAME.md ...]   (default: all of them)
   or: make notebooks [NOTEBOOKS=chapters/source/NAME.md]

Each source chapters/source/NAME.md becomes chapters/NAME.ipynb.

The notebook (.ipynb, with outputs) is what the book shows and what nbval re-runs; the
MyST Markdown twin (.md) is what humans edit and review. Run through `make notebooks`,
which sets the same environment (threads, seeds, matplotlib backend) that `make test` gives nbval.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"


def execute(source: Path) -> float:
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.pop("widgets", None)
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:03d}"  # stable ids: a re-run only changes what really changed
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", store_widget_state=False, record_timing=False,
        resources={"metadata": {"path": str(CHAPTERS)}},
    ).execute()
    elapsed = time.perf_counter() - started
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, CHAPTERS / f"{source.stem}.ipynb")
    return elapsed


def main(paths: list[str]) -> int:
    """Execute every source (or the given ones); report each, and fail at the end if any failed."""
    sources = [Path(p).resolve() for p in paths] or sorted((CHAPTERS / "source").glob("*.md"))
    failed = []
    for source in sources:
        try:
            print(f"{source.relative_to(ROOT)}: {execute(source):.1f} s", flush=True)
        except CellExecutionError as error:
            failed.append(source.name)
            print(f"{source.relative_to(ROOT)}: FAILED, notebook not written\n{error}", flush=True)
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
