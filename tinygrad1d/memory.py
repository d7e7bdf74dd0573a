"""Memory for the big arrays of a training step: recycled instead of freed and faulted in again.

glibc serves a large allocation with fresh pages and, when it is freed, gives them back to
the system once the top of its heap holds more than its trim threshold (twice the largest
block it has seen mmapped, so a few megabytes here). A conv1d training step allocates the
same multi-megabyte arrays (the gathered windows, their gradient) every time, so without
reuse every step faults each of their pages in again: measured 2,174 minor page faults and
7.9 ms per MNIST-1D-sized conv1d forward+backward, against 3.1 ms with them recycled
(docs/performance.md). The recycling lives in the primitives that make those arrays (the
window gather, its scatter, 2-D matmul), which ask this pool for their output buffers.

Nothing here changes the process: no libc setting, no environment variable; only arrays this
package allocates are kept, and `BUFFERS.clear()` lets go of them.
"""
from __future__ import annotations

import math
import sys

import numpy as np

__all__ = ["Buffers", "BUFFERS"]


def counts_references() -> bool:
    """Whether this interpreter's sys.getrefcount counts every holder of an array, which the
    pool's rule rests on. CPython documents the count as an implementation detail (newer
    versions may skip counting borrowed references), so the rule is checked here, on the
    Python that runs, for each way an array is held: a list, a variable, a view, a view of a
    view, an attribute. Where it fails (or getrefcount is missing, as on PyPy) the pool keeps
    nothing and every array is allocated afresh: slower, never wrong."""
    if not hasattr(sys, "getrefcount"):
        return False
    kept = [np.empty(4)]
    alone = sys.getrefcount(kept[0]) == 2  # the list and the call's argument
    held = kept[0]
    by_variable = sys.getrefcount(kept[0]) == 3
    del held
    view = kept[0][1:]
    by_view = sys.getrefcount(kept[0]) == 3  # a view holds its base
    view2 = view.reshape(3, 1)
    by_view_of_view = sys.getrefcount(kept[0]) >= 3  # (numpy collapses to the base)
    del view
    still_held = sys.getrefcount(kept[0]) >= 3  # view2 alone keeps it in use
    del view2

    class Holder:
        pass
    h = Holder()
    h.a = kept[0]
    by_attribute = sys.getrefcount(kept[0]) == 3
    del h
    return all((alone, by_variable, by_view, by_view_of_view, still_held, by_attribute,
                sys.getrefcount(kept[0]) == 2))


class Buffers:
    """Output arrays of the big results, recycled: in a training loop these are the same few
    multi-megabyte shapes every step.

    An array is handed out again only when nothing but this pool refers to it: CPython
    counts every Tensor, view and variable that holds it, so a result someone still uses is
    never overwritten. That rule is checked on the running interpreter first
    (`counts_references`); where it does not hold the pool stays empty. At most `per_shape`
    arrays are kept for each of the last `shapes` shapes asked for; arrays under MIN_BYTES
    are not kept (numpy and glibc reuse those)."""

    MIN_BYTES = 1 << 18  # smaller arrays are cheap to allocate: numpy and glibc reuse them

    def __init__(self, per_shape: int = 4, shapes: int = 16):
        self.per_shape, self.shapes = per_shape, shapes
        self.kept: dict[tuple, list[np.ndarray]] = {}
        self.enabled = counts_references()

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array of that shape and dtype, recycled when one is free."""
        dtype = np.dtype(dtype)
        if not self.enabled or math.prod(shape) * dtype.itemsize < self.MIN_BYTES:
            return np.empty(shape, dtype)
        key = (shape, dtype)
        arrays = self.kept.pop(key, [])
        self.kept[key] = arrays  # most recently used last
        for i in range(len(arrays)):
            if sys.getrefcount(arrays[i]) == 2:  # the list and this call: nobody else
                return arrays[i]
        a = np.empty(shape, dtype)
        if len(arrays) < self.per_shape:
            arrays.append(a)
        while len(self.kept) > self.shapes:
            del self.kept[next(iter(self.kept))]
        return a

    def zeros(self, shape: tuple, dtype) -> np.ndarray:
        a = self.empty(shape, dtype)
        a.fill(0)
        return a

    def clear(self) -> None:
        """Let go of every kept array."""
        self.kept.clear()


BUFFERS = Buffers()  # the pool ops.py draws from
