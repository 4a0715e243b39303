"""One benchmark run: build the checked cases, time them in interleaved rounds, make the rows."""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Sequence

import torch

from normhelpers.bench import allocator
from normhelpers.bench.cases import (
    BACKWARD,
    IMPLS,
    OPS,
    SHAPES,
    TARGETS,
    Case,
    backward_cases,
    baseline_cases,
    first_line,
    norm_cases,
)
from normhelpers.bench.report import Report, Row, device_name
from normhelpers.bench.timing import time_interleaved

__all__ = ["run", "check_targets", "compiler_note"]


def _cases(
    ops: Sequence[str],
    impls: Sequence[str],
    shapes: dict[str, tuple[int, ...]],
    dtype: torch.dtype,
    device: torch.device,
    notes: list[str],
) -> list[Case]:
    """The reference kernels (``copy_``, ``clone``, ``sum``, ``fill_``, ``affine``, and
    ``affine`` compiled when ``impls`` holds "compile") for each layout that ``ops`` use, then
    the cases of each op (a forward op of OPS or a backward op
    of BACKWARD)."""
    cases = []

    def layout_of(op: str) -> str:
        return OPS[BACKWARD.get(op, op)][0]

    for layout in [lay for lay in shapes if any(layout_of(op) == lay for op in ops)]:
        cases += baseline_cases(layout, shapes[layout], dtype, device, impls, notes)
        for op in [op for op in ops if layout_of(op) == layout]:
            make = backward_cases if op in BACKWARD else norm_cases
            cases += make(op, impls, shapes[layout], dtype, device, notes)
    return cases


def run(
    device: str = "cpu",
    dtype: str = "float32",
    size: str = "small",
    repeats: int = 10,
    compile: bool = True,
    ops: Sequence[str] = tuple(OPS) + tuple(BACKWARD),
    impls: Sequence[str] = IMPLS,
    min_call_s: float = 0.002,
    reuse_memory: bool = True,
) -> Report:
    """Time ``copy_`` and every (op, impl) case; check each output against a float64 result first.

    Ratios are to ``copy_`` on the same shape, a copy into memory that is already mapped.
    With ``reuse_memory`` (the default) glibc is told to reuse freed memory first
    (:func:`normhelpers.bench.allocator.reuse_freed_memory`), so that a kernel that allocates
    its output does not pay the operating system's page faults; without it, glibc's defaults
    are restored. The report's ``allocator`` line says which setting the timings ran with.

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
    >>> [row.op for row in report.rows]
    ['copy_', 'clone', 'sum', 'fill_', 'affine', 'layer_norm']
    """
    dev, dt = torch.device(device), getattr(torch, dtype)
    if dev.type == "cpu":
        allocator.reuse_freed_memory() if reuse_memory else allocator.default_allocator()
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
    copy_s = {c.shape: m.median for c, m in zip(cases, measured, strict=True) if c.op == "copy_"}
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
                ratio_to_copy=m.median / copy_s[c.shape],
                gb_per_s=2 * nbytes / m.median / 1e9,
                max_abs_diff=c.max_abs_diff,
                output_ok=c.output_ok,
            )
        )
    note = allocator.allocator_note() if dev.type == "cpu" else "CUDA caching allocator"
    return Report(rows, compile_note=notes[0] if notes else None, allocator=note)


@functools.cache
def compiler_note() -> str | None:
    """None when ``torch.compile`` works here (a tiny function compiles and runs), else one line
    that says why not ("compile unavailable: ..."), as the benchmark table prints it. The answer
    is computed once per process.

    Example:

    >>> note = compiler_note()
    >>> note is None or note.startswith("compile unavailable")
    True
    """
    try:
        torch.compile(_double_plus_one, dynamic=False)(torch.ones(4))
    except Exception as err:  # any failure to compile means: no working compiler here
        return f"compile unavailable: {first_line(err)}"
    return None


def _double_plus_one(t: torch.Tensor) -> torch.Tensor:
    return t * 2 + 1


def check_targets(report: Report) -> list[tuple[str, float, float, float, bool]]:
    """The targets of :data:`~normhelpers.bench.cases.TARGETS` that the report's rows cover:
    (case, time / ``copy_`` time, target, torch's ratio, met). Met means at or below the target
    and at or ahead of torch's eager kernel for the same op and shape.

    Example:

    >>> report = run(size="tiny", repeats=1, compile=False, ops=["layer_norm"],
    ...              impls=["torch"], min_call_s=1e-4)
    >>> check_targets(report)  # no compiled row, no target to check
    []
    """
    rows = {(r.op, r.impl, r.shape): r for r in report.rows}
    found = []
    for (op, impl), target in TARGETS.items():
        for (o, i, shape), row in rows.items():
            if (o, i) != (op, impl):
                continue
            ref = rows.get((op, "torch", shape))
            torch_ratio = ref.ratio_to_copy if ref else float("nan")
            ok = row.output_ok and row.ratio_to_copy <= target and row.ratio_to_copy <= torch_ratio
            found.append((f"{op} ({impl}) {shape}", row.ratio_to_copy, target, torch_ratio, ok))
    return found
