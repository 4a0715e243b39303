"""Tests of normhelpers.bench: the benchmark runs on tiny inputs, checks what it times, reports
clean ratios and CSV files, and survives a machine where torch.compile does not work.

torch.compile itself is exercised only when NORMBOOK_SLOW=1 (a first compile can take minutes
on a loaded 2-core machine).
"""

from __future__ import annotations

import csv
import os

import matplotlib
import pytest
import torch
import torch.nn.functional as F

import normhelpers.functional as NF
from normhelpers import bench

matplotlib.use("Agg")

EAGER = ("torch", "scratch", "onepass")


@pytest.fixture(scope="module")
def tiny_report() -> bench.Report:
    return bench.run("cpu", "float32", "tiny", repeats=2, compile=False, min_call_s=0.0)


def test_tiny_run_has_every_eager_case(tiny_report: bench.Report) -> None:
    cases = {(r.op, r.impl) for r in tiny_report.rows}
    expected = {("clone", "torch"), ("copy_", "torch"), ("affine", "torch")} | {
        (op, impl) for op in bench.OPS for impl in ("torch", "scratch")}
    assert cases == expected | {("batch_norm", "onepass"), ("layer_norm", "onepass")}
    for baseline in ("clone", "copy_", "affine"):  # one per input shape
        assert sum(r.op == baseline for r in tiny_report.rows) == 2
    assert tiny_report.compile_note == "compile not asked for (--no-compile)"


def test_ratios_and_bandwidth_are_positive_and_clone_is_one(tiny_report: bench.Report) -> None:
    for r in tiny_report.rows:
        assert r.median_ms > 0 and r.ratio_to_clone > 0 and r.gb_per_s > 0
        if r.op == "clone":
            assert r.ratio_to_clone == 1.0
    assert {r.shape for r in tiny_report.rows} == {
        "x".join(map(str, s)) for s in bench.SHAPES[("cpu", "tiny")].values()}


def test_every_timed_output_was_checked(tiny_report: bench.Report) -> None:
    for r in tiny_report.rows:
        assert 0.0 <= r.max_abs_diff < 1e-4, (r.op, r.impl)


def test_a_wrong_implementation_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def off_by_a_bit(x, weight, bias, eps=1e-5):
        return F.batch_norm(x, None, None, weight, bias, True, 0.1, eps) + 1e-3

    monkeypatch.setattr(bench, "batch_norm_one_pass", off_by_a_bit)
    with pytest.raises(RuntimeError, match="batch_norm \\(onepass\\) disagrees"):
        bench.run("cpu", "float32", "tiny", repeats=1, compile=False, ops=("batch_norm",))


def test_bfloat16_run_is_checked_with_bfloat16_tolerance() -> None:
    report = bench.run("cpu", "bfloat16", "tiny", repeats=1, compile=False,
                       ops=("batch_norm", "rms_norm"), min_call_s=0.0)
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
    assert not any(r.impl.endswith("+compile") for r in report.rows)
    assert "compile unavailable" in bench.format_table(report)


def test_csv_has_the_columns_and_reads_back(tiny_report: bench.Report, tmp_path) -> None:
    path = tmp_path / "bench.csv"
    bench.write_csv(tiny_report.rows, path)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == bench.CSV_COLUMNS
    rows = bench.read_csv(path)
    assert [(r.op, r.impl) for r in rows] == [(r.op, r.impl) for r in tiny_report.rows]
    assert all(isinstance(r.ratio_to_clone, float) and r.ratio_to_clone > 0 for r in rows)


def test_command_line_prints_the_table_and_writes_csv(tmp_path, capsys) -> None:
    path = tmp_path / "out.csv"
    status = bench.main(["--size", "tiny", "--repeats", "1", "--no-compile", "--csv", str(path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "x clone" in out and "batch_norm" in out and "all agree" in out
    assert len(bench.read_csv(path)) == 18  # 2 x (clone, copy_, affine) + 5 x 2 + 2 onepass


def test_one_pass_batch_norm_is_accurate_even_far_from_zero() -> None:
    gen = torch.Generator().manual_seed(1)
    for shape in [(16, 4), (4, 3, 5, 5), (6, 2, 7)]:
        x = torch.randn(shape, generator=gen) * 0.5 + 1000.0  # mean large against the spread
        w, b = torch.rand(shape[1], generator=gen) + 0.5, torch.randn(shape[1], generator=gen)
        exact = NF.batch_norm(x.double(), None, None, w.double(), b.double(), training=True)
        torch.testing.assert_close(bench.batch_norm_one_pass(x, w, b, 1e-5), exact.float())


def test_one_pass_without_the_shift_would_fail_there() -> None:
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(2)) * 0.5 + 1000.0
    var_unshifted = (x * x).mean(0) - x.mean(0) ** 2  # what the shift avoids
    var = x.double().var(0, correction=0)
    assert ((var_unshifted - var).abs() / var).max() > 0.05  # over 5% wrong


def test_one_pass_batch_norm_keeps_bfloat16() -> None:
    x = torch.randn(4, 3, 5, 5).bfloat16()
    w, b = torch.ones(3, dtype=torch.bfloat16), torch.zeros(3, dtype=torch.bfloat16)
    y = bench.batch_norm_one_pass(x, w, b)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, F.batch_norm(x, None, None, w, b, training=True), atol=1e-2,
                               rtol=1.6e-2)


def test_one_pass_layer_norm_matches_torch() -> None:
    gen = torch.Generator().manual_seed(3)
    for shape in [(16, 32), (2, 7, 64), (3, 5, 4, 9)]:
        x = torch.randn(shape, generator=gen) * 2 + 1
        w, b = torch.rand(shape[-1], generator=gen) + 0.5, torch.randn(shape[-1], generator=gen)
        exact = F.layer_norm(x.double(), shape[-1:], w.double(), b.double(), 1e-5)
        torch.testing.assert_close(bench.layer_norm_one_pass(x, w, b), exact.float())


def test_one_pass_layer_norm_is_accurate_far_from_zero() -> None:
    x = torch.randn(8, 5, 256, generator=torch.Generator().manual_seed(4)) * 0.5 + 1e4
    w, b = torch.ones(256), torch.zeros(256)
    exact = F.layer_norm(x.double(), (256,), None, None, 1e-5)
    torch.testing.assert_close(bench.layer_norm_one_pass(x, w, b), exact.float(),
                               atol=2e-3, rtol=0)  # float32 x itself is rounded to 1e-3 here


def test_one_pass_layer_norm_loses_digits_when_the_first_feature_is_an_outlier() -> None:
    """The documented weak spot of shifting by the row's first element; the two-pass formula of
    normhelpers.functional does not have it."""
    x = torch.randn(64, 1024, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    w, b = torch.ones(1024), torch.zeros(1024)

    def errors(first: float) -> tuple[float, float]:
        xs = x.clone()
        xs[:, 0] = first  # the other features have mean 0 and spread 1
        exact = F.layer_norm(xs, (1024,), None, None, 1e-5)
        one = bench.layer_norm_one_pass(xs.float(), w, b).double()
        two = NF.layer_norm(xs.float(), (1024,), w, b).double()
        return (one - exact).abs().max().item(), (two - exact).abs().max().item()

    (one_typical, two_typical), (one_outlier, two_outlier) = errors(1.0), errors(30.0)
    assert one_typical < 1e-5 and two_typical < 1e-5
    assert one_outlier > 5e-4 > 100 * two_outlier


def test_one_pass_layer_norm_keeps_bfloat16() -> None:
    x = torch.randn(4, 6, 32).bfloat16()
    w, b = torch.ones(32, dtype=torch.bfloat16), torch.zeros(32, dtype=torch.bfloat16)
    y = bench.layer_norm_one_pass(x, w, b)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, F.layer_norm(x, (32,), w, b), atol=1e-2, rtol=1.6e-2)


def test_affine_is_one_kernel_per_channel_or_per_feature() -> None:
    x_cv, x_nlp = torch.randn(2, 3, 4, 5), torch.randn(2, 4, 6)
    a3, b3, a6, b6 = torch.randn(3), torch.randn(3), torch.randn(6), torch.randn(6)
    expected_cv = x_cv * a3[:, None, None] + b3[:, None, None]
    torch.testing.assert_close(bench.affine(x_cv, a3, b3), expected_cv)
    torch.testing.assert_close(bench.affine(x_nlp, a6, b6, dim=-1), x_nlp * a6 + b6)
    [(name, reads, writes)] = bench.count_traffic(lambda: bench.affine(x_cv, a3, b3), x_cv.nbytes)
    assert name == "addcmul" and writes == 1.0
    assert reads == pytest.approx(1.0 + 2 * 3 / x_cv.numel())  # x, and a and b: 3 values each


def test_onepass_exists_for_batch_norm_and_layer_norm_only() -> None:
    assert bench.implementation("batch_norm", "onepass") is not None
    assert bench.implementation("layer_norm", "onepass") is not None
    assert bench.implementation("rms_norm", "onepass") is None
    assert bench.implementation("group_norm", "onepass+compile") is None
    assert bench.implementation("layer_norm", "scratch+compile") is not None  # compiled later


def test_elements_per_statistic() -> None:
    cv, nlp = (64, 256, 32, 32), (16, 1024, 1024)
    assert bench.elements_per_statistic("batch_norm", cv) == 64 * 32 * 32
    assert bench.elements_per_statistic("instance_norm", cv) == 32 * 32
    assert bench.elements_per_statistic("group_norm", cv) == 256 // 32 * 32 * 32
    assert bench.elements_per_statistic("layer_norm", nlp) == 1024
    assert bench.elements_per_statistic("rms_norm", nlp) == 1024


def test_count_traffic_counts_the_passes_of_eager_code() -> None:
    x = torch.randn(8, 4, 16, 16)
    w, b = torch.ones(4), torch.zeros(4)
    assert bench.count_traffic(x.clone, x.nbytes) == [("clone", 1.0, 1.0)]
    ops = bench.count_traffic(lambda: NF.batch_norm(x, None, None, w, b, True), x.nbytes)
    reads = sum(r for _, r, _ in ops)
    writes = sum(w for _, _, w in ops)
    assert (round(reads, 2), round(writes, 2)) == (8.0, 6.0)
    assert [name for name, _, _ in ops][:3] == ["mean", "sub", "pow"]
    fused = bench.count_traffic(lambda: bench.batch_norm_one_pass(x, w, b), x.nbytes)
    assert sum(r for _, r, _ in fused) == pytest.approx(6 + 1 / 8, abs=0.01)  # shift: x[:1]


def test_plot_has_one_bar_per_norm_and_affine_row(tiny_report: bench.Report) -> None:
    ax = bench.plot_ratios(tiny_report.rows, title="tiny")
    assert len(ax.patches) == sum(r.op in {*bench.OPS, "affine"} for r in tiny_report.rows)
    assert [line.get_ydata()[0] for line in ax.lines] == [1.0, 1.5]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:2] == ["affine\n4x32x4x4", "affine\n2x8x32"] and labels[2] == "batch norm"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_tiny_run_on_cuda() -> None:
    report = bench.run("cuda", "float32", "tiny", repeats=2, compile=False)
    assert all(r.ratio_to_clone > 0 for r in report.rows)


@pytest.mark.skipif(os.environ.get("NORMBOOK_SLOW") != "1", reason="set NORMBOOK_SLOW=1")
def test_compiled_rows_are_checked_too() -> None:
    report = bench.run("cpu", "float32", "tiny", repeats=1,
                       ops=("batch_norm", "layer_norm"), impls=("torch", "scratch+compile",
                                                                "onepass+compile"))
    assert report.compile_note is None
    impls = {(r.op, r.impl) for r in report.rows}
    assert {("batch_norm", "scratch+compile"), ("batch_norm", "onepass+compile"),
            ("layer_norm", "scratch+compile"), ("layer_norm", "onepass+compile")} <= impls
