"""Variance algorithms and the merge formula (normhelpers.numerics)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from normhelpers.numerics import (
    merge_stats,
    two_pass_stats,
    var_one_pass,
    var_two_pass,
    var_welford,
    welford_stats,
)


def _large_mean(dtype: torch.dtype, rows: int = 6, n: int = 500) -> torch.Tensor:
    """Values around 1e4 with spread 0.1: the case that breaks the one-pass formula."""
    g = torch.Generator().manual_seed(0)
    return (1e4 + 0.1 * torch.randn(rows, n, generator=g, dtype=torch.float64)).to(dtype)


def test_all_three_agree_with_torch_in_float64() -> None:
    x = torch.randn(4, 50, dtype=torch.float64) * 3 + 2
    expected = x.var(dim=-1, unbiased=False)
    for fn in (var_one_pass, var_two_pass, var_welford):
        torch.testing.assert_close(fn(x), expected)


def test_one_pass_cancels_catastrophically_in_float32() -> None:
    x32 = _large_mean(torch.float32)
    reference = var_two_pass(x32.double())  # the exact variance of the float32 values
    relative = (var_one_pass(x32).double() - reference).abs() / reference
    assert relative.min() > 0.5  # every row is off by more than 50 %
    torch.testing.assert_close(var_one_pass(x32.double()), reference)  # float64 copes


def test_one_pass_can_be_negative() -> None:
    pairs = torch.tensor([[10000.0, 10000.1], [9999.9, 10000.2]], dtype=torch.float32)
    assert (var_one_pass(pairs) < 0).all()
    assert (var_two_pass(pairs) > 0).all()


@pytest.mark.parametrize("fn", [var_two_pass, var_welford])
def test_stable_algorithms_are_accurate_in_float32(fn) -> None:
    x32 = _large_mean(torch.float32)
    reference = var_two_pass(x32.double())
    relative = (fn(x32).double() - reference).abs() / reference
    assert relative.max() < 0.02


def test_welford_equals_float64_two_pass() -> None:
    x = torch.randn(3, 200, dtype=torch.float64) * 5 + 100
    n, mean, m2 = welford_stats(x)
    assert n == 200
    torch.testing.assert_close(mean, x.mean(-1))
    torch.testing.assert_close(m2 / n, var_two_pass(x))


def test_welford_on_a_1d_tensor() -> None:
    x = torch.tensor([1.0, 2.0, 4.0, 7.0], dtype=torch.float64)
    torch.testing.assert_close(var_welford(x), torch.tensor(5.25, dtype=torch.float64))


def test_two_pass_stats_agree_with_welford() -> None:
    x = torch.randn(3, 30, dtype=torch.float64) * 2 + 7
    for a, b in zip(two_pass_stats(x), welford_stats(x), strict=True):
        torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b))


def test_merge_two_halves_equals_the_whole() -> None:
    x = torch.randn(5, 40, dtype=torch.float64) * 2 + torch.arange(40.0, dtype=torch.float64)
    count, mean, m2 = merge_stats(*two_pass_stats(x[:, :20]), *two_pass_stats(x[:, 20:]))
    assert count == 40
    torch.testing.assert_close(mean, x.mean(-1))
    torch.testing.assert_close(m2 / count, var_two_pass(x))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 60), data=st.data())
def test_merge_any_split_in_any_order(n: int, data: st.DataObject) -> None:
    x = torch.randn(n, dtype=torch.float64) * 10 + 50
    cut = data.draw(st.integers(1, n - 1))
    expected = var_two_pass(x)
    for a, b in [(x[:cut], x[cut:]), (x[cut:], x[:cut])]:
        count, _, m2 = merge_stats(*two_pass_stats(a), *two_pass_stats(b))
        torch.testing.assert_close(m2 / count, expected)


def test_averaging_chunk_variances_is_not_the_merge() -> None:
    """Chunks with different means: the mean of their variances misses the spread between them."""
    x = torch.cat([torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64) + 4])
    naive = (var_two_pass(x[:50]) + var_two_pass(x[50:])) / 2
    count, _, m2 = merge_stats(*two_pass_stats(x[:50]), *two_pass_stats(x[50:]))
    assert m2 / count > naive + 3  # between-chunk term (4 / 2)^2 = 4
    torch.testing.assert_close(m2 / count, var_two_pass(x))
