"""Which cells share one mean and variance: the cube of the GroupNorm paper (Wu & He, 2018,
Fig. 2), the samples drawn side by side, and the (N, D) grid.

What is shaded is computed by :func:`shaded_cells` from
:func:`normhelpers.axes.reduce_dims`, the same table the from-scratch norms use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from normhelpers.axes import LAYOUTS, channel_dim, reduce_dims
from normhelpers.plotting.style import COLORS, NAMES

__all__ = ["shaded_cells", "plot_axis_cube", "plot_axis_cubes", "plot_sample_grids", "plot_nd_grid"]

# Sizes of the drawn block, in the layout's dim order. C (or D) = 6 splits into 1, 2, 3, 6 groups.
_CUBE_SIZES: dict[str, tuple[int, ...]] = {
    "2d": (5, 6),  # N, D
    "cv": (4, 6, 2, 3),  # N, C, H, W  (drawn as N x C x H·W = 4 x 6 x 6)
    "nlp": (4, 5, 6),  # N, L, D
}

_DEPTH = (0.45 * math.cos(math.radians(40)), 0.45 * math.sin(math.radians(40)))  # one N step


def shaded_cells(kind: str, layout: str, sizes: Sequence[int], groups: int = 2) -> np.ndarray:
    """Which elements share one statistic with element ``[0, 0, ...]``.

    sizes: the tensor shape in the layout's dim order, e.g. (N, C, H, W) for "cv".
    Returns a boolean array of shape ``sizes``: True where an element is averaged together
    with the first element, for norm ``kind`` (rule from :func:`reduce_dims`). For
    ``"group"`` only the first C/G channels (or D/G features) are in the group.

    Example:

    >>> cells = shaded_cells("layer", "2d", (3, 4))  # (N, D): the first sample's row
    >>> cells.shape, int(cells.sum())
    ((3, 4), 4)
    >>> int(shaded_cells("batch", "cv", (2, 3, 4, 4)).sum())  # channel 0 of both images
    32
    """
    dims = reduce_dims(kind, layout)
    if len(sizes) != len(LAYOUTS[layout]):
        raise ValueError(f"layout {layout!r} expects sizes {LAYOUTS[layout]}, got {tuple(sizes)}")
    mask = np.ones(tuple(sizes), dtype=bool)
    for d, size in enumerate(sizes):
        keep = np.zeros(size, dtype=bool)
        if d not in dims:
            keep[0] = True  # a separate statistic for every index of this dim: only index 0
        elif kind == "group" and d == channel_dim(layout):
            if size % groups != 0:
                raise ValueError(f"{size} channels cannot be split into {groups} groups")
            keep[: size // groups] = True  # the first group of C/G channels
        else:
            keep[:] = True
        shape = [1] * len(sizes)
        shape[d] = size
        mask &= keep.reshape(shape)
    return mask


def _block(kind: str, layout: str, groups: int) -> tuple[np.ndarray, tuple[str, str, str]]:
    """Shaded cells arranged as the drawn block [depth n, across x, down y], and the axis names."""
    reduce_dims(kind, layout)  # the same ValueError for an unknown or undefined pair
    sizes = list(_CUBE_SIZES[layout])
    c = channel_dim(layout)
    if sizes[c] % groups != 0:
        sizes[c] = 2 * groups  # keep the drawing possible for any number of groups
    mask = shaded_cells(kind, layout, sizes, groups)
    if layout == "cv":  # (N, C, H, W) -> (N, C, H·W)
        return mask.reshape(sizes[0], sizes[1], -1), ("N", "C (channels)", "H·W")
    if layout == "nlp":  # (N, L, D) -> (N, D, L): features across, tokens down
        return mask.transpose(0, 2, 1), ("N", "D (features)", "L (tokens)")
    # "2d": (N, D) drawn flat, samples down and features across, as a printed tensor
    return mask.T[None], ("N (samples)", "D (features)", "")


def _face_color(base: str | tuple[float, float, float], shade: float) -> tuple[float, float, float]:
    """``base`` mixed with white (shade > 0) or black (shade < 0)."""
    rgb = np.array(to_rgb(base))
    target = 1.0 if shade > 0 else 0.0
    return tuple(rgb + abs(shade) * (target - rgb))


def _draw_block(ax: Axes, block: np.ndarray, color: str, splits: Sequence[int] = ()) -> None:
    """Draw the visible faces (front, top, right) of a block of unit cells in oblique projection.

    block: boolean [depth, across, down]; True cells are filled with ``color``.
    splits: positions across where a dark line marks a group boundary.
    """
    n_depth, n_x, n_y = block.shape
    dx, dy = _DEPTH
    empty = _face_color(COLORS["none"], 0.85)

    def p(x: float, y: float, z: float) -> tuple[float, float]:
        return (x + z * dx, y + z * dy)

    polys, colors = [], []
    for x in range(n_x):  # front face: depth 0
        for y in range(n_y):
            top = n_y - y
            polys.append([p(x, top - 1, 0), p(x + 1, top - 1, 0), p(x + 1, top, 0), p(x, top, 0)])
            colors.append(color if block[0, x, y] else empty)
    for z in range(n_depth):  # top face: first row (y = 0)
        for x in range(n_x):
            polys.append([p(x, n_y, z), p(x + 1, n_y, z), p(x + 1, n_y, z + 1), p(x, n_y, z + 1)])
            colors.append(_face_color(color, 0.3) if block[z, x, 0] else _face_color(empty, 0.4))
    for z in range(n_depth):  # right face: last column
        for y in range(n_y):
            top = n_y - y
            polys.append(
                [p(n_x, top - 1, z), p(n_x, top - 1, z + 1), p(n_x, top, z + 1), p(n_x, top, z)]
            )
            colors.append(
                _face_color(color, -0.25) if block[z, n_x - 1, y] else _face_color(empty, -0.12)
            )
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="white", linewidths=0.8))
    outline = [
        p(0, 0, 0),
        p(n_x, 0, 0),
        p(n_x, 0, n_depth),
        p(n_x, n_y, n_depth),
        p(0, n_y, n_depth),
        p(0, n_y, 0),
    ]
    lines = [outline] + [[p(x, 0, 0), p(x, n_y, 0), p(x, n_y, n_depth)] for x in splits]
    ax.add_collection(
        PolyCollection(lines, facecolors="none", edgecolors="0.25", linewidths=1.0, closed=False)
    )
    ax.add_collection(
        PolyCollection(
            [[p(0, 0, 0), p(0, n_y, 0)]],
            facecolors="none",
            edgecolors="0.25",
            linewidths=1.0,
            closed=False,
        )
    )


def _draw_grid(ax: Axes, grid: np.ndarray, color: str, splits: Sequence[int] = ()) -> None:
    """Draw a flat grid [rows down, columns across]; True cells filled with ``color``.

    splits: column positions where a dark line marks a group boundary.
    """
    n_rows, n_cols = grid.shape
    empty = _face_color(COLORS["none"], 0.85)
    polys, colors = [], []
    for r in range(n_rows):
        for col in range(n_cols):
            top = n_rows - r
            polys.append([(col, top - 1), (col + 1, top - 1), (col + 1, top), (col, top)])
            colors.append(color if grid[r, col] else empty)
    ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="white", linewidths=0.8))
    lines = [[(0, 0), (n_cols, 0), (n_cols, n_rows), (0, n_rows), (0, 0)]]
    lines += [[(x, 0), (x, n_rows)] for x in splits]
    ax.add_collection(
        PolyCollection(lines, facecolors="none", edgecolors="0.25", linewidths=1.0, closed=False)
    )


def plot_axis_cube(kind: str, layout: str = "cv", groups: int = 2, ax: Axes | None = None) -> Axes:
    """The GroupNorm-paper figure for one norm: cells sharing one mean/variance are shaded.

    layout "cv": block N (depth) x C (across) x H·W (down); "nlp": N x D x L;
    "2d": a flat grid, N rows (samples) x D columns (features), as a printed (N, D) tensor.
    groups: number of groups for ``kind="group"``.
    Raises the ValueError of :func:`reduce_dims` for a norm undefined on the layout.

    Example:

    >>> ax = plot_axis_cube("group", groups=2)
    >>> isinstance(ax, Axes)
    True
    >>> plt.close("all")
    """
    block, (name_n, name_x, name_y) = _block(kind, layout, groups)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6, 2.6))
    color = COLORS[kind]
    n_depth, n_x, n_y = block.shape
    splits = range(n_x // groups, n_x, n_x // groups) if kind == "group" else ()
    if layout == "2d":
        grid = block[0].T  # rows = samples
        _draw_grid(ax, grid, color, splits)
        ax.text(n_x / 2, -0.35, name_x, ha="center", va="top")
        ax.text(-0.35, grid.shape[0] / 2, name_n, ha="right", va="center", rotation=90)
        ax.set_xlim(-1.3, n_x + 0.3)
        ax.set_ylim(-1.3, grid.shape[0] + 0.3)
    else:
        _draw_block(ax, block, color, splits)
        dx, dy = _DEPTH
        ax.text(n_x / 2, -0.35, name_x, ha="center", va="top")
        ax.text(-0.35, n_y / 2, name_y, ha="right", va="center", rotation=90)
        ax.text(
            n_x + n_depth * dx / 2 + 0.3, n_depth * dy / 2 - 0.1, name_n, ha="left", va="center"
        )
        ax.set_xlim(-1.3, n_x + n_depth * dx + 1.0)
        ax.set_ylim(-1.3, n_y + n_depth * dy + 0.3)
    title = NAMES[kind] + (f" (G = {groups})" if kind == "group" else "")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def plot_sample_grids(
    kind: str, layout: str = "cv", groups: int = 2, n: int = 3, ax: Axes | None = None
) -> Axes:
    """The cube of :func:`plot_axis_cube` cut into its samples, drawn side by side.

    Each of the first ``n`` samples is one flat grid: channels C (features D for "nlp")
    across, the H·W positions (the L tokens) down. The cells that share one mean and
    variance with the first element are shaded; when they lie in more than one sample
    (BatchNorm) a bar under the grids joins them. So BatchNorm shades one column in
    *every* sample and InstanceNorm the same column in *one* sample only. "2d" draws the
    flat (N, D) grid of :func:`plot_nd_grid`.

    Example:

    >>> ax = plot_sample_grids("batch")
    >>> ax.get_title()
    'BatchNorm'
    >>> plt.close("all")
    """
    if layout == "2d":
        return plot_axis_cube(kind, "2d", groups, ax=ax)
    block, (_, name_x, name_y) = _block(kind, layout, groups)
    block = block[:n]
    if ax is None:
        _, ax = plt.subplots(figsize=(3.4, 2.2))
    color = COLORS[kind]
    n_samples, n_x, n_y = block.shape
    gap = 1.0
    splits = range(n_x // groups, n_x, n_x // groups) if kind == "group" else ()
    shaded_x: list[float] = []
    for i in range(n_samples):
        x0 = i * (n_x + gap)
        grid = block[i].T  # rows = H·W positions (tokens), columns = channels (features)
        polys = _grid_polys(grid, x0)
        empty = _face_color(COLORS["none"], 0.85)
        colors = [color if v else empty for v in grid.flatten()]
        ax.add_collection(
            PolyCollection(polys, facecolors=colors, edgecolors="white", linewidths=0.6)
        )
        lines = [[(x0, 0), (x0 + n_x, 0), (x0 + n_x, n_y), (x0, n_y), (x0, 0)]]
        lines += [[(x0 + x, 0), (x0 + x, n_y)] for x in splits]
        ax.add_collection(
            PolyCollection(
                lines, facecolors="none", edgecolors="0.25", linewidths=0.9, closed=False
            )
        )
        unit = "sequence" if layout == "nlp" else "sample"  # an (N, L, D) sample is a sequence
        ax.text(x0 + n_x / 2, n_y + 0.3, f"{unit} {i + 1}", ha="center", va="bottom")
        cols = np.flatnonzero(grid.any(axis=0))
        shaded_x += [x0 + c + 0.5 for c in cols]
    if shaded_x and (max(shaded_x) - min(shaded_x)) > n_x:  # spans several samples
        ax.plot(
            [min(shaded_x), max(shaded_x)],
            [-0.6, -0.6],
            color=color,
            lw=2.5,
            solid_capstyle="round",
        )
        ax.plot(shaded_x, [-0.6] * len(shaded_x), "o", color=color, ms=3)
    total = n_samples * n_x + (n_samples - 1) * gap
    ax.text(total / 2, -1.1, f"{name_x} across, {name_y} down", ha="center", va="top")
    ax.set_xlim(-0.3, total + 0.3)
    ax.set_ylim(-2.4, n_y + 1.2)
    ax.set_title(NAMES[kind] + (f" (G = {groups})" if kind == "group" else ""))
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax


def _grid_polys(grid: np.ndarray, x0: float = 0.0) -> list[list[tuple[float, float]]]:
    """Unit squares of a [rows down, columns across] grid, row-major, shifted by ``x0``."""
    n_rows, n_cols = grid.shape
    return [
        [
            (x0 + c, n_rows - r - 1),
            (x0 + c + 1, n_rows - r - 1),
            (x0 + c + 1, n_rows - r),
            (x0 + c, n_rows - r),
        ]
        for r in range(n_rows)
        for c in range(n_cols)
    ]


def plot_axis_cubes(
    kinds: Sequence[str] = ("batch", "layer", "instance", "group"),
    layout: str = "cv",
    groups: int = 2,
    style: str = "samples",
    ncols: int | None = None,
) -> Figure:
    """One panel per norm in ``kinds``, ``ncols`` to a row (default: all in one row; 2 gives
    a 2 x 2 grid of four norms, which stays readable on a narrow page).

    style "samples" (the default): :func:`plot_sample_grids`, the samples side by side,
    so that a statistic shared across samples (BatchNorm) looks different from one taken
    within a sample (InstanceNorm) at a glance. style "cube": :func:`plot_axis_cube`, the
    GroupNorm paper's block with N in depth.

    Example:

    >>> fig = plot_axis_cubes(("batch", "layer"))
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    >>> fig = plot_axis_cubes(ncols=2)  # the four norms, two rows of two
    >>> len(fig.axes), fig.axes[2].get_subplotspec().rowspan.start
    (4, 1)
    >>> plt.close(fig)
    """
    if style not in ("samples", "cube"):
        raise ValueError(f"style must be 'samples' or 'cube', got {style!r}")
    ncols = len(kinds) if ncols is None else ncols
    if not 1 <= ncols <= len(kinds):
        raise ValueError(f"ncols must be between 1 and {len(kinds)}, got {ncols}")
    nrows = -(-len(kinds) // ncols)
    for kind in kinds:
        reduce_dims(kind, layout)  # raise before drawing anything
    if style == "cube" or layout == "2d":
        width, height = (2.3 if layout == "2d" else 2.5), 2.6
    else:
        width, height = 3.3, 2.3
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[len(kinds) :]:  # an odd count leaves the last panel empty
        ax.remove()
    for kind, ax in zip(kinds, axes.flat, strict=False):
        if style == "cube":
            plot_axis_cube(kind, layout, groups, ax=ax)
        else:
            plot_sample_grids(kind, layout, groups, ax=ax)
    return fig


def plot_nd_grid(kinds: Sequence[str] = ("batch", "layer"), n: int = 5, d: int = 6) -> Figure:
    """The (N, D) picture: one panel per norm, rows = samples, columns = features.

    The cells that share one mean and variance with element [0, 0] are shaded: BatchNorm
    shades a column (one feature over the batch), LayerNorm a row (one sample over its
    features). Every other column (row) gets its own statistic.

    Example:

    >>> fig = plot_nd_grid()
    >>> [ax.get_title() for ax in fig.axes]
    ['BatchNorm: one μ, σ² per column', 'LayerNorm: one μ, σ² per row']
    >>> plt.close(fig)
    """
    per = {"batch": "column", "layer": "row", "rms": "row"}
    for kind in kinds:
        reduce_dims(kind, "2d")  # InstanceNorm raises here
    fig, axes = plt.subplots(1, len(kinds), figsize=(2.9 * len(kinds), 2.7), squeeze=False)
    for kind, ax in zip(kinds, axes[0], strict=True):
        grid = shaded_cells(kind, "2d", (n, d), groups=2)
        _draw_grid(ax, grid, COLORS[kind], range(d // 2, d, d // 2) if kind == "group" else ())
        for r in range(n):
            ax.text(-0.2, n - r - 0.5, f"{r + 1}", ha="right", va="center", fontsize="small")
        for c in range(d):
            ax.text(c + 0.5, n + 0.15, f"{c + 1}", ha="center", va="bottom", fontsize="small")
        ax.text(d / 2, -0.3, "D (features)", ha="center", va="top")
        ax.text(-1.0, n / 2, "N (samples)", ha="right", va="center", rotation=90)
        ax.set_xlim(-2.0, d + 0.3)
        ax.set_ylim(-1.2, n + 0.9)
        what = per.get(kind, "group")
        ax.set_title(f"{NAMES[kind]}: one μ, σ² per {what}")
        ax.set_aspect("equal")
        ax.set_axis_off()
    return fig
