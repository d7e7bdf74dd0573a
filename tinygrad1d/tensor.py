"""Tensor, the op base class, and the reverse-mode engine that walks what the ops record.

Reading order: dtype and grad-mode state, `Function` (how an op is applied and recorded),
`Tensor` (the user-facing wrapper around an ndarray), then the engine (`_backprop`, `grad`).
The primitives themselves live in ops.py and attach themselves to `Tensor` when registered.
"""
from __future__ import annotations

import functools
import math
import numbers
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# ------------------------------------------------------------------ state: dtype, rng, grad mode

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _State:
    """Process-wide switches read on every op (class attributes: one lookup, no instance)."""

    default_dtype = np.dtype(np.float32)
    grad_enabled = True
    scope = None  # the innermost composite (conv1d, softmax, ...) now running, for graph drawing
    rng = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The dtype Python numbers, lists and int/bool arrays become (float32 unless set)."""
    return _State.default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default float dtype: np.float32 or np.float64."""
    d = np.dtype(dtype)
    if d not in _FLOATS:
        raise TypeError(f"set_default_dtype: dtype must be float32 or float64, got {d}")
    _State.default_dtype = d


def manual_seed(seed: int) -> None:
    """Seed every random choice the package makes (initializers, dropout, shuffling)."""
    _State.rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    """The package's random generator, reseeded by `manual_seed`."""
    return _State.rng


class no_grad:
    """Context manager (or decorator): ops run inside it record nothing."""

    _enable = False

    def __enter__(self):
        self._prev, _State.grad_enabled = _State.grad_enabled, self._enable

    def __exit__(self, *exc):
        _State.grad_enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapped


class enable_grad(no_grad):
    """Context manager: turn recording back on inside a `no_grad` block."""

    _enable = True


def is_grad_enabled() -> bool:
    return _State.grad_enabled


class scope:
    """Context manager: every node recorded inside keeps this composite call (its name and
    parameters, and the call it runs in) as its .scope, so drawings can collapse it."""

    __slots__ = ("name", "params", "parent")

    def __init__(self, name: str, **params):
        self.name, self.params, self.parent = name, params, None

    def __enter__(self):
        self.parent, _State.scope = _State.scope, self

    def __exit__(self, *exc):
        _State.scope = self.parent


class BackwardError(ValueError, RuntimeError):
    """A backward pass that cannot run (no grad required, freed graph, bad seed gradient).

    It is both a ValueError (the package's rule for bad input) and a RuntimeError (what
    PyTorch raises in the same situations), so code written for either catches it."""


# ------------------------------------------------------------------ the op base class

OPS: dict[str, type[Function]] = {}


class Function:
    """One primitive op. Subclasses define two methods and some test hints:

    - ``forward(ctx, *arrays, **params)``: numpy in, numpy out; stores on ``ctx`` whatever
      backward needs. ``ctx`` is the node being recorded (an instance of the op class).
    - ``backward(ctx, grad_out)``: one gradient per input (a Tensor or None), written with
      Tensor ops so that the gradient is itself differentiable (higher-order derivatives).
      ``ctx.inputs`` holds the input Tensors, ``ctx.out()`` the output (ops with
      ``saves_output = True``).
    - ``hints``: plain data for the registry-driven tests (see ops.py).

    Positional arguments of ``apply`` are tensor inputs (Python numbers and arrays are lifted
    to Tensors here, once, for every op); keyword arguments are non-differentiable parameters.
    """

    name = "function"  # set by @register
    saves_output = False
    freed = False
    hints: dict = {}
    _KEEP = frozenset(("inputs", "params", "scope", "freed"))  # what freeing leaves for drawing

    @classmethod
    def apply(cls, *args, **params) -> Tensor:
        for a in args:
            if not isinstance(a, Tensor):
                args = _lift(args, cls.name)
                break
        ctx = cls.__new__(cls)
        try:
            data = ctx.forward(*[a.data for a in args], **params)
        except ValueError as e:  # numpy's own complaint (e.g. broadcasting): say which op
            if str(e).startswith(cls.name):
                raise
            shapes = ", ".join(str(a.shape) for a in args)
            raise ValueError(f"{cls.name}: {e} (input shapes {shapes})") from None
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        if _State.grad_enabled:
            for a in args:
                if a.requires_grad:
                    ctx.inputs, ctx.params, ctx.scope = args, params, _State.scope
                    out = Tensor._make(data, True, ctx)
                    if cls.saves_output:  # weak: an output reached by backward is alive anyway
                        ctx.out = weakref.ref(out)
                    return out
        return Tensor._make(data, False, None)

    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(ctx, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def free(ctx) -> None:
        """Drop saved values after backward; keep the structure so the graph can be drawn."""
        for k in [k for k in vars(ctx) if k not in Function._KEEP]:
            delattr(ctx, k)
        ctx.freed = True


def register(name: str):
    """Class decorator: record a primitive under `name` and add it as a Tensor method."""

    def deco(cls):
        assert name not in OPS, f"register: op {name!r} registered twice"
        cls.name, OPS[name] = name, cls
        if not hasattr(Tensor, name):  # Tensor's own method wins where it normalises arguments
            apply = cls.apply

            def method(self, *args, **params):
                return apply(self, *args, **params)
            method.__name__, method.__doc__ = name, cls.__doc__
            setattr(Tensor, name, method)
        return cls

    return deco


def _lift(args: Sequence, op: str) -> tuple:
    """Turn Python numbers and arrays among an op's inputs into constant Tensors.

    A Python number takes the dtype of the op's first floating tensor, so `x * 2` keeps a
    float32 `x` float32; arrays follow the Tensor constructor's rules."""
    ref = next((a.dtype for a in args if isinstance(a, Tensor) and a.dtype in _FLOATS),
               _State.default_dtype)
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, (numbers.Number, np.generic)) and not isinstance(a, complex):
            out.append(Tensor._make(np.asarray(a, dtype=ref), False, None))
        else:
            try:
                out.append(Tensor(a))
            except (TypeError, ValueError) as e:
                raise TypeError(f"{op}: cannot use {type(a).__name__} as a tensor input: {e}") \
                    from None
    return tuple(out)


# ------------------------------------------------------------------ Tensor


def _as_float_array(data, dtype, where: str) -> np.ndarray:
    """The Tensor constructor's dtype rules, in one place."""
    try:
        arr = np.array(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{where}: data is not a rectangular array: {e}") from None
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in _FLOATS:
            raise TypeError(f"{where}: dtype must be float32 or float64, got {dtype}")
    elif arr.dtype in _FLOATS and isinstance(data, (np.ndarray, np.generic)):
        dtype = arr.dtype
    elif arr.dtype.kind in "biuf":
        dtype = _State.default_dtype
    else:
        raise TypeError(f"{where}: data must be numeric, got an array of dtype {arr.dtype} "
                        f"from {type(data).__name__}")
    return arr.astype(dtype, copy=False)


class Tensor:
    """An ndarray plus the history of how it was computed.

    ``Tensor(data, requires_grad=False, dtype=None)`` copies ``data`` (a number, nested list,
    array or Tensor). Python numbers, lists and int/bool arrays become the default dtype
    (``get_default_dtype()``, float32 unless set); float32/float64 arrays keep theirs.

    Every op on a Tensor that requires grad records a node (``_ctx``: the op instance with its
    inputs). ``backward()`` walks those nodes in reverse and adds each contribution into the
    leaves' ``.grad``, so a tensor used on several branches receives the sum of them.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_retain", "__weakref__")
    __array_ufunc__ = None  # make `ndarray * Tensor` call Tensor.__rmul__ instead of looping

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_float_array(data, dtype, "Tensor")
        self.grad, self.requires_grad, self._ctx = None, bool(requires_grad), None
        self.name, self._retain = None, False

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, ctx) -> Tensor:
        """Fast constructor for op outputs: no copy, no dtype rules."""
        t = object.__new__(Tensor)
        t.data, t.grad, t.requires_grad, t._ctx = data, None, requires_grad, ctx
        t.name, t._retain = None, False
        return t

    # -- numpy-like attributes
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)
    grad_fn = property(lambda self: self._ctx)
    T = property(lambda self: self.transpose())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}" if self.dtype != _State.default_dtype else ""
        if self._ctx is not None:
            extra += f", grad_fn={type(self._ctx).__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    __hash__ = object.__hash__  # == is elementwise, so identity stays the hash

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"bool() of a Tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def numpy(self) -> np.ndarray:
        """The value as an ndarray (shares memory, like PyTorch's .numpy())."""
        return self.data

    def item(self) -> float:
        if self.size != 1:
            raise ValueError(f"item: only a single-element Tensor converts, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor._make(self.data, False, None)

    def retain_grad(self) -> Tensor:
        """Also fill .grad on this non-leaf tensor during backward (leaves always get it)."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # -- differentiation
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Reverse-mode sweep from this tensor, adding into every leaf's .grad."""
        if not self.requires_grad:
            raise BackwardError(f"backward: this tensor (shape {self.shape}) does not require "
                                "grad; create the leaves with requires_grad=True")
        seed = _seed(self, grad, "backward")
        _backprop([self], [seed], accumulate=True, create_graph=False, retain=retain_graph)

    # -- operators (the primitives behind them are registered from ops.py)
    def __add__(self, o): return self.add(o)
    def __radd__(self, o): return OPS["add"].apply(o, self)
    def __sub__(self, o):  # lists and arrays are lifted first, so that -o is defined
        return self.add(-(o if isinstance(o, (Tensor, numbers.Number)) else _lift((self, o),
                                                                                 "sub")[1]))

    def __rsub__(self, o): return OPS["add"].apply(o, self.neg())
    def __mul__(self, o): return self.mul(o)
    def __rmul__(self, o): return OPS["mul"].apply(o, self)
    def __truediv__(self, o): return self.div(o)
    def __rtruediv__(self, o): return OPS["div"].apply(o, self)
    def __pow__(self, o): return self.pow(o)
    def __rpow__(self, o): return OPS["pow"].apply(o, self)
    def __neg__(self): return self.neg()
    def __matmul__(self, o): return _matmul(self, o)
    def __rmatmul__(self, o): return _matmul(_lift((o,), "matmul")[0], self)

    # comparisons are not differentiable: they return constant bool Tensors
    def _cmp(self, o, f):
        return Tensor._make(f(self.data, o.data if isinstance(o, Tensor) else o), False, None)

    def __lt__(self, o): return self._cmp(o, np.less)
    def __le__(self, o): return self._cmp(o, np.less_equal)
    def __gt__(self, o): return self._cmp(o, np.greater)
    def __ge__(self, o): return self._cmp(o, np.greater_equal)
    def __eq__(self, o): return self._cmp(o, np.equal)
    def __ne__(self, o): return self._cmp(o, np.not_equal)

    # -- composites and argument normalisation over the primitives
    def sqrt(self) -> Tensor:
        return self.pow(0.5)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        return self.sum(axis=axis, keepdims=keepdims) / max(_count(self.shape, axis), 1)

    def var(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance with Bessel's correction by default, as torch.var."""
        d = self - self.mean(axis=axis, keepdims=True)
        n = _count(self.shape, axis)
        return (d * d).sum(axis=axis, keepdims=keepdims) / max(n - correction, 1)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        return -(-self).max(axis=axis, keepdims=keepdims)

    def argmax(self, axis=None) -> Tensor:
        return Tensor._make(np.asarray(np.argmax(self.data, axis=axis)), False, None)

    def reshape(self, *shape) -> Tensor:
        """Same data, new shape; one entry may be -1, as numpy."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
            else shape
        if -1 in shape or math.prod(shape) != self.data.size:
            shape = _resolve_shape(self.shape, shape)
        return self if shape == self.data.shape else OPS["reshape"].apply(self, shape=shape)

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Merge the axes start_axis..end_axis into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = (_axis(a, self.ndim, "flatten") for a in (start_axis, end_axis))
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def transpose(self, *axes) -> Tensor:
        """Permute axes (reverse them when none are given); transpose(a, b) swaps two."""
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        n = self.data.ndim
        if not axes:
            axes = _REVERSED[n]
        elif len(axes) == 2 and n != 2:
            a, b = (_axis(x, n, "transpose") for x in axes)
            perm = list(range(n))
            perm[a], perm[b] = b, a
            axes = tuple(perm)
        elif min(axes) < 0:
            axes = tuple(a + n if a < 0 else a for a in axes)
        if len(axes) != n or set(axes) != set(range(n)):
            raise ValueError(f"transpose: axes {axes} are not a permutation for shape {self.shape}")
        return self if axes == _IDENTITY[n] else OPS["transpose"].apply(self, axes=axes)

    def unsqueeze(self, axis: int) -> Tensor:
        axis = _axis(axis, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None) -> Tensor:
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axis = _axis(axis, self.ndim, "squeeze")
        return self if self.shape[axis] != 1 else \
            self.reshape(self.shape[:axis] + self.shape[axis + 1:])

    def expand(self, *shape) -> Tensor:
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) \
            else shape
        try:
            full = np.broadcast_shapes(self.shape, shape)
        except ValueError:
            full = None
        if full != tuple(shape):
            raise ValueError(f"expand: cannot broadcast shape {self.shape} to {shape}")
        return self if tuple(shape) == self.shape else OPS["expand"].apply(self, shape=tuple(shape))

    def pad(self, pad_width, value: float = 0.0) -> Tensor:
        """Constant padding; pad_width in numpy's form (int, (before, after), or one per axis)."""
        pw = pad_width
        if isinstance(pw, (int, np.integer)):
            pw = ((pw, pw),) * self.ndim
        elif len(pw) == 2 and all(isinstance(p, (int, np.integer)) for p in pw):
            pw = (tuple(pw),) * self.ndim
        try:
            pw = tuple((int(a), int(b)) for a, b in pw)
            ok = len(pw) == self.ndim and all(a >= 0 and b >= 0 for a, b in pw)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"pad: pad_width {pad_width!r} must be non-negative integers in "
                             f"numpy's form for a Tensor of shape {self.shape}")
        if not any(a or b for a, b in pw):
            return self
        return OPS["pad"].apply(self, pad_width=pw, value=float(value))

    def gather(self, index, axis: int = -1) -> Tensor:
        """x indexed by an integer array along `axis` (np.take semantics); see ops.Gather."""
        return OPS["gather"].apply(self, index=index, axis=_axis(axis, self.ndim, "gather"))

    def __getitem__(self, index) -> Tensor:
        return OPS["getitem"].apply(self, index=_normalize_index(index))

    def cast(self, dtype) -> Tensor:
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else OPS["cast"].apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.cast(np.float32)

    def double(self) -> Tensor:
        return self.cast(np.float64)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along `axis`, shifted by the max for stability."""
        with scope("softmax", axis=axis):
            e = (self - self.data.max(axis=axis, keepdims=True)).exp()
            return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along `axis`, stable for large inputs."""
        with scope("log_softmax", axis=axis):
            z = self - self.data.max(axis=axis, keepdims=True)  # constant shift, exact gradient
            return z - z.exp().sum(axis=axis, keepdims=True).log()


def _matmul(x: Tensor, y: Tensor) -> Tensor:
    """`@` with numpy's rules for 1-D operands, over a primitive that needs ndim >= 2."""
    if not isinstance(y, Tensor):
        y = _lift((x, y), "matmul")[1]
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{x.shape} and {y.shape}")
    xv, yv = x.ndim == 1, y.ndim == 1
    x2 = x.reshape(1, -1) if xv else x
    y2 = y.reshape(-1, 1) if yv else y
    if x2.shape[-1] != y2.shape[-2]:
        raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not align "
                         f"({x.shape[-1]} != {y.shape[-2 if y.ndim > 1 else 0]})")
    out = OPS["matmul"].apply(x2, y2)
    if xv or yv:
        out = out.reshape(out.shape[:-2] + out.shape[-2:-1] * (not xv) + out.shape[-1:] * (not yv))
    return out


_IDENTITY = [tuple(range(n)) for n in range(33)]  # numpy allows at most 32 dimensions
_REVERSED = [p[::-1] for p in _IDENTITY]


def _axis(a: int, ndim: int, op: str) -> int:
    if not isinstance(a, (int, np.integer)) or not -max(ndim, 1) <= a < max(ndim, 1):
        raise ValueError(f"{op}: axis {a!r} is out of range for a tensor with {ndim} dims")
    return int(a) % max(ndim, 1)


def _resolve_shape(old: tuple, new: tuple) -> tuple:
    """numpy's reshape rules (one -1 allowed), checked before touching the data."""
    size, new = math.prod(old), tuple(int(n) for n in new)
    if -1 in new:
        known = math.prod(n for n in new if n != -1)
        if new.count(-1) == 1 and known > 0 and size % known == 0:
            new = tuple(size // known if n == -1 else n for n in new)
    if any(n < 0 for n in new) or math.prod(new) != size:
        raise ValueError(f"reshape: cannot reshape a Tensor of shape {old} into {new}")
    return new


def _count(shape: tuple, axis) -> int:
    """How many elements a reduction over `axis` combines."""
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    return math.prod(shape[_axis(a, len(shape), "reduce")] for a in axes)


def _normalize_index(index) -> Any:
    """Tensors and lists in an index become integer arrays (a float Tensor of whole numbers
    counts: Tensor([0, 2]) is float); bool masks become their nonzeros."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for i in index:
        if isinstance(i, Tensor):
            i = i.data
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind == "f":
            if not (i == np.round(i)).all():
                raise TypeError(f"getitem: index arrays must hold whole numbers, got {i}")
            i = i.astype(np.intp)
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            out.extend(i.nonzero())
        else:
            out.append(i)
    return tuple(out)


# ------------------------------------------------------------------ the engine


def _seed(root: Tensor, grad, where: str) -> Tensor:
    """The gradient a sweep starts from: given, or ones for a single-element root."""
    if grad is None:
        if root.size != 1:
            raise BackwardError(f"{where}: grad can be implied only for a single-element "
                                f"tensor; pass grad= of shape {root.shape}")
        return Tensor._make(np.ones_like(root.data), False, None)
    g = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=root.dtype)
    if g.shape != root.shape:
        raise BackwardError(f"{where}: grad has shape {g.shape}, the tensor has {root.shape}")
    return g


def _topo(roots: Iterable[Tensor]) -> list[Tensor]:
    """Tensors that require grad, reachable from `roots`, inputs before outputs (no recursion)."""
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is not None:
            if ctx.freed:
                raise BackwardError(
                    f"backward: the graph through {type(ctx).__name__} was already walked and "
                    "its saved values freed; pass retain_graph=True to walk it twice")
            stack.extend((x, False) for x in ctx.inputs if x.requires_grad and id(x) not in seen)
    return order


def _fit(g: Tensor, x: Tensor, ctx) -> Tensor:
    """Make a gradient whose shape or dtype differs from its input's match: dtype, then sums."""
    gd, xd = g.data, x.data
    if gd.dtype != xd.dtype:
        g = g.cast(xd.dtype)
        if gd.shape == xd.shape:
            return g
    lead = g.ndim - x.ndim
    if lead < 0 or any(n != 1 and n != m for n, m in zip(x.shape, g.shape[lead:])):
        raise AssertionError(f"{type(ctx).__name__}.backward returned a gradient of shape "
                             f"{g.shape} for an input of shape {x.shape}")
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(x.shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    g = OPS["sum"].apply(g, axis=axes, keepdims=True)
    return g if g.shape == x.shape else OPS["reshape"].apply(g, shape=x.shape)


def _backprop(roots, seeds, accumulate: bool, create_graph: bool, retain: bool,
              wanted: dict | None = None) -> None:
    """Walk the graph from `roots` in reverse topological order.

    Each node's backward turns the gradient of its output into gradients of its inputs; a
    tensor reached along several paths gets their sum (`grads[id(x)] + gx`), which is how
    shared weights collect the gradient of every window they were used in. Leaves (and
    retain_grad tensors) receive theirs in .grad when `accumulate`; `wanted` collects the
    gradients of chosen tensors instead (tg.grad)."""
    order = _topo(roots)
    grads: dict[int, Tensor] = {}
    for r, s in zip(roots, seeds):
        grads[id(r)] = grads[id(r)] + s if id(r) in grads else s
    prev_mode = _State.grad_enabled
    _State.grad_enabled = create_graph  # with it on, backward's own ops are recorded
    try:
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if wanted is not None and id(t) in wanted:
                wanted[id(t)] = g
            ctx = t._ctx
            if accumulate and (ctx is None or t._retain):
                if t.grad is None:
                    t.grad = np.array(g.data, dtype=t.dtype)  # own copy: g may be shared
                else:
                    t.grad += g.data
            if ctx is None:
                continue
            gs = ctx.backward(g)
            for x, gx in zip(ctx.inputs, gs if type(gs) is tuple else (gs,)):
                if gx is None or not x.requires_grad:
                    continue
                if gx.data.shape != x.data.shape or gx.data.dtype != x.data.dtype:
                    gx = _fit(gx, x, ctx)
                k = id(x)
                prev = grads.get(k)
                grads[k] = gx if prev is None else prev + gx
    finally:
        _State.grad_enabled = prev_mode
    if not retain:
        for t in order:
            if t._ctx is not None:
                t._ctx.free()


def grad(outputs, inputs, grad_outputs=None, create_graph: bool = False,
         retain_graph: bool | None = None) -> list[Tensor]:
    """Gradients of `outputs` with respect to `inputs`, without touching any .grad.

    Returns one Tensor per input (zeros where the outputs do not depend on it). With
    create_graph=True the backward ops are recorded, so the results can be differentiated
    again (second and higher derivatives)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise ValueError(f"grad: input {i} does not require grad")
    roots = [o for o in outputs if o.requires_grad]
    seeds = [_seed(o, g, "grad") for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    wanted = {id(x): None for x in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    if roots:
        _backprop(roots, seeds, accumulate=False, create_graph=create_graph, retain=retain,
                  wanted=wanted)
    return [wanted[id(x)] if wanted[id(x)] is not None
            else Tensor._make(np.zeros_like(x.data), False, None) for x in inputs]
