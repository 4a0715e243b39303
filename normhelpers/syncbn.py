r"""Synchronized BatchNorm on CPU: several processes normalize one batch as if it were whole.

Each process (rank) holds $N_r$ samples of the batch. To normalize with the statistics of the
whole batch, every rank needs the global mean and (biased) variance per channel. Each rank
computes its own count $n_r$, mean $\mu_r$ and sum of squared deviations $M_{2,r}$ per channel,
one message gathers these $2C + 1$ numbers of every rank on every rank, and each rank merges them
(the parallel variance of Chan et al.) and normalizes its own samples.

- :class:`AllReduceSum` / :func:`all_reduce_sum`: a differentiable all-reduce. Its backward
  all-reduces the gradient, because every rank's loss depends on every rank's sums.
- :func:`all_gather_rows`: a differentiable all-gather, built on :func:`all_reduce_sum`.
- :func:`sync_batch_norm`: training-mode BatchNorm with the statistics of all ranks.
- :func:`bn_worker`, :func:`run_two_process_demo`: two ranks train one BatchNorm on parts of a
  batch.
- :func:`launch`, :func:`single_process_group`: start the processes and join them in a gloo
  group; they live in :mod:`normhelpers.processes` and are re-exported here.

Worker functions live here and not in a notebook: a process started with "spawn" must import
the function it runs, and a function defined in a notebook cell cannot be imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from normhelpers.core import affine, moments, standardize, upcast, update_running
from normhelpers.processes import launch, single_process_group

__all__ = [
    "AllReduceSum",
    "all_reduce_sum",
    "all_gather_rows",
    "sync_batch_norm",
    "launch",
    "single_process_group",
    "TwoProcessResult",
    "bn_worker",
    "run_two_process_demo",
]


class AllReduceSum(torch.autograd.Function):
    """Sum of a tensor over all ranks, with a backward pass.

    Forward: every rank gets ``sum_r t_r``. Backward: the gradient of rank r's input is
    the sum of every rank's gradient of the output, since ``t_r`` enters every rank's
    output.

    Example:

    >>> with single_process_group():  # one rank: the sum is the tensor itself
    ...     t = torch.tensor([1.0, 2.0], requires_grad=True)
    ...     AllReduceSum.apply(t, None).sum().backward()
    >>> t.grad.tolist()
    [1.0, 1.0]
    """

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any = None) -> Tensor:
        ctx.group = group
        total = tensor.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        grad = grad_output.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def all_reduce_sum(tensor: Tensor, group: Any = None) -> Tensor:
    """Differentiable sum over the ranks of ``group`` (default: all). Any shape.

    Example:

    >>> with single_process_group():
    ...     all_reduce_sum(torch.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    return AllReduceSum.apply(tensor, group)


def all_gather_rows(row: Tensor, group: Any = None) -> Tensor:
    """Differentiable all-gather: ``row`` (K,) of every rank -> (P, K), row r from rank r.

    Each rank writes its row into a table of zeros and the tables are summed with
    :func:`all_reduce_sum`, whose backward sends every rank the gradient of its own row.
    (torch's differentiable ``torch.distributed.nn.all_gather`` is deprecated, and its
    successor is private.) P (K,) numbers travel, as with a plain all-gather.

    Example:

    >>> with single_process_group():
    ...     all_gather_rows(torch.tensor([1.0, 2.0, 3.0])).shape  # (P, K) with P = 1
    torch.Size([1, 3])
    """
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    zeros = torch.zeros_like(row)
    table = torch.stack([row if r == rank else zeros for r in range(world)])  # (P, K)
    return all_reduce_sum(table, group)


def sync_batch_norm(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    momentum: float = 0.1,
    eps: float = 1e-5,
    group: Any = None,
) -> Tensor:
    r"""Training-mode BatchNorm of this rank's part ``x`` with all ranks' statistics.

    x: (N_r, C, *) on this rank (N_r may differ between ranks).
    weight, bias: (C,) or None. running_mean, running_var: (C,) buffers updated in place
    (same on every rank), or None. Returns (N_r, C, *). Must be called by every rank of
    ``group`` (it communicates).

    Each rank sends its count $n_r$, mean $\mu_r$ and $M_{2,r} = n_r \sigma_r^2$ per
    channel; every rank merges them: $\mu = \sum_r n_r \mu_r / n$ and
    $\sigma^2 = \big(\sum_r M_{2,r} + \sum_r n_r (\mu_r - \mu)^2\big) / n$.
    Why not add $\sum x$ and $\sum x^2$ and take $\sum x^2 / n - \mu^2$, one all-reduce
    of the same size: that difference cancels when the mean is large against the spread
    (mean 1e4 and std 0.1 in float32 give a negative variance, and NaN). Here every term
    is a squared deviation, never negative; ``nn.SyncBatchNorm`` also gathers and merges
    per-rank statistics.

    Example:

    >>> x = torch.randn(4, 3, 2, 2)
    >>> with single_process_group():  # one rank: plain training-mode BatchNorm
    ...     y = sync_batch_norm(x, None, None, None, None)
    >>> torch.allclose(y, torch.nn.functional.batch_norm(x, None, None, training=True),
    ...                atol=1e-5)
    True
    """
    c = x.shape[1]
    dims = [0, *range(2, x.dim())]  # every dim except the channel dim
    shape = [1, c] + [1] * (x.dim() - 2)
    h = upcast(x)
    n_r = h.numel() // c
    mean_r, var_r = moments(h, dims)  # this rank's own statistics, (1, C, 1, ...) each
    count_r = mean_r.new_tensor([n_r])
    row = torch.cat([count_r, mean_r.reshape(c), var_r.reshape(c) * n_r])  # (2C + 1,)
    table = all_gather_rows(row, group)  # (P, 2C + 1): n_r, mean_r, M2_r; one message
    counts, means, m2s = table[:, :1], table[:, 1 : c + 1], table[:, c + 1 :]
    n = counts.sum()
    mean = (counts * means).sum(dim=0) / n  # (C,)
    between = (counts * (means - mean) ** 2).sum(dim=0)  # spread of the rank means
    var = (m2s.sum(dim=0) + between) / n  # biased, (C,)
    update_running(running_mean, mean.detach(), momentum)
    update_running(running_var, var.detach() * n / (n - 1), momentum)  # the global n
    y = standardize(h, mean.reshape(shape), var.reshape(shape), eps)
    return affine(y, weight, bias, shape).to(x.dtype)


@dataclass
class TwoProcessResult:
    """What :func:`run_two_process_demo` returns: the two ranks' parts put back together.

    output, grad_input: (N, C, *) of the last step, rank 0's samples first.
    grad_weight, grad_bias: (C,), summed over the ranks (DistributedDataParallel would average).
    running_means, running_vars: one (C,) tensor per rank, after all steps.

    Example:

    >>> x, g = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    >>> result = run_two_process_demo(x, torch.ones(3), torch.zeros(3), g)
    >>> result.output.shape, result.grad_weight.shape, len(result.running_means)
    (torch.Size([4, 3, 2, 2]), torch.Size([3]), 2)
    """

    output: Tensor
    grad_input: Tensor
    grad_weight: Tensor
    grad_bias: Tensor
    running_means: list[Tensor]
    running_vars: list[Tensor]


def bn_worker(
    rank: int,
    world_size: int,
    batches: list[Tensor],
    grad_outputs: list[Tensor],
    weight: Tensor,
    bias: Tensor,
    momentum: float,
    eps: float,
    sizes: list[int],
) -> dict[str, Tensor]:
    """One rank of :func:`run_two_process_demo`: one training step per batch.

    Example:

    >>> x, g = torch.randn(4, 3), torch.randn(4, 3)
    >>> with single_process_group():  # rank 0 of 1 takes the whole batch
    ...     w, b = torch.ones(3), torch.zeros(3)
    ...     out = bn_worker(0, 1, [x], [g], w, b, 0.1, 1e-5, [4])
    >>> sorted(out)[:3], out["output"].shape
    (['grad_bias', 'grad_input', 'grad_weight'], torch.Size([4, 3]))
    """
    start = sum(sizes[:rank])
    rows = slice(start, start + sizes[rank])
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    running_mean, running_var = torch.zeros_like(weight), torch.ones_like(weight)
    for x, grad_output in zip(batches, grad_outputs, strict=True):
        weight.grad = bias.grad = None
        x_r = x[rows].clone().requires_grad_(True)
        y = sync_batch_norm(x_r, weight, bias, running_mean, running_var, momentum, eps)
        # a scalar loss whose gradient with respect to y is grad_output
        (y * grad_output[rows]).sum().backward()
    # backward() filled all three: each of them requires grad and enters y
    assert x_r.grad is not None and weight.grad is not None and bias.grad is not None
    for grad in (weight.grad, bias.grad):  # summed over the ranks (DDP averages)
        dist.all_reduce(grad)
    return {
        "output": y.detach(),
        "grad_input": x_r.grad,
        "grad_weight": weight.grad,
        "grad_bias": bias.grad,
        "running_mean": running_mean,
        "running_var": running_var,
    }


def run_two_process_demo(
    batches: Tensor | list[Tensor],
    weight: Tensor,
    bias: Tensor,
    grad_outputs: Tensor | list[Tensor],
    momentum: float = 0.1,
    eps: float = 1e-5,
    sizes: tuple[int, int] | None = None,
    **launch_kwargs: Any,
) -> TwoProcessResult:
    """Two processes train one synchronized BatchNorm, rank 0 on the first ``sizes[0]`` samples
    of each batch, rank 1 on the rest (default: halves), with backward ``grad_outputs``.

    batches, grad_outputs: one (N, C, *) tensor or a list of them (one per training step).
    weight, bias: (C,). Returns the output and gradients of the last step and both ranks'
    running statistics; ``launch_kwargs`` go to :func:`launch`.

    Example:

    >>> x = torch.randn(6, 3, 2, 2, dtype=torch.float64)
    >>> g = torch.randn(6, 3, 2, 2, dtype=torch.float64)
    >>> w, b = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    >>> result = run_two_process_demo(x, w, b, g, sizes=(2, 4))
    >>> ref = torch.nn.functional.batch_norm(x, None, None, w, b, training=True)
    >>> torch.allclose(result.output, ref)
    True
    """
    batches = [batches] if isinstance(batches, Tensor) else list(batches)
    grads = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
    n = batches[0].shape[0]
    split = list(sizes) if sizes is not None else [n // 2, n - n // 2]
    args = (batches, grads, weight.detach(), bias.detach(), momentum, eps, split)
    ranks = launch(bn_worker, args, world_size=2, **launch_kwargs)
    return TwoProcessResult(
        output=torch.cat([r["output"] for r in ranks]),
        grad_input=torch.cat([r["grad_input"] for r in ranks]),
        grad_weight=ranks[0]["grad_weight"],
        grad_bias=ranks[0]["grad_bias"],
        running_means=[r["running_mean"] for r in ranks],
        running_vars=[r["running_var"] for r in ranks],
    )
