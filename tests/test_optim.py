"""optim: hand-computed updates, state round trips, schedules, bad input; then PyTorch parity.

The hand-computed cases write PyTorch's documented update rules out step by step (g is the
gradient of step t, p the parameter, lr the learning rate):

  SGD      g += wd*p; b = g (first step) else mu*b + (1-dampening)*g;
           g = g + mu*b (nesterov) or b;  p -= lr*g
  Adagrad  g += wd*p; s += g^2;  p -= lr * g / (sqrt(s) + eps)
  RMSprop  g += wd*p; v = alpha*v + (1-alpha)*g^2; centered: m = alpha*m + (1-alpha)*g,
           d = sqrt(v - m^2) + eps else sqrt(v) + eps; momentum: b = mu*b + g/d, p -= lr*b
           else p -= lr*g/d
  Adam     g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
           p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
  AdamW    p *= 1 - lr*wd, then Adam's update without the L2 term
"""
import math

import numpy as np
import pytest

import tinygrad1d.nn as nn
import tinygrad1d.optim as optim
from tinygrad1d import Tensor


def param(*values):
    return nn.Parameter(np.array(values, dtype=np.float64))


def run(opt, p, grads):
    """Set each gradient directly on .grad, step, and record the parameter after each step."""
    out = []
    for g in grads:
        p.grad = np.array(g, dtype=np.float64)
        opt.step()
        out.append(p.data.copy())
    return np.array(out)


def run_quadratic(opt, p, steps):
    """Minimise sum(p^2) / 2 through the autograd engine (so g = p), recording p each step."""
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (p * p).sum().__mul__(0.5).backward()
        opt.step()
        out.append(p.data.copy())
    return np.array(out)


# ================================================================== SGD by hand


def test_sgd_plain_on_a_quadratic():
    p = param(1.0, -2.0)
    # g = p, so p <- 0.9 p each step
    got = run_quadratic(optim.SGD([p], lr=0.1), p, 3)
    np.testing.assert_allclose(got, [[0.9, -1.8], [0.81, -1.62], [0.729, -1.458]], rtol=1e-14)


def test_sgd_momentum_buffer_starts_at_the_first_gradient():
    p = param(1.0)
    # t1: g=1,    b=1 (torch: the first gradient itself), p = 1 - 0.1*1 = 0.9
    # t2: g=0.9,  b=0.9*1 + 0.9 = 1.8,             p = 0.9 - 0.18 = 0.72
    # t3: g=0.72, b=0.9*1.8 + 0.72 = 2.34,         p = 0.72 - 0.234 = 0.486
    got = run_quadratic(optim.SGD([p], lr=0.1, momentum=0.9), p, 3)
    np.testing.assert_allclose(got[:, 0], [0.9, 0.72, 0.486], rtol=1e-14)


def test_sgd_dampening_is_not_applied_to_the_first_gradient():
    p = param(1.0)
    # t1: g=1,     b=1,                               p = 0.9
    # t2: g=0.9,   b=0.9*1 + 0.5*0.9 = 1.35,          p = 0.9 - 0.135 = 0.765
    # t3: g=0.765, b=0.9*1.35 + 0.5*0.765 = 1.5975,   p = 0.765 - 0.15975 = 0.60525
    got = run_quadratic(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, 3)
    np.testing.assert_allclose(got[:, 0], [0.9, 0.765, 0.60525], rtol=1e-14)


def test_sgd_nesterov():
    p = param(1.0)
    # t1: g=1,    b=1,                 step g + 0.9*b = 1.9,    p = 1 - 0.19 = 0.81
    # t2: g=0.81, b=0.9 + 0.81 = 1.71, step 0.81 + 1.539 = 2.349, p = 0.81 - 0.2349 = 0.5751
    got = run_quadratic(optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, 2)
    np.testing.assert_allclose(got[:, 0], [0.81, 0.5751], rtol=1e-14)


def test_sgd_weight_decay_is_added_to_the_gradient():
    p = param(2.0)
    # constant g = 1: t1: 1 + 0.1*2 = 1.2, p = 2 - 0.12 = 1.88
    #                 t2: 1 + 0.1*1.88 = 1.188, p = 1.88 - 0.1188 = 1.7612
    got = run(optim.SGD([p], lr=0.1, weight_decay=0.1), p, [[1.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [1.88, 1.7612], rtol=1e-14)
    q = param(2.0)
    # with momentum 0.5: t1 b = 1.2, p = 1.88; t2 g = 1.188, b = 0.6 + 1.188 = 1.788,
    # p = 1.88 - 0.1788 = 1.7012
    got = run(optim.SGD([q], lr=0.1, momentum=0.5, weight_decay=0.1), q, [[1.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [1.88, 1.7012], rtol=1e-14)


# ================================================================== AdaGrad and RMSProp by hand


def test_adagrad_accumulates_squared_gradients():
    p = param(1.0)
    # eps 0: t1 s = 9,  p = 1 - 0.1*3/3 = 0.9;  t2 s = 25, p = 0.9 - 0.1*4/5 = 0.82
    got = run(optim.AdaGrad([p], lr=0.1, eps=0.0), p, [[3.0], [4.0]])
    np.testing.assert_allclose(got[:, 0], [0.9, 0.82], rtol=1e-14)
    q = param(1.0)
    # eps 1 is added to sqrt(s): t1 p = 1 - 0.1*3/(3+1) = 0.925; t2 p = 0.925 - 0.1*4/6
    got = run(optim.AdaGrad([q], lr=0.1, eps=1.0), q, [[3.0], [4.0]])
    np.testing.assert_allclose(got[:, 0], [0.925, 0.925 - 0.4 / 6], rtol=1e-14)
    r = param(1.0)
    # weight decay 0.5: t1 g = 3 + 0.5 = 3.5, s = 12.25, p = 1 - 0.1 = 0.9
    got = run(optim.AdaGrad([r], lr=0.1, eps=0.0, weight_decay=0.5), r, [[3.0]])
    np.testing.assert_allclose(got[:, 0], [0.9], rtol=1e-14)


def test_adagrad_defaults():
    p = param(1.0)
    opt = optim.AdaGrad([p])
    assert opt.lr == 0.01 and opt.eps == 1e-8


def test_rmsprop_plain():
    p = param(1.0)
    # alpha 0.75, eps 0: t1 v = 0.25*4 = 1,       p = 1 - 0.1*2/1 = 0.8
    #                    t2 v = 0.75 + 0.25*1 = 1, p = 0.8 - 0.1*1/1 = 0.7
    got = run(optim.RMSProp([p], lr=0.1, alpha=0.75, eps=0.0), p, [[2.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [0.8, 0.7], rtol=1e-14)
    q = param(1.0)
    # eps 1 is added to sqrt(v): t1 p = 1 - 0.1*2/2 = 0.9; t2 p = 0.9 - 0.1*1/2 = 0.85
    got = run(optim.RMSProp([q], lr=0.1, alpha=0.75, eps=1.0), q, [[2.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [0.9, 0.85], rtol=1e-14)


def test_rmsprop_momentum():
    p = param(1.0)
    # t1 v = 1, b = 2/1 = 2,         p = 1 - 0.2 = 0.8
    # t2 v = 1, b = 0.5*2 + 1/1 = 2, p = 0.8 - 0.2 = 0.6
    got = run(optim.RMSProp([p], lr=0.1, alpha=0.75, eps=0.0, momentum=0.5), p,
              [[2.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [0.8, 0.6], rtol=1e-14)


def test_rmsprop_centered():
    p = param(1.0)
    # t1 v = 1, m = 0.25*2 = 0.5, d = sqrt(1 - 0.25) = sqrt(0.75), p = 1 - 0.2/sqrt(0.75)
    # t2 v = 0.75 + 0.25 = 1, m = 0.375 + 0.25 = 0.625, d = sqrt(1 - 0.390625),
    #    p -= 0.1 * 1 / sqrt(0.609375)
    got = run(optim.RMSProp([p], lr=0.1, alpha=0.75, eps=0.0, centered=True), p,
              [[2.0], [1.0]])
    p1 = 1 - 0.2 / math.sqrt(0.75)
    np.testing.assert_allclose(got[:, 0], [p1, p1 - 0.1 / math.sqrt(0.609375)], rtol=1e-14)


def test_rmsprop_weight_decay():
    p = param(2.0)
    # g = 1.5 + 0.25*2 = 2, v = 0.25*4 = 1, p = 2 - 0.1*2/1 = 1.8
    got = run(optim.RMSProp([p], lr=0.1, alpha=0.75, eps=0.0, weight_decay=0.25), p, [[1.5]])
    np.testing.assert_allclose(got[:, 0], [1.8], rtol=1e-14)


# ================================================================== Adam and AdamW by hand


def test_adam_bias_correction():
    p = param(1.0)
    # betas (0.5, 0.75), eps 0:
    # t1 m = 1, v = 1, m^ = 1/0.5 = 2, v^ = 1/0.25 = 4, p = 1 - 0.1*2/2 = 0.9
    # t2 m = 0.5 + 0.5 = 1, v = 0.75 + 0.25 = 1, m^ = 1/0.75 = 4/3, v^ = 1/0.4375 = 16/7,
    #    p = 0.9 - 0.1 * (4/3) / (4/sqrt(7)) = 0.9 - 0.1*sqrt(7)/3
    got = run(optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0), p, [[2.0], [1.0]])
    np.testing.assert_allclose(got[:, 0], [0.9, 0.9 - 0.1 * math.sqrt(7) / 3], rtol=1e-14)


def test_adam_eps_is_added_after_the_bias_correction():
    p = param(1.0)
    # t1 m^ = 2, sqrt(v^) = 2: p = 1 - 0.1 * 2 / (2 + 1) (not 0.1 * 1 / (1 + 1) * 2)
    got = run(optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=1.0), p, [[2.0]])
    np.testing.assert_allclose(got[:, 0], [1 - 0.2 / 3], rtol=1e-14)


def test_adam_weight_decay_is_l2_inside_the_moments():
    p = param(1.0)
    # constant g = 2, wd 0.5, betas (0.5, 0.75), eps 0
    # t1 g = 2.5: the first Adam step moves by lr exactly: p = 0.9
    # t2 g = 2 + 0.45 = 2.45, m = 0.5*1.25 + 0.5*2.45 = 1.85,
    #    v = 0.75*1.5625 + 0.25*6.0025 = 2.6725, p = 0.9 - 0.1*(1.85/0.75)/sqrt(2.6725/0.4375)
    got = run(optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0, weight_decay=0.5), p,
              [[2.0], [2.0]])
    p2 = 0.9 - 0.1 * (1.85 / 0.75) / math.sqrt(2.6725 / 0.4375)
    np.testing.assert_allclose(got[:, 0], [0.9, p2], rtol=1e-14)


def test_adamw_decay_is_decoupled():
    p = param(1.0)
    # constant g = 2, wd 0.5, lr 0.1, betas (0.5, 0.75), eps 0
    # t1 p = 1 * (1 - 0.05) = 0.95, then the first step moves by lr: 0.85
    # t2 p = 0.85 * 0.95 = 0.8075; m = 0.5 + 1 = 1.5 (m1 = 1); v = 0.75 + 1 = 1.75;
    #    m^ = 1.5/0.75 = 2, sqrt(v^) = sqrt(1.75/0.4375) = 2: p = 0.8075 - 0.1 = 0.7075
    got = run(optim.AdamW([p], lr=0.1, betas=(0.5, 0.75), eps=0.0, weight_decay=0.5), p,
              [[2.0], [2.0]])
    np.testing.assert_allclose(got[:, 0], [0.85, 0.7075], rtol=1e-14)


def test_adam_and_adamw_defaults():
    p = param(1.0)
    adam, adamw = optim.Adam([p]), optim.AdamW([p])
    assert adam.lr == 1e-3 and tuple(adam.betas) == (0.9, 0.999) and adam.eps == 1e-8
    assert adam.weight_decay == 0.0
    assert adamw.weight_decay == 0.01  # torch.optim.AdamW's default


# ================================================================== behaviour shared by all

OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_dampening": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.05),
    "sgd_nesterov_wd": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True,
                                            weight_decay=0.1),
    "adagrad": lambda ps: optim.AdaGrad(ps, lr=0.1, eps=1e-8),
    "adagrad_wd": lambda ps: optim.AdaGrad(ps, lr=0.1, eps=1e-6, weight_decay=0.2),
    "rmsprop": lambda ps: optim.RMSProp(ps, lr=0.01),
    "rmsprop_momentum": lambda ps: optim.RMSProp(ps, lr=0.01, alpha=0.9, momentum=0.9),
    "rmsprop_centered": lambda ps: optim.RMSProp(ps, lr=0.01, centered=True),
    "rmsprop_weight_decay": lambda ps: optim.RMSProp(ps, lr=0.01, weight_decay=0.1),
    "rmsprop_all": lambda ps: optim.RMSProp(ps, lr=0.02, alpha=0.8, eps=1e-6, momentum=0.5,
                                            centered=True, weight_decay=0.05),
    "adam": lambda ps: optim.Adam(ps, lr=0.01),
    "adam_wd": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adam_betas": lambda ps: optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-6),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
    "adamw_wd": lambda ps: optim.AdamW(ps, lr=0.05, betas=(0.85, 0.95), weight_decay=0.3),
}

SHAPES = [(3, 4), (5,), ()]


def random_problem(seed, steps, skip=True):
    """Initial values and a sequence of gradients; with skip, some gradients are None:
    the second parameter has none for its first three steps, the first none at step 4."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = []
    for t in range(steps):
        gs = [rng.standard_normal(s) for s in SHAPES]
        if skip and t < 3:
            gs[1] = None
        if skip and t == 4:
            gs[0] = None
        grads.append(gs)
    return init, grads


def ours_steps(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else g.copy()
        opt.step()


def ours_run(make, init, grads):
    params = [nn.Parameter(np.array(a, dtype=np.float64)) for a in init]
    opt = make(params)
    ours_steps(opt, params, grads)
    return params, opt


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameters_without_grad_are_left_alone_and_get_state_lazily(name):
    init, grads = random_problem(0, 3, skip=True)  # the second parameter never has a grad
    params, opt = ours_run(OPTIMIZERS[name], init, grads)
    np.testing.assert_array_equal(params[1].data, init[1])
    assert not any(k.startswith("state.1.") for k in opt.state_dict())
    assert any(k.startswith("state.0.") for k in opt.state_dict())
    assert not np.array_equal(params[0].data, init[0])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_grad_clears_the_gradients(name):
    params = [nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))]
    opt = OPTIMIZERS[name](params)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.step()  # nothing to do
    for p in params:
        np.testing.assert_array_equal(p.data, np.ones(p.shape))


def test_step_updates_a_model_in_place():
    lin = nn.Linear(2, 1)
    w = lin.weight
    opt = optim.SGD(lin.parameters(), lr=0.5)
    before = w.data.copy()
    lin(Tensor(np.array([[1.0, 2.0]], dtype=w.dtype))).sum().backward()
    opt.step()
    assert lin.weight is w
    np.testing.assert_allclose(w.data, before - 0.5 * np.array([[1.0, 2.0]]), rtol=1e-6)


# ================================================================== state_dict


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trip_through_npz(name, tmp_path):
    make = OPTIMIZERS[name]
    init, grads = random_problem(1, 8, skip=True)
    params, opt = ours_run(make, init, grads[:4])
    sd = opt.state_dict()
    assert sd and all(isinstance(v, np.ndarray) for v in sd.values())
    np.savez(tmp_path / "opt.npz", **sd)
    snapshot = [p.data.copy() for p in params]
    ours_steps(opt, params, grads[4:])

    fresh = [nn.Parameter(s.copy()) for s in snapshot]
    opt2 = make(fresh)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        opt2.load_state_dict({k: f[k] for k in f.files})
    ours_steps(opt2, fresh, grads[4:])
    for a, b in zip(params, fresh):
        np.testing.assert_array_equal(a.data, b.data)

    if name != "sgd":  # stateful: starting over without the state gives other values
        cold = [nn.Parameter(s.copy()) for s in snapshot]
        ours_steps(make(cold), cold, grads[4:])
        assert not all(np.array_equal(a.data, c.data) for a, c in zip(params, cold))


def test_state_dict_is_a_copy_and_restores_hyper_parameters():
    p = param(1.0, 2.0)
    opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.75))
    run(opt, p, [[1.0, 1.0]])
    sd = opt.state_dict()
    for k, v in sd.items():
        if k.startswith("state.") and v.ndim:
            v[...] = 123.0  # must not reach the optimizer
    opt.lr = 0.02
    sd2 = opt.state_dict()
    assert not any(np.any(v == 123.0) for k, v in sd2.items() if k.startswith("state."))
    q = param(1.0, 2.0)
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(sd2)
    assert opt2.lr == 0.02 and tuple(opt2.betas) == (0.5, 0.75)
    # loading copies: changing the dict afterwards leaves the optimizer alone
    before = opt2.state_dict()
    for k, v in sd2.items():
        if k.startswith("state.") and v.ndim:
            v[...] = -5.0
    for k, v in opt2.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_shape_mismatch_names_the_key():
    p = param(1.0, 2.0, 3.0)
    opt = optim.Adam([p])
    run(opt, p, [[1.0, 1.0, 1.0]])
    q = param(1.0, 2.0, 3.0, 4.0)
    with pytest.raises(ValueError) as e:
        optim.Adam([q]).load_state_dict(opt.state_dict())
    msg = str(e.value)
    assert "state.0." in msg and "(3,)" in msg and "(4,)" in msg


def test_load_state_dict_rejects_foreign_or_oversized_state():
    ps = [param(1.0), param(2.0)]
    adam = optim.Adam(ps)
    ours_steps(adam, ps, [[np.ones(1), np.ones(1)]])
    with pytest.raises(ValueError):
        optim.Adam([param(1.0)]).load_state_dict(adam.state_dict())  # two params into one
    with pytest.raises(ValueError):
        optim.SGD(ps, lr=0.1).load_state_dict(adam.state_dict())  # Adam's keys into SGD


# ================================================================== schedules


def sched_lrs(opt, sched, steps):
    lrs = [opt.lr]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.lr)
    return lrs


def test_step_lr_by_hand():
    opt = optim.SGD([param(0.0)], lr=1.0)
    lrs = sched_lrs(opt, optim.StepLR(opt, step_size=3, gamma=0.5), 9)
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125],
                               rtol=1e-15)


def test_step_lr_changes_the_update():
    p = param(0.0)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    got = []
    for _ in range(3):  # constant g = 1: p -= 1, then 0.5, then 0.25
        p.grad = np.ones(1)
        opt.step()
        sched.step()
        got.append(p.data[0])
    np.testing.assert_allclose(got, [-1.0, -1.5, -1.75], rtol=1e-15)


def test_cosine_annealing_by_hand():
    opt = optim.SGD([param(0.0)], lr=1.0)
    lrs = sched_lrs(opt, optim.CosineAnnealingLR(opt, T_max=4), 4)
    c = math.sqrt(2) / 2  # cos(pi/4)
    np.testing.assert_allclose(lrs, [1.0, (1 + c) / 2, 0.5, (1 - c) / 2, 0.0], rtol=1e-14,
                               atol=1e-16)
    opt = optim.SGD([param(0.0)], lr=1.0)
    lrs = sched_lrs(opt, optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), 4)
    np.testing.assert_allclose(lrs, [1.0, 0.1 + 0.9 * (1 + c) / 2, 0.55,
                                     0.1 + 0.9 * (1 - c) / 2, 0.1], rtol=1e-14)


# ================================================================== bad input

CLASSES = [optim.SGD, optim.AdaGrad, optim.RMSProp, optim.Adam, optim.AdamW]


@pytest.mark.parametrize("cls", CLASSES)
def test_empty_parameter_list(cls):
    with pytest.raises(ValueError, match=cls.__name__):
        cls([], lr=0.1)
    with pytest.raises(ValueError):
        cls(iter([]), lr=0.1)


@pytest.mark.parametrize("cls", CLASSES)
def test_negative_lr(cls):
    with pytest.raises(ValueError, match="lr"):
        cls([param(1.0)], lr=-0.1)


@pytest.mark.parametrize("cls, kwargs", [
    (optim.SGD, {"lr": 0.1, "momentum": -0.9}),
    (optim.SGD, {"lr": 0.1, "weight_decay": -1.0}),
    (optim.AdaGrad, {"eps": -1e-8}),
    (optim.RMSProp, {"alpha": -0.5}),
    (optim.RMSProp, {"momentum": -0.1}),
    (optim.Adam, {"eps": -1e-8}),
    (optim.Adam, {"weight_decay": -0.1}),
    (optim.AdamW, {"weight_decay": -0.1}),
])
def test_negative_hyper_parameters(cls, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs)) if len(kwargs) == 1 else
                       list(kwargs)[-1]):
        cls([param(1.0)], **kwargs)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.999), (0.9, 1.5)])
def test_betas_out_of_range(cls, betas):
    with pytest.raises(ValueError, match="betas"):
        cls([param(1.0)], betas=betas)


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([param(1.0)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([param(1.0)], lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)


@pytest.mark.parametrize("cls", CLASSES)
def test_non_tensor_parameter(cls):
    with pytest.raises(TypeError, match=cls.__name__):
        cls([param(1.0), np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError):
        cls([[1.0, 2.0]], lr=0.1)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_single_tensor_instead_of_a_list_is_rejected(cls):
    # torch: "params argument given to the optimizer should be an iterable of Tensors or dicts"
    with pytest.raises(TypeError):
        cls(param(1.0, 2.0, 3.0), lr=0.1)


@pytest.mark.parametrize("cls", CLASSES)
def test_a_non_leaf_tensor_is_rejected(cls):
    # torch: "can't optimize a non-leaf Tensor"; stepping it would change nothing that matters
    with pytest.raises((ValueError, TypeError)):
        cls([param(1.0, 2.0) * 2.0], lr=0.1)


# ================================================================== PyTorch parity


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")


TORCH = {
    "sgd": lambda t, ps: t.optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_dampening": lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3),
    "sgd_nesterov": lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda t, ps: t.optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.05),
    "sgd_nesterov_wd": lambda t, ps: t.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True,
                                                 weight_decay=0.1),
    "adagrad": lambda t, ps: t.optim.Adagrad(ps, lr=0.1, eps=1e-8),
    "adagrad_wd": lambda t, ps: t.optim.Adagrad(ps, lr=0.1, eps=1e-6, weight_decay=0.2),
    "rmsprop": lambda t, ps: t.optim.RMSprop(ps, lr=0.01),
    "rmsprop_momentum": lambda t, ps: t.optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.9),
    "rmsprop_centered": lambda t, ps: t.optim.RMSprop(ps, lr=0.01, centered=True),
    "rmsprop_weight_decay": lambda t, ps: t.optim.RMSprop(ps, lr=0.01, weight_decay=0.1),
    "rmsprop_all": lambda t, ps: t.optim.RMSprop(ps, lr=0.02, alpha=0.8, eps=1e-6,
                                                 momentum=0.5, centered=True,
                                                 weight_decay=0.05),
    "adam": lambda t, ps: t.optim.Adam(ps, lr=0.01),
    "adam_wd": lambda t, ps: t.optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adam_betas": lambda t, ps: t.optim.Adam(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-6),
    "adamw": lambda t, ps: t.optim.AdamW(ps, lr=0.01),  # default weight_decay 0.01 in both
    "adamw_wd": lambda t, ps: t.optim.AdamW(ps, lr=0.05, betas=(0.85, 0.95),
                                            weight_decay=0.3),
}


def test_every_case_has_a_torch_twin():
    assert list(TORCH) == list(OPTIMIZERS)


def torch_run(torch, make, init, grads):
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    opt = make(torch, params)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("skip", [False, True], ids=["all_grads", "some_none"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_torch_parity(torch, name, skip):
    init, grads = random_problem(2, 10, skip=skip)
    ours, _ = ours_run(OPTIMIZERS[name], init, grads)
    theirs = torch_run(torch, TORCH[name], init, grads)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t, rtol=1e-10, atol=0)


def test_torch_parity_training_a_model(torch):
    """Gradients from a real loss rather than set by hand: Adam on a small regression."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    ours = nn.Linear(3, 1)
    ours.weight.data = ours.weight.data.astype(np.float64)
    ours.bias.data = ours.bias.data.astype(np.float64)
    theirs = torch.nn.Linear(3, 1, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    o_opt = optim.Adam(ours.parameters(), lr=0.05, weight_decay=0.01)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=0.05, weight_decay=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(15):
        o_opt.zero_grad()
        ((ours(Tensor(x)) - Tensor(y)) ** 2).mean().backward()
        o_opt.step()
        t_opt.zero_grad()
        ((theirs(xt) - yt) ** 2).mean().backward()
        t_opt.step()
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.data, theirs.bias.detach().numpy(), rtol=1e-10)


def torch_sched_lrs(torch, make_sched, lr, steps):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize("step_size, gamma", [(1, 0.9), (3, 0.5), (4, 0.1)])
def test_torch_step_lr(torch, step_size, gamma):
    opt = optim.SGD([param(0.0)], lr=0.3)
    ours = sched_lrs(opt, optim.StepLR(opt, step_size=step_size, gamma=gamma), 12)
    theirs = torch_sched_lrs(
        torch, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma),
        0.3, 12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("t_max, eta_min", [(4, 0.0), (10, 0.01), (7, 0.2)])
def test_torch_cosine_annealing_within_t_max(torch, t_max, eta_min):
    opt = optim.SGD([param(0.0)], lr=0.5)
    ours = sched_lrs(opt, optim.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), t_max)
    theirs = torch_sched_lrs(
        torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=t_max,
                                                                    eta_min=eta_min),
        0.5, t_max)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_torch_cosine_annealing_past_t_max(torch):
    """torch's documented closed form, eta_min + (base - eta_min)(1 + cos(pi T_cur / T_max))/2,
    keeps following the cosine after T_max (back up to the base lr at 2 T_max)."""
    opt = optim.SGD([param(0.0)], lr=1.0)
    ours = sched_lrs(opt, optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), 12)
    theirs = torch_sched_lrs(
        torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.1),
        1.0, 12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
