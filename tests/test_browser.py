"""The HTML book in a real browser: every page of ``_build/html`` opened in headless Chromium.

Served on 127.0.0.1 only; every request to another host is aborted and counted as a failure.
For each page: no console error or uncaught exception, no request off the machine, no failed
local request, every image loaded, every formula typeset by MathJax (served from the build),
and every widget cell followed by its static figure; chapters 1-6 hold exercises with folded
solutions. Full-page screenshots of chapter 1 (``00_lottery_tickets``) and of the one-weight
chapter, and a first-screen screenshot of the landing page, are saved to ``test-artifacts/browser/``.

Needs the built book (``make test`` builds it first) and Debian's ``chromium``, which
``make browser`` installs (``make test`` runs it; reading and running the notebooks never needs it).
Without Chromium the test fails, unless LOTTOBOOK_SKIP_BROWSER=1 asks to skip it explicitly.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PAGES = sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
               if not p.relative_to(HTML).parts[0].startswith("_")) if HTML.is_dir() else []
# Logged by the theme on a first visit with no stored preference: harmless.
HARMLESS_CONSOLE = ("Got invalid theme mode",)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


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
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def test_book_is_built():
    assert (HTML / "index.html").is_file(), "no _build/html: run `make book` first (make test does)"
    assert {"index.html", "api.html", "chapters/01_one_weight.html"} <= set(PAGES)


def _visit(browser, url: str) -> tuple[object, dict[str, list[str]]]:
    problems: dict[str, list[str]] = {"console": [], "offsite": [], "failed": []}
    context = browser.new_context(viewport={"width": 1280, "height": 900})

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


@pytest.mark.parametrize("name", PAGES)
def test_page(browser, server, name):
    page, problems = _visit(browser, f"{server}/{name}")
    has_math = page.evaluate("document.querySelectorAll('.math').length") > 0
    if has_math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        page.evaluate("MathJax.startup.promise")
        untypeset = page.evaluate(
            "[...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))"
            ".map(e => e.textContent.slice(0, 60))")
        assert page.locator("mjx-container").count() > 0, f"{name}: MathJax typeset nothing"
        assert not untypeset, f"{name}: formulas left as text: {untypeset[:5]}"
    broken = page.evaluate(
        "[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    widget_cells = page.evaluate("""[...document.querySelectorAll('div.cell')]
        .filter(c => /_explorer\\(/.test(c.querySelector('.cell_input')?.textContent ?? ''))
        .map(c => {
            const next = c.nextElementSibling;
            return next && next.matches('div.cell') && next.querySelector('.cell_output img') !== null;
        })""")
    assert not problems["console"], f"{name}: console errors {problems['console']}"
    assert not problems["offsite"], f"{name}: requests off the machine {problems['offsite']}"
    assert not problems["failed"], f"{name}: failed requests {problems['failed']}"
    assert not broken, f"{name}: images not loaded {broken}"
    assert all(widget_cells), f"{name}: a widget cell without its static figure after it"
    assert page.locator(".jupyter-widgets, script[type='application/vnd.jupyter.widget-view+json']").count() == 0
    if name.startswith(tuple(f"chapters/0{i}" for i in range(6))):
        assert page.locator("div.exercise").count() >= 2, f"{name}: fewer than two exercises"
        assert page.locator("div.solution.dropdown").count() == page.locator("div.exercise").count()
    page.context.close()


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
                                                 ("chapters/01_one_weight.html", True), ("intro.html", False)])
def test_screenshot(browser, server, name, full_page):
    """Chapter 1 of the book's numbering (00_lottery_tickets), the one-weight chapter, the landing page."""
    page, problems = _visit(browser, f"{server}/{name}")
    page.evaluate("window.MathJax?.startup?.promise")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{Path(name).stem}.png"
    page.screenshot(path=path, full_page=full_page)
    assert path.stat().st_size > 50_000 and not problems["console"]
    page.context.close()
