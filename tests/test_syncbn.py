"""Synchronized BatchNorm in two CPU processes equals BatchNorm on the whole batch; the launcher
finds free ports, retries on a taken port and never leaves processes behind."""

from __future__ import annotations

import multiprocessing
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

import normhelpers as nh
from normhelpers.syncbn import (
    all_reduce_sum,
    find_free_port,
    launch,
    run_two_process_demo,
    single_process_group,
)


def _single_process(batches: list[torch.Tensor], weight: torch.Tensor, bias: torch.Tensor,
                    grad_outputs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference: torch's BatchNorm on each whole batch, same steps, same gradients."""
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    running_mean, running_var = torch.zeros_like(weight), torch.ones_like(weight)
    for x, g in zip(batches, grad_outputs, strict=True):
        weight.grad = bias.grad = None
        x = x.clone().requires_grad_(True)
        y = F.batch_norm(x, running_mean, running_var, weight, bias, True, 0.1, 1e-5)
        (y * g).sum().backward()
    return {"output": y.detach(), "grad_input": x.grad, "grad_weight": weight.grad,
            "grad_bias": bias.grad, "running_mean": running_mean, "running_var": running_var}


def _batches(layout: str, steps: int) -> list[torch.Tensor]:
    if layout == "2d":
        return [nh.make_2d(n=6, d=3, seed=s) for s in range(steps)]
    if layout == "cv":
        return [nh.make_cv(n=4, c=3, seed=s) for s in range(steps)]
    return [nh.make_nlp(n=4, l=5, d=3, seed=s).transpose(1, 2) for s in range(steps)]  # (N, D, L)


@pytest.mark.parametrize("layout, sizes", [("2d", None), ("cv", None), ("nlp", (1, 3))])
def test_two_processes_equal_one_process(layout: str, sizes: tuple[int, int] | None) -> None:
    batches = _batches(layout, steps=3)
    g = torch.Generator().manual_seed(1)
    grads = [torch.randn(x.shape, generator=g) for x in batches]
    weight, bias = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([0.0, -1.0, 1.0])
    got = run_two_process_demo(batches, weight, bias, grads, sizes=sizes)
    want = _single_process(batches, weight, bias, grads)
    for name in ("output", "grad_input", "grad_weight", "grad_bias"):
        assert nh.compare(getattr(got, name), want[name], name, quiet=True), name
    for rank in range(2):
        assert nh.compare(got.running_means[rank], want["running_mean"], quiet=True)
        assert nh.compare(got.running_vars[rank], want["running_var"], quiet=True)


def test_two_processes_differ_from_unsynchronized_bn() -> None:
    """Guard against a test that cannot fail: each half alone gives other outputs."""
    x = nh.make_2d(n=6, d=3)
    g = torch.ones_like(x)
    got = run_two_process_demo(x, torch.ones(3), torch.zeros(3), g)
    halves = torch.cat([F.batch_norm(h, None, None, training=True) for h in (x[:3], x[3:])])
    assert not nh.compare(got.output, halves, quiet=True)


def _sum_worker(rank: int, world_size: int) -> dict[str, torch.Tensor]:
    t = torch.tensor([1.0, 2.0]) * (rank + 1)
    t.requires_grad_(True)
    total = all_reduce_sum(t)
    (total * (rank + 1)).sum().backward()  # rank r's loss weights the sum by r + 1
    return {"total": total.detach(), "grad": t.grad}


def test_all_reduce_sum_forward_and_backward() -> None:
    ranks = launch(_sum_worker)
    for r in ranks:
        assert torch.equal(r["total"], torch.tensor([3.0, 6.0]))
        assert torch.equal(r["grad"], torch.tensor([3.0, 3.0]))  # 1 + 2: every rank's loss


def test_find_free_port_avoids_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = find_free_port()
        assert port != taken
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))  # really free


def _rank_worker(rank: int, world_size: int) -> list[int]:
    seen = torch.tensor([float(rank)])
    dist.all_reduce(seen)
    return [rank, world_size, int(seen.item())]


def test_launch_retries_when_the_port_is_taken() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(RuntimeError, match="EADDRINUSE"):
            launch(_rank_worker, port=taken, tries=1, timeout=30)
        assert launch(_rank_worker, port=taken, tries=2, timeout=30) == [[0, 2, 1], [1, 2, 1]]
    assert multiprocessing.active_children() == []


def _failing_worker(rank: int, world_size: int) -> None:
    if rank == 1:
        raise ValueError("rank 1 gives up")
    dist.barrier()  # rank 0 would wait here for rank 1 until the gloo timeout
    time.sleep(60)


def test_launch_stops_the_other_process_when_one_fails() -> None:
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="rank 1 gives up"):
        launch(_failing_worker, timeout=120)
    assert time.monotonic() - start < 30, "the launcher waited for the stuck rank"
    assert multiprocessing.active_children() == []


def _sleeping_worker(rank: int, world_size: int) -> None:
    time.sleep(60)


def test_launch_times_out_and_stops_both() -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        launch(_sleeping_worker, timeout=2)
    assert time.monotonic() - start < 20
    assert multiprocessing.active_children() == []



def test_single_process_group_is_set_up_and_torn_down() -> None:
    x = nh.make_cv(n=2)
    with single_process_group():
        assert dist.is_initialized() and dist.get_world_size() == 1
        with pytest.raises(ValueError, match="expected input tensor to be on GPU"):
            torch.nn.SyncBatchNorm(3)(x)  # in this torch version: accelerators only
    assert not dist.is_initialized()
