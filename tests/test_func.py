"""tinygrad1d.func, hooks and anomaly mode against PyTorch's torch.func / torch.autograd, on
expressions drawn by hypothesis; and the testing kit's check_grads, fast_mode and strategies."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import Tensor, func, viz
from tinygrad1d.testing import arrays, check_grads, conv1d_configs, tensors

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")

# Expressions written once against a namespace: (tinygrad1d's ops, torch's ops) side by side.
EXPRESSIONS = {
    "tanh-matmul": lambda m, x, w: (m.tanh(x @ w) * x[:3]).sum() + (x * x).sum(),
    "sigmoid-exp": lambda m, x, w: (m.sigmoid(x[:3]) * m.exp(x @ w / 4)).sum(),
    "softmax": lambda m, x, w: (m.softmax(x @ w, 0) * m.tanh(x[:3])).sum(),
    "log-cosh": lambda m, x, w: m.log(1 + (x @ w) ** 2).sum() * 0.5,
}


class Ours:
    tanh, sigmoid, exp, log = staticmethod(Tensor.tanh), staticmethod(Tensor.sigmoid), \
        staticmethod(Tensor.exp), staticmethod(Tensor.log)

    @staticmethod
    def softmax(x, axis):
        return F.softmax(x, axis)


class Theirs:
    tanh, sigmoid, exp, log = torch.tanh, torch.sigmoid, torch.exp, torch.log

    @staticmethod
    def softmax(x, axis):
        return torch.softmax(x, axis)


def pair(name, w):
    """f for us and for torch (scalar), of x (4,), with the weight w (4, 3) fixed."""
    e = EXPRESSIONS[name]
    return (lambda x: e(Ours, x, Tensor(w))), (lambda x: e(Theirs, x, torch.tensor(w)))


cases = st.tuples(st.sampled_from(sorted(EXPRESSIONS)), arrays((4,)), arrays((4, 3)),
                  arrays((4,)))


def close(ours, theirs):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


@given(cases)
def test_grad_vjp_jvp_match_torch_func(case):
    name, x, w, t = case
    f, ft = pair(name, w)
    xt = torch.tensor(x)
    close(func.grad(f)(x), torch.func.grad(ft)(xt))
    value, g = func.value_and_grad(f)(x)
    close(value, ft(xt))
    close(g, torch.func.grad(ft)(xt))
    _, vjp_fn = func.vjp(f, x)
    _, vjp_t = torch.func.vjp(ft, xt)
    close(vjp_fn(Tensor(np.array(1.5)))[0], vjp_t(torch.tensor(1.5, dtype=torch.float64))[0])
    out, tangent = func.jvp(f, (x,), (t,))
    out_t, tangent_t = torch.func.jvp(ft, (xt,), (torch.tensor(t),))
    close(out, out_t)
    close(tangent, tangent_t)


@given(cases)
def test_jacobian_hessian_hvp_match_torch(case):
    name, x, w, v = case
    f, ft = pair(name, w)
    xt = torch.tensor(x)
    inner = lambda y: (y @ Tensor(w)).tanh()  # noqa: E731 - a vector-valued function
    close(func.jacobian(inner, x),
          torch.func.jacrev(lambda y: torch.tanh(y @ torch.tensor(w)))(xt))
    hess = func.hessian(f, x)
    assert hess.shape == (4, 4)
    close(hess, torch.func.hessian(ft)(xt))
    close(func.jacobian(func.grad(f), x), torch.func.hessian(ft)(xt))  # transforms compose
    value, hv = func.hvp(f, x, v)
    value_t, hv_t = torch.autograd.functional.hvp(ft, xt, torch.tensor(v))
    close(value, value_t)
    close(hv, hv_t)


def test_transforms_take_several_inputs_and_argnums():
    a, b = np.array([0.3, -1.2]), np.array([2.0, 0.5])
    f = lambda x, y: (x * y.exp()).sum()  # noqa: E731
    ga, gb = func.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga.data, np.exp(b))
    np.testing.assert_allclose(gb.data, a * np.exp(b))
    ja, jb = func.jacobian(lambda x, y: x * y, a, b)
    np.testing.assert_allclose(ja.data, np.diag(b))
    np.testing.assert_allclose(jb.data, np.diag(a))
    (haa, hab), (hba, hbb) = func.hessian(f, a, b)
    np.testing.assert_allclose(hab.data, np.diag(np.exp(b)))
    np.testing.assert_allclose(hbb.data, np.diag(a * np.exp(b)))


def test_transforms_refuse_bad_arguments_naming_the_transform():
    with pytest.raises(ValueError, match="grad: f must return a one-element Tensor"):
        func.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match=r"jvp: tangents of shape \(2,\) for a tensor of "
                                         r"shape \(3,\)"):
        func.jvp(lambda x: x * 2, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="grad: argnums 3 out of range for 1 arguments"):
        func.grad(lambda x: x.sum(), argnums=3)(np.ones(2))
    with pytest.raises(TypeError, match="vjp: f must return a Tensor"):
        func.vjp(lambda x: 3.0, np.ones(2))


def test_jvp_costs_about_two_to_three_reverse_passes_on_a_conv_net():
    """The double-vjp construction records a backward of the backward: its result matches a
    finite difference on a conv net, which is what docs/testing.md times against vjp."""
    tg.manual_seed(0)
    net = tg.nn.Sequential(tg.nn.Conv1d(1, 4, 3, padding=1), tg.nn.ReLU(), tg.nn.Flatten(),
                           tg.nn.Linear(40, 3))
    x = np.random.default_rng(0).standard_normal((2, 1, 10))
    t = np.random.default_rng(1).standard_normal(x.shape)
    f = lambda z: net(z).tanh().sum()  # noqa: E731
    _, d = func.jvp(f, (x,), (t,))
    eps = 1e-6
    with tg.no_grad():
        numeric = (f(Tensor(x + eps * t)).item() - f(Tensor(x - eps * t)).item()) / (2 * eps)
    assert abs(d.item() - numeric) < 1e-5 * max(1.0, abs(numeric))


# ------------------------------------------------------------------ hooks


@given(cases)
def test_register_hook_sees_and_replaces_gradients_as_torch(case):
    name, x, w, _ = case
    f, ft = pair(name, w)
    ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    seen, seen_t = [], []
    mid, mid_t = ours * 2, theirs * 2
    mid.register_hook(lambda g: seen.append(g.data.copy()))
    mid_t.register_hook(lambda g: seen_t.append(g.numpy().copy()))
    ours.register_hook(lambda g: g * 3)  # replaces the leaf's gradient
    theirs.register_hook(lambda g: g * 3)
    f(mid).backward()
    ft(mid_t).backward()
    np.testing.assert_allclose(seen[0], seen_t[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_hook_handles_remove_and_bad_hooks_refuse():
    x = Tensor(np.ones(2), requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [10, 10])
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 1])
    x.register_hook(lambda g: Tensor(np.ones(5)))
    x.grad = None
    with pytest.raises(tg.BackwardError, match=r"register_hook: .* returned \(5,\) for a "
                                               r"gradient of shape \(2,\)"):
        (x * 1).sum().backward()
    assert x.grad is None  # a backward that fails changes nothing
    with pytest.raises(tg.BackwardError, match="does not require grad"):
        Tensor(np.ones(2)).register_hook(print)


def test_forward_hooks_read_activations():
    net = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.ReLU(), tg.nn.Linear(4, 2))
    got = []
    handle = net[1].register_forward_hook(lambda m, inputs, out: got.append(out.shape))
    net(Tensor(np.ones((5, 3))))
    assert got == [(5, 4)]
    handle.remove()
    net(Tensor(np.ones((5, 3))))
    assert got == [(5, 4)]
    net[2].register_forward_hook(lambda m, inputs, out: out * 0)
    assert (net(Tensor(np.ones((1, 3)))).data == 0).all()  # a returned value replaces it


# ------------------------------------------------------------------ anomaly mode


def test_detect_anomaly_names_the_op_the_input_and_the_line():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with tg.detect_anomaly():
        y = (x.sqrt() * 3).sum()  # d sqrt at 0 is infinite
        with pytest.raises(tg.AnomalyError) as info:
            y.backward()
    err = info.value
    assert isinstance(err, tg.BackwardError)
    assert "pow.backward produced infinity" in str(err) and "input 0" in str(err)
    assert "test_func.py" in err.where and "x.sqrt()" in err.where
    assert x.grad is None  # nothing changed
    dot = viz.to_dot(y, mark=err.node)
    marked = [line for line in dot.splitlines() if 'color="#c0161b"' in line]
    assert len(marked) == 1 and "pow" in marked[0]


def test_without_anomaly_mode_nothing_is_recorded_or_checked():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    y = x.sqrt().sum()
    assert "where" not in vars(y._ctx)
    with np.errstate(divide="ignore"):
        y.backward()  # an infinite gradient, as numpy computes it, and no error
    assert np.isinf(x.grad[0])


# ------------------------------------------------------------------ the testing kit


def test_check_grads_passes_each_order_and_mode():
    f = lambda x, w: ((x @ w).tanh() * x[:, :2]).sum(axis=1)  # noqa: E731
    rng = np.random.default_rng(0)
    assert check_grads(f, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))], order=3)


def test_check_grads_names_order_mode_input_and_element():
    class WrongSecond(tg.Function):  # right first derivative, wrong second (numpy backward)
        def forward(ctx, x):
            return np.sin(x)

        def backward(ctx, g):
            return g * Tensor._make(np.cos(ctx.inputs[0].data), False, None)

    x = [np.array([0.3, 1.1])]
    assert check_grads(lambda t: WrongSecond.apply(t), x, order=1)
    with pytest.raises(tg.GradcheckError, match=r"order 2, mode rev: .*input 0 .*element"):
        check_grads(lambda t: WrongSecond.apply(t), x, order=2, modes=("rev",))
    with pytest.raises(tg.GradcheckError, match=r"order 2, mode fwd: input 0 .*element"):
        check_grads(lambda t: WrongSecond.apply(t), x, order=2, modes=("fwd",))
    with pytest.raises(ValueError, match="modes must be"):
        check_grads(lambda t: t, x, modes=("sideways",))


def test_fast_mode_checks_one_direction_and_still_fails():
    big = np.random.default_rng(0).standard_normal((30, 40))
    assert tg.gradcheck(lambda t: (t.tanh() * t).sum(axis=0), [big], fast_mode=True)

    class Off(tg.Function):
        def forward(ctx, x):
            return x * x

        def backward(ctx, g):
            return g * ctx.inputs[0] * 2.1  # 5% off

    with pytest.raises(tg.GradcheckError, match=r"fast_mode.*input 0 \(shape \(30, 40\)\)"):
        tg.gradcheck(lambda t: Off.apply(t), [big], fast_mode=True)


@given(conv1d_configs())
def test_conv1d_configs_are_valid_calls(cfg):
    x = np.ones((cfg["n"], cfg["c_in"], cfg["length"]))
    w = np.ones((cfg["c_out"], cfg["c_in"] // cfg["groups"], cfg["kernel_size"]))
    out = F.conv1d(x, w, stride=cfg["stride"], padding=cfg["padding"],
                   dilation=cfg["dilation"], groups=cfg["groups"])
    assert out.shape[:2] == (cfg["n"], cfg["c_out"]) and out.shape[2] >= 1


@given(tensors((2, 3)))
def test_tensors_strategy_draws_leaves_that_require_grad(t):
    assert t.requires_grad and t.shape == (2, 3) and np.isfinite(t.data).all()
