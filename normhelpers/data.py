"""Seeded example tensors for the three layouts, and scikit-learn's digits as tensors.

Every function takes a ``seed`` and uses its own ``torch.Generator``, so the same call gives
the same numbers whatever ran before it. Defaults are small enough to print.

The example tensors are deliberately *not* standard normal: feature (or channel) ``j`` has
mean ``j`` and standard deviation ``1 + j``, so that normalizing visibly changes them and the
per-feature statistics differ from each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["make_2d", "make_cv", "make_nlp", "Digits", "load_digits_tensors"]


def _features(shape: tuple[int, ...], feature_dim: int, seed: int, dtype: torch.dtype) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(shape, generator=g, dtype=torch.float64)
    k = shape[feature_dim]
    view = [1] * len(shape)
    view[feature_dim] = k
    j = torch.arange(k, dtype=torch.float64).reshape(view)
    return (z * (1.0 + j) + j).to(dtype)


def make_2d(n: int = 4, d: int = 3, seed: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """Features ``x_2d`` of shape (N, D): N samples of D features (an MLP layer's input)."""
    return _features((n, d), 1, seed, dtype)


def make_cv(
    n: int = 2, c: int = 3, h: int = 4, w: int = 4, seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Feature maps ``x_cv`` of shape (N, C, H, W): N images of C channels of H x W."""
    return _features((n, c, h, w), 1, seed, dtype)


def make_nlp(
    n: int = 2, l: int = 3, d: int = 4, seed: int = 0,  # noqa: E741 (L is the book's notation)
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Token states ``x_nlp`` of shape (N, L, D): N sequences of L tokens of D features."""
    return _features((n, l, d), 2, seed, dtype)


class Digits(NamedTuple):
    """scikit-learn's 8x8 digits as tensors: images (N, 1, 8, 8) in [0, 1], labels (N,)."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def _digits_file() -> Path:
    """scikit-learn's ``digits.csv.gz``, located without importing scikit-learn (which costs
    about a second, a large share of a chapter's time budget)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


def load_digits_tensors(test_fraction: float = 0.25, seed: int = 0) -> Digits:
    """The 1797 handwritten 8x8 digits that ship inside scikit-learn (nothing is downloaded).

    The same data as ``sklearn.datasets.load_digits()``: each row of the file is 64 pixel
    values 0..16 and the label. Pixels are scaled to [0, 1]; the split into train and test
    is a seeded permutation, stratified by nothing but chance.
    """
    table = np.loadtxt(_digits_file(), delimiter=",", dtype=np.float64)
    images = torch.tensor(table[:, :64].reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float32)
    labels = torch.tensor(table[:, 64], dtype=torch.long)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(labels)))
    n_test = int(round(len(labels) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Digits(images[train], labels[train], images[test], labels[test])
