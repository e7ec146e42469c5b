"""Generate the student and autograder versions of every assignment from its solution version.

Usage: python scripts/make_assignments.py [assignments/source/NAME.md ...] [--out DIR]
   or: make assignments

Each source ``assignments/source/NAME.md`` is the *solution* version, written in Otter-Grader's
notebook format (MyST Markdown, read with jupytext). Otter Assign turns it into

    DIR/NAME/student/NAME.ipynb       solutions replaced by ``...``, hidden tests removed
    DIR/NAME/student/tests/           the public tests, for ``grader.check("q1")``
    DIR/NAME/autograder/NAME.ipynb    the solution notebook
    DIR/NAME/autograder/NAME-autograder.zip   every test, for ``otter run`` (or Gradescope)

and then grades the solution notebook with every test, public and hidden; it stops if the solution
does not get full marks. DIR defaults to
``assignments/dist``, which is generated and never committed: the student version is never kept
by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import tempfile
from pathlib import Path

import jupytext
import nbformat
from otter.api import grade_submission
from otter.assign import main as otter_assign

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "assignments" / "source"


def build(source: Path, out: Path) -> Path:
    """Run Otter Assign on one solution source; return the assignment's output folder."""
    result = out / source.stem
    shutil.rmtree(result, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        master = Path(work) / f"{source.stem}.ipynb"
        nbformat.write(jupytext.read(source), master)
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            otter_assign(str(master), str(result), no_pdfs=True)
    # Otter stamps the zip with the current time; one stable name is easier to grade with.
    (zipped,) = (result / "autograder").glob("*-autograder_*.zip")
    zipped.rename(autograder_zip(result))
    return result


def check_solution(result: Path) -> dict[str, tuple[float, float]]:
    """Grade the solution notebook of a built assignment; raise unless it gets full marks."""
    scores = grade(result / "autograder" / f"{result.name}.ipynb", autograder_zip(result))
    if any(score < possible for score, possible in scores.values()):
        raise RuntimeError(f"{result.name}: the solution does not pass its own tests: {scores}")
    return scores


def autograder_zip(result: Path) -> Path:
    """The autograder zip of the assignment built in ``result`` (by :func:`build`)."""
    return result / "autograder" / f"{result.name}-autograder.zip"


def grade(notebook: Path, autograder: Path) -> dict[str, tuple[float, float]]:
    """Grade one notebook with every test in ``autograder``: {question: (score, possible)}.

    Otter executes the notebook in a fresh kernel and runs the public and hidden tests of each
    question against the resulting variables.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        results = grade_submission(str(notebook), str(autograder), quiet=True)
    if results.catastrophic_error is not None or not results.results:
        raise RuntimeError(f"grading {notebook} failed before any test ran: {results.catastrophic_error}")
    return {name: (result.score, result.possible) for name, result in results.results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "assignments" / "dist")
    arguments = parser.parse_args()
    for source in arguments.sources or sorted(SOURCES.glob("*.md")):
        result = build(source.resolve(), arguments.out.resolve())
        check_solution(result)
        print(f"{source.name}: student version in {result / 'student'}, solution passes every test", flush=True)


if __name__ == "__main__":
    main()
