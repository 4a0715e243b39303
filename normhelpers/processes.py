"""Process launching for the synchronized BatchNorm of chapter 15: several CPU processes in one
gloo group, or a group of this process alone.

- :func:`launch`: start ``world_size`` processes with ``torch.multiprocessing``, join them in a
  gloo group through a ``torch.distributed.FileStore`` in a temporary folder (no network port
  to choose), run a function in each, return what each returned.
- :func:`single_process_group`: a group of one process, to see what ``nn.SyncBatchNorm`` does
  and to run the examples of :mod:`normhelpers.syncbn`.

The algorithm that runs in these processes is :mod:`normhelpers.syncbn`, which re-exports both
names (``syncbn.launch``).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["launch", "single_process_group"]


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
