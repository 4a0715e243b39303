"""The command line: ``python -m normhelpers.bench --help``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from normhelpers.bench.cases import BACKWARD, IMPLS, OPS
from normhelpers.bench.report import format_table, write_csv
from normhelpers.bench.runner import check_targets, run
from normhelpers.bench.sweep import sweep, write_sweep_csv

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
        description="Time torch's and normhelpers' norms (training forward and backward) "
        "against out.copy_(x) on one device; print ratios to copy_.",
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
    all_ops = [*OPS, *BACKWARD]
    parser.add_argument(
        "--ops",
        nargs="+",
        choices=all_ops,
        default=all_ops,
        help="the norms (forward or backward) to time (default: all)",
    )
    parser.add_argument(
        "--impls",
        nargs="+",
        choices=list(IMPLS),
        default=list(IMPLS),
        help="the implementations to time (default: all; compile: affine compiled)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds (median reported)")
    parser.add_argument("--threads", type=int, help="torch's thread count (default: torch's)")
    parser.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    parser.add_argument(
        "--fresh-memory",
        action="store_true",
        help="keep glibc's defaults: large outputs get fresh pages (page faults) on every call",
    )
    parser.add_argument(
        "--check-targets",
        action="store_true",
        help="check the compiled from-scratch code against its targets; exit 1 if one is missed",
    )
    parser.add_argument(
        "--sweep",
        metavar="PATH",
        help="also time per element against size (CPU) and write those rows to this CSV file",
    )
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
    rows, missed = [], 0
    for dtype in args.dtype:
        report = run(
            args.device,
            dtype,
            args.size,
            args.repeats,
            not args.no_compile,
            ops=args.ops,
            impls=args.impls,
            reuse_memory=not args.fresh_memory,
        )
        print(format_table(report), end="\n\n")
        rows += report.rows
        if args.check_targets:
            for case, ratio, target, torch_ratio, ok in check_targets(report):
                mark = "✓" if ok else "✗"
                print(
                    f"{mark} {case}: {ratio:.2f} x copy_, target {target:.2f}, "
                    f"torch {torch_ratio:.2f}"
                )
                missed += not ok
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    if args.sweep:
        if args.device != "cpu":
            parser.error("--sweep: CPU only")
        write_sweep_csv(sweep(compile=not args.no_compile), args.sweep)
        print(f"wrote {args.sweep}")
    return 1 if missed else 0
