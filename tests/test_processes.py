"""parallel_map: the serial loop's results, in order, from forked workers on Linux at one torch
thread; the serial loop itself elsewhere, at more threads, inside a worker and beside another
call; a worker's exception, death or unpicklable result reaches the caller; nothing hangs and
nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
import torch

from normhelpers import processes
from normhelpers.training import ImageData, fit, make_mlp, parallel_map

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork: Linux")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """The notebooks' setting (setup_notebook); the test that needs more sets it itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
    assert processes._TASK is None and not processes._TASK_LOCK.locked()


def _train(seed: int) -> tuple[dict[str, torch.Tensor], list[float]]:
    """A small seeded training run: the trained weights and the loss per epoch."""
    gen = torch.Generator().manual_seed(100 + seed)
    x, y = torch.randn(64, 1, 8, 8, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    model = make_mlp("batch", seed=seed)
    history = fit(model, ImageData(x, y), ImageData(x, y), epochs=2, batch_size=16, seed=seed)
    return model.state_dict(), history.train_loss


@linux_only
def test_same_results_as_the_serial_loop_in_order_by_value() -> None:
    seeds = [3, 0, 2, 1]
    serial = [_train(s) for s in seeds]
    parallel = parallel_map(_train, seeds, processes=2)
    assert len(parallel) == len(serial)
    for (state_p, loss_p), (state_s, loss_s) in zip(parallel, serial, strict=True):
        assert loss_p == loss_s
        assert state_p.keys() == state_s.keys()
        for key in state_s:
            assert torch.equal(state_p[key], state_s[key]), key
            assert not state_p[key].is_shared(), key  # a copy, not torch's shared memory


@linux_only
def test_runs_in_other_processes_with_one_thread() -> None:
    seen = parallel_map(lambda _: (os.getpid(), torch.get_num_threads()), range(6), 2)
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
def test_default_processes_are_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []

    class Spy(ProcessPoolExecutor):
        def __init__(self, max_workers: int, **kwargs: Any) -> None:
            sizes.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(processes, "ProcessPoolExecutor", Spy)
    monkeypatch.setattr(processes, "_usable_cores", lambda: 3)
    parallel_map(abs, range(10))
    parallel_map(abs, range(2))  # never more workers than items
    parallel_map(abs, range(10), processes=2)
    assert sizes == [3, 2, 2]


@linux_only
def test_a_worker_exception_is_raised_here_with_its_traceback() -> None:
    def fails_on_two(k: int) -> int:
        if k == 2:
            raise ValueError(f"bad item {k}")
        return k

    with pytest.raises(ValueError, match="bad item 2") as caught:
        parallel_map(fails_on_two, range(4), processes=2)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "fails_on_two" in str(caught.value.__cause__)  # the worker's traceback


class TwoArgumentError(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"{a} and {b}")  # pickle rebuilds it with one argument: it fails


@linux_only
def test_an_exception_that_cannot_be_rebuilt_comes_as_runtime_error() -> None:
    def fails(_: int) -> int:
        raise TwoArgumentError(1, 2)

    with pytest.raises(RuntimeError, match="TwoArgumentError: 1 and 2"):
        parallel_map(fails, range(2), processes=2)


@linux_only
def test_an_unpicklable_result_is_an_error_here() -> None:
    with pytest.raises(Exception, match="pickle"):
        parallel_map(lambda k: lambda: k, range(2), processes=2)


@linux_only
def test_a_worker_that_dies_raises_broken_process_pool_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(BrokenProcessPool):
        parallel_map(lambda k: os._exit(3) if k == 1 else k, range(4), processes=2)
    assert time.monotonic() - start < 30


@linux_only
def test_stop_kills_the_runs_in_flight() -> None:
    pool = ProcessPoolExecutor(2, mp_context=processes.mp.get_context("fork"))
    futures = [pool.submit(time.sleep, 60) for _ in range(4)]
    time.sleep(0.5)  # the first two are running
    workers = list(pool._processes.values())  # type: ignore[attr-defined]
    start = time.monotonic()
    processes._stop(pool)
    assert time.monotonic() - start < 10
    assert workers and not any(w.is_alive() for w in workers)
    assert all(f.done() for f in futures)


@linux_only
def test_inside_a_worker_it_is_the_loop_there() -> None:
    def inner_pids(_: int) -> tuple[int, list[int]]:
        return os.getpid(), parallel_map(lambda __: os.getpid(), range(3), processes=2)

    for outer, inner in parallel_map(inner_pids, range(2), processes=2):
        assert outer != os.getpid() and inner == [outer] * 3


@linux_only
def test_two_threads_calling_at_once_each_get_their_own_results() -> None:
    got: dict[int, list[int]] = {}

    def call(factor: int) -> None:
        got[factor] = parallel_map(lambda k: (time.sleep(0.05), k * factor)[1], range(8), 2)

    threads = [threading.Thread(target=call, args=(f,)) for f in (1, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert got == {1: list(range(8)), 100: [k * 100 for k in range(8)]}


@linux_only
def test_with_more_threads_the_loop_here_and_no_hang() -> None:
    """A forked child of a process whose OpenMP threads have run can hang in them: with two
    threads, after a parallel op, parallel_map must run the loop here (in a subprocess, so
    that a hang fails the test instead of the suite)."""
    script = textwrap.dedent(
        """
        import os, torch
        from normhelpers.processes import parallel_map
        torch.set_num_threads(2)
        torch.randn(2000, 2000).exp().sum()  # the OpenMP threads run
        pids = parallel_map(lambda _: (torch.randn(300, 300).exp().sum(), os.getpid())[1],
                            range(4), processes=2)
        print(pids == [os.getpid()] * 4)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_serial_where_processes_cannot_be_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert parallel_map(lambda _: os.getpid(), range(3), processes=2) == [os.getpid()] * 3


def test_serial_with_one_process_or_one_item_and_empty_input() -> None:
    assert parallel_map(lambda _: os.getpid(), range(3), processes=1) == [os.getpid()] * 3
    assert parallel_map(lambda _: os.getpid(), [0], processes=4) == [os.getpid()]
    assert parallel_map(lambda k: k, [], processes=2) == []


def test_re_exported_by_training_as_the_same_object() -> None:
    """The experiment chapters import it with the rest of their training code."""
    from normhelpers import training

    assert "parallel_map" in processes.__all__ and "parallel_map" in training.__all__
    assert training.parallel_map is processes.parallel_map
