"""Regenerate the pictures of docs/graphs.md: python docs/img/make_graphs.py (needs Graphviz).

Prints the numbers the page quotes, so the text can be checked against a fresh run."""
import contextlib
import io
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import viz
from tinygrad1d.app import models
from tinygrad1d.app.cli import main

HERE = Path(__file__).resolve().parent
EXT = ".svg"  # .png for a quick look at the pictures elsewhere


def leaf(v, name: str) -> tg.Tensor:
    t = tg.Tensor(v, requires_grad=True)
    t.name = name  # any tensor may carry a name; Modules name their parameters themselves
    return t


def seed() -> None:
    """The seed's SimpleConv1d numbers: a = conv1d([1,2,3,4], [3,5,7], [1]), upstream [10, 20]."""
    x, w, b = leaf([1, 2, 3, 4], "x"), leaf([3, 5, 7], "w"), leaf([1], "b")
    a = x.conv1d(w, b)
    viz.retain_grads(a)  # keep every intermediate gradient so the picture can show them
    a.backward(np.array([10.0, 20.0], np.float32))
    print("seed: a =", a.data, " x.grad =", x.grad, " w.grad =", w.grad, " b.grad =", b.grad)
    viz.save(a, HERE / f"seed_conv1d{EXT}", show_data=True, collapse=False, rankdir="TB")


def multichannel() -> None:
    """x (C_in=2, L=4), w all ones (C_out=3, C_in=2, K=3), b [1, 2, 3], upstream g (3, 2)."""
    x = leaf([[1, 2, 3, 4], [2, 3, 4, 5]], "x")
    w, b = leaf(np.ones((3, 2, 3), np.float32), "w"), leaf([1, 2, 3], "b")
    a = F.conv1d(x, w, b)
    viz.retain_grads(a)
    a.backward(np.array([[1, 2], [3, 4], [5, 6]], np.float32))
    print("multichannel: a =", a.data.tolist(), " b.grad =", b.grad, "\n  w.grad =",
          w.grad.tolist(), "\n  x.grad =", x.grad.tolist())
    for collapse, name in ((True, "collapsed"), (False, "expanded")):
        dot = viz.to_dot(a, show_data=True, collapse=collapse, rankdir="TB")
        print(f"  {name}: {dot.count(' -> ')} edges")
        viz.save(a, HERE / f"multichannel_{name}{EXT}", show_data=True, collapse=collapse,
                 rankdir="TB")


def counts(dot: str) -> str:
    """How many tensors, primitive ops and collapsed boxes a DOT text draws (and the note)."""
    kinds = [line.split()[0][0] for line in dot.splitlines()[4:] if "[label=" in line
             and "->" not in line]
    note = ", with the max_nodes note" if "\tnote [" in dot else ""
    return (f"{kinds.count('t')} tensors, {kinds.count('o')} ops, {kinds.count('g')} boxes"
            + note)


def paper_cnn() -> None:
    """What `tinygrad1d graph --model paper_cnn` draws, and one training step's graph."""
    assert main(["graph", "--model", "paper_cnn", "-o", str(HERE / f"paper_cnn{EXT}")]) == 0
    with tempfile.TemporaryDirectory() as tmp:  # the same command as DOT text, to count
        for flags in ([], ["--expand"]):
            out = Path(tmp) / "graph.dot"
            with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." line
                assert main(["graph", "--model", "paper_cnn", "-o", str(out), *flags]) == 0
            dot = out.read_text()
            boxes = sorted({line.split("(")[-1].split(")")[0] for line in dot.splitlines()
                            if "primitive ops)" in line})
            print(f"  graph {' '.join(flags) or '(collapsed)'}: {counts(dot)}; boxes hide {boxes}")
    tg.manual_seed(0)
    model = models.paper_cnn()
    x = leaf(tg.randn(2, 1, 40).data, "x")  # requires grad, so recorded from the first op
    loss = F.cross_entropy(model(x), np.array([3, 7]))
    loss.backward()
    print("paper_cnn step: loss", loss.item(), " 0.bias grad min/mean/max",
          model[0].bias.grad.min(), model[0].bias.grad.mean(), model[0].bias.grad.max())
    viz.save(loss, HERE / f"paper_cnn_step{EXT}", collapse=True, rankdir="TB")
    for collapse in (True, False):
        print(f"  collapse={collapse}: {counts(viz.to_dot(loss, collapse=collapse))}")
    small = viz.to_dot(loss, max_nodes=40)  # as if the step were a big graph
    note = next(line for line in small.splitlines() if line.startswith("\tnote"))
    print(f"  max_nodes=40: {counts(small)}:\n   ", note.split('label="')[1][:-2])


def timing() -> None:
    x = leaf([0.0], "x")
    t = x
    for _ in range(10_000):
        t = t + 1
    print(f"10,000-add chain: default options: {counts(viz.to_dot(t))}; "
          f"max_nodes=None: {counts(viz.to_dot(t, max_nodes=None))}")
    best = min(_time(viz.to_dot, t) for _ in range(5))
    print(f"to_dot of a 10,000-add chain: best of 5 {best:.3f} s")


def _time(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def backward_page() -> None:
    """backward_page.png: the step-through page of the seed's conv1d written per window, at
    the step where the first window adds its share to w (needs Debian's chromium)."""
    x, w, b = leaf([1, 2, 3, 4], "x"), leaf([3, 5, 7], "w"), leaf([1], "b")
    a = tg.stack([(x[i:i + 3] * w).sum() for i in range(2)]) + b  # a_i = sum_s x[i+s] w[s] + b
    browser = shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp:
        page = viz.save_html(a, Path(tmp) / "seed.html", np.array([10.0, 20.0], np.float32),
                             title="a_i = sum_s x[i+s] w[s] + b, backward step by step")
        print(f"backward page of the seed, by window: {page.stat().st_size:,} bytes")
        if browser is None:
            print("  no chromium: backward_page.png not made (apt-get install chromium)")
            return
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}/profile",
                        "--window-size=1200,720", "--hide-scrollbars",
                        f"--screenshot={HERE / 'backward_page.png'}", page.as_uri() + "#step=7"],
                       check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    seed()
    multichannel()
    paper_cnn()
    timing()
    backward_page()
