"""The catalogue of classic mistakes, each written once: a name, a hint, one changed field.

Every mistake is the correct :class:`~normhelpers.exercises.recipes.Recipe` of a checker
with one field changed (two for "mean subtracted", where RMSNorm turns into LayerNorm).
A checker lists the entries that apply to its norm. Hints explain in words; they never
show solution code.
"""

from __future__ import annotations

from normhelpers.exercises.engine import Mistake

# ---------------------------------------------------------------- every norm

UNBIASED = Mistake(
    "unbiased variance",
    "Normalize with the biased variance: the mean of the squared deviations, dividing by the "
    "number of values n, not by n - 1 (PyTorch keeps the n - 1 version for the running "
    "variance only).",
    {"correction": 1},
)
EPS_OUTSIDE = Mistake(
    "eps outside the square root",
    "eps belongs inside the square root: divide by the square root of (variance + eps), for "
    "RMSNorm of (mean of squares + eps), not by (square root + eps).",
    {"eps": "outside"},
)
EPS_MISSING = Mistake(
    "eps missing",
    "eps is missing: add it to the variance (for RMSNorm, to the mean of squares) before taking "
    "the square root; it protects against a division by zero and changes the result when the "
    "variance is small.",
    {"eps": "missing"},
)
NOT_CENTERED = Mistake(
    "mean not subtracted",
    "Subtract the mean before dividing by the standard deviation.",
    {"center": False},
)
UNCENTERED_VAR = Mistake(
    "variance of the uncentered values",
    "Your variance is the mean of the squared values; the variance is the mean of the squared "
    "deviations from the mean.",
    {"centered_var": False},
)
NO_AFFINE = Mistake(
    "missing affine (weight and bias not applied)",
    "After normalizing, scale by weight (gamma) and shift by bias (beta); without them the "
    "layer could not undo the normalization.",
    {"affine": "none"},
)
AFFINE_FIRST = Mistake(
    "affine applied before normalizing",
    "Scale and shift come after the normalization: normalizing the already scaled and shifted "
    "input cancels weight and bias.",
    {"affine": "before"},
)

STATISTICS = (UNBIASED, EPS_OUTSIDE, EPS_MISSING, NOT_CENTERED, UNCENTERED_VAR)
AFFINE = (NO_AFFINE, AFFINE_FIRST)

# ---------------------------------------------------------------- wrong axes

BN_PER_SAMPLE = Mistake(
    "wrong axes: one mean per sample (that is LayerNorm)",
    "BatchNorm takes one mean and variance per channel, computed across the batch; yours are "
    "taken per sample, across its features.",
    {"over": "sample"},
)
BN_BATCH_ONLY = Mistake(
    "wrong axes: averaged over the batch dim only",
    "For (N, C, L) and (N, C, H, W) inputs one channel's statistics use all its values: across "
    "the batch AND across every position (N*L or N*H*W values), not one statistic per position.",
    {"over": "batch"},
)
LN_LAST_ONLY = Mistake(
    "normalized over the last dim only",
    "normalized_shape can name several trailing dims, e.g. (C, H, W): the mean and variance are "
    "taken over all of them together.",
    {"over": "last"},
)
LN_ACROSS_BATCH = Mistake(
    "wrong dims: across the batch (that is BatchNorm)",
    "LayerNorm takes one mean and variance per sample (per token for (N, L, D)), over the "
    "trailing normalized_shape dims, never across the batch.",
    {"over": "batch"},
)
IN_ALL_CHANNELS = Mistake(
    "wrong axes: one mean per sample over all channels (that is LayerNorm)",
    "InstanceNorm keeps channels apart: one mean and variance per (sample, channel) pair, over "
    "the spatial or time positions only.",
    {"over": "sample"},
)
IN_ACROSS_BATCH = Mistake(
    "wrong axes: across the batch (that is BatchNorm)",
    "InstanceNorm keeps samples apart: each sample is normalized on its own.",
    {"over": "channel"},
)
IN_LAST_ONLY = Mistake(
    "wrong axes: over the last dim only",
    "For (N, C, H, W) the statistics of one channel use the whole H x W map, not one row of it.",
    {"over": "last"},
)
IN_OVER_CHANNELS = Mistake(
    "wrong axes: over the channels",
    "InstanceNorm averages over positions, not over channels.",
    {"over": "channels"},
)

# ---------------------------------------------------------------- GroupNorm's groups

GN_INTERLEAVED = Mistake(
    "groups split along the wrong axis (interleaved channels)",
    "A group is a block of C/G consecutive channels (group 0 = channels 0 .. C/G-1); yours puts "
    "every G-th channel in one group. When you split the channel dim in two, the group index "
    "must come first.",
    {"over": "group_interleaved"},
)
GN_AS_SIZE = Mistake(
    "num_groups used as the group size",
    "num_groups is the number of groups G; each group holds C/G channels.",
    {"groups": "as_size"},
)
GN_ONE_GROUP = Mistake(
    "a single group for all channels (that is LayerNorm)",
    "Split the channels into num_groups groups with one statistic each.",
    {"groups": "one"},
)
GN_PER_CHANNEL = Mistake(
    "one group per channel (that is InstanceNorm)",
    "A group holds C/G channels, not one.",
    {"groups": "per_channel"},
)
GN_NO_POSITIONS = Mistake(
    "positions not averaged (statistics per position)",
    "One group's statistics use all its channels AND all positions (C/G * H * W values).",
    {"over": "group_channels"},
)

# ---------------------------------------------------------------- RMSNorm

RMS_CENTERED = Mistake(
    "mean subtracted (that is LayerNorm)",
    "RMSNorm does not center: it divides x itself by the root mean square of x.",
    {"center": True, "centered_var": True},
)
RMS_SUM = Mistake(
    "sum instead of mean (L2 normalization)",
    "RMS is the root of the MEAN of the squares over the D features; the root of the sum makes "
    "the output √D times too small.",
    {"average": False},
)
RMS_NO_ROOT = Mistake(
    "square root missing",
    "Divide by the ROOT of the mean square, not by the mean square itself.",
    {"root": False},
)
RMS_MORE_DIMS = Mistake(
    "wrong dims: averaged over more than the last dim",
    "RMSNorm takes one statistic per token (per row): over the last dim only.",
    {"over": "sample"},
)
RMS_NO_WEIGHT = Mistake(
    "weight missing",
    "Scale the normalized result by weight (one value per feature).",
    {"affine": "none"},
)
RMS_WEIGHT_FIRST = Mistake(
    "weight applied before normalizing",
    "Multiply by weight after dividing by the RMS; before, it cancels out.",
    {"affine": "before"},
)

# ---------------------------------------------------------------- running statistics

MOMENTUM_REVERSED = Mistake(
    "momentum reversed (momentum used as the weight of the old value)",
    "In PyTorch momentum is the weight of the NEW batch statistic: with the default 0.1 the "
    "running value keeps 90% of its old value.",
    {"momentum": "old"},
)
RUNNING_BIASED = Mistake(
    "running_var updated with the biased variance",
    "The running variance is updated with the unbiased batch variance (divide by n - 1), even "
    "though the forward pass normalizes with the biased one.",
    {"correction": 0},
)
RUNNING_STD = Mistake(
    "running_var updated with the standard deviation",
    "running_var tracks the variance, not its square root.",
    {"running_var": "std"},
)
OLD_IGNORED = Mistake(
    "old running value ignored",
    "The new running value is a blend of the old running value and the batch statistic, "
    "weighted by momentum, not the batch statistic alone.",
    {"momentum": "ignored"},
)
