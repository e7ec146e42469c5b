"""Create or refresh ``lab/``, the git-ignored working copy that ``make lab`` opens in JupyterLab.

Usage: python scripts/prepare_lab.py [--fresh] [--dest DIR]
   or: make lab [FRESH=1] [LAB_ARGS="--no-browser --ip=0.0.0.0 --allow-root"]

JupyterLab saves every open notebook on its own every two minutes. Opened on ``chapters/`` it would
write half-run notebooks over the tracked, executed ones, which the tests compare with their sources
and re-run with nbval. So ``make lab`` opens a copy instead, and JupyterLab cannot reach the tracked
files at all (its root is the copy):

    lab/chapters/NAME.ipynb      the executed chapters
    lab/bench/*.json             the measurements chapters read as ../bench/NAME.json
    lab/assignments/NAME/        the student folder of each generated assignment (make assignments)

The chapters are copied as JupyterLab shows them (``scripts/readable_notebook.py``): glued numbers and
cross-references written out with the text the built book gives them (``_build/lab-references.json``,
written by ``make book``), since a notebook alone cannot know them; the jupyterlab-myst extension
(installed by ``make setup``) renders the rest of the MyST markup: proofs, exercises, figures.

Only ``lab/`` is ever written. A copy you have not changed is refreshed when its original changes
(and removed when its original is gone); a copy you changed is kept, and the script says so.
"Changed" means what you can edit: for a notebook the cells' types and sources, not its metadata or
outputs (opening a notebook in JupyterLab rewrites its metadata, and running it its outputs: neither
counts); for any other file its bytes. ``--fresh`` replaces every copy by its original, discarding
your changes. ``lab/.copies.json`` records, for each copy, that content as it was made and the
digest of the file it was made from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from readable_notebook import readable_notebook

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "lab"
MANIFEST = ".copies.json"
SKIP = {".ipynb_checkpoints", "__pycache__", ".OTTER_LOG"}


@dataclass
class Report:
    """What :func:`prepare` did, by path relative to the working copy."""

    copied: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def originals(root: Path = ROOT, dist: Path | None = None) -> dict[str, Path]:
    """The files the working copy holds: {path inside the copy: original file}.

    The chapters and the measurements ``bench/*.json`` come from ``root``; the student folders of the generated
    assignments from ``dist`` (default ``root/assignments/dist``), if it exists.
    """
    dist = root / "assignments" / "dist" if dist is None else dist
    files = {f"chapters/{path.name}": path for path in sorted((root / "chapters").glob("*.ipynb"))}
    for data in sorted((root / "bench").glob("*.json")):  # what the chapters read
        files[f"bench/{data.name}"] = data
    for student in sorted(dist.glob("*/student")) if dist.is_dir() else []:
        for path in sorted(student.rglob("*")):
            relative = path.relative_to(student)
            if path.is_file() and not SKIP & set(relative.parts):
                files[f"assignments/{student.parent.name}/{relative.as_posix()}"] = path
    return files


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def editable_digest(relative: str, data: bytes) -> str:
    """The digest of what a user can change in a copy: a notebook's cell types and sources, any other file's bytes."""
    if relative.endswith(".ipynb"):
        try:
            cells = json.loads(data)["cells"]
            return _digest(json.dumps([[cell["cell_type"], "".join(cell["source"])] for cell in cells]).encode())
        except (ValueError, KeyError, TypeError):
            pass  # not a notebook (any more): its bytes
    return _digest(data)


def load_references(root: Path = ROOT) -> dict[str, str]:
    """The book's text for every cross-reference, as the HTML build wrote it (``_build/lab-references.json``)."""
    path = root / "_build" / "lab-references.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build the book first (make book), whose references the copies use")
    return json.loads(path.read_text(encoding="utf-8"))


def copy_content(relative: str, original: Path, references: Mapping[str, str]) -> bytes:
    """What the copy at ``relative`` holds: a chapter as JupyterLab should show it, any other file as it is."""
    if relative.startswith("chapters/") and relative.endswith(".ipynb"):
        notebook = nbformat.read(original, as_version=4)
        readable = readable_notebook(notebook, references, f"chapters/{original.stem}")
        return nbformat.writes(readable).encode("utf-8") + b"\n"
    return original.read_bytes()


def prepare(dest: Path = LAB, *, root: Path = ROOT, dist: Path | None = None, fresh: bool = False,
            references: Mapping[str, str] | None = None) -> Report:
    """Bring the working copy ``dest`` up to date with the originals; never write outside ``dest``.

    Each copy is a new, independent file (never a link), so saving it cannot change its original.

    Parameters
    ----------
    dest
        The working copy (``lab/`` for ``make lab``).
    root, dist
        Where the originals live: the repository, and the generated assignments.
    fresh
        Replace every copy by its original, also the ones you changed.
    references
        The book's text for each cross-reference (default: ``root/_build/lab-references.json``).

    Returns
    -------
    Report
        The copies made, refreshed, kept (changed by you) and removed (original gone, copy unchanged).
    """
    report = Report()
    references = load_references(root) if references is None else references
    manifest_path = dest / MANIFEST
    made = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    wanted = originals(root, dist)
    for relative, original in wanted.items():
        copy = dest / relative
        content = copy_content(relative, original, references)
        entry = made.get(relative)
        if copy.is_file():
            current = copy.read_bytes()
            if current == content:
                made[relative] = {"made": editable_digest(relative, content), "source": _digest(content)}
                continue
            if isinstance(entry, str):  # a manifest of an older make lab: the digest of the bytes it copied
                entry = {"made": editable_digest(relative, current) if entry == _digest(current) else entry, "source": ""}
            edited = entry is None or editable_digest(relative, current) != entry["made"]
            if edited and editable_digest(relative, current) == editable_digest(relative, content):
                edited = False  # changed back, or to what the book now says
            if not edited and not fresh and entry is not None and entry["source"] == _digest(content):
                continue  # the book has nothing new for it (JupyterLab may have rewritten its metadata)
            if edited and not fresh:
                report.kept.append(relative)
                continue
            report.refreshed.append(relative)
        else:
            report.copied.append(relative)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.unlink(missing_ok=True)  # a fresh inode, even if the old copy was a link
        copy.write_bytes(content)
        made[relative] = {"made": editable_digest(relative, content), "source": _digest(content)}
    for relative in sorted(set(made) - set(wanted)):
        copy = dest / relative
        entry = made[relative]
        recorded = entry if isinstance(entry, str) else entry["made"]
        if copy.is_file() and recorded in (editable_digest(relative, copy.read_bytes()), _digest(copy.read_bytes())):
            copy.unlink()
            report.removed.append(relative)
            del made[relative]
        elif not copy.is_file():
            del made[relative]
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(dict(sorted(made.items())), indent=1) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="replace every copy, discarding your changes")
    parser.add_argument("--dest", type=Path, default=LAB)
    arguments = parser.parse_args()
    report = prepare(arguments.dest.resolve(), fresh=arguments.fresh)
    where = arguments.dest
    print(f"{where}/: {len(report.copied)} copied, {len(report.refreshed)} refreshed, "
          f"{len(report.removed)} removed, {len(report.kept)} kept as you changed them")
    for relative in report.kept:
        print(f"  kept your version of {where}/{relative} (delete it, or run `make lab FRESH=1`, for a fresh copy)")
    if not (ROOT / "assignments" / "dist").is_dir():
        print("  no assignments in the working copy: run `make assignments` first")


if __name__ == "__main__":
    main()
