"""normhelpers: the small package every normbook chapter imports.

- :mod:`normhelpers.functional`: from-scratch ``batch_norm``, ``layer_norm``,
  ``instance_norm``, ``group_norm``, ``rms_norm`` (same signatures as torch's).
- :mod:`normhelpers.modules`: ``nn.Module`` versions, interchangeable with ``torch.nn``'s.
- :mod:`normhelpers.axes`: which dims each norm averages over, for each layout.
- :mod:`normhelpers.data`: seeded example tensors ``x_2d``, ``x_cv``, ``x_nlp``; the digits.
- :func:`compare`: one line with the largest difference and a verdict.
- :mod:`normhelpers.plotting`, :mod:`normhelpers.exercises`: figures and self-checks.
- :mod:`normhelpers.training`, :mod:`normhelpers.backward`, :mod:`normhelpers.numerics`:
  the experiments' training loop, hand-written backward passes, variance algorithms.
- :mod:`normhelpers.folding`, :mod:`normhelpers.syncbn`, :mod:`normhelpers.bench`: folding BN
  for inference, BN across processes, the cost benchmark (imported on demand).
"""

from normhelpers import backward, exercises, folding, functional, numerics, plotting
from normhelpers.axes import LAYOUTS, NORMS, normalize, reduce_dims, stat_shape
from normhelpers.compare import CompareResult, compare
from normhelpers.data import load_digits_tensors, make_2d, make_cv, make_nlp
from normhelpers.modules import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    RMSNorm,
)

__all__ = [
    "backward", "exercises", "folding", "functional", "numerics", "plotting",
    "LAYOUTS", "NORMS", "normalize", "reduce_dims", "stat_shape",
    "CompareResult", "compare",
    "load_digits_tensors", "make_2d", "make_cv", "make_nlp",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LayerNorm", "RMSNorm",
]

__version__ = "0.1.0"
