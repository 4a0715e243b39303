"""Small fixes to the HTML that Jupyter Book 1 produces, found by the browser test.

- sphinx-thebe registers its inline configuration script twice, so every page logged
  "Identifier 'THEBE_JS_URL' has already been declared": duplicate scripts are dropped.
- The theme's colour mode was empty, so every page logged "Got invalid theme mode":
  the default mode is set to "light" (readers can still switch).
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _default_mode(app: Sphinx, config) -> None:
    config.html_context.setdefault("default_mode", "light")


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                            doctree: object) -> None:
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    unique = []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {}) or {}
        filename = str(getattr(script, "filename", script) or "")  # None and "" alike
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _default_mode)
    # run after every other handler: some add scripts while the page is rendered
    app.connect("html-page-context", _drop_duplicate_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
