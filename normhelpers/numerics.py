r"""Four ways to compute a variance, and what each does in finite precision.

Every function returns the **biased** variance (divide by the count ``n``), the one every
normalization layer uses, and computes in the dtype of its input: no silent upcast, because
the point is to watch float32 (or float16) arithmetic at work.

- :func:`var_one_pass`: ``mean(x**2) - mean(x)**2``. One sweep over the data, but the
  subtraction cancels catastrophically when the mean is large compared with the spread.
- :func:`var_two_pass`: first the mean, then ``mean((x - mean)**2)``. Accurate; reads x twice.
  :func:`two_pass_stats` returns the same as (count, mean, M2).
- :func:`welford_stats` / :func:`var_welford`: Welford's one-sweep update of (count, mean,
  M2), where M2 is the sum of squared deviations. Accurate, and it can consume a stream.
- :func:`merge_stats`: combine the (count, mean, M2) of two disjoint parts (Chan, Golub and
  LeVeque): what chunked and distributed statistics use.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "var_one_pass",
    "var_two_pass",
    "two_pass_stats",
    "welford_stats",
    "var_welford",
    "merge_stats",
]


def var_one_pass(x: Tensor, dim: int = -1) -> Tensor:
    """E[x^2] - E[x]^2 over ``dim``. x: (*, n) -> (*). Can be wrong, even negative.

    Example:

    >>> var_one_pass(torch.tensor([1.0, 2.0, 3.0, 4.0])).item()
    1.25
    >>> x = torch.tensor([1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4])  # far from 0
    >>> var_one_pass(x).item() == 1.25
    False
    """
    return (x * x).mean(dim=dim) - x.mean(dim=dim) ** 2


def var_two_pass(x: Tensor, dim: int = -1) -> Tensor:
    """E[(x - E[x])^2] over ``dim``: the mean first, then the squared deviations.

    x: (*, n) -> (*).

    Example:

    >>> var_two_pass(torch.tensor([1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4])).item()
    1.25
    >>> var_two_pass(torch.zeros(3, 5)).shape
    torch.Size([3])
    """
    mean = x.mean(dim=dim, keepdim=True)
    return ((x - mean) ** 2).mean(dim=dim)


def two_pass_stats(x: Tensor) -> tuple[int, Tensor, Tensor]:
    """(count n, mean (*), M2 (*)) over the last dim of x (*, n), with two passes.

    M2 is the sum of squared deviations, n * var: the triple that :func:`merge_stats`
    combines.

    Example:

    >>> n, mean, m2 = two_pass_stats(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> n, mean.tolist(), m2.tolist()
    (4, [2.5], [5.0])
    """
    n = x.shape[-1]
    return n, x.mean(dim=-1), var_two_pass(x) * n


def welford_stats(x: Tensor) -> tuple[int, Tensor, Tensor]:
    """Welford's algorithm over the last dim, one element at a time.

    x: (*, n). Returns (count n, mean (*), M2 (*)) with M2 = sum of squared deviations.
    After element k (1-based):
    delta = x_k - mean; mean += delta / k; M2 += delta * (x_k - mean).

    Example:

    >>> n, mean, m2 = welford_stats(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> n, mean.tolist(), m2.tolist()
    (4, [2.5], [5.0])
    """
    n = x.shape[-1]
    mean = torch.zeros_like(x[..., 0])
    m2 = torch.zeros_like(x[..., 0])
    for k in range(1, n + 1):
        x_k = x[..., k - 1]
        delta = x_k - mean
        mean = mean + delta / k
        m2 = m2 + delta * (x_k - mean)  # old deviation times new deviation
    return n, mean, m2


def var_welford(x: Tensor) -> Tensor:
    """Biased variance over the last dim with :func:`welford_stats`: M2 / n. (*, n) -> (*).

    Example:

    >>> var_welford(torch.tensor([1.0, 2.0, 3.0, 4.0])).item()
    1.25
    """
    n, _, m2 = welford_stats(x)
    return m2 / n


def merge_stats(
    count_a: int | Tensor,
    mean_a: Tensor,
    m2_a: Tensor,
    count_b: int | Tensor,
    mean_b: Tensor,
    m2_b: Tensor,
) -> tuple[int | Tensor, Tensor, Tensor]:
    r"""(count, mean, M2) of the union of two disjoint parts A and B, from theirs.

    $\delta = \bar x_B - \bar x_A$, $n = n_A + n_B$,
    $\bar x = \bar x_A + \delta\, n_B / n$,
    $M_2 = M_{2,A} + M_{2,B} + \delta^2 n_A n_B / n$.
    The variance of the union is ``m2 / count``. Shapes of the means and M2s broadcast.

    Example:

    >>> a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    >>> n, mean, m2 = merge_stats(*two_pass_stats(a), *two_pass_stats(b))
    >>> n, mean.item(), (m2 / n).item()  # the variance of [1, 2, 3, 4]
    (4, 2.5, 1.25)
    """
    count = count_a + count_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (count_b / count)
    m2 = m2_a + m2_b + delta * delta * (count_a * count_b / count)
    return count, mean, m2
