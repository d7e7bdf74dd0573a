"""Graph drawing: structure of the DOT text (nodes, edges, labels), collapsing composites,
weight sharing made visible, big graphs, rendering through `dot`, and the `graph` command."""
import re
import shutil
import sys

import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import nn, viz
from tinygrad1d.app.cli import main

NODE = re.compile(r'^\t([tog]\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)
EDGE = re.compile(r"^\t([tog]\d+) -> ([tog]\d+)(?: \[(.*)\])?$", re.M)
HAS_DOT = shutil.which("dot") is not None


def nodes(dot: str, kind: str = "") -> dict[str, str]:
    """node id -> label (with DOT's \\n shown as newlines), of one kind: t, o or g."""
    return {n: lab.replace("\\n", "\n") for n, lab in NODE.findall(dot) if n.startswith(kind)}


def edges(dot: str) -> list[tuple[str, str, str]]:
    return EDGE.findall(dot)


def node_of(dot: str, t: tg.Tensor) -> str:
    return nodes(dot)[f"t{id(t)}"]


def out_edges(dot: str, t: tg.Tensor) -> list[tuple[str, str, str]]:
    return [e for e in edges(dot) if e[0] == f"t{id(t)}"]


def leaf(v, name=None):
    t = tg.Tensor(v, requires_grad=True)
    t.name = name
    return t


def seed_conv():
    """The seed's arrays: a = conv1d([1,2,3,4], [3,5,7], [1]) = [35, 50], upstream [10, 20]."""
    x, w, b = leaf([1, 2, 3, 4], "x"), leaf([3, 5, 7], "w"), leaf([1], "b")
    loss = (x.conv1d(w, b) * tg.Tensor([10, 20])).sum()
    return x, w, b, loss


# ================================================================== structure


def test_small_expression_has_one_node_per_tensor_and_op_in_data_flow_order():
    w, a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    y = w * a + w * b
    dot = viz.to_dot(y)
    assert dot.startswith("digraph tinygrad1d {") and dot.rstrip().endswith("}")
    assert len(nodes(dot, "t")) == 6  # w, a, b, w*a, w*b, y
    ops = nodes(dot, "o")
    assert sorted(lab.split("\n")[0] for lab in ops.values()) == ["add", "mul", "mul"]
    assert len(edges(dot)) == 9  # 2 inputs + 1 output per mul, 2 + 1 for add
    for src, dst, _ in edges(dot):  # data flow: tensor -> op -> tensor, never tensor -> tensor
        assert (src[0], dst[0]) in {("t", "o"), ("o", "t")}
    assert "peripheries=2" in dot.split(f"\tt{id(y)} ")[1].split("\n")[0]  # the root stands out


def test_shared_weight_fans_out_and_its_gradient_is_labelled_as_the_sum():
    w, a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    y = w * a + w * b
    assert len(out_edges(viz.to_dot(y), w)) == 2 and len(out_edges(viz.to_dot(y), a)) == 1
    assert all("penwidth" in attrs for _, _, attrs in out_edges(viz.to_dot(y), w))
    y.backward(np.ones(2))
    dot = viz.to_dot(y)
    np.testing.assert_array_equal(w.grad, [8, 10])  # a + b: one term per use
    assert "grad = sum of 2 uses\n[8 10]" in node_of(dot, w)
    assert "grad [1 2]" in node_of(dot, a) and "sum of" not in node_of(dot, a)
    assert "grad" not in node_of(viz.to_dot(y, show_grad=False), w)


def test_a_tensor_used_twice_by_one_op_draws_two_edges():
    x = leaf([3.0])
    y = x * x
    y.backward()
    dot = viz.to_dot(y)
    assert [e[1] for e in out_edges(dot, x)] == [f"o{id(y._ctx)}"] * 2
    assert "grad = sum of 2 uses\n[6]" in node_of(dot, x)


def test_seed_conv1d_shows_gather_contraction_bias_and_the_window_sums():
    x, w, b, loss = seed_conv()
    viz.retain_grads(loss)
    loss.backward()
    dot = viz.to_dot(loss, show_data=True)
    names = [lab.split("\n")[0] for lab in nodes(dot, "o").values()]
    for op in ("gather", "matmul", "add", "mul", "sum"):
        assert op in names
    gather = next(lab for lab in nodes(dot, "o").values() if lab.startswith("gather"))
    assert "axis=0" in gather and "2 windows of 3, stride 1, dilation 1" in gather
    assert "(3,) @ (3, 2)" in dot  # the contraction: the 3 weights times 2 windows
    assert len(out_edges(dot, w)) == 1  # the weight enters the graph once ...
    labels = [attrs for _, _, attrs in edges(dot)]
    assert any('"reused 2x"' in a for a in labels)  # ... and the matmul uses it per window
    assert any('"broadcast 2x"' in a for a in labels)  # the bias, over both positions
    assert any('"read up to 2x"' in a for a in labels)  # x[1], x[2] sit in both windows
    assert "data [1 2 3 4]\ngrad [30 110 170 140]" in node_of(dot, x)
    assert "data [3 5 7]\ngrad [50 80 110]" in node_of(dot, w)
    assert "grad [30]" in node_of(dot, b)
    assert "subgraph cluster_g" in dot and 'label="conv1d\\nstride=1' in dot  # framed, expanded


def test_data_summaries_stay_short():
    big = leaf(np.arange(1000.0).reshape(10, 100))
    label = node_of(viz.to_dot(big * 2, show_data=True), big)
    assert "min 0  mean 499.5  max 999" in label and len(label) < 80


def test_op_parameters_are_summarised():
    x = leaf(np.ones((2, 2, 9)))
    w = leaf(np.ones((3, 2, 3)))
    dot = viz.to_dot(F.conv1d(x, w, stride=2, padding=1))
    assert "pad" not in dot.replace("padding", "")  # the gather reads the padding itself
    assert "axes=(1, 2, 0)" in dot  # (N, C, L) -> (C, L, N): batch last
    assert "index=5 windows of 3, stride 2, dilation 1, padding (1, 1)" in dot
    y = x.reshape(36)[np.array([0, 3, 5])]
    assert "getitem\\nindex=(int64 array (3,),)" in viz.to_dot(y)


# ================================================================== collapsing composites


def two_layer():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv1d(4, 2, 3))
    x = tg.Tensor(np.linspace(-1, 1, 22, dtype=np.float32).reshape(2, 1, 11), requires_grad=True)
    return model, x, model(x)


def test_collapse_draws_one_box_per_conv1d_call_and_hides_its_primitives():
    model, x, y = two_layer()
    dot = viz.to_dot(y, collapse=True)
    boxes = nodes(dot, "g")
    assert len(boxes) == 2 and all(lab.startswith("conv1d") for lab in boxes.values())
    # the arguments on one line (a low box: long chains stay short), then the windows gathered
    assert sorted(lab.split("\n")[1] for lab in boxes.values()) == [
        "stride=1 padding=0 dilation=1 groups=1", "stride=2 padding=1 dilation=1 groups=1"]
    assert sorted(lab.split("\n")[2] for lab in boxes.values()) == [
        "gathers 4 windows of 3", "gathers 6 windows of 3"]
    assert any("padding=1" in lab for lab in boxes.values())
    assert [lab.split("\n")[0] for lab in nodes(dot, "o").values()] == ["relu"]
    assert "gather\\n" not in dot and "matmul" not in dot  # no primitive node of them
    assert len(nodes(dot, "t")) == 8  # x, 4 parameters, conv out, relu out, y
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        tensor = dict(model.named_parameters())[name]
        assert node_of(dot, tensor).startswith(name + "\n")
        assert [e[1][0] for e in out_edges(dot, tensor)] == ["g"]  # into its box
    assert f"g{id(y._ctx.scope)} -> t{id(y)}" in dot  # the box feeds the output tensor
    expanded = viz.to_dot(y, collapse=False)
    assert expanded.count("gather\\n") == 2 and not nodes(expanded, "g")
    assert expanded.count("subgraph cluster_g") == 2


def test_draw_returns_a_digraph_with_parameter_names_and_the_same_source():
    graphviz = pytest.importorskip("graphviz", reason="needs graphviz: pip install graphviz")
    model, x, y = two_layer()
    g = viz.draw(y)
    assert isinstance(g, graphviz.Digraph)
    assert "0.weight" in g.source and "2.bias" in g.source
    assert g.source == viz.to_dot(y)
    assert viz.draw(y, collapse=True).source == viz.to_dot(y, collapse=True)


def test_package_exports_draw_and_to_dot():
    assert tg.draw is viz.draw and tg.to_dot is viz.to_dot


def test_outermost_scope_names_the_box_and_exported_tensors_stay_visible():
    x = leaf([1.0, 2.0])
    with tg.scope("block", width=2):
        with tg.scope("inner"):
            h = x * 2
        y = h + 1
    z = h * y  # h is made inside the block and also read outside it
    dot = viz.to_dot(z, collapse=True)
    (box,) = nodes(dot, "g").values()
    assert box == "block\nwidth=2\n(2 primitive ops)"
    assert f"t{id(h)}" in nodes(dot, "t") and f"t{id(y)}" in nodes(dot, "t")
    assert (f"t{id(h)}", f"o{id(z._ctx)}", "") in [e[:2] + ("",) for e in edges(dot)]
    assert not any(e[0] == f"t{id(h)}" and e[1].startswith("g") for e in edges(dot))  # no loop


def test_softmax_and_cross_entropy_collapse_to_their_names():
    logits = leaf([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]])
    loss = F.cross_entropy(F.linear(logits, leaf(np.eye(3)), leaf([0.0, 0.0, 0.0])), [2, 0])
    boxes = nodes(viz.to_dot(loss, collapse=True), "g").values()
    assert sorted(lab.split("\n")[0] for lab in boxes) == ["cross_entropy", "linear"]
    assert any("reduction='mean'" in lab for lab in boxes)


# ================================================================== after backward, higher order


def test_graph_after_backward_still_draws():
    x, w, b, loss = seed_conv()
    loss.backward()  # frees the saved values
    assert loss._ctx.freed
    dot = viz.to_dot(loss, collapse=False)
    assert "gather" in dot and "grad [50 80 110]" in node_of(dot, w)
    assert len(nodes(viz.to_dot(loss, collapse=True), "g")) == 1


def test_second_order_graph_from_create_graph_draws():
    x = leaf([1.0, 2.0, 3.0])
    y = (x ** 3).sum()
    (g,) = tg.grad(y, [x], create_graph=True)  # 3 x^2, itself a graph
    dot = viz.to_dot(g)
    assert f"t{id(x)}" in nodes(dot, "t") and "pow" in dot
    both = viz.to_dot(y, g)  # two roots, both styled as outputs
    assert both.count("peripheries=2") == 2
    (h,) = tg.grad(g.sum(), [x], create_graph=True)
    np.testing.assert_allclose(h.data, [6, 12, 18])
    assert f"t{id(x)}" in nodes(viz.to_dot(h, collapse=True), "t")


# ================================================================== scale


def add_chain(n: int) -> tuple[tg.Tensor, tg.Tensor]:
    x = leaf([0.0])
    t = x
    for _ in range(n):
        t = t + 1
    return x, t


def test_ten_thousand_op_chain_converts_and_notes_the_auto_collapse():
    x, t = add_chain(10_000)  # deeper than Python's recursion limit: the walk is iterative
    dot = viz.to_dot(t)
    assert len(nodes(dot, "o")) == 10_000
    assert len(nodes(dot, "t")) == 20_001  # x, the 10,000 lifted constants, 10,000 sums
    note = dot.split("\tnote [")[1].split("\n")[0]
    assert "10000 primitive ops" in note and "no composites to collapse" in note
    assert "\tnote [" not in viz.to_dot(t, max_nodes=None)


def test_big_graph_of_composites_collapses_by_default():
    x = leaf(np.ones((2, 3)))
    out = x
    for _ in range(400):  # 4 primitives each: above viz.MAX_NODES
        out = out.softmax(axis=1)
    dot = viz.to_dot(out)
    assert len(nodes(dot, "g")) == 400 and not nodes(dot, "o")
    assert "into 400 boxes because of the graph's size" in dot
    assert len(nodes(viz.to_dot(out, max_nodes=None), "o")) == 1600
    small = viz.to_dot(x.softmax())
    assert nodes(small, "o") and "\tnote [" not in small  # small graphs stay expanded


def test_many_edges_cap_dots_layout_passes_small_graphs_keep_the_full_layout():
    x, small = add_chain(10)
    assert "nslimit" not in viz.to_dot(small)
    w = leaf(np.ones(3))
    h = x
    for _ in range(viz.LIMIT_LAYOUT // 3 + 1):  # a shared weight fanning out, as a GRU's
        h = (h * w).tanh()
    header = viz.to_dot(h).split("\n")[1]
    assert "nslimit=1 mclimit=0.1" in header and "rankdir=LR" in header


# ================================================================== save, rendering, errors


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program: apt-get install graphviz")
def test_save_renders_svg_through_dot(tmp_path):
    *_, loss = seed_conv()
    path = viz.save(loss, tmp_path / "seed.svg", show_data=True)
    assert path == tmp_path / "seed.svg"
    head = path.read_text()[:200].lstrip()
    assert head.startswith("<?xml") or head.startswith("<svg")
    assert "<svg" in path.read_text() and "gather" in path.read_text()


def test_save_dot_needs_no_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    *_, loss = seed_conv()
    path = viz.save([loss], tmp_path / "g.dot")
    assert path == tmp_path / "g.dot" and path.read_text() == viz.to_dot(loss)


@pytest.mark.parametrize("required", [False, True])
def test_save_without_dot_writes_the_source_and_says_how_to_install(tmp_path, monkeypatch,
                                                                     capsys, required):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert shutil.which("dot") is None
    *_, loss = seed_conv()
    path = viz.save(loss, tmp_path / "g.png", required=required)
    assert path == tmp_path / "g.dot" and path.read_text().startswith("digraph")
    assert not (tmp_path / "g.png").exists()
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert err.startswith("error" if required else "note")


def test_save_falls_back_to_dot_source_when_dot_fails(tmp_path, monkeypatch, capsys):
    failing = shutil.which("false")
    if failing is None:
        pytest.skip("no `false` program to stand in for a failing dot")
    monkeypatch.setattr(shutil, "which", lambda name: failing)
    path = viz.save(leaf([1.0]) * 2, tmp_path / "g.pdf")
    assert path == tmp_path / "g.dot" and not (tmp_path / "g.pdf").exists()
    assert "`dot` failed" in capsys.readouterr().err


def test_draw_without_the_graphviz_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(ImportError, match="pip install graphviz"):
        viz.draw(leaf([1.0]) * 2)
    assert viz.to_dot(leaf([1.0]) * 2).startswith("digraph")  # needs no package


def test_a_leaf_alone_draws_as_one_node():
    dot = viz.to_dot(leaf([1.0, 2.0], "w"), legend=False)
    assert list(nodes(dot).values()) == [f"w\n(2,) {tg.get_default_dtype()}"] and not edges(dot)


def test_bad_arguments_name_viz_and_the_argument(tmp_path):
    t = leaf([1.0])
    with pytest.raises(TypeError, match=r"viz\.to_dot: root 1 is a list"):
        viz.to_dot(t, [t])
    with pytest.raises(ValueError, match=r"viz\.to_dot: roots"):
        viz.to_dot()
    with pytest.raises(ValueError, match=r"viz\.to_dot: rankdir"):
        viz.to_dot(t, rankdir="XY")
    with pytest.raises(ValueError, match=r"viz\.save: path .*\.txt"):
        viz.save(t, tmp_path / "g.txt")
    with pytest.raises(TypeError, match=r"viz\.save: roots"):
        viz.save(5, tmp_path / "g.svg")
    with pytest.raises(TypeError, match=r"viz\.draw: root 0"):
        viz.draw(np.ones(3))
    assert "rankdir=TB" in viz.to_dot(t * 2, rankdir="TB")


# ================================================================== the command line


def svg_size_px(svg: str) -> tuple[float, float]:
    """Width and height of dot's SVG in CSS pixels (dot writes points: 1 pt = 4/3 px)."""
    w, h = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    return float(w) * 4 / 3, float(h) * 4 / 3


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program: apt-get install graphviz")
def test_cli_graph_writes_an_svg(tmp_path, capsys):
    assert main(["graph", "--model", "paper_cnn", "-o", str(tmp_path / "g.svg")]) == 0
    text = (tmp_path / "g.svg").read_text()
    assert "<svg" in text and "conv1d" in text and "0.weight" in text
    assert "paper_cnn: the MNIST&#45;1D paper&#39;s CNN" in text  # a title naming the model
    assert "cross_entropy" in text  # a training step ends at the loss ...
    assert "input" in text and "(2, 1, 40)" in text  # ... and starts at the input
    assert "gathers 19 windows of 5" in text  # the window gather, as a detail of the box
    assert max(svg_size_px(text)) <= 2000  # readable on a screen: 3,393 px wide before
    assert main(["graph", "--model", "paper_cnn", "--expand", "-o",
                 str(tmp_path / "x.dot")]) == 0
    assert "gather" in (tmp_path / "x.dot").read_text()


def test_cli_graph_without_dot_writes_dot_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert main(["graph", "--model", "paper_cnn", "-o", str(tmp_path / "g.svg")]) != 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()
    assert "apt-get install graphviz" in capsys.readouterr().err


# ================================================================== watching backward: steps


def windows_by_hand():
    """The seed's conv1d as its formula reads, a_i = sum_s x[i+s] w[s] + b: one multiply per
    window, so the shared weight w is used twice and its gradient is added to twice."""
    x, w, b = leaf([1, 2, 3, 4], "x"), leaf([3, 5, 7], "w"), leaf([1], "b")
    a = tg.stack([(x[i:i + 3] * w).sum() for i in range(2)]) + b
    return x, w, b, a


def test_steps_follow_the_engines_walk_and_show_a_shared_weight_adding_up():
    x, w, b, a = windows_by_hand()
    walk = viz.steps(a, np.array([10.0, 20.0], np.float32))
    n_ops = sum(t._ctx is not None for t in tg.tensor.walk([a]))
    assert len(walk) == n_ops == 8  # each op node once
    seqs = [s.node.seq for s in walk]
    assert seqs == sorted(seqs, reverse=True)  # the engine's rule: latest recorded first
    assert [s.op for s in walk] == ["add", "stack", "sum", "mul", "getitem", "sum", "mul",
                                    "getitem"]
    np.testing.assert_array_equal(walk[0].grad, [10, 20])  # the seed arrives at the root
    # w collects one term per window: the second window's first (backward runs in reverse)
    w_seen = [s.leaf_grads["w"].tolist() for s in walk if "w" in s.leaf_grads]
    assert w_seen[0] == [40, 60, 80] and w_seen[-1] == [50, 80, 110]  # 20*[2,3,4], + 10*[1,2,3]
    assert "w" not in walk[2].leaf_grads and "x" not in walk[3].leaf_grads  # not reached yet
    for name, t in (("x", x), ("w", w), ("b", b)):  # backward filled .grad, as it does
        np.testing.assert_array_equal(walk[-1].leaf_grads[name], t.grad)
    np.testing.assert_array_equal(x.grad, [30, 110, 170, 140])
    assert tg.tensor._State.watch is None  # the hook is put back


def test_steps_records_are_copies_that_later_steps_do_not_change():
    x, w, b, a = windows_by_hand()
    walk = viz.steps(a, np.array([10.0, 20.0], np.float32))
    first = next(s for s in walk if "w" in s.leaf_grads)
    assert first.leaf_grads["w"].tolist() == [40, 60, 80]  # still, after the walk went on
    assert first.leaf_grads["w"] is not w.grad


def test_steps_name_leaves_by_parameter_name_or_name_else_input_k():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    u, v = leaf(np.ones((1, 3)), None), leaf(np.ones((1, 2)), None)
    y = (model(u) * v).sum()
    walk = viz.steps(y)
    assert set(walk[-1].leaf_grads) == {"0.weight", "0.bias", "input 0", "input 1"}
    # in the order the forward pass first used them (linear starts by transposing its weight)
    assert list(walk.leaves) == ["0.weight", "input 0", "0.bias", "input 1"]
    assert walk.leaves["input 1"] is v
    p, q = leaf([1.0], "w"), leaf([2.0], "w")  # one name twice stays two leaves
    assert set(viz.steps(p * q).leaves) == {"w", "w (2)"}


def test_steps_put_the_hook_back_when_backward_fails_and_check_their_arguments():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(tg.BackwardError):
        viz.steps(y)  # two elements and no gradient given
    assert tg.tensor._State.watch is None
    with pytest.raises(TypeError, match=r"viz\.steps: root 0 is a ndarray"):
        viz.steps(np.ones(2))
    with pytest.raises(ValueError, match=r"viz\.steps: root does not require grad"):
        viz.steps(tg.Tensor([1.0]) * 2)
    assert viz.steps(leaf([1.0])) == []  # a leaf alone: no node to walk


def test_steps_show_in_jupyter_as_the_page_in_an_iframe(monkeypatch):
    *_, a = windows_by_hand()
    walk = viz.steps(a, np.array([10.0, 20.0], np.float32))
    assert "Step(op='add', grad=(2,)" in repr(walk)  # short: the arrays would drown it
    if HAS_DOT:
        shown = walk._repr_html_()
        assert shown.startswith("<iframe srcdoc=") and "id=&quot;prev&quot;" in shown
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "apt-get install graphviz" in walk._repr_html_()


def test_save_html_without_dot_says_how_to_install_before_running_backward(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    x, w, b, a = windows_by_hand()
    with pytest.raises(RuntimeError, match=r"viz\.save_html: .*apt-get install graphviz"):
        viz.save_html(a, tmp_path / "page.html", np.array([1.0, 1.0], np.float32))
    assert w.grad is None and not a._ctx.freed  # the graph is still there to try again
    with pytest.raises(ValueError, match=r"viz\.save_html: path .*page\.svg"):
        viz.save_html(a, tmp_path / "page.svg")


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program: apt-get install graphviz")
def test_save_html_writes_one_page_with_its_controls_and_the_walk(tmp_path):
    x, w, b, a = windows_by_hand()
    path = viz.save_html(a, tmp_path / "page.html", np.array([10.0, 20.0], np.float32))
    page = path.read_text()
    for part in ('id="prev"', 'id="next"', 'id="step"', 'max="7"', 'id="caption"', "<svg"):
        assert part in page
    assert "src=" not in page and "href=" not in page and "@import" not in page  # no fetch
    assert page.count("<svg") == 1  # one drawing, restyled per step
    data = page.split('<script type="application/json" id="walk">')[1].split("</script>")[0]
    import json
    walk = json.loads(data)
    assert [f["op"] for f in walk["frames"]][:3] == ["add", "stack", "sum"]
    (wleaf,) = [lf for lf in walk["leaves"] if lf["name"] == "w"]
    assert wleaf["changes"] == [[3, [40, 60, 80]], [6, [50, 80, 110]]]  # added to twice
    assert w.grad.tolist() == [50, 80, 110]
    assert all(f'<title>{f["node"]}</title>' in page for f in walk["frames"])  # drawn nodes


@pytest.mark.skipif(not HAS_DOT, reason="needs Graphviz's dot program: apt-get install graphviz")
def test_cli_graph_html_writes_the_paper_cnn_page_under_3_mb(tmp_path, capsys):
    out = tmp_path / "backward.html"
    assert main(["graph", "--model", "paper_cnn", "--html", "-o", str(out)]) == 0
    page = out.read_text()
    assert out.stat().st_size < 3_000_000 and page.count("<svg") == 1
    assert "cross_entropy" in page and "0.weight" in page and 'id="step"' in page
    assert f"wrote {out} (" in capsys.readouterr().out
    assert main(["graph", "--html", "-o", str(tmp_path / "page.svg")]) == 2  # not a page name


def test_cli_graph_html_without_dot_fails_naming_the_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert main(["graph", "--html", "-o", str(tmp_path / "b.html")]) == 4
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert not (tmp_path / "b.html").exists()


def test_a_run_reports_one_training_step_drawn_from_a_copy_of_the_model(tmp_path):
    from tinygrad1d.app import cli, models

    preset = models.get_preset("paper_cnn")
    tg.manual_seed(0)
    model = preset.build()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    (path,) = cli._graph_for_run("paper_cnn", preset, model, np.zeros((2, 40), np.float32),
                                 np.array([1, 2]), tmp_path)
    text = path.read_text()
    assert "cross_entropy" in text and "paper_cnn" in text
    assert all(p.grad is None for p in model.parameters())
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())


def test_a_conv1d_input_that_needs_no_gradient_is_drawn_as_the_input():
    """Its gather is not recorded (nothing to differentiate there), so the matmul reads the
    windows as a constant: the drawing shows the input itself, its shape, and the gather as a
    labelled step (expanded) or in the box's label (collapsed), never the window array."""
    import numpy as np
    from tinygrad1d.app.models import PRESETS

    model = PRESETS["paper_cnn"].build()
    x = tg.Tensor(np.zeros((64, 1, 40), np.float32))
    for collapse in (True, False):
        dot = tg.to_dot(model(x), collapse=collapse)
        assert "(64, 1, 40) float32" in dot
        assert "(5, 1216) float32" not in dot or not collapse  # no window array when boxed
        assert ("gathers 19 windows of 5" if collapse else
                "gather (not recorded:\\nthe input needs no gradient)") in dot
    x.requires_grad_()  # recorded: the ordinary drawing, the gather as an op
    assert "not recorded" not in tg.to_dot(model(x))
