"""normhelpers' modules against their torch.nn twins: outputs over training steps and in
eval, buffers, state_dict both ways, gradients, repr, and the errors on bad input."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from itertools import product

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
    "in-affine-tracking": (
        "InstanceNorm2d",
        (3,),
        {"affine": True, "track_running_stats": True},
        (4, 3, 4, 4),
    ),
    "in-tracking-momentum-none": (
        "InstanceNorm2d",
        (3,),
        {"track_running_stats": True, "momentum": None},
        (4, 3, 4, 4),
    ),
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


def assert_same_state(ours: nn.Module, theirs: nn.Module, equal_nan: bool = False) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert a[key].device == b[key].device, key
        torch.testing.assert_close(a[key], b[key], equal_nan=equal_nan, msg=key)


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
        (k, p.shape) for k, p in theirs.named_parameters()
    ]
    assert [(k, b.shape) for k, b in ours.named_buffers()] == [
        (k, b.shape) for k, b in theirs.named_buffers()
    ]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.state_dict()._metadata == theirs.state_dict()._metadata  # the version number
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
    "bn1d-wrong-features": (
        "BatchNorm1d",
        (3,),
        {"track_running_stats": False},
        (5, 4),
        ["4", "[3]", "[5, 4]"],
    ),
    "bn1d-one-value": ("BatchNorm1d", (3,), {}, (1, 3), ["[1, 3]"]),
    "in1d-4d": ("InstanceNorm1d", (3,), {}, (2, 3, 4, 4), ["2D or 3D", "4D", "[2, 3, 4, 4]"]),
    "in1d-1d": ("InstanceNorm1d", (3,), {}, (3,), ["1D", "[3]"]),
    "in2d-2d": ("InstanceNorm2d", (3,), {}, (3, 4), ["3D or 4D", "2D", "[3, 4]"]),
    "in3d-3d": ("InstanceNorm3d", (3,), {}, (3, 4, 4), ["4D or 5D", "3D"]),
    "in2d-affine-wrong-channels": (
        "InstanceNorm2d",
        (3,),
        {"affine": True},
        (2, 4, 4, 4),
        ["(3)", "4", "[2, 4, 4, 4]"],
    ),
    "in2d-unbatched-affine-wrong-channels": (
        "InstanceNorm2d",
        (3,),
        {"affine": True},
        (4, 4, 4),
        ["(3)", "dim=0", "[4, 4, 4]"],
    ),
    "in2d-tracking-wrong-channels": (
        "InstanceNorm2d",
        (3,),
        {"track_running_stats": True},
        (2, 4, 4, 4),
        ["[3]", "[2, 4, 4, 4]"],
    ),
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


# ---------------------------------------------------------------- beyond forward: empty batches


def empty_shape(name: str) -> tuple[int, ...]:
    """The case's input with no sample (N = 0); an unbatched case gets 0 time steps instead."""
    shape = CASES[name][3]
    if name.endswith("-unbatched"):
        return shape[:-1] + (0,)
    return (0,) + shape[1:]


def param_grads(module: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", list(CASES))
def test_empty_batch_matches_torch(name, training):
    """An empty batch gives an empty output, the same buffers (and counter) as torch, zero
    gradients, and the next real batch then gives the same result as torch too."""
    ours, theirs = twins(name)
    ours.train(training)
    theirs.train(training)
    x = torch.randn(empty_shape(name), requires_grad=True)
    try:
        y_theirs = theirs(x)
    except IndexError:  # torch: InstanceNorm with affine parameters needs at least one sample
        with pytest.raises(IndexError, match=r"\[0, 3, 4, 4\]"):
            ours(x)
        return
    y_ours = ours(x)
    assert y_ours.shape == y_theirs.shape == x.shape
    assert y_ours.dtype == y_theirs.dtype
    assert_same_state(ours, theirs, equal_nan=True)  # InstanceNorm with tracking: NaN in both
    y_ours.sum().backward()
    y_theirs.sum().backward()
    for g, g_ref in zip(param_grads(ours), param_grads(theirs), strict=True):
        assert (g is None) == (g_ref is None)
        if g is not None:
            assert torch.equal(g, g_ref)
    x = batch(name, 0)
    torch.testing.assert_close(ours(x), theirs(x), equal_nan=True)
    assert_same_state(ours, theirs, equal_nan=True)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize(
    "cls, shape",
    [
        ("BatchNorm1d", (0, 3)),
        ("BatchNorm1d", (0, 3, 5)),
        ("BatchNorm2d", (0, 3, 2, 2)),
        ("BatchNorm2d", (4, 3, 0, 0)),
        ("BatchNorm3d", (0, 3, 2, 2, 2)),
    ],
)
def test_empty_batch_leaves_running_stats_and_counts_the_batch(cls, shape, momentum):
    bn = getattr(nh, cls)(3, momentum=momentum)
    assert bn(torch.randn(shape)).shape == shape
    assert torch.equal(bn.running_mean, torch.zeros(3))  # not NaN
    assert torch.equal(bn.running_var, torch.ones(3))
    assert bn.num_batches_tracked.item() == 1  # torch counts the empty batch
    ref = getattr(nn, cls)(3, momentum=momentum)
    ref(torch.randn(shape))
    x = torch.randn((4,) + shape[1:2] + (2,) * (len(shape) - 2))
    torch.testing.assert_close(bn(x), ref(x))
    assert_same_state(bn, ref)  # momentum=None: the next batch has weight 1/2, as in torch


def test_empty_batch_ignores_the_channel_count_like_torch():
    for layer in (nn.BatchNorm1d(3), nh.BatchNorm1d(3)):
        assert layer(torch.randn(0, 4)).shape == (0, 4)


# ------------------------------------------------------- slots, resetting, moving, checkpoints


def slots(module: nn.Module) -> tuple[list, list]:
    """Registered parameter and buffer names, in order, and which of them are empty (None)."""
    return (
        [(k, v is None) for k, v in module._parameters.items()],
        [(k, v is None) for k, v in module._buffers.items()],
    )


@pytest.mark.parametrize("name", list(CASES))
def test_empty_slots_are_registered_like_torch(name):
    ours, theirs = twins(name)
    assert slots(ours) == slots(theirs)
    assert list(ours.__dict__.get("_non_persistent_buffers_set", ())) == list(
        theirs.__dict__.get("_non_persistent_buffers_set", ())
    )


@pytest.mark.parametrize("cls", ["BatchNorm2d", "InstanceNorm2d"])
def test_assigned_running_stats_become_buffers(cls):
    """On a layer without tracking, assigned running statistics are buffers: they appear in
    state_dict, move with .double(), and are used in evaluation, as in torch."""
    ours = getattr(nh, cls)(3, track_running_stats=False)
    theirs = getattr(nn, cls)(3, track_running_stats=False)
    for m in (ours, theirs):
        m.running_mean = torch.full((3,), 2.0)
        m.running_var = torch.full((3,), 4.0)
        m.double().eval()
    assert_same_state(ours, theirs)
    assert ours.running_mean.dtype == torch.float64
    x = batch("bn2d", 0, torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))
    if cls == "BatchNorm2d":  # running statistics used, not the batch's
        torch.testing.assert_close(ours(x), (x - 2.0) / torch.sqrt(torch.tensor(4.0 + 1e-5)))


@pytest.mark.parametrize("name", list(CASES))
def test_reset_methods_match_torch(name):
    ours, theirs = twins(name)
    for method in ("reset_parameters", "reset_running_stats"):
        assert hasattr(ours, method) == hasattr(theirs, method), method
    for step in range(2):
        ours(batch(name, step))
        theirs(batch(name, step))
    if hasattr(theirs, "reset_running_stats"):
        ours.reset_running_stats()
        theirs.reset_running_stats()
        assert_same_state(ours, theirs)  # statistics reset, random parameters kept
        if ours.weight is not None:
            assert not torch.equal(ours.weight, torch.ones_like(ours.weight))
    ours.reset_parameters()
    theirs.reset_parameters()
    assert_same_state(ours, theirs)
    if ours.weight is not None:
        assert torch.equal(ours.weight, torch.ones_like(ours.weight))


CONVERSIONS = {
    "double": lambda m: m.double(),
    "half": lambda m: m.half(),
    "bfloat16": lambda m: m.bfloat16(),
    "to-float64": lambda m: m.to(torch.float64),
    "to-cpu-float64": lambda m: m.to("cpu", torch.float64),
    "float-after-double": lambda m: m.double().float(),
}


@pytest.mark.parametrize("conversion", list(CONVERSIONS))
@pytest.mark.parametrize("name", list(CASES))
def test_dtype_moves_match_torch(name, conversion):
    ours, theirs = twins(name)
    theirs(batch(name, 0))
    ours.load_state_dict(theirs.state_dict())  # trained buffers, equal bit for bit
    CONVERSIONS[conversion](ours)
    CONVERSIONS[conversion](theirs)
    assert_same_state(ours, theirs)  # also: num_batches_tracked stays a long
    # the dtype the conversion gives a floating-point parameter
    dtype = CONVERSIONS[conversion](nn.Linear(1, 1)).weight.dtype
    x = batch(name, 1, torch.float64).to(dtype)
    y, y_ref = ours(x), theirs(x)
    assert y.dtype == y_ref.dtype == x.dtype
    if x.dtype in (torch.float16, torch.bfloat16):  # ours computes in float32, as torch
        torch.testing.assert_close(y, y_ref, atol=0.05, rtol=0.05)
        for (key, a), b in zip(
            ours.state_dict().items(), theirs.state_dict().values(), strict=True
        ):
            assert a.dtype == b.dtype, key
            torch.testing.assert_close(a, b, atol=0.05, rtol=0.01, msg=key)
    else:
        torch.testing.assert_close(y, y_ref)
        assert_same_state(ours, theirs)


def without_counter(state: dict, version: int | None) -> dict:
    """A checkpoint as an old torch saved it: no num_batches_tracked, an old (or no) version."""
    old = OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    if version is not None:
        old._metadata = OrderedDict(
            {k: {**v, "version": version} for k, v in state._metadata.items()}
        )
    return old


TRACKING = ["bn1d-2d", "bn2d", "bn3d", "bn-momentum-none", "in-tracking", "in2d-unbatched"]


@pytest.mark.parametrize("version", [None, 1])
@pytest.mark.parametrize("trained", [False, True])
@pytest.mark.parametrize("name", TRACKING)
def test_old_checkpoint_without_counter_loads_like_torch(name, trained, version):
    """Missing counter in an old checkpoint: a new layer gets 0, a trained one keeps its own."""
    source = twins(name)[1]
    for step in range(3):
        source(batch(name, step))
    ours, theirs = twins(name)
    if trained:
        for step in range(2):
            ours(batch(name, 5 + step))
            theirs(batch(name, 5 + step))
    ours.load_state_dict(without_counter(source.state_dict(), version))
    theirs.load_state_dict(without_counter(source.state_dict(), version))
    assert_same_state(ours, theirs)
    counts = trained and name.startswith("bn")  # InstanceNorm counts no batch
    assert ours.num_batches_tracked.item() == (2 if counts else 0)
    torch.testing.assert_close(ours.running_mean, source.running_mean)


def test_old_checkpoint_inside_a_model_loads_like_torch():
    """The key carries the submodule's prefix ("1.num_batches_tracked")."""
    models = [
        nn.Sequential(nn.Linear(3, 3), layer) for layer in (nh.BatchNorm1d(3), nn.BatchNorm1d(3))
    ]
    state = without_counter(models[1].state_dict(), version=1)
    for model in models:
        model.load_state_dict(state)
    assert_same_state(*models)


@pytest.mark.parametrize("name", TRACKING)
def test_current_checkpoint_without_counter_is_rejected_like_torch(name):
    ours, theirs = twins(name)
    state = without_counter(theirs.state_dict(), version=2)
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        theirs.load_state_dict(state)
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        ours.load_state_dict(state)
    ours.load_state_dict(state, strict=False)  # not strict: the missing key is only reported
    assert ours.num_batches_tracked.item() == 0


@pytest.mark.parametrize("version", [None, 1])
def test_pre_04_instance_norm_checkpoint_with_running_stats_like_torch(version):
    """An unversioned checkpoint of an InstanceNorm that kept running statistics is refused
    with a message naming the keys, even when not strict, as in torch; a versioned one only
    has unexpected keys."""
    state = nn.InstanceNorm1d(3, track_running_stats=True).state_dict()
    state = without_counter(state, version)
    for strict in (True, False):
        outcomes = []
        for layer in (nh.InstanceNorm1d(3), nn.InstanceNorm1d(3)):
            try:
                layer.load_state_dict(state, strict=strict)
                outcomes.append(None)
            except RuntimeError as error:
                outcomes.append(str(error))
        assert (outcomes[0] is None) == (outcomes[1] is None), (strict, outcomes)
        if version is None:
            assert "'running_mean' and 'running_var'" in outcomes[0]
            assert "track_running_stats=False" in outcomes[0]


# ------------------------------------------------------------------ constructors and repr

CONSTRUCTORS = [
    ("BatchNorm1d", (-1,), {}),
    ("BatchNorm1d", (0,), {}),
    ("BatchNorm2d", (2.5,), {}),
    ("BatchNorm2d", (3,), {"momentum": None, "affine": False}),
    ("InstanceNorm1d", (-1,), {}),
    ("InstanceNorm1d", (-1,), {"affine": True}),
    ("InstanceNorm2d", (-2,), {"track_running_stats": True}),
    ("LayerNorm", (-1,), {}),
    ("LayerNorm", (0,), {}),
    ("LayerNorm", ([],), {}),
    ("LayerNorm", (torch.Size([3, 4]),), {}),
    ("LayerNorm", ([2, -1],), {}),
    ("GroupNorm", (2, -4), {}),
    ("GroupNorm", (-2, 4), {}),
    ("GroupNorm", (0, 0), {}),
    ("GroupNorm", (0, 4), {}),
    ("GroupNorm", (3, 4), {}),
    ("GroupNorm", (2.0, 4), {}),
    ("GroupNorm", (2, 4), {"affine": False, "bias": False}),
    ("RMSNorm", (-1,), {}),
    ("RMSNorm", ((2, 3),), {"eps": 0.5}),
    ("RMSNorm", ([],), {}),
]


@pytest.mark.parametrize("cls, args, kwargs", CONSTRUCTORS, ids=lambda v: repr(v))
def test_constructor_arguments_accepted_or_rejected_like_torch(cls, args, kwargs):
    try:
        theirs = getattr(nn, cls)(*args, **kwargs)
    except Exception as error:
        with pytest.raises(type(error)):
            getattr(nh, cls)(*args, **kwargs)
        return
    ours = getattr(nh, cls)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert slots(ours) == slots(theirs)
    assert_same_state(ours, theirs)


def option_grid(cls: str) -> list[tuple[tuple, dict]]:
    """Every combination of the constructor options of ``cls``, with a few values each."""
    if cls.startswith(("BatchNorm", "InstanceNorm")):
        return [
            ((4,), {"eps": e, "momentum": m, "affine": a, "bias": b, "track_running_stats": t})
            for e, m, a, b, t in product(
                [1e-5, 1e-3, 0.1], [0.1, None, 0.0, 1], [True, False], [True, False], [True, False]
            )
        ]
    if cls == "LayerNorm":
        return [
            ((s,), {"eps": e, "elementwise_affine": a, "bias": b})
            for s, e, a, b in product(
                [5, (3, 4), [2], torch.Size([2, 2])], [1e-5, 1e-6], [True, False], [True, False]
            )
        ]
    if cls == "GroupNorm":
        return [
            ((g, 4), {"eps": e, "affine": a, "bias": b})
            for g, e, a, b in product([1, 2, 4], [1e-5, 0.5], [True, False], [True, False])
        ]
    return [
        ((s,), {"eps": e, "elementwise_affine": a})
        for s, e, a in product([5, (3, 4)], [None, 1e-6, 1], [True, False])
    ]


@pytest.mark.parametrize("cls", nh.modules.__all__)
def test_repr_and_slots_match_torch_for_every_option(cls):
    for args, kwargs in option_grid(cls):
        ours, theirs = getattr(nh, cls)(*args, **kwargs), getattr(nn, cls)(*args, **kwargs)
        assert repr(ours) == repr(theirs), kwargs
        assert slots(ours) == slots(theirs), kwargs
        assert ours.state_dict()._metadata == theirs.state_dict()._metadata
