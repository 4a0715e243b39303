"""Claim checks: a conclusion the prose draws from an experiment, checked by code.

A chapter that says "BatchNorm trains at a learning rate where the plain network fails" backs
it with a claim cell: the experiment is repeated over several seeds, the numbers are shown
with their spread, and one line states the claim with ✓ or ✗::

    bn, plain = spread(bn_accs), spread(plain_accs)
    claim("BatchNorm trains at lr 0.1 where the plain network fails (3 seeds)",
          bn.low > 0.8 and plain.high < 0.3)

The printed claim line contains no measured digit, so it reads the same on every CPU; nbval
compares it, and a fresh run whose numbers no longer support the claim prints ✗ and fails.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Claim", "Spread", "claim", "spread", "clearly_greater", "above_spread", "differs"]


@dataclass(frozen=True)
class Claim:
    """A checked statement. Truthy when it holds, so ``assert claim(...)`` works too.

    Example:

    >>> c = claim("two is more than one", 2 > 1)
    ✓ two is more than one
    >>> bool(c), c.holds
    (True, True)
    """

    statement: str
    holds: bool

    @property
    def line(self) -> str:
        return f"{'✓' if self.holds else '✗'} {self.statement}"

    def __bool__(self) -> bool:
        return self.holds

    def __repr__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        """Already printed by claim(): show nothing more at the end of a notebook cell."""


def claim(statement: str, holds: bool) -> Claim:
    """Print ``✓ statement`` when ``holds`` is true, ``✗ statement`` otherwise.

    statement: the sentence of the prose, with its margin and the number of seeds, e.g.
        "LayerNorm's loss is at least 0.1 lower after 200 steps (3 seeds)". It must not
        contain measured digits: those belong in the cell that shows the spread.
    holds: the test of the claim, evaluated on the repeated measurements.

    Example:

    >>> _ = claim("LayerNorm needs no batch statistics (3 seeds)", True)
    ✓ LayerNorm needs no batch statistics (3 seeds)
    >>> _ = claim("BatchNorm is exact at batch size 1", False)
    ✗ BatchNorm is exact at batch size 1
    """
    result = Claim(statement, bool(holds))
    print(result.line)
    return result


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation of repeated measurements (seeds, runs).

    ``low``/``high`` are the smallest and largest value. ``str`` shows ``mean ± std``
    rounded to the std's first significant digit (what the spread supports).

    Example:

    >>> s = spread([1.0, 2.0, 3.0])
    >>> s.mean, s.std, s.low, s.high, s.n
    (2.0, 1.0, 1.0, 3.0, 3)
    >>> print(s)
    2 ± 1
    """

    mean: float
    std: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return self.format()

    def format(self, digits: int | None = None) -> str:
        """``mean ± std``; ``digits`` decimals, or by default the decade of the std."""
        if digits is None:
            digits = (
                2
                if self.std == 0 or not math.isfinite(self.std)
                else max(0, 1 - math.floor(math.log10(self.std)) - 1)
            )
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def spread(values: Iterable[float]) -> Spread:
    """:class:`Spread` of ``values`` (at least one; std is 0 for a single value).

    A NaN among the values (a diverged run) makes every field NaN, so that no claim built on
    them can hold by accident.

    Example:

    >>> spread([4.0]).std
    0.0
    >>> spread([1.0, 3.0]).mean
    2.0
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("spread() needs at least one value, got none")
    if any(math.isnan(x) for x in xs):
        return Spread(math.nan, math.nan, math.nan, math.nan, len(xs))
    std = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return Spread(statistics.fmean(xs), std, min(xs), max(xs), len(xs))


def clearly_greater(a: Iterable[float], b: Iterable[float], margin: float = 0.0) -> bool:
    """True when the values ``a`` beat ``b`` by more than their spread (and ``margin``).

    The test: mean(a) - mean(b) > margin + std(a) + std(b), and every value of ``a`` is above
    every value of ``b`` plus ``margin``. With 3 seeds, a difference smaller than the spread is
    not called a difference.

    Example:

    >>> clearly_greater([0.9, 0.91, 0.92], [0.5, 0.52, 0.51])
    True
    >>> clearly_greater([0.9, 0.5, 0.7], [0.6, 0.8, 0.7])
    False
    """
    sa, sb = spread(a), spread(b)
    return sa.mean - sb.mean > margin + sa.std + sb.std and sa.low > sb.high + margin


def above_spread(differences: Iterable[float]) -> bool:
    """True when paired differences (seed by seed, or run by run where the cases share a run's
    load) are positive beyond their spread: their mean exceeds their standard deviation.

    Pairing removes what the two cases share (a seed's data, a run's machine load), so the test
    is on the differences, not on the two sets of values as in :func:`clearly_greater`. A NaN
    among them makes it False.

    Example:

    >>> above_spread([0.3, 0.2, 0.25])
    True
    >>> above_spread([0.3, -0.2, 0.1])
    False
    """
    gap = spread(differences)
    return gap.mean > gap.std


def differs(differences: Iterable[float]) -> bool:
    """:func:`above_spread` in either direction; ``not differs(d)``: within the spread.

    Example:

    >>> differs([-0.3, -0.2, -0.25]), differs([0.03, -0.02, 0.05])
    (True, False)
    """
    values = list(differences)
    return above_spread(values) or above_spread([-v for v in values])
