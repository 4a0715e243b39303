"""The one preamble every chapter calls first: ``nh.setup_notebook()``.

It makes a chapter's outputs repeatable on the reader's machine: seeds for ``random``, NumPy
and torch, a fixed torch thread count (the summation order of a reduction, and so its last
bits, depends on the number of threads), print options, the plot style, and short tracebacks
for the cells that demonstrate an error.
"""

from __future__ import annotations

import contextlib
import io
import random

import numpy as np
import torch

__all__ = ["setup_notebook"]


def setup_notebook(seed: int = 0, threads: int = 1) -> None:
    """Seed everything, pin ``threads`` torch threads, set print options and the plot style.

    seed: for ``random``, ``numpy.random`` and ``torch`` (CPU).
    threads: torch's intra-op threads. One is fastest for the book's small tensors and makes
        the numbers independent of how many cores the reader's machine has.

    Example:

    >>> setup_notebook(seed=0)
    >>> a = torch.rand(2)
    >>> setup_notebook(seed=0)
    >>> torch.equal(a, torch.rand(2))
    True
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
    from normhelpers import plotting  # matplotlib is imported only when a notebook starts

    plotting.setup_style()
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to configure
        return
    shell = get_ipython()
    if shell is not None:  # error demonstrations print the error, not torch's frames
        with contextlib.redirect_stdout(io.StringIO()):  # the magic announces itself
            shell.run_line_magic("xmode", "Minimal")
