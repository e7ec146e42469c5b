"""Sphinx hook for the PDF edition (``make pdf``): the HTML book's numbers, and exercise references that resolve.

- Chapters as in the HTML book: the pages before the first numbered chapter (the notation) get no
  number, the numbered chapters count from 1 as in the HTML, and the pages after them (the appendix,
  the back matter) are LaTeX appendices. Figures and equations, numbered by LaTeX per chapter, then
  carry the HTML book's numbers ("Fig. 3.2", "(2.1)").
- A reference to an exercise (``{ref}`ex-...```) becomes a link with the exercise's number as text.
  sphinx-exercise labels an exercise ``exercise:LABEL`` in LaTeX, while Sphinx's own reference asks
  LaTeX for ``\\ref{DOC:LABEL}``, which nothing defines: the PDF showed "Exercise ??".

Only the LaTeX builder is touched; the HTML book is built as before.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

# LaTeX inserted before a page's chapter heading
UNNUMBERED = r"\edef\lottobooksecnumdepth{\arabic{secnumdepth}}\setcounter{secnumdepth}{-1}"
FIRST_NUMBERED = r"\setcounter{secnumdepth}{\lottobooksecnumdepth}\setcounter{chapter}{0}"
AFTER_NUMBERED = r"\appendix"


class BookNumbering(SphinxPostTransform):
    """Number the PDF's chapters as the HTML book does (see the module's docstring)."""

    default_priority = 900
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        numbered_seen = appendix = False
        front = True
        for start in self.document.findall(addnodes.start_of_file):
            docname = start.get("docname")
            numbered = bool(self.env.toc_secnumbers.get(docname, {}).get(""))
            latex = None
            if not numbered and not numbered_seen and front:
                latex, front = UNNUMBERED, False
            elif numbered and not numbered_seen:
                latex, numbered_seen = (FIRST_NUMBERED if not front else r"\setcounter{chapter}{0}"), True
            elif not numbered and numbered_seen and not appendix:
                latex, appendix = AFTER_NUMBERED, True
            if latex:
                start.insert(0, nodes.raw("", latex + "\n", format="latex"))


class ExerciseReferences(SphinxPostTransform):
    """Point references to exercises at sphinx-exercise's LaTeX labels, with the number as text."""

    default_priority = 20  # after Sphinx resolved them (10)
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        from sphinx_exercise.nodes import exercise_latex_number_reference

        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for reference in list(self.document.findall(nodes.reference)):
            target = reference.get("refid") or reference.get("refuri", "").rpartition("#")[2]
            if target in registry and isinstance(reference, addnodes.number_reference | nodes.reference):
                replacement = exercise_latex_number_reference(refid=target)
                replacement += nodes.Text(reference.astext())
                reference.replace_self(replacement)


def setup(app):
    app.add_post_transform(BookNumbering)
    app.add_post_transform(ExerciseReferences)
    return {"parallel_read_safe": True}
