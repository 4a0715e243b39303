"""The six ``check_*`` functions: each runs its checker (:mod:`normhelpers.exercises.cases`:
the seeded cases, torch's function and the correct recipe) on *your* function.

The checkers share the engine (:func:`~normhelpers.exercises.engine.run_check`) and the
catalogue of mistakes; they differ only in the inputs they try and in the recipe that
describes the right answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn.functional as F  # noqa: F401  (the examples below use F)
from torch import Tensor

from normhelpers.exercises.cases import (
    batch_norm_checker,
    group_norm_checker,
    instance_norm_checker,
    layer_norm_checker,
    rms_norm_checker,
    running_stats_checker,
)
from normhelpers.exercises.engine import CheckResult, run_check


def check_batch_norm(fn: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, weight, bias, eps) -> y``: BatchNorm in training mode (batch statistics).

    x: (N, C), (N, C, L) or (N, C, H, W); weight, bias: (C,). Reference:
    ``torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=eps)``.

    Example:

    >>> def my_batch_norm(x, weight, bias, eps):
    ...     return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)
    >>> bool(check_batch_norm(my_batch_norm))  # doctest: +ELLIPSIS
    ✓ ...
    True
    """
    return run_check(batch_norm_checker(), fn)


def check_running_stats(
    fn: Callable[[Tensor, Tensor, Tensor, float], tuple[Tensor, Tensor]],
) -> CheckResult:
    """Check ``fn(running_mean, running_var, x, momentum) -> (new_mean, new_var)``.

    x: (N, C) or (N, C, *); running_mean, running_var: (C,). PyTorch's convention:
    new = (1 - momentum) * old + momentum * batch statistic, with the **unbiased** batch
    variance in running_var. Reference: the buffers updated by ``F.batch_norm(training=True)``.

    Example:

    >>> def my_update(running_mean, running_var, x, momentum):
    ...     dims = [d for d in range(x.dim()) if d != 1]
    ...     mean, var = x.mean(dims), x.var(dims)  # var: unbiased, as PyTorch keeps it
    ...     return ((1 - momentum) * running_mean + momentum * mean,
    ...             (1 - momentum) * running_var + momentum * var)
    >>> bool(check_running_stats(my_update))  # doctest: +ELLIPSIS
    ✓ ...
    True
    """
    return run_check(running_stats_checker(), fn)


def check_layer_norm(
    fn: Callable[[Tensor, Sequence[int], Tensor | None, Tensor | None, float], Tensor],
) -> CheckResult:
    """Check ``fn(x, normalized_shape, weight, bias, eps) -> y``.

    Statistics over the last ``len(normalized_shape)`` dims of x; weight, bias: of shape
    normalized_shape, or None (each is tried as None). Reference: ``F.layer_norm``.

    Example:

    >>> bool(check_layer_norm(F.layer_norm))  # doctest: +ELLIPSIS
    ✓ ...
    True
    """
    return run_check(layer_norm_checker(), fn)


def check_instance_norm(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, eps) -> y``: InstanceNorm without affine, x: (N, C, *) with 1 to 3 dims *.

    One mean and variance per sample and channel, over the spatial (or time) dims.
    Reference: ``torch.nn.functional.instance_norm(x, eps=eps)``.

    Example:

    >>> bool(check_instance_norm(lambda x, eps: F.instance_norm(x, eps=eps)))
    ... # doctest: +ELLIPSIS
    ✓ ...
    True
    """
    return run_check(instance_norm_checker(), fn)


def check_group_norm(
    fn: Callable[[Tensor, int, Tensor | None, Tensor | None, float], Tensor],
) -> CheckResult:
    """Check ``fn(x, num_groups, weight, bias, eps) -> y``.

    x: (N, C, *) with C divisible by num_groups and 0 to 3 dims *; weight, bias: (C,) or None
    (each is tried as None). One statistic per sample and group of C/G consecutive channels.
    Reference: ``torch.nn.functional.group_norm``.

    Example:

    >>> def wrong(x, num_groups, weight, bias, eps):  # twice the right output
    ...     return 2 * F.group_norm(x, num_groups, weight, bias, eps)
    >>> result = check_group_norm(wrong)  # doctest: +ELLIPSIS
    ✗ check_group_norm: ...
    >>> bool(result)
    False
    """
    return run_check(group_norm_checker(), fn)


def check_rms_norm(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(x, weight, eps) -> y``: RMSNorm over the last dim, weight: (D,).

    y = x / sqrt(mean(x^2) + eps) * weight. Reference: ``torch.nn.functional.rms_norm``.

    Example:

    >>> my_rms_norm = lambda x, weight, eps: F.rms_norm(x, weight.shape, weight, eps)
    >>> bool(check_rms_norm(my_rms_norm))  # doctest: +ELLIPSIS
    ✓ ...
    True
    """
    return run_check(rms_norm_checker(), fn)
