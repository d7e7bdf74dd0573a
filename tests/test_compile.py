"""tg.compile: a replay equals the uncompiled call to the last bit (outputs and every .grad),
on new data, after parameter updates, with dropout and batch norm; what cannot be frozen is
refused at capture with a CompileError naming the line."""
import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import nn, optim
from tinygrad1d.app.models import PRESETS

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def float64():
    tg.set_default_dtype(np.float64)
    yield
    tg.set_default_dtype(np.float32)


def _pair(fn, *arrays, seed=None):
    """fn's outputs and input gradients, called as it is and compiled (twice: the capture
    and a replay), each on fresh leaves holding the same arrays."""
    results = []
    compiled = tg.compile(fn)
    for run in (fn, compiled, compiled):
        if seed is not None:
            tg.manual_seed(seed)
        xs = [tg.tensor(a, requires_grad=True) for a in arrays]
        out = run(*xs)
        out.backward(tg.tensor(np.linspace(-1, 1, out.size).reshape(out.shape)))
        results.append((out.data.copy(), [x.grad.copy() for x in xs]))
    return results, compiled


def _same(a, b):
    assert np.array_equal(a[0], b[0]), "outputs differ"
    for g, h in zip(a[1], b[1]):
        assert np.array_equal(g, h), "gradients differ"


@pytest.mark.parametrize("name,fn,shapes", [
    ("softmax", lambda x: F.softmax(x * 3.0, dim=1), [(4, 5)]),
    ("log_softmax and logsumexp", lambda x: F.log_softmax(x, 0) + x.logsumexp(1, True), [(4, 5)]),
    ("max pool", lambda x: F.max_pool1d(x, 3, 2, padding=1), [(2, 3, 9)]),
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=1, stride=2), [(2, 3, 10), (4, 3, 3)]),
    ("max(dim) and sort", lambda x: x.max(1).values.sum() * x.sort(0).values, [(4, 5)]),
    ("clamp, norm, where", lambda x: F.normalize(x.clamp(-0.5, 0.7)).where(x > 0, x * 2),
     [(4, 5)]),
    ("take_along by argmax", lambda x: x.gather(1, x.argmax(1, keepdim=True)) * x, [(4, 5)]),
    ("a shared weight", lambda x, w: (x @ w).tanh() @ w.t(), [(3, 4), (4, 4)]),
])
def test_replays_equal_eager_on_new_data_to_the_last_bit(name, fn, shapes):
    """The second call of each pair replays; new data each time shows that nothing the
    first call computed from its data (a softmax's max, a pool's winners) was frozen."""
    for _ in range(3):
        arrays = [RNG.standard_normal(s) for s in shapes]
        (eager, first, replay), compiled = _pair(fn, *arrays)
        _same(eager, first)
        _same(eager, replay)
    assert len(compiled.programs) == 1  # one signature, captured once


def test_presets_train_equal_compiled_or_not():
    """Five Adam steps of every MNIST-1D preset: every parameter and buffer equal."""
    for name in ("paper_cnn", "logistic", "mlp", "gru", "dilated_cnn"):
        p = PRESETS[name]
        x = p.prepare(RNG.standard_normal((16, 40)))
        y = RNG.integers(0, 10, 16)
        states = []
        for compiled in (False, True):
            tg.manual_seed(1)
            model = p.build()
            run = tg.compile(model) if compiled else model
            opt = optim.Adam(model.parameters(), lr=1e-2)
            for _ in range(5):
                loss = F.cross_entropy(run(tg.tensor(x)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            states.append(model.state_dict())
        for k in states[0]:
            assert np.array_equal(states[0][k], states[1][k]), f"{name}: {k}"


def test_dropout_draws_fresh_masks_equal_to_eager_and_batch_norm_updates():
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(8, 2))
    twin = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(8, 2))
    twin.load_state_dict(model.state_dict())
    compiled = tg.compile(model)
    outs = []
    for step in range(4):
        x = RNG.standard_normal((5, 6))
        tg.manual_seed(step)
        a = twin(tg.tensor(x))
        tg.manual_seed(step)
        b = compiled(tg.tensor(x))
        assert np.array_equal(a.data, b.data)
        outs.append(b.data)
    assert not np.array_equal(outs[2], outs[3])  # masks (and data) change every call
    for k, v in twin.state_dict().items():  # running statistics and the batch count too
        assert np.array_equal(v, model.state_dict()[k]), k
    assert model[1].num_batches_tracked == 4
    compiled.eval()  # a new signature: no dropout, running statistics
    x = tg.tensor(RNG.standard_normal((3, 6)))
    assert np.array_equal(compiled(x).data, twin.eval()(x).data)
    assert len(compiled._compiled.programs) == 2


def test_parameters_are_read_afresh_and_a_changed_parameter_recaptures():
    lin = nn.Linear(3, 2)
    f = tg.compile(lambda x: lin(x).sum())
    x = tg.tensor(np.ones((1, 3)))
    first = f(x).item()
    with tg.no_grad():
        lin.weight.add_(1.0)  # in place: the program reads the new values
    assert f(x).item() == pytest.approx(first + 6.0)
    lin.bias.data = np.zeros(3)  # the captured bias changed shape: captured again, and the
    with pytest.raises(ValueError, match=r"linear: b must have shape \(2,\), got \(3,\)"):
        f(x)  # layer's own check says so


def test_a_compiled_module_sees_a_replaced_layer():
    model = nn.Sequential(nn.Linear(3, 2))
    compiled = tg.compile(model)
    x = tg.tensor(np.ones((1, 3)))
    compiled(x)
    model[0] = nn.Linear(3, 2, init="simple")  # a new Parameter object: captured again
    assert np.array_equal(compiled(x).data, model(x).data)


def test_signature_numbers_arrays_and_grad_mode():
    def f(x, scale, table):
        return (x * scale + table).sum()
    c = tg.compile(f)
    x = tg.tensor(np.ones(3), requires_grad=True)
    assert c(x, 2.0, np.arange(3.0)).item() == 9.0
    assert c(x, 3.0, np.arange(3.0)).item() == 12.0  # a number is part of the signature
    assert c(x, 3.0, np.ones(3)).item() == 12.0  # an array is an input, read each call
    with tg.no_grad():
        out = c(x, 3.0, np.ones(3))
    assert not out.requires_grad and out.item() == 12.0
    assert len(c.programs) == 3
    with pytest.raises(tg.CompileError, match="argument 1 .* list"):
        c(x, [1, 2], np.ones(3))


def test_several_and_nested_outputs_and_one_node_in_the_graph():
    lstm = nn.LSTM(3, 4, batch_first=True)
    twin = nn.LSTM(3, 4, batch_first=True)
    twin.load_state_dict(lstm.state_dict())
    compiled = tg.compile(lstm)
    x = RNG.standard_normal((2, 5, 3))
    for run in (twin, compiled):
        out, (h, c) = run(tg.tensor(x))
        (out.sum() * 2 + (h * c).sum()).backward()
    for (n, p), (_, q) in zip(twin.named_parameters(), lstm.named_parameters()):
        assert np.array_equal(p.grad, q.grad), n
    out, (h, c) = compiled(tg.tensor(x))
    assert type(out._ctx).__name__ == "Reshape"  # a slice of the one compiled node
    node = out._ctx.inputs[0]._ctx.inputs[0]._ctx
    assert type(node).name == "LSTM" and h._ctx.inputs[0]._ctx.inputs[0]._ctx is node


def test_code_is_what_runs():
    w = tg.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    f = tg.compile(lambda x: (x @ w).relu().sum())
    x = tg.tensor(RNG.standard_normal((2, 4)))
    f(x).backward()
    code = f.code
    assert "def forward(x0, p0):" in code and "MatMul().forward(x0, p0)" in code
    assert "n1 = Relu()" in code and "n1.mask" in code.split("def backward")[1]
    ns = dict(f.last.forward.__globals__)
    exec(code, ns)  # the printed text, executed, gives the program's answer
    (out,), saved = ns["forward"](x.data, w.data)
    assert out == f(x).item()
    (gw,) = ns["backward"](saved, np.ones(()))
    w.grad = None
    f(x).backward()
    assert np.array_equal(gw, w.grad)


def test_values_read_back_into_python_are_refused_naming_the_line():
    for read in (lambda y: y.item(), lambda y: float(y), lambda y: bool(y > 0),
                 lambda y: y.tolist(), lambda y: y.numpy(), lambda y: int(y.argmax())):
        def f(x, read=read):
            y = x.sum()
            if read(y):  # a branch on the data would be frozen
                return x * 2
            return x
        with pytest.raises(tg.CompileError, match=r"compile: .* back into Python, at .*"
                                                  r"test_compile.py:\d+: "):
            tg.compile(f)(tg.tensor([1.0, 2.0]))
    with pytest.raises(tg.CompileError, match="getitem"):
        tg.compile(lambda x, i: x[i])(tg.tensor([1.0, 2.0]), tg.tensor([1.0]))


def test_create_graph_through_a_compiled_call_and_other_refusals():
    f = tg.compile(lambda x: (x * x).sum())
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.CompileError, match="create_graph=True reached <lambda>"):
        tg.grad(f(x), [x], create_graph=True)
    assert np.array_equal(tg.grad(f(x), [x])[0].data, [2.0, 4.0])  # first order is fine
    with pytest.raises(tg.CompileError, match="writes into a tensor's memory"):
        tg.compile(lambda x: x.add_(1))(tg.tensor([1.0]))
    g = tg.compile(lambda x: f(x) * 2)
    with pytest.raises(tg.CompileError, match="called while another was being captured"):
        g(x)
    with pytest.raises(tg.CompileError, match="must return Tensors"):
        tg.compile(lambda x: 3)(x)
    with pytest.raises(TypeError, match="compile: expects a function or an nn.Module"):
        tg.compile(3)


def test_a_wrong_input_gets_the_ops_own_error_not_a_replay_traceback():
    conv = tg.compile(nn.Conv1d(3, 4, 3))
    conv(tg.tensor(np.zeros((2, 3, 10))))
    with pytest.raises(ValueError, match=r"conv1d: x has 2 channels but w \(4, 3, 3\) "
                                         r"expects 3"):
        conv(tg.tensor(np.zeros((2, 2, 10))))


def test_compiled_module_shares_the_original():
    model = PRESETS["paper_cnn"].build()
    compiled = tg.compile(model)
    assert [n for n, _ in compiled.named_parameters()] == \
        [n for n, _ in model.named_parameters()]
    assert compiled.parameters()[0] is model.parameters()[0]
    assert compiled.state_dict().keys() == model.state_dict().keys()
    compiled.eval()
    assert not model.training and all(not m.training for m in model.modules())
    with pytest.raises(ValueError, match="has not been called yet"):
        print(compiled.code)
