"""``compare``: one printed line that says whether two tensors agree, and by how much.

Chapters call ``compare(ours, theirs)`` after every from-scratch computation. The line shows
the largest absolute difference and a verdict against the tolerance of the dtype (the
defaults of ``torch.testing.assert_close``). Differences at round-off level are printed as a
power-of-ten bound ("< 1e-06") so that the committed output does not depend on the last bit
of a CPU's summation order; real mismatches are printed with three significant digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["CompareResult", "compare", "tolerance"]

# (rtol, atol) per dtype: the defaults of torch.testing.assert_close
_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) used to judge two tensors of ``dtype`` equal."""
    return _TOLERANCES.get(dtype, (0.0, 0.0))


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` found. Truthy when the tensors agree, so ``assert compare(a, b)``."""

    label: str
    max_abs_diff: float
    ok: bool
    line: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        """Already printed by compare(): show nothing more at the end of a notebook cell."""


def _format_diff(diff: float, ok: bool) -> str:
    if diff == 0.0:
        return "= 0"
    if math.isnan(diff):
        return "= nan"
    if ok:  # round-off level: a power-of-ten bound is stable across machines
        return f"< {10.0 ** (math.floor(math.log10(diff)) + 1):.0e}"  # strictly above diff
    return f"= {diff:.3g}"


def compare(
    actual: Tensor,
    expected: Tensor,
    label: str = "",
    rtol: float | None = None,
    atol: float | None = None,
    quiet: bool = False,
) -> CompareResult:
    """Print ``label  max |diff| ...  verdict`` and return a :class:`CompareResult`.

    actual, expected: tensors of the same shape (any dtype; compared in float64).
    rtol, atol: override the dtype's default tolerance, as in ``torch.allclose``.
    quiet: return the result without printing.
    """
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    default_rtol, default_atol = tolerance(expected.dtype)
    custom_tolerance = rtol is not None or atol is not None
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    name = f"{label}: " if label else ""
    if actual.shape != expected.shape:
        line = (f"{name}shapes differ: {list(actual.shape)} vs {list(expected.shape)}"
                "  ✗ different")
        result = CompareResult(label, math.inf, False, line)
    else:
        a = actual.detach().double()
        e = expected.detach().double()
        gap = torch.where(a == e, 0.0, (a - e).abs())  # equal infinities count as equal
        diff = float(gap.max()) if a.numel() else 0.0
        ok = bool(torch.allclose(a, e, rtol=rtol, atol=atol)) and not math.isnan(diff)
        verdict = "✓ equal" if ok else "✗ different"
        if diff == 0.0:
            verdict += " (bit for bit)"
        elif ok and custom_tolerance:
            verdict += " (within the given tolerance)"
        elif ok:
            verdict += f" (within {expected.dtype} round-off)".replace("torch.", "")
        line = f"{name}max |diff| {_format_diff(diff, ok)}  {verdict}"
        result = CompareResult(label, diff, ok, line)
    if not quiet:
        print(result.line)
    return result
