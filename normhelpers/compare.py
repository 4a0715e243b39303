"""``compare``: one printed line that says whether two tensors agree.

Chapters call ``compare(ours, theirs)`` after every from-scratch computation. The printed
verdict must read the same on every reader's machine, so it never shows a round-off size
(those depend on the CPU's vector instructions and thread count):

- ``✓ equal within float32 tolerance``: every element satisfies
  ``|a - e| <= atol + rtol * |e|`` with the dtype's tolerance (the defaults of
  ``torch.testing.assert_close``) or the caller's ``rtol``/``atol``;
- ``✗ different: max |diff| 0.012 (1200× the tolerance)``: a real mismatch, with its size.

Two stricter modes answer other questions:

- ``exact=True``: are the two tensors identical, bit for bit? Ask for it only where exactness is
  the point and holds on every CPU (a rerun of the same code, rank 0 against rank 1).
- ``reference=...``: a float64 computation of the correct formula. Then the verdict tells
  round-off from a formula error that a tolerance would hide: ``actual`` passes when its error
  against the reference is of the size of ``expected``'s own error (torch's round-off).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["CompareResult", "compare", "compare_all", "tolerance"]

# (rtol, atol) per dtype: the defaults of torch.testing.assert_close
_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
}

# With ``reference=``: an error up to this many times torch's own error still counts as
# round-off. Correct float32 formulas land within 1-3x of each other on every CPU we tried;
# the formula errors the book shows (eps outside the root, n - 1) are 50x or more.
ROUNDOFF_FACTOR = 10.0


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """(rtol, atol) used to judge two tensors of ``dtype`` equal.

    Example:

    >>> tolerance(torch.float32) == tolerance(torch.float32)
    True
    >>> rtol = {dtype: tolerance(dtype)[0] for dtype in (torch.float64, torch.float32)}
    >>> rtol[torch.float64] < rtol[torch.float32]
    True
    """
    return _TOLERANCES.get(dtype, (0.0, 0.0))


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare` found. Truthy when the tensors agree, so ``assert compare(a, b)``.

    ``max_abs_diff`` is the measured largest difference (machine-dependent at round-off
    level: it is returned, never printed for a passing comparison).

    Example:

    >>> result = compare(torch.ones(3), torch.ones(3), quiet=True)
    >>> bool(result), result.max_abs_diff
    (True, 0.0)
    """

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


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _max_gap(a: Tensor, e: Tensor) -> float:
    """Largest |a - e| in float64; equal infinities count as equal, any NaN gives nan."""
    if a.numel() == 0:
        return 0.0
    gap = torch.where(a == e, 0.0, (a - e).abs())
    return float(gap.max()) if not bool(gap.isnan().any()) else math.nan


def _excess(a: Tensor, e: Tensor, rtol: float, atol: float) -> float:
    """max |a - e| / (atol + rtol |e|): above 1 means outside the tolerance."""
    allowed = atol + rtol * e.abs()
    gap = torch.where(a == e, 0.0, (a - e).abs())
    ratio = torch.where(allowed > 0, gap / allowed.clamp_min(1e-300), gap * math.inf)
    return float(ratio.nan_to_num(nan=0.0, posinf=math.inf).max())


def _times(ratio: float) -> str:
    """A ratio with two significant digits in plain notation: 1.1×, 99×, 1200×."""
    if not math.isfinite(ratio):
        return "far above"
    rounded = float(f"{ratio:.2g}")
    return f"{rounded:g}×" if rounded < 10 else f"{rounded:.0f}×"


def _exact(name: str, label: str, a: Tensor, e: Tensor) -> CompareResult:
    if a.dtype != e.dtype:
        line = f"{name}✗ not identical: dtypes {_dtype_name(a.dtype)} vs {_dtype_name(e.dtype)}"
        return CompareResult(label, math.nan, False, line)
    if bool(torch.equal(a, e)):
        return CompareResult(label, 0.0, True, f"{name}✓ identical (bit for bit)")
    gap = _max_gap(a.double(), e.double())
    return CompareResult(label, gap, False, f"{name}✗ not identical: max |diff| {gap:.2g}")


def _against_reference(
    name: str, label: str, actual: Tensor, expected: Tensor, ref: Tensor
) -> CompareResult:
    a, e = actual.double(), expected.double()
    err_a, err_e = _max_gap(a, ref), _max_gap(e, ref)
    dtype = expected.dtype if expected.dtype.is_floating_point else torch.float64
    scale = float(ref.pow(2).mean().sqrt()) if ref.numel() else 0.0
    roundoff = max(err_e, torch.finfo(dtype).eps * scale)  # torch's error, at least one unit
    dt = _dtype_name(dtype)
    if err_a <= ROUNDOFF_FACTOR * roundoff:
        line = (
            f"{name}✓ equal: within {ROUNDOFF_FACTOR:.0f}× torch's own {dt} error "
            "of the float64 reference"
        )
        return CompareResult(label, _max_gap(a, e), True, line)
    line = (
        f"{name}✗ formula error: {err_a:.2g} from the float64 reference, over "
        f"{ROUNDOFF_FACTOR:.0f}× torch's own round-off"
    )
    return CompareResult(label, _max_gap(a, e), False, line)


def compare(
    actual: Tensor,
    expected: Tensor,
    label: str = "",
    rtol: float | None = None,
    atol: float | None = None,
    quiet: bool = False,
    *,
    exact: bool = False,
    reference: Tensor | None = None,
) -> CompareResult:
    """Print ``label: verdict`` and return a :class:`CompareResult`.

    actual, expected: tensors of the same shape (any dtype; compared in float64).
    rtol, atol: override the dtype's default tolerance, as in ``torch.allclose``.
    quiet: return the result without printing.
    exact: require identical tensors (same dtype, same bits).
    reference: a float64 tensor of the correct values; judge ``actual`` by its error against
        it, relative to ``expected``'s own error (tells round-off from a formula error).

    Example:

    >>> x = torch.tensor([1.0, 2.0])
    >>> _ = compare(x, x.clone(), label="copy")
    copy: ✓ equal within float32 tolerance
    >>> _ = compare(x, x + 1, label="shifted")
    shifted: ✗ different: max |diff| 1 (...× the float32 tolerance)
    """
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    name = f"{label}: " if label else ""
    if actual.shape != expected.shape:
        line = f"{name}✗ shapes differ: {list(actual.shape)} vs {list(expected.shape)}"
        result = CompareResult(label, math.inf, False, line)
    elif exact:
        result = _exact(name, label, actual.detach(), expected.detach())
    elif reference is not None:
        ref = torch.as_tensor(reference).detach().double()
        result = _against_reference(name, label, actual.detach(), expected.detach(), ref)
    else:
        default_rtol, default_atol = tolerance(expected.dtype)
        given = rtol is not None or atol is not None
        rtol_in, atol_in = rtol, atol
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol if atol is None else atol
        a, e = actual.detach().double(), expected.detach().double()
        diff = _max_gap(a, e)
        ok = not math.isnan(diff) and bool(torch.allclose(a, e, rtol=rtol, atol=atol))
        asked = ", ".join(
            f"{k}={v:g}" for k, v in (("rtol", rtol_in), ("atol", atol_in)) if v is not None
        )
        what = (
            f"the given tolerance {asked}"
            if given
            else f"the {_dtype_name(expected.dtype)} tolerance"
        )
        exact_dtype = not given and not expected.dtype.is_floating_point
        if exact_dtype:  # integers and booleans have no round-off: the test is exact
            what = f"an exact {_dtype_name(expected.dtype)} comparison"
        if ok and exact_dtype:
            line = f"{name}✓ equal (exactly: {_dtype_name(expected.dtype)})"
        elif ok:
            line = f"{name}✓ equal within {what if given else what.removeprefix('the ')}"
        elif math.isnan(diff):
            line = f"{name}✗ different: NaN where the other has a number"
        else:
            times = _excess(a, e, rtol, atol)
            size = _times(times)
            line = f"{name}✗ different: max |diff| {diff:.2g} ({size} {what})"
        result = CompareResult(label, diff, ok, line)
    if not quiet:
        print(result.line)
    return result


def compare_all(
    pairs: dict[str, tuple[Tensor, Tensor]] | Sequence[tuple[str, Tensor, Tensor]],
    **kwargs: object,
) -> CompareResult:
    """Compare several pairs: one short aligned row each, then one summary line.

    pairs: ``{label: (actual, expected)}`` or ``[(label, actual, expected), ...]``.
    kwargs: passed to :func:`compare` (``rtol``, ``atol``, ``exact``, ``reference`` is not
    supported here). A row that agrees shows ``✓``; a row that does not shows its verdict.
    Returns a :class:`CompareResult` for the whole table: truthy when every pair agrees, its
    ``line`` the summary line, its ``max_abs_diff`` the largest difference of any pair.

    Example:

    >>> x = torch.tensor([1.0, 2.0])
    >>> _ = compare_all({"copy": (x, x.clone()), "double": (x, 2 * x / 2)})
    copy    ✓
    double  ✓
    ✓ all 2 equal within float32 tolerance
    """
    rows = [(k, *v) for k, v in pairs.items()] if isinstance(pairs, dict) else list(pairs)
    width = max((len(label) for label, _, _ in rows), default=0)
    verdicts = []
    for label, a, e in rows:
        r = compare(a, e, quiet=True, **kwargs)  # type: ignore[arg-type]
        verdicts.append(r)
        print(f"{label.ljust(width)}  {'✓' if r else r.line}")
    passed = sum(bool(r) for r in verdicts)
    texts = {r.line.removeprefix("✓ ") for r in verdicts}
    agree = texts.pop() if len(texts) == 1 else "agree"  # one wording, or a neutral word
    if passed == len(verdicts):
        line = f"✓ all {passed} {agree}"
    else:
        line = f"✗ {len(verdicts) - passed} of {len(verdicts)} differ"
    print(line)
    largest = max((r.max_abs_diff for r in verdicts), default=0.0)
    return CompareResult("", largest, passed == len(verdicts), line)
