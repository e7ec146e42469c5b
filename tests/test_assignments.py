"""The assignments: generated from their solution versions, and graded by Otter-Grader.

`make assignments` runs the same ``build``; here every assignment is built once into a temporary
folder (the session fixture ``built_assignments``). Building grades the solution with every test,
public and hidden, and fails unless it gets full marks. Then: an untouched student version gets no
point and is told "answer not set"; the student folder is complete and leaks no solution or hidden
test; the notebook states the points the tests give; the autograder zip declares its environment
and carries the lottolib wheel.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from build_wheel import wheel_name  # noqa: E402
from make_assignments import SOURCES, autograder_zip, build, grade_results  # noqa: E402

NAMES = sorted(source.stem for source in SOURCES.glob("*.md"))


def test_there_are_at_least_three_assignments():
    assert len(NAMES) >= 3


def _test_cases(path: Path) -> list[tuple[float, bool]]:
    """(points, hidden) of each test case in one of Otter's test files."""
    cases = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            (decorator,) = node.decorator_list
            keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in decorator.keywords}
            cases.append((keywords["points"], keywords["hidden"]))
    return cases


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_public_and_hidden_tests_and_states_its_points(built_assignments, name):
    result = built_assignments[name]
    notebook = json.loads((result / "student" / f"{name}.ipynb").read_text())
    text = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    stated = {f"q{n}": (float(total), float(public), float(hidden)) for n, total, public, hidden in re.findall(
        r"\*\*Question (\d+)\*\* \((\d+) points: public tests (\d+), hidden tests (\d+)", text)}
    tests = sorted((result / "autograder" / "tests").glob("q*.py"))
    assert len(tests) >= 3 and set(stated) == {path.stem for path in tests}
    for path in tests:
        cases = _test_cases(path)
        public = sum(points for points, hidden in cases if not hidden)
        hidden = sum(points for points, hidden in cases if hidden)
        assert public > 0 and hidden > 0, f"{name} {path.stem}: needs public and hidden tests"
        assert stated[path.stem] == (public + hidden, public, hidden), f"{name} {path.stem}: other points stated"
    total = sum(points for points, _, _ in stated.values())
    assert f"({total:g} in all)" in text
    for words in ("hidden tests", "Hand in this notebook file alone", "grader.check", "requirements.txt", "tests/"):
        assert words in text, f"{name}: the student notebook does not say {words!r}"


@pytest.mark.parametrize("name", NAMES)
def test_untouched_student_version_gets_nothing_and_is_told_answer_not_set(built_assignments, name):
    result = built_assignments[name]
    graded = grade_results(result / "student" / f"{name}.ipynb", autograder_zip(result))
    assert graded.results and all(question.score == 0 for question in graded.results.values())
    for question, outcome in graded.results.items():
        public = [case for case in outcome.test_case_results if not case.test_case.hidden]
        assert public, question
        for case in public:
            assert f"{question}: answer not set" in case.message, case.message
            assert "TypeError" not in case.message, case.message


@pytest.mark.parametrize("name", NAMES)
def test_student_folder_is_complete(built_assignments, name):
    student = built_assignments[name] / "student"
    assert {path.name for path in student.iterdir()} == {
        f"{name}.ipynb", "tests", "answer_checks.py", wheel_name(), "requirements.txt"}
    requirements = (student / "requirements.txt").read_text().split()
    assert {"torch==2.13.0", "otter-grader==7.0.0", f"./{wheel_name()}"} <= set(requirements)


@pytest.mark.parametrize("name", NAMES)
def test_autograder_zip_declares_its_environment_and_carries_the_wheel(built_assignments, name):
    with zipfile.ZipFile(autograder_zip(built_assignments[name])) as archive:
        names = set(archive.namelist())
        environment = yaml.safe_load(archive.read("environment.yml"))
    assert {f"files/{wheel_name()}", "files/answer_checks.py", "tests/q1.py"} <= names
    (pip,) = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert {"torch==2.13.0", "otter-grader==7.0.0", f"./files/{wheel_name()}"} <= set(pip)
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in environment["dependencies"]


def _solution_lines(source: Path) -> set[str]:
    """The code lines a student must write: in code cells, inside BEGIN/END SOLUTION or ending in # SOLUTION."""
    lines, in_code, inside = set(), False, False
    for line in source.read_text().splitlines():
        stripped = line.strip()
        if line.startswith("```"):
            in_code = line.startswith("```{code-cell}")
        elif not in_code:
            continue
        elif stripped == "# BEGIN SOLUTION":
            inside = True
        elif stripped == "# END SOLUTION":
            inside = False
        elif (inside or stripped.endswith("# SOLUTION")) and len(stripped) > 12 and not stripped.startswith("#"):
            lines.add(stripped.removesuffix("# SOLUTION").strip())
    return lines


@pytest.mark.parametrize("name", NAMES)
def test_student_version_holds_no_solution_and_no_hidden_test(built_assignments, name):
    student = built_assignments[name] / "student"
    notebook = json.loads((student / f"{name}.ipynb").read_text())
    code = "\n".join("".join(cell["source"]) for cell in notebook["cells"])
    solution = _solution_lines(SOURCES / f"{name}.md")
    assert solution, "the source marks no solution code"
    leaked = [line for line in solution if line in code]
    assert not leaked, leaked
    public_tests = "\n".join(path.read_text() for path in (student / "tests").glob("*.py"))
    assert "hidden=True" not in public_tests
    assert re.search(r"hidden=True", (built_assignments[name] / "autograder" / "tests" / "q1.py").read_text())


def test_a_wrong_solution_is_caught(tmp_path):
    """make assignments refuses a solution that fails its own tests."""
    source = (SOURCES / "02_layer_bound.md").read_text()
    spectral = "return float(torch.linalg.matrix_norm(torch.cat([plus_error, minus_error], dim=1), ord=2))"
    assert spectral in source
    wrong = tmp_path / "02_layer_bound.md"
    wrong.write_text(source.replace(spectral, "return float(torch.cat([plus_error, minus_error], dim=1).norm())"))
    with pytest.raises(RuntimeError, match=r"tests failed"):
        build(wrong, tmp_path / "dist")
