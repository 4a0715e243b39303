"""Each chapter's exercise notebook, on the site next to the full notebook.

At the end of the build every chapter (``book/NN_topic.ipynb``) is turned into its exercise
notebook by ``tools/make_exercises.py`` (solutions out, "your code here" cells in, outputs
cleared) and written to ``_exercises/NN_topic_exercises.ipynb`` in the HTML output. The
theme's download menu of each chapter page gets an entry "exercises .ipynb" under the
page's ".ipynb". A chapter whose solutions cannot be split (a solution-start without its
solution-end) is a warning, so the strict build fails on it.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_exercises.py"
OUT_DIR = "_exercises"
_CHAPTER = re.compile(r"^book/\d\d_[a-z0-9_]+$")


def _tool():
    spec = importlib.util.spec_from_file_location("make_exercises", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chapters(app: Sphinx) -> list[str]:
    docs = app.env.found_docs
    return sorted(d for d in docs if _CHAPTER.match(d) and str(app.env.doc2path(d))[-5:] == "ipynb")


def _write(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    tool = _tool()
    out = Path(app.outdir) / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for docname in _chapters(app):
        path = Path(app.env.doc2path(docname))
        try:
            nb = tool.exercise_notebook(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as err:
            logger.warning(f"{path.name}: no exercise notebook: {err}", location=docname)
            continue
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        (out / tool.exercise_name(path)).write_text(text, encoding="utf-8")


def _add_download(app: Sphinx, pagename: str, templatename: str, context: dict,
                  doctree: object) -> None:
    if not _CHAPTER.match(pagename) or not context.get("ipynb_source"):
        return
    for button in context.get("header_buttons", []):
        if button.get("label") != "download-buttons":
            continue
        name = f"{Path(pagename).name}_exercises.ipynb"
        entry = {
            "type": "link",
            "url": f"{context['pathto'](OUT_DIR, 1)}/{name}",
            "text": "exercises .ipynb",
            "icon": "fas fa-pen",
            "tooltip": "Download the exercise notebook (no solutions)",
            "label": "download-exercises-button",
        }
        labels = [b.get("label") for b in button["buttons"]]
        if "download-exercises-button" not in labels:
            at = labels.index("download-notebook-button") + 1 if (
                "download-notebook-button" in labels) else 0
            button["buttons"].insert(at, entry)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("build-finished", _write)
    # after the theme has built its header buttons (priority 501)
    app.connect("html-page-context", _add_download, priority=510)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
