"""The stored notebooks are the executed form of their MyST sources, fit for nbval and the offline book."""

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbval.plugin import metadata_tags
from test_style import png_width

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
SOURCES = sorted((CHAPTERS / "source").glob("*.md"))
NBVAL_TAGS = set(metadata_tags)  # the cell tags nbval acts on: nbval-ignore-output, nbval-skip, ...
_WIDGET_CALL = re.compile(r"^\s*(?:\w+\s*=\s*)?\w+_explorer\(", flags=re.M)


def _is_widget_cell(cell) -> bool:
    """A code cell that shows a live widget: it calls a ``*_explorer(...)`` function."""
    return cell.cell_type == "code" and _WIDGET_CALL.search(cell.source) is not None


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
        if _is_widget_cell(cell):
            twin = stored.cells[index + 1]
            assert twin.cell_type == "code" and "_figure(" in twin.source, "a widget needs its static twin next"
            assert any("image/png" in output.get("data", {}) for output in twin.outputs)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_nbval_markers_are_cell_tags_out_of_the_readers_view(source):
    """Test machinery is not for the reader: nbval markers are cell tags, never comment lines in the code."""
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    for cell in stored.cells:
        assert "NBVAL" not in cell.source, f"use the tag nbval-ignore-output, not a comment: {cell.source[:80]!r}"
        tags = cell.metadata.get("tags", [])
        unknown = [tag for tag in tags if tag.startswith("nbval") and tag not in NBVAL_TAGS]
        assert not unknown, f"nbval does not know the tag(s) {unknown}; it knows {sorted(NBVAL_TAGS)}"
        if _is_widget_cell(cell):
            missing = {"remove-output", "nbval-ignore-output"} - set(tags)
            assert not missing, f"a widget cell needs the tags {sorted(missing)}: {cell.source[:80]!r}"


def test_nbval_honours_the_ignore_output_tag(tmp_path):
    """The tag works in `pytest --nbval`: a volatile cell passes with it and fails without it."""
    for name, tags in (("tagged", ["nbval-ignore-output"]), ("untagged", [])):
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        notebook.cells = [nbformat.v4.new_code_cell("import uuid\nprint(uuid.uuid4())", metadata={"tags": tags},
                                                    execution_count=1)]
        notebook.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored, not what a run prints\n")]
        nbformat.write(notebook, tmp_path / f"{name}.ipynb")
    runs = {name: subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
                                  f"{name}.ipynb"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
            for name in ("tagged", "untagged")}
    assert runs["tagged"].returncode == 0, runs["tagged"].stdout[-2000:]
    assert runs["untagged"].returncode == 1 and "1 failed" in runs["untagged"].stdout, runs["untagged"].stdout[-2000:]


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


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_stored_figures_are_sharp(source):
    """Every stored PNG has twice the pixels of its displayed width (``use_book_style`` under IPython: retina)."""
    stored = nbformat.read(CHAPTERS / f"{source.stem}.ipynb", as_version=4)
    blurry = []
    for index, cell in enumerate(stored.cells):
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                shown = output.get("metadata", {}).get("image/png", {}).get("width")
                pixels = png_width(output["data"]["image/png"])
                if shown is None or pixels < 2 * shown - 1:
                    first = cell.source.splitlines()[0][:60]
                    blurry.append(f"cell {index} ({first!r}): {pixels} px shown at {shown or pixels}")
    assert not blurry, "figures not at retina resolution, re-run `make notebooks`: " + "; ".join(blurry)


APPENDIX = {"13_performance"}
EXERCISE_CHAPTERS = [s for s in SOURCES if s.stem not in APPENDIX]


@pytest.mark.parametrize("source", EXERCISE_CHAPTERS, ids=lambda p: p.stem)
def test_exercises_come_last_with_folded_solutions_after_the_key_takeaways(source):
    text = source.read_text()
    exercises = text.count("```{exercise}")
    assert 2 <= exercises <= 3
    assert text.count("````{solution-start}") == text.count("````{solution-end}") == exercises
    assert text.count(":class: dropdown") >= exercises
    assert text.rindex("\n## ") == text.index("\n## Exercises\n"), "exercises are the last section"
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    # Further reading between the two is checked in test_syllabus.py
    assert [s for s in sections if s != "Further reading"][-2:] == ["Key takeaways", "Exercises"], \
        "a chapter ends with its key takeaways, then exercises"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_page_has_key_takeaways(source):
    assert "\n## Key takeaways\n" in source.read_text()


def test_the_teaching_page_lists_every_exercise():
    labels = {label for source in SOURCES for label in re.findall(r"^:label: (ex-[\w-]+)$", source.read_text(), flags=re.M)}
    listed = set(re.findall(r"\{ref\}`(ex-[\w-]+)`", (CHAPTERS.parent / "teaching.md").read_text()))
    assert len(labels) >= 12 and labels == listed


def test_threads_wait_passively_wherever_notebooks_run_beside_other_work():
    """make notebooks, make test (its workers and the kernels nbval starts) and the readers' check run with
    OMP_WAIT_POLICY=PASSIVE; make lab and make bench (what a reader gets) run without it."""
    makefile = (CHAPTERS.parent / "Makefile").read_text()
    assert re.search(r"^export OMP_WAIT_POLICY := PASSIVE$", makefile, flags=re.M)
    bench = makefile[makefile.index("\nbench:"):].split("\n\n")[0]
    assert all(line.startswith("\t$(AS_READERS_RUN) ") for line in bench.splitlines()[1:] if "bench/" in line)
    assert re.search(r"^AS_READERS_RUN := env -u OMP_WAIT_POLICY$", makefile, flags=re.M)
    assert re.search(r"^\t\$\(AS_READERS_RUN\) \$\(BIN\)/jupyter lab ", makefile, flags=re.M)  # JupyterLab, alone
    kernel = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert kernel == "PASSIVE"
    assert '"OMP_WAIT_POLICY": "PASSIVE"' in (CHAPTERS.parent / "tests" / "test_downloads.py").read_text()
