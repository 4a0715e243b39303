"""Tests of normhelpers.exercises: right answers pass, each classic mistake is named.

The wrong implementations below are written the way a learner would write them (with
``torch.var_mean`` and friends), independently of the variants inside the checkers.
"""

from __future__ import annotations

import pytest
import torch

import normhelpers.functional as NF
from normhelpers import exercises as E

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
    return v.view(1, -1, *([1] * (x.dim() - 2)))


def not_channel(x):
    return [d for d in range(x.dim()) if d != 1]


COMMON = {  # mistake name -> the knobs of norm()
    "unbiased variance": {"var": "unbiased"},
    "eps outside the square root": {"eps_at": "outside"},
    "eps missing": {"eps_at": "none"},
    "mean not subtracted": {"center": False},
    "variance of the uncentered values": {"var": "meansq"},
}

FORBIDDEN = (".mean(", ".var(", ".std(", "sqrt(", "keepdim", "dim=", "unbiased=", "correction",
             ".view(", ".reshape(", "lambda", "return ", "def ", "torch.var", "torch.sqrt")


def with_knobs(impl, knobs):
    """``impl`` with some of norm()'s knobs turned: one learner's wrong version."""
    return lambda *args: impl(*args, **knobs)


# ------------------------------------------------------------------ BatchNorm


def bn(x, w, b, eps, dims=None, affine="after", **knobs):
    dims = not_channel(x) if dims is None else dims(x)
    W, B = per_channel(w, x), per_channel(b, x)
    if affine == "before":
        return norm(x * W + B, dims, eps, **knobs)
    y = norm(x, dims, eps, **knobs)
    return y if affine == "none" else y * W + B


BN_WRONG = {
    "wrong axes: one mean per sample (that is LayerNorm)":
        lambda x, w, b, eps: bn(x, w, b, eps, dims=lambda x: list(range(1, x.dim()))),
    "wrong axes: averaged over the batch dim only":
        lambda x, w, b, eps: bn(x, w, b, eps, dims=lambda x: [0]),
    "missing affine (weight and bias not applied)":
        lambda x, w, b, eps: bn(x, w, b, eps, affine="none"),
    "affine applied before normalizing":
        lambda x, w, b, eps: bn(x, w, b, eps, affine="before"),
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
    "momentum reversed (momentum used as the weight of the old value)":
        lambda rm, rv, x, m: running(rm, rv, x, m, rule="reversed"),
    "running_var updated with the biased variance":
        lambda rm, rv, x, m: running(rm, rv, x, m, var="biased"),
    "running_var updated with the standard deviation":
        lambda rm, rv, x, m: running(rm, rv, x, m, var="std"),
    "old running value ignored": lambda rm, rv, x, m: running(rm, rv, x, m, rule="replace"),
}

# ------------------------------------------------------------------ LayerNorm


def ln(x, ns, w, b, eps, dims=None, affine="after", **knobs):
    dims = list(range(-len(ns), 0)) if dims is None else dims
    if affine == "before":
        return norm(x * w + b, dims, eps, **knobs)
    y = norm(x, dims, eps, **knobs)
    return y if affine == "none" else y * w + b


LN_WRONG = {
    "normalized over the last dim only": lambda x, ns, w, b, eps: ln(x, ns, w, b, eps, dims=[-1]),
    "wrong dims: across the batch (that is BatchNorm)":
        lambda x, ns, w, b, eps: ln(x, ns, w, b, eps, dims=[0]),
    "missing affine (weight and bias not applied)":
        lambda x, ns, w, b, eps: ln(x, ns, w, b, eps, affine="none"),
    "affine applied before normalizing":
        lambda x, ns, w, b, eps: ln(x, ns, w, b, eps, affine="before"),
    **{name: with_knobs(ln, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ InstanceNorm

def instance(x, eps, **knobs):
    return norm(x, list(range(2, x.dim())), eps, **knobs)


IN_WRONG = {
    "wrong axes: one mean per sample over all channels (that is LayerNorm)":
        lambda x, eps: norm(x, list(range(1, x.dim())), eps),
    "wrong axes: across the batch (that is BatchNorm)": lambda x, eps: norm(x, not_channel(x), eps),
    "wrong axes: over the last dim only": lambda x, eps: norm(x, [-1], eps),
    "wrong axes: over the channels": lambda x, eps: norm(x, [1], eps),
    **{name: with_knobs(instance, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ GroupNorm


def gn(x, g, w, b, eps, split="ok", groups=None, affine="after", **knobs):
    n, c, rest = x.shape[0], x.shape[1], x.shape[2:]
    g = {None: g, "size": c // g, "one": 1, "each": c}[groups]
    src = x * per_channel(w, x) + per_channel(b, x) if affine == "before" else x
    if split == "interleaved":
        y = norm(src.view(n, c // g, g, *rest), [1] + list(range(3, x.dim() + 1)), eps, **knobs)
    elif split == "no_positions":
        y = norm(src.view(n, g, c // g, *rest), [2], eps, **knobs)
    else:
        y = norm(src.view(n, g, c // g, *rest), list(range(2, x.dim() + 1)), eps, **knobs)
    y = y.view(x.shape)
    return y if affine in ("none", "before") else y * per_channel(w, x) + per_channel(b, x)


GN_WRONG = {
    "groups split along the wrong axis (interleaved channels)":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, split="interleaved"),
    "num_groups used as the group size": lambda x, g, w, b, eps: gn(x, g, w, b, eps, groups="size"),
    "a single group for all channels (that is LayerNorm)":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, groups="one"),
    "one group per channel (that is InstanceNorm)":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, groups="each"),
    "positions not averaged (statistics per position)":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, split="no_positions"),
    "missing affine (weight and bias not applied)":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, affine="none"),
    "affine applied before normalizing":
        lambda x, g, w, b, eps: gn(x, g, w, b, eps, affine="before"),
    **{name: with_knobs(gn, k) for name, k in COMMON.items()},
}

# ------------------------------------------------------------------ RMSNorm


def rms(x, w, eps, reduce="mean", eps_at="inside", root=True, dims=(-1,)):
    sq = x.pow(2).sum(dim=dims, keepdim=True) if reduce == "sum" else \
        x.pow(2).mean(dim=dims, keepdim=True)
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
    "wrong dims: averaged over more than the last dim":
        lambda x, w, eps: rms(x, w, eps, dims=tuple(range(1, x.dim()))),
    "weight missing": lambda x, w, eps: rms(x, torch.ones_like(w), eps),
    "weight applied before normalizing": lambda x, w, eps: rms(x * w, torch.ones_like(w), eps),
}

# ------------------------------------------------------------------ the tests

CHECKERS = {
    "batch": (E.check_batch_norm, BN_WRONG,
              lambda x, w, b, eps: NF.batch_norm(x, None, None, w, b, True, 0.1, eps)),
    "running": (E.check_running_stats, RS_WRONG, lambda rm, rv, x, m: running(rm, rv, x, m)),
    "layer": (E.check_layer_norm, LN_WRONG, NF.layer_norm),
    "instance": (E.check_instance_norm, IN_WRONG, lambda x, eps: NF.instance_norm(x, eps=eps)),
    "group": (E.check_group_norm, GN_WRONG, NF.group_norm),
    "rms": (E.check_rms_norm, RMS_WRONG, lambda x, w, eps: NF.rms_norm(x, [x.shape[-1]], w, eps)),
}
CASES = [(key, name) for key, (_, wrong, _) in CHECKERS.items() for name in wrong]


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


def test_every_diagnosed_mistake_is_tested(monkeypatch):
    # the names each checker can diagnose == the wrong implementations tested above
    seen = {}

    def spy(title, reference, fn, cases, expected_fn, mistakes, **kw):
        seen[title] = {m.name for m in mistakes}
        return E.CheckResult(title, True, "")

    monkeypatch.setattr(E, "_run_check", spy)
    for key, (check, wrong, _) in CHECKERS.items():
        check(None)
        assert seen[check.__name__] == set(wrong), key


def test_unknown_mistake_gets_the_recipe(capsys):
    result = E.check_layer_norm(lambda x, ns, w, b, eps: NF.layer_norm(x, ns, w, b, eps) + 0.01)
    out = capsys.readouterr().out
    assert not result and result.mistake is None
    out = " ".join(out.split())
    assert "not one of the classic mistakes" in out and "max |diff| ≈ 0.01" in out
    for code in FORBIDDEN:
        assert code not in out, code


def test_exception_is_reported_kindly(capsys):
    def only_2d(x, w, b, eps):
        m, v = x.mean(0), x.var(0, unbiased=False)
        return (x - m) / (v + eps).sqrt() * w + b

    result = E.check_batch_norm(only_2d)
    out = capsys.readouterr().out
    assert not result
    assert "raised an error for x of shape (4, 3, 5, 5), eps=0.1" in out
    assert "RuntimeError: The size of tensor a" in out


def test_wrong_return_type_and_shape(capsys):
    assert not E.check_rms_norm(lambda x, w, eps: x.numpy())
    assert "expected a tensor, got ndarray" in " ".join(capsys.readouterr().out.split())
    assert not E.check_running_stats(lambda rm, rv, x, m: rm)
    assert "expected a tuple of 2 tensors" in " ".join(capsys.readouterr().out.split())
    assert not E.check_instance_norm(lambda x, eps: x.mean(-1))
    out = " ".join(capsys.readouterr().out.split())
    assert "should have shape (2, 3, 5, 5), yours has (2, 3, 5)" in out


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
