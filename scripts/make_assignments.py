"""Generate the student and autograder versions of every assignment from its solution version.

Usage: python scripts/make_assignments.py [assignments/source/NAME.md ...] [--out DIR]
   or: make assignments

Each source ``assignments/source/NAME.md`` is the *solution* version, written in Otter-Grader's
notebook format (MyST Markdown, read with jupytext). Otter Assign turns it into

    DIR/NAME/student/                 what to hand out, as a whole folder:
        NAME.ipynb                    solutions replaced by ``...``, hidden tests removed
        tests/                        the public tests, for ``grader.check("q1")``
        answer_checks.py              used by the tests (clear messages; lottolib switched off)
        lottolib-VERSION-py3-none-any.whl, requirements.txt   ``pip install -r requirements.txt``: JupyterLab,
                                      lottolib and what the notebook imports (about INSTALL_MINUTES minutes)
    DIR/NAME/autograder/NAME.ipynb    the solution notebook
    DIR/NAME/autograder/NAME-autograder.zip   every test, for ``otter run`` (or Gradescope)

The autograder zip is self-contained: its ``environment.yml`` lists exactly what grading needs
(otter-grader, ipykernel, torch==2.13.0 and lottolib's other dependencies, pinned as in
requirements.txt, and ``./files/lottolib-VERSION-py3-none-any.whl``, the wheel inside the zip), so
Otter's Docker grading or Gradescope builds the environment from the zip alone.

Every hidden test carries, in its TEST CONFIG, a ``failure_message``: what the student should check
when it fails, in words that show neither the test's code nor its numbers (``make grade`` hands it
back; the test itself stays hidden). The script refuses a source whose hidden test has none.

Otter Assign grades the solution notebook with every test, public and hidden (``run_tests: true``),
and the script stops if one fails. DIR defaults to ``assignments/dist``, which is generated and never
committed: the student version is never kept by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
import yaml
from otter.api import grade_submission
from otter.assign import main as otter_assign
from otter.test_files import GradingResults

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_wheel import build_wheel, pinned

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "assignments" / "source"
SUPPORT = SOURCES / "answer_checks.py"
# Grading needs Otter and a kernel; the notebooks need lottolib, whose dependencies are pinned as tested.
GRADING = ("otter-grader", "ipykernel", "jupyter_client")
LIBRARY = ("torch", "numpy", "matplotlib", "scikit-learn", "ipywidgets")
# Students open the notebook in JupyterLab; the notebooks hold plain Markdown and LaTeX, which Lab renders itself.
STUDENT = ("jupyterlab",)
# `pip install -r requirements.txt` in a fresh virtual environment, measured (see teaching.md); the notebooks,
# README.md and teaching.md state the same figure.
INSTALL_MINUTES = 3
# Keys of the ASSIGNMENT CONFIG that this script sets; a source must not set them itself.
OWNED = ("files", "requirements", "overwrite_requirements", "python_version")


def requirements(wheel: str) -> list[str]:
    """The packages grading an assignment needs, with the wheel at the path ``wheel``."""
    return [*pinned(GRADING), *pinned(LIBRARY), wheel]


def student_requirements(wheel: str, notebook: str) -> str:
    """The student folder's requirements.txt: what grading needs and JupyterLab, with the wheel at ``wheel``.

    torch is pinned to the version alone, so pip takes a CPU build where it finds one; nothing here
    names a GPU package or another index.
    """
    return (f"# pip install -r requirements.txt   (in this folder; about {INSTALL_MINUTES} minutes, 400 MB of downloads):\n"
            "# JupyterLab, lottolib from the wheel here and what the notebook and its tests import.\n"
            f"# Then: jupyter lab {notebook}\n"
            "# On Linux, PyPI's torch brings gigabytes of GPU libraries that the assignments do not use; for the\n"
            "# small CPU build, first: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu\n"
            + "\n".join([*requirements(wheel), *pinned(STUDENT)]) + "\n")


def check_hidden_tests(notebook: nbformat.NotebookNode) -> None:
    """Every hidden test needs a ``failure_message`` that a student may read: one line, no quote, no number.

    The message goes back to the student when the test fails (``make grade``); a number could be one of
    the test's values, and Otter writes the message into the test file between double quotes.

    Raises
    ------
    ValueError
        Naming the test, if a hidden test has no such message or one that breaks these rules.
    """
    for cell in notebook.cells:
        match = re.match(r'""" # BEGIN TEST CONFIG\n(.*?)""" # END TEST CONFIG\ndef (\w+)', cell.source, flags=re.S)
        if cell.cell_type != "code" or not match:
            continue
        config, test = yaml.safe_load(match[1]), match[2]
        if not config.get("hidden"):
            continue
        message = config.get("failure_message")
        if not isinstance(message, str) or not message.strip():
            raise ValueError(f"{test}: a hidden test needs a `failure_message`: what to check, "
                             "without the test's code or values")
        if re.search(r'["\\\n]|(?<![\w.])\d', message):
            raise ValueError(f"{test}: the failure_message must be one line without quotes, backslashes or numbers: "
                             f"{message!r}")


def configure(notebook: nbformat.NotebookNode, wheel: str) -> None:
    """Make the autograder self-contained: ship the wheel and the test helpers, and declare the environment.

    Edits the notebook's first cell, Otter's ``# ASSIGNMENT CONFIG`` (YAML), in place.

    Raises
    ------
    ValueError
        If the first cell is not the assignment config, or the source sets a key this script owns.
    """
    cell = notebook.cells[0]
    if cell.cell_type != "raw" or not cell.source.startswith("# ASSIGNMENT CONFIG"):
        raise ValueError("the first cell of an assignment source must be its '# ASSIGNMENT CONFIG' raw cell")
    config = yaml.safe_load(cell.source)
    if config.get("run_tests") is not True:
        raise ValueError(f"{config.get('name')}: keep `run_tests: true`: it is what checks the solution against every test")
    clash = [key for key in OWNED if key in config]
    if clash:
        raise ValueError(f"{config.get('name')}: remove {clash} from the ASSIGNMENT CONFIG; "
                         "scripts/make_assignments.py sets them")
    config.update(
        files=[wheel, SUPPORT.name],
        requirements=requirements(f"./files/{wheel}"),  # the zip's files/ folder, where Otter puts `files`
        overwrite_requirements=True,  # Otter's default list adds packages grading does not need
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    cell.source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def build(source: Path, out: Path, wheel: Path | None = None) -> Path:
    """Run Otter Assign on one solution source; return the assignment's output folder.

    ``wheel`` is the lottolib wheel to ship; it is built when not given.
    """
    result = out / source.stem
    shutil.rmtree(result, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        wheel = build_wheel(work) if wheel is None else Path(shutil.copy(wheel, work))
        shutil.copy(SUPPORT, work / SUPPORT.name)
        notebook = jupytext.read(source)
        check_hidden_tests(notebook)
        configure(notebook, wheel.name)
        master = work / f"{source.stem}.ipynb"
        nbformat.write(notebook, master)
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            otter_assign(str(master), str(result), no_pdfs=True)
    # Otter stamps the zip with the current time; one stable name is easier to grade with.
    (zipped,) = (result / "autograder").glob("*-autograder_*.zip")
    zipped.rename(autograder_zip(result))
    (result / "student" / "requirements.txt").write_text(student_requirements(f"./{wheel.name}", f"{source.stem}.ipynb"))
    return result


def autograder_zip(result: Path) -> Path:
    """The autograder zip of the assignment built in ``result`` (by :func:`build`)."""
    return result / "autograder" / f"{result.name}-autograder.zip"


def grade_results(notebook: Path, autograder: Path) -> GradingResults:
    """Grade one notebook with every test in ``autograder`` and return Otter's results (with each test's message).

    Otter executes the notebook in a fresh kernel and runs the public and hidden tests of each
    question against the resulting variables.

    Raises
    ------
    RuntimeError
        If grading failed before any test ran (e.g. the notebook is not one of this assignment).
    """
    with contextlib.redirect_stdout(io.StringIO()):
        results = grade_submission(str(notebook), str(autograder), quiet=True)
    if results.catastrophic_error is not None or not results.results:
        raise RuntimeError(f"grading {notebook} failed before any test ran: {results.catastrophic_error}")
    return results


def grade(notebook: Path, autograder: Path) -> dict[str, tuple[float, float]]:
    """Grade one notebook with every test in ``autograder``: {question: (score, possible)}."""
    results = grade_results(notebook, autograder)
    return {name: (result.score, result.possible) for name, result in results.results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "assignments" / "dist")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        wheel = build_wheel(Path(work))
        for source in arguments.sources or sorted(SOURCES.glob("*.md")):
            result = build(source.resolve(), arguments.out.resolve(), wheel)
            print(f"{source.name}: hand out the folder {result / 'student'}; the solution passes every test", flush=True)


if __name__ == "__main__":
    main()
