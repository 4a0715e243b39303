"""normhelpers.claims: claim lines, spreads, and the 'beyond the spread' test."""

from __future__ import annotations

import math

import pytest

import normhelpers as nh


def test_claim_prints_its_verdict_and_is_truthy(capsys):
    result = nh.claim("BatchNorm wins (3 seeds)", True)
    assert capsys.readouterr().out == "✓ BatchNorm wins (3 seeds)\n"
    assert result and result.line == repr(result) == "✓ BatchNorm wins (3 seeds)"
    result = nh.claim("BatchNorm wins (3 seeds)", False)
    assert capsys.readouterr().out == "✗ BatchNorm wins (3 seeds)\n"
    assert not result
    assert result._ipython_display_() is None


def test_claim_accepts_numpy_and_torch_booleans(capsys):
    import numpy as np
    import torch

    assert nh.claim("numpy", np.bool_(True))
    assert not nh.claim("torch", torch.tensor(False))


def test_spread_statistics_and_rounding():
    s = nh.spread([0.95, 0.97, 0.93])
    assert s.mean == pytest.approx(0.95) and s.std == pytest.approx(0.02)
    assert (s.low, s.high, s.n) == (0.93, 0.97, 3)
    assert str(s) == "0.95 ± 0.02"
    assert s.format(3) == "0.950 ± 0.020"
    assert str(nh.spread([12.0, 14.0, 16.0])) == "14 ± 2"
    assert str(nh.spread([0.5])) == "0.50 ± 0.00"


def test_spread_needs_values():
    with pytest.raises(ValueError, match="at least one value"):
        nh.spread([])


def test_clearly_greater_needs_more_than_the_spread():
    assert nh.clearly_greater([0.95, 0.96, 0.94], [0.10, 0.20, 0.15])
    assert not nh.clearly_greater([0.95, 0.96, 0.94], [0.10, 0.20, 0.15], margin=0.9)
    # means differ by 0.02 but the seeds overlap: not a difference
    assert not nh.clearly_greater([0.90, 0.95, 0.97], [0.91, 0.92, 0.93])
    assert not nh.clearly_greater([0.5, 0.5], [0.5, 0.5])
    assert math.isclose(nh.spread([1, 3]).std, math.sqrt(2))


def test_paired_differences_count_only_beyond_their_spread():
    assert nh.above_spread([0.3, 0.2, 0.25]) and not nh.above_spread([-0.3, -0.2, -0.25])
    assert not nh.above_spread([0.3, -0.2, 0.1])  # mean 0.07, std 0.26
    assert nh.differs([-0.3, -0.2, -0.25]) and nh.differs(iter([0.3, 0.2, 0.25]))
    assert not nh.differs([0.03, -0.02, 0.05])
    assert not nh.above_spread([0.3, float("nan"), 0.2]) and not nh.differs([float("nan")])


def test_a_diverged_run_makes_the_spread_nan_and_no_claim_hold():
    s = nh.spread([0.9, float("nan"), 0.8])
    assert all(math.isnan(v) for v in (s.mean, s.std, s.low, s.high)) and s.n == 3
    assert not nh.clearly_greater([0.9, float("nan"), 0.8], [0.1, 0.1, 0.1])
    assert not nh.clearly_greater([0.9, 0.9, 0.8], [0.1, float("nan"), 0.1])
