"""Estimate each chapter's reading time, core track and full, for the introduction's table.

    .venv/bin/python tools/reading_time.py [book/NN_x.ipynb ...]
    .venv/bin/python tools/reading_time.py --write-intro   # refresh book/intro.md's table and
                                                           # each chapter's "takes about N minutes"

Reading at about 140 words a minute plus three quarters of a minute per code cell (read it, run
it, read its output): the pace of a beginner who read the core track of chapters 1-7 on the
website and timed each chapter (2026-12-01; 280 minutes for 20,800 words and 174 code cells,
exercises not counted). "core" leaves out the "Going deeper" sections (a heading that starts
with "Going deeper", up to the next heading of the same or a higher level) and the exercises
(from the "Exercises" heading on); "full" counts everything, exercises included.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"
WORDS_PER_MIN = 140
MIN_PER_CODE_CELL = 0.75
HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def estimate(path: Path) -> dict[str, float]:
    """Words and code cells of the core track and of the whole chapter, and the minutes."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    core = {"words": 0, "code": 0}
    full = {"words": 0, "code": 0}
    skip_level: int | None = None  # inside a Going deeper section of this level
    in_exercises = False
    for cell in cells:
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            for line in text.splitlines():
                m = HEADING.match(line)
                if m:
                    level, title = len(m.group(1)), m.group(2).strip().lower()
                    if skip_level is not None and level <= skip_level:
                        skip_level = None
                    if title.startswith("going deeper") and skip_level is None:
                        skip_level = level
                    if title.startswith(("exercises", "summary", "references")):
                        in_exercises = title.startswith("exercises")
                n = len(line.split())
                full["words"] += n
                if skip_level is None and not in_exercises:
                    core["words"] += n
        elif cell["cell_type"] == "code":
            full["code"] += 1
            if skip_level is None and not in_exercises:
                core["code"] += 1
    out: dict[str, float] = {}
    for name, d in (("core", core), ("full", full)):
        out[f"{name}_words"] = d["words"]
        out[f"{name}_code"] = d["code"]
        out[f"{name}_min"] = d["words"] / WORDS_PER_MIN + MIN_PER_CODE_CELL * d["code"]
    return out


def _minutes(m: float) -> int:
    return max(5, 5 * round(m / 5))


def write_intro(intro: Path = BOOK / "intro.md") -> None:
    """Rewrite the rows `| {ref}`ch-x` | core | full |` of the introduction's table, and the
    sentence that adds up the core track of chapters 1-7."""
    text = intro.read_text(encoding="utf-8")
    first_seven = 0  # minutes of the core track of chapters 1-7
    for path in sorted(BOOK.glob("[0-9][0-9]_*.ipynb")):
        first = _source(json.loads(path.read_text(encoding="utf-8"))["cells"][0])
        label = re.match(r"\((ch-[\w-]+)\)=", first)
        if not label:
            continue
        e = estimate(path)
        core, full = _minutes(e["core_min"]), _minutes(e["full_min"])
        row = f"| {{ref}}`{label.group(1)}` | {core} | {full} |"
        text = re.sub(rf"^\| \{{ref\}}`{label.group(1)}` \|.*$", row, text, flags=re.M)
        if path.name[:2] <= "07":
            first_seven += core
    hours = f"{first_seven / 60:.1f}".rstrip("0").rstrip(".")
    text = re.sub(
        r"chapters 1–7 adds up to \d+ minutes, about [\d.]+ hours",
        f"chapters 1–7 adds up to {first_seven} minutes, about {hours} hours",
        text,
    )
    intro.write_text(text, encoding="utf-8")


SENTENCE = re.compile(r"The core of the chapter takes about (\d+ minutes|half an hour)( to read)?")


def write_chapters(book: Path = BOOK) -> list[str]:
    """Rewrite each chapter's "The core of the chapter takes about N minutes" (first cell) to
    the estimate; return the names of the chapters that say no such sentence."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tag_solutions import write_notebook  # the project's notebook writer

    silent = []
    for path in sorted(book.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = _source(nb["cells"][0])
        if not SENTENCE.search(first):
            silent.append(path.name)
            continue
        core = _minutes(estimate(path)["core_min"])
        new = SENTENCE.sub(f"The core of the chapter takes about {core} minutes", first)
        if new != first:
            nb["cells"][0]["source"] = new.splitlines(keepends=True)
            write_notebook(path, nb)
    return silent


def main(paths: list[str]) -> None:
    if paths == ["--write-intro"]:
        write_intro()
        for name in write_chapters():
            print(f"{name}: its first cell does not say how long its core takes")
        return
    files = [Path(p) for p in paths] or sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    print("| chapter | core words, code cells | core min | full min |")
    for path in files:
        e = estimate(path)
        print(
            f"| {path.stem} | {e['core_words']}, {e['core_code']} | "
            f"{_minutes(e['core_min'])} | {_minutes(e['full_min'])} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
