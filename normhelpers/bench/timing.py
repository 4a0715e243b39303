"""Time several calls in interleaved rounds, with :mod:`torch.utils.benchmark`.

A shared machine's load changes from one second to the next. Timing case A for a while and then
case B lets such a change favour one of them; visiting every case once per round, and taking each
case's median over the rounds, lets it hit all cases alike. :func:`time_interleaved` does this
with one :class:`torch.utils.benchmark.Timer` per case (the Timer synchronizes a GPU before it
reads the clock, and runs with the thread count it is given):

1. warm-up: ``Timer.blocked_autorange(min_run_time=min_block_s)``, whose ``number_per_run`` is
   torch's choice of calls per timed block (one call for a slow kernel; enough calls for a fast
   one that a block lasts about ``min_block_s`` and the clock's overhead does not count);
2. ``repeats`` rounds: in each, ``Timer.timeit(number)`` for every case in turn (``timeit`` makes
   a few warm-up calls of its own before its block);
3. ``Measurement.merge`` of each case's rounds: one time per call per round, from which the
   :class:`~torch.utils.benchmark.Measurement` gives the ``median`` and the ``iqr`` (spread).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils.benchmark import Measurement, Timer

__all__ = ["make_timer", "time_interleaved"]


def make_timer(
    call: Callable[[], object], label: str = "", num_threads: int | None = None
) -> Timer:
    """A Timer of ``call()`` with ``num_threads`` threads (default: torch's current count;
    Timer's own default is 1)."""
    threads = torch.get_num_threads() if num_threads is None else num_threads
    return Timer(stmt="call()", globals={"call": call}, label=label, num_threads=threads)


def time_interleaved(
    calls: Sequence[Callable[[], object]],
    repeats: int = 10,
    min_block_s: float = 0.002,
    labels: Sequence[str] | None = None,
    num_threads: int | None = None,
) -> list[Measurement]:
    """One Measurement per call, from ``repeats`` rounds that each time every call once, in turn.

    Each Measurement has ``repeats`` times (seconds per call, one per round), their ``median`` and
    ``iqr``, and the thread count it ran with (``num_threads``).

    Example:

    >>> x = torch.randn(100)
    >>> ms = time_interleaved([x.clone, x.sum], repeats=3, min_block_s=1e-4)
    >>> len(ms), len(ms[0].times), ms[0].median > 0
    (2, 3, True)
    """
    labels = list(labels) if labels is not None else [str(i) for i in range(len(calls))]
    timers = [
        make_timer(call, label, num_threads) for call, label in zip(calls, labels, strict=True)
    ]
    numbers = [t.blocked_autorange(min_run_time=min_block_s).number_per_run for t in timers]
    rounds: list[list[Measurement]] = [[] for _ in timers]
    for _ in range(repeats):
        for timer, number, measured in zip(timers, numbers, rounds, strict=True):
            measured.append(timer.timeit(number))
    return [Measurement.merge(measured)[0] for measured in rounds]
