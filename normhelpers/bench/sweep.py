"""Time per element against tensor size, from in-cache to main memory: bytes or loops?

A kernel limited by memory traffic takes about the same time per element as a copy at every
size that does not fit in a cache, and less once the tensor fits. A kernel limited by its own
loops (arithmetic, scalar code, a poor loop order) takes longer per element than a copy even
when the tensor sits in the first- or second-level cache, where memory is no excuse.
:func:`sweep` times a set of kernels on tensors of growing size (the CV layout
``(n, 64, 32, 32)`` and the NLP layout ``(n, 64, 1024)``, 256 KiB per unit of ``n`` in float32),
with memory reused (:func:`normhelpers.bench.allocator.reuse_freed_memory`), and returns one
:class:`SweepRow` per kernel and size.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

import normhelpers.functional as NF
from normhelpers.bench import allocator, kernels
from normhelpers.bench.cases import EPS, GROUPS, make_inputs
from normhelpers.bench.report import device_name, read_rows, write_rows
from normhelpers.bench.timing import time_interleaved

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "SWEEP_KERNELS",
    "SWEEP_SIZES_KIB",
    "SweepRow",
    "sweep",
    "write_sweep_csv",
    "read_sweep_csv",
    "plot_sweep",
]

# sizes of x in KiB: from a first-level-cache-sized tensor to well above any last-level cache
SWEEP_SIZES_KIB: tuple[int, ...] = (256, 1024, 4096, 16384, 65536)


def _cv(x: Tensor, w: Tensor, b: Tensor) -> dict[str, Callable[[], object]]:
    out = torch.empty_like(x)
    xl = x.contiguous(memory_format=torch.channels_last)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    return {
        "copy_": lambda: out.copy_(x),
        "sum": x.sum,
        "batch_norm train": lambda: F.batch_norm(x, None, None, w, b, True, 0.1, EPS),
        "batch_norm train, channels_last": lambda: F.batch_norm(
            xl, None, None, w, b, True, 0.1, EPS
        ),
        "batch_norm eval": lambda: F.batch_norm(x, mean, var, w, b, False, 0.1, EPS),
        "group_norm": lambda: F.group_norm(x, GROUPS, w, b, EPS),
        "instance_norm": lambda: F.instance_norm(x, None, None, w, b, True, 0.1, EPS),
    }


def _nlp(x: Tensor, w: Tensor, b: Tensor) -> dict[str, Callable[[], object]]:
    d = x.shape[-1]
    return {
        "layer_norm": lambda: F.layer_norm(x, (d,), w, b, EPS),
        "rms_norm": lambda: F.rms_norm(x, (d,), w, EPS),
    }


def _layer_norm_last(x: Tensor, w: Tensor, b: Tensor, eps: float) -> Tensor:
    return NF.layer_norm(x, (x.shape[-1],), w, b, eps)


def _compiled(
    x: Tensor, w: Tensor, b: Tensor, xn: Tensor, wn: Tensor, bn: Tensor
) -> dict[str, Callable[[], object]]:
    bn_rows = torch.compile(kernels.batch_norm_rows, dynamic=False)
    ln = torch.compile(_layer_norm_last, dynamic=False)
    return {
        "batch_norm rows+compile": lambda: bn_rows(x, w, b, EPS),
        "layer_norm scratch+compile": lambda: ln(xn, wn, bn, EPS),
    }


# every kernel the sweep can time (the eager ones are torch's own)
SWEEP_KERNELS: tuple[str, ...] = (
    "copy_",
    "sum",
    "batch_norm train",
    "batch_norm train, channels_last",
    "batch_norm eval",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "rms_norm",
    "batch_norm rows+compile",
    "layer_norm scratch+compile",
)


@dataclass
class SweepRow:
    """One kernel at one size: time per element (median over rounds, and its IQR)."""

    device: str
    threads: int
    torch: str
    date: str
    kernel: str
    kib: int  # size of x in KiB (float32)
    ns_per_element: float
    iqr_ns: float


def sweep(
    names: Sequence[str] = SWEEP_KERNELS,
    sizes_kib: Sequence[int] = SWEEP_SIZES_KIB,
    repeats: int = 5,
    min_block_s: float = 0.01,
    compile: bool = True,
) -> list[SweepRow]:
    """Time the kernels ``names`` at each size, in interleaved rounds; memory is reused.

    Example:

    >>> rows = sweep(["copy_", "layer_norm"], sizes_kib=[256], repeats=1, min_block_s=1e-3,
    ...              compile=False)
    >>> [(r.kernel, r.kib) for r in rows]
    [('copy_', 256), ('layer_norm', 256)]
    """
    allocator.reuse_freed_memory()
    dev = torch.device("cpu")
    meta = (device_name(dev), torch.get_num_threads(), torch.__version__)
    date = datetime.date.today().isoformat()
    rows = []
    for kib in sizes_kib:
        n = max(1, kib // 256)
        x, w, b = make_inputs("batch_norm", (n, 64, 32, 32))
        xn, wn, bn = make_inputs("layer_norm", (n, 64, 1024))
        calls = {**_cv(x, w, b), **_nlp(xn, wn, bn)}
        if compile and any("compile" in name for name in names):
            calls.update(_compiled(x, w, b, xn, wn, bn))
        chosen = [name for name in names if name in calls]
        for name in chosen:
            calls[name]()  # compile and warm up
        measured = time_interleaved(
            [calls[name] for name in chosen], repeats, min_block_s, labels=chosen
        )
        for name, m in zip(chosen, measured, strict=True):
            per = 1e9 / x.numel()
            rows.append(SweepRow(*meta, date, name, kib, m.median * per, m.iqr * per))
    return rows


def write_sweep_csv(rows: Sequence[SweepRow], path: str | Path) -> None:
    """Write the rows, one header line (the fields of :class:`SweepRow`)."""
    write_rows(rows, path, SweepRow, digits=5)


def read_sweep_csv(path: str | Path) -> list[SweepRow]:
    """Rows written by :func:`write_sweep_csv`.

    Example:

    >>> import tempfile
    >>> row = SweepRow("cpu", 2, "2.x", "2026-01-01", "copy_", 256, 0.1, 0.01)
    >>> path = Path(tempfile.mkdtemp()) / "sweep.csv"
    >>> write_sweep_csv([row], path)
    >>> read_sweep_csv(path) == [row]
    True
    """
    return read_rows(SweepRow, path)


def plot_sweep(
    rows: Sequence[SweepRow], names: Sequence[str] | None = None, ax: Axes | None = None
) -> Axes:
    """Time per element against size, one line per kernel, log-log; error bars: the IQR.

    ``copy_`` is the thick black line, ``sum`` grey and dotted, compiled kernels dashed.

    Example:

    >>> rows = [SweepRow("cpu", 2, "2.x", "d", k, s, t, 0.01)
    ...         for k, t in [("copy_", 0.1), ("layer_norm", 0.2)] for s in (256, 1024)]
    >>> ax = plot_sweep(rows)
    >>> len(ax.get_lines()) >= 2
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    names = list(names) if names is not None else list(dict.fromkeys(r.kernel for r in rows))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    # matplotlib's tab10 without its grey, which marks ``sum``
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    palette += ["#bcbd22", "#17becf"]
    # one colour per kernel, the same in every panel: its place in SWEEP_KERNELS
    others = [n for n in SWEEP_KERNELS if n not in ("copy_", "sum")]
    others += [n for n in names if n not in others and n not in ("copy_", "sum")]
    for name in names:
        mine = sorted((r for r in rows if r.kernel == name), key=lambda r: r.kib)
        if name in ("copy_", "sum"):  # the yardstick and the plain read: black, grey
            color, ls, lw = ("black", "-", 2.5) if name == "copy_" else ("grey", ":", 1.5)
        else:  # compiled from-scratch code dashed, torch's kernels solid
            color = palette[others.index(name) % len(palette)]
            ls, lw = ("--" if "compile" in name else "-"), 1.5
        ax.errorbar(
            [r.kib / 1024 for r in mine],
            [r.ns_per_element for r in mine],
            yerr=[r.iqr_ns / 2 for r in mine],
            marker="o",
            ms=3,
            capsize=2,
            label=name,
            color=color,
            ls=ls,
            lw=lw,
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("size of x (MiB, float32)")
    ax.set_ylabel("ns per element")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
