"""Self-checks for the exercises: run *your* norm against PyTorch's and get a diagnosis.

Each ``check_*`` function calls your function on a few seeded inputs (the three layouts,
a tiny and a large eps), compares with ``torch.nn.functional``, prints one friendly
verdict and returns a :class:`CheckResult` (truthy when you passed)::

    def my_rms_norm(x, weight, eps):
        ...
    check_rms_norm(my_rms_norm)

When your output differs, the checker also runs the classic wrong versions of the norm
(unbiased variance, eps outside the square root, wrong axes, ...). If one of them
reproduces your output exactly, it names that mistake and explains it in words; it never
prints solution code. Everything printed is deterministic, so notebooks can commit it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "CheckResult",
    "check_batch_norm",
    "check_running_stats",
    "check_layer_norm",
    "check_instance_norm",
    "check_group_norm",
    "check_rms_norm",
]

RTOL, ATOL = 1e-4, 1e-4  # float32 round-off of any sensible formula is far below this


@dataclass(frozen=True)
class CheckResult:
    """What a ``check_*`` function found. Truthy when your function passed."""

    name: str
    passed: bool
    message: str
    mistake: str | None = None  # the diagnosed classic mistake, if any

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Already printed by the checker: show nothing more at the end of a notebook cell."""


@dataclass(frozen=True)
class _Case:
    """One input: the arguments your function is called with and how to describe them."""

    args: tuple
    describe: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class _Mistake:
    """A classic wrong version of the norm: a short name, a hint in words, and the wrong code."""

    name: str
    hint: str
    fn: Callable


# ---------------------------------------------------------------- building blocks of variants


def _standardize(x: Tensor, dims: Sequence[int], eps: float, mistake: str = "") -> Tensor:
    """(x - mean) / √(var + eps) over ``dims``, or one classic wrong version of it.

    mistake: "" (correct), "unbiased", "eps_outside", "no_eps", "no_center" (numerator not
    centred), "uncentered_var" (variance = mean of squares).
    """
    dims = list(dims)
    mean = x.mean(dim=dims, keepdim=True)
    if mistake == "uncentered_var":
        var = (x * x).mean(dim=dims, keepdim=True)
    else:
        var = x.var(dim=dims, correction=1 if mistake == "unbiased" else 0, keepdim=True)
    num = x if mistake == "no_center" else x - mean
    if mistake == "eps_outside":
        return num / (var.sqrt() + eps)
    if mistake == "no_eps":
        return num / var.sqrt()
    return num / (var + eps).sqrt()


def _per_channel(v: Tensor | None, x: Tensor) -> Tensor | None:
    """A (C,) vector shaped (1, C, 1, ...) to broadcast along dim 1 of ``x``."""
    if v is None:
        return None
    return v.reshape([1, -1] + [1] * (x.dim() - 2))


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y * weight + bias (already broadcastable), skipping a missing one."""
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _stat_dims_bn(x: Tensor) -> list[int]:
    """All dims but the channel dim 1."""
    return [0] + list(range(2, x.dim()))


def _group_standardize(
    x: Tensor, groups: int, eps: float, mistake: str = "", interleaved: bool = False,
    spatial: bool = True,
) -> Tensor:
    """GroupNorm's normalization, or a wrong version (interleaved groups, no spatial dims)."""
    n, c = x.shape[:2]
    rest = list(x.shape[2:])
    if interleaved:  # channel k goes to group k % G
        v = x.reshape([n, c // groups, groups] + rest)
        dims = [1] + list(range(3, v.dim()))
    else:
        v = x.reshape([n, groups, c // groups] + rest)
        dims = list(range(2, v.dim())) if spatial else [2]
    return _standardize(v, dims, eps, mistake).reshape(x.shape)


# ---------------------------------------------------------------- running a check


def _as_tensors(out: object, n_outputs: int) -> tuple[Tensor, ...]:
    """Your function's result as a tuple of float64 tensors, or a TypeError that says why."""
    items = (out,) if n_outputs == 1 else out
    if n_outputs > 1 and (not isinstance(out, (tuple, list)) or len(out) != n_outputs):
        raise TypeError(f"expected a tuple of {n_outputs} tensors, got {type(out).__name__}")
    tensors = []
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(f"expected a tensor, got {type(item).__name__}")
        tensors.append(item.detach().double())
    return tuple(tensors)


def _close(a: tuple[Tensor, ...], b: tuple[Tensor, ...]) -> bool:
    return all(
        x.shape == y.shape and bool(torch.allclose(x, y, rtol=RTOL, atol=ATOL))
        for x, y in zip(a, b, strict=True)
    )


def _clone(args: tuple) -> tuple:
    """Fresh copies of the tensor arguments, so an in-place function cannot change our inputs."""
    return tuple(a.clone() if isinstance(a, Tensor) else a for a in args)


def _try(fn: Callable, args: tuple, n_outputs: int) -> tuple[Tensor, ...] | None:
    """Run a wrong variant; None when it cannot handle this input."""
    try:
        return _as_tensors(fn(*_clone(args)), n_outputs)
    except Exception:
        return None


def _difference(got: tuple[Tensor, ...], want: tuple[Tensor, ...], names: Sequence[str]) -> str:
    """Where the first output differs, in words, with the difference rounded coarsely."""
    for g, w, name in zip(got, want, names, strict=True):
        where = f" in {name}" if len(names) > 1 else ""
        if g.shape != w.shape:
            return (f"the result{where} should have shape {_fmt_shape(w.shape)}, "
                    f"yours has {_fmt_shape(g.shape)}")
        if not bool(torch.isfinite(g).all()):
            return f"the result{where} contains nan or inf (a division by zero?)"
        diff = float((g - w).abs().max())
        if not torch.allclose(g, w, rtol=RTOL, atol=ATOL):
            return f"max |diff|{where} ≈ {diff:.2g}"
    return "no difference"


def _run_check(
    title: str,
    reference: str,
    fn: Callable,
    cases: Sequence[_Case],
    expected_fn: Callable,
    mistakes: Sequence[_Mistake],
    output_names: Sequence[str] = ("y",),
    recipe: str = "",
) -> CheckResult:
    """Call ``fn`` on every case, compare with ``expected_fn``, diagnose, print, return."""
    n_out = len(output_names)
    shapes = ", ".join(_fmt_shape(c.shape) for c in cases)
    got = []
    for case in cases:
        try:
            out = fn(*_clone(case.args))
        except Exception as err:
            first_line = (str(err).strip().splitlines() or [""])[0][:200]
            msg = (f"✗ {title}: your function raised an error for {case.describe}:\n"
                   f"    {type(err).__name__}: {first_line}\n"
                   + _wrap(f"Tip: it must work for every input this check tries ({shapes}); "
                           "look at how your tensors broadcast."))
            print(msg)
            return CheckResult(title, False, msg)
        try:
            got.append(_as_tensors(out, n_out))
        except TypeError as err:
            msg = _wrap(f"✗ {title}: for {case.describe} your function returned the wrong "
                        f"kind: {err}.", first="")
            print(msg)
            return CheckResult(title, False, msg)
    want = [_as_tensors(expected_fn(*_clone(c.args)), n_out) for c in cases]
    bad = [i for i in range(len(cases)) if not _close(got[i], want[i])]
    if not bad:
        msg = _wrap(f"✓ {title}: your function matches {reference} on all {len(cases)} "
                    f"inputs: {shapes}.", first="")
        print(msg)
        return CheckResult(title, True, msg)
    first = bad[0]
    lines = [
        _wrap(f"✗ {title}: your function differs from {reference} on {len(bad)} of "
              f"{len(cases)} inputs.", first=""),
        _wrap(f"First difference: {cases[first].describe}: "
              f"{_difference(got[first], want[first], output_names)}."),
    ]
    mistake = None
    for m in mistakes:
        outs = [_try(m.fn, c.args, n_out) for c in cases]
        if all(o is not None and _close(g, o) for g, o in zip(got, outs, strict=True)):
            mistake = m
            break
    if mistake is not None:
        lines.append(_wrap(f"Diagnosis: {mistake.name}. {mistake.hint}"))
    else:
        lines.append(_wrap("This is not one of the classic mistakes I know. " + recipe))
    msg = "\n".join(lines)
    print(msg)
    return CheckResult(title, False, msg, mistake.name if mistake else None)


def _wrap(text: str, first: str = "  ") -> str:
    """Wrap at 88 characters, continuation lines indented by two spaces (readable in a notebook)."""
    glued = re.sub(r"\([0-9, ]*\)", lambda m: m.group(0).replace(" ", "\u00a0"), text)
    glued = glued.replace("≈ ", "≈\u00a0")
    wrapped = textwrap.fill(glued, width=88, initial_indent=first, subsequent_indent="  ")
    return wrapped.replace("\u00a0", " ")  # never split a shape (2, 3, 4) or "≈ 0.1"


def _data(shape: Sequence[int], seed: int) -> Tensor:
    """Seeded input whose dim-1 entries have different means and scales (like the book's data)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tuple(shape), generator=g)
    k = torch.arange(shape[1], dtype=torch.float32).reshape([1, -1] + [1] * (len(shape) - 2))
    return x * (1.0 + 0.5 * k) + 0.5 + k


def _vector(size: int, seed: int, shift: float = 0.0) -> Tensor:
    """Seeded parameter vector with positive and negative entries (weight or bias)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(size, generator=g) + shift


def _fmt_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


# ---------------------------------------------------------------- shared hints

_UNBIASED = ("Normalize with the biased variance: the mean of the squared deviations, dividing by "
             "the number of values n, not by n - 1 (PyTorch keeps the n - 1 version for the "
             "running variance only).")
_EPS_OUT = ("eps belongs inside the square root: divide by the square root of (variance + eps), "
            "not by (standard deviation + eps).")
_NO_EPS = ("eps is missing: add it to the variance before taking the square root; it protects "
           "against a division by zero and changes the result when the variance is small.")
_NO_CENTER = "Subtract the mean before dividing by the standard deviation."
_UNCENTERED = ("Your variance is the mean of the squared values; the variance is the mean of the "
               "squared deviations from the mean.")
_NO_AFFINE = ("After normalizing, scale by weight (gamma) and shift by bias (beta); without them "
              "the layer could not undo the normalization.")
_AFFINE_FIRST = ("Scale and shift come after the normalization: normalizing the already scaled and "
                 "shifted input cancels weight and bias.")


def _common_mistakes(normalize: Callable, affine: Callable | None) -> list[_Mistake]:
    """The mistakes every norm can make, built from ``normalize(x, eps, mistake)``.

    affine(y, *params) applies the norm's weight and bias; None for a norm without them.
    Each returned variant takes the learner's arguments ``(x, *params, eps)``.
    """

    def with_affine(mistake: str) -> Callable:
        def wrong(x: Tensor, *rest: object) -> Tensor:
            *params, eps = rest
            y = normalize(x, eps, mistake)
            return affine(y, *params) if affine is not None else y
        return wrong

    out = [
        _Mistake("unbiased variance", _UNBIASED, with_affine("unbiased")),
        _Mistake("eps outside the square root", _EPS_OUT, with_affine("eps_outside")),
        _Mistake("eps missing", _NO_EPS, with_affine("no_eps")),
        _Mistake("mean not subtracted", _NO_CENTER, with_affine("no_center")),
        _Mistake("variance of the uncentered values", _UNCENTERED, with_affine("uncentered_var")),
    ]
    if affine is not None:
        def no_affine(x: Tensor, *rest: object) -> Tensor:
            return normalize(x, rest[-1], "")

        def affine_first(x: Tensor, *rest: object) -> Tensor:
            *params, eps = rest
            return normalize(affine(x, *params), eps, "")

        out += [_Mistake("missing affine (weight and bias not applied)", _NO_AFFINE, no_affine),
                _Mistake("affine applied before normalizing", _AFFINE_FIRST, affine_first)]
    return out


# ---------------------------------------------------------------- BatchNorm


def check_batch_norm(fn: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, weight, bias, eps) -> y``: BatchNorm in training mode (batch statistics).

    x: (N, C), (N, C, L) or (N, C, H, W); weight, bias: (C,). Reference:
    ``torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=eps)``.
    """
    specs = [((16, 4), 1e-5), ((4, 3, 5, 5), 0.1), ((6, 2, 7), 0.1), ((10, 3), 0.5)]
    cases = [
        _Case((_data(s, 10 + i), _vector(s[1], 20 + i, 1.0), _vector(s[1], 30 + i), eps),
              f"x of shape {_fmt_shape(s)}, eps={eps:g}", s)
        for i, (s, eps) in enumerate(specs)
    ]

    def expected(x: Tensor, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return F.batch_norm(x, None, None, w, b, training=True, eps=eps)

    def normalize(x: Tensor, eps: float, mistake: str) -> Tensor:
        return _standardize(x, _stat_dims_bn(x), eps, mistake)

    def affine(y: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return _affine(y, _per_channel(w, y), _per_channel(b, y))

    def per_sample(x: Tensor, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return affine(_standardize(x, range(1, x.dim()), eps), w, b)

    def batch_only(x: Tensor, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return affine(_standardize(x, [0], eps), w, b)

    mistakes = [
        _Mistake("wrong axes: one mean per sample (that is LayerNorm)",
                 "BatchNorm takes one mean and variance per channel, computed across the batch; "
                 "yours are taken per sample, across its features.", per_sample),
        _Mistake("wrong axes: averaged over the batch dim only",
                 "For (N, C, L) and (N, C, H, W) inputs one channel's statistics use all its "
                 "values: across the batch AND across every position (N*L or N*H*W values), "
                 "not one statistic per position.", batch_only),
        *_common_mistakes(normalize, affine),
    ]
    return _run_check(
        "check_batch_norm", "torch.nn.functional.batch_norm (training mode)", fn, cases,
        expected, mistakes,
        recipe="Per channel: mean and biased variance over every dim except C, then "
               "(x - mean) / √(var + eps), then scale by weight and shift by bias.",
    )


# ---------------------------------------------------------------- running statistics


def check_running_stats(
    fn: Callable[[Tensor, Tensor, Tensor, float], tuple[Tensor, Tensor]],
) -> CheckResult:
    """Check ``fn(running_mean, running_var, x, momentum) -> (new_mean, new_var)``.

    x: (N, C) or (N, C, *); running_mean, running_var: (C,). PyTorch's convention:
    new = (1 - momentum) * old + momentum * batch statistic, with the **unbiased** batch
    variance in running_var. Reference: the buffers updated by ``F.batch_norm(training=True)``.
    """
    specs = [((8, 3), 0.1), ((4, 3, 5), 0.1), ((2, 3, 4, 4), 0.3), ((6, 2), 0.25)]
    cases = []
    for i, (s, m) in enumerate(specs):
        rm, rv = _vector(s[1], 40 + i), _vector(s[1], 50 + i).abs() + 0.5
        cases.append(_Case((rm, rv, _data(s, 60 + i), m),
                           f"x of shape {_fmt_shape(s)}, momentum={m:g}", s))

    def expected(rm: Tensor, rv: Tensor, x: Tensor, m: float) -> tuple[Tensor, Tensor]:
        rm, rv = rm.clone(), rv.clone()
        F.batch_norm(x, rm, rv, training=True, momentum=m)
        return rm, rv

    def variant(mean_rule: str = "", var_rule: str = "") -> Callable:
        def wrong(rm: Tensor, rv: Tensor, x: Tensor, m: float) -> tuple[Tensor, Tensor]:
            dims = _stat_dims_bn(x)
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, correction=0 if var_rule == "biased" else 1)
            if var_rule == "std":
                var = var.sqrt()
            if mean_rule == "reversed":
                return m * rm + (1 - m) * mean, m * rv + (1 - m) * var
            if mean_rule == "replace":
                return mean, var
            return (1 - m) * rm + m * mean, (1 - m) * rv + m * var
        return wrong

    mistakes = [
        _Mistake("momentum reversed (momentum used as the weight of the old value)",
                 "In PyTorch momentum is the weight of the NEW batch statistic: with the default "
                 "0.1 the running value keeps 90% of its old value.", variant("reversed")),
        _Mistake("running_var updated with the biased variance",
                 "The running variance is updated with the unbiased batch variance (divide by "
                 "n - 1), even though the forward pass normalizes with the biased one.",
                 variant(var_rule="biased")),
        _Mistake("running_var updated with the standard deviation",
                 "running_var tracks the variance, not its square root.", variant(var_rule="std")),
        _Mistake("old running value ignored",
                 "The new running value is a blend of the old running value and the batch "
                 "statistic, weighted by momentum, not the batch statistic alone.",
                 variant("replace")),
    ]
    return _run_check(
        "check_running_stats", "the running statistics of torch.nn.functional.batch_norm", fn,
        cases, expected, mistakes, output_names=("new_mean", "new_var"),
        recipe="Per channel: new = (1 - momentum) * old + momentum * batch statistic, with the "
               "batch mean and the unbiased batch variance over every dim except C.",
    )


# ---------------------------------------------------------------- LayerNorm


def check_layer_norm(
    fn: Callable[[Tensor, Sequence[int], Tensor, Tensor, float], Tensor],
) -> CheckResult:
    """Check ``fn(x, normalized_shape, weight, bias, eps) -> y``.

    Statistics over the last ``len(normalized_shape)`` dims of x; weight, bias: normalized_shape.
    Reference: ``torch.nn.functional.layer_norm``.
    """
    specs = [((5, 6), (6,), 1e-5), ((2, 4, 6), (6,), 0.1), ((2, 3, 4, 4), (3, 4, 4), 0.1),
             ((3, 2, 5), (2, 5), 0.5)]
    cases = []
    for i, (s, ns, eps) in enumerate(specs):
        n = math.prod(ns)
        w, b = _vector(n, 70 + i, 1.0).reshape(ns), _vector(n, 80 + i).reshape(ns)
        x = _data(s, 90 + i) + torch.arange(s[0]).reshape([-1] + [1] * (len(s) - 1))
        cases.append(_Case((x, ns, w, b, eps),
                           f"x of shape {_fmt_shape(s)}, normalized_shape={ns}, eps={eps:g}", s))

    def expected(x: Tensor, ns: Sequence[int], w: Tensor, b: Tensor, eps: float) -> Tensor:
        return F.layer_norm(x, list(ns), w, b, eps)

    def dims_of(x: Tensor, ns: Sequence[int]) -> list[int]:
        return list(range(x.dim() - len(ns), x.dim()))

    def with_dims(rule: Callable[[Tensor, Sequence[int]], Sequence[int]]) -> Callable:
        def wrong(x: Tensor, ns: Sequence[int], w: Tensor, b: Tensor, eps: float) -> Tensor:
            return _standardize(x, rule(x, ns), eps) * w + b
        return wrong

    # the common mistakes need normalized_shape: close over it through the arguments
    def common(mistake: str) -> Callable:
        def wrong(x: Tensor, ns: Sequence[int], w: Tensor, b: Tensor, eps: float) -> Tensor:
            return _standardize(x, dims_of(x, ns), eps, mistake) * w + b
        return wrong

    def no_affine(x: Tensor, ns: Sequence[int], w: Tensor, b: Tensor, eps: float) -> Tensor:
        return _standardize(x, dims_of(x, ns), eps)

    def affine_first(x: Tensor, ns: Sequence[int], w: Tensor, b: Tensor, eps: float) -> Tensor:
        return _standardize(x * w + b, dims_of(x, ns), eps)

    mistakes = [
        _Mistake("normalized over the last dim only",
                 "normalized_shape can name several trailing dims, e.g. (C, H, W): the mean and "
                 "variance are taken over all of them together.", with_dims(lambda x, ns: [-1])),
        _Mistake("wrong dims: across the batch (that is BatchNorm)",
                 "LayerNorm takes one mean and variance per sample (per token for (N, L, D)), "
                 "over the trailing normalized_shape dims, never across the batch.",
                 with_dims(lambda x, ns: [0])),
        _Mistake("unbiased variance", _UNBIASED, common("unbiased")),
        _Mistake("eps outside the square root", _EPS_OUT, common("eps_outside")),
        _Mistake("eps missing", _NO_EPS, common("no_eps")),
        _Mistake("mean not subtracted", _NO_CENTER, common("no_center")),
        _Mistake("variance of the uncentered values", _UNCENTERED, common("uncentered_var")),
        _Mistake("missing affine (weight and bias not applied)", _NO_AFFINE, no_affine),
        _Mistake("affine applied before normalizing", _AFFINE_FIRST, affine_first),
    ]
    return _run_check(
        "check_layer_norm", "torch.nn.functional.layer_norm", fn, cases, expected, mistakes,
        recipe="Per sample: mean and biased variance over the normalized_shape dims, then "
               "(x - mean) / √(var + eps), then * weight + bias (elementwise).",
    )


# ---------------------------------------------------------------- InstanceNorm


def check_instance_norm(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, eps) -> y``: InstanceNorm without affine, x: (N, C, L) or (N, C, H, W).

    One mean and variance per sample and channel, over the spatial (or time) dims.
    Reference: ``torch.nn.functional.instance_norm(x, eps=eps)``.
    """
    specs = [((2, 3, 5, 5), 1e-5), ((3, 2, 8), 0.1), ((2, 4, 3, 4), 0.1), ((2, 3, 6), 0.5)]
    cases = []
    for i, (s, eps) in enumerate(specs):
        x = _data(s, 100 + i) + torch.arange(s[0]).reshape([-1] + [1] * (len(s) - 1))
        cases.append(_Case((x, eps), f"x of shape {_fmt_shape(s)}, eps={eps:g}", s))

    def expected(x: Tensor, eps: float) -> Tensor:
        return F.instance_norm(x, eps=eps)

    def normalize(x: Tensor, eps: float, mistake: str) -> Tensor:
        return _standardize(x, range(2, x.dim()), eps, mistake)

    def with_dims(rule: Callable[[Tensor], Sequence[int]]) -> Callable:
        def wrong(x: Tensor, eps: float) -> Tensor:
            return _standardize(x, rule(x), eps)
        return wrong

    mistakes = [
        _Mistake("wrong axes: one mean per sample over all channels (that is LayerNorm)",
                 "InstanceNorm keeps channels apart: one mean and variance per (sample, channel) "
                 "pair, over the spatial or time positions only.",
                 with_dims(lambda x: range(1, x.dim()))),
        _Mistake("wrong axes: across the batch (that is BatchNorm)",
                 "InstanceNorm keeps samples apart: each sample is normalized on its own.",
                 with_dims(lambda x: [0] + list(range(2, x.dim())))),
        _Mistake("wrong axes: over the last dim only",
                 "For (N, C, H, W) the statistics of one channel use the whole H x W map, not "
                 "one row of it.", with_dims(lambda x: [-1])),
        _Mistake("wrong axes: over the channels",
                 "InstanceNorm averages over positions, not over channels.",
                 with_dims(lambda x: [1])),
        *_common_mistakes(normalize, None),
    ]
    return _run_check(
        "check_instance_norm", "torch.nn.functional.instance_norm", fn, cases, expected, mistakes,
        recipe="Per sample and channel: mean and biased variance over the positions (dims 2, 3, "
               "...), then (x - mean) / √(var + eps).",
    )


# ---------------------------------------------------------------- GroupNorm


def check_group_norm(
    fn: Callable[[Tensor, int, Tensor, Tensor, float], Tensor],
) -> CheckResult:
    """Check ``fn(x, num_groups, weight, bias, eps) -> y``.

    x: (N, C, *) with C divisible by num_groups; weight, bias: (C,). One statistic per sample
    and group of C/G consecutive channels. Reference: ``torch.nn.functional.group_norm``.
    """
    specs = [((2, 6, 4, 4), 3, 1e-5), ((3, 8, 5), 2, 0.1), ((4, 6), 2, 0.1),
             ((2, 6, 3, 3), 2, 0.5)]
    cases = []
    for i, (s, g, eps) in enumerate(specs):
        x = _data(s, 110 + i) + torch.arange(s[0]).reshape([-1] + [1] * (len(s) - 1))
        w, b = _vector(s[1], 120 + i, 1.0), _vector(s[1], 130 + i)
        cases.append(_Case((x, g, w, b, eps),
                           f"x of shape {_fmt_shape(s)}, num_groups={g}, eps={eps:g}", s))

    def expected(x: Tensor, g: int, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return F.group_norm(x, g, w, b, eps)

    def affine(y: Tensor, w: Tensor, b: Tensor) -> Tensor:
        return _affine(y, _per_channel(w, y), _per_channel(b, y))

    def variant(mistake: str = "", groups_rule: str = "", **kw: bool) -> Callable:
        def wrong(x: Tensor, g: int, w: Tensor, b: Tensor, eps: float) -> Tensor:
            groups = {"": g, "size": x.shape[1] // g, "one": 1, "each": x.shape[1]}[groups_rule]
            return affine(_group_standardize(x, groups, eps, mistake, **kw), w, b)
        return wrong

    def no_affine(x: Tensor, g: int, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return _group_standardize(x, g, eps)

    def affine_first(x: Tensor, g: int, w: Tensor, b: Tensor, eps: float) -> Tensor:
        return _group_standardize(affine(x, w, b), g, eps)

    mistakes = [
        _Mistake("groups split along the wrong axis (interleaved channels)",
                 "A group is a block of C/G consecutive channels (group 0 = channels 0 .. C/G-1); "
                 "yours puts every G-th channel in one group. When you split the channel dim "
                 "in two, the group index must come first.", variant(interleaved=True)),
        _Mistake("num_groups used as the group size",
                 "num_groups is the number of groups G; each group holds C/G channels.",
                 variant(groups_rule="size")),
        _Mistake("a single group for all channels (that is LayerNorm)",
                 "Split the channels into num_groups groups with one statistic each.",
                 variant(groups_rule="one")),
        _Mistake("one group per channel (that is InstanceNorm)",
                 "A group holds C/G channels, not one.", variant(groups_rule="each")),
        _Mistake("positions not averaged (statistics per position)",
                 "One group's statistics use all its channels AND all positions (C/G * H * W "
                 "values).", variant(spatial=False)),
        _Mistake("unbiased variance", _UNBIASED, variant("unbiased")),
        _Mistake("eps outside the square root", _EPS_OUT, variant("eps_outside")),
        _Mistake("eps missing", _NO_EPS, variant("no_eps")),
        _Mistake("mean not subtracted", _NO_CENTER, variant("no_center")),
        _Mistake("variance of the uncentered values", _UNCENTERED, variant("uncentered_var")),
        _Mistake("missing affine (weight and bias not applied)",
                 _NO_AFFINE + " They have one value per channel, not per group.", no_affine),
        _Mistake("affine applied before normalizing", _AFFINE_FIRST, affine_first),
    ]
    return _run_check(
        "check_group_norm", "torch.nn.functional.group_norm", fn, cases, expected, mistakes,
        recipe="Per sample and group of C/G consecutive channels: mean and biased variance over "
               "the group's channels and all positions, (x - mean) / √(var + eps), then per "
               "channel * weight + bias.",
    )


# ---------------------------------------------------------------- RMSNorm


def check_rms_norm(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, weight, eps) -> y``: RMSNorm over the last dim, weight: (D,).

    y = x / sqrt(mean(x^2) + eps) * weight. Reference: ``torch.nn.functional.rms_norm``.
    """
    specs = [((4, 8), 1e-6), ((2, 3, 6), 0.1), ((2, 2, 3, 5), 0.1), ((3, 4), 0.5)]
    cases = []
    for i, (s, eps) in enumerate(specs):
        cases.append(_Case((_data(s, 140 + i) + 0.3, _vector(s[-1], 150 + i, 1.0), eps),
                           f"x of shape {_fmt_shape(s)}, eps={eps:g}", s))

    def expected(x: Tensor, w: Tensor, eps: float) -> Tensor:
        return F.rms_norm(x, [x.shape[-1]], w, eps)

    def rms(x: Tensor, eps: float, all_dims: bool = False, mean: bool = True,
            root: bool = True, eps_rule: str = "inside") -> Tensor:
        dims = list(range(1, x.dim())) if all_dims else [-1]
        sq = (x * x).mean(dim=dims, keepdim=True) if mean else (x * x).sum(dim=dims, keepdim=True)
        if eps_rule == "outside":
            return x / (sq.sqrt() + eps)
        if eps_rule == "none":
            return x / sq.sqrt()
        return x / ((sq + eps).sqrt() if root else sq + eps)

    def variant(**kw: object) -> Callable:
        def wrong(x: Tensor, w: Tensor, eps: float) -> Tensor:
            return rms(x, eps, **kw) * w
        return wrong

    def mean_subtracted(x: Tensor, w: Tensor, eps: float) -> Tensor:
        return _standardize(x, [-1], eps) * w

    def no_weight(x: Tensor, w: Tensor, eps: float) -> Tensor:
        return rms(x, eps)

    def weight_first(x: Tensor, w: Tensor, eps: float) -> Tensor:
        return rms(x * w, eps)

    mistakes = [
        _Mistake("mean subtracted (that is LayerNorm)",
                 "RMSNorm does not center: it divides x itself by the root mean square of x.",
                 mean_subtracted),
        _Mistake("eps outside the square root",
                 "eps belongs inside the square root: the square root of (mean of squares + eps), "
                 "not (root mean square + eps).", variant(eps_rule="outside")),
        _Mistake("eps missing",
                 "Add eps to the mean of squares before the square root.",
                 variant(eps_rule="none")),
        _Mistake("sum instead of mean (L2 normalization)",
                 "RMS is the root of the MEAN of the squares over the D features; the root of the "
                 "sum makes the output √D times too small.", variant(mean=False)),
        _Mistake("square root missing",
                 "Divide by the ROOT of the mean square, not by the mean square itself.",
                 variant(root=False)),
        _Mistake("wrong dims: averaged over more than the last dim",
                 "RMSNorm takes one statistic per token (per row): over the last dim only.",
                 variant(all_dims=True)),
        _Mistake("weight missing", "Scale the normalized result by weight (one value per feature).",
                 no_weight),
        _Mistake("weight applied before normalizing",
                 "Multiply by weight after dividing by the RMS; before, it cancels out.",
                 weight_first),
    ]
    return _run_check(
        "check_rms_norm", "torch.nn.functional.rms_norm", fn, cases, expected, mistakes,
        recipe="Per row: the square root of (mean of x² over the last dim + eps); divide x "
               "by it, then multiply by weight.",
    )
