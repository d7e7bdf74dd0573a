"""What a graph keeps: everything before backward, only a drawable skeleton after it.

docs/architecture.md ("What a node keeps") describes the model these tests hold it to."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import Tensor, nn, optim, viz
from tinygrad1d.tensor import Descriptor


def small_conv_net():
    tg.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(1, 16, 5, stride=2, padding=2), nn.ReLU(), nn.Dropout(0.1),
        nn.Conv1d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(16 * 10, 10))


def test_a_loop_that_keeps_every_loss_does_not_keep_the_activations():
    """The usual logging loop (losses.append(loss)) over 50 steps: memory grows by less than
    5% of one step's activations per step (before Core v2: 67% of them)."""
    model = small_conv_net()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((64, 1, 40)))
    y = rng.integers(0, 10, 64)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()  # optimizer state and caches exist from here on
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        kept = [step()]
        activations = tracemalloc.get_traced_memory()[1] - before  # one step's peak
        kept += [step() for _ in range(49)]
        gc.collect()
        grown = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert activations > 200_000  # the measure itself is alive: a step allocates real arrays
    assert grown < 0.05 * activations, f"{grown:.0f} B per kept loss, step peak {activations} B"


def test_after_backward_no_intermediate_is_reachable_from_the_output():
    x = Tensor(np.ones((3, 8)), requires_grad=True)
    h = (x * 2).tanh()
    gone = weakref.ref(h)
    mask = F.dropout(h, 0.5)._ctx.inputs[1]  # the dropout mask: a constant, as big as h
    mask_gone = weakref.ref(mask)
    loss = F.dropout(h, 0.5).sum() + (h * h).sum()
    del h, mask
    assert gone() is not None  # before backward the graph holds it: backward needs it
    loss.backward()
    gc.collect()
    assert gone() is None and mask_gone() is None
    kinds = {type(x) for t in tg.tensor.walk([loss]) if t._ctx for x in t._ctx.inputs}
    assert Descriptor in kinds and x in [i for t in tg.tensor.walk([loss]) if t._ctx
                                         for i in t._ctx.inputs]  # leaves that learn stay


def test_retain_graph_keeps_everything_and_second_order_still_works():
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    y = (x ** 3).sum()
    y.backward(retain_graph=True)
    assert all(type(i) is Tensor for t in tg.tensor.walk([y]) if t._ctx for i in t._ctx.inputs)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 3 * x.data ** 2)
    with pytest.raises(tg.BackwardError, match="retain_graph"):
        y.backward()
    (g,) = tg.grad((x ** 3).sum(), [x], create_graph=True)
    (h,) = tg.grad(g.sum(), [x])
    np.testing.assert_allclose(h.data, 6 * x.data)


def test_a_backward_that_fails_on_a_freed_graph_changes_nothing():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    shared = a * b
    shared.sum().backward()  # frees the node of `shared`
    a.grad = b.grad = None
    r = Tensor(np.array([5.0]), requires_grad=True)
    keep = r * 2
    keep.retain_grad()
    loss = (keep * 3).sum() + (shared * 2).sum()
    with pytest.raises(tg.BackwardError, match="already walked"):
        loss.backward()
    assert a.grad is None and b.grad is None and r.grad is None and keep.grad is None
    loss2 = (keep * 3).sum()  # the untouched part of the graph still works
    loss2.backward()
    np.testing.assert_allclose(r.grad, [6.0])


def test_a_freed_graph_still_draws_with_names_shapes_and_parameters():
    model = small_conv_net()
    loss = F.cross_entropy(model(Tensor(np.ones((2, 1, 40)))), [1, 2])
    before = viz.to_dot(loss)
    loss.backward()
    after = viz.to_dot(loss)
    for text in ("0.weight", "(2, 16, 20)", "gather", "windows of 3, stride 1",
                 "matmul", "cross_entropy"):
        assert text in before and text in after
    # the same nodes and edges: only the data and gradients of dead tensors are gone
    assert after.count(" -> ") == before.count(" -> ")


def test_a_kept_intermediate_is_drawn_as_itself_after_backward():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3
    h.retain_grad()
    loss = (h * h).sum()
    loss.backward()
    dot = viz.to_dot(loss)
    label = next(line for line in dot.splitlines() if line.startswith(f"\tt{id(h)} "))
    assert "grad = sum of 2 uses\\n[6 12]" in label  # h is still held here, so it is real


# ------------------------------------------------------------------ the buffer pool


def test_the_pools_refcount_rule_holds_on_this_python():
    """memory.counts_references proves the rule the pool rests on, on the running
    interpreter; CI runs it on the Python README installs with."""
    from tinygrad1d.memory import BUFFERS, counts_references
    import platform
    assert counts_references() is (platform.python_implementation() == "CPython")
    assert BUFFERS.enabled == counts_references()


def test_a_buffer_still_held_is_never_handed_out_again():
    from tinygrad1d.memory import Buffers
    pool = Buffers()
    shape = (512, 256)  # 1 MB of float64: above MIN_BYTES
    a = pool.empty(shape, np.float64)
    t = tg.Tensor._make(a, False, None)  # a Tensor holds it
    del a
    b = pool.empty(shape, np.float64)
    assert not np.shares_memory(b, t.data)
    v = b[10:].reshape(-1)  # only a view of a view holds the second one
    del b
    c = pool.empty(shape, np.float64)
    assert not np.shares_memory(c, t.data) and not np.shares_memory(c, v)
    base_c = c.__array_interface__["data"][0]
    del c
    d = pool.empty(shape, np.float64)  # nobody holds the third: it comes back
    assert d.__array_interface__["data"][0] == base_c
    del t, v
    assert len(pool.kept[(shape, np.dtype(np.float64))]) == 3


def test_a_pool_on_an_interpreter_without_the_rule_recycles_nothing():
    from tinygrad1d.memory import Buffers
    pool = Buffers()
    pool.enabled = False  # what counts_references() == False gives
    for _ in range(3):
        a = pool.empty((512, 256), np.float64)
        assert a.shape == (512, 256)
        del a
    assert not pool.kept  # every array was a fresh one, none is kept for reuse
