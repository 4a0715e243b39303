"""normhelpers.compare: the printed line, the verdict, and the returned result."""

from __future__ import annotations

import re

import pytest
import torch

import normhelpers as nh
from normhelpers.compare import tolerance


def line_of(capsys, *args, **kwargs):
    result = nh.compare(*args, **kwargs)
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one line
    return result, out.rstrip("\n")


def test_bit_for_bit_equal(capsys):
    x = torch.tensor([1.0, 2.0])
    result, line = line_of(capsys, x, x.clone(), "same")
    assert line == "same: max |diff| = 0  ✓ equal (bit for bit)"
    assert result and result.ok and result.max_abs_diff == 0.0
    assert result.label == "same"


def test_round_off_is_shown_as_a_power_of_ten_bound(capsys):
    x = torch.tensor([1.0, 2.0, 3.0])
    result, line = line_of(capsys, x + 3e-7, x, "ours vs torch")
    assert line == "ours vs torch: max |diff| < 1e-06  ✓ equal (within float32 round-off)"
    assert result
    assert 1e-7 < result.max_abs_diff < 1e-6


def test_round_off_bound_is_strict_at_an_exact_power_of_ten(capsys):
    zero, tiny = torch.zeros(1, dtype=torch.float64), torch.full((1,), 1e-8, dtype=torch.float64)
    result, line = line_of(capsys, zero, tiny)
    bound = float(re.search(r"< (\S+)", line).group(1))
    assert result.max_abs_diff < bound
    assert "float64 round-off" in line


def test_real_mismatch_has_three_significant_digits(capsys):
    result, line = line_of(capsys, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0123]), "bn")
    assert line == "bn: max |diff| = 0.0123  ✗ different"
    assert not result
    assert result.max_abs_diff == pytest.approx(0.0123, rel=1e-4)


def test_no_label_means_no_prefix(capsys):
    _, line = line_of(capsys, torch.ones(2), torch.ones(2))
    assert line.startswith("max |diff|")


def test_shape_mismatch(capsys):
    result, line = line_of(capsys, torch.ones(2, 3), torch.ones(3, 2), "y")
    assert line == "y: shapes differ: [2, 3] vs [3, 2]  ✗ different"
    assert not result
    assert result.max_abs_diff == float("inf")


def test_broadcastable_shapes_still_differ(capsys):
    result, _ = line_of(capsys, torch.ones(1, 3), torch.ones(3))
    assert not result


def test_nan_is_different(capsys):
    nan = torch.tensor([1.0, float("nan")])
    result, line = line_of(capsys, nan, nan.clone())
    assert line == "max |diff| = nan  ✗ different"
    assert not result


def test_equal_infinities_are_equal(capsys):
    inf = torch.tensor([1.0, float("inf"), -float("inf")])
    result, line = line_of(capsys, inf, inf.clone())
    assert result and line.endswith("(bit for bit)")
    result, _ = line_of(capsys, inf, -inf)
    assert not result


def test_tolerance_follows_the_expected_dtype(capsys):
    half = torch.tensor([1.0, 2.0], dtype=torch.float16)
    assert line_of(capsys, half.float() + 1e-3, half)[0]  # within float16's rtol
    assert not line_of(capsys, half.float() + 1e-3, half.float())[0]  # not float32's
    assert tolerance(torch.float32) == (1.3e-6, 1e-5)
    assert tolerance(torch.int64) == (0.0, 0.0)


def test_explicit_tolerances_override_the_dtype(capsys):
    a, b = torch.tensor([1.0]), torch.tensor([1.05])
    assert not line_of(capsys, a, b)[0]
    assert line_of(capsys, a, b, atol=0.1)[0]
    assert not line_of(capsys, a, a + 1e-6, rtol=0.0, atol=0.0)[0]


def test_quiet_prints_nothing_and_repr_is_the_line(capsys):
    result = nh.compare(torch.ones(2), torch.ones(2), "q", quiet=True)
    assert capsys.readouterr().out == ""
    assert repr(result) == result.line == "q: max |diff| = 0  ✓ equal (bit for bit)"
    assert result._ipython_display_() is None  # a notebook cell shows nothing more


def test_accepts_grad_tensors_lists_and_integer_tensors(capsys):
    x = torch.ones(3, requires_grad=True)
    assert line_of(capsys, x * 2, torch.full((3,), 2.0))[0]
    assert line_of(capsys, [1.0, 2.0], torch.tensor([1.0, 2.0]))[0]
    assert not line_of(capsys, torch.tensor([1, 2]), torch.tensor([1, 3]))[0]


def test_empty_tensors_are_equal(capsys):
    assert line_of(capsys, torch.empty(0, 3), torch.empty(0, 3))[0]


def test_result_is_usable_in_assert_and_is_frozen():
    result = nh.compare(torch.ones(1), torch.ones(1), quiet=True)
    assert isinstance(result, nh.CompareResult)
    with pytest.raises(AttributeError):
        result.ok = False


def test_verdict_names_a_caller_tolerance(capsys: pytest.CaptureFixture[str]) -> None:
    a = torch.zeros(3)
    assert nh.compare(a + 5e-4, a, atol=1e-3)
    assert "(within the given tolerance)" in capsys.readouterr().out
