"""Normalization functions written from elementary tensor operations.

Each function has the signature and the semantics of the function of the same name in
``torch.nn.functional`` (PyTorch 2.13), and is built only from ``mean``, ``sum``, ``rsqrt``,
arithmetic and reshapes: never from torch's own normalization kernels. The book displays
these functions, so each one is short and says what it computes. The pieces they are made of
(``upcast``, ``moments``, ``standardize``, ``affine``, ``update_running``) live in
:mod:`normhelpers.core` and are re-exported here under the same names (``NF.moments``).

Shape notation: N batch, C channels (features), ``*`` any number of spatial or time
dimensions (H, W, L, ...), G groups.

Every norm except RMSNorm computes

    y = (x - mean) / sqrt(var + eps) * weight + bias

where ``var`` is the **biased** variance (divide by the number of elements) and eps sits
**inside** the square root. RMSNorm does not centre:
y = x / sqrt(mean(x**2) + eps) * weight, with no mean subtracted and no bias.

Beyond which elements share one statistic, the norms differ in the shape of weight and
bias (per channel for batch, instance and group norm; per element for layer and RMS
norm), in training vs evaluation (batch norm, and instance norm when asked, keep running
statistics for evaluation; the others compute the same in both modes) and in their
defaults (instance norm: no affine parameters and no running statistics; RMS norm:
eps=None, the machine epsilon of the compute dtype).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from normhelpers.core import CORE, affine, moments, standardize, upcast, update_running

# the norms, with torch.nn.functional's signatures
NORM_FUNCTIONS = ("batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm")
__all__ = [*NORM_FUNCTIONS, *CORE]


def _check_per_channel(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
) -> None:
    """Raise torch's RuntimeError when a per-channel vector, (C,) for input (N, C, *), has the
    wrong number of elements. Vectors that are None are not checked."""
    C = input.shape[1]
    vectors = [("running_mean", running_mean), ("running_var", running_var)]
    for name, t in [*vectors, ("weight", weight), ("bias", bias)]:
        if t is not None and t.numel() != C:
            raise RuntimeError(
                f"{name} should contain {C} elements (one per channel), got shape "
                f"{list(t.shape)} for input of shape {list(input.shape)}"
            )


def _verify_more_than_one_value(x: Tensor, values_per_channel: int) -> None:
    """Training statistics need at least 2 values per channel, as in torch."""
    if values_per_channel == 1:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            f"{x.shape} (N x spatial = 1: the batch variance would be 0 and carry no signal)"
        )


def _empty_output(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """torch's result for an input with no elements: an empty tensor of the input's shape and
    dtype. It still depends on weight and bias, so their gradients come out as zeros."""
    out = input.clone()
    for t in (weight, bias):
        if t is not None:
            out = out + 0 * t.sum()  # adds nothing to an empty tensor; only links t to out
    return out


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Batch normalization: one mean and variance **per channel**, over N and all
    spatial dims.

    input: (N, C) or (N, C, *). weight, bias, running_mean, running_var: (C,).

    training=True:  normalize with the batch statistics (biased variance) and, if
                    given, update the running statistics in place with the
                    **unbiased** variance:
                    running = (1 - momentum) * running + momentum * batch_statistic.
    training=False: normalize with running_mean and running_var.

    $y = \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} \gamma_c + \beta_c$

    Example:

    >>> x = torch.randn(8, 3, 4, 4)
    >>> y = batch_norm(x, None, None, training=True)
    >>> y.shape
    torch.Size([8, 3, 4, 4])
    >>> torch.allclose(y, torch.nn.functional.batch_norm(x, None, None, training=True),
    ...                atol=1e-5)
    True
    """
    if training:  # values per channel: N * prod(spatial), checked first as torch does
        n = input.shape[0] * math.prod(input.shape[2:])
        _verify_more_than_one_value(input, n)
    if training and eps <= 0.0:
        msg = f"batch_norm eps must be positive during training, but got {eps}"
        raise ValueError(msg)
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if input.numel() == 0:  # empty batch: torch checks no shape, updates no statistic
        return _empty_output(input, weight, bias)
    if input.dim() < 2:
        expected = "batch_norm expects input of shape (N, C, *)"
        raise RuntimeError(f"{expected}, got shape {list(input.shape)}")
    C = input.shape[1]
    _check_per_channel(input, running_mean, running_var, weight, bias)
    dims = [0] + list(range(2, input.dim()))  # every dim except the channel dim 1
    shape = [1, C] + [1] * (input.dim() - 2)  # (1, C, 1, ..., 1)
    x = upcast(input)
    if training:
        mean, var = moments(x, dims)
        update_running(running_mean, mean.detach().reshape(C), momentum)
        update_running(running_var, var.detach().reshape(C) * n / (n - 1), momentum)
    else:
        if running_mean is None or running_var is None:
            msg = "batch_norm in evaluation mode needs running_mean and running_var"
            raise RuntimeError(msg)
        mean = running_mean.reshape(shape).to(x.dtype)
        var = running_var.reshape(shape).to(x.dtype)
    y = standardize(x, mean, var, eps)
    return affine(y, weight, bias, shape).to(input.dtype)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    r"""Instance normalization: one mean and variance **per sample and channel**, over spatial dims.

    input: (N, C, *) with at least one spatial/time dim. weight, bias, running_*: (C,).

    use_input_stats=True: normalize each (n, c) slice with its own statistics and, if given,
    update running_* with the statistics averaged over the batch (unbiased variance).
    use_input_stats=False: normalize with running_mean and running_var.

    $y = \frac{x - \mu_{n,c}}{\sqrt{\sigma_{n,c}^2 + \epsilon}} \gamma_c + \beta_c$

    Example:

    >>> x = torch.randn(2, 3, 5, 5)
    >>> y = instance_norm(x)
    >>> y.shape
    torch.Size([2, 3, 5, 5])
    >>> torch.allclose(y, torch.nn.functional.instance_norm(x), atol=1e-5)
    True
    """
    n = math.prod(input.shape[2:])  # values per (sample, channel): prod(spatial)
    if use_input_stats and n == 1:  # also rejects (N, C) inputs, which have no spatial dim
        raise ValueError(
            f"Expected more than 1 spatial element when training, got input size {input.shape}"
        )
    if input.shape[0] == 0 and (weight is not None or bias is not None):
        raise IndexError(  # torch's error (its kernel repeats weight and bias once per sample)
            f"instance_norm with weight or bias needs at least one sample, got input of shape "
            f"{list(input.shape)}"
        )
    C = input.shape[1]
    _check_per_channel(input, running_mean, running_var, weight, bias)
    dims = list(range(2, input.dim()))  # spatial dims only
    shape = [1, C] + [1] * (input.dim() - 2)
    x = upcast(input)
    if use_input_stats:
        mean, var = moments(x, dims)
        if n > 0:  # no spatial element (e.g. L = 0): torch leaves running_* as they are
            update_running(running_mean, mean.detach().mean(0).reshape(C), momentum)
            update_running(running_var, (var.detach() * n / (n - 1)).mean(0).reshape(C), momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm with use_input_stats=False needs running statistics")
        mean, var = running_mean.reshape(shape).to(x.dtype), running_var.reshape(shape).to(x.dtype)
    y = standardize(x, mean, var, eps)
    return affine(y, weight, bias, shape).to(input.dtype)


def _check_normalized_shape(input: Tensor, normalized_shape: Sequence[int]) -> list[int]:
    """Trailing dims of input must equal normalized_shape; return the dims to reduce."""
    shape = list(normalized_shape)
    k = len(shape)
    if k == 0 or input.dim() < k or list(input.shape[-k:]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={shape}, expected input with shape [*, "
            f"{', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    return list(range(input.dim() - k, input.dim()))


def _check_elementwise(
    normalized_shape: Sequence[int], weight: Tensor | None, bias: Tensor | None
) -> None:
    """Raise torch's RuntimeError when a per-element weight or bias (layer and RMS norm) does
    not have the shape normalized_shape. Parameters that are None are not checked."""
    for name, t in [("weight", weight), ("bias", bias)]:
        if t is not None and list(t.shape) != list(normalized_shape):
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got "
                f"{name} of shape {list(t.shape)} and normalized_shape = "
                f"{list(normalized_shape)}"
            )


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Layer normalization: one mean and variance **per sample** (per token), over the
    trailing dims given by ``normalized_shape``.

    input: (*, *normalized_shape). weight, bias: normalized_shape (one value **per
    element**). Same computation in training and evaluation: no running statistics.

    $y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta$

    Example:

    >>> x = torch.randn(2, 5, 8)  # (N, L, D)
    >>> y = layer_norm(x, [8])
    >>> y.shape
    torch.Size([2, 5, 8])
    >>> torch.allclose(y, torch.nn.functional.layer_norm(x, [8]), atol=1e-5)
    True
    """
    dims = _check_normalized_shape(input, normalized_shape)
    _check_elementwise(normalized_shape, weight, bias)
    x = upcast(input)
    mean, var = moments(x, dims)
    return affine(standardize(x, mean, var, eps), weight, bias).to(input.dtype)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    r"""Group normalization: channels split into G groups of C/G; one mean and variance
    **per sample and group**, over (C/G, *).

    input: (N, C, *). weight, bias: (C,) (one value **per channel**, as in BatchNorm).
    G = 1 gives LayerNorm's statistics over (C, *); G = C gives InstanceNorm's.

    $y = \frac{x - \mu_{n,g}}{\sqrt{\sigma_{n,g}^2 + \epsilon}} \gamma_c + \beta_c$

    Example:

    >>> x = torch.randn(2, 6, 4, 4)
    >>> y = group_norm(x, 3)
    >>> y.shape
    torch.Size([2, 6, 4, 4])
    >>> torch.allclose(y, torch.nn.functional.group_norm(x, 3), atol=1e-5)
    True
    """
    if input.dim() < 2:
        raise RuntimeError(
            "Expected at least 2 dimensions for input tensor but received "
            f"{input.dim()} (input of shape {list(input.shape)}; GroupNorm expects "
            "(N, C, *))"
        )
    N, C = input.shape[0], input.shape[1]
    spatial = math.prod(input.shape[2:])
    # torch's own check: more than one value per (sample, group)
    _verify_more_than_one_value(input, (N * C // num_groups) * spatial)
    if C % num_groups != 0:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but "
            f"got input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    _check_per_channel(input, None, None, weight, bias)
    x = upcast(input)
    # (N, G, C/G * prod(spatial)): the elements of one group side by side
    grouped = x.reshape(N, num_groups, C // num_groups * spatial)
    mean, var = moments(grouped, [2])
    y = standardize(grouped, mean, var, eps).reshape(input.shape)
    shape = [1, C] + [1] * (input.dim() - 2)
    return affine(y, weight, bias, shape).to(input.dtype)


def rms_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    r"""Root-mean-square normalization: divide by the RMS over the trailing dims; no
    mean is subtracted and there is no bias.

    input: (*, *normalized_shape). weight: normalized_shape.
    eps=None means ``torch.finfo(dtype).eps`` of the compute dtype (float32 for half
    inputs).

    $y = \frac{x}{\sqrt{\frac{1}{D}\sum_i x_i^2 + \epsilon}} \odot \gamma$

    Example:

    >>> x = torch.randn(2, 5, 8)
    >>> y = rms_norm(x, [8])
    >>> y.shape
    torch.Size([2, 5, 8])
    >>> torch.allclose(y, torch.nn.functional.rms_norm(x, [8]), atol=1e-5)
    True
    """
    dims = _check_normalized_shape(input, normalized_shape)
    _check_elementwise(normalized_shape, weight, None)
    x = upcast(input)
    if eps is None:  # as torch: the machine epsilon of the dtype the arithmetic runs in
        eps = torch.finfo(x.dtype).eps
    y = x * torch.rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)
    if weight is not None:
        y = y * weight
    return y.to(input.dtype)
