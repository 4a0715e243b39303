"""Tests of normhelpers.bench.timing: torch.utils.benchmark in interleaved rounds.

Timing tests on a shared machine must allow for noise: the bounds are loose, and the calls are
sleeps, whose durations the machine's load can lengthen but hardly change in ratio.
"""

from __future__ import annotations

import itertools
import time

import torch
from torch.utils.benchmark import Measurement

from normhelpers.bench import timing


def _sleep(seconds: float):
    return lambda: time.sleep(seconds)


def test_each_call_gets_a_median_and_a_spread_over_the_rounds() -> None:
    [m] = timing.time_interleaved([_sleep(0.001)], repeats=4, min_block_s=0.0)
    assert isinstance(m, Measurement)
    assert len(m.times) == 4  # one time per call per round
    assert 0.001 <= m.median < 0.05  # a sleep lasts at least what it was asked for
    assert 0.0 <= m.iqr < m.median


def test_the_rounds_visit_the_calls_in_turn() -> None:
    log: list[str] = []
    calls = [lambda: log.append("a"), lambda: log.append("b")]
    timing.time_interleaved(calls, repeats=3, min_block_s=0.0)
    runs = [name for name, _ in itertools.groupby(log)]  # "aaab" -> a, b
    assert runs == ["a", "b"] * 4  # the warm-up of each call, then 3 rounds of a and b


def test_a_call_against_itself_is_near_one_and_a_longer_one_is_not() -> None:
    short, longer = _sleep(0.002), _sleep(0.008)
    first, second, third = timing.time_interleaved(
        [short, short, longer], repeats=5, min_block_s=0.0
    )
    assert 0.7 < first.median / second.median < 1.4
    assert 2.0 < third.median / first.median < 4.5  # about (8 + overhead) / (2 + overhead)


def test_fast_calls_are_timed_in_blocks_of_several_calls() -> None:
    calls = []
    [m] = timing.time_interleaved([lambda: calls.append(1)], repeats=2, min_block_s=0.001)
    assert len(calls) > 1000  # torch's block size: the clock's overhead must not count
    assert m.median < 1e-5  # per call: the block's time divided by its number of calls


def test_the_thread_count_is_recorded() -> None:
    threads = torch.get_num_threads()
    [m] = timing.time_interleaved([_sleep(0.0)], repeats=1, min_block_s=0.0)
    assert m.num_threads == threads
    seen: list[int] = []
    [m] = timing.time_interleaved(
        [lambda: seen.append(torch.get_num_threads())],
        repeats=1,
        min_block_s=0.0,
        num_threads=threads + 1,
    )
    assert m.num_threads == threads + 1 and set(seen) == {threads + 1}
    assert torch.get_num_threads() == threads  # restored after the timing
