"""The student edition's sources: solutions out (text and code cells), exercises and everything else in."""

import importlib.util
from pathlib import Path

import nbformat
import pytest

_SPEC = importlib.util.spec_from_file_location(
    "build_student_edition", Path(__file__).resolve().parent.parent / "scripts" / "build_student_edition.py")
student = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(student)

EXERCISE = "```{exercise} Title\n:label: ex-a\n\nDo it.\n```\n"
START = "````{solution-start} ex-a\n:class: dropdown\n````\n"
END = "````{solution-end}\n````\n"


def test_a_gated_solution_goes_with_its_code_cells_and_the_rest_stays(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Page\n\n" + EXERCISE + "\n" + START + "\nSECRET text.\n"),
        nbformat.v4.new_code_cell("print('SECRET code')"),
        nbformat.v4.new_markdown_cell("More SECRET.\n\n" + END + "\nAfter it.\n"),
        nbformat.v4.new_code_cell("print('kept')"),
    ]
    path = tmp_path / "page.ipynb"
    nbformat.write(notebook, path)
    monkeypatch.setattr(student, "ROOT", tmp_path)
    text, removed = student.student_notebook(path)
    kept = nbformat.reads(text, as_version=4)
    assert removed == 1 and "SECRET" not in text and "{solution" not in text
    assert [cell.cell_type for cell in kept.cells] == ["markdown", "markdown", "code"]
    assert "Do it." in kept.cells[0].source and kept.cells[1].source.strip() == "After it."


def test_one_piece_solutions_and_colon_fences_go_too():
    text = EXERCISE + ":::{solution} ex-a\nSECRET\n:::\nkept\n```{solution} ex-a\n:class: dropdown\nSECRET\n```\n"
    stripped, inside, removed = student.strip_solutions(text, False, "page")
    assert (stripped, inside, removed) == (EXERCISE + "kept\n", False, 2)


@pytest.mark.parametrize("text", [START + START, END, "````{solution-start} ex-a\n:class: dropdown\n"])
def test_solution_markup_that_does_not_pair_up_is_refused(text):
    with pytest.raises(student.SolutionMarkupError):
        student.strip_solutions(text, False, "page")
