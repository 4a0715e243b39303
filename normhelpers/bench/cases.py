"""The cases the benchmark times: shapes, ops, implementations, and the check of each output.

A case is one function call (op, impl) on fixed inputs. Before it is timed, its output is
compared with a float64 reference: torch's function for the norms, the same op in float64 for
``clone``, ``copy_`` and ``affine``. A norm whose output misses the tolerance is timed all the
same, its case marked (``output_ok``), so that one miss cannot hide the rest of a table (the
compiled one-pass LayerNorm misses the float32 tolerance where Inductor writes scalar code);
a wrong ``clone``, ``copy_`` or ``affine`` means a broken setup and stops the run
(RuntimeError).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

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
]

GROUPS = 32  # GroupNorm's groups, as in Wu and He (2018)

# (device type, size) -> input shapes: "cv" (N, C, H, W) for BN/IN/GN, "nlp" (N, L, D) for LN/RMS
SHAPES: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {
    ("cpu", "tiny"): {"cv": (4, 32, 4, 4), "nlp": (2, 8, 32)},  # for the unit tests
    # small: 40 MiB in float32, above L3 caches and above glibc's largest mmap threshold (32 MiB),
    # so that, as for large, every output is fresh memory from the operating system
    ("cpu", "small"): {"cv": (40, 256, 32, 32), "nlp": (10, 1024, 1024)},
    ("cpu", "large"): {"cv": (64, 256, 32, 32), "nlp": (16, 1024, 1024)},  # 64 MiB
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
IMPLS: tuple[str, ...] = ("torch", "scratch", "scratch+compile", "onepass", "onepass+compile")

# Least memory traffic of a training-mode forward, as a multiple of a copy's (one read + one
# write): 1.0 when x is read once, 1.5 when the statistics need a full read of their own.
LIMITS: dict[str, float] = {
    "clone": 1.0,
    "affine": 1.0,
    "layer_norm": 1.0,
    "rms_norm": 1.0,
    "batch_norm": 1.5,
    "instance_norm": 1.5,
    "group_norm": 1.5,
}

# Half-precision kernels may compute y = x * a + b in half precision: its rounding error is
# relative to |x * a| (up to ~5 here), not to |y|. compare()'s default atol (1e-5) is for float32.
_ATOL: dict[torch.dtype, float] = {torch.bfloat16: 0.05}


@dataclass
class Case:
    """One timed call: ``call()`` computes ``op`` with ``impl`` on an input of ``shape``."""

    op: str
    impl: str
    shape: tuple[int, ...]
    call: Callable[[], Tensor]
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


_ONE_PASS = {"batch_norm": _bn_one_pass, "layer_norm": _ln_one_pass}


def implementation(op: str, impl: str) -> Callable[[Tensor, Tensor, Tensor], Tensor] | None:
    """The function (x, weight, bias) -> y timed as (op, impl), not yet compiled for the
    "+compile" impls; None for a case that does not exist (onepass of IN, GN or RMSNorm).

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


def check(out: Tensor, ref: Tensor, dtype: torch.dtype, label: str) -> float:
    """Max |out - ref|; raise RuntimeError unless :func:`within_tolerance`."""
    diff, ok = within_tolerance(out, ref, dtype)
    if not ok:
        raise RuntimeError(f"{label} disagrees with the float64 reference: max |diff| = {diff:.3g}")
    return diff


def baseline_cases(
    layout: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> list[Case]:
    """``clone`` (the yardstick), ``copy_`` (a copy into an existing tensor: no fresh memory) and
    ``affine`` (one multiply-add kernel) on the inputs of ``layout``, each checked."""
    op = next(op for op in OPS if OPS[op][0] == layout)  # any op of the layout: same inputs
    x, w, b = make_inputs(op, shape, dtype, device)
    diff = check(x.clone(), x.float(), dtype, "clone")  # the first call, as for the norms
    out = torch.empty_like(x)  # copy_ writes into this existing tensor: no allocation
    dim = 1 if layout == "cv" else -1
    ref = kernels.affine(x.double(), w.double(), b.double(), dim).float()
    affine_diff = check(kernels.affine(x, w, b, dim), ref, dtype, "affine")
    return [
        Case("clone", "torch", shape, x.clone, diff),
        Case("copy_", "torch", shape, functools.partial(out.copy_, x), diff),
        Case(
            "affine", "torch", shape, functools.partial(kernels.affine, x, w, b, dim), affine_diff
        ),
    ]


def _first_line(err: Exception) -> str:
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
        try:
            fn = torch.compile(fn, dynamic=False) if compiled else fn
            out = fn(x, w, b)  # a compiler error surfaces here, at the first call
        except Exception as err:  # any failure to compile means: no working compiler here
            if not compiled:
                raise
            notes.append(f"compile unavailable: {_first_line(err)}")
            continue
        diff, ok = within_tolerance(out, ref, dtype)
        cases.append(Case(op, impl, shape, functools.partial(fn, x, w, b), diff, ok))
    return cases
