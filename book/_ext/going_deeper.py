"""Fold the "Going deeper" sections of a chapter on the website.

A chapter marks expert material with a heading that starts with "Going deeper"
(``## Going deeper: the Hessian``). Everything from that heading to the next heading of
the same or a higher level is one docutils ``section``. On the site its body is wrapped
in a container with the class ``toggle``, which sphinx-togglebutton turns into a closed
``<details>`` block ("Click to show"); the heading itself stays visible and carries a
"Going deeper" badge (class ``going-deeper``, styled in ``_static/custom.css``). In the
notebook nothing changes: the section is plain Markdown and stays visible.

The Chinese edition translates the heading before this transform runs (Sphinx applies the
catalogs while it reads a page), so its prefix "深入一步" marks the section there.

The transform runs after Sphinx has collected the table of contents and the section
numbers, so folded sections keep their numbers, anchors and entries in the page's
contents.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

PREFIXES = ("going deeper", "深入一步")  # English; the Chinese edition
SECTION_CLASS = "going-deeper"
BODY_CLASSES = ("toggle", "going-deeper-body")


def is_going_deeper(section: nodes.section) -> bool:
    """True when the section's title starts with "Going deeper" (any case) or "深入一步"."""
    if not section.children or not isinstance(section[0], nodes.title):
        return False
    return section[0].astext().strip().lower().startswith(PREFIXES)


def fold_going_deeper(doctree: nodes.Node) -> int:
    """Wrap the body of every "Going deeper" section in a toggle container.

    Returns the number of sections folded. A section inside one that is already folded
    is left alone (it is hidden with its parent), and running the function twice
    changes nothing.
    """
    folded = 0
    for section in list(doctree.findall(nodes.section)):
        if not is_going_deeper(section) or SECTION_CLASS in section["classes"]:
            continue
        if any(SECTION_CLASS in parent["classes"] for parent in _ancestors(section)):
            continue
        title, body = section[0], section.children[1:]
        container = nodes.container(classes=list(BODY_CLASSES))
        for child in body:
            section.remove(child)
            container += child
        section["classes"].append(SECTION_CLASS)
        title["classes"].append("going-deeper-title")
        if len(container):
            section += container
        folded += 1
    return folded


def _ancestors(node: nodes.Node) -> list[nodes.Element]:
    found = []
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.Element):
            found.append(parent)
        parent = parent.parent
    return found


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    if app.builder.format == "html":
        fold_going_deeper(doctree)


def setup(app: Sphinx) -> dict[str, object]:
    # priority > 500: after the toctree collector has numbered and listed the sections
    app.connect("doctree-read", _on_doctree_read, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
