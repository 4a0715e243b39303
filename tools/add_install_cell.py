"""Give every chapter a first code cell that installs normhelpers where it is missing.

On Binder the package is installed by ``binder/postBuild``; on Colab, or in any environment
with PyTorch but without this repository, the chapter's first code cell installs it with pip
from the repository (the URL of ``_config.yml``, the one place it is written). Where
normhelpers is importable (``make lab``, nbval, Binder) the cell does nothing and prints
nothing. ``NORMBOOK_INSTALL_SOURCE`` points it at another source, a local checkout for
example (``make test-bare-env`` does that).

The cell is tagged ``remove-cell``, so the website does not show it. Running the tool again
updates the cell in place (it is found by its first line) and changes nothing when it is up
to date. Execution counts are shifted so that the notebook still reads as executed top to
bottom; run ``make notebooks`` afterwards to refresh outputs and ``book/_timings.json``.

Usage::

    python tools/add_install_cell.py book/[0-9]*.ipynb
    python tools/add_install_cell.py --check book/[0-9]*.ipynb   # exit 1 if one is missing
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tag_solutions import source, write_notebook  # noqa: E402  (tools/tag_solutions.py)

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# normbook: install normhelpers where it is missing (Colab, a bare environment)"
TAGS = ["remove-cell"]


def repository_url(root: Path = ROOT) -> str:
    """The repository's URL, from ``_config.yml`` (``repository: url:``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return str(config["repository"]["url"]).rstrip("/")


def install_source(root: Path = ROOT) -> str:
    """What pip installs by default: the repository's main branch."""
    return f"git+{repository_url(root)}"


def install_cell_source(root: Path = ROOT) -> str:
    return f'''{MARKER};
# does nothing where it is installed. NORMBOOK_INSTALL_SOURCE may name another source.
import importlib.util

if importlib.util.find_spec("normhelpers") is None:
    import os
    import subprocess
    import sys

    source = os.environ.get("NORMBOOK_INSTALL_SOURCE", "{install_source(root)}")
    print(f"installing normhelpers from {{source}} ...")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
    importlib.invalidate_caches()
'''


def is_install_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and source(cell).startswith(MARKER)


def install_cell(root: Path = ROOT) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": list(TAGS)},
        "outputs": [],
        "source": install_cell_source(root),
    }


def add(nb: dict, root: Path = ROOT) -> bool:
    """Insert or update the install cell before the first code cell; True if nb changed."""
    cells = nb["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    wanted = install_cell(root)
    if code and is_install_cell(cells[code[0]]):
        cell = cells[code[0]]
        before = json.dumps(cell, sort_keys=True)
        cell["source"] = wanted["source"]
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        tags += [t for t in TAGS if t not in tags]
        cell["outputs"] = []
        return json.dumps(cell, sort_keys=True) != before
    executed = any(cells[i].get("execution_count") for i in code)
    for i in code:  # the new cell runs first: every count moves up by one
        if cells[i].get("execution_count"):
            cells[i]["execution_count"] += 1
    if executed:
        wanted["execution_count"] = 1
    cells.insert(code[0] if code else len(cells), wanted)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if args.check:
            code = [c for c in nb["cells"] if c["cell_type"] == "code"]
            if not code or source(code[0]) != install_cell_source():
                print(
                    f"{path}: the first code cell is not the current install cell", file=sys.stderr
                )
                status = 1
        elif add(nb):
            write_notebook(path, nb)
            print(f"{path}: install cell written")
    return status


if __name__ == "__main__":
    sys.exit(main())
