"""The checks of `make test` must fail on a broken notebook or a broken page.

Jupyter Book 1 has in the past exited 0 although a notebook failed (jupyter-book issues
#781 and #1320). These tests run the very Makefile targets that `make test` runs on
deliberately broken copies in a temporary folder, and on a healthy control, so that a check
that silently passes everything makes this file fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make(target: str, **variables: str) -> subprocess.CompletedProcess[str]:
    args = ["make", "--no-print-directory", "-C", str(ROOT), target]
    args += [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def _notebook(path: Path, source: str, stored_text: str | None, error: bool = False) -> Path:
    """A one-cell notebook whose stored output is `stored_text` (or an error)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    if error:
        cell.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError",
                                               evalue="division by zero", traceback=[])]
    elif stored_text is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_text)]
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_nbval_passes_a_healthy_notebook(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "good.ipynb", "print(1 + 1)", "2\n")
    result = _make("nbval", NOTEBOOKS=str(nb))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_nbval_fails_on_an_erroring_cell(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "error.ipynb", "1 / 0", None, error=True)
    result = _make("nbval", NOTEBOOKS=str(nb))
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout


def test_nbval_fails_on_a_stale_output(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "stale.ipynb", "print(1 + 1)", "3\n")
    result = _make("nbval", NOTEBOOKS=str(nb))
    assert result.returncode != 0
    assert "1 failed" in result.stdout


def _mini_book(folder: Path, page_text: str) -> Path:
    """A one-page book with the project's real _config.yml."""
    (folder / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", folder / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", folder / "book" / "references.bib")
    for name in ("_static", "_ext"):  # logo, css and the book's own Sphinx extensions
        shutil.copytree(ROOT / "book" / name, folder / "book" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (folder / "book" / "intro.md").write_text(page_text)
    return folder


@pytest.mark.parametrize(
    ("page", "should_pass"),
    [
        ("# A page\n\n(sec-a)=\n## Section\n\nSee {ref}`sec-a`.\n", True),
        ("# A page\n\nSee {ref}`no-such-label`.\n", False),  # broken cross-reference
        ("# A page\n\n```{not-a-directive}\n```\n", False),  # unknown directive
    ],
    ids=["healthy", "broken-reference", "unknown-directive"],
)
def test_strict_book_build_fails_on_a_warning(tmp_path: Path, page: str, should_pass: bool) -> None:
    book = _mini_book(tmp_path / "mini", page)
    result = _make("strict-book", BOOK_DIR=str(book))
    assert (result.returncode == 0) == should_pass, result.stdout[-3000:] + result.stderr[-3000:]
