"""Simulated students: fill in a generated student notebook the way real students do.

Used by the grading tests (and to reproduce the lecturer's walk-through: generate, hand out the
student folder, fill in, grade). A scenario says, per question, what the student did:

- ``"solve"``: the solution's code (taken from the autograder's solution notebook);
- a :class:`Mistake`: the solution's code with one typical error in it;
- a :class:`Wrapper`: a thin wrapper around a lottolib function instead of the student's own code;
- question absent: left as handed out (``...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class Mistake:
    """Replace ``wrong`` for ``right`` in the solution code of the question (what and why in ``what``)."""

    right: str
    wrong: str
    what: str


@dataclass(frozen=True)
class Wrapper:
    """Replace the cell defining ``function`` by ``code``, which hands the work to lottolib."""

    function: str
    code: str


MISTAKES = {
    "01_pair_selection": {"q2": Mistake("return output, max(errors)", "return output, 100 * max(errors)",
                                        "returns the bound as a percentage")},
    "02_layer_bound": {"q2": Mistake("torch.relu(x) @ plus_error.T - torch.relu(-x) @ minus_error.T",
                                     "torch.relu(x) @ plus_error.T + torch.relu(-x) @ minus_error.T",
                                     "gets the sign of the E- term wrong")},
    "03_digits_pruning": {"q2": Mistake("bound = eta * (product + bound) + norm * bound",
                                        "bound = eta * product + norm * bound",
                                        "drops the eta_i * Delta_(i-1) term of the recursion")},
}

WRAPPERS = {
    "01_pair_selection": {"q1": Wrapper("best_on_side", (
        "import lottolib as L\n\n\n"
        "def best_on_side(products, on_side, w):\n"
        "    sign = torch.where(on_side, 1.0, -1.0).double()\n"
        "    choice = L.choose_pairs(products, sign, w)\n"
        "    return choice.plus_index, choice.plus_error\n"))},
    "02_layer_bound": {"q1": Wrapper("pruned_forward", (
        "def pruned_forward(first, second, first_mask, second_mask, x):\n"
        "    return layer.module(compact=True)(x)\n"))},
    "03_digits_pruning": {"q2": Wrapper("certificate", (
        "def certificate(norms, etas):\n"
        "    return float(L.certificate(norms, etas))\n"))},
}


def scenarios(assignment: str) -> dict[str, dict[str, object]]:
    """The four students of the walk-through, for ``assignment``: {scenario: {question: what}}."""
    solve_all = {f"q{i}": "solve" for i in (1, 2, 3)}
    return {
        "untouched": {},
        "partly right": {"q1": "solve", **MISTAKES[assignment]},
        "fully right": solve_all,
        "library wrapper": {**solve_all, **WRAPPERS[assignment]},
    }


def question_cells(notebook: nbformat.NotebookNode) -> dict[str, list[int]]:
    """{question: indices of its answer cells}: the code cells between "**Question N**" and its check cell."""
    cells: dict[str, list[int]] = {}
    current = None
    for index, cell in enumerate(notebook.cells):
        heading = re.match(r"\*\*Question (\d+)\*\*", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = f"q{heading[1]}"
            cells[current] = []
        elif cell.cell_type == "code" and current and cell.source.strip() == f'grader.check("{current}")':
            current = None
        elif cell.cell_type == "code" and current:
            cells[current].append(index)
    return cells


def _clean(source: str) -> str:
    """Solution code as a student would write it: without Otter's solution markers."""
    lines = [line.removesuffix("# SOLUTION").rstrip() for line in source.splitlines()
             if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION")]
    return "\n".join(lines)


def fill(assignment_dir: Path, answers: dict[str, object]) -> nbformat.NotebookNode:
    """The student notebook of a built assignment, filled in as ``answers`` says."""
    name = assignment_dir.name
    student = nbformat.read(assignment_dir / "student" / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(assignment_dir / "autograder" / f"{name}.ipynb", as_version=4)
    cells = question_cells(student)
    assert cells == question_cells(solution) and len(student.cells) == len(solution.cells)
    for question, what in answers.items():
        for index in cells[question]:
            source = _clean(solution.cells[index].source)
            if isinstance(what, Mistake):
                if what.right in source:
                    source = source.replace(what.right, what.wrong)
            elif isinstance(what, Wrapper):
                if f"def {what.function}(" not in source:
                    continue
                source = re.sub(rf"def {what.function}\(.*?(?=\n\S|\Z)", what.code.rstrip("\n"), source, flags=re.S)
            elif what != "solve":
                raise ValueError(f"unknown answer {what!r}")
            student.cells[index].source = source
    for question, what in answers.items():
        if isinstance(what, Mistake):
            assert any(what.wrong in student.cells[i].source for i in cells[question]), (question, what)
    return student


def hand_in(assignment_dir: Path, folder: Path) -> dict[str, Path]:
    """Write one submission per scenario into ``folder`` (as STUDENT.ipynb); return {scenario: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for scenario, answers in scenarios(assignment_dir.name).items():
        path = folder / f"{scenario.replace(' ', '_')}.ipynb"
        nbformat.write(fill(assignment_dir, answers), path)
        paths[scenario] = path
    return paths
