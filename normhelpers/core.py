"""The four steps every norm is made of: statistics -> standardize -> affine, and for the layers
that keep running statistics, the running update.

- :func:`upcast`: half-precision inputs are normalized in float32, as torch does.
- :func:`moments`: mean and **biased** variance over some dims, kept for broadcasting.
- :func:`standardize`: (x - mean) / sqrt(var + eps), eps **inside** the square root.
- :func:`affine`: y * weight + bias, either optional.
- :func:`update_running`: running <- (1 - momentum) * running + momentum * batch value.

Every norm of :mod:`normhelpers.functional` (which re-exports these names: ``NF.moments``), every
module and every chapter that shows the recipe is built from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

# the pieces every norm is made of
CORE = ("upcast", "moments", "standardize", "affine", "update_running")
__all__ = list(CORE)

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def upcast(x: Tensor) -> Tensor:
    """Half-precision inputs are normalized in float32, as torch does ("opmath").

    Example:

    >>> upcast(torch.ones(2, dtype=torch.float16)).dtype
    torch.float32
    >>> upcast(torch.ones(2, dtype=torch.float64)).dtype
    torch.float64
    """
    return x.float() if x.dtype in _LOW_PRECISION else x


def moments(x: Tensor, dims: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Mean and **biased** variance over ``dims``, kept as size-1 dims for broadcasting.

    x: any shape. Returns two tensors of the shape of x with size 1 in ``dims``.
    The variance divides by the number of elements (not n - 1): that is what every norm
    normalizes with.

    Example:

    >>> x = torch.tensor([[1.0, 3.0], [5.0, 7.0]])
    >>> mean, var = moments(x, [1])
    >>> mean.tolist(), var.tolist()
    ([[2.0], [6.0]], [[1.0], [1.0]])
    """
    dims = list(dims)
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    return mean, var


def standardize(x: Tensor, mean: Tensor, var: Tensor, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps): eps sits **inside** the square root.

    Example:

    >>> x = torch.tensor([1.0, 3.0])
    >>> standardize(x, torch.tensor(2.0), torch.tensor(1.0), eps=0.0).tolist()
    [-1.0, 1.0]
    """
    return (x - mean) * torch.rsqrt(var + eps)


def affine(
    y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: Sequence[int] | None = None
) -> Tensor:
    """y * weight + bias; either may be None. ``shape`` reshapes both for broadcasting
    (e.g. (1, C, 1, 1) for per-channel parameters); None uses them as they are.

    Example:

    >>> y = torch.ones(1, 2, 1, 1)
    >>> weight, bias = torch.tensor([2.0, 3.0]), torch.tensor([0.5, 0.0])
    >>> affine(y, weight, bias, (1, 2, 1, 1)).flatten().tolist()
    [2.5, 3.0]
    >>> affine(y, None, None) is y
    True
    """
    if weight is not None:
        y = y * (weight if shape is None else weight.reshape(list(shape)))
    if bias is not None:
        y = y + (bias if shape is None else bias.reshape(list(shape)))
    return y


def update_running(running: Tensor | None, batch_value: Tensor, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch_value, in place.

    In PyTorch ``momentum`` is the weight of the **new** batch (default 0.1). Nothing
    happens when ``running`` is None.

    Example:

    >>> running = torch.zeros(2)
    >>> update_running(running, torch.tensor([1.0, 2.0]), momentum=0.5)
    >>> running.tolist()
    [0.5, 1.0]
    """
    if running is not None:
        with torch.no_grad():
            running.mul_(1.0 - momentum).add_(momentum * batch_value.to(running.dtype))
