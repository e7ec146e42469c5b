"""Sphinx hook: write each script tag once per page.

sphinx-thebe (loaded by jupyter-book even with thebe off) registers its inline configuration
script, ``const THEBE_JS_URL = …``, in a build event that adds it both to Sphinx's registry
and to the HTML builder, once with filename None and once with "", which Sphinx 7.4 does not
see as equal. The tag then appears twice on every page and the
browser reports "Identifier 'THEBE_JS_URL' has already been declared". Dropping exact duplicates
(same file or body, same attributes) changes nothing else; tests/test_browser.py checks the console.
"""

from __future__ import annotations


def _key(script: object) -> tuple[str, tuple[tuple[str, str], ...]]:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # the same inline script comes as None and as ""
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def _unique(app, pagename, templatename, context, doctree) -> None:
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    unique = []
    for script in context.get("script_files", []):
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique, priority=900)
    return {"parallel_read_safe": True}
