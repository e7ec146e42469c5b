"""The assignments: generated from their solution versions, and graded by Otter-Grader.

`make assignments` runs the same ``build``; here every assignment is built into a temporary folder,
its solution must get full marks on every question (public and hidden tests), and its untouched
student version must get none.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from make_assignments import SOURCES, autograder_zip, build, check_solution, grade  # noqa: E402

NAMES = sorted(source.stem for source in SOURCES.glob("*.md"))


def test_there_are_at_least_three_assignments():
    assert len(NAMES) >= 3


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("assignments")
    return {name: build(SOURCES / f"{name}.md", out) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_solution_passes_every_check(built, name):
    scores = check_solution(built[name])
    assert len(scores) >= 3 and all(possible > 0 for _, possible in scores.values())


@pytest.mark.parametrize("name", NAMES)
def test_untouched_student_version_fails_every_check(built, name):
    result = built[name]
    scores = grade(result / "student" / f"{name}.ipynb", autograder_zip(result))
    assert scores and all(score == 0 for score, _ in scores.values()), scores


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
def test_student_version_holds_no_solution_and_no_hidden_test(built, name):
    student = built[name] / "student"
    notebook = json.loads((student / f"{name}.ipynb").read_text())
    code = "\n".join("".join(cell["source"]) for cell in notebook["cells"])
    solution = _solution_lines(SOURCES / f"{name}.md")
    assert solution, "the source marks no solution code"
    leaked = [line for line in solution if line in code]
    assert not leaked, leaked
    public_tests = "\n".join(path.read_text() for path in (student / "tests").glob("*.py"))
    assert "hidden=True" not in public_tests
    assert re.search(r"hidden=True", (built[name] / "autograder" / "tests" / "q1.py").read_text())


def test_a_wrong_solution_is_caught(tmp_path):
    """make assignments refuses a solution that fails its own (hidden) tests."""
    source = (SOURCES / "02_layer_bound.md").read_text()
    spectral = "return float(torch.linalg.matrix_norm(torch.cat([plus_error, minus_error], dim=1), ord=2))"
    assert spectral in source
    wrong = tmp_path / "02_layer_bound.md"
    wrong.write_text(source.replace(spectral, "return float(torch.cat([plus_error, minus_error], dim=1).norm())"))
    with pytest.raises(RuntimeError, match=r"tests failed|does not pass its own tests"):
        check_solution(build(wrong, tmp_path / "dist"))
