"""The benchmark's figure: time / ``copy_`` time, one group of bars per op, one bar per impl."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from normhelpers.bench.cases import BACKWARD, IMPLS, LIMITS, OPS
from normhelpers.bench.report import Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["IMPL_COLORS", "plot_ratios"]

IMPL_COLORS: dict[str, str] = {  # Okabe and Ito's colour-blind-safe palette
    "torch": "#0072B2",
    "scratch": "#E69F00",
    "scratch+compile": "#D55E00",
    "onepass": "#56B4E9",
    "onepass+compile": "#009E73",
    "rows+compile": "#CC79A7",
    "compile": "#999999",  # affine compiled (grey: black marks the limits)
}


def plot_ratios(rows: Sequence[Row], ax: Axes | None = None, title: str = "") -> Axes:
    """Bar chart of time / ``copy_`` time: one group of bars per op (``affine`` first, when the
    rows have it: a one-pass computing kernel), one bar per impl.

    A black tick over each group marks the op's limit in :data:`~normhelpers.bench.LIMITS`
    (1.0: x read once; 1.5: read twice; 2.5: a BatchNorm backward, which reads x and the
    upstream gradient twice), counted with a read and a write costing the same. Error bars:
    the IQR of the rounds. Returns the matplotlib Axes.

    Example:

    >>> from normhelpers.bench.report import Row
    >>> rows = [Row("cpu", 1, "2.x", "2026-01-01", "float32", "(2, 3)", op, "torch",
    ...             0.2, 0.01, ratio, 5.0, 0.0) for op, ratio in [("clone", 1.0),
    ...                                                         ("batch_norm", 2.0)]]
    >>> ax = plot_ratios(rows)
    >>> ax.get_ylabel() != ""
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt  # only the plot needs matplotlib

    # groups of bars: (label, op, shape); affine has one group per input shape (CV, NLP)
    groups: list[tuple[str, str, str | None]] = [
        (f"affine\n{r.shape}", "affine", r.shape) for r in rows if r.op == "affine"
    ]
    ops = list(OPS) + list(BACKWARD)
    groups += [
        (op.replace("_backward", "\nbackward").replace("_", " "), op, None)
        for op in ops
        if any(r.op == op for r in rows)
    ]
    impls = [i for i in IMPLS if any(r.impl == i and r.op in {g[1] for g in groups} for r in rows)]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4), layout="constrained")
    width = 0.8 / len(impls)
    labelled: set[str] = set()
    for j, (_, op, shape) in enumerate(groups):  # the bars of a group are centred on its tick
        bars = [
            (impl, r.ratio_to_copy, r.ratio_to_copy * r.iqr_ms / r.median_ms)
            for impl in impls
            for r in rows
            if r.op == op and r.impl == impl and shape in (None, r.shape)
        ]
        for k, (impl, ratio, spread) in enumerate(bars):
            ax.bar(
                j + (k - (len(bars) - 1) / 2) * width,
                ratio,
                width,
                yerr=spread / 2,  # the IQR of the rounds, as a ratio: +- half of it
                capsize=2,
                color=IMPL_COLORS[impl],
                label=None if impl in labelled else impl,
            )
            labelled.add(impl)
    for j, (_, op, _) in enumerate(groups):
        ax.hlines(
            LIMITS[op], j - 0.45, j + 0.45, color="black", lw=1.5, label="_" if j else "limit"
        )
    ax.set_xticks(
        range(len(groups)), [label for label, _, _ in groups], fontsize=8, rotation=30, ha="right"
    )
    ax.set_ylabel("time / copy_ time")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
