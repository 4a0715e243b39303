"""BatchNorm for padded token sequences: statistics over the real tokens only.

A batch of sequences of different lengths is padded to one length L: the token states are
(N, L, D) and a mask (N, L) says which positions hold real tokens. A plain BatchNorm averages
over all N * L positions, padding included, so its statistics depend on how much padding the
batch happens to have (chapter 10). The masked BatchNorm takes them over the M real tokens:
it equals ``nn.BatchNorm1d(D)`` applied to the (M, D) matrix ``x[mask]``.

- :func:`masked_batch_norm`: the function, built from the core of
  :mod:`normhelpers.core` (``moments``, ``standardize``, ``affine``, ``update_running``).
- :class:`MaskedBatchNorm1d`: the module, with ``nn.BatchNorm1d``'s parameters and buffers.
"""

from __future__ import annotations

from torch import Tensor, nn

from normhelpers.core import affine, moments, standardize, upcast, update_running

__all__ = ["masked_batch_norm", "MaskedBatchNorm1d"]


def _check_mask(x: Tensor, mask: Tensor) -> None:
    """x must be (N, L, D) and mask (N, L) of the same N and L."""
    if x.dim() != 3 or tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"masked_batch_norm expects x of shape (N, L, D) and a mask of shape (N, L), got x "
            f"of shape {list(x.shape)} and mask of shape {list(mask.shape)}"
        )


def masked_batch_norm(
    x: Tensor,
    mask: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """BatchNorm over the real tokens of (N, L, D) ``x``: padding never enters the
    statistics.

    mask: (N, L), True on real tokens.
    weight, bias, running_mean, running_var: (D,) or None.
    In training, the mean and biased variance per feature (D,) are taken over the
    M = mask.sum() real tokens, ``x[mask]`` of shape (M, D), and the running statistics
    are updated with the unbiased variance (times M / (M - 1)), exactly as
    ``nn.BatchNorm1d`` on that (M, D) matrix. Returns (N, L, D), with the padding
    positions set to 0.

    Example:

    >>> import torch
    >>> x = torch.randn(2, 3, 4)  # (N, L, D)
    >>> mask = torch.tensor([[True, True, False], [True, False, False]])
    >>> y = masked_batch_norm(x, mask, None, None, None, None, training=True)
    >>> y.shape
    torch.Size([2, 3, 4])
    >>> torch.allclose(y[mask].mean(0), torch.zeros(4), atol=1e-6)  # real tokens only
    True
    """
    _check_mask(x, mask)
    mask = mask.bool()
    h = upcast(x)
    if training:
        count = int(mask.sum())
        if count < 2:
            msg = f"Expected more than 1 real token when training, got {count}"
            raise ValueError(msg)
        mean, var = moments(h[mask], [0])  # (1, D) each, from the (M, D) real tokens
        update_running(running_mean, mean.detach().reshape(-1), momentum)
        unbiased = var.detach().reshape(-1) * count / (count - 1)
        update_running(running_var, unbiased, momentum)
    else:
        if running_mean is None or running_var is None:
            msg = "masked_batch_norm in evaluation mode needs running statistics"
            raise RuntimeError(msg)
        mean, var = running_mean.to(h.dtype), running_var.to(h.dtype)  # (D,)
    y = affine(standardize(h, mean, var, eps), weight, bias)  # (N, L, D)
    return (y * mask.unsqueeze(-1)).to(x.dtype)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d(D)`` for (N, L, D) token states with a mask (N, L) of real tokens.

    Same parameters and buffers as ``nn.BatchNorm1d``, same ``momentum`` convention
    (``None``: cumulative average); ``forward(x, mask)`` calls :func:`masked_batch_norm` and
    returns (N, L, D).

    Example:

    >>> import torch
    >>> bn = MaskedBatchNorm1d(4)
    >>> mask = torch.tensor([[True, True, False], [True, False, False]])
    >>> bn(torch.randn(2, 3, 4), mask).shape, bn.running_mean.shape
    (torch.Size([2, 3, 4]), torch.Size([4]))
    """

    def forward(self, input: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        momentum = self.momentum
        tracked = self.num_batches_tracked  # None when track_running_stats is False
        if self.training and tracked is not None:
            tracked.add_(1)
            if momentum is None:  # cumulative average: weight 1/t for batch t
                momentum = 1.0 / float(tracked)
        # as nn.BatchNorm1d: batch statistics in training, and in eval without running ones
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return masked_batch_norm(
            input,
            mask,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum or 0.0,
            self.eps,
        )
