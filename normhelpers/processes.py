"""Processes: several CPU processes in one gloo group for the synchronized BatchNorm of
chapter 15, or a group of this process alone; and independent runs shared out over the cores.

- :func:`launch`: start ``world_size`` processes with ``torch.multiprocessing``, join them in a
  gloo group through a ``torch.distributed.FileStore`` in a temporary folder (no network port
  to choose), run a function in each, return what each returned.
- :func:`single_process_group`: a group of one process, to see what ``nn.SyncBatchNorm`` does
  and to run the examples of :mod:`normhelpers.syncbn`.
- :func:`parallel_map`: ``[fn(item) for item in items]`` with the items shared out over
  forked processes, one per free core: the experiment chapters' independent training runs
  (re-exported by :mod:`normhelpers.training`).

The algorithm that runs in the gloo processes is :mod:`normhelpers.syncbn`, which re-exports
``launch`` and ``single_process_group`` (``syncbn.launch``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["launch", "single_process_group", "parallel_map"]


def _loopback_interface() -> str | None:
    """Name of the loopback interface ("lo" on Linux, "lo0" on macOS), for gloo."""
    names = {name for _, name in socket.if_nameindex()}
    return next((name for name in ("lo", "lo0") if name in names), None)


@contextmanager
def _quiet_environment() -> Iterator[None]:
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
def single_process_group() -> Iterator[None]:
    """A gloo process group of this process alone (world size 1, an in-memory store, no port),
    destroyed on exit: enough for code that checks ``torch.distributed.is_initialized()``.

    Example:

    >>> with single_process_group():
    ...     torch.distributed.is_initialized(), torch.distributed.get_world_size()
    (True, 1)
    >>> torch.distributed.is_initialized()
    False
    """
    with _quiet_environment():
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _worker(
    rank: int, world_size: int, fn: Callable[..., Any], args: tuple, folder: str, timeout: float
) -> None:
    """Body of process ``rank``: join the gloo group through the FileStore in ``folder``, run
    ``fn(rank, world_size, *args)`` and save what it returns to ``folder/rank<r>.pt`` (or its
    traceback to ``rank<r>.err``: the partner of a failed rank fails too, and the parent shows
    both)."""
    torch.set_num_threads(1)  # a forked child must not reuse the parent's thread pool
    store = dist.FileStore(str(Path(folder) / "store"), world_size)
    dist.init_process_group(
        "gloo", store=store, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout)
    )
    try:
        result = fn(rank, world_size, *args)
    except Exception:
        (Path(folder) / f"rank{rank}.err").write_text(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()
    torch.save(result, Path(folder) / f"rank{rank}.pt")


def launch(
    fn: Callable[..., Any],
    args: tuple = (),
    world_size: int = 2,
    timeout: float = 60.0,
    start_method: str | None = None,
) -> list[Any]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` processes joined in a gloo group;
    return the list of their return values (tensors, numbers, lists, dicts), rank 0 first.

    ``torch.multiprocessing.start_processes`` starts the processes ("fork" on Linux, fast;
    "spawn" elsewhere, where fork is unsafe: fn must then be importable). If a process fails,
    it stops the others, and RuntimeError carries the traceback of every rank that raised.
    After ``timeout`` seconds all are killed and TimeoutError is raised.

    Example:

    >>> def rank_and_size(rank, world_size):
    ...     return (rank, world_size)
    >>> launch(rank_and_size, world_size=2)
    [(0, 2), (1, 2)]
    """
    method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
    with tempfile.TemporaryDirectory() as folder, _quiet_environment():
        context = mp.start_processes(
            _worker,
            (world_size, fn, args, folder, timeout),
            nprocs=world_size,
            join=False,
            daemon=True,
            start_method=method,
        )
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    for process in context.processes:
                        process.kill()
                        process.join()
                    raise TimeoutError(f"the {world_size} processes did not finish in {timeout} s")
        except (mp.ProcessRaisedException, mp.ProcessExitedException) as error:  # others stopped
            errors = [f.read_text() for f in sorted(Path(folder).glob("rank*.err"))] or [str(error)]
            raise RuntimeError("a worker process failed:\n" + "\n".join(errors)) from error
        return [torch.load(Path(folder) / f"rank{rank}.pt") for rank in range(world_size)]


# what the forked workers of parallel_map run: set before the fork, inherited, never pickled
_TASK: tuple[Callable[[Any], Any], list[Any]] | None = None


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _run_item(index: int) -> Any:
    assert _TASK is not None, "parallel_map's worker started without a task"
    fn, items = _TASK
    return fn(items[index])


def parallel_map(
    fn: Callable[[Any], Any], items: Iterable[Any], processes: int | None = None
) -> list[Any]:
    """``[fn(item) for item in items]``, in that order, with the items shared out over worker
    processes: for independent runs (a model per seed and setting) on a CPU with idle cores.

    On Linux the workers are forked from this process, so ``fn`` may be any function, a
    notebook's lambda included, and sees this process's variables as they are at the call;
    what ``fn`` returns (numbers, arrays, tensors, a trained ``nn.Module``) must be picklable.
    Each worker keeps this process's ``torch.get_num_threads()``, so a result is the same as
    the serial loop's here: ``fn`` must seed whatever it draws (the chapters' builders and
    :func:`~normhelpers.training.fit` do). ``processes`` defaults to the usable cores divided
    by that thread count. Elsewhere (macOS and Windows start processes by "spawn", which
    cannot run a notebook's functions), with one process or one item, it is the serial loop.
    An exception raised by ``fn`` in a worker is raised here.

    Example:

    >>> parallel_map(lambda n: n * n, range(5))
    [0, 1, 4, 9, 16]
    """
    global _TASK
    items = list(items)
    threads = torch.get_num_threads()
    if processes is None:
        processes = max(1, _usable_cores() // threads)
    processes = min(processes, len(items))
    if processes <= 1 or not sys.platform.startswith("linux"):
        return [fn(item) for item in items]
    _TASK = (fn, items)
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads (a Jupyter kernel's) may
            # deadlock a child that takes a lock held by one of them; the workers only compute
            warnings.filterwarnings("ignore", "This process .* multi-threaded", DeprecationWarning)
            with ProcessPoolExecutor(
                processes,
                mp_context=mp.get_context("fork"),
                initializer=torch.set_num_threads,
                initargs=(threads,),
            ) as pool:
                return list(pool.map(_run_item, range(len(items))))
    finally:
        _TASK = None
