r"""Synchronized BatchNorm on CPU: several processes normalize one batch as if it were whole.

Each process (rank) holds $N_r$ samples of the batch. To normalize with the statistics of the
whole batch, the ranks add up three things per channel with one all-reduce: the count $n_r$, the
sum $\sum x$ and the sum of squares $\sum x^2$. Then every rank knows the global mean and
(biased) variance and normalizes its own samples with them.

- :class:`AllReduceSum` / :func:`all_reduce_sum`: a differentiable all-reduce. Its backward
  all-reduces the gradient, because every rank's loss depends on every rank's sums.
- :func:`sync_batch_norm`: training-mode BatchNorm with the statistics of all ranks.
- :func:`find_free_port`, :func:`launch`: start ``world_size`` processes on 127.0.0.1 with the
  gloo backend, run a function in each, return what each returned.
- :func:`run_two_process_demo`: two ranks train one BatchNorm on halves of a batch.
- :func:`single_process_group`: a group of one process, to see what ``nn.SyncBatchNorm`` does.

Worker functions live here and not in a notebook: a process started with "spawn" must import
the function it runs, and a function defined in a notebook cell cannot be imported.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "AllReduceSum", "all_reduce_sum", "sync_batch_norm",
    "find_free_port", "launch", "single_process_group", "TwoProcessResult", "bn_worker",
    "run_two_process_demo",
]


class AllReduceSum(torch.autograd.Function):
    """Sum of a tensor over all ranks, with a backward pass.

    Forward: every rank gets ``sum_r t_r``. Backward: the gradient of rank r's input is the sum
    of every rank's gradient of the output, since ``t_r`` enters every rank's output.
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
    """Differentiable sum over the ranks of ``group`` (default: all). Any shape."""
    return AllReduceSum.apply(tensor, group)


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
    """Training-mode BatchNorm of this rank's part ``x`` with the statistics of all ranks.

    x: (N_r, C, *) on this rank (N_r may differ between ranks). weight, bias: (C,) or None.
    running_mean, running_var: (C,) buffers updated in place (same on every rank), or None.
    Returns (N_r, C, *). Must be called by every rank of ``group`` (it communicates).
    """
    c = x.shape[1]
    dims = [0, *range(2, x.dim())]  # every dim except the channel dim
    count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
    local = torch.cat([x.sum(dim=dims), (x * x).sum(dim=dims), count])  # (2C + 1,)
    total = all_reduce_sum(local, group)  # one message: sums of every rank
    n = total[2 * c]
    mean = total[:c] / n
    var = total[c:2 * c] / n - mean * mean  # biased variance of the whole batch
    shape = [1, c] + [1] * (x.dim() - 2)
    y = (x - mean.reshape(shape)) * torch.rsqrt(var + eps).reshape(shape)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():  # the global n enters the unbiased correction
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    return y


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it when we bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _loopback_interface() -> str | None:
    """Name of the loopback interface ("lo" on Linux, "lo0" on macOS), for gloo."""
    names = {name for _, name in socket.if_nameindex()}
    return next((name for name in ("lo", "lo0") if name in names), None)


@contextmanager
def _quiet_environment():
    """Environment for the workers: gloo on the loopback interface, torch's C++ log quiet."""
    update = {"TORCH_CPP_LOG_LEVEL": "ERROR"}
    if (interface := _loopback_interface()) is not None:
        update["GLOO_SOCKET_IFNAME"] = interface  # no host-name lookup, no warning about it
    saved = {key: os.environ.get(key) for key in update}
    os.environ.update(update)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def single_process_group():
    """A gloo process group of this process alone (world size 1, an in-memory store, no port),
    destroyed on exit: enough for code that checks ``torch.distributed.is_initialized()``."""
    with _quiet_environment():
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _entry(
    rank: int, world_size: int, port: int, fn: Callable[..., Any], args: tuple,
    result_dir: str, timeout: float,
) -> None:
    """Body of each process: join the gloo group, run ``fn(rank, world_size, *args)``, save
    its return value to ``result_dir/rank<r>.pt`` (or the traceback to ``rank<r>.err``)."""
    torch.set_num_threads(1)  # a forked child must not reuse the parent's thread pool
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout))
        try:
            result = fn(rank, world_size, *args)
        finally:
            dist.destroy_process_group()
        torch.save(result, Path(result_dir) / f"rank{rank}.pt")
    except Exception:
        (Path(result_dir) / f"rank{rank}.err").write_text(traceback.format_exc())
        sys.exit(1)  # exit code 1 without printing a traceback to stderr


def _stop(processes: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Terminate (then kill) every process still alive, and reap all of them."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()


def _wait_all(processes: Sequence[multiprocessing.process.BaseProcess], timeout: float) -> bool:
    """Wait until every process exited with code 0 (True), or one failed (False: the others
    are stopped). Stops all and raises TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pending = list(processes)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop(processes)
            raise TimeoutError(f"the {len(processes)} processes did not finish in {timeout} s")
        wait([p.sentinel for p in pending], timeout=remaining)
        for p in [p for p in pending if p.exitcode is not None]:
            pending.remove(p)
            if p.exitcode != 0:
                _stop(processes)
                return False
    return True


def _default_start_method() -> str:
    """"fork" on Linux (fast: no new interpreter); "spawn" elsewhere (fork is unsafe on macOS)."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def launch(
    fn: Callable[..., Any],
    args: tuple = (),
    world_size: int = 2,
    timeout: float = 60.0,
    start_method: str | None = None,
    port: int | None = None,
    tries: int = 3,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes joined in a gloo group on
    127.0.0.1; return the list of their return values (tensors, numbers, lists, dicts).

    fn must be importable (defined in a module) for start_method "spawn". If a process fails,
    the others are terminated and RuntimeError carries its traceback; if the port was taken
    (EADDRINUSE), the launch is retried on a fresh port, up to ``tries`` attempts in all.
    ``port``: the port of the first attempt (default: a free one).
    """
    context = multiprocessing.get_context(start_method or _default_start_method())
    for attempt in range(tries):
        master_port = port if (attempt == 0 and port is not None) else find_free_port()
        with tempfile.TemporaryDirectory() as result_dir, _quiet_environment():
            processes = [
                context.Process(target=_entry, daemon=True,
                                args=(rank, world_size, master_port, fn, args, result_dir, timeout))
                for rank in range(world_size)
            ]
            for p in processes:
                p.start()
            if _wait_all(processes, timeout):
                return [torch.load(Path(result_dir) / f"rank{rank}.pt")
                        for rank in range(world_size)]
            errors = [f.read_text() for f in sorted(Path(result_dir).glob("rank*.err"))]
        message = "\n".join(errors) or "a process died without a traceback"
        port_taken = "EADDRINUSE" in message or os.strerror(errno.EADDRINUSE) in message
        if not (port_taken and attempt < tries - 1):
            raise RuntimeError(f"a worker process failed:\n{message}")
    raise AssertionError("unreachable")


@dataclass
class TwoProcessResult:
    """What :func:`run_two_process_demo` returns: the two ranks' parts put back together.

    output, grad_input: (N, C, *) of the last step, rank 0's samples first.
    grad_weight, grad_bias: (C,), summed over the ranks (DistributedDataParallel would average).
    running_means, running_vars: one (C,) tensor per rank, after all steps.
    """

    output: Tensor
    grad_input: Tensor
    grad_weight: Tensor
    grad_bias: Tensor
    running_means: list[Tensor]
    running_vars: list[Tensor]


def bn_worker(
    rank: int, world_size: int, batches: list[Tensor], grad_outputs: list[Tensor],
    weight: Tensor, bias: Tensor, momentum: float, eps: float, sizes: list[int],
) -> dict[str, Tensor]:
    """One rank of :func:`run_two_process_demo`: a training step per batch on its samples."""
    start = sum(sizes[:rank])
    rows = slice(start, start + sizes[rank])
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    running_mean, running_var = torch.zeros_like(weight), torch.ones_like(weight)
    for x, grad_output in zip(batches, grad_outputs, strict=True):
        weight.grad = bias.grad = None
        x_r = x[rows].clone().requires_grad_(True)
        y = sync_batch_norm(x_r, weight, bias, running_mean, running_var, momentum, eps)
        (y * grad_output[rows]).sum().backward()  # a scalar loss whose gradient is grad_output
    for grad in (weight.grad, bias.grad):  # parameters: sum over the ranks (DDP averages)
        dist.all_reduce(grad)
    return {"output": y.detach(), "grad_input": x_r.grad, "grad_weight": weight.grad,
            "grad_bias": bias.grad, "running_mean": running_mean, "running_var": running_var}


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
