"""Tensor constructors: zeros, ones, full, ranges, eye, the *_like forms, and random draws
from the package generator (tg.manual_seed)."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, constant, default_rng, get_default_dtype, shape_args


def _filled(fill, shape, requires_grad, dtype, op: str) -> Tensor:
    shape = shape_args(shape, op)
    dtype = dtype or get_default_dtype()
    return Tensor(fill(shape), requires_grad=requires_grad, dtype=dtype)


def zeros(*shape, requires_grad: bool = False, dtype=None) -> Tensor:
    """A Tensor of zeros: tg.zeros(2, 3) or tg.zeros((2, 3))."""
    return _filled(np.zeros, shape, requires_grad, dtype, "zeros")


def ones(*shape, requires_grad: bool = False, dtype=None) -> Tensor:
    """A Tensor of ones."""
    return _filled(np.ones, shape, requires_grad, dtype, "ones")


def randn(*shape, requires_grad: bool = False, dtype=None) -> Tensor:
    """Standard normal samples from the package generator (see tg.manual_seed)."""
    return _filled(default_rng().standard_normal, shape, requires_grad, dtype, "randn")


def rand(*shape, requires_grad: bool = False, dtype=None) -> Tensor:
    """Uniform samples in [0, 1) from the package generator."""
    return _filled(default_rng().random, shape, requires_grad, dtype, "rand")


def empty(*shape, requires_grad: bool = False, dtype=None) -> Tensor:
    """torch.empty's shape and dtype; the values are zeros (numpy's uninitialised memory
    would make a run depend on what was there before)."""
    return _filled(np.zeros, shape, requires_grad, dtype, "empty")


def randint(low: int, high: int | None = None, size=(), dtype=np.int64) -> Tensor:
    """Integers drawn uniformly from [low, high) (randint(high, size) counts from 0), int64
    as torch: labels and indices, never differentiated."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high={high} must be above low={low}")
    shape = shape_args(size if isinstance(size, (tuple, list)) else (size,), "randint")
    return constant(default_rng().integers(low, high, shape).astype(dtype))


def as_tensor(data, dtype=None) -> Tensor:
    """data itself when it is a Tensor of that dtype already, else a new Tensor (torch's
    as_tensor: no copy when none is needed)."""
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    return Tensor(data.data if isinstance(data, Tensor) else data, dtype=dtype)


def from_numpy(a: np.ndarray) -> Tensor:
    """A Tensor of the numpy array a (torch.from_numpy); float arrays keep their dtype, others
    become the default float dtype, as for every Tensor."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(a).__name__}")
    return Tensor(a)


def full(shape, fill_value: float, requires_grad: bool = False, dtype=None) -> Tensor:
    """A Tensor of `shape` filled with fill_value: tg.full((2, 3), 0.5)."""
    shape = shape_args(shape if isinstance(shape, (tuple, list)) else (shape,), "full")
    return _filled(lambda s: np.full(s, fill_value), (shape,), requires_grad, dtype, "full")


def arange(start, end=None, step=1, requires_grad: bool = False, dtype=None) -> Tensor:
    """start, start + step, ... below end, as torch: int64 when all three are ints
    (tg.arange(5)), else the default float (tg.arange(1, 4, 0.5))."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    values = np.arange(start, end, step)
    whole = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    return Tensor(values, requires_grad, dtype or (np.int64 if whole else get_default_dtype()))


def linspace(start, end, steps: int, requires_grad: bool = False, dtype=None) -> Tensor:
    """`steps` evenly spaced values from start to end, both included."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be an int >= 0, got {steps!r}")
    values = np.linspace(start, end, int(steps))
    return Tensor(values, requires_grad, dtype or get_default_dtype())


def eye(n: int, m: int | None = None, requires_grad: bool = False, dtype=None) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    return Tensor(np.eye(n, m), requires_grad, dtype or get_default_dtype())


def _like(x, fill, requires_grad: bool, dtype) -> Tensor:
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    dtype = dtype or data.dtype
    return _filled(fill, (data.shape,), requires_grad, dtype, "like")


def zeros_like(x, requires_grad: bool = False, dtype=None) -> Tensor:
    return _like(x, np.zeros, requires_grad, dtype)


def ones_like(x, requires_grad: bool = False, dtype=None) -> Tensor:
    return _like(x, np.ones, requires_grad, dtype)


def full_like(x, fill_value: float, requires_grad: bool = False, dtype=None) -> Tensor:
    return _like(x, lambda s: np.full(s, fill_value), requires_grad, dtype)


def rand_like(x, requires_grad: bool = False, dtype=None) -> Tensor:
    return _like(x, default_rng().random, requires_grad, dtype)


def randn_like(x, requires_grad: bool = False, dtype=None) -> Tensor:
    return _like(x, default_rng().standard_normal, requires_grad, dtype)
