"""Time the norms against a plain copy: how close does each one come to its memory-traffic limit?

A normalization layer does a few arithmetic operations per element but must move every element
through memory at least twice (read x, write y): its speed is set by memory traffic, not by
arithmetic. The natural yardstick is a copy, ``x.clone()``, which reads and writes the tensor
once. :func:`run` times, in one run and on one device:

- ``clone``, the yardstick, once for each input shape, and ``copy_``, the same copy into an
  existing tensor: the difference is the cost of a fresh output (on a CPU, the operating
  system's page faults), which every norm pays as well;
- ``torch``: torch's own kernels (``torch.nn.functional``, training mode);
- ``scratch``: the from-scratch :mod:`normhelpers.functional` versions, run eagerly (one
  kernel, hence one pass over memory, per elementary operation);
- ``scratch+compile``: the same functions compiled with ``torch.compile`` (Inductor fuses the
  elementary operations into a few kernels);
- ``onepass`` and ``onepass+compile``: :func:`batch_norm_one_pass` and
  :func:`layer_norm_one_pass`, BatchNorm and LayerNorm written for a fusing compiler (both
  statistics from one pass over x, with a shift against cancellation);
- ``affine``: ``torch.addcmul(b, x, a)``, i.e. y = x * a + b with one a and b per channel (CV
  layout) or per feature (NLP layout), in one eager kernel: what a BatchNorm in evaluation mode
  computes, a simple kernel that reads x once, computes and writes y. It is a reference (not a
  strict floor) for how close to clone a kernel at the 1.0 limit comes on the machine.

Every timed output is first checked against a float64 reference (torch's function for the norms,
the same op in float64 for clone, ``copy_`` and affine). The cases are then timed with
:mod:`torch.utils.benchmark` in interleaved rounds. Each row reports the median time and its
spread (IQR) over the rounds, the ratio to clone's time on the same tensor, GB/s counted as if
the op moved one read and one write of the tensor (so that every row's GB/s is comparable with
clone's), and the device, thread count, torch version, date, dtype and shape.

Where each job lives:

- :mod:`~normhelpers.bench.kernels`: the one-pass norms and the ``affine`` reference;
- :mod:`~normhelpers.bench.traffic`: :func:`count_traffic`, the bytes each aten op moves;
- :mod:`~normhelpers.bench.cases`: shapes, ops, implementations, inputs, the output checks;
- :mod:`~normhelpers.bench.timing`: interleaved rounds with ``torch.utils.benchmark.Timer``;
- :mod:`~normhelpers.bench.runner`: :func:`run`, all of the above on one device;
- :mod:`~normhelpers.bench.report`, :mod:`~normhelpers.bench.plot`: table, CSV and figure;
- :mod:`~normhelpers.bench.cli`: the command line (``python -m normhelpers.bench --help``)::

    python -m normhelpers.bench --device cpu --dtype float32 --size large --csv bench.csv
    python -m normhelpers.bench --device cuda --dtype float32 bfloat16 --csv book/data/bench_gpu.csv
"""

from normhelpers.bench.cases import (
    GROUPS,
    IMPLS,
    LIMITS,
    OPS,
    SHAPES,
    elements_per_statistic,
    implementation,
    make_inputs,
)
from normhelpers.bench.cli import main
from normhelpers.bench.kernels import EPS, affine, batch_norm_one_pass, layer_norm_one_pass
from normhelpers.bench.plot import IMPL_COLORS, plot_ratios
from normhelpers.bench.report import CSV_COLUMNS, Report, Row, format_table, read_csv, write_csv
from normhelpers.bench.runner import run
from normhelpers.bench.timing import time_interleaved
from normhelpers.bench.traffic import count_traffic

__all__ = [
    "SHAPES",
    "OPS",
    "IMPLS",
    "LIMITS",
    "EPS",
    "GROUPS",
    "Row",
    "Report",
    "batch_norm_one_pass",
    "layer_norm_one_pass",
    "affine",
    "elements_per_statistic",
    "count_traffic",
    "make_inputs",
    "implementation",
    "CSV_COLUMNS",
    "IMPL_COLORS",
    "time_interleaved",
    "run",
    "format_table",
    "write_csv",
    "read_csv",
    "plot_ratios",
    "main",
]
