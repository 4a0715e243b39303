"""The Chinese edition: extract the messages, update the catalogs, check them, build the site.

    python tools/i18n.py pot       # the English messages: _build/i18n/gettext/book/*.pot
    python tools/i18n.py update    # pot, then sphinx-intl update: locales/zh_CN/.../book/*.po
    python tools/i18n.py check     # exit 1 if a message is untranslated, fuzzy or left over
    python tools/i18n.py build [-W]  # the Chinese site into _build/html/zh (after the English one)

Sphinx's gettext builder turns every translatable piece of text of the book (a paragraph, a
heading, a list item, a table cell, an admonition's body, a caption) into one message; code,
outputs and math stay as they are. ``sphinx-intl update`` keeps the translation of every
message whose English did not change, marks a message whose English changed as *fuzzy* (the
old translation is kept as a hint but is not used), and adds new messages untranslated. The
check fails on any of those, so every change of the English text must come with its
translation. The API page (``book/api.md``, generated from the docstrings) is not translated:
like the code, it stays in English; its catalog is neither written nor checked.

The Chinese build is the English build with ``language: zh_CN`` (a copy of ``_config.yml``
written to ``_build/i18n/_config_zh.yml``); it goes into its own folder and is then copied to
``_build/html/zh``, so that one site holds both editions.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
LANG = "zh_CN"
WORK = ROOT / "_build" / "i18n"
POT = WORK / "gettext"
LOCALES = ROOT / "locales"
CATALOGS = LOCALES / LANG / "LC_MESSAGES"
NOT_TRANSLATED = {"book/api"}  # generated from docstrings: stays in English, like the code
JB = [str(Path(sys.executable).parent / "jupyter-book")]


def pot() -> list[Path]:
    """Run the gettext builder; return the templates of the pages that are translated."""
    if POT.exists():
        shutil.rmtree(POT)
    subprocess.run(
        [
            *JB,
            "build",
            str(ROOT),
            "--path-output",
            str(WORK / "pot"),
            "--builder",
            "custom",
            "--custom-builder",
            "gettext",
            "--all",  # every page read again: a changed extension changes the messages too
            "-q",
        ],
        check=True,
    )
    shutil.move(WORK / "pot" / "_build" / "gettext", POT)
    for name in NOT_TRANSLATED:
        (POT / f"{name}.pot").unlink(missing_ok=True)
    return sorted(POT.rglob("*.pot"))


def update() -> None:
    """Bring the catalogs up to date with the English text (``sphinx-intl update``)."""
    pot()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx_intl",
            "update",
            "-p",
            str(POT),
            "-l",
            LANG,
            "-d",
            str(LOCALES),
            "-w",
            "96",
        ],
        check=True,
    )


def problems(pots: list[Path]) -> list[str]:
    """One line per catalog that does not translate its page's messages completely."""
    out = []
    for template in pots:
        name = template.relative_to(POT).with_suffix("")
        po_path = CATALOGS / f"{name}.po"
        with open(template, "rb") as f:
            wanted = {m.id for m in read_po(f) if m.id}
        if not po_path.exists():
            out.append(f"{name}: no catalog ({len(wanted)} messages): run tools/i18n.py update")
            continue
        with open(po_path, "rb") as f:
            catalog = read_po(f)
        have = {m.id: m for m in catalog if m.id}
        missing = sorted(i for i in wanted if i not in have)
        empty = sorted(i for i in wanted if i in have and not have[i].string)
        fuzzy = sorted(i for i in wanted if i in have and have[i].fuzzy)
        stale = sorted(i for i in have if i not in wanted)
        for what, ids in [
            ("not in the catalog", missing),
            ("untranslated", empty),
            ("fuzzy", fuzzy),
            ("no longer in the English text", stale),
        ]:
            if ids:
                first = str(ids[0]).replace("\n", " ")[:70]
                out.append(f"{name}: {len(ids)} {what}, e.g. {first!r}")
    for po_path in sorted(CATALOGS.rglob("*.po")):
        name = po_path.relative_to(CATALOGS).with_suffix("")
        if not (POT / f"{name}.pot").exists():
            out.append(f"{name}: a catalog for a page that does not exist (or is not translated)")
    return out


def check() -> int:
    found = problems(pot())
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(
            "fix: python tools/i18n.py update, then translate what it reports "
            "(CONTRIBUTING.md, 'The Chinese edition')",
            file=sys.stderr,
        )
        return 1
    print(f"every message of {len(list(POT.rglob('*.pot')))} pages is translated")
    return 0


def search_terms() -> list[str]:
    """The Chinese terms of the glossary (the part of each translated term before its English
    name), for the search index: jieba, which splits Chinese text into words for Sphinx's
    search, does not know 组归一化 and would index 组 and 归一化 apart."""
    glossary = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    body = glossary.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms = [line.strip() for line in body.splitlines() if line and not line.startswith(" ")]
    with open(CATALOGS / "book" / "glossary.po", "rb") as f:
        catalog = read_po(f)
    words = []
    for term in terms:
        message = catalog.get(term)
        head = message.string.split("（")[0] if message is not None and message.string else ""
        words += [w for w in re.split(r"[、，,]", head) if w and " " not in w]
    return sorted(set(words))


def build(strict: bool) -> int:
    """The Chinese site into _build/html/zh (the English site must be built first for make book;
    the Chinese one is built on its own)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = "归一化层，一步一步"
    config["author"] = "normbook 的作者们"
    sphinx = config.setdefault("sphinx", {})
    settings = sphinx.setdefault("config", {})
    settings["language"] = LANG
    # texts that extensions write themselves (Sphinx and the theme bring their own Chinese)
    settings["togglebutton_hint"] = "点击展开"
    settings["togglebutton_hint_hide"] = "点击收起"
    settings["nb_code_prompt_show"] = "显示代码单元"
    settings["nb_code_prompt_hide"] = "隐藏代码单元"
    # the book's terms as single words in the search index (one per line: word, frequency)
    WORK.mkdir(parents=True, exist_ok=True)
    terms = WORK / "search_terms.txt"
    terms.write_text("".join(f"{w} 100000\n" for w in search_terms()), encoding="utf-8")
    settings["html_search_options"] = {"dict": str(terms)}
    # Jupyter Book finds local extensions relative to the config file, which is elsewhere now
    sphinx["local_extensions"] = {
        name: str(ROOT / path) for name, path in sphinx.get("local_extensions", {}).items()
    }
    path_config = WORK / "_config_zh.yml"
    path_config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    args = [
        *JB,
        "build",
        str(ROOT),
        "--config",
        str(path_config),
        "--path-output",
        str(WORK / "zh"),
    ]
    if strict:
        args += ["-W", "-n", "--keep-going"]
    done = subprocess.run(args)
    if done.returncode:
        return done.returncode
    site = ROOT / "_build" / "html" / "zh"
    if site.exists():
        shutil.rmtree(site)
    shutil.copytree(WORK / "zh" / "_build" / "html", site)
    print(f"The Chinese edition is in {site}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["pot", "update", "check", "build"])
    parser.add_argument("-W", action="store_true", help="build: warnings are errors")
    args = parser.parse_args(argv)
    if args.command == "pot":
        print("\n".join(str(p.relative_to(ROOT)) for p in pot()))
        return 0
    if args.command == "update":
        update()
        return 0
    if args.command == "check":
        return check()
    return build(args.W)


if __name__ == "__main__":
    sys.exit(main())
