"""The ``{notebook-timings}`` directive: a table of each chapter's execution time and the
versions of the packages the book was built with (used by the Environment page).

Times come from the notebooks themselves: ``make notebooks`` executes each one with
nbclient, which records when every cell started and finished (``metadata.execution``). The
table therefore shows the latest committed execution, not the build machine's speed.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn", "jupyter-book", "sphinx",
            "myst-nb", "sphinx-exercise", "nbval", "pytest")


def notebook_seconds(path: Path) -> tuple[int, float | None]:
    """(number of code cells, seconds from the first cell's start to the last cell's end)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    starts, ends, n = [], [], 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        n += 1
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in ex and "iopub.status.idle" in ex:
            starts.append(datetime.fromisoformat(ex["iopub.status.busy"].replace("Z", "+00:00")))
            ends.append(datetime.fromisoformat(ex["iopub.status.idle"].replace("Z", "+00:00")))
    if not starts:
        return n, None
    return n, (max(ends) - min(starts)).total_seconds()


def _table(header: list[str], rows: list[list[str]]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head, body = nodes.thead(), nodes.tbody()
    for target, cells in ((head, [header]), (body, rows)):
        for cells_row in cells:
            row = nodes.row()
            for text in cells_row:
                entry = nodes.entry()
                entry += nodes.paragraph(text=text)
                row += entry
            target += row
    group += head
    group += body
    return table


class NotebookTimings(SphinxDirective):
    """Render the timings of every ``book/*.ipynb`` and the package versions."""

    def run(self) -> list[nodes.Node]:
        book = Path(self.env.srcdir) / "book"
        rows, total = [], 0.0
        for path in sorted(book.glob("*.ipynb")):
            n, seconds = notebook_seconds(path)
            total += seconds or 0.0
            shown = "not recorded" if seconds is None else f"{seconds:.1f}"
            rows.append([path.name, str(n), shown])
        rows.append(["all chapters", "", f"{total:.1f}"])
        versions = [["python", platform.python_version()]]
        for name in PACKAGES:
            try:
                versions.append([name, metadata.version(name)])
            except metadata.PackageNotFoundError:
                versions.append([name, "not installed"])
        return [_table(["notebook", "code cells", "execution time (s)"], rows),
                _table(["package", "version"], versions)]


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("notebook-timings", NotebookTimings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
