"""Tests of normhelpers.bench.kernels: the one-pass norms are accurate where they should be (and
lose digits where the chapter says they do), keep half precision, and affine is one kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import normhelpers.functional as NF
from normhelpers import bench


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
    torch.testing.assert_close(
        y, F.batch_norm(x, None, None, w, b, training=True), atol=1e-2, rtol=1.6e-2
    )


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
    torch.testing.assert_close(
        bench.layer_norm_one_pass(x, w, b), exact.float(), atol=2e-3, rtol=0
    )  # float32 x itself is rounded to 1e-3 here


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


def test_one_pass_norms_compute_half_precision_in_float32() -> None:
    """bfloat16 inputs are upcast first (functional.upcast): the output is the float32 result
    rounded once to bfloat16, bit for bit (bfloat16 arithmetic would round at every step)."""
    gen = torch.Generator().manual_seed(6)
    x = (torch.randn(8, 16, 6, 6, generator=gen) * 3 + 5).bfloat16()
    w = (torch.rand(16, generator=gen) + 0.5).bfloat16()
    b = torch.randn(16, generator=gen).bfloat16()
    for fn, xs in [(bench.batch_norm_one_pass, x), (bench.layer_norm_one_pass, x.transpose(1, 3))]:
        in_float32 = fn(xs.float(), w.float(), b.float()).bfloat16()
        assert torch.equal(fn(xs, w, b), in_float32), fn.__name__  # x: (8, 6, 6, 16) for LN


def test_affine_is_one_kernel_per_channel_or_per_feature() -> None:
    x_cv, x_nlp = torch.randn(2, 3, 4, 5), torch.randn(2, 4, 6)
    a3, b3, a6, b6 = torch.randn(3), torch.randn(3), torch.randn(6), torch.randn(6)
    expected_cv = x_cv * a3[:, None, None] + b3[:, None, None]
    torch.testing.assert_close(bench.affine(x_cv, a3, b3), expected_cv)
    torch.testing.assert_close(bench.affine(x_nlp, a6, b6, dim=-1), x_nlp * a6 + b6)
    [(name, reads, writes)] = bench.count_traffic(lambda: bench.affine(x_cv, a3, b3), x_cv.nbytes)
    assert name == "addcmul" and writes == 1.0
    assert reads == pytest.approx(1.0 + 2 * 3 / x_cv.numel())  # x, and a and b: 3 values each
