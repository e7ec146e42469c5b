"""The stored notebooks are the executed form of their MyST sources, fit for nbval and the offline book."""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
SOURCES = sorted((CHAPTERS / "source").glob("*.md"))


def test_every_source_has_a_notebook_and_back():
    assert SOURCES, "no chapter sources found"
    assert {s.stem for s in SOURCES} == {n.stem for n in CHAPTERS.glob("*.ipynb")}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_source(source):
    expected = jupytext.read(source)
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    pairs = list(zip(expected.cells, stored.cells, strict=True))
    for want, have in pairs:
        assert (want.cell_type, want.source) == (have.cell_type, have.source)
        assert want.metadata.get("tags", []) == have.metadata.get("tags", [])


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_executed_in_order_without_widget_state(source):
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    assert "widgets" not in stored.metadata
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), "re-run `make notebooks`"
    assert not any(output.output_type == "error" for cell in code for output in cell.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_page_skeleton_and_widget_twins(source):
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    first = stored.cells[0].source
    assert first.startswith(f"({first[1:first.index(')')]})=\n# "), "a page starts with a (label)= target and a title"
    assert "**What you will learn**" in first
    for index, cell in enumerate(stored.cells):
        if cell.cell_type == "code" and "_explorer()" in cell.source:
            tags = cell.metadata.get("tags", [])
            assert "nbval-ignore-output" in tags or cell.source.splitlines()[0] == "# NBVAL_IGNORE_OUTPUT", \
                "tag the widget cell nbval-ignore-output (or start it with the bare marker line)"
            assert "remove-output" in tags
            twin = stored.cells[index + 1]
            assert twin.cell_type == "code" and "_figure(" in twin.source, "a widget needs its static twin next"
            assert any("image/png" in output.get("data", {}) for output in twin.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_nbval_markers_are_bare_lines_with_a_reason(source):
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    for cell in stored.cells:
        lines = cell.source.splitlines()
        for index, line in enumerate(lines):
            if "NBVAL" in line:
                assert line == "# NBVAL_IGNORE_OUTPUT", f"unrecognised nbval marker {line!r}"
                assert index + 1 < len(lines) and lines[index + 1].startswith("# (why:"), "say why the output is volatile"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_figures_have_captions_and_the_book_style(source):
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    figures = [cell for cell in stored.cells if cell.cell_type == "code"
               and "remove-output" not in cell.metadata.get("tags", [])  # a live widget: not in the book
               and any("image/png" in output.get("data", {}) for output in cell.outputs)]
    for cell in figures:
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        assert figure.get("caption") and figure.get("name", "").startswith("fig-"), cell.source[:80]
    if figures:
        imports = next(cell for cell in stored.cells if cell.cell_type == "code")
        assert "use_book_style()" in imports.source, "figures are drawn in the book's one style (lottolib.style)"


EXERCISE_CHAPTERS = [s for s in SOURCES if s.stem[:2] in {"00", "01", "02", "03", "04", "05"}]


@pytest.mark.parametrize("source", EXERCISE_CHAPTERS, ids=lambda p: p.stem)
def test_exercises_come_last_with_folded_solutions(source):
    text = source.read_text()
    exercises = text.count("```{exercise}")
    assert 2 <= exercises <= 3
    assert text.count("````{solution-start}") == text.count("````{solution-end}") == exercises
    assert text.count(":class: dropdown") >= exercises
    assert text.rindex("\n## ") == text.index("\n## Exercises\n"), "exercises are the last section"


def test_the_teaching_page_lists_every_exercise():
    labels = {label for source in SOURCES for label in re.findall(r"^:label: (ex-[\w-]+)$", source.read_text(), flags=re.M)}
    listed = set(re.findall(r"\{ref\}`(ex-[\w-]+)`", (CHAPTERS.parent / "teaching.md").read_text()))
    assert len(labels) >= 12 and labels == listed
