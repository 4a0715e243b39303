"""Small, seeded models of the experiment chapters (08-10), one normalization kind per model.

Everything here is sized to train on a CPU in a fraction of a second:

- :func:`make_cnn`: a 2-conv-layer CNN for the (N, 1, 8, 8) digits, one normalization kind
  per model (``"none"``, ``"batch"``, ``"layer"``, ``"instance"``, ``"group"``); "layer" is
  ``nn.GroupNorm(1, C)``: LayerNorm's statistics over (C, H, W), a per-channel affine.
  :func:`norm2d` builds its normalization layers.
- :func:`make_mlp`: the same for an MLP on the flattened 64 pixels, (N, D) layout
  (:func:`norm1d` builds its layers).
- :class:`SequenceClassifier`, :func:`make_sequence_model`: a small model for zero-padded token
  sequences (N, L), for BatchNorm vs LayerNorm on text; its masked BatchNorm lives in
  :mod:`normhelpers.masked`.
- :class:`RunningStatsBatchNorm2d`: a deliberately wrong BatchNorm that normalizes with its
  running averages while training (experiment of chapter 09).

The training loop that trains them is :mod:`normhelpers.training`, which re-exports every name
here (the chapters import them from there). Every builder calls ``torch.manual_seed(seed)``
before creating parameters, so two calls with the same arguments give the same weights.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from normhelpers.masked import MaskedBatchNorm1d

__all__ = [
    "NORM_KINDS",
    "norm2d",
    "make_cnn",
    "norm1d",
    "make_mlp",
    "RunningStatsBatchNorm2d",
    "SequenceClassifier",
    "make_sequence_model",
]

NORM_KINDS: tuple[str, ...] = ("none", "batch", "layer", "instance", "group")

_T = TypeVar("_T")


def _choose(kind: str, options: dict[str, _T], what: str = "") -> _T:
    """``options[kind]``, or ValueError naming the kinds there are (``what``: for which input)."""
    if kind not in options:
        raise ValueError(f"unknown norm kind {kind!r}{what}; choose from {sorted(options)}")
    return options[kind]


# ---------------------------------------------------------------------------------------------
# Images: a small CNN for the 8x8 digits


def norm2d(kind: str, channels: int, groups: int = 4) -> nn.Module:
    """The normalization layer ``kind`` for (N, C, H, W) feature maps with C = ``channels``.

    - ``"none"``: identity.
    - ``"batch"``: ``nn.BatchNorm2d(C)``, statistics per channel over (N, H, W).
    - ``"layer"``: ``nn.GroupNorm(1, C)``, statistics per sample over (C, H, W) with a
      per-channel affine (LayerNorm's statistics, as in the GroupNorm paper's comparison).
    - ``"instance"``: ``nn.InstanceNorm2d(C, affine=True)``, per sample and channel over (H, W).
    - ``"group"``: ``nn.GroupNorm(groups, C)``, per sample over (C/G, H, W).
    - ``"batch_running"``: :class:`RunningStatsBatchNorm2d` (the wrong BatchNorm of chapter 09).

    Example:

    >>> type(norm2d("batch", 8)).__name__, type(norm2d("layer", 8)).__name__
    ('BatchNorm2d', 'GroupNorm')
    >>> norm2d("group", 8, groups=4)(torch.randn(2, 8, 4, 4)).shape
    torch.Size([2, 8, 4, 4])
    """
    layers = {
        "none": lambda: nn.Identity(),
        "batch": lambda: nn.BatchNorm2d(channels),
        "layer": lambda: nn.GroupNorm(1, channels),
        "instance": lambda: nn.InstanceNorm2d(channels, affine=True),
        "group": lambda: nn.GroupNorm(groups, channels),
        "batch_running": lambda: RunningStatsBatchNorm2d(channels),
    }
    return _choose(kind, layers)()


def make_cnn(
    kind: str,
    channels: tuple[int, int] = (8, 16),
    groups: int = 4,
    conv_bias: bool | None = None,
    seed: int = 0,
) -> nn.Sequential:
    """A CNN for (N, 1, 8, 8) images -> (N, 10) logits, with the norm ``kind`` after each conv.

    conv 3x3 (1 -> C1), norm, ReLU: (N, C1, 8, 8);  conv 3x3 stride 2 (C1 -> C2), norm, ReLU:
    (N, C2, 4, 4);  flatten, linear (16 C2 -> 10). By default (``conv_bias=None``) the
    convolutions have a bias only when ``kind == "none"``: BatchNorm and InstanceNorm subtract
    a per-channel mean, which cancels a per-channel bias exactly; GroupNorm and LayerNorm
    subtract a mean over several channels, which cancels only the bias's average, so the same
    choice there drops a little freedom (their own beta adds a shift back). Parameters are
    initialised after ``torch.manual_seed(seed)``.

    Example:

    >>> make_cnn("group")(torch.randn(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """
    torch.manual_seed(seed)
    c1, c2 = channels
    bias = kind == "none" if conv_bias is None else conv_bias
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=bias),
        norm2d(kind, c1, groups),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=bias),
        norm2d(kind, c2, groups),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * c2, 10),
    )


def norm1d(kind: str, features: int, groups: int = 4) -> nn.Module:
    """The normalization layer ``kind`` for (N, D) features with D = ``features``.

    ``"none"``: identity; ``"batch"``: ``nn.BatchNorm1d(D)`` (per feature over N);
    ``"layer"``: ``nn.LayerNorm(D)`` (per sample over D); ``"group"``: ``nn.GroupNorm(groups, D)``.
    InstanceNorm has nothing to average over in (N, D) (one value per sample and feature).

    Example:

    >>> type(norm1d("layer", 16)).__name__, type(norm1d("batch", 16)).__name__
    ('LayerNorm', 'BatchNorm1d')
    """
    layers = {
        "none": lambda: nn.Identity(),
        "batch": lambda: nn.BatchNorm1d(features),
        "layer": lambda: nn.LayerNorm(features),
        "group": lambda: nn.GroupNorm(groups, features),
    }
    return _choose(kind, layers, " for (N, D) features")()


def make_mlp(kind: str, hidden: int = 32, groups: int = 4, seed: int = 0) -> nn.Sequential:
    """An MLP for (N, 1, 8, 8) images -> (N, 10) logits, the norm ``kind`` after each hidden layer.

    flatten (N, 64);  linear 64 -> H, norm, ReLU;  linear H -> H, norm, ReLU;  linear H -> 10.
    Parameters are initialised after ``torch.manual_seed(seed)``.

    Example:

    >>> make_mlp("batch", hidden=16)(torch.randn(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, hidden),
        norm1d(kind, hidden, groups),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        norm1d(kind, hidden, groups),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


class RunningStatsBatchNorm2d(nn.BatchNorm2d):
    """A *wrong* BatchNorm: while training it normalizes with its running averages.

    Each training step first updates ``running_mean`` / ``running_var`` from the batch (as
    ``nn.BatchNorm2d`` does), then normalizes with these running values, which are constants
    for autograd: the gradient no longer sees that shifting or scaling the input would be
    undone by the normalization. In eval mode it is an ordinary ``nn.BatchNorm2d``.
    Input and output (N, C, H, W).

    Example:

    >>> bn = RunningStatsBatchNorm2d(3)
    >>> bn(torch.randn(4, 3, 2, 2)).shape, bn.running_mean.shape
    (torch.Size([4, 3, 2, 2]), torch.Size([3]))
    """

    # a number: F.batch_norm has no cumulative average (nn.BatchNorm2d's momentum=None)
    momentum: float

    def forward(self, input: Tensor) -> Tensor:
        if self.training:
            with torch.no_grad():  # update the running statistics only
                F.batch_norm(
                    input,
                    self.running_mean,
                    self.running_var,
                    training=True,
                    momentum=self.momentum,
                    eps=self.eps,
                )
        return F.batch_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=False,
            eps=self.eps,
        )


# ---------------------------------------------------------------------------------------------
# Sequences: a small classifier


class SequenceClassifier(nn.Module):
    """Tokens (N, L) and mask (N, L) -> logits (N, classes).

    embedding (vocab -> D, padding id 0 maps to the zero vector), linear D -> D, norm, ReLU,
    mean over the real tokens (N, D), linear D -> classes. ``kind`` picks the norm on the
    (N, L, D) token states: ``"none"``; ``"batch"`` (``nn.BatchNorm1d`` over all N*L
    positions, padding included, as a plain BatchNorm would see a padded batch);
    ``"layer"`` (``nn.LayerNorm(D)``, per token); ``"masked_batch"`` (:class:`MaskedBatchNorm1d`,
    real tokens only).

    Example:

    >>> model = SequenceClassifier("layer", vocab=13)
    >>> tokens = torch.tensor([[1, 2, 0], [4, 0, 0]])  # (N, L), 0 is padding
    >>> mask = tokens > 0
    >>> model(tokens, mask).shape
    torch.Size([2, 4])
    """

    def __init__(self, kind: str, vocab: int, dim: int = 16, classes: int = 4) -> None:
        super().__init__()
        norms = {
            "none": nn.Identity,
            "batch": nn.BatchNorm1d,
            "layer": nn.LayerNorm,
            "masked_batch": MaskedBatchNorm1d,
        }
        norm = _choose(kind, norms)
        self.kind = kind
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.hidden = nn.Linear(dim, dim)
        self.norm = norm() if kind == "none" else norm(dim)
        self.head = nn.Linear(dim, classes)

    def normed(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """The token states right after the norm, (N, L, D)."""
        h = self.hidden(self.embed(tokens))
        if self.kind == "batch":  # BatchNorm1d wants the features in dim 1: (N, D, L)
            return self.norm(h.transpose(1, 2)).transpose(1, 2)
        if self.kind == "masked_batch":
            return self.norm(h, mask)
        return self.norm(h)

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        h = torch.relu(self.normed(tokens, mask))
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1)
        return self.head(pooled)


def make_sequence_model(
    kind: str, vocab: int = 13, dim: int = 16, classes: int = 4, seed: int = 0
) -> SequenceClassifier:
    """:class:`SequenceClassifier` with parameters initialised after ``torch.manual_seed(seed)``.

    Example:

    >>> a, b = make_sequence_model("batch"), make_sequence_model("batch")
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
    """
    torch.manual_seed(seed)
    return SequenceClassifier(kind, vocab, dim, classes)
