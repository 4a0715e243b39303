"""Synchronized BatchNorm in two or three CPU processes equals BatchNorm on the whole batch, also
on data whose mean is large against its spread; the launcher (torch.multiprocessing and a
FileStore) returns each rank's result, reports failures and never leaves processes behind."""

from __future__ import annotations

import multiprocessing
import socket
import time
from collections.abc import Callable

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

import normhelpers as nh
from normhelpers.syncbn import (
    all_gather_rows,
    all_reduce_sum,
    launch,
    run_two_process_demo,
    single_process_group,
    sync_batch_norm,
)


def _single_process(
    batches: list[torch.Tensor],
    weight: torch.Tensor,
    bias: torch.Tensor,
    grad_outputs: list[torch.Tensor],
) -> dict[str, torch.Tensor]:
    """The reference: torch's BatchNorm on each whole batch, same steps, same gradients."""
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    running_mean, running_var = torch.zeros_like(weight), torch.ones_like(weight)
    for x, g in zip(batches, grad_outputs, strict=True):
        weight.grad = bias.grad = None
        x = x.clone().requires_grad_(True)
        y = F.batch_norm(x, running_mean, running_var, weight, bias, True, 0.1, 1e-5)
        (y * g).sum().backward()
    return {
        "output": y.detach(),
        "grad_input": x.grad,
        "grad_weight": weight.grad,
        "grad_bias": bias.grad,
        "running_mean": running_mean,
        "running_var": running_var,
    }


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


def _gather_worker(rank: int, world_size: int) -> dict[str, torch.Tensor]:
    row = torch.tensor([1.0, 10.0]) * (rank + 1)
    row.requires_grad_(True)
    table = all_gather_rows(row)
    (table * (rank + 1)).sum().backward()  # rank r's loss weights every row by r + 1
    return {"table": table.detach(), "grad": row.grad}


def test_all_gather_rows_forward_and_backward() -> None:
    ranks = launch(_gather_worker, world_size=3)
    for r in ranks:
        assert torch.equal(r["table"], torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]))
        assert torch.equal(r["grad"], torch.tensor([6.0, 6.0]))  # 1 + 2 + 3: every rank's loss


def _rank_worker(rank: int, world_size: int) -> list[int]:
    seen = torch.tensor([float(rank)])
    dist.all_reduce(seen)
    return [rank, world_size, int(seen.item())]


def test_launch_returns_each_rank_result_and_needs_no_port(monkeypatch) -> None:
    """The ranks meet in a FileStore: a busy MASTER_PORT in the environment does not matter."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
        monkeypatch.setenv("MASTER_PORT", str(busy.getsockname()[1]))
        assert launch(_rank_worker, timeout=30) == [[0, 2, 1], [1, 2, 1]]
        assert launch(_rank_worker, world_size=3, timeout=30) == [[r, 3, 3] for r in range(3)]
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


# ------------------------------------------------------- robust statistics: a large mean


def _far(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 3, 5, 5) float32 images with mean 1e4 and std 0.1 per channel."""
    g = torch.Generator().manual_seed(seed)
    return (1e4 + 0.1 * torch.randn(n, 3, 5, 5, generator=g, dtype=torch.float64)).float()


def _ordinary(n: int, seed: int = 0) -> torch.Tensor:
    return nh.make_cv(n=n, c=3, h=5, w=5, seed=seed)


def _rounding_floor(batches: list[torch.Tensor]) -> float:
    """kappa * u: the relative error float32 statistics cannot avoid, u = 2^-24 the unit
    round-off and kappa = max |x| / min std the conditioning of the per-channel mean."""
    x = torch.cat(batches).double()
    kappa = x.abs().max() / x.std(dim=[0, *range(2, x.dim())]).min()
    return float(kappa) * 2.0**-24


def _close_enough(
    ours: torch.Tensor, torch32: torch.Tensor, exact: torch.Tensor, floor: float
) -> bool:
    """Error of ours against float64 at most twice torch's float32 error, or within twice the
    rounding floor (relative to the largest value): float32 cannot do better than that."""
    err, err_torch = ((t.double() - exact).abs().max() for t in (ours, torch32))
    return bool(err <= max(2 * err_torch, 2 * floor * exact.abs().max()))


def test_the_sum_of_squares_formula_fails_on_far_data() -> None:
    """Guard: the data below really breaks the one-pass variance Σx²/n - μ² in float32."""
    x = _far(8)
    n = x.numel() // 3
    mean = x.sum(dim=(0, 2, 3)) / n
    one_pass = (x * x).sum(dim=(0, 2, 3)) / n - mean * mean
    exact = x.double().var(dim=(0, 2, 3), unbiased=False)
    assert ((one_pass.double() - exact).abs() > 100 * exact).all()  # off by far more than 100x


@pytest.mark.parametrize("sizes", [None, (1, 7), (6, 2)])
@pytest.mark.parametrize("make", [_far, _ordinary], ids=["mean 1e4 std 0.1", "ordinary"])
def test_sync_batch_norm_equals_torch_on_the_whole_batch(
    make: Callable[..., torch.Tensor], sizes: tuple[int, int] | None
) -> None:
    """Two ranks, even and uneven parts, against torch's BatchNorm of the whole float32 batch;
    both are measured against BatchNorm in float64 of the same float32 numbers."""
    batches = [make(8, seed=s) for s in range(2)]
    g = torch.Generator().manual_seed(2)
    grads = [torch.randn(x.shape, generator=g) for x in batches]
    weight, bias = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([0.0, -1.0, 1.0])
    got = run_two_process_demo(batches, weight, bias, grads, sizes=sizes)
    torch32 = _single_process(batches, weight, bias, grads)
    exact = _single_process(
        [x.double() for x in batches], weight.double(), bias.double(), [d.double() for d in grads]
    )
    floor = _rounding_floor(batches)  # 6e-3 for the far data, 7e-7 for the ordinary
    assert torch.isfinite(got.output).all()
    for name in ("output", "grad_input", "grad_weight", "grad_bias"):
        assert _close_enough(getattr(got, name), torch32[name], exact[name], floor), name
    for rank in range(2):  # unbiased variance with the global count, torch's momentum
        torch.testing.assert_close(
            got.running_means[rank].double(), exact["running_mean"], rtol=1e-6, atol=0
        )
        torch.testing.assert_close(
            got.running_vars[rank].double(), exact["running_var"], rtol=1e-5, atol=0
        )


def _three_rank_worker(
    rank: int, world_size: int, x: torch.Tensor, sizes: list[int]
) -> dict[str, torch.Tensor]:
    start = sum(sizes[:rank])
    running_mean, running_var = torch.zeros(3), torch.ones(3)
    y = sync_batch_norm(
        x[start : start + sizes[rank]], None, None, running_mean, running_var, momentum=0.3
    )
    return {"output": y, "running_mean": running_mean, "running_var": running_var}


@pytest.mark.parametrize("make", [_far, _ordinary], ids=["mean 1e4 std 0.1", "ordinary"])
def test_sync_batch_norm_three_uneven_ranks(make: Callable[..., torch.Tensor]) -> None:
    x = make(9)
    ranks = launch(_three_rank_worker, (x, [1, 3, 5]), world_size=3)
    running_mean, running_var = torch.zeros(3), torch.ones(3)
    want = F.batch_norm(x, running_mean, running_var, training=True, momentum=0.3)
    got = torch.cat([r["output"] for r in ranks])
    exact = F.batch_norm(x.double(), None, None, training=True)
    assert torch.isfinite(got).all()
    assert _close_enough(got, want, exact, _rounding_floor([x]))
    for r in ranks:
        torch.testing.assert_close(r["running_mean"], running_mean, rtol=1e-6, atol=0)
        torch.testing.assert_close(r["running_var"], running_var, rtol=1e-5, atol=1e-7)


def test_launching_is_re_exported_by_syncbn_as_the_same_objects() -> None:
    """The launcher lives in normhelpers.processes; chapter 15 still reads syncbn.launch."""
    from normhelpers import processes, syncbn

    for name in ("launch", "single_process_group"):  # parallel_map: normhelpers.training's
        assert name in processes.__all__ and name in syncbn.__all__, name
        assert getattr(syncbn, name) is getattr(processes, name), name
