"""A fresh virtual environment, as a reader, a student or a grading server starts from.

Used by the install tests (tests/test_downloads.py, tests/test_grading.py): no system site-packages and
nothing from this repository, so every package comes from what the reader or the zip declares. pip
resolves from the package registry, with the repository's requirements.txt as constraints (the tested
versions; the machine's cache is reused).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# pip prints one such line per package when an index configured on the machine is absent: noise that
# would push pip's own error out of the failure message.
MISSING_INDEX = re.compile(r"^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$")


def create(where: Path) -> Path:
    """A new environment at ``where``, with pip; returns its Python."""
    venv.create(where, with_pip=True, system_site_packages=False)
    return where / "bin" / "python"


def pip_install(python: Path, *arguments: str, cwd: Path) -> None:
    """``pip install *arguments`` into the environment of ``python``, run in ``cwd``.

    Raises AssertionError if pip fails, with pip's own messages (without the missing-index warnings)
    and the free space on the disk it installs to: an environment with torch takes about 2 GB.
    """
    command = [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
               "-c", str(ROOT / "requirements.txt"), *arguments]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = [line for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and not MISSING_INDEX.match(line)]
        free = shutil.disk_usage(python.parent).free / 2**30
        raise AssertionError(f"pip install {' '.join(arguments)} failed (exit {done.returncode}; "
                             f"{free:.1f} GiB free where it installs):\n" + "\n".join(said[-40:]))
