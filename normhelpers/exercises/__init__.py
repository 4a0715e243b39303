"""Self-checks for the exercises: run *your* norm against PyTorch's and get a diagnosis.

Each ``check_*`` function calls your function on a few seeded inputs (the three layouts,
a tiny and a large eps, and None weight and bias where the exercise allows them), compares
with ``torch.nn.functional``, prints one friendly verdict and returns a
:class:`CheckResult` (truthy when you passed)::

    def my_rms_norm(x, weight, eps):
        ...
    check_rms_norm(my_rms_norm)

When your output differs, the checker also runs the classic wrong versions of the norm
(unbiased variance, eps outside the square root, wrong axes, ...). If one of them
reproduces your output exactly, it names that mistake and explains it in words; it never
prints solution code. An unfinished function (``...``, ``pass``, ``raise
NotImplementedError``), an error or a wrong shape gets one paragraph saying so. Everything
printed is deterministic, so notebooks can commit it.

Inside: :mod:`.recipes` (a norm as a :class:`Recipe`, computed with the functional core),
:mod:`.catalogue` (the classic mistakes, each a recipe with one field changed),
:mod:`.engine` (running a check), :mod:`.cases` (the cases of each check), :mod:`.checkers`
(the ``check_*`` functions).
"""

from normhelpers.exercises.checkers import (
    check_batch_norm,
    check_group_norm,
    check_instance_norm,
    check_layer_norm,
    check_rms_norm,
    check_running_stats,
)
from normhelpers.exercises.engine import CheckResult
from normhelpers.exercises.recipes import Recipe

__all__ = [
    "CheckResult",
    "Recipe",
    "check_batch_norm",
    "check_running_stats",
    "check_layer_norm",
    "check_instance_norm",
    "check_group_norm",
    "check_rms_norm",
]
