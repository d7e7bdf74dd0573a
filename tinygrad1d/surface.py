"""The Tensor surface: every public method and operator of Tensor, declared once.

tensor.py says what a Tensor *is* (an array, its gradient, the node that made it) and runs the
engine; ops.py and functional/ say what can be computed. This module is the one place that
says what a user can call on a Tensor. Each entry is a short delegation to a primitive (ops.py,
with its argument rules in the op's `method`) or a composite (functional/), with PyTorch's
argument names, order and return types, and numpy's keywords (`axis=`, `keepdims=`) beside them
where they don't clash. Where the two readings of one call clash, PyTorch's wins for positional
arguments and each keyword keeps its own library's meaning (docs/pytorch.md lists the cases).

The class `TensorMethods` is never instantiated: its body is the declaration, and `install`
copies it onto Tensor when the package is imported. The function forms `tg.sum(x, 1)`,
`tg.exp(x)`, ... are made from the same methods (`FUNCTIONS`), so a method and its function
cannot drift apart. tests/test_surface.py fails if anything else sets a Tensor attribute.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from . import functional as F
from . import ops
from .tensor import BackwardError, Tensor, as_tensor, constant, default_rng, get_default_dtype
from .tensor import inplace, read_back
from .tensor import backward as _engine_backward  # Tensor.backward's name would hide it
from .tensor import normalize_axis, register_hook

__all__ = ["FUNCTIONS", "TensorMethods", "install"]

def _axis(op: str, dim, axis):
    """dim (PyTorch) or axis (numpy): at most one of them."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: give axis= (numpy) or dim= (PyTorch), not both")
    return axis if dim is None else dim


def _cast(x: Tensor, dtype, op: str) -> Tensor:
    """x as dtype: differentiable between floats; into integers or bool a constant (torch
    does not differentiate those casts either)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype (tg.float32, tg.int64, ...)") from None
    if dtype == x.dtype:
        return x
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return ops.Cast.method(x, dtype)
    if dtype.kind in "iub" and dtype.itemsize >= 1:
        return ops.Convert.apply(x, dtype=dtype)
    raise TypeError(f"{op}: tinygrad1d holds float32, float64, int64, int32 and bool, not "
                    f"{dtype}")


def _compare(x: Tensor, other, fn: str) -> Tensor:
    """A comparison (the `compare` op): a bool tensor, never differentiated (as torch's)."""
    return ops.Compare.apply(x, other, fn=fn)


def _logical(x: Tensor, other, fn: str, op: str) -> Tensor:
    """&, |, ^ (and ~ with other None) on bool or integer tensors, as torch's bitwise ops."""
    a = x.dtype
    b = a if other is None else np.result_type(getattr(other, "data", other))
    if a.kind not in "iub" or b.kind not in "iub":
        raise TypeError(f"{op}: needs bool or integer tensors, got {a}"
                        f"{'' if other is None else ' and ' + str(b)}; compare first (x > 0)")
    return ops.Predicate.apply(x, fn=fn) if other is None else _compare(x, other, fn)


def _new(x: Tensor, fill, size, dtype, requires_grad: bool) -> Tensor:
    """x.new_zeros(...) and friends: a new tensor with x's dtype unless told otherwise."""
    shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    return Tensor(fill(tuple(shape)), requires_grad=requires_grad, dtype=dtype or x.dtype)


class _Size(int):
    """Tensor.size: an int (numpy's element count) that, called, answers PyTorch's size():
    x.size == 6, x.size() == (2, 3), x.size(1) == 3."""

    def __new__(cls, n: int, shape: tuple):
        self = super().__new__(cls, n)
        self.shape = shape
        return self

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        return self.shape[normalize_axis(dim, len(self.shape), "size")]


def _unary_inplace(name: str):
    """The method x.<name>_(): x.<name>() computed, then given to x by the engine's
    `inplace` (as every `_` method)."""
    def method(self) -> Tensor:
        return inplace(self, name + "_", lambda x: getattr(x, name)())
    method.__name__, method.__qualname__ = name + "_", f"TensorMethods.{name}_"
    method.__doc__ = f"x.{name}(), in place."
    return method


class TensorMethods:
    """The declaration of Tensor's public surface (copied onto Tensor by `install`)."""

    # ================================================================== what it holds
    shape = property(lambda self: self.data.shape, doc="The shape, a tuple (numpy's).")
    ndim = property(lambda self: self.data.ndim, doc="The number of axes.")
    dtype = property(lambda self: self.data.dtype, doc="The numpy dtype.")
    size = property(lambda self: _Size(self.data.size, self.data.shape),
                    doc="numpy's element count; called, PyTorch's size() or size(dim).")
    device = property(lambda self: "cpu", doc="Always 'cpu': numpy's memory is the only one.")
    is_leaf = property(lambda self: self._ctx is None, doc="Not made by a recorded op.")
    grad_fn = property(lambda self: self._ctx, doc="The node that made this tensor, or None.")
    T = property(lambda self: ops.Transpose.method(self), doc="All axes reversed.")
    mT = property(lambda self: ops.Transpose.method(self, -2, -1), doc="Last two swapped.")

    def dim(self) -> int:
        """The number of axes (torch's name for ndim)."""
        return self.data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self.data.itemsize

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def contiguous(self) -> Tensor:
        """Itself: every op here accepts any memory layout."""
        return self

    # ================================================================== conversions
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.data.dtype != get_default_dtype():
            extra = f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={type(self._ctx).__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.data.shape[0]

    def __iter__(self):
        """The slices along the first axis, x[0], x[1], ... (each stays in the graph)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        read_back(self, "bool()")
        if self.data.size != 1:
            raise ValueError(f"bool() of a Tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """An integer tensor of one element used as an index or a size, as torch."""
        read_back(self, "an index or a size (__index__)")
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only a one-element integer Tensor can be used as an index, got "
                            f"dtype {self.data.dtype} and shape {self.shape}")
        return int(self.data.item())

    def __format__(self, spec: str) -> str:
        """f"{loss:.4f}" formats the number of a one-element tensor, as torch."""
        if self.data.size == 1 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def numpy(self) -> np.ndarray:
        """The value as an ndarray (shares memory, like PyTorch's .numpy())."""
        read_back(self, "numpy()")
        return self.data

    def item(self):
        """The one element as a Python number."""
        read_back(self, "item()")
        if self.data.size != 1:
            raise ValueError(f"item: only a single-element Tensor converts, got shape "
                             f"{self.shape}")
        return self.data.item()

    def tolist(self):
        read_back(self, "tolist()")
        return self.data.tolist()

    def to(self, *args, dtype=None, device=None, copy: bool = False) -> Tensor:
        """x.to(tg.float64), x.to("cpu"), x.to(other) (its dtype), x.to(device, dtype)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps"):
                device = a
            else:
                dtype = a
        if device is not None and str(device) != "cpu":
            raise ValueError(f"to: device {device!r}: tinygrad1d runs on the CPU only")
        out = self if dtype is None else _cast(self, dtype, "to")
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        return self

    def type(self, dtype=None):
        """x.type(tg.float64) casts; x.type() names the dtype."""
        return str(self.data.dtype) if dtype is None else _cast(self, dtype, "type")

    def type_as(self, other) -> Tensor:
        """x cast to other's dtype."""
        return _cast(self, other.dtype, "type_as")

    def float(self) -> Tensor:
        return _cast(self, np.float32, "float")

    def double(self) -> Tensor:
        return _cast(self, np.float64, "double")

    def long(self) -> Tensor:
        return _cast(self, np.int64, "long")

    def int(self) -> Tensor:
        return _cast(self, np.int32, "int")

    def bool(self) -> Tensor:
        return _cast(self, np.bool_, "bool")

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to this tensor)."""
        return ops.Cast.apply(self, dtype=self.data.dtype)

    def detach(self) -> Tensor:
        """The same data (shared memory), cut off from the graph."""
        return ops.Detach.apply(self)

    def detach_(self) -> Tensor:
        """Cut this tensor off from the graph in place: it becomes a leaf that needs no grad."""
        self._ctx, self.requires_grad = None, False
        return self

    def new_zeros(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        """Zeros of `size`, with x's dtype unless told otherwise."""
        return _new(self, np.zeros, size, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        return _new(self, np.ones, size, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad: bool = False) -> Tensor:
        """As new_zeros (uninitialised memory would make runs differ)."""
        return _new(self, np.zeros, size, dtype, requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
        return _new(self, lambda s: np.full(s, fill_value), (size,), dtype, requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad: bool = False) -> Tensor:
        """A new tensor of data, with x's dtype unless told otherwise."""
        return Tensor(data, requires_grad=requires_grad, dtype=dtype or self.dtype)

    # ================================================================== autograd
    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None, *, grad=None) -> None:
        """Reverse-mode sweep from this tensor, adding into every leaf's .grad (or only into
        the tensors in `inputs`); torch's arguments (grad= is an older name for gradient=)."""
        _engine_backward(self, [grad if gradient is None else gradient], retain_graph,
                         create_graph, inputs)

    def register_hook(self, fn):
        """Call fn(grad) with the gradient flowing into this tensor during backward; a returned
        Tensor of the same shape replaces it. Returns a handle with .remove()."""
        return register_hook(self, fn)

    def retain_grad(self) -> Tensor:
        """Also fill .grad on this non-leaf tensor during backward (leaves always get it)."""
        self._retain = True
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place on a leaf (as PyTorch); returns self."""
        if self._ctx is not None:
            raise BackwardError("requires_grad_: only a leaf's flag can change; this tensor "
                                "was made by an op (use .detach() first)")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only float tensors can require grad, got "
                            f"{self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated .grad (set it to None)."""
        self.grad = None

    # ================================================================== arithmetic
    def __add__(self, other):
        return ops.Add.apply(self, other)

    def __radd__(self, other):
        return ops.Add.apply(other, self)

    def __sub__(self, other):
        return ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return ops.Sub.apply(other, self)

    def __mul__(self, other):
        return ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return ops.Div.apply(other, self)

    def __pow__(self, other):
        return ops.Pow.apply(self, other)

    def __rpow__(self, other):
        return ops.Pow.apply(other, self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul.apply(other, self)

    def __floordiv__(self, other):
        return F.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return F.floor_divide(other, self)

    def __mod__(self, other):
        return F.remainder(self, other)

    def __rmod__(self, other):
        return F.remainder(other, self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.Abs.apply(self)

    def add(self, other, *, alpha=1) -> Tensor:
        """self + alpha * other."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1) -> Tensor:
        """self - alpha * other."""
        return self - (other if alpha == 1 else other * alpha)

    subtract = sub

    def mul(self, other) -> Tensor:
        return self * other

    multiply = mul

    def div(self, other, *, rounding_mode=None) -> Tensor:
        """self / other; rounding_mode "floor" or "trunc" rounds the quotient (no gradient)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":  # as torch: step functions, with zero gradients
            return F.floor_divide(self, other)
        if rounding_mode == "trunc":
            return F.trunc(self / other)
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got "
                         f"{rounding_mode!r}")

    divide = div
    true_divide = div

    def floor_divide(self, other) -> Tensor:
        return F.floor_divide(self, other)

    def remainder(self, other) -> Tensor:
        return F.remainder(self, other)

    def fmod(self, other) -> Tensor:
        return F.fmod(self, other)

    def pow(self, exponent) -> Tensor:
        return self ** exponent

    def matmul(self, other) -> Tensor:
        """numpy's matmul: batch axes broadcast, 1-D operands are vectors."""
        return ops.MatMul.apply(self, other)

    def mm(self, mat2) -> Tensor:
        """Matrix times matrix, both 2-D."""
        if self.ndim != 2 or np.ndim(getattr(mat2, "data", mat2)) != 2:
            raise ValueError(f"mm: expects two matrices, got shapes {self.shape} and "
                             f"{np.shape(getattr(mat2, 'data', mat2))}")
        return ops.MatMul.apply(self, mat2)

    def bmm(self, mat2) -> Tensor:
        """Batches of matrices, both 3-D with the same batch size."""
        other = np.shape(getattr(mat2, "data", mat2))
        if self.ndim != 3 or len(other) != 3 or self.shape[0] != other[0]:
            raise ValueError(f"bmm: expects (B, n, m) and (B, m, p), got {self.shape} and "
                             f"{other}")
        return ops.MatMul.apply(self, mat2)

    def mv(self, vec) -> Tensor:
        """Matrix (n, m) times vector (m,)."""
        if self.ndim != 2 or np.ndim(getattr(vec, "data", vec)) != 1:
            raise ValueError(f"mv: expects a matrix and a vector, got {self.shape} and "
                             f"{np.shape(getattr(vec, 'data', vec))}")
        return ops.MatMul.apply(self, vec)

    def dot(self, other) -> Tensor:
        """The inner product of two vectors."""
        if self.ndim != 1 or np.ndim(getattr(other, "data", other)) != 1:
            raise ValueError(f"dot: expects two vectors, got {self.shape} and "
                             f"{np.shape(getattr(other, 'data', other))}")
        return ops.MatMul.apply(self, other)

    def outer(self, vec2) -> Tensor:
        return F.outer(self, vec2)

    def addcmul(self, tensor1, tensor2, *, value=1) -> Tensor:
        """self + value * tensor1 * tensor2."""
        return self + tensor1 * tensor2 * value

    def addcdiv(self, tensor1, tensor2, *, value=1) -> Tensor:
        """self + value * tensor1 / tensor2."""
        return self + tensor1 / tensor2 * value

    def lerp(self, end, weight) -> Tensor:
        """self + weight * (end - self)."""
        return F.lerp(self, end, weight)

    def maximum(self, other) -> Tensor:
        """Elementwise maximum; ties split the gradient evenly, as torch."""
        return F.maximum(self, other)

    def minimum(self, other) -> Tensor:
        return F.minimum(self, other)

    # ================================================================== comparisons, logic
    # Not differentiable (torch's are not either): they return bool constants.
    def __lt__(self, other):
        return _compare(self, other, "lt")

    def __le__(self, other):
        return _compare(self, other, "le")

    def __gt__(self, other):
        return _compare(self, other, "gt")

    def __ge__(self, other):
        return _compare(self, other, "ge")

    def __eq__(self, other):
        return _compare(self, other, "eq")

    def __ne__(self, other):
        return _compare(self, other, "ne")

    lt, le, gt, ge, eq, ne = __lt__, __le__, __gt__, __ge__, __eq__, __ne__
    less, less_equal, greater, greater_equal, not_equal = lt, le, gt, ge, ne

    def __and__(self, other):
        return _logical(self, other, "and", "&")

    def __or__(self, other):
        return _logical(self, other, "or", "|")

    def __xor__(self, other):
        return _logical(self, other, "xor", "^")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    bitwise_and, bitwise_or, bitwise_xor = __and__, __or__, __xor__

    def __invert__(self):
        return _logical(self, None, "invert", "~")

    bitwise_not = __invert__

    def logical_and(self, other) -> Tensor:
        return _compare(self, other, "logical_and")

    def logical_or(self, other) -> Tensor:
        return _compare(self, other, "logical_or")

    def logical_xor(self, other) -> Tensor:
        return _compare(self, other, "logical_xor")

    def logical_not(self) -> Tensor:
        return ops.Predicate.apply(self, fn="logical_not")

    def isnan(self) -> Tensor:
        return ops.Predicate.apply(self, fn="isnan")

    def isinf(self) -> Tensor:
        return ops.Predicate.apply(self, fn="isinf")

    def isfinite(self) -> Tensor:
        return ops.Predicate.apply(self, fn="isfinite")

    def equal(self, other) -> bool:
        """True if other has the same shape and values (torch.equal): a Python bool."""
        read_back(self, "equal")
        o = getattr(other, "data", other)
        return bool(np.shape(o) == self.shape and np.array_equal(self.data, o))

    def allclose(self, other, rtol: float = 1e-5, atol: float = 1e-8,
                 equal_nan: bool = False) -> bool:
        """True if every element is within atol + rtol |other| (a Python bool)."""
        read_back(self, "allclose")
        return bool(np.allclose(self.data, getattr(other, "data", other), rtol, atol,
                                equal_nan))

    # ================================================================== elementwise math
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def exp2(self) -> Tensor:
        return 2.0 ** self

    def expm1(self) -> Tensor:
        """e^x - 1, exact for small x."""
        return ops.Expm1.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def log2(self) -> Tensor:
        return ops.Log.apply(self) * (1 / np.log(2.0))

    def log10(self) -> Tensor:
        return ops.Log.apply(self) * (1 / np.log(10.0))

    def log1p(self) -> Tensor:
        """log(1 + x), exact for small x."""
        return ops.Log1p.apply(self)

    def sqrt(self) -> Tensor:
        return F.sqrt(self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x)."""
        return self ** -0.5

    def square(self) -> Tensor:
        return self * self

    def reciprocal(self) -> Tensor:
        return 1.0 / self

    def neg(self) -> Tensor:
        return ops.Neg.apply(self)

    negative = neg

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    absolute = abs

    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def tan(self) -> Tensor:
        return ops.Sin.apply(self) / ops.Cos.apply(self)

    def sinh(self) -> Tensor:
        return (ops.Exp.apply(self) - ops.Exp.apply(-self)) * 0.5

    def cosh(self) -> Tensor:
        return (ops.Exp.apply(self) + ops.Exp.apply(-self)) * 0.5

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def erf(self) -> Tensor:
        return ops.Erf.apply(self)

    def sign(self) -> Tensor:
        """-1, 0 or 1; its gradient is zero."""
        return F.sign(self)

    sgn = sign

    def floor(self) -> Tensor:
        return F.floor(self)

    def ceil(self) -> Tensor:
        return F.ceil(self)

    def round(self) -> Tensor:
        """To the nearest integer, halves to even (torch and numpy); zero gradient."""
        return F.round_(self)

    def trunc(self) -> Tensor:
        return F.trunc(self)

    fix = trunc

    def frac(self) -> Tensor:
        """x - trunc(x) (gradient 1)."""
        return self - F.trunc(self)

    def clamp(self, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
        """x limited to [min, max] (either may be None); gradient 1 inside, bounds included."""
        return F.clamp(self, min, max)

    clip = clamp

    def clamp_min(self, min) -> Tensor:  # noqa: A002
        return F.clamp(self, min, None)

    def clamp_max(self, max) -> Tensor:  # noqa: A002
        return F.clamp(self, None, max)

    def softmax(self, dim=None, *, axis=None) -> Tensor:
        """exp(x) / sum(exp(x)) along dim (axis; the last one when neither is given)."""
        d = _axis("softmax", dim, axis)
        return F.softmax(self, -1 if d is None else d)

    def log_softmax(self, dim=None, *, axis=None) -> Tensor:
        """x - logsumexp(x) along dim (axis; the last one when neither is given)."""
        d = _axis("log_softmax", dim, axis)
        return F.log_softmax(self, -1 if d is None else d)

    def masked_fill(self, mask, value) -> Tensor:
        """x with value where the boolean mask (broadcast to x) is set."""
        return F.masked_fill(self, mask, value)

    def where(self, condition, other) -> Tensor:
        """self where condition holds, else other (torch's x.where(condition, y))."""
        return F.where(condition, self, other)

    def conv1d(self, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
        """F.conv1d(self, weight, bias, ...): gather the windows, multiply by the weights,
        sum (see functional/core.py)."""
        return F.conv1d(self, weight, bias, stride, padding, dilation, groups)

    # ================================================================== reductions
    # PyTorch's positional dim and dim=/keepdim=, numpy's axis=/keepdims=; ints or tuples.
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=False, dtype=None) -> Tensor:
        """Sum over dim (None: all elements)."""
        x = self if dtype is None else _cast(self, dtype, "sum")
        return ops.Sum.method(x, _axis("sum", dim, axis), keepdim or keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=False, dtype=None) -> Tensor:
        x = self if dtype is None else _cast(self, dtype, "mean")
        return F.mean(x, _axis("mean", dim, axis), keepdim or keepdims)

    def prod(self, dim=None, keepdim=False, *, axis=None, keepdims=False, dtype=None) -> Tensor:
        """Product over dim; its gradient is exact where a factor is 0."""
        x = self if dtype is None else _cast(self, dtype, "prod")
        return ops.Prod.method(x, _axis("prod", dim, axis), keepdim or keepdims)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=False) -> Tensor:
        """Variance with Bessel's correction unless unbiased=False (or correction=0)."""
        c = (1 if unbiased is None else int(bool(unbiased))) if correction is None else correction
        return F.var(self, _axis("var", dim, axis), keepdim or keepdims, c)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
            keepdims=False) -> Tensor:
        c = (1 if unbiased is None else int(bool(unbiased))) if correction is None else correction
        return F.std(self, _axis("std", dim, axis), keepdim or keepdims, c)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """torch's three forms: x.max() the largest element; x.max(dim) the pair (values,
        indices) along that dim; x.max(other) elementwise. numpy's x.max(axis=...) (or a
        tuple of dims) gives the values only, ties sharing the gradient (as amax)."""
        if isinstance(dim, (Tensor, np.ndarray)):
            return F.maximum(self, dim)
        if dim is None or axis is not None or isinstance(dim, (tuple, list)):
            return ops.Max.method(self, _axis("max", dim, axis), keepdim or keepdims)
        return F.pick(self, "argmax", dim, keepdim or keepdims, "max")

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """As max: x.min(), x.min(dim) -> (values, indices), x.min(other), x.min(axis=)."""
        if isinstance(dim, (Tensor, np.ndarray)):
            return F.minimum(self, dim)
        if dim is None or axis is not None or isinstance(dim, (tuple, list)):
            return F.amin(self, _axis("min", dim, axis), keepdim or keepdims)
        return F.pick(self, "argmin", dim, keepdim or keepdims, "min")

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=False) -> Tensor:
        """The maximum over dim (None or (): all); ties share the gradient evenly."""
        return ops.Max.method(self, _all_if_empty(_axis("amax", dim, axis)), keepdim or keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=False) -> Tensor:
        return F.amin(self, _all_if_empty(_axis("amin", dim, axis)), keepdim or keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=False) -> Tensor:
        """Positions of the maxima (int64, the first of ties; not differentiable)."""
        return _arg(self, "argmax", _axis("argmax", dim, axis), keepdim or keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=False) -> Tensor:
        return _arg(self, "argmin", _axis("argmin", dim, axis), keepdim or keepdims)

    def median(self, dim=None, keepdim=False):
        """torch.median: the lower median, or (values, indices) along dim."""
        return F.median(self, dim, keepdim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=False) -> Tensor:
        """log(sum(exp(x))) over dim, shifted by the max so that it never overflows."""
        return F.logsumexp(self, _axis("logsumexp", dim, axis), keepdim or keepdims)

    def norm(self, p="fro", dim=None, keepdim=False) -> Tensor:
        """The p-norm over dim (all elements when None); "fro" is the 2-norm."""
        return F.norm(self, 2 if p in ("fro", None) else p, dim, keepdim)

    def cumsum(self, dim=None, *, axis=None, dtype=None) -> Tensor:
        """Running sums along dim (numpy's axis=None flattens first)."""
        x = self if dtype is None else _cast(self, dtype, "cumsum")
        return ops.Cumsum.method(x, _axis("cumsum", dim, axis))

    def all(self, dim=None, keepdim=False) -> Tensor:
        """True where every element (along dim) is nonzero: a bool tensor."""
        return ops.Stat.apply(self, fn="all", axis=_dims(self, dim, "all"), keepdims=keepdim)

    def any(self, dim=None, keepdim=False) -> Tensor:
        return ops.Stat.apply(self, fn="any", axis=_dims(self, dim, "any"), keepdims=keepdim)

    def count_nonzero(self, dim=None) -> Tensor:
        """How many elements (along dim) are nonzero: int64."""
        return ops.Stat.apply(self, fn="count_nonzero", axis=_dims(self, dim, "count_nonzero"))

    # ================================================================== shape and order
    def reshape(self, *shape) -> Tensor:
        """Same data, new shape: x.reshape(2, 3) or x.reshape((2, 3)); one entry may be -1."""
        return ops.Reshape.method(self, *shape)

    view = reshape  # numpy arrays can always be viewed in a new shape

    def view_as(self, other) -> Tensor:
        return ops.Reshape.method(self, other.shape)

    reshape_as = view_as

    def transpose(self, *axes, dim0=None, dim1=None) -> Tensor:
        """Two axes swap them (PyTorch's, any ndim); none reverse all; all of them permute
        (numpy's, when ndim != 2)."""
        return ops.Transpose.method(self, *axes, dim0=dim0, dim1=dim1)

    def swapaxes(self, axis0, axis1) -> Tensor:
        return ops.Transpose.method(self, axis0, axis1)

    swapdims = swapaxes

    def permute(self, *dims) -> Tensor:
        """Reorder every axis: x.permute(2, 0, 1) or x.permute((2, 0, 1))."""
        return F.permute(self, *dims)

    def t(self) -> Tensor:
        """Transpose a matrix (a vector or a number stays), as torch.Tensor.t."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dims, got shape {self.shape}")
        return ops.Transpose.method(self) if self.ndim == 2 else self

    def movedim(self, source, destination) -> Tensor:
        return F.movedim(self, source, destination)

    moveaxis = movedim

    def flatten(self, start_dim=0, end_dim=-1, *, start_axis=None, end_axis=None) -> Tensor:
        """Merge the axes start_dim..end_dim into one (start_axis= is the API's name)."""
        return F.flatten(self, start_dim if start_axis is None else start_axis,
                         end_dim if end_axis is None else end_axis)

    def unflatten(self, dim, sizes) -> Tensor:
        return F.unflatten(self, dim, sizes)

    def squeeze(self, dim=None, *, axis=None) -> Tensor:
        """Drop axes of size 1 (all, or the one named if its size is 1)."""
        return F.squeeze(self, _axis("squeeze", dim, axis))

    def unsqueeze(self, dim=None, *, axis=None) -> Tensor:
        """Insert an axis of size 1 at dim."""
        return F.unsqueeze(self, _axis("unsqueeze", dim, axis))

    def expand(self, *sizes) -> Tensor:
        """Broadcast to sizes (varargs or one tuple); -1 keeps that axis."""
        return ops.Expand.method(self, *sizes)

    def expand_as(self, other) -> Tensor:
        return ops.Expand.method(self, other.shape)

    def repeat(self, *sizes) -> Tensor:
        """Tile: x.repeat(2, 3) of an (a, b) tensor is (2a, 3b)."""
        return F.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None) -> Tensor:
        return F.repeat_interleave(self, repeats, dim)

    def flip(self, *dims, **kw) -> Tensor:
        """Reverse the order along dims: x.flip(0), x.flip([0, 1]), x.flip(dims=(1,))."""
        return F.flip(self, *dims, **kw)

    def roll(self, shifts, dims=None) -> Tensor:
        return F.roll(self, shifts, dims)

    def pad(self, pad_width, value=0.0) -> Tensor:
        """Constant padding in numpy's pad_width form (F.pad takes PyTorch's)."""
        return ops.Pad.method(self, pad_width, value)

    def tril(self, diagonal=0) -> Tensor:
        return F.tril(self, diagonal)

    def triu(self, diagonal=0) -> Tensor:
        return F.triu(self, diagonal)

    def split(self, split_size, dim=0) -> tuple:
        """Pieces along dim of split_size each, or of the sizes listed."""
        return F.split(self, split_size, dim)

    def chunk(self, chunks, dim=0) -> tuple:
        return F.chunk(self, chunks, dim)

    def unbind(self, dim=0) -> tuple:
        return F.unbind(self, dim)

    def narrow(self, dim, start, length) -> Tensor:
        return F.narrow(self, dim, start, length)

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) along dim; the values stay differentiable."""
        return F.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False) -> Tensor:
        return F.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - torch's name
        """(values, indices) of the k largest (or smallest) along dim."""
        return F.topk(self, k, dim, largest, sorted)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        """The distinct values, sorted (and where each element sits, how often each occurs)."""
        if dim is not None:
            raise ValueError("unique: dim= is not supported; unique over all elements only")
        read_back(self, "unique (its result's length depends on the values)")
        values, first, inverse, counts = np.unique(self.data, return_index=True,
                                                   return_inverse=True, return_counts=True)
        out = [self.reshape(-1)[first]]  # the values read from x: each has its gradient
        if return_inverse:
            out.append(constant(inverse.reshape(self.shape).astype(np.int64)))
        if return_counts:
            out.append(constant(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    # ================================================================== indexing
    def __getitem__(self, index) -> Tensor:
        """numpy's indexing: ints, slices, None, ..., integer arrays (Tensors too), masks."""
        return ops.GetItem.method(self, index)

    def __setitem__(self, index, value) -> None:
        """x[index] = value, in place (see inplace in tensor.py)."""
        inplace(self, "__setitem__", lambda x: F.index_put(x, index, value))

    def gather(self, *args, **kwargs) -> Tensor:
        """Two readings. numpy's take, the API's: x.gather(index, axis=-1), the index's shape
        replacing that axis (conv1d gathers its windows so). PyTorch's: x.gather(dim, index),
        one element per index along dim, when the first argument is an int dim and the
        second an index, or dim= is given."""
        dim_first = args and isinstance(args[0], (int, np.integer)) and (
            "index" in kwargs or (len(args) >= 2 and not isinstance(args[1], (int, np.integer))))
        if "dim" in kwargs or dim_first:
            return F.take_along(self, *args, **kwargs)
        return ops.Gather.method(self, *args, **kwargs)

    def index_select(self, dim, index) -> Tensor:
        return F.index_select(self, dim, index)

    def masked_select(self, mask) -> Tensor:
        return F.masked_select(self, mask)

    def scatter_add(self, dim, index, src) -> Tensor:
        """x with src added at index along dim (torch's meaning)."""
        return F.scatter_add(self, dim, index, src)

    def scatter(self, dim, index, src=None, *, value=None) -> Tensor:
        return F.scatter(self, dim, index, src, value=value)

    def index_add(self, dim, index, source, *, alpha=1) -> Tensor:
        return F.index_add(self, dim, index, source, alpha)

    def index_put(self, indices, values, accumulate: bool = False) -> Tensor:
        """x with x[indices] = values (or += with accumulate), out of place."""
        return F.index_put(self, tuple(indices), values, accumulate)

    # ================================================================== in place
    # Each `_` method computes the new value with its out-of-place twin and hands it to the
    # engine's `inplace`, which refuses a leaf that requires grad (outside no_grad), writes
    # into memory when there is no graph to keep, and otherwise gives x a new node.
    def __iadd__(self, other):
        return inplace(self, "+=", lambda x: x + other)

    def __isub__(self, other):
        return inplace(self, "-=", lambda x: x - other)

    def __imul__(self, other):
        return inplace(self, "*=", lambda x: x * other)

    def __itruediv__(self, other):
        return inplace(self, "/=", lambda x: x / other)

    def __ipow__(self, other):
        return inplace(self, "**=", lambda x: x ** other)

    def __iand__(self, other):
        return inplace(self, "&=", lambda x: x & other)

    def __ior__(self, other):
        return inplace(self, "|=", lambda x: x | other)

    def add_(self, other, *, alpha=1) -> Tensor:
        return inplace(self, "add_", lambda x: x.add(other, alpha=alpha))

    def sub_(self, other, *, alpha=1) -> Tensor:
        return inplace(self, "sub_", lambda x: x.sub(other, alpha=alpha))

    def mul_(self, other) -> Tensor:
        return inplace(self, "mul_", lambda x: x * other)

    def div_(self, other, *, rounding_mode=None) -> Tensor:
        return inplace(self, "div_", lambda x: x.div(other, rounding_mode=rounding_mode))

    def pow_(self, exponent) -> Tensor:
        return inplace(self, "pow_", lambda x: x ** exponent)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return inplace(self, "addcmul_", lambda x: x.addcmul(tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return inplace(self, "addcdiv_", lambda x: x.addcdiv(tensor1, tensor2, value=value))

    def lerp_(self, end, weight) -> Tensor:
        return inplace(self, "lerp_", lambda x: x.lerp(end, weight))

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
        return inplace(self, "clamp_", lambda x: x.clamp(min, max))

    clip_ = clamp_

    def clamp_min_(self, min) -> Tensor:  # noqa: A002
        return inplace(self, "clamp_min_", lambda x: x.clamp(min, None))

    def clamp_max_(self, max) -> Tensor:  # noqa: A002
        return inplace(self, "clamp_max_", lambda x: x.clamp(None, max))

    def masked_fill_(self, mask, value) -> Tensor:
        return inplace(self, "masked_fill_", lambda x: x.masked_fill(mask, value))

    def scatter_add_(self, dim, index, src) -> Tensor:
        return inplace(self, "scatter_add_", lambda x: x.scatter_add(dim, index, src))

    def scatter_(self, dim, index, src=None, *, value=None) -> Tensor:
        return inplace(self, "scatter_", lambda x: x.scatter(dim, index, src, value=value))

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        return inplace(self, "index_add_", lambda x: x.index_add(dim, index, source,
                                                                  alpha=alpha))

    def index_put_(self, indices, values, accumulate: bool = False) -> Tensor:
        return inplace(self, "index_put_", lambda x: x.index_put(indices, values, accumulate))

    def copy_(self, src) -> Tensor:
        """Take src's values (broadcast to this shape, cast to this dtype); the gradient goes
        to src."""
        src = as_tensor(src, "copy_", "src")
        try:
            np.broadcast_to(src.data, self.shape)
        except ValueError:
            raise ValueError(f"copy_: src of shape {src.shape} does not broadcast to "
                             f"{self.shape}") from None
        return inplace(self, "copy_", lambda x: src.expand(x.shape) if src.shape != x.shape
                       else src.clone())

    def fill_(self, value) -> Tensor:
        """Every element set to value (a number, or a one-element Tensor)."""
        if isinstance(value, Tensor):
            return inplace(self, "fill_", lambda x: value.reshape(()).expand(x.shape))
        return inplace(self, "fill_", lambda x: constant(np.full(x.shape, value, x.dtype)))

    def zero_(self) -> Tensor:
        return inplace(self, "zero_", lambda x: constant(np.zeros(x.shape, x.dtype)))

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        """Uniform samples in [a, b) from the package generator (tg.manual_seed)."""
        draw = default_rng().uniform
        return inplace(self, "uniform_", lambda x: constant(draw(a, b, x.shape).astype(x.dtype)))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        """Gaussian samples from the package generator (tg.manual_seed)."""
        draw = default_rng().normal
        return inplace(self, "normal_", lambda x: constant(draw(mean, std, x.shape)
                                                           .astype(x.dtype)))

    # the unary ones: x.exp_() is x.exp() given to x in place
    neg_, abs_, exp_, log_, sqrt_, relu_, sigmoid_, tanh_, floor_, ceil_, round_, trunc_ = map(
        _unary_inplace, ("neg", "abs", "exp", "log", "sqrt", "relu", "sigmoid", "tanh",
                         "floor", "ceil", "round", "trunc"))


def _all_if_empty(dim):
    """torch's amax/amin read dim=() as every axis."""
    return None if isinstance(dim, (tuple, list)) and not dim else dim


def _arg(x: Tensor, fn: str, axis, keepdims: bool) -> Tensor:
    """argmax / argmin: int64 positions (the first of ties), never differentiated."""
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, fn)
    return ops.Arg.apply(x, fn=fn, axis=axis, keepdims=keepdims)


def _dims(x: Tensor, dim, op: str):
    """None, or the normalised axes of an int or a tuple."""
    return None if dim is None else ops.normalize_axes(dim, x.ndim, op)


# ================================================================== the function forms
# torch.f(input, *args) is input.f(*args) for each of these; `tg.f` is made from the method,
# so the two cannot differ. (tg.where, tg.cat, tg.stack, tg.clamp's relatives that torch
# defines otherwise come from functional/.)
FUNCTIONS = (
    "abs", "absolute", "add", "addcdiv", "addcmul", "all", "allclose", "amax", "amin", "any",
    "argmax", "argmin", "argsort", "bmm", "ceil", "chunk", "clamp", "clamp_max", "clamp_min",
    "clip", "clone", "conv1d", "cos", "cosh", "count_nonzero", "cumsum", "div", "divide",
    "dot", "eq", "equal", "erf", "exp", "exp2", "expm1", "fix", "flatten", "flip", "floor",
    "floor_divide", "fmod", "frac", "gather", "ge", "greater", "greater_equal", "gt",
    "index_add", "index_select", "isfinite", "isinf", "isnan", "le", "lerp", "less",
    "less_equal", "log", "log10", "log1p", "log2", "log_softmax", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill",
    "masked_select", "matmul", "max", "maximum", "mean", "median", "min", "minimum", "mm",
    "moveaxis", "movedim", "mul", "multiply", "mv", "narrow", "ne", "neg", "negative",
    "norm", "not_equal", "numel", "outer", "permute", "pow", "prod", "reciprocal",
    "remainder", "repeat_interleave", "reshape", "roll", "round", "rsqrt", "scatter",
    "scatter_add", "sigmoid", "sign", "sin", "sinh", "softmax", "sort", "split", "sqrt",
    "square", "squeeze", "std", "sub", "subtract", "sum", "swapaxes", "swapdims", "t", "tan",
    "tanh", "topk", "transpose", "tril", "triu", "true_divide", "trunc", "unbind",
    "unflatten", "unique", "unsqueeze", "var", "relu",
)


def function_form(name: str):
    """tg.<name>(input, *args, **kwargs): Tensor.<name> with input lifted to a Tensor."""
    method = getattr(Tensor, name)

    @functools.wraps(method)
    def f(input, *args, **kwargs):  # noqa: A002 - torch's argument name
        return method(input if isinstance(input, Tensor) else as_tensor(input, name, "input"),
                      *args, **kwargs)
    params = list(inspect.signature(method).parameters.values())
    f.__signature__ = inspect.Signature([params[0].replace(name="input")] + params[1:])
    f.__qualname__ = f.__name__ = name
    return f


# ================================================================== install

_MACHINERY = set(vars(type("_", (), {}))) | {"__hash__"}  # what every class body has; __hash__:
# Python sets it to None in a class that defines __eq__, and Tensor keeps identity hashing


def install() -> None:
    """Copy the declaration onto Tensor (once, at import). A name Tensor already has is an
    error: the surface never overrides what tensor.py defines."""
    for name, value in vars(TensorMethods).items():
        if name in _MACHINERY:
            continue
        if name in vars(Tensor):
            raise AssertionError(f"surface: Tensor.{name} is already defined in tensor.py")
        setattr(Tensor, name, value)


install()
