"""A griffe extension for the API reference: doctests become code blocks, Sphinx roles code spans.

xdnn's docstrings put short ``>>>`` examples wherever they fit, not only in an ``Examples``
section. Markdown would read ``>>>`` as nested block quotes and ``[1.0][2]`` in the printed output
as a link, so each run of doctest lines (from a ``>>>`` line to the next blank line) is wrapped in
a ```` ```pycon ```` fence before mkdocstrings renders the docstring. Sphinx cross-reference roles
(``:class:`xdnn.Network` ``, ``:func:`~xdnn.load` ``) become code spans (`` `xdnn.Network` ``,
`` `load` ``). The docstrings themselves, and the doctests pytest runs from them, stay as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_DONE = "_xdnn_doctests_fenced"
_ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """``text`` with each Sphinx role written as a code span (``~`` keeps the last name only)."""
    return _ROLE.sub(lambda match: f"`{match[2].rsplit('.', 1)[-1] if match[1] else match[2]}`", text)


def fence_doctests(text: str) -> str:
    """``text`` with every run of doctest lines wrapped in a ```` ```pycon ```` fence."""
    lines, out, index = text.splitlines(), [], 0
    while index < len(lines):
        line = lines[index]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctest lines and plain the roles of every docstring once, as the object is loaded."""

    def _fence(self, obj: Any) -> None:
        docstring = getattr(obj, "docstring", None)
        if docstring is None or getattr(docstring, _DONE, False):
            return
        docstring.value = plain_roles(fence_doctests(docstring.value))
        setattr(docstring, _DONE, True)

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:  # griffe >= 2
        self._fence(obj)

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:  # griffe 1
        self._fence(obj)
