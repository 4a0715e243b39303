r"""Fold an evaluation-mode BatchNorm into the convolution or linear layer before it.

In evaluation mode BatchNorm is a fixed affine map per channel c,

$$y_c = \gamma_c \frac{z_c - \hat\mu_c}{\sqrt{\hat\sigma_c^2 + \epsilon}} + \beta_c
      = s_c\, z_c + (\beta_c - s_c \hat\mu_c),
\qquad s_c = \frac{\gamma_c}{\sqrt{\hat\sigma_c^2 + \epsilon}},$$

and when $z = W x + b$ comes from a convolution or a linear layer, the two maps compose into one
layer of the same kind: $W'_c = s_c W_c$ (every weight of output channel c scaled by $s_c$) and
$b'_c = s_c (b_c - \hat\mu_c) + \beta_c$. The functions below accept ``torch.nn``'s BatchNorm
modules and :mod:`normhelpers.modules`' alike (anything with ``running_mean``, ``running_var``,
``eps``, ``weight``, ``bias`` and ``training``) and refuse a BatchNorm that cannot be folded.
"""

from __future__ import annotations

import copy
from typing import TypeVar, cast

import torch
from torch import Tensor, nn

__all__ = ["bn_scale_shift", "fold_weight_and_bias", "fold_bn_into_conv", "fold_bn_into_linear"]

# the layers a BatchNorm can be folded into; _folded returns the type it is given
LayerT = TypeVar("LayerT", bound="nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d")


def _check_foldable(bn: nn.Module, channels: int, layer: str, weight_shape: list[int]) -> None:
    """Raise ValueError unless ``bn`` is an eval-mode BatchNorm with running statistics of
    ``channels`` channels (the output channels of ``layer``, whose weight has ``weight_shape``)."""
    name = type(bn).__name__
    if getattr(bn, "running_mean", None) is None or getattr(bn, "running_var", None) is None:
        raise ValueError(
            f"cannot fold {name} with track_running_stats=False: it has no running statistics "
            "and normalizes with the statistics of each batch, in training and in eval mode"
        )
    if bn.training:
        raise ValueError(
            f"cannot fold {name} in training mode: it normalizes with the statistics of each "
            "batch, which no fixed weight can reproduce; call .eval() on the model first"
        )
    running_mean = bn.running_mean
    assert isinstance(running_mean, Tensor)  # not None: checked above
    if running_mean.shape != (channels,):
        raise ValueError(
            f"channel count mismatch: {layer} has {channels} output channels (weight shape "
            f"{weight_shape}) but {name} has running_mean of shape {list(running_mean.shape)}"
        )


def bn_scale_shift(bn: nn.Module) -> tuple[Tensor, Tensor]:
    """The eval-mode BatchNorm as ``y = scale * z + shift`` per channel.

    scale = weight / sqrt(running_var + eps), shift = bias - running_mean * scale: two
    tensors of shape (C,) (weight 1 and bias 0 when the layer has none).

    Example:

    >>> bn = nn.BatchNorm2d(2).eval()
    >>> _ = bn.running_var.fill_(4.0)
    >>> bn.eps = 0.0
    >>> scale, shift = bn_scale_shift(bn)
    >>> scale.tolist(), shift.tolist()
    ([0.5, 0.5], [0.0, 0.0])
    """
    mean, var = bn.running_mean, bn.running_var
    assert isinstance(mean, Tensor) and isinstance(var, Tensor), "no running statistics"
    eps = cast(float, bn.eps)  # a number; nn.Module types attributes as Tensor | Module
    scale = torch.rsqrt(var + eps)
    if isinstance(bn.weight, Tensor):  # None when affine=False
        scale = scale * bn.weight
    shift = -mean * scale
    if isinstance(bn.bias, Tensor):
        shift = shift + bn.bias
    return scale, shift


def fold_weight_and_bias(
    weight: Tensor, bias: Tensor | None, bn: nn.Module
) -> tuple[Tensor, Tensor]:
    """W' and b' of the layer that computes ``bn(layer(x))`` in one step.

    weight: (C_out, ...) of the layer before ``bn`` (conv or linear).
    bias: (C_out,) or None. Returns W' = scale[c] * weight[c] for every output channel c
    and b' = (b - mean) * scale + beta.

    Example:

    >>> linear, bn = nn.Linear(3, 2), nn.BatchNorm1d(2).eval()
    >>> w, b = fold_weight_and_bias(linear.weight, linear.bias, bn)
    >>> w.shape, b.shape
    (torch.Size([2, 3]), torch.Size([2]))
    """
    with torch.no_grad():
        scale, shift = bn_scale_shift(bn)
        b = torch.zeros_like(shift) if bias is None else bias
        row_shape = (-1, *([1] * (weight.dim() - 1)))  # (C_out, 1, ...)
        new_weight = weight * scale.reshape(row_shape)  # row c times s_c
        new_bias = b * scale + shift  # = (b - running_mean) * scale + beta
    return new_weight.to(weight.dtype), new_bias.to(weight.dtype)


def _folded(layer: LayerT, bn: nn.Module) -> LayerT:
    """A copy of ``layer`` whose weight and bias are replaced by the folded ones."""
    fused = copy.deepcopy(layer)
    new_weight, new_bias = fold_weight_and_bias(layer.weight.detach(), layer.bias, bn)
    fused.weight = nn.Parameter(new_weight)
    fused.bias = nn.Parameter(new_bias)  # also when the layer had no bias
    return fused


def fold_bn_into_conv(conv: nn.Conv2d, bn: nn.Module) -> nn.Conv2d:
    """A new convolution equal to ``bn(conv(x))`` for an eval-mode ``bn``; the inputs are unchanged.

    conv: ``nn.Conv1d/2d/3d`` with weight (C_out, C_in / groups, *kernel), any ``groups``
    (depthwise included), with or without bias. bn: eval-mode BatchNorm over C_out channels,
    from ``torch.nn`` or ``normhelpers``. Raises ValueError if ``bn`` cannot be folded, TypeError
    for a transposed convolution (its weight is laid out (C_in, C_out / groups, *kernel)).

    Example:

    >>> conv, bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    >>> _ = bn(conv(torch.randn(8, 3, 6, 6)))  # training step: running statistics
    >>> _ = bn.eval()
    >>> x = torch.randn(2, 3, 6, 6)
    >>> with torch.no_grad():
    ...     torch.allclose(fold_bn_into_conv(conv, bn)(x), bn(conv(x)), atol=1e-5)
    True
    """
    if getattr(conv, "transposed", False):
        raise TypeError(
            f"{type(conv).__name__} is transposed: fold_bn_into_conv needs a "
            "convolution whose weight has the output channels in dim 0"
        )
    _check_foldable(bn, conv.out_channels, type(conv).__name__, list(conv.weight.shape))
    return _folded(conv, bn)


def fold_bn_into_linear(linear: nn.Linear, bn: nn.Module) -> nn.Linear:
    """A new linear layer equal to ``bn(linear(x))`` for an eval-mode ``bn`` over D_out features.

    linear: weight (D_out, D_in), with or without bias. For (N, L, D) inputs the BatchNorm sees
    ``linear(x).transpose(1, 2)``; the folded layer then replaces both, with no transpose.

    Example:

    >>> linear, bn = nn.Linear(3, 4), nn.BatchNorm1d(4)
    >>> _ = bn(linear(torch.randn(8, 3)))
    >>> _ = bn.eval()
    >>> x = torch.randn(2, 3)
    >>> with torch.no_grad():
    ...     torch.allclose(fold_bn_into_linear(linear, bn)(x), bn(linear(x)), atol=1e-5)
    True
    """
    _check_foldable(bn, linear.out_features, type(linear).__name__, list(linear.weight.shape))
    return _folded(linear, bn)
