"""Write the book's downloads: the lottolib wheel and a zip of the chapter notebooks.

Usage: python scripts/book_downloads.py [OUT_DIR]     (default: _build/html/downloads)

The book build runs this (the Sphinx hook ``_ext/downloads.py``), so ``make book`` leaves, with
stable names that the page "Run it yourself" (``run_it_yourself.md``) links to,

    _build/html/downloads/lottolib-VERSION-py3-none-any.whl
    _build/html/downloads/lottobook-notebooks.zip

The zip unpacks to one folder ``lottobook-notebooks/`` holding the executed chapters
(``chapters/*.ipynb``), what they read at run time (the measurements ``bench/*.json``, which the
chapters open as ``../bench/NAME.json``), the wheel, a ``requirements.txt`` that installs it
with the versions the book was built with, and a ``README.txt``.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_wheel import build_wheel, pinned

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_ZIP = "lottobook-notebooks.zip"
FOLDER = "lottobook-notebooks"
# Needed by the chapters beyond lottolib's own dependencies: myst_nb.glue puts computed numbers into the text.
EXTRA = ("myst-nb",)


def readme(wheel: str) -> str:
    return f"""The notebooks of the book "Pruning is all you need: the strong lottery ticket, executable".

Install (Python 3.11 or newer), in this folder:

    python -m venv .venv && . .venv/bin/activate
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   # the CPU build (optional)
    pip install -r requirements.txt jupyterlab

requirements.txt installs {wheel} (the library lottolib, from this folder), with torch==2.13.0,
and myst-nb, which the chapters use to put computed numbers into their text.

Open the chapters:

    jupyter lab chapters/00_lottery_tickets.ipynb

Every chapter runs from top to bottom in a few seconds to a minute on a laptop CPU; the sliders need
the running kernel. bench/*.json hold the measurements that the certificates chapter and the performance appendix read.
"""


def write_downloads(out: Path, root: Path = ROOT, chapters_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the wheel and the notebooks zip into ``out``; return their paths.

    The chapters come from ``chapters_dir`` (default ``root/chapters``; the student edition passes
    its copies without solutions), the library and the measurements from ``root``.

    Raises
    ------
    RuntimeError
        If the repository has no executed chapter notebooks, or the wheel cannot be built.
    """
    wheel = build_wheel(out, root)
    chapters_dir = root / "chapters" if chapters_dir is None else chapters_dir
    chapters = sorted(chapters_dir.glob("*.ipynb"))
    if not chapters:
        raise RuntimeError(f"no chapter notebooks in {chapters_dir}")
    requirements = "\n".join(["torch==2.13.0", f"./{wheel.name}", *pinned(EXTRA, root)]) + "\n"
    notebooks = out / NOTEBOOKS_ZIP
    with zipfile.ZipFile(notebooks, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{FOLDER}/README.txt", readme(wheel.name))
        archive.writestr(f"{FOLDER}/requirements.txt", requirements)
        archive.write(wheel, f"{FOLDER}/{wheel.name}")
        for chapter in chapters:
            archive.write(chapter, f"{FOLDER}/chapters/{chapter.name}")
        for data in sorted((root / "bench").glob("*.json")):
            archive.write(data, f"{FOLDER}/bench/{data.name}")
    return wheel, notebooks


if __name__ == "__main__":
    for path in write_downloads(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html" / "downloads"):
        print(path)
