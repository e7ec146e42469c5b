"""A chapter as a reader opens it in JupyterLab: glued numbers and cross-references written out.

The chapters are MyST notebooks built by Sphinx. JupyterLab, with the jupyterlab-myst extension,
renders their directives (propositions, proofs, exercises, figures) but not what only the whole
book knows: ``{glue:text}`` numbers computed by the page's own cells, references to other pages
(``{ref}``, ``{prf:ref}``, ``{numref}``, ``{eq}``), citations and API links. This module writes a
copy in which each such role is replaced by the text the book shows for it:

- ``{glue:text}`key``` (and ``{glue}``) by the value the notebook stored when it was executed
  (formatted as myst-nb formats it, ``key:spec`` included);
- ``{ref}``, ``{numref}``, ``{prf:ref}``, ``{eq}``, ``{cite:t}``, ``{cite:p}``, ``{doc}`` by the text the
  built book gives the same reference (``references``, written by the book build, see
  ``_ext/lab_references.py``), e.g. "Proposition 5.1", "Fig. 3.2", "(2.1)", "Malach et al. (2020)";
- ``{py:func}`` and the other API roles by the name as inline code;
- numbered equations (``{math}`` with ``:label:``) get the book's number as ``\\tag{…}``, and a
  front matter block numbers propositions, exercises and figures as the book does ("Proposition
  12.1"), so the copy reads like the page.

Code cells and outputs are kept as they are: the copy runs exactly like the original.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

import nbformat

# A MyST role: {name}`content`, e.g. {glue:text}`hero_k`, {prf:ref}`prop-layer`.
ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]*)`")
# Roles whose text the built book decides (numbers, titles, author-year).
BOOK_ROLES = ("ref", "numref", "prf:ref", "eq", "cite:t", "cite:p", "doc")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
MATH_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{math\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$", re.S | re.M)
LABEL_OPTION = re.compile(r"^:label:\s*(?P<label>\S+)\s*$", re.M)


class UnresolvedRole(LookupError):
    """A role the copy cannot write out: no stored glue value, or no text from the built book."""


def glue_texts(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Every value the notebook glued (``myst_nb.glue``), as its stored ``text/plain``, by name."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap is None:
                continue
            text = output.get("data", {}).get(scrap.get("mime_prefix", "") + "text/plain")
            if text is not None:
                values[scrap["name"]] = "".join(text) if isinstance(text, list) else text
    return values


def _glue(content: str, glued: Mapping[str, str], where: str) -> str:
    from myst_nb.core.variables import format_plain_text

    key, _, spec = content.partition(":")
    if key not in glued:
        raise UnresolvedRole(f"{where}: no stored value glued as {key!r}; re-execute the notebook (make notebooks)")
    return format_plain_text(glued[key], spec or "s")


def _api_name(role: str, content: str) -> str:
    explicit = EXPLICIT.match(content)
    if explicit:
        return f"`{explicit['text']}`"
    target = content.removeprefix("~")
    name = target.rsplit(".", 1)[-1] if content.startswith("~") else target
    return f"`{name}()`" if role in ("py:func", "py:meth") else f"`{name}`"


def readable_markdown(source: str, glued: Mapping[str, str], references: Mapping[str, str], where: str) -> str:
    """``source`` (a markdown cell) with every glue, reference, citation and API role written out.

    Raises
    ------
    UnresolvedRole
        For a glue name the notebook did not store, or a reference the built book did not resolve.
    """

    def replace(match: re.Match) -> str:
        role, content = match["role"], match["content"]
        if role in ("glue", "glue:text"):
            return _glue(content, glued, where)
        if role.startswith("py:"):
            return _api_name(role, content)
        if role in BOOK_ROLES:
            explicit = EXPLICIT.match(content)
            if explicit and "{" not in explicit["text"] and role != "eq":
                return explicit["text"]
            key = f"{role}:{explicit['target'] if explicit else content}"
            if key not in references:
                raise UnresolvedRole(f"{where}: the book gives no text for {match.group()} (build it: make book)")
            return references[key]
        return match.group()

    return ROLE.sub(replace, source)


def _tag_equations(source: str, references: Mapping[str, str]) -> str:
    """Give each labelled ``{math}`` directive the book's number, as ``\\tag{…}``."""

    def tag(match: re.Match) -> str:
        label = LABEL_OPTION.search(match["body"])
        number = references.get(f"eq:{label['label']}", "") if label else ""
        if not number:
            return match.group()
        body = match["body"].rstrip("\n") + f"\n\\tag{{{number.strip('()')}}}\n"
        return match.group().replace(match["body"], body, 1)

    return MATH_DIRECTIVE.sub(tag, source)


def front_matter(chapter: int | None) -> str:
    """The jupyterlab-myst front matter that numbers a chapter's objects as the book does.

    Equations are not numbered by it: the book numbers only labelled ones, which carry their
    number as ``\\tag``.
    """
    enumerator = f'  enumerator: "{chapter}.%s"\n' if chapter is not None else ""
    return f"---\nnumbering:\n{enumerator}  equation: false\n---\n"


def readable_notebook(notebook: nbformat.NotebookNode, references: Mapping[str, str], docname: str
                      ) -> nbformat.NotebookNode:
    """A copy of ``notebook`` (the page ``docname``, e.g. ``chapters/02_one_neuron``) that reads in JupyterLab.

    ``references`` maps ``role:target`` (``prf:ref:prop-layer``, ``eq:eq-pair-output``, ...) to
    the book's text and ``chapter:DOCNAME`` to the page's chapter number.
    """
    readable = copy.deepcopy(notebook)
    # As JupyterLab's kernel names itself, and without the pairing with the MyST source (which the copy
    # does not have): opening the copy then changes nothing, and JupyterLab does not mark it modified.
    if "kernelspec" in readable.metadata:
        readable.metadata.kernelspec.display_name = "Python 3 (ipykernel)"
    readable.metadata.get("jupytext", {}).pop("text_representation", None)
    glued = glue_texts(notebook)
    number = references.get(f"chapter:{docname}")
    first = True
    for index, cell in enumerate(readable.cells):
        if cell.cell_type != "markdown":
            continue
        source = readable_markdown(cell.source, glued, references, f"{docname} cell {index + 1}")
        source = _tag_equations(source, references)
        if first:
            source = front_matter(int(number) if number else None) + source
            first = False
        cell.source = source
    return readable
