"""The built website as a reader meets it, in a real headless Chromium.

Run by `make browser` (part of `make test`) after the book is built. The site is served on
127.0.0.1 from `_build/html`; every request that leaves 127.0.0.1 is blocked and counted as
a failure, so a page that needs the internet (a CDN script, a web font) fails the test.

For every page: no console errors, no failed requests, math typeset by MathJax (no raw `$$`
left), every image loaded. The search page finds "GroupNorm". Screenshots go to
`test-artifacts/` (not committed). That solutions start folded is checked in test_no_scroll.py,
on its one visit of each chapter.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")


ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("NORMBOOK_SITE", ROOT / "_build" / "html"))
ARTIFACTS = ROOT / "test-artifacts"
SKIP_PAGES = {"genindex.html", "search.html"}  # generated index pages, tested separately


def _pages() -> list[str]:
    if not SITE.is_dir():
        return []
    pages = [
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(SITE).parts)
    ]
    return sorted(p for p in pages if p not in SKIP_PAGES)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    if not (SITE / "index.html").is_file():
        pytest.fail("no built site: run `make book` first (make test builds it)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class PageProblems:
    """Collects console errors, page errors and failed or blocked requests of one page."""

    def __init__(self, page: object, origin: str) -> None:
        self.errors: list[str] = []
        page.on(
            "console",
            lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url}"))
        page.on(
            "response",
            lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )

        def route(request_route: object) -> None:
            url = request_route.request.url
            if url.startswith(origin) or url.startswith("data:"):
                request_route.continue_()
            else:
                self.errors.append(f"request leaves the site (offline failure): {url}")
                request_route.abort()

        page.route("**/*", route)


def _open(browser: object, url: str, origin: str) -> tuple[object, PageProblems]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = PageProblems(page, origin)
    page.goto(url, wait_until="load", timeout=60_000)
    if url.endswith(("/", "index.html")):
        # index.html redirects to the intro page: let that navigation finish before inspecting
        page.wait_for_load_state("networkidle", timeout=60_000)
    return page, problems


def _wait_for_mathjax(page: object) -> None:
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && (MathJax.startup.promise.then(() => { window.__mjdone = true; }), window.__mjdone)",
        timeout=30_000,
    )


@pytest.mark.parametrize("path", _pages())
def test_page_loads_cleanly(browser: object, server: str, path: str) -> None:
    page, problems = _open(browser, f"{server}/{path}", server)
    has_math = page.locator(".math").count() > 0
    if has_math:
        _wait_for_mathjax(page)
        assert page.locator("mjx-container").count() > 0, "math was not typeset"
        text = page.evaluate(
            "() => { const b = document.querySelector('main') || document.body;"
            " const c = b.cloneNode(true); c.querySelectorAll('pre, code, script')"
            ".forEach(e => e.remove()); return c.innerText; }"
        )
        assert "$$" not in text, "raw $$ left in the page"
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.src.slice(0, 120))"
    )
    assert broken == [], f"images that did not load: {broken}"
    page.wait_for_timeout(200)
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)


def test_search_finds_groupnorm(browser: object, server: str) -> None:
    page, problems = _open(browser, f"{server}/search.html?q=GroupNorm", server)
    page.wait_for_selector("#search-results li", timeout=30_000)
    assert page.locator("#search-results li").count() > 0
    page.close()
    assert problems.errors == [], "\n".join(problems.errors)


def test_screenshots(browser: object, server: str) -> None:
    """Landing page and one chapter, saved for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    chapters = [p for p in _pages() if p.startswith("book/") and p[5:7].isdigit()]
    for name, path in [("landing", "index.html"), ("chapter", chapters[-1] if chapters else "")]:
        if not path:
            continue
        page, _ = _open(browser, f"{server}/{path}", server)
        page.wait_for_load_state("networkidle")
        if page.locator(".math").count() > 0:
            _wait_for_mathjax(page)
        page.wait_for_timeout(1000)  # the theme fades the content in
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
        page.close()
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
