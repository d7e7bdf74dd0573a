"""Drawing the recorded graph: tensors as ellipses, primitive ops as boxes, data flowing
input -> op -> output. Two steps, as micrograd's trace/draw_dot: `trace(*roots)` walks the
graph once (the engine's `walk`) into plain data (nodes, edges, composite groups), and
`render(trace)` turns that into DOT statements. `to_dot` joins them into DOT text (no graphviz
needed); `draw` wraps them in a graphviz.Digraph; `save` writes .dot/.svg/.png/.pdf.

Styles: the output (root) is red with a double border, parameters green, other leaves that
require grad blue, constants dashed grey, intermediate tensors white; primitive ops are grey
rounded boxes and collapsed composites (conv1d, softmax, ...) orange 3-D boxes. A tensor used
by several ops fans out along bold blue edges and its gradient reads "grad = sum of n uses".
Edge labels "read up to 3x" (gather), "reused 2x" (matmul), "broadcast 2x" say how many terms
each element's gradient from that op sums: where conv1d's overlapping windows, shared weights
and broadcast bias add up. Unnamed tensors are labelled #n, their place in data-flow order.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .ops import Windows
from .tensor import Descriptor, Tensor, walk

if TYPE_CHECKING:
    import graphviz

__all__ = ["Edge", "Node", "Trace", "draw", "render", "retain_grads", "save", "to_dot", "trace",
           "MAX_NODES"]

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
            label = _scope_label(scope) + f"\n({count} primitive ops)"
            out.nodes.append(Node(f"g{gid}", "group", label))
        else:
            out.clusters.append((f"cluster_g{gid}", _scope_label(scope), members))
    out.edges += [Edge(f"t{xid}", f"g{gid}", f"{k}x" if k > 1 else "", g.uses[xid] > 1)
                  for (xid, gid), k in g.box_in.items()]
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
        for t in order:
            if t._ctx is not None:
                for x in _inputs(t._ctx):
                    self.uses[id(x)] = self.uses.get(id(x), 0) + 1
                if t._ctx.scope is not None:
                    self.group[id(t._ctx)] = _outermost(t._ctx.scope)
        self.exported = {id(x) for t in order if t._ctx is not None for x in _inputs(t._ctx)
                         if self._box(x) not in (None, self._box(t))}  # read outside its box
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.boxes: dict[int, list] = {}  # id(scope) -> [scope, primitive count, members]
        self.box_in: dict[tuple[int, int], int] = {}  # (tensor, box) -> inner ops reading it
        self.marked: set[int] = set()

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
    return s.name + "".join(f"\n{k}={_param(v)}" for k, v in s.params.items())


# ================================================================== step 2: render


def render(tr: Trace, show_data: bool = False, show_grad: bool = True, rankdir: str = "LR",
           legend: bool = True) -> list[str]:
    """The body of a DOT digraph for a Trace, one statement per line."""
    _check_rankdir(rankdir, "render")
    # dot's network-simplex passes grow fast with edges out of widely shared nodes (a GRU's
    # weights feed all 80 of its cell steps: 7.7 minutes of layout for 511 edges); past
    # LIMIT_LAYOUT edges cap their iterations (the same graph: under 30 s, looser layout)
    limits = " nslimit=1 mclimit=0.1" if len(tr.edges) > LIMIT_LAYOUT else ""
    out = [f"\tgraph [rankdir={rankdir} fontname=Helvetica fontsize=10{limits}]\n",
           "\tnode [fontname=Helvetica fontsize=10]\n", "\tedge [fontname=Helvetica fontsize=9]\n"]
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
           max_nodes: int | None = MAX_NODES, mark=None) -> str:
    """DOT source of the graph that produced `roots` (no graphviz package or program needed).

    collapse=True draws each composite call (conv1d, softmax, ...) as one box. A graph with
    more than `max_nodes` primitive ops is collapsed anyway, with a note saying so; pass
    max_nodes=None to draw every primitive of a big graph."""
    _check_rankdir(rankdir, "to_dot")
    tr = trace(*roots, collapse=collapse, max_nodes=max_nodes, mark=mark, where="to_dot")
    body = render(tr, show_data, show_grad, rankdir, legend)
    return "digraph tinygrad1d {\n" + "".join(body) + "}\n"


def draw(*roots: Tensor, show_data: bool = False, show_grad: bool = True,
         collapse: bool = False, rankdir: str = "LR", legend: bool = True,
         max_nodes: int | None = MAX_NODES, mark=None) -> graphviz.Digraph:
    """The same graph as to_dot, as a graphviz.Digraph (renders inline in Jupyter)."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError("viz.draw needs the graphviz Python package: pip install graphviz "
                          "(or pip install 'tinygrad1d[viz]'); tg.to_dot works without it") from e
    _check_rankdir(rankdir, "draw")
    tr = trace(*roots, collapse=collapse, max_nodes=max_nodes, mark=mark, where="draw")
    return graphviz.Digraph(name="tinygrad1d", body=render(tr, show_data, show_grad, rankdir,
                                                           legend))


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
    exe, problem = shutil.which("dot"), "Graphviz's `dot` program was not found"
    if exe is not None:
        try:
            run = subprocess.run([exe, f"-T{fmt[1:]}", "-o", str(path)], input=source,
                                 text=True, capture_output=True, timeout=DOT_TIMEOUT)
            if run.returncode == 0:
                return path
            problem = f"`dot` failed ({run.stderr.strip()[:300]})"
        except subprocess.TimeoutExpired:
            problem = f"`dot` took more than {DOT_TIMEOUT} s"
        path.unlink(missing_ok=True)  # never leave a half-written image behind
    fallback = path.with_suffix(".dot")
    fallback.write_text(source)
    print(f"{'error' if required else 'note'}: viz.save: {problem}, so {fallback} was written "
          f"instead of {path}.\nInstall Graphviz (apt-get install graphviz, or brew install "
          f"graphviz, or https://graphviz.org/download/), then: "
          f"dot -T{fmt[1:]} {fallback} -o {path}", file=sys.stderr)
    return fallback
