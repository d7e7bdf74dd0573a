"""Drawing the recorded graph: tensors as ellipses, primitive ops as boxes, data flowing
input -> op -> output. Two steps, as micrograd's trace/draw_dot: `trace(*roots)` walks the
graph once (the engine's `walk`) into plain data (nodes, edges, composite groups), and
`render(trace)` turns that into DOT statements. `to_dot` joins them into DOT text (no graphviz
needed); `draw` wraps them in a graphviz.Digraph; `save` writes .dot/.svg/.png/.pdf.

Watching backward: `steps(root)` runs backward and records, through the engine's own hook
(`_State.watch`), each node in the order the engine visits it with the gradient arriving there
and every leaf's gradient so far; `save_html` turns that walk into one self-contained page
that steps through it on a single drawing.

Styles: the output (root) is red with a double border, parameters green, other leaves that
require grad blue, constants dashed grey, intermediate tensors white; primitive ops are grey
rounded boxes and collapsed composites (conv1d, softmax, ...) orange 3-D boxes. A tensor used
by several ops fans out along bold blue edges and its gradient reads "grad = sum of n uses".
Edge labels "read up to 3x" (gather), "reused 2x" (matmul), "broadcast 2x" say how many terms
each element's gradient from that op sums: where conv1d's overlapping windows, shared weights
and broadcast bias add up. Unnamed tensors are labelled #n, their place in data-flow order.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .ops import Windows
from .tensor import Descriptor, Tensor, _State, walk

if TYPE_CHECKING:
    import graphviz

__all__ = ["Edge", "Node", "Step", "Steps", "Trace", "draw", "render", "retain_grads", "save",
           "save_html", "steps", "to_dot", "trace", "MAX_NODES"]

MAX_NODES = 1500  # op nodes; beyond this dot's layout takes minutes and nobody can read it
DOT_TIMEOUT = 120  # seconds for the `dot` program
LIMIT_LAYOUT = 300  # edges; bigger graphs get dot's iteration limits (see render)
FORMATS = (".svg", ".png", ".pdf", ".dot")
RANKDIRS = ("LR", "TB", "RL", "BT")
_FILL = {"root": "#f7b6b2", "param": "#b9e4b0", "leaf": "#bcd9f5", "const": "#f4f4f4",
         "tensor": "#ffffff", "op": "#eeeeee", "group": "#fde3b5"}
_STYLE = {
    "root": f'shape=ellipse style=filled peripheries=2 fillcolor="{_FILL["root"]}"',
    "param": f'shape=ellipse style=filled fillcolor="{_FILL["param"]}"',
    "leaf": f'shape=ellipse style=filled fillcolor="{_FILL["leaf"]}"',
    "const": 'shape=ellipse style="dashed,filled" color="#999999" fontcolor="#555555" '
             f'fillcolor="{_FILL["const"]}"',
    "tensor": "shape=ellipse",
    "op": f'shape=box style="rounded,filled" fillcolor="{_FILL["op"]}"',
    "group": f'shape=box3d style=filled fillcolor="{_FILL["group"]}"',
    "marked": 'shape=box style="rounded,filled,bold" color="#c0161b" penwidth=3 '
              f'fillcolor="{_FILL["root"]}"',  # mark=: the node an AnomalyError names
}
_FAN = ' color="#1f5fbf" penwidth=1.8'  # edges out of a tensor with several uses


def _q(s: str) -> str:
    """A DOT quoted string; \\n is DOT's centred line break."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _summary(a) -> str:
    """A few values, or min/mean/max: labels must stay small whatever the array."""
    a = np.asarray(a)
    if a.size <= 8:
        text = np.array2string(a, separator=" ", formatter={"all": lambda v: f"{v:.4g}"})
        return " ".join(text.split())
    return f"min {a.min():.4g}  mean {a.mean():.4g}  max {a.max():.4g}"


def _windows(w: Windows) -> str:
    """A window geometry as a reader counts it."""
    pad = f", padding {w.padding}" if any(w.padding) else ""
    return (f"{w.n_out} windows of {w.kernel_size}, stride {w.stride}, "
            f"dilation {w.dilation}{pad}")


def _param(v) -> str:
    if isinstance(v, Windows):
        return _windows(v)
    if isinstance(v, np.ndarray):
        return f"{v.dtype} array {v.shape}"
    if isinstance(v, (tuple, list)) and len(v) == 1:
        return f"({_param(v[0])},)"
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_param(x) for x in v[:6]) + (", ..." if len(v) > 6 else "") + ")"
    if isinstance(v, slice):
        return ":".join("" if x is None else str(x) for x in (v.start, v.stop, v.step)) \
            .rstrip(":") or ":"
    if isinstance(v, (float, np.floating, np.dtype)):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    s = "..." if v is Ellipsis else repr(v)
    return s if len(s) <= 24 else s[:21] + "..."


def _reuse(ctx, x: Tensor, out: Tensor) -> str:
    """How many terms each element of input x enters: its gradient from this op sums them."""
    name = type(ctx).name
    if name == "gather":  # overlapping windows read an element several times
        idx, size = ctx.params["index"], x.shape[ctx.params["axis"]]
        if isinstance(idx, Windows):  # positions in the padded signal; padding reads nothing
            idx = idx.index().ravel() - idx.padding[0]
            idx = idx[(idx >= 0) & (idx < size)]
        idx = np.asarray(idx).ravel()
        n = int(np.bincount(idx % size).max()) if idx.size else 0
        return f"read up to {n}x" if n > 1 else ""
    if name == "matmul" and x.size:  # every output element reads K values of each operand
        n = out.size * ctx.inputs[0].shape[-1] // x.size
        return f"reused {n}x" if n > 1 else ""
    if type(ctx).broadcasts and 0 < x.size < out.size:
        return f"broadcast {out.size // x.size}x"
    return ""


def _walk(roots: Sequence[Tensor]) -> list[Tensor]:
    """Every tensor reachable from roots, inputs before outputs (the engine's walk)."""
    return walk(roots, _inputs)


def _inputs(ctx) -> tuple:
    """A node's inputs; in a freed graph the tensors still alive stand in for their
    descriptors, so they are drawn with their data and grad."""
    return tuple(_alive(x) for x in ctx.inputs)


def _alive(x):
    t = x.tensor() if type(x) is Descriptor else x
    return x if t is None else t


def _roots(roots, where: str) -> tuple[Tensor, ...]:
    if len(roots) == 1 and isinstance(roots[0], (list, tuple)):
        roots = tuple(roots[0])
    if not roots:
        raise ValueError(f"viz.{where}: roots: give at least one Tensor to draw")
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"viz.{where}: root {i} is a {type(r).__name__}, not a Tensor")
    return tuple(roots)


def _outermost(s):
    """A composite called inside another (log_softmax in cross_entropy) belongs to the outer."""
    while s.parent is not None:
        s = s.parent
    return s


# ================================================================== step 1: trace


@dataclass(slots=True)
class Node:
    """Something drawn: a tensor ("t..."), a primitive op ("o...") or a collapsed composite
    ("g..."). `label` is its text before any data or gradient summary; `tensor` is what a
    tensor node draws (a Tensor, or a freed graph's Descriptor) and `uses` how many op inputs
    it feeds, so how many terms its gradient sums."""

    key: str
    kind: str  # a _STYLE key: root, param, leaf, const, tensor, op, group
    label: str
    tensor: object = None
    uses: int = 0


@dataclass(slots=True)
class Edge:
    src: str
    dst: str
    label: str = ""
    fan: bool = False  # out of a tensor with several uses: drawn bold blue


@dataclass(slots=True)
class Trace:
    """The graph behind some roots as plain data, ready for a renderer."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[tuple[str, str, list[str]]] = field(default_factory=list)  # key, label, members
    note: str | None = None  # why the drawing was collapsed, if it was


def trace(*roots: Tensor, collapse: bool = False, max_nodes: int | None = MAX_NODES,
          mark=None, where: str = "trace") -> Trace:
    """Walk the graph behind `roots` once (the engine's walk) into nodes, edges and composite
    groups. collapse=True makes each composite call one node; so does a graph with more than
    `max_nodes` primitive ops, with a note saying so. `mark`: an op node (or a list of them,
    such as AnomalyError.node) drawn in red, never folded into a box."""
    roots = _roots(roots, where)
    order = _walk(roots)
    n_ops = sum(t._ctx is not None for t in order)
    auto = not collapse and max_nodes is not None and n_ops > max_nodes
    g = _Grouping(order, {id(r) for r in roots}, auto or bool(collapse))
    g.marked = {id(m) for m in (mark if isinstance(mark, (list, tuple)) else [mark])
                if m is not None}
    for n, t in enumerate(order):
        g.add(n, t)
    out = Trace(g.nodes, g.edges)
    for gid, (scope, count, members) in g.boxes.items():
        if g.collapse:
            gathered = f"\ngathers {g.gathers[gid]}" if gid in g.gathers else ""
            label = _scope_label(scope) + gathered + f"\n({count} primitive ops)"
            out.nodes.append(Node(f"g{gid}", "group", label))
        else:
            out.clusters.append((f"cluster_g{gid}", _scope_label(scope), members))
    out.edges += [Edge(f"t{xid}", f"g{gid}", f"{k}x" if k > 1 else "",
                       g.uses.get(xid, 1) > 1) for (xid, gid), k in g.box_in.items()]
    if auto:
        out.note = _size_note(n_ops, max_nodes, len(g.boxes))
    return out


class _Grouping:
    """The walk's state: how often each tensor is used, which composite each node belongs to,
    and the nodes and edges found so far."""

    def __init__(self, order: list, root_ids: set, collapse: bool):
        self.root_ids, self.collapse = root_ids, collapse
        self.uses: dict[int, int] = {}  # id(tensor) -> how many op inputs it feeds
        self.group: dict[int, object] = {}  # id(op node) -> the outermost composite call
        self.gathers: dict[int, str] = {}  # id(composite call) -> the windows it gathered
        self.windows: dict = {}  # id(constant) -> the conv1d scope whose windows it holds
        for t in order:
            ctx = t._ctx
            if ctx is not None:
                for x in _inputs(ctx):
                    self.uses[id(x)] = self.uses.get(id(x), 0) + 1
                if ctx.scope is not None:
                    self.group[id(ctx)] = _outermost(ctx.scope)
                    self._note_windows(ctx)
        self.exported = {id(x) for t in order if t._ctx is not None for x in _inputs(t._ctx)
                         if self._box(x) not in (None, self._box(t))}  # read outside its box
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.boxes: dict[int, list] = {}  # id(scope) -> [scope, primitive count, members]
        self.box_in: dict[tuple[int, int], int] = {}  # (tensor, box) -> inner ops reading it
        self.marked: set[int] = set()

    def _note_windows(self, ctx) -> None:
        """A collapsed conv1d box names the windows it gathers. When its input needs no
        gradient the gather is not recorded, and the matmul reads the windows as a constant:
        that constant is labelled as what it is, not mistaken for the input."""
        name, index = type(ctx).name, ctx.params.get("index")
        if name == "gather" and isinstance(index, Windows):
            self.gathers.setdefault(id(self.group[id(ctx)]),
                                    f"{index.n_out} windows of {index.kernel_size}")
        elif name == "matmul" and ctx.scope.name == "conv1d":
            cols = _inputs(ctx)[1]  # (C*K, L_out*N): conv1d's weight @ windows
            if cols._ctx is None and not cols.requires_grad:
                self.windows[id(cols)] = ctx.scope  # drawn as the conv1d's input, gathered
                win = ctx.scope.params.get("_windows")
                if win is not None:
                    self.gathers.setdefault(id(self.group[id(ctx)]),
                                            f"{win.n_out} windows of {win.kernel_size}")

    def _box(self, t):
        return self.group.get(id(t._ctx)) if t._ctx is not None else None

    def add(self, n: int, t) -> None:
        """The tensor t (n-th in data-flow order) and the op that made it."""
        ctx, tid, box = t._ctx, id(t), self._box(t)
        if ctx is not None and id(ctx) in self.marked:
            box = None  # a marked node is always drawn as itself
        inner = box is not None and tid not in self.root_ids and tid not in self.exported
        if box is not None:
            self.boxes.setdefault(id(box), [box, 0, []])[1] += 1
        if tid in self.windows and self._input_of(n, t):
            return
        if not (self.collapse and inner):
            kind = "root" if tid in self.root_ids else "tensor" if ctx is not None else \
                "param" if t.is_param else "leaf" if t.requires_grad else "const"
            label = f"{t.name or f'#{n}'}\n{t.shape} {_dtype(t.dtype)}"  # #n: data-flow place
            self.nodes.append(Node(f"t{tid}", kind, label, t, self.uses.get(tid, 0)))
        if ctx is None:
            return
        if self.collapse and box is not None:  # inputs from outside the box point at the box
            if not inner:
                self.edges.append(Edge(f"g{id(box)}", f"t{tid}"))
            for x in _inputs(ctx):
                if self._box(x) is not box:
                    key = (id(x), id(box))
                    self.box_in[key] = self.box_in.get(key, 0) + 1
            return
        if box is not None:  # expanded: the composite's primitives share a dashed frame
            self.boxes[id(box)][2].append(f"o{id(ctx)}; t{tid}" if inner else f"o{id(ctx)}")
        self._op(ctx, t)

    def _input_of(self, n: int, t) -> bool:
        """The windows a conv1d gathered from an input that needs no gradient (so the gather
        was not recorded): draw the input itself, and the gather as a labelled step, in place
        of the (C*K, L_out*N) constant. False when the scope did not name its input."""
        tid = id(t)
        s = self.windows[tid]
        x, win = s.params.get("_input"), s.params.get("_windows")
        if x is None or win is None:
            return False
        alive = x.tensor()
        shown = x if alive is None else alive
        self.nodes.append(Node(f"t{id(x)}", "const", f"{shown.name or 'input'}\n{x.shape} "
                                                   f"{_dtype(x.dtype)}", shown, 1))
        detail = f"gather (not recorded:\nthe input needs no gradient)\n{_windows(win)}"
        if self.collapse:  # the box draws the gather: the input points at it
            self.box_in[(id(x), id(_outermost(s)))] = 1
            return True
        self.nodes.append(Node(f"o{tid}", "op", detail))
        self.edges.append(Edge(f"t{id(x)}", f"o{tid}"))
        self.nodes.append(Node(f"t{tid}", "const", f"#{n} windows\n{t.shape} {_dtype(t.dtype)}",
                               t, 1))
        self.edges.append(Edge(f"o{tid}", f"t{tid}"))
        return True

    def _op(self, ctx, t) -> None:
        name = type(ctx).name
        label = name + "".join(f"\n{k}={_param(v)}" for k, v in ctx.params.items())
        if name == "matmul":
            label += f"\n{ctx.inputs[0].shape} @ {ctx.inputs[1].shape}"
        kind = "marked" if id(ctx) in self.marked else "op"
        self.nodes.append(Node(f"o{id(ctx)}", kind, label))
        for x in _inputs(ctx):
            note = _reuse(ctx, x, t) if x.requires_grad else ""  # constants get no gradient
            self.edges.append(Edge(f"t{id(x)}", f"o{id(ctx)}", note, self.uses[id(x)] > 1))
        self.edges.append(Edge(f"o{id(ctx)}", f"t{id(t)}"))


def _size_note(n_ops: int, max_nodes: int, boxes: int) -> str:
    what = (f"composites were collapsed into {boxes} boxes because of the graph's size.\n"
            "To draw every primitive pass max_nodes=None (command line: tinygrad1d graph "
            "--expand)." if boxes else
            "there are no composites to collapse, so every primitive is drawn.")
    return f"{n_ops} primitive ops (more than max_nodes={max_nodes}): {what}"


_DTYPE_NAMES: dict = {}  # str(dtype) costs microseconds: too slow for 100k-node graphs


def _dtype(d) -> str:
    return _DTYPE_NAMES.get(d) or _DTYPE_NAMES.setdefault(d, str(d))


def _scope_label(s) -> str:
    """The composite's name, then its arguments on one line: a box as low as it can be
    (arguments named with a leading "_" are for the drawing itself, not printed)."""
    shown = {k: v for k, v in s.params.items() if not k.startswith("_")}
    return s.name + ("\n" + " ".join(f"{k}={_param(v)}" for k, v in shown.items())
                     if shown else "")


# ================================================================== step 2: render


def render(tr: Trace, show_data: bool = False, show_grad: bool = True, rankdir: str = "LR",
           legend: bool = True, title: str | None = None) -> list[str]:
    """The body of a DOT digraph for a Trace, one statement per line; `title` above it."""
    _check_rankdir(rankdir, "render")
    # dot's network-simplex passes grow fast with edges out of widely shared nodes (a GRU's
    # weights feed all 80 of its cell steps: 7.7 minutes of layout for 511 edges); past
    # LIMIT_LAYOUT edges cap their iterations (the same graph: under 30 s, looser layout)
    limits = " nslimit=1 mclimit=0.1" if len(tr.edges) > LIMIT_LAYOUT else ""
    # ranks and nodes closer than dot's defaults (0.5 and 0.25 inches): a model's step is a
    # long chain, and this keeps the paper CNN's within 2,000 px
    out = [f"\tgraph [rankdir={rankdir} ranksep=0.3 nodesep=0.2 fontname=Helvetica "
           f"fontsize=10{limits}]\n",
           "\tnode [fontname=Helvetica fontsize=10 height=0.3]\n",
           "\tedge [fontname=Helvetica fontsize=9]\n"]
    for node in tr.nodes:
        label = node.label
        if node.tensor is not None:
            label += _summaries(node.tensor, node.uses, show_data, show_grad)
        out.append(f"\t{node.key} [label={_q(label)} {_STYLE[node.kind]}]\n")
    for e in tr.edges:
        attrs = (f" label={_q(e.label)}" if e.label else "") + (_FAN if e.fan else "")
        out.append(f"\t{e.src} -> {e.dst}" + (f" [{attrs.strip()}]" if attrs else "") + "\n")
    for key, label, members in tr.clusters:
        out.append(f"\tsubgraph {key} {{ label={_q(label)} "
                   f'style="rounded,dashed" color="#d08a1e"; {"; ".join(members)} }}\n')
    if tr.note:
        out.append(f'\tnote [shape=note style=filled fillcolor="#fff8c4" label={_q(tr.note)}]\n')
    if legend:
        out.append(_LEGEND)
    if title:  # set last: a graph attribute set before the clusters would be theirs too
        text = html.escape(title).replace("\n", "<br/>")
        out.append(f'\tlabel=<<font point-size="16"><b>{text}</b></font>> labelloc=t\n')
    return out


def _summaries(t, uses: int, show_data: bool, show_grad: bool) -> str:
    """Data and gradient lines of a tensor's label (a freed graph's descriptor has neither)."""
    if type(t) is Descriptor:
        return ""
    text = f"\ndata {_summary(t.data)}" if show_data else ""
    if show_grad and t.grad is not None:
        text += (f"\ngrad = sum of {uses} uses\n" if uses > 1 else "\ngrad ") + _summary(t.grad)
    return text


_LEGEND_ROWS = [("root", "output (root)"), ("param", "parameter"),
                ("leaf", "leaf, requires grad"), ("const", "constant"),
                ("tensor", "intermediate tensor"), ("op", "primitive op"),
                ("group", "composite (collapsed)")]
_LEGEND = ('\tlegend [shape=plaintext label=<<table border="0" cellborder="1" cellspacing="0" '
           'cellpadding="3"><tr><td><b>legend</b></td></tr>'
           + "".join(f'<tr><td bgcolor="{_FILL[k]}">{text}</td></tr>' for k, text in _LEGEND_ROWS)
           + '<tr><td><font color="#1f5fbf">blue edges: a tensor used n times;<br/>'
           'its grad is the sum of n uses</font></td></tr></table>>]\n')


def to_dot(*roots: Tensor, show_data: bool = False, show_grad: bool = True,
           collapse: bool = False, rankdir: str = "LR", legend: bool = True,
           max_nodes: int | None = MAX_NODES, mark=None, title: str | None = None) -> str:
    """DOT source of the graph that produced `roots` (no graphviz package or program needed).

    collapse=True draws each composite call (conv1d, softmax, ...) as one box. A graph with
    more than `max_nodes` primitive ops is collapsed anyway, with a note saying so; pass
    max_nodes=None to draw every primitive of a big graph. `title` is drawn above it (name
    the model)."""
    _check_rankdir(rankdir, "to_dot")
    tr = trace(*roots, collapse=collapse, max_nodes=max_nodes, mark=mark, where="to_dot")
    body = render(tr, show_data, show_grad, rankdir, legend, title)
    return "digraph tinygrad1d {\n" + "".join(body) + "}\n"


def draw(*roots: Tensor, show_data: bool = False, show_grad: bool = True,
         collapse: bool = False, rankdir: str = "LR", legend: bool = True,
         max_nodes: int | None = MAX_NODES, mark=None,
         title: str | None = None) -> graphviz.Digraph:
    """The same graph as to_dot, as a graphviz.Digraph (renders inline in Jupyter)."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError("viz.draw needs the graphviz Python package: pip install graphviz "
                          "(or pip install 'tinygrad1d[viz]'); tg.to_dot works without it") from e
    _check_rankdir(rankdir, "draw")
    tr = trace(*roots, collapse=collapse, max_nodes=max_nodes, mark=mark, where="draw")
    return graphviz.Digraph(name="tinygrad1d", body=render(tr, show_data, show_grad, rankdir,
                                                           legend, title))


def _check_rankdir(rankdir, where: str) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"viz.{where}: rankdir must be one of {RANKDIRS}, got {rankdir!r}")


def retain_grads(*roots: Tensor) -> None:
    """Keep .grad on every intermediate tensor of the next backward, to draw them all."""
    for t in _walk(_roots(roots, "retain_grads")):
        if t._ctx is not None:
            t.retain_grad()


def save(roots, path, required: bool = False, **options) -> Path:
    """Write the graph of `roots` (a Tensor or a sequence of them) to `path`; returns the path
    written. .dot is written directly; .svg/.png/.pdf go through Graphviz's `dot` program,
    and when it is missing (or fails) the .dot source is written beside instead. `required`
    only sets the tone of that message: the caller decides whether it is an error. Other
    keyword options go to to_dot."""
    if isinstance(roots, Tensor):
        roots = (roots,)
    elif not isinstance(roots, Sequence):
        raise TypeError(f"viz.save: roots must be a Tensor or a sequence of Tensors, got "
                        f"{type(roots).__name__}")
    roots = _roots(tuple(roots), "save")
    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ValueError(f"viz.save: path {str(path)!r} must end in one of {', '.join(FORMATS)}")
    source = to_dot(*roots, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".dot":
        path.write_text(source)
        return path
    image, problem = _run_dot(source, fmt[1:])
    if image is not None:
        path.write_bytes(image)
        return path
    fallback = path.with_suffix(".dot")
    fallback.write_text(source)
    print(f"{'error' if required else 'note'}: viz.save: {problem}, so {fallback} was written "
          f"instead of {path}.\nInstall Graphviz (apt-get install graphviz, or brew install "
          f"graphviz, or https://graphviz.org/download/), then: "
          f"dot -T{fmt[1:]} {fallback} -o {path}", file=sys.stderr)
    return fallback


# ================================================================== watching backward


@dataclass(frozen=True, slots=True)
class Step:
    """One node of the backward walk, recorded as the engine visited it: `op` its op's name,
    `grad` the gradient that arrived at its output, `leaf_grads` each leaf's name -> the
    gradient it has accumulated so far (leaves not reached yet are absent), `node` the op
    node itself (so a drawing can find it)."""

    op: str
    grad: np.ndarray
    leaf_grads: dict[str, np.ndarray]
    node: object = field(repr=False, compare=False)

    def __repr__(self) -> str:  # the arrays would drown the order, which is the point
        return f"Step(op={self.op!r}, grad={self.grad.shape}, leaves={list(self.leaf_grads)})"


class Steps(list):
    """What `steps` returns: a list of Step, in the engine's order. `leaves` maps each leaf's
    name to the leaf; `root` is the tensor backward started from. In Jupyter it shows as the
    step-through page (`_repr_html_`); `html()` is that page as text."""

    def __init__(self, records, root: Tensor, leaves: dict[str, Tensor]):
        super().__init__(records)
        self.root, self.leaves = root, leaves

    def html(self, collapse: bool | None = None, rankdir: str = "TB",
             title: str | None = None) -> str:
        """The step-through page: one drawing (Graphviz's `dot` lays it out) restyled per step."""
        return _page(self, collapse, rankdir, title)

    def _repr_html_(self) -> str:
        """The page inside an iframe, so its script and styles stay out of the notebook's."""
        try:
            page = self.html()
        except RuntimeError as e:  # no `dot`: say so in the notebook rather than a traceback
            return f"<p><b>viz.steps</b>: {html.escape(str(e))}</p>"
        return (f'<iframe srcdoc="{html.escape(page)}" style="width:100%;height:640px;'
                'border:1px solid #ccc" title="backward, step by step"></iframe>')


def steps(root: Tensor, gradient=None) -> Steps:
    """Run backward from `root` (as root.backward(gradient), filling .grad) and return the
    walk: one Step per op node, in the order the engine visits them. The records come from
    the engine's own walk through its watch hook, so they can never show another order."""
    (root,) = _roots((root,), "steps")
    if not root.requires_grad:
        raise ValueError("viz.steps: root does not require grad, so backward has nothing to "
                         "walk; create the leaves with requires_grad=True")
    ids = _leaf_names(root)
    records: list[Step] = []
    kept: dict[int, tuple] = {}  # id(leaf) -> (its gradient Tensor, our copy of it)

    def watch(t, g, grads):
        leaf_grads = {}
        for k, name in ids.items():
            got = grads.get(k)
            if got is not None:
                if k not in kept or kept[k][0] is not got:  # a new sum: the engine adds
                    kept[k] = (got, np.array(got.data))     # out of place, never into
                leaf_grads[name] = kept[k][1]  # unchanged gradients share one copy
        # a copy: the big arrays of conv1d and matmul come from a pool that reuses them
        records.append(Step(type(t._ctx).name, np.array(g.data), leaf_grads, t._ctx))

    before, _State.watch = _State.watch, watch
    try:
        root.backward(gradient)
    finally:
        _State.watch = before
    by_id = {id(t): t for t in walk((root,))}
    return Steps(records, root, {name: by_id[k] for k, name in ids.items()})


def _leaf_names(root: Tensor) -> dict[int, str]:
    """id(leaf) -> its name for every leaf that requires grad: its .name (a parameter's is
    its dotted name), else "input k", k counting the unnamed ones in the order the forward
    pass first used them. A name given twice gets " (2)", " (3)", ... after it."""
    names: dict[int, str] = {}
    unnamed = 0
    for t in walk((root,)):  # by record number: the forward order
        for x in t._ctx.inputs if t._ctx is not None else ():
            if x._ctx is None and x.requires_grad and id(x) not in names:
                if x.name is None:
                    name, unnamed = f"input {unnamed}", unnamed + 1
                else:
                    name = x.name
                base, n = name, 1
                while name in names.values():
                    n += 1
                    name = f"{base} ({n})"
                names[id(x)] = name
    return names


def _run_dot(source: str, fmt: str) -> tuple[bytes | None, str]:
    """(the image Graphviz's `dot` made from DOT source, "") or (None, what went wrong)."""
    exe = shutil.which("dot")
    if exe is None:
        return None, "Graphviz's `dot` program was not found"
    try:
        run = subprocess.run([exe, f"-T{fmt}"], input=source.encode(), capture_output=True,
                             timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"`dot` took more than {DOT_TIMEOUT} s"
    if run.returncode != 0:
        return None, f"`dot` failed ({run.stderr.decode(errors='replace').strip()[:300]})"
    return run.stdout, ""


# ================================================================== the step-through page

PAGE_EXPAND = 40  # steps; a longer walk is drawn with its composites collapsed into boxes
SMALL_LEAF = 30  # values; a leaf this small shows its gradient as a table, a bigger one summed up


def save_html(root: Tensor, path, gradient=None, *, collapse: bool | None = None,
              rankdir: str = "TB", title: str | None = None) -> Path:
    """Run backward from `root` (as steps does) and write the walk as one self-contained HTML
    page to `path`: the graph, drawn once, restyled per step, with buttons id="prev" and
    id="next", a slider id="step", arrow keys, and the leaves' gradients so far. collapse=None
    collapses composites when the walk has more than PAGE_EXPAND steps. Needs Graphviz's
    `dot`, checked before backward runs so a missing one costs nothing."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"viz.save_html: path {str(path)!r} must end in .html")
    _check_rankdir(rankdir, "save_html")
    if shutil.which("dot") is None:
        raise RuntimeError(_NO_DOT.format(where="save_html"))
    page = steps(root, gradient).html(collapse, rankdir, title)
    path.write_text(page, encoding="utf-8")
    return path


_NO_DOT = ("viz.{where}: Graphviz's `dot` program was not found, and the page's drawing needs "
           "it: apt-get install graphviz (or brew install graphviz, or "
           "https://graphviz.org/download/)")


def _page(walk: Steps, collapse: bool | None, rankdir: str, title: str | None) -> str:
    """The HTML of the step-through page for a recorded walk (see save_html)."""
    if not walk:
        raise ValueError("viz.save_html: backward from this root ran no op node (it is a "
                         "leaf), so there is nothing to step through")
    _check_rankdir(rankdir, "save_html")
    if collapse is None:
        collapse = len(walk) > PAGE_EXPAND
    tr = trace(walk.root, collapse=collapse, max_nodes=None, where="save_html")
    # no gradients in the labels: the drawing is shared by all steps, the panel shows them
    body = render(tr, show_grad=False, rankdir=rankdir, legend=False)  # the page has the title
    image, problem = _run_dot("digraph tinygrad1d {\n" + "".join(body) + "}\n", "svg")
    if image is None:
        raise RuntimeError(_NO_DOT.format(where="save_html") if shutil.which("dot") is None
                           else f"viz.save_html: {problem}")
    svg = image.decode()
    svg = svg[svg.index("<svg"):]  # the XML prolog and doctype are not allowed inside HTML
    drawn = {n.key for n in tr.nodes}
    frames = []
    for s in walk:
        box = _outermost(s.node.scope) if s.node.scope is not None else None
        key = f"o{id(s.node)}"
        frames.append({"op": s.op, "node": key if key in drawn else f"g{id(box)}",
                       "box": box.name if box is not None else "",
                       "grad": f"{s.grad.shape}: {_summary(s.grad)}"})
    leaves = []
    for name, t in walk.leaves.items():
        changes, last = [], None
        for i, s in enumerate(walk):  # a gradient changes only where the engine added to it
            g = s.leaf_grads.get(name)
            if g is not None and g is not last:
                changes.append([i, g.ravel().tolist()])
                last = g
        leaves.append({"name": name, "node": f"t{id(t)}", "shape": list(t.shape),
                       "shape_text": str(t.shape), "changes": changes})
    consts = [n.key for n in tr.nodes if n.kind == "const"]
    data = json.dumps({"frames": frames, "leaves": leaves, "consts": consts, "small": SMALL_LEAF})
    heading = title or f"Backward from {walk.root.name or 'the output'}, step by step"
    parts = {"TITLE": html.escape(heading), "LAST": str(len(walk) - 1), "SVG": svg,
             "DATA": data.replace("</", "<\\/")}  # "</script>" inside would end the script
    return re.sub(r"\$(TITLE|LAST|SVG|DATA)", lambda m: parts[m.group(1)], _PAGE)  # one pass


# The page: no network at all (the CSP forbids every fetch, so a stray one shows up as a
# console error), one drawing whose nodes the script finds by their <title> (dot writes each
# node's and edge's DOT name there), and per step a few CSS classes switched on and off.
_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>$TITLE</title>
<style>
body { font: 14px/1.4 Helvetica, Arial, sans-serif; margin: 12px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; }
#bar { display: flex; gap: 8px; align-items: center; }
#step { flex: 1; min-width: 160px; }
#caption { font-weight: bold; margin: 6px 0; min-height: 1.4em; }
#main { display: flex; gap: 16px; align-items: flex-start; }
#drawing { flex: 3; overflow: auto; max-height: 80vh; border: 1px solid #ddd; }
#drawing svg { max-width: 100%; height: auto; }
#panel { flex: 2; min-width: 240px; max-height: 80vh; overflow: auto; }
h2 { font-size: 15px; margin: 10px 0 4px; }
.node.done polygon, .node.done path { fill: #c9d7ee; }
.node.current polygon, .node.current path, .node.current ellipse { stroke: #d62728;
  stroke-width: 4px; }
.node.has-grad ellipse { stroke: #2ca02c; stroke-width: 3px; }
.node.changed ellipse { fill: #ffe08a; }
.edge.flow path { stroke: #d62728; stroke-width: 3px; }
.edge.flow polygon { stroke: #d62728; fill: #d62728; }
.leaf { margin-bottom: 8px; }
.leaf b { font-family: monospace; }
.waiting { color: #888; }
table.g { border-collapse: collapse; margin: 2px 0; }
table.g td { border: 1px solid #ccc; padding: 1px 5px; text-align: right;
  font-variant-numeric: tabular-nums; }
td.changed { background: #ffe08a; }
.delta { display: block; color: #8a4b00; font-size: 11px; }
.bar { width: 200px; height: 8px; background: #eee; }
.bar div { height: 8px; background: #2ca02c; }
.help { color: #555; max-width: 60em; }
</style></head>
<body>
<h1>$TITLE</h1>
<div id="bar">
<button id="prev" title="previous step (left arrow key)">&larr; prev</button>
<input id="step" type="range" min="0" max="$LAST" value="0" aria-label="step">
<button id="next" title="next step (right arrow key)">next &rarr;</button>
</div>
<div id="caption"></div>
<div id="main">
<div id="drawing">$SVG</div>
<div id="panel"><h2>Gradient arriving at this node</h2><div id="arrived"></div>
<h2>Leaf gradients so far</h2><div id="leaves"></div></div>
</div>
<p class="help">Backward visits the op nodes latest-recorded first, each once, after every use
of its output has sent its gradient. Red: the node whose backward runs in this step; red edges:
its inputs, which receive their share now. Blue-grey: nodes already done. Green outline: leaves
holding a gradient; yellow: leaves whose gradient grew in this step, and in their tables the
values that changed, with what was added. A leaf used several times (a shared weight) grows once
per use: its gradient is the sum. Arrow keys, the slider and the buttons move between steps.</p>
<script type="application/json" id="walk">$DATA</script>
<script>
"use strict";
const walk = JSON.parse(document.getElementById("walk").textContent);
const frames = walk.frames, leaves = walk.leaves, consts = new Set(walk.consts);
const slider = document.getElementById("step");
const svg = document.querySelector("#drawing svg");
const drawn = {}, into = {};  // DOT name -> node's <g>; DOT name -> the edges pointing at it
for (const g of svg.querySelectorAll("g.node")) drawn[g.querySelector("title").textContent] = g;
for (const g of svg.querySelectorAll("g.edge")) {
  const [src, dst] = g.querySelector("title").textContent.split("->");
  (into[dst] = into[dst] || []).push([src, g]);
}
// leaf.at[i]: which of the leaf's recorded values holds at step i (-1: none yet)
for (const leaf of leaves) {
  leaf.at = [];
  leaf.size = leaf.shape.reduce((a, b) => a * b, 1);
  let c = -1;
  for (let i = 0; i < frames.length; i++) {
    if (c + 1 < leaf.changes.length && leaf.changes[c + 1][0] === i) c++;
    leaf.at.push(c);
  }
}
const esc = s => s.replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                              '"': "&quot;"})[c]);
const fmt = v => String(Number(v.toPrecision(4)));
const norm = v => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

function leafHtml(leaf, i) {
  const c = leaf.at[i];
  let head = `<b>${esc(leaf.name)}</b> ${esc(leaf.shape_text)}`;
  if (c < 0) return `<div class="leaf waiting">${head}: no gradient yet</div>`;
  const [when, vals] = leaf.changes[c];
  const prev = c > 0 ? leaf.changes[c - 1][1] : null;
  const grew = when === i;
  head += grew ? " &larr; grew in this step" : "";
  let body;
  if (leaf.size <= walk.small) {  // every value, rows along the last axis
    const cols = leaf.shape.length ? leaf.shape[leaf.shape.length - 1] || 1 : 1;
    body = "<table class='g'>";
    for (let r = 0; r < vals.length; r += cols) {
      body += "<tr>";
      for (let k = r; k < Math.min(r + cols, vals.length); k++) {
        const add = vals[k] - (prev ? prev[k] : 0);
        const changed = grew && add !== 0;
        body += `<td${changed ? " class='changed'" : ""}>${fmt(vals[k])}` +
                (changed && prev ? `<span class="delta">+= ${fmt(add)}</span>` : "") + "</td>";
      }
      body += "</tr>";
    }
    body += "</table>";
  } else {  // too many to list: the range, and the size against the final gradient's
    const last = leaf.changes[leaf.changes.length - 1][1];
    const share = norm(vals) / (norm(last) || 1);
    const width = (100 * share).toFixed(1);
    body = `min ${fmt(Math.min(...vals))}, max ${fmt(Math.max(...vals))}, ` +
           `norm ${fmt(norm(vals))}<div class="bar"><div style="width:${width}%"></div></div>`;
  }
  return `<div class="leaf" data-name="${esc(leaf.name)}" data-values="${JSON.stringify(vals)}">` +
         `${head}${body}</div>`;
}

function reveal(g) {  // scroll the drawing, not the page, until the node is in view
  const view = document.getElementById("drawing");
  const box = view.getBoundingClientRect(), r = g.getBoundingClientRect();
  if (r.top < box.top || r.bottom > box.bottom) {
    view.scrollTop += (r.top + r.bottom - box.top - box.bottom) / 2;
  }
  if (r.left < box.left || r.right > box.right) {
    view.scrollLeft += (r.left + r.right - box.left - box.right) / 2;
  }
}

function show(i) {
  i = Math.max(0, Math.min(frames.length - 1, i));
  slider.value = i;
  const f = frames[i];
  for (const g of svg.querySelectorAll(".current, .done, .flow, .has-grad, .changed")) {
    g.classList.remove("current", "done", "flow", "has-grad", "changed");
  }
  for (let j = 0; j < i; j++) drawn[frames[j].node]?.classList.add("done");
  drawn[f.node]?.classList.remove("done");
  drawn[f.node]?.classList.add("current");
  if (drawn[f.node]) reveal(drawn[f.node]);
  for (const [src, e] of into[f.node] || []) {
    if (!consts.has(src)) e.classList.add("flow");  // constants get no gradient
  }
  for (const leaf of leaves) {
    const c = leaf.at[i];
    if (c >= 0) drawn[leaf.node]?.classList.add("has-grad");
    if (c >= 0 && leaf.changes[c][0] === i) drawn[leaf.node]?.classList.add("changed");
  }
  const where = f.box ? " (inside " + f.box + ")" : "";
  document.getElementById("caption").textContent = `Step ${i + 1} of ${frames.length}: ` +
    `${f.op}${where} runs backward and sends gradients to its inputs`;
  document.getElementById("arrived").textContent = f.grad;
  document.getElementById("leaves").innerHTML = leaves.map(l => leafHtml(l, i)).join("");
}

slider.addEventListener("input", () => show(Number(slider.value)));
document.getElementById("prev").addEventListener("click", () => show(Number(slider.value) - 1));
document.getElementById("next").addEventListener("click", () => show(Number(slider.value) + 1));
document.addEventListener("keydown", e => {
  if (e.target === slider) return;  // a focused slider moves itself with the arrow keys
  const moves = {ArrowLeft: -1, ArrowRight: 1};
  if (e.key in moves) {
    show(Number(slider.value) + moves[e.key]);
    e.preventDefault();
  } else if (e.key === "Home" || e.key === "End") {
    show(e.key === "Home" ? 0 : frames.length - 1);
    e.preventDefault();
  }
});
// page.html#step=7 opens at step 7 (as the caption counts): a link can point at one step
show(Number((location.hash.match(/step=(\d+)/) || [0, 1])[1]) - 1);
</script>
</body></html>
"""
