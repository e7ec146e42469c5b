"""The PDF edition (``make pdf``): the whole book, every chapter, figure, formula and exercise, nothing unresolved.

``make pdf`` builds ``_build/pdf/_build/latex/lottobook.pdf`` with jupyter-book's LaTeX builder (xelatex) and
copies it to ``_build/html/downloads/lottobook.pdf``; ``make test`` runs it first. The PDF is read
back with poppler's ``pdfinfo`` and ``pdftotext`` (which ``make pdf`` installs with TeX) and checked:

- a sane number of pages, and every page of the table of contents, chapters included, under its title;
- every figure of the HTML book included in the LaTeX source, every exercise and numbered equation
  present (as many as in the HTML book), no "??" (an unresolved reference) in the text;
- LaTeX's log: no undefined reference or citation, no missing character, and no overfull line in
  code (every code line and output is wrapped to the page; a prose line a few points too long is
  LaTeX's business, not ours).

Where TeX cannot be installed, LOTTOBOOK_SKIP_PDF=1 skips these tests explicitly.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from build_student_edition import toc_files  # noqa: E402

LATEX = ROOT / "_build" / "pdf" / "_build" / "latex"
PDF = LATEX / "lottobook.pdf"
HTML = ROOT / "_build" / "html"
PAGES_RANGE = (130, 400)  # the book has 171 pages; far outside this, something is missing or broken

if os.environ.get("LOTTOBOOK_SKIP_PDF") == "1":
    pytest.skip("LOTTOBOOK_SKIP_PDF=1", allow_module_level=True)


def _toc_pages() -> list[str]:
    return toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))


def _title(page: str) -> str:
    source = ROOT / "chapters" / "source" / f"{Path(page).name}.md" if page.startswith("chapters/") else ROOT / f"{page}.md"
    return next(line[2:].strip() for line in source.read_text().splitlines() if line.startswith("# "))


@functools.cache
def _text() -> str:
    assert PDF.is_file(), f"no {PDF.relative_to(ROOT)}: run `make pdf` (make test does)"
    assert shutil.which("pdftotext"), "pdftotext is missing: `make tex` installs poppler-utils"
    return subprocess.run(["pdftotext", "-layout", str(PDF), "-"], capture_output=True, text=True, check=True).stdout


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split())


def test_the_pdf_has_a_sane_number_of_pages():
    _text()
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, flags=re.M)[1])
    assert PAGES_RANGE[0] <= pages <= PAGES_RANGE[1], f"{pages} pages"


def test_every_chapter_title_is_in_the_pdf():
    text = _normal(_text())
    missing = [f"{page}: {_title(page)!r}" for page in _toc_pages() if _normal(_title(page)) not in text]
    assert not missing, f"titles not in the PDF: {missing}"


def test_no_unresolved_reference_in_the_text():
    lines = [line.strip() for line in _text().splitlines() if "??" in line]
    assert not lines, f"'??' in the PDF: {lines[:5]}"


def _html_select(selector: str) -> list:
    return [element for path in sorted((HTML / "chapters").glob("*.html"))
            for element in BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").select(selector)]


def _html_count(selector: str) -> int:
    return len(_html_select(selector))


def test_every_figure_exercise_and_numbered_equation_is_in_the_pdf():
    assert (HTML / "index.html").is_file(), "no HTML book to compare with: run `make book`"
    tex = (LATEX / "lottobook.tex").read_text(encoding="utf-8")
    figures = re.findall(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{?([^}]+?)\}?\}", tex)
    assert len(figures) == _html_count("div.cell_output img, figure img") > 10, "every figure of the HTML book"
    assert all((LATEX / f"{name}").is_file() or list(LATEX.glob(f"{name}.*")) for name in figures)
    titles = [title.get_text() for title in _html_select("div.exercise .admonition-title")]
    html_exercises = {number for title in titles for number in re.findall(r"Exercise (\d+\.\d+)", title)}
    assert len(html_exercises) == _html_count("div.exercise") > 20
    missing = html_exercises - set(re.findall(r"Exercise (\d+\.\d+)", _text()))
    assert not missing, f"exercises not in the PDF, or numbered otherwise than in the HTML book: {sorted(missing)}"
    numbered = len(re.findall(r"\\label\{equation:", tex))
    assert numbered == _html_count("span.eqno") > 0, "every numbered equation"


@functools.cache
def _log() -> str:
    return (LATEX / "lottobook.log").read_text(encoding="utf-8", errors="replace")


def test_the_log_has_no_undefined_reference_or_missing_character():
    problems = [line for line in _log().splitlines()
                if re.search(r"(Reference|Citation) .* undefined|There were undefined references|Missing character", line)]
    assert not problems, f"{len(problems)} problem(s) in lottobook.log: {problems[:10]}"


def _code_lines(tex: list[str]) -> set[int]:
    """The line numbers (from 1) of lottobook.tex inside Sphinx's code environments (cell inputs, outputs, code blocks)."""
    inside, lines = False, set()
    for number, line in enumerate(tex, start=1):
        if re.match(r"\\begin\{sphinx(Verbatim|alltt)\}", line):
            inside = True
        if inside:
            lines.add(number)
        if re.match(r"\\end\{sphinx(Verbatim|alltt)\}", line):
            inside = False
    return lines


def _overfull_code(log: str, tex: list[str]) -> list[str]:
    """Overfull lines that LaTeX reports while setting code in lottobook.tex (before it reads the index)."""
    body = log.split("lottobook.ind", 1)[0]
    code = _code_lines(tex)
    found = []
    for match in re.finditer(r"^Overfull \\hbox \(([\d.]+)pt too wide\) (?:in paragraph at lines (\d+)--(\d+)|"
                             r"detected at line (\d+))\n(.*)$", body, flags=re.M):
        start = int(match[2] or match[4])
        end = int(match[3] or match[4])
        if code & set(range(start, end + 1)):
            found.append(f"{match[1]}pt at line {start}: {tex[start - 1].strip()[:100]}")
    return found


def test_no_code_line_runs_off_the_page():
    """An overfull box while LaTeX sets code or an output (Sphinx's Verbatim) is a line too long for the page."""
    tex = (LATEX / "lottobook.tex").read_text(encoding="utf-8").splitlines()
    problems = _overfull_code(_log(), tex)
    assert not problems, f"{len(problems)} code line(s) wider than the page: {problems[:10]}"


def test_the_overfull_check_finds_a_code_line():
    tex = ["\\begin{document}", "\\begin{sphinxVerbatim}", "x = 1", "\\end{sphinxVerbatim}", "text"]
    log = ("Overfull \\hbox (12.0pt too wide) in paragraph at lines 5--5\n[]\\TU/FreeSerif text\n"
           "Overfull \\hbox (48.6pt too wide) detected at line 3\n[]\\TU/FreeMono x = 1\n")
    assert _overfull_code(log, tex) == ["48.6pt at line 3: x = 1"]
