"""The cases of the six checks: each checker is its seeded inputs, torch's function and the
correct recipe.

The checkers share the engine (:func:`~normhelpers.exercises.engine.run_check`) and the
catalogue of mistakes; they differ only in the inputs they try and in the recipe that
describes the right answer. The public ``check_*`` functions that run them are in
:mod:`normhelpers.exercises.checkers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from normhelpers.exercises import catalogue as M
from normhelpers.exercises.engine import Case, Checker, _fmt_shape
from normhelpers.exercises.recipes import Recipe, normalize, running_stats

_NONE_NOTE = (
    "The exercise allows None for weight and bias, and here {} None: skip the "
    "scaling when weight is None and the shift when bias is None."
)


def _data(shape: Sequence[int], seed: int, shift_samples: bool = False) -> Tensor:
    """Seeded input whose dim-1 entries have different means and scales (like the book's data).

    shift_samples: also give each sample (dim 0) its own offset.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tuple(shape), generator=g)
    k = torch.arange(shape[1], dtype=torch.float32).reshape([1, -1] + [1] * (len(shape) - 2))
    x = x * (1.0 + 0.5 * k) + 0.5 + k
    if shift_samples:
        x = x + torch.arange(shape[0]).reshape([-1] + [1] * (len(shape) - 1))
    return x


def _vector(size: int, seed: int, shift: float = 0.0) -> Tensor:
    """Seeded parameter vector with positive and negative entries (weight or bias)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(size, generator=g) + shift


def _params(
    size: int,
    seeds: tuple[int, int],
    drop: str,
) -> tuple[Tensor | None, Tensor | None, str, str]:
    """(weight, bias, description, note) of ``size`` elements each; ``drop`` names the ones
    set to None: "", "weight", "bias" or "both"."""
    weight, bias = _vector(size, seeds[0], 1.0), _vector(size, seeds[1])
    if drop == "":
        return weight, bias, "", ""
    if drop == "both":
        return None, None, ", weight=None, bias=None", _NONE_NOTE.format("both are")
    if drop == "weight":
        return None, bias, ", weight=None", _NONE_NOTE.format("weight is")
    return weight, None, ", bias=None", _NONE_NOTE.format("bias is")


def batch_norm_checker() -> Checker:
    """BatchNorm in training mode: x (N, C) or (N, C, *), weight and bias (C,)."""
    specs = [((16, 4), 1e-5), ((4, 3, 5, 5), 0.1), ((6, 2, 7), 0.1), ((10, 3), 0.5)]
    cases = [
        Case(
            (_data(s, 10 + i), _vector(s[1], 20 + i, 1.0), _vector(s[1], 30 + i), eps),
            f"x of shape {_fmt_shape(s)}, eps={eps:g}",
            s,
        )
        for i, (s, eps) in enumerate(specs)
    ]
    return Checker(
        "check_batch_norm",
        "torch.nn.functional.batch_norm (training mode)",
        cases,
        lambda x, w, b, eps: F.batch_norm(x, None, None, w, b, training=True, eps=eps),
        Recipe(over="channel"),
        lambda r, x, w, b, eps: normalize(r, x, w, b, eps),
        [M.BN_PER_SAMPLE, M.BN_BATCH_ONLY, *M.STATISTICS, *M.AFFINE],
        "Per channel: mean and biased variance over every dim except C, then "
        "(x - mean) / √(var + eps), then scale by weight and shift by bias.",
    )


def _torch_running(rm: Tensor, rv: Tensor, x: Tensor, m: float) -> tuple[Tensor, Tensor]:
    """The buffers F.batch_norm(training=True) leaves behind, on copies of rm and rv."""
    rm, rv = rm.clone(), rv.clone()
    F.batch_norm(x, rm, rv, training=True, momentum=m)
    return rm, rv


def running_stats_checker() -> Checker:
    """One running-statistics update: x (N, C) or (N, C, *), running_mean and _var (C,)."""
    specs = [((8, 3), 0.1), ((4, 3, 5), 0.1), ((2, 3, 4, 4), 0.3), ((6, 2), 0.25)]
    cases = [
        Case(
            (_vector(s[1], 40 + i), _vector(s[1], 50 + i).abs() + 0.5, _data(s, 60 + i), m),
            f"x of shape {_fmt_shape(s)}, momentum={m:g}",
            s,
        )
        for i, (s, m) in enumerate(specs)
    ]
    return Checker(
        "check_running_stats",
        "the running statistics of torch.nn.functional.batch_norm",
        cases,
        _torch_running,
        Recipe(over="channel", correction=1),
        running_stats,
        [M.MOMENTUM_REVERSED, M.RUNNING_BIASED, M.RUNNING_STD, M.OLD_IGNORED],
        "Per channel: new = (1 - momentum) * old + momentum * batch statistic, with the "
        "batch mean and the unbiased batch variance over every dim except C.",
        outputs=("new_mean", "new_var"),
    )


def layer_norm_checker() -> Checker:
    """LayerNorm over normalized_shape; weight and bias of that shape, or None."""
    specs = [
        ((5, 6), (6,), 1e-5, ""),
        ((2, 4, 6), (6,), 0.1, ""),
        ((2, 3, 4, 4), (3, 4, 4), 0.1, ""),
        ((3, 2, 5), (2, 5), 0.5, ""),
        ((4, 3, 5), (5,), 0.1, "weight"),
        ((2, 7), (7,), 1e-5, "bias"),
        ((2, 2, 3, 2), (3, 2), 0.1, "both"),
    ]
    cases = []
    for i, (s, ns, eps, drop) in enumerate(specs):
        w, b, said, note = _params(math.prod(ns), (70 + i, 80 + i), drop)
        w, b = (None if w is None else w.reshape(ns)), (None if b is None else b.reshape(ns))
        cases.append(
            Case(
                (_data(s, 90 + i, shift_samples=True), ns, w, b, eps),
                f"x of shape {_fmt_shape(s)}, normalized_shape={ns}, eps={eps:g}{said}",
                s,
                note,
            )
        )
    return Checker(
        "check_layer_norm",
        "torch.nn.functional.layer_norm",
        cases,
        lambda x, ns, w, b, eps: F.layer_norm(x, list(ns), w, b, eps),
        Recipe(over="trailing", params="element"),
        lambda r, x, ns, w, b, eps: normalize(r, x, w, b, eps, trailing=len(ns)),
        [M.LN_LAST_ONLY, M.LN_ACROSS_BATCH, *M.STATISTICS, *M.AFFINE],
        "Per sample: mean and biased variance over the normalized_shape dims, then "
        "(x - mean) / √(var + eps), then * weight + bias (elementwise, each when not None).",
        covers="weight and bias given or None",
    )


def instance_norm_checker() -> Checker:
    """InstanceNorm without affine: x (N, C, *) with 1, 2 or 3 spatial dims."""
    specs = [
        ((2, 3, 5, 5), 1e-5),
        ((3, 2, 8), 0.1),
        ((2, 4, 3, 4), 0.1),
        ((2, 3, 6), 0.5),
        ((2, 2, 3, 2, 4), 0.1),
    ]
    cases = [
        Case(
            (_data(s, 100 + i, shift_samples=True), eps),
            f"x of shape {_fmt_shape(s)}, eps={eps:g}",
            s,
        )
        for i, (s, eps) in enumerate(specs)
    ]
    return Checker(
        "check_instance_norm",
        "torch.nn.functional.instance_norm",
        cases,
        lambda x, eps: F.instance_norm(x, eps=eps),
        Recipe(over="positions"),
        lambda r, x, eps: normalize(r, x, None, None, eps),
        [M.IN_ALL_CHANNELS, M.IN_ACROSS_BATCH, M.IN_LAST_ONLY, M.IN_OVER_CHANNELS, *M.STATISTICS],
        "Per sample and channel: mean and biased variance over the positions (dims 2, 3, "
        "...), then (x - mean) / √(var + eps).",
    )


def group_norm_checker() -> Checker:
    """GroupNorm: x (N, C, *) with 0 to 3 trailing dims, weight and bias (C,) or None."""
    specs = [
        ((2, 6, 4, 4), 3, 1e-5, ""),
        ((3, 8, 5), 2, 0.1, ""),
        ((4, 6), 2, 0.1, ""),
        ((2, 6, 3, 3), 2, 0.5, ""),
        ((2, 4, 3, 2, 2), 2, 0.1, "weight"),
        ((3, 6, 4), 3, 1e-5, "bias"),
        ((3, 4, 5), 2, 0.1, "both"),
    ]
    cases = []
    for i, (s, g, eps, drop) in enumerate(specs):
        w, b, said, note = _params(s[1], (120 + i, 130 + i), drop)
        cases.append(
            Case(
                (_data(s, 110 + i, shift_samples=True), g, w, b, eps),
                f"x of shape {_fmt_shape(s)}, num_groups={g}, eps={eps:g}{said}",
                s,
                note,
            )
        )
    return Checker(
        "check_group_norm",
        "torch.nn.functional.group_norm",
        cases,
        lambda x, g, w, b, eps: F.group_norm(x, g, w, b, eps),
        Recipe(over="group"),
        lambda r, x, g, w, b, eps: normalize(r, x, w, b, eps, num_groups=g),
        [
            M.GN_INTERLEAVED,
            M.GN_AS_SIZE,
            M.GN_ONE_GROUP,
            M.GN_PER_CHANNEL,
            M.GN_NO_POSITIONS,
            *M.STATISTICS,
            *M.AFFINE,
        ],
        "Per sample and group of C/G consecutive channels: mean and biased variance over the "
        "group's channels and all positions, (x - mean) / √(var + eps), then per channel "
        "* weight + bias (each when not None).",
        covers="weight and bias given or None",
    )


def rms_norm_checker() -> Checker:
    """RMSNorm over the last dim: x (*, D), weight (D,)."""
    specs = [((4, 8), 1e-6), ((2, 3, 6), 0.1), ((2, 2, 3, 5), 0.1), ((3, 4), 0.5)]
    cases = [
        Case(
            (_data(s, 140 + i) + 0.3, _vector(s[-1], 150 + i, 1.0), eps),
            f"x of shape {_fmt_shape(s)}, eps={eps:g}",
            s,
        )
        for i, (s, eps) in enumerate(specs)
    ]
    return Checker(
        "check_rms_norm",
        "torch.nn.functional.rms_norm",
        cases,
        lambda x, w, eps: F.rms_norm(x, [x.shape[-1]], w, eps),
        Recipe(over="last", center=False, centered_var=False, params="element"),
        lambda r, x, w, eps: normalize(r, x, w, None, eps),
        [
            M.RMS_CENTERED,
            M.EPS_OUTSIDE,
            M.EPS_MISSING,
            M.RMS_SUM,
            M.RMS_NO_ROOT,
            M.RMS_MORE_DIMS,
            M.RMS_NO_WEIGHT,
            M.RMS_WEIGHT_FIRST,
        ],
        "Per row: the square root of (mean of x² over the last dim + eps); divide x by it, "
        "then multiply by weight.",
    )


# the checker of each public check_* function, by its name
CHECKERS: dict[str, Callable[[], Checker]] = {
    "check_batch_norm": batch_norm_checker,
    "check_running_stats": running_stats_checker,
    "check_layer_norm": layer_norm_checker,
    "check_instance_norm": instance_norm_checker,
    "check_group_norm": group_norm_checker,
    "check_rms_norm": rms_norm_checker,
}
