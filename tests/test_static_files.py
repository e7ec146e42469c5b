"""_ext/static_files.py: a changed stylesheet rebuilds every page, and nothing else does.

A template such as sphinx-copybutton's ``copybutton.js_t`` is rendered by Sphinx into a file of
another name, so it never has a copy in the output; counting it as changed made every ``make book``
(and ``make test``, which builds the book again) re-read all pages.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("static_files", ROOT / "_ext" / "static_files.py")
assert _spec is not None and _spec.loader is not None
static_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(static_files)


def _app(tmp_path: Path) -> SimpleNamespace:
    source, theme = tmp_path / "_static", tmp_path / "theme_static"
    source.mkdir()
    theme.mkdir()
    (source / "book.css").write_text("body { color: black; }")
    (theme / "copybutton.js_t").write_text("const x = {{ value }};")
    out = tmp_path / "html" / "_static"
    out.mkdir(parents=True)
    (out / "book.css").write_text("body { color: black; }")
    (out / "copybutton.js").write_text("const x = 1;")
    config = SimpleNamespace(html_static_path=["_static", str(theme)])
    return SimpleNamespace(confdir=str(tmp_path), outdir=str(tmp_path / "html"), config=config)


def test_an_unchanged_book_with_a_template_has_no_changed_static_file(tmp_path):
    assert static_files._changed_static_files(_app(tmp_path)) == []


def test_an_edited_stylesheet_is_a_changed_static_file(tmp_path):
    app = _app(tmp_path)
    (tmp_path / "_static" / "book.css").write_text("body { color: red; }")
    assert static_files._changed_static_files(app) == [tmp_path / "_static" / "book.css"]


def test_a_new_static_file_marks_every_other_page_outdated(tmp_path):
    app = _app(tmp_path)
    (tmp_path / "_static" / "extra.css").write_text("p { margin: 0; }")
    app.builder = SimpleNamespace(format="html")
    env = SimpleNamespace(found_docs={"intro", "chapters/a", "chapters/b"})
    assert static_files._outdated(app, env, added={"chapters/b"}, changed=set(), removed=set()) == [
        "chapters/a",
        "intro",
    ]
