"""Program capture: `tg.compile(fn)` records a function's primitives once and replays them.

Eager execution pays for bookkeeping on every op: a Tensor per result, a node per op, a heap
walk per backward. A model calls the same ops in the same order on every step, so the first
call for each input signature (shapes, dtypes, requires_grad flags, grad mode, training mode)
runs `fn` while a `Tape` records every primitive applied (the engine calls `tape.record` from
`Function.apply`: that hook is all the engine knows of capture), then runs one backward,
recording that too. Both recordings become straight-line Python over plain numpy arrays, one
primitive call per line (`compiled.code` prints it), and later calls execute that code: the
same forward and backward methods on the same arrays, so outputs and gradients equal the
eager ones to the last bit, without the bookkeeping. In the caller's graph a compiled call is
one node (named after the function), whose backward runs the recorded backward.

What is frozen: Python numbers and branches taken while recording (numbers passed as
arguments are part of the signature), and arrays the function makes for itself. What is read
afresh on every call: the inputs, the parameters (every tensor the function reads that
requires grad, by its current .data), and every value computed from them, since each is the
output of a recorded op: masks, positions and random draws are ops too (ops.py, "not
differentiated"). A value taken back into Python (`.item()`, `float(t)`, `bool(t)`,
`.tolist()`, `.numpy()`, an index tensor) would be frozen silently, so capture refuses it with
a CompileError naming the line; so does a write into a tensor's memory, and a backward that
must itself be differentiated (`create_graph=True` through a compiled call).
"""
from __future__ import annotations

import builtins
import math
import re
from dataclasses import dataclass, field

import numpy as np

from .nn.module import Module
from .tensor import Function, Tensor, _State, constant, get_default_dtype, grad
from .tensor import is_grad_enabled, user_line

__all__ = ["CompileError", "Compiled", "CompiledModule", "Program", "Recording", "Tape",
           "compile", "record"]


class CompileError(RuntimeError):
    """What a captured program cannot hold: a value read back into Python while capturing,
    a write into memory, a create_graph backward through a compiled call."""


# ================================================================== recording


@dataclass
class Step:
    """One recorded op: its class, its input slots, its parameters, its output slot."""

    cls: type
    inputs: list
    params: dict
    out: int
    scalar: bool  # a 0-d result: apply turned forward's numpy scalar into an array
    ctx: object = None  # the node as recorded: the arrays it saved name backward's inputs


@dataclass
class Tape:
    """What `Function.apply` reports while a function runs: every op, in order.

    A slot is a value: an input of the function, a parameter (a tensor it reads that requires
    grad, read afresh on every call), a constant (an array made while recording), the output
    of a recorded op, a seed (the gradient of an output, in the backward recording), or an
    array a forward op saved on its node (`saved`: id(array) -> (step, attribute))."""

    slots: dict = field(default_factory=dict)  # id(tensor) -> its slot
    sources: list = field(default_factory=list)  # slot -> (kind, what)
    steps: list = field(default_factory=list)
    saved: dict = field(default_factory=dict)  # id(array) -> (forward step, attribute name)
    keep: list = field(default_factory=list)  # slot -> its tensor, so that ids stay unique
    forward_steps: int = -1  # set when the forward recording ends

    def slot(self, t: Tensor, kind: str, what) -> int:
        n = len(self.sources)
        self.slots[id(t)] = n
        self.sources.append((kind, what))
        self.keep.append(t)
        return n

    def source(self, t: Tensor) -> int:
        """The slot of a value; a value no op produced gets one on first sight."""
        n = self.slots.get(id(t))
        if n is not None:
            return n
        at = self.saved.get(id(t.data))
        if at is not None and self.forward_steps >= 0:  # a mask a forward op saved
            return self.slot(t, "saved", at)
        if t.requires_grad:  # a parameter, or any outside tensor that needs a gradient
            return self.slot(t, "param", t)
        return self.slot(t, "const", t.data)  # made while recording: frozen

    def record(self, cls, ctx, args, params, out) -> None:
        if issubclass(cls, CompiledCall):
            raise CompileError(f"compile: a compiled function was called while another was "
                               f"being captured, at {user_line()}; compile the outer one only")
        ins = [self.source(a) for a in args]
        n = self.slot(out, "step", len(self.steps))
        self.steps.append(Step(cls, ins, params, n, out.data.ndim == 0, ctx))
        if self.forward_steps < 0:
            for name, v in vars(ctx).items():  # arrays a backward may read from the node
                if type(v) is np.ndarray:
                    self.saved.setdefault(id(v), (len(self.steps) - 1, name))

    def read_back(self, t: Tensor, op: str) -> None:
        n = self.slots.get(id(t))
        if n is not None and self.sources[n][0] != "const":
            raise CompileError(f"compile: {op} takes a value computed from the inputs back into "
                               f"Python, at {user_line()}; a replay would reuse the value of "
                               "the first call. Keep it a Tensor, or leave it out of the "
                               "compiled function")

    def refuse(self, op: str, why: str) -> None:
        raise CompileError(f"compile: {op} {why}, at {user_line()}")


def _recording(tape: Tape, fn, *args):
    """fn(*args) with the tape listening; no other capture may run meanwhile."""
    if _State.tape is not None:
        raise CompileError(f"compile: a capture is already running, at {user_line()}")
    _State.tape = tape
    try:
        return fn(*args)
    finally:
        _State.tape = None


# ================================================================== the program as code


def _tuple(items: list) -> str:
    """Python's spelling of a tuple: (a,) or (a, b)."""
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


class _Code(str):
    """A parameter value written as code rather than as a literal (a node's saved array)."""


def _short(v) -> str:
    """A constant as one short line for the code's header."""
    if isinstance(v, np.ndarray):
        if v.size <= 6:
            return " ".join(np.array2string(v, separator=", ").split())
        return f"array of shape {v.shape}, {v.dtype}"
    return " ".join(repr(v).split())[:90]


class _Writer:
    """Writes recorded steps as lines of Python. Values with no literal form (a Windows
    geometry, an index array) go into the constants table K, named K[i] in the code."""

    def __init__(self):
        self.consts: list = []
        self.ns: dict = {"asarray": np.asarray, "K": self.consts, "zeros": np.zeros,
                         "add_at": _add_at}

    def value(self, v) -> str:
        if isinstance(v, _Code):
            return str(v)
        if isinstance(v, (bool, int, str, type(None), type(Ellipsis))) or (
                isinstance(v, float) and math.isfinite(v)):
            return repr(v)
        if isinstance(v, tuple) and all(isinstance(e, (int, slice, type(None))) for e in v):
            return _tuple([self.value(e) for e in v])
        if isinstance(v, slice):
            return f"slice({self.value(v.start)}, {self.value(v.stop)}, {self.value(v.step)})"
        if isinstance(v, np.dtype):
            self.ns[v.name] = v
            return v.name
        for i, c in enumerate(self.consts):  # one entry per object (a geometry used twice)
            if c is v:
                return f"K[{i}]"
        self.consts.append(v)
        return f"K[{len(self.consts) - 1}]"

    def call(self, cls, args: list, params: dict, node: str, scalar: bool) -> str:
        self.ns[cls.__name__] = cls
        inner = ", ".join(args + [f"{k}={self.value(v)}" for k, v in params.items()])
        code = f"{node}.forward({inner})"
        return f"asarray({code})" if scalar else code


@dataclass
class Program:
    """One captured signature of a function: the generated forward and backward (`code`,
    and the functions compiled from it), and what they take and give."""

    name: str
    code: str
    forward: object  # forward(*inputs, *params) -> (outputs, saved)
    backward: object  # backward(saved, *output_gradients) -> one gradient per grad slot
    params: list  # the tensors read afresh on every call, in argument order after inputs
    guards: list  # (param, shape, dtype, requires_grad): changed, the program is stale
    grads_for: list  # per input then per param: does backward compute its gradient
    differentiable: list  # which of fn's flat outputs are differentiable
    tree: object  # how to rebuild fn's result from its flat outputs
    first: tuple | None = None  # the capturing call's (outputs, saved), handed out once

    def fresh(self) -> bool:
        return all(p.data.shape == shape and p.data.dtype == dtype and p.requires_grad == rg
                   for p, shape, dtype, rg in self.guards)

    def __repr__(self) -> str:
        return f"<program of {self.name}>"


def _generate(name: str, tape: Tape, n_inputs: int, out_slots: list, seeds: list,
              grad_slots: list) -> tuple:
    """(source, forward, backward, kept) from a tape whose first forward_steps steps are the
    forward and the rest the backward; kept: what the forward saves for the backward."""
    nf = tape.forward_steps
    fwd, bwd = tape.steps[:nf], tape.steps[nf:]
    # the backward's needs: forward values, and nodes whose saved arrays it reads
    live_b = {n for n in grad_slots if n is not None}
    for s in reversed(bwd):
        if s.out in live_b:
            live_b.update(s.inputs)
    bwd = [s for s in bwd if s.out in live_b]
    need_values, need_nodes = set(), set()  # forward values (inputs, params, results)
    for s in bwd:
        for n in s.inputs:
            kind, what = tape.sources[n]
            if kind in ("input", "param") or (kind == "step" and what < nf):
                need_values.add(n)
            elif kind == "saved":
                need_nodes.add(what[0])
        for v in s.params.values():
            if type(v) is np.ndarray and id(v) in tape.saved:
                need_nodes.add(tape.saved[id(v)][0])
    for n in grad_slots:  # a gradient that is a forward value itself
        kind, what = tape.sources[n] if n is not None else (None, None)
        if kind in ("input", "param") or (kind == "step" and what < nf):
            need_values.add(n)
    # the forward's live steps: outputs, what backward needs, effects, and what they read
    live = set(out_slots) | need_values | {fwd[k].out for k in need_nodes}
    live |= {s.out for s in fwd if s.cls.effect}
    for s in reversed(fwd):
        if s.out in live:
            live.update(s.inputs)

    w = _Writer()
    names: dict = {}
    param_slots = [n for n, (kind, _) in enumerate(tape.sources) if kind == "param"]
    for n in range(n_inputs):
        names[n] = f"x{n}"
    for j, n in enumerate(param_slots):
        names[n] = f"p{j}"
    for j, n in enumerate(seeds):
        names[n] = f"g{j}"

    def arg(n: int) -> str:
        if n not in names:
            kind, what = tape.sources[n]
            names[n] = w.value(what) if kind == "const" else f"n{what[0]}.{what[1]}"
        return names[n]

    def param(v):
        if type(v) is np.ndarray and id(v) in tape.saved:  # an array the forward node saved
            k, attr = tape.saved[id(v)]
            return _Code(f"n{k}.{attr}")
        return v

    args = ", ".join([names[n] for n in range(n_inputs)] + [names[n] for n in param_slots])
    lines = [f"def forward({args}):",
             f'    """{name}, recorded: one primitive per line."""']
    for k, s in enumerate(fwd):
        if s.out not in live:
            continue
        node = f"n{k}" if k in need_nodes else f"{s.cls.__name__}()"
        if k in need_nodes:
            lines.append(f"    n{k} = {s.cls.__name__}()")
        names[s.out] = f"v{k}"
        lines.append(f"    v{k} = " + w.call(s.cls, [arg(n) for n in s.inputs], s.params, node,
                                              s.scalar))
    kept = sorted(need_values) + [("node", k) for k in sorted(need_nodes)]
    kept_names = [names[n] if not isinstance(n, tuple) else f"n{n[1]}" for n in kept]
    outs = _tuple([arg(n) for n in out_slots])
    lines.append(f"    return {outs}, {_tuple(kept_names) if kept_names else '()'}")

    seed_args = "".join(f", g{j}" for j in range(len(seeds)))
    blines = [f"def backward(saved{seed_args}):",
              f'    """{name}\'s gradients, recorded: from the outputs\' to the inputs\'."""']
    if kept:
        blines.append(f"    {', '.join(kept_names)}{',' if len(kept) == 1 else ''} = saved")
    for kind, s, line in _accumulate(tape, bwd, grad_slots):
        k = tape.sources[s.out][1]
        if kind == "step":
            names[s.out] = f"b{k}"
            blines.append(f"    b{k} = " + w.call(s.cls, [arg(n) for n in s.inputs],
                                                  {p: param(v) for p, v in s.params.items()},
                                                  f"{s.cls.__name__}()", s.scalar))
        elif kind == "hold":  # the add's result is the accumulator named in `line`
            names[s.out] = line
        else:  # one line of an accumulation, written with the names known so far
            blines.append("    " + line.format(
                *[arg(n) for n in s.inputs], index=w.value(s.params.get("index")),
                shape=w.value(tape.keep[s.out].data.shape),
                dtype=w.value(tape.keep[s.out].data.dtype)))
    grads = [("None" if n is None else arg(n)) for n in grad_slots]
    blines.append(f"    return {_tuple(grads) if grads else '()'}")
    header = [f"# K[{i}] = {_short(v)}" for i, v in enumerate(w.consts)]
    lines, blines = _release(lines, 2), _release(blines, 3 if kept else 2)
    source = "\n".join(header + lines) + "\n\n\n" + "\n".join(blines) + "\n"
    exec(builtins.compile(source, f"<tg.compile: {name}>", "exec"), w.ns)  # noqa: S102
    return source, w.ns["forward"], w.ns["backward"], kept


# ================================================================== a call in the graph


class CompiledCall(Function):
    """A compiled function in the caller's graph: one node whose forward runs the recorded
    forward and whose backward runs the recorded backward. Its inputs are the function's
    inputs and parameters; its one output is the function's differentiable output (several
    are laid end to end, and the caller's graph reads each back as a slice)."""

    name = "compiled"

    def forward(ctx, *arrays, program):
        if program.first is not None:  # the capturing call already computed it
            (outs, ctx.saved), program.first = program.first, None
        else:
            outs, ctx.saved = program.forward(*arrays)
        ctx.program, ctx.outs = program, outs
        diff = [np.asarray(o) for o, d in zip(outs, program.differentiable) if d]
        if len(diff) == 1:
            return diff[0]
        return np.concatenate([o.reshape(-1) for o in diff])

    def backward(ctx, g):
        if is_grad_enabled():
            raise CompileError(f"compile: create_graph=True reached {ctx.program.name}, a "
                               "compiled call: its recorded backward is not differentiable "
                               "again; call the function uncompiled for higher derivatives")
        program = ctx.program
        shapes = [np.shape(o) for o, d in zip(ctx.outs, program.differentiable) if d]
        if len(shapes) == 1:
            parts = [g.data]
        else:
            ends = np.cumsum([math.prod(s) for s in shapes])
            parts = [p.reshape(s) for p, s in zip(np.split(g.data, ends[:-1]), shapes)]
        grads = iter(program.backward(ctx.saved, *parts))
        return tuple(constant(np.asarray(next(grads))) if wanted else None
                     for wanted in program.grads_for)


# ================================================================== compile


def _flatten(out, op: str) -> tuple:
    """(flat list of Tensors, tree) of a result: a Tensor, or tuples/lists of them."""
    if isinstance(out, Tensor):
        return [out], None
    if isinstance(out, (tuple, list)):
        flat, trees = [], []
        for item in out:
            f, t = _flatten(item, op)
            trees.append((len(f), t))
            flat += f
        return flat, (type(out), trees)
    raise CompileError(f"compile: {op} must return Tensors (or tuples and lists of them), "
                       f"got {type(out).__name__}")


def _unflatten(flat: list, tree):
    if tree is None:
        return flat[0]
    kind, trees = tree
    items, at = [], 0
    for n, t in trees:
        items.append(_unflatten(flat[at:at + n], t))
        at += n
    return kind(*items) if hasattr(kind, "_fields") else kind(items)


@dataclass
class Recording:
    """fn's forward as data: the tape (steps over slots), the input tensors (slots 0..),
    the flat outputs, their slots, and how to rebuild fn's result. tg.compile turns it into
    code; tg.onnx.export into an ONNX graph."""

    tape: Tape
    inputs: list
    outputs: list
    output_slots: list
    tree: object


def record(fn, *args, name: str | None = None) -> Recording:
    """Run fn(*args) once with every primitive recorded, whatever requires grad. Tensor and
    array arguments are the inputs (slots 0, 1, ... in order); other arguments ride along."""
    name = name or getattr(fn, "__name__", type(fn).__name__)
    tape, call = Tape(), []
    for a in args:
        if isinstance(a, (Tensor, np.ndarray)):
            t = a if isinstance(a, Tensor) else constant(a)
            tape.slot(t, "input", len(tape.sources))
            call.append(t)
        else:
            call.append(a)
    inputs = [tape.keep[n] for n in range(len(tape.sources))]
    flat, tree = _flatten(_recording(tape, fn, *call), name)
    out_slots = [tape.source(t) for t in flat]
    tape.forward_steps = len(tape.steps)
    return Recording(tape, inputs, flat, out_slots, tree)


class Compiled:
    """`tg.compile(fn)`: call it as fn. One program per input signature, captured on its
    first call; `.code` is the latest program's forward and backward source."""

    def __init__(self, fn, name: str | None = None, signature_extra=lambda: ()):
        if not callable(fn):
            raise TypeError(f"compile: expects a function or an nn.Module, got "
                            f"{type(fn).__name__}")
        self.fn, self.extra = fn, signature_extra
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.programs: dict = {}
        self.node = type(f"Compiled_{self.name}", (CompiledCall,), {"name": self.name})
        self.last: Program | None = None

    @property
    def code(self) -> str:
        if self.last is None:
            raise ValueError(f"compile: {self.name} has not been called yet, so nothing is "
                             "captured; call it once")
        return self.last.code

    def _signature(self, args: tuple) -> tuple:
        key = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                key.append((a.data.shape, a.data.dtype.str, a.requires_grad))
            elif isinstance(a, np.ndarray):
                key.append(("array", a.shape, a.dtype.str))
            else:
                try:
                    hash(a)
                except TypeError:
                    raise CompileError(f"compile: argument {i} of {self.name} is a "
                                       f"{type(a).__name__}, neither a Tensor, an array nor a "
                                       "hashable value (numbers are part of the signature)")\
                        from None
                key.append(("value", type(a), a))
        return (tuple(key), is_grad_enabled(), get_default_dtype().str, self.extra())

    def __call__(self, *args):
        key = self._signature(args)
        program = self.programs.get(key)
        if program is None or not program.fresh():
            return self._capture(key, args)
        self.last = program
        inputs = [a if isinstance(a, Tensor) else constant(a) for a in args
                  if isinstance(a, (Tensor, np.ndarray))]
        return self._run(program, inputs)

    def _run(self, program: Program, inputs: list):
        sources = inputs + program.params
        if not any(program.differentiable):  # nothing to differentiate: plain numpy
            if program.first is not None:
                (outs, _), program.first = program.first, None
            else:
                outs, _ = program.forward(*[t.data for t in sources])
            return _unflatten([constant(np.asarray(o)) for o in outs], program.tree)
        node = self.node.apply(*sources, program=program)
        assert node._ctx is not None, "compile: a differentiable program ran unrecorded"
        outs = node._ctx.outs
        flat, at = [], 0
        several = sum(program.differentiable) > 1
        for o, d in zip(outs, program.differentiable):
            o = np.asarray(o)
            if not d:
                flat.append(constant(o))
            elif not several:
                flat.append(node)
            else:  # the caller's graph reads this output back as a slice of the node
                flat.append(node[at:at + o.size].reshape(o.shape))
                at += o.size
        return _unflatten(flat, program.tree)

    def _capture(self, key: tuple, args: tuple):
        rec = record(self.fn, *args, name=self.name)
        tape, inputs, flat, tree, out_slots = rec.tape, rec.inputs, rec.outputs, rec.tree, \
            rec.output_slots
        n_inputs = len(inputs)
        differentiable = [t.requires_grad for t in flat]
        param_slots = [n for n, (kind, _) in enumerate(tape.sources) if kind == "param"]
        wrt = [t for t in inputs if t.requires_grad] + [tape.keep[n] for n in param_slots]
        seeds, grad_slots = [], []
        diff_out = [t for t in flat if t.requires_grad]
        if diff_out:
            dtypes = {t.dtype for t in diff_out}
            if len(dtypes) > 1:
                raise CompileError(f"compile: {self.name} returns differentiable outputs of "
                                   f"several dtypes {sorted(map(str, dtypes))}; one dtype only")
            seed_tensors = [constant(np.ones_like(t.data)) for t in diff_out]
            seeds = [tape.slot(s, "seed", j) for j, s in enumerate(seed_tensors)]
            gs = _recording(tape, grad, diff_out, wrt, seed_tensors, False, True, True)
            grad_slots = [None if g is None else tape.source(g) for g in gs]
        source, forward, backward, kept = _generate(self.name, tape, n_inputs, out_slots,
                                                     seeds, grad_slots)
        params = [tape.keep[n] for n in param_slots]
        program = Program(
            self.name, source, forward, backward, params,
            [(p, p.data.shape, p.data.dtype, p.requires_grad) for p in params],
            [t.requires_grad for t in inputs] + [True] * len(params), differentiable, tree)
        program.first = ([t.data for t in flat], _saved_now(tape, kept))
        self.programs[key] = self.last = program
        return self._run(program, inputs)


def _accumulate(tape: Tape, bwd: list, grad_slots: list):
    """The backward steps, yielded as ("step", step, None), except where gradients are summed.

    A gradient that reaches a tensor along many paths is summed by the engine one add at a
    time, and a path that read a slice of the tensor (x[t] in a loop over time steps) sends
    a full-size array of zeros with that slice filled in (index_scatter). Summing L of them
    makes L full-size arrays: O(L^2) work for a sequence. Here such a sum becomes one array
    (the accumulator) into which each contribution is added in place, in the order the
    engine adds them: the same values (adding 0.0 changes nothing but the sign of a zero),
    without the full-size temporaries. Yields ("line", item, code) for those lines, and
    ("hold", item, name) for an add whose result is the accumulator `name`."""
    uses: dict = {}
    for s in bwd:
        for n in s.inputs:
            uses[n] = uses.get(n, 0) + 1
    for n in grad_slots:
        if n is not None:
            uses[n] = uses.get(n, 0) + 1
    meta = {n: (t.data.shape, t.data.dtype) for n, t in enumerate(tape.keep)}
    scatter, held = {}, {}  # slot -> its pending index_scatter / the accumulator holding it
    for s in bwd:
        if s.cls.name == "index_scatter" and uses.get(s.out) == 1:
            scatter[s.out] = s  # written when the add that sums it comes
            continue
        x, y = s.inputs if s.cls.name == "add" and len(s.inputs) == 2 else (None, None)
        fusable = x is not None and meta[x] == meta[y] == meta[s.out]
        own = [n for n in (x, y) if fusable and (n in scatter or (n in held and uses[n] == 1))]
        if not own:
            for n in s.inputs:  # a pending scatter used by something else: write it now
                if n in scatter:
                    yield "step", scatter.pop(n), None
            yield "step", s, None
            continue
        into = next((n for n in own if n in held), None)  # an accumulator to add into
        if into is None:
            acc = f"a{tape.sources[s.out][1]}"
            dense = [n for n in (x, y) if n not in own]
            if dense:  # start from a copy of the dense term (never change it in place)
                yield "line", _Line(s.out, dense, {}), acc + " = {0}.copy()"
            else:
                yield "line", _Line(s.out, [], {}), acc + " = zeros({shape}, {dtype})"
        else:
            acc, dense = held[into], []
        for n in (x, y):
            if n == into or n in dense:
                continue
            if n in scatter:  # the contribution, added into its slice
                sc = scatter.pop(n)
                basic = all(not isinstance(i, np.ndarray) or i.dtype == np.bool_
                            for i in sc.params["index"])
                code = acc + ("[{index}] += {0}" if basic else " = add_at({0}, {index}, " + acc
                                                                     + ")")
                yield "line", _Line(s.out, [sc.inputs[0]], sc.params), code
            else:  # a whole array: another accumulator, or a dense term
                yield "line", _Line(s.out, [n], {}), acc + " += {0}"
        held[s.out] = acc
        yield "hold", _Line(s.out, [], {}), acc
    for s in scatter.values():  # a scatter whose sum never came: it is a gradient itself
        yield "step", s, None


def _add_at(x: np.ndarray, index, acc: np.ndarray) -> np.ndarray:
    """acc with x added at index, repeats adding up (index_scatter's rule); returns acc."""
    np.add.at(acc, index, x)
    return acc


@dataclass
class _Line:
    """A line of an accumulation, shaped like a Step for the writer."""

    out: int
    inputs: list
    params: dict


_NAME = re.compile(r"\b[vbna]\d+\b")  # the values a program names: v, b, n, a


def _release(lines: list, first: int) -> list:
    """The lines with `del` after each value's last use, so that a program holds no more
    than the engine would: eager code drops an intermediate as soon as nothing refers to it
    (the function's locals would otherwise live until it returns). Lines before `first`
    (the def, the docstring, the unpacking of saved values) are left alone."""
    last: dict = {}
    for i, line in enumerate(lines[first:-1], start=first):
        for name in _NAME.findall(line):
            last[name] = i
    for name in _NAME.findall(lines[-1]):  # returned: kept to the end
        last.pop(name, None)
    out = lines[:first]
    for i, line in enumerate(lines[first:], start=first):
        out.append(line)
        done = sorted((n for n, at in last.items() if at == i), key=lambda n: int(n[1:]))
        if done:
            out.append("    del " + ", ".join(done))
    return out


def _saved_now(tape: Tape, kept: list) -> tuple:
    """What the generated forward would have saved, taken from the capturing run itself:
    forward values by slot, and the nodes ("node", step) whose saved arrays backward reads."""
    return tuple(tape.steps[n[1]].ctx if isinstance(n, tuple) else tape.keep[n].data
                 for n in kept)


class CompiledModule(Module):
    """`tg.compile(module)`: a Module sharing the original's parameters, buffers,
    state_dict and train/eval mode, whose forward is the compiled one. The training flags of
    every submodule are part of the signature (dropout and batch norm record differently)."""

    def __init__(self, module: Module):
        self._module = module
        self._compiled = Compiled(module, type(module).__name__, self._tree)
        self.training = module.training

    def _tree(self) -> tuple:
        """Part of the signature: each submodule's training flag, and which parameter and
        buffer objects the tree holds now (a replaced layer means a new capture). One walk
        of the tree, on every call."""
        flags, held, stack = [], [], [self._module]
        while stack:
            m = stack.pop()
            if m.__dict__.get("_forward_hooks"):  # they would run at capture, never again
                raise CompileError(f"compile: {type(m).__name__} has forward hooks; a replay "
                                   "does not call modules, so remove them or call the "
                                   "module uncompiled")
            flags.append(m.training)
            for _, v in m._children():
                if isinstance(v, Module):
                    stack.append(v)
                elif isinstance(v, (Tensor, np.ndarray)):
                    held.append(id(v))
            held.extend(id(getattr(m, b, None)) for b in m._buffers)
        return tuple(flags), tuple(held)

    def forward(self, *args):
        return self._compiled(*args)

    @property
    def code(self) -> str:
        return self._compiled.code

    def _children(self):  # the original's tree, so every name is the original's
        return self._module._children()

    def train(self, mode: bool = True) -> CompiledModule:
        self._module.train(mode)
        self.training = bool(mode)
        return self

    def state_dict(self):
        return self._module.state_dict()

    def load_state_dict(self, state: dict, strict: bool = True):
        return self._module.load_state_dict(state, strict)

    def named_buffers(self):
        return self._module.named_buffers()

    def to(self, dtype=None, device=None) -> CompiledModule:
        self._module.to(dtype, device)
        return self

    def __repr__(self) -> str:
        return f"compiled {self._module!r}"


def compile(fn):  # noqa: A001 - torch.compile's name
    """Capture fn (a function of Tensors, or an nn.Module) once per input signature and
    replay the recording on later calls (see this module's docstring)."""
    if isinstance(fn, Module):
        return CompiledModule(fn)
    return Compiled(fn)
