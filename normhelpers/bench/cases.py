"""The cases the benchmark times: shapes, ops, implementations, and the check of each output.

A case is one function call (op, impl) on fixed inputs. Before it is timed, its output is
compared with a float64 reference: torch's function for the norms (autograd in float64 for the
backward passes), the same op in float64 for ``clone``, ``copy_`` and ``affine``. A norm whose
output misses the tolerance is timed all the same, its case marked (``output_ok``), so that one
miss cannot hide the rest of a table (the compiled one-pass LayerNorm misses the float32
tolerance where Inductor writes scalar code);
a wrong ``clone``, ``copy_`` or ``affine`` means a broken setup and stops the run
(RuntimeError).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

import normhelpers.functional as NF
from normhelpers.axes import stat_shape
from normhelpers.bench import kernels
from normhelpers.bench.kernels import EPS
from normhelpers.compare import tolerance

__all__ = [
    "GROUPS",
    "SHAPES",
    "OPS",
    "IMPLS",
    "LIMITS",
    "Case",
    "elements_per_statistic",
    "make_inputs",
    "implementation",
    "check",
    "within_tolerance",
    "baseline_cases",
    "norm_cases",
    "backward_cases",
    "BACKWARD",
    "TARGETS",
    "two_read_limit",
]

GROUPS = 32  # GroupNorm's groups, as in Wu and He (2018)

# (device type, size) -> input shapes: "cv" (N, C, H, W) for BN/IN/GN, "nlp" (N, L, D) for LN/RMS
SHAPES: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {
    ("cpu", "tiny"): {"cv": (4, 32, 4, 4), "nlp": (2, 8, 32)},  # for the unit tests
    # small: 16 MiB in float32, in and out together above the last-level cache of most CPUs
    ("cpu", "small"): {"cv": (16, 256, 32, 32), "nlp": (4, 512, 2048)},
    ("cpu", "large"): {"cv": (64, 256, 32, 32), "nlp": (8, 1024, 2048)},  # 64 MiB
    ("cuda", "tiny"): {"cv": (4, 32, 4, 4), "nlp": (2, 8, 32)},
    ("cuda", "small"): {"cv": (32, 256, 64, 64), "nlp": (4, 2048, 4096)},  # 128 MiB
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
# the backward passes timed: op -> the forward op whose inputs they take
BACKWARD: dict[str, str] = {
    "batch_norm_backward": "batch_norm",
    "layer_norm_backward": "layer_norm",
}
IMPLS: tuple[str, ...] = (
    "torch",
    "scratch",
    "scratch+compile",
    "onepass",
    "onepass+compile",
    "rows+compile",
    "compile",  # affine compiled: a norm's loads and stores, no statistics (a reference)
)

# How many full reads of x (and, for a backward pass, of the upstream gradient) a kernel needs
# at least, for one write of its output: 1 when the elements that share a statistic are few
# enough to stay on chip between the statistic and its use (a token, one sample's channel or
# group), 2 when they span the whole batch (BatchNorm's channel).
READS: dict[str, int] = {
    "clone": 1,
    "copy_": 1,
    "affine": 1,
    "layer_norm": 1,
    "rms_norm": 1,
    "batch_norm": 2,
    "instance_norm": 1,  # a kernel that computes two passes of the statistics over all sets
    "group_norm": 1,  # first, then normalizes, reads x twice: 1.5, not a limit
    "batch_norm_backward": 4,  # x and the upstream gradient, once for the sums, once for dx
    "layer_norm_backward": 2,  # x and the upstream gradient, once (a row stays in cache)
}
# the limit as a multiple of a copy when a read costs as much as a write: (reads + 1) / 2
LIMITS: dict[str, float] = {op: (reads + 1) / 2 for op, reads in READS.items()}

# targets for the compiled from-scratch code on a CPU (time / copy_ time, memory reused), on the
# "large" shapes; each must also be at or ahead of torch's eager kernel
TARGETS: dict[tuple[str, str], float] = {
    ("batch_norm", "rows+compile"): 1.6,
    ("layer_norm", "scratch+compile"): 1.15,
    ("rms_norm", "scratch+compile"): 1.15,
}


def two_read_limit(read_s: float, copy_s: float, reads: int = 2) -> float:
    """The least time of a kernel that reads a tensor ``reads`` times and writes it once, as a
    multiple of a copy, from the measured time of one read (``x.sum()``) and of the copy
    (``out.copy_(x)``): (copy + (reads - 1) * read) / copy. It adds the extra reads to the
    copy instead of assuming what a write costs.

    On a CPU whose stores first read each cache line (write-allocate), a copy moves about three
    transfers for two useful ones, a read about one: the two-read limit falls from 1.5 towards
    4/3.

    Example:

    >>> two_read_limit(1.0, 2.0)  # a copy as costly as a read and a write of the same cost
    1.5
    >>> round(two_read_limit(1.0, 3.0), 3)  # write-allocate: a copy costs three transfers
    1.333
    """
    return (copy_s + (reads - 1) * read_s) / copy_s


# Half-precision kernels may compute y = x * a + b in half precision: its rounding error is
# relative to |x * a| (up to ~5 here), not to |y|. compare()'s default atol (1e-5) is for float32.
_ATOL: dict[torch.dtype, float] = {torch.bfloat16: 0.05}


@dataclass
class Case:
    """One timed call: ``call()`` computes ``op`` with ``impl`` on an input of ``shape``."""

    op: str
    impl: str
    shape: tuple[int, ...]
    call: Callable[[], object]
    max_abs_diff: float  # against the float64 reference, measured before timing
    output_ok: bool = True  # False: beyond the dtype's tolerance (timed all the same)


def elements_per_statistic(op: str, shape: Sequence[int], groups: int = GROUPS) -> int:
    """How many elements share one mean and variance of ``op`` for an input of ``shape``.

    Example:

    >>> elements_per_statistic("batch_norm", (8, 4, 5, 5))  # N H W
    200
    >>> elements_per_statistic("layer_norm", (2, 10, 16))  # D
    16
    """
    layout, kind = OPS[op]
    return math.prod(shape) // math.prod(stat_shape(kind, layout, tuple(shape), groups))


def make_inputs(
    op: str,
    shape: tuple[int, ...],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor, Tensor]:
    """Seeded x of ``shape`` (mean 1, std 2) and the op's weight and bias: (C,) or (D,).

    Example:

    >>> x, weight, bias = make_inputs("batch_norm", (4, 3, 2, 2))
    >>> x.shape, weight.shape, bias.shape
    (torch.Size([4, 3, 2, 2]), torch.Size([3]), torch.Size([3]))
    """
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2 + 1).to(device, dtype)
    n = shape[1] if OPS[op][0] == "cv" else shape[-1]
    w = (1 + 0.1 * torch.randn(n, generator=gen)).to(device, dtype)
    b = (0.1 * torch.randn(n, generator=gen)).to(device, dtype)
    return x, w, b


# --- one function per op, taking the module (torch.nn.functional or normhelpers') ---


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


_CALLS = {
    "batch_norm": _batch_norm,
    "instance_norm": _instance_norm,
    "group_norm": _group_norm,
    "layer_norm": _layer_norm,
    "rms_norm": _rms_norm,
}


def _bn_one_pass(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return kernels.batch_norm_one_pass(x, w, b, EPS)


def _ln_one_pass(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return kernels.layer_norm_one_pass(x, w, b, EPS)


def _bn_rows(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return kernels.batch_norm_rows(x, w, b, EPS)


_ONE_PASS = {"batch_norm": _bn_one_pass, "layer_norm": _ln_one_pass}
_ROWS = {"batch_norm": _bn_rows}


def implementation(op: str, impl: str) -> Callable[[Tensor, Tensor, Tensor], Tensor] | None:
    """The function (x, weight, bias) -> y timed as (op, impl), not yet compiled for the
    "+compile" impls; None for a case that does not exist (onepass of IN, GN or RMSNorm,
    rows of anything but BatchNorm).

    Example:

    >>> fn = implementation("layer_norm", "torch")
    >>> fn(*make_inputs("layer_norm", (2, 3, 4))).shape
    torch.Size([2, 3, 4])
    >>> implementation("group_norm", "onepass") is None
    True
    """
    if impl == "torch":
        return functools.partial(_CALLS[op], F)
    if impl.startswith("scratch"):
        return functools.partial(_CALLS[op], NF)
    if impl.startswith("onepass"):
        return _ONE_PASS.get(op)
    if impl.startswith("rows"):
        return _ROWS.get(op)
    return None


def within_tolerance(out: Tensor, ref: Tensor, dtype: torch.dtype) -> tuple[float, bool]:
    """(max |out - ref|, whether |out - ref| <= atol + rtol |ref| everywhere).

    ref: the float64 result rounded to float32. Tolerances: those of :func:`normhelpers.compare`
    for ``dtype`` (this check is cheaper on big tensors: float32, no copies to float64).
    """
    rtol, atol = tolerance(dtype)
    atol = _ATOL.get(dtype, atol)
    diff = (out.float() - ref).abs()
    return diff.max().item(), bool((diff <= atol + rtol * ref.abs()).all())


# A sum over many positions (the weight's and the bias's gradient) in float32 or lower
# precision: its error grows with the number of terms, so it is measured against the largest
# entry of the float64 result. 1e-4 for float32 is 1000 units of round-off (2**-23 ~ 1.2e-7).
_REDUCTION_RTOL: dict[torch.dtype, float] = {torch.float64: 1e-10, torch.float32: 1e-4}


def reduction_within_tolerance(out: Tensor, ref: Tensor, dtype: torch.dtype) -> bool:
    """Whether max |out - ref| <= rtol * max |ref| (ref in float64; rtol 1e-4 for float32,
    5e-2 for a 16-bit dtype)."""
    rtol = _REDUCTION_RTOL.get(dtype, 5e-2)
    scale = ref.abs().max().item()
    return (out.double() - ref.to(out.device)).abs().max().item() <= rtol * scale


def check(out: Tensor, ref: Tensor, dtype: torch.dtype, label: str) -> float:
    """Max |out - ref|; raise RuntimeError unless :func:`within_tolerance`."""
    diff, ok = within_tolerance(out, ref, dtype)
    if not ok:
        raise RuntimeError(f"{label} disagrees with the float64 reference: max |diff| = {diff:.3g}")
    return diff


def baseline_cases(
    layout: str,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
    impls: Sequence[str] = (),
    notes: list[str] | None = None,
) -> list[Case]:
    """The reference kernels on the inputs of ``layout``, each checked:

    - ``copy_``, the yardstick: a copy into an existing tensor (memory already mapped);
    - ``clone``: a copy into a new tensor (fresh memory, unless the allocator reuses some);
    - ``sum``: one read of x, no write; ``fill_``: one write of an existing tensor, no read
      (their times give the two-read limit, :func:`two_read_limit`);
    - ``affine``: one multiply-add kernel, y = x a + b, what an evaluation-mode norm computes;
    - ``affine`` compiled with ``torch.compile`` (impl ``"compile"``), when ``impls`` asks for it
      and ``notes`` holds no compiler failure yet: a kernel with a norm's loads and stores and
      no statistics, a reference for the compiled norms (not a strict bound: the noise can put
      a norm under it). A failure to compile adds one line to ``notes`` (when given) and no
      case.

    Every output is checked against float64; a wrong one raises RuntimeError.
    """
    op = next(op for op in OPS if OPS[op][0] == layout)  # any op of the layout: same inputs
    x, w, b = make_inputs(op, shape, dtype, device)
    diff = check(x.clone(), x.float(), dtype, "clone")  # the first call, as for the norms
    out = torch.empty_like(x)  # copy_ and fill_ write into this existing tensor
    check(out.copy_(x), x.float(), dtype, "copy_")
    total = x.double().sum().item()
    rel = 1e-3 if dtype == torch.float32 else 5e-2  # a half-precision sum rounds as it goes
    if abs(x.sum().item() - total) > rel * (x.double().abs().sum().item() + 1):
        raise RuntimeError("sum disagrees with the float64 reference")
    if not bool((out.fill_(1.0) == 1).all()):
        raise RuntimeError("fill_ did not write every element")
    dim = 1 if layout == "cv" else -1
    ref = kernels.affine(x.double(), w.double(), b.double(), dim).float()
    affine_diff = check(kernels.affine(x, w, b, dim), ref, dtype, "affine")
    cases = [
        Case("copy_", "torch", shape, functools.partial(out.copy_, x), diff),
        Case("clone", "torch", shape, x.clone, diff),
        Case("sum", "torch", shape, x.sum, 0.0),
        Case("fill_", "torch", shape, functools.partial(out.fill_, 1.0), 0.0),
        Case(
            "affine", "torch", shape, functools.partial(kernels.affine, x, w, b, dim), affine_diff
        ),
    ]
    if "compile" in impls and not notes:
        compiled = _compile(functools.partial(kernels.affine, dim=dim), (x, w, b), notes)
        if compiled is not None:
            fn, out_compiled = compiled
            compiled_diff = check(out_compiled, ref, dtype, "affine (compiled)")
            call = functools.partial(fn, x, w, b)
            cases.append(Case("affine", "compile", shape, call, compiled_diff))
    return cases


def _saved_stats(op: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """The mean and 1/sqrt(var + eps) that the forward pass saves for the backward one."""
    if op == "batch_norm":
        dims = [0] + list(range(2, x.dim()))
        var, mean = torch.var_mean(x, dims, correction=0)
    else:
        var, mean = torch.var_mean(x, -1, correction=0, keepdim=True)
    return mean, torch.rsqrt(var + EPS)


def _torch_backward(op: str) -> Callable[..., tuple[Tensor, ...]]:
    aten = torch.ops.aten
    if op == "batch_norm":
        return lambda dy, x, mean, rstd, w: aten.native_batch_norm_backward(
            dy, x, w, None, None, mean, rstd, True, EPS, [True, True, True]
        )
    return lambda dy, x, mean, rstd, w: aten.native_layer_norm_backward(
        dy, x, [x.shape[-1]], mean, rstd, w, torch.zeros_like(w), [True, True, True]
    )


_SCRATCH_BACKWARD = {
    "batch_norm": kernels.batch_norm_backward_rows,
    "layer_norm": kernels.layer_norm_backward,
}


def backward_cases(
    op: str,
    impls: Sequence[str],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
    notes: list[str],
) -> list[Case]:
    """The backward pass of ``op`` ("batch_norm_backward" or "layer_norm_backward"): from the
    upstream gradient, x, the saved statistics and the weight to (dx, dweight, dbias).

    ``torch``: aten's backward kernel, eagerly; ``scratch+compile``: the formula of
    :mod:`normhelpers.backward`, written for a compiler (:mod:`~normhelpers.bench.kernels`),
    compiled. All three gradients are checked against autograd in float64: dx element by
    element (:func:`within_tolerance`), dweight and dbias, sums over every position of a
    channel or feature, relative to their largest entry (:func:`reduction_within_tolerance`).
    A case that misses either is kept with ``output_ok=False``; its ``diff`` is dx's.
    """
    fwd = BACKWARD[op]
    x, w, b = make_inputs(fwd, shape, dtype, device)
    gen = torch.Generator().manual_seed(1)
    dy = torch.randn(shape, generator=gen).to(device, dtype)
    x64, w64, b64 = (t.double().requires_grad_() for t in (x, w, b))
    refs = torch.autograd.grad(_CALLS[fwd](F, x64, w64, b64), (x64, w64, b64), dy.double())
    ref = refs[0].float()
    mean, rstd = _saved_stats(fwd, x)
    cases = []
    for impl in impls:
        if impl == "torch":
            fn: Callable[..., tuple[Tensor, ...]] = _torch_backward(fwd)
        elif impl == "scratch+compile" and not notes:
            compiled = _compile(_SCRATCH_BACKWARD[fwd], (dy, x, mean, rstd, w), notes)
            if compiled is None:
                continue
            fn = compiled[0]
        else:
            continue
        dx, dw, db = fn(dy, x, mean, rstd, w)
        diff, ok = within_tolerance(dx, ref, dtype)
        ok = ok and all(
            reduction_within_tolerance(g, r, dtype) for g, r in zip((dw, db), refs[1:], strict=True)
        )
        call = functools.partial(fn, dy, x, mean, rstd, w)
        cases.append(Case(op, impl, shape, call, diff, ok))
    return cases


def _compile(
    fn: Callable[..., Any], args: tuple[Tensor, ...], notes: list[str] | None
) -> tuple[Callable[..., Any], Any] | None:
    """(``torch.compile(fn)``, its output on ``args``), or None after adding to ``notes`` (when
    given) one line that says why compiling failed (a compiler error surfaces at the first
    call)."""
    try:
        compiled = torch.compile(fn, dynamic=False)
        return compiled, compiled(*args)
    except Exception as err:  # any failure to compile means: no working compiler here
        if notes is not None:
            notes.append(f"compile unavailable: {first_line(err)}")
        return None


def first_line(err: Exception) -> str:
    """``Type: message``, first line only, at most 200 characters: a one-line reason."""
    return f"{type(err).__name__}: {err}".splitlines()[0][:200]


def norm_cases(
    op: str,
    impls: Sequence[str],
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
    notes: list[str],
) -> list[Case]:
    """The cases of ``op``, each checked against torch's float64 result; a case that misses
    the tolerance is kept, with ``output_ok=False``.

    The "+compile" impls are compiled with ``torch.compile`` (their first call compiles). When
    compilation fails, they are left out and ``notes`` gets one line saying why; once ``notes``
    holds a line, no compilation is tried again.
    """
    x, w, b = make_inputs(op, shape, dtype, device)
    ref = _CALLS[op](F, x.double(), w.double(), b.double()).float()  # torch, in float64
    cases = []
    for impl in impls:
        fn = implementation(op, impl)
        compiled = impl.endswith("+compile")
        if fn is None or (compiled and notes):
            continue
        if compiled:
            done = _compile(fn, (x, w, b), notes)
            if done is None:
                continue
            fn, out = done
        else:
            out = fn(x, w, b)
        diff, ok = within_tolerance(out, ref, dtype)
        cases.append(Case(op, impl, shape, functools.partial(fn, x, w, b), diff, ok))
    return cases
