"""Weight initializers: as functions of a shape and as objects with W(shape) / B(shape) (the
course's form), and torch.nn.init's in-place functions of a Tensor (`nn.init.zeros_(w)`,
`xavier_uniform_`, `kaiming_normal_`, ...).

`fan_in` of a weight is every dimension but the first: in_features for Linear (out, in),
C_in/groups * K for Conv1d (C_out, C_in/groups, K), K for SimpleConv1d (K,). All draws come
from the package generator, so `tg.manual_seed` makes them reproducible.
"""
from __future__ import annotations

import math

import numpy as np

from .tensor import Tensor, constant, default_rng, get_default_dtype, inplace, no_grad

__all__ = ["xavier", "he", "SimpleInitializer", "XavierInitializer", "HeInitializer",
           "TorchInitializer", "get", "fans", "calculate_gain", "uniform_", "normal_",
           "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_"]


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


# ------------------------------------------------------------------ torch.nn.init, in place
# Each writes new values into the Tensor it is given (under no_grad, so a Parameter stays the
# same leaf) and returns it. Draws come from the package generator (tg.manual_seed).

_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
          "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The gain torch recommends for a nonlinearity (leaky_relu's from its slope `param`)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; one of "
                         f"{sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def _write(tensor: Tensor, values: np.ndarray, op: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expects a Tensor (a Parameter), got {type(tensor).__name__}")
    with no_grad():
        return inplace(tensor, op, lambda x: constant(np.asarray(values, x.dtype)))


def _fans(tensor: Tensor, op: str) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan in and fan out need a tensor with 2 or more dims, got "
                         f"shape {tensor.shape}")
    return fans(tensor.shape)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Samples of U(a, b)."""
    return _write(tensor, default_rng().uniform(a, b, tensor.shape), "uniform_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Samples of N(mean, std^2)."""
    return _write(tensor, default_rng().normal(mean, std, tensor.shape), "normal_")


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Samples of N(mean, std^2) limited to [a, b]: those outside are drawn again."""
    if not a < b:
        raise ValueError(f"trunc_normal_: a={a} must be below b={b}")
    rng, out = default_rng(), np.empty(tensor.shape)
    todo = np.ones(tensor.shape, bool)
    while todo.any():
        out[todo] = rng.normal(mean, std, int(todo.sum()))
        todo = (out < a) | (out > b)
    return _write(tensor, out, "trunc_normal_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _write(tensor, np.full(tensor.shape, val), "constant_")


def ones_(tensor: Tensor) -> Tensor:
    return _write(tensor, np.ones(tensor.shape), "ones_")


def zeros_(tensor: Tensor) -> Tensor:
    return _write(tensor, np.zeros(tensor.shape), "zeros_")


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (a 2-D tensor)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D tensor, got shape {tensor.shape}")
    return _write(tensor, np.eye(*tensor.shape), "eye_")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _write(tensor, default_rng().uniform(-a, a, tensor.shape), "xavier_uniform_")


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2), std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _write(tensor, default_rng().normal(0.0, std, tensor.shape), "xavier_normal_")


def _kaiming_std(tensor: Tensor, a, mode: str, nonlinearity: str, op: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, op)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b), b = gain sqrt(3 / fan) (He et al.; torch's default for Linear and Conv1d
    weights with a = sqrt(5))."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _write(tensor, default_rng().uniform(-bound, bound, tensor.shape), "kaiming_uniform_")


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2), std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _write(tensor, default_rng().normal(0.0, std, tensor.shape), "kaiming_normal_")


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix of the tensor flattened to (rows, -1), times gain."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs 2 or more dims, got shape {tensor.shape}")
    rows, cols = tensor.shape[0], tensor.size // tensor.shape[0]
    a = default_rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a unique, uniformly distributed Q
    q = q if rows >= cols else q.T
    return _write(tensor, gain * q.reshape(tensor.shape), "orthogonal_")
