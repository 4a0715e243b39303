"""The checks of `make test` must fail on a broken notebook or a broken page.

Jupyter Book 1 has in the past exited 0 although a notebook failed (jupyter-book issues
#781 and #1320). These tests run the very Makefile targets that `make test` runs on
deliberately broken copies in a temporary folder, and on a healthy control, so that a check
that silently passes everything makes this file fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make(
    target: str, env: dict[str, str] | None = None, *flags: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    args = ["make", "--no-print-directory", "-C", str(ROOT), *flags, target]
    args += [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(
        args, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def _nbval(
    tmp_path: Path, *notebooks: Path, env: dict[str, str] | None = None, target: str = "nbval"
) -> subprocess.CompletedProcess[str]:
    """`make nbval` on `notebooks`, its timings file in tmp_path (not the project's _build)."""
    return _make(
        target,
        env=env,
        NOTEBOOKS=" ".join(str(nb) for nb in notebooks),
        NBVAL_TIMINGS=str(tmp_path / "nbval_timings.json"),
        NBVAL_PORTABLE_TIMINGS=str(tmp_path / "nbval_timings_portable.json"),
    )


def _notebook(path: Path, source: str, stored_text: str | None, error: bool = False) -> Path:
    """A one-cell notebook whose stored output is `stored_text` (or an error)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    if error:
        cell.outputs = [
            nbformat.v4.new_output(
                "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
            )
        ]
    elif stored_text is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored_text)]
    nb.cells = [cell]
    nbformat.write(nb, path)
    return path


def test_nbval_passes_a_healthy_notebook(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "good.ipynb", "print(1 + 1)", "2\n")
    result = _nbval(tmp_path, nb)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_nbval_fails_on_an_erroring_cell(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "error.ipynb", "1 / 0", None, error=True)
    result = _nbval(tmp_path, nb)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout


def test_nbval_fails_on_a_stale_output(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "stale.ipynb", "print(1 + 1)", "3\n")
    result = _nbval(tmp_path, nb)
    assert result.returncode != 0
    assert "1 failed" in result.stdout


CLAIM = "✓ BatchNorm trains at lr 0.1 where the plain network fails (3 seeds)"


def test_make_notebooks_strips_timestamps_and_nbval_catches_a_tampered_claim(
    tmp_path: Path,
) -> None:
    """`make notebooks` stores outputs without cell timestamps and writes the timings file;
    a claim line whose stored output had one digit changed afterwards fails nbval, while the
    untouched control passes (one nbval run over both)."""
    source = "seeds = 3\nprint(f'" + CLAIM.replace("3 seeds", "{seeds} seeds") + "')"
    good = _notebook(tmp_path / "claim.ipynb", source, None)
    timings = tmp_path / "_timings.json"
    result = _make("notebooks", NOTEBOOKS=str(good), TIMINGS=str(timings))
    assert result.returncode == 0, result.stdout + result.stderr
    nb = nbformat.read(good, as_version=4)
    cell = nb.cells[0]
    assert "execution" not in cell["metadata"], "cell timestamps must be stripped"
    assert cell["execution_count"] == 1
    assert cell["outputs"][0]["text"] == CLAIM + "\n"
    recorded = json.loads(timings.read_text(encoding="utf-8"))
    assert recorded["notebooks"]["claim.ipynb"]["code_cells"] == 1
    assert recorded["total_seconds"] >= 0

    tampered = tmp_path / "claim_tampered.ipynb"
    cell["outputs"][0]["text"] = CLAIM.replace("lr 0.1", "lr 0.2") + "\n"  # one digit
    nbformat.write(nb, tampered)
    result = _nbval(tmp_path, good, tampered)
    assert result.returncode != 0, result.stdout
    assert "1 failed, 1 passed" in result.stdout, result.stdout
    assert "Cell outputs differ" in result.stdout and "lr 0.2" in result.stdout
    recorded = json.loads((tmp_path / "nbval_timings.json").read_text(encoding="utf-8"))
    assert set(recorded["notebooks"]) == {"claim.ipynb", "claim_tampered.ipynb"}


def test_nbval_fails_a_notebook_over_its_time_budget(tmp_path: Path) -> None:
    """The budget plugin (tests/nbval_budget.py) measures the cells of the nbval run itself."""
    nb = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(1.0)\nprint('done')", "done\n")
    result = _nbval(tmp_path, nb, env={"NBVAL_BUDGET_S": "0.3", "NBVAL_BOOK_BUDGET_S": "0.5"})
    assert result.returncode != 0, result.stdout
    assert "1 passed" in result.stdout  # the outputs match: only the budget fails
    assert "TIME BUDGET EXCEEDED: slow.ipynb took 1." in result.stdout, result.stdout
    assert "(budget 0.3 s; slowest: Cell 0 1." in result.stdout
    assert "TIME BUDGET EXCEEDED: all 1 notebooks took 1." in result.stdout
    assert "(budget 0.5 s)" in result.stdout
    recorded = json.loads((tmp_path / "nbval_timings.json").read_text(encoding="utf-8"))
    assert recorded["notebooks"]["slow.ipynb"]["seconds"] >= 1.0
    assert len(recorded["over_budget"]) == 2

    result = _nbval(tmp_path, nb, env={"NBVAL_BUDGET_S": "60"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TIME BUDGET EXCEEDED" not in result.stdout


def test_portable_run_checks_no_budget(tmp_path: Path) -> None:
    """nbval-portable: plain kernels and 4 threads, times recorded but no budget checked."""
    source = (
        "import os\nprint(os.environ['ATEN_CPU_CAPABILITY'], os.environ['OMP_NUM_THREADS'])"
        "\nimport time\ntime.sleep(0.5)"
    )
    nb = _notebook(tmp_path / "portable.ipynb", source, "default 4\n")
    result = _nbval(tmp_path, nb, env={"NBVAL_BUDGET_S": "0.1"}, target="nbval-portable")
    assert result.returncode == 0, result.stdout + result.stderr
    recorded = json.loads((tmp_path / "nbval_timings_portable.json").read_text("utf-8"))
    assert recorded["budgets_checked"] is False
    assert recorded["env"] == {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "4"}


def test_notebook_textconv_shows_source_and_outputs_without_metadata(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
        "60e6kgAAAABJRU5ErkJggg=="
    )
    code = nbformat.v4.new_code_cell("print(CLAIM)", execution_count=1)
    code.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=CLAIM + "\n"),
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), code]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "nb_textconv.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    text = result.stdout
    assert "=== cell 0: markdown ===\n# Title" in text
    assert "=== cell 1: code [1] ===\nprint(CLAIM)" in text
    assert CLAIM in text
    assert "[image/png: 1x1, 70 bytes]" in text
    assert "iopub" not in text and "iVBOR" not in text and "<Figure>" not in text
    attributes = (ROOT / ".gitattributes").read_text(encoding="utf-8")
    assert "*.ipynb diff=ipynb" in attributes


def _mini_book(folder: Path, page_text: str) -> Path:
    """A one-page book with the project's real _config.yml."""
    (folder / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", folder / "_config.yml")
    shutil.copy(ROOT / "book" / "references.bib", folder / "book" / "references.bib")
    for name in ("_static", "_ext"):  # logo, css and the book's own Sphinx extensions
        shutil.copytree(
            ROOT / "book" / name,
            folder / "book" / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    # the exercise-notebook extension runs the repository's tools/make_exercises.py
    shutil.copytree(ROOT / "tools", folder / "tools", ignore=shutil.ignore_patterns("__pycache__"))
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


def _dry_run(target: str, *notebooks: Path) -> str:
    """What `make -n target NOTEBOOKS=...` would run."""
    done = _make(target, None, "-n", NOTEBOOKS=" ".join(str(nb) for nb in notebooks))
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("target", ["nbval", "notebooks"])
def test_the_compiler_is_warmed_only_for_a_notebook_that_compiles(target: str) -> None:
    """Inductor's one-time probe runs before nbval and notebooks start timing when one of
    their notebooks asks bench.compiler_note (the cost chapter), and not for the others."""
    plain, cost = ROOT / "book" / "06_groupnorm.ipynb", ROOT / "book" / "16_cost.ipynb"
    assert "compiler_note()" in _dry_run(target, plain, cost)
    assert "compiler_note()" not in _dry_run(target, plain)
