"""The ``{notebook-timings}`` directive: a table of each chapter's execution time and the
versions of the packages the book was built with (used by the Environment page).

Times come from ``book/_timings.json``, the file that ``make notebooks``
(``tools/run_notebooks.py``) writes when it executes the notebooks: per notebook its number of
code cells and the sum of its cells' execution times. The notebooks themselves carry no
timestamps. The table therefore shows the latest committed execution, not the build machine's
speed.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

PACKAGES = ("torch", "numpy", "matplotlib", "scikit-learn", "jupyter-book", "sphinx",
            "myst-nb", "sphinx-exercise", "nbval", "pytest")
TIMINGS = "_timings.json"  # beside the notebooks, written by tools/run_notebooks.py


def load_timings(book: Path) -> dict[str, dict]:
    """{notebook file name: {"code_cells": n, "seconds": s}} from ``book/_timings.json``."""
    try:
        data = json.loads((book / TIMINGS).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data.get("notebooks", {})


def notebook_seconds(path: Path) -> tuple[int, float | None]:
    """(number of code cells, seconds of cell time recorded for it, or None)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    n = sum(1 for cell in nb.get("cells", []) if cell.get("cell_type") == "code")
    entry = load_timings(path.parent).get(path.name)
    return n, (None if entry is None else float(entry["seconds"]))


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


# the table's own words, in the language of the edition being built (the Chinese one sets zh_CN)
LABELS = {
    "en": {"notebook": "notebook", "cells": "code cells", "time": "execution time (s)",
           "total": "all chapters", "missing": "not recorded (make notebooks)",
           "package": "package", "version": "version", "absent": "not installed"},
    "zh": {"notebook": "笔记本", "cells": "代码单元数", "time": "执行时间（秒）",
           "total": "全部章节", "missing": "未记录（make notebooks）",
           "package": "软件包", "version": "版本", "absent": "未安装"},
}


class NotebookTimings(SphinxDirective):
    """Render the timings of every ``book/*.ipynb`` and the package versions."""

    def run(self) -> list[nodes.Node]:
        book = Path(self.env.srcdir) / "book"
        self.env.note_dependency(str(book / TIMINGS))  # rebuild the page when it changes
        words = LABELS["zh" if (self.config.language or "").startswith("zh") else "en"]
        rows, total = [], 0.0
        for path in sorted(book.glob("*.ipynb")):
            n, seconds = notebook_seconds(path)
            total += seconds or 0.0
            shown = words["missing"] if seconds is None else f"{seconds:.1f}"
            rows.append([path.name, str(n), shown])
        rows.append([words["total"], "", f"{total:.1f}"])
        versions = [["python", platform.python_version()]]
        for name in PACKAGES:
            try:
                versions.append([name, metadata.version(name)])
            except metadata.PackageNotFoundError:
                versions.append([name, words["absent"]])
        return [_table([words["notebook"], words["cells"], words["time"]], rows),
                _table([words["package"], words["version"]], versions)]


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("notebook-timings", NotebookTimings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
