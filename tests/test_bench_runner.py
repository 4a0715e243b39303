"""Tests of normhelpers.bench.runner: the benchmark runs on tiny inputs, checks what it times,
reports clean ratios, and survives a machine where torch.compile does not work.

torch.compile itself is exercised only when NORMBOOK_SLOW=1 (a first compile can take minutes
on a loaded 2-core machine).
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from normhelpers import bench
from normhelpers.bench import kernels


@pytest.fixture(scope="module")
def tiny_report() -> bench.Report:
    return bench.run("cpu", "float32", "tiny", repeats=2, compile=False, min_call_s=0.0)


def test_tiny_run_has_every_eager_case(tiny_report: bench.Report) -> None:
    cases = {(r.op, r.impl) for r in tiny_report.rows}
    baselines = ("copy_", "clone", "sum", "fill_", "affine")
    expected = {(op, "torch") for op in baselines + tuple(bench.BACKWARD)} | {
        (op, impl) for op in bench.OPS for impl in ("torch", "scratch")
    }
    assert cases == expected | {("batch_norm", "onepass"), ("layer_norm", "onepass")}
    for baseline in baselines:  # one per input shape
        assert sum(r.op == baseline for r in tiny_report.rows) == 2
    assert tiny_report.compile_note == "compile not asked for (--no-compile)"


def test_ratios_and_bandwidth_are_positive_and_copy_is_one(tiny_report: bench.Report) -> None:
    for r in tiny_report.rows:
        assert r.median_ms > 0 and r.ratio_to_copy > 0 and r.gb_per_s > 0
        assert 0 <= r.iqr_ms
        if r.op == "copy_":
            assert r.ratio_to_copy == 1.0
    assert {r.shape for r in tiny_report.rows} == {
        "x".join(map(str, s)) for s in bench.SHAPES[("cpu", "tiny")].values()
    }


def test_rows_record_the_machine_and_the_thread_count(tiny_report: bench.Report) -> None:
    first = tiny_report.rows[0]
    assert first.threads == torch.get_num_threads()
    assert first.torch == torch.__version__ and first.dtype == "float32" and first.device
    assert len({(r.device, r.threads, r.torch, r.date) for r in tiny_report.rows}) == 1


def test_every_timed_output_was_checked(tiny_report: bench.Report) -> None:
    for r in tiny_report.rows:
        assert 0.0 <= r.max_abs_diff < 1e-4 and r.output_ok, (r.op, r.impl)


def test_a_wrong_implementation_is_timed_and_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    def off_by_a_bit(x, weight, bias, eps=1e-5):
        return F.batch_norm(x, None, None, weight, bias, True, 0.1, eps) + 1e-3

    monkeypatch.setattr(kernels, "batch_norm_one_pass", off_by_a_bit)
    report = bench.run(
        "cpu", "float32", "tiny", repeats=1, compile=False, ops=("batch_norm",), min_call_s=0.0
    )
    ok = {(r.op, r.impl): r.output_ok for r in report.rows}
    assert ok.pop(("batch_norm", "onepass")) is False and all(ok.values())
    row = next(r for r in report.rows if r.impl == "onepass")
    assert row.max_abs_diff == pytest.approx(1e-3, rel=0.01) and row.median_ms > 0
    assert "* output check failed: batch_norm (onepass)" in bench.format_table(report)


def test_a_wrong_baseline_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_in_float32(x, weight, bias, dim=1):  # right only for the float64 reference
        return x if x.dtype == torch.float64 else x + 1

    monkeypatch.setattr(kernels, "affine", wrong_in_float32)
    with pytest.raises(RuntimeError, match="affine disagrees"):
        bench.run("cpu", "float32", "tiny", repeats=1, compile=False, ops=("batch_norm",))


def test_bfloat16_run_is_checked_with_bfloat16_tolerance() -> None:
    report = bench.run(
        "cpu",
        "bfloat16",
        "tiny",
        repeats=1,
        compile=False,
        ops=("batch_norm", "rms_norm"),
        min_call_s=0.0,
    )
    assert {r.dtype for r in report.rows} == {"bfloat16"}
    assert all(r.max_abs_diff < 0.1 for r in report.rows)


def test_compile_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(fn, **kwargs):
        def compiled(*args):
            raise RuntimeError("no C++ compiler found\nsecond line")

        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    report = bench.run("cpu", "float32", "tiny", repeats=1, compile=True, min_call_s=0.0)
    assert report.compile_note == "compile unavailable: RuntimeError: no C++ compiler found"
    assert not any(r.impl.endswith("compile") for r in report.rows)  # affine's "compile" too
    assert "compile unavailable" in bench.format_table(report)


def test_compiled_affine_is_a_checked_row_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_op_compile(fn, **kwargs):  # stands in for Inductor: the function itself
        return fn

    monkeypatch.setattr(torch, "compile", no_op_compile)
    rows = bench.run(
        "cpu",
        "float32",
        "tiny",
        repeats=1,
        ops=("layer_norm",),
        impls=("torch", "compile"),
        min_call_s=0.0,
    ).rows
    assert [(r.op, r.impl) for r in rows if r.op == "affine"] == [
        ("affine", "torch"),
        ("affine", "compile"),
    ]
    compiled = next(r for r in rows if r.impl == "compile")
    assert compiled.output_ok and compiled.max_abs_diff < 1e-5 and compiled.shape == "2x8x32"
    without = bench.run(
        "cpu",
        "float32",
        "tiny",
        repeats=1,
        ops=("layer_norm",),
        impls=("torch",),
        min_call_s=0.0,
    ).rows
    assert not any(r.impl == "compile" for r in without)

    def off_by_one_compile(fn, **kwargs):  # a broken compiler: the reference is wrong
        return lambda *args: fn(*args) + 1

    monkeypatch.setattr(torch, "compile", off_by_one_compile)
    with pytest.raises(RuntimeError, match=r"affine \(compiled\) disagrees"):
        bench.run("cpu", "float32", "tiny", repeats=1, ops=("layer_norm",), impls=("compile",))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_tiny_run_on_cuda() -> None:
    report = bench.run("cuda", "float32", "tiny", repeats=2, compile=False)
    assert all(r.ratio_to_copy > 0 for r in report.rows)
    assert torch.cuda.get_device_name() == report.rows[0].device


@pytest.mark.skipif(os.environ.get("NORMBOOK_SLOW") != "1", reason="set NORMBOOK_SLOW=1")
def test_compiled_rows_are_checked_too() -> None:
    report = bench.run(
        "cpu",
        "float32",
        "tiny",
        repeats=1,
        ops=("batch_norm", "layer_norm"),
        impls=("torch", "scratch+compile", "onepass+compile", "compile"),
    )
    assert report.compile_note is None
    impls = {(r.op, r.impl) for r in report.rows}
    assert {
        ("affine", "compile"),
        ("batch_norm", "scratch+compile"),
        ("batch_norm", "onepass+compile"),
        ("layer_norm", "scratch+compile"),
        ("layer_norm", "onepass+compile"),
    } <= impls
