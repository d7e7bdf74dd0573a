"""Process-level memory policy: keep freed buffers for reuse instead of returning them.

glibc serves every allocation above its mmap threshold (128 KiB at first, at most 32 MiB) with
a fresh mmap and unmaps it on free. A training step allocates the same multi-megabyte arrays
(gathered windows, their gradients) every time, so each step page-faults and the kernel zeroes
them anew: measured here to make conv1d 1.5-2x slower and its timings erratic
(docs/performance.md). Raising both thresholds makes malloc recycle those blocks instead.
"""
from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_LARGEST = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (it then holds on to its peak).

    Affects the whole process, other libraries included. Returns False where it is not
    available (not glibc). The same from the environment, before Python starts:
    MALLOC_MMAP_THRESHOLD_=2147483647 MALLOC_TRIM_THRESHOLD_=2147483647."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _LARGEST)) & bool(mallopt(_M_TRIM_THRESHOLD, _LARGEST))
