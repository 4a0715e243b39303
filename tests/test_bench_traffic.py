"""Tests of normhelpers.bench.traffic: count_traffic sees each eager pass over memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import normhelpers.functional as NF
from normhelpers import bench


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


def test_count_traffic_sees_one_op_for_torch_kernels_and_skips_views() -> None:
    x = torch.randn(4, 8, 64)
    w, b = torch.ones(64), torch.zeros(64)
    ops = bench.count_traffic(lambda: F.layer_norm(x.view(32, 64), (64,), w, b), x.nbytes)
    assert [name for name, _, _ in ops] == ["native_layer_norm"]  # the view is not listed
