"""Where a new tensor's bytes come from: fresh pages from the operating system, or reused memory.

On Linux with glibc, torch's CPU tensors come from ``malloc``. glibc serves a request above its
mmap threshold (128 KiB at first, raised when such a block is freed, up to 32 MiB) with fresh
pages mapped from the operating system, and returns them with ``munmap`` when the tensor is
freed: above 32 MiB on every call, below it until the threshold has grown past the block. The
next tensor of that size gets fresh pages again, and the first write to each 4 KiB page costs a
page fault in which the kernel zeroes the page. A kernel that allocates its output
(``x.clone()``, every norm) then pays for the operating system as much as for its own work;
``out.copy_(x)`` into an existing tensor does not.

:func:`reuse_freed_memory` tells glibc (``mallopt``, through ctypes) to serve every request
from its heap and never hand freed memory back (``M_MMAP_MAX = 0``, a high
``M_TRIM_THRESHOLD``): after the first call of a kernel, its output reuses the memory of the
previous output and almost no page faults remain (heap fragmentation leaves a few). Raising
``M_MMAP_THRESHOLD`` does not do it for large tensors: glibc caps it at 32 MiB on 64-bit
systems. In a process that has not started yet the same settings are the environment variables
in :data:`GLIBC_ENV`. Other allocators differ:

- jemalloc 5 (for example through ``LD_PRELOAD``) returns blocks of 8 MiB and more to the
  system at once ("huge" allocations are purged eagerly) unless ``MALLOC_CONF`` sets
  ``dirty_decay_ms:-1``; smaller blocks are reused;
- macOS's malloc keeps a cache of freed large blocks (up to about 128 MiB on 64-bit systems,
  by its source code) and reuses them by default;
- tcmalloc and the Windows heap have their own policies (not measured for this book).

A benchmark should therefore report which allocator setting it ran with, and measure its
yardstick, ``copy_``, into memory that is already mapped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = [
    "GLIBC_ENV",
    "glibc",
    "reuse_freed_memory",
    "default_allocator",
    "allocator_note",
]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_DEFAULT_TRIM = 128 * 1024  # glibc's default trim threshold
_DEFAULT_MMAP_MAX = 65536  # glibc's default number of mmap'd blocks
_HIGH_TRIM = 2**30  # keep up to 1 GiB of freed memory at the top of the heap

# the same settings for a process started later (glibc reads them at startup)
GLIBC_ENV: dict[str, str] = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(_HIGH_TRIM)}

_state = {"reusing": False}


def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (Linux), else None.

    Example:

    >>> lib = glibc()
    >>> lib is None or hasattr(lib, "mallopt")
    True
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def reuse_freed_memory() -> bool:
    """Make glibc reuse freed memory for every later allocation; True if it did.

    False where the C library is not glibc (nothing is changed): there, run the benchmark in a
    subprocess with :data:`GLIBC_ENV`, or rely on the allocator's own behaviour.

    Example:

    >>> done = reuse_freed_memory()
    >>> done in (True, False)
    True
    >>> _ = default_allocator()
    """
    lib = glibc()
    if lib is None:
        return False
    ok = lib.mallopt(_M_MMAP_MAX, 0) == 1 and lib.mallopt(_M_TRIM_THRESHOLD, _HIGH_TRIM) == 1
    _state["reusing"] = ok
    return ok


def default_allocator() -> bool:
    """Back to glibc's default limits: large blocks mapped fresh and unmapped when freed; True
    if done.

    Not quite glibc's defaults: any ``mallopt`` call freezes the dynamic mmap threshold at
    128 KiB, so afterwards blocks from 128 KiB to 32 MiB are mapped fresh on every call too,
    where a fresh process would soon reuse them. Blocks above 32 MiB behave as in a fresh
    process. For the exact defaults, time in a new process.
    """
    lib = glibc()
    if lib is None:
        return False
    ok = (
        lib.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX) == 1
        and lib.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM) == 1
    )
    if ok:
        _state["reusing"] = False
    return ok


def allocator_note() -> str:
    """One line for a benchmark's header: which allocator setting the timings ran with.

    Example:

    >>> allocator_note().startswith(("glibc", "not glibc"))
    True
    """
    if glibc() is None:
        return "not glibc: the platform's allocator, as configured"
    if _state["reusing"]:
        return "glibc, freed memory reused"
    return "glibc defaults (large outputs get fresh pages)"
