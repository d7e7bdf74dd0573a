"""param_groups, optim.lr_scheduler and nn.utils's clipping against PyTorch; hyper-parameters
that must be refused."""
import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import optim
from tinygrad1d.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")


def twin_params():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    return ([tg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def set_grads(ours, theirs, step):
    for i, (p, t) in enumerate(zip(ours, theirs)):
        g = np.cos(np.arange(p.size).reshape(p.shape) + step + i)
        p.grad, t.grad = g.copy(), torch.tensor(g)


@pytest.mark.parametrize("name, kw", [("SGD", {"momentum": 0.9}), ("Adam", {}),
                                      ("AdamW", {"weight_decay": 0.1}), ("RMSprop", {}),
                                      ("Adam", {"amsgrad": True}),
                                      ("AdamW", {"amsgrad": True, "maximize": True}),
                                      ("SGD", {"momentum": 0.5, "maximize": True}),
                                      ("RMSprop", {"maximize": True, "centered": True}),
                                      ("Adagrad", {"lr_decay": 0.1, "maximize": True,
                                                   "eps": 1e-10}),  # torch's default eps
                                      ("Adagrad", {"initial_accumulator_value": 0.3,
                                                   "eps": 1e-10})])
def test_param_groups_with_their_own_lr_match_torch(name, kw):
    ours, theirs = twin_params()
    opt = getattr(optim, name)([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.05}],
                               lr=0.01, **kw)
    opt_t = getattr(torch.optim, name)([{"params": [theirs[0]]},
                                        {"params": [theirs[1]], "lr": 0.05}], lr=0.01, **kw)
    for step in range(5):
        set_grads(ours, theirs, step)
        opt.step()
        opt_t.step()
        if step == 2:  # written per group, honoured by the next step
            opt.param_groups[0]["lr"] = opt_t.param_groups[0]["lr"] = 0.002
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert [g["lr"] for g in opt.param_groups] == [0.002, 0.05]


def test_param_groups_survive_a_state_dict_round_trip():
    ours, _ = twin_params()
    opt = optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.05}], lr=0.01)
    opt.param_groups[1]["betas"] = (0.5, 0.9)
    again = optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]]}], lr=0.3)
    again.load_state_dict(opt.state_dict())
    assert again.param_groups[1]["lr"] == 0.05 and again.param_groups[1]["betas"] == (0.5, 0.9)
    assert again.lr == 0.01


SCHEDULES = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "LinearLR": (lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=6)),
    "OneCycleLR": (lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=20)),
    "OneCycleLR linear": (lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=12,
                                                    anneal_strategy="linear", pct_start=0.4)),
    "MultiStepLR": (lambda m, o: m.MultiStepLR(o, milestones=[9, 2, 5], gamma=0.3)),
    "LambdaLR": (lambda m, o: m.LambdaLR(o, lr_lambda=lambda n: 1 / (1 + n))),
    "LambdaLR per group": (lambda m, o: m.LambdaLR(o, [lambda n: 0.9 ** n, lambda n: n % 3])),
    "ConstantLR": (lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6)),
    "PolynomialLR": (lambda m, o: m.PolynomialLR(o, total_iters=11, power=2.0)),
    "CosineAnnealingWarmRestarts": (lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=4)),
    "CosineAnnealingWarmRestarts T_mult": (lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=2, T_mult=2, eta_min=0.01)),
    "SequentialLR": (lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.8)],
        milestones=[4])),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_give_torchs_learning_rates_and_momenta(name):
    ours, theirs = twin_params()
    opt = optim.Adam([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.04}], lr=0.1)
    opt_t = torch.optim.Adam([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.04}],
                             lr=0.1)
    sched, sched_t = SCHEDULES[name](lr_scheduler, opt), SCHEDULES[name](
        torch.optim.lr_scheduler, opt_t)
    for step in range(18 if "OneCycle" not in name else 12):
        np.testing.assert_allclose(sched.get_last_lr(), sched_t.get_last_lr(), rtol=1e-12,
                                   err_msg=f"{name} step {step}")
        assert opt.param_groups[0]["betas"][0] == pytest.approx(
            opt_t.param_groups[0]["betas"][0], rel=1e-12)
        set_grads(ours, theirs, step)
        opt.step()
        opt_t.step()
        sched.step()
        sched_t.step()
    for p, t in zip(ours, theirs):  # and the same weights after following the schedule
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "patience": 2, "factor": 0.5},
                                {"patience": 1, "cooldown": 2, "threshold": 0.1},
                                {"threshold_mode": "abs", "threshold": 0.05, "patience": 0,
                                 "min_lr": [0.05, 0.01]}])
def test_reduce_lr_on_plateau_follows_the_metric_as_torch(kw):
    ours, theirs = twin_params()
    opt = optim.SGD([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.2}], lr=0.1)
    opt_t = torch.optim.SGD([{"params": [theirs[0]]}, {"params": [theirs[1]], "lr": 0.2}],
                            lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    sched_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **kw)
    metric, lrs = 1.0, set()
    for step in range(60):  # falls, creeps up, jumps down at 30: both improvement rules bite
        metric = metric * (0.97 if step < 10 else 1.001) - (0.5 if step == 30 else 0.0)
        sched.step(metric)
        sched_t.step(metric)
        assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-12), step
        lrs.add(tuple(sched.get_last_lr()))
    assert len(lrs) > 1  # it did reduce


def test_new_schedules_refuse_bad_arguments():
    ours, _ = twin_params()
    opt = optim.SGD(ours, lr=0.1)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be in"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="LambdaLR: lr_lambda must be a function or a list of 1"):
        lr_scheduler.LambdaLR(opt, [lambda n: 1.0, lambda n: 2.0])
    with pytest.raises(ValueError, match="MultiStepLR: milestones must be an int >= 1"):
        lr_scheduler.MultiStepLR(opt, milestones=[3, 0])
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3, cycle_momentum=False)
    for _ in range(3):
        sched.step()  # torch too allows total_steps steps after the one at construction
    with pytest.raises(ValueError, match="OneCycleLR: stepped 4 times, past total_steps=3"):
        sched.step()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_and_value_as_torch(norm_type):
    ours, theirs = twin_params()
    set_grads(ours, theirs, 0)
    total = tg.nn.utils.clip_grad_norm_(ours, 0.5, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type=norm_type)
    assert total.item() == pytest.approx(total_t.item(), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    tg.nn.utils.clip_grad_value_(ours, 0.1)
    torch.nn.utils.clip_grad_value_(theirs, 0.1)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    from tinygrad1d.nn.utils import clip_grad_norm_  # also a module path, as torch's
    assert clip_grad_norm_ is tg.nn.utils.clip_grad_norm_


@pytest.mark.parametrize("make, words", [
    (lambda p: optim.SGD(p, lr=np.float32(-0.1)), "SGD: lr must be a finite number >= 0"),
    (lambda p: optim.Adam(p, lr=float("nan")), "Adam: lr must be a finite number >= 0"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Adam: eps must be"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}], lr=0.1), "SGD: lr must be"),
    (lambda p: optim.SGD([{"params": p, "momentun": 0.9}], lr=0.1), "unknown option"),
])
def test_bad_hyper_parameters_refuse(make, words):
    ours, _ = twin_params()
    with pytest.raises(ValueError, match=words):
        make(ours)
    opt = optim.SGD(ours, lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        opt.lr = float("inf")
    assert opt.lr == 0.1
