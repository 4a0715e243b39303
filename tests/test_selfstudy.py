"""The self-study paths: exercise notebooks without answers, the install cell that makes the
launch buttons work, the runtime dependencies, Binder, the browser lookup and the docs a
contributor needs. The slow end-to-end check (a bare environment runs a chapter) is
``make test-bare-env``; these are the fast structural checks of ``make unit``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))

import add_install_cell  # noqa: E402
import make_exercises  # noqa: E402
import tag_solutions  # noqa: E402


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


# --- solutions and exercise notebooks ------------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_solution_cell_is_tagged(path: Path) -> None:
    """Fix with `make tag-solutions`."""
    nb = _load(path)
    assert tag_solutions.solution_cells(nb), "no solution code cells found"
    assert tag_solutions.problems(nb) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exercise_notebook_has_no_solution(path: Path) -> None:
    nb = _load(path)
    out = make_exercises.exercise_notebook(nb)
    text = "\n".join(tag_solutions.source(c) for c in out["cells"])
    assert not re.search(r"\{solution(-start|-end)?\}", text), "a solution directive is left"
    wanted = tag_solutions.solution_cells(nb)
    answers = [c for c in _code(out) if "exercise-answer" in c["metadata"].get("tags", [])]
    rest = [tag_solutions.source(c) for c in _code(out) if c not in answers]
    assert len(answers) == len(wanted), "one 'your code here' cell per solution cell"
    assert rest == [
        tag_solutions.source(c)
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and i not in wanted
    ], "the rest of the chapter's code stays as it is"
    for cell in answers:  # only stubs (def ...: ...) and checker calls are left
        for stmt in ast.parse(tag_solutions.source(cell)).body:
            if isinstance(stmt, ast.FunctionDef):
                assert [ast.dump(b) for b in stmt.body] == [ast.dump(ast.Expr(ast.Constant(...)))]
            else:
                assert make_exercises._checker_call(stmt) is not None, ast.unparse(stmt)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in _code(out))
    exercises = len(re.findall(r"\{exercise\}", text))
    assert exercises == len(
        re.findall(r"\{exercise\}", "\n".join(tag_solutions.source(c) for c in nb["cells"]))
    ), "every question stays"
    assert text.count(make_exercises.ANSWER_NOTE) >= exercises, "a place for every answer"


def test_blank_code_keeps_signature_and_checker() -> None:
    code = (
        "def my_norm(x, eps=1e-5):\n    mean = x.mean()\n    return x - mean\n\n\n"
        "helper = 3\nnh.exercises.check_layer_norm(my_norm)\n"
    )
    out = make_exercises.blank_code(code)
    assert "def my_norm(x, eps=1e-5):" in out and "nh.exercises.check_layer_norm(my_norm)" in out
    assert "mean" not in out and "helper" not in out
    compile(out, "<exercise>", "exec")  # it runs: the checker then reports "unfinished"
    assert make_exercises.blank_code("x = 1\nprint(x)\n") == make_exercises.PLACEHOLDER


def test_prose_solutions_are_cut_and_gated_ones_span_cells() -> None:
    cells = [
        "intro\n\n```{exercise} Q1\n:label: ex-1\nask\n```\n\n````{solution} ex-1\n:class: "
        "dropdown\n\nANSWER ONE\n```python\nx\n```\n````\n\n```{exercise} Q2\n:label: ex-2\n"
        "ask\n```\n\n```{solution-start} ex-2\n:class: dropdown\n```\nANSWER TWO",
        "code",
        "ANSWER THREE",
        "code",
        "more\n```{solution-end}\n```\n\nafter",
    ]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "source": "x = secret()",
                "metadata": {},
                "outputs": [],
                "execution_count": 1,
            }
            if c == "code"
            else {"cell_type": "markdown", "source": c, "metadata": {}}
            for c in cells
        ]
    }
    assert tag_solutions.solution_cells(nb) == {1, 3}
    out = make_exercises.exercise_notebook(nb)
    text = json.dumps(out)
    assert "ANSWER" not in text and "secret" not in text and "more" not in text
    assert "Q1" in text and "Q2" in text and "after" in text and "intro" in text
    assert tag_solutions.tag(nb) and not tag_solutions.tag(nb), "tagging is idempotent"
    nb["cells"].pop(4)
    with pytest.raises(ValueError, match="without a solution-end"):
        tag_solutions.solution_cells(nb)


# --- the install cell, dependencies, Binder -------------------------------------------------


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_is_the_install_cell(path: Path) -> None:
    """Fix with `make install-cells` (then `make notebooks`)."""
    first = _code(_load(path))[0]
    assert tag_solutions.source(first) == add_install_cell.install_cell_source()
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), "hidden on the site"
    assert first.get("outputs") == [], "prints nothing where normhelpers is installed"


def test_install_cell_uses_the_one_repository_url() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    cell = add_install_cell.install_cell_source()
    assert f'"git+{url}"' in cell and "NORMBOOK_INSTALL_SOURCE" in cell
    compile(cell, "<install cell>", "exec")
    others = [
        p
        for p in [ROOT / "README.md", ROOT / "pyproject.toml", *ROOT.glob("binder/*")]
        if p.is_file() and url in p.read_text(encoding="utf-8")
    ]
    assert others == [], f"the repository URL is written outside _config.yml: {others}"


def test_install_cell_is_inserted_once_and_renumbers() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "# T", "metadata": {}},
            {
                "cell_type": "code",
                "source": "a",
                "metadata": {},
                "outputs": [],
                "execution_count": 1,
            },
            {
                "cell_type": "code",
                "source": "b",
                "metadata": {},
                "outputs": [],
                "execution_count": 2,
            },
        ]
    }
    assert add_install_cell.add(nb)
    assert not add_install_cell.add(nb), "idempotent"
    assert [c.get("execution_count") for c in nb["cells"]] == [None, 1, 2, 3]
    assert add_install_cell.is_install_cell(nb["cells"][1])


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            req = Requirement(line.strip())
            pins[req.name.lower()] = Version(next(iter(req.specifier)).version)
    return pins


def test_runtime_dependencies_are_lower_bounds_met_by_the_pins() -> None:
    deps = [
        Requirement(d)
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ]
    names = {d.name.lower() for d in deps}
    assert {"torch", "numpy", "matplotlib", "scikit-learn"} <= names
    pins = _pins()
    for dep in deps:
        assert all(s.operator == ">=" for s in dep.specifier), f"{dep}: lower bounds only"
        version = pins.get(dep.name.lower())
        if version is None:  # ipython comes with ipykernel
            continue
        assert dep.specifier.contains(version), f"{dep} rejects requirements.txt's {version}"


def test_binder_installs_a_lean_runtime_at_the_book_pins() -> None:
    lines = [ln.strip() for ln in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    reqs = [Requirement(ln) for ln in lines if ln and not ln.startswith(("#", "-"))]
    names = {r.name.lower() for r in reqs}
    assert {"torch", "numpy", "matplotlib", "scikit-learn", "jupyterlab-myst"} <= names
    assert not names & {"jupyter-book", "sphinx", "pytest", "nbval", "playwright", "ruff", "mypy"}
    pins = _pins()
    for req in reqs:
        (spec,) = req.specifier
        assert Version(spec.version).public == pins[req.name.lower()].public, f"{req} vs pins"
    post = (ROOT / "binder/postBuild").read_text()
    assert "pip install --no-deps ." in post, "Binder installs normhelpers from the checkout"


def test_launch_buttons_open_jupyterlab() -> None:
    launch = yaml.safe_load((ROOT / "_config.yml").read_text())["launch_buttons"]
    assert launch["notebook_interface"] == "jupyterlab"
    assert launch["binderhub_url"] and launch["colab_url"]


# --- browser lookup, docs -------------------------------------------------------------------


def _chromium_module():
    spec = importlib.util.spec_from_file_location("chromium", ROOT / "tests/browser/chromium.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chromium_from_the_environment_or_one_clear_line(tmp_path: Path) -> None:
    chromium = _chromium_module()
    fake = tmp_path / "chrome"
    fake.write_text("")
    assert chromium.find_chromium({"CHROMIUM": str(fake)}) == str(fake)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        chromium.find_chromium({"CHROMIUM": str(tmp_path / "nothing")})
    if not any(p.is_file() for p in chromium.candidate_paths({})):
        with pytest.raises(FileNotFoundError) as err:
            chromium.find_chromium({"PATH": str(tmp_path)})
        assert "\n" not in str(err.value) and "install Chromium" in str(err.value)


def test_make_help_lists_every_target() -> None:
    import subprocess

    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = set(re.findall(r"^make ([a-z][a-z0-9-]*)", shown, re.M))
    assert targets - {"help"} <= listed, f"not in make help: {targets - listed - {'help'}}"


def test_contributing_guide_is_in_the_repository() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for topic in ("generated", "test_book.py", "Style", "docstring", "make help", "solution"):
        assert topic in text, f"CONTRIBUTING.md says nothing about {topic}"
    assert "CONTRIBUTING.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "shared/STYLE.md" not in (ROOT / "README.md").read_text(encoding="utf-8")
