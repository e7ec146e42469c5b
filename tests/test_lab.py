"""`make lab` opens a git-ignored working copy, so JupyterLab's autosave cannot damage the repository.

No JupyterLab server is started: the preparation step (scripts/prepare_lab.py) is run and checked,
and `make -n lab` shows the command make would run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from prepare_lab import LAB, MANIFEST, originals, prepare  # noqa: E402

needs_git = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git clone")


def _git(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=False)


def _tracked_state() -> tuple[str, dict[str, str]]:
    """`git status` and the SHA-256 of every tracked file as it is on disk."""
    status = _git("status", "--porcelain", "--untracked-files=all").stdout
    files = _git("ls-files", "-z").stdout.split("\0")
    return status, {name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest()
                    for name in files if name and (ROOT / name).is_file()}


@pytest.fixture
def fake_dist(tmp_path) -> Path:
    """A generated assignment's student folder, as make assignments writes it."""
    student = tmp_path / "dist" / "01_example" / "student"
    (student / "tests").mkdir(parents=True)
    (student / "01_example.ipynb").write_text('{"cells": []}')
    (student / "tests" / "q1.py").write_text("name = 'q1'\n")
    (student / ".ipynb_checkpoints").mkdir()
    (student / ".ipynb_checkpoints" / "01_example-checkpoint.ipynb").write_text("{}")
    return tmp_path / "dist"


@needs_git
def test_the_working_copy_is_git_ignored():
    assert LAB == ROOT / "lab"
    for path in ("lab/chapters/00_lottery_tickets.ipynb", "lab/assignments/01_pair_selection/01_pair_selection.ipynb",
                 f"lab/{MANIFEST}"):
        assert _git("check-ignore", "-q", path).returncode == 0, f"{path} is not ignored by git"
    assert not _git("ls-files", "lab").stdout, "files under lab/ are tracked"


@needs_git
def test_preparing_the_copy_leaves_every_tracked_file_alone(tmp_path, fake_dist):
    before = _tracked_state()
    lab = tmp_path / "lab"
    report = prepare(lab, dist=fake_dist)
    assert "assignments/01_example/tests/q1.py" in report.copied
    assert not any(".ipynb_checkpoints" in path for path in report.copied)
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    assert chapters and {f"chapters/{path.name}" for path in chapters} <= set(report.copied)
    for data in (ROOT / "bench").glob("*.json"):  # chapters read ../bench/NAME.json
        assert (lab / "bench" / data.name).is_file(), data.name
    for relative, original in originals(ROOT, fake_dist).items():
        copy = lab / relative
        assert not copy.is_symlink() and copy.stat().st_nlink == 1 and not os.path.samefile(copy, original)
    # JupyterLab saving a half-run notebook over the copy
    (lab / "chapters" / chapters[0].name).write_text('{"cells": [], "saved": "half-run"}')
    again = prepare(lab, dist=fake_dist)
    assert again.kept == [f"chapters/{chapters[0].name}"] and not again.copied and not again.refreshed
    assert _tracked_state() == before, "preparing or saving the working copy changed the repository"


def test_an_unchanged_copy_follows_its_original_and_a_changed_one_is_kept(tmp_path):
    root = tmp_path / "repository"
    (root / "chapters").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (root / "chapters" / f"{name}.ipynb").write_text(f"{name} 1")
    lab = tmp_path / "lab"
    assert sorted(prepare(lab, root=root).copied) == ["chapters/a.ipynb", "chapters/b.ipynb", "chapters/c.ipynb"]
    (lab / "chapters" / "a.ipynb").write_text("my notes")   # the reader's work
    (root / "chapters" / "a.ipynb").write_text("a 2")       # the book changes
    (root / "chapters" / "b.ipynb").write_text("b 2")
    (root / "chapters" / "c.ipynb").unlink()                # a chapter renamed away
    (root / "chapters" / "d.ipynb").write_text("d 1")
    report = prepare(lab, root=root)
    assert (report.kept, report.refreshed, report.removed, report.copied) == (
        ["chapters/a.ipynb"], ["chapters/b.ipynb"], ["chapters/c.ipynb"], ["chapters/d.ipynb"])
    assert (lab / "chapters" / "a.ipynb").read_text() == "my notes"
    assert (lab / "chapters" / "b.ipynb").read_text() == "b 2"
    fresh = prepare(lab, root=root, fresh=True)
    assert fresh.refreshed == ["chapters/a.ipynb"] and (lab / "chapters" / "a.ipynb").read_text() == "a 2"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_lab_opens_the_working_copy_with_extra_flags():
    flags = "--no-browser --allow-root --ip=127.0.0.1"
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), "lab", f"LAB_ARGS={flags}", "FRESH=1"],
                          capture_output=True, text=True, check=True).stdout
    commands = [line for line in plan.splitlines() if "prepare_lab.py" in line or "jupyter lab" in line]
    assert len(commands) == 2 and "prepare_lab.py --dest lab --fresh" in commands[0], plan
    assert commands[1].endswith(f"jupyter lab --ServerApp.root_dir=lab {flags}"), commands[1]
    assert "chromium" not in plan and "sudo" not in plan, "opening notebooks must not install a browser"
