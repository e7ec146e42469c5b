"""Grade a folder of submissions with an assignment's autograder: one CSV, and feedback safe to hand back.

Usage: python scripts/grade.py NAME SUBMISSIONS [--out DIR]
   or: make grade ASSIGNMENT=NAME SUBMISSIONS=DIR [OUT=DIR]

SUBMISSIONS holds one notebook per student, as ``SUBMISSIONS/STUDENT.ipynb`` or as
``SUBMISSIONS/STUDENT/ANY_NAME.ipynb`` (one notebook per folder, as learning platforms export them).
Each is graded offline by Otter (what ``otter run`` does) with the autograder zip of the assignment
(``assignments/dist/NAME/autograder/NAME-autograder.zip``, from ``make assignments``): Otter runs the
notebook from top to bottom in a fresh kernel of this environment, then its public and hidden tests.

Writes into DIR (default ``grades/NAME``, git-ignored):

    grades.csv                    student, question, points, possible: one row per student and question
    feedback/STUDENT.txt          safe to hand back: per question the points of the public and of the
                                  hidden tests, for each failed hidden test its reason (the
                                  ``failure_message`` written with the test in the assignment source,
                                  and whether the answer called lottolib, was not set, was wrong or
                                  raised), every error a cell of the notebook raised, and the public
                                  tests' output
    otter/README.txt              says that the folder holds the HIDDEN tests and is not to be handed back
    otter/STUDENT/results-HIDDEN-TESTS.json   Otter's full results: they quote the hidden tests' source
                                  lines and failures
    otter/STUDENT/otter.log       Otter's output
    otter/STUDENT/graded.json     what feedback/STUDENT.txt is written from

A hidden test's own output never reaches the feedback: a student's code can put anything into an
exception, so of a failed hidden test the feedback shows its written reason and the kind of failure
only (the name of the exception when it is one of Python's own).

About Otter's "No log found with which to verify student scores": Otter can compare its scores with
the log that ``grader.check`` keeps in the student's folder (``.OTTER_LOG``), which only arrives if
students submit the zip of ``grader.export``. A bare notebook has no log; the scores come from running
the notebook here, so the message means nothing is wrong. It stays in otter.log and is not printed.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "assignments" / "dist"
RESULTS = "results-HIDDEN-TESTS.json"
RECORD = "graded.json"
WARNING = ("otter/ holds the HIDDEN tests: its results-HIDDEN-TESTS.json files quote the hidden tests' source lines "
           "and failures. Keep it for yourself, never hand it back; hand back feedback/STUDENT.txt")
README = f"""HIDDEN TESTS: do not hand back anything in this folder.

Each STUDENT/ folder holds what Otter recorded while grading that student's notebook:
{RESULTS} (Otter's results.json) quotes the hidden tests' source lines and failures, otter.log
is Otter's output, and {RECORD} is what `make grade` wrote the feedback from.

What you hand back is ../feedback/STUDENT.txt: the points, the reason for each failed hidden test (as
written in the assignment source, without the test), the errors the notebook raised, and the public
tests' output.
"""
# What a failed hidden test may say about its failure: the exception's kind, never its message.
LIBRARY = "your code called lottolib, which the grader switches off for this question"
NOT_SET = "answer not set"
WRONG = "wrong result"


@dataclass(frozen=True)
class HiddenTest:
    """One hidden test of a question as the student may see it: its points, and if it failed, why."""

    question: str
    points: float
    passed: bool
    failure: str  # LIBRARY, NOT_SET, WRONG or "failed with NAME"
    reason: str  # the test's failure_message from the assignment source


@dataclass(frozen=True)
class CellError:
    """An exception a cell of the student's notebook raised while Otter ran it (``question`` None: before question 1)."""

    question: str | None
    cell: str  # the cell's first line
    error: str  # "TypeError: message", one line


@dataclass(frozen=True)
class Graded:
    """One student's result: {question: (points, possible)}, the public tests' output, and why points were lost."""

    student: str
    scores: dict[str, tuple[float, float]]
    public_output: str
    hidden: tuple[HiddenTest, ...] = ()
    cell_errors: tuple[CellError, ...] = ()
    failure: str | None = None


def submissions(folder: Path) -> dict[str, Path]:
    """{student: notebook}: ``folder/STUDENT.ipynb`` or ``folder/STUDENT/*.ipynb`` (exactly one per folder).

    Raises
    ------
    ValueError
        If a student folder holds more than one notebook, a student appears twice, or there is none.
    """
    found: dict[str, Path] = {}

    def add(student: str, notebook: Path) -> None:
        if student in found:
            raise ValueError(f"two submissions for {student}: {found[student]} and {notebook}")
        found[student] = notebook

    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".ipynb":
            add(path.stem, path)
        elif path.is_dir():
            notebooks = [p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
            if len(notebooks) > 1:
                raise ValueError(f"{path} holds {len(notebooks)} notebooks; keep the one to grade: {notebooks}")
            if notebooks:
                add(path.name, notebooks[0])
    if not found:
        raise ValueError(f"no notebooks in {folder} (expected STUDENT.ipynb or STUDENT/NAME.ipynb)")
    return found


def questions(autograder: Path) -> dict[str, float]:
    """{question: points}, read from the test files in the autograder zip (``name = "q1"``, ``points = 4``)."""
    points = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                values = {node.targets[0].id: node.value.value for node in ast.parse(archive.read(name)).body
                          if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                          and isinstance(node.value, ast.Constant)}
                points[str(values["name"])] = float(values["points"])
    return points


def failure_kind(message: str) -> str:
    """What a failed hidden test may tell the student, from Otter's message for it (the exception's last lines).

    Otter writes ``Error at line N in test qK:``, the test's line, then ``TYPE: MESSAGE``. Only TYPE
    is read, and shown only if it is one of Python's own exceptions; of an AssertionError, only
    whether answer_checks found the answer unset.
    """
    lines = message.strip().splitlines()
    match = re.match(r"([A-Za-z_]\w*): ?(.*)", lines[3]) if len(lines) > 3 else None
    if not match:
        return "failed"
    kind, text = match[1], match[2]
    if kind == "LibraryCalled":
        return LIBRARY
    if kind == "AssertionError":
        return NOT_SET if re.match(r"q\d+: answer not set", text) else WRONG
    builtin = getattr(builtins, kind, None)
    own = isinstance(builtin, type) and issubclass(builtin, BaseException)
    return f"failed with {kind if own else 'an exception'}"


def cell_errors(notebook: Any) -> list[CellError]:
    """The errors the executed notebook's code cells raised, each with the question whose cells it lies in."""
    found, question = [], None
    for cell in notebook.cells:
        heading = re.match(r"\*\*Question (\d+)\*\*", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            question = f"q{heading[1]}"
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                evalue = (str(output.get("evalue", "")).splitlines() or [""])[0]
                found.append(CellError(question, first[:80], f"{output.get('ename', 'Error')}: {evalue}"[:240]))
    return found


def record(autograder: str, notebook: str, folder: str) -> None:
    """Grade one notebook with Otter and write into ``folder`` its results and what the feedback is written from.

    Run by :func:`grade_one` in a separate process, so that Otter's kernel and output stay out of this one.
    """
    from otter.run import main as otter_run

    results = otter_run(notebook, autograder=autograder, output_dir=folder, no_logo=True)
    Path(folder, "results.json").rename(Path(folder, RESULTS))
    if results.catastrophic_error is not None or not results.results:
        raise RuntimeError(f"Otter could not grade the notebook: {results.catastrophic_error}")
    hidden = [{"question": question, "points": float(case.test_case.points), "passed": bool(case.passed),
               "failure": "" if case.passed else failure_kind(case.message or ""),
               "reason": case.test_case.failure_message or ""}
              for question, result in results.results.items()
              for case in result.test_case_results if case.test_case.hidden]
    Path(folder, RECORD).write_text(json.dumps({
        "scores": {question: [float(result.score), float(result.possible)] for question, result in results.results.items()},
        "public_output": results.summary(public_only=True),
        "hidden": hidden,
        "cell_errors": [vars(error) for error in cell_errors(results.notebook)],
    }, indent=1))


def grade_one(assignment: str, student: str, notebook: Path, autograder: Path, out: Path,
              possible: dict[str, float]) -> Graded:
    """Grade one notebook (:func:`record`, in a separate process); keep Otter's results under ``out/otter/STUDENT``.

    The notebook is graded under the assignment's file name (``NAME.ipynb``, as handed out), whatever a
    learning platform renamed it to: Otter's first cell opens the notebook by that name.
    """
    folder = out / "otter" / student
    folder.mkdir(parents=True, exist_ok=True)
    for name in (RESULTS, RECORD):
        (folder / name).unlink(missing_ok=True)
    run = "import sys; sys.path.insert(0, sys.argv[1]); import grade; grade.record(*sys.argv[2:])"
    with tempfile.TemporaryDirectory() as work:
        named = Path(shutil.copyfile(notebook, Path(work) / f"{assignment}.ipynb"))
        command = [sys.executable, "-c", run, str(Path(__file__).resolve().parent), str(autograder), str(named), str(folder)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    (folder / "otter.log").write_text(done.stdout + done.stderr)
    zero = {question: (0.0, points) for question, points in possible.items()}
    if not (folder / RECORD).is_file():
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        return Graded(student, zero, "", failure=f"Otter could not grade it (exit {done.returncode}): {last}")
    graded = json.loads((folder / RECORD).read_text())
    scores = dict(zero)
    scores.update({question: (score, most) for question, (score, most) in graded["scores"].items() if question in possible})
    return Graded(student, scores, graded["public_output"],
                  tuple(HiddenTest(**test) for test in graded["hidden"]),
                  tuple(CellError(**error) for error in graded["cell_errors"]))


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _wrapped(text: str, indent: str, hang: str = "  ") -> list[str]:
    """``text`` as lines of at most 76 characters (they fit a printed page and the book's column), the first indented
    by ``indent``, the others ``hang`` further."""
    return textwrap.wrap(text, 76, initial_indent=indent, subsequent_indent=indent + hang, break_on_hyphens=False)


def feedback(assignment: str, graded: Graded) -> str:
    """What a student may see: per question the public and hidden points, why hidden points were lost,
    the errors the notebook raised, and the public tests' output (never a hidden test's code, values or output)."""
    total = sum(points for points, _ in graded.scores.values())
    possible = sum(possible for _, possible in graded.scores.values())
    lines = [f"{assignment}, {graded.student}: {total:g} / {possible:g} points"]
    if graded.failure:
        lines += ["", f"The notebook could not be graded: {graded.failure}",
                  "Check that it runs from top to bottom (Kernel > Restart Kernel and Run All Cells)."]
    setup = [error for error in graded.cell_errors if error.question is None]
    if setup:
        lines += ["", "A cell before Question 1 raised an error, so every question may miss what it defines:"]
        for error in setup:
            lines += _wrapped(f"{error.error}   (in the cell starting: {error.cell})", "  ")
    for question, (points, most) in graded.scores.items():
        hidden = [test for test in graded.hidden if test.question == question]
        hidden_points = sum(test.points for test in hidden if test.passed)
        hidden_most = sum(test.points for test in hidden)
        lines += ["", f"{question}: {points:g} / {most:g} points (public tests {points - hidden_points:g} / "
                      f"{most - hidden_most:g}, hidden tests {hidden_points:g} / {hidden_most:g})"]
        for error in (error for error in graded.cell_errors if error.question == question):
            lines += _wrapped(f"Your cell raised {error.error}   (in the cell starting: {error.cell}); the tests saw "
                              "only what it had defined before. Fix it so the notebook runs to the end.", "  ")
        failed = [test for test in hidden if not test.passed]
        if failed:
            lines.append(f"  The hidden tests took {_points(hidden_most - hidden_points)}:")
            for test in failed:
                lines += _wrapped(f"- {_points(test.points)}: {test.failure} — {test.reason}", "  ")
    lines.append("")
    lines += _wrapped("Hidden tests check your answers on other inputs than the public tests, and run your functions "
                      "with lottolib switched off; the reasons above say what to check without showing the tests.", "", "")
    lines += ["", "Public tests (what grader.check runs in your notebook):", "",
              graded.public_output or "(no public test output)"]
    return "\n".join(lines) + "\n"


def grade_folder(assignment: str, folder: Path, out: Path, autograder: Path | None = None) -> list[Graded]:
    """Grade every submission in ``folder``; write grades.csv, feedback/ and otter/ into ``out``."""
    autograder = autograder or DIST / assignment / "autograder" / f"{assignment}-autograder.zip"
    if not autograder.is_file():
        raise FileNotFoundError(f"no autograder zip {autograder}: run `make assignments` first")
    possible = questions(autograder)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "otter").mkdir(parents=True, exist_ok=True)
    (out / "otter" / "README.txt").write_text(README)
    graded = []
    for student, notebook in submissions(folder).items():
        result = grade_one(assignment, student, notebook, autograder, out, possible)
        (out / "feedback" / f"{student}.txt").write_text(feedback(assignment, result))
        total = sum(points for points, _ in result.scores.values())
        print(f"{student}: {total:g} / {sum(possible.values()):g}" + (f"  ({result.failure})" if result.failure else ""),
              flush=True)
        graded.append(result)
    with (out / "grades.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "question", "points", "possible"])
        for result in graded:
            for question, (points, most) in result.scores.items():
                writer.writerow([result.student, question, f"{points:g}", f"{most:g}"])
    return graded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", help="e.g. 01_pair_selection")
    parser.add_argument("submissions", type=Path, help="folder of STUDENT.ipynb or STUDENT/NAME.ipynb")
    parser.add_argument("--out", type=Path, help="default: grades/ASSIGNMENT")
    arguments = parser.parse_args()
    out = (arguments.out or ROOT / "grades" / arguments.assignment).resolve()
    grade_folder(arguments.assignment, arguments.submissions.resolve(), out)
    print(f"\n{out / 'grades.csv'}: student, question, points, possible")
    print(f"WARNING: {WARNING}")


if __name__ == "__main__":
    main()
