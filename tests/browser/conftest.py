"""The one browser every browser test drives: the installed Chromium (tests/browser/chromium.py),
launched once per test session with the flags of a closed network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chromium import ARGS, find_chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    try:
        chromium = find_chromium()
    except FileNotFoundError as err:  # one clear line: what to install
        pytest.fail(str(err), pytrace=False)
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS, timeout=60_000)
        yield b
        b.close()
