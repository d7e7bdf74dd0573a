"""Hypothesis strategies built from each primitive's plain-data hints (ops.hint).

`op_case(op)` draws the input arrays and keyword parameters for one call of `op`; the test
modules never special-case an op by name. A hint kind this file does not know fails loudly,
so a new op must either reuse the kinds below or add one here.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad1d.ops import Windows

DIM = st.integers(1, 4)


def shapes(min_dims=0, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


@st.composite
def broadcastable(draw, n, min_dims=0):
    """n shapes that broadcast together (some axes dropped or set to 1)."""
    base = draw(shapes(min_dims=min_dims))
    out = []
    for _ in range(n):
        drop = draw(st.integers(0, len(base) - min_dims))
        s = list(base[drop:])
        for i in range(len(s)):
            if draw(st.booleans()) and draw(st.booleans()):
                s[i] = 1
        out.append(tuple(s))
    return out


@st.composite
def matmul_shapes(draw):
    batch = draw(broadcastable(2))
    m, k, n = draw(DIM), draw(DIM), draw(DIM)
    return [batch[0] + (m, k), batch[1] + (k, n)]


def values(draw, shape, domain, rng):
    """An array of `shape` from `domain`; "distinct" is drawn by the caller for all inputs."""
    if domain == "real":
        return rng.uniform(-2, 2, shape)
    if domain == "positive":
        return rng.uniform(0.5, 2, shape)
    if domain == "nonzero":  # |x| >= 0.3 keeps central differences away from the kink at 0
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2, shape)
    if domain == "bool":
        return rng.random(shape) < 0.5
    raise AssertionError(f"unknown domain hint {domain!r}")


def distinct(shapes_, rng):
    """Arrays whose elements are all different (gaps >= 0.1), across every input."""
    sizes = [int(np.prod(s)) for s in shapes_]
    pool = (rng.permutation(sum(sizes)) - sum(sizes) / 2) * 0.13 + rng.uniform(-0.01, 0.01)
    out, at = [], 0
    for s, n in zip(shapes_, sizes):
        out.append(pool[at:at + n].reshape(s))
        at += n
    return out


@st.composite
def axes(draw, ndim):
    if ndim == 0:
        return None
    choice = draw(st.sampled_from(["none", "int", "tuple"]))
    if choice == "none":
        return None
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


@st.composite
def reshape_target(draw, shape):
    """The same elements in another shape: dims permuted, 1s added, maybe one -1."""
    dims = [d for d in shape if d != 1] + [1] * draw(st.integers(0, 2))
    dims = list(draw(st.permutations(dims)))
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def expand_target(draw, shape):
    lead = tuple(draw(st.lists(DIM, max_size=2)))
    return lead + tuple(draw(DIM) if n == 1 else n for n in shape)


@st.composite
def getitem_index(draw, shape):
    """A mix of basic (ints, slices with steps, None, Ellipsis) and advanced (int arrays with
    repeats) indices."""
    out, adv = [], False
    for n in shape:
        kind = draw(st.sampled_from(["slice", "int", "array", "all"]))
        if kind == "int":
            out.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            out.append(slice(draw(st.integers(-n, n)), draw(st.integers(-n, n)),
                             draw(st.sampled_from([1, 2, -1]))))
        elif kind == "array" and not adv:
            adv = True
            out.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5))))
        else:
            out.append(slice(None))
    if out and draw(st.booleans()):
        out.insert(draw(st.integers(0, len(out))), None)
    return tuple(out)


def _param(draw, kind, shape, params, rng):
    if kind == "axes":
        return draw(axes(len(shape)))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "reshape":
        return draw(reshape_target(shape))
    if kind == "perm":
        return tuple(draw(st.permutations(range(len(shape)))))
    if kind == "expand":
        return draw(expand_target(shape))
    if kind == "pad_width":
        return tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    if kind == "float":
        return draw(st.floats(-2, 2))
    if kind == "index":
        return draw(getitem_index(shape))
    if kind == "axis":
        return draw(st.integers(0, len(shape) - 1))
    if kind == "new_axis":  # where a new axis can go: 0..ndim
        return draw(st.integers(0, len(shape)))
    if kind == "take_index":  # an integer array, or sliding windows over that axis
        n = shape[params["axis"]]
        if draw(st.booleans()):
            return draw(windows(n))
        return rng.integers(-n, n, draw(shapes(0, 2)))
    if kind == "float_dtype":
        return np.dtype(np.float64)  # float32 would defeat float64 central differences
    raise AssertionError(f"unknown parameter hint {kind!r}")


@st.composite
def windows(draw, length):
    """A Windows geometry over `length` samples (with padding, stride, dilation)."""
    left, right = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 3))
    longest = (length + left + right - 1) // dilation + 1  # the widest kernel that fits
    k = draw(st.integers(1, min(longest, 4)))
    return Windows(length, k, draw(st.integers(1, 3)), dilation, (left, right))


@st.composite
def op_case(draw, op):
    """(arrays, params) for one call of the registered primitive `op`."""
    h = op.hints
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind, doms = h["shapes"], h["domains"]
    params = {}
    if kind == "broadcast":
        shps = draw(broadcastable(len(doms)))
    elif kind == "matmul":
        shps = draw(matmul_shapes())
    elif kind == "same":  # every input of one shape
        shps = [draw(shapes())] * len(doms)
    elif kind == "unary":
        needs_axis = any(k in ("axis", "index", "pad_width") for k in h["params"].values())
        shps = [draw(shapes(min_dims=1 if needs_axis else 0))]
    elif kind == "scatter":  # x has shape pre + index.shape + post; out has `size` at `axis`
        pre, post = draw(shapes(0, 1)), draw(shapes(0, 1))
        if draw(st.booleans()):  # sliding windows, the conv1d fast path
            index = draw(windows(draw(st.integers(1, 6))))
            size = index.length
        else:
            index = rng.integers(0, 4, draw(shapes(1, 2)))
            size = int(index.max()) + 1 + draw(st.integers(0, 2))
        params = {"index": index, "axis": len(pre), "size": size}
        shps = [pre + index.shape + post]
    elif kind == "index_scatter":  # scatter into `shape` at a getitem index
        shape = draw(shapes(min_dims=1))
        index = draw(getitem_index(shape))
        params = {"index": index, "shape": shape}
        shps = [np.zeros(shape)[index].shape]
    else:
        raise AssertionError(f"unknown shape hint {kind!r}")
    if "distinct" in doms:
        arrays = distinct(shps, rng)
    else:
        arrays = [values(draw, s, d, rng) for s, d in zip(shps, doms)]
    for name, pkind in h["params"].items():
        params[name] = _param(draw, pkind, shps[0], params, rng)
    return arrays, params
