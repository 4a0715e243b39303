"""The Chinese edition (`_build/html/zh`, built by `make book` and by `make test`), in Chromium.

Every Chinese page is also opened by `test_site.test_page_loads_cleanly` (no console errors,
nothing fetched from outside, math typeset, images loaded). Here: the links between the two
editions work both ways, Chinese text is drawn with a CJK font (the one `make browser-deps`
installs on Debian, `fonts-wqy-zenhei`, or any font fontconfig lists for Chinese), the "深入一步"
sections start folded with their Chinese badge, and the search page finds a Chinese term.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from test_site import ARTIFACTS, SITE, _open, _wait_for_mathjax, server  # noqa: F401

PAGES = ["book/intro.html", "book/04_layernorm.html", "book/glossary.html"]


@pytest.fixture(scope="module", autouse=True)
def _chinese_site() -> None:
    if not (SITE / "zh" / "book" / "intro.html").is_file():
        pytest.fail("no Chinese edition in the built site: run `make book` first", pytrace=False)


@pytest.mark.parametrize("path", PAGES)
def test_language_links_lead_to_the_twin_and_back(browser: object, server: str, path: str) -> None:  # noqa: F811
    page, problems = _open(browser, f"{server}/{path}", server)
    assert page.evaluate("document.documentElement.lang").startswith("en")
    # leave a page only once its fonts have loaded: navigating away aborts pending requests,
    # which the problem collector would count as failed ones
    page.wait_for_load_state("networkidle")
    page.locator("a.language-twin").click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{server}/zh/{path}"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("a.language-twin").inner_text() == "English"
    page.locator("a.language-twin").click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{server}/{path}"
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)


def _chinese_font_families() -> set[str]:
    """The font families fontconfig has for Chinese (empty where there is no fc-list)."""
    if shutil.which("fc-list") is None:
        return set()
    out = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}


def test_chinese_text_is_drawn_with_a_cjk_font(browser: object, server: str) -> None:  # noqa: F811
    page, problems = _open(browser, f"{server}/zh/book/04_layernorm.html", server)
    paragraph = page.locator("article p").filter(has_text="层归一化").first
    paragraph.scroll_into_view_if_needed()
    paragraph.evaluate("e => e.setAttribute('data-font-probe', '1')")  # for DevTools to find
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    probe = session.send("DOM.querySelector", {"nodeId": root, "selector": "[data-font-probe]"})
    fonts = session.send("CSS.getPlatformFontsForNode", {"nodeId": probe["nodeId"]})["fonts"]
    used = {f["familyName"] for f in fonts if f["glyphCount"] > 0}
    assert used, "no font drew the paragraph"
    chinese = _chinese_font_families()
    if chinese:  # Linux with fontconfig: one of the fonts for Chinese drew the CJK glyphs
        assert used & chinese, f"fonts used {used}, none of them a Chinese font ({chinese})"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chapter_zh.png"), full_page=False)
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)


def test_going_deeper_sections_start_folded_with_a_chinese_badge(
    browser: object,
    server: str,  # noqa: F811
) -> None:
    page, problems = _open(browser, f"{server}/zh/book/12_numerics.html", server)
    sections = page.locator("section.going-deeper")
    assert sections.count() > 0, "no 深入一步 section was folded"
    first = sections.first
    heading = first.locator("h2, h3, h4").first
    assert "深入一步" in heading.inner_text()  # after its section number
    badge = heading.evaluate("h => getComputedStyle(h, '::after').content")
    assert badge == '"深入一步 · 选读"'
    assert not first.locator(".going-deeper-body").first.is_visible()
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)


def test_search_finds_a_chinese_term(browser: object, server: str) -> None:  # noqa: F811
    page, problems = _open(browser, f"{server}/zh/search.html?q=组归一化", server)
    page.wait_for_selector("#search-results li", timeout=30_000)
    assert page.locator("#search-results li").count() > 0
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)
