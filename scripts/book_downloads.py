"""Write the book's downloads: the lottolib wheel, a zip of the chapter notebooks, the source.

Usage: python scripts/book_downloads.py [OUT_DIR]     (default: _build/html/downloads)

The book build runs this (the Sphinx hook ``_ext/downloads.py``), so ``make book`` leaves, with
stable names that the page "Run it yourself" (``run_it_yourself.md``) links to,

    _build/html/downloads/lottolib-VERSION-py3-none-any.whl
    _build/html/downloads/lottobook-notebooks.zip
    _build/html/downloads/lottobook-source.tar.gz     (the main edition only)

The zip unpacks to one folder ``lottobook-notebooks/`` holding the executed chapters
(``chapters/*.ipynb``, written out for JupyterLab by ``readable_notebook.py``: glued numbers and
cross-references as the book shows them), what they read at run time (the measurements
``bench/*.json``, which the chapters open as ``../bench/NAME.json``), the wheel, a
``requirements.txt`` that installs it and what the chapters need besides, with the versions the
book was built with, and a ``README.txt``.

The source archive unpacks to ``lottobook/``: the repository's files (those git tracks, as they
are in the working tree; without git, every file that ``.gitignore`` does not exclude), so that a
lecturer with only the HTML can run ``make assignments`` and ``make grade``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_wheel import build_wheel, pinned
from readable_notebook import readable_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_ZIP = "lottobook-notebooks.zip"
FOLDER = "lottobook-notebooks"
SOURCE_ARCHIVE = "lottobook-source.tar.gz"
SOURCE_FOLDER = "lottobook"
# Needed by the chapters beyond lottolib's own dependencies: myst_nb.glue puts computed numbers into
# the text; JupyterLab with jupyterlab-myst renders the chapters' MyST (proofs, exercises, figures).
EXTRA = ("myst-nb", "jupyterlab", "jupyterlab-myst")


def readme(wheel: str) -> str:
    return f"""The notebooks of the book "Pruning is all you need: the strong lottery ticket, executable".

Install (Python 3.11 or newer), in this folder:

    python -m venv .venv && . .venv/bin/activate
    pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu   # the CPU build (optional)
    pip install -r requirements.txt

requirements.txt installs {wheel} (the library lottolib, from this folder), with torch==2.13.0
and cvxpy with its solver Clarabel (the tight certificate of chapter 12); myst-nb, which the
chapters use to put computed numbers into their text; and JupyterLab with jupyterlab-myst, which
renders the chapters' proofs, exercises and figures.

Open the chapters:

    jupyter lab chapters/00_lottery_tickets.ipynb

Run a chapter with Run > Run All Cells; the sliders need the running kernel. bench/*.json hold the
measurements that the certificates chapter and the performance appendix read.
"""


def source_files(root: Path = ROOT) -> list[str]:
    """The repository's files, relative to ``root``: what git tracks, or without git what .gitignore keeps."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True, check=True)
        return sorted(name for name in listed.stdout.split("\0") if name and (root / name).is_file())
    import pathspec

    ignore = (root / ".gitignore").read_text().splitlines() if (root / ".gitignore").is_file() else []
    spec = pathspec.GitIgnoreSpec.from_lines([*ignore, ".git/", ".*_cache/"])  # caches ignore themselves
    files = []
    for folder, subfolders, names in os.walk(root):
        here = Path(folder).relative_to(root)
        subfolders[:] = sorted(d for d in subfolders if not spec.match_file(f"{(here / d).as_posix()}/"))
        files += [(here / name).as_posix() for name in names if not spec.match_file((here / name).as_posix())]
    return sorted(files)


def write_source_archive(path: Path, root: Path = ROOT) -> Path:
    """``lottobook-source.tar.gz``: the repository's files under ``lottobook/``, modes kept, owners dropped."""

    def anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w") as archive:
        for name in source_files(root):
            archive.add(root / name, f"{SOURCE_FOLDER}/{name}", recursive=False, filter=anonymous)
    return path


def write_downloads(out: Path, root: Path = ROOT, chapters_dir: Path | None = None,
                    references: Mapping[str, str] | None = None, source: bool = True) -> list[Path]:
    """Write the wheel, the notebooks zip and (if ``source``) the source archive into ``out``; return their paths.

    The chapters come from ``chapters_dir`` (default ``root/chapters``; the student edition passes
    its copies without solutions), the library and the measurements from ``root``. ``references``
    (the book's text for each cross-reference, see ``_ext/lab_references.py``) writes the chapters
    out for JupyterLab; without it they are zipped as they are.

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
            if references is None:
                archive.write(chapter, f"{FOLDER}/chapters/{chapter.name}")
                continue
            readable = readable_notebook(nbformat.read(chapter, as_version=4), references, f"chapters/{chapter.stem}")
            archive.writestr(f"{FOLDER}/chapters/{chapter.name}", nbformat.writes(readable) + "\n")
        for data in sorted((root / "bench").glob("*.json")):
            archive.write(data, f"{FOLDER}/bench/{data.name}")
    written = [wheel, notebooks]
    if source:
        written.append(write_source_archive(out / SOURCE_ARCHIVE, root))
    return written


if __name__ == "__main__":
    # As the book build writes them: the chapters carry the references of the last HTML build (make book).
    sys.path.insert(0, str(ROOT / "_ext"))
    from lab_references import references_file

    references = references_file(ROOT / "_build" / "html")
    if not references.is_file():
        sys.exit(f"no {references.relative_to(ROOT)}: run make book first (the zip's chapters are written out with "
                 "the book's cross-references)")
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html" / "downloads"
    for path in write_downloads(out, references=json.loads(references.read_text(encoding="utf-8"))):
        print(path)
