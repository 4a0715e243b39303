"""Count the memory traffic of eager code: every aten operation, with the bytes it moves.

A :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees each operation that reaches
torch's dispatcher, with its tensor arguments and outputs. A one-kernel op (torch's
``native_batch_norm``) is one entry; eager from-scratch code is one entry per elementary op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["count_traffic"]


class _TrafficLog(TorchDispatchMode):
    """Record every aten operation with the bytes it reads (tensor inputs) and writes (outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, int, int]] = []

    def __torch_dispatch__(
        self,
        func: torch._ops.OpOverload,
        types: Sequence[type],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:  # torch's signature: called for every aten op
        out = func(*args, **(kwargs or {}))
        if not func.is_view:  # a view moves no data
            flat_in = torch.utils._pytree.tree_leaves((args, kwargs))
            flat_out = torch.utils._pytree.tree_leaves(out)
            inputs = {(t.data_ptr(), t.nbytes) for t in flat_in if isinstance(t, Tensor)}
            read = sum(nbytes for _, nbytes in inputs)  # a tensor used twice is read once
            written = sum(t.nbytes for t in flat_out if isinstance(t, Tensor))
            self.ops.append((func.overloadpacket.__name__, read, written))
        return out


def count_traffic(fn: Callable[[], Tensor], nbytes: int) -> list[tuple[str, float, float]]:
    """Run ``fn()`` eagerly and list (aten op, reads, writes) for each operation it launched.

    Reads and writes are in units of ``nbytes`` (the size of the input), counting every distinct
    tensor argument as read in full and every output as written: what an eager kernel does when the
    data does not fit in a cache. Operations that move less than 1% of ``nbytes`` are left out.

    Example:

    >>> x = torch.randn(64, 64)
    >>> count_traffic(lambda: x.clone(), x.nbytes)
    [('clone', 1.0, 1.0)]
    """
    with _TrafficLog() as log:
        fn()
    return [(name, r / nbytes, w / nbytes) for name, r, w in log.ops if r + w >= 0.01 * nbytes]
