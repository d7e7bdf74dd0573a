"""RNN, GRU and LSTM against PyTorch in float64, PyTorch's weights copied in by name: outputs,
final states, and the gradients of the input, the initial state and every parameter."""
import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import viz

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")

CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False},
]


def pair(kind, **kw):
    ours, theirs = getattr(tg.nn, kind)(3, 4, **kw), getattr(torch.nn, kind)(3, 4, **kw)
    for name, p in theirs.named_parameters():
        dict(ours.named_parameters())[name].data = p.detach().numpy().astype(np.float64).copy()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return ours, theirs.double()


def both(x):
    return tg.tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)


def check(ours, theirs, pairs):
    for a, t in pairs:
        np.testing.assert_allclose(np.asarray(a), t.detach().numpy() if hasattr(t, "detach")
                                   else t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: ",".join(kw) or "default")
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_match_torch(kind, kw, with_state):
    ours, theirs = pair(kind, **kw)
    rng = np.random.default_rng(0)
    shape = (2, 5, 3) if kw.get("batch_first") else (5, 2, 3)
    x, xt = both(rng.standard_normal(shape))
    states = (kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1), 2, 4)
    hx = hxt = None
    if with_state:
        h0, h0t = both(rng.standard_normal(states))
        hx, hxt = h0, h0t
        if kind == "LSTM":
            c0, c0t = both(rng.standard_normal(states))
            hx, hxt = (h0, c0), (h0t, c0t)
    out, state = ours(x, hx)
    out_t, state_t = theirs(xt, hxt)
    check(ours, theirs, [(out.data, out_t)])
    finals = state if kind == "LSTM" else (state,)
    finals_t = state_t if kind == "LSTM" else (state_t,)
    check(ours, theirs, [(a.data, t) for a, t in zip(finals, finals_t)])
    g = rng.standard_normal(out_t.shape)
    loss = (out * tg.tensor(g, dtype=np.float64)).sum() + sum((f * f).sum() for f in finals)
    loss_t = (out_t * torch.tensor(g)).sum() + sum((f * f).sum() for f in finals_t)
    loss.backward()
    loss_t.backward()
    check(ours, theirs, [(x.grad, xt.grad)])
    if with_state:
        h0s = hx if kind == "LSTM" else (hx,)
        h0ts = hxt if kind == "LSTM" else (hxt,)
        check(ours, theirs, [(a.grad, t.grad) for a, t in zip(h0s, h0ts)])
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad, p.grad.numpy(),
                                   rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_unbatched_input_as_torch(kind):
    ours, theirs = pair(kind)
    x, xt = both(np.random.default_rng(1).standard_normal((6, 3)))
    out, state = ours(x)
    out_t, state_t = theirs(xt)
    assert out.shape == tuple(out_t.shape) == (6, 4)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    h_n = state[0] if kind == "LSTM" else state
    assert h_n.shape == (1, 4)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_second_order_through_one_cell_step(kind):
    """First and second derivatives of one step (L = 1) with respect to the input and the
    initial state(s), against central differences."""
    tg.manual_seed(0)
    layer = getattr(tg.nn, kind)(2, 3).to(np.float64)
    rng = np.random.default_rng(2)
    x, h0, c0 = (rng.standard_normal(s) for s in [(1, 2, 2), (1, 2, 3), (1, 2, 3)])
    if kind == "LSTM":
        def f(x, h, c):
            out, (h_n, c_n) = layer(x, (h, c))
            return out.sum(axis=2) + c_n.sum(axis=2)
        inputs = [x, h0, c0]
    else:
        def f(x, h):
            return layer(x, h)[0].sum(axis=2)
        inputs = [x, h0]
    assert tg.gradcheck(f, inputs) and tg.gradgradcheck(f, inputs)


def test_a_collapsed_gru_draws_one_box_per_cell_step():
    gru = tg.nn.GRU(1, 2, bidirectional=True)
    out, _ = gru(tg.tensor(np.ones((4, 1, 1)), requires_grad=True))
    dot = viz.to_dot(out, collapse=True)
    assert dot.count('label="gru_cell') == 8  # 4 steps x 2 directions


def test_bad_recurrent_input_refuses_naming_the_layer_and_shapes():
    gru = tg.nn.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU: expected input \(L, N, 3\)"):
        gru(tg.tensor(np.ones((5, 2, 7))))
    with pytest.raises(ValueError, match=r"GRU: hidden state of shape \(1, 2, 4\), expected "
                                         r"\(2, 2, 4\)"):
        gru(tg.tensor(np.ones((5, 2, 3))), tg.tensor(np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match="RNN: nonlinearity must be"):
        tg.nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="LSTM: hidden_size must be >= 1"):
        tg.nn.LSTM(3, 0)
