"""Build the student edition of the book: the same pages and exercises, no solutions.

Usage: python scripts/build_student_edition.py      (or: make book-student)

The book's pages are copied to ``_build/student/src`` with every solution taken out: in the
notebooks and Markdown pages, everything from a ``{solution-start}`` directive to its
``{solution-end}`` (the solution's text *and* its code cells, which sphinx-exercise's
``hide_solutions`` alone would leave on the page) and every one-piece ``{solution}`` directive.
Pages are written for students: the lecturers' pages ``teaching`` (how hidden tests work, grading)
and ``syllabus`` (the lecture plan) are left out of the table of contents, text between
``<!-- not-in-student-edition -->`` and ``<!-- /not-in-student-edition -->`` is removed (links to the
solutions' source, the PDF), and a comment ``<!-- student-edition-only ... -->`` becomes text (the
landing page says that this edition omits the solutions that the main edition folds). The copy is then built,
with sphinx-exercise's ``hide_solutions: true`` as a second guard and warnings as errors, into
``_build/student/html``.
Only changed files are rewritten, so a rebuild after a small edit is incremental.
tests/test_browser.py checks the result against the teacher edition: the same pages (but the
lecturers') and exercises, and no piece of any solution, in any file.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "_build" / "student"
SOURCE = STUDENT / "src"
OUTPUT = STUDENT / "html"

# The opening line of a fenced MyST directive about solutions: ```{solution-start} label, :::{solution} ...
_DIRECTIVE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>solution(?:-start|-end)?)\}")
# Main-edition text, and student-edition text kept in an HTML comment in the main edition.
_NOT_FOR_STUDENTS = re.compile(r"<!-- not-in-student-edition -->.*?<!-- /not-in-student-edition -->\n?", re.S)
_FOR_STUDENTS = re.compile(r"<!-- student-edition-only\n(?P<text>.*?)-->\n?", re.S)
# Pages of the main edition only: for lecturers (hand-outs, hidden tests, grading).
LECTURER_PAGES = ("teaching", "syllabus")


class SolutionMarkupError(ValueError):
    """The solution directives of a page do not pair up, so the page cannot be safely stripped."""


def strip_solutions(text: str, inside: bool, where: str) -> tuple[str, bool, int]:
    """Remove solution directives and everything between ``solution-start`` and ``solution-end``.

    Parameters
    ----------
    text
        MyST Markdown (a page or one notebook cell).
    inside
        Whether ``text`` starts inside a gated solution (opened in an earlier cell).
    where
        The page, for error messages.

    Returns
    -------
    The text without solutions, whether it ends inside a gated solution, and the number of
    solutions it opened or held.

    Raises
    ------
    SolutionMarkupError
        An unclosed directive fence, a ``solution-start`` inside a solution, or a
        ``solution-end`` outside one.
    """
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    solutions = 0
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if match is None:
            if not inside:
                kept.append(lines[index])
            index += 1
            continue
        fence, name = match["fence"], match["name"]
        close = next((j for j in range(index + 1, len(lines))
                      if lines[j].strip().startswith(fence) and set(lines[j].strip()) == {fence[0]}), None)
        if close is None:
            raise SolutionMarkupError(f"{where}: the {{{name}}} directive opened with {fence} is never closed")
        if name == "solution-start":
            if inside:
                raise SolutionMarkupError(f"{where}: a solution-start inside a solution; close the first with solution-end")
            inside, solutions = True, solutions + 1
        elif name == "solution-end":
            if not inside:
                raise SolutionMarkupError(f"{where}: a solution-end without its solution-start")
            inside = False
        elif not inside:
            solutions += 1
        index = close + 1
    return "".join(kept), inside, solutions


def for_students(text: str, where: str) -> str:
    """``text`` as the student edition shows it: main-edition-only parts out, student-only parts in.

    Raises
    ------
    SolutionMarkupError
        If a marker is left unpaired, or the text still refers to a lecturers' page.
    """
    text = _FOR_STUDENTS.sub(lambda match: match["text"], _NOT_FOR_STUDENTS.sub("", text))
    if "not-in-student-edition" in text or "student-edition-only" in text:
        raise SolutionMarkupError(f"{where}: an unpaired not-in-student-edition or student-edition-only marker")
    for page in LECTURER_PAGES:
        if re.search(rf"\{{(?:ref|doc)\}}`[^`]*\b{page}>?`", text):
            raise SolutionMarkupError(f"{where}: refers to the lecturers' page {page!r}, which the student edition "
                                      "leaves out; put the reference inside <!-- not-in-student-edition --> markers")
    return text


def student_notebook(path: Path) -> tuple[str, int]:
    """The notebook at ``path`` without its solutions (text and code cells), as JSON, and how many were removed."""
    notebook = nbformat.read(path, as_version=4)
    cells, inside, solutions = [], False, 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source, inside, found = strip_solutions(cell.source, inside, str(path.relative_to(ROOT)))
            cell.source = for_students(cell.source, str(path.relative_to(ROOT)))
            solutions += found
            if cell.source.strip():
                cells.append(cell)
        elif not inside:
            cells.append(cell)
    if inside:
        raise SolutionMarkupError(f"{path.relative_to(ROOT)}: a solution-start without its solution-end")
    notebook.cells = cells
    return nbformat.writes(notebook), solutions


def student_page(path: Path) -> tuple[str, int]:
    text, inside, solutions = strip_solutions(path.read_text(encoding="utf-8"), False, str(path.relative_to(ROOT)))
    if inside:
        raise SolutionMarkupError(f"{path.relative_to(ROOT)}: a solution-start without its solution-end")
    return for_students(text, str(path.relative_to(ROOT))), solutions


def _without(toc: dict, pages: tuple[str, ...]) -> dict:
    """The table of contents without the given pages (and without parts left empty)."""
    toc = dict(toc)
    for key in ("parts", "chapters", "sections"):
        if key in toc:
            entries = [_without(entry, pages) for entry in toc[key] if entry.get("file") not in pages]
            toc[key] = [e for e in entries if not ({"parts", "chapters"} & set(e)) or e.get("chapters") or e.get("parts")]
    return toc


def toc_files(toc: dict) -> list[str]:
    files = [toc["root"]]
    stack = [toc]
    while stack:
        entry = stack.pop()
        if "file" in entry and entry is not toc:
            files.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            stack.extend(reversed(entry.get(key, [])))
    return files


def _source_of(name: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{name}{suffix}").is_file():
            return ROOT / f"{name}{suffix}"
    raise FileNotFoundError(f"_toc.yml lists {name}, but neither {name}.ipynb nor {name}.md exists")


def student_sources() -> tuple[dict[Path, str | bytes], int]:
    """Every file of the student edition's source tree (relative path -> content), and the solutions removed."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = f"{config['title']} (student edition)"
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    toc = _without(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")), LECTURER_PAGES)
    files: dict[Path, str | bytes] = {Path("_config.yml"): yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                      Path("_toc.yml"): yaml.safe_dump(toc, sort_keys=False, allow_unicode=True)}
    for path in sorted((ROOT / "_static").rglob("*")):  # the book's stylesheet
        if path.is_file():
            files[path.relative_to(ROOT)] = path.read_bytes()
    for bib in config.get("bibtex_bibfiles", []):
        files[Path(bib)] = (ROOT / bib).read_bytes()
    for folder in set(config.get("sphinx", {}).get("local_extensions", {}).values()):
        for module in sorted((ROOT / folder).glob("*.py")):
            files[module.relative_to(ROOT)] = module.read_bytes()
    removed = 0
    for name in toc_files(toc):
        source = _source_of(name)
        text, solutions = student_notebook(source) if source.suffix == ".ipynb" else student_page(source)
        files[source.relative_to(ROOT)] = text
        removed += solutions
    return files, removed


def write_sources(files: dict[Path, str | bytes]) -> int:
    """Write the tree under SOURCE, touching only what changed (Sphinx rebuilds by modification time)."""
    changed = 0
    for relative, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        target = SOURCE / relative
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            changed += 1
    wanted = {SOURCE / relative for relative in files}
    for stale in [p for p in SOURCE.rglob("*") if p.is_file() and p not in wanted and "__pycache__" not in p.parts]:
        stale.unlink()
        changed += 1
    return changed


def main() -> int:
    from jupyter_book.sphinx import build_sphinx

    files, removed = student_sources()
    changed = write_sources(files)
    for page in LECTURER_PAGES:  # left by an earlier build, before the page was left out
        (OUTPUT / f"{page}.html").unlink(missing_ok=True)
    print(f"student edition: {removed} solutions removed; {changed} source file(s) updated in "
          f"{SOURCE.relative_to(ROOT)}", flush=True)
    if removed == 0:
        print("student edition: no solution found in the book; is the solution markup still "
              "{solution-start}/{solution-end}?", flush=True)
        return 1
    result = build_sphinx(SOURCE, OUTPUT, noconfig=True, path_config=str(SOURCE / "_config.yml"),
                          confoverrides={"external_toc_path": (SOURCE / "_toc.yml").as_posix(), "nitpicky": True,
                                         "latex_individualpages": False},
                          builder="html", warningiserror=True, keep_going=True)
    if isinstance(result, Exception):
        raise result
    if result:
        print("student edition: the build failed (warnings are errors); see above", flush=True)
        return 1
    print(f"Open {OUTPUT / 'index.html'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
