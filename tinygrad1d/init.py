"""Weight initializers, as functions of a shape and as objects with W(shape) / B(shape).

`fan_in` of a weight is every dimension but the first: in_features for Linear (out, in),
C_in/groups * K for Conv1d (C_out, C_in/groups, K), K for SimpleConv1d (K,). All draws come
from the package generator, so `tg.manual_seed` makes them reproducible.
"""
from __future__ import annotations

import math

import numpy as np

from .tensor import default_rng, get_default_dtype

__all__ = ["xavier", "he", "SimpleInitializer", "XavierInitializer", "HeInitializer",
           "TorchInitializer", "get", "fans"]


def fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape: (out, in, *kernel) or a 1-D filter (K,)."""
    if len(shape) == 1:
        return shape[0], shape[0]
    k = math.prod(shape[2:])
    return shape[1] * k, shape[0] * k


def _normal(shape, std: float) -> np.ndarray:
    return (std * default_rng().standard_normal(shape)).astype(get_default_dtype())


def xavier(shape, fan_in: int, fan_out: int, uniform: bool = False) -> np.ndarray:
    """Xavier/Glorot. Default: the course's form, Gaussian with std sqrt(1 / fan_in).
    uniform=True: Glorot's uniform form, U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    if uniform:
        a = math.sqrt(6.0 / (fan_in + fan_out))
        return default_rng().uniform(-a, a, shape).astype(get_default_dtype())
    return _normal(shape, math.sqrt(1.0 / fan_in))


def he(shape, fan_in: int) -> np.ndarray:
    """He/Kaiming: Gaussian with std sqrt(2 / fan_in), for ReLU networks."""
    return _normal(shape, math.sqrt(2.0 / fan_in))


class SimpleInitializer:
    """Gaussian N(0, sigma^2) for weights and biases (the course's SimpleInitializer)."""

    def __init__(self, sigma: float = 0.01):
        self.sigma = sigma

    def W(self, shape) -> np.ndarray:
        return _normal(shape, self.sigma)

    def B(self, shape) -> np.ndarray:
        return _normal(shape, self.sigma)


class XavierInitializer:
    """xavier() for weights (Gaussian, std sqrt(1/fan_in) unless uniform=True), zero biases."""

    def __init__(self, uniform: bool = False):
        self.uniform = uniform

    def W(self, shape) -> np.ndarray:
        return xavier(shape, *fans(shape), uniform=self.uniform)

    def B(self, shape) -> np.ndarray:
        return np.zeros(shape, get_default_dtype())


class HeInitializer(XavierInitializer):
    """he() for weights, zero biases."""

    def W(self, shape) -> np.ndarray:
        return he(shape, fans(shape)[0])


class TorchInitializer:
    """PyTorch's default for Linear and Conv1d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
    and biases (kaiming_uniform with a=sqrt(5)); handy for side-by-side comparisons."""

    def W(self, shape) -> np.ndarray:
        self._bound = 1.0 / math.sqrt(fans(shape)[0])
        return default_rng().uniform(-self._bound, self._bound, shape).astype(get_default_dtype())

    def B(self, shape) -> np.ndarray:  # uses the bound of the weight drawn just before
        return default_rng().uniform(-self._bound, self._bound, shape).astype(get_default_dtype())


_BY_NAME = {"xavier": XavierInitializer, "glorot_uniform": lambda: XavierInitializer(True),
            "he": HeInitializer, "simple": SimpleInitializer, "torch": TorchInitializer}


def get(init) -> object:
    """An initializer object from a name ("xavier", "he", "simple", "torch",
    "glorot_uniform") or an object with W(shape) and B(shape)."""
    if isinstance(init, str):
        if init not in _BY_NAME:
            raise ValueError(f"init: unknown initializer {init!r}; use one of {sorted(_BY_NAME)} "
                             "or an object with W(shape) and B(shape)")
        return _BY_NAME[init]()
    if not (callable(getattr(init, "W", None)) and callable(getattr(init, "B", None))):
        raise TypeError(f"init: {init!r} is neither a name nor an object with W(shape), B(shape)")
    return init
