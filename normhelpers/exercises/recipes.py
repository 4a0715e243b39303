"""A norm's recipe as data, and the one function that computes any recipe.

A :class:`Recipe` says which values share one statistic and how the statistics are used.
The correct norm is one recipe; each classic mistake is the same recipe with one field
changed (see :mod:`normhelpers.exercises.catalogue`). :func:`normalize` and
:func:`running_stats` compute a recipe with the shared core of
:mod:`normhelpers.core` (``moments``, ``standardize``, ``affine``, ``update_running``).

Shape notation: N batch, C channels, ``*`` spatial or time dims, G groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from normhelpers.core import affine, moments, standardize, update_running


@dataclass(frozen=True)
class Recipe:
    """How a norm computes its output from x (N, C, *) or (*, *normalized_shape).

    over: which dims of x share one mean and variance:
        "channel" all but dim 1 (BatchNorm), "sample" all but dim 0, "batch" dim 0 only,
        "positions" dims 2, 3, ... (InstanceNorm), "last" the last dim, "channels" dim 1,
        "trailing" the normalized_shape dims (LayerNorm); for GroupNorm, x is viewed as
        (N, G, C/G, *): "group" one statistic per (sample, group) over (C/G, *),
        "group_channels" over C/G only (not the positions), "group_interleaved" groups made
        of every G-th channel.
    groups: the G of the group view: "num_groups" as given, "as_size" (num_groups used as
        the group size, G = C / num_groups), "one" (G = 1), "per_channel" (G = C).
    center: subtract the mean from x (False: divide x itself).
    centered_var: the variance of the deviations (False: the mean of the squares).
    correction: 0 for the biased variance (divide by n), 1 for the unbiased one (n - 1).
    average: average the squares (False: sum them).
    eps: "inside" the square root, "outside" it (added to the standard deviation), "missing".
    root: divide by the square root of the statistic (False: by the statistic itself).
    affine: weight and bias applied "after" normalizing, "before" it, or "none".
    params: "channel" for (C,) weight and bias along dim 1; "element" for parameters shaped
        like the trailing dims, used as they are.
    momentum: running statistics: momentum weighs the "new" batch value, the "old" running
        value (reversed), or is "ignored" (the old value is dropped).
    running_var: the running update stores the "variance" or its square root, the "std".

    Example:

    >>> unbiased = Recipe(over="channel", correction=1)
    >>> unbiased.over, unbiased.correction, unbiased.eps
    ('channel', 1, 'inside')
    """

    over: str
    groups: str = "num_groups"
    center: bool = True
    centered_var: bool = True
    correction: int = 0
    average: bool = True
    eps: str = "inside"
    root: bool = True
    affine: str = "after"
    params: str = "channel"
    momentum: str = "new"
    running_var: str = "variance"


_GROUP_VIEWS = ("group", "group_channels", "group_interleaved")


def _plain_dims(over: str, ndim: int, trailing: int) -> list[int]:
    """The dims a non-group recipe reduces, for an input with ``ndim`` dims."""
    return {
        "channel": [0, *range(2, ndim)],
        "sample": list(range(1, ndim)),
        "batch": [0],
        "positions": list(range(2, ndim)),
        "last": [ndim - 1],
        "channels": [1],
        "trailing": list(range(ndim - trailing, ndim)),
    }[over]


def _group_view(recipe: Recipe, x: Tensor, num_groups: int) -> tuple[Tensor, list[int]]:
    """x (N, C, *) viewed with a group axis, and the dims of that view sharing a statistic.

    Returns (N, G, C/G, *) for blocks of consecutive channels, (N, C/G, G, *) when the
    groups are interleaved (channel k in group k % G).
    """
    n, c, rest = x.shape[0], x.shape[1], list(x.shape[2:])
    g = {"num_groups": num_groups, "as_size": c // num_groups, "one": 1, "per_channel": c}[
        recipe.groups
    ]
    if recipe.over == "group_interleaved":
        return x.reshape([n, c // g, g, *rest]), [1, *range(3, x.dim() + 1)]
    view = x.reshape([n, g, c // g, *rest])
    return view, ([2] if recipe.over == "group_channels" else list(range(2, view.dim())))


def _statistics(recipe: Recipe, x: Tensor, dims: list[int]) -> tuple[Tensor, Tensor]:
    """(center, spread) over ``dims``, kept as size-1 dims: the mean (or 0) and the
    variance or mean square the recipe divides by."""
    mean, var = moments(x, dims)
    if not recipe.centered_var:
        var = (x * x).mean(dim=dims, keepdim=True)  # the mean of the squares
    n = math.prod(x.shape[d] for d in dims)
    if recipe.correction:
        var = var * n / (n - recipe.correction)
    if not recipe.average:
        var = var * n  # the sum instead of the mean
    return (mean if recipe.center else torch.zeros_like(mean)), var


def _divide(recipe: Recipe, x: Tensor, center: Tensor, spread: Tensor, eps: float) -> Tensor:
    """(x - center) / sqrt(spread + eps), or the recipe's wrong version of it."""
    if not recipe.root:
        return (x - center) / (spread + eps)
    if recipe.eps == "outside":
        return (x - center) / (spread.sqrt() + eps)
    return standardize(x, center, spread, eps if recipe.eps == "inside" else 0.0)


def _scale_shift(recipe: Recipe, y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """y * weight + bias, per channel (reshaped to (1, C, 1, ...)) or per element."""
    shape = [1, -1] + [1] * (y.dim() - 2) if recipe.params == "channel" else None
    return affine(y, weight, bias, shape)


def normalize(
    recipe: Recipe,
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
    trailing: int = 1,
    num_groups: int = 1,
) -> Tensor:
    """The output of ``recipe`` on x: statistics, standardize, affine (or a wrong version).

    x: (N, C, *) or (*, *normalized_shape) with ``trailing = len(normalized_shape)``.
    weight, bias: (C,) or normalized_shape, either may be None. num_groups: GroupNorm's G.
    Returns a tensor of the shape of x.
    """
    if recipe.affine == "before":
        x = _scale_shift(recipe, x, weight, bias)
    if recipe.over in _GROUP_VIEWS:
        view, dims = _group_view(recipe, x, num_groups)
    else:
        view, dims = x, _plain_dims(recipe.over, x.dim(), trailing)
    center, spread = _statistics(recipe, view, dims)
    y = _divide(recipe, view, center, spread, eps).reshape(x.shape)
    return _scale_shift(recipe, y, weight, bias) if recipe.affine == "after" else y


def running_stats(
    recipe: Recipe,
    running_mean: Tensor,
    running_var: Tensor,
    x: Tensor,
    momentum: float,
) -> tuple[Tensor, Tensor]:
    """New (running_mean, running_var) after one training step on x, following ``recipe``.

    x: (N, C) or (N, C, *); running_mean, running_var: (C,). Returns two new (C,) tensors
    (the inputs are not changed).
    """
    dims = _plain_dims(recipe.over, x.dim(), 1)
    mean, var = _statistics(recipe, x, dims)
    if recipe.running_var == "std":
        var = var.sqrt()
    weight = {"new": momentum, "old": 1.0 - momentum, "ignored": 1.0}[recipe.momentum]
    new_mean, new_var = running_mean.clone(), running_var.clone()
    update_running(new_mean, mean.reshape(-1), weight)
    update_running(new_var, var.reshape(-1), weight)
    return new_mean, new_var
