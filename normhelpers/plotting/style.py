"""One colour and one name per norm, and the plot style every chapter uses."""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["COLORS", "NAMES", "setup_style"]

# Okabe & Ito's colour-blind-safe palette, one colour per norm, used by every chapter.
COLORS: dict[str, str] = {
    "batch": "#0072B2",  # blue
    "layer": "#D55E00",  # vermillion
    "instance": "#009E73",  # bluish green
    "group": "#CC79A7",  # reddish purple
    "rms": "#E69F00",  # orange
    "none": "#7F7F7F",  # grey: no normalization
}

NAMES: dict[str, str] = {
    "batch": "BatchNorm",
    "layer": "LayerNorm",
    "instance": "InstanceNorm",
    "group": "GroupNorm",
    "rms": "RMSNorm",
    "none": "no norm",
}


def setup_style() -> None:
    """Set matplotlib's rcParams for the book: small dpi, readable fonts, no top/right spines.

    Example:

    >>> setup_style()
    >>> plt.rcParams["axes.spines.top"], plt.rcParams["axes.spines.right"]
    (False, False)
    """
    plt.rcParams.update(
        {
            "figure.dpi": 80,
            "savefig.dpi": 80,
            "figure.figsize": (6.0, 3.6),
            "figure.constrained_layout.use": True,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": plt.cycler(color=[COLORS[k] for k in COLORS]),
            "lines.linewidth": 1.6,
            "image.cmap": "viridis",
            "svg.hashsalt": "normbook",
        }
    )
