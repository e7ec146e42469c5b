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

Only ``lab/`` is ever written. A copy you have not changed is refreshed when its original changes
(and removed when its original is gone); a copy you changed is kept, and the script says so.
``--fresh`` replaces every copy by its original, discarding your changes. ``lab/.copies.json``
records the SHA-256 of each copy as it was made, which is how an unchanged copy is recognised.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare(dest: Path = LAB, *, root: Path = ROOT, dist: Path | None = None, fresh: bool = False) -> Report:
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

    Returns
    -------
    Report
        The copies made, refreshed, kept (changed by you) and removed (original gone, copy unchanged).
    """
    report = Report()
    manifest_path = dest / MANIFEST
    made = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    wanted = originals(root, dist)
    for relative, original in wanted.items():
        copy = dest / relative
        new = _digest(original)
        if copy.is_file():
            current = _digest(copy)
            if current == new:
                made[relative] = new
                continue
            if not fresh and made.get(relative) != current:  # changed since it was copied (or not made by us)
                report.kept.append(relative)
                continue
            report.refreshed.append(relative)
        else:
            report.copied.append(relative)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.unlink(missing_ok=True)  # a fresh inode, even if the old copy was a link
        shutil.copyfile(original, copy)
        made[relative] = new
    for relative in sorted(set(made) - set(wanted)):
        copy = dest / relative
        if copy.is_file() and _digest(copy) == made[relative]:
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
