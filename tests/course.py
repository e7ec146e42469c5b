"""Simulated students: fill in a generated student notebook the way real students do.

Used by the grading tests (and to reproduce the lecturer's walk-through: generate, hand out the
student folder, fill in, grade). A scenario says, per question, what the student did:

- ``"solve"``: the solution's code (taken from the autograder's solution notebook);
- a :class:`Mistake`: the solution's code with one typical error in it;
- a :class:`Wrapper`: a thin wrapper around a lottolib function instead of the student's own code;
- a :class:`Raises`: the solution's code behind a line that raises, so the cell defines nothing;
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


@dataclass(frozen=True)
class Raises:
    """Put ``line`` (which raises) at the top of the question's first answer cell, before the solution's code."""

    line: str


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

# Per assignment, every question for which lottolib hands out the answer in one call.
WRAPPERS = {
    "01_pair_selection": {"q1": Wrapper("best_on_side", (
        "import lottolib as L\n\n\n"
        "def best_on_side(products, on_side, w):\n"
        "    sign = torch.where(on_side, 1.0, -1.0).double()\n"
        "    choice = L.choose_pairs(products, sign, w)\n"
        "    return choice.plus_index, choice.plus_error\n"))},
    "02_layer_bound": {
        "q1": Wrapper("pruned_forward", (
            "def pruned_forward(first, second, first_mask, second_mask, x):\n"
            "    return layer.module(compact=True)(x)\n")),
        # an upper bound within 1e-13 of the spectral norm: close enough for every comparison of values
        "q3": Wrapper("eta", (
            "def eta(plus_error, minus_error, norm=L.bounds.spectral_norm_bound):\n"
            "    return norm(torch.cat([plus_error, minus_error], dim=1))\n")),
    },
    "03_digits_pruning": {
        "q1": Wrapper("target_forward", (
            "def target_forward(weights, x):\n"
            "    return L.forward_target(weights, x)\n")),
        "q2": Wrapper("certificate", (
            "def certificate(norms, etas):\n"
            "    return float(L.certificate(norms, etas))\n")),
    },
}


def scenarios(assignment: str) -> dict[str, dict[str, object]]:
    """The four students of the walk-through, for ``assignment``: {scenario: {question: what}}."""
    solve_all = {f"q{i}": "solve" for i in (1, 2, 3)}
    return {
        "untouched": {},
        # q3's cell raises a NameError before it defines anything
        "partly right": {"q1": "solve", **MISTAKES[assignment], "q3": Raises("print(answer)")},
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
            if isinstance(what, Raises):
                source = f"{what.line}\n{source}" if index == cells[question][0] else source
            elif isinstance(what, Mistake):
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
        if isinstance(what, Wrapper):
            assert any(what.code.strip() in student.cells[i].source for i in cells[question]), (question, what)
    return student


def hand_in(assignment_dir: Path, folder: Path, only: tuple[str, ...] | None = None) -> dict[str, Path]:
    """Write one submission per scenario (or per scenario in ``only``) into ``folder`` (as STUDENT.ipynb);
    return {scenario: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for scenario, answers in scenarios(assignment_dir.name).items():
        if only is not None and scenario not in only:
            continue
        path = folder / f"{scenario.replace(' ', '_')}.ipynb"
        nbformat.write(fill(assignment_dir, answers), path)
        paths[scenario] = path
    return paths
