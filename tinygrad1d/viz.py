"""Drawing the recorded graph: tensors as ellipses, primitive ops as boxes, data flowing
input -> op -> output. `to_dot` builds DOT text by plain string joins (no graphviz needed);
`draw` wraps the same lines in a graphviz.Digraph; `save` writes .dot/.svg/.png/.pdf.

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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .ops import Windows
from .tensor import Descriptor, Tensor, walk

if TYPE_CHECKING:
    import graphviz

__all__ = ["to_dot", "draw", "save", "retain_grads", "MAX_NODES"]

MAX_NODES = 1500  # op nodes; beyond this dot's layout takes minutes and nobody can read it
DOT_TIMEOUT = 120  # seconds for the `dot` program
FORMATS = (".svg", ".png", ".pdf", ".dot")
RANKDIRS = ("LR", "TB", "RL", "BT")
_BROADCASTING = {"add", "mul", "div", "pow", "maximum", "where", "expand"}
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


def _reuse(name: str, ctx, x: Tensor, out: Tensor) -> str:
    """How many terms each element of input x enters: its gradient from this op sums them."""
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
    if name in _BROADCASTING and 0 < x.size < out.size:
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


def _edge(a: str, b: str, label: str, uses: int) -> str:
    attrs = (f" label={_q(label)}" if label else "") + (_FAN if uses > 1 else "")
    return f"\t{a} -> {b}" + (f" [{attrs.strip()}]" if attrs else "") + "\n"


def _outermost(s):
    """A composite called inside another (log_softmax in cross_entropy) belongs to the outer."""
    while s.parent is not None:
        s = s.parent
    return s


_DTYPE_NAMES: dict = {}  # str(dtype) costs microseconds: too slow for 100k-node graphs


def _tensor_node(t: Tensor, n: int, kind: str, uses: int, show_data, show_grad) -> str:
    d = t.dtype
    dt = _DTYPE_NAMES.get(d) or _DTYPE_NAMES.setdefault(d, str(d))
    label = f"{t.name or f'#{n}'}\n{t.shape} {dt}"  # #n: position in data-flow order
    live = type(t) is not Descriptor  # a freed graph's descriptor has no data or grad
    if show_data and live:
        label += f"\ndata {_summary(t.data)}"
    if show_grad and live and t.grad is not None:
        label += f"\ngrad = sum of {uses} uses\n" if uses > 1 else "\ngrad "
        label += _summary(t.grad)
    return f"\tt{id(t)} [label={_q(label)} {_STYLE[kind]}]\n"


def _scope_label(s) -> str:
    return s.name + "".join(f"\n{k}={_param(v)}" for k, v in s.params.items())


def _lines(roots, show_data, show_grad, collapse, rankdir, legend, max_nodes, where) -> list[str]:
    """The body of the DOT graph, one statement per line (shared by to_dot and draw)."""
    roots = _roots(roots, where)
    if rankdir not in RANKDIRS:
        raise ValueError(f"viz.{where}: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    order = _walk(roots)
    n_ops = sum(t._ctx is not None for t in order)
    auto = not collapse and max_nodes is not None and n_ops > max_nodes
    collapse = auto or bool(collapse)
    uses: dict[int, int] = {}  # how many op inputs each tensor feeds: its gradient's terms
    group: dict[int, object] = {}  # id(op node) -> outermost scope: one box per composite call
    for t in order:
        if t._ctx is not None:
            for x in _inputs(t._ctx):
                uses[id(x)] = uses.get(id(x), 0) + 1
            if t._ctx.scope is not None:
                group[id(t._ctx)] = _outermost(t._ctx.scope)
    exported: set[int] = set()  # made inside a composite and read outside it: stays visible
    for t in order:
        if t._ctx is not None and group:
            g = group.get(id(t._ctx))
            for x in _inputs(t._ctx):
                gx = group.get(id(x._ctx)) if x._ctx is not None else None
                if gx is not None and gx is not g:
                    exported.add(id(x))
    root_ids = {id(r) for r in roots}
    out = [f"\tgraph [rankdir={rankdir} fontname=Helvetica fontsize=10]\n",
           "\tnode [fontname=Helvetica fontsize=10]\n", "\tedge [fontname=Helvetica fontsize=9]\n"]
    boxes: dict[int, list] = {}  # id(scope) -> [scope, primitive count, member node ids]
    box_in: dict[tuple[int, int], int] = {}  # (tensor, box) -> how many inner ops read it
    for n, t in enumerate(order):
        ctx, tid = t._ctx, id(t)
        g = group.get(id(ctx)) if ctx is not None else None
        inner = g is not None and tid not in root_ids and tid not in exported
        if g is not None:
            box = boxes.setdefault(id(g), [g, 0, []])
            box[1] += 1
        if not (collapse and inner):
            kind = "root" if tid in root_ids else "tensor" if ctx is not None else \
                "param" if t.is_param else "leaf" if t.requires_grad else "const"
            out.append(_tensor_node(t, n, kind, uses.get(tid, 0), show_data, show_grad))
        if ctx is None:
            continue
        if collapse and g is not None:  # inputs from outside the box point at the box
            if not inner:
                out.append(f"\tg{id(g)} -> t{tid}\n")
            for x in _inputs(ctx):
                if x._ctx is None or group.get(id(x._ctx)) is not g:
                    box_in[id(x), id(g)] = box_in.get((id(x), id(g)), 0) + 1
            continue
        if g is not None:  # expanded: the composite's primitives share a dashed frame
            box[2].append(f"o{id(ctx)}; t{tid}" if inner else f"o{id(ctx)}")
        name = type(ctx).name
        label = name + "".join(f"\n{k}={_param(v)}" for k, v in ctx.params.items())
        if name == "matmul":
            label += f"\n{ctx.inputs[0].shape} @ {ctx.inputs[1].shape}"
        out.append(f"\to{id(ctx)} [label={_q(label)} {_STYLE['op']}]\n")
        for x in _inputs(ctx):
            note = _reuse(name, ctx, x, t) if x.requires_grad else ""  # constants get no grad
            out.append(_edge(f"t{id(x)}", f"o{id(ctx)}", note, uses[id(x)]))
        out.append(f"\to{id(ctx)} -> t{tid}\n")
    for (xid, gid), k in box_in.items():
        out.append(_edge(f"t{xid}", f"g{gid}", f"{k}x" if k > 1 else "", uses[xid]))
    for gid, (s, k, members) in boxes.items():
        if collapse:
            label = _scope_label(s) + f"\n({k} primitive ops)"
            out.append(f"\tg{gid} [label={_q(label)} {_STYLE['group']}]\n")
        else:
            out.append(f"\tsubgraph cluster_g{gid} {{ label={_q(_scope_label(s))} "
                       f'style="rounded,dashed" color="#d08a1e"; {"; ".join(members)} }}\n')
    if auto:
        what = (f"composites were collapsed into {len(boxes)} boxes because of the graph's "
                "size.\nTo draw every primitive pass max_nodes=None (command line: tinygrad1d "
                "graph --expand)." if boxes else
                "there are no composites to collapse, so every primitive is drawn.")
        text = f"{n_ops} primitive ops (more than max_nodes={max_nodes}): {what}"
        out.append(f'\tnote [shape=note style=filled fillcolor="#fff8c4" label={_q(text)}]\n')
    if legend:
        rows = [("root", "output (root)"), ("param", "parameter"), ("leaf", "leaf, requires grad"),
                ("const", "constant"), ("tensor", "intermediate tensor"),
                ("op", "primitive op"), ("group", "composite (collapsed)")]
        cells = "".join(f'<tr><td bgcolor="{_FILL[k]}">{text}</td></tr>' for k, text in rows)
        out.append('\tlegend [shape=plaintext label=<<table border="0" cellborder="1" '
                   f'cellspacing="0" cellpadding="3"><tr><td><b>legend</b></td></tr>{cells}'
                   '<tr><td><font color="#1f5fbf">blue edges: a tensor used n times;<br/>'
                   'its grad is the sum of n uses</font></td></tr></table>>]\n')
    return out


def to_dot(*roots: Tensor, show_data: bool = False, show_grad: bool = True,
           collapse: bool = False, rankdir: str = "LR", legend: bool = True,
           max_nodes: int | None = MAX_NODES) -> str:
    """DOT source of the graph that produced `roots` (no graphviz package or program needed).

    collapse=True draws each composite call (conv1d, softmax, ...) as one box. A graph with
    more than `max_nodes` primitive ops is collapsed anyway, with a note saying so; pass
    max_nodes=None to draw every primitive of a big graph."""
    body = _lines(roots, show_data, show_grad, collapse, rankdir, legend, max_nodes, "to_dot")
    return "digraph tinygrad1d {\n" + "".join(body) + "}\n"


def draw(*roots: Tensor, show_data: bool = False, show_grad: bool = True,
         collapse: bool = False, rankdir: str = "LR", legend: bool = True,
         max_nodes: int | None = MAX_NODES) -> graphviz.Digraph:
    """The same graph as to_dot, as a graphviz.Digraph (renders inline in Jupyter)."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError("viz.draw needs the graphviz Python package: pip install graphviz "
                          "(or pip install 'tinygrad1d[viz]'); tg.to_dot works without it") from e
    body = _lines(roots, show_data, show_grad, collapse, rankdir, legend, max_nodes, "draw")
    return graphviz.Digraph(name="tinygrad1d", body=body)


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
