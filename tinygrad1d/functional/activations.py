"""Activation functions with PyTorch's names and arguments: gelu, silu, leaky_relu, elu,
softplus, relu6, hardtanh, hardsigmoid, hardswish, mish, logsigmoid, softsign, selu, celu,
softmin, glu, prelu, threshold, tanhshrink, softshrink, hardshrink.

Each is an expression over the primitives, so its gradient (of any order) comes from the
engine. Piecewise ones choose their branch with `where` on a comparison of x, and give each
kink the one-sided gradient PyTorch gives it (noted where the choice matters).
"""
from __future__ import annotations

import math

from ..tensor import Tensor, as_tensor
from .core import inplace_option, softmax, where
from .everyday import clamp, minimum

__all__ = ["celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh",
           "leaky_relu", "logsigmoid", "mish", "prelu", "relu6", "selu", "silu", "softmin",
           "softplus", "softshrink", "softsign", "tanhshrink", "threshold"]

_SELU_ALPHA = 1.6732632423543772848170429916717  # from the SELU paper, as torch
_SELU_SCALE = 1.0507009873554804934193349852946


def gelu(x, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF through erf (PyTorch's default), or its tanh
    approximation with approximate="tanh"."""
    x = as_tensor(x, "gelu", "input")
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + inner.tanh())
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + (x * (1 / math.sqrt(2))).erf())


@inplace_option
def silu(x) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = as_tensor(x, "silu", "input")
    return x * x.sigmoid()


@inplace_option
def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (that slope's gradient at 0, as PyTorch)."""
    x = as_tensor(x, "leaky_relu", "input")
    return where(x > 0, x, x * negative_slope)


@inplace_option
def elu(x, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (e^x - 1); the exponential only sees x <= 0, so a large x
    cannot overflow into the unused branch's gradient."""
    x = as_tensor(x, "elu", "input")
    return where(x > 0, x, (minimum(x, 0.0).exp() - 1) * alpha)


@inplace_option
def celu(x, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (e^(x / alpha) - 1)."""
    x = as_tensor(x, "celu", "input")
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return where(x > 0, x, ((minimum(x, 0.0) / alpha).exp() - 1) * alpha)


@inplace_option
def selu(x) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of the SELU paper."""
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, written relu(z) + log1p(e^-|z|) so it never overflows;
    linear where beta x > threshold, as PyTorch."""
    x = as_tensor(x, "softplus", "input")
    z = x * beta
    soft = (z.relu() + (-z.abs()).exp().log1p()) / beta
    return where(z > threshold, x, soft)


def logsigmoid(x) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    x = as_tensor(x, "logsigmoid", "input")
    return -((-x).relu() + (-x.abs()).exp().log1p())


@inplace_option
def mish(x) -> Tensor:
    """x * tanh(softplus(x))."""
    x = as_tensor(x, "mish", "input")
    return x * softplus(x).tanh()


def softsign(x) -> Tensor:
    """x / (1 + |x|)."""
    x = as_tensor(x, "softsign", "input")
    return x / (x.abs() + 1)


@inplace_option
def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x limited to [min_val, max_val]; unlike clamp, the gradient is 0 at the bounds
    themselves (strictly inside only), as PyTorch's hardtanh."""
    x = as_tensor(x, "hardtanh", "input")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val={min_val} is above max_val={max_val}")
    return where((x > min_val) & (x < max_val), x, clamp(x, min_val, max_val).detach())


@inplace_option
def relu6(x) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(x, 0.0, 6.0)


@inplace_option
def hardsigmoid(x) -> Tensor:
    """x / 6 + 1/2 limited to [0, 1]; gradient 1/6 strictly between -3 and 3."""
    x = as_tensor(x, "hardsigmoid", "input")
    return where((x > -3) & (x < 3), x / 6 + 0.5, (x >= 3).to(x.dtype))


@inplace_option
def hardswish(x) -> Tensor:
    """x * relu6(x + 3) / 6: 0 below -3, x above 3, x (x + 3) / 6 between (bounds included
    in the middle piece, whose gradient PyTorch uses there)."""
    x = as_tensor(x, "hardswish", "input")
    return where(x < -3, 0.0, where(x <= 3, x * (x + 3) / 6, x))


@inplace_option
def threshold(x, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else value."""
    x = as_tensor(x, "threshold", "input")
    return where(x > threshold, x, value)


def tanhshrink(x) -> Tensor:
    """x - tanh(x)."""
    x = as_tensor(x, "tanhshrink", "input")
    return x - x.tanh()


def softshrink(x, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    x = as_tensor(x, "softshrink", "input")
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return where(x > lambd, x - lambd, where(x < -lambd, x + lambd, 0.0))


def hardshrink(x, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    x = as_tensor(x, "hardshrink", "input")
    return where((x > lambd) | (x < -lambd), x, 0.0)


def softmin(x, dim=None) -> Tensor:
    """softmax(-x) along dim (the last when None)."""
    x = as_tensor(x, "softmin", "input")
    return softmax(-x, -1 if dim is None else dim)


def glu(x, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of x along dim (which must be even)."""
    x = as_tensor(x, "glu", "input")
    n = x.shape[dim] if x.ndim else 0
    if n % 2:
        raise ValueError(f"glu: dim {dim} of shape {x.shape} must have an even size")
    a, b = x.split(n // 2, dim)
    return a * b.sigmoid()


def prelu(x, weight) -> Tensor:
    """x where x > 0, else weight * x; weight has one slope, or one per channel (dim 1)."""
    x = as_tensor(x, "prelu", "input")
    w = as_tensor(weight, "prelu", "weight")
    if w.size != 1 and (x.ndim < 2 or w.shape != (x.shape[1],)):
        raise ValueError(f"prelu: weight of shape {w.shape} needs one slope or one per "
                         f"channel of input {x.shape}")
    w = w.reshape(() if w.size == 1 else (x.shape[1],) + (1,) * (x.ndim - 2))
    return where(x > 0, x, x * w)
