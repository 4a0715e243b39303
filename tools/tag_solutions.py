"""Tag every code cell that belongs to an exercise solution with ``solution``.

A chapter writes a solution in one of two forms (sphinx-exercise):

- ``{solution}``: a fenced directive inside one markdown cell (prose only, no code cells);
- ``{solution-start}`` ... ``{solution-end}``: gated, the code cells between the markdown
  cell that opens it and the markdown cell that closes it are the solution's code.

This tool finds the gated regions and sets the ``solution`` tag on exactly the code cells
inside them (and removes it from any other cell), so running it twice changes nothing. It
also folds those cells in JupyterLab (``jupyter.source_hidden`` and ``outputs_hidden``, the
metadata JupyterLab's "collapse" writes): the website folds a solution into a dropdown, and
without this a learner in JupyterLab would read the answer right under the question. A click
on the fold opens the cell. The
exercise notebooks (``tools/make_exercises.py``) and ``tests/test_selfstudy.py`` rely on the
tag. Usage::

    python tools/tag_solutions.py book/*.ipynb          # rewrite the notebooks in place
    python tools/tag_solutions.py --check book/*.ipynb  # exit 1 if a tag is missing or stray
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TAG = "solution"
# JupyterLab's own cell metadata for a collapsed input and output
FOLDED = {"source_hidden": True, "outputs_hidden": True}
# an opening fence of a directive: three or more backticks or colons, then {name}
_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}(?P<arg>[^\n]*)$")


@dataclass(frozen=True)
class Block:
    """One top-level directive of a markdown cell: its name and line span [start, end)."""

    name: str
    arg: str
    start: int
    end: int


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def blocks(text: str) -> Iterator[Block]:
    """The top-level fenced directives of a markdown text, in order.

    A fence is closed by a line of the same character, at least as long, and nothing else
    (CommonMark and MyST): fences nested inside a longer one are part of its body.
    """
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _OPEN.match(lines[i].rstrip())
        if not m:
            i += 1
            continue
        fence = m["fence"]
        close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        yield Block(m["name"], m["arg"].strip(), i, min(j + 1, len(lines)))
        i = j + 1


def solution_cells(nb: dict) -> set[int]:
    """Indices of the code cells between a ``{solution-start}`` and its ``{solution-end}``.

    Raises ValueError for a start without an end (or an end without a start): a chapter
    that the generator could not split must fail loudly, not leak its answers.
    """
    inside = False
    opened_at = -1
    found: set[int] = set()
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            if inside:
                found.add(i)
            continue
        if cell["cell_type"] != "markdown":
            continue
        for block in blocks(source(cell)):
            if block.name == "solution-start":
                if inside:
                    raise ValueError(f"cell {i}: solution-start inside the one of cell {opened_at}")
                inside, opened_at = True, i
            elif block.name == "solution-end":
                if not inside:
                    raise ValueError(f"cell {i}: solution-end without a solution-start")
                inside = False
    if inside:
        raise ValueError(f"cell {opened_at}: solution-start without a solution-end")
    return found


def tag(nb: dict) -> bool:
    """Tag and fold the solution code cells, untag and unfold the others; True if nb changed."""
    wanted = solution_cells(nb)
    changed = False
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        meta = cell.setdefault("metadata", {})
        before = json.dumps(meta, sort_keys=True)
        tags = [t for t in meta.get("tags", []) if t != TAG]
        if i in wanted:
            tags.append(TAG)
            meta["jupyter"] = dict(FOLDED)
        else:
            meta.pop("jupyter", None)
        if tags:
            meta["tags"] = tags
        else:
            meta.pop("tags", None)
        changed |= json.dumps(meta, sort_keys=True) != before
    return changed


def problems(nb: dict) -> list[str]:
    """One line per code cell whose tag disagrees with its place."""
    wanted = solution_cells(nb)
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {})
        tagged = TAG in meta.get("tags", [])
        folded = meta.get("jupyter") == FOLDED
        if i in wanted and not tagged:
            out.append(f"cell {i} is solution code without the '{TAG}' tag")
        elif tagged and i not in wanted:
            out.append(f"cell {i} has the '{TAG}' tag outside a solution")
        if i in wanted and not folded:
            out.append(f"cell {i} is solution code not folded in JupyterLab")
        elif folded and i not in wanted:
            out.append(f"cell {i} is folded in JupyterLab outside a solution")
    return out


def write_notebook(path: Path, nb: dict) -> None:
    """The layout Jupyter writes (indent 1, non-ASCII kept, final newline)."""
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        try:
            found = problems(nb) if args.check else []
            changed = not args.check and tag(nb)
        except ValueError as err:  # unbalanced solution-start / solution-end
            found, changed = [str(err)], False
        for line in found:
            print(f"{path}: {line}", file=sys.stderr)
            status = 1
        if changed:
            write_notebook(path, nb)
            print(f"{path}: tagged {len(solution_cells(nb))} solution cells")
    return status


if __name__ == "__main__":
    sys.exit(main())
