"""Run one chapter as a reader on Colab or a fresh laptop would: without this repository.

1. A new virtual environment (in a temporary folder) gets only the runtime packages, at the
   versions of requirements.txt: torch, numpy, matplotlib, scikit-learn, ipykernel, and
   nbclient/nbformat to run the notebook. normhelpers is *not* installed; the script checks.
2. The chapter is copied into a folder outside the repository.
3. It is executed top to bottom in that environment's kernel, with
   ``NORMBOOK_INSTALL_SOURCE`` pointing at a copy of this checkout's package source, so that
   the chapter's install cell (``tools/add_install_cell.py``) installs normhelpers from here
   instead of from GitHub (a copy: pip builds in the source folder).
4. Afterwards normhelpers must be installed, and torch must be the same build as before:
   pyproject.toml's lower bounds must not make pip replace what the reader already has.

Offline except for PyPI (the build of normhelpers fetches setuptools). ``make
test-bare-env`` runs it on the short GroupNorm chapter; ``--keep`` leaves the folder.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ["torch", "numpy", "matplotlib", "scikit-learn", "ipykernel", "nbclient", "nbformat"]

RUN = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3").execute()
errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
print(f"executed {sum(c.cell_type == 'code' for c in nb.cells)} code cells,"
      f" {len(errors)} stored errors (expected ones included)")
"""


def pins(names: list[str], requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """``name==version`` for each name, from requirements.txt (every one must be pinned)."""
    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            found[m[1].lower()] = m[0]
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise SystemExit(f"requirements.txt pins none of {missing}")
    return [found[n.lower()] for n in names]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kw)  # type: ignore[call-overload]


def _torch_build(python: Path) -> str:
    return _run(
        [str(python), "-c", "import torch; print(torch.__version__, torch.__file__)"],
        capture_output=True,
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapter", type=Path, nargs="?", default=ROOT / "book/06_groupnorm.ipynb")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="normbook-bare-"))
    try:
        venv = work / "venv"
        _run([sys.executable, "-m", "venv", str(venv)])
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-qq",
                "--no-compile",
                "--disable-pip-version-check",
                *pins(RUNTIME),
            ]
        )
        print(f"bare environment ready ({time.monotonic() - start:.0f} s): {' '.join(RUNTIME)}")
        reader = work / "reader"
        reader.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        probe = subprocess.run(
            [str(python), "-c", "import normhelpers"], cwd=reader, env=env, capture_output=True
        )
        if probe.returncode == 0:
            raise SystemExit("normhelpers is importable before the chapter ran: not a bare test")
        torch_before = _torch_build(python)
        chapter = reader / args.chapter.name
        shutil.copy(args.chapter, chapter)
        # a copy of the package's source: pip builds in the source folder (build/, egg-info),
        # and this run may overlap the installation of the project's own .venv (make test)
        source = work / "source"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "normhelpers", source / "normhelpers", ignore=skip)
        env["NORMBOOK_INSTALL_SOURCE"] = str(source)
        env["JUPYTER_PREFER_ENV_PATH"] = "1"  # the kernel of this environment, not a user one
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(
            [str(python), "-c", RUN, str(chapter)],
            cwd=reader,
            env=env,
            text=True,
            capture_output=True,
        )
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-25:])
            print(f"{args.chapter.name} failed in the bare environment:\n{tail}", file=sys.stderr)
            return 1
        print(result.stdout.strip())
        where = _run(
            [str(python), "-c", "import normhelpers; print(normhelpers.__file__)"],
            cwd=reader,
            env=env,
            capture_output=True,
        ).stdout.strip()
        if not where.startswith(str(venv)):
            print(f"normhelpers was not installed into the environment: {where}", file=sys.stderr)
            return 1
        torch_after = _torch_build(python)
        if torch_after != torch_before:
            print(
                f"installing normhelpers replaced torch: {torch_before} -> {torch_after}",
                file=sys.stderr,
            )
            return 1
        print(
            f"✓ {args.chapter.name} ran top to bottom in a bare environment; its install cell "
            f"installed normhelpers, torch untouched ({time.monotonic() - start:.0f} s)"
        )
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
