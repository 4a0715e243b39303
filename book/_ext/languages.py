"""The two editions of the book: English at the site's root, Chinese under ``zh/``.

Both are built from the same sources. The Chinese build sets ``language = "zh_CN"``; Sphinx
then replaces every translatable message with its translation from ``locales/zh_CN`` (gettext
catalogs, ``tools/i18n.py``). This extension adds what the translation machinery does not:

- a link at the top of every page to the same page in the other edition (``zh/`` + the page's
  path from English, and back from Chinese);
- the tag ``zh`` in the Chinese build, so that a page can hold a passage that only the Chinese
  edition shows (the terminology note of the introduction), in an ``{only} zh`` directive;
- ``html_lang`` for the ``<html lang=...>`` attribute, so that a browser picks CJK fonts.
"""

from __future__ import annotations

from sphinx.application import Sphinx

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


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _tag)
    app.connect("html-page-context", _link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
