"""The kernels the benchmark adds to torch's and normhelpers' norms.

- :func:`batch_norm_one_pass` and :func:`layer_norm_one_pass`: BatchNorm and LayerNorm written
  for a fusing compiler, with both statistics from one pass over x (and a shift against
  cancellation), then the core's :func:`~normhelpers.functional.standardize` and
  :func:`~normhelpers.functional.affine`;
- :func:`affine`: the reference y = x * a + b in ONE eager kernel (the core's ``affine`` is two:
  a multiplication, then an addition).
"""

from __future__ import annotations

import torch
from torch import Tensor

import normhelpers.functional as NF

__all__ = ["EPS", "batch_norm_one_pass", "layer_norm_one_pass", "affine"]

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
