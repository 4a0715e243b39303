"""The two editions of the book: English at the site's root, Chinese under ``zh/``.

Both are built from the same sources. The Chinese build sets ``language = "zh_CN"``; Sphinx
then replaces every translatable message with its translation from ``locales/zh_CN`` (gettext
catalogs, ``tools/i18n.py``). This extension adds what the translation machinery does not:

- a link at the top of every page to the same page in the other edition (``zh/`` + the page's
  path from English, and back from Chinese);
- the tag ``zh`` in the Chinese build, so that a page can hold a passage that only the Chinese
  edition shows (the terminology note of the introduction), in an ``{only} zh`` directive;
- the titles of exercises as messages: sphinx-exercise makes the title (``{exercise} Bytes of
  GroupNorm``) a node without a source, which Sphinx's translation skips; a transform that runs
  before the translation gives it its source, so it is translated. The gettext builder reads
  messages only after sphinx-exercise has rebuilt the title (a post-transform), so the titles
  are recorded when the page is read and added to its catalog when it is written. A solution's
  title ("Solution to Exercise 12.3 (...)") is made from sphinx-exercise's copy of the exercise,
  taken before the translation; the copy is taken again once the page is translated.
- the captions of the table of contents (the parts of ``_toc.yml``): sphinx-external-toc
  inserts the toctrees after Sphinx has translated the page, so they are translated here;
- Chinese for what the themes and sphinx-exercise write themselves: full-width parentheses
  around exercise titles, the search field's placeholder, and the interface texts that the
  themes' catalogs leave untranslated (``locales/theme/``).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import (
    exercise_enumerable_node,
    exercise_node,
    exercise_subtitle,
    solution_node,
    solution_start_node,
)

EXERCISES = (exercise_node, exercise_enumerable_node)
SOLUTIONS = (solution_node, solution_start_node)

ZH = "zh_CN"
PREFIX = "zh"  # the Chinese edition's folder inside the English site


def is_chinese(app: Sphinx) -> bool:
    return (app.config.language or "").startswith("zh")


def twin_href(pagename: str, chinese: bool) -> str:
    """The relative link from ``pagename`` (e.g. ``book/04_layernorm``) to its twin.

    >>> twin_href("book/04_layernorm", chinese=False)
    '../zh/book/04_layernorm.html'
    >>> twin_href("book/04_layernorm", chinese=True)
    '../../book/04_layernorm.html'
    >>> twin_href("index", chinese=False)
    'zh/index.html'
    """
    up = "../" * pagename.count("/")
    if chinese:
        return f"{up}../{pagename}.html"
    return f"{up}{PREFIX}/{pagename}.html"


def _tag(app: Sphinx, config: object) -> None:
    if is_chinese(app):
        app.tags.add(PREFIX)
        app.config.html_theme_options["search_bar_text"] = "搜索本书……"


def _theme_texts(app: Sphinx) -> None:  # builder-inited: the theme has registered its catalog
    """Put ``locales/theme/zh_CN/LC_MESSAGES/<domain>.po`` in front of the themes' own Chinese
    catalogs: the texts they leave untranslated (the repository and launch buttons, the colour
    mode) or word the Taiwanese way ("列印成 PDF")."""
    if not is_chinese(app):
        return
    from babel.messages.pofile import read_po
    from sphinx import locale

    folder = Path(app.srcdir) / "locales" / "theme" / ZH / "LC_MESSAGES"
    for po in sorted(folder.glob("*.po")):
        with open(po, "rb") as f:
            ours = {m.id: m.string for m in read_po(f) if m.id and m.string}
        translator = locale.translators.get(("general", po.stem))
        if translator is None or not hasattr(translator, "_catalog"):
            continue  # the theme has no Chinese catalog at all: nothing to put ours in front of
        translator._catalog.update(ours)


def _link(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    if "body" not in context:
        return
    chinese = is_chinese(app)
    label, lang = ("English", "en") if chinese else ("中文", "zh-CN")
    title = "Read this page in English" if chinese else "阅读本页的中文版"
    href = twin_href(pagename, chinese)
    link = (
        f'<div class="language-switch"><a class="language-twin" href="{href}"'
        f' hreflang="{lang}" lang="{lang}" title="{title}">{label}</a></div>'
    )
    context["body"] = link + context["body"]


class ExerciseTitlesAreMessages(SphinxTransform):
    """Give every exercise's subtitle (the text after "Exercise N") a source and a raw source,
    before Sphinx's Locale transform (priority 20) extracts or translates messages."""

    default_priority = 10

    def apply(self, **kwargs: object) -> None:
        for node in self.document.findall(exercise_subtitle):
            if node.source:
                continue
            exercise = node.parent.parent  # subtitle < exercise_title < exercise node
            node.source = exercise.source or self.document["source"]
            node.line = node.line or exercise.line
            node.rawsource = node.rawsource or node.astext()


class TranslateTocCaptions(SphinxTransform):
    """Translate the captions of the toctrees that sphinx-external-toc inserts (priority 100),
    with the page's own catalog, as Sphinx's Locale transform would have done."""

    default_priority = 110

    def apply(self, **kwargs: object) -> None:
        if not is_chinese(self.app):
            return
        from sphinx.addnodes import toctree
        from sphinx.locale import init as init_locale
        from sphinx.util.i18n import docname_to_domain

        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        dirs = [str(Path(self.env.srcdir) / d) for d in self.config.locale_dirs]
        catalog, found = init_locale(dirs, self.config.language, domain)
        if not found:
            return
        for node in self.document.findall(toctree):
            caption = node.get("rawcaption")
            translated = catalog.gettext(caption) if caption else caption
            if caption and translated != caption:
                node.apply_translated_message(caption, translated)


class ChineseParentheses(SphinxTransform):
    """In the Chinese edition, "练习 2.1 (数一数统计量)" becomes "练习 2.1（数一数统计量）": the
    parentheses that sphinx-exercise puts around an exercise's title (in its own heading and in
    its solution's), full-width as Chinese text writes them."""

    default_priority = 30  # a post-transform after sphinx-exercise's (20)

    def apply(self, **kwargs: object) -> None:
        if not is_chinese(self.app):
            return
        full_width = {" (": "（", ")": "）"}
        for node in self.document.findall(lambda n: isinstance(n, (*EXERCISES, *SOLUTIONS))):
            title = node.children[0] if node.children else None
            if not isinstance(title, nodes.title):
                continue
            for text in list(title.findall(nodes.Text)):
                if str(text) in full_width:
                    text.parent.replace(text, nodes.Text(full_width[str(text)]))


def _record_exercise_titles(app: Sphinx, doctree: nodes.document) -> None:
    # solutions take their exercise's title from sphinx-exercise's registry: refresh its copy
    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for node in doctree.findall(lambda n: isinstance(n, EXERCISES)):
        label = node.get("label")
        if label in registry and registry[label].get("docname") == app.env.docname:
            registry[label]["node"] = node.deepcopy()
    titles = [
        (node.rawsource, node.source, node.line)
        for node in doctree.findall(exercise_subtitle)
        if node.rawsource
    ]
    _exercise_titles(app.env)[app.env.docname] = titles


def _exercise_titles(env: object) -> dict[str, list[tuple[str, str, int]]]:
    if not hasattr(env, "normbook_exercise_titles"):
        env.normbook_exercise_titles = {}  # type: ignore[attr-defined]
    return env.normbook_exercise_titles  # type: ignore[attr-defined, no-any-return]


def _extract_exercise_titles(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.name != "gettext":
        return
    from sphinx.builders.gettext import MsgOrigin
    from sphinx.util.i18n import docname_to_domain

    catalog = app.builder.catalogs[docname_to_domain(docname, app.config.gettext_compact)]
    for msg, source, line in _exercise_titles(app.env).get(docname, []):
        catalog.add(msg, MsgOrigin(source, line))


def setup(app: Sphinx) -> dict[str, object]:
    app.add_transform(ExerciseTitlesAreMessages)
    app.add_transform(TranslateTocCaptions)
    app.add_post_transform(ChineseParentheses)
    app.connect("doctree-read", _record_exercise_titles)
    app.connect("doctree-resolved", _extract_exercise_titles)
    app.connect("config-inited", _tag)
    app.connect("builder-inited", _theme_texts)
    app.connect("html-page-context", _link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
