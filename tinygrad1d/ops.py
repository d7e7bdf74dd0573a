"""The primitives: every op the engine knows how to differentiate, each declared once.

Each class has a numpy `forward`, a `backward` written with Tensor ops (so gradients are
differentiable again) with a comment giving the local derivative, and `hints`: plain data the
registry-driven tests read (a numpy reference, the valid domain of each input, how to draw the
keyword parameters). An op whose arguments come in more than one form (varargs shapes,
negative axes, 1-D operands) normalises them in its `method`, which surface.py's Tensor methods
call. Everything else in the package is composed from these.

The set is closed under differentiation: gather <-> scatter_add, getitem <-> index_scatter,
matmul -> matmul, reshape/transpose/expand/pad/getitem undo each other.
"""
from __future__ import annotations

import math

import numpy as np

from .memory import BUFFERS

from .tensor import Function, Tensor, as_index, constant, default_rng, get_default_dtype
from .tensor import normalize_axes, normalize_axis, read_back, register, shape_args
from .tensor import torch_spelling


def hint(ref, *domains, shapes="broadcast", **params) -> dict:
    """Test hints. `domains`, one per input: "real", "positive", "nonzero" (away from a kink at
    0), "distinct" (no ties), "bool", "off_steps" (away from integers and halves). `shapes`:
    how input shapes relate ("broadcast", "matmul", or an op-specific kind). `params`:
    keyword name -> kind of value to draw, in draw order."""
    return {"ref": ref, "domains": domains, "shapes": shapes, "params": params}


# ================================================================== elementwise unary


@register("neg")
class Neg(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x):
        return np.negative(x)

    def backward(ctx, g):  # d(-x) = -1
        return Neg.apply(g)
    hints = hint(np.negative, "real")


@register("exp")
class Exp(Function):
    saves_output = True

    def forward(ctx, x):
        return np.exp(x)

    def backward(ctx, g):  # d e^x = e^x
        return g * ctx.out()
    hints = hint(np.exp, "real")


@register("log")
class Log(Function):
    def forward(ctx, x):
        return np.log(x)

    def backward(ctx, g):  # d log x = 1/x
        return g / ctx.inputs[0]
    hints = hint(np.log, "positive")


@register("tanh")
class Tanh(Function):
    saves_output = True

    def forward(ctx, x):
        return np.tanh(x)

    def backward(ctx, g):  # d tanh x = 1 - tanh^2 x
        y = ctx.out()
        return g - g * y * y  # three ops where g * (1 - y * y) takes four
    hints = hint(np.tanh, "real")


@register("sin")
class Sin(Function):
    def forward(ctx, x):
        return np.sin(x)

    def backward(ctx, g):  # d sin x = cos x
        return g * ctx.inputs[0].cos()
    hints = hint(np.sin, "real")


@register("cos")
class Cos(Function):
    def forward(ctx, x):
        return np.cos(x)

    def backward(ctx, g):  # d cos x = -sin x
        return -(g * ctx.inputs[0].sin())
    hints = hint(np.cos, "real")


@register("log1p")
class Log1p(Function):
    def forward(ctx, x):  # exact for small x, where log(1 + x) loses the digits
        return np.log1p(x)

    def backward(ctx, g):  # d log(1 + x) = 1 / (1 + x)
        return g / (ctx.inputs[0] + 1)
    hints = hint(np.log1p, "positive")


@register("expm1")
class Expm1(Function):
    saves_output = True

    def forward(ctx, x):  # exact for small x, where e^x - 1 loses the digits
        return np.expm1(x)

    def backward(ctx, g):  # d(e^x - 1) = e^x
        return g + g * ctx.out()
    hints = hint(np.expm1, "real")


_erf = np.vectorize(math.erf, otypes=[np.float64])  # numpy has no erf; math's is exact


@register("erf")
class Erf(Function):
    def forward(ctx, x):
        return _erf(x).astype(x.dtype, copy=False)

    def backward(ctx, g):  # d erf x = 2 / sqrt(pi) e^(-x^2)
        x = ctx.inputs[0]
        return g * (-(x * x)).exp() * (2 / math.sqrt(math.pi))
    hints = hint(lambda x: _erf(x), "real")


@register("sigmoid")
class Sigmoid(Function):
    saves_output = True

    def forward(ctx, x):  # e^-|x| never overflows, and neither tail loses relative precision
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1, e) / (1 + e)

    def backward(ctx, g):  # d s(x) = s(x) (1 - s(x))
        y = ctx.out()
        return g * (y - y * y)
    hints = hint(lambda x: 1 / (1 + np.exp(-x)), "real")


@register("relu")
class Relu(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x):
        ctx.mask = x > 0
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(ctx, g):  # 1 where x > 0, else 0 (0 at x = 0, as torch)
        return g * constant(ctx.mask)
    hints = hint(lambda x: np.maximum(x, 0), "nonzero")


@register("abs")
class Abs(Function):
    def forward(ctx, x):
        return np.abs(x)

    def backward(ctx, g):  # d|x| = sign(x)
        return g * Step.apply(ctx.inputs[0], fn="sign")
    hints = hint(np.abs, "nonzero")


_STEPS = {"sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": np.round,
          "trunc": np.trunc}


@register("step")
class Step(Function):
    """A piecewise-constant function (sign, floor, ceil, round, trunc): its derivative is 0
    wherever it exists, so its gradient is zeros, as torch's (not "no gradient")."""
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, fn):
        return _STEPS[fn](x)

    def backward(ctx, g):  # 0 between the steps
        return constant(np.zeros_like(g.data))
    hints = hint(lambda x, fn: _STEPS[fn](x), "off_steps", fn="step_fn")


@register("cast")
class Cast(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, dtype):
        dtype = np.dtype(dtype)
        return x if dtype == x.dtype else cls.apply(x, dtype=dtype)

    def forward(ctx, x, dtype):
        return x.astype(dtype)

    def backward(ctx, g):  # identity, back in the input's dtype
        return Cast.apply(g, dtype=ctx.inputs[0].dtype)
    hints = hint(lambda x, dtype: x.astype(dtype), "real", dtype="float_dtype")


# ================================================================== elementwise binary
# Inputs broadcast against each other; the engine sums each gradient back to its input's shape.


class _Broadcasting(Function):
    broadcasts = True  # an input smaller than the output is read by several outputs


@register("add")
class Add(_Broadcasting):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, y):
        return x + y

    def backward(ctx, g):  # d(x + y) = (1, 1)
        return g, g
    hints = hint(np.add, "real", "real")


@register("sub")
class Sub(_Broadcasting):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, y):
        return x - y

    def backward(ctx, g):  # d(x - y) = (1, -1)
        return g, (Neg.apply(g) if ctx.inputs[1].requires_grad else None)
    hints = hint(np.subtract, "real", "real")


@register("mul")
class Mul(_Broadcasting):
    def forward(ctx, x, y):
        return x * y

    def backward(ctx, g):  # d(x y) = (y, x)
        x, y = ctx.inputs
        return (g * y if x.requires_grad else None), (g * x if y.requires_grad else None)
    hints = hint(np.multiply, "real", "real")


@register("div")
class Div(_Broadcasting):
    def forward(ctx, x, y):
        out = x / y
        if out.dtype.kind == "f" and x.dtype.kind in "iub" and y.dtype.kind in "iub":
            return out.astype(get_default_dtype())  # integers divide into the default float
        return out

    def backward(ctx, g):  # d(x / y) = (1 / y, -x / y^2)
        x, y = ctx.inputs
        gx = g / y
        return gx, (-gx * x / y if y.requires_grad else None)
    hints = hint(np.divide, "real", "nonzero")


@register("pow")
class Pow(_Broadcasting):
    saves_output = True

    def forward(ctx, x, y):
        return np.power(x, y)

    def backward(ctx, g):  # d(x^y) = (y x^(y-1), x^y log x)
        x, y = ctx.inputs
        zero_y = Compare.apply(y, 0.0, fn="eq")  # x^0 is constant: 0 * x^0 = 0, not 0 * 0^-1
        gx = g * y * x ** Where.apply(zero_y, 0.0, y - 1) if x.requires_grad else None
        if not y.requires_grad:
            return gx, None
        # torch's convention: no gradient to the exponent where the base is 0
        logx = Where.apply(Compare.apply(x, 0.0, fn="eq"), 0.0, x.log())
        return gx, g * ctx.out() * logx
    hints = hint(np.power, "positive", "real")


@register("floor_divide")
class FloorDivide(_Broadcasting):
    """floor(x / y), exactly (numpy's floor_divide): a step function of both inputs."""
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, y):
        return np.floor_divide(x, y)

    def backward(ctx, g):  # 0 between the steps, for x and for y
        zero = constant(np.zeros_like(g.data))
        return zero, zero
    hints = hint(np.floor_divide, "off_steps", "positive")


@register("maximum")
class Maximum(_Broadcasting):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, y):
        # 1 to the larger input, a tie split evenly, as torch: kept for backward
        ctx.share = ((x > y) + 0.5 * (x == y)).astype(np.result_type(x, y))
        return np.maximum(x, y)

    def backward(ctx, g):  # the share of g each input gets
        return g * constant(ctx.share), g * constant(1 - ctx.share)
    hints = hint(np.maximum, "distinct", "distinct")


@register("where")
class Where(_Broadcasting):
    def forward(ctx, cond, x, y):
        return np.where(cond, x, y)

    def backward(ctx, g):  # routes g to whichever input was chosen; the condition gets none
        c, x, y = ctx.inputs
        return (None, Where.apply(c, g, 0.0) if x.requires_grad else None,
                Where.apply(c, 0.0, g) if y.requires_grad else None)
    hints = hint(np.where, "bool", "real", "real")


# ================================================================== reductions
# `method` takes numpy's spellings (an int, a tuple, negative axes, positionally or as axis=)
# and hands forward a sorted tuple of axes, or None for all of them.


class _Reduce(Function):
    @classmethod
    def method(cls, x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        axis, keepdims = torch_spelling(cls.name, axis, keepdims, dim, keepdim)
        return cls.apply(x, axis=normalize_axes(axis, x.ndim, cls.name), keepdims=keepdims)


def _axes_of(axis, ndim: int) -> tuple[int, ...]:
    """The sorted axes a reduction over `axis` (None: all; ints may be negative) covers."""
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted({a % ndim for a in ((axis,) if isinstance(axis, (int, np.integer))
                                            else axis)}))


def _keep(x, axis) -> tuple:
    """The shape of a reduction of x (an array or Tensor) over `axis` with keepdims=True."""
    axes = _axes_of(axis, x.ndim)
    return tuple(1 if i in axes else n for i, n in enumerate(x.shape))


def _spread(g: Tensor, kshape: tuple, shape: tuple) -> Tensor:
    """Undo a reduction's shape: reinsert the reduced axes and broadcast over them."""
    if g.shape != kshape:
        g = Reshape.apply(g, shape=kshape)
    return g if kshape == shape else Expand.apply(g, shape=shape)


@register("sum")
class Sum(_Reduce):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, axis=None, keepdims=False):
        return np.add.reduce(x, axis=axis, keepdims=keepdims)

    # every input element contributes with weight 1: spread g back over the summed axes
    def backward(ctx, g):
        x = ctx.inputs[0]
        return _spread(g, _keep(x, ctx.params.get("axis")), x.shape)
    hints = hint(np.sum, "real", shapes="unary", axis="axes", keepdims="bool")


@register("max")
class Max(_Reduce):
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, axis=None, keepdims=False):
        out = np.max(x, axis=axis, keepdims=keepdims)
        ctx.kshape = _keep(x, axis)
        m = x == out.reshape(ctx.kshape)  # 1 at the maximum; ties share it evenly, as amax
        count = m.sum(axis=tuple(i for i, n in enumerate(ctx.kshape) if n == 1), keepdims=True)
        ctx.share = (m / count).astype(x.dtype)
        return out

    def backward(ctx, g):  # each maximum's share of g, spread over the reduced axes
        return _spread(g, ctx.kshape, ctx.share.shape) * constant(ctx.share)
    hints = hint(np.max, "distinct", shapes="unary", axis="axes", keepdims="bool")


@register("cumsum")
class Cumsum(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, axis=None, *, dim=None):
        """Running sums along axis (or dim); numpy's axis=None flattens first."""
        axis = axis if dim is None else dim
        if axis is None:
            return cls.apply(Reshape.method(x, -1), axis=0)
        return cls.apply(x, axis=normalize_axis(axis, x.ndim, "cumsum"))

    def forward(ctx, x, axis):
        return np.cumsum(x, axis=axis)

    def backward(ctx, g):  # out[i] = sum_{j<=i} x[j], so d / dx[j] = sum_{i>=j} g[i]
        rev = (slice(None),) * ctx.params["axis"] + (slice(None, None, -1),)
        flipped = GetItem.apply(g, index=rev)
        return GetItem.apply(Cumsum.apply(flipped, axis=ctx.params["axis"]), index=rev)
    hints = hint(lambda x, axis: np.cumsum(x, axis=axis), "real", shapes="unary", axis="axis")


@register("prod")
class Prod(_Reduce):
    def forward(ctx, x, axis=None, keepdims=False):
        return np.prod(x, axis=axis, keepdims=keepdims)

    def backward(ctx, g):  # d / dx_i = the product of the other factors, exact where x_j = 0
        x, axis = ctx.inputs[0], ctx.params.get("axis")
        if x.ndim == 0:  # one factor
            return g
        axes = _axes_of(axis, x.ndim)
        perm = tuple(i for i in range(x.ndim) if i not in axes) + axes  # reduced axes last
        kept = tuple(x.shape[i] for i in perm[:x.ndim - len(axes)])
        flat = Reshape.apply(Transpose.apply(x, axes=perm), shape=kept + (-1,))  # (..., m)
        m = flat.shape[-1]
        # row i of (..., m, m) holds the m factors with x_i replaced by 1: its product is
        # the product of the others, with no division (so zeros are exact); m^2 per row
        rows = Expand.apply(Reshape.apply(flat, shape=kept + (1, m)), shape=kept + (m, m))
        rows = Where.apply(constant(np.eye(m, dtype=bool)), 1.0, rows)
        others = Prod.apply(rows, axis=(len(kept) + 1,))  # -> (..., m)
        back = Reshape.apply(others, shape=tuple(x.shape[i] for i in perm))
        undo = tuple(sorted(range(x.ndim), key=perm.__getitem__))
        return _spread(g, _keep(x, axis), x.shape) * Transpose.apply(back, axes=undo)
    hints = hint(np.prod, "real", shapes="unary", axis="axes", keepdims="bool")


# ================================================================== movement


@register("reshape")
class Reshape(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, *shape):
        """Same data, new shape: x.reshape(2, 3) or x.reshape((2, 3)); one entry may be -1."""
        shape = shape_args(shape, "reshape")
        if -1 in shape or math.prod(shape) != x.size:
            shape = _resolve_shape(x.shape, shape)
        return x if shape == x.shape else cls.apply(x, shape=shape)

    def forward(ctx, x, shape):
        return x.reshape(shape)

    def backward(ctx, g):  # the old shape
        return Reshape.apply(g, shape=ctx.inputs[0].shape)
    hints = hint(np.reshape, "real", shapes="unary", shape="reshape")


def _resolve_shape(old: tuple, new: tuple) -> tuple:
    """numpy's reshape rules (one -1 allowed), checked before touching the data."""
    size = math.prod(old)
    if -1 in new:
        known = math.prod(n for n in new if n != -1)
        if new.count(-1) == 1 and known > 0 and size % known == 0:
            new = tuple(size // known if n == -1 else n for n in new)
    if any(n < 0 for n in new) or math.prod(new) != size:
        raise ValueError(f"reshape: cannot reshape a Tensor of shape {old} into {new}")
    return new


_IDENTITY = [tuple(range(n)) for n in range(33)]  # numpy allows at most 32 dimensions


@register("transpose")
class Transpose(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, *axes, dim0=None, dim1=None):
        """Reverse the axes (none given), swap two (a, b or dim0=, dim1=, as PyTorch, for
        every ndim), or permute all of them (numpy's form, when ndim != 2)."""
        n = x.ndim
        axes = shape_args(axes, "transpose") + tuple(d for d in (dim0, dim1) if d is not None)
        if not axes:
            axes = _IDENTITY[n][::-1]
        elif len(axes) == 2:  # PyTorch's swap, whatever ndim: for 2-D also numpy's (1, 0)
            a, b = (normalize_axis(i, n, "transpose") for i in axes)
            perm = list(range(n))
            perm[a], perm[b] = b, a
            axes = tuple(perm)
        else:
            axes = tuple(normalize_axis(i, n, "transpose") for i in axes)
        if len(axes) != n or set(axes) != set(range(n)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
        return x if axes == _IDENTITY[n] else cls.apply(x, axes=axes)

    def forward(ctx, x, axes):
        return np.transpose(x, axes)

    def backward(ctx, g):  # the inverse permutation puts every axis back
        axes = ctx.params["axes"]
        return Transpose.apply(g, axes=tuple(sorted(range(len(axes)), key=axes.__getitem__)))
    hints = hint(np.transpose, "real", shapes="unary", axes="perm")


@register("expand")
class Expand(_Broadcasting):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, *shape):
        """Broadcast to `shape` (varargs or one tuple), numpy's rules; -1 keeps that axis's
        size, as torch."""
        shape = shape_args(shape, "expand")
        lead = len(shape) - x.ndim
        shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(shape))
        try:
            full = np.broadcast_shapes(x.shape, shape)
        except ValueError:
            full = None
        if full != shape:
            raise ValueError(f"expand: cannot broadcast shape {x.shape} to {shape}")
        return x if shape == x.shape else cls.apply(x, shape=shape)

    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    def backward(ctx, g):  # the engine sums g back over the broadcast axes
        return g
    hints = hint(np.broadcast_to, "real", shapes="unary", shape="expand")


@register("pad")
class Pad(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, pad_width, value: float = 0.0):
        """Constant padding; pad_width in numpy's form (int, (before, after), or one per axis)."""
        pw = pad_width
        if isinstance(pw, (int, np.integer)):
            pw = ((pw, pw),) * x.ndim
        elif len(pw) == 2 and all(isinstance(p, (int, np.integer)) for p in pw):
            pw = (tuple(pw),) * x.ndim
        try:
            pw = tuple((int(a), int(b)) for a, b in pw)
            ok = len(pw) == x.ndim and all(a >= 0 and b >= 0 for a, b in pw)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"pad: pad_width {pad_width!r} must be non-negative integers in "
                             f"numpy's form for a Tensor of shape {x.shape}")
        if not any(a or b for a, b in pw):
            return x
        return cls.apply(x, pad_width=pw, value=float(value))

    def forward(ctx, x, pad_width, value=0.0):
        ctx.inner = tuple(slice(a, a + n) for (a, _), n in zip(pad_width, x.shape))
        out = np.full(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), value, x.dtype)
        out[ctx.inner] = x  # faster than np.pad, which goes through a Python-level loop
        return out

    def backward(ctx, g):  # the padding is constant: only the inner part has a gradient
        return GetItem.apply(g, index=ctx.inner)
    hints = hint(lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
                 "real", shapes="unary", pad_width="pad_width", value="float")


def normalize_index(index) -> tuple:
    """Tensors and lists in an index become integer arrays; a bool mask must match the shape
    of the axes it covers (numpy's rule) and becomes its nonzero positions."""
    out = []
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, (Tensor, list)) or (isinstance(i, np.ndarray) and i.dtype.kind != "b"):
            if isinstance(i, Tensor):  # its values become the index: a Python value
                read_back(i, "getitem (an index tensor; gather or take_along read one as data)")
            i = np.asarray(i.data if isinstance(i, Tensor) else i)
            i = i if i.dtype == np.bool_ else as_index(i, "getitem")
        out.append(i)
    return tuple(out)


@register("getitem")
class GetItem(Function):
    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, index):
        return cls.apply(x, index=normalize_index(index))

    def forward(ctx, x, index):
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for a Tensor of shape "
                             f"{x.shape}: {e}") from None

    # scatter g back to where it was read; repeated integer indices add up
    def backward(ctx, g):
        return IndexScatter.apply(g, index=ctx.params["index"], shape=ctx.inputs[0].shape)
    hints = hint(lambda x, index: x[index], "real", shapes="unary", index="index")


def _is_basic(index: tuple) -> bool:
    """Basic indexing (ints, slices, None, ...) and bool masks never read an element twice."""
    return not any(isinstance(i, np.ndarray) and i.dtype != np.bool_ for i in index)


@register("index_scatter")
class IndexScatter(Function):
    """Adjoint of getitem: zeros of `shape` with x added at `index` (duplicates accumulate)."""

    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, index, shape):
        out = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out

    def backward(ctx, g):  # read back what was scattered
        return GetItem.apply(g, index=ctx.params["index"])
    hints = hint(lambda x, index, shape: _add_at(np.zeros(shape), index, x), "real",
                 shapes="index_scatter")


def _add_at(out: np.ndarray, index, x: np.ndarray) -> np.ndarray:
    np.add.at(out, index, x)
    return out


@register("cat")
class Cat(Function):
    """Join tensors along an existing axis (np.concatenate); its gradient is each piece."""

    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, *xs, axis=0):
        if not xs:
            raise ValueError("cat: needs one or more tensors")
        return np.concatenate(xs, axis=axis)

    def backward(ctx, g):  # d out / d x_i is the slice of out where x_i was put
        pre, at, out = (slice(None),) * ctx.params["axis"], 0, []
        for x in ctx.inputs:
            n = x.shape[ctx.params["axis"]]
            out.append(GetItem.apply(g, index=pre + (slice(at, at + n),)))
            at += n
        return tuple(out)
    hints = hint(lambda *xs, axis: np.concatenate(xs, axis=axis), "real", "real", "real",
                 shapes="same", axis="axis")


@register("stack")
class Stack(Function):
    """Join tensors of one shape along a new axis (np.stack); its gradient is each slice."""

    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, *xs, axis=0):
        if not xs or any(x.shape != xs[0].shape for x in xs):
            raise ValueError(f"stack: needs one or more tensors of one shape, got "
                             f"{[x.shape for x in xs]}")
        return np.stack(xs, axis=axis)

    def backward(ctx, g):  # d out / d x_i picks slice i of the new axis
        pre = (slice(None),) * ctx.params["axis"]
        return tuple(GetItem.apply(g, index=pre + (i,)) for i in range(len(ctx.inputs)))
    hints = hint(lambda *xs, axis: np.stack(xs, axis=axis), "real", "real", "real",
                 shapes="same", axis="new_axis")


# ================================================================== gather / scatter


class Windows:
    """Sliding windows along one axis: the geometry conv1d and the pools gather with.

    The signal of `length` samples is padded with `padding` = (left, right); tap k of window i
    reads padded position i*stride + k*dilation. `index()` is that integer array, shape
    (kernel_size, n_out): the seed's window index, taps first. Given to gather or scatter_add
    in place of an index array, it hands them the geometry directly, so they copy (or add) one
    strided slab per tap instead of looking up every element, and read the padding without
    building the padded signal."""

    __slots__ = ("length", "kernel_size", "stride", "dilation", "padding", "n_out", "spans",
                 "_index")

    def __init__(self, length: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 padding: tuple[int, int] = (0, 0)):
        left, right = padding
        span = dilation * (kernel_size - 1) + 1
        fits = min(length, kernel_size, stride, dilation) >= 1 and min(left, right) >= 0
        if not fits or length + left + right < span:
            raise ValueError(f"Windows: no window of kernel_size={kernel_size}, dilation="
                             f"{dilation} fits length={length} with padding={padding} "
                             f"(stride={stride})")
        self.length, self.kernel_size, self.stride = length, kernel_size, stride
        self.dilation, self.padding = dilation, (left, right)
        self.n_out = (length + left + right - span) // stride + 1
        self.spans = tuple(self._span(k) for k in range(kernel_size))
        self._index = None

    def _span(self, k: int) -> tuple[int, int, int]:
        """(i0, i1, p): windows i0..i1-1 read the signal itself at tap k, from position p on
        in steps of stride; the others read padding."""
        off = k * self.dilation - self.padding[0]  # signal position window 0 reads
        i0 = min(self.n_out, max(0, -(off // self.stride)))  # first window at position >= 0
        i1 = min(self.n_out, max(i0, -((off - self.length) // self.stride)))  # first >= length
        return i0, i1, off + i0 * self.stride

    @property
    def shape(self) -> tuple[int, int]:
        return (self.kernel_size, self.n_out)

    ndim = 2

    def index(self) -> np.ndarray:
        """The integer index (kernel_size, n_out) into the padded signal (read-only)."""
        if self._index is None:
            taps, starts = np.arange(self.kernel_size), np.arange(self.n_out)
            idx = self.dilation * taps[:, None] + self.stride * starts
            idx.setflags(write=False)
            self._index = idx
        return self._index

    def __repr__(self) -> str:
        return (f"Windows(length={self.length}, kernel_size={self.kernel_size}, stride="
                f"{self.stride}, dilation={self.dilation}, padding={self.padding})")


_SMALL = 1 << 14  # below this many elements np.take on the index beats a loop over the taps


def _gather_windows(x: np.ndarray, w: Windows, axis: int, value: float) -> np.ndarray:
    """np.take(pad(x, w.padding, value), w.index(), axis), without the padded copy."""
    pre, k_n = (slice(None),) * axis, w.shape
    if x.size < _SMALL:
        return _take(x, w, axis, value) if any(w.padding) else np.take(x, w.index(), axis=axis)
    if not x.flags.c_contiguous:  # every sample is read once per tap: lay it out once first
        laid_out = BUFFERS.empty(x.shape, x.dtype)
        np.copyto(laid_out, x)
        x = laid_out
    out = BUFFERS.empty(x.shape[:axis] + k_n + x.shape[axis + 1:], x.dtype)
    for k, (i0, i1, p) in enumerate(w.spans):
        out[pre + (k, slice(i0, i1))] = x[pre + (slice(p, p + w.stride * (i1 - i0), w.stride),)]
        if i0 > 0:
            out[pre + (k, slice(0, i0))] = value
        if i1 < w.n_out:
            out[pre + (k, slice(i1, None))] = value
    return out


def _scatter_windows(x: np.ndarray, w: Windows, axis: int) -> np.ndarray:
    """The adjoint of _gather_windows: add each tap's slab back where it was read; what was
    read from the padding has nowhere to go."""
    pre = (slice(None),) * axis
    out = BUFFERS.zeros(x.shape[:axis] + (w.length,) + x.shape[axis + 2:], x.dtype)
    for k, (i0, i1, p) in enumerate(w.spans):
        if i1 > i0:
            read = slice(p, p + w.stride * (i1 - i0), w.stride)
            out[pre + (read,)] += x[pre + (k, slice(i0, i1))]
    return out


def _check_index(index, size: int, op: str, shape) -> np.ndarray:
    """An integer array with every entry in [-size, size); negatives wrap once, as numpy."""
    index = as_index(index, op)
    if index.size:
        lo, hi = int(index.min()), int(index.max())
        if lo < -size or hi >= size:
            raise IndexError(f"{op}: index {lo if lo < -size else hi} is out of range for axis "
                             f"of size {size} (input shape {shape}, index shape {index.shape})")
        if lo < 0:
            index = np.where(index < 0, index + size, index)
    return index


@register("gather")
class Gather(Function):
    """out = np.take(x, index, axis): the index's shape replaces axis `axis` of x.

    With index[k, i] = i*stride + k*dilation this reads the sliding windows of a signal, which
    is all conv1d and pooling need; a `Windows` object in place of the array says so, and its
    padding is read as `value`. The gradient is scatter_add: an input element read by several
    outputs (overlapping windows) receives the sum of their gradients."""

    reads = False  # backward uses shapes and what forward saved, never input values

    @classmethod
    def method(cls, x, index, axis: int = -1, value: float = 0.0):
        """A negative axis; the padding value stays out of the recorded (and drawn) parameters
        when it is the default."""
        axis = normalize_axis(axis, x.ndim, "gather")
        if value == 0.0:
            return cls.apply(x, index=index, axis=axis)
        return cls.apply(x, index=index, axis=axis, value=float(value))

    def forward(ctx, x, index, axis, value=0.0):
        if isinstance(index, Windows):
            if index.length != x.shape[axis]:
                raise ValueError(f"gather: {index} does not fit axis {axis} of shape {x.shape}")
            return _gather_windows(x, index, axis, value)
        ctx.index = _check_index(index, x.shape[axis], "gather", x.shape)
        return np.take(x, ctx.index, axis=axis)

    def backward(ctx, g):  # d out / d x is 1 at each read position: add g back there
        index = getattr(ctx, "index", ctx.params["index"])
        return ScatterAdd.apply(g, index=index, axis=ctx.params["axis"],
                                size=ctx.inputs[0].shape[ctx.params["axis"]])
    hints = hint(lambda x, index, axis, value=0.0: _take(x, index, axis, value), "real",
                 shapes="unary", axis="axis", index="take_index")


def _take(x: np.ndarray, index, axis: int, value: float = 0.0) -> np.ndarray:
    """np.take, after padding the signal for a Windows index: gather's reference, and its
    path for small inputs (padded by hand: np.pad costs more than the take there)."""
    if not isinstance(index, Windows):
        return np.take(x, index, axis=axis)
    left, right = index.padding
    shape = list(x.shape)
    shape[axis] += left + right
    padded = np.full(shape, value, x.dtype)
    padded[(slice(None),) * axis + (slice(left, left + x.shape[axis]),)] = x
    return np.take(padded, index.index(), axis=axis)


@register("scatter_add")
class ScatterAdd(Function):
    """Adjoint of gather: zeros with `size` along `axis`, x's slices added at `index`.

    x has shape x.shape[:axis] + index.shape + rest; the output x.shape[:axis] + (size,) + rest.
    A `Windows` index adds one strided slab per tap; any other index goes through np.add.at."""

    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, index, axis, size):
        windows = isinstance(index, Windows)
        idx = index if windows else _check_index(index, size, "scatter_add", x.shape)
        if not 0 <= axis <= x.ndim - idx.ndim or x.shape[axis:axis + idx.ndim] != idx.shape:
            raise ValueError(f"scatter_add: input shape {x.shape} does not hold index shape "
                             f"{idx.shape} at axis {axis}")
        if windows:
            if index.length != size:
                raise ValueError(f"scatter_add: {index} does not scatter into size {size}")
            return _scatter_windows(x, index, axis)
        ctx.index = idx
        out = np.zeros(x.shape[:axis] + (size,) + x.shape[axis + idx.ndim:], dtype=x.dtype)
        np.add.at(out, (slice(None),) * axis + (idx,), x)
        return out

    def backward(ctx, g):  # adjoint of a scatter is a gather at the same positions
        index = getattr(ctx, "index", ctx.params["index"])
        return Gather.apply(g, index=index, axis=ctx.params["axis"])
    hints = hint(lambda x, index, axis, size: _scatter_ref(x, index, axis, size), "real",
                 shapes="scatter")


def _scatter_ref(x: np.ndarray, index, axis: int, size: int) -> np.ndarray:
    """scatter_add's reference: np.add.at; for Windows into the padded signal, then cropped."""
    left, right = index.padding if isinstance(index, Windows) else (0, 0)
    idx = index.index() if isinstance(index, Windows) else index
    out = np.zeros(x.shape[:axis] + (left + size + right,) + x.shape[axis + idx.ndim:])
    np.add.at(out, (slice(None),) * axis + (idx,), x)
    return out[(slice(None),) * axis + (slice(left, left + size),)]


# ================================================================== matmul


@register("matmul")
class MatMul(Function):
    """x @ y with numpy's rules: batch axes broadcast, a 1-D x is a row, a 1-D y a column
    (and that axis is dropped from the result)."""

    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0 or x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not align")
        if x.ndim == 2 and y.ndim == 2:  # conv1d's products: their big results are recycled
            dtype = np.result_type(x, y)
            return np.matmul(x, y, out=BUFFERS.empty((x.shape[0], y.shape[1]), dtype))
        return np.matmul(x, y)

    def backward(ctx, g):  # d(x @ y) = (g @ y^T, x^T @ g); batch axes are summed by the engine
        x, y = ctx.inputs
        if x.ndim > 1 and y.ndim > 1:
            return (_product(g, _swap_last(y)) if x.requires_grad else None,
                    _product(_swap_last(x), g) if y.requires_grad else None)
        if x.ndim == 1 and y.ndim == 1:  # a dot product
            return g * y, g * x
        # one 1-D operand: its gradient is a matrix-vector product, the other's an outer
        # product of two vectors, written as a broadcast multiply
        if x.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
            gx = _matvec(y, g) if x.requires_grad else None
            row = g if g.ndim == 1 else Reshape.apply(g, shape=g.shape[:-1] + (1, g.shape[-1]))
            return gx, (Reshape.apply(x, shape=(-1, 1)) * row if y.requires_grad else None)
        # (..., m, k) @ (k,) -> (..., m)
        gx = Reshape.apply(g, shape=g.shape + (1,)) * y if x.requires_grad else None
        return gx, (_matvec(_swap_last(x), g) if y.requires_grad else None)
    hints = hint(np.matmul, "real", "real", shapes="matmul")


def _matvec(a: Tensor, v: Tensor) -> Tensor:
    """a (..., p, q) times the vectors v (..., q) -> (..., p)."""
    if v.ndim == 1:  # numpy's own matrix-vector product
        return MatMul.apply(a, v)
    out = MatMul.apply(a, Reshape.apply(v, shape=v.shape + (1,)))
    return Reshape.apply(out, shape=out.shape[:-1])


def _product(a: Tensor, b: Tensor) -> Tensor:
    """a @ b for gradients. OpenBLAS's sgemm (SkylakeX) is 1.2-1.7x faster on a product with a
    long inner axis when the result is not wider than tall (dgemm has no such preference; see
    docs/performance.md): a wide float32 one, as conv1d's weight gradient, is (b^T @ a^T)^T."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    wide = a.dtype == np.float32 and m < n <= k and m * n * k >= 1 << 20
    return _swap_last(MatMul.apply(_swap_last(b), _swap_last(a))) if wide else MatMul.apply(a, b)


def _swap_last(x: Tensor) -> Tensor:
    """x with its last two axes swapped (a view)."""
    n = x.ndim
    return Transpose.apply(x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


# ================================================================== gather / scatter along
# torch's gather and scatter_add: the index is an input (a Tensor of positions computed from
# the data: argmax, argsort, class labels), not a parameter, so a replayed or exported program
# reads the positions of each call instead of the ones of the first.


def _along(x_shape: tuple, index: np.ndarray, dim: int, op: str) -> tuple:
    """The full integer index of x[i][index[i][j]] (for dim 1): index along dim, each position
    itself on the other axes; an index of whole-number floats counts, negatives wrap once."""
    index = as_index(index, op)
    if index.ndim != len(x_shape):
        raise ValueError(f"{op}: index has {index.ndim} dims, the tensor {len(x_shape)} "
                         f"(shape {x_shape}); they must match")
    size = x_shape[dim]
    if index.size and (index.min() < -size or index.max() >= size):
        bad = index.min() if index.min() < -size else index.max()
        raise IndexError(f"{op}: index {bad} is out of range for dim {dim} of size {size} "
                         f"(shape {x_shape})")
    where = list(np.ogrid[tuple(slice(n) for n in index.shape)])
    where[dim] = np.where(index < 0, index + size, index) if index.size else index
    return tuple(where)


@register("take_along")
class TakeAlong(Function):
    """out[i][j] = x[i][index[i][j]] along dim (torch.gather); index may be smaller than x
    on the other axes. Its gradient is put_along: positions read twice get both terms."""
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, index, dim):
        if any(a > b for i, (a, b) in enumerate(zip(index.shape, x.shape)) if i != dim):
            raise ValueError(f"take_along: index of shape {index.shape} does not fit x "
                             f"{x.shape} outside dim {dim}")
        return x[_along(x.shape, index, dim, "take_along")]

    def backward(ctx, g):  # d out / d x is 1 where each element was read: add g back there
        x, index = ctx.inputs
        return PutAlong.apply(g, index, dim=ctx.params["dim"], shape=x.shape), None
    hints = hint(lambda x, index, dim: _take_along_ref(x, index, dim), "real", "index",
                 shapes="along")


def _take_along_ref(x, index, dim):
    """torch.gather in numpy: take_along_axis on the block of x the index covers."""
    block = x[tuple(slice(None) if i == dim else slice(n) for i, n in enumerate(index.shape))]
    return np.take_along_axis(block, np.asarray(index, np.intp) % x.shape[dim], dim)


@register("put_along")
class PutAlong(Function):
    """Zeros of `shape` with x[i][j] added at [i][index[i][j]] (dim 1): torch's scatter_add
    into zeros, the adjoint of take_along; repeated positions add up."""
    reads = False  # backward uses shapes and what forward saved, never input values

    def forward(ctx, x, index, dim, shape):
        if x.shape != index.shape:
            raise ValueError(f"put_along: values of shape {x.shape} need an index of that "
                             f"shape, got {index.shape}")
        out = np.zeros(shape, x.dtype)
        np.add.at(out, _along(shape, index, dim, "put_along"), x)
        return out

    def backward(ctx, g):  # read back what was added
        return TakeAlong.apply(g, ctx.inputs[1], dim=ctx.params["dim"]), None
    hints = hint(lambda x, index, dim, shape: _put_along_ref(x, index, dim, shape), "real",
                 "index", shapes="put_along")


def _put_along_ref(x, index, dim, shape):
    out = np.zeros(shape)
    for pos in np.ndindex(x.shape):
        at = list(pos)
        at[dim] = int(index[pos]) % shape[dim]
        out[tuple(at)] += x[pos]
    return out


# ================================================================== not differentiated
# Masks, positions, counts, conversions and random draws: the values that composites need from
# the data (a softmax's shift, a pool's winners, a label's position, a dropout mask). Being
# primitives, they are recomputed by a replayed program and written as nodes by an export,
# instead of frozen at the values of the first call. They are never differentiated: their
# outputs never require grad (differentiable = False).


class _Constant(Function):
    differentiable = False

    def backward(ctx, g):  # pragma: no cover - never recorded for backward
        raise AssertionError(f"{type(ctx).__name__} is not differentiated")


_COMPARE = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
            "eq": np.equal, "ne": np.not_equal, "and": np.bitwise_and, "or": np.bitwise_or,
            "xor": np.bitwise_xor, "logical_and": np.logical_and, "logical_or": np.logical_or,
            "logical_xor": np.logical_xor}


@register("compare")
class Compare(_Constant):
    """x < y, x == y, x & y, ... elementwise (broadcasting): a bool (or integer) tensor."""
    broadcasts = True

    def forward(ctx, x, y, fn):
        return _COMPARE[fn](x, y)
    hints = hint(lambda x, y, fn: _COMPARE[fn](x, y), "real", "real", fn="compare_fn")


_PREDICATE = {"invert": np.invert, "logical_not": np.logical_not, "isnan": np.isnan,
              "isinf": np.isinf, "isfinite": np.isfinite}


@register("predicate")
class Predicate(_Constant):
    """~x, not x, isnan(x), ... elementwise: a bool (or integer) tensor."""

    def forward(ctx, x, fn):
        return _PREDICATE[fn](x)
    hints = hint(lambda x, fn: _PREDICATE[fn](x), "real", fn="predicate_fn")


_STAT = {"all": np.all, "any": np.any, "max": np.max, "min": np.min}


@register("stat")
class Stat(_Constant):
    """all, any, count_nonzero, max or min over axis, as a constant (a softmax's shift, a
    mask's count): the value of the data, with no gradient."""

    def forward(ctx, x, fn, axis=None, keepdims=False):
        if fn == "count_nonzero":
            return np.asarray(np.count_nonzero(x, axis=axis, keepdims=keepdims), np.int64)
        return _STAT[fn](x, axis=axis, keepdims=keepdims)
    hints = hint(lambda x, fn, axis, keepdims: np.asarray(
        np.count_nonzero(x, axis=axis, keepdims=keepdims) if fn == "count_nonzero" else
        _STAT[fn](x, axis=axis, keepdims=keepdims)), "real", shapes="unary", fn="stat_fn",
        axis="axes", keepdims="bool")


def _arg(x: np.ndarray, fn: str, axis, keepdims: bool) -> np.ndarray:
    if fn in ("argmax", "argmin"):
        found = (np.argmax if fn == "argmax" else np.argmin)(x, axis=axis, keepdims=keepdims)
        return np.asarray(found, np.int64)
    key = x.astype(np.int8) if x.dtype == np.bool_ else x
    order = np.argsort(-key if fn == "argsort_descending" else key, axis=axis, kind="stable")
    if fn == "median":  # where the lower median of each row sits (torch's median)
        order = np.take(order, [(x.shape[axis] - 1) // 2], axis=axis)
        order = order if keepdims else order.squeeze(axis)
    return order.astype(np.int64)


@register("arg")
class Arg(_Constant):
    """Positions along axis: argmax or argmin (the first of ties), argsort or
    argsort_descending (stable), median (the lower median's, as torch); int64."""

    def forward(ctx, x, fn, axis, keepdims=False):
        return _arg(x, fn, axis, keepdims)
    hints = hint(_arg, "distinct", shapes="unary", fn="arg_fn", axis="axis", keepdims="bool")


@register("convert")
class Convert(_Constant):
    """A cast into an integer or bool dtype (x.long(), x.bool()): not differentiated."""

    def forward(ctx, x, dtype):
        return x.astype(dtype)
    hints = hint(lambda x, dtype: x.astype(dtype), "real", dtype="int_dtype")


@register("detach")
class Detach(_Constant):
    """The same array, cut off from the graph (x.detach(): shares x's memory)."""

    def forward(ctx, x):
        return x
    hints = hint(lambda x: x, "real")


def _first_max(w: np.ndarray, axis: int) -> np.ndarray:
    """Boolean mask marking the first maximum along axis (a NaN wins, as in torch's pools).

    K passes over contiguous slabs: several times faster than argmax along a middle axis."""
    at = (slice(None),) * axis
    best, top = np.zeros(w.shape[:axis] + w.shape[axis + 1:], np.intp), w[at + (0,)]
    for j in range(1, w.shape[axis]):
        best = np.where(w[at + (j,)] > top, j, best)  # strictly greater: ties keep the first
        top = np.maximum(top, w[at + (j,)])
    if np.isnan(top).any():  # np.maximum let a NaN through: the first NaN is the winner
        best = np.where(np.isnan(top), np.isnan(w).argmax(axis=axis), best)
    taps = np.arange(w.shape[axis]).reshape((-1,) + (1,) * (w.ndim - axis - 1))
    return taps == np.expand_dims(best, axis)


@register("first_max")
class FirstMax(_Constant):
    """A mask of the first maximum along axis: max_pool1d's winner of each window."""

    def forward(ctx, x, axis):
        return _first_max(x, axis)
    hints = hint(lambda x, axis: np.arange(x.shape[axis]).reshape(
        (-1,) + (1,) * (x.ndim - axis - 1)) == np.expand_dims(np.argmax(x, axis), axis),
        "distinct", shapes="unary", axis="axis")


@register("dropout_mask")
class DropoutMask(_Constant):
    """0 with probability p, else 1 / (1 - p), drawn from the package generator on every call
    (tg.manual_seed): an op with no inputs, so a replay draws a fresh mask, in eager's order."""

    def forward(ctx, shape, p, dtype):
        keep = default_rng().random(shape) >= p
        return (keep / (1.0 - p)).astype(dtype)
    hints = hint(lambda shape, p, dtype: ((default_rng().random(shape) >= p) / (1.0 - p))
                 .astype(dtype), shapes="random", shape="shape", p="probability",
                 dtype="float_dtype")


@register("running_stats")
class RunningStats(_Constant):
    """BatchNorm's running statistics, updated in place from a batch's mean and (biased)
    variance: running = (1 - momentum) running + momentum stat, the variance unbiased by
    n / (n - 1), as torch; `tracked` (the batch count) goes up by one, and momentum None
    averages every batch alike (1 / tracked). Its output is empty: an op kept for its effect,
    so a replayed program updates the statistics too."""
    effect = True

    def forward(ctx, mean, var, running_mean, running_var, tracked, momentum, n):
        tracked += 1
        m = 1.0 / tracked if momentum is None else momentum
        running_mean *= 1 - m
        running_mean += m * mean.reshape(-1)
        running_var *= 1 - m
        running_var += m * var.reshape(-1) * n / (n - 1)
        return np.zeros(0)
    hints = hint(lambda *a, momentum, n: np.zeros(0), "real", "positive", "real", "positive",
                 "positive", shapes="running_stats", momentum="momentum", n="count")
