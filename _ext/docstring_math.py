"""Sphinx hook: let lottolib's plain-text math (|w|, ‖x‖) through reStructuredText unharmed.

The docstrings write absolute values as ``|w|``, which reStructuredText would read as a
substitution reference. This escapes every ``|`` outside inline literals before autodoc parses it.
"""

from __future__ import annotations

import re

_LITERAL = re.compile(r"(``.*?``)")


def _escape_bars(line: str) -> str:
    parts = _LITERAL.split(line)
    return "".join(part if part.startswith("``") else part.replace("|", r"\|") for part in parts)


def _process(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = [_escape_bars(line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _process)
    return {"parallel_read_safe": True}
