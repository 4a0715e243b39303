"""What the norm layers share besides arithmetic: their parameters, their buffers, resetting,
and loading old checkpoints. :mod:`normhelpers.modules` builds the layers on top of this.

Every slot is registered the way ``torch.nn`` registers it. A parameter that is switched off
(``affine=False``, ``bias=False``) is ``register_parameter(name, None)`` and a buffer that is
not kept (``track_running_stats=False``) is ``register_buffer(name, None)``: the name exists
and is None, and a tensor assigned to it later becomes a real parameter or buffer, which moves
with ``.to()`` and appears in ``state_dict``, instead of a plain attribute.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["register_affine", "reset_affine", "NormBase"]


def register_affine(
    module: nn.Module,
    shape: tuple[int, ...],
    weight: bool,
    bias: bool,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Give ``module`` a ``weight`` (ones) and a ``bias`` (zeros) of ``shape``.

    With weight=False neither exists; with bias=False only the weight does. A parameter
    that does not exist is an empty slot (None), as in torch.
    """
    if weight:
        module.weight = nn.Parameter(torch.ones(shape, device=device, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if weight and bias:
        module.bias = nn.Parameter(torch.zeros(shape, device=device, dtype=dtype))
    else:
        module.register_parameter("bias", None)


def reset_affine(weight: Tensor | None, bias: Tensor | None) -> None:
    """Back to the identity transform: weight 1, bias 0 (either may be None)."""
    if weight is not None:
        nn.init.ones_(weight)
    if bias is not None:
        nn.init.zeros_(bias)


class NormBase(nn.Module):
    """Parameters (C,) and running-statistics buffers (C,) of BatchNorm and InstanceNorm.

    Buffers when track_running_stats=True: running_mean (zeros), running_var (ones) and
    num_batches_tracked (a long scalar, 0). ``state_dict`` metadata version 2 (the version
    that added num_batches_tracked), as torch's.
    """

    _version = 2
    _dims: tuple[int, ...] = ()  # the numbers of input dims a subclass accepts
    weight: Tensor | None  # (C,) parameters, None when switched off
    bias: Tensor | None
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        register_affine(self, (num_features,), affine, bias, device, dtype)
        if track_running_stats:
            zeros = torch.zeros(num_features, device=device, dtype=dtype)
            ones = torch.ones(num_features, device=device, dtype=dtype)
            self.register_buffer("running_mean", zeros)
            self.register_buffer("running_var", ones)
            counter = torch.tensor(0, dtype=torch.long, device=device)
            self.register_buffer("num_batches_tracked", counter)
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch seen (nothing when none are kept)."""
        if self.track_running_stats:
            # __init__ registered all three buffers when track_running_stats=True
            assert self.running_mean is not None and self.running_var is not None
            assert self.num_batches_tracked is not None
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, then weight to 1 and bias to 0."""
        self.reset_running_stats()
        reset_affine(self.weight, self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        """ValueError unless input has one of the numbers of dims in ``self._dims``."""
        if input.dim() not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(
                f"expected {want} input (got {input.dim()}D input of shape {list(input.shape)})"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
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
        """Accept checkpoints saved before num_batches_tracked existed.

        Those have no metadata version, or a version below 2. For them a missing counter is
        not an error: the layer keeps the counter it has (0 for a new layer), as torch does.
        """
        version = local_metadata.get("version")
        key = prefix + "num_batches_tracked"
        old = version is None or version < 2
        if old and self.track_running_stats and key not in state_dict:
            counter = self.num_batches_tracked
            if counter is None or counter.is_meta:  # no real value to keep
                counter = torch.tensor(0, dtype=torch.long)
            state_dict[key] = counter
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
