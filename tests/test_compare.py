"""normhelpers.compare: the printed line, the verdict, and the returned result.

The printed verdict of a passing comparison must not contain a measured size: that is what
keeps notebook outputs identical across CPUs, thread counts and BLAS libraries.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

import normhelpers as nh
from normhelpers.compare import tolerance


def line_of(capsys, *args, **kwargs):
    result = nh.compare(*args, **kwargs)
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one line
    return result, out.rstrip("\n")


def test_identical_tensors_are_equal_within_tolerance(capsys):
    x = torch.tensor([1.0, 2.0])
    result, line = line_of(capsys, x, x.clone(), "same")
    assert line == "same: ✓ equal within float32 tolerance"
    assert result and result.ok and result.max_abs_diff == 0.0
    assert result.label == "same"


@pytest.mark.parametrize("gap", [0.0, 1e-9, 3e-7, 4e-6])
def test_a_passing_line_never_shows_the_round_off_size(capsys, gap):
    """0, tiny and larger round-off print the same line: it cannot flip with the CPU."""
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    result, line = line_of(capsys, (x + gap).float(), x.float(), "ours vs torch")
    assert line == "ours vs torch: ✓ equal within float32 tolerance"
    assert result
    assert not re.search(r"\d", line.split(":", 1)[1].replace("float32", ""))


def test_real_mismatch_shows_its_size_and_ratio(capsys):
    result, line = line_of(capsys, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0123]), "bn")
    assert line.startswith("bn: ✗ different: max |diff| 0.012 (")
    assert line.endswith("× the float32 tolerance)")
    assert not result
    assert result.max_abs_diff == pytest.approx(0.0123, rel=1e-4)


def test_ratio_uses_two_significant_digits():
    zero = torch.zeros(3)
    assert "(100× the float32 tolerance)" in nh.compare(zero + 1e-3, zero, quiet=True).line
    assert (
        "(3× the given tolerance atol=0.001)"
        in nh.compare(zero + 3e-3, zero, atol=1e-3, quiet=True).line
    )
    assert (
        "(far above the given tolerance rtol=0, atol=0)"
        in nh.compare(zero + 1e-9, zero, rtol=0.0, atol=0.0, quiet=True).line
    )


def test_no_label_means_no_prefix(capsys):
    _, line = line_of(capsys, torch.ones(2), torch.ones(2))
    assert line.startswith("✓ equal")


def test_shape_mismatch(capsys):
    result, line = line_of(capsys, torch.ones(2, 3), torch.ones(3, 2), "y")
    assert line == "y: ✗ shapes differ: [2, 3] vs [3, 2]"
    assert not result
    assert result.max_abs_diff == float("inf")


def test_broadcastable_shapes_still_differ(capsys):
    result, _ = line_of(capsys, torch.ones(1, 3), torch.ones(3))
    assert not result


def test_nan_is_different(capsys):
    nan = torch.tensor([1.0, float("nan")])
    result, line = line_of(capsys, nan, nan.clone())
    assert line == "✗ different: NaN where the other has a number"
    assert not result


def test_equal_infinities_are_equal(capsys):
    inf = torch.tensor([1.0, float("inf"), -float("inf")])
    result, _ = line_of(capsys, inf, inf.clone())
    assert result
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
    result, line = line_of(capsys, a, b, atol=0.1)
    assert result and line == "✓ equal within the given tolerance atol=0.1"
    assert not line_of(capsys, a, a + 1e-6, rtol=0.0, atol=0.0)[0]


def test_exact_mode_asks_for_identical_bits(capsys):
    x = torch.randn(5)
    result, line = line_of(capsys, x, x.clone(), "rerun", exact=True)
    assert result and line == "rerun: ✓ identical (bit for bit)"
    result, line = line_of(capsys, x, x + 1e-7 * x.abs().max(), "rerun", exact=True)
    assert not result and line.startswith("rerun: ✗ not identical: max |diff| ")
    result, line = line_of(capsys, x, x.double(), exact=True)
    assert not result and line == "✗ not identical: dtypes float32 vs float64"


def _eps_outside(x: torch.Tensor) -> torch.Tensor:
    mean, var = x.mean(0), x.var(0, unbiased=False)
    return (x - mean) / (var.sqrt() + 1e-5)


def _eps_inside(x: torch.Tensor) -> torch.Tensor:
    mean, var = x.mean(0), x.var(0, unbiased=False)
    return (x - mean) / (var + 1e-5).sqrt()


def test_reference_tells_a_formula_error_from_round_off(capsys):
    """eps outside the root hides inside float32's atol, but not against a float64 reference."""
    x = 5 * torch.randn(16, 16, generator=torch.Generator().manual_seed(0))
    ours_wrong, ours_right = _eps_outside(x), _eps_inside(x)
    theirs = F.batch_norm(x, None, None, training=True)
    reference = F.batch_norm(x.double(), None, None, training=True)
    assert line_of(capsys, ours_wrong, theirs)[0]  # the tolerance alone is fooled
    result, line = line_of(capsys, ours_wrong, theirs, "eps outside", reference=reference)
    assert not result
    assert line.startswith("eps outside: ✗ formula error: ")
    assert "from the float64 reference" in line
    result, line = line_of(capsys, ours_right, theirs, "eps inside", reference=reference)
    assert result
    assert line == (
        "eps inside: ✓ equal: within 10× torch's own float32 error of the float64 reference"
    )


def test_reference_accepts_an_exact_expected():
    """When torch happens to be exact, one unit of round-off is still allowed."""
    x = torch.linspace(-2, 2, 9)
    assert nh.compare(x * (1 + 1e-7), x, reference=x.double(), quiet=True)
    assert not nh.compare(x * (1 + 1e-4), x, reference=x.double(), quiet=True)


def test_quiet_prints_nothing_and_repr_is_the_line(capsys):
    result = nh.compare(torch.ones(2), torch.ones(2), "q", quiet=True)
    assert capsys.readouterr().out == ""
    assert repr(result) == result.line == "q: ✓ equal within float32 tolerance"
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


def test_compare_all_prints_a_compact_table(capsys):
    x = torch.randn(4)
    table = nh.compare_all({"LayerNorm 2D": (x, x.clone()), "BN": (x + 1e-8, x)})
    assert table and isinstance(table, nh.CompareResult)
    assert table._ipython_display_() is None  # nothing more at the end of a notebook cell
    assert table.line == "✓ all 2 equal within float32 tolerance"
    assert capsys.readouterr().out.splitlines() == [
        "LayerNorm 2D  ✓",
        "BN            ✓",
        "✓ all 2 equal within float32 tolerance",
    ]
    assert not nh.compare_all([("a", x, x), ("b", x + 1.0, x)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "a  ✓"
    assert lines[1].startswith("b  ✗ different: max |diff| 1 (")
    assert lines[2] == "✗ 1 of 2 differ"


def test_integer_tensors_are_compared_exactly(capsys):
    result, line = line_of(capsys, torch.tensor([1, 2]), torch.tensor([1, 2]), "count")
    assert result and line == "count: ✓ equal (exactly: int64)"
    result, line = line_of(capsys, torch.tensor([1, 2]), torch.tensor([1, 3]), "count")
    assert not result and line.startswith("count: ✗ different: max |diff| 1 (")
    assert line.endswith("an exact int64 comparison)")


def test_compare_all_summary_is_neutral_for_mixed_dtypes(capsys):
    x = torch.randn(3)
    table = nh.compare_all({"x": (x, x), "n": (torch.tensor(2), torch.tensor(2))})
    assert table.line == "✓ all 2 agree"
