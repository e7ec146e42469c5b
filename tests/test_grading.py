"""The lecturer's side: grade a folder of submissions into one CSV and feedback to hand back, and grade
with only what the zip declares; the student's side: install from the student folder and run the notebook.

Simulated students (tests/course.py) fill in the handed-out notebook: untouched, partly right (one
typical mistake, one cell that raises), fully right, and one who wraps lottolib functions instead
of writing the code. ``scripts/grade.py`` (``make grade``) grades each with Otter. The feedback says
per question what the hidden tests took and why, in the words written with each hidden test, and
which cell raised; it never quotes a hidden test. The folder that quotes them is marked.

The self-contained check builds a fresh virtual environment (no system site-packages, nothing from
this repository) with exactly the packages the autograder zip's environment.yml lists, the lottolib
wheel from inside the zip among them, and grades there; then it installs the student folder's
requirements.txt on top (a superset of the zip's), starts JupyterLab's command and runs a filled-in
notebook in the student folder. pip resolves from the package registry; the repository's
requirements.txt is passed as constraints, which fixes versions but installs nothing.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import fresh_environment  # noqa: E402
from build_wheel import pinned  # noqa: E402
from course import WRAPPERS, fill, hand_in  # noqa: E402
from grade import LIBRARY, NOT_SET, RESULTS, WARNING, WRONG, grade_folder  # noqa: E402
from make_assignments import autograder_zip  # noqa: E402

# Assignment 1, per scenario and question: the points the tests must give (see course.scenarios).
EXPECTED = {
    "fully_right": {"q1": 4, "q2": 3, "q3": 3},
    "untouched": {"q1": 0, "q2": 0, "q3": 0},
    # q1 right; q2 returns its bound as a percentage: only the hidden w = 0 case (bound 0) passes; q3's cell raises
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

    # what quotes the hidden tests is marked, in its folder and its file names; nothing else is written there
    marker = (out / "otter" / "README.txt").read_text()
    assert marker.startswith("HIDDEN TESTS: do not hand back anything in this folder.")
    assert not list(out.rglob("results.json")) and "HIDDEN-TESTS" in RESULTS
    assert {path.name for path in (out / "otter").rglob(f"*{RESULTS}")} == {RESULTS}
    assert len(list((out / "otter").rglob(RESULTS))) == len(EXPECTED)
    assert "HIDDEN tests" in WARNING and "never hand it back" in WARNING and "feedback/STUDENT.txt" in WARNING

    hidden_line = "without_lottolib('q1', best_on_side"  # only the hidden tests of q1 have it
    assert hidden_line in (out / "otter" / "library_wrapper" / RESULTS).read_text()
    hidden = _hidden_tests(autograder_zip(result))
    hidden_code = {line.strip() for code, _ in hidden.values() for line in code.splitlines()[1:] if len(line.strip()) > 25}
    written = {student: (out / "feedback" / f"{student}.txt").read_text() for student in EXPECTED}
    ours = [text.split("Public tests (what grader.check runs")[0] for text in written.values()]  # before Otter's output
    assert max(len(line) for text in ours for line in text.splitlines()) <= 76
    feedback = {student: _flat(text) for student, text in written.items()}  # lines are wrapped at 76 characters
    for text in feedback.values():
        assert not [line for line in hidden_code if _flat(line) in text], "the feedback quotes a hidden test"
        assert "hidden=True" not in text and "No log found" not in text
    # a hidden test's own failure (`(seed, w, got, expected)` of q2's pair test) stays in the marked folder
    recorded = (out / "otter" / "partly_right" / RESULTS).read_text()
    hidden_failure = re.search(r"AssertionError: \(0, 0\.9, [\d.]+, ([\d.]+)\)", recorded)
    assert hidden_failure and hidden_failure[1] not in feedback["partly_right"] and "(0, 0.9" not in feedback["partly_right"]

    reasons = {test: reason for test, (_, reason) in hidden.items()}
    wrapper = feedback["library_wrapper"]
    assert "q1: 2 / 4 points (public tests 2 / 2, hidden tests 0 / 2) The hidden tests took 2 points:" in wrapper
    for test in ("test_matches_the_pair_rule_on_random_blocks", "test_ties_and_empty_sides"):
        assert f"- 1 point: {LIBRARY} — {reasons[test]}" in wrapper
    assert "q3: 1 / 3 points (public tests 1 / 1, hidden tests 0 / 2)" in wrapper
    assert "hidden tests 2 / 2" in feedback["fully_right"] and "The hidden tests took" not in feedback["fully_right"]
    untouched = feedback["untouched"]
    assert "q1: answer not set" in untouched
    assert f"- 1 point: {NOT_SET} — {reasons['test_ties_and_empty_sides']}" in untouched
    assert "raised" not in untouched, "an untouched notebook runs to the end"
    partly = feedback["partly_right"]
    assert "q2: with k = 200 units the bound for w = 0.6 is about 0.02; got 2.02" in partly, "the values involved"
    assert f"- 1 point: {WRONG} — {reasons['test_matches_the_chosen_pair']}" in partly
    assert ("q3: 0 / 3 points (public tests 0 / 1, hidden tests 0 / 2) "
            "Your cell raised NameError: name 'answer' is not defined (in the cell starting: print(answer))") in partly
    assert "No log found" in (out / "otter" / "untouched" / "otter.log").read_text()
    assert "No log found" not in capsys.readouterr().out


def _flat(text: str) -> str:
    """``text`` with every run of white space made one space (the feedback wraps its lines)."""
    return " ".join(text.split())


def _hidden_tests(autograder: Path) -> dict[str, tuple[str, str]]:
    """{test name: (its code, its failure_message)} of every hidden test in the autograder zip."""
    found = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in archive.namelist():
            if name.startswith("tests/q") and name.endswith(".py"):
                text = archive.read(name).decode()
                for node in ast.parse(text).body:
                    if isinstance(node, ast.FunctionDef):
                        keywords = {word.arg: ast.literal_eval(word.value) for word in node.decorator_list[0].keywords}
                        if keywords["hidden"]:
                            found[node.name] = (ast.get_source_segment(text, node), keywords["failure_message"])
    return found


# Points of the library wrappers (course.WRAPPERS) of assignments 2 and 3, per question; every wrapped
# question keeps only its public points.
WRAPPED = {
    # q1 runs the library's module of the notebook's layer; q3's eta calls a library bound, and its
    # `ratios` come from that q1 (the same layer at every width), so q3's public width test fails too
    "02_layer_bound": {"q1": 1, "q2": 3, "q3": 1},
    # q1's target_forward and q2's certificate are the library's; q3 is the student's own
    "03_digits_pruning": {"q1": 1, "q2": 1, "q3": 4},
}


@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_a_library_wrapper_loses_the_hidden_points_and_is_told_why(built_assignments, tmp_path, name):
    result = built_assignments[name]
    hand_in(result, tmp_path / "submissions", only=("library wrapper",))
    out = tmp_path / "grades"
    (graded,) = grade_folder(name, tmp_path / "submissions", out, autograder=autograder_zip(result))
    assert {question: points for question, (points, _) in graded.scores.items()} == WRAPPED[name]
    feedback = _flat((out / "feedback" / "library_wrapper.txt").read_text())
    for question in WRAPPERS[name]:
        wrapped = [test for test in graded.hidden if test.question == question]
        assert wrapped and not [test for test in wrapped if test.passed], question
        assert re.search(rf"{question}: \d+ / \d+ points \(public tests \d+ / \d+, hidden tests 0 / \d+\) "
                         rf"The hidden tests took \d+ points: - 1 point: {LIBRARY} — ", feedback), feedback


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


def test_the_zips_grade_in_a_fresh_environment_and_the_student_install_opens_and_runs(built_assignments, tmp_path):
    """The digits assignment's solution gets full marks (lottolib.digits needs scikit-learn, declared by the
    wheel), and an untouched notebook of assignment 1 gets no point; every zip declares the same environment.
    Then the student folder's requirements.txt, on top: JupyterLab starts, torch is a CPU build, and a
    filled-in notebook runs in the student folder with every public test passing."""
    unpacked = tmp_path / "unpacked"
    requirements = {name: _pip_requirements(autograder_zip(result), unpacked / name)
                    for name, result in built_assignments.items()}
    first = requirements["01_pair_selection"]
    assert all(pip == first for pip in requirements.values())

    environment = tmp_path / "grader"
    python = fresh_environment.create(environment)
    fresh_environment.pip_install(python, *first, cwd=unpacked / "01_pair_selection")  # Gradescope's cwd: the zip's root
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

    # the student's install asks for everything grading needs, and JupyterLab
    result = built_assignments["01_pair_selection"]
    student = Path(shutil.copytree(result / "student", tmp_path / "student"))
    asked = [line for line in (student / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert {line for line in first if not line.endswith(".whl")} <= set(asked)
    fresh_environment.pip_install(python, "-r", "requirements.txt", cwd=student)
    jupyter = str(environment / "bin" / "jupyter")
    lab = subprocess.run([jupyter, "lab", "--version"], capture_output=True, text=True, check=False)
    assert lab.returncode == 0 and lab.stdout.strip() == pinned(("jupyterlab",))[0].split("==")[1], lab.stdout + lab.stderr
    packages = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                              check=True).stdout.lower()
    cuda = subprocess.run([str(python), "-c", "import torch; print(torch.version.cuda)"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert cuda == "None" and "nvidia" not in packages, "the student install brought a GPU build of torch"

    notebook = student / "01_pair_selection.ipynb"
    nbformat.write(fill(result, {"q1": "solve", "q2": "solve", "q3": "solve"}), notebook)
    run = subprocess.run([jupyter, "execute", "--inplace", notebook.name], cwd=student, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    cells = [cell for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code"]
    assert not [output for cell in cells for output in cell.outputs if output.output_type == "error"]
    checks = [cell for cell in cells if cell.source.startswith("grader.check(")]
    assert len(checks) == 3 and all("All test cases passed!" in output.get("data", {}).get("text/plain", "")
                                    for cell in checks for output in cell.outputs), [cell.outputs for cell in checks]
