"""Tests of normhelpers.training: models, optimizer and training loop; the re-exported names."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn

import normhelpers as nh
import normhelpers.data
import normhelpers.masked
import normhelpers.models
import normhelpers.training
from normhelpers.training import (
    NORM_KINDS,
    ImageData,
    MomentumSGD,
    RunningStatsBatchNorm2d,
    accuracy,
    evaluate,
    fit,
    make_cnn,
    make_mlp,
    make_sequence_model,
    make_sequences,
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


# ------------------------------------------------------------------------ sequence model


@pytest.mark.parametrize("kind", SEQ_KINDS)
def test_sequence_model_builds_and_trains_a_step(kind: str) -> None:
    data = make_sequences(16, seed=0)
    inputs, y = data.batch(torch.arange(16))
    model = make_sequence_model(kind)
    assert model(*inputs).shape == (16, 4)
    assert math.isfinite(_one_step(model, inputs, y))


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
    runs = [
        fit(make_cnn("batch", seed=1), train, test, epochs=2, batch_size=32, seed=1)
        for _ in range(2)
    ]
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


def test_names_the_chapters_import_from_training_still_work() -> None:
    """Chapters 08-10 import the data sets and the masked BatchNorm from training."""
    moved = {
        "ImageData": normhelpers.data,
        "SequenceData": normhelpers.data,
        "make_sequences": normhelpers.data,
        "pad_batch": normhelpers.data,
        "masked_batch_norm": normhelpers.masked,
        "MaskedBatchNorm1d": normhelpers.masked,
    }
    for name, module in moved.items():
        assert name in normhelpers.training.__all__
        assert getattr(normhelpers.training, name) is getattr(module, name), name


def test_models_are_re_exported_from_training_as_the_same_objects() -> None:
    """The models moved to normhelpers.models; chapters 08-10 still import them from training."""
    for name in normhelpers.models.__all__:
        assert name in normhelpers.training.__all__, name
        assert getattr(normhelpers.training, name) is getattr(normhelpers.models, name), name
    assert {"make_cnn", "make_mlp", "RunningStatsBatchNorm2d"} <= set(normhelpers.models.__all__)
