"""Tensor, the op base class, and the reverse-mode engine that walks what the ops record.

Reading order: dtype and grad-mode state, `Function` (how an op is applied and recorded),
`Tensor` (what a tensor holds), then the engine (`_backprop`, `grad`, `backward`) and
in-place changes (`inplace`). The primitives live in ops.py, registered in the op table
`OPS`; the methods users call on a Tensor are declared in surface.py.
"""
from __future__ import annotations

import functools
import heapq
import itertools
import linecache
import math
import numbers
import os
import sys
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
    anomaly = False  # inside detect_anomaly(): nodes record their source line, backward checks
    last_change = -1  # record number of the latest in-place change (see `inplace`)
    watch = None  # watch(t, g, grads): called by the backward walk after each node (viz.steps)
    tape = None  # tape.record(cls, ctx, args, params, out): every op applied, while capturing
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


def set_grad_mode(mode: bool) -> bool:
    """Switch recording on or off; returns the previous mode (the switches in autograd.py
    restore it)."""
    prev, _State.grad_enabled = _State.grad_enabled, bool(mode)
    return prev


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


class AnomalyError(BackwardError):
    """Inside detect_anomaly(), a backward produced a NaN or an infinity. `node` is the op
    node whose backward did it (tg.draw(..., mark=error.node) marks it), `input` the index of
    the input the gradient was flowing to, `where` the source line that created the node."""

    def __init__(self, node, input_index: int, x, values: np.ndarray):
        self.node, self.input, self.where = node, input_index, getattr(node, "where", None)
        bad = "NaN" if np.isnan(values).any() else "infinity"
        made = self.where or "unknown (the forward ran outside detect_anomaly())"
        super().__init__(f"backward: {type(node).name}.backward produced {bad} in the gradient "
                         f"for its input {input_index} (shape {x.shape}); the node was created "
                         f"at {made}")


class detect_anomaly:
    """Context manager: nodes recorded inside keep the user's source line that created them,
    and the first NaN or infinity a backward inside produces raises AnomalyError naming the
    op, the input and that line. Outside it nothing is recorded and nothing is checked."""

    def __enter__(self):
        self._prev, _State.anomaly = _State.anomaly, True
        return self

    def __exit__(self, *exc):
        _State.anomaly = self._prev


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def user_line() -> str:
    """file:line: code of the innermost frame outside this package (the user's call)."""
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PACKAGE):
        f = f.f_back
    if f is None:
        return "unknown"
    code = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno}: {code}"


class RemovableHandle:
    """What register_hook and register_forward_hook return: `.remove()` takes the hook off."""

    def __init__(self, hooks: list, fn):
        self.hooks, self.fn = hooks, fn

    def remove(self) -> None:
        if self.fn in self.hooks:
            self.hooks.remove(self.fn)


_HOOKS: dict[int, list] = {}  # id(tensor) -> its gradient hooks, for tensors that have any


# ------------------------------------------------------------------ argument rules, written once


def normalize_axis(a, ndim: int, op: str) -> int:
    """One axis in [-ndim, ndim) as a non-negative int (a 0-d tensor has axis 0, as torch)."""
    if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {a!r}")
    if not -max(ndim, 1) <= a < max(ndim, 1):
        raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
    return int(a) % max(ndim, 1)


def normalize_axes(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """None (every axis), an int or a tuple/list of ints -> None or a sorted tuple of axes."""
    if axis is None:
        return None
    many = isinstance(axis, (tuple, list))
    axes = sorted(normalize_axis(a, ndim, op) for a in (axis if many else (axis,)))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis")
    return None if ndim == 0 else tuple(axes)


def torch_spelling(op: str, axis, keepdims, dim=None, keepdim=None) -> tuple:
    """(axis, keepdims) from numpy's axis=/keepdims= or PyTorch's dim=/keepdim= (one of each
    pair at most): the two spellings mean the same for reductions."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis= (numpy) or dim= (PyTorch), not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def shape_args(shape: tuple, op: str) -> tuple[int, ...]:
    """A shape given as varargs, f(2, 3), or as one sequence, f((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"{op}: sizes must be ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def as_index(index, op: str, what: str = "index") -> np.ndarray:
    """An integer index array from integers, a list or a Tensor. A float array of whole numbers
    counts (Tensor([0, 2]) is float32); other floats, bools and non-numbers are refused."""
    a = np.asarray(index.data if isinstance(index, Tensor) else index)
    if a.dtype.kind in "iu":
        return a
    if a.size == 0 or (a.dtype.kind == "f" and np.array_equal(a, np.round(a))):
        return a.astype(np.intp)
    raise TypeError(f"{op}: {what} must hold integers (whole numbers), got an array of dtype "
                    f"{a.dtype}")


def as_tensor(x, op: str, name: str = "x") -> Tensor:
    """x itself if it is a Tensor, else a constant made by the constructor's rules; a
    TypeError naming the op and the argument if it cannot be one."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{op}: {name} must be a Tensor or array-like, got "
                        f"{type(x).__name__}: {e}") from None


# ------------------------------------------------------------------ the op base class

OPS: dict[str, type[Function]] = {}
_RECORDED = itertools.count()  # numbers the nodes in the order they are recorded


class Function:
    """One primitive op. Subclasses define two methods and some test hints:

    - ``forward(ctx, *arrays, **params)``: numpy in, numpy out; stores on ``ctx`` whatever
      backward needs. ``ctx`` is the node being recorded (an instance of the op class).
    - ``backward(ctx, grad_out)``: one gradient per input (a Tensor or None), written with
      Tensor ops so that the gradient is itself differentiable (higher-order derivatives).
      ``ctx.inputs`` holds the input Tensors, ``ctx.out()`` the output (ops with
      ``saves_output = True``).
    - ``hints``: plain data for the registry-driven tests (see ops.py).
    - optionally ``method``: the op's argument normalisation (numpy's and PyTorch's
      spellings, negative axes, varargs shapes), which surface.py's Tensor methods call.
    - ``reads = False`` for an op whose backward never reads its inputs' values (only their
      shapes, or what forward saved): an in-place change to such an input after the op was
      recorded leaves its gradient exact, so backward does not refuse it.
    - ``differentiable = False`` for an op that computes a mask, a position or a count from
      the data (comparisons, argmax, a dropout mask): it is applied like any other op, so a
      captured program replays it, but its output never requires grad.

    Positional arguments of ``apply`` are tensor inputs (Python numbers and arrays are lifted
    to Tensors here, once, for every op); keyword arguments are non-differentiable parameters.
    """

    name = "function"  # set by @register
    saves_output = False
    reads = True  # backward reads the inputs' values (see the docstring)
    differentiable = True  # False: a mask, a position, a count; its output never requires grad
    effect = False  # True: forward changes something outside its output (running statistics)
    broadcasts = False  # True where inputs broadcast against each other (drawings say so)
    freed = False
    hints: dict = {}

    @classmethod
    def apply(cls, *args, **params) -> Tensor:
        for a in args:
            if not isinstance(a, Tensor):
                args = lift(args, cls.name)
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
        out = None
        if _State.grad_enabled and cls.differentiable:
            for a in args:
                if a.requires_grad:
                    ctx.inputs, ctx.params, ctx.scope = args, params, _State.scope
                    ctx.seq = next(_RECORDED)  # above every input's: a topological order
                    if _State.anomaly:
                        ctx.where = user_line()
                    out = Tensor._make(data, True, ctx)
                    if cls.saves_output:  # weak: an output reached by backward is alive anyway
                        ctx.out = weakref.ref(out)
                    break
        if out is None:
            out = Tensor._make(data, False, None)
        if _State.tape is not None:  # a program being captured (tg.compile, onnx export)
            _State.tape.record(cls, ctx, args, params, out)
        return out

    @classmethod
    def method(cls, x, *args, **params) -> Tensor:
        """The op called as surface.py's Tensor methods call it; ops whose arguments come in
        several spellings override it to normalise them, once, before `apply`."""
        return cls.apply(x, *args, **params)

    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(ctx, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def free(ctx, light: dict) -> None:
        """After backward: keep only what a drawing needs (op, parameters, scope, inputs as
        light descriptors), so a kept output no longer holds any intermediate array.

        Leaves that require grad stay (the model holds them anyway, as PyTorch's graph holds
        its leaves), and so do tensors marked retain_grad() (asked for by name, to be looked
        at) and one-element constants (a lifted number costs less than its descriptor); every
        other input becomes one shared Descriptor per tensor (`light`)."""
        inputs = []
        for x in ctx.inputs:
            keep = x.requires_grad or x.data.size == 1 if x._ctx is None else x._retain
            if not keep:
                d = light.get(id(x))
                if d is None:
                    d = light[id(x)] = Descriptor(x)
                x = d
            inputs.append(x)
        kept = {"inputs": tuple(inputs), "params": ctx.params, "scope": ctx.scope,
                "seq": ctx.seq, "freed": True}
        if "where" in vars(ctx):
            kept["where"] = ctx.where
        ctx.__dict__ = kept


def register(name: str):
    """Class decorator: record a primitive in the op table OPS under `name` (snake_case). It
    adds no Tensor method: what users call is declared in surface.py, and a user's own op is
    called as torch's custom functions are, `MyOp.apply(x, ...)`."""

    def deco(cls):
        if name in OPS:
            raise ValueError(f"register: the name {name!r} is already an op ({OPS[name]})")
        cls.name, OPS[name] = name, cls
        return cls

    return deco


def lift(args: Sequence, op: str) -> tuple:
    """Turn Python numbers and arrays among an op's inputs into constant Tensors.

    A Python number takes the dtype of the op's first floating tensor, so `x * 2` keeps a
    float32 `x` float32; beside integer tensors an int stays an integer (`index + 1`), and a
    float makes the integers the default float dtype (`counts * 0.5`), as torch. Arrays
    follow the Tensor constructor's rules."""
    ref = None
    for a in args:
        if isinstance(a, Tensor) and a.data.dtype.kind in "fiub":
            if a.data.dtype in _FLOATS:
                ref = a.data.dtype
                break
            ref = ref or a.data.dtype
    promote = ref is not None and ref.kind in "iu" and any(
        isinstance(a, (float, np.floating)) for a in args)
    if promote:  # integer tensors meet a float number: all become the default float
        ref = _State.default_dtype
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(constant(a.data.astype(ref)) if promote and a.data.dtype.kind in "iu"
                       else a)
        elif type(a) is float and ref is not None and ref.kind == "f":  # the common x * 2.0
            out.append(Tensor._make(np.array(a, dtype=ref), False, None))
        elif isinstance(a, (numbers.Number, np.generic)) and not isinstance(a, complex):
            out.append(constant(np.asarray(a, dtype=_number_dtype(a, ref))))
        else:
            out.append(as_tensor(a, op, "an input"))
    return tuple(out)


def _number_dtype(a, ref) -> np.dtype:
    """The dtype a Python number takes beside tensors of dtype `ref` (None: no tensor)."""
    if ref is None or (ref.kind in "iub" and not isinstance(a, (int, np.integer))):
        return _State.default_dtype  # a float beside integers promotes, as torch
    if ref.kind == "b" and not isinstance(a, bool):
        return np.dtype(np.int64)  # True + 1 is an integer
    return ref


# ------------------------------------------------------------------ Tensor

_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "int32": np.int32,
           "bool": np.bool_}  # what a Tensor may hold; only the floats can require grad


def _as_array(data, dtype, where: str) -> np.ndarray:
    """The Tensor constructor's dtype rules, in one place: numbers, lists and int/bool arrays
    become the default float dtype, float32/float64 arrays keep theirs, and an explicit dtype
    (a float, int64, int32 or bool) is taken as given."""
    try:
        arr = np.array(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{where}: data is not a rectangular array: {e}") from None
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype.name not in _DTYPES:
            raise TypeError(f"{where}: dtype must be one of {', '.join(_DTYPES)}, got "
                            f"{dtype!r}") from None
    elif arr.dtype in _FLOATS and isinstance(data, (np.ndarray, np.generic)):
        dtype = arr.dtype
    elif arr.dtype.kind in "biuf":
        dtype = _State.default_dtype
    else:
        raise TypeError(f"{where}: data must be numeric, got an array of dtype {arr.dtype} "
                        f"from {type(data).__name__}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: data must be numeric, got an array of dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


class Tensor:
    """An ndarray plus the history of how it was computed.

    ``Tensor(data, requires_grad=False, dtype=None)`` copies ``data`` (a number, nested list,
    array or Tensor). Python numbers, lists and int/bool arrays become the default dtype
    (``get_default_dtype()``, float32 unless set); float32/float64 arrays keep theirs; an
    explicit ``dtype`` may also be int64, int32 or bool (indices and masks, never
    differentiated).

    Every op on a Tensor that requires grad records a node (``_ctx``: the op instance with its
    inputs). ``backward()`` walks those nodes in reverse and adds each contribution into the
    leaves' ``.grad``, so a tensor used on several branches receives the sum of them.

    This class body holds only what a Tensor *is*. Everything a user calls on it, its methods
    and operators (``x.sum(1)``, ``x @ w``, ``x.add_(y)``), is declared in one place,
    surface.py, each a short delegation to a primitive (ops.py) or a composite (functional/).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "_retain", "__weakref__")
    __array_ufunc__ = None  # make `ndarray * Tensor` call Tensor.__rmul__ instead of looping
    __hash__ = object.__hash__  # == is elementwise (surface.py), so identity stays the hash
    is_param = False  # nn.Parameter says True; drawings colour parameters by it

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_array(data, dtype, "Tensor")
        if requires_grad and self.data.dtype not in _FLOATS:
            raise TypeError(f"Tensor: only float tensors can require grad, got dtype "
                            f"{self.data.dtype}")
        self.grad, self.requires_grad, self._ctx = None, bool(requires_grad), None
        self.name, self._retain = None, False

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, ctx) -> Tensor:
        """Fast constructor for op outputs: no copy, no dtype rules."""
        t = object.__new__(Tensor)
        t.data, t.grad, t.requires_grad, t._ctx = data, None, requires_grad, ctx
        t.name, t._retain = None, False
        return t


def read_back(x: Tensor, op: str) -> None:
    """Called before a value of x leaves the Tensor world as a Python value (item, tolist,
    bool(...), an index made from a Tensor): while a program is captured, a value computed
    from the inputs cannot be frozen into it, so the capture refuses (tg.CompileError)."""
    if _State.tape is not None:
        _State.tape.read_back(x, op)


def constant(a) -> Tensor:
    """A Tensor that is never differentiated (a mask, an index, an integer result) around the
    array `a` itself, without a copy: the package's one spelling of a constant."""
    return Tensor._make(a if type(a) is np.ndarray else np.asarray(a), False, None)


class Descriptor:
    """What a freed graph keeps of a tensor it no longer holds: shape, dtype, name and the
    node that made it, enough to draw it, never its array. `tensor()` is the tensor itself
    while somebody else still holds it (a drawing then shows its data and grad)."""

    __slots__ = ("shape", "dtype", "name", "is_param", "_ctx", "_ref")

    def __init__(self, t: Tensor):
        data = t.data
        self.shape, self.dtype, self.name = data.shape, data.dtype, t.name
        self.is_param, self._ctx, self._ref = t.is_param, t._ctx, weakref.ref(t)

    # leaves that require grad are never described (they stay): the rest is what was made
    requires_grad = property(lambda self: self._ctx is not None)
    size = property(lambda self: math.prod(self.shape))
    ndim = property(lambda self: len(self.shape))

    def tensor(self) -> Tensor | None:
        return self._ref()

    def __repr__(self) -> str:
        return f"Descriptor(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"


# ------------------------------------------------------------------ the engine


def _seed(root: Tensor, grad, where: str) -> Tensor:
    """The gradient a sweep starts from: given, or ones for a single-element root."""
    if grad is None:
        if root.data.size != 1:
            raise BackwardError(f"{where}: grad can be implied only for a single-element "
                                f"tensor; pass grad= of shape {root.data.shape}")
        return Tensor._make(np.ones_like(root.data), False, None)
    try:
        g = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=root.data.dtype)
    except (TypeError, ValueError) as e:
        raise BackwardError(f"{where}: the gradient must be numbers of shape "
                            f"{root.data.shape}, got {type(grad).__name__} ({e})") from None
    if g.data.shape != root.data.shape:
        raise BackwardError(f"{where}: grad has shape {g.data.shape}, the tensor has "
                            f"{root.data.shape}")
    return g


def walk(roots: Iterable, inputs=lambda ctx: ctx.inputs) -> list:
    """Every tensor reachable from `roots`, inputs before outputs: a plain stack collects
    them (no recursion: graphs run deep), the record numbers of their nodes order them."""
    seen: dict[int, object] = {}
    stack = list(roots)
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            if t._ctx is not None:
                stack.extend(inputs(t._ctx))
    return sorted(seen.values(), key=lambda t: -1 if t._ctx is None else t._ctx.seq)


def _fit(g: Tensor, x: Tensor, ctx) -> Tensor:
    """Make a gradient whose shape or dtype differs from its input's match: dtype, then sums."""
    gd, xd = g.data, x.data
    if gd.dtype != xd.dtype:
        g = OPS["cast"].apply(g, dtype=xd.dtype)
        if gd.shape == xd.shape:
            return g
    lead = g.ndim - x.ndim
    if lead < 0 or any(n != 1 and n != m for n, m in zip(x.shape, g.shape[lead:])):
        raise AssertionError(f"{type(ctx).__name__}.backward returned a gradient of shape "
                             f"{g.shape} for an input of shape {x.shape}")
    kept = tuple(i + lead for i, n in enumerate(x.shape) if n == 1 and g.shape[i + lead] != 1)
    if not kept:  # only leading axes (a bias under a batch): one sum gives x's shape
        return OPS["sum"].apply(g, axis=tuple(range(lead)))
    g = OPS["sum"].apply(g, axis=tuple(range(lead)) + kept, keepdims=True)
    return g if g.shape == x.shape else OPS["reshape"].apply(g, shape=x.shape)


def _backprop(roots, seeds, accumulate: bool, create_graph: bool, retain: bool,
              wanted: dict | None = None) -> None:
    """Walk the graph from `roots` backwards, each node once, latest recorded first.

    A node is recorded after its inputs, so when the walk pops the highest record number
    left, every use of that node's output has already sent its gradient: the gradients that
    reached a tensor along several paths are summed (`prev + gx`) before its own backward
    runs. That sum is how a shared weight collects the gradient of every window it was used
    in. Leaves (and retain_grad tensors) receive theirs in .grad when `accumulate`, at the
    end, so a walk that fails changes nothing; `wanted` collects the gradients of chosen
    tensors instead (tg.grad). Without `retain` the walked nodes are freed (Function.free)."""
    grads: dict[int, Tensor] = {}  # id(tensor) -> the sum of the gradients sent to it so far
    waiting: list[int] = []  # heap of -(record number) of the nodes whose output got one
    made: dict[int, Tensor] = {}  # record number -> the tensor that node made
    leaves: list = []
    done: list = []  # (tensor, gradient) handed out at the end: leaves, retain_grad, wanted
    walked: list = []
    for r, s in zip(roots, seeds):
        _send(r, s, grads, waiting, made, leaves)
    prev_mode = _State.grad_enabled
    _State.grad_enabled = create_graph  # with it on, backward's own ops are recorded
    # a capture's backward is a recording, not a backward: user hooks run in the real one
    hooks = bool(_HOOKS) and _State.tape is None
    try:
        while waiting:
            t = made.pop(-heapq.heappop(waiting))
            g = grads.pop(id(t))
            if hooks:
                g = _hooked(t, g)
            if t._retain or wanted is not None:
                done.append((t, g))
            ctx = t._ctx
            if ctx.seq < _State.last_change:  # something changed in place since it was made
                _catch_up(ctx)
            walked.append(ctx)
            gs = ctx.backward(g)
            for i, (x, gx) in enumerate(zip(ctx.inputs, gs if type(gs) is tuple else (gs,))):
                if gx is not None and x.requires_grad:
                    if gx.data.shape != x.data.shape or gx.data.dtype != x.data.dtype:
                        gx = _fit(gx, x, ctx)
                    if _State.anomaly and not np.isfinite(gx.data).all():
                        raise AnomalyError(ctx, i, x, gx.data)
                    _send(x, gx, grads, waiting, made, leaves)
            if _State.watch is not None:  # the walk as it happens, for tg.viz.steps
                _State.watch(t, g, grads)
        done.extend((x, _hooked(x, grads[id(x)]) if hooks else grads[id(x)]) for x in leaves)
    finally:
        _State.grad_enabled = prev_mode
    for t, g in done:
        if wanted is not None and id(t) in wanted:
            wanted[id(t)] = g
        if accumulate and (t._ctx is None or t._retain):
            if t.grad is None:
                t.grad = np.array(g.data, dtype=t.data.dtype)  # own copy: g may be shared
            else:
                t.grad += g.data
    if not retain:
        light: dict = {}  # one Descriptor per freed tensor, shared by all its uses
        for ctx in walked:
            ctx.free(light)


def _hooked(t: Tensor, g: Tensor) -> Tensor:
    """g after t's hooks: each may return a replacement of the same shape."""
    for fn in list(_HOOKS.get(id(t), ())):
        new = fn(g)
        if new is not None:
            if not isinstance(new, Tensor) or new.data.shape != g.data.shape:
                raise BackwardError(f"register_hook: hook {getattr(fn, '__name__', fn)!r} "
                                    f"returned {getattr(new, 'shape', type(new).__name__)} for "
                                    f"a gradient of shape {g.data.shape}; return None or a "
                                    "Tensor of that shape")
            g = new
    return g


def _send(x: Tensor, g: Tensor, grads: dict, waiting: list, made: dict, leaves: list) -> None:
    """Add g to what x has received; the first gradient for x queues it (or its leaf)."""
    k = id(x)
    prev = grads.get(k)
    if prev is not None:
        grads[k] = prev + g
        return
    grads[k] = g
    ctx = x._ctx
    if ctx is None:
        leaves.append(x)
    elif ctx.freed:
        raise BackwardError(f"backward: the graph through {type(ctx).__name__} was already "
                            "walked and its saved values freed; pass retain_graph=True to walk "
                            "it twice")
    else:
        heapq.heappush(waiting, -ctx.seq)
        made[ctx.seq] = x


def grad(outputs, inputs, grad_outputs=None, create_graph: bool = False,
         retain_graph: bool | None = None, allow_unused: bool = False) -> list[Tensor]:
    """Gradients of `outputs` with respect to `inputs`, without touching any .grad.

    Returns one Tensor per input (zeros where the outputs do not depend on it; None there
    with allow_unused=True, as torch). With
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
    return [wanted[id(x)] if wanted[id(x)] is not None or allow_unused
            else Tensor._make(np.zeros_like(x.data), False, None) for x in inputs]


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of `tensors` (one root or several, each with its seed
    gradient in grad_tensors, None for a one-element root) into every leaf's .grad, or only
    into the tensors in `inputs`, in one sweep: Tensor.backward and tg.autograd.backward."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = [grad_tensors] * len(roots)
    grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(roots):
        raise ValueError(f"backward: {len(grad_tensors)} gradients for {len(roots)} tensors")
    for r in roots:
        if not isinstance(r, Tensor) or not r.requires_grad:
            raise BackwardError(f"backward: this tensor (shape {np.shape(getattr(r, 'data', r))})"
                                " does not require grad; create the leaves with "
                                "requires_grad=True")
    seeds = [_seed(r, g, "backward") for r, g in zip(roots, grad_tensors)]
    if create_graph:  # .grad is an array here, so the sweep could not be differentiated
        raise BackwardError("backward: create_graph=True needs gradients you can "
                            "differentiate; use tg.grad(outputs, inputs, create_graph=True)")
    if inputs is None:
        return _backprop(roots, seeds, accumulate=True, create_graph=False,
                         retain=bool(retain_graph))
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for x, g in zip(inputs, grad(roots, inputs, seeds, retain_graph=bool(retain_graph),
                                 allow_unused=True)):
        if g is not None:
            x.grad = np.array(g.data, dtype=x.data.dtype) if x.grad is None else x.grad + g.data


def register_hook(x: Tensor, fn) -> RemovableHandle:
    """Call fn(grad) with the gradient flowing into x during backward (its total, before a
    leaf accumulates it or a node passes it on); a returned Tensor of the same shape replaces
    it. Returns a handle whose .remove() takes the hook off."""
    if not x.requires_grad:
        raise BackwardError(f"register_hook: this tensor (shape {x.data.shape}) does not "
                            "require grad, so no gradient will flow into it")
    if _State.tape is not None:  # a replay would not call it
        _State.tape.refuse("register_hook", "registers a hook while the function is captured "
                                            "(register it outside, on the inputs or parameters)")
    hooks = _HOOKS.get(id(x))
    if hooks is None:
        hooks = _HOOKS[id(x)] = []
        weakref.finalize(x, _HOOKS.pop, id(x), None)  # a dead tensor's id is reused
    hooks.append(fn)
    return RemovableHandle(hooks, fn)


# ------------------------------------------------------------------ in-place changes
# torch's x.add_(y), x.zero_(), x[i] = v. Without a graph to keep (under no_grad, or on
# constants) the new values are written into x's memory, as numpy's `+=` does, so views
# and optimizers holding the array see them. Inside a graph x is given a new value and a
# new node, and the old value lives on, unchanged, as the input of that node ("rebasing").
# Either way the change is stamped with a record number, so a node recorded before it can
# tell, at backward, whether what it saved is still there: PyTorch's version counter.

_WRITTEN: dict[int, int] = {}  # id(base array) -> record number of its last in-place write
_REBASED: dict[int, list] = {}  # id(tensor) -> [(record number, the tensor before), ...]


def _base(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory (views share their base's stamps)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def inplace(x: Tensor, op: str, compute) -> Tensor:
    """Give x the value compute(x) in place and return x: the engine's half of every `_`
    method. The result must keep x's shape; a float result is cast to an integer x only if
    it holds whole numbers (torch refuses such casts too)."""
    if _State.grad_enabled and x.requires_grad and x._ctx is None:
        raise BackwardError(f"{op}: a leaf Variable that requires grad is being used in an "
                            "in-place operation (wrap the update in tg.no_grad(), or use the "
                            "out-of-place form)")
    before = Tensor._make(x.data, x.requires_grad, x._ctx)  # x as it is now
    new = compute(before)
    if not isinstance(new, Tensor) or new.data.shape != x.data.shape:
        raise ValueError(f"{op}: the result has shape {np.shape(getattr(new, 'data', new))}, "
                         f"but the tensor changed in place has shape {x.data.shape}")
    if new.data.dtype != x.data.dtype:
        if new.data.dtype.kind == "f" and x.data.dtype.kind in "iub":
            raise TypeError(f"{op}: a float result cannot be stored in a tensor of dtype "
                            f"{x.data.dtype}")
        new = OPS["cast"].apply(new, dtype=x.data.dtype)
    stamp = _State.last_change = next(_RECORDED)
    if not _State.grad_enabled or not (x.requires_grad or new.requires_grad):
        if _State.tape is not None:  # a replay would not repeat a write into memory
            _State.tape.refuse(op, "writes into a tensor's memory (under no_grad, or on a "
                                   "tensor that needs no grad), which a replay would not repeat")
        if not x.data.flags.writeable:
            raise ValueError(f"{op}: this tensor's memory is read-only (a broadcast view); "
                             "clone() it first")
        np.copyto(x.data, new.data)  # into the memory itself: views of it see the change
        base = _base(x.data)
        if id(base) not in _WRITTEN:
            weakref.finalize(base, _WRITTEN.pop, id(base), None)
        _WRITTEN[id(base)] = stamp
        return x
    if not new.requires_grad:  # a constant replaces a tracked value: zero gradient to it
        new = OPS["where"].apply(constant(np.ones(x.data.shape, bool)), new, before)
    # rebase: the nodes that saved their output by weak reference now point at the
    # object that holds that value (`before` for x's old node, x for the new one)
    for ctx, holder in ((x._ctx, before), (new._ctx, x)):
        if ctx is not None and "out" in vars(ctx):
            ctx.out = weakref.ref(holder)
    if id(x) not in _REBASED:
        weakref.finalize(x, _REBASED.pop, id(x), None)
    _REBASED.setdefault(id(x), []).append((stamp, before))
    x.data, x._ctx, x.requires_grad = new.data, new._ctx, True
    return x


def _as_of(x: Tensor, seq: int) -> Tensor:
    """The tensor that held x's value when the node numbered `seq` was recorded."""
    for stamp, before in _REBASED.get(id(x), ()):
        if stamp > seq:
            return before
    return x


def _catch_up(ctx) -> None:
    """Before a node's backward runs: if one of its inputs was given a new value in place
    after the node used it, point the node at that input as it was (`before` kept the old
    value and history, so the gradient is exact and flows to the old history). If what the
    node reads was overwritten in memory instead, its gradient cannot be computed: refuse,
    naming the op, as PyTorch's version counter does."""
    if _REBASED:
        ctx.inputs = tuple(_as_of(x, ctx.seq) for x in ctx.inputs)
    if not type(ctx).reads:
        return
    seen = list(ctx.inputs)
    if "out" in vars(ctx) and ctx.out() is not None:
        seen.append(ctx.out())
    for i, x in enumerate(seen):
        if _WRITTEN.get(id(_base(x.data)), -1) > ctx.seq:
            what = f"input {i}" if i < len(ctx.inputs) else "output"
            raise BackwardError(f"backward: {type(ctx).name} needs its {what} (shape "
                                f"{x.data.shape}), which was modified by an in-place "
                                "operation after it was used; compute the new value "
                                "out of place (y = y.add(1), not y.add_(1))")
