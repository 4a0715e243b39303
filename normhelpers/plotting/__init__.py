"""Figures of the book: one colour per norm, the "which cells share a statistic" figures,
histograms.

Call :func:`setup_style` once at the top of a notebook (``nh.setup_notebook()`` does).
:func:`plot_axis_cube` draws the figure of the GroupNorm paper (Wu & He, 2018, Fig. 2): a
block of activations with axes N (depth), C (across) and H·W (down), in which the cells that
share **one** mean and variance are shaded; :func:`plot_sample_grids` draws the samples side
by side instead, so that BatchNorm (across samples) and InstanceNorm (within one) differ at a
glance. What is shaded is computed by :func:`shaded_cells` from
:func:`normhelpers.axes.reduce_dims`, the same table the from-scratch norms use.

- :mod:`normhelpers.plotting.style`: ``COLORS``, ``NAMES``, :func:`setup_style`;
- :mod:`normhelpers.plotting.sets`: the shared-statistic figures;
- :mod:`normhelpers.plotting.histograms`: :func:`plot_histograms`.
"""

from normhelpers.plotting.histograms import plot_histograms
from normhelpers.plotting.sets import (
    plot_axis_cube,
    plot_axis_cubes,
    plot_nd_grid,
    plot_sample_grids,
    shaded_cells,
)
from normhelpers.plotting.style import COLORS, NAMES, setup_style

__all__ = [
    "COLORS",
    "NAMES",
    "setup_style",
    "shaded_cells",
    "plot_axis_cube",
    "plot_axis_cubes",
    "plot_sample_grids",
    "plot_nd_grid",
    "plot_histograms",
]
