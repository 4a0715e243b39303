"""Tests of normhelpers.training: models, data, masked BatchNorm, optimizer and training loop."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn

import normhelpers as nh
from normhelpers.training import (
    NORM_KINDS,
    ImageData,
    MaskedBatchNorm1d,
    MomentumSGD,
    RunningStatsBatchNorm2d,
    accuracy,
    evaluate,
    fit,
    make_cnn,
    make_mlp,
    make_sequence_model,
    make_sequences,
    masked_batch_norm,
    pad_batch,
)

SEQ_KINDS = ("none", "batch", "layer", "masked_batch")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models: one thread is faster (and reproducible) on a small, busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> tuple[ImageData, ImageData]:
    d = nh.load_digits_tensors()
    return ImageData(d.x_train[:256], d.y_train[:256]), ImageData(d.x_test[:128], d.y_test[:128])


def _one_step(model: nn.Module, inputs: tuple[torch.Tensor, ...], y: torch.Tensor) -> float:
    opt = MomentumSGD(model.parameters(), lr=0.05)
    model.train()
    loss = nn.functional.cross_entropy(model(*inputs), y)
    loss.backward()
    opt.step()
    return loss.item()


# ---------------------------------------------------------------------------------- models


@pytest.mark.parametrize("kind", [*NORM_KINDS, "batch_running"])
def test_cnn_builds_and_trains_a_step(kind: str, digits: tuple[ImageData, ImageData]) -> None:
    model = make_cnn(kind)
    x, y = digits[0].x[:16], digits[0].y[:16]
    assert model(x).shape == (16, 10)
    before = [p.detach().clone() for p in model.parameters()]
    loss = _one_step(model, (x,), y)
    assert math.isfinite(loss)
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_cnn_layer_norm_statistics_are_over_c_h_w() -> None:
    norm = make_cnn("layer")[1]
    x = torch.randn(3, 8, 8, 8) * 5 + 2
    y = norm(x)
    assert torch.allclose(y.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.var(dim=(1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


def test_cnn_conv_bias_only_without_norm() -> None:
    assert make_cnn("none")[0].bias is not None
    assert make_cnn("batch")[0].bias is None
    assert make_cnn("batch", conv_bias=True)[0].bias is not None


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown norm kind"):
        make_cnn("weight")
    with pytest.raises(ValueError, match="unknown norm kind"):
        make_mlp("instance")
    with pytest.raises(ValueError, match="unknown norm kind"):
        make_sequence_model("group")


@pytest.mark.parametrize("kind", ["none", "batch", "layer", "group"])
def test_mlp_builds_and_trains_a_step(kind: str, digits: tuple[ImageData, ImageData]) -> None:
    model = make_mlp(kind)
    x, y = digits[0].x[:16], digits[0].y[:16]
    assert model(x).shape == (16, 10)
    assert math.isfinite(_one_step(model, (x,), y))


def test_same_seed_same_parameters() -> None:
    a, b, c = make_cnn("group", seed=3), make_cnn("group", seed=3), make_cnn("group", seed=4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb)
    assert not torch.equal(pa, pc)


# ------------------------------------------------------------------ running-stats BatchNorm


def test_running_stats_batch_norm_normalizes_with_running_averages() -> None:
    torch.manual_seed(0)
    ours, ref = RunningStatsBatchNorm2d(3), nn.BatchNorm2d(3)
    x = torch.randn(4, 3, 5, 5) * 2 + 1
    y = ours(x)  # training mode
    ref(x)  # same running-average update
    assert torch.allclose(ours.running_mean, ref.running_mean)
    assert torch.allclose(ours.running_var, ref.running_var)
    ref.eval()
    assert torch.allclose(y, ref(x), atol=1e-6)


def test_running_stats_batch_norm_lets_the_gradient_reach_a_bias_before_it() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    grads = []
    for norm in (nn.BatchNorm2d(3), RunningStatsBatchNorm2d(3)):
        bias = torch.zeros(1, 3, 1, 1, requires_grad=True)
        (norm(x + bias) * torch.randn(8, 3, 4, 4)).sum().backward()
        grads.append(bias.grad.abs().max().item())
    assert grads[0] < 1e-5  # true BN: the mean subtraction cancels a bias exactly
    assert grads[1] > 1e-2


# -------------------------------------------------------------------------- sequence data


def test_make_sequences_lengths_padding_and_labels() -> None:
    data = make_sequences(200, min_len=3, max_len=20, seed=0)
    assert data.tokens.shape == (200, 20)
    assert int(data.lengths.min()) >= 3 and int(data.lengths.max()) <= 20
    for i in range(200):
        seq, n = data.tokens[i], int(data.lengths[i])
        assert bool((seq[:n] >= 1).all()) and bool((seq[n:] == 0).all())
        counts = torch.bincount((seq[:n] - 1) // 3, minlength=4)
        assert int(data.y[i]) == int(torch.argmax(counts))  # first maximum wins ties
    assert torch.equal(make_sequences(50, seed=5).tokens, make_sequences(50, seed=5).tokens)


def test_pad_batch_cuts_to_longest_and_masks() -> None:
    tokens = torch.tensor([[1, 2, 0, 0, 0], [3, 4, 5, 0, 0]])
    cut, mask = pad_batch(tokens, torch.tensor([2, 3]))
    assert cut.shape == (2, 3)
    assert mask.tolist() == [[True, True, False], [True, True, True]]


@pytest.mark.parametrize("kind", SEQ_KINDS)
def test_sequence_model_builds_and_trains_a_step(kind: str) -> None:
    data = make_sequences(16, seed=0)
    inputs, y = data.batch(torch.arange(16))
    model = make_sequence_model(kind)
    assert model(*inputs).shape == (16, 4)
    assert math.isfinite(_one_step(model, inputs, y))


# ----------------------------------------------------------------------- masked BatchNorm


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


# ------------------------------------------------------------------- optimizer and training


def test_momentum_sgd_matches_torch_optim_sgd(digits: tuple[ImageData, ImageData]) -> None:
    x, y = digits[0].x[:32], digits[0].y[:32]
    a, b = make_cnn("batch"), make_cnn("batch")
    opt_a = MomentumSGD(a.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_fit_is_deterministic(digits: tuple[ImageData, ImageData]) -> None:
    train, test = digits
    runs = [fit(make_cnn("batch", seed=1), train, test, epochs=2, batch_size=32, seed=1)
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = fit(make_cnn("batch", seed=1), train, test, epochs=2, batch_size=32, seed=2)
    assert other.train_loss != runs[0].train_loss  # the seed does change the batch order


def test_fit_history_shapes_and_loss_decreases(digits: tuple[ImageData, ImageData]) -> None:
    train, test = digits
    hist = fit(make_cnn("group"), train, test, epochs=3, batch_size=32, lr=0.05)
    assert len(hist.train_loss) == len(hist.test_acc) == 3
    assert not hist.diverged
    assert hist.train_loss[2] < hist.train_loss[0] < math.log(10) + 0.5
    assert all(0.0 <= a <= 1.0 for a in hist.test_acc)
    assert hist.test_acc[-1] > 0.5  # chance is 0.1


def test_fit_sequences_loss_decreases() -> None:
    train, test = make_sequences(256, seed=0), make_sequences(128, seed=1)
    hist = fit(make_sequence_model("layer"), train, test, epochs=3, batch_size=32, lr=0.1)
    assert hist.train_loss[2] < hist.train_loss[0]
    assert hist.test_acc[-1] > 0.4  # about a third of the labels are group 0


def test_fit_reports_divergence(digits: tuple[ImageData, ImageData]) -> None:
    train, test = digits
    hist = fit(make_cnn("none"), train, test, epochs=3, batch_size=32, lr=1e6)
    assert hist.diverged
    assert len(hist.train_loss) == 3 and math.isnan(hist.train_loss[-1])


def test_evaluate_uses_running_statistics(digits: tuple[ImageData, ImageData]) -> None:
    train, test = digits
    model = make_cnn("batch")
    fit(model, train, test, epochs=1, batch_size=32)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    acc = evaluate(model, test)
    assert not model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert acc == accuracy(model, test, batch_size=7)  # eval mode: batch size is irrelevant


def test_masked_batch_norm_module_without_running_stats_uses_batch_stats() -> None:
    """Like nn.BatchNorm1d(track_running_stats=False): batch statistics in train and eval."""
    from normhelpers.training import MaskedBatchNorm1d

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
    from normhelpers.training import masked_batch_norm

    x = torch.randn(2, 3, 4)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    mask[0, 0] = True
    with pytest.raises(ValueError, match="more than 1 real token"):
        masked_batch_norm(x, mask, None, None, None, None, training=True)
