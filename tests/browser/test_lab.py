"""A chapter as a learner meets it in JupyterLab (``make lab``), in a real headless Chromium.

JupyterLab with jupyterlab-myst (requirements.txt) is started on 127.0.0.1 on a copy of one
chapter and its exercise notebook (never on book/ itself: JupyterLab writes checkpoints). The
rendered markdown must show no raw MyST: no ``(label)=`` lines, no ``{ref}`` / ``{cite:p}``
roles, no directive fences. Admonitions and exercises must render as boxes, references and
citations as text or links. Screenshots go to ``test-artifacts/lab-*.png`` for a person to
look at.

jupyterlab-myst replaces JupyterLab's markdown renderer: a rendered cell is a ``.myst``
widget (JupyterLab's own renderer, ``.jp-RenderedMarkdown``, is not used). Inside one
notebook it cannot resolve a citation (no bibliography): it shows the key, marked "not
found". Citation keys are the only unresolved targets allowed. A chapter links to another
as a markdown link to its notebook (``[title](02_....ipynb)``), which both Sphinx and
JupyterLab follow, so no bare label of another chapter shows. Solution code cells are
folded in JupyterLab (``tools/tag_solutions.py``): the answer sits under a fold, not in view.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import tag_solutions  # noqa: E402

playwright_api = pytest.importorskip("playwright.sync_api")


ROOT = Path(__file__).resolve().parents[2]
# jupyterlab-myst's rendered markdown; the default renderer's class means it is not active
MYST = ".jp-MarkdownCell .myst"
DEFAULT_RENDERER = ".jp-MarkdownCell .jp-RenderedMarkdown"
# jupyterlab-myst marks a citation or cross-reference it cannot resolve with this class
UNRESOLVED = ".jp-MarkdownCell .myst .text-yellow-600"
ARTIFACTS = ROOT / "test-artifacts"
BOOK = ROOT / "book"
CHAPTER = BOOK / "06_groupnorm.ipynb"
# what a reader must never see as text in a rendered markdown cell
RAW_MYST = {
    "label line (label)=": re.compile(r"^\(([a-z0-9-]+)\)=\s*$", re.M),
    "role {ref}/{cite}/{eq}/{term}/{doc}": re.compile(r"\{(ref|cite(:[pt])?|eq|term|doc)\}`"),
    "directive fence": re.compile(r"(```|:::)\s*\{[a-z-]+\}"),
    "directive option": re.compile(r"^:(label|class|name):", re.M),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    work = tmp_path_factory.mktemp("lab")
    notebooks = work / "notebooks"
    notebooks.mkdir()
    shutil.copy(CHAPTER, notebooks / CHAPTER.name)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/make_exercises.py"),
            "--out",
            str(notebooks),
            str(CHAPTER),
        ],
        check=True,
        capture_output=True,
    )
    # every cell rendered at once (no windowing), so the whole chapter can be inspected
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # no "Would you like to get notified about official Jupyter news?" toast over the page
    apputils = work / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token, port = secrets.token_hex(16), _free_port()
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--ServerApp.token={token}",
            f"--ServerApp.port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={notebooks}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "lab.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-2000:])
            time.sleep(0.5)
    yield base, token
    server.terminate()
    server.wait(timeout=20)


def _open(browser: object, lab: tuple[str, str], name: str) -> object:
    base, token = lab
    page = browser.new_page(viewport={"width": 1280, "height": 1000})

    def route(r: object) -> None:  # JupyterLab must not need the internet
        (
            r.continue_
            if r.request.url.startswith(base) or r.request.url.startswith("data:")
            else r.abort
        )()

    page.route("**/*", route)
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}", timeout=90_000)
    page.wait_for_selector(f"{MYST}, {DEFAULT_RENDERER}", timeout=90_000)
    if page.locator(MYST).count() == 0:
        pytest.fail("markdown rendered without jupyterlab-myst: is the extension installed?")
    # jupyterlab-myst renders the cells one after the other: wait until every one is
    page.wait_for_function(
        f"() => document.querySelectorAll('{MYST}').length"
        " === document.querySelectorAll('.jp-MarkdownCell').length",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # the last cells' math and cross-references
    return page


def _markdown_texts(page: object) -> list[str]:
    return page.evaluate(
        f"() => Array.from(document.querySelectorAll('{MYST}'))"
        ".map(e => { const c = e.cloneNode(true); c.querySelectorAll('pre, code')"
        ".forEach(x => x.remove()); return c.innerText; })"
    )


def _allowed_unresolved() -> set[str]:
    """The citation keys of references.bib: jupyterlab-myst has no bibliography."""
    return set(re.findall(r"^@\w+\{([^,\s]+),", (BOOK / "references.bib").read_text(), re.M))


def _shot(page: object, text: str, path: Path) -> None:
    cell = page.locator(".jp-MarkdownCell", has_text=text).first
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))


@pytest.mark.parametrize("name", [CHAPTER.name, CHAPTER.stem + "_exercises.ipynb"])
def test_chapter_renders_without_raw_myst(browser: object, lab: tuple[str, str], name: str) -> None:
    page = _open(browser, lab, name)
    texts = _markdown_texts(page)
    assert len(texts) > 10, f"only {len(texts)} markdown cells rendered"
    raw = [
        f"cell {i}, {what}: {m.group(0)!r}"
        for i, text in enumerate(texts)
        for what, pattern in RAW_MYST.items()
        if (m := pattern.search(text))
    ]
    found = {t.strip() for t in page.locator(UNRESOLVED).all_inner_texts()} - {""}
    unresolved = sorted(found - _allowed_unresolved())
    # the title renders as a heading, the label above it disappears
    headings = page.locator(".jp-MarkdownCell .myst h1").count()
    admonitions = page.locator(".jp-MarkdownCell .myst aside", has_text="Common mistake").count()
    exercises = page.locator(".jp-MarkdownCell .myst aside", has_text="Exercise").count()
    solutions = page.locator(".jp-MarkdownCell .myst details", has_text="Solution to").count()
    chapter_links = page.locator(".jp-MarkdownCell .myst a[href*='.ipynb']").count()
    folded = page.locator(".jp-CodeCell .jp-InputPlaceholder").count()
    wanted_folded = len(tag_solutions.solution_cells(json.loads(CHAPTER.read_text())))
    ARTIFACTS.mkdir(exist_ok=True)
    stem = "lab-exercises" if "_exercises" in name else "lab-chapter"
    page.screenshot(path=str(ARTIFACTS / f"{stem}-top.png"))
    _shot(page, "Common mistake", ARTIFACTS / f"{stem}-admonition.png")
    _shot(page, "Write GroupNorm yourself", ARTIFACTS / f"{stem}-exercises.png")
    page.close()
    assert raw == [], "raw MyST in JupyterLab:\n" + "\n".join(raw[:20])
    assert unresolved == [], f"targets jupyterlab-myst cannot resolve: {unresolved}"
    assert headings >= 1, "the title did not render as a heading"
    assert admonitions >= 1, "the Common mistake admonitions did not render as boxes"
    assert exercises >= 3, f"{exercises} exercise boxes rendered, want at least 3"
    assert chapter_links >= 2, f"{chapter_links} links to other chapters rendered, want 2+"
    if "_exercises" in name:
        assert solutions == 0, "the exercise notebook shows solutions"
        assert folded == 0, "the exercise notebook folds a cell the learner must fill in"
    else:
        assert solutions >= 3, f"{solutions} folded solutions rendered, want at least 3"
        assert folded == wanted_folded, f"{folded} solution cells folded, want {wanted_folded}"
