"""normhelpers' modules against their torch.nn twins: outputs over training steps and in
eval, buffers, state_dict both ways, gradients, repr, and the errors on bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import normhelpers as nh

# name -> (class name, constructor kwargs/args, input shape)
CASES = {
    "bn1d-2d": ("BatchNorm1d", (4,), {}, (8, 4)),
    "bn1d-nlp": ("BatchNorm1d", (6,), {}, (3, 6, 5)),  # x_nlp (N, L, D) transposed to (N, D, L)
    "bn2d": ("BatchNorm2d", (3,), {}, (4, 3, 4, 4)),
    "bn3d": ("BatchNorm3d", (2,), {}, (2, 2, 3, 3, 3)),
    "bn-momentum-none": ("BatchNorm2d", (3,), {"momentum": None}, (4, 3, 4, 4)),
    "bn-momentum-0": ("BatchNorm1d", (4,), {"momentum": 0.0}, (8, 4)),
    "bn-momentum-1": ("BatchNorm1d", (4,), {"momentum": 1.0}, (8, 4)),
    "bn-no-tracking": ("BatchNorm2d", (3,), {"track_running_stats": False}, (4, 3, 4, 4)),
    "bn-no-affine": ("BatchNorm1d", (4,), {"affine": False}, (8, 4)),
    "bn-no-bias": ("BatchNorm2d", (3,), {"bias": False}, (4, 3, 4, 4)),
    "bn-eps": ("BatchNorm1d", (4,), {"eps": 1e-2}, (8, 4)),
    "in1d": ("InstanceNorm1d", (6,), {}, (3, 6, 5)),
    "in2d": ("InstanceNorm2d", (3,), {}, (4, 3, 4, 4)),
    "in3d": ("InstanceNorm3d", (2,), {}, (2, 2, 3, 3, 3)),
    "in-affine": ("InstanceNorm2d", (3,), {"affine": True}, (4, 3, 4, 4)),
    "in-tracking": ("InstanceNorm1d", (6,), {"track_running_stats": True}, (3, 6, 5)),
    "in-affine-tracking": ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True},
                           (4, 3, 4, 4)),
    "in-tracking-momentum-none": ("InstanceNorm2d", (3,),
                                  {"track_running_stats": True, "momentum": None}, (4, 3, 4, 4)),
    "in1d-unbatched": ("InstanceNorm1d", (6,), {"affine": True}, (6, 5)),
    "in2d-unbatched": ("InstanceNorm2d", (3,), {"track_running_stats": True}, (3, 4, 4)),
    "in3d-unbatched": ("InstanceNorm3d", (2,), {}, (2, 3, 3, 3)),
    "ln-2d": ("LayerNorm", (5,), {}, (6, 5)),
    "ln-nlp": ("LayerNorm", (6,), {}, (3, 5, 6)),
    "ln-cv": ("LayerNorm", ([3, 4, 4],), {}, (4, 3, 4, 4)),
    "ln-no-affine": ("LayerNorm", (6,), {"elementwise_affine": False}, (3, 5, 6)),
    "ln-no-bias": ("LayerNorm", (6,), {"bias": False}, (3, 5, 6)),
    "ln-eps": ("LayerNorm", ((4, 4),), {"eps": 1e-3}, (4, 3, 4, 4)),
    "gn-2d": ("GroupNorm", (2, 4), {}, (8, 4)),
    "gn-cv": ("GroupNorm", (3, 6), {}, (2, 6, 3, 3)),
    "gn-nlp": ("GroupNorm", (2, 6), {}, (3, 6, 5)),  # (N, D, L)
    "gn-no-affine": ("GroupNorm", (3, 6), {"affine": False}, (2, 6, 3, 3)),
    "gn-no-bias": ("GroupNorm", (1, 6), {"bias": False}, (2, 6, 3, 3)),
    "rms-nlp": ("RMSNorm", (6,), {}, (3, 5, 6)),
    "rms-cv": ("RMSNorm", ([4, 4],), {"eps": 1e-6}, (4, 3, 4, 4)),
    "rms-no-affine": ("RMSNorm", (5,), {"elementwise_affine": False}, (6, 5)),
}


def twins(name: str, dtype=torch.float32) -> tuple[nn.Module, nn.Module]:
    """(ours, torch's), with the same random affine parameters (copied torch -> ours)."""
    cls, args, kwargs, _ = CASES[name]
    theirs = getattr(nn, cls)(*args, **kwargs, dtype=dtype)
    ours = getattr(nh, cls)(*args, **kwargs, dtype=dtype)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=dtype))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def batch(name: str, step: int, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(100 + step)
    return (2.0 + 3.0 * torch.randn(CASES[name][3], generator=g, dtype=torch.float64)).to(dtype)


def assert_same_state(ours: nn.Module, theirs: nn.Module) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        torch.testing.assert_close(a[key], b[key], msg=key)


@pytest.mark.parametrize("name", list(CASES))
def test_train_steps_then_eval_match_torch(name):
    ours, theirs = twins(name)
    for step in range(3):
        x = batch(name, step)
        torch.testing.assert_close(ours(x), theirs(x))
        assert_same_state(ours, theirs)  # running statistics and num_batches_tracked
    ours.eval()
    theirs.eval()
    for step in range(3, 5):
        x = batch(name, step)
        torch.testing.assert_close(ours(x), theirs(x))
        assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_torch(name):
    grads = []
    for module in twins(name, torch.float64):
        x = batch(name, 0, torch.float64).requires_grad_()
        upstream = batch(name, 1, torch.float64)
        (module(x) * upstream).sum().backward()
        grads.append([x.grad] + [p.grad for p in module.parameters()])
    assert len(grads[0]) == len(grads[1])
    for g, g_ref in zip(*grads, strict=True):
        torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("name", list(CASES))
def test_structure_matches_torch(name):
    """Same parameter names and shapes, buffers, state_dict keys, and repr."""
    ours, theirs = twins(name)
    assert [(k, p.shape) for k, p in ours.named_parameters()] == [
        (k, p.shape) for k, p in theirs.named_parameters()]
    assert [(k, b.shape) for k, b in ours.named_buffers()] == [
        (k, b.shape) for k, b in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for attr in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        assert (getattr(ours, attr, None) is None) == (getattr(theirs, attr, None) is None), attr


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_moves_both_ways(name):
    ours, theirs = twins(name)
    for step in range(2):  # change the running statistics in ours
        ours(batch(name, step))
    fresh_torch = twins(name)[1]
    fresh_torch.load_state_dict(ours.state_dict())  # ours -> torch
    assert_same_state(ours, fresh_torch)
    ours.eval()
    fresh_torch.eval()
    x = batch(name, 7)
    torch.testing.assert_close(ours(x), fresh_torch(x))
    fresh_ours = twins(name)[0]
    fresh_ours.load_state_dict(fresh_torch.state_dict())  # torch -> ours
    assert_same_state(fresh_ours, fresh_torch)


def test_num_batches_tracked_counts_training_batches_only():
    bn = nh.BatchNorm1d(3)
    for _ in range(4):
        bn(batch("bn1d-2d", 0)[:, :3])
    bn.eval()
    bn(batch("bn1d-2d", 1)[:, :3])
    assert bn.num_batches_tracked.item() == 4
    assert bn.num_batches_tracked.dtype == torch.long


def test_momentum_none_is_the_cumulative_average():
    bn = nh.BatchNorm1d(4, momentum=None)
    xs = [batch("bn1d-2d", step, torch.float64) for step in range(3)]
    bn.double()
    for x in xs:
        bn(x)
    expected_mean = torch.stack([x.mean(0) for x in xs]).mean(0)
    expected_var = torch.stack([x.var(0) for x in xs]).mean(0)  # unbiased batch variances
    torch.testing.assert_close(bn.running_mean, expected_mean)
    torch.testing.assert_close(bn.running_var, expected_var)


def test_no_tracking_uses_batch_statistics_in_eval():
    bn = nh.BatchNorm1d(4, affine=False, track_running_stats=False).eval()
    x = batch("bn1d-2d", 0, torch.float64)
    expected = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(bn(x), expected)
    assert bn.running_mean is None and bn.num_batches_tracked is None


def test_instance_norm_unbatched_equals_a_batch_of_one():
    m = nh.InstanceNorm2d(3, affine=True)
    x = batch("in2d-unbatched", 0)
    y = m(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, m(x.unsqueeze(0)).squeeze(0))


def test_instance_norm_eval_with_tracking_uses_running_statistics():
    ours, theirs = twins("in-tracking")
    x = batch("in-tracking", 0)
    ours(x)
    theirs(x)
    ours.eval()
    theirs.eval()
    y = ours(batch("in-tracking", 1))
    torch.testing.assert_close(y, theirs(batch("in-tracking", 1)))
    # in eval the per-instance statistics are no longer used: outputs are not standardized
    assert y.mean(-1).abs().max() > 0.1


def test_parameter_shapes_and_initial_values():
    assert nh.BatchNorm2d(3).weight.shape == (3,)
    assert nh.GroupNorm(2, 6).bias.shape == (6,)
    assert nh.LayerNorm([3, 4]).weight.shape == (3, 4)
    assert nh.RMSNorm(5).weight.shape == (5,)
    bn = nh.BatchNorm1d(4)
    assert torch.equal(bn.running_var, torch.ones(4))
    assert torch.equal(bn.bias, torch.zeros(4))
    assert nh.InstanceNorm1d(4).weight is None  # InstanceNorm: affine=False by default


def test_dtype_argument_applies_to_parameters_and_buffers():
    bn = nh.BatchNorm2d(3, dtype=torch.float64)
    assert bn.weight.dtype == bn.running_mean.dtype == torch.float64
    assert bn.num_batches_tracked.dtype == torch.long


def test_reset_running_stats():
    ours, _ = twins("bn2d")
    ours(batch("bn2d", 0))
    ours.reset_running_stats()
    assert_same_state(ours, twins("bn2d")[1])


# ------------------------------------------------------------------------------ bad input

# name -> (class name, args, kwargs, input shape, substrings our message must contain)
BAD_INPUTS = {
    "bn1d-4d": ("BatchNorm1d", (3,), {}, (2, 3, 4, 4), ["2D or 3D", "4D", "[2, 3, 4, 4]"]),
    "bn1d-1d": ("BatchNorm1d", (3,), {}, (3,), ["2D or 3D", "1D", "[3]"]),
    "bn2d-3d": ("BatchNorm2d", (3,), {}, (3, 4, 4), ["4D", "3D", "[3, 4, 4]"]),
    "bn2d-5d": ("BatchNorm2d", (3,), {}, (2, 3, 4, 4, 4), ["4D", "5D"]),
    "bn3d-4d": ("BatchNorm3d", (3,), {}, (3, 2, 4, 4), ["5D", "4D", "[3, 2, 4, 4]"]),
    "bn2d-wrong-channels": ("BatchNorm2d", (3,), {}, (2, 4, 4, 4), ["4", "[3]", "[2, 4, 4, 4]"]),
    "bn1d-wrong-features": ("BatchNorm1d", (3,), {"track_running_stats": False}, (5, 4),
                            ["4", "[3]", "[5, 4]"]),
    "bn1d-one-value": ("BatchNorm1d", (3,), {}, (1, 3), ["[1, 3]"]),
    "in1d-4d": ("InstanceNorm1d", (3,), {}, (2, 3, 4, 4), ["2D or 3D", "4D", "[2, 3, 4, 4]"]),
    "in1d-1d": ("InstanceNorm1d", (3,), {}, (3,), ["1D", "[3]"]),
    "in2d-2d": ("InstanceNorm2d", (3,), {}, (3, 4), ["3D or 4D", "2D", "[3, 4]"]),
    "in3d-3d": ("InstanceNorm3d", (3,), {}, (3, 4, 4), ["4D or 5D", "3D"]),
    "in2d-affine-wrong-channels": ("InstanceNorm2d", (3,), {"affine": True}, (2, 4, 4, 4),
                                   ["(3)", "4", "[2, 4, 4, 4]"]),
    "in2d-unbatched-affine-wrong-channels": ("InstanceNorm2d", (3,), {"affine": True}, (4, 4, 4),
                                             ["(3)", "dim=0", "[4, 4, 4]"]),
    "in2d-tracking-wrong-channels": ("InstanceNorm2d", (3,), {"track_running_stats": True},
                                     (2, 4, 4, 4), ["[3]", "[2, 4, 4, 4]"]),
    "in1d-one-time-step": ("InstanceNorm1d", (3,), {}, (2, 3, 1), ["[2, 3, 1]"]),
    "ln-trailing": ("LayerNorm", (4,), {}, (2, 3), ["[4]", "[2, 3]"]),
    "ln-trailing-2": ("LayerNorm", ([3, 4],), {}, (2, 4, 3), ["[3, 4]", "[2, 4, 3]"]),
    "gn-wrong-channels": ("GroupNorm", (2, 4), {}, (2, 6, 3), ["[4]", "[2, 6, 3]"]),
    "gn-1d": ("GroupNorm", (2, 4), {}, (4,), ["[4]"]),
    "gn-one-value": ("GroupNorm", (2, 2), {}, (1, 2), ["[1, 2]"]),
    "rms-trailing": ("RMSNorm", (4,), {}, (2, 3), ["[4]", "[2, 3]"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
@pytest.mark.filterwarnings("ignore:input's size at dim=1 does not match num_features")
def test_bad_input_raises_like_torch(name):
    cls, args, kwargs, shape, parts = BAD_INPUTS[name]
    x = torch.randn(shape)
    with pytest.raises(Exception) as torch_error:
        getattr(nn, cls)(*args, **kwargs)(x)
    with pytest.raises(type(torch_error.value)) as our_error:
        getattr(nh, cls)(*args, **kwargs)(x)
    assert type(our_error.value) is type(torch_error.value)
    for part in parts:
        assert part in str(our_error.value), f"{part!r} not in {str(our_error.value)!r}"


def test_instance_norm_channel_mismatch_without_affine_warns_like_torch():
    x = torch.randn(2, 4, 5)
    with pytest.warns(UserWarning, match="num_features"):
        y_ref = nn.InstanceNorm1d(3)(x)
    with pytest.warns(UserWarning, match="num_features"):
        y = nh.InstanceNorm1d(3)(x)
    torch.testing.assert_close(y, y_ref)


@pytest.mark.parametrize("groups, channels", [(3, 4), (4, 6), (0, 4)])
def test_group_norm_constructor_rejects_like_torch(groups, channels):
    with pytest.raises(Exception) as torch_error:
        nn.GroupNorm(groups, channels)
    with pytest.raises(type(torch_error.value)) as our_error:
        nh.GroupNorm(groups, channels)
    if groups:
        assert f"({channels})" in str(our_error.value)
        assert f"({groups})" in str(our_error.value)


def test_instance_norm_right_channels_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nh.InstanceNorm1d(3)(torch.randn(2, 3, 5))
