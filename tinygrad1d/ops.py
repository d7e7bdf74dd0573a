"""The primitives: every op the engine knows how to differentiate, each declared once.

Each class has a numpy `forward`, a `backward` written with Tensor ops (so gradients are
differentiable again) with a comment giving the local derivative, and `hints`: plain data the
registry-driven tests read (a numpy reference, the valid domain of each input, how to draw the
keyword parameters). Everything else in the package is composed from these.

The set is closed under differentiation: gather <-> scatter_add, getitem <-> index_scatter,
matmul -> matmul, reshape/transpose/expand/pad/getitem undo each other.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .tensor import Function, Tensor, register


def hint(ref, *domains, shapes="broadcast", **params) -> dict:
    """Test hints. `domains`, one per input: "real", "positive", "nonzero" (away from a kink at
    0), "distinct" (no ties), "bool". `shapes`: how input shapes relate ("broadcast", "matmul",
    or an op-specific kind). `params`: keyword name -> kind of value to draw, in draw order."""
    return {"ref": ref, "domains": domains, "shapes": shapes, "params": params}


def const(a: np.ndarray) -> Tensor:
    """A constant (never differentiated) Tensor around an array, such as a mask."""
    return Tensor._make(a, False, None)


# ================================================================== elementwise unary


@register("neg")
class Neg(Function):
    def forward(ctx, x): return np.negative(x)
    def backward(ctx, g): return -g  # d(-x) = -1
    hints = hint(np.negative, "real")


@register("exp")
class Exp(Function):
    saves_output = True
    def forward(ctx, x): return np.exp(x)
    def backward(ctx, g): return g * ctx.out()  # d e^x = e^x
    hints = hint(np.exp, "real")


@register("log")
class Log(Function):
    def forward(ctx, x): return np.log(x)
    def backward(ctx, g): return g / ctx.inputs[0]  # d log x = 1/x
    hints = hint(np.log, "positive")


@register("tanh")
class Tanh(Function):
    saves_output = True
    def forward(ctx, x): return np.tanh(x)

    def backward(ctx, g):  # d tanh x = 1 - tanh^2 x
        y = ctx.out()
        return g * (1 - y * y)
    hints = hint(np.tanh, "real")


@register("sigmoid")
class Sigmoid(Function):
    saves_output = True
    def forward(ctx, x):  # e^-|x| never overflows, and neither tail loses relative precision
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1, e) / (1 + e)

    def backward(ctx, g):  # d s(x) = s(x) (1 - s(x))
        y = ctx.out()
        return g * (y * (1 - y))
    hints = hint(lambda x: 1 / (1 + np.exp(-x)), "real")


@register("relu")
class Relu(Function):
    def forward(ctx, x):
        ctx.mask = x > 0
        return np.maximum(x, 0, dtype=x.dtype)
    def backward(ctx, g): return g * const(ctx.mask)  # 1 where x > 0, else 0 (0 at x = 0, as torch)
    hints = hint(lambda x: np.maximum(x, 0), "nonzero")


@register("abs")
class Abs(Function):
    def forward(ctx, x): return np.abs(x)
    def backward(ctx, g): return g * const(np.sign(ctx.inputs[0].data))  # d|x| = sign(x)
    hints = hint(np.abs, "nonzero")


@register("cast")
class Cast(Function):
    def forward(ctx, x, dtype): return x.astype(dtype)
    def backward(ctx, g): return g.cast(ctx.inputs[0].dtype)  # identity, back in the input's dtype
    hints = hint(lambda x, dtype: x.astype(dtype), "real", dtype="float_dtype")


# ================================================================== elementwise binary
# Inputs broadcast against each other; the engine sums each gradient back to its input's shape.


@register("add")
class Add(Function):
    def forward(ctx, x, y): return x + y
    def backward(ctx, g): return g, g  # d(x + y) = (1, 1)
    hints = hint(np.add, "real", "real")


@register("mul")
class Mul(Function):
    def forward(ctx, x, y): return x * y

    def backward(ctx, g):  # d(x y) = (y, x)
        x, y = ctx.inputs
        return (g * y if x.requires_grad else None), (g * x if y.requires_grad else None)
    hints = hint(np.multiply, "real", "real")


@register("div")
class Div(Function):
    def forward(ctx, x, y): return x / y

    def backward(ctx, g):  # d(x / y) = (1 / y, -x / y^2)
        x, y = ctx.inputs
        gx = g / y
        return gx, (-gx * x / y if y.requires_grad else None)
    hints = hint(np.divide, "real", "nonzero")


@register("pow")
class Pow(Function):
    saves_output = True
    def forward(ctx, x, y): return np.power(x, y)

    def backward(ctx, g):  # d(x^y) = (y x^(y-1), x^y log x)
        x, y = ctx.inputs
        gx = g * y * x ** (y - 1) if x.requires_grad else None
        if not y.requires_grad:
            return gx, None
        # torch's convention: no gradient to the exponent where the base is 0
        logx = Where.apply(x == 0, 0.0, x.log()) if (x.data == 0).any() else x.log()
        return gx, g * ctx.out() * logx
    hints = hint(np.power, "positive", "real")


@register("maximum")
class Maximum(Function):
    def forward(ctx, x, y): return np.maximum(x, y)

    def backward(ctx, g):  # 1 to the larger input; a tie splits the gradient evenly, as torch
        x, y = ctx.inputs[0].data, ctx.inputs[1].data
        share = ((x > y) + 0.5 * (x == y)).astype(g.dtype)
        return g * const(share), g * const(1 - share)
    hints = hint(np.maximum, "distinct", "distinct")


@register("where")
class Where(Function):
    def forward(ctx, cond, x, y): return np.where(cond, x, y)

    def backward(ctx, g):  # routes g to whichever input was chosen; the condition gets none
        c, x, y = ctx.inputs
        return (None, Where.apply(c, g, 0.0) if x.requires_grad else None,
                Where.apply(c, 0.0, g) if y.requires_grad else None)
    hints = hint(np.where, "bool", "real", "real")


# ================================================================== reductions


def _keep(x: np.ndarray, axis) -> tuple:
    """The shape of a reduction over `axis` with keepdims=True."""
    if axis is None:
        return (1,) * x.ndim
    axes = {a % x.ndim for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(x.shape))


def _spread(g: Tensor, kshape: tuple, shape: tuple) -> Tensor:
    """Undo a reduction's shape: reinsert the reduced axes and broadcast over them."""
    if g.shape != kshape:
        g = Reshape.apply(g, shape=kshape)
    return g if kshape == shape else Expand.apply(g, shape=shape)


@register("sum")
class Sum(Function):
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.kshape = _keep(x, axis)
        return np.add.reduce(x, axis=axis, keepdims=keepdims)

    # every input element contributes with weight 1: spread g back over the summed axes
    def backward(ctx, g): return _spread(g, ctx.kshape, ctx.inputs[0].shape)
    hints = hint(np.sum, "real", shapes="unary", axis="axes", keepdims="bool")


@register("max")
class Max(Function):
    def forward(ctx, x, axis=None, keepdims=False):
        out = np.max(x, axis=axis, keepdims=keepdims)
        ctx.kshape = _keep(x, axis)
        ctx.argmax = x == out.reshape(ctx.kshape)
        return out

    def backward(ctx, g):  # 1 at the maximum; ties share it evenly, as torch.amax
        m = ctx.argmax
        share = (m / m.sum(axis=tuple(i for i, n in enumerate(ctx.kshape) if n == 1),
                           keepdims=True)).astype(g.dtype)
        return _spread(g, ctx.kshape, m.shape) * const(share)
    hints = hint(np.max, "distinct", shapes="unary", axis="axes", keepdims="bool")


# ================================================================== movement


@register("reshape")
class Reshape(Function):
    def forward(ctx, x, shape): return x.reshape(shape)
    def backward(ctx, g): return Reshape.apply(g, shape=ctx.inputs[0].shape)  # the old shape
    hints = hint(np.reshape, "real", shapes="unary", shape="reshape")


@register("transpose")
class Transpose(Function):
    def forward(ctx, x, axes): return np.transpose(x, axes)
    def backward(ctx, g):  # the inverse permutation puts every axis back
        axes = ctx.params["axes"]
        return Transpose.apply(g, axes=tuple(sorted(range(len(axes)), key=axes.__getitem__)))
    hints = hint(np.transpose, "real", shapes="unary", axes="perm")


@register("expand")
class Expand(Function):
    def forward(ctx, x, shape): return np.broadcast_to(x, shape)
    def backward(ctx, g): return g  # the engine sums g back over the broadcast axes
    hints = hint(np.broadcast_to, "real", shapes="unary", shape="expand")


@register("pad")
class Pad(Function):
    def forward(ctx, x, pad_width, value=0.0):
        ctx.inner = tuple(slice(a, a + n) for (a, _), n in zip(pad_width, x.shape))
        out = np.full(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), value, x.dtype)
        out[ctx.inner] = x  # faster than np.pad, which goes through a Python-level loop
        return out
    # the padding is constant: only the inner part has a gradient
    def backward(ctx, g): return GetItem.apply(g, index=ctx.inner)
    hints = hint(lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value),
                  "real", shapes="unary", pad_width="pad_width", value="float")


def _is_basic(index: tuple) -> bool:
    """Basic indexing (ints, slices, None, ...) never reads an element twice."""
    return not any(isinstance(i, np.ndarray) for i in index)


@register("getitem")
class GetItem(Function):
    def forward(ctx, x, index):
        try:
            return x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for a Tensor of shape "
                             f"{x.shape}: {e}") from None

    # scatter g back to where it was read; repeated integer indices add up
    def backward(ctx, g): return IndexScatter.apply(g, index=ctx.params["index"],
                                                    shape=ctx.inputs[0].shape)
    hints = hint(lambda x, index: x[index], "real", shapes="unary", index="index")


@register("index_scatter")
class IndexScatter(Function):
    """Adjoint of getitem: zeros of `shape` with x added at `index` (duplicates accumulate)."""

    def forward(ctx, x, index, shape):
        out = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x
        else:
            np.add.at(out, index, x)
        return out
    def backward(ctx, g): return g[ctx.params["index"]]  # read back what was scattered
    hints = hint(None, "real", shapes="index_scatter")


# ================================================================== gather / scatter


def _check_index(index, size: int, op: str, shape) -> tuple[np.ndarray, tuple | None]:
    """(index, grid): an integer array with every entry in [-size, size) (negatives wrap once,
    as numpy), and its sliding-window grid if it is one (see _facts)."""
    index = np.asarray(index.data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        if index.size and not (index.dtype.kind == "f" and (index == np.round(index)).all()):
            raise TypeError(f"{op}: index must be an integer array, got dtype {index.dtype}")
        index = index.astype(np.intp)
    lo, hi, grid = _facts(index)
    if lo < -size or hi >= size:
        bad = lo if lo < -size else hi
        raise IndexError(f"{op}: index {bad} is out of range for axis of size {size} "
                         f"(input shape {shape}, index shape {index.shape})")
    if lo < 0:
        index = np.where(index < 0, index + size, index)
        grid = _find_grid(index)
    return index, grid


_FROZEN: dict[int, tuple] = {}  # id(index) -> (index, facts) for read-only arrays we own


def _facts(index: np.ndarray) -> tuple:
    """(min, max, grid) of an integer index, where grid is (start, row_step, col_step) if
    index[r, c] == start + r*row_step + c*col_step, else None.

    Sliding windows (conv1d, pooling) are such grids; scattering into one is a few strided
    slice-adds (one per row or per column, whichever is fewer), several times faster than
    np.add.at. conv1d passes the same cached, read-only window arrays on every call, so their
    facts are remembered (the entry holds the array, so its id cannot be reused)."""
    hit = _FROZEN.get(id(index))
    if hit is not None and hit[0] is index:
        return hit[1]
    facts = (int(index.min()), int(index.max()), _find_grid(index)) if index.size \
        else (0, -1, None)
    if not index.flags.writeable and index.flags.owndata:
        if len(_FROZEN) > 256:
            _FROZEN.clear()
        _FROZEN[id(index)] = (index, facts)
    return facts


def _find_grid(index: np.ndarray):
    if index.ndim != 2:
        return None
    (n, m), start = index.shape, int(index[0, 0])
    rs = int(index[1, 0]) - start if n > 1 else 1
    cs = int(index[0, 1]) - start if m > 1 else 1
    if rs < 1 or cs < 1:  # a zero step repeats positions inside one slice
        return None
    expect = start + rs * np.arange(n)[:, None] + cs * np.arange(m)
    return (start, rs, cs) if np.array_equal(index, expect) else None


@register("gather")
class Gather(Function):
    """out = np.take(x, index, axis): the index's shape replaces axis `axis` of x.

    With index[i, k] = i*stride + k*dilation this reads the sliding windows of a signal, which
    is all conv1d and pooling need. Its gradient is scatter_add: an input element read by
    several outputs (overlapping windows) receives the sum of their gradients."""

    def forward(ctx, x, index, axis):
        a = ctx.axis = axis % x.ndim
        ctx.index, grid = _check_index(index, x.shape[a], "gather", x.shape)
        if grid is None or x.size < 1 << 16:  # as_strided's own cost only pays off when big
            return np.take(x, ctx.index, axis=a)
        # sliding windows: copying a strided view of x is faster than np.take's lookups
        start, rs, cs = grid
        s = x.strides
        view = as_strided(x[(slice(None),) * a + (slice(start, None),)],
                          x.shape[:a] + ctx.index.shape + x.shape[a + 1:],
                          s[:a] + (rs * s[a], cs * s[a]) + s[a + 1:], writeable=False)
        return view.copy()

    def backward(ctx, g):  # d out / d x is 1 at each read position: add g back there
        return g.scatter_add(index=ctx.index, axis=ctx.axis, size=ctx.inputs[0].shape[ctx.axis])
    hints = hint(lambda x, index, axis: np.take(x, index, axis=axis), "real", shapes="unary",
                  axis="axis", index="take_index")


@register("scatter_add")
class ScatterAdd(Function):
    """Adjoint of gather: zeros with `size` along `axis`, x's slices added at `index`.

    x has shape x.shape[:axis] + index.shape + rest; the output x.shape[:axis] + (size,) + rest."""

    def forward(ctx, x, index, axis, size):
        idx, grid = _check_index(index, size, "scatter_add", x.shape)
        ctx.index = idx
        axis = ctx.axis = axis % (x.ndim - idx.ndim + 1)  # an axis of the output
        if x.shape[axis:axis + idx.ndim] != idx.shape:
            raise ValueError(f"scatter_add: input shape {x.shape} does not hold index shape "
                             f"{idx.shape} at axis {axis}")
        pre = (slice(None),) * axis
        out = np.zeros(x.shape[:axis] + (size,) + x.shape[axis + idx.ndim:], dtype=x.dtype)
        if grid is not None:  # sliding windows: one strided slice-add per row (or column)
            start, rs, cs = grid
            (n, m), cols = idx.shape, idx.shape[0] >= idx.shape[1]
            for j in range(m if cols else n):
                a = start + j * (cs if cols else rs)
                step, count = (rs, n) if cols else (cs, m)
                part = x[pre + ((slice(None), j) if cols else (j,))]
                out[pre + (slice(a, a + step * (count - 1) + 1, step),)] += part
        else:
            np.add.at(out, pre + (idx,), x)
        return out

    def backward(ctx, g):  # adjoint of a scatter is a gather at the same positions
        return g.gather(index=ctx.index, axis=ctx.axis)
    hints = hint(None, "real", shapes="scatter")


# ================================================================== matmul


@register("matmul")
class MatMul(Function):
    """Batched matrix product of operands with ndim >= 2 (Tensor.__matmul__ handles 1-D)."""

    def forward(ctx, x, y):
        if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-2]:
            raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not align")
        return np.matmul(x, y)

    def backward(ctx, g):  # d(x @ y) = (g @ y^T, x^T @ g); batch axes are summed by the engine
        x, y = ctx.inputs
        gx = _product(g, _swap_last(y)) if x.requires_grad else None
        gy = _product(_swap_last(x), g) if y.requires_grad else None
        return gx, gy
    hints = hint(np.matmul, "real", "real", shapes="matmul")


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
