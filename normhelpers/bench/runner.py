"""One benchmark run: build the checked cases, time them in interleaved rounds, make the rows."""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence

import torch

from normhelpers.bench.cases import IMPLS, OPS, SHAPES, Case, baseline_cases, norm_cases
from normhelpers.bench.report import Report, Row, device_name
from normhelpers.bench.timing import time_interleaved

__all__ = ["run"]


def _cases(
    ops: Sequence[str],
    impls: Sequence[str],
    shapes: dict[str, tuple[int, ...]],
    dtype: torch.dtype,
    device: torch.device,
    notes: list[str],
) -> list[Case]:
    """``clone``, ``copy_`` and ``affine`` for each layout that ``ops`` use, then the cases
    of each op."""
    cases = []
    for layout in [lay for lay in shapes if any(OPS[op][0] == lay for op in ops)]:
        cases += baseline_cases(layout, shapes[layout], dtype, device)
        for op in [op for op in ops if OPS[op][0] == layout]:
            cases += norm_cases(op, impls, shapes[layout], dtype, device, notes)
    return cases


def run(
    device: str = "cpu",
    dtype: str = "float32",
    size: str = "small",
    repeats: int = 10,
    compile: bool = True,
    ops: Sequence[str] = tuple(OPS),
    impls: Sequence[str] = IMPLS,
    min_call_s: float = 0.002,
) -> Report:
    """Time clone and every (op, impl) case; check each output against a float64 result first.

    repeats: timed rounds; each round times every case once, in turn, so that a change in the
    machine's load affects all cases alike; the median over rounds is reported, with its IQR.
    A timed block lasts at least about ``min_call_s`` (several calls of a fast case; see
    :mod:`normhelpers.bench.timing`). Timing uses torch's current thread count, recorded in
    every row. A norm whose output misses the tolerance is timed all the same, its row marked
    ``output_ok=False``; a wrong ``clone``, ``copy_`` or ``affine`` raises RuntimeError.
    With ``compile``, resets torch.compile's in-memory state first (``torch._dynamo.reset()``).

    Example:

    >>> report = run(size="tiny", repeats=1, compile=False, ops=["layer_norm"],
    ...              impls=["torch"], min_call_s=1e-4)
    >>> sorted({(row.op, row.impl) for row in report.rows})[-1]
    ('layer_norm', 'torch')
    """
    dev, dt = torch.device(device), getattr(torch, dtype)
    notes = [] if compile else ["compile not asked for (--no-compile)"]
    if compile:
        torch._dynamo.reset()  # start from a clean slate (the on-disk kernel cache is kept)
    cases = _cases(ops, impls, SHAPES[(dev.type, size)], dt, dev, notes)
    threads = torch.get_num_threads()
    measured = time_interleaved(
        [c.call for c in cases],
        repeats,
        min_call_s,
        labels=[f"{c.op} ({c.impl})" for c in cases],
        num_threads=threads,
    )
    clone_s = {c.shape: m.median for c, m in zip(cases, measured, strict=True) if c.op == "clone"}
    name, date = device_name(dev), datetime.date.today().isoformat()
    rows = []
    for c, m in zip(cases, measured, strict=True):
        nbytes = math.prod(c.shape) * dt.itemsize
        rows.append(
            Row(
                device=name,
                threads=threads,
                torch=torch.__version__,
                date=date,
                dtype=dtype,
                shape="x".join(map(str, c.shape)),
                op=c.op,
                impl=c.impl,
                median_ms=m.median * 1e3,
                iqr_ms=m.iqr * 1e3,
                ratio_to_clone=m.median / clone_s[c.shape],
                gb_per_s=2 * nbytes / m.median / 1e9,
                max_abs_diff=c.max_abs_diff,
                output_ok=c.output_ok,
            )
        )
    return Report(rows, compile_note=notes[0] if notes else None)
