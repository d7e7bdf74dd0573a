"""ONNX export: `export(model, args, f, ...)`, torch.onnx.export's form, for onnxruntime.

The exported graph is the recorded one. `program.record` runs the model once with a tape
listening, and every primitive it applies becomes one step: the op, its input slots, its
parameters. Each step is written here as one ONNX node, or a few, with the `onnx` package's
helpers: conv1d stays a Pad, a Gather of the sliding windows and a MatMul, as drawn. Inputs
become graph inputs, parameters become initializers named as in `state_dict`, and the arrays
made while recording become constants.

A recording is made at fixed sizes: a reshape to (C_out, L_out*N), a zero state of (N, H),
a mean's divisor N. Export with `dynamic_axes` records the model at three sizes of each named
axis (the batch) and compares the recordings. A number that differs is a function of that
axis: the first two give the line it lies on (19*N), the third must lie on it too, and the
graph computes it from the input's shape. Reshape targets, expand shapes, counts and constants
of one repeated value can be computed so. Anything else that moves with the axis is refused,
naming the op.

The `onnx` package is needed only when `export` is called: importing this module (`tg.onnx`)
needs numpy alone.
"""
from __future__ import annotations

import inspect
import io
import math
import os
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from .nn.module import Module
from .ops import Windows
from .program import CompileError, Compiled, CompiledModule, record
from .tensor import Tensor, no_grad

__all__ = ["DEFAULT_OPSET", "export"]

# Opset 18 (ONNX 1.13, onnxruntime 1.14 and later): every Reduce op takes its axes as an
# input, ScatterElements adds duplicates (reduction="add"), Shape takes start and end, and the
# Bitwise ops exist. Newer runtimes run it too.
DEFAULT_OPSET = 18
TRAINING_ONLY = ("dropout_mask", "running_stats")
INT_MAX, INT_MIN = int(np.iinfo(np.int64).max), int(np.iinfo(np.int64).min)


def _onnx():
    """The optional onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401 - a submodule `import onnx` does not load
    except ImportError:
        raise ImportError("tg.onnx.export needs the onnx package: pip install onnx (or pip "
                          "install 'tinygrad1d[onnx]', which brings onnxruntime too)") from None
    return onnx


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=None):
    """Run model(*args) once (a Module, in eval mode, or a function of Tensors), recording it,
    and write the recorded forward graph as an ONNX model to `f` (a path or a binary file
    object); returns the onnx.ModelProto. The Tensor and array arguments are the graph's
    inputs; `dynamic_axes` ({"x": {0: "batch"}}) names the axes that may take any size."""
    onnx = _onnx()
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not 18 <= opset <= newest:
        raise ValueError(f"onnx.export: opset_version must be an int from 18 to {newest} (the "
                         f"onnx package's newest), got {opset_version!r}")
    path = _destination(f)
    fn, module = _unwrap(model)
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    at = [k for k, a in enumerate(args) if isinstance(a, (Tensor, np.ndarray))]
    if not at:
        raise ValueError(f"onnx.export: args {[type(a).__name__ for a in args]} holds no "
                         "Tensor or array, so the graph would have no input")
    shapes = [np.shape(_array(args[k])) for k in at]
    in_names = _names("input_names", input_names, _default_input_names(fn, at), shapes)
    axes = _dynamic_axes(dynamic_axes, in_names, shapes)
    dynamic: dict = {}  # symbol -> [(position in args, axis)]
    for name, k in zip(in_names, at):
        for axis, symbol in axes.get(name, {}).items():
            dynamic.setdefault(symbol, []).append((k, axis))

    recordings, sizes = _record(fn, module, args, dynamic)
    rec = recordings[0]
    out_names = _output_names(output_names, rec.outputs, in_names, axes)

    vary = _Variation(recordings, sizes)
    g = _Graph(onnx, _state_names(module))
    for symbol, where in dynamic.items():  # where the graph reads each symbol's size
        k, axis = where[0]
        g.symbols[symbol] = (in_names[at.index(k)], axis)
    for name in in_names + out_names:  # theirs before any value of ours is named
        g.take(name)
    for j, name in enumerate(in_names):
        g.names[j] = name  # inputs are the tape's first slots, in order
        g.inputs.append(g.value_info(name, rec.inputs[j].data, vary.shape(j), axes.get(name)))
    _write_steps(g, rec, vary, out_names)
    for i, (slot, name) in enumerate(zip(rec.output_slots, out_names)):
        g.outputs.append(g.value_info(name, rec.outputs[i].data, vary.shape(slot), axes[name]))

    helper = onnx.helper
    title = getattr(fn, "__name__", type(fn).__name__)
    proto = helper.make_model(
        helper.make_graph(g.nodes, title, g.inputs, g.outputs, initializer=g.initializers),
        opset_imports=[helper.make_opsetid("", opset)], producer_name="tinygrad1d")
    # the oldest file format that holds this opset, so that older runtimes read it too
    proto.ir_version = helper.find_min_ir_version_for(list(proto.opset_import))
    onnx.checker.check_model(proto, full_check=True)  # types and shapes agree, node by node
    _write(proto.SerializeToString(), f, path)
    return proto


def _record(fn, module, args: tuple, dynamic: dict) -> tuple:
    """The recordings (see _recordings), of a Module in eval mode: its modes are restored
    after, and a training-only op is refused before anything is written."""
    modes = [(m, m.training) for m in module.modules()] if module is not None else []
    try:
        if module is not None:
            module.eval()  # what is served: no dropout, batch norm's running statistics
        recordings, sizes = _recordings(fn, args, dynamic)
    except CompileError as e:  # what a recording refuses: a value read back into Python, ...
        said = str(e).removeprefix("compile: ").replace(
            "a replay would reuse the value of the first call", "the graph would hold this "
            "call's value").replace("compiled function", "exported function")
        raise ValueError("onnx.export: " + said) from None
    finally:
        for m, training in modes:
            m.training = training
    for step in recordings[0].tape.steps:  # a training graph stays home, used or not
        if step.cls.name in TRAINING_ONLY:
            raise ValueError(f"onnx.export: the graph has {step.cls.name}, a training-only op "
                             "(a dropout draw or a running-statistics update); export a Module "
                             "(it runs in eval mode) or call the function with training=False")
    return recordings, sizes


def _output_names(output_names, outputs: list, in_names: list, axes: dict) -> list:
    """The outputs' names, checked against the inputs' and dynamic_axes (whose output axes
    are checked and wrapped here, in place)."""
    n = len(outputs)
    out_names = _names("output_names", output_names,
                       ["output"] if n == 1 else [f"output_{i}" for i in range(n)],
                       [t.shape for t in outputs])
    for name in axes:
        if name not in in_names and name not in out_names:
            raise ValueError(f"onnx.export: dynamic_axes names {name!r}, which is neither an "
                             f"input {in_names} nor an output {out_names}")
    if set(in_names) & set(out_names):
        raise ValueError(f"onnx.export: {sorted(set(in_names) & set(out_names))} names both "
                         "an input and an output")
    for t, name in zip(outputs, out_names):
        axes[name] = {_axis(a, t.ndim, name): sym for a, sym in axes.get(name, {}).items()}
    return out_names


def _write(data: bytes, f, path) -> None:
    """All of it or nothing: a path gets a temporary file beside it, renamed when written."""
    if path is None:
        f.write(data)
        return
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# ================================================================== arguments


def _array(a) -> np.ndarray:
    return a.data if isinstance(a, Tensor) else np.asarray(a)


def _destination(f):
    """The path to write, or None for a file object; checked before any work is done."""
    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError("onnx.export: f is a text file; open it with 'wb'")
        return None
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"onnx.export: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    folder = os.path.dirname(os.path.abspath(f))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"onnx.export: cannot write {os.fspath(f)}: the folder {folder} "
                                "does not exist")
    return os.fspath(f)


def _unwrap(model) -> tuple:
    """(the function to record, the Module whose names and modes apply, or None)."""
    if isinstance(model, CompiledModule):  # a capture cannot run inside a capture
        model = model._module
    if isinstance(model, Compiled):
        model = model.fn
    if isinstance(model, Module):
        return model, model
    if not callable(model):
        raise TypeError(f"onnx.export: model must be an nn.Module or a function of Tensors, "
                        f"got {type(model).__name__}")
    return model, None


def _default_input_names(fn, at: list) -> list:
    """The function's (or forward's) parameter names at the input positions, as torch names
    them (`x` for forward(self, x)); input_k where there is none."""
    try:
        params = list(inspect.signature(fn.forward if isinstance(fn, Module) else fn)
                      .parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD)]
    names = [positional[k] if k < len(positional) else f"input_{k}" for k in at]
    return names if len(set(names)) == len(names) else [f"input_{k}" for k in at]


def _names(what: str, given, default: list, shapes: list) -> list:
    """input_names or output_names: one distinct string per input (output), or the default."""
    if given is None:
        return default
    if isinstance(given, str) or not all(isinstance(n, str) for n in given):
        raise TypeError(f"onnx.export: {what} must be a list of strings, got {given!r}")
    given, kind = list(given), what.removesuffix("_names")
    if len(given) != len(default):
        raise ValueError(f"onnx.export: {what} has {len(given)} names {given} for "
                         f"{len(default)} {kind}{'s' * (len(default) != 1)} (shapes "
                         f"{', '.join(str(tuple(s)) for s in shapes)}); give one per {kind}")
    if len(set(given)) != len(given):
        raise ValueError(f"onnx.export: {what} {given} repeats a name")
    return given


def _axis(a, ndim: int, name: str) -> int:
    if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
        raise ValueError(f"onnx.export: dynamic_axes[{name!r}] names axis {a!r}, but {name} has "
                         f"{ndim} axes")
    return int(a) % ndim


def _dynamic_axes(dynamic_axes, in_names: list, shapes: list) -> dict:
    """{name: {axis: symbol}} in torch's form, inputs' axes checked (outputs' once recorded);
    a list of axes gets torch's names for them."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise TypeError(f"onnx.export: dynamic_axes must be a dict such as {{'x': {{0: "
                        f"'batch'}}}}, got {type(dynamic_axes).__name__}")
    out = {}
    for name, marked in dynamic_axes.items():
        if isinstance(marked, (list, tuple)):
            marked = {a: f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(marked)}
        if not isinstance(marked, dict) or not all(isinstance(s, str) for s in marked.values()):
            raise TypeError(f"onnx.export: dynamic_axes[{name!r}] must map axes to names, such "
                            f"as {{0: 'batch'}}, got {marked!r}")
        if name in in_names:
            ndim = len(shapes[in_names.index(name)])
            marked = {_axis(a, ndim, name): s for a, s in marked.items()}
        out[name] = dict(marked)
    return out


def _state_names(module) -> dict:
    """id(parameter, or buffer array) -> its state_dict name."""
    if module is None:
        return {}
    names = {id(p): name for name, p in module.named_parameters()}
    names.update({id(b): name for name, b in module.named_buffers()})
    return names


# ================================================================== one recording per size


def _recordings(fn, args: tuple, dynamic: dict) -> tuple:
    """([recording], {}) without dynamic axes. With them, the recording at the base sizes
    (each symbol at least 2: a batch of one takes shortcuts, conv1d skips a transpose), one
    per symbol at its base size + 1, one per symbol at + 2; and {symbol: base size}."""
    sizes = {}
    for symbol, where in dynamic.items():
        given = {_array(args[k]).shape[axis] for k, axis in where}
        if len(given) > 1:
            raise ValueError(f"onnx.export: the dynamic axes named {symbol!r} have the sizes "
                             f"{sorted(given)} in args; one name is one size")
        sizes[symbol] = max(2, given.pop())

    def resized(chosen: dict) -> list:
        out = list(args)
        for symbol, where in dynamic.items():
            for k, axis in where:  # the samples repeated (or cut) to that size: valid inputs
                a = _array(out[k])
                out[k] = np.take(a, np.arange(chosen[symbol]) % a.shape[axis], axis=axis)
        return out

    with no_grad():  # nothing is differentiated: the tape records every op regardless
        if not dynamic:
            return [record(fn, *args)], sizes
        runs = [resized(sizes)] + [resized({**sizes, s: sizes[s] + d}) for d in (1, 2)
                                   for s in sizes]
        return [record(fn, *a) for a in runs], sizes


@dataclass(frozen=True)
class Size:
    """A size that moves with the dynamic axes: const + the sum of k * symbol (19*batch)."""

    const: int
    terms: tuple  # ((symbol, k), ...)

    def __str__(self) -> str:
        parts = [s if k == 1 else f"{k}*{s}" for s, k in self.terms]
        return "+".join(parts + [str(self.const)] * (self.const != 0))


@dataclass
class Filled:
    """A constant of one value repeated over a shape that moves (a zero state (batch, H)),
    or a 0-d count that moves (a mean's divisor): value a Size, shape ()."""

    shape: tuple
    value: object
    dtype: np.dtype


_SIZED = {("reshape", "shape"), ("expand", "shape"), ("put_along", "shape")}


class _Variation:
    """What differs between the recordings, as Sizes: the shapes of values, the shape
    parameters of steps, and constants of one value repeated over a shape that moves."""

    def __init__(self, recordings: list, sizes: dict):
        self.recs, self.sizes, self.symbols = recordings, sizes, list(sizes)
        base = recordings[0].tape
        for tape in (rec.tape for rec in recordings[1:]):
            same = len(tape.steps) == len(base.steps) and \
                [kind for kind, _ in tape.sources] == [kind for kind, _ in base.sources]
            same = same and all(a.cls is b.cls and a.inputs == b.inputs and
                                a.params.keys() == b.params.keys()
                                for a, b in zip(base.steps, tape.steps))
            if not same:
                raise ValueError(f"onnx.export: the model records another graph when a dynamic "
                                 f"axis changes size ({self.said()}): that axis cannot be "
                                 "dynamic")

    def said(self) -> str:
        return ", ".join(f"{s} = {n}, {n + 1}, {n + 2}" for s, n in self.sizes.items())

    def size(self, values: list, what: str):
        """An int when every recording agrees, else the Size that fits them: the recordings
        at a symbol's size + 1 give its factor k, those at + 2 must show 2k."""
        v0, n = values[0], len(self.symbols)
        terms = tuple((s, v - v0) for s, v in zip(self.symbols, values[1:1 + n]) if v != v0)
        if any(w != v0 + 2 * (v - v0) for v, w in zip(values[1:1 + n], values[1 + n:])):
            raise ValueError(f"onnx.export: {what} changes with the dynamic axes ({self.said()}"
                             f": {values}) other than in proportion; leave them static")
        if not terms:
            return v0
        return Size(v0 - sum(k * self.sizes[s] for s, k in terms), terms)

    def shape(self, slot: int) -> tuple:
        shapes = [rec.tape.keep[slot].data.shape for rec in self.recs]
        return tuple(self.size([s[i] for s in shapes], f"a shape {shapes[0]}")
                     for i in range(len(shapes[0])))

    def params(self, k: int) -> dict:
        """Step k's parameters; a shape that moves comes as a tuple holding Sizes."""
        step, out = self.recs[0].tape.steps[k], {}
        for name, value in step.params.items():
            others = [rec.tape.steps[k].params[name] for rec in self.recs[1:]]
            if all(_same(value, o) for o in others):
                out[name] = value
            elif (step.cls.name, name) in _SIZED and all(len(o) == len(value) for o in others):
                out[name] = tuple(self.size([v] + [o[i] for o in others],
                                            f"{step.cls.name}'s parameter {name}")
                                  for i, v in enumerate(value))
            else:
                raise ValueError(f"onnx.export: {step.cls.name}'s parameter {name} changes with "
                                 f"the dynamic axes ({self.said()}: {value!r}, then "
                                 f"{others[0]!r}); export computes only shapes from them, so "
                                 "leave that axis static")
        return out

    def constant(self, slot: int):
        """A constant's array, or a Filled for one value repeated over a shape that moves or
        for a whole number that moves (a count)."""
        arrays = [rec.tape.sources[slot][1] for rec in self.recs]
        if all(_same(arrays[0], a) for a in arrays[1:]):
            return arrays[0]
        if all(a.ndim == 0 and a.dtype.kind in "iuf" and np.isfinite(a) and a == np.round(a)
               for a in arrays):
            count = self.size([int(a) for a in arrays], f"a number {arrays[0]}")
            return Filled((), count, arrays[0].dtype)  # mean's N, var's N - 1
        first = arrays[0].reshape(-1)[:1]
        if len({a.ndim for a in arrays}) > 1 or not first.size or not all(
                a.dtype == first.dtype and (a == first[0]).all() for a in arrays):
            raise ValueError(f"onnx.export: a constant of shape {arrays[0].shape} changes with "
                             f"the dynamic axes ({self.said()}) and is not one value repeated, "
                             "so the graph cannot compute it; leave that axis static")
        shapes = [a.shape for a in arrays]
        return Filled(tuple(self.size([s[i] for s in shapes], f"a constant's shape {shapes[0]}")
                            for i in range(len(shapes[0]))), first[0], first.dtype)


def _same(a, b) -> bool:
    """Equal parameters: arrays by dtype, shape and values; Windows by geometry."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.dtype == b.dtype and a.shape == b.shape and \
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, Windows):
        return isinstance(b, Windows) and repr(a) == repr(b)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


# ================================================================== the graph being written


class _Graph:
    """The ONNX graph under construction: nodes, initializers, unique names, and the values
    each tape slot has become (written on first use, so unused constants are left out)."""

    def __init__(self, onnx, state_names: dict):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.state_names = state_names
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self.taken: set = set()
        self.names: dict = {}  # tape slot -> the ONNX value holding it
        self.symbols: dict = {}  # symbol -> (input name, axis) its size is read from
        self.arrays: dict = {}  # id(array) -> (array, initializer): kept, so no id is reused
        self.cache: dict = {}  # small constants by value, and each symbol's Shape node

    def take(self, name: str) -> str:
        """`name`, or name_1, name_2, ... if taken: every value has its own name."""
        unique, i = name, 0
        while unique in self.taken:
            i += 1
            unique = f"{name}_{i}"
        self.taken.add(unique)
        return unique

    def node(self, op: str, inputs: list, out: str | None = None, n_out: int = 1, **attrs):
        outs = [out or self.take(op[0].lower() + op[1:])] + \
               [self.take(f"{out or op}_{i}") for i in range(1, n_out)]
        self.nodes.append(self.helper.make_node(op, inputs, outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, name: str = "const") -> str:
        """An initializer holding `array` (one per array object)."""
        if id(array) not in self.arrays:
            tensor = self.numpy_helper.from_array(np.asarray(array), self.take(name))
            self.initializers.append(tensor)
            self.arrays[id(array)] = (array, tensor.name)
        return self.arrays[id(array)][1]

    def ints(self, values) -> str:
        """A 1-D int64 constant (axes, pads, static shapes): one initializer per value."""
        key = ("ints",) + tuple(int(v) for v in values)
        if key not in self.cache:
            self.cache[key] = self.const(np.array(key[1:], np.int64), "ints")
        return self.cache[key]

    def scalar(self, value, dtype) -> str:
        """A 0-d constant of dtype (a padding value, a 1 to add): one per value."""
        key = ("scalar", np.dtype(dtype).str, float(value))
        if key not in self.cache:
            self.cache[key] = self.const(np.array(value, dtype), "scalar")
        return self.cache[key]

    def cast(self, x: str, have, want) -> str:
        if np.dtype(have) == np.dtype(want):
            return x
        return self.node("Cast", [x], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(want)))

    def fill(self, shape: tuple, value, dtype) -> str:
        """ConstantOfShape: `value` repeated over a shape (Sizes allowed)."""
        one = self.numpy_helper.from_array(np.array([value], dtype), "value")
        return self.node("ConstantOfShape", [self.shape(shape)], value=one)

    def size(self, symbol: str) -> str:
        """A 1-D int64 [size] of a symbol, read from the shape of the input that has it."""
        key = ("size", symbol)
        if key not in self.cache:
            x, axis = self.symbols[symbol]
            self.cache[key] = self.node("Shape", [x], self.take(symbol), start=axis,
                                        end=axis + 1)
        return self.cache[key]

    def shape(self, dims: tuple) -> str:
        """A 1-D int64 shape: a constant, or with Sizes computed from the inputs' shapes."""
        if not any(isinstance(d, Size) for d in dims):
            return self.ints(dims)
        parts = []
        for d in dims:
            if not isinstance(d, Size):
                parts.append(self.ints([d]))
                continue
            total = None
            for symbol, k in d.terms:
                term = self.size(symbol) if k == 1 else self.node(
                    "Mul", [self.size(symbol), self.ints([k])])
                total = term if total is None else self.node("Add", [total, term])
            parts.append(total if not d.const else self.node("Add", [total, self.ints([d.const])]))
        return self.node("Concat", parts, axis=0)

    def value_info(self, name: str, array: np.ndarray, shape: tuple, named: dict | None):
        """A graph input's or output's type: dtype and shape, moving axes by their names."""
        dims = [(named or {}).get(a, str(n) if isinstance(n, Size) else n)
                for a, n in enumerate(shape)]
        return self.helper.make_tensor_value_info(
            name, self.helper.np_dtype_to_tensor_dtype(array.dtype), dims)

    def source(self, rec, vary, slot: int) -> str:
        """The ONNX value of a slot no step made: a parameter or a constant."""
        if slot in self.names:
            return self.names[slot]
        kind, what = rec.tape.sources[slot]
        if kind == "param":
            name = self.state_names.get(id(what)) or what.name or "param"
            self.names[slot] = self.const(what.data, name)
        elif kind == "const":
            value = vary.constant(slot)
            if isinstance(value, Filled) and isinstance(value.value, Size):  # a count
                count = self.node("Squeeze", [self.shape((value.value,)), self.ints([0])])
                self.names[slot] = self.cast(count, np.int64, value.dtype)
            elif isinstance(value, Filled):
                self.names[slot] = self.fill(value.shape, value.value, value.dtype)
            else:  # a buffer (batch norm's statistics) is named as in state_dict
                self.names[slot] = self.const(value, self.state_names.get(id(value), "const"))
        else:  # pragma: no cover - a forward recording holds inputs, params, consts, steps
            raise AssertionError(f"onnx.export: unexpected source {kind} in a forward recording")
        return self.names[slot]


def _write_steps(g: _Graph, rec, vary: _Variation, out_names: list) -> None:
    """Each step the outputs need, as ONNX nodes; then each output under its name."""
    tape = rec.tape
    live = set(rec.output_slots)
    for step in reversed(tape.steps):
        if step.out in live:
            live.update(step.inputs)
    first = {}  # an output made by a step is the name of the step's last node
    for slot, name in zip(rec.output_slots, out_names):
        if tape.sources[slot][0] == "step" and slot not in first:
            first[slot] = name
    for k, step in enumerate(tape.steps):
        if step.out not in live:
            continue
        convert = _CONVERT.get(step.cls.name)
        if convert is None:
            raise ValueError(f"onnx.export: the op {step.cls.name!r} has no ONNX form (its class "
                             f"is {step.cls.__name__}); write the model with ops that do, or "
                             "add it to tinygrad1d/onnx.py")
        s = SimpleNamespace(
            op=step.cls.name, params=vary.params(k),
            x=[g.names[n] if n in g.names else g.source(rec, vary, n) for n in step.inputs],
            dtypes=[tape.keep[n].data.dtype for n in step.inputs],
            shapes=[vary.shape(n) for n in step.inputs],
            dtype=tape.keep[step.out].data.dtype, shape=vary.shape(step.out),
            out=first.get(step.out) or g.take(f"{step.cls.name}_{k}"))
        assert convert(g, s) == s.out, f"onnx.export: {s.op} must end in its output {s.out}"
        g.names[step.out] = s.out
    for slot, name in zip(rec.output_slots, out_names):
        if first.get(slot) == name:
            first.pop(slot)  # the step's node already writes it: the next use copies it
            continue
        value = g.names.get(slot) or g.source(rec, vary, slot)  # an input, a constant,
        g.node("Identity", [value], name)  # or an output given twice


def _static(n, s, what: str) -> int:
    """A size the conversion needs as a number: refused if it moves with a dynamic axis."""
    if isinstance(n, Size):
        raise ValueError(f"onnx.export: {s.op} needs {what} as a fixed number, but it is {n}, "
                         "which moves with a dynamic axis; leave that axis static")
    return n


# ================================================================== elementwise


def _alike(g: _Graph, s) -> list:
    """The inputs cast to the output's dtype: numpy promotes mixed dtypes, ONNX does not."""
    return [g.cast(x, d, s.dtype) for x, d in zip(s.x, s.dtypes)]


def _elementwise(op: str):
    def convert(g, s):
        return g.node(op, _alike(g, s), s.out)
    return convert


def _log1p(g, s):  # log(1 + x): a rounding lost for tiny x, far below float32's 1e-4 checks
    return g.node("Log", [g.node("Add", [_alike(g, s)[0], g.scalar(1, s.dtype)])], s.out)


def _expm1(g, s):
    return g.node("Sub", [g.node("Exp", _alike(g, s)), g.scalar(1, s.dtype)], s.out)


def _step(g, s):
    x, fn = _alike(g, s)[0], s.params["fn"]
    if fn == "trunc":  # no Trunc in ONNX: towards zero is floor above it, ceil below
        below = g.node("Less", [x, g.scalar(0, s.dtype)])
        return g.node("Where", [below, g.node("Ceil", [x]), g.node("Floor", [x])], s.out)
    op = {"sign": "Sign", "floor": "Floor", "ceil": "Ceil", "round": "Round"}[fn]
    return g.node(op, [x], s.out)  # Round halves to even, as np.round


def _erf(g, s):
    if s.dtype != np.float64:
        return g.node("Erf", _alike(g, s), s.out)
    # onnxruntime has Erf for float32 only: float64 goes through float32 (7 digits of 16)
    erf = g.node("Erf", [g.cast(s.x[0], s.dtypes[0], np.float32)])
    return g.node("Cast", [erf], s.out, to=g.helper.TensorProto.DOUBLE)


def _cast(g, s):
    return g.node("Cast", [s.x[0]], s.out, to=g.helper.np_dtype_to_tensor_dtype(s.dtype))


def _where(g, s):
    cond = g.cast(s.x[0], s.dtypes[0], np.bool_)
    return g.node("Where", [cond] + _alike(g, s)[1:], s.out)


def _floor_divide(g, s):
    if s.dtype.kind == "f":
        return g.node("Floor", [g.node("Div", _alike(g, s))], s.out)
    # ONNX's integer Div truncates towards zero; floor it in float64 (exact below 2^53)
    x, y = (g.cast(x, d, np.float64) for x, d in zip(s.x, s.dtypes))
    return g.node("Cast", [g.node("Floor", [g.node("Div", [x, y])])], s.out,
                  to=g.helper.np_dtype_to_tensor_dtype(s.dtype))


_COMPARISONS = {"lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual",
                "eq": "Equal"}


def _compare(g, s):
    fn = s.params["fn"]
    if fn.startswith("logical_"):  # numpy's logical_* read any number as true or false
        x, y = (g.cast(x, d, np.bool_) for x, d in zip(s.x, s.dtypes))
        return g.node(fn.removeprefix("logical_").capitalize(), [x, y], s.out)
    common = np.result_type(*s.dtypes)
    x, y = (g.cast(x, d, common) for x, d in zip(s.x, s.dtypes))
    if fn in _COMPARISONS:
        return g.node(_COMPARISONS[fn], [x, y], s.out)
    if fn == "ne":
        return g.node("Not", [g.node("Equal", [x, y])], s.out)
    op = fn.capitalize() if common == np.bool_ else "Bitwise" + fn.capitalize()  # and, or, xor
    return g.node(op, [x, y], s.out)


def _predicate(g, s):
    fn, x, d = s.params["fn"], s.x[0], s.dtypes[0]
    if fn == "invert":  # ~ is not on booleans, bitwise on integers
        return g.node("Not" if d == np.bool_ else "BitwiseNot", [x], s.out)
    if fn == "logical_not":
        return g.node("Not", [g.cast(x, d, np.bool_)], s.out)
    x = x if d.kind == "f" else g.cast(x, d, np.float64)  # an integer is never nan or inf
    if fn == "isnan":
        return g.node("IsNaN", [x], s.out)
    if fn == "isinf":
        return g.node("IsInf", [x], s.out)
    return g.node("Not", [g.node("Or", [g.node("IsNaN", [x]), g.node("IsInf", [x])])], s.out)


# ================================================================== reductions


def _axes(axis, ndim: int):
    """A reduction's axes as a sorted list (negatives wrapped), or None for all."""
    if axis is None:
        return None
    return sorted({int(a) % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,))})


def _reduce(g, op: str, x: str, axes, keepdims: bool, ndim: int, out: str) -> str:
    if ndim == 0 or axes == []:  # nothing to reduce over: the value itself
        return g.node("Identity", [x], out)
    inputs = [x] if axes is None else [x, g.ints(axes)]
    return g.node(op, inputs, out, keepdims=int(bool(keepdims)))


def _reduction(op: str):
    def convert(g, s):
        ndim = len(s.shapes[0])
        return _reduce(g, op, _alike(g, s)[0], _axes(s.params.get("axis"), ndim),
                       s.params.get("keepdims", False), ndim, s.out)
    return convert


def _cumsum(g, s):
    axis = g.const(np.array(s.params["axis"], np.int64), "axis")
    return g.node("CumSum", [_alike(g, s)[0], axis], s.out)


def _stat(g, s):
    fn, ndim = s.params["fn"], len(s.shapes[0])
    axes, keep = _axes(s.params.get("axis"), ndim), s.params.get("keepdims", False)
    if fn in ("max", "min"):
        return _reduce(g, "Reduce" + fn.capitalize(), s.x[0], axes, keep, ndim, s.out)
    # all, any, count_nonzero: over 0/1 integers (the Reduce ops take no booleans)
    ones = g.node("Cast", [g.cast(s.x[0], s.dtypes[0], np.bool_)], to=g.helper.TensorProto.INT64)
    if fn == "count_nonzero":
        return _reduce(g, "ReduceSum", ones, axes, keep, ndim, s.out)
    found = _reduce(g, "ReduceMin" if fn == "all" else "ReduceMax", ones, axes, keep, ndim,
                    g.take(fn))
    return g.node("Cast", [found], s.out, to=g.helper.TensorProto.BOOL)


def _arg(g, s):
    fn, ndim = s.params["fn"], len(s.shapes[0])
    axis, keep = s.params["axis"] % ndim, int(bool(s.params.get("keepdims", False)))
    x = g.cast(s.x[0], s.dtypes[0], np.int32) if s.dtypes[0] == np.bool_ else s.x[0]
    if fn in ("argmax", "argmin"):  # the first of ties, as numpy (select_last_index=0)
        return g.node("ArgMax" if fn == "argmax" else "ArgMin", [x], s.out, axis=axis,
                      keepdims=keep)
    # a sort is a TopK of every element; its ties keep the lower index first (stable)
    everything = g.node("Shape", [x], start=axis, end=axis + 1)
    order = g.node("TopK", [x, everything], n_out=2, axis=axis, sorted=1,
                   largest=int(fn == "argsort_descending"))[1]
    if fn != "median":
        return g.node("Identity", [order], s.out)
    middle = g.ints([(_static(s.shapes[0][axis], s, "the length of its axis") - 1) // 2])
    if keep:  # where the lower median sits (torch's median)
        return g.node("Gather", [order, middle], s.out, axis=axis)
    return g.node("Squeeze", [g.node("Gather", [order, middle], axis=axis), g.ints([axis])],
                  s.out)


def _first_max(g, s):
    """A mask of the first maximum along axis: where the tap number equals ArgMax's."""
    axis, ndim = s.params["axis"], len(s.shapes[0])
    x = g.cast(s.x[0], s.dtypes[0], np.int32) if s.dtypes[0] == np.bool_ else s.x[0]
    best = g.node("ArgMax", [x], axis=axis, keepdims=1)
    n = _static(s.shapes[0][axis], s, "the length of its axis")
    taps = np.arange(n).reshape((-1,) + (1,) * (ndim - axis - 1))  # broadcasts along axis
    return g.node("Equal", [g.const(taps, "taps"), best], s.out)


# ================================================================== movement


def _reshape(g, s):
    shape = s.params["shape"]
    moving = [i for i, d in enumerate(shape) if isinstance(d, Size)]
    if len(moving) == 1:  # one size unknown: -1 says "whatever is left", as torch writes it
        shape = tuple(-1 if i == moving[0] else d for i, d in enumerate(shape))
    zero = 0 in shape and -1 not in shape  # ONNX reads 0 as "copy that axis" unless told
    return g.node("Reshape", [s.x[0], g.shape(shape)], s.out, allowzero=int(zero))


def _transpose(g, s):
    if not s.params["axes"]:  # a 0-d value has nothing to permute
        return g.node("Identity", s.x, s.out)
    return g.node("Transpose", s.x, s.out, perm=list(s.params["axes"]))


def _expand(g, s):
    return g.node("Expand", [s.x[0], g.shape(s.params["shape"])], s.out)


def _pad(g, s):
    widths = s.params["pad_width"]
    pads = [a for a, _ in widths] + [b for _, b in widths]  # ONNX: all begins, then all ends
    value = g.scalar(s.params.get("value", 0.0), s.dtype)
    return g.node("Pad", [s.x[0], g.ints(pads), value], s.out, mode="constant")


def _index_items(index: tuple, ndim: int) -> list:
    """numpy's index as items over x's axes: a bool mask becomes its nonzero positions (one
    integer array per axis it covers) and Ellipsis the whole slices it stands for."""
    items = []
    for it in index:
        if isinstance(it, np.ndarray) and it.dtype == np.bool_:
            if it.ndim == 0:
                raise ValueError("onnx.export: getitem with a 0-d boolean index has no ONNX form")
            items += [i.astype(np.int64) for i in np.nonzero(it)]
        elif isinstance(it, np.ndarray):
            items.append(it.astype(np.int64))
        elif isinstance(it, (int, np.integer)):
            items.append(int(it))
        else:
            items.append(it)  # a slice, None or Ellipsis
    used = sum(1 for it in items if it is not None and it is not Ellipsis)
    at = next((i for i, it in enumerate(items) if it is Ellipsis), len(items))
    items[at:at + 1] = [slice(None)] * (ndim - used)
    return items


def _bounds(it) -> tuple:
    """(start, end, step) of a slice or an int for ONNX's Slice, which clamps as Python does."""
    if isinstance(it, int):
        return it, (it + 1) or INT_MAX, 1  # x[-1] is x[-1:], to the end
    step = 1 if it.step is None else it.step
    start = it.start if it.start is not None else (0 if step > 0 else INT_MAX)
    stop = it.stop if it.stop is not None else (INT_MAX if step > 0 else INT_MIN)
    return start, stop, step


def _getitem(g, s):
    """Basic indexing is Slice (and Squeeze for ints, Unsqueeze for None); integer arrays
    (and masks) are one GatherND over the indexed axes, moved first and back as numpy does."""
    x, items = s.x[0], _index_items(s.params["index"], len(s.shapes[0]))
    new = [i for i, it in enumerate(items) if it is None]
    if new:  # each None a new axis of 1, then read whole
        x = g.node("Unsqueeze", [x, g.ints(new)])
        items = [slice(None) if it is None else it for it in items]
    arrays = any(isinstance(it, np.ndarray) for it in items)
    if arrays:  # beside an array an int is an index array too (numpy), so it joins them
        items = [np.array(it, np.int64) if isinstance(it, int) else it for it in items]
    cut = [(a, _bounds(it)) for a, it in enumerate(items)
           if isinstance(it, int) or (isinstance(it, slice) and it != slice(None))]
    if cut:
        starts, ends, steps = zip(*[b for _, b in cut])
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints([a for a, _ in cut]),
                             g.ints(steps)])
    if not arrays:
        ints = [a for a, it in enumerate(items) if isinstance(it, int)]
        return g.node("Squeeze", [x, g.ints(ints)], s.out) if ints else \
            g.node("Identity", [x], s.out)
    adv = [a for a, it in enumerate(items) if isinstance(it, np.ndarray)]
    rest = [a for a in range(len(items)) if a not in adv]
    if adv != list(range(len(adv))):  # (indexed axes..., the others...)
        x = g.node("Transpose", [x], perm=adv + rest)
    index = np.stack(np.broadcast_arrays(*[items[a] for a in adv]), axis=-1)
    b, p = index.ndim - 1, adv[0]  # the index's own axes; where numpy puts them
    if p == 0 or adv != list(range(p, p + len(adv))):  # numpy: first, unless side by side
        return g.node("GatherND", [x, g.const(index, "index")], s.out)
    x = g.node("GatherND", [x, g.const(index, "index")])  # -> (index axes..., the others...)
    perm = list(range(b, b + p)) + list(range(b)) + list(range(b + p, b + len(rest)))
    return g.node("Transpose", [x], s.out, perm=perm)


def _index_scatter(g, s):
    """Zeros of `shape` with x added at a getitem index: where each element of x lands, as
    positions in the flattened output (numpy computes them), then one ScatterElements."""
    shape = tuple(_static(n, s, "its output shape") for n in s.params["shape"])
    lands = np.arange(math.prod(shape)).reshape(shape)[s.params["index"]]
    values = g.node("Reshape", [g.node("Expand", [s.x[0], g.ints(lands.shape)]), g.ints([-1])])
    zeros = g.fill((math.prod(shape),), 0, s.dtype)
    flat = g.node("ScatterElements", [zeros, g.const(lands.reshape(-1), "index"), values],
                  axis=0, reduction="add")  # repeated positions add up, as np.add.at
    return g.node("Reshape", [flat, g.ints(shape)], s.out, allowzero=int(0 in shape))


def _cat(g, s):
    return g.node("Concat", _alike(g, s), s.out, axis=s.params.get("axis", 0))


def _stack(g, s):
    axis = g.ints([s.params.get("axis", 0)])
    return g.node("Concat", [g.node("Unsqueeze", [x, axis]) for x in _alike(g, s)], s.out,
                  axis=s.params.get("axis", 0))


# ================================================================== gather / scatter


def _gather(g, s):
    """np.take: ONNX's Gather. Sliding windows are padded first (with `value`), then gathered
    with their (K, L_out) index: conv1d's and the pools' windows, as drawn."""
    x, index, axis = s.x[0], s.params["index"], s.params["axis"]
    if isinstance(index, Windows):
        if any(index.padding):  # pads for every axis: onnxruntime's transpose optimizer
            pads = [0] * (2 * len(s.shapes[0]))  # misreads Pad's `axes` input (1.32)
            pads[axis], pads[len(s.shapes[0]) + axis] = index.padding
            value = g.scalar(s.params.get("value", 0.0), s.dtype)
            x = g.node("Pad", [x, g.ints(pads), value])
        index = index.index()
    index = index if isinstance(index, np.ndarray) else np.asarray(index)
    return g.node("Gather", [x, g.const(index.astype(np.int64, copy=False), "index")], s.out,
                  axis=axis)


def _scatter_add(g, s):
    """Zeros with `size` along axis, x's slices added at the index: x is flattened to one
    axis of index positions, and ScatterElements adds each at its position."""
    x, index, axis, size = s.x[0], s.params["index"], s.params["axis"], s.params["size"]
    left, right = index.padding if isinstance(index, Windows) else (0, 0)
    idx = index.index() if isinstance(index, Windows) else np.asarray(index, np.int64) % size
    ndim, nd = len(s.shapes[0]), idx.ndim
    before = g.node("Shape", [x], end=axis)
    after = g.node("Shape", [x], start=axis + nd)
    flat = g.node("Reshape", [x, g.node("Concat", [before, g.ints([idx.size]), after], axis=0)])
    where = idx.astype(np.int64).reshape((1,) * axis + (-1,) + (1,) * (ndim - axis - nd))
    where = g.node("Expand", [g.const(where, "index"), g.node("Shape", [flat])])
    zeros = g.node("ConstantOfShape", [g.node("Concat", [before, g.ints([left + size + right]),
                                                         after], axis=0)],
                   value=g.numpy_helper.from_array(np.zeros(1, s.dtype), "value"))
    if not (left or right):
        return g.node("ScatterElements", [zeros, where, flat], s.out, axis=axis,
                      reduction="add")
    out = g.node("ScatterElements", [zeros, where, flat], axis=axis, reduction="add")
    # what was read from the padding has nowhere to go: cut it off
    return g.node("Slice", [out, g.ints([left]), g.ints([left + size]), g.ints([axis])], s.out)


def _take_along(g, s):
    (xs, ishape), dim = s.shapes, s.params["dim"]
    x, index = s.x[0], g.cast(s.x[1], s.dtypes[1], np.int64)
    smaller = [(a, n) for a, (n, m) in enumerate(zip(ishape, xs)) if a != dim and n != m]
    if smaller:  # torch.gather's index may be smaller off the axis; GatherElements' may not
        x = g.node("Slice", [x, g.ints([0] * len(smaller)),
                             g.ints([_static(n, s, "the index's shape") for _, n in smaller]),
                             g.ints([a for a, _ in smaller])])
    return g.node("GatherElements", [x, index], s.out, axis=dim)


def _put_along(g, s):
    zeros = g.fill(s.params["shape"], 0, s.dtype)
    index = g.cast(s.x[1], s.dtypes[1], np.int64)
    return g.node("ScatterElements", [zeros, index, s.x[0]], s.out, axis=s.params["dim"],
                  reduction="add")


_CONVERT = {
    # elementwise unary
    "neg": _elementwise("Neg"), "exp": _elementwise("Exp"), "log": _elementwise("Log"),
    "tanh": _elementwise("Tanh"), "sin": _elementwise("Sin"), "cos": _elementwise("Cos"),
    "log1p": _log1p, "expm1": _expm1, "erf": _erf,
    "sigmoid": _elementwise("Sigmoid"), "relu": _elementwise("Relu"),
    "abs": _elementwise("Abs"), "step": _step, "cast": _cast,
    # elementwise binary
    "add": _elementwise("Add"), "sub": _elementwise("Sub"), "mul": _elementwise("Mul"),
    "div": _elementwise("Div"), "pow": _elementwise("Pow"), "floor_divide": _floor_divide,
    "maximum": _elementwise("Max"), "where": _where,
    # reductions
    "sum": _reduction("ReduceSum"), "max": _reduction("ReduceMax"),
    "prod": _reduction("ReduceProd"), "cumsum": _cumsum,
    # movement
    "reshape": _reshape, "transpose": _transpose, "expand": _expand, "pad": _pad,
    "getitem": _getitem, "index_scatter": _index_scatter, "cat": _cat, "stack": _stack,
    # gather / scatter, matmul
    "gather": _gather, "scatter_add": _scatter_add, "matmul": _elementwise("MatMul"),
    "take_along": _take_along, "put_along": _put_along,
    # not differentiated: masks, positions, counts, conversions
    "compare": _compare, "predicate": _predicate, "stat": _stat, "arg": _arg,
    "convert": _cast, "detach": _elementwise("Identity"), "first_max": _first_max,
}  # and TRAINING_ONLY, refused
