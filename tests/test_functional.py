"""normhelpers.functional against torch.nn.functional: values, running statistics, gradients,
low precision, random shapes, and the exceptions raised on bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import normhelpers.functional as NF

DTYPES = [torch.float32, torch.float64]
MOMENTA = [0.0, 0.1, 1.0]

# Channels-first shapes (N, C, *) for the norms that take channels in dim 1. The NLP layout
# (N, L, D) enters them as x.transpose(1, 2), i.e. (N, D, L), as BatchNorm1d expects.
CHANNEL_SHAPES = {
    "2d": (6, 4),
    "cv": (4, 3, 5, 5),
    "nlp": (4, 6, 7),  # (N, D, L) = x_nlp.transpose(1, 2) for x_nlp of shape (4, 7, 6)
    "3d": (3, 2, 2, 3, 4),  # (N, C, D, H, W)
}
SPATIAL_SHAPES = {k: v for k, v in CHANNEL_SHAPES.items() if k != "2d"}  # InstanceNorm's

# (input shape, normalized_shape) for LayerNorm and RMSNorm
TRAILING_CASES = {
    "2d": ((6, 5), [5]),
    "cv-chw": ((4, 3, 5, 5), [3, 5, 5]),
    "cv-w": ((4, 3, 5, 5), [5]),
    "nlp": ((4, 7, 6), [6]),
    "3d": ((2, 3, 2, 3, 4), [2, 3, 4]),
}

# (input shape, num_groups) for GroupNorm
GROUP_CASES = {
    "2d-g1": ((5, 4), 1),
    "2d-g2": ((5, 4), 2),
    "2d-g4": ((5, 8), 4),
    "cv-g1": ((3, 6, 4, 4), 1),
    "cv-g3": ((3, 6, 4, 4), 3),
    "cv-g6": ((3, 6, 4, 4), 6),
    "nlp-g2": ((4, 6, 7), 2),  # (N, D, L) with D split into groups of features
    "3d-g2": ((2, 4, 2, 3, 3), 2),
}


def make_input(shape, dtype=torch.float64, seed=0) -> torch.Tensor:
    """Not standard normal: channel j has mean j and std 1 + j, so statistics differ."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    if len(shape) > 1:
        j = torch.arange(shape[1], dtype=torch.float64).reshape([1, -1] + [1] * (len(shape) - 2))
        z = z * (1 + j) + j
    return z.to(dtype)


def make_params(size, dtype, seed=1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    weight = 0.5 + torch.rand(size, generator=g, dtype=torch.float64)
    bias = torch.randn(size, generator=g, dtype=torch.float64)
    return weight.to(dtype), bias.to(dtype)


def running(C, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-trivial starting running statistics, so that momentum 0 and 1 are visible."""
    return torch.linspace(-1, 1, C, dtype=dtype), torch.linspace(0.5, 2, C, dtype=dtype)


TOL = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
}


def close(actual, expected, dtype):
    torch.testing.assert_close(actual, expected, **TOL[dtype])


# ---------------------------------------------------------------- values and running stats


@pytest.mark.parametrize("layout", list(CHANNEL_SHAPES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", MOMENTA)
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_train_steps_then_eval(layout, dtype, momentum, affine):
    shape = CHANNEL_SHAPES[layout]
    C = shape[1]
    weight, bias = make_params(C, dtype) if affine else (None, None)
    ours, theirs = running(C, dtype), running(C, dtype)
    for step in range(3):  # several steps: the running statistics must stay equal in place
        x = make_input(shape, dtype, seed=step)
        y = NF.batch_norm(x, *ours, weight, bias, training=True, momentum=momentum)
        y_ref = F.batch_norm(x, *theirs, weight, bias, training=True, momentum=momentum)
        close(y, y_ref, dtype)
        close(ours[0], theirs[0], dtype)
        close(ours[1], theirs[1], dtype)
    x = make_input(shape, dtype, seed=9)
    y = NF.batch_norm(x, *ours, weight, bias, training=False, momentum=momentum)
    close(y, F.batch_norm(x, *theirs, weight, bias, training=False, momentum=momentum), dtype)


def test_batch_norm_momentum_extremes_by_hand():
    """momentum=0 keeps the running statistics, momentum=1 replaces them by the batch's."""
    x = make_input((8, 3))
    rm, rv = running(3, torch.float64)
    NF.batch_norm(x, rm, rv, training=True, momentum=0.0)
    close(rm, running(3, torch.float64)[0], torch.float64)
    NF.batch_norm(x, rm, rv, training=True, momentum=1.0)
    close(rm, x.mean(0), torch.float64)
    close(rv, x.var(0, unbiased=True), torch.float64)  # unbiased in the running variance


def test_batch_norm_training_without_running_stats():
    x = make_input((5, 3, 4))
    close(
        NF.batch_norm(x, None, None, training=True),
        F.batch_norm(x, None, None, training=True),
        torch.float64,
    )


def test_batch_norm_eval_leaves_running_stats_and_accepts_eps_zero():
    x = make_input((5, 3))
    rm, rv = running(3, torch.float64)
    y = NF.batch_norm(x, rm, rv, training=False, eps=0.0)
    close(y, F.batch_norm(x, *running(3, torch.float64), training=False, eps=0.0), torch.float64)
    close(rm, running(3, torch.float64)[0], torch.float64)


@pytest.mark.parametrize("layout", list(SPATIAL_SHAPES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 1.0])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_steps_then_running_stats(layout, dtype, momentum, affine):
    shape = SPATIAL_SHAPES[layout]
    C = shape[1]
    weight, bias = make_params(C, dtype) if affine else (None, None)
    ours, theirs = running(C, dtype), running(C, dtype)
    for step in range(3):
        x = make_input(shape, dtype, seed=step)
        y = NF.instance_norm(x, *ours, weight, bias, use_input_stats=True, momentum=momentum)
        y_ref = F.instance_norm(x, *theirs, weight, bias, use_input_stats=True, momentum=momentum)
        close(y, y_ref, dtype)
        close(ours[0], theirs[0], dtype)
        close(ours[1], theirs[1], dtype)
    x = make_input(shape, dtype, seed=9)
    y = NF.instance_norm(x, *ours, weight, bias, use_input_stats=False)
    close(y, F.instance_norm(x, *theirs, weight, bias, use_input_stats=False), dtype)


@pytest.mark.parametrize("layout", list(SPATIAL_SHAPES))
def test_instance_norm_defaults(layout):
    x = make_input(SPATIAL_SHAPES[layout], torch.float32)
    close(NF.instance_norm(x), F.instance_norm(x), torch.float32)


@pytest.mark.parametrize("case", list(TRAILING_CASES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["none", "weight", "both"])
def test_layer_norm(case, dtype, affine):
    shape, ns = TRAILING_CASES[case]
    x = make_input(shape, dtype)
    weight, bias = make_params(ns, dtype)
    weight = None if affine == "none" else weight
    bias = bias if affine == "both" else None
    close(NF.layer_norm(x, ns, weight, bias), F.layer_norm(x, ns, weight, bias), dtype)
    close(NF.layer_norm(x, tuple(ns), eps=1e-3), F.layer_norm(x, tuple(ns), eps=1e-3), dtype)


@pytest.mark.parametrize("case", list(GROUP_CASES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm(case, dtype, affine):
    shape, groups = GROUP_CASES[case]
    x = make_input(shape, dtype)
    weight, bias = make_params(shape[1], dtype) if affine else (None, None)
    close(NF.group_norm(x, groups, weight, bias), F.group_norm(x, groups, weight, bias), dtype)


def test_group_norm_extremes_are_layer_and_instance_norm():
    x = make_input((3, 6, 4, 4))
    close(NF.group_norm(x, 1), F.layer_norm(x, [6, 4, 4]), torch.float64)
    close(NF.group_norm(x, 6), F.instance_norm(x), torch.float64)


@pytest.mark.parametrize("case", list(TRAILING_CASES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 0.5])
@pytest.mark.parametrize("with_weight", [False, True])
def test_rms_norm(case, dtype, eps, with_weight):
    shape, ns = TRAILING_CASES[case]
    x = make_input(shape, dtype)
    weight = make_params(ns, dtype)[0] if with_weight else None
    close(NF.rms_norm(x, ns, weight, eps), F.rms_norm(x, ns, weight, eps), dtype)


def test_rms_norm_default_eps_matters_and_matches_on_tiny_inputs():
    """With x ~ 1e-4 the mean square (1e-8) is comparable to float32's epsilon."""
    x = make_input((4, 6), torch.float32) * 1e-4
    close(NF.rms_norm(x, [6]), F.rms_norm(x, [6]), torch.float32)
    assert not torch.allclose(NF.rms_norm(x, [6]), NF.rms_norm(x, [6], eps=0.0), rtol=1e-3)


# ---------------------------------------------------------------------------- gradients


def _grad_cases():
    """(name, our function of (x, w, b), torch's function of (x, w, b), x shape, param shape)."""

    def bn(f, train):
        return lambda x, w, b: f.batch_norm(x, None, None, w, b, training=train)

    def bn_eval(f):
        return lambda x, w, b: f.batch_norm(x, *running(3, x.dtype), w, b, training=False)

    return [
        ("batch_norm-2d", bn(NF, True), bn(F, True), (6, 3), (3,)),
        ("batch_norm-cv", bn(NF, True), bn(F, True), (3, 3, 2, 2), (3,)),
        ("batch_norm-eval", bn_eval(NF), bn_eval(F), (4, 3, 2), (3,)),
        (
            "instance_norm-nlp",
            lambda x, w, b: NF.instance_norm(x, weight=w, bias=b),
            lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
            (2, 3, 4),
            (3,),
        ),
        (
            "layer_norm-nlp",
            lambda x, w, b: NF.layer_norm(x, [4], w, b),
            lambda x, w, b: F.layer_norm(x, [4], w, b),
            (2, 3, 4),
            (4,),
        ),
        (
            "layer_norm-cv",
            lambda x, w, b: NF.layer_norm(x, [2, 2, 2], w, b),
            lambda x, w, b: F.layer_norm(x, [2, 2, 2], w, b),
            (2, 2, 2, 2),
            (2, 2, 2),
        ),
        (
            "group_norm-cv",
            lambda x, w, b: NF.group_norm(x, 2, w, b),
            lambda x, w, b: F.group_norm(x, 2, w, b),
            (2, 4, 2, 2),
            (4,),
        ),
        (
            "rms_norm-nlp",
            lambda x, w, b: NF.rms_norm(x, [4], w) + b,
            lambda x, w, b: F.rms_norm(x, [4], w) + b,
            (2, 3, 4),
            (4,),
        ),
    ]


GRAD_CASES = {c[0]: c for c in _grad_cases()}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradcheck_float64(name):
    _, ours, _, xshape, pshape = GRAD_CASES[name]
    x = make_input(xshape).requires_grad_()
    w, b = (t.requires_grad_() for t in make_params(pshape, torch.float64))
    assert torch.autograd.gradcheck(ours, (x, w, b))


@pytest.mark.parametrize("name", list(GRAD_CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_equal_torch(name, dtype):
    _, ours, theirs, xshape, pshape = GRAD_CASES[name]
    grads = []
    for fn in (ours, theirs):
        x = make_input(xshape, dtype).requires_grad_()
        w, b = (t.requires_grad_() for t in make_params(pshape, dtype))
        upstream = make_input(xshape, dtype, seed=5)  # a non-trivial dL/dy
        (fn(x, w, b) * upstream).sum().backward()
        grads.append((x.grad, w.grad, b.grad))
    for g, g_ref in zip(*grads, strict=True):
        close(g, g_ref, dtype)


# ------------------------------------------------------------------------ low precision

LOW = {torch.float16: {"rtol": 1e-2, "atol": 1e-2}, torch.bfloat16: {"rtol": 5e-2, "atol": 5e-2}}


def _low_precision_calls(pdt):
    w4, b4 = (t.to(pdt) for t in make_params(4, torch.float32))
    w5, b5 = (t.to(pdt) for t in make_params(5, torch.float32))

    def run(f, x):
        rm, rv = running(4, pdt)
        return {
            "batch_norm": f.batch_norm(x, rm, rv, w4, b4, training=True),
            "batch_norm-running": torch.cat([rm, rv]),
            "batch_norm-eval": f.batch_norm(x, *running(4, pdt), w4, b4, training=False),
            "instance_norm": f.instance_norm(x, None, None, w4, b4),
            "layer_norm": f.layer_norm(x, [5], w5, b5),
            "group_norm": f.group_norm(x, 2, w4, b4),
            "rms_norm": f.rms_norm(x, [5], w5),
            "rms_norm-eps": f.rms_norm(x, [5], w5, 1e-3),
        }

    return run


@pytest.mark.parametrize("dtype", list(LOW))
@pytest.mark.parametrize("param_dtype", ["same", "float32"])
@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")
def test_half_and_bfloat16_outputs_close_to_torch(dtype, param_dtype):
    """Torch keeps the batch statistics in the input's dtype when every tensor is half; we keep
    them in float32, hence a tolerance of a few units in the last place instead of equality."""
    pdt = dtype if param_dtype == "same" else torch.float32
    x = make_input((6, 4, 3, 5), dtype)
    run = _low_precision_calls(pdt)
    ours, theirs = run(NF, x), run(F, x)
    for key, y in ours.items():
        assert y.dtype == theirs[key].dtype, key
        torch.testing.assert_close(y.float(), theirs[key].float(), **LOW[dtype], msg=key)


def test_rms_norm_half_default_eps_is_float32_epsilon():
    """Torch computes half in float32 and uses float32's epsilon when eps=None: with a mean
    square near float16's epsilon (1e-3) the two choices give visibly different outputs."""
    x = make_input((4, 6), torch.float16) * 0.01
    torch.testing.assert_close(NF.rms_norm(x, [6]), F.rms_norm(x, [6]))


# ---------------------------------------------------------------- random shapes (hypothesis)


@st.composite
def channel_inputs(draw):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    spatial = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    seed = draw(st.integers(0, 2**16))
    return make_input((n, c, *spatial), seed=seed)


def same_outcome(ours, theirs):
    """Both raise the same exception class, or both return equal outputs."""
    try:
        expected = theirs()
    except Exception as e:  # noqa: BLE001 (we compare the class)
        with pytest.raises(type(e)):
            ours()
        return
    close(ours(), expected, torch.float64)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(x=channel_inputs(), training=st.booleans(), momentum=st.sampled_from(MOMENTA))
def test_batch_norm_random_shapes(x, training, momentum):
    C = x.shape[1]
    ours, theirs = running(C, x.dtype), running(C, x.dtype)
    same_outcome(
        lambda: NF.batch_norm(x, *ours, training=training, momentum=momentum),
        lambda: F.batch_norm(x, *theirs, training=training, momentum=momentum),
    )
    close(ours[1], theirs[1], torch.float64)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(x=channel_inputs(), use_input_stats=st.booleans())
def test_instance_norm_random_shapes(x, use_input_stats):
    C = x.shape[1]
    ours, theirs = running(C, x.dtype), running(C, x.dtype)
    same_outcome(
        lambda: NF.instance_norm(x, *ours, use_input_stats=use_input_stats),
        lambda: F.instance_norm(x, *theirs, use_input_stats=use_input_stats),
    )
    close(ours[0], theirs[0], torch.float64)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(x=channel_inputs(), groups=st.integers(1, 5))
def test_group_norm_random_shapes(x, groups):
    w, b = make_params(x.shape[1], x.dtype)
    same_outcome(lambda: NF.group_norm(x, groups, w, b), lambda: F.group_norm(x, groups, w, b))


@settings(max_examples=20, deadline=None, derandomize=True)
@given(x=channel_inputs(), k=st.integers(1, 3), eps=st.sampled_from([None, 1e-5]))
def test_layer_and_rms_norm_random_shapes(x, k, eps):
    ns = list(x.shape[-k:]) if k <= x.dim() else [2] * k  # the latter: a rank error
    same_outcome(lambda: NF.layer_norm(x, ns), lambda: F.layer_norm(x, ns))
    same_outcome(lambda: NF.rms_norm(x, ns, eps=eps), lambda: F.rms_norm(x, ns, eps=eps))


# ------------------------------------------------------------------------------ bad input

r = make_input
rm3 = (torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
ones = lambda n: torch.ones(n, dtype=torch.float64)  # noqa: E731

# name -> (call with f = F or NF, substrings our message must contain: the shapes involved)
BAD_INPUTS = {
    "bn-running-mean-wrong-C": (
        lambda f: f.batch_norm(r((4, 5)), *rm3, training=True),
        ["5", "[3]", "[4, 5]"],
    ),
    "bn-running-mean-wrong-C-eval": (
        lambda f: f.batch_norm(r((4, 5, 2)), *rm3),
        ["5", "[3]", "[4, 5, 2]"],
    ),
    "bn-weight-wrong-C": (
        lambda f: f.batch_norm(r((4, 3)), *rm3, ones(4), training=True),
        ["3", "[4]", "[4, 3]"],
    ),
    "bn-bias-wrong-C": (
        lambda f: f.batch_norm(r((4, 3)), *rm3, None, ones(2), training=True),
        ["3", "[2]", "[4, 3]"],
    ),
    "bn-one-value-per-channel": (
        lambda f: f.batch_norm(r((1, 3)), *rm3, training=True),
        ["[1, 3]"],
    ),
    "bn-one-value-per-channel-cv": (
        lambda f: f.batch_norm(r((1, 3, 1, 1)), None, None, training=True),
        ["[1, 3, 1, 1]"],
    ),
    "bn-1d-input-eval": (lambda f: f.batch_norm(r((3,)), *rm3), ["[3]"]),
    "bn-1d-input-train": (lambda f: f.batch_norm(r((3,)), *rm3, training=True), ["[3]"]),
    "bn-0d-input-train": (lambda f: f.batch_norm(torch.tensor(1.0), *rm3, training=True), []),
    "bn-eps-zero-train": (lambda f: f.batch_norm(r((4, 3)), *rm3, training=True, eps=0.0), ["0.0"]),
    "bn-eps-negative-eval": (lambda f: f.batch_norm(r((4, 3)), *rm3, eps=-1e-5), ["-1e-05"]),
    "bn-eval-without-running": (lambda f: f.batch_norm(r((4, 3)), None, None), []),
    "in-running-wrong-C": (
        lambda f: f.instance_norm(r((2, 3, 4)), ones(4), ones(4)),
        ["[4]", "[2, 3, 4]"],
    ),
    "in-weight-wrong-C": (
        lambda f: f.instance_norm(r((2, 3, 4)), None, None, ones(2)),
        ["[2]", "[2, 3, 4]"],
    ),
    "in-no-spatial-dim": (lambda f: f.instance_norm(r((2, 3))), ["[2, 3]"]),
    "in-one-spatial-element": (lambda f: f.instance_norm(r((2, 3, 1, 1))), ["[2, 3, 1, 1]"]),
    "in-eval-without-running": (lambda f: f.instance_norm(r((2, 3, 4)), use_input_stats=False), []),
    "ln-trailing-mismatch": (lambda f: f.layer_norm(r((2, 3, 4)), [3]), ["[3]", "[2, 3, 4]"]),
    "ln-shape-longer-than-input": (lambda f: f.layer_norm(r((4,)), [2, 4]), ["[2, 4]", "[4]"]),
    "ln-empty-normalized-shape": (lambda f: f.layer_norm(r((4,)), []), ["[]"]),
    "ln-weight-shape": (lambda f: f.layer_norm(r((2, 4)), [4], ones(3)), ["[3]", "[4]"]),
    "ln-bias-shape": (lambda f: f.layer_norm(r((2, 4)), [4], None, ones(5)), ["[5]", "[4]"]),
    "gn-not-divisible": (lambda f: f.group_norm(r((2, 5, 4)), 2), ["[2, 5, 4]", "2"]),
    "gn-weight-wrong-C": (lambda f: f.group_norm(r((2, 4, 3)), 2, ones(3)), ["[3]", "[2, 4, 3]"]),
    "gn-bias-wrong-C": (
        lambda f: f.group_norm(r((2, 4, 3)), 2, None, ones(8)),
        ["[8]", "[2, 4, 3]"],
    ),
    "gn-1d-input": (lambda f: f.group_norm(r((4,)), 2), ["[4]"]),
    "gn-one-value-per-group": (lambda f: f.group_norm(r((1, 2)), 2), ["[1, 2]"]),
    "gn-zero-groups": (lambda f: f.group_norm(r((2, 4)), 0), []),
    "rms-trailing-mismatch": (lambda f: f.rms_norm(r((2, 3, 4)), [3]), ["[3]", "[2, 3, 4]"]),
    "rms-weight-shape": (lambda f: f.rms_norm(r((2, 4)), [4], ones(3)), ["[3]", "[4]"]),
    "rms-empty-normalized-shape": (lambda f: f.rms_norm(r((4,)), []), ["[]"]),
    # empty inputs: the checks torch still makes
    "bn-empty-eps-zero-train": (
        lambda f: f.batch_norm(r((0,)), None, None, training=True, eps=0.0),
        ["0.0"],
    ),
    "in-empty-one-spatial-element": (lambda f: f.instance_norm(r((0, 3, 1))), ["[0, 3, 1]"]),
    "in-empty-batch-with-weight": (
        lambda f: f.instance_norm(r((0, 3, 4)), None, None, ones(3)),
        ["[0, 3, 4]"],
    ),
    "in-empty-batch-with-bias-eval": (
        lambda f: f.instance_norm(r((0, 3, 4)), *rm3, None, ones(3), False),
        ["[0, 3, 4]"],
    ),
    "in-empty-eval-without-running": (
        lambda f: f.instance_norm(r((0, 3, 4)), use_input_stats=False),
        [],
    ),
    "ln-empty-trailing-mismatch": (lambda f: f.layer_norm(r((0, 5)), [4]), ["[4]", "[0, 5]"]),
    "ln-empty-weight-shape": (lambda f: f.layer_norm(r((0, 4)), [4], ones(3)), ["[3]", "[4]"]),
    "gn-empty-not-divisible": (lambda f: f.group_norm(r((0, 3)), 2), ["[0, 3]", "2"]),
    "gn-empty-weight-wrong-C": (lambda f: f.group_norm(r((0, 4)), 2, ones(3)), ["[3]", "[0, 4]"]),
    "gn-empty-zero-groups": (lambda f: f.group_norm(r((0, 4)), 0), []),
    "gn-empty-1d-input": (lambda f: f.group_norm(r((0,)), 1), ["[0]"]),
    "rms-empty-weight-shape": (lambda f: f.rms_norm(r((0, 4)), [4], ones(3)), ["[3]", "[4]"]),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_like_torch(name):
    call, shapes = BAD_INPUTS[name]
    with pytest.raises(Exception) as torch_error:
        call(F)
    with pytest.raises(type(torch_error.value)) as our_error:
        call(NF)
    assert type(our_error.value) is type(torch_error.value)
    message = str(our_error.value)
    for s in shapes:
        assert s in message, f"{s!r} not in {message!r}"


def test_all_functions_have_torch_signatures():
    import inspect

    for name in NF.NORM_FUNCTIONS:
        ours = inspect.signature(getattr(NF, name))
        theirs = inspect.signature(getattr(F, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        for p in ours.parameters.values():
            assert p.default == theirs.parameters[p.name].default, (name, p.name)


def test_functions_use_no_torch_norm_kernel(monkeypatch):
    """Built from elementary ops: with torch's norm kernels disabled, everything still runs."""

    def boom(*args, **kwargs):
        raise AssertionError("a torch normalization kernel was called")

    for kernel in [
        "batch_norm",
        "instance_norm",
        "layer_norm",
        "group_norm",
        "rms_norm",
        "native_batch_norm",
        "native_layer_norm",
        "native_group_norm",
    ]:
        monkeypatch.setattr(torch, kernel, boom, raising=False)
        monkeypatch.setattr(F, kernel, boom, raising=False)
    x = make_input((4, 4, 3))
    NF.batch_norm(x, *running(4, x.dtype), training=True)
    NF.instance_norm(x)
    NF.layer_norm(x, [3])
    NF.group_norm(x, 2)
    NF.rms_norm(x, [3])
    with pytest.raises(AssertionError):  # the patch is live: torch's own kernels are blocked
        F.layer_norm(x, [3])


def test_core_pieces_compose_every_norm():
    """moments -> standardize -> affine is the whole recipe: it rebuilds LayerNorm exactly."""
    x = torch.randn(4, 6, 8)
    w, b = torch.randn(8), torch.randn(8)
    mean, var = NF.moments(x, [2])
    assert mean.shape == var.shape == (4, 6, 1)
    torch.testing.assert_close(var, x.var(dim=2, unbiased=False, keepdim=True))
    y = NF.affine(NF.standardize(x, mean, var, 1e-5), w, b)
    assert torch.equal(y, NF.layer_norm(x, [8], w, b))
    running = torch.ones(3)
    NF.update_running(running, torch.full((3,), 3.0), momentum=0.25)
    torch.testing.assert_close(running, torch.full((3,), 1.5))
    NF.update_running(None, torch.ones(3), 0.1)  # no running tensor: nothing to do
    assert NF.upcast(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.float32


# ---------------------------------------------------------------------------- empty inputs


def _with_params(size, dtype):
    w, b = make_params(size, dtype)
    return w.requires_grad_(), b.requires_grad_()


# name -> (call with f = F or NF and the tensors (x, running_mean, running_var, weight, bias),
#          input shape, number of channels / normalized shape of the tensors)
EMPTY_CASES = {
    "bn-1d-size-0-train": (
        lambda f, x, rm, rv, w, b: f.batch_norm(x, None, None, None, None, True),
        (0,),
        3,
    ),
    "bn-1d-size-0-eval": (lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv), (0,), 3),
    "bn-1d-size-0-eval-no-running": (
        lambda f, x, rm, rv, w, b: f.batch_norm(x, None, None),
        (0,),
        3,
    ),
    "bn-2d-train": (lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv, w, b, True), (0, 3), 3),
    "bn-2d-eval": (lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv, w, b), (0, 3), 3),
    "bn-cv-train": (
        lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv, w, b, True),
        (0, 3, 4, 4),
        3,
    ),
    "bn-cv-no-pixels": (
        lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv, w, b, True, 1.0),
        (2, 3, 0, 0),
        3,
    ),
    "bn-wrong-sizes-ignored": (
        lambda f, x, rm, rv, w, b: f.batch_norm(x, rm, rv, w, b, True),
        (0, 5),
        3,
    ),
    "in-train": (lambda f, x, rm, rv, w, b: f.instance_norm(x, rm, rv), (0, 3, 4), 3),
    "in-no-running": (lambda f, x, rm, rv, w, b: f.instance_norm(x), (0, 3, 4, 4), 3),
    "in-eval": (
        lambda f, x, rm, rv, w, b: f.instance_norm(x, rm, rv, use_input_stats=False),
        (0, 3, 4),
        3,
    ),
    "in-no-time-steps": (lambda f, x, rm, rv, w, b: f.instance_norm(x, rm, rv, w, b), (2, 3, 0), 3),
    "ln": (lambda f, x, rm, rv, w, b: f.layer_norm(x, [5], w, b), (0, 5), [5]),
    "ln-nlp": (lambda f, x, rm, rv, w, b: f.layer_norm(x, [5], w, b), (0, 7, 5), [5]),
    "ln-zero-features": (lambda f, x, rm, rv, w, b: f.layer_norm(x, [0], w, b), (2, 0), [0]),
    "gn-2d": (lambda f, x, rm, rv, w, b: f.group_norm(x, 2, w, b), (0, 4), 4),
    "gn-cv": (lambda f, x, rm, rv, w, b: f.group_norm(x, 2, w, b), (0, 4, 3, 3), 4),
    # without weight: torch's backward gives weight a NaN gradient here (ours: zeros)
    "gn-no-time-steps": (lambda f, x, rm, rv, w, b: f.group_norm(x, 2), (2, 4, 0), 4),
    "gn-no-channels": (lambda f, x, rm, rv, w, b: f.group_norm(x, 2), (2, 0), 0),
    "gn-nothing": (lambda f, x, rm, rv, w, b: f.group_norm(x, 2), (0, 0), 0),
    "rms": (lambda f, x, rm, rv, w, b: f.rms_norm(x, [5], w), (0, 5), [5]),
    "rms-zero-features": (lambda f, x, rm, rv, w, b: f.rms_norm(x, [0], w, 1e-6), (2, 0), [0]),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
@pytest.mark.parametrize("name", list(EMPTY_CASES))
def test_empty_inputs_match_torch(name, dtype):
    """Inputs with no element: the same empty output (shape, dtype), the same running
    statistics afterwards (BatchNorm: untouched; InstanceNorm on N = 0: NaN, as torch) and
    zero gradients for weight and bias."""
    call, shape, size = EMPTY_CASES[name]
    results = []
    for f in (NF, F):
        C = size if isinstance(size, int) else size[0]
        rm, rv = running(C, dtype)
        w, b = _with_params(size, dtype)  # torch refuses parameters of another float dtype
        x = torch.zeros(shape, dtype=dtype, requires_grad=True)
        y = call(f, x, rm, rv, w, b)
        y.sum().backward()
        results.append((y, rm, rv, w.grad, b.grad, x.grad))
    (y, *rest), (y_ref, *rest_ref) = results
    assert y.shape == y_ref.shape == shape
    assert y.dtype == y_ref.dtype == dtype
    for t, t_ref in zip(rest, rest_ref, strict=True):
        assert (t is None) == (t_ref is None)
        if t is not None:
            torch.testing.assert_close(t, t_ref, equal_nan=True)
    if name.startswith("bn"):  # batch norm never touches its statistics on an empty batch
        assert torch.equal(rest[0], running(3, dtype)[0])


def test_running_statistics_are_updated_in_one_place():
    """Every running-statistics update goes through update_running (mul_ then add_)."""
    import inspect
    import re

    from normhelpers import _norm_base, axes, backward, core, modules

    spelling = re.compile(r"running\w*\.(mul_|add_|lerp_|copy_|sub_)\(|lerp_\(")
    for module in (NF, core, modules, _norm_base, axes, backward):
        source = inspect.getsource(module)
        if module is core:
            source = source.replace(inspect.getsource(NF.update_running), "")
        assert not spelling.search(source), module.__name__
    assert spelling.search(inspect.getsource(NF.update_running))  # the one place


def test_core_is_re_exported_by_functional_as_the_same_objects():
    """The core lives in normhelpers.core; chapters use NF.moments and print its source."""
    import inspect

    from normhelpers import core

    for name in core.CORE:
        assert name in NF.__all__, name
        assert getattr(NF, name) is getattr(core, name), name
    assert inspect.getsource(NF.moments).startswith("def moments(")
