"""fold_bn_into_conv / fold_bn_into_linear: the folded layer equals layer + eval-mode BatchNorm."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

import normhelpers as nh
from normhelpers.folding import bn_scale_shift, fold_bn_into_conv, fold_bn_into_linear

TORCH_AND_OURS = {
    "torch": (nn.BatchNorm1d, nn.BatchNorm2d),
    "normhelpers": (nh.BatchNorm1d, nh.BatchNorm2d),
}


def _trained(bn: nn.Module, seed: int = 0) -> nn.Module:
    """Give bn non-trivial running statistics, weight and bias, then put it in eval mode."""
    g = torch.Generator().manual_seed(seed)
    c = bn.running_mean.shape[0]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g) * 2)
        bn.running_var.copy_(torch.rand(c, generator=g) * 3 + 0.1)
        if bn.weight is not None:
            bn.weight.copy_(torch.randn(c, generator=g))
            bn.bias.copy_(torch.randn(c, generator=g))
    return bn.eval()


@pytest.mark.parametrize("source", TORCH_AND_OURS)
@pytest.mark.parametrize("groups, conv_bias", [(1, True), (1, False), (2, True), (6, False)])
def test_folded_conv_equals_conv_then_bn(source: str, groups: int, conv_bias: bool) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 6, 3, padding=1, groups=groups, bias=conv_bias)  # groups=6: depthwise
    bn = _trained(TORCH_AND_OURS[source][1](6))
    x = torch.randn(2, 6, 5, 5)
    fused = fold_bn_into_conv(conv, bn)
    with torch.no_grad():
        assert nh.compare(fused(x), bn(conv(x)), quiet=True)
    assert fused.bias is not None and fused.groups == groups


@pytest.mark.parametrize("source", TORCH_AND_OURS)
@pytest.mark.parametrize("linear_bias", [True, False])
def test_folded_linear_equals_linear_then_bn(source: str, linear_bias: bool) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(3, 4, bias=linear_bias)
    bn = _trained(TORCH_AND_OURS[source][0](4))
    x_2d = nh.make_2d(n=8)
    fused = fold_bn_into_linear(linear, bn)
    with torch.no_grad():
        assert nh.compare(fused(x_2d), bn(linear(x_2d)), quiet=True)


def test_folded_linear_on_sequences_replaces_the_transposes() -> None:
    torch.manual_seed(0)
    linear, bn = nn.Linear(4, 5), _trained(nn.BatchNorm1d(5))
    x_nlp = nh.make_nlp(n=2, l=3, d=4)
    with torch.no_grad():
        pair = bn(linear(x_nlp).transpose(1, 2)).transpose(1, 2)  # BN over D: (N, D, L)
        assert nh.compare(fold_bn_into_linear(linear, bn)(x_nlp), pair, quiet=True)


def test_bn_without_affine_folds() -> None:
    conv, bn = nn.Conv2d(3, 4, 1), _trained(nn.BatchNorm2d(4, affine=False))
    x = torch.randn(2, 3, 3, 3)
    with torch.no_grad():
        assert nh.compare(fold_bn_into_conv(conv, bn)(x), bn(conv(x)), quiet=True)


def test_scale_and_shift_follow_the_formula() -> None:
    bn = _trained(nn.BatchNorm2d(3))
    scale, shift = bn_scale_shift(bn)
    want_scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    assert nh.compare(scale, want_scale, quiet=True)
    assert nh.compare(shift, bn.bias - bn.running_mean * want_scale, quiet=True)


def test_agrees_with_torch_fusion_and_leaves_inputs_alone() -> None:
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3, bias=False).eval(), _trained(nn.BatchNorm2d(4))
    before = conv.weight.detach().clone()
    ours, theirs = fold_bn_into_conv(conv, bn), fuse_conv_bn_eval(conv, bn)
    assert nh.compare(ours.weight, theirs.weight, quiet=True)
    assert nh.compare(ours.bias, theirs.bias, quiet=True)
    assert torch.equal(conv.weight, before) and conv.bias is None
    assert ours.weight.requires_grad and ours.weight.data_ptr() != conv.weight.data_ptr()
    linear, bn1 = nn.Linear(3, 4).eval(), _trained(nn.BatchNorm1d(4))
    assert nh.compare(
        fold_bn_into_linear(linear, bn1).weight, fuse_linear_bn_eval(linear, bn1).weight, quiet=True
    )


@pytest.mark.parametrize("source", TORCH_AND_OURS)
def test_refuses_training_mode(source: str) -> None:
    bn = _trained(TORCH_AND_OURS[source][1](4)).train()
    with pytest.raises(ValueError, match="training mode"):
        fold_bn_into_conv(nn.Conv2d(3, 4, 3), bn)


@pytest.mark.parametrize("source", TORCH_AND_OURS)
def test_refuses_bn_without_running_stats(source: str) -> None:
    bn = TORCH_AND_OURS[source][0](4, track_running_stats=False).eval()
    with pytest.raises(ValueError, match="track_running_stats=False"):
        fold_bn_into_linear(nn.Linear(3, 4), bn)


def test_channel_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[8, 3, 3, 3\].*\[6\]"):
        fold_bn_into_conv(nn.Conv2d(3, 8, 3), _trained(nn.BatchNorm2d(6)))
    with pytest.raises(ValueError, match=r"\[5, 3\].*\[4\]"):
        fold_bn_into_linear(nn.Linear(3, 5), _trained(nn.BatchNorm1d(4)))


def test_refuses_transposed_convolution() -> None:
    with pytest.raises(TypeError, match="transposed"):
        fold_bn_into_conv(nn.ConvTranspose2d(4, 4, 3), _trained(nn.BatchNorm2d(4)))
