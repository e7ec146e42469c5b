"""Grade a folder of submissions with an assignment's autograder: one CSV, and feedback safe to hand back.

Usage: python scripts/grade.py NAME SUBMISSIONS [--out DIR]
   or: make grade ASSIGNMENT=NAME SUBMISSIONS=DIR [OUT=DIR]

SUBMISSIONS holds one notebook per student, as ``SUBMISSIONS/STUDENT.ipynb`` or as
``SUBMISSIONS/STUDENT/ANY_NAME.ipynb`` (one notebook per folder, as learning platforms export them).
Each is graded offline with ``otter run`` and the autograder zip of the assignment
(``assignments/dist/NAME/autograder/NAME-autograder.zip``, from ``make assignments``): Otter runs the
notebook from top to bottom in a fresh kernel of this environment, then its public and hidden tests.

Writes into DIR (default ``grades/NAME``, git-ignored):

    grades.csv                    student, question, points, possible: one row per student and question
    feedback/STUDENT.txt          points per question and the public tests' output: safe to hand back
    otter/STUDENT/results.json    Otter's full results, and otter/STUDENT/otter.log its output. They
                                  quote the HIDDEN tests' source lines and failures: keep them for
                                  yourself, never hand them back.

About Otter's "No log found with which to verify student scores": Otter can compare its scores with
the log that ``grader.check`` keeps in the student's folder (``.OTTER_LOG``), which only arrives if
students submit the zip of ``grader.export``. A bare notebook has no log; the scores come from running
the notebook here, so the message means nothing is wrong. It stays in otter.log and is not printed.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "assignments" / "dist"
WARNING = ("otter/*/results.json quote the hidden tests' source lines and failures: keep them for yourself, "
           "never hand them back; hand back feedback/STUDENT.txt")


@dataclass(frozen=True)
class Graded:
    """One student's result: {question: (points, possible)}, the public tests' output, and any failure."""

    student: str
    scores: dict[str, tuple[float, float]]
    public_output: str
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


def grade_one(student: str, notebook: Path, autograder: Path, out: Path, possible: dict[str, float]) -> Graded:
    """Run ``otter run`` on one notebook; keep its results and output under ``out/otter/STUDENT``."""
    folder = out / "otter" / student
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / "results.json"
    results.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder), "-o", str(folder), str(notebook)],
                          capture_output=True, text=True, check=False)
    (folder / "otter.log").write_text(done.stdout + done.stderr)
    zero = {question: (0.0, points) for question, points in possible.items()}
    if not results.is_file():
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        return Graded(student, zero, "", f"otter run failed (exit {done.returncode}): {last}")
    tests = json.loads(results.read_text())["tests"]
    scores = dict(zero)
    for test in tests:
        if test["name"] in possible:
            scores[test["name"]] = (float(test["score"]), float(test["max_score"]))
    public = "\n".join(test.get("output", "") for test in tests if test["name"] == "Public Tests")
    return Graded(student, scores, public)


def feedback(assignment: str, graded: Graded) -> str:
    """What a student may see: points per question and the public tests' output (no hidden test)."""
    total = sum(points for points, _ in graded.scores.values())
    possible = sum(possible for _, possible in graded.scores.values())
    lines = [f"{assignment}, {graded.student}: {total:g} / {possible:g} points"]
    lines += [f"  {question}: {points:g} / {most:g}" for question, (points, most) in graded.scores.items()]
    if graded.failure:
        lines += ["", f"The notebook could not be graded: {graded.failure}",
                  "Check that it runs from top to bottom (Kernel > Restart Kernel and Run All Cells)."]
    lines += ["", "Hidden tests were run as well; only the public tests' output is shown here.", "",
              graded.public_output or "(no public test output)"]
    return "\n".join(lines) + "\n"


def grade_folder(assignment: str, folder: Path, out: Path, autograder: Path | None = None) -> list[Graded]:
    """Grade every submission in ``folder``; write grades.csv, feedback/ and otter/ into ``out``."""
    autograder = autograder or DIST / assignment / "autograder" / f"{assignment}-autograder.zip"
    if not autograder.is_file():
        raise FileNotFoundError(f"no autograder zip {autograder}: run `make assignments` first")
    possible = questions(autograder)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    graded = []
    for student, notebook in submissions(folder).items():
        result = grade_one(student, notebook, autograder, out, possible)
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
