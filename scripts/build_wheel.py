"""Build the wheel of ``lottolib`` that the book and the assignments ship.

Usage: python scripts/build_wheel.py [OUT_DIR]      (default: _build/wheel)

The wheel is built from a temporary copy of ``pyproject.toml``, ``README.md`` and ``lottolib/``, so
the repository gets no ``build/`` folder, and without network or build isolation (the setuptools of
the running environment builds it). It is pure Python (``py3-none-any``) and declares lottolib's
dependencies from pyproject.toml (torch==2.13.0, numpy, matplotlib, ipywidgets, scikit-learn).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pinned(names: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``name==version`` for each distribution name, as pinned in the repository's requirements.txt.

    Raises
    ------
    RuntimeError
        If requirements.txt pins no version of one of the names.
    """
    pins = {}
    for line in (root / "requirements.txt").read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = line.strip()
    missing = [name for name in names if re.sub(r"[-_.]+", "-", name).lower() not in pins]
    if missing:
        raise RuntimeError(f"requirements.txt pins no version of {missing}")
    return [pins[re.sub(r"[-_.]+", "-", name).lower()] for name in names]


def wheel_name(root: Path = ROOT) -> str:
    """The wheel's file name, from pyproject.toml: ``lottolib-VERSION-py3-none-any.whl``."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return f"{project['name']}-{project['version']}-py3-none-any.whl"


def build_wheel(out: Path, root: Path = ROOT) -> Path:
    """Build the wheel into ``out`` (created if needed) and return its path.

    Raises
    ------
    RuntimeError
        If pip fails, with its output, or if the wheel has an unexpected name.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "source"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(root / name, source / name)
        shutil.copytree(root / "lottolib", source / "lottolib", ignore=shutil.ignore_patterns("__pycache__"))
        built = Path(work) / "wheel"
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                   "--no-index", "--wheel-dir", str(built), str(source)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"building the lottolib wheel failed:\n{done.stdout}\n{done.stderr}")
        (wheel,) = built.glob("*.whl")
        if wheel.name != wheel_name(root):
            raise RuntimeError(f"pip built {wheel.name}, expected {wheel_name(root)}")
        target = out / wheel.name
        shutil.copyfile(wheel, target)
    return target


if __name__ == "__main__":
    print(build_wheel(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "wheel"))
