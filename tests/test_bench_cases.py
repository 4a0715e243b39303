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


def test_baseline_cases_are_clone_copy_and_affine_on_one_shape() -> None:
    shape = bench.SHAPES[("cpu", "tiny")]["cv"]
    found = cases.baseline_cases("cv", shape, torch.float32, torch.device("cpu"))
    assert [(c.op, c.shape) for c in found] == [
        ("clone", shape),
        ("copy_", shape),
        ("affine", shape),
    ]
    assert all(c.call().shape == shape and c.max_abs_diff < 1e-5 for c in found)
