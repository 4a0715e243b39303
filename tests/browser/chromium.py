"""Find the Chromium (or Chrome) that the browser tests drive.

CI and `make test` on Debian/Ubuntu install Debian's ``chromium`` package (``make
browser-deps``). Elsewhere the tests use a browser that is already installed: the one named
by ``CHROMIUM`` (a path), else the first of the usual commands and install paths of
Linux, macOS and Windows. No test tool ever downloads a browser.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Flags for a closed network (no background connections that would be refused), headless.
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
COMMANDS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
MISSING = (
    "no Chromium or Chrome found: install Chromium (Debian/Ubuntu: apt-get install chromium; "
    "macOS: brew install --cask chromium; Windows: install Google Chrome) or set "
    "CHROMIUM=/path/to/the/browser"
)


def candidate_paths(environ: dict[str, str] | None = None) -> list[Path]:
    """The usual install paths, for the platforms that have them."""
    env = os.environ if environ is None else environ
    paths = [
        Path("/usr/bin/chromium"),
        Path("/usr/bin/chromium-browser"),
        Path("/snap/bin/chromium"),
        Path("/Applications/Chromium.app/Contents/MacOS/Chromium"),
        Path("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"),
    ]
    for var in ("PROGRAMFILES", "PROGRAMFILES(X86)", "LOCALAPPDATA"):
        if env.get(var):
            base = Path(env[var])
            paths += [
                base / "Google/Chrome/Application/chrome.exe",
                base / "Chromium/Application/chrome.exe",
            ]
    return paths


def find_chromium(environ: dict[str, str] | None = None) -> str:
    """The browser's path; raises FileNotFoundError with one line that says what to do."""
    env = os.environ if environ is None else environ
    given = env.get("CHROMIUM")
    if given:
        if Path(given).is_file():
            return given
        raise FileNotFoundError(f"CHROMIUM={given} is not a file: {MISSING}")
    for command in COMMANDS:
        found = shutil.which(command, path=env.get("PATH"))
        if found:
            return found
    for path in candidate_paths(env):
        if path.is_file():
            return str(path)
    raise FileNotFoundError(MISSING)
