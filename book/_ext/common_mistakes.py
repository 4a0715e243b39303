"""The ``{common-mistakes}`` directive: a list of every "Common mistake" box in the book.

Each chapter marks its boxes as ``{admonition} Common mistake: <title>`` with a
``:name: mistake-...`` label. The directive scans the chapters when the site is built and
lists the boxes under their chapter, each linked, so the page can never miss a box or link to
one that was removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

BOX = re.compile(r"\{admonition\}\s*Common mistake:\s*(?P<title>[^\n]+)\n(?:[^\n]*\n)*?"
                 r":name:\s*(?P<label>mistake-[a-z0-9-]+)")
CHAPTER = re.compile(r"^\((?P<label>ch-[a-z0-9-]+)\)=")


def find_boxes(book: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(chapter label, [(box label, box title), ...]), ...] in reading order."""
    found = []
    for path in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
        chapter = CHAPTER.match(texts[0]) if texts else None
        boxes = [(m["label"], m["title"].strip()) for t in texts for m in BOX.finditer(t)]
        if chapter and boxes:
            found.append((chapter["label"], boxes))
    return found


class CommonMistakes(SphinxDirective):
    """Render the nested list of chapters and their common-mistake boxes."""

    def run(self) -> list[nodes.Node]:
        book = Path(self.env.srcdir) / "book"
        lines = []
        for chapter, boxes in find_boxes(book):
            lines.append(f"- {{ref}}`{chapter}`")
            lines += [f"  - [{title}](#{label})" for label, title in boxes]
        for path in book.glob("[0-9][0-9]_*.ipynb"):
            self.env.note_dependency(str(path))
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="common-mistakes"), 0, container)
        return container.children


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("common-mistakes", CommonMistakes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
