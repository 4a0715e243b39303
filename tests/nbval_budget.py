"""pytest plugin for the nbval run: time budgets checked on the run that executes the code.

Loaded with ``-p tests.nbval_budget`` (see the Makefile's ``nbval`` target). It adds up the
``call`` time of every nbval cell item per notebook (kernel start-up, in the setup phase, is not
counted), writes the sums to ``--nbval-timings`` (default ``_build/nbval_timings.json``) and
fails the session, naming notebook, seconds and budget, when a notebook or the whole run is
over its budget:

- experiment chapters (``*_experiment_*.ipynb``) and the cost chapter (``*_cost.ipynb``): 60 s;
- every other notebook: 20 s;
- all notebooks of the run together: 180 s.

``--nbval-no-budget`` only records (the portable run with plain kernels is slower by design).
The environment variables ``NBVAL_BUDGET_S`` (every notebook) and ``NBVAL_BOOK_BUDGET_S``
(the whole run) override the budgets, e.g. for the plugin's own tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path

import pytest

BUDGET_S = {"experiment": 60.0, "cost": 60.0, "default": 20.0}
BOOK_BUDGET_S = 180.0


def notebook_budget(name: str) -> float:
    """The budget in seconds of cell time of notebook file `name`."""
    override = os.environ.get("NBVAL_BUDGET_S")
    if override:
        return float(override)
    if "_experiment_" in name:
        return BUDGET_S["experiment"]
    if name.endswith("_cost.ipynb"):
        return BUDGET_S["cost"]
    return BUDGET_S["default"]


def book_budget() -> float:
    override = os.environ.get("NBVAL_BOOK_BUDGET_S")
    return float(override) if override else BOOK_BUDGET_S


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nbval-budget", "time budgets of the nbval run")
    group.addoption(
        "--nbval-timings",
        default="_build/nbval_timings.json",
        help="where to write each notebook's cell time (JSON)",
    )
    group.addoption(
        "--nbval-no-budget", action="store_true", help="record the cell times but check no budget"
    )


class BudgetChecker:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seconds: dict[str, float] = {}
        self.cells: dict[str, int] = {}
        self.slowest: dict[str, list[tuple[float, str]]] = {}  # (seconds, cell name), top 3
        self.over: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # keyed by the item's file: node ids of notebooks outside the rootdir can coincide
        report = yield
        if call.when == "call" and item.path.suffix == ".ipynb":
            name = item.path.name
            self.seconds[name] = self.seconds.get(name, 0.0) + report.duration
            self.cells[name] = self.cells.get(name, 0) + 1
            cell = report.nodeid.rsplit("::", 1)[-1]
            top = sorted([*self.slowest.get(name, []), (report.duration, cell)], reverse=True)
            self.slowest[name] = top[:3]
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds:
            return
        check = not self.config.getoption("nbval_no_budget")
        total = sum(self.seconds.values())
        rows = {}
        for name in sorted(self.seconds):
            budget = notebook_budget(name)
            rows[name] = {
                "cells": self.cells[name],
                "seconds": round(self.seconds[name], 2),
                "budget_s": budget,
                "slowest_cells": {c: round(t, 2) for t, c in self.slowest[name]},
            }
            if check and self.seconds[name] > budget:
                slowest = ", ".join(f"{c} {t:.1f} s" for t, c in self.slowest[name])
                self.over.append(
                    f"{name} took {self.seconds[name]:.1f} s of cell time (budget {budget:g} s;"
                    f" slowest: {slowest})"
                )
        if check and total > book_budget():
            self.over.append(
                f"all {len(rows)} notebooks took {total:.1f} s of cell time "
                f"(budget {book_budget():g} s)"
            )
        out = Path(self.config.getoption("nbval_timings"))
        if not out.is_absolute():
            out = self.config.rootpath / out
        out.parent.mkdir(parents=True, exist_ok=True)
        env = {k: os.environ.get(k) for k in ("ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS")}
        out.write_text(
            json.dumps(
                {
                    "notebooks": rows,
                    "total_seconds": round(total, 2),
                    "book_budget_s": book_budget(),
                    "budgets_checked": check,
                    "env": env,
                    "over_budget": self.over,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        if self.over and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.seconds:
            return
        tr = terminalreporter
        checked = not self.config.getoption("nbval_no_budget")
        tr.section("nbval cell time per notebook" + ("" if checked else " (no budgets checked)"))
        for name in sorted(self.seconds):
            budget = f"  (budget {notebook_budget(name):g} s)" if checked else ""
            tr.write_line(f"{self.seconds[name]:7.1f} s  {name}{budget}")
        total = f"  (budget {book_budget():g} s)" if checked else ""
        tr.write_line(f"{sum(self.seconds.values()):7.1f} s  all notebooks{total}")
        for line in self.over:
            tr.write_line(f"TIME BUDGET EXCEEDED: {line}", red=True, bold=True)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(BudgetChecker(config), "nbval-budget-checker")
