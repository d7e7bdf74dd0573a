"""Check your own gradients with hypothesis: strategies, check_grads and check_op.

Needs hypothesis (the `test` extra). Everything the project's own registry suite runs on is
here, so an op you register yourself gets the same tests as the built-in primitives:

    from tinygrad1d.testing import check_op
    check_op(MyOp)          # forward vs its reference, first- and second-order gradients

Strategies: `arrays`, `tensors`, `shapes`, `broadcastable_shapes`, `conv1d_configs`, and
`op_inputs(op)`, which draws an op's inputs and keyword parameters from its `hints`
(ops.hint). A hint kind this module does not know fails loudly. docs/testing.md walks
through registering an op and testing it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

try:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("tinygrad1d.testing needs hypothesis: pip install hypothesis (or "
                      "pip install 'tinygrad1d[test]')") from e

from .func import jvp
from .gradcheck import GradcheckError, first_order, float64_copies, gradcheck, gradgradcheck
from .gradcheck import outputs_of, worst_element
from .ops import Windows
from .tensor import OPS, Function, Tensor, constant, manual_seed, no_grad

__all__ = ["arrays", "broadcastable_shapes", "check_grads", "check_op", "conv1d_configs",
           "op_inputs", "shapes", "tensors"]


DIM = st.integers(1, 4)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4):
    """Array shapes with min_dims..max_dims axes of 1..max_side each."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1,
                            max_side=max_side)


@st.composite
def broadcastable_shapes(draw, n: int, min_dims: int = 0):
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
    batch = draw(broadcastable_shapes(2))
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
    if domain == "off_steps":  # k + 0.1..0.4 or k + 0.6..0.9: away from integers and halves
        offset = rng.uniform(0.1, 0.4, shape) + 0.5 * (rng.random(shape) < 0.5)
        return rng.integers(-3, 3, shape) + offset
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


_CHOICES = {  # the functions each non-differentiable op's fn= can name, on float inputs
    "compare_fn": ["lt", "le", "gt", "ge", "eq", "ne", "logical_and", "logical_or",
                   "logical_xor"],
    "predicate_fn": ["logical_not", "isnan", "isinf", "isfinite"],
    "stat_fn": ["all", "any", "count_nonzero", "max", "min"],
    "arg_fn": ["argmax", "argmin", "argsort", "argsort_descending", "median"],
    "int_dtype": [np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_)],
}


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
    if kind == "step_fn":
        return draw(st.sampled_from(["sign", "floor", "ceil", "round", "trunc"]))
    if kind in _CHOICES:  # which function a non-differentiable op computes
        return draw(st.sampled_from(_CHOICES[kind]))
    if kind == "shape":
        return draw(shapes())
    if kind == "probability":
        return draw(st.sampled_from([0.0, 0.25, 0.5, 0.9]))
    if kind == "momentum":
        return draw(st.sampled_from([None, 0.1, 0.5]))
    if kind == "count":
        return draw(st.integers(2, 10))
    raise AssertionError(f"unknown parameter hint {kind!r}")


@st.composite
def windows(draw, length: int):
    """A Windows geometry over `length` samples (with padding, stride, dilation)."""
    left, right = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 3))
    longest = (length + left + right - 1) // dilation + 1  # the widest kernel that fits
    k = draw(st.integers(1, min(longest, 4)))
    return Windows(length, k, draw(st.integers(1, 3)), dilation, (left, right))


@st.composite
def op_inputs(draw, op):
    """(arrays, params) for one call of the registered primitive `op`, drawn from its hints:
    input arrays in each input's domain (kinks avoided by the domain, not by tolerances) and
    keyword parameters of the kinds the hints name."""
    h = op.hints
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind, doms = h["shapes"], h["domains"]
    params = {}
    if kind == "broadcast":
        shps = draw(broadcastable_shapes(len(doms)))
    elif kind == "matmul":
        shps = draw(matmul_shapes())
    elif kind == "same":  # every input of one shape (with an axis, if the op takes one)
        shps = [draw(shapes(min_dims="axis" in h["params"].values()))] * len(doms)
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
    elif kind == "along":  # take_along: x and an index of its ndim, no larger off the axis
        shape = draw(shapes(min_dims=1))
        dim = draw(st.integers(0, len(shape) - 1))
        ishape = tuple(draw(st.integers(1, 4)) if i == dim else draw(st.integers(1, n))
                       for i, n in enumerate(shape))
        index = rng.integers(-shape[dim], shape[dim], ishape)
        return [values(draw, shape, doms[0], rng), index], {"dim": dim}
    elif kind == "put_along":  # values and an index of one shape, into a larger `shape`
        ishape = draw(shapes(min_dims=1))
        dim = draw(st.integers(0, len(ishape) - 1))
        shape = tuple(draw(st.integers(1, 4)) if i == dim else n + draw(st.integers(0, 1))
                      for i, n in enumerate(ishape))
        index = rng.integers(-shape[dim], shape[dim], ishape)
        return [values(draw, ishape, doms[0], rng), index], {"dim": dim, "shape": shape}
    elif kind == "random":  # no inputs: the draw is all in the parameters
        shps = []
    elif kind == "running_stats":  # batch mean and variance, running ones, the batch count
        c = draw(DIM)
        shps = [(1, c), (1, c), (c,), (c,), ()]
    else:
        raise AssertionError(f"unknown shape hint {kind!r}")
    if "distinct" in doms:
        arrays = distinct(shps, rng)
    else:
        arrays = [values(draw, s, d, rng) for s, d in zip(shps, doms)]
    for name, pkind in h["params"].items():
        params[name] = _param(draw, pkind, shps[0] if shps else (), params, rng)
    return arrays, params


# ================================================================== general strategies


def arrays(shape=None, dtype=np.float64, elements=None):
    """Arrays of `shape` (drawn by `shapes()` when None), values from `elements` (default:
    finite floats in [-2, 2])."""
    elements = st.floats(-2, 2, allow_nan=False, width=64) if elements is None else elements
    return hnp.arrays(np.dtype(dtype), shapes() if shape is None else shape, elements=elements)


def tensors(shape=None, dtype=np.float64, elements=None):
    """Tensors with requires_grad=True, drawn as `arrays(...)`."""
    return arrays(shape, dtype, elements).map(lambda a: Tensor(a, requires_grad=True))


@st.composite
def conv1d_configs(draw, max_batch: int = 2, max_channels: int = 4, max_length: int = 9):
    """A valid conv1d call: dict(n, c_in, c_out, length, kernel_size, stride, padding,
    dilation, groups), with groups dividing both channel counts and the kernel, dilated,
    fitting the padded length."""
    groups = draw(st.integers(1, 2))
    c_in = groups * draw(st.integers(1, max(1, max_channels // groups)))
    c_out = groups * draw(st.integers(1, max(1, max_channels // groups)))
    k, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    span = dilation * (k - 1) + 1
    length = draw(st.integers(max(1, span - 2 * padding), max(span, max_length)))
    return {"n": draw(st.integers(1, max_batch)), "c_in": c_in, "c_out": c_out,
            "length": length, "kernel_size": k, "stride": draw(st.integers(1, 3)),
            "padding": padding, "dilation": dilation, "groups": groups}


# ================================================================== checks


def check_grads(fn: Callable, args: Sequence, order: int = 2, modes=("rev", "fwd"),
                eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """Every order up to `order`, in each mode, against central differences in float64.

    "rev": reverse mode, element by element (tg.gradcheck) on fn, then on its first-order
    derivative v . dfn/dx (built with create_graph=True), and so on. "fwd": forward mode,
    tg.func.jvp along each input element, against the central difference along it. Returns
    True or raises GradcheckError naming the order, the mode, the input, the element and
    both values."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order must be an int >= 1, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in ("rev", "fwd") for m in modes):
        raise ValueError(f"check_grads: modes must be 'rev' and/or 'fwd', got {modes!r}")
    xs = float64_copies(args)
    f = fn
    for k in range(1, order + 1):
        for mode in modes:
            try:
                if mode == "rev":
                    gradcheck(f, xs, eps=eps, atol=atol, rtol=rtol, seed=k)
                else:
                    _check_forward(f, xs, eps, atol, rtol)
            except GradcheckError as e:
                raise GradcheckError(f"check_grads: order {k}, mode {mode}: {e}") from None
        f = first_order(f, xs, seed=k)
    return True


def _check_forward(fn: Callable, xs: list[Tensor], eps: float, atol: float, rtol: float):
    """J e_j by jvp against (f(x + eps e_j) - f(x - eps e_j)) / 2 eps, for every element."""
    for i, x in enumerate(xs):
        if not x.requires_grad:
            continue
        for j in np.ndindex(x.shape):
            tangents = [np.zeros_like(y.data) for y in xs]
            tangents[i][j] = 1.0
            _, dirs = jvp(fn, xs, tangents)
            dirs = dirs if isinstance(dirs, tuple) else (dirs,)
            orig = x.data[j]
            with no_grad():
                x.data[j] = orig + eps
                hi = [o.data.copy() for o in outputs_of(fn, xs)]
                x.data[j] = orig - eps
                lo = [o.data.copy() for o in outputs_of(fn, xs)]
            x.data[j] = orig
            for m, (d, h, lo_) in enumerate(zip(dirs, hi, lo)):
                numeric = (h - lo_) / (2 * eps)
                k = worst_element(d.data, numeric, atol, rtol)
                if k is not None:
                    raise GradcheckError(
                        f"input {i} (shape {x.shape}) element {tuple(int(v) for v in j)}, "
                        f"output {m} element {tuple(int(v) for v in k)}: analytic "
                        f"{float(d.data[k])!r} vs numeric {float(numeric[k])!r}")


def _as_function(op: type[Function], arrays: list, params: dict):
    """(fn(*tensors) applying op with the drawn parameters, the differentiable inputs);
    bool inputs (conditions) are held constant."""
    diff = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def fn(*xs):
        args = list(arrays)
        for i, x in zip(diff, xs):
            args[i] = x
        args = [constant(a) if isinstance(a, np.ndarray) else a for a in args]
        return op.apply(*args, **params)
    return fn, [arrays[i] for i in diff]


def check_op(op, max_examples: int = 50) -> bool:
    """The registry's property tests for one op (a registered class or its name, a user's own
    included), each on `max_examples` hypothesis examples drawn by op_inputs(op):

    1. forward equals the hints' numpy reference (to 1e-12 in float64);
    2. first-order gradients equal central differences, element by element;
    3. second-order gradients equal central differences of the first-order ones.

    Raises on the first failure, after hypothesis has shrunk it to a small example."""
    op = OPS[op] if isinstance(op, str) else op
    hints = getattr(op, "hints", None) or {}
    if not hints or hints.get("ref") is None:
        raise ValueError(f"check_op: {getattr(op, 'name', op)!r} has no hints with a numpy "
                         "reference (ops.hint(ref, *domains, ...))")
    run = settings(max_examples=max_examples, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow],
                   phases=[Phase.explicit, Phase.generate, Phase.shrink])  # no "explain"

    @run
    @given(op_inputs(op))
    def forward_matches_reference(case):
        arrays, params = case
        seed = 0
        manual_seed(seed)  # an op that draws (dropout_mask) and its reference draw alike
        out = op.apply(*[constant(a) for a in arrays], **params)
        manual_seed(seed)
        expect = np.asarray(hints["ref"](*arrays, **params))
        assert out.shape == expect.shape, f"{op.name}: shape {out.shape}, reference {expect.shape}"
        np.testing.assert_allclose(out.data, expect, rtol=1e-12, atol=1e-12,
                                   err_msg=f"check_op: {op.name} forward vs its reference")

    @run
    @given(op_inputs(op))
    def first_order_gradients(case):
        fn, inputs = _as_function(op, *case)
        assert gradcheck(fn, inputs)

    @run
    @given(op_inputs(op))
    def second_order_gradients(case):
        fn, inputs = _as_function(op, *case)
        assert gradgradcheck(fn, inputs)

    props = [forward_matches_reference]
    if getattr(op, "differentiable", True):  # a mask, a position or a draw has no gradient
        props += [first_order_gradients, second_order_gradients]
    for prop in props:
        try:
            prop()
        except AssertionError as e:  # GradcheckError too; hypothesis notes the shrunk case
            notes = "".join(f"\n{n}" for n in getattr(e, "__notes__", ()))
            raise GradcheckError(f"check_op: {op.name}: {prop.__name__} failed: {e}{notes}") \
                from None
    return True
