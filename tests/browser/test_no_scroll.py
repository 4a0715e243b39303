"""Nothing on a chapter page scrolls sideways at a 1300-px-wide window.

Run by `make browser` with the other browser tests, against the built site (`_build/html`,
or the folder in NORMBOOK_SITE). Every code block and every output block of every chapter,
folded ones included (Going deeper sections and solutions are opened first), must fit its
box: a block whose content is wider than the block scrolls horizontally, and a reader of
the page sees a clipped line. The same holds for display equations (MathJax) and for the
page's contents sidebar, whose entries wrap. The failure lists each such block with its
first line.

On the same visit: the first "Going deeper" section of the chapter (book/_ext/going_deeper.py)
and its first exercise solution start folded and open on a click.
"""

from __future__ import annotations

import pytest
from test_site import SITE, _open, _pages, server  # noqa: F401  (fixtures)

WIDTH = 1300
BLOCKS = (
    "div.highlight pre, div.cell_output pre, div.output pre, div.math, mjx-container[display],"
    " .bd-sidebar-secondary .sidebar-secondary-items"
)
OPEN_EVERYTHING = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
}"""
SCROLLING = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.scrollWidth - e.clientWidth}px too wide: `
            + (e.innerText.split('\\n').find(l => l.length > 60) || e.innerText).slice(0, 90))"""


def _chapters() -> list[str]:
    return [p for p in _pages() if p.startswith("book/") and p[5:7].isdigit()]


@pytest.mark.parametrize("path", _chapters())
def test_no_block_scrolls_horizontally(browser: object, server: str, path: str) -> None:  # noqa: F811
    """Also, on the same page (one visit per chapter, for speed): its first Going deeper section
    and its first solution start folded and open on a click."""
    page, problems = _open(browser, f"{server}/{path}", server)
    _going_deeper_starts_folded(page, path)
    _solution_starts_folded(page, path)
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.evaluate(OPEN_EVERYTHING)
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise")
    page.wait_for_timeout(300)  # the opened sections lay out
    wide = page.evaluate(SCROLLING, BLOCKS)
    page.close()
    assert wide == [], f"{path}: {len(wide)} blocks scroll sideways at {WIDTH} px:\n" + "\n".join(
        wide
    )
    assert problems.errors == [], "\n".join(problems.errors)


def _going_deeper_starts_folded(page: object, path: str) -> None:
    sections = page.locator("section.going-deeper")
    if sections.count() == 0:
        return
    first = sections.first
    details = first.locator("details.toggle-details").first
    assert details.count() == 1, f"{path}: a Going deeper section has no toggle"
    assert not details.evaluate("d => d.open"), f"{path}: Going deeper starts open"
    assert first.locator("h2, h3").first.is_visible(), f"{path}: its title is hidden"
    details.locator("summary").click()
    page.wait_for_timeout(300)
    assert details.evaluate("d => d.open"), f"{path}: Going deeper did not open on click"


def _solution_starts_folded(page: object, path: str) -> None:
    solutions = page.locator("div.solution.dropdown")
    if solutions.count() == 0:
        return
    first = solutions.first
    first.scroll_into_view_if_needed()
    body = first.locator("section").first
    assert not body.is_visible(), f"{path}: a solution is open before any click"
    # the toggle button (the title itself holds a link back to the exercise)
    first.locator("button.toggle-button").first.click()
    page.wait_for_timeout(400)
    assert body.is_visible(), f"{path}: the solution did not open on click"


def test_chapters_have_folded_sections_and_solutions() -> None:
    """The checks above are not vacuous: the built chapters have both kinds of fold."""
    pages = [(SITE / p).read_text(encoding="utf-8") for p in _chapters()]
    assert pages, f"no chapter pages in {SITE}"
    assert sum("going-deeper" in html for html in pages) >= len(pages) // 2
    assert sum('class="solution dropdown' in html for html in pages) >= len(pages) // 2
