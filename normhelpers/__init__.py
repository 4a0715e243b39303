"""normhelpers: the small package every normbook chapter imports.

- :mod:`normhelpers.functional`: from-scratch ``batch_norm``, ``layer_norm``,
  ``instance_norm``, ``group_norm``, ``rms_norm`` (same signatures as torch's), built from
  the four steps of :mod:`normhelpers.core`.
- :mod:`normhelpers.modules`: ``nn.Module`` versions, interchangeable with ``torch.nn``'s.
- :mod:`normhelpers.axes`: which dims each norm averages over, for each layout.
- :mod:`normhelpers.data`: seeded example tensors ``x_2d``, ``x_cv``, ``x_nlp``; the digits.
- :func:`compare`: one line with a verdict that reads the same on every CPU.
- :func:`claim`, :func:`spread`: claim checks over several seeds, and their spread;
  :func:`clearly_greater`, :func:`above_spread`, :func:`differs`: when a difference counts.
- :func:`setup_notebook`: the one preamble of every chapter.
- :mod:`normhelpers.plotting`, :mod:`normhelpers.exercises`: figures and self-checks.
- :mod:`normhelpers.models`, :mod:`normhelpers.training`: the experiments' models and their
  training loop; :mod:`normhelpers.backward`, :mod:`normhelpers.numerics`: hand-written
  backward passes, variance algorithms.
- :mod:`normhelpers.folding`, :mod:`normhelpers.syncbn`, :mod:`normhelpers.bench`: folding BN
  for inference, BN across processes, the cost benchmark (imported on demand).
"""

from normhelpers import backward, exercises, folding, functional, numerics, plotting
from normhelpers.axes import LAYOUTS, NORMS, normalize, reduce_dims, stat_shape
from normhelpers.claims import (
    Claim,
    Spread,
    above_spread,
    claim,
    clearly_greater,
    differs,
    spread,
)
from normhelpers.compare import CompareResult, compare, compare_all
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
from normhelpers.notebook import setup_notebook

__all__ = [
    "backward",
    "exercises",
    "folding",
    "functional",
    "numerics",
    "plotting",
    "LAYOUTS",
    "NORMS",
    "normalize",
    "reduce_dims",
    "stat_shape",
    "CompareResult",
    "compare",
    "compare_all",
    "Claim",
    "Spread",
    "claim",
    "clearly_greater",
    "above_spread",
    "differs",
    "spread",
    "setup_notebook",
    "load_digits_tensors",
    "make_2d",
    "make_cv",
    "make_nlp",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "RMSNorm",
]

__version__ = "0.1.0"
