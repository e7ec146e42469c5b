"""A reader with only the HTML book can install the library and run the notebooks.

The book build (``make book``; ``make test`` builds it first) writes the lottolib wheel and a zip of
the chapter notebooks under ``_build/html/downloads/``, and the page "Run it yourself" links to them.
Here the built book is served on 127.0.0.1, the links on that page are followed, and the wheel is
installed from the served book into a fresh virtual environment (no system site-packages, nothing
from this repository), in which a chapter notebook from the served zip is executed. pip resolves
the dependencies from the package registry (the repository's requirements.txt serves as
constraints, so the versions are the tested ones and the machine's cache is reused).
"""

from __future__ import annotations

import functools
import io
import re
import subprocess
import sys
import threading
import urllib.request
import venv
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "scripts"))

from book_downloads import FOLDER, NOTEBOOKS_ZIP  # noqa: E402
from build_wheel import wheel_name  # noqa: E402

CHAPTER = "00_lottery_tickets.ipynb"

pytestmark = pytest.mark.skipif(not (HTML / "index.html").is_file(), reason="no built book: run `make book` first")


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


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200, url
        return response.read()


@pytest.fixture(scope="module")
def links(server) -> dict[str, str]:
    """The download links of the page "Run it yourself", as absolute URLs, by file name."""
    page = _get(f"{server}/run_it_yourself.html").decode()
    hrefs = re.findall(r'href="(downloads/[^"#?]+)"', page)
    return {href.rsplit("/", 1)[1]: f"{server}/{href}" for href in hrefs}


def test_the_page_links_the_wheel_and_the_notebooks(links):
    assert set(links) == {wheel_name(), NOTEBOOKS_ZIP}, "the page names another file than the build writes"


def test_the_notebooks_zip_holds_every_chapter_and_what_it_reads(links):
    archive = zipfile.ZipFile(io.BytesIO(_get(links[NOTEBOOKS_ZIP])))
    names = set(archive.namelist())
    chapters = {f"{FOLDER}/chapters/{path.name}" for path in (ROOT / "chapters").glob("*.ipynb")}
    assert chapters and chapters <= names
    assert {f"{FOLDER}/bench/results.json", f"{FOLDER}/requirements.txt", f"{FOLDER}/README.txt",
            f"{FOLDER}/{wheel_name()}"} <= names
    requirements = archive.read(f"{FOLDER}/requirements.txt").decode().split()
    assert "torch==2.13.0" in requirements and f"./{wheel_name()}" in requirements
    # every file a chapter opens by a relative path is in the zip, at the same place
    for chapter in (ROOT / "chapters").glob("*.ipynb"):
        for relative in re.findall(r'Path\(\\?"(\.\./[^"\\]+)\\?"\)', chapter.read_text()):
            opened = ROOT / relative.removeprefix("../")
            for path in sorted(opened.glob("*.json")) if opened.is_dir() else [opened]:
                assert f"{FOLDER}/{path.relative_to(ROOT)}" in names, (chapter.name, path)
    assert {f"{FOLDER}/bench/{path.name}" for path in (ROOT / "bench").glob("*.json")} <= names


def test_every_chapter_page_links_to_run_it_yourself():
    pages = sorted((HTML / "chapters").glob("*.html"))
    assert pages
    for page in pages:
        link = r'<a class="btn btn-sm lottobook-run-it" href="\.\./run_it_yourself\.html"'
        assert re.search(link, page.read_text()), f"{page.name}: no link to run_it_yourself in the header"
    assert 'href="run_it_yourself.html' in (HTML / "intro.html").read_text(), "the landing page links to it"


def _pip(python: Path, *arguments: str, cwd: Path) -> None:
    command = [str(python), "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
               "-c", str(ROOT / "requirements.txt"), *arguments]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"pip install failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_the_served_wheel_runs_a_chapter_in_a_fresh_environment(links, tmp_path):
    environment = tmp_path / "reader"
    venv.create(environment, with_pip=True, system_site_packages=False)
    python = environment / "bin" / "python"
    archive = zipfile.ZipFile(io.BytesIO(_get(links[NOTEBOOKS_ZIP])))
    archive.extractall(tmp_path)
    folder = tmp_path / FOLDER
    # the zip's requirements.txt, with its wheel taken from the served book instead of the folder
    requirements = [line for line in (folder / "requirements.txt").read_text().split() if not line.endswith(".whl")]
    _pip(python, links[wheel_name()], *requirements, "ipykernel", "nbclient", cwd=tmp_path)

    where = subprocess.run([str(python), "-c", "import lottolib, torch; print(lottolib.__file__, torch.__version__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split()
    assert Path(where[0]).is_relative_to(environment), f"lottolib came from {where[0]}, not the fresh environment"
    assert where[1].startswith("2.13.0")

    notebook = folder / "chapters" / CHAPTER
    run = ("import nbformat, sys\nfrom nbclient import NotebookClient\n"
           "nb = nbformat.read(sys.argv[1], as_version=4)\n"
           "client = NotebookClient(nb, timeout=300, kernel_name='python3',\n"
           "                        resources={'metadata': {'path': sys.argv[2]}})\n"
           "client.execute()\n"
           "nbformat.write(nb, sys.argv[1])\n")
    done = subprocess.run([str(python), "-c", run, str(notebook), str(notebook.parent)], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = nbformat.read(notebook, as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    assert not [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for cell in code for output in cell.outputs)
