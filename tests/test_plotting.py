"""Tests of normhelpers.plotting: the shaded cells are the ones torch averages together."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from normhelpers import plotting  # noqa: E402
from normhelpers.axes import LAYOUTS, NORMS, reduce_dims  # noqa: E402

VALID = [(k, lay) for lay in LAYOUTS for k in NORMS if not (k == "instance" and lay == "2d")]
SIZES = {"2d": (3, 6), "cv": (3, 6, 2, 3), "nlp": (3, 4, 6)}


def torch_norm(x: torch.Tensor, kind: str, layout: str, groups: int) -> torch.Tensor:
    """torch's own layer for ``kind`` on ``layout`` (no affine), features of "nlp" last."""
    if kind in ("batch", "instance", "group"):
        t = x.transpose(1, 2) if layout == "nlp" else x  # (N, L, D) -> (N, D, L): D = channels
        if kind == "batch":
            y = F.batch_norm(t, None, None, training=True)
        elif kind == "instance":
            y = F.instance_norm(t)
        else:
            y = F.group_norm(t, groups)
        return y.transpose(1, 2) if layout == "nlp" else y
    shape = list(x.shape[1:]) if layout != "nlp" else [x.shape[-1]]
    if kind == "layer":
        return F.layer_norm(x, shape)
    return F.rms_norm(x, shape, eps=1e-6)


@pytest.mark.parametrize("kind,layout", VALID)
@pytest.mark.parametrize("groups", [2, 3])
def test_shaded_cells_are_the_elements_sharing_a_statistic_in_torch(kind, layout, groups):
    # Nudge element [0, 0, ...]: exactly the outputs that share its statistic change.
    x = torch.randn(SIZES[layout], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    nudged = x.clone()
    nudged[(0,) * x.dim()] += 1.0
    changed = torch_norm(nudged, kind, layout, groups) - torch_norm(x, kind, layout, groups)
    changed = changed.abs() > 1e-9
    changed[(0,) * x.dim()] = True
    expected = changed.numpy()
    got = plotting.shaded_cells(kind, layout, SIZES[layout], groups)
    assert got.dtype == bool and got.shape == SIZES[layout]
    np.testing.assert_array_equal(got, expected)


def test_shaded_cells_counts():
    assert plotting.shaded_cells("batch", "cv", (4, 6, 2, 3)).sum() == 4 * 6
    assert plotting.shaded_cells("layer", "cv", (4, 6, 2, 3)).sum() == 6 * 6
    assert plotting.shaded_cells("group", "cv", (4, 6, 2, 3), groups=3).sum() == 2 * 6
    assert plotting.shaded_cells("layer", "nlp", (4, 5, 6)).sum() == 6


def test_shaded_cells_rejects_bad_input():
    with pytest.raises(ValueError, match="groups"):
        plotting.shaded_cells("group", "cv", (2, 5, 2, 2), groups=2)
    with pytest.raises(ValueError, match="expects sizes"):
        plotting.shaded_cells("batch", "cv", (2, 5))


def _shaded_patch_count(ax, kind: str) -> int:
    """Number of drawn faces whose colour is exactly the norm's colour (the front face)."""
    color = np.array(to_rgba(plotting.COLORS[kind]))
    count = 0
    for coll in ax.collections:
        if isinstance(coll, PolyCollection):
            count += int(np.all(np.isclose(coll.get_facecolors(), color), axis=1).sum())
    return count


@pytest.mark.parametrize("kind,layout", VALID)
def test_plot_axis_cube_draws_every_valid_pair(kind, layout):
    fig, ax = plt.subplots()
    out = plotting.plot_axis_cube(kind, layout, groups=2, ax=ax)
    assert out is ax
    assert ax.get_title().startswith(plotting.NAMES[kind])
    plt.close(fig)


def test_front_face_shading_matches_shaded_cells():
    # Front face of the "cv" block = sample 0, C across, H·W down.
    for kind in ("batch", "layer", "instance", "group"):
        fig, ax = plt.subplots()
        plotting.plot_axis_cube(kind, "cv", groups=2, ax=ax)
        sizes = plotting.sets._CUBE_SIZES["cv"]
        front = plotting.shaded_cells(kind, "cv", sizes, groups=2)[0]
        assert _shaded_patch_count(ax, kind) == front.sum(), kind
        plt.close(fig)


def test_instance_on_2d_raises_like_reduce_dims():
    with pytest.raises(ValueError) as expected:
        reduce_dims("instance", "2d")
    with pytest.raises(ValueError) as got:
        plotting.plot_axis_cube("instance", "2d")
    assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError):
        plotting.plot_axis_cubes(("batch", "instance"), layout="2d")
    with pytest.raises(ValueError):
        plotting.plot_axis_cube("batch", "video")
    with pytest.raises(ValueError):
        plotting.plot_axis_cube("weight", "cv")
    plt.close("all")


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_plot_axis_cubes_one_row(layout):
    kinds = ("batch", "layer", "group", "rms")
    fig = plotting.plot_axis_cubes(kinds, layout=layout, groups=3)
    assert len(fig.axes) == len(kinds)
    assert [ax.get_title() for ax in fig.axes][0] == "BatchNorm"
    plt.close(fig)


def test_group_count_not_dividing_default_size_still_draws():
    fig = plotting.plot_axis_cubes(("group",), layout="cv", groups=4)
    assert fig.axes[0].get_title() == "GroupNorm (G = 4)"
    plt.close(fig)


def test_plot_histograms_titles():
    before = torch.arange(10.0)
    after = (before - before.mean()) / before.std(unbiased=False)
    fig = plotting.plot_histograms(before, after, title="demo", bins=5)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["before: mean 4.50, std 2.87", "after: mean 0.00, std 1.00"]
    assert fig._suptitle.get_text() == "demo"
    plt.close(fig)


def test_colors_and_style():
    assert set(plotting.COLORS) == {"batch", "layer", "instance", "group", "rms", "none"}
    assert len(set(plotting.COLORS.values())) == 6
    plotting.setup_style()
    assert plt.rcParams["figure.dpi"] == 80 and plt.rcParams["savefig.dpi"] == 80
    assert not plt.rcParams["axes.spines.top"] and not plt.rcParams["axes.spines.right"]


def _filled_counts(ax, kind):
    """Number of cells filled with the norm's colour in each PolyCollection of ``ax``."""
    target = np.array(to_rgba(plotting.COLORS[kind]))
    counts = []
    for coll in ax.collections:
        if isinstance(coll, PolyCollection) and len(coll.get_facecolors()) > 1:
            faces = coll.get_facecolors()
            counts.append(int(np.all(np.isclose(faces, target), axis=1).sum()))
    return counts


def test_sample_grids_tell_batch_from_instance():
    """BatchNorm shades a column in every sample, InstanceNorm in the first one only."""
    fig, (a, b) = plt.subplots(1, 2)
    plotting.plot_sample_grids("batch", "cv", n=3, ax=a)
    plotting.plot_sample_grids("instance", "cv", n=3, ax=b)
    batch, instance = _filled_counts(a, "batch"), _filled_counts(b, "instance")
    assert len(batch) == len(instance) == 3  # one grid per sample
    assert all(c > 0 for c in batch)
    assert instance[0] == batch[0] and instance[1:] == [0, 0]
    assert len(a.lines) == 2 and len(b.lines) == 0  # the bar joining the samples
    plt.close(fig)


@pytest.mark.parametrize("kind,layout", [v for v in VALID if v[1] != "2d"])
def test_sample_grids_match_shaded_cells(kind, layout):
    ax = plotting.plot_sample_grids(kind, layout, groups=2, n=3)
    block, _ = plotting.sets._block(kind, layout, 2)
    expected = [int(block[i].sum()) for i in range(3)]
    assert _filled_counts(ax, kind) == expected
    plt.close("all")


def test_plot_axis_cubes_styles():
    fig = plotting.plot_axis_cubes(style="cube")
    assert [ax.get_title() for ax in fig.axes][:2] == ["BatchNorm", "LayerNorm"]
    plt.close(fig)
    with pytest.raises(ValueError, match="style"):
        plotting.plot_axis_cubes(style="flat")


def test_plot_nd_grid_column_and_row():
    fig = plotting.plot_nd_grid(("batch", "layer"), n=5, d=6)
    assert _filled_counts(fig.axes[0], "batch") == [5]  # one column of N samples
    assert _filled_counts(fig.axes[1], "layer") == [6]  # one row of D features
    plt.close(fig)
    with pytest.raises(ValueError):
        plotting.plot_nd_grid(("instance",))
