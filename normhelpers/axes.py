"""Which dimensions does each norm average over? One source of truth for the whole book.

Three layouts, named as in every chapter:

====== ================ ===============================================
layout shape            where it occurs
====== ================ ===============================================
"2d"   (N, D)           features of an MLP layer
"cv"   (N, C, H, W)     feature maps of a convolutional layer
"nlp"  (N, L, D)        token states of a transformer (L tokens of D)
====== ================ ===============================================

:func:`reduce_dims` gives, for a norm and a layout, the dims that **one** mean and variance
are taken over; every other dim indexes a separate statistic. For GroupNorm the channel (or
feature) dim appears with the note that only the C/G channels of one group share a statistic.
:func:`channel_dim` says which dim that is. :func:`normalize` applies exactly that recipe,
and the tests check it against torch's layers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from normhelpers.core import moments, standardize

__all__ = ["LAYOUTS", "NORMS", "channel_dim", "reduce_dims", "stat_shape", "normalize"]

LAYOUTS: dict[str, tuple[str, ...]] = {
    "2d": ("N", "D"),
    "cv": ("N", "C", "H", "W"),
    "nlp": ("N", "L", "D"),
}

NORMS: tuple[str, ...] = ("batch", "layer", "instance", "group", "rms")

# dims of one statistic, in the layout's own dim order
_REDUCE: dict[tuple[str, str], tuple[int, ...]] = {
    ("batch", "2d"): (0,),  # per feature d, over the batch
    ("batch", "cv"): (0, 2, 3),  # per channel c, over batch and space
    ("batch", "nlp"): (0, 1),  # per feature d, over batch and tokens (BatchNorm1d on N,D,L)
    ("layer", "2d"): (1,),  # per sample, over its features
    ("layer", "cv"): (1, 2, 3),  # per sample, over C, H, W (normalized_shape=[C, H, W])
    ("layer", "nlp"): (2,),  # per token, over its features (as in transformers)
    ("instance", "cv"): (2, 3),  # per sample and channel, over space
    ("instance", "nlp"): (1,),  # per sample and feature, over tokens (InstanceNorm1d on N,D,L)
    ("group", "2d"): (1,),  # per sample and group, over the D/G features of the group
    ("group", "cv"): (1, 2, 3),  # per sample and group, over C/G channels and space
    ("group", "nlp"): (1, 2),  # per sample and group, over tokens and D/G features
    ("rms", "2d"): (1,),
    ("rms", "cv"): (1, 2, 3),
    ("rms", "nlp"): (2,),
}


def channel_dim(layout: str) -> int:
    """The channel (feature) dim of ``layout``: the dim GroupNorm splits into groups.

    C (dim 1) for images, D for features (dim 1) and for tokens (dim 2).

    >>> channel_dim("cv"), channel_dim("nlp")
    (1, 2)
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: expected one of {tuple(LAYOUTS)}")
    return {"2d": 1, "cv": 1, "nlp": 2}[layout]


def reduce_dims(kind: str, layout: str) -> tuple[int, ...]:
    """Dims of ``layout`` that one mean/variance of norm ``kind`` is taken over.

    >>> reduce_dims("batch", "cv")
    (0, 2, 3)
    >>> reduce_dims("layer", "nlp")
    (2,)
    """
    if kind not in NORMS:
        raise ValueError(f"unknown norm {kind!r}: expected one of {NORMS}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: expected one of {tuple(LAYOUTS)}")
    if (kind, layout) not in _REDUCE:
        raise ValueError(
            f"{kind} norm is not defined on layout {layout!r} {LAYOUTS[layout]}: instance norm "
            "needs a spatial or time dim to average over, and (N, D) has none"
        )
    return _REDUCE[(kind, layout)]


def stat_shape(kind: str, layout: str, shape: tuple[int, ...], groups: int = 1) -> tuple[int, ...]:
    """Shape of the tensor of means (one entry per statistic) for an input of ``shape``.

    >>> stat_shape("batch", "cv", (8, 3, 5, 5))
    (3,)
    >>> stat_shape("group", "cv", (8, 6, 5, 5), groups=2)
    (8, 2)
    """
    dims = reduce_dims(kind, layout)  # validates kind and layout first
    if len(shape) != len(LAYOUTS[layout]):
        raise ValueError(f"layout {layout!r} expects a shape {LAYOUTS[layout]}, got {tuple(shape)}")
    kept = tuple(s for i, s in enumerate(shape) if i not in dims)
    if kind == "group":
        C = shape[channel_dim(layout)]
        if C % groups != 0:
            raise ValueError(f"{C} channels cannot be split into {groups} groups")
        return kept + (groups,)
    return kept


def normalize(
    x: Tensor,
    kind: str,
    layout: str,
    groups: int = 1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize ``x`` (no affine) with the statistics of norm ``kind`` for ``layout``.

    One recipe for every norm: subtract the mean over :func:`reduce_dims`, divide by
    sqrt(biased variance + eps) (or, for ``"rms"``, divide by the root mean square).

    Example:

    >>> x = torch.randn(2, 6, 4, 4)
    >>> torch.allclose(normalize(x, "group", "cv", groups=3),
    ...                torch.nn.functional.group_norm(x, 3), atol=1e-5)
    True
    """
    dims = list(reduce_dims(kind, layout))
    if x.dim() != len(LAYOUTS[layout]):
        raise ValueError(
            f"layout {layout!r} expects a {len(LAYOUTS[layout])}D tensor "
            f"{LAYOUTS[layout]}, got shape {list(x.shape)}"
        )
    if kind == "rms":
        return x * torch.rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)
    if kind == "group":
        c = channel_dim(layout)
        C = x.shape[c]
        if C % groups != 0:
            raise ValueError(f"{C} channels cannot be split into {groups} groups")
        # split the channel dim into (G, C/G); average over C/G and the other dims
        split = x.unflatten(c, (groups, C // groups))
        # the dims after the channel dim shift right by one
        sdims = [d + 1 if d >= c else d for d in dims]
        mean, var = moments(split, sdims)  # biased variance, as every norm
        return standardize(split, mean, var, eps).flatten(c, c + 1)
    mean, var = moments(x, dims)
    return standardize(x, mean, var, eps)
