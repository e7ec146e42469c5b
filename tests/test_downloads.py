"""A reader with only the HTML book can install the library and run the notebooks; a lecturer gets the source.

The book build (``make book``; ``make test`` builds it first) writes the lottolib wheel, a zip of the
chapter notebooks and the source archive under ``_build/html/downloads/`` (``make pdf`` adds the
PDF), and the page "Run it yourself" links to them. Here the built book is served on 127.0.0.1, the
links on that page are followed, and the wheel is installed from the served book into a fresh
virtual environment (no system site-packages, nothing from this repository) with the zip's
requirements, in which nbval (strict) runs chapter 1 and every chapter that imports more than the
core (SubsetSum's LeNet, residual networks, the tight certificate's cvxpy and Clarabel) from the
served zip: they run there and give the stored outputs. pip resolves the
dependencies from the package registry (the repository's requirements.txt serves as constraints,
so the versions are the tested ones and the machine's cache is reused).

Every third-party module a chapter imports (its code cells), or lottolib imports (also inside a
function, and the solvers it names), must be declared where the reader installs from: lottolib's
dependencies in pyproject.toml, or the zip's requirements.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import io
import re
import subprocess
import sys
import tarfile
import threading
import tomllib
import urllib.request
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "scripts"))

import fresh_environment  # noqa: E402
from book_downloads import EXTRA, FOLDER, NOTEBOOKS_ZIP, SOURCE_ARCHIVE, SOURCE_FOLDER  # noqa: E402
from build_wheel import wheel_name  # noqa: E402

# Chapter 1, and the chapters that need more than the core: SubsetSum and LeNet (9), residual networks
# (11), the tight certificate with cvxpy and Clarabel (12). The Makefile names them (READER_CHAPTERS):
# make test's own nbval run leaves them to this test, which runs nbval on them in the reader's environment.
CHAPTERS = re.search(r"^READER_CHAPTERS := (.+)$", (ROOT / "Makefile").read_text(), flags=re.M)[1].split()
PDF = "lottobook.pdf"

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


def test_the_page_links_the_wheel_the_notebooks_the_pdf_and_the_source(links):
    expected = {wheel_name(), NOTEBOOKS_ZIP, PDF, SOURCE_ARCHIVE}
    assert set(links) == expected, "the page names another file than the build writes"


def test_the_landing_page_links_the_pdf_and_the_source():
    landing = (HTML / "intro.html").read_text()
    assert f'href="downloads/{PDF}"' in landing and f'href="downloads/{SOURCE_ARCHIVE}"' in landing


def test_the_source_archive_holds_what_a_lecturer_runs(links, tmp_path):
    """make assignments and make grade need the Makefile, lottolib, the chapters and the assignments' sources."""
    archive = tarfile.open(fileobj=io.BytesIO(_get(links[SOURCE_ARCHIVE])), mode="r:gz")
    archive.extractall(tmp_path, filter="data")
    source = tmp_path / SOURCE_FOLDER
    for name in ("Makefile", "pyproject.toml", "requirements.txt", "lottolib/__init__.py", "scripts/make_assignments.py",
                 "scripts/grade.py", "assignments/source/answer_checks.py", "_toc.yml", "_config.yml"):
        assert (source / name).is_file(), f"{SOURCE_ARCHIVE} has no {name}"
    for chapter in (ROOT / "chapters").glob("*.ipynb"):
        assert (source / "chapters" / chapter.name).is_file()
        assert (source / "chapters" / "source" / f"{chapter.stem}.md").is_file()
    assignments = {p.name for p in (ROOT / "assignments" / "source").glob("*.md")}
    assert assignments and assignments == {p.name for p in (source / "assignments" / "source").glob("*.md")}
    assert not any(part in {".git", ".venv", "_build", "lab", "grades"} for p in source.rglob("*") for part in p.parts)
    assert (source / ".ci" / "run").stat().st_mode & 0o100, "executable files stay executable"
    plan = subprocess.run(["make", "-n", "-C", str(source), "assignments"], capture_output=True, text=True, check=False)
    assert plan.returncode == 0 and "make_assignments.py" in plan.stdout, plan.stderr


def test_the_pdf_is_served(links):
    assert _get(links[PDF])[:5] == b"%PDF-", "make pdf copies the PDF edition into the book's downloads"


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


def test_the_script_run_by_hand_zips_the_chapters_as_the_book_build_does(tmp_path):
    """scripts/book_downloads.py writes the chapters out with the last HTML build's references, as the build does."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "book_downloads.py"), str(tmp_path)], check=True,
                   capture_output=True)

    def chapters(archive: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(archive) as zipped:
            return {name: zipped.read(name) for name in zipped.namelist() if name.endswith(".ipynb")}

    by_hand, served = chapters(tmp_path / NOTEBOOKS_ZIP), chapters(HTML / "downloads" / NOTEBOOKS_ZIP)
    assert by_hand and by_hand == served
    sources = [cell.source for text in by_hand.values() for cell in nbformat.reads(text.decode(), as_version=4).cells]
    assert not any(re.search(r"\{(?:ref|numref|prf:ref|glue:text)\}`", source) for source in sources)


def test_every_chapter_page_links_to_run_it_yourself():
    pages = sorted((HTML / "chapters").glob("*.html"))
    assert pages
    for page in pages:
        link = r'<a class="btn btn-sm lottobook-run-it" href="\.\./run_it_yourself\.html"'
        assert re.search(link, page.read_text()), f"{page.name}: no link to run_it_yourself in the header"
    assert 'href="run_it_yourself.html' in (HTML / "intro.html").read_text(), "the landing page links to it"


@pytest.fixture(scope="module")
def reader(links, tmp_path_factory):
    """A fresh environment with the served wheel and the zip's requirements, and the unpacked zip."""
    where = tmp_path_factory.mktemp("reader")
    python = fresh_environment.create(where / "venv")
    zipfile.ZipFile(io.BytesIO(_get(links[NOTEBOOKS_ZIP]))).extractall(where)
    folder = where / FOLDER
    # the zip's requirements.txt, with its wheel taken from the served book instead of the folder
    requirements = [line for line in (folder / "requirements.txt").read_text().split() if not line.endswith(".whl")]
    fresh_environment.pip_install(python, links[wheel_name()], *requirements, "ipykernel", "pytest", "nbval", cwd=where)
    return python, folder


def test_a_failed_install_shows_pips_error_and_the_free_space(tmp_path):
    """The install tests fail with pip's own error, not the one warning per package that a missing index
    gives on some machines, and say how much disk is left (an environment with torch takes about 2 GB)."""
    with pytest.raises(AssertionError) as failed:
        fresh_environment.pip_install(Path(sys.executable), "--dry-run", "lottobook-no-such-package", cwd=tmp_path)
    message = str(failed.value)
    assert "No matching distribution found for lottobook-no-such-package" in message, message
    assert re.search(r"\d+\.\d GiB free where it installs", message) and "is ignored" not in message, message


def test_the_served_wheel_installs_in_a_fresh_environment(reader):
    python, folder = reader
    where = subprocess.run([str(python), "-c", "import lottolib, torch, cvxpy; print(lottolib.__file__, torch.__version__, "
                            "'CLARABEL' in cvxpy.installed_solvers())"],
                           cwd=folder, capture_output=True, text=True, check=True).stdout.split()
    assert Path(where[0]).is_relative_to(python.parent.parent), f"lottolib came from {where[0]}, not the fresh environment"
    assert where[1].startswith("2.13.0") and where[2] == "True", where


def test_the_reader_chapters_are_chapters_and_make_test_leaves_them_here():
    assert {"00_lottery_tickets", "08_subset_sum", "10_residual", "11_certificates"} <= set(CHAPTERS)
    assert all((ROOT / "chapters" / f"{chapter}.ipynb").is_file() for chapter in CHAPTERS)
    plan = subprocess.run(["make", "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, check=False).stdout
    (nbval,) = [line for line in plan.splitlines() if "--nbval chapters" in line]
    assert all(f"--ignore=chapters/{chapter}.ipynb" in nbval for chapter in CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_runs_in_the_fresh_environment_as_stored(reader, chapter):
    """nbval (strict, as make test runs it) on the chapter from the served zip, in the reader's environment."""
    python, folder = reader
    environment = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONHASHSEED": "0",
                   "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PATH": str(python.parent), "HOME": str(folder)}
    done = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
                           f"chapters/{chapter}.ipynb"], cwd=folder, capture_output=True, text=True, check=False,
                          env=environment)
    assert done.returncode == 0, f"{chapter} in the reader's environment differs from the book:\n{done.stdout[-4000:]}"
    assert re.search(r"\d+ passed", done.stdout) and " failed" not in done.stdout


# Every third-party module a chapter or lottolib imports is declared where the reader installs from.

def _imports(code: str) -> set[str]:
    """Top-level modules imported by ``code`` anywhere (also inside functions); IPython magics are skipped."""
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m not in {"lottolib", "__future__"}}


def chapter_modules(notebook: Path) -> set[str]:
    """The third-party modules a chapter's code cells import."""
    cells = nbformat.read(notebook, as_version=4).cells
    return _third_party(set().union(*(_imports(c.source) for c in cells if c.cell_type == "code")))


def library_modules(root: Path = ROOT) -> set[str]:
    """The third-party modules lottolib imports, lazily too, and the solvers it asks cvxpy for by name."""
    modules = set()
    for path in sorted((root / "lottolib").glob("*.py")):
        text = path.read_text()
        modules |= _imports(text) | {name.lower() for name in re.findall(r"solver\s*=\s*[\"']([A-Z]+)[\"']", text)}
    return _third_party(modules)


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.cache
def _distribution(module: str) -> str:
    names = _module_distributions().get(module)
    assert names, f"no installed distribution provides the module {module!r}"
    return re.sub(r"[-_.]+", "-", names[0]).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r)[0]).lower() for r in requirements}


def test_every_module_the_chapters_import_is_declared():
    library = _declared(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    reader = library | _declared(list(EXTRA))
    missing = {f"lottolib imports {m} ({_distribution(m)})" for m in library_modules() if _distribution(m) not in library}
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        missing |= {f"{notebook.stem} imports {m} ({_distribution(m)})" for m in chapter_modules(notebook)
                    if _distribution(m) not in reader}
    assert not missing, "not in pyproject.toml's dependencies or the zip's requirements: " + "; ".join(sorted(missing))


def test_the_import_scan_finds_lazy_imports_and_solvers(tmp_path):
    (tmp_path / "lottolib").mkdir()
    (tmp_path / "lottolib" / "x.py").write_text(
        "import json\nfrom . import y\n\ndef f():\n    import cvxpy as cp\n    from sklearn.datasets import load_digits\n"
        "    return cp.Problem(None).solve(solver=\"CLARABEL\")\n")
    assert library_modules(tmp_path) == {"cvxpy", "sklearn", "clarabel"}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\nimport torch, math\n"
                                                                         "from myst_nb import glue")])
    nbformat.write(notebook, tmp_path / "c.ipynb")
    assert chapter_modules(tmp_path / "c.ipynb") == {"torch", "myst_nb"}
