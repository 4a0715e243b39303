"""The book's data: seeded example tensors, the 8x8 digits, and generated padded sequences.

- :func:`make_2d`, :func:`make_cv`, :func:`make_nlp`: example tensors of the three layouts.
- :func:`load_digits_tensors`: the digits of ``sklearn.datasets.load_digits()``, read from the
  copy in ``normhelpers/datasets`` (see its README for the source and license).
- :class:`ImageData`, :class:`SequenceData`: data sets as the training loop
  (:func:`normhelpers.training.fit`) uses them; :func:`make_sequences` generates a
  variable-length token task, :func:`pad_batch` cuts a batch and masks its padding.

Every function takes a ``seed`` and uses its own ``torch.Generator``, so the same call gives
the same numbers whatever ran before it. Defaults are small enough to print.

The example tensors are deliberately *not* standard normal: feature (or channel) ``j`` has
mean ``j`` and standard deviation ``1 + j``, so that normalizing visibly changes them and the
per-feature statistics differ from each other.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "make_2d",
    "make_cv",
    "make_nlp",
    "Digits",
    "load_digits_tensors",
    "DIGITS_FILE",
    "ImageData",
    "SequenceData",
    "make_sequences",
    "pad_batch",
]

# the shipped copy of scikit-learn's digits.csv.gz, inside this package
DIGITS_FILE = "datasets/digits.csv.gz"


def _features(shape: tuple[int, ...], feature_dim: int, seed: int, dtype: torch.dtype) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    k = shape[feature_dim]
    view = [1] * len(shape)
    view[feature_dim] = k
    j = torch.arange(k, dtype=torch.float64).reshape(view)
    return (z * (1.0 + j) + j).to(dtype)


def make_2d(n: int = 4, d: int = 3, seed: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """Features ``x_2d`` of shape (N, D): N samples of D features (an MLP layer's input).

    Example:

    >>> make_2d().shape, make_2d(n=8, d=5).shape
    (torch.Size([4, 3]), torch.Size([8, 5]))
    >>> torch.equal(make_2d(seed=1), make_2d(seed=1))
    True
    """
    return _features((n, d), 1, seed, dtype)


def make_cv(
    n: int = 2,
    c: int = 3,
    h: int = 4,
    w: int = 4,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Feature maps ``x_cv`` of shape (N, C, H, W): N images of C channels of H x W.

    Example:

    >>> make_cv().shape, make_cv(n=1, c=6).shape
    (torch.Size([2, 3, 4, 4]), torch.Size([1, 6, 4, 4]))
    """
    return _features((n, c, h, w), 1, seed, dtype)


def make_nlp(
    n: int = 2,
    l: int = 3,  # noqa: E741 (L is the book's notation)
    d: int = 4,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Token states ``x_nlp`` of shape (N, L, D): N sequences of L tokens of D features.

    Example:

    >>> make_nlp().shape, make_nlp(l=7).shape
    (torch.Size([2, 3, 4]), torch.Size([2, 7, 4]))
    """
    return _features((n, l, d), 2, seed, dtype)


class Digits(NamedTuple):
    """scikit-learn's 8x8 digits as tensors: images (N, 1, 8, 8) in [0, 1], labels (N,).

    Example:

    >>> d = load_digits_tensors()
    >>> d.x_train.shape[1:], d.y_test.dtype
    (torch.Size([1, 8, 8]), torch.int64)
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def _read_digits() -> np.ndarray:
    """The (1797, 65) table of the shipped digits file: 64 pixel values 0..16, then the label."""
    with (resources.files("normhelpers") / DIGITS_FILE).open("rb") as raw:
        with gzip.open(raw, "rt") as text:
            return np.loadtxt(text, delimiter=",", dtype=np.float64)


def load_digits_tensors(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """The 1797 handwritten 8x8 digits, read from the copy inside normhelpers (no download,
    no scikit-learn import, which would cost about a second per chapter).

    The same data as ``sklearn.datasets.load_digits()``. Pixels are scaled to [0, 1]; the split
    into train and test is a seeded permutation, stratified by nothing but chance.
    Returns images (N, 1, 8, 8) float32 and labels (N,) int64, for train and test.

    Example:

    >>> d = load_digits_tensors()
    >>> len(d.y_train) + len(d.y_test)
    1797
    >>> d.x_train.shape[1:], float(d.x_train.min()), float(d.x_train.max())
    (torch.Size([1, 8, 8]), 0.0, 1.0)
    """
    table = _read_digits()
    images = torch.tensor(table[:, :64].reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    labels = torch.tensor(table[:, 64], dtype=torch.long)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(labels)))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Digits(images[train], labels[train], images[test], labels[test])


# ---------------------------------------------------------------------------------------------
# Data sets for the training loop: images, and padded token sequences


@dataclass(frozen=True)
class ImageData:
    """Images ``x`` (N, C, H, W) and integer labels ``y`` (N,).

    Example:

    >>> data = ImageData(torch.zeros(5, 1, 8, 8), torch.arange(5))
    >>> data.size
    5
    >>> (x,), y = data.batch(torch.tensor([0, 2]))
    >>> x.shape, y.tolist()
    (torch.Size([2, 1, 8, 8]), [0, 2])
    """

    x: Tensor
    y: Tensor

    @property
    def size(self) -> int:
        return len(self.y)

    def batch(self, idx: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """Model inputs ``(x[idx],)`` and labels ``y[idx]`` for the indices ``idx`` (B,)."""
        return (self.x[idx],), self.y[idx]


@dataclass(frozen=True)
class SequenceData:
    """Token sequences ``tokens`` (N, L_max) padded with 0, ``lengths`` (N,), labels ``y`` (N,).

    Example:

    >>> data = make_sequences(6, max_len=5)
    >>> data.size, data.tokens.shape[0], data.lengths.shape
    (6, 6, torch.Size([6]))
    """

    tokens: Tensor
    lengths: Tensor
    y: Tensor

    @property
    def size(self) -> int:
        return len(self.y)

    def batch(self, idx: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """Inputs ``(tokens, mask)`` of shape (B, L_b), padded to the batch's longest sequence."""
        return pad_batch(self.tokens[idx], self.lengths[idx]), self.y[idx]


def pad_batch(tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Cut (B, L_max) tokens to the batch's longest length L_b; return tokens and mask (B, L_b).

    ``mask[i, t]`` is True for the ``lengths[i]`` real tokens of sequence i, False on padding.

    Example:

    >>> tokens = torch.tensor([[5, 6, 0, 0], [7, 0, 0, 0]])
    >>> cut, mask = pad_batch(tokens, torch.tensor([2, 1]))
    >>> cut.tolist(), mask.tolist()
    ([[5, 6], [7, 0]], [[True, True], [True, False]])
    """
    width = int(lengths.max())
    mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
    return tokens[:, :width], mask


def make_sequences(
    n: int,
    min_len: int = 3,
    max_len: int = 20,
    n_groups: int = 4,
    tokens_per_group: int = 3,
    seed: int = 0,
) -> SequenceData:
    """A generated sequence-classification task with variable lengths.

    Vocabulary: token 0 is padding; the real tokens 1 .. G*K form G = ``n_groups`` groups of
    K = ``tokens_per_group`` consecutive ids (group g holds tokens g*K+1 .. g*K+K). Each
    sequence has a length drawn uniformly from ``min_len .. max_len`` and tokens drawn
    uniformly from the real vocabulary. Its label is the group that occurs most often in it
    (ties go to the lower group). Sequences are stored left-aligned in an (N, max_len) tensor
    with zeros after their end.

    Example:

    >>> data = make_sequences(10, min_len=3, max_len=8)
    >>> lengths = data.lengths
    >>> data.tokens.shape[0], bool((lengths >= 3).all() and (lengths <= 8).all())
    (10, True)
    >>> bool((data.tokens[0, data.lengths[0]:] == 0).all())  # padding is token 0
    True
    """
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    tokens = torch.randint(1, n_groups * tokens_per_group + 1, (n, max_len), generator=g)
    mask = torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)
    tokens = tokens * mask
    groups = (tokens - 1).div(tokens_per_group, rounding_mode="floor")
    counts = F.one_hot(groups.clamp(min=0), n_groups) * mask.unsqueeze(-1)
    return SequenceData(tokens, lengths, counts.sum(1).argmax(1))
