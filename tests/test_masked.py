"""Tests of normhelpers.masked: BatchNorm over the real tokens of padded sequences equals
torch's BatchNorm1d on the (M, D) matrix of real tokens."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from normhelpers.masked import MaskedBatchNorm1d, masked_batch_norm


def _padded_example() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4) * 3 + 1
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[2], [6], [4]])
    return x * mask.unsqueeze(-1), mask


def test_masked_batch_norm_equals_batch_norm_on_real_tokens() -> None:
    x, mask = _padded_example()
    ours, ref = MaskedBatchNorm1d(4), nn.BatchNorm1d(4)
    with torch.no_grad():
        ours.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
        ref.weight.copy_(ours.weight)
        ours.bias.fill_(0.3)
        ref.bias.fill_(0.3)
    y = ours(x, mask)
    y_ref = ref(x[mask])  # (M, D): the real tokens only
    assert torch.allclose(y[mask], y_ref, atol=1e-5)
    assert bool((y[~mask] == 0).all())
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-6)  # unbiased update
    ours.eval()
    ref.eval()
    assert torch.allclose(ours(x, mask)[mask], ref(x[mask]), atol=1e-5)


def test_masked_batch_norm_cumulative_average_like_torch() -> None:
    ours, ref = MaskedBatchNorm1d(4, momentum=None), nn.BatchNorm1d(4, momentum=None)
    for seed in range(3):
        x, mask = _padded_example()
        x = x * (seed + 1)
        ours(x, mask)
        ref(x[mask])
    assert int(ours.num_batches_tracked) == 3
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-5)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-4)


def test_masked_batch_norm_ignores_extra_padding() -> None:
    x, mask = _padded_example()
    wider = torch.cat([x, torch.full((3, 5, 4), 7.0)], dim=1)  # garbage in the padding
    wide_mask = torch.cat([mask, torch.zeros(3, 5, dtype=torch.bool)], dim=1)
    y = masked_batch_norm(x, mask, None, None, None, None, training=True)
    y_wide = masked_batch_norm(wider, wide_mask, None, None, None, None, training=True)
    assert torch.allclose(y, y_wide[:, :6], atol=1e-6)
    # a plain BatchNorm over all positions does depend on the padding
    plain = nn.functional.batch_norm(x.transpose(1, 2), None, None, training=True)
    plain_wide = nn.functional.batch_norm(wider.transpose(1, 2), None, None, training=True)
    assert not torch.allclose(plain, plain_wide[..., :6], atol=1e-2)


def test_masked_batch_norm_module_without_running_stats_uses_batch_stats() -> None:
    """Like nn.BatchNorm1d(track_running_stats=False): batch statistics in train and eval."""
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4)
    mask = torch.ones(3, 5, dtype=torch.bool)
    ours = MaskedBatchNorm1d(4, track_running_stats=False)
    ref = torch.nn.BatchNorm1d(4, track_running_stats=False)
    for mode in (True, False):
        ours.train(mode)
        ref.train(mode)
        expected = ref(x.transpose(1, 2)).transpose(1, 2)
        assert torch.allclose(ours(x, mask), expected, atol=1e-6)


def test_masked_batch_norm_needs_two_real_tokens() -> None:
    x = torch.randn(2, 3, 4)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    mask[0, 0] = True
    with pytest.raises(ValueError, match="more than 1 real token"):
        masked_batch_norm(x, mask, None, None, None, None, training=True)


def test_masked_batch_norm_names_the_shapes_it_expects() -> None:
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"mask of shape \(N, L\).*\[2, 3, 4\].*\[2, 4\]"):
        masked_batch_norm(x, torch.ones(2, 4, dtype=torch.bool), None, None, None, None, True)


def test_masked_batch_norm_eval_needs_running_statistics() -> None:
    x, mask = _padded_example()
    with pytest.raises(RuntimeError, match="running statistics"):
        masked_batch_norm(x, mask, None, None, None, None, training=False)


def test_masked_batch_norm_half_precision_is_computed_in_float32() -> None:
    x, mask = _padded_example()
    y_half = masked_batch_norm(x.half(), mask, None, None, None, None, training=True)
    y = masked_batch_norm(x.half().float(), mask, None, None, None, None, training=True)
    assert y_half.dtype == torch.float16
    assert torch.equal(y_half, y.half())


def test_masked_batch_norm_gradient_equals_batch_norm_on_real_tokens() -> None:
    x, mask = _padded_example()
    x = x.double().requires_grad_(True)
    upstream = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (masked_batch_norm(x, mask, None, None, None, None, training=True) * upstream).sum().backward()
    real = x.detach()[mask].requires_grad_(True)
    (nn.functional.batch_norm(real, None, None, training=True) * upstream[mask]).sum().backward()
    torch.testing.assert_close(x.grad[mask], real.grad)
    assert bool((x.grad[~mask] == 0).all())  # padding gets no gradient
