"""normhelpers.axes: the dims each norm averages over, checked against torch's own layers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import normhelpers as nh

EPS = 1e-5
G = 3  # groups; the channel (or feature) dim has 6 entries in every layout
SHAPES = {"2d": (5, 6), "cv": (4, 6, 3, 3), "nlp": (4, 5, 6)}


def sample(layout: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return 1.0 + 2.0 * torch.randn(SHAPES[layout], generator=g, dtype=torch.float64)


def channels_first(f, x: torch.Tensor, layout: str) -> torch.Tensor:
    """Apply f to x with channels in dim 1: (N, L, D) is seen as (N, D, L), as BatchNorm1d,
    InstanceNorm1d and GroupNorm expect for token states, then transposed back."""
    if layout == "nlp":
        return f(x.transpose(1, 2)).transpose(1, 2)
    return f(x)


def torch_reference(x: torch.Tensor, kind: str, layout: str) -> torch.Tensor:
    trailing = list(x.shape[1:]) if layout == "cv" else [x.shape[-1]]  # LayerNorm / RMSNorm
    if kind == "batch":
        return channels_first(
            lambda t: F.batch_norm(t, None, None, training=True, eps=EPS), x, layout
        )
    if kind == "instance":
        return channels_first(lambda t: F.instance_norm(t, eps=EPS), x, layout)
    if kind == "group":
        return channels_first(lambda t: F.group_norm(t, G, eps=EPS), x, layout)
    if kind == "layer":
        return F.layer_norm(x, trailing, eps=EPS)
    return F.rms_norm(x, trailing, eps=EPS)


VALID = [(k, lay) for k in nh.NORMS for lay in nh.LAYOUTS if (k, lay) != ("instance", "2d")]


@pytest.mark.parametrize("kind, layout", VALID)
def test_normalize_equals_torch_layer(kind, layout):
    x = sample(layout)
    y = nh.normalize(x, kind, layout, groups=G, eps=EPS)
    assert y.shape == x.shape
    torch.testing.assert_close(y, torch_reference(x, kind, layout))


@pytest.mark.parametrize("kind, layout", VALID)
def test_stat_shape_counts_the_statistics(kind, layout):
    """stat_shape is the shape of the means: one per slice left after reducing reduce_dims."""
    x = sample(layout)
    dims = nh.reduce_dims(kind, layout)
    shape = nh.stat_shape(kind, layout, tuple(x.shape), groups=G)
    per_stat = math.prod(x.shape[d] for d in dims)
    if kind == "group":
        per_stat //= G  # only C/G channels of the channel dim share a statistic
    assert torch.Size(shape).numel() * per_stat == x.numel()
    if kind != "group":
        assert x.mean(dim=dims).shape == shape


@pytest.mark.parametrize("layout", ["2d", "cv"])
def test_stat_shape_matches_torch_saved_statistics(layout):
    """torch's native kernels return the statistics they computed: compare their shapes."""
    x = sample(layout)
    N, C = x.shape[:2]
    hw = x[0, 0].numel()
    bn_mean = torch.native_batch_norm(x, None, None, None, None, True, 0.1, EPS)[1]
    assert tuple(bn_mean.shape) == nh.stat_shape("batch", layout, tuple(x.shape))
    torch.testing.assert_close(bn_mean, x.mean(dim=nh.reduce_dims("batch", layout)))
    gn_mean = torch.native_group_norm(x, None, None, N, C, hw, G, EPS)[1]
    assert tuple(gn_mean.shape) == nh.stat_shape("group", layout, tuple(x.shape), groups=G)
    ln_mean = torch.native_layer_norm(x, list(x.shape[1:]), None, None, EPS)[1]
    assert ln_mean.numel() == torch.Size(nh.stat_shape("layer", layout, tuple(x.shape))).numel()


def test_documented_examples():
    assert nh.reduce_dims("batch", "cv") == (0, 2, 3)
    assert nh.reduce_dims("layer", "nlp") == (2,)
    assert nh.reduce_dims("batch", "nlp") == (0, 1)
    assert nh.reduce_dims("instance", "nlp") == (1,)
    assert nh.stat_shape("batch", "cv", (8, 3, 5, 5)) == (3,)
    assert nh.stat_shape("group", "cv", (8, 6, 5, 5), groups=2) == (8, 2)
    assert nh.stat_shape("layer", "nlp", (2, 7, 4)) == (2, 7)
    assert nh.stat_shape("instance", "cv", (8, 3, 5, 5)) == (8, 3)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_normalize_on_nlp_every_group_count(groups):
    x = sample("nlp")
    y = nh.normalize(x, "group", "nlp", groups=groups)
    expected = F.group_norm(x.transpose(1, 2), groups).transpose(1, 2)
    torch.testing.assert_close(y, expected)


def test_group_extremes_match_layer_and_instance():
    x = sample("cv")
    torch.testing.assert_close(
        nh.normalize(x, "group", "cv", groups=1), nh.normalize(x, "layer", "cv")
    )
    torch.testing.assert_close(
        nh.normalize(x, "group", "cv", groups=6), nh.normalize(x, "instance", "cv")
    )


INVALID = {
    "instance-2d": lambda: nh.reduce_dims("instance", "2d"),
    "unknown-kind": lambda: nh.reduce_dims("weight", "cv"),
    "unknown-layout": lambda: nh.reduce_dims("batch", "audio"),
    "stat-unknown-layout": lambda: nh.stat_shape("batch", "audio", (2, 3)),
    "stat-instance-2d": lambda: nh.stat_shape("instance", "2d", (2, 3)),
    "stat-wrong-rank": lambda: nh.stat_shape("batch", "cv", (2, 3, 4)),
    "stat-groups-not-dividing": lambda: nh.stat_shape("group", "nlp", (2, 3, 5), groups=2),
    "normalize-wrong-rank": lambda: nh.normalize(sample("cv"), "batch", "nlp"),
    "normalize-instance-2d": lambda: nh.normalize(sample("2d"), "instance", "2d"),
    "normalize-groups-not-dividing": lambda: nh.normalize(sample("cv"), "group", "cv", groups=4),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_combinations_raise_value_error(name):
    with pytest.raises(ValueError):
        INVALID[name]()


def test_zero_groups_raise_zero_division_like_torch():
    with pytest.raises(ZeroDivisionError):
        F.group_norm(sample("cv"), 0)
    with pytest.raises(ZeroDivisionError):
        nh.normalize(sample("cv"), "group", "cv", groups=0)


def test_error_messages_name_what_was_expected():
    with pytest.raises(ValueError, match="spatial or time dim"):
        nh.reduce_dims("instance", "2d")
    with pytest.raises(ValueError, match=r"\('N', 'C', 'H', 'W'\).*\(2, 3, 4\)"):
        nh.stat_shape("batch", "cv", (2, 3, 4))
    with pytest.raises(ValueError, match=r"\[4, 6, 3, 3\]"):
        nh.normalize(sample("cv"), "batch", "nlp")


def test_channel_dim_is_the_dim_groupnorm_splits():
    assert [nh.axes.channel_dim(layout) for layout in ("2d", "cv", "nlp")] == [1, 1, 2]
    with pytest.raises(ValueError, match="unknown layout 'xy'"):
        nh.axes.channel_dim("xy")


@pytest.mark.parametrize("kind, layout", VALID)
def test_normalize_an_empty_batch_like_torch(kind, layout):
    """N = 0: an empty result of the input's shape and dtype, as torch's functions give."""
    x = sample(layout)[:0]
    y = nh.normalize(x, kind, layout, groups=G, eps=EPS)
    y_ref = torch_reference(x, kind, layout)
    assert y.shape == y_ref.shape == x.shape
    assert y.dtype == y_ref.dtype
