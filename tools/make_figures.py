"""Render the introduction's figures into book/_static/ with normhelpers.plotting.

    .venv/bin/python tools/make_figures.py

Writes nd_grid.png (BatchNorm shades a column of an (N, D) batch, LayerNorm a row) and
norm_sets_cv.png (the four norms on (N, C, H, W), the samples side by side, two norms to a
row). The PNGs are committed; rerun this script after changing the plotting functions.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from normhelpers import plotting  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "book" / "_static"
META = {"Software": None}  # no matplotlib version in the file: reruns give the same bytes


def main() -> None:
    plotting.setup_style()
    figures = {
        "nd_grid.png": plotting.plot_nd_grid(("batch", "layer")),
        "norm_sets_cv.png": plotting.plot_axis_cubes(layout="cv", groups=2, ncols=2),
    }
    for name, fig in figures.items():
        fig.savefig(STATIC / name, dpi=110, bbox_inches="tight", metadata=META)
        plt.close(fig)
        print("wrote", (STATIC / name).relative_to(STATIC.parents[1]))


if __name__ == "__main__":
    main()
