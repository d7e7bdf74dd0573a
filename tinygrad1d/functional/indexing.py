"""PyTorch's index-based tensor ops as composites: torch's gather and scatter_add, scatter,
index_select, index_add, narrow, unbind, masked_select, index_put (what `x[i] = v` does),
tril/triu, repeat_interleave, movedim, unflatten, and the (values, indices) reductions
max(dim), min(dim), median(dim), with sort-based argsort.

Each is an expression over the primitives `take_along` (read at positions given by an index
tensor), `put_along` (its adjoint: add there), `getitem`/`index_scatter` (a fixed index) and
`gather` (numpy's take), so each has the gradient rule of those: an element read by several
outputs receives the sum of their gradients. Positions computed from the data (argmax,
argsort, labels) stay tensors, so a replayed or exported program reads them afresh.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..ops import Arg, IndexScatter, PutAlong, Reshape, TakeAlong, Where, normalize_index
from ..tensor import Tensor, as_index, as_tensor, constant, normalize_axis, read_back
from ..tensor import shape_args

__all__ = ["MinMax", "argsort", "index_add", "index_put", "index_select", "masked_select",
           "median", "movedim", "narrow", "scatter", "pick", "scatter_add", "take_along",
           "tril", "triu", "unbind", "unflatten", "repeat_interleave"]

MinMax = namedtuple("MinMax", ["values", "indices"])  # what torch.max(x, dim) returns


def _index_tensor(index) -> Tensor:
    """An index as a tensor input: itself if a Tensor, else a constant of its integers."""
    return index if isinstance(index, Tensor) else constant(as_index(index, "index"))


def take_along(x, dim: int, index) -> Tensor:
    """torch.gather(x, dim, index): out[i][j] = x[i][index[i][j]] (for dim 1); index has x's
    number of dims and is no larger than x on the other axes."""
    x = as_tensor(x, "gather", "input")
    dim = normalize_axis(dim, x.ndim, "gather")
    idx = _index_tensor(index)
    if idx.ndim == x.ndim and any(a > b for i, (a, b) in enumerate(zip(idx.shape, x.shape))
                                  if i != dim):
        raise ValueError(f"gather: index of shape {idx.shape} does not fit input {x.shape} "
                         f"along dim {dim} (no larger on the other dims)")
    try:
        return TakeAlong.apply(x, idx, dim=dim)
    except (ValueError, IndexError) as e:  # the primitive's message, under torch's name
        raise type(e)(str(e).replace("take_along", "gather")) from None


def _scatter_index(x: Tensor, dim, index, op: str) -> tuple:
    """(dim, the index as a tensor) of the scatter family, checked against x."""
    dim = normalize_axis(dim, x.ndim, op)
    idx = _index_tensor(index)
    if idx.ndim != x.ndim or any(a > b for i, (a, b) in enumerate(zip(idx.shape, x.shape))
                                 if i != dim):
        raise ValueError(f"{op}: index of shape {idx.shape} does not fit the tensor {x.shape} "
                         f"outside dim {dim} (same number of dims, no larger)")
    return dim, idx


def _source(src, idx: Tensor, op: str) -> Tensor:
    """src read over the index's shape (torch reads the leading block of a larger src)."""
    src = as_tensor(src, op, "src")
    if src.ndim != idx.ndim or any(a > b for a, b in zip(idx.shape, src.shape)):
        raise ValueError(f"{op}: src of shape {src.shape} must cover index {idx.shape}")
    return src if src.shape == idx.shape else src[tuple(slice(n) for n in idx.shape)]


def scatter_add(x, dim: int, index, src) -> Tensor:
    """torch's x.scatter_add(dim, index, src): x with src[i][j] added at x[i][index[i][j]]
    (dim 1); repeated positions add up."""
    x = as_tensor(x, "scatter_add", "input")
    dim, idx = _scatter_index(x, dim, index, "scatter_add")
    try:
        return x + PutAlong.apply(_source(src, idx, "scatter_add"), idx, dim=dim, shape=x.shape)
    except (ValueError, IndexError) as e:
        raise type(e)(str(e).replace("put_along", "scatter_add")) from None


def scatter(x, dim: int, index, src=None, *, value=None) -> Tensor:
    """torch's x.scatter(dim, index, src) (or a number: src=1.0, value=1.0): x with
    x[i][index[i][j]] = src[i][j] (dim 1). A position named twice keeps one value (torch
    leaves which undefined; here the last), and its gradient goes to that one."""
    x = as_tensor(x, "scatter", "input")
    if (src is None) == (value is None):
        raise TypeError("scatter: give src (a Tensor or a number) or value (a number)")
    dim, idx = _scatter_index(x, dim, index, "scatter")
    read_back(idx, "scatter (which positions are written decides the result; scatter_add "
                   "reads its index as data)")
    where = list(np.ogrid[tuple(slice(n) for n in idx.shape)])
    where[dim] = as_index(idx.data, "scatter") % x.shape[dim] if x.shape[dim] else idx.data
    fill = src if value is None else value
    if not isinstance(fill, (int, float)) or isinstance(fill, bool):
        fill = _source(fill, idx, "scatter")
    return index_put(x, tuple(where), fill)


def index_put(x, index, value, accumulate: bool = False) -> Tensor:
    """x with x[index] = value (what `x[index] = value` does, out of place): the gradient
    goes to value at the positions written and to x everywhere else. With accumulate=True,
    x[index] += value instead, repeated positions adding up."""
    x = as_tensor(x, "index_put", "input")
    index = normalize_index(index)
    try:
        written = np.zeros(x.shape, bool)
        written[index] = True
        target = x.data[index].shape
    except IndexError as e:
        raise IndexError(f"index_put: index {index!r} is invalid for shape {x.shape}: {e}") \
            from None
    v = as_tensor(value, "index_put", "value") if not isinstance(value, (int, float)) else value
    if isinstance(v, Tensor):
        try:
            np.broadcast_to(v.data, target)
        except ValueError:
            raise ValueError(f"index_put: value of shape {v.shape} does not broadcast to the "
                             f"{target} elements indexed") from None
        v = v.expand(target) if v.shape != target else v
        if v.dtype != x.dtype:
            v = v.to(x.dtype)
    else:
        v = constant(np.full(target, value, x.dtype))
    if accumulate:
        return x + IndexScatter.apply(v, index=index, shape=x.shape)
    placed = IndexScatter.apply(_last_wins(v, index, x.shape), index=index, shape=x.shape)
    return Where.apply(constant(written), placed, x)


def _last_wins(v: Tensor, index: tuple, shape) -> Tensor:
    """v with the values of a position named more than once zeroed except the last, so that
    index_scatter's adding leaves the last one (numpy's assignment rule)."""
    if all(not isinstance(i, np.ndarray) or i.dtype == np.bool_ for i in index):
        return v  # basic indexing never names a position twice
    flat = np.arange(int(np.prod(shape))).reshape(shape)[index]  # which element each reads
    order = flat.reshape(-1)[::-1]
    _, first_from_end = np.unique(order, return_index=True)
    keep = np.zeros(order.size, bool)
    keep[order.size - 1 - first_from_end] = True
    return v if keep.all() else Where.apply(constant(keep.reshape(flat.shape)), v, 0.0)


def index_select(x, dim: int, index) -> Tensor:
    """The slices of x at the 1-D integer `index` along dim (torch.index_select)."""
    x = as_tensor(x, "index_select", "input")
    dim = normalize_axis(dim, x.ndim, "index_select")
    idx = _index_tensor(index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    k = idx.size
    at = idx.reshape((1,) * dim + (k,) + (1,) * (x.ndim - dim - 1))  # along dim, then
    at = at.expand(x.shape[:dim] + (k,) + x.shape[dim + 1:])  # the same on every other axis
    return take_along(x, dim, at)


def index_add(x, dim: int, index, source, alpha: float = 1) -> Tensor:
    """x with alpha * source[.., i, ..] added to x[.., index[i], ..] along dim
    (torch.index_add); repeated indices add up."""
    x = as_tensor(x, "index_add", "input")
    dim = normalize_axis(dim, x.ndim, "index_add")
    idx = _index_tensor(index).reshape(-1)
    source = as_tensor(source, "index_add", "source")
    want = x.shape[:dim] + (idx.size,) + x.shape[dim + 1:]
    if source.shape != want:
        raise ValueError(f"index_add: source has shape {source.shape}, expected {want} for "
                         f"{idx.size} indices along dim {dim} of {x.shape}")
    at = idx.reshape((1,) * dim + (idx.size,) + (1,) * (x.ndim - dim - 1)).expand(want)
    return x + PutAlong.apply(source * alpha if alpha != 1 else source, at, dim=dim,
                              shape=x.shape)


def narrow(x, dim: int, start: int, length: int) -> Tensor:
    """length elements of x from start along dim (a slice, as torch.narrow)."""
    x = as_tensor(x, "narrow", "input")
    dim = normalize_axis(dim, x.ndim, "narrow")
    n = x.shape[dim]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise IndexError(f"narrow: start {start} and length {length} do not fit dim {dim} "
                         f"of size {n}")
    return x[(slice(None),) * dim + (slice(start, start + length),)]


def unbind(x, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of x along dim, that axis removed (torch.unbind)."""
    x = as_tensor(x, "unbind", "input")
    dim = normalize_axis(dim, x.ndim, "unbind")
    return tuple(x[(slice(None),) * dim + (i,)] for i in range(x.shape[dim]))


def masked_select(x, mask) -> Tensor:
    """The elements of x where the boolean mask (broadcast to x) holds, as one 1-D Tensor."""
    x = as_tensor(x, "masked_select", "input")
    if isinstance(mask, Tensor):
        read_back(mask, "masked_select (its result's length is the mask's count)")
    m = np.asarray(getattr(mask, "data", mask))
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be boolean, got dtype {m.dtype}")
    shape = np.broadcast_shapes(x.shape, m.shape)
    return x.expand(shape)[np.broadcast_to(m, shape)]


def _triangle(x, diagonal: int, upper: bool, op: str) -> Tensor:
    x = as_tensor(x, op, "input")
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with 2 or more dims, got shape {x.shape}")
    n, m = x.shape[-2:]
    offset = np.arange(m)[None, :] - np.arange(n)[:, None]  # column - row of each element
    keep = offset >= diagonal if upper else offset <= diagonal
    return Where.apply(constant(keep), x, 0.0)


def tril(x, diagonal: int = 0) -> Tensor:
    """x with the elements above the diagonal-th diagonal set to 0 (torch.tril)."""
    return _triangle(x, diagonal, False, "tril")


def triu(x, diagonal: int = 0) -> Tensor:
    """x with the elements below the diagonal-th diagonal set to 0 (torch.triu)."""
    return _triangle(x, diagonal, True, "triu")


def repeat_interleave(x, repeats, dim=None) -> Tensor:
    """Each element (dim=None: of the flattened x) or slice along dim repeated `repeats`
    times in place (torch.repeat_interleave): a gather whose index names each one repeatedly."""
    x = as_tensor(x, "repeat_interleave", "input")
    if dim is None:
        x, dim = x.reshape(-1), 0
    dim = normalize_axis(dim, x.ndim, "repeat_interleave")
    if isinstance(repeats, Tensor):
        read_back(repeats, "repeat_interleave (the repeats decide the result's length)")
    reps = np.asarray(getattr(repeats, "data", repeats))
    if reps.ndim > 1 or (reps.size != 1 and reps.size != x.shape[dim]) or (reps < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be an int >= 0 or one per element "
                         f"of dim {dim} ({x.shape[dim]}), got {repeats!r}")
    idx = np.repeat(np.arange(x.shape[dim]), reps.astype(np.intp).reshape(-1))
    return x.gather(idx, dim)


def movedim(x, source, destination) -> Tensor:
    """x with the axes `source` moved to `destination` (ints or sequences), the others in
    order (torch.movedim)."""
    x = as_tensor(x, "movedim", "input")
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source dims for {len(dst)} destinations")
    src = [normalize_axis(d, x.ndim, "movedim") for d in src]
    dst = [normalize_axis(d, x.ndim, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in {source!r} or {destination!r}")
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.permute(*order)


def unflatten(x, dim: int, sizes) -> Tensor:
    """Split axis dim into `sizes` (one may be -1), as torch.unflatten."""
    x = as_tensor(x, "unflatten", "input")
    dim = normalize_axis(dim, x.ndim, "unflatten")
    sizes = shape_args((tuple(sizes),), "unflatten")
    known = int(np.prod([s for s in sizes if s != -1]))
    n = x.shape[dim]
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (
            -1 in sizes and (known == 0 or n % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to dim {dim} of size {n}")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return Reshape.apply(x, shape=x.shape[:dim] + sizes + x.shape[dim + 1:])


def pick(x, fn: str, dim: int, keepdim: bool, op: str) -> MinMax:
    """(values, indices) of the element the `arg` op's fn (argmax, argmin, median) picks
    along dim, as torch.max(x, dim): the values are read at those positions (take_along), so
    the gradient goes to that one element."""
    x = as_tensor(x, op, "input")
    if x.ndim == 0:  # one element is its own maximum
        return MinMax(x, constant(np.zeros((), np.int64)))
    dim = normalize_axis(dim, x.ndim, op)
    if x.shape[dim] == 0:
        raise IndexError(f"{op}: dim {dim} of shape {x.shape} is empty; there is no {op}")
    idx = Arg.apply(x, fn=fn, axis=dim, keepdims=True)  # (..., 1, ...): the keepdim form
    values = TakeAlong.apply(x, idx, dim=dim)
    if not keepdim:
        kept = x.shape[:dim] + x.shape[dim + 1:]
        idx, values = Reshape.apply(idx, shape=kept), Reshape.apply(values, shape=kept)
    return MinMax(values, idx)


def median(x, dim=None, keepdim: bool = False):
    """torch.median: the lower median of all elements (one number), or with dim the pair
    (values, indices) along dim; the gradient goes to the median element."""
    x = as_tensor(x, "median", "input")
    if dim is None:
        if x.size == 0:
            raise ValueError("median: the tensor is empty")
        return pick(x.reshape(-1), "median", 0, False, "median").values
    return pick(x, "median", dim, keepdim, "median")


def argsort(x, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Positions that sort x along dim (int64, not differentiable); always stable."""
    x = as_tensor(x, "argsort", "input")
    dim = normalize_axis(dim, x.ndim, "argsort")
    return Arg.apply(x, fn="argsort_descending" if descending else "argsort", axis=dim)
