"""Everyday composites with PyTorch's names: elementwise helpers (clamp, masked_fill, lerp,
minimum, maximum), reductions (logsumexp, amax, norm), movements (flip, repeat, split, chunk,
roll), layer and group norm, embedding, transposed convolution, resizing (interpolate,
adaptive pools), F.pad, sorting and integer arithmetic; each a short expression over the
primitives and the core composites, with no backward of its own. Kept apart from core.py so
that the core's size budget keeps measuring the engine (docs/architecture.md).
"""
from __future__ import annotations

import numpy as np

from ..tensor import OPS, Tensor, as_index, as_tensor, constant, lift, normalize_axes
from ..tensor import normalize_axis, read_back, scope, shape_args, torch_spelling
from .core import cat, check_int, conv_args, where, windows
from .indexing import MinMax, argsort, take_along

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "amax", "ceil", "chunk", "clamp",
           "conv_transpose1d", "embedding", "flip", "floor", "floor_divide", "fmod",
           "group_norm", "interpolate", "layer_norm", "lerp", "logsumexp", "masked_fill",
           "maximum", "minimum", "norm", "normalize", "one_hot", "outer", "pad", "remainder",
           "repeat", "roll", "round_", "sign", "sort", "split", "topk", "trunc"]


def minimum(x, y) -> Tensor:
    """Elementwise minimum: -max(-x, -y), so ties split the gradient as maximum's do."""
    x = as_tensor(x, "minimum", "x")
    return -OPS["maximum"].apply(-x, -lift((x, y), "minimum")[1])


def maximum(x, y) -> Tensor:
    """Elementwise maximum; ties split the gradient evenly, as torch.maximum."""
    return OPS["maximum"].apply(*lift((x, y), "maximum"))


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's argument names
    """min(max(x, min), max), either bound None or a Tensor (elementwise); the gradient goes
    to x inside the bounds (bounds included, as PyTorch) and to a Tensor bound where it
    wins. A min above max gives max everywhere, as torch."""
    x = as_tensor(x, "clamp", "x")
    if min is None and max is None:
        raise ValueError("clamp: give min, max or both")
    low = x if min is None else where(x < min, min, x)
    return low if max is None else where(low > max, max, low)


def masked_fill(x, mask, value: float) -> Tensor:
    """x with `value` where the boolean mask (broadcast to x) is set."""
    x = as_tensor(x, "masked_fill", "x")
    mask = mask if isinstance(mask, Tensor) else constant(np.asarray(mask))
    if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    return where(mask, value, x)


def lerp(x, end, weight) -> Tensor:
    """x + weight * (end - x)."""
    x = as_tensor(x, "lerp", "x")
    return x + (end - x) * weight


def logsumexp(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """log(sum(exp(x))) over axis (or dim), shifted by the max so that it never overflows."""
    x = as_tensor(x, "logsumexp", "x")
    axis, keepdims = torch_spelling("logsumexp", axis, keepdims, dim, keepdim)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    if x.size:  # the max as a constant shift (it cancels: exact gradient), 0 if not finite
        top = OPS["stat"].apply(x, fn="max", axis=axes, keepdims=True)
        top = where(OPS["predicate"].apply(top, fn="isfinite"), top, 0.0)
    else:
        top = constant(np.zeros((1,) * x.ndim, x.dtype))
    out = (x - top).exp().sum(axes, keepdims=True).log() + top
    kept = () if axes is None else tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return out if keepdims else out.reshape(kept)


def amax(x, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Maximum over axis (or dim); ties share the gradient evenly (torch.amax)."""
    axis, keepdims = torch_spelling("amax", axis, keepdims, dim, keepdim)
    return OPS["max"].method(as_tensor(x, "amax", "x"), axis, keepdims)


def norm(x, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm over dim (all elements when None): p = 2 (default), 1, inf or any p > 0.
    Its gradient at the zero vector is 0, as PyTorch's, not 0 * inf."""
    x = as_tensor(x, "norm", "x")
    axes = normalize_axes(dim, x.ndim, "norm")
    if p == np.inf:
        return OPS["max"].method(x.abs(), axes, keepdim)
    if not isinstance(p, (int, float)) or p <= 0:
        raise ValueError(f"norm: p must be a number > 0 or inf, got {p!r}")
    if p == 1:
        return x.abs().sum(axes, keepdim)
    total = (x * x).sum(axes, keepdim) if p == 2 else (x.abs() ** p).sum(axes, keepdim)
    zero = total == 0  # a 0 total takes the constant branch: gradient 0, not 0 * inf
    return where(zero, 0.0, where(zero, 1.0, total) ** (1 / p))


def normalize(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x divided by its p-norm along dim, the norm held at eps or above (torch's F.normalize):
    a zero vector stays zero instead of becoming 0 / 0."""
    x = as_tensor(x, "normalize", "x")
    return x / norm(x, p, dim, keepdim=True).clamp(min=eps)


def roll(x, shifts, dims=None) -> Tensor:
    """Shift elements along dims, wrapping around (torch.roll); dims=None rolls the
    flattened tensor and restores its shape."""
    x = as_tensor(x, "roll", "x")
    if dims is None:
        return roll(x.reshape(-1), shifts, 0).reshape(x.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    for s, d in zip(shifts, dims):
        d = normalize_axis(d, x.ndim, "roll")
        n = x.shape[d]
        k = int(s) % n if n else 0
        if k:
            pre = (slice(None),) * d
            x = cat([x[pre + (slice(n - k, None),)], x[pre + (slice(0, n - k),)]], d)
    return x


def flip(x, *dims_, dims=None) -> Tensor:
    """Reverse the order along each of dims (torch.flip: x.flip(0), x.flip([0, 1]),
    x.flip(dims=(1,)))."""
    x = as_tensor(x, "flip", "x")
    dims = dims_ if dims is None else ((dims,) if isinstance(dims, int) else tuple(dims))
    axes = normalize_axes(shape_args(dims, "flip"), x.ndim, "flip") or ()
    return x[tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))]


def repeat(x, *sizes) -> Tensor:
    """Tile x: x.repeat(2, 3) of an (a, b) tensor is (2a, 3b) (torch.Tensor.repeat)."""
    x = as_tensor(x, "repeat", "x")
    sizes = shape_args(sizes, "repeat")
    if len(sizes) < x.ndim or min(sizes, default=1) < 0:
        raise ValueError(f"repeat: sizes {sizes} must be >= 0, one per axis of {x.shape}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    tiled = x.reshape(sum(((1, n) for n in shape), ()))  # (1, a, 1, b)
    tiled = tiled.expand(sum(((r, n) for r, n in zip(sizes, shape)), ()))  # (2, a, 3, b)
    return tiled.reshape(tuple(r * n for r, n in zip(sizes, shape)))


def split(x, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces along dim: each of split_size (the last may be shorter), or of the sizes listed."""
    x = as_tensor(x, "split", "x")
    dim = normalize_axis(dim, x.ndim, "split")
    n = x.shape[dim]
    sizes = split_size_or_sections
    if isinstance(sizes, (int, np.integer)):
        if sizes < 1:
            raise ValueError(f"split: split_size must be >= 1, got {sizes}")
        sizes = [min(sizes, n - at) for at in range(0, n, sizes)]
    if sum(sizes) != n:
        raise ValueError(f"split: sections {list(sizes)} do not add up to {n} (dim {dim})")
    pre, out, at = (slice(None),) * dim, [], 0
    for k in sizes:
        out.append(x[pre + (slice(at, at + k),)])
        at += k
    return tuple(out)


def chunk(x, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """About equal pieces along dim, each of ceil(n / chunks) (the last may be shorter)."""
    x = as_tensor(x, "chunk", "x")
    if not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be an int >= 1, got {chunks!r}")
    n = x.shape[normalize_axis(dim, x.ndim, "chunk")]
    return split(x, max(1, -(-n // chunks)), dim)


def _step(fn: str):
    """A piecewise-constant function (the `step` primitive): its gradient is zeros, as
    torch's."""
    def f(x) -> Tensor:
        return OPS["step"].apply(as_tensor(x, fn, "input"), fn=fn)
    f.__name__, f.__doc__ = fn, f"{fn}(x), elementwise; its gradient is 0."
    return f


sign, floor, ceil, round_, trunc = (_step(f) for f in ("sign", "floor", "ceil", "round", "trunc"))


# ================================================================== normalisation and lookup


def _normalized(x: Tensor, axes: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over axes, with the biased variance (as the norms use)."""
    d = x - x.mean(axes, keepdims=True)
    return d * ((d * d).mean(axes, keepdims=True) + eps) ** -0.5


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) axes, then scale by weight and shift by
    bias (both of normalized_shape), as torch.nn.functional.layer_norm."""
    x = as_tensor(x, "layer_norm", "x")
    shape = shape_args((normalized_shape,) if isinstance(normalized_shape, int)
                       else (tuple(normalized_shape),), "layer_norm")
    if not shape or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not end the input's "
                         f"shape {x.shape}")
    out = _normalized(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def group_norm(x, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise x (N, C, ...) over each group of C / num_groups channels (and every other
    axis), then scale and shift per channel, as torch.nn.functional.group_norm."""
    x = as_tensor(x, "group_norm", "x")
    groups_ok = isinstance(num_groups, (int, np.integer)) and num_groups >= 1
    if x.ndim < 2 or not groups_ok or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups!r} must divide the channels of "
                         f"an input (N, C, ...), got shape {x.shape}")
    n, c = x.shape[:2]
    grouped = x.reshape(n, num_groups, -1)  # (N, C, *) -> (N, G, C/G * rest)
    out = _normalized(grouped, (2,), eps).reshape(x.shape)
    per_channel = (c,) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * as_tensor(weight, "group_norm", "weight").reshape(per_channel)
    return out if bias is None else out + as_tensor(bias, "group_norm", "bias").reshape(per_channel)


def embedding(input, weight, padding_idx=None) -> Tensor:
    """Rows of weight (num_embeddings, dim) picked by the integer input: (*,) -> (*, dim). A
    row read by several tokens gets the sum of their gradients (the gather rule of conv1d);
    the padding_idx row gets none."""
    weight = as_tensor(weight, "embedding", "weight")
    idx = as_index(getattr(input, "data", input), "embedding", "input")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range for {weight.shape[0]} "
                         f"embeddings (weight {weight.shape})")
    tokens = input if isinstance(input, Tensor) else constant(idx)  # an input, read as data
    at = tokens.reshape(-1, 1).expand(idx.size, weight.shape[1])  # (*,) -> (M, dim)
    rows = take_along(weight, 0, at).reshape(idx.shape + (weight.shape[1],))
    if padding_idx is None:
        return rows
    keep = (tokens != padding_idx % weight.shape[0]).reshape(idx.shape + (1,))
    return where(keep, rows, rows.detach())  # the padding row: same values, no gradient


# ================================================================== transposed conv, resizing


def conv_transpose1d(x, w, b=None, stride: int = 1, padding: int = 0, output_padding: int = 0,
                     groups: int = 1, dilation: int = 1) -> Tensor:
    """The adjoint of conv1d as a layer: x (N, C_in, L), w (C_in, C_out // groups, K), b
    (C_out,) -> (N, C_out, L_out), L_out = (L-1)*stride - 2*padding + dilation*(K-1) +
    output_padding + 1.

    Built from the same pieces as conv1d, run backwards: one matmul w^T @ x gives every
    window's contribution, and the window scatter-add (the gradient of conv1d's gather) adds
    the overlapping windows into the output signal; then the padding is cut off."""
    op = "conv_transpose1d"
    x, w = as_tensor(x, op, "x"), as_tensor(w, op, "w")
    if x.ndim == 2 and w.ndim == 3:  # unbatched (C_in, L), as torch: a batch of one
        y = conv_transpose1d(x.reshape((1,) + x.shape), w, b, stride, padding, output_padding,
                             groups, dilation)
        return y.reshape(y.shape[1:])  # (1, C_out, L_out) -> (C_out, L_out)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"{op}: expected x (N, C_in, L) or (C_in, L) and w (C_in, "
                         f"C_out/groups, K), got x {x.shape} and w {w.shape}")
    (n, c_in, length), (_, c_g, k) = x.shape, w.shape
    k, stride, (pad, _), dilation, groups = conv_args(op, k, stride, padding, dilation, groups)
    out_pad = check_int(output_padding, op, "output_padding", 0)
    if out_pad >= max(stride, dilation):
        raise ValueError(f"{op}: output_padding={out_pad} must be below stride={stride} or "
                         f"dilation={dilation}")
    if w.shape[0] != c_in or c_in % groups:
        raise ValueError(f"{op}: w {w.shape} needs C_in={c_in} rows, divisible by groups="
                         f"{groups}")
    full = (length - 1) * stride + dilation * (k - 1) + 1 + out_pad  # before cutting padding
    c_out = c_g * groups
    if full - 2 * pad < 1:
        raise ValueError(f"{op}: padding={pad} leaves no output for input length {length}")
    with scope(op, stride=stride, padding=pad, dilation=dilation, groups=groups):
        # (N, C_in, L) -> (C_in, L, N) -> (G, C_in/G, L*N); w -> (G, C_in/G, C_out/G*K)
        xt = x.transpose(1, 2, 0).reshape(groups, c_in // groups, length * n)
        wm = w.reshape(groups, c_in // groups, c_g * k)
        cols = (wm.transpose(0, 2, 1) @ xt).reshape(c_out, k, length, n)  # -> (C_out, K, L, N)
        reach = full - out_pad  # the last sample a window writes, + 1
        win = windows(reach, k, stride, dilation)  # exactly L windows
        y = OPS["scatter_add"].apply(cols, index=win, axis=1, size=reach)  # (C_out, reach, N)
        if full - pad > reach:  # output_padding past every window: zeros there (bias only)
            y = y.pad(((0, 0), (0, full - pad - reach), (0, 0)))
        y = y[:, pad:full - pad]
        if b is not None:
            y = y + as_tensor(b, op, "b").reshape(c_out, 1, 1)
        return y.transpose(2, 0, 1)  # (C_out, L_out, N) -> (N, C_out, L_out)


def _adaptive(x, output_size, op: str):
    """x checked, and the gather index (K, out) of torch's adaptive windows: window i covers
    floor(i L / out) .. ceil((i + 1) L / out), so their lengths differ by at most one; a
    shorter window repeats its last sample in the spare taps (`short` marks them)."""
    x = as_tensor(x, op, "input")
    if x.ndim not in (2, 3) or x.shape[-1] == 0:
        raise ValueError(f"{op}: expected input (N, C, L) or (C, L) with L >= 1, got {x.shape}")
    out = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    out = check_int(out, op, "output_size", 1)
    n = x.shape[-1]
    i = np.arange(out)
    start, end = (i * n) // out, -((-(i + 1) * n) // out)  # floor and ceil
    taps = np.arange(int((end - start).max()))[:, None]  # (K, 1)
    short = start + taps >= end  # (K, out): taps past a window's end
    return x, np.where(short, end - 1, start + taps), short


def adaptive_avg_pool1d(x, output_size) -> Tensor:
    """The mean over each of output_size windows spread evenly over the length: (N, C, L) ->
    (N, C, output_size), as torch."""
    x, index, short = _adaptive(x, output_size, "adaptive_avg_pool1d")
    weight = (~short) / (~short).sum(axis=0)  # 1 / window length on the real taps
    cols = x.gather(index, x.ndim - 1)  # (..., L) -> (..., K, out)
    return (cols * constant(weight.astype(x.dtype))).sum(x.ndim - 1)


def adaptive_max_pool1d(x, output_size, return_indices: bool = False):
    """The maximum of each of output_size evenly spread windows, as torch: the gradient goes
    to the first maximum of each window (with return_indices, also where it sits)."""
    x, index, _ = _adaptive(x, output_size, "adaptive_max_pool1d")
    cols = x.gather(index, x.ndim - 1)  # (..., K, out); a repeated tap is the same sample
    tap = cols.argmax(dim=x.ndim - 1, keepdim=True)  # (..., 1, out): the first maximum
    values = take_along(cols, x.ndim - 1, tap).squeeze(x.ndim - 1)
    if not return_indices:
        return values
    where_in_x = constant(np.broadcast_to(index, cols.shape).astype(np.int64))
    return values, take_along(where_in_x, x.ndim - 1, tap).squeeze(x.ndim - 1)


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None) -> Tensor:
    """Resize the last axis of x (N, C, L), as torch.nn.functional.interpolate for 1-D:
    nearest (each output reads one input sample) or linear (a weighted pair), both gathers,
    so an input sample read by several outputs gets the sum of their gradients."""
    x = as_tensor(x, "interpolate", "x")
    if x.ndim != 3:
        raise ValueError(f"interpolate: expected x (N, C, L), got {x.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    n_in = x.shape[2]
    n_out = int(size) if size is not None else int(np.floor(n_in * scale_factor))
    if n_out < 1:
        raise ValueError(f"interpolate: output length {n_out} from size={size}, "
                         f"scale_factor={scale_factor}")
    scale = n_in / n_out if scale_factor is None else 1 / scale_factor
    dst = np.arange(n_out)
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError("interpolate: align_corners only applies to mode='linear'")
        return x.gather(np.minimum(np.floor(dst * scale).astype(np.intp), n_in - 1), 2)
    if mode != "linear":
        raise ValueError(f"interpolate: mode must be 'nearest' or 'linear', got {mode!r}")
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (src - lo).astype(x.dtype)
    return x.gather(lo, 2) * (1 - frac) + x.gather(hi, 2) * frac


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's F.pad: `pad` lists (left, right) for the last axis first, then the one
    before; a negative width cuts samples off instead. Constant pads with `value`; reflect,
    replicate and circular read x itself, as a gather with an index into x, so padded copies
    pass their gradients back to the samples they copy.

    As PyTorch: reflect and replicate map each output position, counted from -left, onto x
    (so a reflection may reach past a cut), while circular cuts first and wraps what is left."""
    x = as_tensor(x, "pad", "x")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim or not all(
            isinstance(p, (int, np.integer)) for p in pad):
        raise ValueError(f"pad: pad {pad!r} must be int pairs, at most one per axis of shape "
                         f"{x.shape}")
    if mode != "constant" and mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or "
                         f"'circular', got {mode!r}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]  # last axis first
    if mode != "constant" and x.ndim not in (len(pairs) + 1, len(pairs) + 2):
        raise ValueError(f"pad: {mode} padding of {len(pairs)} axes needs an input of "
                         f"{len(pairs) + 1} or {len(pairs) + 2} dimensions (batch and channel "
                         f"first), got shape {x.shape}")
    for k, (left, right) in enumerate(pairs):  # check every axis before recording anything
        axis = x.ndim - 1 - k
        n = x.shape[axis]
        kept = n - max(0, -left) - max(0, -right)  # what the cuts leave
        if n == 0 and mode != "constant":
            raise ValueError(f"pad: {mode} padding reads samples, and axis {axis} of shape "
                             f"{x.shape} has none")
        # constant and circular cut first; reflect and replicate need an output to map
        if kept < 0 if mode in ("constant", "circular") else n + left + right < 1:
            raise ValueError(f"pad: ({left}, {right}) cuts more than axis {axis} of size {n} "
                             f"has (shape {x.shape})")
        widest = max(left, right, 0)
        if widest and (widest >= n if mode == "reflect" else
                       mode == "circular" and widest > kept):
            raise ValueError(f"pad: {mode} padding ({left}, {right}) is too wide for axis "
                             f"{axis} of size {n} (shape {x.shape})")
    if mode == "constant":
        cut = tuple(slice(max(0, -a), x.shape[x.ndim - 1 - k] - max(0, -b))
                    for k, (a, b) in reversed(list(enumerate(pairs))))
        if any(a < 0 or b < 0 for a, b in pairs):
            x = x[(slice(None),) * (x.ndim - len(pairs)) + cut]
        widths = tuple((max(a, 0), max(b, 0)) for a, b in reversed(pairs))
        if any(a or b for a, b in widths):
            x = x.pad(((0, 0),) * (x.ndim - len(pairs)) + widths, value)
        return x
    for k, (left, right) in enumerate(pairs):
        if left or right:
            axis = x.ndim - 1 - k
            x = x.gather(_pad_index(x.shape[axis], left, right, mode), axis)
    return x


def _pad_index(n: int, left: int, right: int, mode: str) -> np.ndarray:
    """Which sample of an axis of n each padded position reads (see pad)."""
    if mode == "circular":  # cut, then wrap around what is left
        start = max(0, -left)
        kept = np.arange(start, n - max(0, -right))
        return np.pad(kept, (max(left, 0), max(right, 0)), mode="wrap")
    i = np.arange(-left, n + right)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    period = 2 * (n - 1)  # reflect without repeating the edge: 0 1 2 1 0 1 2 ...
    i = np.abs(i) % period if period else np.zeros_like(i)
    return np.where(i < n, i, period - i)


# ================================================================== sorting, integer arithmetic


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False) -> MinMax:
    """(values, indices) along dim, as torch.sort. The values are a gather, so each carries
    its own element's gradient; equal values keep their order (always stable)."""
    x = as_tensor(x, "sort", "x")
    dim = normalize_axis(dim, x.ndim, "sort")
    idx = argsort(x, dim, descending)
    return MinMax(take_along(x, dim, idx), idx)


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> MinMax:  # noqa: A002
    """The k largest (or smallest) along dim, as torch.topk: (values, indices), values
    gathered (differentiable), largest first; ties keep their order."""
    x = as_tensor(x, "topk", "x")
    dim = normalize_axis(dim, x.ndim, "topk")
    k = check_int(k, "topk", "k", 0)
    if k > x.shape[dim]:
        raise ValueError(f"topk: k={k} is more than the {x.shape[dim]} values along dim {dim} "
                         f"of shape {x.shape}")
    order = argsort(x, dim, largest)
    idx = order[(slice(None),) * dim + (slice(0, k),)]  # the first k positions along dim
    return MinMax(take_along(x, dim, idx), idx)


def outer(x, y) -> Tensor:
    """x (n,) times y (m,) -> (n, m), as torch.outer."""
    x, y = as_tensor(x, "outer", "x"), as_tensor(y, "outer", "y")
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer: expected two vectors, got shapes {x.shape} and {y.shape}")
    return x.reshape(-1, 1) * y.reshape(1, -1)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """Class indices (*,) -> (*, num_classes) of 0 and 1, int64 (torch's F.one_hot);
    num_classes=-1 takes the largest index + 1."""
    idx = as_index(getattr(tensor, "data", tensor), "one_hot", "tensor")
    if idx.size and idx.min() < 0:
        raise ValueError(f"one_hot: class indices must be >= 0, got {idx.min()}")
    labels = tensor if isinstance(tensor, Tensor) else constant(idx)
    if num_classes == -1 and isinstance(tensor, Tensor):
        read_back(tensor, "one_hot (num_classes=-1 reads the largest label)")
    n = int(idx.max()) + 1 if num_classes == -1 and idx.size else num_classes
    if n < 1 or (idx.size and idx.max() >= n):
        raise ValueError(f"one_hot: num_classes={num_classes} does not hold index "
                         f"{idx.max() if idx.size else '(none)'}")
    hot = labels.reshape(idx.shape + (1,)) == constant(np.arange(n))
    return OPS["convert"].apply(hot, dtype=np.int64)


def floor_divide(x, y) -> Tensor:
    """x // y: floor(x / y) computed exactly (numpy's floor_divide), with a zero gradient
    (torch's div(rounding_mode="floor") gives the same; its `//` refuses a backward)."""
    return OPS["floor_divide"].apply(*lift((x, y), "floor_divide"))


def remainder(x, y) -> Tensor:
    """x % y = x - floor(x / y) * y, with the sign of y (Python's and torch.remainder's): the
    gradient is 1 for x and -floor(x / y) for y. Integer tensors stay integers."""
    x, y = lift((x, y), "remainder")
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":  # exact integer arithmetic
        return x - floor_divide(x, y) * y
    return x - floor(x / y) * y


def fmod(x, y) -> Tensor:
    """x - trunc(x / y) * y, with the sign of x (C's fmod, torch.fmod)."""
    x, y = lift((x, y), "fmod")
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":
        read_back(x, "fmod of integers")
        read_back(y, "fmod of integers")
        return constant(np.fmod(x.data, y.data))
    return x - trunc(x / y) * y
