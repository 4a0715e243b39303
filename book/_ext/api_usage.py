""""Used in" links under every entry of the API page.

The chapters' code cells are read (not run) with :mod:`ast`: every name that reaches a
normhelpers object (``nh.compare``, ``NF.group_norm``, ``nh.exercises.check_layer_norm``,
``from normhelpers.data import make_cv``) is resolved to that object by importing
normhelpers. When autodoc documents a function or class, the chapters that use it are added
to its entry as links, in reading order.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

from sphinx.application import Sphinx

_CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
_MAGIC = re.compile(r"^\s*[%!].*$", re.M)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _resolve(path: str) -> object | None:
    """The object that a dotted path under normhelpers names, or None."""
    parts = path.split(".")
    try:
        obj: object = importlib.import_module(parts[0])
    except ImportError:
        return None
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:  # a submodule that the package does not import itself
            obj = importlib.import_module(".".join(parts[: i + 1]))
        except ImportError:
            return None
    return obj


def names_used(code: str) -> set[str]:
    """Dotted normhelpers paths that one code cell refers to."""
    try:
        tree = ast.parse(_MAGIC.sub("", code))
    except SyntaxError:
        return set()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "normhelpers":
                    target = a.name if a.asname else "normhelpers"
                    aliases[a.asname or "normhelpers"] = target
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("normhelpers"):
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    found = set(aliases.values())
    for node in ast.walk(tree):
        dotted = _dotted(node) if isinstance(node, ast.Attribute | ast.Name) else None
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head in aliases:
            found.add(f"{aliases[head]}.{rest}" if rest else aliases[head])
    return found


def usage(book: Path) -> dict[int, list[str]]:
    """{id of a normhelpers object: docnames of the chapters that use it, in order}."""
    out: dict[int, list[str]] = {}
    for path in sorted(book.glob("*.ipynb")):
        if not _CHAPTER.match(path.name):
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        # aliases are set in the preamble and used later: read the chapter as one program
        code = "\n".join(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"]
            if c["cell_type"] == "code"
        )
        docname = f"book/{path.stem}"
        for name in names_used(code):
            obj = _resolve(name)
            if obj is not None and docname not in out.setdefault(id(obj), []):
                out[id(obj)].append(docname)
    return out


def _collect(app: Sphinx) -> None:
    app.env.normbook_api_usage = usage(Path(app.srcdir) / "book")  # type: ignore[attr-defined]


def _add_links(app: Sphinx, what: str, name: str, obj: object, options: object,
               lines: list[str]) -> None:
    if what not in {"function", "class"}:
        return
    table = getattr(app.env, "normbook_api_usage", None)
    if table is None:
        _collect(app)
        table = app.env.normbook_api_usage  # type: ignore[attr-defined]
    chapters = table.get(id(obj), [])
    if chapters:
        links = ", ".join(f":doc:`/{d}`" for d in chapters)
        lines += ["", f"**Used in:** {links}."]


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", _collect)
    app.connect("autodoc-process-docstring", _add_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
