"""``nn.Module`` versions of the from-scratch norms, interchangeable with ``torch.nn``'s.

Same constructor arguments, same parameters and buffers under the same ``state_dict`` keys
(``weight``, ``bias``, ``running_mean``, ``running_var``, ``num_batches_tracked``), so a
``state_dict`` moves between a torch layer and ours in both directions. The arithmetic lives
in :mod:`normhelpers.functional`; these classes only hold state and decide which statistics
to use (training vs evaluation). Registering, resetting and loading state live in
:mod:`normhelpers._norm_base`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from normhelpers import functional as NF
from normhelpers._norm_base import NormBase, register_affine, reset_affine

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
]


class _BatchNorm(NormBase):
    """BatchNorm: statistics per channel over (N, *).

    See :func:`normhelpers.functional.batch_norm`.
    """

    _dims: tuple[int, ...] = ()

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            assert self.num_batches_tracked is not None  # kept when track_running_stats=True
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average: weight 1/t for batch t
                factor = 1.0 / float(self.num_batches_tracked)
        # Batch statistics while training, and in eval when no running statistics are kept.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return NF.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (N, C) features or (N, C, L) sequences (channels in dim 1).

    Example:

    >>> bn = BatchNorm1d(4)
    >>> bn(torch.randn(8, 4)).shape, bn.running_mean.shape
    (torch.Size([8, 4]), torch.Size([4]))
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (N, C, H, W) images: one mean per channel over (N, H, W).

    Example:

    >>> bn = BatchNorm2d(3)
    >>> bn(torch.randn(2, 3, 4, 4)).shape, bn.weight.shape
    (torch.Size([2, 3, 4, 4]), torch.Size([3]))
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """BatchNorm over (N, C, D, H, W) volumes.

    Example:

    >>> BatchNorm3d(3)(torch.randn(2, 3, 2, 4, 4)).shape
    torch.Size([2, 3, 2, 4, 4])
    """

    _dims = (5,)


class _InstanceNorm(NormBase):
    """InstanceNorm: statistics per sample and channel over the spatial dims.

    Defaults differ from BatchNorm: ``affine=False`` and ``track_running_stats=False``.
    An input without the batch dim (one fewer dim) is treated as a single sample.
    """

    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Checkpoints without a version (torch < 0.4) kept running statistics even when
        track_running_stats=False: name them in an error and drop them, as torch does."""
        if local_metadata.get("version") is None and not self.track_running_stats:
            keys = [prefix + n for n in ("running_mean", "running_var") if prefix + n in state_dict]
            if keys:
                error_msgs.append(
                    f"Unexpected running stats buffer(s) {' and '.join(map(repr, keys))} for "
                    f"{type(self).__name__} with track_running_stats=False: this layer keeps "
                    "no running statistics (the default since torch 0.4). Remove these keys "
                    "from the state_dict, or build the layer with track_running_stats=True."
                )
                for key in keys:
                    del state_dict[key]
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        unbatched = input.dim() == self._dims[0]
        feature_dim = 0 if unbatched else 1
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(
                    f"expected input's size at dim={feature_dim} to match num_features "
                    f"({self.num_features}), but got: {input.shape[feature_dim]} "
                    f"(input shape {list(input.shape)})."
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. "
                "It is not used because affine=False",
                stacklevel=2,
            )
        x = input.unsqueeze(0) if unbatched else input
        y = NF.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """InstanceNorm over (N, C, L), or one unbatched sample (C, L).

    Example:

    >>> InstanceNorm1d(3)(torch.randn(2, 3, 5)).shape
    torch.Size([2, 3, 5])
    """

    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """InstanceNorm over (N, C, H, W), or one unbatched sample (C, H, W).

    Example:

    >>> InstanceNorm2d(3)(torch.randn(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """

    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """InstanceNorm over (N, C, D, H, W), or one unbatched sample (C, D, H, W).

    Example:

    >>> InstanceNorm3d(3)(torch.randn(2, 3, 2, 4, 4)).shape
    torch.Size([2, 3, 2, 4, 4])
    """

    _dims = (4, 5)


def _as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    # numbers.Integral also accepts numpy integers; int tells the type checker the rest
    if isinstance(normalized_shape, (int, numbers.Integral)):
        return (int(normalized_shape),)
    return tuple(normalized_shape)


class LayerNorm(nn.Module):
    """LayerNorm over the trailing dims ``normalized_shape``; weight and bias have that shape.

    Example:

    >>> ln = LayerNorm(8)
    >>> ln(torch.randn(2, 5, 8)).shape, ln.weight.shape
    (torch.Size([2, 5, 8]), torch.Size([8]))
    """

    weight: Tensor | None  # normalized_shape, None when switched off
    bias: Tensor | None

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        register_affine(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    def reset_parameters(self) -> None:
        """weight 1, bias 0."""
        reset_affine(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return NF.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(nn.Module):
    """GroupNorm: C channels in G groups, statistics per sample and group; affine per channel.

    Example:

    >>> gn = GroupNorm(3, 6)
    >>> gn(torch.randn(2, 6, 4, 4)).shape, gn.weight.shape
    (torch.Size([2, 6, 4, 4]), torch.Size([6]))
    """

    weight: Tensor | None  # (C,), None when switched off
    bias: Tensor | None

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        register_affine(self, (num_channels,), affine, bias, device, dtype)

    def reset_parameters(self) -> None:
        """weight 1, bias 0."""
        reset_affine(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return NF.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(nn.Module):
    """RMSNorm over the trailing dims ``normalized_shape``; weight of that shape, no bias.

    Example:

    >>> rms = RMSNorm(8)
    >>> rms(torch.randn(2, 5, 8)).shape, rms.weight.shape
    (torch.Size([2, 5, 8]), torch.Size([8]))
    """

    weight: Tensor | None  # normalized_shape, None when switched off

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            ones = torch.ones(self.normalized_shape, device=device, dtype=dtype)
            self.weight = nn.Parameter(ones)
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        """weight 1."""
        reset_affine(self.weight, None)

    def forward(self, x: Tensor) -> Tensor:
        return NF.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
