"""Time the norms against a plain copy: how close does each one come to its memory-traffic limit?

A normalization layer does a few arithmetic operations per element but must move every element
through memory at least twice (read x, write y): its speed is set by memory traffic, not by
arithmetic. The natural yardstick is a copy, ``x.clone()``, which reads and writes the tensor
once. :func:`run` times, in one run and on one device:

- ``clone``, the yardstick, once for each input shape, and ``copy_``, the same copy into an
  existing tensor: the difference is the cost of a fresh output (on a CPU, the operating
  system's page faults), which every norm pays as well;
- ``torch``: torch's own kernels (``torch.nn.functional``, training mode);
- ``scratch``: the from-scratch :mod:`normhelpers.functional` versions, run eagerly (one
  kernel, hence one pass over memory, per elementary operation);
- ``scratch+compile``: the same functions compiled with ``torch.compile`` (Inductor fuses the
  elementary operations into a few kernels);
- ``onepass`` and ``onepass+compile``: :func:`batch_norm_one_pass` and
  :func:`layer_norm_one_pass`, BatchNorm and LayerNorm written for a fusing compiler (both
  statistics from one pass over x, with a shift against cancellation);
- ``affine``: ``torch.addcmul(b, x, a)``, i.e. y = x * a + b with one a and b per channel (CV
  layout) or per feature (NLP layout), in one eager kernel: what a BatchNorm in evaluation mode
  computes, a simple kernel that reads x once, computes and writes y. It is a reference (not a
  strict floor) for how close to clone a kernel at the 1.0 limit comes on the machine.

Every timed output is first checked against a float64 reference (torch's function for the norms,
the same op in float64 for clone, copy_ and affine). Each row reports the median time, the ratio
to clone's time on the same tensor, and GB/s counted as if the op moved one read and one write of
the tensor, so that every row's GB/s is comparable with clone's.

Command line (``python -m normhelpers.bench --help``)::

    python -m normhelpers.bench --device cpu --dtype float32 --size large --csv bench.csv
    python -m normhelpers.bench --device cuda --dtype float32 bfloat16 --csv book/data/bench_gpu.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime
import functools
import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

import normhelpers.functional as NF
from normhelpers.axes import stat_shape
from normhelpers.compare import tolerance

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "SHAPES", "OPS", "IMPLS", "LIMITS", "Row", "Report",
    "batch_norm_one_pass", "layer_norm_one_pass", "affine",
    "elements_per_statistic", "count_traffic", "make_inputs",
    "implementation", "CSV_COLUMNS", "IMPL_COLORS",
    "run", "format_table", "write_csv", "read_csv", "plot_ratios", "main",
]

EPS = 1e-5
GROUPS = 32  # GroupNorm's groups, as in Wu and He (2018)

# (device type, size) -> input shapes: "cv" (N, C, H, W) for BN/IN/GN, "nlp" (N, L, D) for LN/RMS
SHAPES: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {
    ("cpu", "tiny"): {"cv": (4, 32, 4, 4), "nlp": (2, 8, 32)},          # for the unit tests
    # small: 40 MiB in float32, above L3 caches and above glibc's largest mmap threshold (32 MiB),
    # so that, as for large, every output is fresh memory from the operating system
    ("cpu", "small"): {"cv": (40, 256, 32, 32), "nlp": (10, 1024, 1024)},
    ("cpu", "large"): {"cv": (64, 256, 32, 32), "nlp": (16, 1024, 1024)},  # 64 MiB
    ("cuda", "tiny"): {"cv": (4, 32, 4, 4), "nlp": (2, 8, 32)},
    ("cuda", "small"): {"cv": (32, 256, 64, 64), "nlp": (4, 2048, 4096)},    # 128 MiB
    ("cuda", "large"): {"cv": (128, 256, 64, 64), "nlp": (16, 2048, 4096)},  # 512 MiB
}

# op -> (layout of its input, kind of norm in normhelpers.axes)
OPS: dict[str, tuple[str, str]] = {
    "batch_norm": ("cv", "batch"),
    "instance_norm": ("cv", "instance"),
    "group_norm": ("cv", "group"),
    "layer_norm": ("nlp", "layer"),
    "rms_norm": ("nlp", "rms"),
}
IMPLS: tuple[str, ...] = ("torch", "scratch", "scratch+compile", "onepass", "onepass+compile")

# Least memory traffic of a training-mode forward, as a multiple of a copy's (one read + one
# write): 1.0 when x is read once, 1.5 when the statistics need a full read of their own.
LIMITS: dict[str, float] = {
    "clone": 1.0, "affine": 1.0, "layer_norm": 1.0, "rms_norm": 1.0,
    "batch_norm": 1.5, "instance_norm": 1.5, "group_norm": 1.5,
}

# Half-precision kernels may compute y = x * a + b in half precision: its rounding error is
# relative to |x * a| (up to ~5 here), not to |y|. compare()'s default atol (1e-5) is for float32.
_ATOL: dict[torch.dtype, float] = {torch.bfloat16: 0.05}

CSV_COLUMNS = ("device", "torch", "date", "dtype", "shape", "op", "impl", "median_ms",
               "ratio_to_clone", "gb_per_s", "max_abs_diff")


def batch_norm_one_pass(x: Tensor, weight: Tensor, bias: Tensor, eps: float = EPS) -> Tensor:
    r"""Training-mode BatchNorm written for a fusing compiler. x: (N, C, *); weight, bias: (C,).

    Both statistics come from ONE pass over x: the sums of $d$ and $d^2$, where $d = x - s$ and
    the shift $s$ is the channel's mean over the first sample only (it costs a read of 1/N of x).
    Because $s$ is close to the channel's mean, $\bar d$ is small and
    $\mathrm{var} = \overline{d^2} - \bar d^{\,2}$ does not cancel catastrophically.
    The output is one multiply-add per element, $y = d\,a + b$, with
    $a = \gamma / \sqrt{\mathrm{var} + \epsilon}$ and $b = \beta - \bar d\,a$ of shape (C,).
    """
    C = x.shape[1]
    shape = [1, C] + [1] * (x.dim() - 2)  # (1, C, 1, ..., 1)
    dims = [0] + list(range(2, x.dim()))  # every dim except C
    n = x.numel() // C  # values per channel
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    shift = xf[:1].mean(dims, keepdim=True).detach()  # first sample: (1, C, 1, ..., 1)
    d = xf - shift
    mean_d = d.sum(dims, keepdim=True) / n
    var = (d * d).sum(dims, keepdim=True) / n - mean_d * mean_d
    a = weight.reshape(shape) * torch.rsqrt(var + eps)
    b = bias.reshape(shape) - mean_d * a
    return (d * a + b).to(x.dtype)


def layer_norm_one_pass(x: Tensor, weight: Tensor, bias: Tensor, eps: float = EPS) -> Tensor:
    r"""LayerNorm over the last dim, written for a fusing compiler. x: (*, D); weight, bias: (D,).

    Both statistics of a row come from ONE pass over it: the sums of $d$ and $d^2$, where
    $d = x - s$ and the shift $s$ is the row's first element; then
    $y = (d - \bar d)\,r\,\gamma + \beta$ with $r = 1 / \sqrt{\overline{d^2} - \bar d^{\,2} +
    \epsilon}$. A compiled kernel walks each cached row twice instead of three times.
    The shift is the weak spot: when the first element is an outlier, every $d$ is large and the
    sums and $d - \bar d$ lose digits to rounding. With D = 1024 and a first feature 10 times the
    spread of the others, float32 outputs are off by more than 1e-4, where the two-pass formula of
    :func:`normhelpers.functional.layer_norm` stays at round-off (see chapter 16 and the tests).
    """
    D = x.shape[-1]
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    d = xf - xf[..., :1].detach()  # shift: the first element of each row
    mean_d = d.sum(-1, keepdim=True) / D
    var = (d * d).sum(-1, keepdim=True) / D - mean_d * mean_d
    return ((d - mean_d) * torch.rsqrt(var + eps) * weight + bias).to(x.dtype)


def affine(x: Tensor, weight: Tensor, bias: Tensor, dim: int = 1) -> Tensor:
    """y = x * weight + bias in ONE eager kernel (``torch.addcmul``); weight and bias hold one
    value per index of ``dim`` (1: per channel of (N, C, *); -1: per feature of (N, L, D)).
    The work of a BatchNorm in evaluation mode: one read of x, one write of y."""
    shape = [1] * x.dim()
    shape[dim] = x.shape[dim]
    return torch.addcmul(bias.reshape(shape), x, weight.reshape(shape))


def elements_per_statistic(op: str, shape: Sequence[int], groups: int = GROUPS) -> int:
    """How many elements share one mean and variance of ``op`` for an input of ``shape``."""
    layout, kind = OPS[op]
    return math.prod(shape) // math.prod(stat_shape(kind, layout, tuple(shape), groups))


class _TrafficLog(TorchDispatchMode):
    """Record every aten operation with the bytes it reads (tensor inputs) and writes (outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, int, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # torch's signature
        out = func(*args, **(kwargs or {}))
        if not func.is_view:  # a view moves no data
            flat_in = torch.utils._pytree.tree_leaves((args, kwargs))
            flat_out = torch.utils._pytree.tree_leaves(out)
            inputs = {(t.data_ptr(), t.nbytes) for t in flat_in if isinstance(t, Tensor)}
            read = sum(nbytes for _, nbytes in inputs)  # a tensor used twice is read once
            written = sum(t.nbytes for t in flat_out if isinstance(t, Tensor))
            self.ops.append((func.overloadpacket.__name__, read, written))
        return out


def count_traffic(fn: Callable[[], Tensor], nbytes: int) -> list[tuple[str, float, float]]:
    """Run ``fn()`` eagerly and list (aten op, reads, writes) for each operation it launched.

    Reads and writes are in units of ``nbytes`` (the size of the input), counting every distinct
    tensor argument as read in full and every output as written: what an eager kernel does when the
    data does not fit in a cache. Operations that move less than 1% of ``nbytes`` are left out.
    """
    with _TrafficLog() as log:
        fn()
    return [(name, r / nbytes, w / nbytes) for name, r, w in log.ops
            if r + w >= 0.01 * nbytes]


# --- the cases: one function per op, taking the module (torch.nn.functional or normhelpers') ---

def _batch_norm(nf: ModuleType, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return nf.batch_norm(x, None, None, w, b, True, 0.1, EPS)


def _instance_norm(nf: ModuleType, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return nf.instance_norm(x, None, None, w, b, True, 0.1, EPS)


def _group_norm(nf: ModuleType, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return nf.group_norm(x, GROUPS, w, b, EPS)


def _layer_norm(nf: ModuleType, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return nf.layer_norm(x, x.shape[-1:], w, b, EPS)


def _rms_norm(nf: ModuleType, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return nf.rms_norm(x, x.shape[-1:], w, EPS)


_CALLS = {"batch_norm": _batch_norm, "instance_norm": _instance_norm,
          "group_norm": _group_norm, "layer_norm": _layer_norm, "rms_norm": _rms_norm}


def _bn_one_pass(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return batch_norm_one_pass(x, w, b, EPS)


def _ln_one_pass(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return layer_norm_one_pass(x, w, b, EPS)


_ONE_PASS = {"batch_norm": _bn_one_pass, "layer_norm": _ln_one_pass}


def implementation(op: str, impl: str) -> Callable[[Tensor, Tensor, Tensor], Tensor] | None:
    """The function (x, weight, bias) -> y timed as (op, impl), not yet compiled for the
    "+compile" impls; None for a case that does not exist (onepass of IN, GN or RMSNorm)."""
    if impl == "torch":
        return functools.partial(_CALLS[op], F)
    if impl.startswith("scratch"):
        return functools.partial(_CALLS[op], NF)
    if impl.startswith("onepass"):
        return _ONE_PASS.get(op)
    return None


@dataclass
class Row:
    """One timed case: the columns of the CSV file."""

    device: str
    torch: str
    date: str
    dtype: str
    shape: str
    op: str
    impl: str
    median_ms: float
    ratio_to_clone: float
    gb_per_s: float
    max_abs_diff: float


@dataclass
class Report:
    """What :func:`run` measured, and why compiled rows are missing when they are."""

    rows: list[Row] = field(default_factory=list)
    compile_note: str | None = None  # None when torch.compile worked or was not asked for


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({torch.get_num_threads()} threads)"


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _time_per_call(fn: Callable[[], Tensor], number: int, sync: Callable[[], None]) -> float:
    """Seconds per call of ``fn``, averaged over ``number`` back-to-back calls."""
    sync()
    start = time.perf_counter()
    for _ in range(number):
        fn()
    sync()
    return (time.perf_counter() - start) / number


def make_inputs(op: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, Tensor]:
    """Seeded x of ``shape`` (mean 1, std 2) and the op's weight and bias: (C,) or (D,)."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2 + 1).to(device, dtype)
    n = shape[1] if OPS[op][0] == "cv" else shape[-1]
    w = (1 + 0.1 * torch.randn(n, generator=gen)).to(device, dtype)
    b = (0.1 * torch.randn(n, generator=gen)).to(device, dtype)
    return x, w, b


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def _compile(fn: Callable, report: Report) -> Callable | None:
    """torch.compile ``fn``, or None (and a note in ``report``) if compilation is unavailable."""
    if report.compile_note is not None:
        return None
    try:
        return torch.compile(fn, dynamic=False)
    except Exception as err:  # any failure means: no working compiler here
        report.compile_note = f"compile unavailable: {_first_line(err)}"
        return None


def _check(out: Tensor, ref: Tensor, dtype: torch.dtype, label: str) -> float:
    """Max |out - ref|; raise RuntimeError unless |out - ref| <= atol + rtol |ref| everywhere.

    ref: the float64 result rounded to float32. Tolerances: those of :func:`normhelpers.compare`
    for ``dtype`` (this check is cheaper on big tensors: float32, no copies to float64).
    """
    rtol, atol = tolerance(dtype)
    atol = _ATOL.get(dtype, atol)
    diff = (out.float() - ref).abs()
    if not bool((diff <= atol + rtol * ref.abs()).all()):
        raise RuntimeError(f"{label} disagrees with the float64 reference: "
                           f"max |diff| = {diff.max().item():.3g}")
    return diff.max().item()


@dataclass
class _Case:
    op: str
    impl: str
    shape: tuple[int, ...]
    call: Callable[[], Tensor]
    max_abs_diff: float


def _checked_cases(op: str, impls: Sequence[str], shape: tuple[int, ...], dt: torch.dtype,
                   dev: torch.device, report: Report) -> list[_Case]:
    """The cases of ``op``, each checked against torch's float64 result (compiled on the way)."""
    x, w, b = make_inputs(op, shape, dt, dev)
    ref = implementation(op, "torch")(x.double(), w.double(), b.double()).float()
    cases = []
    for impl in impls:
        fn = implementation(op, impl)
        if fn is not None and impl.endswith("+compile"):
            fn = _compile(fn, report)
        if fn is None:
            continue
        try:
            out = fn(x, w, b)  # the first call of a compiled function compiles it
        except Exception as err:  # a compiler error surfaces at the first call
            if not impl.endswith("+compile"):
                raise
            report.compile_note = f"compile unavailable: {_first_line(err)}"
            continue
        diff = _check(out, ref, dt, f"{op} ({impl})")
        cases.append(_Case(op, impl, shape, functools.partial(fn, x, w, b), diff))
    return cases


def _affine_case(op: str, shape: tuple[int, ...], dt: torch.dtype, dev: torch.device) -> _Case:
    """The ``affine`` case on the inputs of ``op``, checked against x * w + b in float64."""
    x, w, b = make_inputs(op, shape, dt, dev)
    dim = 1 if OPS[op][0] == "cv" else -1
    ref = affine(x.double(), w.double(), b.double(), dim).float()
    diff = _check(affine(x, w, b, dim), ref, dt, "affine")
    return _Case("affine", "torch", shape, functools.partial(affine, x, w, b, dim), diff)


def _medians(cases: Sequence[_Case], repeats: int, min_call_s: float,
             sync: Callable[[], None]) -> list[float]:
    """Median seconds per call of each case, over ``repeats`` rounds that visit every case."""
    numbers = []
    for case in cases:  # a second warm-up call (the check was the first): calls per round
        t = _time_per_call(case.call, 1, sync)
        numbers.append(max(1, math.ceil(min_call_s / max(t, 1e-9))))
    times: list[list[float]] = [[] for _ in cases]
    for _ in range(repeats):
        for i, case in enumerate(cases):
            times[i].append(_time_per_call(case.call, numbers[i], sync))
    return [statistics.median(t) for t in times]


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
    """Time clone and every (op, impl) case; check each output against torch's float64 result.

    repeats: timed rounds; each round times every case once, in turn, so that a change in the
    machine's load affects all cases alike; the median over rounds is reported. Within a round
    a case is called ``ceil(min_call_s / t)`` times back to back when one call takes t < min_call_s.
    Raises RuntimeError if an output disagrees with the reference. With ``compile``, resets
    torch.compile's in-memory state first (``torch._dynamo.reset()``).
    """
    dev, dt = torch.device(device), getattr(torch, dtype)
    report = Report(compile_note=None if compile else "compile not asked for (--no-compile)")
    if compile:
        torch._dynamo.reset()  # start from a clean slate (the on-disk kernel cache is kept)
    shapes = SHAPES[(dev.type, size)]
    cases = []
    for layout in [lay for lay in shapes if any(OPS[op][0] == lay for op in ops)]:
        first_op = next(op for op in OPS if OPS[op][0] == layout)
        x = make_inputs(first_op, shapes[layout], dt, dev)[0]
        diff = _check(x.clone(), x.float(), dt, "clone")  # the first call, as for the norms
        cases.append(_Case("clone", "torch", shapes[layout], x.clone, diff))
        out = torch.empty_like(x)  # copy_ writes into this existing tensor: no allocation
        cases.append(_Case("copy_", "torch", shapes[layout], functools.partial(out.copy_, x), diff))
        cases.append(_affine_case(first_op, shapes[layout], dt, dev))
        for op in [op for op in ops if OPS[op][0] == layout]:
            cases += _checked_cases(op, impls, shapes[layout], dt, dev, report)
    medians = _medians(cases, repeats, min_call_s, _sync(dev))
    clone_s = {c.shape: m for c, m in zip(cases, medians, strict=True) if c.op == "clone"}
    meta = dict(device=_device_name(dev), torch=torch.__version__,
                date=datetime.date.today().isoformat(), dtype=dtype)
    for c, m in zip(cases, medians, strict=True):
        nbytes = math.prod(c.shape) * dt.itemsize
        report.rows.append(Row(
            **meta, shape="x".join(map(str, c.shape)), op=c.op, impl=c.impl,
            median_ms=m * 1e3, ratio_to_clone=m / clone_s[c.shape],
            gb_per_s=2 * nbytes / m / 1e9, max_abs_diff=c.max_abs_diff))
    return report


def format_table(report: Report) -> str:
    """The report as a text table: one line per case, ratio to clone and GB/s."""
    first = report.rows[0]
    lines = [f"{first.device} | torch {first.torch} | {first.dtype} | {first.date}",
             f"{'op':<14} {'impl':<16} {'shape':<15} {'median ms':>9} {'x clone':>8} "
             f"{'limit':>6} {'GB/s':>7}"]
    for r in report.rows:
        limit = f"{LIMITS[r.op]:.1f}" if r.op in LIMITS else "-"
        lines.append(f"{r.op:<14} {r.impl:<16} {r.shape:<15} {r.median_ms:>9.3f} "
                     f"{r.ratio_to_clone:>8.2f} {limit:>6} {r.gb_per_s:>7.1f}")
    lines.append("every output checked against a float64 reference: all agree")
    if report.compile_note:
        lines.append(report.compile_note)
    return "\n".join(lines)


def write_csv(rows: Sequence[Row], path: str | Path) -> None:
    """Write the rows with the columns of :data:`CSV_COLUMNS` (one header line)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in asdict(row).items()})


def read_csv(path: str | Path) -> list[Row]:
    """Rows written by :func:`write_csv`."""
    floats = {f.name for f in fields(Row) if f.type in ("float", float)}
    with open(path, newline="", encoding="utf-8") as f:
        return [Row(**{k: float(v) if k in floats else v for k, v in rec.items()})
                for rec in csv.DictReader(f)]


IMPL_COLORS: dict[str, str] = {  # Okabe and Ito's colour-blind-safe palette
    "torch": "#0072B2", "scratch": "#E69F00", "scratch+compile": "#D55E00",
    "onepass": "#56B4E9", "onepass+compile": "#009E73",
}


def plot_ratios(rows: Sequence[Row], ax: Axes | None = None, title: str = "") -> Axes:
    """Bar chart of time / clone time: one group of bars per op (``affine`` first, when the
    rows have it: the floor of a computing kernel), one bar per impl.

    Dashed line at 1.0 (x read once: the limit of LN and RMSNorm), dotted line at 1.5 (a second
    read for the statistics: the limit of BN, IN and GN). Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt  # only the plot needs matplotlib

    # groups of bars: (label, op, shape); affine has one group per input shape (CV, NLP)
    groups = [(f"affine\n{r.shape}", "affine", r.shape) for r in rows if r.op == "affine"]
    groups += [(op.replace("_", " "), op, None) for op in OPS if any(r.op == op for r in rows)]
    impls = [i for i in IMPLS if any(r.impl == i and r.op in {g[1] for g in groups} for r in rows)]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    width = 0.8 / len(impls)
    labelled: set[str] = set()
    for j, (_, op, shape) in enumerate(groups):  # the bars of a group are centred on its tick
        bars = [(impl, r.ratio_to_clone) for impl in impls for r in rows
                if r.op == op and r.impl == impl and shape in (None, r.shape)]
        for k, (impl, ratio) in enumerate(bars):
            ax.bar(j + (k - (len(bars) - 1) / 2) * width, ratio, width, color=IMPL_COLORS[impl],
                   label=None if impl in labelled else impl)
            labelled.add(impl)
    ax.axhline(1.0, color="black", lw=1, ls="--", label="limit 1.0: x read once")
    ax.axhline(1.5, color="black", lw=1, ls=":", label="limit 1.5: x read twice")
    ax.set_xticks(range(len(groups)), [label for label, _, _ in groups], fontsize=8)
    ax.set_ylabel("time / clone time")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run, print the table, optionally write the CSV. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m normhelpers.bench",
        description="Time torch's and normhelpers' norms (training-mode forward) against "
                    "x.clone() on one device; print ratios to clone and GB/s.")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], nargs="+",
                        default=["float32"], help="one or more; each is timed with its own clone")
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="large",
                        help="input shapes: see SHAPES in normhelpers/bench.py (default large)")
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds (median reported)")
    parser.add_argument("--csv", metavar="PATH", help="also write the rows to this CSV file")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the torch.compile rows (machines without a compiler)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    rows = []
    for dtype in args.dtype:
        report = run(args.device, dtype, args.size, args.repeats, not args.no_compile)
        print(format_table(report), end="\n\n")
        rows += report.rows
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
