"""The hand-written backward passes of BatchNorm and LayerNorm (normhelpers.backward)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

import normhelpers.functional as NF
from normhelpers.backward import (
    batch_norm_manual,
    layer_norm_manual,
    normalize_backward,
    normalize_forward,
)

BN_SHAPES = [(5, 3), (2, 3, 4, 4), (2, 4, 3)]  # 2D (N, D), CV (N, C, H, W), NLP as (N, D, L)


def _f64(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 2 + 1).requires_grad_()


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_gradcheck(shape: tuple[int, ...], affine: bool) -> None:
    x = _f64(*shape)
    c = shape[1]
    params = (_f64(c, seed=1), _f64(c, seed=2)) if affine else (None, None)
    inputs = (x, *params) if affine else (x,)
    assert gradcheck(lambda x, *p: batch_norm_manual(x, *p) if p else batch_norm_manual(x), inputs)


@pytest.mark.parametrize(
    "shape,normalized", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5))]
)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradcheck(
    shape: tuple[int, ...], normalized: tuple[int, ...], affine: bool
) -> None:
    x = _f64(*shape)
    if affine:
        w, b = _f64(*normalized, seed=1), _f64(*normalized, seed=2)
        assert gradcheck(lambda x, w, b: layer_norm_manual(x, normalized, w, b), (x, w, b))
    else:
        assert gradcheck(lambda x: layer_norm_manual(x, normalized), (x,))


def _grads(
    fn, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dy: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    leaves = [t.detach().clone().requires_grad_() for t in (x, w, b)]
    return torch.autograd.grad(fn(*leaves), leaves, dy)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_matches_torch_and_autograd(shape: tuple[int, ...]) -> None:
    x, w, b = torch.randn(shape) * 3 + 2, torch.randn(shape[1]), torch.randn(shape[1])
    dy = torch.randn(shape)
    ours = _grads(batch_norm_manual, x, w, b, dy)
    torch_ = _grads(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b, dy)
    scratch = _grads(lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True), x, w, b, dy)
    for a, t, s in zip(ours, torch_, scratch, strict=True):
        torch.testing.assert_close(a, t)
        torch.testing.assert_close(a, s)


def test_layer_norm_matches_torch_and_autograd() -> None:
    x, w, b = torch.randn(2, 5, 8) * 3 + 2, torch.randn(8), torch.randn(8)
    dy = torch.randn(2, 5, 8)
    ours = _grads(lambda x, w, b: layer_norm_manual(x, (8,), w, b), x, w, b, dy)
    torch_ = _grads(lambda x, w, b: F.layer_norm(x, (8,), w, b), x, w, b, dy)
    scratch = _grads(lambda x, w, b: NF.layer_norm(x, (8,), w, b), x, w, b, dy)
    for a, t, s in zip(ours, torch_, scratch, strict=True):
        torch.testing.assert_close(a, t)
        torch.testing.assert_close(a, s)


def test_forward_values_match_torch() -> None:
    x = torch.randn(4, 3, 5)
    torch.testing.assert_close(batch_norm_manual(x), F.batch_norm(x, None, None, training=True))
    torch.testing.assert_close(layer_norm_manual(x, (5,)), F.layer_norm(x, (5,)))


def test_input_gradient_has_zero_mean_and_is_orthogonal_to_xhat() -> None:
    x = torch.randn(6, 10, dtype=torch.float64) * 4 + 3
    g = torch.randn(6, 10, dtype=torch.float64)
    xhat, rstd = normalize_forward(x, [1], eps=0.0)
    dx = normalize_backward(g, xhat, rstd, [1])
    assert dx.sum(1).abs().max() < 1e-12
    assert (dx * xhat).sum(1).abs().max() < 1e-12
    assert (dx * x).sum(1).abs().max() < 1e-11  # hence orthogonal to x itself


def test_eps_leaves_a_predicted_component_along_xhat() -> None:
    """With eps > 0: dx . x_hat = rstd * (g . x_hat) * eps / (var + eps), not 0."""
    x = torch.randn(3, 8, dtype=torch.float64) * 0.01  # var ~ 1e-4, comparable with eps
    g = torch.randn(3, 8, dtype=torch.float64)
    eps = 1e-4
    xhat, rstd = normalize_forward(x, [1], eps)
    dx = normalize_backward(g, xhat, rstd, [1])
    var = x.var(1, unbiased=False, keepdim=True)
    predicted = (rstd * (g * xhat).sum(1, keepdim=True) * eps / (var + eps)).squeeze(1)
    torch.testing.assert_close((dx * xhat).sum(1), predicted)
    assert predicted.abs().min() > 1e-3  # the residual is real, not round-off


def test_projection_is_idempotent_for_eps_zero() -> None:
    x = torch.randn(4, 7, dtype=torch.float64)
    g = torch.randn(4, 7, dtype=torch.float64)
    xhat, _ = normalize_forward(x, [1], eps=0.0)
    one = torch.ones(4, 1, dtype=torch.float64)
    p1 = normalize_backward(g, xhat, one, [1])
    p2 = normalize_backward(p1, xhat, one, [1])
    torch.testing.assert_close(p2, p1)
    assert (p1 - g).abs().max() > 0.1  # it did remove something


def test_double_backward_is_refused() -> None:
    x = _f64(4, 3)
    (gx,) = torch.autograd.grad(batch_norm_manual(x).pow(3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        gx.sum().backward()


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError):
        batch_norm_manual(torch.randn(5))
    with pytest.raises(ValueError):
        layer_norm_manual(torch.randn(2, 5), (4,))


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4), (2, 3, 0)])
def test_batch_norm_empty_batch_like_torch(shape: tuple[int, ...]) -> None:
    """No element: an empty output, and zero gradients for weight and bias, as torch."""
    results = []
    for norm in (batch_norm_manual, lambda x, w, b: F.batch_norm(x, None, None, w, b, True)):
        x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        w = torch.ones(3, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        y = norm(x, w, b)
        y.sum().backward()
        results.append((y, x.grad, w.grad, b.grad))
    (y, *grads), (y_ref, *grads_ref) = results
    assert y.shape == y_ref.shape == shape
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert torch.equal(g, g_ref)


def test_layer_norm_empty_batch_like_torch() -> None:
    results = []
    for norm in (layer_norm_manual, F.layer_norm):
        x = torch.zeros(0, 7, 5, dtype=torch.float64, requires_grad=True)
        w = torch.ones(5, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        y = norm(x, [5], w, b)
        y.sum().backward()
        results.append((y, x.grad, w.grad, b.grad))
    (y, *grads), (y_ref, *grads_ref) = results
    assert y.shape == y_ref.shape == (0, 7, 5)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        assert torch.equal(g, g_ref)
