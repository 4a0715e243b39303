"""Tests of normhelpers.bench.cases: which cases exist, the statistics' sizes, the output check."""

from __future__ import annotations

import pytest
import torch

from normhelpers import bench
from normhelpers.bench import cases


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


def test_check_returns_the_difference_and_raises_beyond_the_tolerance() -> None:
    ref = torch.linspace(-2, 2, 50)
    assert cases.check(ref + 1e-7, ref, torch.float32, "near") == pytest.approx(1e-7, rel=0.5)
    with pytest.raises(RuntimeError, match="far disagrees"):
        cases.check(ref + 1e-3, ref, torch.float32, "far")
    assert cases.check((ref + 1e-3).bfloat16(), ref, torch.bfloat16, "bf16") < 0.05


def test_baseline_cases_are_the_copies_a_read_a_write_and_affine_on_one_shape() -> None:
    shape = bench.SHAPES[("cpu", "tiny")]["cv"]
    found = cases.baseline_cases("cv", shape, torch.float32, torch.device("cpu"))
    assert [(c.op, c.shape) for c in found] == [
        (op, shape) for op in ("copy_", "clone", "sum", "fill_", "affine")
    ]
    outputs = {c.op: c.call() for c in found}
    assert outputs["sum"].shape == () and bool((outputs["fill_"] == 1).all())
    assert all(outputs[op].shape == shape for op in ("copy_", "clone", "affine"))
    assert all(c.max_abs_diff < 1e-5 for c in found)


def test_rows_exists_for_batch_norm_only_and_matches_torch() -> None:
    assert bench.implementation("batch_norm", "rows+compile") is bench.implementation(
        "batch_norm", "rows"
    )
    assert bench.implementation("layer_norm", "rows") is None
    x, w, b = bench.make_inputs("batch_norm", (6, 5, 3, 7))
    y = bench.implementation("batch_norm", "rows")(x, w, b)
    ref = torch.nn.functional.batch_norm(x.double(), None, None, w.double(), b.double(), True)
    assert (y.double() - ref).abs().max() < 1e-5


def test_limits_count_reads_and_one_write() -> None:
    assert bench.LIMITS["copy_"] == bench.LIMITS["layer_norm"] == 1.0
    assert bench.LIMITS["batch_norm"] == 1.5 and bench.LIMITS["batch_norm_backward"] == 2.5
    assert bench.two_read_limit(1.0, 3.0) == pytest.approx(4 / 3)


@pytest.mark.parametrize("op", ["batch_norm_backward", "layer_norm_backward"])
def test_backward_cases_agree_with_float64_autograd(op: str) -> None:
    shape = bench.SHAPES[("cpu", "tiny")]["cv" if op.startswith("batch") else "nlp"]
    notes: list[str] = []
    found = cases.backward_cases(op, ["torch"], shape, torch.float32, torch.device("cpu"), notes)
    assert [c.impl for c in found] == ["torch"] and found[0].output_ok
    dx, dw, db = found[0].call()
    assert dx.shape == shape and dw.shape == db.shape


@pytest.mark.parametrize("wrong", ["dweight", "dbias"])
def test_a_wrong_weight_or_bias_gradient_is_caught(
    wrong: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dx right, dweight or dbias off by 1%: the case is kept but marked wrong."""
    aten = torch.ops.aten

    def backward(dy, x, mean, rstd, w):  # type: ignore[no-untyped-def]
        dx, dw, db = aten.native_layer_norm_backward(
            dy, x, [x.shape[-1]], mean, rstd, w, torch.zeros_like(w), [True, True, True]
        )
        return (dx, dw * 1.01, db) if wrong == "dweight" else (dx, dw, db * 1.01)

    monkeypatch.setattr(cases, "_torch_backward", lambda op: backward)
    shape = bench.SHAPES[("cpu", "tiny")]["nlp"]
    found = cases.backward_cases(
        "layer_norm_backward", ["torch"], shape, torch.float32, torch.device("cpu"), []
    )
    assert not found[0].output_ok
