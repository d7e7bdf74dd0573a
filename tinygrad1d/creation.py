"""Tensor constructors: zeros, ones and random draws from the package generator."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, default_rng, get_default_dtype, shape_args


def _filled(fill, shape, requires_grad, dtype, op: str) -> Tensor:
    shape = shape_args(shape, op)
    dtype = np.dtype(dtype or get_default_dtype())
    return Tensor(fill(shape).astype(dtype, copy=False), requires_grad=requires_grad)


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
