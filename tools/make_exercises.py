"""Write the exercise notebook of every chapter: the chapter without its solutions.

The idea follows the scikit-learn MOOC, whose exercise notebooks are generated from the
solution notebooks: the chapter is the only source, the exercise version is derived. For each
chapter ``book/NN_topic.ipynb`` this writes ``NN_topic_exercises.ipynb`` in which

- every solution's prose is gone: ``{solution}`` directives are cut out of their markdown
  cells, and so is everything from a ``{solution-start}`` to its ``{solution-end}``;
- every solution code cell (found by its place between ``{solution-start}`` and
  ``{solution-end}``, the cells ``tools/tag_solutions.py`` tags ``solution``) becomes a
  "your code here" cell. Where the solution defines a function that it hands to a checker
  (``nh.exercises.check_layer_norm(my_layer_norm)``), the cell keeps the ``def`` line with a
  body of ``...`` and the checker call, so running it unfinished prints the checker's advice;
- all outputs and execution counts are cleared;
- the questions, the install cell, the preamble and the rest of the chapter stay as they are.

Usage::

    python tools/make_exercises.py --out _build/exercises book/[0-9]*.ipynb

The book's extension ``book/_ext/exercise_notebooks.py`` calls :func:`exercise_notebook`
during the build and links the result next to the page's ``.ipynb`` download.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tag_solutions import blocks, solution_cells, source, write_notebook  # noqa: E402

SUFFIX = "_exercises"
PLACEHOLDER = "# Your code here\n"
ANSWER_NOTE = (
    "*Your answer here. The solution is in the full chapter notebook "
    "(and folded under the exercise on the website).*"
)
_CHECKER = re.compile(r"(^|\.)check_[a-z0-9_]+$")


def exercise_name(chapter: Path) -> str:
    return f"{chapter.stem}{SUFFIX}.ipynb"


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _checker_call(stmt: ast.stmt) -> ast.Call | None:
    """The call in ``check_x(f)`` or ``result = nh.exercises.check_x(f)``, else None."""
    value = stmt.value if isinstance(stmt, ast.Expr | ast.Assign) else None
    if isinstance(value, ast.Call) and _CHECKER.search(_dotted(value.func)):
        return value
    return None


def blank_code(code: str) -> str:
    """The "your code here" version of one solution cell.

    Keeps the ``def`` line of each function that a checker call in the cell receives (body
    ``...``: the checkers recognise an unfinished function) and the checker calls; the rest
    of the solution is dropped.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: nothing to keep
        return PLACEHOLDER
    lines = code.split("\n")
    checks = [stmt for stmt in tree.body if _checker_call(stmt) is not None]
    checked = {
        arg.id
        for stmt in checks
        for arg in _checker_call(stmt).args  # type: ignore[union-attr]
        if isinstance(arg, ast.Name)
    }
    kept: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name in checked:
            header_end = stmt.body[0].lineno - 1  # the def may span several lines
            header = lines[stmt.lineno - 1 : header_end]
            kept += header + ["    # Your code here", "    ...", "", ""]
    for stmt in checks:
        kept += lines[stmt.lineno - 1 : stmt.end_lineno]
    if not kept:
        return PLACEHOLDER
    return "\n".join(kept).rstrip("\n") + "\n"


def _markdown_without_solutions(text: str, inside: bool) -> tuple[str, bool]:
    """Drop solution text from one markdown cell, leaving a note where an answer goes.

    ``inside`` says whether the cell starts inside a gated solution; returns the kept text
    and whether the cell ends inside one.
    """
    lines = text.split("\n")
    out: list[str | None] = [None if inside else line for line in lines]
    for block in blocks(text):
        if block.name == "solution":
            out[block.start : block.end] = [ANSWER_NOTE] + [None] * (block.end - block.start - 1)
        elif block.name == "solution-start":
            inside = True
            out[block.start :] = [ANSWER_NOTE] + [None] * (len(lines) - block.start - 1)
        elif block.name == "solution-end":
            inside = False
            out[: block.end] = [None] * block.end
            out[block.end :] = lines[block.end :]
    kept = "\n".join(line for line in out if line is not None)
    return re.sub(r"\n{3,}", "\n\n", kept).strip("\n"), inside


def exercise_notebook(nb: dict) -> dict:
    """The exercise version of a chapter notebook (a new object; ``nb`` is not changed)."""
    out = copy.deepcopy(nb)
    wanted = solution_cells(nb)
    cells: list[dict] = []
    inside = False
    for i, cell in enumerate(out["cells"]):
        if cell["cell_type"] == "markdown":
            kept, inside = _markdown_without_solutions(source(cell), inside)
            if kept:
                cell["source"] = kept
                cells.append(cell)
            continue
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
            if i in wanted:
                cell["source"] = blank_code(source(cell))
                cell["metadata"] = {"tags": ["exercise-answer"]}
            elif inside:
                continue
        elif inside:
            continue
        cells.append(cell)
    out["cells"] = cells
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_build/exercises"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for chapter in args.chapters:
        nb = json.loads(chapter.read_text(encoding="utf-8"))
        try:
            result = exercise_notebook(nb)
        except ValueError as err:
            print(f"{chapter}: {err}", file=sys.stderr)
            return 1
        target = args.out / exercise_name(chapter)
        write_notebook(target, result)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
