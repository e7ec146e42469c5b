"""Sphinx hooks: ship the library with the book, and link every page to "Run it yourself".

- After a successful HTML build, write ``downloads/`` into the output: the lottolib wheel,
  ``lottobook-notebooks.zip`` (its chapters written out for JupyterLab with the references that
  ``_ext/lab_references.py`` recorded) and, for the main edition, ``lottobook-source.tar.gz``
  (see ``scripts/book_downloads.py``), which the page ``run_it_yourself`` links to. A reader
  with only the HTML can then install the library the notebooks import, and a lecturer get the
  repository. The student edition (sources under ``_build/student/src``) ships no source: it
  holds the solutions.
- Add the template ``_templates/run-it-yourself.html`` (a "Run it yourself" link) to the article
  header of every page, before the theme's download and full-screen buttons (styled by
  ``_static/lottobook.css``, which jupyter-book links into every page). It is rendered with
  ``pathto``, so the link is relative and works offline and under any URL prefix.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

HEADER_ITEM = "run-it-yourself.html"


def _project_root() -> Path:
    """The repository: the nearest folder above this file with pyproject.toml and lottolib/.

    That is the parent of ``_ext/`` for the book, and four levels up for the student edition,
    whose sources (this file included) are copied to ``_build/student/src``.
    """
    here = Path(__file__).resolve().parent
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file() and (folder / "lottolib").is_dir():
            return folder
    raise RuntimeError(f"no repository (pyproject.toml and lottolib/) above {here}")


ROOT = _project_root()


def _header(app, config) -> None:
    templates = str(ROOT / "_templates")
    if templates not in config.templates_path:
        config.templates_path.append(templates)
    options = dict(config.html_theme_options or {})
    end = options.get("article_header_end", ["article-header-buttons.html"])
    end = [item.strip() for item in end.split(",")] if isinstance(end, str) else list(end)
    if HEADER_ITEM not in end:
        options["article_header_end"] = [HEADER_ITEM, *end]
    config.html_theme_options = options


def _downloads(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    from book_downloads import write_downloads
    from lab_references import references_file

    references = json.loads(references_file(app.outdir).read_text(encoding="utf-8"))
    main_edition = Path(app.srcdir).resolve() == ROOT
    for path in write_downloads(Path(app.outdir) / "downloads", chapters_dir=Path(app.srcdir) / "chapters",
                                references=references, source=main_edition):
        LOGGER.info(f"downloads: {path.relative_to(app.outdir)}")


def setup(app):
    app.connect("config-inited", _header)
    app.connect("build-finished", _downloads)
    return {"parallel_read_safe": True}
