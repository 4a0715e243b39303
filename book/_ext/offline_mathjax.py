"""Serve MathJax 3 from the site itself, so every page typesets math with no internet.

The MathJax files come from the PyPI package ``django-static-mathjax`` (pinned in
requirements.txt; it is only a wheel of MathJax's static files, Django is not needed).
At build time the parts of MathJax's ``es5`` folder that ``tex-chtml.js`` loads (the
component, its fonts, the input/output/ui/a11y parts it may fetch lazily) are copied to
``_static/mathjax/`` and Sphinx's ``mathjax_path`` points there instead of a CDN.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx

ENTRY = "tex-chtml.js"
PARTS = ("input", "output", "ui", "a11y", "adaptors", "sre")


def mathjax_source() -> Path:
    """The ``es5`` folder of the installed MathJax distribution."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("django-static-mathjax is not installed: run `make setup`")
    root = Path(next(iter(spec.submodule_search_locations)))
    es5 = root / "static" / "mathjax" / "es5"
    if not (es5 / ENTRY).is_file():
        raise RuntimeError(f"MathJax entry point not found at {es5 / ENTRY}")
    return es5


def _use_local_path(app: Sphinx, config) -> None:
    config.mathjax_path = f"mathjax/{ENTRY}"


def _copy_files(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / ENTRY, dest / ENTRY)
    for part in PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part, dirs_exist_ok=True)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _use_local_path)
    app.connect("build-finished", _copy_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
