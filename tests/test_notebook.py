"""normhelpers.setup_notebook: the one preamble of every chapter."""

from __future__ import annotations

import random

import numpy as np
import torch

import normhelpers as nh


def test_setup_seeds_everything_and_pins_threads():
    before = torch.get_num_threads()
    try:
        nh.setup_notebook(seed=3, threads=1)
        first = (random.random(), np.random.rand(), torch.rand(1).item())
        assert torch.get_num_threads() == 1
        nh.setup_notebook(seed=3, threads=1)
        assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
        nh.setup_notebook(seed=4)
        assert torch.rand(1).item() != first[2]
    finally:
        torch.set_num_threads(before)


def test_setup_sets_print_options():
    nh.setup_notebook()
    assert "0.3333" in repr(torch.tensor([1 / 3]))
    assert np.get_printoptions()["precision"] == 4
    assert np.get_printoptions()["suppress"]


def test_setup_sets_short_tracebacks_silently_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        nh.setup_notebook()
        assert shell.InteractiveTB.mode == "Minimal"
        assert capsys.readouterr().out == ""  # cell 1 of a chapter shows no output
    finally:
        InteractiveShell.clear_instance()
