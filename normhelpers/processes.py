"""Processes: several CPU processes in one gloo group for the synchronized BatchNorm of
chapter 15, or a group of this process alone; and independent runs shared out over the cores.

- :func:`launch`: start ``world_size`` processes with ``torch.multiprocessing``, join them in a
  gloo group through a ``torch.distributed.FileStore`` in a temporary folder (no network port
  to choose), run a function in each, return what each returned.
- :func:`single_process_group`: a group of one process, to see what ``nn.SyncBatchNorm`` does
  and to run the examples of :mod:`normhelpers.syncbn`.
- :func:`parallel_map`: ``[fn(item) for item in items]`` with the items shared out over
  forked processes, one per usable core, where torch computes with one thread (as in the
  notebooks): the experiment chapters' independent training runs (re-exported by
  :mod:`normhelpers.training`).

The algorithm that runs in the gloo processes is :mod:`normhelpers.syncbn`, which re-exports
``launch`` and ``single_process_group`` (``syncbn.launch``).
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import tempfile
import threading
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


def _fork_is_safe() -> bool:
    """Whether worker processes may be forked from this one: on Linux. Windows has no fork; on
    macOS it is unsafe (system libraries), and Python starts processes by spawn there."""
    return sys.platform.startswith("linux")


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
    method = start_method or ("fork" if _fork_is_safe() else "spawn")
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


# parallel_map's task: set before the fork and inherited by the workers, never pickled. The
# lock keeps a second call (from another thread) from replacing it: that call runs serially.
_TASK: tuple[Callable[[Any], Any], list[Any]] | None = None
_TASK_LOCK = threading.Lock()
_IN_WORKER = False  # True in a worker: a parallel_map inside fn runs serially there


def _usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _start_worker() -> None:
    global _IN_WORKER
    _IN_WORKER = True


def _run_item(index: int) -> tuple[bool, bytes | None, str]:
    """``fn(items[index])`` in a worker, as ``(True, pickled result, "")``, or on an exception
    ``(False, the pickled exception or None if it cannot be rebuilt, its traceback)``.

    Plain ``pickle`` copies tensors by value; the pool's own pickler (torch.multiprocessing's
    reductions) would send each through shared memory and keep a file descriptor open per
    tensor in the caller."""
    if _TASK is None:
        raise RuntimeError("parallel_map's worker started without a task")
    fn, items = _TASK
    try:
        return True, pickle.dumps(fn(items[index])), ""
    except Exception as error:
        text = traceback.format_exc()
        try:
            payload = pickle.dumps(error)
            pickle.loads(payload)  # an exception whose __init__ wants other arguments fails
        except Exception:
            return False, None, text
        return False, payload, text


def _stop(pool: ProcessPoolExecutor) -> None:
    """Kill the workers (the runs in flight too) and drop the queued items: on Ctrl-C."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def parallel_map(
    fn: Callable[[Any], Any], items: Iterable[Any], processes: int | None = None
) -> list[Any]:
    """``[fn(item) for item in items]``, in that order, with the items shared out over worker
    processes: for independent runs (a model per seed and setting) on a CPU with idle cores.

    On Linux, when torch computes with one thread (as ``setup_notebook`` sets), the workers
    are forked from this process, ``processes`` of them (default: the usable cores), each
    with one thread. So ``fn`` may be any function, a notebook's lambda included, and sees
    this process's variables as they are at the call; it runs the same computation as the
    loop would, and its results are the loop's, provided ``fn`` seeds whatever it draws (the
    chapters' builders and :func:`~normhelpers.training.fit` do). What ``fn`` changes besides
    its result (the global random state, a list it appends to) stays in the worker. Results
    (numbers, arrays, tensors, a trained ``nn.Module``) come back by pickle, by value.

    It is the loop itself, in this process: elsewhere (Windows has no fork; on macOS fork is
    unsafe and Python starts processes by spawn, which cannot run a notebook's lambdas), with
    more than one torch thread (a forked child of a process whose OpenMP threads have run can
    hang in them), inside a worker, while another thread's call runs, or with one process or
    one item.

    An exception raised by ``fn`` is raised here, after every item has run, with the
    worker's traceback as its cause (a RuntimeError carries it if the exception cannot be
    rebuilt); a worker that dies (a crash, ``os._exit``) raises ``BrokenProcessPool``; Ctrl-C
    kills the workers.

    Example:

    >>> parallel_map(lambda n: n * n, range(5))
    [0, 1, 4, 9, 16]
    """
    global _TASK
    items = list(items)
    processes = min(_usable_cores() if processes is None else processes, len(items))
    serial = processes <= 1 or not _fork_is_safe() or _IN_WORKER or torch.get_num_threads() > 1
    if serial or not _TASK_LOCK.acquire(blocking=False):
        return [fn(item) for item in items]
    try:
        _TASK = (fn, items)
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads (a Jupyter kernel's) may
            # deadlock a child that takes a lock held by one of them; the workers only compute
            warnings.filterwarnings("ignore", "This process .* multi-threaded", DeprecationWarning)
            pool = ProcessPoolExecutor(
                processes, mp_context=mp.get_context("fork"), initializer=_start_worker
            )
            try:
                outcomes = list(pool.map(_run_item, range(len(items))))
            except BaseException:
                _stop(pool)
                raise
            pool.shutdown()
    finally:
        _TASK = None
        _TASK_LOCK.release()
    results = []
    for ok, payload, text in outcomes:
        if ok and payload is not None:
            results.append(pickle.loads(payload))
            continue
        cause = RuntimeError(f"in a parallel_map worker:\n{text}")
        if payload is None:
            raise cause
        raise pickle.loads(payload) from cause
    return results
