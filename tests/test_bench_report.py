"""Tests of normhelpers.bench.report, .plot and .cli: the table, the CSV file (with its metadata
columns), the figure and the command line."""

from __future__ import annotations

import csv
import subprocess
import sys

import matplotlib
import pytest
import torch

from normhelpers import bench

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tiny_report() -> bench.Report:
    return bench.run("cpu", "float32", "tiny", repeats=2, compile=False, min_call_s=0.0)


def test_table_has_a_header_with_the_metadata_and_one_line_per_row(
    tiny_report: bench.Report,
) -> None:
    lines = bench.format_table(tiny_report).splitlines()
    first = tiny_report.rows[0]
    assert lines[0] == (
        f"{first.device} | {first.threads} thread{'s' if first.threads != 1 else ''} "
        f"| torch {torch.__version__} "
        f"| float32 | {first.date}"
    )
    assert lines[1] == "memory: " + tiny_report.allocator
    assert lines[2].split() == [
        "op",
        "impl",
        "shape",
        "median",
        "ms",
        "IQR",
        "ms",
        "x",
        "copy_",
        "limit",
    ]
    assert len(lines) == 3 + len(tiny_report.rows) + 2  # all agree; compile not asked for
    assert lines[3].split()[:2] == ["copy_", "torch"] and lines[3].split()[5] == "1.00"
    assert max(map(len, lines)) <= 92  # fits a notebook's output


def test_csv_has_the_columns_and_reads_back(tiny_report: bench.Report, tmp_path) -> None:
    path = tmp_path / "bench.csv"
    bench.write_csv(tiny_report.rows, path)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == bench.CSV_COLUMNS
    assert {"device", "threads", "torch", "date", "dtype", "shape", "iqr_ms"} <= set(header)
    rows = bench.read_csv(path)
    assert [(r.op, r.impl) for r in rows] == [(r.op, r.impl) for r in tiny_report.rows]
    assert all(isinstance(r.ratio_to_copy, float) and r.ratio_to_copy > 0 for r in rows)
    assert all(r.threads == tiny_report.rows[0].threads for r in rows)  # an int again


def test_command_line_prints_the_table_and_writes_csv(tmp_path, capsys) -> None:
    path = tmp_path / "out.csv"
    status = bench.main(["--size", "tiny", "--repeats", "1", "--no-compile", "--csv", str(path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "x copy_" in out and "batch_norm" in out and "all agree" in out
    # 2 x (copy_, clone, sum, fill_, affine) + 5 x (torch, scratch) + 2 onepass + 2 backward
    assert len(bench.read_csv(path)) == 24


def test_command_line_times_the_ops_and_impls_asked_for(tmp_path, capsys) -> None:
    path = tmp_path / "some.csv"
    argv = ["--size", "tiny", "--repeats", "1", "--no-compile", "--csv", str(path)]
    status = bench.main(argv + ["--ops", "layer_norm", "rms_norm", "--impls", "torch"])
    assert status == 0 and "layer_norm" in capsys.readouterr().out
    rows = bench.read_csv(path)
    norms = [(r.op, r.impl) for r in rows if r.op in bench.OPS]
    assert norms == [("layer_norm", "torch"), ("rms_norm", "torch")]
    assert {r.shape for r in rows} == {"2x8x32"}  # only the layout of the ops asked for
    with pytest.raises(SystemExit):
        bench.main(argv + ["--impls", "fast"])


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "normhelpers.bench",
            "--size",
            "tiny",
            "--repeats",
            "1",
            "--no-compile",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert "| 1 thread |" in done.stdout and "rms_norm" in done.stdout


def _row(op: str, impl: str, threads: int = 2, ok: bool = True) -> bench.Row:
    return bench.Row(
        "cpu",
        threads,
        "2.x",
        "2026-01-01",
        "float32",
        "2x3",
        op,
        impl,
        1.0,
        0.1,
        1.0,
        1.0,
        3e-4 if not ok else 0.0,
        ok,
    )


def test_table_says_thread_or_threads() -> None:
    one = bench.format_table(bench.Report([_row("clone", "torch", threads=1)]))
    two = bench.format_table(bench.Report([_row("clone", "torch", threads=2)]))
    assert "| 1 thread |" in one and "| 2 threads |" in two


def test_table_marks_a_failed_output_check_and_the_csv_keeps_it(tmp_path) -> None:
    rows = [_row("clone", "torch"), _row("layer_norm", "onepass+compile", ok=False)]
    lines = bench.format_table(bench.Report(rows)).splitlines()
    assert lines[2].split()[:2] == ["clone", "torch"]
    assert lines[3].split()[:2] == ["layer_norm", "onepass+compile*"]
    assert not any("all agree" in line for line in lines)
    assert lines[-1].startswith("* output check failed: layer_norm (onepass+compile), max")
    assert max(map(len, lines)) <= 92  # fits a notebook's output
    bench.write_csv(rows, tmp_path / "b.csv")
    assert [r.output_ok for r in bench.read_csv(tmp_path / "b.csv")] == [True, False]


def test_plot_has_one_bar_per_norm_and_affine_row(tiny_report: bench.Report) -> None:
    ax = bench.plot_ratios(tiny_report.rows, title="tiny")
    drawn = {*bench.OPS, *bench.BACKWARD, "affine"}
    assert len(ax.patches) == sum(r.op in drawn for r in tiny_report.rows)
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    limits = [s[0][1] for s in segments if s[0][1] == s[1][1]]  # horizontal: the ticks
    assert limits[:4] == [1.0, 1.0, 1.5, 1.0] and 2.5 in limits  # affine x2, BN, IN, ...
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:2] == ["affine\n4x32x4x4", "affine\n2x8x32"] and labels[2] == "batch norm"
