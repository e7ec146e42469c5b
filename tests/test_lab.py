"""`make lab` opens a git-ignored working copy, so JupyterLab's autosave cannot damage the repository.

No JupyterLab server is started: the preparation step (scripts/prepare_lab.py) is run and checked,
and `make -n lab` shows the command make would run. The copies of the chapters read in JupyterLab:
jupyterlab-myst is installed in the environment make lab uses, and no glued number or reference is
left as raw MyST (the references come from the built book, which make test builds first). A copy
that JupyterLab only opened and saved (it rewrites the metadata, see ``_as_jupyterlab_saves``) is
still refreshed when the book changes; a copy whose cells were edited is kept.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from prepare_lab import LAB, MANIFEST, originals, prepare  # noqa: E402
from readable_notebook import ROLE, glue_texts  # noqa: E402

BUILT = (ROOT / "_build" / "lab-references.json").is_file()
needs_book = pytest.mark.skipif(not BUILT, reason="no built book (make book writes _build/lab-references.json)")

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
@needs_book
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


def _chapter(text: str, output: str = "1") -> nbformat.NotebookNode:
    """A chapter as the repository stores it: jupytext's metadata, the kernel, a glued number."""
    notebook = nbformat.v4.new_notebook(metadata={
        "jupytext": {"default_lexer": "ipython3", "text_representation": {"extension": ".md", "format_name": "myst"}},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    glued = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": output},
                                   metadata={"scrapbook": {"name": "k", "mime_prefix": "application/papermill.record/"}})
    notebook.cells = [nbformat.v4.new_markdown_cell(f"# {text}\n\nWe need {{glue:text}}`k` units."),
                      nbformat.v4.new_code_cell("glue('k', 1, display=False)", outputs=[glued], execution_count=1)]
    return notebook


def _write(path: Path, notebook: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def _as_jupyterlab_saves(path: Path) -> None:
    """Save the notebook as JupyterLab 4.6 (with jupytext 1.19) does after a reader opened it and ran it.

    Checked by opening ``lab/chapters/02_one_neuron.ipynb`` in JupyterLab and saving it: the kernel
    it started renamed the kernelspec and jupytext dropped its text representation, nothing else
    (the copies are now written that way, so opening one no longer marks it modified). Running the
    cells renumbers them and records the kernel's Python; none of this is an edit.
    """
    notebook = json.loads(path.read_text())
    notebook["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    notebook["metadata"].get("jupytext", {}).pop("text_representation", None)
    notebook["metadata"]["language_info"] = {"name": "python", "version": "3.11.9"}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["execution_count"] = (cell["execution_count"] or 0) + 7
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def test_an_unchanged_copy_follows_its_original_and_a_changed_one_is_kept(tmp_path):
    root = tmp_path / "repository"
    for name in ("a", "b", "c", "e"):
        _write(root / "chapters" / f"{name}.ipynb", _chapter(name))
    lab = tmp_path / "lab"
    assert sorted(prepare(lab, root=root, references={}).copied) == [f"chapters/{n}.ipynb" for n in "abce"]
    assert "We need 1 units." in nbformat.read(lab / "chapters" / "b.ipynb", as_version=4).cells[0].source
    mine = nbformat.read(lab / "chapters" / "a.ipynb", as_version=4)
    mine.cells[0].source += "\nmy notes"                      # the reader's work
    _write(lab / "chapters" / "a.ipynb", mine)
    _as_jupyterlab_saves(lab / "chapters" / "b.ipynb")          # opened and saved, not edited
    _as_jupyterlab_saves(lab / "chapters" / "e.ipynb")
    _write(root / "chapters" / "a.ipynb", _chapter("a", "2"))  # the book changes
    _write(root / "chapters" / "b.ipynb", _chapter("b", "2"))
    (root / "chapters" / "c.ipynb").unlink()                  # a chapter renamed away
    _write(root / "chapters" / "d.ipynb", _chapter("d"))
    report = prepare(lab, root=root, references={})
    assert (report.kept, report.refreshed, report.removed, report.copied) == (
        ["chapters/a.ipynb"], ["chapters/b.ipynb"], ["chapters/c.ipynb"], ["chapters/d.ipynb"])
    assert "my notes" in (lab / "chapters" / "a.ipynb").read_text()
    assert "We need 2 units." in nbformat.read(lab / "chapters" / "b.ipynb", as_version=4).cells[0].source
    assert "3.11.9" in (lab / "chapters" / "e.ipynb").read_text(), "a copy with nothing new is not rewritten"
    fresh = prepare(lab, root=root, references={}, fresh=True)
    assert fresh.refreshed == ["chapters/a.ipynb", "chapters/e.ipynb"]
    assert "my notes" not in (lab / "chapters" / "a.ipynb").read_text()


def test_a_copy_from_an_older_make_lab_is_recognised(tmp_path):
    """lab/.copies.json of an earlier make lab holds the digest of the bytes copied: still unchanged, so refreshed."""
    root = tmp_path / "repository"
    _write(root / "chapters" / "a.ipynb", _chapter("a"))
    lab = tmp_path / "lab"
    prepare(lab, root=root, references={})
    copy = lab / "chapters" / "a.ipynb"
    (lab / MANIFEST).write_text(json.dumps({"chapters/a.ipynb": hashlib.sha256(copy.read_bytes()).hexdigest()}))
    _write(root / "chapters" / "a.ipynb", _chapter("a", "3"))
    assert prepare(lab, root=root, references={}).refreshed == ["chapters/a.ipynb"]


def test_jupyterlab_myst_is_in_the_environment_make_lab_uses():
    """make lab runs .venv's jupyter; requirements.txt (make setup) pins jupyterlab-myst, and its extension is there."""
    assert re.search(r"^jupyterlab-myst==\S+$", (ROOT / "requirements.txt").read_text(), flags=re.M)
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), "lab"], capture_output=True, text=True, check=True).stdout
    assert ".venv/bin/jupyter lab" in plan
    venv = ROOT / ".venv"
    assert Path(sys.prefix).resolve() == venv.resolve(), "the tests run in the environment make lab uses"
    assert importlib.metadata.version("jupyterlab-myst")
    assert (venv / "share" / "jupyter" / "labextensions" / "jupyterlab-myst" / "package.json").is_file()


@needs_book
def test_the_lab_copies_of_the_chapters_have_no_raw_myst_roles(tmp_path):
    """Glued numbers and references are written out, with the stored values and the book's texts."""
    lab = tmp_path / "lab"
    prepare(lab, dist=tmp_path / "no-assignments")
    chapters = sorted((ROOT / "chapters").glob("*.ipynb"))
    assert chapters
    for original in chapters:
        copy = nbformat.read(lab / "chapters" / original.name, as_version=4)
        stored = nbformat.read(original, as_version=4)
        glued = glue_texts(stored)
        for before, after in zip(stored.cells, copy.cells, strict=True):
            if before.cell_type != "markdown":
                assert after.source == before.source, "code cells are copied as they are"
                continue
            left = [m.group() for m in ROLE.finditer(after.source)]
            assert not left, f"{original.name}: raw MyST roles in the JupyterLab copy: {left[:5]}"
            for key in re.findall(r"\{glue:text\}`([^`:]+)`", before.source):
                assert glued[key] in after.source or glued[key].strip("'") in after.source, (original.name, key)
        assert copy.cells[0].source.startswith("---\nnumbering:"), "the book's numbering, for jupyterlab-myst"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_lab_opens_the_working_copy_with_extra_flags():
    flags = "--no-browser --allow-root --ip=127.0.0.1"
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), "lab", f"LAB_ARGS={flags}", "FRESH=1"],
                          capture_output=True, text=True, check=True).stdout
    commands = [line for line in plan.splitlines() if "prepare_lab.py" in line or "jupyter lab" in line]
    assert len(commands) == 2 and "prepare_lab.py --dest lab --fresh" in commands[0], plan
    assert commands[1].endswith(f"jupyter lab --ServerApp.root_dir=lab {flags}"), commands[1]
    assert "chromium" not in plan and "sudo" not in plan, "opening notebooks must not install a browser"
