"""The assignments: generated from their solution versions, and graded by Otter-Grader.

`make assignments` runs the same ``build``; here every assignment is built once into a temporary
folder (the session fixture ``built_assignments``). Building grades the solution with every test,
public and hidden, and fails unless it gets full marks. Then: an untouched student version runs to
the end without an error, gets no point and is told "answer not set"; the student folder is
complete (JupyterLab in its requirements, no GPU build of torch) and leaks no solution or hidden
test; the notebook states the points the tests give and the install time; every hidden test carries
a reason a student may read and runs the student's functions with lottolib switched off, which
catches library code however the answer reaches it; the autograder zip declares its environment
and carries the lottolib wheel.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path

import jupytext
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from build_wheel import pinned, wheel_name  # noqa: E402
from make_assignments import (  # noqa: E402
    INSTALL_MINUTES,
    SOURCES,
    autograder_zip,
    build,
    check_hidden_tests,
    grade_results,
)

NAMES = sorted(source.stem for source in SOURCES.glob("*.md"))


def test_there_are_at_least_three_assignments():
    assert len(NAMES) >= 3


def _test_cases(path: Path) -> list[tuple[dict[str, object], str]]:
    """The decorator's keywords (points, hidden, failure_message) and the code of each test case in an Otter test file."""
    text = path.read_text()
    cases = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            (decorator,) = node.decorator_list
            keywords = {keyword.arg: ast.literal_eval(keyword.value) for keyword in decorator.keywords}
            cases.append((keywords, ast.get_source_segment(text, node)))
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
        cases = [(keywords["points"], keywords["hidden"]) for keywords, _ in _test_cases(path)]
        public = sum(points for points, hidden in cases if not hidden)
        hidden = sum(points for points, hidden in cases if hidden)
        assert public > 0 and hidden > 0, f"{name} {path.stem}: needs public and hidden tests"
        assert stated[path.stem] == (public + hidden, public, hidden), f"{name} {path.stem}: other points stated"
    total = sum(points for points, _, _ in stated.values())
    assert f"({total:g} in all)" in text
    for words in ("hidden tests", "Hand in this notebook file alone", "grader.check", "requirements.txt", "tests/",
                  f"jupyter lab {name}.ipynb", f"about {INSTALL_MINUTES} minutes"):
        assert words in text, f"{name}: the student notebook does not say {words!r}"


@pytest.mark.parametrize("name", NAMES)
def test_every_hidden_test_gives_a_reason_and_runs_the_students_code_without_lottolib(built_assignments, name):
    """The reason goes back to the student (make grade); a hidden test that only compares a variable would
    give its point to an answer computed by lottolib, so each one calls the student's functions itself."""
    tests = sorted((built_assignments[name] / "autograder" / "tests").glob("q*.py"))
    hidden = [(path.stem, keywords, code) for path in tests for keywords, code in _test_cases(path) if keywords["hidden"]]
    assert hidden
    for question, keywords, code in hidden:
        test = code.split("(", 1)[0].removeprefix("def ")
        reason = keywords.get("failure_message")
        assert isinstance(reason, str) and len(reason) > 40, f"{name} {test}: no reason for the student"
        assert not re.search(r"(?<![\w.])\d", reason), f"{name} {test}: the reason names a number: {reason}"
        assert f'without_lottolib("{question}"' in code or f"without_lottolib('{question}'" in code, (
            f"{name} {test}: does not run the student's functions with lottolib switched off")


def test_a_hidden_test_without_a_reason_a_student_may_read_is_refused():
    notebook = jupytext.read(SOURCES / "01_pair_selection.md")
    check_hidden_tests(notebook)
    (cell,) = [cell for cell in notebook.cells if "def test_zero_weight_keeps_nothing(" in cell.source]
    reason = re.search(r"failure_message: .*\n", cell.source)[0]
    original = cell.source
    cell.source = original.replace(reason, "")
    with pytest.raises(ValueError, match="test_zero_weight_keeps_nothing: a hidden test needs a `failure_message`"):
        check_hidden_tests(notebook)
    cell.source = original.replace(reason, "failure_message: 'the output must be 0.6 times x'\n")
    with pytest.raises(ValueError, match="without quotes, backslashes or numbers"):
        check_hidden_tests(notebook)


def test_the_install_time_is_stated_alike():
    for page in ("README.md", "teaching.md"):
        assert f"about {INSTALL_MINUTES} minutes" in (ROOT / page).read_text(), f"{page} states another install time"


@pytest.mark.parametrize("name", NAMES)
def test_untouched_student_version_gets_nothing_and_is_told_answer_not_set(built_assignments, name):
    result = built_assignments[name]
    graded = grade_results(result / "student" / f"{name}.ipynb", autograder_zip(result))
    raised = [f"{output.ename}: {output.evalue}" for cell in graded.notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not raised, f"{name}: the handed-out notebook raises when run untouched: {raised}"
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
    lines = (student / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    assert {"torch==2.13.0", "otter-grader==7.0.0", f"./{wheel_name()}", *pinned(("jupyterlab",))} <= set(requirements)
    # pip takes a CPU build of torch where one is offered; nothing may ask for a GPU build or another index
    assert not [line for line in requirements if re.search(r"nvidia|cuda|\+cu|index-url|find-links|^-", line, re.I)]
    assert [line for line in requirements if line.startswith("torch")] == ["torch==2.13.0"]


@pytest.mark.parametrize("name", NAMES)
def test_student_notebooks_need_no_myst_extension_in_jupyterlab(built_assignments, name):
    """JupyterLab renders Markdown and LaTeX itself; MyST roles, directives or labels would show as raw text."""
    notebook = json.loads((built_assignments[name] / "student" / f"{name}.ipynb").read_text())
    text = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    assert "$" in text and "**Question 1**" in text
    for myst in (r"\{[\w:-]+\}`", r"^```\{", r"^:::", r"^\([\w-]+\)=\s*$", r"\{glue"):
        assert not re.search(myst, text, re.M), f"{name}: MyST markup {myst!r} in a student notebook"


def _answer_checks():
    sys.path.insert(0, str(SOURCES))
    try:
        import answer_checks
    finally:
        sys.path.remove(str(SOURCES))
    return answer_checks


def test_without_lottolib_catches_library_code_however_the_answer_reaches_it():
    import lottolib as L
    from lottolib.bounds import add_up

    checks = _answer_checks()
    layer = L.prune_layer(torch.eye(2, dtype=torch.float64) * 0.5, eps=0.2, k=20, seed=0)
    bound_method = layer.target_forward  # bound before the grader switches lottolib off
    x = torch.ones(3, 2, dtype=torch.float64)

    def own(x):
        return x @ (0.5 * torch.eye(2, dtype=torch.float64)).T

    def by_name(x):
        return L.forward_target([0.5 * torch.eye(2, dtype=torch.float64)], x)

    def default_argument(a, b, add=add_up):
        return add(a, b)

    def kept_method(x):
        return bound_method(x)

    assert torch.equal(checks.without_lottolib("q1", own, "own", x), own(x))
    for function, args in ((by_name, (x,)), (default_argument, (1.0, 2.0)), (kept_method, (x,))):
        with pytest.raises(checks.LibraryCalled, match=r"q1: your answer calls lottolib \(lottolib(\.\w+)+\)"):
            checks.without_lottolib("q1", function, function.__name__, *args)
    assert sys.getprofile() is None
    assert torch.equal(by_name(x), own(x)) and add_up(1.0, 2.0) == 3.0 and torch.equal(kept_method(x), own(x))


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
