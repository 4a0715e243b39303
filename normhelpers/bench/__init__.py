"""Time the norms against a plain copy: how close does each one come to its memory-traffic limit?

A normalization layer does a few arithmetic operations per element but must move every element
through memory at least twice (read x, write y). The yardstick is the simplest kernel that moves
the same bytes into memory that is already mapped: ``out.copy_(x)``. :func:`run` times, in one
run and on one device:

- the reference kernels: ``copy_`` (the yardstick), ``clone`` (a copy into a new tensor: fresh
  pages from the operating system unless the allocator reuses memory, see
  :mod:`~normhelpers.bench.allocator`), ``sum`` (one read) and ``fill_`` (one write), whose
  times give the measured two-read limit (:func:`two_read_limit`), and ``affine``
  (``torch.addcmul(b, x, a)``, what an evaluation-mode norm computes, in one kernel);
- ``torch``: torch's own kernels (``torch.nn.functional``, training mode; for the backward
  passes aten's ``native_batch_norm_backward`` and ``native_layer_norm_backward``);
- ``scratch``: the from-scratch :mod:`normhelpers.functional` versions, run eagerly (one
  kernel, hence one pass over memory, per elementary operation);
- ``scratch+compile``: the same compiled with ``torch.compile`` (for the backward passes, the
  hand-written formulas of :mod:`~normhelpers.bench.kernels`, compiled);
- ``onepass``, ``onepass+compile``: :func:`batch_norm_one_pass` and
  :func:`layer_norm_one_pass` (both statistics from one pass, with a shift);
- ``rows+compile``: :func:`batch_norm_rows`, statistics of the contiguous rows merged over the
  batch, compiled.

Every timed output is first checked against a float64 reference. The cases are timed with
:mod:`torch.utils.benchmark` in interleaved rounds, with freed memory reused by default. Each
row reports the median time and its spread (IQR) over the rounds, the ratio to ``copy_`` on the
same tensor, GB/s counted as one read and one write of the tensor, and the device, thread
count, torch version, date, dtype and shape; the report names the allocator setting.
:func:`check_targets` compares the compiled from-scratch rows with :data:`TARGETS`, and
:mod:`~normhelpers.bench.sweep` times per element against size.

Where each job lives:

- :mod:`~normhelpers.bench.kernels`: the kernels written for a compiler, and ``affine``;
- :mod:`~normhelpers.bench.allocator`: fresh or reused memory (glibc's ``mallopt``);
- :mod:`~normhelpers.bench.traffic`: :func:`count_traffic`, the bytes each aten op moves;
- :mod:`~normhelpers.bench.cases`: shapes, ops, implementations, inputs, limits, targets, checks;
- :mod:`~normhelpers.bench.timing`: interleaved rounds with ``torch.utils.benchmark.Timer``;
- :mod:`~normhelpers.bench.runner`: :func:`run` and :func:`check_targets`;
- :mod:`~normhelpers.bench.sweep`: time per element from in-cache to main memory;
- :mod:`~normhelpers.bench.report`, :mod:`~normhelpers.bench.plot`: table, CSV and figure;
- :mod:`~normhelpers.bench.cli`: the command line (``python -m normhelpers.bench --help``)::

    python -m normhelpers.bench --device cpu --size large --check-targets --csv bench.csv
    python -m normhelpers.bench --device cuda --dtype float32 bfloat16 --csv book/data/bench_gpu.csv
"""

from normhelpers.bench import allocator
from normhelpers.bench.cases import (
    BACKWARD,
    GROUPS,
    IMPLS,
    LIMITS,
    OPS,
    READS,
    SHAPES,
    TARGETS,
    elements_per_statistic,
    implementation,
    make_inputs,
    two_read_limit,
)
from normhelpers.bench.cli import main
from normhelpers.bench.kernels import (
    EPS,
    affine,
    batch_norm_backward_rows,
    batch_norm_one_pass,
    batch_norm_rows,
    layer_norm_backward,
    layer_norm_one_pass,
)
from normhelpers.bench.plot import IMPL_COLORS, plot_ratios
from normhelpers.bench.report import CSV_COLUMNS, Report, Row, format_table, read_csv, write_csv
from normhelpers.bench.runner import check_targets, compiler_note, run
from normhelpers.bench.sweep import (
    SWEEP_KERNELS,
    SweepRow,
    plot_sweep,
    read_sweep_csv,
    sweep,
    write_sweep_csv,
)
from normhelpers.bench.timing import time_interleaved
from normhelpers.bench.traffic import count_traffic

__all__ = [
    "SHAPES",
    "OPS",
    "BACKWARD",
    "IMPLS",
    "READS",
    "LIMITS",
    "TARGETS",
    "two_read_limit",
    "allocator",
    "batch_norm_rows",
    "batch_norm_backward_rows",
    "layer_norm_backward",
    "check_targets",
    "compiler_note",
    "SWEEP_KERNELS",
    "SweepRow",
    "sweep",
    "write_sweep_csv",
    "read_sweep_csv",
    "plot_sweep",
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
