"""Docstrings that read well on the API page and never break the strict build.

normhelpers' docstrings are written for ``help()`` and the notebook's ``?``: shape notation
such as ``(N, C, *)``, indented lists, ``copy_``. Much of that is not valid reStructuredText
(``*`` opens emphasis, ``name_`` is a link). Each docstring is therefore test-parsed with
docutils first: one that parses cleanly is kept as reST; any other is shown exactly as
written, as a preformatted block, which is how ``help()`` shows it. Cross-reference roles
(``:func:`compare```) become literals, because their short targets have no entry of that
name on the page. Examples (``>>>``) stay in the text either way; ``make unit`` runs them.
"""

from __future__ import annotations

import re

import docutils.core
import docutils.nodes
from sphinx.application import Sphinx

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc):`~?([^`]+)`")


def _parses_cleanly(text: str) -> bool:
    # report_level 2: transform messages (an unknown link target) enter the doctree too
    settings = {"report_level": 2, "halt_level": 5, "warning_stream": False}
    try:
        doctree = docutils.core.publish_doctree(text, settings_overrides=settings)
    except Exception:  # a Sphinx directive or role, which needs a build: show it verbatim
        return False
    messages = [m for m in doctree.findall(docutils.nodes.system_message) if m["level"] >= 2]
    return not messages


def _process(app: Sphinx, what: str, name: str, obj: object, options: object,
             lines: list[str]) -> None:
    text = _ROLE.sub(r"``\1``", "\n".join(lines))
    if not text.strip():
        return
    if _parses_cleanly(text):
        lines[:] = text.split("\n")
    else:
        lines[:] = [".. code-block:: text", ""] + ["   " + line for line in text.split("\n")]


def setup(app: Sphinx) -> dict[str, object]:
    # before api_usage appends its "Used in" links (priority 500)
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
