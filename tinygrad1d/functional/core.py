"""The core composites: conv1d, pooling, softmax, losses, linear, dropout, batch norm, and
the reductions and movements with their PyTorch spellings.

Nothing here has a backward of its own: each function is a short expression over the
primitives in ops.py, and the engine differentiates it (to any order). Each composite runs
inside `scope(...)`, so a drawing of the graph can show it as one box (tg.draw(collapse=True)).
"""
from __future__ import annotations

import functools
import math
from functools import lru_cache

import numpy as np

from ..ops import Windows
from ..tensor import OPS, Descriptor, Tensor, as_index, as_tensor, constant, inplace, lift
from ..tensor import normalize_axes, normalize_axis, scope, shape_args, torch_spelling

__all__ = ["amin", "avg_pool1d", "batch_norm", "cat", "check_int", "check_reduction", "conv1d",
           "conv_args", "conv_output_size", "cross_entropy", "dropout", "dropout_p", "flatten",
           "global_avg_pool1d", "linear", "log_softmax", "max_pool1d", "mean", "mse_loss",
           "nll_loss", "permute", "pointwise_loss", "pool_args", "reduce_loss", "relu", "sigmoid",
           "softmax", "sqrt", "squeeze", "stack", "std", "tanh", "unsqueeze", "var", "where",
           "window_index", "windows"]


def check_int(v, op: str, name: str, lo: int) -> int:
    """v as an int >= lo, or a TypeError/ValueError naming op and the argument."""
    if type(v) is int and v >= lo:  # the usual case, checked on every call: keep it short
        return v
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    if v < lo:
        raise ValueError(f"{op}: {name} must be >= {lo}, got {v}")
    return int(v)


# ================================================================== convolution


def conv_args(op: str, kernel_size, stride=1, padding=0, dilation=1, groups=1) -> tuple:
    """The checked (kernel_size, stride, (left, right) padding, dilation, groups) of a
    convolution, as F.conv1d and nn.Conv1d both take them: a ValueError or TypeError that
    names `op`, the argument and its value for anything PyTorch would refuse."""
    k = check_int(kernel_size, op, "kernel_size", 1)
    stride, dilation = check_int(stride, op, "stride", 1), check_int(dilation, op, "dilation", 1)
    groups = check_int(groups, op, "groups", 1)
    return k, stride, _conv_padding(padding, k, stride, dilation, op), dilation, groups


def pool_args(op: str, kernel_size, stride=None, padding=0, dilation=1) -> tuple:
    """The checked (kernel_size, stride, padding, dilation) of a pool; stride defaults to
    kernel_size, and padding may be at most half the kernel (PyTorch's rule)."""
    k = check_int(kernel_size, op, "kernel_size", 1)
    s = k if stride is None else check_int(stride, op, "stride", 1)
    d, p = check_int(dilation, op, "dilation", 1), check_int(padding, op, "padding", 0)
    if p > k // 2:
        raise ValueError(f"{op}: padding={p} must be at most half of kernel_size={k}")
    return k, s, p, d


def dropout_p(p, op: str) -> float:
    """A checked dropout probability in [0, 1]."""
    number = isinstance(p, (int, float, np.floating, np.integer)) and not isinstance(p, bool)
    if not number or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def conv_output_size(n_in: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution or pooling window:
    (n_in + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1."""
    op = "conv_output_size"
    n_in, kernel_size = check_int(n_in, op, "n_in", 1), check_int(kernel_size, op, "kernel_size", 1)
    stride, dilation = check_int(stride, op, "stride", 1), check_int(dilation, op, "dilation", 1)
    padding = check_int(padding, op, "padding", 0)
    return _out_len(n_in, 2 * padding, kernel_size, stride, dilation, op)


def _out_len(n_in: int, total_pad: int, k: int, stride: int, dilation: int, op: str) -> int:
    span = dilation * (k - 1) + 1
    if n_in + total_pad < span:
        raise ValueError(f"{op}: kernel_size={k} with dilation={dilation} spans {span} samples, "
                         f"longer than the padded input ({n_in} + padding {total_pad} = "
                         f"{n_in + total_pad})")
    return (n_in + total_pad - span) // stride + 1


def window_index(n_out: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """The gather index of sliding windows: index[i, k] = i*stride + k*dilation, (n_out, K).

    For the seed's x = [1, 2, 3, 4], K = 3: [[0, 1, 2], [1, 2, 3]], and x[index] holds the
    two windows [1, 2, 3] and [2, 3, 4]. conv1d and the pools gather with the same numbers,
    taps first, as a `Windows` object (`windows(...)`), whose index() is this array's .T."""
    op = "window_index"
    n_out = check_int(n_out, op, "n_out", 1)
    kernel_size = check_int(kernel_size, op, "kernel_size", 1)
    stride, dilation = check_int(stride, op, "stride", 1), check_int(dilation, op, "dilation", 1)
    length = (n_out - 1) * stride + dilation * (kernel_size - 1) + 1
    return windows(length, kernel_size, stride, dilation).index().T


@lru_cache(maxsize=256)
def windows(length: int, kernel_size: int, stride: int = 1, dilation: int = 1,
            padding: tuple[int, int] = (0, 0)) -> Windows:
    """The Windows geometry over a signal of `length` samples, cached: a training loop asks for
    the same few on every step, and each keeps its index once materialised."""
    return Windows(length, kernel_size, stride, dilation, padding)


def _conv_padding(padding, k: int, stride: int, dilation: int, op: str) -> tuple[int, int]:
    """(left, right) from an int, a (p,) or (left, right) tuple, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError(f"{op}: padding='same' needs stride=1, got stride={stride}")
            total = dilation * (k - 1)
            return total // 2, total - total // 2  # the odd sample goes right, as torch
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    if type(padding) is int and padding >= 0:
        return padding, padding
    pads = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,)
    if len(pads) not in (1, 2):
        raise ValueError(f"{op}: padding must be an int or a (left, right) pair, got {padding!r}")
    pads = tuple(check_int(p, op, "padding", 0) for p in pads)
    return (pads[0], pads[-1])


def conv1d(x, w, b=None, stride: int = 1, padding=0, dilation: int = 1,
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch) built as gather -> matmul -> bias.

    x (N, C_in, L), w (C_out, C_in // groups, K), b (C_out,) -> (N, C_out, L_out); also
    unbatched x (C_in, L) -> (C_out, L_out), and the single-channel x (L,), w (K,), b (1,) or a
    scalar -> (L_out,). out[n, o, i] = sum_{c, k} x[n, c, i*stride + k*dilation] w[o, c, k] + b[o]
    over the zero-padded x.

    The windows are gathered with one index (a `Windows` geometry: index[k, i] = i*stride +
    k*dilation into the padded signal), so every x value is read by up to K windows and every
    weight by every window; the gather's scatter-add gradient and the matmul's sums are where
    those shared uses add up. No backward of its own."""
    op = "conv1d"
    x, w = as_tensor(x, op, "x"), as_tensor(w, op, "w")
    single = x.ndim == 1  # the seed's SimpleConv1d case: one channel, one signal
    if single and w.ndim != 1:
        raise ValueError(f"conv1d: a 1-D input (L,) needs a 1-D weight (K,), got w {w.shape}")
    if not single and (x.ndim not in (2, 3) or w.ndim != 3):
        raise ValueError(f"conv1d: expected x (N, C_in, L) or (C_in, L) and w (C_out, "
                         f"C_in/groups, K), got x {x.shape} and w {w.shape}")
    c_in, length = (1, x.shape[0]) if single else x.shape[-2:]
    c_out, c_g, k = (1, 1, w.shape[0]) if single else w.shape
    k, stride, pads, dilation, groups = conv_args(op, k, stride, padding, dilation, groups)
    if length < 1:
        raise ValueError(f"conv1d: the input x {x.shape} has length 0; there is nothing to "
                         f"convolve (weight w {w.shape})")
    if min(c_out, c_g) < 1:
        raise ValueError(f"conv1d: the weight w {w.shape} must have nonzero channel counts")
    if c_in % groups or c_out % groups:
        raise ValueError(f"conv1d: groups={groups} must divide C_in={c_in} and C_out={c_out}")
    if c_g * groups != c_in:
        raise ValueError(f"conv1d: x has {c_in} channels but w {w.shape} expects "
                         f"{c_g * groups} (w.shape[1] * groups={groups})")
    if b is not None:
        b = as_tensor(b, op, "b")
        if b.shape != (c_out,) and not (single and b.size == 1):
            raise ValueError(f"conv1d: b must have shape ({c_out},) for w {w.shape}, got {b.shape}")
    l_out = _out_len(length, sum(pads), k, stride, dilation, op)
    win = windows(length, k, stride, dilation, pads)  # (K, L_out): [k, i] = i*stride + k*dil
    # the scope also names the input and its windows (keys with "_": not printed), so that a
    # drawing shows x itself when its gather was not recorded (x needs no gradient)
    with scope("conv1d", stride=stride, padding=padding, dilation=dilation, groups=groups,
               _input=Descriptor(x), _windows=win):
        if single:  # (L,) -> (K, L_out); (K,) @ (K, L_out) -> (L_out,): three nodes in all
            out = w @ x.gather(win, axis=0)
            return out if b is None else out + b
        # Batch last: each gathered sample is a contiguous run of N values, the weight is used
        # as stored, and the contraction is one (C_out, C*K) @ (C*K, L_out*N) BLAS call. One
        # sample is already in that order: no transposes.
        n = x.shape[0] if x.ndim == 3 else 1
        xt, axis = (x.transpose(1, 2, 0), 1) if n != 1 else (x, x.ndim - 1)  # -> (C, L, N)
        cols = xt.gather(win, axis=axis)  # -> (C, K, L_out, N), or ([1,] C, K, L_out)
        grp = (groups,) if groups > 1 else ()  # a G axis of 1 costs numpy's batched loop
        cols = cols.reshape(grp + (c_g * k, l_out * n))  # -> ([G,] C_g*K, L_out*N)
        wm = w.reshape(grp + (c_out // groups, c_g * k))  # (C_out, C_g, K) -> ([G,] C_out/G, C_g*K)
        out = wm @ cols  # -> ([G,] C_out/G, L_out*N)
        if b is not None:  # here its gradient is a sum along contiguous rows
            out = out + b.reshape(grp + (c_out // groups, 1))
        if n != 1:  # -> (C_out, L_out, N) -> (N, C_out, L_out), a view
            return out.reshape(c_out, l_out, n).transpose(2, 0, 1)
        return out.reshape(x.shape[:-2] + (c_out, l_out))  # (C_out, L_out) or (1, C_out, L_out)


# ================================================================== pooling


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, op: str):
    """Checked arguments and the Windows geometry (with the extra right padding of ceil_mode)."""
    x = as_tensor(x, op, "x")
    if x.ndim not in (2, 3) or x.shape[-1] == 0:
        raise ValueError(f"{op}: expected x (N, C, L) or (C, L) with L >= 1, got shape {x.shape}")
    k, s, p, d = pool_args(op, kernel_size, stride, padding, dilation)
    length = x.shape[-1]
    l_out = _out_len(length, 2 * p, k, s, d, op)
    if ceil_mode and (length + 2 * p - d * (k - 1) - 1) % s:  # one more, partial window...
        l_out += (l_out * s < length + p)  # ...if it starts inside the input or left padding
    extra = max(0, (l_out - 1) * s + d * (k - 1) + 1 - (length + 2 * p))
    return x, windows(length, k, s, d, (p, p + extra))


def _batch_last(x: Tensor) -> tuple[Tensor, int]:
    """(N, C, L) -> (C, L, N), the windows' working layout (a view), and its length axis."""
    return (x.transpose(1, 2, 0), 1) if x.ndim == 3 else (x, 1)


def _batch_first(y: Tensor, like: Tensor) -> Tensor:
    """Undo _batch_last on a result (C, L_out, N) -> (N, C, L_out)."""
    return y.transpose(2, 0, 1) if like.ndim == 3 else y


def max_pool1d(x, kernel_size: int, stride: int | None = None, padding: int = 0,
               dilation: int = 1, ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows: (N, C, L) -> (N, C, L_out); stride defaults to kernel_size.

    Padding is -inf. The windows are gathered as for conv1d, the winner of each is found on the
    data and kept by a one-hot selection: the gradient goes to that one element (the first of
    equal maxima, as torch), and an element that wins several overlapping windows receives
    the sum, through the gather's scatter-add. return_indices=True also returns where each
    winner sits in x's last axis, as torch (an int64 array's Tensor, not differentiable)."""
    x, win = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d")
    with scope("max_pool1d", kernel_size=win.kernel_size, stride=win.stride,
               padding=padding):
        xt, axis = _batch_last(x)
        cols = xt.gather(win, axis=axis, value=-np.inf)  # (C, L, N) -> (C, K, L_out, N)
        pick = OPS["first_max"].apply(cols, axis=1)  # one-hot over K: the first maximum
        out = _batch_first(OPS["where"].apply(pick, cols, 0.0).sum(axis=1), x)
    if not return_indices:
        return out
    tap = OPS["arg"].apply(pick, fn="argmax", axis=1)  # (C, L_out, N): which tap won
    at = win.stride * np.arange(win.n_out).reshape((-1,) + (1,) * (pick.ndim - 3))
    return out, _batch_first(tap * win.dilation + constant(at - win.padding[0]), x)


def avg_pool1d(x, kernel_size: int, stride: int | None = None, padding: int = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows: (N, C, L) -> (N, C, L_out); stride defaults to kernel_size.

    Padding is zeros, counted in the mean unless count_include_pad=False; a ceil_mode window
    running past the padding counts only what it covers (all as torch)."""
    x, win = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d")
    k, p = win.kernel_size, win.padding[0]
    with scope("avg_pool1d", kernel_size=k, stride=win.stride, padding=p):
        xt, axis = _batch_last(x)
        total = xt.gather(win, axis=axis).sum(axis=1)  # (C, K, L_out, N) -> (C, L_out, N)
        total = _batch_first(total, x)  # -> (N, C, L_out)
        taps = win.index()  # (K, L_out), positions in the padded signal
        lo, hi = (0, x.shape[-1] + 2 * p) if count_include_pad else (p, x.shape[-1] + p)
        count = ((taps >= lo) & (taps < hi)).sum(axis=0)  # samples each window averages
        return total / k if (count == k).all() else total / count.astype(x.dtype)


def global_avg_pool1d(x) -> Tensor:
    """Mean over the length axis: (N, C, L) -> (N, C)."""
    x = as_tensor(x, "global_avg_pool1d", "x")
    with scope("global_avg_pool1d"):
        return x.mean(axis=-1)


# ================================================================== layers and activations


def linear(x, w, b=None) -> Tensor:
    """x @ w.T + b: x (..., in), w (out, in), b (out,) -> (..., out)."""
    x, w = as_tensor(x, "linear", "x"), as_tensor(w, "linear", "w")
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: x {x.shape} does not fit w {w.shape} (out, in): "
                         f"x.shape[-1] must equal w.shape[1]")
    if b is not None and (as_tensor(b, "linear", "b").shape != (w.shape[0],)):
        raise ValueError(f"linear: b must have shape ({w.shape[0]},), got {np.shape(b)}")
    with scope("linear"):
        out = x @ w.transpose()
        return out if b is None else out + b


def inplace_option(f):
    """Give the composite f torch's `inplace=` argument: F.relu(x, inplace=True) writes the
    result into x itself, through the engine's `inplace` (so a leaf that requires grad is
    refused, and a value backward still needs is never silently lost)."""
    @functools.wraps(f)
    def with_option(input, *args, inplace: bool = False, **kwargs):  # noqa: A002
        if not inplace:
            return f(input, *args, **kwargs)
        x = as_tensor(input, f.__name__, "input")
        return _write_in_place(x, f.__name__, lambda v: f(v, *args, **kwargs))
    return with_option


_write_in_place = inplace  # the engine's function, under a name the option doesn't hide


@inplace_option
def relu(x) -> Tensor:
    return as_tensor(x, "relu", "x").relu()


def sigmoid(x) -> Tensor:
    return as_tensor(x, "sigmoid", "x").sigmoid()


def tanh(x) -> Tensor:
    return as_tensor(x, "tanh", "x").tanh()


def softmax(x, axis: int = -1, *, dim=None) -> Tensor:
    """exp(x) / sum(exp(x)) along axis (or dim), shifted by the max for stability."""
    x = as_tensor(x, "softmax", "x")
    axis = normalize_axis(axis if dim is None else dim, x.ndim, "softmax")
    with scope("softmax", axis=axis):
        shift = OPS["stat"].apply(x, fn="max", axis=axis, keepdims=True)  # a constant shift:
        e = (x - shift).exp()  # it cancels, so the gradient is exact
        return e / e.sum(axis, keepdims=True)


def log_softmax(x, axis: int = -1, *, dim=None) -> Tensor:
    """x - logsumexp(x) along axis (or dim), stable for large inputs."""
    x = as_tensor(x, "log_softmax", "x")
    axis = normalize_axis(axis if dim is None else dim, x.ndim, "log_softmax")
    with scope("log_softmax", axis=axis):
        z = x - OPS["stat"].apply(x, fn="max", axis=axis, keepdims=True)  # cancels: exact
        return z - z.exp().sum(axis, keepdims=True).log()


def _joined(op: str, tensors, axis, dim):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{op}: tensors must be a non-empty list or tuple of Tensors")
    ts = [as_tensor(t, op, f"tensors[{i}]") for i, t in enumerate(tensors)]
    return ts, (axis if dim is None else dim)


def cat(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors along an existing axis (torch.cat, np.concatenate)."""
    ts, axis = _joined("cat", tensors, axis, dim)
    axis = normalize_axis(axis, ts[0].ndim, "cat")
    rest = ts[0].shape[:axis] + ts[0].shape[axis + 1:]  # what every piece must share
    for i, t in enumerate(ts):
        if t.ndim != ts[0].ndim or t.shape[:axis] + t.shape[axis + 1:] != rest:
            raise ValueError(f"cat: tensors[{i}] has shape {t.shape}, tensors[0] {ts[0].shape}: "
                             f"they must agree except along axis {axis}")
    return OPS["cat"].apply(*ts, axis=axis)


def stack(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors of one shape along a new axis (torch.stack, np.stack)."""
    ts, axis = _joined("stack", tensors, axis, dim)
    return OPS["stack"].apply(*ts, axis=normalize_axis(axis, ts[0].ndim + 1, "stack"))


def where(condition, x, y) -> Tensor:
    """x where condition holds, else y (broadcasting); the gradient follows the choice."""
    cond = condition if isinstance(condition, Tensor) else constant(np.asarray(condition))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    return OPS["where"].apply(cond, x, y)


def permute(x, *dims) -> Tensor:
    """Reorder every axis (torch.permute): x.permute(2, 0, 1) or x.permute((2, 0, 1))."""
    x = as_tensor(x, "permute", "x")
    dims = shape_args(dims, "permute")
    if len(dims) != x.ndim:
        raise ValueError(f"permute: {len(dims)} dims for a tensor with {x.ndim}")
    perm = tuple(normalize_axis(d, x.ndim, "permute") for d in dims)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of {x.ndim} axes")
    return x if perm == tuple(range(x.ndim)) else OPS["transpose"].apply(x, axes=perm)


# ================================================================== small composites
# Tensor methods too (attached at the end of this file): x.mean(), x.flatten(1), ...


def sqrt(x) -> Tensor:
    return as_tensor(x, "sqrt", "x") ** 0.5


def _count(shape: tuple, axes) -> int:
    """How many elements a reduction over `axes` (normalised) combines."""
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def mean(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Mean over axis (None: all); dim=/keepdim= as PyTorch."""
    x = as_tensor(x, "mean", "x")
    axis, keepdims = torch_spelling("mean", axis, keepdims, dim, keepdim)
    axes = normalize_axes(axis, x.ndim, "mean")
    return x.sum(axes, keepdims) / max(_count(x.shape, axes), 1)


def var(x, axis=None, keepdims: bool = False, correction: int = 1, *, dim=None, keepdim=None,
        unbiased=None) -> Tensor:
    """Variance with Bessel's correction by default, as torch.var (unbiased=False: none)."""
    x = as_tensor(x, "var", "x")
    axis, keepdims = torch_spelling("var", axis, keepdims, dim, keepdim)
    correction = correction if unbiased is None else int(bool(unbiased))
    axes = normalize_axes(axis, x.ndim, "var")
    d = x - x.mean(axes, keepdims=True)
    return (d * d).sum(axes, keepdims) / max(_count(x.shape, axes) - correction, 1)


def amin(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Minimum over axis: the max of -x, so ties share the gradient evenly (torch.amin)."""
    axis, keepdims = torch_spelling("amin", axis, keepdims, dim, keepdim)
    return -OPS["max"].method(-as_tensor(x, "amin", "x"), axis, keepdims)


def std(x, axis=None, keepdims: bool = False, correction: int = 1, *, dim=None, keepdim=None,
        unbiased=None) -> Tensor:
    """Standard deviation, the square root of var (Bessel's correction by default)."""
    return var(x, axis, keepdims, correction, dim=dim, keepdim=keepdim, unbiased=unbiased) ** 0.5


def flatten(x, start_axis: int = 0, end_axis: int = -1, *, start_dim=None,
            end_dim=None) -> Tensor:
    """Merge the axes start_axis..end_axis (start_dim..end_dim) into one."""
    x = as_tensor(x, "flatten", "x")
    start_axis = start_axis if start_dim is None else start_dim
    end_axis = end_axis if end_dim is None else end_dim
    if x.ndim == 0:
        return x.reshape(1)
    s, e = (normalize_axis(a, x.ndim, "flatten") for a in (start_axis, end_axis))
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


def unsqueeze(x, axis: int | None = None, *, dim=None) -> Tensor:
    """Insert an axis of size 1 at `axis` (or dim)."""
    x = as_tensor(x, "unsqueeze", "x")
    axis = axis if dim is None else dim
    axis = normalize_axis(axis, x.ndim + 1, "unsqueeze")
    return x.reshape(x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None, *, dim=None) -> Tensor:
    """Drop axes of size 1 (all of them, or the one named; another size is left alone)."""
    x = as_tensor(x, "squeeze", "x")
    axis = axis if dim is None else dim
    if axis is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    axis = normalize_axis(axis, x.ndim, "squeeze")
    return x if x.shape[axis] != 1 else x.reshape(x.shape[:axis] + x.shape[axis + 1:])


@inplace_option
def dropout(x, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity if not
    training). Draws from the package generator (tg.manual_seed)."""
    x = as_tensor(x, "dropout", "x")
    p = dropout_p(p, "dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return x * OPS["dropout_mask"].apply(shape=x.shape, p=p, dtype=x.dtype)


def batch_norm(x, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight=None, bias=None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5, *, num_batches_tracked: np.ndarray | None = None) -> Tensor:
    """Normalise each channel of x (N, C) or (N, C, L) over the batch (and length) axes, as
    torch's F.batch_norm (training=False by default: the running statistics).

    Training uses the batch statistics (biased variance) and updates the running arrays in
    place (unbiased variance, as torch), through the `running_stats` op, so that a replayed
    program updates them too; `num_batches_tracked` (a 0-d int array) counts the batches,
    and momentum=None averages them all alike. Evaluation uses the running statistics."""
    x = as_tensor(x, "batch_norm", "x")
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected x (N, C) or (N, C, L), got {x.shape}")
    axes = (0,) if x.ndim == 2 else (0, 2)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    with scope("batch_norm", training=training):
        if training:
            n = x.size // x.shape[1]
            if n < 2:
                raise ValueError(f"batch_norm: training needs more than one value per channel, "
                                 f"got input shape {x.shape}")
            mean = x.mean(axis=axes, keepdims=True)
            d = x - mean
            var = (d * d).mean(axis=axes, keepdims=True)
            if running_mean is not None:
                count = np.zeros((), np.int64) if num_batches_tracked is None \
                    else num_batches_tracked
                if momentum is None and num_batches_tracked is None:
                    raise ValueError("batch_norm: momentum=None (a cumulative average) needs "
                                     "num_batches_tracked")
                OPS["running_stats"].apply(mean, var, constant(running_mean),
                                           constant(running_var), constant(count),
                                           momentum=momentum, n=n)
        else:  # the running statistics as constants of the arrays themselves (read afresh)
            d = x - constant(running_mean).reshape(shape).to(x.dtype)
            var = constant(running_var).reshape(shape).to(x.dtype)
        # scale and shift are per channel: the full-size work is one multiply and one add
        scale = (var + eps) ** -0.5
        if weight is not None:
            scale = scale * weight.reshape(shape)
        out = d * scale
        return out if bias is None else out + bias.reshape(shape)


# ================================================================== losses


def check_reduction(reduction, op: str) -> str:
    """PyTorch's reduction= for losses: 'mean', 'sum' or 'none'."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def reduce_loss(loss: Tensor, reduction: str, op: str) -> Tensor:
    """A loss per element reduced as PyTorch's reduction= says: mean, sum or none."""
    reduction = check_reduction(reduction, op)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _class_index(target, n: int, c: int, op: str) -> np.ndarray:
    t = as_index(target, op, "class targets").astype(np.intp)
    if t.shape != (n,):
        raise ValueError(f"{op}: class target must have shape ({n},), got {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise IndexError(f"{op}: target class {t.min() if t.min() < 0 else t.max()} is out of "
                         f"range for {c} classes")
    return t


def _per_position(loss, x: Tensor, target, reduction: str, *args) -> Tensor:
    """loss over x (N, C, d1, ...) as torch: every position is one sample of C scores, so x
    becomes (N*d1*..., C) and target (N, d1, ...), or (N, C, d1, ...) probabilities, to match."""
    last = (0,) + tuple(range(2, x.ndim)) + (1,)  # the class axis moved last
    t = target if isinstance(target, Tensor) else np.asarray(target)
    if t.shape == x.shape:
        t = t.transpose(last).reshape(-1, x.shape[1])
    elif t.shape == x.shape[:1] + x.shape[2:]:
        t = t.reshape(-1)
    else:
        raise ValueError(f"{loss.__name__}: target {t.shape} fits neither input {x.shape} "
                         f"nor its positions {x.shape[:1] + x.shape[2:]}")
    out = loss(x.transpose(last).reshape(-1, x.shape[1]), t, reduction, *args)
    return out.reshape(x.shape[:1] + x.shape[2:]) if reduction == "none" else out


def nll_loss(logp, target, reduction: str = "mean") -> Tensor:
    """-logp[i, target[i]] for log-probabilities (N, C) and class indices (N,); (N, C, d1, ...)
    with targets (N, d1, ...) scores every position."""
    logp = as_tensor(logp, "nll_loss", "logp")
    if logp.ndim > 2:
        return _per_position(nll_loss, logp, target, reduction)
    if logp.ndim != 2:
        raise ValueError(f"nll_loss: expected log-probabilities (N, C), got {logp.shape}")
    _class_index(target, logp.shape[0], logp.shape[1], "nll_loss")  # checked, not used:
    t = target if isinstance(target, Tensor) else constant(np.asarray(target))  # the labels
    picked = OPS["take_along"].apply(logp, t.reshape(-1, 1), dim=1)  # are an input, read as data
    return reduce_loss(-picked.reshape(-1), reduction, "nll_loss")


def cross_entropy(logits, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) (or (C,)) against class indices (N,) or class
    probabilities / one-hot rows (N, C); computed via log_softmax, so stable for large logits.
    label_smoothing=e mixes the target with the uniform distribution: (1 - e) q + e / C.
    Logits (N, C, d1, ...) score every position, with targets (N, d1, ...)."""
    op = "cross_entropy"
    logits = as_tensor(logits, op, "logits")
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if logits.ndim == 1:  # one unbatched sample
        t = target.data if isinstance(target, Tensor) else np.asarray(target)
        out = cross_entropy(logits.reshape(1, -1), t.reshape((1,) + t.shape), reduction, eps)
        return out[0] if reduction == "none" else out
    if logits.ndim > 2:
        return _per_position(cross_entropy, logits, target, reduction, eps)
    with scope(op, reduction=reduction):
        logp = logits.log_softmax(axis=1)
        tshape = np.shape(target.data if isinstance(target, Tensor) else target)
        if tshape == logits.shape and len(tshape) == 2:  # probabilities or one-hot rows
            p = lift((logits, target), op)[1]
            if eps:
                p = p * (1 - eps) + eps / logits.shape[1]
            return reduce_loss(-(p * logp).sum(axis=1), reduction, op)
        if not eps:
            return nll_loss(logp, target, reduction)
        loss = nll_loss(logp, target, "none") * (1 - eps) - logp.mean(axis=1) * eps
        return reduce_loss(loss, reduction, op)


def pointwise_loss(op: str, input, target, reduction: str, f) -> Tensor:
    """f(input, target), elementwise on two tensors of one shape, reduced: every loss that
    compares each element with its target is this (mse, l1, smooth_l1, huber, bce, ...)."""
    x = as_tensor(input, op, "input")
    t = lift((x, target), op)[1]
    if x.shape != t.shape:
        raise ValueError(f"{op}: input {x.shape} and target {t.shape} differ in shape")
    check_reduction(reduction, op)
    with scope(op, reduction=reduction):
        return reduce_loss(f(x, t), reduction, op)


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error between tensors of the same shape."""
    def squared(x, t):
        d = x - t
        return d * d
    return pointwise_loss("mse_loss", input, target, reduction, squared)
