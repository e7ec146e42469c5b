"""Sphinx hook: record the text the book shows for every cross-reference, for the JupyterLab copies.

In JupyterLab a chapter is one notebook: ``{ref}`one-layer``` or ``{prf:ref}`prop-layer``` there
cannot know the book's titles and numbers. After an HTML build this writes, next to the output
folder, ``lab-references.json`` (``_build/lab-references.json`` for the book)::

    {"prf:ref:prop-layer": "Proposition 4.1", "ref:one-layer": "One layer", "eq:eq-pair-output": "(2.2)",
     "cite:t:malach2020proving": "Malach et al. (2020)", "chapter:chapters/03_one_layer": "4", ...}

Each text is what Sphinx itself resolves the reference to: every page's doctree is post-transformed
again (as when it is written) with each pending reference wrapped in a marker, and the marker's text
is read after resolution. Math in a title is kept as ``$…$``. ``scripts/readable_notebook.py`` uses
the file to write the copies that ``make lab`` opens and that the notebooks zip holds.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from docutils.nodes import make_id
from sphinx import addnodes
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
FILENAME = "lab-references.json"
# (domain, type) of a pending reference -> the MyST role that wrote it
ROLE_NAMES = {("std", "ref"): "ref", ("std", "numref"): "numref", ("std", "doc"): "doc", ("math", "eq"): "eq",
              ("math", "numref"): "numref", ("prf", "ref"): "prf:ref", ("cite", "t"): "cite:t", ("cite", "p"): "cite:p"}


class _Marker(nodes.inline):
    """Wraps one pending reference while it is resolved, carrying its ``role:target`` key."""


def references_file(outdir: str | Path) -> Path:
    """Where the build writes the references: beside its output folder."""
    return Path(outdir).parent / FILENAME


def _markdown(node: nodes.Node) -> str:
    if isinstance(node, nodes.math):
        return f"${node.astext()}$"
    if isinstance(node, nodes.Text):
        return node.astext()
    return "".join(_markdown(child) for child in node.children)


def _page_references(app, docname: str) -> dict[str, str]:
    env = app.env
    doctree = env.get_doctree(docname)
    markers = []
    for xref in list(doctree.findall(addnodes.pending_xref)):
        role = ROLE_NAMES.get((xref.get("refdomain", "std") or "std", xref.get("reftype")))
        if role is None or (xref.get("refexplicit") and role != "eq"):
            continue
        marker = _Marker(key=f"{role}:{xref['reftarget']}")
        xref.replace_self(marker)
        marker += xref
        markers.append(marker)
    if not markers:
        return {}
    env.apply_post_transforms(doctree, docname)
    return {marker["key"]: " ".join(_markdown(marker).split()) for marker in markers
            if not marker.next_node(addnodes.pending_xref) and marker.astext().strip()}


def reference_texts(app) -> dict[str, str]:
    """``role:target`` -> the book's text for every reference in the book, and each page's chapter number."""
    env = app.env
    texts: dict[str, str] = {}
    for docname in sorted(env.found_docs):
        texts.update(_page_references(app, docname))
        number = env.toc_secnumbers.get(docname, {}).get("")
        if number:
            texts[f"chapter:{docname}"] = ".".join(map(str, number))
    math = env.get_domain("math")
    for label, (docname, _) in math.equations.items():  # labelled equations no page refers to
        numbers = env.toc_fignumbers.get(docname, {}).get("displaymath", {}).get(make_id(f"equation-{label}"))
        if numbers and f"eq:{label}" not in texts:
            texts[f"eq:{label}"] = env.config.math_eqref_format.format(number=".".join(map(str, numbers)))
    return dict(sorted(texts.items()))


def _write(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    path = references_file(app.outdir)
    path.write_text(json.dumps(reference_texts(app), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    LOGGER.info(f"lab references: {path}")


def setup(app):
    app.connect("build-finished", _write, priority=400)  # before _ext/downloads.py, which reads the file
    return {"parallel_read_safe": True}
