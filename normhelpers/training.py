"""The training loop of the experiment chapters (08-10): seeded SGD, loss and accuracy.

- :func:`fit`: mini-batch SGD (:class:`MomentumSGD`, equal to ``torch.optim.SGD``), returning a
  :class:`History` (loss and accuracy per epoch); :func:`train_epoch`, one pass over the data;
  :func:`evaluate`, :func:`accuracy`.

The models (:func:`make_cnn`, :func:`make_mlp`, :class:`SequenceClassifier`,
:class:`RunningStatsBatchNorm2d`, ...) live in :mod:`normhelpers.models`, the data sets
(:class:`ImageData`, :func:`make_sequences`, :func:`pad_batch`) in :mod:`normhelpers.data`, the
masked BatchNorm in :mod:`normhelpers.masked`, :func:`parallel_map` (independent runs over the
cores) in :mod:`normhelpers.processes`; all are re-exported here, where the chapters import them
from.

Determinism: every model builder calls ``torch.manual_seed(seed)`` before creating parameters,
:func:`fit` shuffles with its own seeded ``torch.Generator``, and nothing else draws random
numbers, so two calls with the same arguments give bit-identical results on the same machine
(with the same number of threads: call ``torch.set_num_threads(1)`` in a notebook), also
when :func:`parallel_map` runs them in worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from normhelpers.data import ImageData, SequenceData, make_sequences, pad_batch
from normhelpers.masked import MaskedBatchNorm1d, masked_batch_norm
from normhelpers.models import (
    NORM_KINDS,
    RunningStatsBatchNorm2d,
    SequenceClassifier,
    make_cnn,
    make_mlp,
    make_sequence_model,
    norm1d,
    norm2d,
)
from normhelpers.processes import parallel_map

__all__ = [
    "NORM_KINDS",
    "norm2d",
    "make_cnn",
    "norm1d",
    "make_mlp",
    "ImageData",
    "SequenceData",
    "make_sequences",
    "pad_batch",
    "masked_batch_norm",
    "MaskedBatchNorm1d",
    "SequenceClassifier",
    "make_sequence_model",
    "RunningStatsBatchNorm2d",
    "History",
    "MomentumSGD",
    "fit",
    "train_epoch",
    "accuracy",
    "evaluate",
    "parallel_map",
]


class Data(Protocol):
    """What :func:`fit` needs from a data set (:class:`ImageData`,
    :class:`SequenceData`): its size and a way to cut a batch.

    Example:

    >>> data = ImageData(torch.zeros(6, 1, 8, 8), torch.arange(6))  # one kind of Data
    >>> data.size, data.batch(torch.tensor([1, 2]))[1].tolist()
    (6, [1, 2])
    """

    @property
    def size(self) -> int: ...

    def batch(self, idx: Tensor) -> tuple[tuple[Tensor, ...], Tensor]: ...


@dataclass
class History:
    """Per-epoch metrics of :func:`fit`: lists of length ``epochs``.

    ``train_loss[e]``: mean cross-entropy over the batches of epoch e (nan once diverged);
    ``test_acc[e]``: test accuracy after epoch e, in eval mode. ``diverged``: the loss became
    nan or inf (training stops there and the remaining epochs are filled with nan).

    Example:

    >>> h = History(train_loss=[2.3, 1.1], test_acc=[0.5, 0.75])
    >>> len(h.train_loss), h.diverged
    (2, False)
    """

    train_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    diverged: bool = False


def accuracy(model: nn.Module, data: Data, batch_size: int = 512) -> float:
    """Fraction of correct predictions, in whatever mode (train/eval) ``model`` is in.

    In train mode BatchNorm then normalizes each batch of ``batch_size`` with its own
    statistics (and updates its running averages: pass a copy if that matters).

    Example:

    >>> from normhelpers.data import load_digits_tensors
    >>> d = load_digits_tensors()
    >>> acc = accuracy(make_mlp("none"), ImageData(d.x_test, d.y_test))
    >>> 0.0 <= acc <= 1.0
    True
    """
    correct = 0
    with torch.no_grad():
        for start in range(0, data.size, batch_size):
            inputs, y = data.batch(torch.arange(start, min(start + batch_size, data.size)))
            correct += int((model(*inputs).argmax(1) == y).sum())
    return correct / data.size


def evaluate(model: nn.Module, data: Data, batch_size: int = 512) -> float:
    """Accuracy in eval mode (BatchNorm uses its running statistics); leaves the model in eval.

    Example:

    >>> from normhelpers.data import load_digits_tensors
    >>> d = load_digits_tensors()
    >>> model = make_mlp("batch")
    >>> acc = evaluate(model, ImageData(d.x_test, d.y_test))
    >>> model.training, 0.0 <= acc <= 1.0
    (False, True)
    """
    model.eval()
    return accuracy(model, data, batch_size)


class MomentumSGD:
    """SGD with momentum, the update of ``torch.optim.SGD(params, lr, momentum)`` written out.

    For each parameter p with gradient g and velocity v (zeros at the start):
    ``v = momentum * v + g``, then ``p = p - lr * v``. Written here because building a
    ``torch.optim`` optimizer imports torch's compiler machinery, which costs seconds on a
    small CPU, more than training the models of chapters 08-10.

    Example:

    >>> p = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = MomentumSGD([p], lr=0.5, momentum=0.5)
    >>> p.grad = torch.tensor([1.0])
    >>> opt.step()  # v = 1, p = 1 - 0.5 * 1
    >>> opt.step()  # v = 0.5 * 1 + 1 = 1.5, p = 0.5 - 0.5 * 1.5
    >>> p.data.tolist()
    [-0.25]
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.9) -> None:
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients of the last step."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Move every parameter that has a gradient."""
        with torch.no_grad():
            for p, v in zip(self.params, self.velocity, strict=True):
                if p.grad is not None:
                    v.mul_(self.momentum).add_(p.grad)
                    p.sub_(v, alpha=self.lr)


def train_epoch(
    model: nn.Module, opt: MomentumSGD, data: Data, batch_size: int, gen: torch.Generator
) -> float:
    """One pass over ``data`` in a shuffled order drawn from ``gen``; the mean batch loss.

    The last, incomplete batch is dropped (BatchNorm cannot train on a batch of one).

    Example:

    >>> from normhelpers.data import load_digits_tensors
    >>> d = load_digits_tensors()
    >>> model = make_mlp("layer", hidden=16)
    >>> opt = MomentumSGD(model.parameters(), lr=0.05)
    >>> loss = train_epoch(model, opt, ImageData(d.x_train, d.y_train), 32,
    ...                    torch.Generator().manual_seed(0))
    >>> 0 < loss < 2.31  # below the loss of a uniform guess, log(10)
    True
    """
    model.train()
    order = torch.randperm(data.size, generator=gen)
    losses = []
    for start in range(0, data.size - batch_size + 1, batch_size):
        inputs, y = data.batch(order[start : start + batch_size])
        loss = F.cross_entropy(model(*inputs), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def fit(
    model: nn.Module,
    train: Data,
    test: Data,
    *,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
) -> History:
    """Train ``model`` with :class:`MomentumSGD` and cross-entropy; metrics per epoch.

    Batches are drawn with a ``torch.Generator`` seeded with ``seed``. If the mean loss of an
    epoch is nan or inf, training stops and the history records the divergence.

    Example:

    >>> from normhelpers.data import load_digits_tensors
    >>> d = load_digits_tensors()
    >>> train, test = ImageData(d.x_train, d.y_train), ImageData(d.x_test, d.y_test)
    >>> history = fit(make_mlp("batch", hidden=16), train, test, epochs=2)
    >>> len(history.train_loss), len(history.test_acc), history.diverged
    (2, 2, False)
    >>> history.test_acc[-1] > 0.8
    True
    """
    opt = MomentumSGD(model.parameters(), lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    hist = History()
    for _ in range(epochs):
        loss = train_epoch(model, opt, train, batch_size, gen)
        if not math.isfinite(loss):
            hist.diverged = True
            break
        hist.train_loss.append(loss)
        hist.test_acc.append(evaluate(model, test))
    missing = epochs - len(hist.train_loss)
    hist.train_loss += [math.nan] * missing
    hist.test_acc += [math.nan] * missing
    return hist
