"""What a benchmark run reports: one :class:`Row` per case, as a text table or a CSV file.

Every row carries the metadata needed to read it later: the device, the thread count, the torch
version, the date, the dtype and the shape.
"""

from __future__ import annotations

import csv
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from normhelpers.bench.cases import LIMITS

__all__ = ["Row", "Report", "CSV_COLUMNS", "device_name", "format_table", "write_csv", "read_csv"]


@dataclass
class Row:
    """One timed case: the columns of the CSV file. Times are per call, over the rounds.

    Example:

    >>> row = Row("cpu", 1, "2.x", "2026-01-01", "float32", "(2, 3)", "batch_norm",
    ...           "torch", 0.2, 0.01, 2.0, 5.0, 0.0)
    >>> row.op, row.ratio_to_copy
    ('batch_norm', 2.0)
    """

    device: str
    threads: int  # torch's intra-op threads during the timing
    torch: str
    date: str
    dtype: str
    shape: str  # e.g. "64x256x32x32"
    op: str
    impl: str
    median_ms: float
    iqr_ms: float  # interquartile range of the rounds: the spread of median_ms
    ratio_to_copy: float  # median / median of copy_ on the same shape in the same run
    gb_per_s: float  # counting one read and one write of x, as for a copy
    max_abs_diff: float  # against the float64 reference, checked before timing
    output_ok: bool = True  # False: max_abs_diff beyond the dtype's tolerance


CSV_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))


@dataclass
class Report:
    """What :func:`normhelpers.bench.run` measured, and why compiled rows are missing when
    they are.

    Example:

    >>> Report().rows, Report(compile_note="no compiler").compile_note
    ([], 'no compiler')
    """

    rows: list[Row] = field(default_factory=list)
    compile_note: str | None = None  # None when torch.compile worked or was not asked for
    allocator: str = ""  # the memory setting the timings ran with (bench.allocator)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model name (from /proc/cpuinfo where there is one)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def format_table(report: Report) -> str:
    """The report as a text table: one line per case, median and spread, ratio to ``copy_``.

    A case whose output missed the tolerance has a ``*`` after its impl and a line below the
    table that says "output check failed".

    Example:

    >>> row = Row("cpu", 1, "2.x", "2026-01-01", "float32", "(2, 3)", "batch_norm",
    ...           "torch", 0.2, 0.01, 2.0, 5.0, 0.0)
    >>> "batch_norm" in format_table(Report(rows=[row]))
    True
    """
    first = report.rows[0]
    lines = [
        f"{first.device} | {first.threads} thread{'' if first.threads == 1 else 's'} | "
        f"torch {first.torch} | {first.dtype} | {first.date}"
        + (f"\nmemory: {report.allocator}" if report.allocator else ""),
        f"{'op':<19} {'impl':<16} {'shape':<13} {'median ms':>9} {'IQR ms':>6} "
        f"{'x copy_':>7} {'limit':>5}",
    ]
    for r in report.rows:
        limit = f"{LIMITS[r.op]:.1f}" if r.op in LIMITS else "-"
        impl = r.impl if r.output_ok else r.impl + "*"  # * : output check failed
        lines.append(
            f"{r.op:<19} {impl:<16} {r.shape:<13} {r.median_ms:>9.3f} "
            f"{r.iqr_ms:>6.3f} {r.ratio_to_copy:>7.2f} {limit:>5}"
        )
    failed = [r for r in report.rows if not r.output_ok]
    if not failed:
        lines.append("every output checked against a float64 reference: all agree")
    for r in failed:
        lines.append(
            f"* output check failed: {r.op} ({r.impl}), max |diff| {r.max_abs_diff:.1e}, "
            "over tolerance"
        )
    if report.compile_note:
        lines.append(report.compile_note)
    return "\n".join(lines)


_CONVERT: dict[str, Callable[[str], Any]] = {
    "float": float,
    "int": int,
    "bool": lambda s: s == "True",  # write_rows writes True or False
}  # the dataclasses' annotations are strings (postponed)


def write_rows(rows: Sequence[Any], path: str | Path, cls: type, digits: int = 6) -> None:
    """Rows of the dataclass ``cls`` to a CSV file: a header line of its fields, floats to
    ``digits`` significant digits. Used for the benchmark's rows and the sweep's."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(cls)])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: (f"{v:.{digits}g}" if isinstance(v, float) else v)
                    for k, v in asdict(row).items()
                }
            )


def read_rows(cls: type, path: str | Path) -> list[Any]:
    """Rows written by :func:`write_rows`, as instances of the dataclass ``cls``."""
    types = {fl.name: _CONVERT.get(str(fl.type), str) for fl in fields(cls)}
    with open(path, newline="", encoding="utf-8") as f:
        return [cls(**{k: types[k](v) for k, v in rec.items()}) for rec in csv.DictReader(f)]


def write_csv(rows: Sequence[Row], path: str | Path) -> None:
    """Write the rows with the columns of :data:`CSV_COLUMNS` (one header line).

    Example:

    >>> import tempfile
    >>> row = Row("cpu", 1, "2.x", "2026-01-01", "float32", "(2, 3)", "batch_norm",
    ...           "torch", 0.2, 0.01, 2.0, 5.0, 0.0)
    >>> path = Path(tempfile.mkdtemp()) / "bench.csv"
    >>> write_csv([row], path)
    >>> path.read_text().splitlines()[0].split(",")[:3]
    ['device', 'threads', 'torch']
    """
    write_rows(rows, path, Row, digits=6)


def read_csv(path: str | Path) -> list[Row]:
    """Rows written by :func:`write_csv`.

    Example:

    >>> import tempfile
    >>> row = Row("cpu", 1, "2.x", "2026-01-01", "float32", "(2, 3)", "batch_norm",
    ...           "torch", 0.2, 0.01, 2.0, 5.0, 0.0)
    >>> path = Path(tempfile.mkdtemp()) / "bench.csv"
    >>> write_csv([row], path)
    >>> read_csv(path) == [row]
    True
    """
    return read_rows(Row, path)
