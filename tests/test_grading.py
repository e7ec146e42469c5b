"""The lecturer's side: grade a folder of submissions into one CSV, and grade with only what the zip declares.

Simulated students (tests/course.py) fill in the handed-out notebook: untouched, partly right (one
typical mistake, one question left open), fully right, and one who wraps a lottolib function instead
of writing the code. ``scripts/grade.py`` (``make grade``) runs ``otter run`` on each.

The self-contained check builds a fresh virtual environment (no system site-packages, nothing from
this repository) with exactly the packages the autograder zip's environment.yml lists, the lottolib
wheel from inside the zip among them, and grades there. pip resolves from the package registry; the
repository's requirements.txt is passed as constraints, which fixes versions but installs nothing.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from course import hand_in  # noqa: E402
from grade import WARNING, grade_folder  # noqa: E402
from make_assignments import autograder_zip  # noqa: E402

# Assignment 1, per scenario and question: the points the tests must give (see course.scenarios).
EXPECTED = {
    "fully_right": {"q1": 4, "q2": 3, "q3": 3},
    "untouched": {"q1": 0, "q2": 0, "q3": 0},
    # q1 right; q2 returns its bound as a percentage: only the hidden w = 0 case (bound 0) passes; q3 left open
    "partly_right": {"q1": 4, "q2": 1, "q3": 0},
    # q1 wraps L.choose_pairs: the public tests pass, the hidden ones (lottolib switched off) do not;
    # q2 and q3 call that best_on_side, so their hidden tests fail the same way
    "library_wrapper": {"q1": 2, "q2": 1, "q3": 1},
}


def test_a_folder_of_submissions_is_graded_into_one_csv(built_assignments, tmp_path, capsys):
    result = built_assignments["01_pair_selection"]
    submissions = tmp_path / "submissions"
    paths = hand_in(result, submissions)
    # a learning platform's export: one folder per student, any notebook name
    (submissions / "untouched").mkdir()
    paths["untouched"].rename(submissions / "untouched" / "01_pair_selection.ipynb")
    out = tmp_path / "grades"
    grade_folder("01_pair_selection", submissions, out, autograder=autograder_zip(result))

    with (out / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["student", "question", "points", "possible"]
    table = {(row["student"], row["question"]): float(row["points"]) for row in rows}
    assert table == {(student, question): points
                     for student, questions in EXPECTED.items() for question, points in questions.items()}
    assert {row["possible"] for row in rows if row["question"] == "q1"} == {"4"}

    hidden_line = "without_lottolib('q1', best_on_side"  # only the hidden tests of q1 have it
    assert hidden_line in (out / "otter" / "library_wrapper" / "results.json").read_text()
    for student in EXPECTED:
        feedback = (out / "feedback" / f"{student}.txt").read_text()
        assert hidden_line not in feedback and "hidden=True" not in feedback
    assert "q1: answer not set" in (out / "feedback" / "untouched.txt").read_text()
    partly = (out / "feedback" / "partly_right.txt").read_text()
    assert "q2: with k = 200 units the bound for w = 0.6 is about 0.02; got 2.02" in partly, "the values involved"
    assert "No log found" in (out / "otter" / "untouched" / "otter.log").read_text()
    assert "No log found" not in capsys.readouterr().out
    assert "hidden tests" in WARNING and "never hand them back" in WARNING


def test_make_grade_explains_its_usage():
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "-o", "assignments/dist/.built", "grade"],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "usage: make grade ASSIGNMENT=NAME SUBMISSIONS=DIR" in done.stdout


def _pip_requirements(autograder: Path, where: Path) -> list[str]:
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(where)
    environment = yaml.safe_load((where / "environment.yml").read_text())
    python = f"python={sys.version_info.major}.{sys.version_info.minor}"
    assert python in environment["dependencies"], "the grading environment's Python is the tested one"
    (pip,) = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    return pip


def test_the_autograder_zips_grade_in_a_fresh_environment(built_assignments, tmp_path):
    """The digits assignment's solution gets full marks (lottolib.digits needs scikit-learn, declared by the
    wheel), and an untouched notebook of assignment 1 gets no point; every zip declares the same environment."""
    unpacked = tmp_path / "unpacked"
    requirements = {name: _pip_requirements(autograder_zip(result), unpacked / name)
                    for name, result in built_assignments.items()}
    first = requirements["01_pair_selection"]
    assert all(pip == first for pip in requirements.values())

    environment = tmp_path / "grader"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
                           "-c", str(ROOT / "requirements.txt"), *first],
                          cwd=unpacked / "01_pair_selection",  # Gradescope's cwd: the zip's root
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    where = subprocess.run([str(python), "-c", "import lottolib; print(lottolib.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(environment), where

    def scores(name: str, notebook: Path) -> dict[str, tuple[float, float]]:
        out = tmp_path / f"out-{name}-{notebook.parent.name}"
        out.mkdir()
        command = [str(environment / "bin" / "otter"), "run", "-a", str(autograder_zip(built_assignments[name])),
                   "-o", str(out), str(notebook)]
        graded = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert (out / "results.json").is_file(), graded.stdout[-3000:] + graded.stderr[-3000:]
        tests = json.loads((out / "results.json").read_text())["tests"]
        return {test["name"]: (test["score"], test["max_score"]) for test in tests if "score" in test}

    solution = scores("03_digits_pruning", built_assignments["03_digits_pruning"] / "autograder" / "03_digits_pruning.ipynb")
    assert len(solution) == 3 and all(score == most > 0 for score, most in solution.values()), solution
    untouched = scores("01_pair_selection", built_assignments["01_pair_selection"] / "student" / "01_pair_selection.ipynb")
    assert len(untouched) == 3 and all(score == 0 for score, _ in untouched.values()), untouched
