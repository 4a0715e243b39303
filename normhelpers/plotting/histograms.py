"""Histograms of values before and after a normalization."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from normhelpers.plotting.style import COLORS

__all__ = ["plot_histograms"]


def _mean_std(values: np.ndarray) -> str:
    """ "mean 0.12, std 1.00" (population std), with -0.00 printed as 0.00."""
    mean = round(float(values.mean()), 2) + 0.0
    std = round(float(values.std()), 2) + 0.0
    return f"mean {mean:.2f}, std {std:.2f}"


def plot_histograms(
    before: torch.Tensor | np.ndarray,
    after: torch.Tensor | np.ndarray,
    title: str = "",
    bins: int | Sequence[float] | np.ndarray = 40,
    kind: str = "batch",
) -> Figure:
    """Two panels: the histogram of all values before and after normalization.

    before, after: tensors or arrays of any shape (flattened). Each panel's title prints the
    mean and the (population) standard deviation rounded to 2 decimals. ``bins``: a number
    of bins per panel, or the bin edges shared by both panels (so that their counts compare).
    ``kind`` picks the colour of the "after" panel.

    Example:

    >>> x = torch.randn(100) * 3 + 5
    >>> fig = plot_histograms(x, (x - x.mean()) / x.std(), title="standardize")
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.8))
    panels = (("before", before, COLORS["none"]), ("after", after, COLORS[kind]))
    for ax, (name, values, color) in zip(axes, panels, strict=True):
        flat = np.asarray(torch.as_tensor(values).detach().double().flatten())
        ax.hist(flat, bins=bins, color=color, alpha=0.85)
        ax.set_title(f"{name}: {_mean_std(flat)}")
        ax.set_xlabel("value")
    axes[0].set_ylabel("count")
    if title:
        fig.suptitle(title)
    return fig
