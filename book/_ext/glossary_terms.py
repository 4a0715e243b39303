"""Let {term} links name glossary terms that contain math, as they are written.

A glossary term such as ``Affine parameters ($\\gamma$, $\\beta$)`` is registered by
Sphinx under its text *without* the dollar signs (a math node's text is its LaTeX
source), so ``{term}`text <Affine parameters ($\\gamma$, $\\beta$)>``` would not
resolve. When a term link finds no target, this extension looks the name up again
without the dollars.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util.nodes import make_refnode


def term_key(target: str) -> str:
    """The key a glossary term is stored under: no ``$``, lower case, single spaces."""
    return " ".join(target.replace("$", "").split()).lower()


def _resolve(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("reftype") != "term" or "$" not in node.get("reftarget", ""):
        return None
    terms = env.get_domain("std").data.get("terms", {})
    found = terms.get(term_key(node["reftarget"]))
    if found is None:
        return None
    docname, labelid = found
    return make_refnode(app.builder, node["refdoc"], docname, labelid, contnode)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
