"""Tests of normhelpers.exercises: right answers pass, each classic mistake is named.

The wrong implementations below are written the way a learner would write them (with
``torch.var_mean`` and friends), independently of the variants inside the checkers.
"""

from __future__ import annotations

import pytest
import torch

import normhelpers.functional as NF
from normhelpers import exercises as E
from normhelpers.exercises import cases as C

# ------------------------------------------------------------------ a learner's building blocks


def norm(x, dims, eps, var="biased", eps_at="inside", center=True):
    """(x - mean) / sqrt(var + eps) over ``dims``, with a learner's knobs for going wrong."""
    v, m = torch.var_mean(x, dim=dims, correction=1 if var == "unbiased" else 0, keepdim=True)
    if var == "meansq":
        v = x.pow(2).mean(dim=dims, keepdim=True)
    top = x - m if center else x
    if eps_at == "outside":
        return top / (v.sqrt() + eps)
    if eps_at == "none":
        return top / v.sqrt()
    return top / torch.sqrt(v + eps)


def per_channel(v, x):
    return None if v is None else v.view(1, -1, *([1] * (x.dim() - 2)))


def scale_shift(y, w, b):
    """y * w + b, skipping a None (the exercises of LayerNorm and GroupNorm allow None)."""
    y = y if w is None else y * w
    return y if b is None else y + b


def not_channel(x):
    return [d for d in range(x.dim()) if d != 1]


COMMON = {  # mistake name -> the knobs of norm()
    "unbiased variance": {"var": "unbiased"},
    "eps outside the square root": {"eps_at": "outside"},
    "eps missing": {"eps_at": "none"},
    "mean not subtracted": {"center": False},
    "variance of the uncentered values": {"var": "meansq"},
}

FORBIDDEN = (
    ".mean(",
    ".var(",
    ".std(",
    "sqrt(",
    "keepdim",
    "dim=",
    "unbiased=",
    "correction",
    ".view(",
    ".reshape(",
    "lambda",
    "return ",
    "def ",
    "torch.var",
    "torch.sqrt",
)


def with_knobs(impl, knobs):
    """``impl`` with some of norm()'s knobs turned: one learner's wrong version."""
    return lambda *args: impl(*args, **knobs)


# ------------------------------------------------------------------ BatchNorm


def bn(x, w, b, eps, dims=None, affine="after", **knobs):
    dims = not_channel(x) if dims is None else dims(x)
    W, B = per_channel(w, x), per_channel(b, x)
    if affine == "before":
        return norm(scale_shift(x, W, B), dims, eps, **knobs)
    y = norm(x, dims, eps, **knobs)
    return y if affine == "none" else scale_shift(y, W, B)


BN_WRONG = {
    "wrong axes: one mean per sample (that is LayerNorm)": lambda x, w, b, eps: bn(
        x, w, b, eps, dims=lambda x: list(range(1, x.dim()))
    ),
    "wrong axes: averaged over the batch dim only": lambda x, w, b, eps: bn(
        x, w, b, eps, dims=lambda x: [0]
    ),
    "missing affine (weight and bias not applied)": lambda x, w, b, eps: bn(
        x, w, b, eps, affine="none"
    ),
    "affine applied before normalizing": lambda x, w, b, eps: bn(x, w, b, eps, affine="before"),
    **{name: with_knobs(bn, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ running statistics


def running(rm, rv, x, m, rule="", var="unbiased", dims=None):
    dims = not_channel(x) if dims is None else dims
    v, mu = torch.var_mean(x, dim=dims, correction=0 if var == "biased" else 1)
    if var == "std":
        v = v.sqrt()
    if rule == "reversed":
        return m * rm + (1 - m) * mu, m * rv + (1 - m) * v
    if rule == "replace":
        return mu, v
    return (1 - m) * rm + m * mu, (1 - m) * rv + m * v


RS_WRONG = {
    "momentum reversed (momentum used as the weight of the old value)": lambda rm, rv, x, m: (
        running(rm, rv, x, m, rule="reversed")
    ),
    "running_var updated with the biased variance": lambda rm, rv, x, m: running(
        rm, rv, x, m, var="biased"
    ),
    "running_var updated with the standard deviation": lambda rm, rv, x, m: running(
        rm, rv, x, m, var="std"
    ),
    "old running value ignored": lambda rm, rv, x, m: running(rm, rv, x, m, rule="replace"),
}

# ------------------------------------------------------------------ LayerNorm


def ln(x, ns, w, b, eps, dims=None, affine="after", **knobs):
    dims = list(range(-len(ns), 0)) if dims is None else dims
    if affine == "before":
        return norm(scale_shift(x, w, b), dims, eps, **knobs)
    y = norm(x, dims, eps, **knobs)
    return y if affine == "none" else scale_shift(y, w, b)


LN_WRONG = {
    "normalized over the last dim only": lambda x, ns, w, b, eps: ln(x, ns, w, b, eps, dims=[-1]),
    "wrong dims: across the batch (that is BatchNorm)": lambda x, ns, w, b, eps: ln(
        x, ns, w, b, eps, dims=[0]
    ),
    "missing affine (weight and bias not applied)": lambda x, ns, w, b, eps: ln(
        x, ns, w, b, eps, affine="none"
    ),
    "affine applied before normalizing": lambda x, ns, w, b, eps: ln(
        x, ns, w, b, eps, affine="before"
    ),
    **{name: with_knobs(ln, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ InstanceNorm


def instance(x, eps, **knobs):
    return norm(x, list(range(2, x.dim())), eps, **knobs)


IN_WRONG = {
    "wrong axes: one mean per sample over all channels (that is LayerNorm)": lambda x, eps: norm(
        x, list(range(1, x.dim())), eps
    ),
    "wrong axes: across the batch (that is BatchNorm)": lambda x, eps: norm(x, not_channel(x), eps),
    "wrong axes: over the last dim only": lambda x, eps: norm(x, [-1], eps),
    "wrong axes: over the channels": lambda x, eps: norm(x, [1], eps),
    **{name: with_knobs(instance, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ GroupNorm


def gn(x, g, w, b, eps, split="ok", groups=None, affine="after", **knobs):
    n, c, rest = x.shape[0], x.shape[1], x.shape[2:]
    g = {None: g, "size": c // g, "one": 1, "each": c}[groups]
    src = scale_shift(x, per_channel(w, x), per_channel(b, x)) if affine == "before" else x
    if split == "interleaved":
        y = norm(src.view(n, c // g, g, *rest), [1] + list(range(3, x.dim() + 1)), eps, **knobs)
    elif split == "no_positions":
        y = norm(src.view(n, g, c // g, *rest), [2], eps, **knobs)
    else:
        y = norm(src.view(n, g, c // g, *rest), list(range(2, x.dim() + 1)), eps, **knobs)
    y = y.view(x.shape)
    if affine in ("none", "before"):
        return y
    return scale_shift(y, per_channel(w, x), per_channel(b, x))


GN_WRONG = {
    "groups split along the wrong axis (interleaved channels)": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, split="interleaved"
    ),
    "num_groups used as the group size": lambda x, g, w, b, eps: gn(x, g, w, b, eps, groups="size"),
    "a single group for all channels (that is LayerNorm)": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, groups="one"
    ),
    "one group per channel (that is InstanceNorm)": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, groups="each"
    ),
    "positions not averaged (statistics per position)": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, split="no_positions"
    ),
    "missing affine (weight and bias not applied)": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, affine="none"
    ),
    "affine applied before normalizing": lambda x, g, w, b, eps: gn(
        x, g, w, b, eps, affine="before"
    ),
    **{name: with_knobs(gn, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ RMSNorm


def rms(x, w, eps, reduce="mean", eps_at="inside", root=True, dims=(-1,)):
    sq = (
        x.pow(2).sum(dim=dims, keepdim=True)
        if reduce == "sum"
        else x.pow(2).mean(dim=dims, keepdim=True)
    )
    if eps_at == "outside":
        return x / (sq.sqrt() + eps) * w
    if eps_at == "none":
        return x / sq.sqrt() * w
    return x / ((sq + eps).sqrt() if root else sq + eps) * w


RMS_WRONG = {
    "mean subtracted (that is LayerNorm)": lambda x, w, eps: norm(x, [-1], eps) * w,
    "eps outside the square root": lambda x, w, eps: rms(x, w, eps, eps_at="outside"),
    "eps missing": lambda x, w, eps: rms(x, w, eps, eps_at="none"),
    "sum instead of mean (L2 normalization)": lambda x, w, eps: rms(x, w, eps, reduce="sum"),
    "square root missing": lambda x, w, eps: rms(x, w, eps, root=False),
    "wrong dims: averaged over more than the last dim": lambda x, w, eps: rms(
        x, w, eps, dims=tuple(range(1, x.dim()))
    ),
    "weight missing": lambda x, w, eps: rms(x, torch.ones_like(w), eps),
    "weight applied before normalizing": lambda x, w, eps: rms(x * w, torch.ones_like(w), eps),
}

# ------------------------------------------------------------------ the tests

CHECKERS = {
    "batch": (
        E.check_batch_norm,
        BN_WRONG,
        lambda x, w, b, eps: NF.batch_norm(x, None, None, w, b, True, 0.1, eps),
    ),
    "running": (E.check_running_stats, RS_WRONG, lambda rm, rv, x, m: running(rm, rv, x, m)),
    "layer": (E.check_layer_norm, LN_WRONG, NF.layer_norm),
    "instance": (E.check_instance_norm, IN_WRONG, lambda x, eps: NF.instance_norm(x, eps=eps)),
    "group": (E.check_group_norm, GN_WRONG, NF.group_norm),
    "rms": (E.check_rms_norm, RMS_WRONG, lambda x, w, eps: NF.rms_norm(x, [x.shape[-1]], w, eps)),
}
CASES = [(key, name) for key, (_, wrong, _) in CHECKERS.items() for name in wrong]


def calls_of(key):
    """The arguments a checker calls a function with, recorded by a correct function."""
    check, _, correct = CHECKERS[key]
    seen = []

    def recording(*args):
        seen.append(args)
        return correct(*args)

    assert check(recording)
    return seen


def signature(args):
    """What tells one case from another: shapes, Nones and plain values of the arguments."""
    return tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else a for a in args)


def wrong_on(correct, sig):
    """Correct everywhere except on the input with signature ``sig``: there it is off by 0.5."""

    def fn(*args):
        out = correct(*args)
        if signature(args) != sig:
            return out
        return tuple(o + 0.5 for o in out) if isinstance(out, tuple) else out + 0.5

    return fn


@pytest.mark.parametrize("key", list(CHECKERS))
def test_correct_implementation_passes(key, capsys):
    check, _, correct = CHECKERS[key]
    result = check(correct)
    out = capsys.readouterr().out
    assert result and result.passed and result.mistake is None
    assert out.startswith("✓") and "✗" not in out and "Diagnosis" not in out
    assert repr(result) == out.strip()
    assert result._ipython_display_() is None


@pytest.mark.parametrize("key,name", CASES)
def test_each_mistake_fails_and_is_named(key, name, capsys):
    check, wrong, _ = CHECKERS[key]
    result = check(wrong[name])
    out = capsys.readouterr().out
    assert not result
    assert result.mistake == name
    assert f"Diagnosis: {name}." in " ".join(out.split())
    assert out.startswith("✗")
    for code in FORBIDDEN:
        assert code not in out, code


@pytest.mark.parametrize("key", list(CHECKERS))
def test_every_case_is_compared(key, capsys):
    # a function wrong on one input only fails, whichever input it is
    _, _, correct = CHECKERS[key]
    calls = calls_of(key)
    sigs = [signature(a) for a in calls]
    assert len(set(sigs)) == len(sigs), "two cases look the same"
    capsys.readouterr()
    for sig in sigs:
        result = CHECKERS[key][0](wrong_on(correct, sig))
        out = " ".join(capsys.readouterr().out.split())
        assert not result, sig
        assert f"on 1 of {len(sigs)} inputs" in out


def test_the_cases_cover_what_the_exercises_promise(capsys):
    def dims(key):
        return {a[0].dim() if key != "running" else a[2].dim() for a in calls_of(key)}

    assert dims("batch") == {2, 3, 4}  # (N, C), (N, C, L), (N, C, H, W)
    assert dims("running") == {2, 3, 4}
    assert dims("rms") == {2, 3, 4}
    assert dims("instance") == {3, 4, 5}  # any number of spatial dims
    assert dims("group") == {2, 3, 4, 5}  # any number of trailing dims
    ln = calls_of("layer")
    assert any(len(ns) > 1 for _, ns, _, _, _ in ln)  # several normalized dims
    for key, calls in [("layer", ln), ("group", calls_of("group"))]:  # "may be None"
        nones = {(a[2] is None, a[3] is None) for a in calls}
        assert nones == {(False, False), (True, False), (False, True), (True, True)}, key
    for key in CHECKERS:  # a tiny and a large eps
        eps = {a[-1] for a in calls_of(key)}
        assert min(eps) <= 1e-5 < 0.5 <= max(eps) or key == "running", key
    capsys.readouterr()


@pytest.mark.parametrize("key", ["layer", "group"])
def test_a_solution_that_cannot_take_none_fails_kindly(key, capsys):
    _, _, correct = CHECKERS[key]

    def needs_weight(*args):
        *rest, w, b, eps = args
        return correct(*rest, w + 0 * w, b - 0 * b, eps)  # None + 0 raises TypeError

    result = CHECKERS[key][0](needs_weight)
    out = " ".join(capsys.readouterr().out.split())
    assert not result and result.mistake is None
    assert "weight=None your function raised TypeError: unsupported operand" in out
    assert "skip the scaling when weight is None" in out
    assert "Traceback" not in out


def test_every_diagnosed_mistake_is_tested():
    # the names each checker can diagnose == the wrong implementations tested above
    for key, (check, wrong, _) in CHECKERS.items():
        checker = C.CHECKERS[check.__name__]()
        assert {m.name for m in checker.mistakes} == set(wrong), key


def test_each_mistake_changes_the_reference_recipe():
    # a declarative catalogue: the correct recipe with a field or two changed, never the same
    for make in C.CHECKERS.values():
        checker = make()
        for m in checker.mistakes:
            assert 1 <= len(m.changes) <= 2, m.name
            assert m.recipe(checker.recipe) != checker.recipe, m.name


@pytest.mark.parametrize("key", list(CHECKERS))
def test_the_reference_recipe_is_torch(key):
    checker = C.CHECKERS[CHECKERS[key][0].__name__]()
    for case in checker.cases:
        want = checker.expected(*case.args)
        got = checker.compute(checker.recipe, *case.args)
        for g, w in zip(
            *(((t,) if isinstance(t, torch.Tensor) else t) for t in (got, want)), strict=True
        ):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def blank(*args): ...


def not_written(*args):
    raise NotImplementedError("write me")


def broken(*args):
    raise ValueError("my own message")


@pytest.mark.parametrize("key", list(CHECKERS))
@pytest.mark.parametrize(
    "fn,says",
    [
        (blank, "your function returned None: is its body still `...` or `pass`"),
        (not_written, "your function raised NotImplementedError (write me): it is not written yet"),
        (broken, "your function raised ValueError: my own message."),
        (lambda *args: ..., "your function returned Ellipsis"),
        (lambda *args: 3.0, "your function returned an object of type float"),
    ],
)
def test_an_unfinished_answer_gets_one_kind_paragraph(key, fn, says, capsys):
    result = CHECKERS[key][0](fn)
    out = capsys.readouterr().out
    assert not result and result.mistake is None
    assert out.startswith("✗") and "Traceback" not in out and "\n\n" not in out.strip()
    flat = " ".join(out.split())
    assert says in flat
    assert "for x of shape (" in flat and "It should return" in flat or fn is broken


def test_exception_is_reported_kindly(capsys):
    def only_2d(x, w, b, eps):
        m, v = x.mean(0), x.var(0, unbiased=False)
        return (x - m) / (v + eps).sqrt() * w + b

    result = E.check_batch_norm(only_2d)
    out = " ".join(capsys.readouterr().out.split())
    assert not result
    assert "for x of shape (4, 3, 5, 5), eps=0.1 your function raised RuntimeError: " in out
    assert "The size of tensor a" in out and "look at how your tensors broadcast" in out


def test_wrong_return_type_and_shape(capsys):
    assert not E.check_rms_norm(lambda x, w, eps: x.numpy())
    assert "object of type ndarray" in " ".join(capsys.readouterr().out.split())
    assert not E.check_running_stats(lambda rm, rv, x, m: rm)
    out = " ".join(capsys.readouterr().out.split())
    assert "It should return a tuple (new_mean, new_var): new_mean of shape (3,)" in out
    assert not E.check_running_stats(lambda rm, rv, x, m: (rm, rv[:1]))
    assert "returned new_var of shape (1,)" in " ".join(capsys.readouterr().out.split())
    assert not E.check_instance_norm(lambda x, eps: x.mean(-1))
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "returned a tensor of shape (2, 3, 5). It should return a tensor of shape "
        "(2, 3, 5, 5)." in out
    )


def test_unknown_mistake_gets_the_recipe_and_no_round_off_size(capsys):
    result = E.check_layer_norm(lambda x, ns, w, b, eps: NF.layer_norm(x, ns, w, b, eps) + 0.01)
    out = " ".join(capsys.readouterr().out.split())
    assert not result and result.mistake is None
    assert "not one of the classic mistakes" in out and "mean and biased variance" in out
    assert "the values differ, the first one at index (0, 0)" in out
    assert "0.01" not in out and "|diff|" not in out and "≈" not in out
    for code in FORBIDDEN:
        assert code not in out, code


def test_nan_output_is_reported(capsys):
    assert not E.check_rms_norm(lambda x, w, eps: x * float("nan"))
    assert "contains nan or inf" in " ".join(capsys.readouterr().out.split())


def test_inputs_are_not_changed_by_an_in_place_function(capsys):
    def in_place(x, eps):
        y = NF.instance_norm(x, eps=eps)
        x.mul_(0)  # vandalize the input: the check must not care
        return y

    assert E.check_instance_norm(in_place)
    capsys.readouterr()


def test_output_is_deterministic(capsys):
    wrong = GN_WRONG["eps outside the square root"]
    E.check_group_norm(wrong)
    first = capsys.readouterr().out
    E.check_group_norm(wrong)
    assert capsys.readouterr().out == first


def test_a_correct_one_pass_formula_also_passes(capsys):
    # var = E[x^2] - E[x]^2 in float32 is a valid answer: round-off must not fail it
    def one_pass(x, w, b, eps):
        dims = not_channel(x)
        m = x.mean(dim=dims, keepdim=True)
        v = (x * x).mean(dim=dims, keepdim=True) - m * m
        return (x - m) * torch.rsqrt(v + eps) * per_channel(w, x) + per_channel(b, x)

    assert E.check_batch_norm(one_pass)
    capsys.readouterr()
