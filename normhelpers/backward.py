r"""Backward passes of BatchNorm and LayerNorm, written by hand as ``torch.autograd.Function``.

Both norms compute, for every group of ``n`` elements that share one statistic,

    x_hat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps),   y = x_hat * weight + bias

and so both have the same backward pass. With ``g = dL/dx_hat = dL/dy * weight``:

    dL/dx = rstd * (g - mean(g) - x_hat * mean(g * x_hat))

where the means are over the same ``n`` elements. The two terms that are subtracted remove
the part of ``g`` along the constant vector and the part along ``x_hat``: a projection
(exact for eps = 0). The norms differ only in *which* dims the means run over:

- BatchNorm (training mode), input (N, C, *): dims 0 and 2, 3, ... (all but the channel);
- LayerNorm, input (*, *normalized_shape): the trailing ``len(normalized_shape)`` dims.

The chapter "Gradients by hand" derives the formula; the tests check it with gradcheck.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from normhelpers.core import affine, moments

__all__ = [
    "normalize_forward",
    "normalize_backward",
    "BatchNormFunction",
    "LayerNormFunction",
    "batch_norm_manual",
    "layer_norm_manual",
]


def normalize_forward(x: Tensor, dims: list[int], eps: float) -> tuple[Tensor, Tensor]:
    """x_hat = (x - mean) * rstd and rstd = 1/sqrt(var + eps), statistics over ``dims``.

    x: any shape. Returns x_hat (shape of x) and rstd (shape of x with size 1 in
    ``dims``). The variance is the biased one (divide by the number of elements), as in
    every norm.

    Example:

    >>> xhat, rstd = normalize_forward(torch.tensor([[1.0, 3.0]]), [1], eps=0.0)
    >>> xhat.tolist(), rstd.tolist()
    ([[-1.0, 1.0]], [[1.0]])
    """
    mean, var = moments(x, dims)
    rstd = torch.rsqrt(var + eps)
    return (x - mean) * rstd, rstd


def normalize_backward(
    grad_xhat: Tensor,
    xhat: Tensor,
    rstd: Tensor,
    dims: list[int],
) -> Tensor:
    r"""dL/dx from dL/dx_hat: ``rstd * (g - mean(g) - x_hat * mean(g * x_hat))``.

    grad_xhat, xhat: same shape; rstd: size 1 in ``dims``; means over ``dims``.

    $\frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}
    \left(g - \bar g - \hat x\, \overline{g \hat x}\right)$

    Example:

    >>> x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    >>> xhat, rstd = normalize_forward(x, [1], eps=1e-5)
    >>> g = torch.randn(4, 6, dtype=torch.float64)
    >>> (auto,) = torch.autograd.grad(xhat, x, g)
    >>> torch.allclose(normalize_backward(g, xhat.detach(), rstd.detach(), [1]), auto)
    True
    """
    mean_g = grad_xhat.mean(dim=dims, keepdim=True)
    mean_gx = (grad_xhat * xhat).mean(dim=dims, keepdim=True)
    return rstd * (grad_xhat - mean_g - xhat * mean_gx)


def _batch_dims(x: Tensor) -> tuple[list[int], list[int]]:
    """BatchNorm on (N, C, *): the dims to reduce, and the shape (1, C, 1, ...) of weight."""
    if x.dim() < 2:
        raise ValueError(f"batch norm expects input of shape (N, C, *), got {list(x.shape)}")
    dims = [0] + list(range(2, x.dim()))
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    return dims, shape


class BatchNormFunction(torch.autograd.Function):
    """Training-mode BatchNorm over (N, C, *) with a hand-written backward.

    forward(x, weight, bias, eps): x (N, C, *); weight, bias (C,) or None.
    No running statistics: they do not take part in the gradient.

    Example:

    >>> x = torch.randn(4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    >>> w = torch.rand(3, dtype=torch.float64, requires_grad=True)
    >>> b = torch.rand(3, dtype=torch.float64, requires_grad=True)
    >>> f = lambda x, w, b: BatchNormFunction.apply(x, w, b, 1e-5)
    >>> torch.autograd.gradcheck(f, (x, w, b))
    True
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float
    ) -> Tensor:
        dims, shape = _batch_dims(x)
        xhat, rstd = normalize_forward(x, dims, eps)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.dims, ctx.shape, ctx.has_bias = dims, shape, bias is not None
        return affine(xhat, weight, bias, shape)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        xhat, rstd, weight = ctx.saved_tensors
        dims = ctx.dims
        grad_xhat = grad_y if weight is None else grad_y * weight.reshape(ctx.shape)
        grad_x = normalize_backward(grad_xhat, xhat, rstd, dims)
        grad_w = None if weight is None else (grad_y * xhat).sum(dim=dims)
        grad_b = grad_y.sum(dim=dims) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm over the trailing dims ``normalized_shape`` with a hand-written backward.

    forward(x, normalized_shape, weight, bias, eps): x (*, *normalized_shape);
    weight, bias of shape normalized_shape, or None.

    Example:

    >>> x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    >>> w = torch.rand(4, dtype=torch.float64, requires_grad=True)
    >>> b = torch.rand(4, dtype=torch.float64, requires_grad=True)
    >>> f = lambda x, w, b: LayerNormFunction.apply(x, (4,), w, b, 1e-5)
    >>> torch.autograd.gradcheck(f, (x, w, b))
    True
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        normalized_shape: Sequence[int],
        weight: Tensor | None,
        bias: Tensor | None,
        eps: float,
    ) -> Tensor:
        k = len(normalized_shape)
        if list(x.shape[x.dim() - k :]) != list(normalized_shape):
            raise ValueError(f"input {list(x.shape)} does not end in {list(normalized_shape)}")
        dims = list(range(x.dim() - k, x.dim()))  # the trailing k dims
        xhat, rstd = normalize_forward(x, dims, eps)
        ctx.save_for_backward(xhat, rstd, weight)
        ctx.dims, ctx.has_bias = dims, bias is not None
        return affine(xhat, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor | None, ...]:
        xhat, rstd, weight = ctx.saved_tensors
        dims = ctx.dims
        # the leading dims, one statistic each: weight and bias gradients sum over them
        lead = list(range(xhat.dim() - len(dims)))
        grad_xhat = grad_y if weight is None else grad_y * weight
        grad_x = normalize_backward(grad_xhat, xhat, rstd, dims)
        grad_w = None if weight is None else (grad_y * xhat).sum(dim=lead)
        grad_b = grad_y.sum(dim=lead) if ctx.has_bias else None
        return grad_x, None, grad_w, grad_b, None


def batch_norm_manual(
    x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Training-mode batch norm of x (N, C, *) whose backward is :class:`BatchNormFunction`.

    Example:

    >>> x = torch.randn(8, 3, requires_grad=True)
    >>> y = batch_norm_manual(x)
    >>> y.shape, y.grad_fn.name()
    (torch.Size([8, 3]), 'BatchNormFunctionBackward')
    """
    return BatchNormFunction.apply(x, weight, bias, eps)


def layer_norm_manual(
    x: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer norm of x (*, *normalized_shape) whose backward is :class:`LayerNormFunction`.

    Example:

    >>> x = torch.randn(2, 5, 8, requires_grad=True)
    >>> y = layer_norm_manual(x, (8,))
    >>> y.shape, y.grad_fn.name()
    (torch.Size([2, 5, 8]), 'LayerNormFunctionBackward')
    """
    return LayerNormFunction.apply(x, tuple(normalized_shape), weight, bias, eps)
