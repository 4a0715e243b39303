"""normhelpers.data: seeded example tensors, the shipped digits, padded sequences."""

from __future__ import annotations

import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch

import normhelpers as nh
from normhelpers.data import make_sequences, pad_batch

MAKERS = {
    # name -> (function, default shape, feature dim, large kwargs for statistics)
    "2d": (nh.make_2d, (4, 3), 1, {"n": 4000, "d": 3}),
    "cv": (nh.make_cv, (2, 3, 4, 4), 1, {"n": 250, "c": 3, "h": 4, "w": 4}),
    "nlp": (nh.make_nlp, (2, 3, 4), 2, {"n": 250, "l": 16, "d": 4}),
}


@pytest.mark.parametrize("layout", list(MAKERS))
def test_default_shape_and_dtype(layout):
    make, shape, _, _ = MAKERS[layout]
    x = make()
    assert tuple(x.shape) == shape
    assert x.dtype == torch.float32
    assert make(dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize("layout", list(MAKERS))
def test_seeded_and_independent_of_the_global_generator(layout):
    make = MAKERS[layout][0]
    torch.manual_seed(1)
    a = make(seed=3)
    torch.manual_seed(2)
    torch.randn(10)
    b = make(seed=3)
    assert torch.equal(a, b)
    assert not torch.equal(make(seed=3), make(seed=4))
    assert torch.equal(make(), make(seed=0))


@pytest.mark.parametrize("layout", list(MAKERS))
def test_feature_j_has_mean_j_and_std_1_plus_j(layout):
    make, _, feature_dim, big = MAKERS[layout]
    x = make(**big, dtype=torch.float64)
    other = [d for d in range(x.dim()) if d != feature_dim]
    k = x.shape[feature_dim]
    j = torch.arange(k, dtype=torch.float64)
    mean, std = x.mean(dim=other), x.std(dim=other)
    assert mean.shape == (k,)
    standard_error = (1 + j) / (x.numel() // k) ** 0.5
    assert ((mean - j).abs() < 4 * standard_error).all()
    torch.testing.assert_close(std, 1 + j, rtol=0.05, atol=0)


def test_float32_is_the_rounded_float64():
    torch.testing.assert_close(nh.make_cv(dtype=torch.float64).float(), nh.make_cv())


def test_sizes_are_arguments():
    assert nh.make_2d(n=7, d=2).shape == (7, 2)
    assert nh.make_cv(n=1, c=2, h=3, w=5).shape == (1, 2, 3, 5)
    assert nh.make_nlp(n=3, l=5, d=2).shape == (3, 5, 2)


@pytest.fixture(scope="module")
def digits():
    return nh.load_digits_tensors()


def test_digits_shapes_and_dtypes(digits):
    x_train, y_train, x_test, y_test = digits
    assert x_train.shape == (1348, 1, 8, 8) and x_test.shape == (449, 1, 8, 8)
    assert y_train.shape == (1348,) and y_test.shape == (449,)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.long


def test_digits_range_and_labels(digits):
    x = torch.cat([digits.x_train, digits.x_test])
    y = torch.cat([digits.y_train, digits.y_test])
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(y.tolist()) == set(range(10))


def test_digits_split_is_seeded_and_disjoint(digits):
    again = nh.load_digits_tensors()
    for a, b in zip(digits, again, strict=True):
        assert torch.equal(a, b)
    other = nh.load_digits_tensors(seed=1)
    assert not torch.equal(digits.y_test, other.y_test)
    # train and test together are the 1797 images, each once (a permutation of the set)
    from sklearn.datasets import load_digits

    original = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
    split = torch.cat([digits.x_train, digits.x_test]).flatten(1)
    assert split.shape == original.shape
    for a, b in zip(
        torch.unique(split, dim=0, return_counts=True),
        torch.unique(original, dim=0, return_counts=True),
        strict=True,
    ):
        assert torch.equal(a, b)
    smaller = nh.load_digits_tensors(test_fraction=0.1)
    assert smaller.x_test.shape[0] == 180 and smaller.x_train.shape[0] == 1617


def test_digits_equal_scikit_learns_loader() -> None:
    """The shipped copy is exactly the data sklearn.datasets.load_digits() returns."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    d = nh.load_digits_tensors(test_fraction=0.0)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(bunch.target)))
    expected = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)[order]
    assert torch.equal(d.x_train, expected)
    assert torch.equal(d.y_train, torch.tensor(bunch.target)[order])


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


def test_shipped_digits_table_equals_scikit_learn_exactly() -> None:
    from sklearn.datasets import load_digits

    from normhelpers.data import _read_digits

    bunch = load_digits()
    table = _read_digits()
    assert table.shape == (1797, 65)
    assert np.array_equal(table[:, :64], bunch.data)
    assert np.array_equal(table[:, 64], bunch.target)


def test_loading_the_digits_imports_no_scikit_learn() -> None:
    """The point of the shipped copy: no sklearn import (about a second) in the chapters."""
    code = (
        "import sys, normhelpers as nh; d = nh.load_digits_tensors(); "
        "assert d.x_train.shape == (1348, 1, 8, 8); print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_shipped_files_are_package_data() -> None:
    """Every file in normhelpers/datasets matches a package-data pattern of pyproject.toml,
    so that a non-editable install (a wheel) contains it."""
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["normhelpers"]
    shipped = sorted((root / "normhelpers" / "datasets").iterdir())
    assert any(f.name == "digits.csv.gz" for f in shipped)
    for f in shipped:
        relative = f.relative_to(root / "normhelpers").as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), relative
