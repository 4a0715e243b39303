"""Execute notebooks in place, each in a fresh kernel, and store them without volatile metadata.

    python tools/run_notebooks.py book/*.ipynb            # what `make notebooks` runs
    python tools/run_notebooks.py --strip-only book/*.ipynb

For each notebook: run every cell top to bottom with nbclient (a fresh ``python3`` kernel,
working directory = the notebook's folder, a ``raises-exception`` tag allows an error as in
nbconvert), then drop the per-cell ``metadata.execution`` timestamps that nbclient records (they
change on every run and made up much of every notebook diff), join the pieces in which the
kernel sent a cell's prints (their cuts depend on the machine's load) and write the notebook
back.
Outputs and execution counts 1..n are kept.

The time each notebook took (the sum of its cells' busy-to-idle times) goes into one small
file instead, ``book/_timings.json`` by default ("the file that the executing run writes"); the
Environment page's table reads it. Entries of other notebooks in that file are kept, entries
of notebooks that no longer exist beside it are dropped, and the total is recomputed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat

DEFAULT_TIMINGS = Path(__file__).resolve().parents[1] / "book" / "_timings.json"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell: nbformat.NotebookNode) -> float:
    """Seconds from the kernel going busy to idle for one executed cell (0 when unrecorded)."""
    ex = cell.get("metadata", {}).get("execution", {})
    if "iopub.status.busy" in ex and "iopub.status.idle" in ex:
        return (_parse(ex["iopub.status.idle"]) - _parse(ex["iopub.status.busy"])).total_seconds()
    return 0.0


def strip(nb: nbformat.NotebookNode) -> int:
    """Remove per-cell ``metadata.execution``; return how many cells had it."""
    removed = 0
    for cell in nb.cells:
        if "execution" in cell.get("metadata", {}):
            del cell.metadata["execution"]
            removed += 1
    return removed


def merge_streams(nb: nbformat.NotebookNode) -> int:
    """Join consecutive outputs of one stream (stdout, stderr) of a cell into one output.

    A kernel sends a cell's prints in pieces, and where it cuts them depends on the machine's
    load: without this, a re-run on a busy machine rewrote many outputs into several blocks
    of the same text. Returns how many outputs were merged away.
    """
    merged = 0
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            last = outputs[-1] if outputs else None
            if (
                last is not None
                and out.get("output_type") == "stream" == last.get("output_type")
                and out.get("name") == last.get("name")
            ):
                last["text"] = "".join(last["text"]) + "".join(out["text"])
                merged += 1
            else:
                outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return merged


def execute(path: Path, timeout: int, kernel: str) -> tuple[nbformat.NotebookNode, float]:
    """Execute `path` in a fresh kernel; return the executed notebook and its cell seconds."""
    from nbclient import NotebookClient  # only needed here: --strip-only works without it

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    seconds = sum(cell_seconds(c) for c in nb.cells if c.cell_type == "code")
    return nb, seconds


def update_timings(timings_path: Path, results: dict[str, tuple[int, float]]) -> dict:
    """Merge {notebook name: (code cells, seconds)} into the timings file and write it."""
    try:
        data = json.loads(timings_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    notebooks = {
        name: entry
        for name, entry in data.get("notebooks", {}).items()
        if (timings_path.parent / name).exists()
    }
    for name, (cells, seconds) in results.items():
        notebooks[name] = {"code_cells": cells, "seconds": round(seconds, 1)}
    notebooks = dict(sorted(notebooks.items()))
    out = {
        "about": "cell time of each notebook in its latest `make notebooks` run "
        "(tools/run_notebooks.py); read by the Environment page",
        "notebooks": notebooks,
        "total_seconds": round(sum(e["seconds"] for e in notebooks.values()), 1),
    }
    timings_path.parent.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--timings",
        type=Path,
        default=DEFAULT_TIMINGS,
        help="JSON file for the per-notebook times (default: book/_timings.json)",
    )
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument(
        "--strip-only", action="store_true", help="do not execute: only remove metadata.execution"
    )
    args = parser.parse_args(argv)

    results: dict[str, tuple[int, float]] = {}
    for path in args.notebooks:
        if args.strip_only:
            nb = nbformat.read(path, as_version=4)
            print(f"stripping {path}: {strip(nb)} cells had execution metadata", flush=True)
            merge_streams(nb)
            nbformat.write(nb, path)
            continue
        print(f"executing {path}", end=" ", flush=True)
        start = time.perf_counter()
        try:
            nb, seconds = execute(path, args.timeout, args.kernel)
        except Exception as exc:  # the cell error, as nbclient reports it
            print(f"\nFAILED: {path}\n{exc}", file=sys.stderr)
            return 1
        strip(nb)
        merge_streams(nb)
        nbformat.write(nb, path)
        cells = sum(1 for c in nb.cells if c.cell_type == "code")
        results[path.name] = (cells, seconds)
        print(
            f"({cells} code cells, {seconds:.1f} s of cell time, "
            f"{time.perf_counter() - start:.1f} s with kernel start)",
            flush=True,
        )
    if results:
        total = update_timings(args.timings, results)["total_seconds"]
        print(f"wrote {args.timings} (all notebooks listed there: {total:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
