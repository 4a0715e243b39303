"""The Chinese edition's machinery without a build: the catalog check (tools/i18n.py) on tiny
catalogs, the twin-page links (book/_ext/languages.py), and the fixed phrases the site needs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES" / "book"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


i18n = _load("i18n", ROOT / "tools" / "i18n.py")
languages = _load("languages", ROOT / "book" / "_ext" / "languages.py")


def _write(path: Path, messages: dict[str, str], fuzzy: frozenset[str] = frozenset()) -> None:
    catalog = Catalog(locale="zh_CN")
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr, flags=["fuzzy"] if msgid in fuzzy else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        write_po(f, catalog)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    pot, po = tmp_path / "gettext", tmp_path / "locales"
    monkeypatch.setattr(i18n, "POT", pot)
    monkeypatch.setattr(i18n, "CATALOGS", po)
    return pot, po


def test_a_complete_catalog_passes(dirs: tuple[Path, Path]) -> None:
    pot, po = dirs
    _write(pot / "book" / "a.pot", {"Hello": "", "World": ""})
    _write(po / "book" / "a.po", {"Hello": "你好", "World": "世界"})
    assert i18n.problems(sorted(pot.rglob("*.pot"))) == []


@pytest.mark.parametrize(
    ("catalog", "fuzzy", "complaint"),
    [
        ({"Hello": "你好"}, frozenset(), "1 not in the catalog"),
        ({"Hello": "你好", "World": ""}, frozenset(), "1 untranslated"),
        ({"Hello": "你好", "World": "世界"}, frozenset({"World"}), "1 fuzzy"),
        ({"Hello": "你好", "World": "世界", "Gone": "走了"}, frozenset(), "1 no longer"),
    ],
)
def test_every_kind_of_gap_is_reported(
    dirs: tuple[Path, Path], catalog: dict[str, str], fuzzy: frozenset[str], complaint: str
) -> None:
    pot, po = dirs
    _write(pot / "book" / "a.pot", {"Hello": "", "World": ""})
    _write(po / "book" / "a.po", catalog, fuzzy)
    found = i18n.problems(sorted(pot.rglob("*.pot")))
    assert len(found) == 1 and complaint in found[0], found


def test_a_missing_or_orphan_catalog_is_reported(dirs: tuple[Path, Path]) -> None:
    pot, po = dirs
    _write(pot / "book" / "a.pot", {"Hello": ""})
    _write(po / "book" / "b.po", {"Hello": "你好"})
    found = i18n.problems(sorted(pot.rglob("*.pot")))
    assert any("book/a: no catalog" in line for line in found)
    assert any("book/b: a catalog for a page that does not exist" in line for line in found)


@pytest.mark.parametrize("page", ["index", "book/04_layernorm", "book/api"])
def test_twin_links_lead_back(page: str) -> None:
    """English page -> its Chinese twin -> back to the English page, as a browser resolves it."""
    from posixpath import dirname, join, normpath

    to_zh = languages.twin_href(page, chinese=False)
    zh_page = normpath(join(dirname(page), to_zh))
    assert zh_page == f"zh/{page}.html"
    back = languages.twin_href(page, chinese=True)
    assert normpath(join(dirname(zh_page), back)) == f"{page}.html"


def _catalog(name: str) -> list[tuple[str, str]]:
    with open(CATALOGS / f"{name}.po", "rb") as f:
        return [(m.id, m.string) for m in read_po(f) if m.id]


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("Going deeper", "深入一步"),
        ("Common mistake:", "常见错误："),
        ("**Takeaway:", "**要点："),
    ],
)
def test_the_phrases_the_site_needs_are_translated_alike(english: str, chinese: str) -> None:
    """The site folds "深入一步" sections (book/_ext/going_deeper.py); the rest keeps one voice."""
    pairs = [p for po in sorted(CATALOGS.glob("*.po")) for p in _catalog(po.stem)]
    wrong = [i for i, s in pairs if i.startswith(english) and s and not s.startswith(chinese)]
    assert wrong == [], f"{len(wrong)} messages, e.g. {wrong[:2]}"
    assert any(i.startswith(english) for i, _ in pairs)


def _all_messages() -> list[tuple[str, str, str]]:
    return [(po.stem, i, s) for po in sorted(CATALOGS.glob("*.po")) for i, s in _catalog(po.stem)]


def _markup(text: str) -> dict[str, int]:
    """How many pieces of each kind of inline markup a message renders to (markdown-it with
    MyST's dollar math, as the site parses it)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    counts: dict[str, int] = {}
    for block in md.parse(text):
        for tok in block.children or []:
            if tok.type in ("strong_open", "em_open", "code_inline", "link_open", "math_inline"):
                counts[tok.type] = counts.get(tok.type, 0) + 1
    return counts


def test_translations_keep_the_markup() -> None:
    """Bold, emphasis, code, links and math survive translation. In Chinese text ``**`` next to
    full-width punctuation can stop being bold (CommonMark's flanking rules): this catches it."""
    wrong = [
        f"{page}: {_markup(i)} -> {_markup(s)}: {s[:60]!r}"
        for page, i, s in _all_messages()
        if s and _markup(i) != _markup(s)
    ]
    assert wrong == [], f"{len(wrong)} messages:\n" + "\n".join(wrong[:10])


def test_links_to_a_chapter_use_its_chinese_title() -> None:
    """A link whose English text is a chapter's title shows that chapter's Chinese title (without
    the English name in parentheses that the title itself carries), in quotation marks, as a
    Chinese text marks a title inside a sentence."""
    import json
    import re

    titles = {}
    for path in sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")):
        first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        match = re.search(r"^# (.+)$", first, re.M)
        assert match is not None
        chinese = dict(_catalog(path.stem))[match.group(1)]
        titles[path.name] = (match.group(1), re.sub(r"（[A-Za-z][A-Za-z ]*）", "", chinese))
    link = r"\[([^\]]+)\]\(([0-9][0-9]_[a-z_]+\.ipynb)\)"
    wrong = []
    for page, i, s in _all_messages():
        for text, target in re.findall(link, i):
            english, chinese = titles[target]
            if text == english and f"“[{chinese}]({target})”" not in s:
                wrong.append(f"{page}: {target} should read “[{chinese}]”")
    assert wrong == [], "\n".join(wrong[:10])


def _kept(text: str) -> dict[str, list[str]]:
    """What a translation must keep exactly: role targets (``{term}`Target``` and
    ``{term}`text <Target>``` name the same target), link targets, inline code and math."""
    import re

    role = re.compile(r"\{([a-z:-]+)\}`([^`]*)`")
    targets = []
    for name, body in role.findall(text):
        target = re.search(r"<([^<>]+)>\s*$", body)
        targets.append(f"{name}:{(target.group(1) if target else body).strip()}")
    rest = role.sub(" ", text)
    code = re.findall(r"`([^`]+)`", rest)
    rest = re.sub(r"`[^`]+`", " ", rest)
    return {
        "roles": sorted(targets),
        "code": sorted(code),
        "math": sorted(re.findall(r"\$\$.*?\$\$|\$[^$\n]+\$", rest, re.S)),
        "links": sorted(re.findall(r"\]\(([^)\s]+)\)", rest)),
    }


def test_translations_keep_targets_code_and_math() -> None:
    wrong = []
    for page, i, s in _all_messages():
        if not s:
            continue
        english, chinese = _kept(i), _kept(s)
        for kind in english:
            if english[kind] != chinese[kind]:
                extra = set(english[kind]) ^ set(chinese[kind])
                wrong.append(f"{page}: {kind} {sorted(extra)[:3]} in {s[:50]!r}")
    assert wrong == [], f"{len(wrong)} messages:\n" + "\n".join(wrong[:12])


def test_the_common_mistakes_page_uses_the_boxes_titles() -> None:
    """The page lists every "Common mistake" box (book/_ext/common_mistakes.py) under its English
    title; its catalog must give each the title that the box has in its chapter's translation."""
    import re

    pages = dict(_catalog("common_mistakes"))
    boxes = {}
    for po in sorted(CATALOGS.glob("[0-9][0-9]_*.po")):
        for i, s in _catalog(po.stem):
            if i.startswith("Common mistake:") and s.startswith("常见错误："):
                boxes[i.removeprefix("Common mistake:").strip()] = s.removeprefix("常见错误：")
    wrong = []
    for i, s in pages.items():
        match = re.fullmatch(r"\[(.+)\]\((#mistake-[a-z0-9-]+)\)", i)
        if match and match.group(1) in boxes:
            if s != f"[{boxes[match.group(1)].strip()}]({match.group(2)})":
                wrong.append(f"{match.group(2)}: {s!r}, the box reads {boxes[match.group(1)]!r}")
    assert len(pages) > 20 and wrong == [], "\n".join(wrong)
