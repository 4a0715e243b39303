"""Structure checks of every chapter and page: the standards a reviewer would otherwise check
by hand (STYLE.md). nbval checks that the outputs are reproducible; these check that each
chapter has what a learner needs and that the committed notebooks are clean.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
# first line of the install cell (tools/add_install_cell.py MARKER; test_selfstudy checks it)
INSTALL_CELL_MARKER = "# normbook: install normhelpers where it is missing"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
# Time budgets are checked on the nbval run itself (tests/nbval_budget.py), not here.


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _markdown(nb: dict) -> str:
    return "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_there_are_chapters() -> None:
    assert len(CHAPTERS) >= 1


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def test_every_chapter_and_page_is_in_the_toc() -> None:
    listed = set(_toc_files())
    pages = {
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in list(BOOK.glob("*.ipynb")) + list(BOOK.glob("*.md"))
    }
    assert pages - listed == set(), "pages missing from _toc.yml"
    assert listed - pages == set(), "_toc.yml lists files that do not exist"


def test_build_ignores_tool_caches_and_ignored_folders() -> None:
    """A plain `pytest` or `ruff` run leaves caches at the root with a README.md in them; the
    strict build (-W) would fail on it as a page missing from the toc."""
    excluded = set(yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"])
    assert {".pytest_cache", ".ruff_cache", ".hypothesis", ".venv", "_build"} <= excluded


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_structure(path: Path) -> None:
    nb = _load(path)
    md = _markdown(nb)
    first = _source(nb["cells"][0])
    assert re.match(r"\(ch-[a-z0-9-]+\)=\s*\n#\s", first), "first cell: (ch-label)= then # Title"
    assert "You will learn" in first and "Prerequisites" in first
    exercises = re.findall(r"\{exercise\}", md)
    assert len(exercises) >= 3, f"{len(exercises)} exercises, want at least 3"
    solutions = re.findall(r"\{solution(?:-start)?\}[^\n]*\n:class: dropdown", md)
    assert len(solutions) >= len(exercises), "every exercise needs a folded solution"
    assert re.search(r"^#+\s*Summary", md, re.M), "a Summary section"
    assert re.search(r"^#+\s*References", md, re.M) and "{cite" in md, "References with citations"
    assert "{bibliography}" not in md, "one global bibliography page only"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_other_chapters_are_linked_by_file_not_by_label(path: Path) -> None:
    """JupyterLab (jupyterlab-myst) sees one notebook at a time: a {ref} to another chapter's
    label shows as the bare label there. A markdown link to the file reads and works in
    both (Sphinx turns it into the same cross-reference)."""
    md = _markdown(_load(path))
    own = set(re.findall(r"^\(([a-z0-9-]+)\)=", md, re.M))
    pages = {"ch-intro", "ch-glossary", "ch-common-mistakes", "ch-environment"}
    other = {
        label
        for nb in CHAPTERS
        for label in re.findall(r"^\((ch-[a-z0-9-]+)\)=", _markdown(_load(nb)), re.M)
    } | pages
    refs = [
        m.group(0)
        for m in re.finditer(r"\{ref\}`(?:[^`<]*<)?([a-z0-9-]+)>?`", md)
        if m.group(1) in other - own
    ]
    assert refs == [], f"link these as [title](file): {refs[:5]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_seeds_and_fixes_print_precision(path: Path) -> None:
    code = [c for c in _load(path)["cells"] if c["cell_type"] == "code"]
    # the install cell (tools/add_install_cell.py, once `make install-cells` has run) comes
    # first and only installs normhelpers where it is missing; the preamble follows it
    first_source = _source(code[0]) if code else ""
    if first_source.startswith(INSTALL_CELL_MARKER):
        assert "remove-cell" in code[0].get("metadata", {}).get("tags", []), (
            "the install cell must be tagged remove-cell: make install-cells"
        )
        code = code[1:]
    assert code, "no code cell after the install cell"
    first = _source(code[0])
    # the one preamble call (nh.setup_notebook: seeds, print options, threads), or by hand
    assert "setup_notebook(" in first or ("manual_seed(" in first and "set_printoptions(" in first)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_notebook_is_clean(path: Path) -> None:
    nb = _load(path)
    counts = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not _source(cell).strip():
            continue
        counts.append(cell.get("execution_count"))
        tags = cell.get("metadata", {}).get("tags", [])
        raises = _source(cell).lstrip().startswith("# NBVAL_RAISES_EXCEPTION")
        assert raises == ("raises-exception" in tags), (
            f"cell {i}: the raises-exception tag and # NBVAL_RAISES_EXCEPTION go together"
        )
        for out in cell.get("outputs", []):
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), (
                f"cell {i} wrote to stderr"
            )
            assert out["output_type"] != "error" or raises, f"cell {i} stored an error"
            text = json.dumps(out.get("data", {}).get("text/plain", out.get("text", "")))
            assert not re.search(r"0x[0-9a-f]{8,}", text), f"cell {i}: memory address in output"
    assert counts == list(range(1, len(counts) + 1)), "execute top to bottom: make notebooks"
    assert path.stat().st_size < 3_000_000, "notebook over 3 MB: shrink figures"


def _code_cells(path: Path) -> list[dict]:
    return [c for c in _load(path)["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_uncompared_cell_says_why_and_a_claim_follows(path: Path) -> None:
    """A cell nbval does not compare (# NBVAL_IGNORE_OUTPUT) gives a one-line reason on the
    next line, and a claim check (nh.claim) follows within the next three code cells, so that
    what the prose concludes from the uncompared digits is still checked."""
    code = _code_cells(path)
    for i, cell in enumerate(code):
        lines = [line.strip() for line in _source(cell).splitlines()]
        if "# NBVAL_IGNORE_OUTPUT" not in lines:
            continue
        at = lines.index("# NBVAL_IGNORE_OUTPUT")
        reason = lines[at + 1] if at + 1 < len(lines) else ""
        assert re.match(r"# uncompared: \S.{10,}", reason), (
            f"code cell {i}: '# NBVAL_IGNORE_OUTPUT' must be followed by '# uncompared: <why>'"
        )
        following = "".join(_source(c) for c in code[i : i + 4])
        assert "claim(" in following, f"code cell {i}: no claim check follows the uncompared cell"


def test_uncompared_cells_are_few() -> None:
    """Exclusions are the exception: a handful per chapter (a few more in the experiment
    chapters, whose training digits vary by CPU), and few in the whole book."""
    counts = {
        p.name: sum("# NBVAL_IGNORE_OUTPUT" in _source(c).splitlines() for c in _code_cells(p))
        for p in CHAPTERS
    }
    for name, n in counts.items():
        assert n <= (8 if name.startswith(("08_", "09_", "10_")) else 5), counts
    assert sum(counts.values()) <= 30, counts


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebook_has_no_cell_timestamps(path: Path) -> None:
    """Per-cell execution timestamps change on every run; `make notebooks` strips them and
    writes the times to book/_timings.json instead."""
    stamped = [
        i for i, cell in enumerate(_load(path)["cells"]) if "execution" in cell.get("metadata", {})
    ]
    assert not stamped, f"cells {stamped} carry metadata.execution: run make notebooks"


def test_timings_file_lists_every_notebook() -> None:
    """book/_timings.json (written by make notebooks) is what the Environment page shows."""
    timings = _ext("notebook_timings")
    recorded = timings.load_timings(BOOK)
    for path in sorted(BOOK.glob("*.ipynb")):
        assert path.name in recorded, f"{path.name} missing from book/_timings.json"
        cells, seconds = timings.notebook_seconds(path)
        assert recorded[path.name]["code_cells"] == cells, (
            f"{path.name}: code cells changed since its last make notebooks"
        )
        assert seconds is not None and seconds >= 0
    assert set(recorded) <= {p.name for p in BOOK.glob("*.ipynb")}


def _ext(name: str):
    spec = importlib.util.spec_from_file_location(name, BOOK / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_common_mistakes_page_lists_every_box() -> None:
    """The page's list is generated by {common-mistakes}: it must find every labelled box,
    and every "Common mistake" admonition must carry a label to link to."""
    assert "```{common-mistakes}" in (BOOK / "common_mistakes.md").read_text(encoding="utf-8")
    listed = {label for _, boxes in _ext("common_mistakes").find_boxes(BOOK) for label, _ in boxes}
    labels, titles = set(), 0
    for path in CHAPTERS:
        md = _markdown(_load(path))
        labels |= set(re.findall(r":name:\s*(mistake-[a-z0-9-]+)", md))
        titles += len(re.findall(r"\{admonition\}\s*Common mistake:", md))
    assert labels, "no common-mistake boxes found"
    assert listed == labels, "boxes the page would miss (title or label malformed)"
    assert titles == len(labels), "a Common mistake box without a :name: mistake-... label"


def test_intro_reading_times_are_current(tmp_path: Path) -> None:
    """Fix with `python tools/reading_time.py --write-intro`."""
    spec = importlib.util.spec_from_file_location("reading_time", ROOT / "tools/reading_time.py")
    assert spec is not None and spec.loader is not None
    reading_time = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reading_time)
    copy = tmp_path / "intro.md"
    copy.write_text((BOOK / "intro.md").read_text(encoding="utf-8"), encoding="utf-8")
    reading_time.write_intro(copy)
    assert copy.read_text(encoding="utf-8") == (BOOK / "intro.md").read_text(encoding="utf-8")


def test_every_chapter_states_its_core_reading_time(tmp_path: Path) -> None:
    """Fix with `python tools/reading_time.py --write-intro` (it rewrites these sentences too)."""
    spec = importlib.util.spec_from_file_location("reading_time", ROOT / "tools/reading_time.py")
    assert spec is not None and spec.loader is not None
    reading_time = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reading_time)
    for path in CHAPTERS:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert reading_time.write_chapters(tmp_path) == [], "a chapter does not state its time"
    stale = [p.name for p in CHAPTERS if (tmp_path / p.name).read_bytes() != p.read_bytes()]
    assert stale == [], f"reading time out of date in {stale}"
