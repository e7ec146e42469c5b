r"""The HTML book in a real browser: every page of ``_build/html`` opened in headless Chromium.

Served on 127.0.0.1 only; every request to another host is aborted and counted as a failure.
For each page, at a 1280-pixel window, with every folded solution and hidden cell opened:

- no console error or uncaught exception, no request off the machine, no failed local request,
  every image loaded, every formula typeset by MathJax (served from the build), every widget cell
  followed by its static figure; every chapter but the appendix holds exercises with folded solutions;
- no code cell input or output (and no other code block) wider than the text column: the failure
  names the cell, its first line, and the first line that does not fit;
- no raw MyST markup left in the visible text (``{glue``, ``{ref}``, ``{py:``, ``{numref}``, ``{eq}``,
  ``{prf:``, ``{cite`` ...);
- no number written like ``8.1e+08`` or ``-0.00`` in running text (paragraphs, lists, tables,
  captions; code and its output are not running text);
- every figure sharp on a high-density screen: SVG, or a bitmap at least twice as wide as shown;
- every image drawn at its file's aspect ratio (within 1%), at 1280 pixels and at a narrow 800-pixel
  window (the same page, resized);
- no display equation wider than the column (a MathJax container that scrolls sideways, or a
  formula that sticks out);
- no raw LaTeX: no ``\command``, ``$``, ``x_i`` or ``^{`` in the running text outside typeset math, no
  tab or other control character in a formula's TeX, no MathJax error;
- no doubled label ("Exercise Exercise 11.1", "the exercise Exercise 3.1", "Figure Fig. 2").

The student edition (``_build/student/html``, ``make book-student``) has the same pages but the
lecturers' page ``teaching``, every exercise, and no solution: no solution block, and no piece of
solution text from the teacher edition in any of its pages or files; its landing page says that it
leaves out the solutions. Its pages pass the same checks of figures, equations, raw LaTeX and labels.

Screenshots go to ``test-artifacts/browser/``: chapter 1 (``00_lottery_tickets``) and its hero figure
``fig-pruned-block``, the one-weight chapter, chapter 5 (``04_deep_networks``), chapter 7
(``06_neuron_pruning``), the first screen of the landing page, and at 1280 pixels Fig. 3.2
(``fig-neuron-widget``, the unit disk) and chapter 11's key takeaways.

Needs the built book (``make test`` builds both editions first) and Debian's ``chromium``, which
``make browser`` installs (``make test`` runs it; reading and running the notebooks never needs it).
Without Chromium the test fails, unless LOTTOBOOK_SKIP_BROWSER=1 asks to skip it explicitly.
No assertion is about time; the timeouts are generous because the machine may
be busy.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STUDENT_HTML = ROOT / "_build" / "student" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def _pages(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.html")
                  if not p.relative_to(root).parts[0].startswith("_")) if root.is_dir() else []


PAGES = _pages(HTML)
STUDENT_PAGES = _pages(STUDENT_HTML)
TIMEOUT_MS = 180_000  # a limit for a stuck browser, not a speed requirement
# Logged by the theme on a first visit with no stored preference: harmless.
HARMLESS_CONSOLE = ("Got invalid theme mode",)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# MyST roles that a reader must never see as text.
RAW_MARKUP = re.compile(r"\{(?:glue|ref|numref|eq|doc|cite|term|download|math|abbr)[:}]|\{(?:py|prf|std):")
# Numbers as a program prints them, not as a book writes them.
SCIENTIFIC = re.compile(r"(?<![\w.])[-−+]?\d+(?:\.\d+)?[eE][-+]?\d+(?![\w.])")
NEGATIVE_ZERO = re.compile(r"(?<![\w.])[-−]0(?:\.0+)?(?!\.?\d)")
# A piece of a solution at least this long that appears nowhere else on its page is solution text.
SOLUTION_PIECE_MIN = 20

# Raw LaTeX in running text (math and code removed): a command, a dollar, a subscript or superscript.
RAW_LATEX = re.compile(r"\\[A-Za-z]+|\$|(?<![\w/.-])[A-Za-zα-ωΑ-Ω]_[{\w\\]|\^\{")
RAW_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+|\$")
# Pages generated from lottolib's docstrings, which write plain-text math (W_i, n_1) on purpose.
DOCSTRING_PAGES = {"api.html", "genindex.html", "py-modindex.html"}
# A formula's TeX with a tab or another control character (a "\t" from a Python string, say).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
# A label written twice: "Exercise Exercise 11.1", "the exercise Exercise 3.1", "Figure Fig. 2".
LABELS = {"exercise": "exercise", "figure": "figure", "fig.": "figure", "proposition": "proposition",
          "theorem": "theorem", "lemma": "lemma", "section": "section", "chapter": "chapter", "equation": "equation",
          "eq.": "equation", "table": "table", "definition": "definition", "corollary": "corollary", "remark": "remark",
          "algorithm": "algorithm", "appendix": "appendix"}
DOUBLED = re.compile(r"(?<![\w.])(" + "|".join(re.escape(w) for w in LABELS) + r")\s+(" +
                     "|".join(re.escape(w) for w in LABELS) + r")(?![\w])", re.I)
NARROW = 800  # the second window width at which figures are measured
ASPECT_TOLERANCE = 0.01

# Every folded solution, hidden input and dropdown opened, so that what they hold is measured too.
UNFOLD_JS = """() => {
    document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
    document.querySelectorAll('details').forEach(d => { d.open = true; });
}"""

# Code that does not fit the text column: cell inputs and outputs, and any other code block.
# For each offending cell: the element that scrolls or sticks out, by how much, and its lines that
# are too wide (measured with the element's own font).
OVERFLOW_JS = """() => {
    const article = document.querySelector('article.bd-article') ?? document.body;
    const style = getComputedStyle(article);
    const columnRight = article.getBoundingClientRect().right - parseFloat(style.paddingRight);
    const ctx = document.createElement('canvas').getContext('2d');
    const cells = [...article.querySelectorAll('div.cell')];
    const units = [];
    cells.forEach((cell, index) => {
        cell.querySelectorAll(':scope > .cell_input, :scope > .cell_output, :scope > details > .cell_input,'
                              + ':scope > details > .cell_output')
            .forEach(part => units.push({part, cell, index,
                kind: part.classList.contains('cell_input') ? 'input' : 'output'}));
    });
    article.querySelectorAll('pre').forEach(pre => {
        if (!pre.closest('div.cell, .cell_output')) units.push({part: pre, cell: null, index: -1, kind: 'code block'});
    });
    article.querySelectorAll('.cell_output').forEach(part => {  // glued outputs outside a cell
        if (!part.closest('div.cell')) units.push({part, cell: null, index: -1, kind: 'glued output'});
    });
    const tooWide = (pre) => {
        const ps = getComputedStyle(pre);
        ctx.font = `${ps.fontStyle} ${ps.fontWeight} ${ps.fontSize} ${ps.fontFamily}`;
        const room = pre.clientWidth - parseFloat(ps.paddingLeft) - parseFloat(ps.paddingRight);
        return pre.textContent.replace(/\\n$/, '').split('\\n')
            .map(line => ({line, excess: Math.round(ctx.measureText(line).width - room)}))
            .filter(l => l.excess > 0);
    };
    const found = [];
    for (const {part, cell, index, kind} of units) {
        // formulas (MathJax's hidden assistive copy scrolls) and the caption's link icon are not code
        const elements = [part, ...part.querySelectorAll('*')].filter(e => !e.closest('mjx-container, .math, a.headerlink'));
        let excess = 0, culprit = null;
        for (const e of elements) {
            const box = e.getBoundingClientRect();
            const scrolls = e.clientWidth > 0 ? e.scrollWidth - e.clientWidth : 0;
            const sticksOut = box.width > 0 ? box.right - columnRight : 0;
            const by = Math.max(scrolls, sticksOut);
            if (by > 1 && by > excess) { excess = by; culprit = culprit ?? e; }
        }
        if (!culprit) continue;
        const pres = part.matches("pre") ? [part] : [...part.querySelectorAll("pre")];
        const lines = pres.flatMap(tooWide);
        const source = (cell ?? part).querySelector('.cell_input pre') ?? part.querySelector('pre') ?? part;
        found.push({
            cell: index + 1, kind,
            head: source.textContent.split('\\n').find(l => l.trim()) ?? '',
            element: culprit.tagName.toLowerCase() + [...culprit.classList].slice(0, 2).map(c => '.' + c).join(''),
            excess: Math.round(excess),
            lines: lines.length, widest: Math.max(0, ...lines.map(l => l.excess)),
            first: lines[0]?.line ?? '',
        });
    }
    return found;
}"""

# Running text: the innermost prose blocks outside code cells, without code, math or nested blocks.
PROSE_JS = """() => {
    const article = document.querySelector('article.bd-article') ?? document.body;
    const blocks = 'p, li, dd, dt, td, th, figcaption, caption, h1, h2, h3, h4, h5, h6';
    return [...article.querySelectorAll(blocks)]
        .filter(e => !e.closest('div.cell, .cell_output, pre, .highlight, .sig'))
        .map(e => {
            const copy = e.cloneNode(true);
            copy.querySelectorAll(blocks).forEach(x => x.remove());
            copy.querySelectorAll('pre, .math, mjx-container, script, style').forEach(x => x.remove());
            copy.querySelectorAll('code').forEach(x => x.closest('.pasted-text, .pasted-inline') || x.remove());
            return copy.textContent.replace(/[ \\n\\r]+/g, ' ').trim();  // a tab stays: it is raw source
        })
        .filter(text => text);
}"""

# Every image shown with its natural and displayed size; SVG is sharp at any size.
IMAGES_JS = """() => [...(document.querySelector('article.bd-article') ?? document.body).querySelectorAll('img')]
    .filter(i => i.getBoundingClientRect().width > 0 && i.naturalWidth > 0)
    .map(i => ({src: i.getAttribute('src'), figure: i.closest('.cell_output, figure') !== null,
                natural: i.naturalWidth, naturalHeight: i.naturalHeight,
                shown: i.getBoundingClientRect().width, shownHeight: i.getBoundingClientRect().height,
                svg: /\\.svg([?#].*)?$/i.test(i.src) || i.src.startsWith('data:image/svg')}))"""

# Display equations wider than the column: the MathJax container scrolls, or the formula sticks out of
# the column (or of the box, a proof or an exercise, that holds it). With the TeX, to say which one.
EQUATIONS_JS = """() => {
    const article = document.querySelector('article.bd-article') ?? document.body;
    const style = getComputedStyle(article);
    const columnRight = article.getBoundingClientRect().right - parseFloat(style.paddingRight);
    const tex = new Map();
    for (const item of (window.MathJax?.startup?.document?.math ?? [])) {
        if (item.typesetRoot) tex.set(item.typesetRoot, item.math);
    }
    return [...article.querySelectorAll('mjx-container[display="true"]')].map(c => {
        const formula = c.querySelector('mjx-math') ?? c;
        const box = formula.getBoundingClientRect();
        const scrolls = c.scrollWidth - c.clientWidth;
        return {excess: Math.round(Math.max(scrolls, box.right - columnRight)), width: Math.round(box.width),
                room: Math.round(c.clientWidth), tex: (tex.get(c) ?? c.textContent).trim().slice(0, 100)};
    }).filter(e => e.excess > 1);
}"""

# Every formula's TeX (to find control characters) and the number of MathJax errors.
TEX_JS = """() => ({tex: [...(window.MathJax?.startup?.document?.math ?? [])].map(item => item.math),
                  errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80))})"""

# Two animation frames: the layout after a resize has been computed and painted.
SETTLE_JS = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server():
    with _serve(HTML) as url:
        yield url


@pytest.fixture(scope="module")
def student_server():
    with _serve(STUDENT_HTML) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        if os.environ.get("LOTTOBOOK_SKIP_BROWSER") == "1":
            pytest.skip("LOTTOBOOK_SKIP_BROWSER=1")
        pytest.fail("Debian's chromium is not installed: run `make browser` as root (or `apt-get install chromium`), "
                    "or set LOTTOBOOK_SKIP_BROWSER=1 to skip the browser test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
                                              timeout=TIMEOUT_MS)
        yield launched
        launched.close()


def test_book_is_built():
    assert (HTML / "index.html").is_file(), "no _build/html: run `make book` first (make test does)"
    assert {"index.html", "api.html", "chapters/01_one_weight.html"} <= set(PAGES)


def _visit(browser, url: str, scale: int = 1) -> tuple[object, dict[str, list[str]]]:
    problems: dict[str, list[str]] = {"console": [], "offsite": [], "failed": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=scale)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)

    def route(route, request):
        if urlparse(request.url).hostname == "127.0.0.1" or request.url.startswith("data:"):
            route.continue_()
        else:
            problems["offsite"].append(request.url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error"
            and not any(h in message.text for h in HARMLESS_CONSOLE) and problems["console"].append(message.text))
    page.on("pageerror", lambda error: problems["console"].append(f"uncaught: {error}"))
    page.on("response", lambda response: response.status >= 400 and problems["failed"].append(
        f"{response.status} {response.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


def _typeset(page) -> bool:
    """Wait for MathJax to finish, if the page has math; True if it has."""
    if page.evaluate("document.querySelectorAll('.math').length") == 0:
        return False
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")
    return True


def _inspect(browser, url: str) -> dict:
    """Everything the checks need from one page, measured in one visit."""
    page, problems = _visit(browser, url)
    try:
        report: dict = dict(problems)
        report["has_math"] = _typeset(page)
        report["mjx"] = page.locator("mjx-container").count()
        report["untypeset"] = page.evaluate(
            "[...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))"
            ".map(e => e.textContent.slice(0, 60))")
        report["broken"] = page.evaluate(
            "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        report["widget_twins"] = page.evaluate("""[...document.querySelectorAll('div.cell')]
            .filter(c => /_explorer\\(/.test(c.querySelector('.cell_input')?.textContent ?? ''))
            .map(c => {
                const next = c.nextElementSibling;
                return next && next.matches('div.cell') && next.querySelector('.cell_output img') !== null;
            })""")
        report["widget_state"] = page.locator(
            ".jupyter-widgets, script[type='application/vnd.jupyter.widget-view+json']").count()
        report["exercises"] = page.locator("div.exercise").count()
        report["solution_dropdowns"] = page.locator("div.solution.dropdown").count()
        report["solution_blocks"] = page.evaluate(
            "[...document.querySelectorAll('[class*=solution]')].map(e => e.className)")
        page.evaluate(UNFOLD_JS)
        report["overflow"] = page.evaluate(OVERFLOW_JS)
        report["text"] = page.evaluate("document.body.innerText")
        report["prose"] = page.evaluate(PROSE_JS)
        report["images"] = page.evaluate(IMAGES_JS)
        report["equations"] = page.evaluate(EQUATIONS_JS)
        report["tex"] = page.evaluate(TEX_JS)
        page.set_viewport_size({"width": NARROW, "height": 900})
        page.evaluate(SETTLE_JS)
        report["images_narrow"] = page.evaluate(IMAGES_JS)
        return report
    finally:
        page.context.close()


_REPORTS: dict[str, dict] = {}


def _report(browser, url: str) -> dict:
    if url not in _REPORTS:
        _REPORTS[url] = _inspect(browser, url)
    return _REPORTS[url]


def _overflow_problems(report: dict) -> list[str]:
    return [f"{'cell ' + str(o['cell']) if o['cell'] > 0 else 'a'} {o['kind']} (starting {o['head'].strip()[:70]!r}): "
            f"{o['element']} is {o['excess']} px too wide; {o['lines']} line(s) do not fit, by up to {o['widest']} px, "
            f"the first: {o['first'][:100]!r}" for o in report["overflow"]]


def _markup_problems(report: dict) -> list[str]:
    text = report["text"]
    return [repr(text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")) for m in RAW_MARKUP.finditer(text)]


def _number_problems(report: dict) -> list[str]:
    return [f"{m.group()!r} in {text[max(0, m.start() - 60):m.end() + 40]!r}"
            for text in report["prose"] for pattern in (SCIENTIFIC, NEGATIVE_ZERO) for m in pattern.finditer(text)]


def _blurry_images(report: dict) -> list[str]:
    return [f"{Path(i['src']).name}: {i['natural']} px wide shown at {i['shown']:.0f} px"
            for i in report["images"] if i["figure"] and not i["svg"] and i["natural"] < 2 * i["shown"] - 1]


def _distorted_images(report: dict) -> list[str]:
    problems = []
    for width, images in ((1280, report["images"]), (NARROW, report["images_narrow"])):
        for i in images:
            natural, shown = i["natural"] / i["naturalHeight"], i["shown"] / i["shownHeight"]
            if abs(shown / natural - 1) > ASPECT_TOLERANCE:
                drawn = f"{i['shown']:.0f}×{i['shownHeight']:.0f} (aspect {shown:.3f})"
                problems.append(f"{Path(i['src']).name} at a {width}-px window: drawn {drawn}, "
                                f"its file is {i['natural']}×{i['naturalHeight']} ({natural:.3f})")
    return problems


def _wide_equations(report: dict) -> list[str]:
    return [f"{e['width']} px wide in {e['room']} px, {e['excess']} px too wide: {e['tex']!r}" for e in report["equations"]]


def _raw_latex(report: dict, docstrings: bool = False) -> list[str]:
    """Raw LaTeX in the running text; in docstrings (the API pages) ``x_i`` is their plain-text math, not LaTeX."""
    pattern = RAW_LATEX_COMMAND if docstrings else RAW_LATEX
    problems = [f"{m.group()!r} in {text[max(0, m.start() - 50):m.end() + 30]!r}"
                for text in report["prose"] for m in pattern.finditer(text)]
    problems += [f"a tab in the text {text[:80]!r}" for text in report["prose"] if "\t" in text]
    problems += [f"a control character in the formula {tex[:80]!r}" for tex in report["tex"]["tex"] if CONTROL.search(tex)]
    problems += [f"MathJax error {error!r}" for error in report["tex"]["errors"]]
    return problems


def _doubled_labels(report: dict) -> list[str]:
    return [f"{m.group()!r} in {text[max(0, m.start() - 40):m.end() + 40]!r}"
            for text in report["prose"] for m in DOUBLED.finditer(text)
            if LABELS[m.group(1).lower()] == LABELS[m.group(2).lower()]]


# Both editions: the checks of how a page is drawn and written.
EDITIONS = [("book", name) for name in PAGES] + [("student", name) for name in STUDENT_PAGES]


@pytest.fixture(scope="module")
def servers(server, student_server) -> dict[str, str]:
    return {"book": server, "student": student_server}


@pytest.mark.parametrize(("edition", "name"), EDITIONS)
def test_figures_keep_their_aspect_ratio(browser, servers, edition, name):
    problems = _distorted_images(_report(browser, f"{servers[edition]}/{name}"))
    assert not problems, f"{name} ({edition}): images drawn at another aspect ratio than their file: " + "; ".join(problems)


@pytest.mark.parametrize(("edition", "name"), EDITIONS)
def test_equations_fit_the_column(browser, servers, edition, name):
    problems = _wide_equations(_report(browser, f"{servers[edition]}/{name}"))
    assert not problems, f"{name} ({edition}): display equations wider than the column:\n" + "\n".join(problems)


@pytest.mark.parametrize(("edition", "name"), EDITIONS)
def test_no_raw_latex_in_the_text(browser, servers, edition, name):
    problems = _raw_latex(_report(browser, f"{servers[edition]}/{name}"), docstrings=name in DOCSTRING_PAGES)
    assert not problems, f"{name} ({edition}): raw LaTeX in the page: " + "; ".join(problems)


@pytest.mark.parametrize(("edition", "name"), EDITIONS)
def test_no_doubled_labels(browser, servers, edition, name):
    problems = _doubled_labels(_report(browser, f"{servers[edition]}/{name}"))
    assert not problems, f"{name} ({edition}): a label written twice: " + "; ".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_page(browser, server, name):
    report = _report(browser, f"{server}/{name}")
    if report["has_math"]:
        assert report["mjx"] > 0, f"{name}: MathJax typeset nothing"
        assert not report["untypeset"], f"{name}: formulas left as text: {report['untypeset'][:5]}"
    assert not report["console"], f"{name}: console errors {report['console']}"
    assert not report["offsite"], f"{name}: requests off the machine {report['offsite']}"
    assert not report["failed"], f"{name}: failed requests {report['failed']}"
    assert not report["broken"], f"{name}: images not loaded {report['broken']}"
    assert all(report["widget_twins"]), f"{name}: a widget cell without its static figure after it"
    assert report["widget_state"] == 0
    if name.startswith("chapters/") and not name.startswith("chapters/13_performance"):
        assert report["exercises"] >= 2, f"{name}: fewer than two exercises"
        assert report["solution_dropdowns"] == report["exercises"]


@pytest.mark.parametrize("name", PAGES)
def test_code_fits_the_text_column(browser, server, name):
    """At a 1280-pixel window no code cell input or output scrolls sideways or sticks out of the column."""
    problems = _overflow_problems(_report(browser, f"{server}/{name}"))
    assert not problems, f"{name}: {len(problems)} code cell(s) wider than the text column:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_no_raw_markup_in_the_text(browser, server, name):
    problems = _markup_problems(_report(browser, f"{server}/{name}"))
    assert not problems, f"{name}: raw markup in the page: " + "; ".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_numbers_in_running_text_are_written_for_readers(browser, server, name):
    problems = _number_problems(_report(browser, f"{server}/{name}"))
    assert not problems, f"{name}: numbers like 8.1e+08 or -0.00 in the text: " + "; ".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_figures_are_sharp_on_high_density_screens(browser, server, name):
    problems = _blurry_images(_report(browser, f"{server}/{name}"))
    assert not problems, f"{name}: figures not sharp on a 2x screen (use SVG or retina PNG): " + "; ".join(problems)


# A page in the book's structure, clean or with one of each problem: the checks pass on the clean one
# and find every problem, where it is, on the other (so a failure above is the page, not the check).
_FIXTURE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; font: 16px sans-serif; }}
article.bd-article {{ width: 640px; padding: 0 20px; }}
pre {{ overflow: auto; font: 14px monospace; padding: 8px; margin: 0; }}
img {{ max-width: 100%; }}
mjx-container[display="true"] {{ display: block; overflow-x: auto; }}
mjx-math {{ display: inline-block; }}
</style></head><body><article class="bd-article">
<p>A clean paragraph: the error is {number} with a {markup} and 0.5 and <code>1e-08</code> in code.</p>
<ul><li>A list item, 300 times wider, −0.5 and 10<sup>8</sup>, {latex}, as {label} shows.</li></ul>
<mjx-container display="true"><mjx-math style="width: {equation}px">x</mjx-math></mjx-container>
<figure><img src="wide.png" style="{squash}"></figure>
<div class="cell"><div class="cell_input"><div class="highlight"><pre>x = 1
{line}
y = 2</pre></div></div>
<div class="cell_output"><div class="output"><pre>-0.00 1e+08 in an output is not running text</pre></div>
<figure><img src="figure.png" width="{shown}"></figure></div></div>
</article></body></html>"""


def test_checks_pass_on_a_clean_page_and_fail_on_a_dirty_one(browser, tmp_path):
    from PIL import Image

    Image.new("RGB", (400, 200), "white").save(tmp_path / "figure.png")
    Image.new("RGB", (1700, 600), "white").save(tmp_path / "wide.png")
    clean = {"number": "0.0081", "markup": "link", "line": "z = 3  # short", "shown": 200, "latex": "x₁ and α",
             "label": "Exercise 11.1", "equation": 300, "squash": "width: 850px; height: auto"}
    dirty = {"number": "8.1e+08 or -0.00", "markup": "{ref}`one-weight` and {glue:text}`k`",
             "line": "print('a line far too long for the column', " + "'x' * 40, " * 12 + ")", "shown": 400,
             "latex": "c\\prod_{i} a_i, $k$ and η_e\timg", "label": "the exercise Exercise 3.1 and Fig. Figure 2",
             "equation": 900, "squash": "width: 850px; height: 306px"}
    for name, values in (("clean", clean), ("dirty", dirty)):
        (tmp_path / f"{name}.html").write_text(_FIXTURE.format(**values))
    with _serve(tmp_path) as url:
        good, bad = _inspect(browser, f"{url}/clean.html"), _inspect(browser, f"{url}/dirty.html")
    for report in (good, bad):
        assert not report["console"] and not report["failed"] and not report["broken"]
    assert (_overflow_problems(good), _markup_problems(good), _number_problems(good), _blurry_images(good)) == (
        [], [], [], [])
    assert (_distorted_images(good), _wide_equations(good), _raw_latex(good), _doubled_labels(good)) == ([], [], [], [])
    assert len(_distorted_images(bad)) == 2, "squashed at both window widths"
    [wide] = _wide_equations(bad)
    assert "px too wide" in wide
    raw = _raw_latex(bad)
    assert [p.split(" in ")[0] for p in raw if not p.startswith("a tab")] == ["'\\\\prod'", "'a_i'", "'$'", "'$'", "'η_e'"]
    assert sum(p.startswith("a tab") for p in raw) == 1
    assert [p.split(" in ")[0] for p in _doubled_labels(bad)] == ["'exercise Exercise'", "'Fig. Figure'"]
    [overflow] = bad["overflow"]
    assert (overflow["cell"], overflow["kind"], overflow["head"], overflow["lines"]) == (1, "input", "x = 1", 1)
    assert overflow["first"] == dirty["line"] and overflow["excess"] > 100
    assert len(_markup_problems(bad)) == 2
    assert [p.split(" in ")[0] for p in _number_problems(bad)] == ["'8.1e+08'", "'-0.00'"]
    assert len(_blurry_images(bad)) == 1


def test_solutions_are_folded_until_clicked(browser, server):
    page, problems = _visit(browser, f"{server}/chapters/01_one_weight.html")
    assert page.locator("div.cell.tag_remove-output").count() >= 1
    solutions = page.locator("div.solution.dropdown")
    assert solutions.count() == 3
    body = solutions.first.locator(".admonition-title ~ *").first
    assert not body.is_visible()
    solutions.first.locator(".admonition-title").click()
    assert body.is_visible()
    assert not problems["console"] and not problems["offsite"]
    page.context.close()


@pytest.mark.parametrize(("name", "full_page"), [("chapters/00_lottery_tickets.html", True),
                                                 ("chapters/01_one_weight.html", True),
                                                 ("chapters/04_deep_networks.html", True),
                                                 ("chapters/06_neuron_pruning.html", True),
                                                 ("intro.html", False)])
def test_screenshot(browser, server, name, full_page):
    """Chapters 1, 2, 5 and 7 of the book's numbering whole, and the first screen of the landing page."""
    page, problems = _visit(browser, f"{server}/{name}")
    _typeset(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{Path(name).stem}.png"
    page.screenshot(path=path, full_page=full_page)
    assert path.stat().st_size > 50_000 and not problems["console"]
    page.context.close()


@pytest.mark.parametrize(("name", "selector", "shot"), [
    ("chapters/02_one_neuron.html", "#fig-neuron-widget", "fig-3.2_fig-neuron-widget.png"),
    ("chapters/10_residual.html", "#key-takeaways", "chapter-11_key-takeaways.png")])
def test_element_screenshot(browser, server, name, selector, shot):
    """At 1280 pixels: Fig. 3.2 (the unit disk must be round) and chapter 11's key takeaways."""
    page, problems = _visit(browser, f"{server}/{name}")
    _typeset(page)
    element = page.locator(selector)
    assert element.count() == 1, f"{name} has no {selector}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    element.screenshot(path=ARTIFACTS / shot)
    assert (ARTIFACTS / shot).stat().st_size > 10_000 and not problems["console"]
    page.context.close()


def test_hero_figure_screenshot(browser, server):
    """The figure that opens chapter 1, alone (``fig-pruned-block``), as a high-density (2x) screen shows it."""
    page, problems = _visit(browser, f"{server}/chapters/00_lottery_tickets.html", scale=2)
    _typeset(page)
    figure = page.locator("#fig-pruned-block")
    assert figure.count() == 1, "chapter 1 has no figure named fig-pruned-block"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "hero_fig-pruned-block.png"
    figure.screenshot(path=path)
    assert path.stat().st_size > 10_000 and not problems["console"]
    page.context.close()


# The student edition: the same book, every exercise, no solution.

def _normalise(text: str) -> str:
    return " ".join(text.split())


@functools.cache
def _teacher_page(name: str) -> tuple[int, tuple[str, ...], str]:
    """A teacher page's number of exercises, the pieces of its solutions, and its text without them."""
    soup = BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")
    exercises = len(soup.select("div.exercise"))
    pieces = set()
    for solution in soup.select("div.solution"):
        for pre in solution.select("pre"):
            pieces.update(_normalise(line) for line in pre.get_text().splitlines())
        for block in solution.select("p, li"):
            pieces.add(_normalise(block.get_text()))
        solution.decompose()
    return exercises, tuple(sorted(p for p in pieces if len(p) >= SOLUTION_PIECE_MIN)), _normalise(soup.get_text())


def _teacher_solutions(name: str) -> tuple[int, tuple[str, ...]]:
    """The number of exercises on a teacher page, and the pieces of its solutions found nowhere else on it."""
    exercises, pieces, rest = _teacher_page(name)
    return exercises, tuple(p for p in pieces if p not in rest)


@functools.cache
def _solution_pieces() -> dict[str, str]:
    """Every piece of solution text in the teacher edition that appears on no page outside a solution."""
    rest = " | ".join(_teacher_page(name)[2] for name in PAGES)
    return {piece: name for name in PAGES for piece in _teacher_page(name)[1] if piece not in rest}


def _file_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        return _normalise(BeautifulSoup(raw, "html.parser").get_text())
    if path.suffix == ".ipynb":
        cells = json.loads(raw).get("cells", [])
        return _normalise("\n".join("".join(c.get("source", "")) for c in cells))
    return _normalise(raw)


LECTURER_PAGES = ["syllabus.html", "teaching.html"]  # the lecture plan; how hidden tests work, grading: main edition only


def test_student_edition_is_built():
    assert (STUDENT_HTML / "index.html").is_file(), "no _build/student/html: run `make book-student` (make test does)"
    assert set(LECTURER_PAGES) <= set(PAGES)
    assert STUDENT_PAGES == [p for p in PAGES if p not in LECTURER_PAGES], "the teacher edition's pages but the lecturers'"
    assert len(_solution_pieces()) > 50, "the teacher edition holds the solutions"


def test_the_student_edition_says_it_leaves_out_the_solutions(browser, student_server, server):
    """Its landing page says so where the main edition mentions folded solutions; no page explains hidden tests."""
    student = _normalise(_report(browser, f"{student_server}/intro.html")["text"])
    teacher = _normalise(_report(browser, f"{server}/intro.html")["text"])
    assert "folded solutions" in teacher and "folded solutions" not in student
    assert "student edition" in student and "not the worked solutions" in student
    assert "student edition" not in teacher
    for name in STUDENT_PAGES:
        text = _file_text(STUDENT_HTML / name).lower()
        assert "hidden test" not in text and "autograder" not in text, f"{name} (student edition) explains the grading"
    assert not (STUDENT_HTML / "downloads" / "lottobook-source.tar.gz").exists(), "the source holds the solutions"


def _student_problems(report: dict, name: str) -> list[str]:
    """What a page of the student edition must not show: solution blocks, titles or text; missing exercises."""
    exercises, pieces = _teacher_solutions(name) if (HTML / name).is_file() else (0, ())
    shown = _normalise(report["text"])
    problems = [f"{report['exercises']} exercises, the teacher edition has {exercises}"] * (report["exercises"] != exercises)
    problems += [f"solution block {cls!r}" for cls in report["solution_blocks"][:5]]
    problems += [f"a title {title!r}" for title in re.findall(r"^\s*Solution\b.*$", report["text"], flags=re.M)[:5]]
    problems += [f"solution text {piece[:80]!r}" for piece in pieces if piece in shown][:10]
    return problems


@pytest.mark.parametrize("name", STUDENT_PAGES)
def test_student_page_has_the_exercises_and_no_solution(browser, student_server, name):
    report = _report(browser, f"{student_server}/{name}")
    problems = _student_problems(report, name)
    assert not problems, f"{name} (student edition): " + "; ".join(problems)
    assert not report["console"] and not report["offsite"] and not report["failed"] and not report["broken"]


def test_the_student_checks_fail_on_the_teacher_edition(browser, server):
    """The same checks on a teacher page find its solutions: they can fail."""
    problems = _student_problems(_report(browser, f"{server}/chapters/01_one_weight.html"), "chapters/01_one_weight.html")
    assert any(p.startswith("solution block") for p in problems)
    assert any(p.startswith("a title") for p in problems)
    assert any(p.startswith("solution text") for p in problems)


def _leaks(root: Path) -> list[str]:
    pieces = _solution_pieces()
    assert pieces
    leaks = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()
                       and p.suffix in {".html", ".ipynb", ".md", ".txt", ".js", ".json"}):
        text = _file_text(path)
        leaks += [f"{path.relative_to(root)}: {piece[:80]!r} (from {name})"
                  for piece, name in pieces.items() if piece in text]
    return leaks


def test_no_file_of_the_student_edition_holds_solution_text():
    """Not the pages only: the notebooks behind them (``_sources``), the search index, everything."""
    leaks = _leaks(STUDENT_HTML)
    assert not leaks, f"{len(leaks)} solution piece(s) in the student edition:\n" + "\n".join(leaks[:20])
    teacher = _leaks(HTML / "chapters")
    assert len(teacher) >= len(_solution_pieces()), "the same scan finds every piece in the teacher edition"
