"""Sphinx hook: a changed stylesheet rebuilds the pages.

Sphinx copies ``_static/`` into the output only when it writes at least one page, and each page
links its stylesheet with a checksum (``lottobook.css?v=…``). An edit to ``_static/lottobook.css``
alone left every page out of date with "no targets are out of date". Here, if any file of
``html_static_path`` differs from its copy in the output, every page is marked outdated, so the
new file is copied and linked (a full rewrite, as for a changed template). Templates (``*_t``, which
Sphinx renders into a file of another name, such as sphinx-copybutton's ``copybutton.js_t``) have no
copy to compare with and are skipped: they change only with their package, and a new package version
already rebuilds every page.
"""

from __future__ import annotations

from pathlib import Path


def _changed_static_files(app) -> list[Path]:
    changed = []
    for folder in app.config.html_static_path:
        source = Path(app.confdir, folder)
        for path in sorted(source.rglob("*")) if source.is_dir() else []:
            copy = Path(app.outdir, "_static", path.relative_to(source))
            if not path.is_file() or path.name.endswith("_t"):
                continue
            if not copy.is_file() or copy.read_bytes() != path.read_bytes():
                changed.append(path)
    return changed


def _outdated(app, env, added, changed, removed) -> list[str]:
    if app.builder.format != "html" or not _changed_static_files(app):
        return []
    return sorted(env.found_docs - added - changed)


def setup(app):
    app.connect("env-get-outdated", _outdated)
    return {"parallel_read_safe": True}
