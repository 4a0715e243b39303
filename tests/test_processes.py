"""parallel_map: the serial loop's results, in order, from forked workers on Linux; the serial
loop itself elsewhere; a worker's exception reaches the caller; nothing is left behind."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from normhelpers import processes
from normhelpers.training import ImageData, fit, make_mlp, parallel_map

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux")


def _train(seed: int) -> tuple[dict[str, torch.Tensor], list[float]]:
    """A small seeded training run: the trained weights and the loss per epoch."""
    gen = torch.Generator().manual_seed(100 + seed)
    x, y = torch.randn(64, 1, 8, 8, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    model = make_mlp("batch", seed=seed)
    history = fit(model, ImageData(x, y), ImageData(x, y), epochs=2, batch_size=16, seed=seed)
    return model.state_dict(), history.train_loss


@linux_only
def test_same_results_as_the_serial_loop_in_order() -> None:
    seeds = [3, 0, 2, 1]
    serial = [_train(s) for s in seeds]
    parallel = parallel_map(_train, seeds, processes=2)
    assert len(parallel) == len(serial)
    for (state_p, loss_p), (state_s, loss_s) in zip(parallel, serial, strict=True):
        assert loss_p == loss_s
        assert state_p.keys() == state_s.keys()
        for key in state_s:
            assert torch.equal(state_p[key], state_s[key]), key


@linux_only
def test_runs_in_other_processes_with_this_thread_count() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seen = parallel_map(lambda _: (os.getpid(), torch.get_num_threads()), range(6), 2)
    finally:
        torch.set_num_threads(before)
    pids = {pid for pid, _ in seen}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {threads for _, threads in seen} == {1}


@linux_only
def test_a_closure_sees_this_process_variables() -> None:
    offset = torch.tensor([10.0, 20.0])
    assert parallel_map(lambda k: (offset * k).tolist(), [1, 2], processes=2) == [
        [10.0, 20.0],
        [20.0, 40.0],
    ]


@linux_only
def test_a_worker_exception_is_raised_here_and_the_task_cleared() -> None:
    def fails_on_two(k: int) -> int:
        if k == 2:
            raise ValueError(f"bad item {k}")
        return k

    with pytest.raises(ValueError, match="bad item 2"):
        parallel_map(fails_on_two, range(4), processes=2)
    assert processes._TASK is None


def test_serial_where_processes_cannot_be_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert parallel_map(lambda _: os.getpid(), range(3), processes=2) == [os.getpid()] * 3


def test_serial_with_one_process_or_one_item_and_empty_input() -> None:
    assert parallel_map(lambda _: os.getpid(), range(3), processes=1) == [os.getpid()] * 3
    assert parallel_map(lambda _: os.getpid(), [0], processes=4) == [os.getpid()]
    assert parallel_map(lambda k: k, [], processes=2) == []


def test_default_processes_divide_the_cores_by_the_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With as many threads as cores, one worker: the serial loop in this process."""
    monkeypatch.setattr(processes, "_usable_cores", lambda: 4)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        assert parallel_map(lambda _: os.getpid(), range(3)) == [os.getpid()] * 3
    finally:
        torch.set_num_threads(before)


def test_re_exported_by_training_as_the_same_object() -> None:
    """The experiment chapters import it with the rest of their training code."""
    from normhelpers import training

    assert "parallel_map" in processes.__all__ and "parallel_map" in training.__all__
    assert training.parallel_map is processes.parallel_map
