"""The command line: ``python -m normhelpers.bench --help``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from normhelpers.bench.report import format_table, write_csv
from normhelpers.bench.runner import run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run, print the table, optionally write the CSV. Returns the exit status.

    Example:

    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     status = main(["--size", "tiny", "--repeats", "1", "--no-compile"])
    >>> status, "layer_norm" in out.getvalue()
    (0, True)
    """
    parser = argparse.ArgumentParser(
        prog="python -m normhelpers.bench",
        description="Time torch's and normhelpers' norms (training-mode forward) against "
        "x.clone() on one device; print ratios to clone and GB/s.",
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        nargs="+",
        default=["float32"],
        help="one or more; each is timed with its own clone",
    )
    parser.add_argument(
        "--size",
        choices=["tiny", "small", "large"],
        default="large",
        help="input shapes: see SHAPES in normhelpers/bench/cases.py (default large)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds (median reported)")
    parser.add_argument("--threads", type=int, help="torch's thread count (default: torch's)")
    parser.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip the torch.compile rows (machines without a compiler)",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rows = []
    for dtype in args.dtype:
        report = run(args.device, dtype, args.size, args.repeats, not args.no_compile)
        print(format_table(report), end="\n\n")
        rows += report.rows
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return 0
