"""The kernels the benchmark adds to torch's and normhelpers' norms.

- :func:`batch_norm_one_pass` and :func:`layer_norm_one_pass`: BatchNorm and LayerNorm written
  for a fusing compiler, with both statistics from one pass over x (and a shift against
  cancellation), then the core's :func:`~normhelpers.functional.standardize` and
  :func:`~normhelpers.functional.affine`;
- :func:`batch_norm_rows`: training-mode BatchNorm whose statistics a compiler computes while
  it streams x in memory order: two-pass statistics of every contiguous row of H*W values,
  merged over the batch with Chan's formula, then one multiply-add per element;
- :func:`batch_norm_backward_rows` and :func:`layer_norm_backward`: the input, weight and bias
  gradients of the two norms, from x, the upstream gradient and the saved statistics, written
  for a fusing compiler (the formula of :mod:`normhelpers.backward`);
- :func:`affine`: the reference y = x * a + b in ONE eager kernel (the core's ``affine`` is two:
  a multiplication, then an addition).
"""

from __future__ import annotations

import torch
from torch import Tensor

import normhelpers.functional as NF

__all__ = [
    "EPS",
    "batch_norm_one_pass",
    "batch_norm_rows",
    "layer_norm_one_pass",
    "batch_norm_backward_rows",
    "layer_norm_backward",
    "affine",
]

EPS = 1e-5


def batch_norm_one_pass(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    eps: float = EPS,
) -> Tensor:
    r"""Training-mode BatchNorm written for a fusing compiler.

    x: (N, C, *); weight, bias: (C,).
    Both statistics come from ONE pass over x: the sums of $d$ and $d^2$, where
    $d = x - s$ and the shift $s$ is the channel's mean over the first sample only (it
    costs a read of 1/N of x). Because $s$ is close to the channel's mean, $\bar d$ is
    small and $\mathrm{var} = \overline{d^2} - \bar d^{\,2}$ does not cancel
    catastrophically. The output is one multiply-add per element, $y = d\,a + b$, with
    $a = \gamma / \sqrt{\mathrm{var} + \epsilon}$ and $b = \beta - \bar d\,a$ of
    shape (C,).

    Example:

    >>> x, w, b = torch.randn(8, 3, 4, 4) + 100, torch.ones(3), torch.zeros(3)
    >>> y = batch_norm_one_pass(x, w, b)
    >>> torch.allclose(y, torch.nn.functional.batch_norm(x, None, None, w, b, True),
    ...                atol=1e-3)
    True
    """
    C = x.shape[1]
    shape = [1, C] + [1] * (x.dim() - 2)  # (1, C, 1, ..., 1)
    dims = [0] + list(range(2, x.dim()))  # every dim except C
    n = x.numel() // C  # values per channel
    xf = NF.upcast(x)
    shift = xf[:1].mean(dims, keepdim=True).detach()  # first sample: (1, C, 1, ..., 1)
    d = xf - shift
    mean_d = d.sum(dims, keepdim=True) / n
    var = (d * d).sum(dims, keepdim=True) / n - mean_d * mean_d
    a = weight.reshape(shape) * torch.rsqrt(var + eps)
    b = bias.reshape(shape) - mean_d * a
    return NF.affine(d, a, b).to(x.dtype)


def _rows(x: Tensor) -> Tensor:
    """(N, C, *) -> (N, C, prod(*)): the rows that are contiguous in memory (NCHW layout)."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _per_channel(t: Tensor, x: Tensor) -> Tensor:
    """(C,) -> (1, C, 1, ..., 1), to broadcast over x of shape (N, C, *)."""
    return t.reshape([1, x.shape[1]] + [1] * (x.dim() - 2))


def batch_norm_rows(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    eps: float = EPS,
) -> Tensor:
    r"""Training-mode BatchNorm whose statistics are computed in the order x lies in memory.

    x: (N, C, *) contiguous; weight, bias: (C,).
    A channel of an NCHW tensor is not contiguous: it is N pieces of H*W values, one per
    sample, C*H*W values apart. A loop that finishes one channel before it starts the next
    (what Inductor writes for :func:`normhelpers.functional.batch_norm`) jumps from piece to
    piece. Here the statistics come from the rows instead: the mean $m_{nc}$ and the sum of
    squared deviations $M_{nc}$ of every row of $k = H W$ values (two passes over a row that
    sits in the first-level cache), then, per channel, Chan's merge of the $N$ rows:

    $\mu_c = \frac1N \sum_n m_{nc}$,
    $\sigma^2_c = \frac{1}{N k}\bigl(\sum_n M_{nc} + k \sum_n (m_{nc} - \mu_c)^2\bigr)$.

    A compiled version streams x once for the statistics and once for $y = x\,a + b$, with
    $a = \gamma / \sqrt{\sigma^2 + \epsilon}$ and $b = \beta - \mu\,a$ per channel.

    Example:

    >>> x, w, b = torch.randn(8, 3, 4, 4) + 100, torch.ones(3), torch.zeros(3)
    >>> y = batch_norm_rows(x, w, b)
    >>> torch.allclose(y, torch.nn.functional.batch_norm(x, None, None, w, b, True),
    ...                atol=1e-4)
    True
    """
    xf = NF.upcast(x)
    rows = _rows(xf)  # (N, C, k)
    k = rows.shape[-1]
    mean_rows = rows.mean(-1, keepdim=True)  # (N, C, 1)
    m2_rows = ((rows - mean_rows) ** 2).sum(-1)  # (N, C)
    mean_rows = mean_rows.squeeze(-1)
    mean = mean_rows.mean(0)  # (C,)
    m2 = m2_rows.sum(0) + k * ((mean_rows - mean) ** 2).sum(0)  # Chan's merge over the batch
    var = m2 / (rows.shape[0] * k)
    a = weight * torch.rsqrt(var + eps)
    b = bias - mean * a
    return NF.affine(xf, _per_channel(a, x), _per_channel(b, x)).to(x.dtype)


def layer_norm_one_pass(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    eps: float = EPS,
) -> Tensor:
    r"""LayerNorm over the last dim, written for a fusing compiler.

    x: (*, D); weight, bias: (D,).
    Both statistics of a row come from ONE pass over it: the sums of $d$ and $d^2$,
    where $d = x - s$ and the shift $s$ is the row's first element; then
    $y = (d - \bar d)\,r\,\gamma + \beta$ with
    $r = 1 / \sqrt{\overline{d^2} - \bar d^{\,2} + \epsilon}$.
    A compiled kernel walks each cached row twice instead of three times.
    The shift is the weak spot: when the first element is an outlier, every $d$ is large
    and the sums and $d - \bar d$ lose digits to rounding. With D = 1024 and a first
    feature 10 times the spread of the others, float32 outputs are off by more than
    1e-4, where the two-pass formula of :func:`normhelpers.functional.layer_norm` stays
    at round-off (see chapter 16 and the tests).

    Example:

    >>> x, w, b = torch.randn(2, 5, 8) + 100, torch.ones(8), torch.zeros(8)
    >>> y = layer_norm_one_pass(x, w, b)
    >>> torch.allclose(y, torch.nn.functional.layer_norm(x, [8], w, b), atol=1e-3)
    True
    """
    D = x.shape[-1]
    xf = NF.upcast(x)
    d = xf - xf[..., :1].detach()  # shift: the first element of each row
    mean_d = d.sum(-1, keepdim=True) / D
    var = (d * d).sum(-1, keepdim=True) / D - mean_d * mean_d
    return NF.affine(NF.standardize(d, mean_d, var, eps), weight, bias).to(x.dtype)


def batch_norm_backward_rows(
    grad_y: Tensor,
    x: Tensor,
    mean: Tensor,
    rstd: Tensor,
    weight: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Gradients of training-mode BatchNorm: (dL/dx, dL/dweight, dL/dbias).

    grad_y, x: (N, C, *) contiguous; mean, rstd (the saved $1/\sqrt{\sigma^2+\epsilon}$),
    weight: (C,). With $\hat x = (x - \mu)\,r$:
    $\partial L/\partial\beta = \sum \partial L/\partial y$,
    $\partial L/\partial\gamma = \sum \partial L/\partial y\,\hat x$ (sums over N and *), and
    $\partial L/\partial x = \gamma r\,\bigl(\partial L/\partial y - (\partial L/\partial\beta
    + \hat x\,\partial L/\partial\gamma)/n\bigr)$, the formula of
    :func:`normhelpers.backward.normalize_backward` with $g = \gamma\,\partial L/\partial y$.
    The two sums are taken row by row (contiguous rows of H*W values), then over the batch,
    as in :func:`batch_norm_rows`: memory sees x and the upstream gradient read twice (once
    for the sums, once for dL/dx) and dL/dx written once.

    Example:

    >>> x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    >>> w = torch.rand(3, dtype=torch.float64) + 0.5
    >>> y = torch.nn.functional.batch_norm(x, None, None, w, None, True, eps=1e-5)
    >>> dy = torch.randn_like(y)
    >>> (dx_auto,) = torch.autograd.grad(y, x, dy)
    >>> mean = x.detach().mean((0, 2))
    >>> rstd = torch.rsqrt(x.detach().var((0, 2), correction=0) + 1e-5)
    >>> dx, dw, db = batch_norm_backward_rows(dy, x.detach(), mean, rstd, w)
    >>> torch.allclose(dx, dx_auto)
    True
    """
    n = x.numel() // x.shape[1]
    xhat = (x - _per_channel(mean, x)) * _per_channel(rstd, x)
    grad_bias = _rows(grad_y).sum(-1).sum(0)  # (C,): by rows, then over the batch
    grad_weight = _rows(grad_y * xhat).sum(-1).sum(0)
    scale = _per_channel(weight * rstd, x)
    correction = _per_channel(grad_bias / n, x) + xhat * _per_channel(grad_weight / n, x)
    return scale * (grad_y - correction), grad_weight, grad_bias


def layer_norm_backward(
    grad_y: Tensor,
    x: Tensor,
    mean: Tensor,
    rstd: Tensor,
    weight: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Gradients of LayerNorm over the last dim: (dL/dx, dL/dweight, dL/dbias).

    grad_y, x: (*, D); mean, rstd: (*, 1), the saved statistics of each row; weight: (D,).
    With $g = \gamma\,\partial L/\partial y$ and $\hat x = (x - \mu)\,r$, each row's
    $\partial L/\partial x = r\,(g - \bar g - \hat x\,\overline{g \hat x})$ (means over the
    row), the formula of :func:`normhelpers.backward.normalize_backward`; the weight and bias
    gradients are sums over all rows. A compiled version reads each row of x and of the
    upstream gradient once from memory and writes dL/dx once.

    Example:

    >>> x = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    >>> w = torch.rand(6, dtype=torch.float64) + 0.5
    >>> y = torch.nn.functional.layer_norm(x, (6,), w, None, eps=1e-5)
    >>> dy = torch.randn_like(y)
    >>> (dx_auto,) = torch.autograd.grad(y, x, dy)
    >>> mean = x.detach().mean(-1, keepdim=True)
    >>> rstd = torch.rsqrt(x.detach().var(-1, correction=0, keepdim=True) + 1e-5)
    >>> dx, dw, db = layer_norm_backward(dy, x.detach(), mean, rstd, w)
    >>> torch.allclose(dx, dx_auto)
    True
    """
    xhat = (x - mean) * rstd
    g = grad_y * weight
    mean_g = g.mean(-1, keepdim=True)
    mean_gx = (g * xhat).mean(-1, keepdim=True)
    lead = list(range(x.dim() - 1))
    grad_weight = (grad_y * xhat).sum(lead)
    grad_bias = grad_y.sum(lead)
    return rstd * (g - mean_g - xhat * mean_gx), grad_weight, grad_bias


def affine(x: Tensor, weight: Tensor, bias: Tensor, dim: int = 1) -> Tensor:
    """y = x * weight + bias in ONE eager kernel (``torch.addcmul``); weight and bias hold one
    value per index of ``dim`` (1: per channel of (N, C, *); -1: per feature of (N, L, D)).
    The work of a BatchNorm in evaluation mode: one read of x, one write of y.

    Example:

    >>> x = torch.ones(1, 2, 1, 1)
    >>> affine(x, torch.tensor([2.0, 3.0]), torch.tensor([1.0, 0.0])).flatten().tolist()
    [3.0, 3.0]
    """
    shape = [1] * x.dim()
    shape[dim] = x.shape[dim]
    return torch.addcmul(bias.reshape(shape), x, weight.reshape(shape))
