"""Optimizers.

Updates are plain numpy on each parameter's .data, in place, following PyTorch's documented
algorithms for the same arguments (torch.optim.SGD, Adagrad, RMSprop, Adam, AdamW). They are
not recorded: an optimizer step is not part of any graph.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = ["Optimizer", "SGD", "AdaGrad", "RMSProp", "Adam", "AdamW"]


class Optimizer:
    """Base class: the parameter groups, their per-parameter state and hyper-parameters.

    `params` is an iterable of Tensors, or of dicts {"params": [...], "lr": ...} whose
    entries override the optimizer's arguments for that group, as PyTorch's param_groups.
    `opt.param_groups[i]["lr"]` reads and writes one group; `opt.lr` (and each other
    hyper-parameter) reads the first group and writes every group. Subclasses list their
    hyper-parameter names in `hyper` and their per-parameter state arrays in `slots`, and
    implement `update(p, grad, state, h)` with `h` the parameter's group. State is created at
    a parameter's first update, as torch does; state["step"] counts that parameter's updates."""

    hyper: tuple[str, ...] = ("lr",)
    slots: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], **defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):  # list(t) would silently split it into rows
            raise TypeError(f"{name}: params must be an iterable of Tensors, got one Tensor; "
                            "use [t] or model.parameters()")
        given = list(params)
        if not given:
            raise ValueError(f"{name}: got an empty parameter list")
        groups = given if isinstance(given[0], dict) else [{"params": given}]
        self.param_groups: list[dict] = []
        for g in groups:
            if not isinstance(g, dict) or "params" not in g:
                raise TypeError(f"{name}: params must be Tensors or dicts with 'params'")
            unknown = set(g) - set(self.hyper) - {"params", "initial_lr"}
            if unknown:
                raise ValueError(f"{name}: unknown option(s) {sorted(unknown)} in a param group")
            group = {**defaults, **g, "params": list(g["params"])}
            for k in self.hyper:
                _check_hyper(name, k, group[k])
            self.param_groups.append(group)
        self.params = [p for g in self.param_groups for p in g["params"]]
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf; "
                                 "an optimizer can only update leaves")
        self.state: list[dict] = [{} for _ in self.params]

    def __getattr__(self, k):  # opt.lr, opt.betas, ...: the first group's value
        hyper = type(self).hyper
        if k in hyper and "param_groups" in self.__dict__:
            return self.__dict__["param_groups"][0][k]
        raise AttributeError(f"{type(self).__name__} has no attribute {k!r}")

    def __setattr__(self, k, v):
        if k in type(self).hyper and "param_groups" in self.__dict__:
            _check_hyper(type(self).__name__, k, v)
            for g in self.param_groups:  # opt.lr = x sets every group, as schedules need
                g[k] = v
        else:
            super().__setattr__(k, v)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, with its group's hyper-parameters."""
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[i]
                i += 1
                if p.grad is None:
                    continue
                if not state:
                    state.update((s, np.zeros_like(p.data)) for s in self.slots)
                    state["step"] = 0
                state["step"] += 1
                g = -p.grad if group.get("maximize") else p.grad  # ascend instead, as torch
                self.update(p.data, g, state, group)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict,
               h: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat name -> array dict (hyper-parameters per group and state), storable in an
        .npz. One group keeps the plain names ("lr"); several are "group.1.lr", ..."""
        out = {}
        for j, g in enumerate(self.param_groups):
            pre = "" if j == 0 else f"group.{j}."
            out.update((pre + k, np.asarray(g[k])) for k in self.hyper)
        for i, state in enumerate(self.state):
            out.update((f"state.{i}.{k}", np.array(v, copy=True)) for k, v in state.items())
        return out

    def load_state_dict(self, d: dict) -> None:
        name = type(self).__name__
        valid = {("" if j == 0 else f"group.{j}.") + k
                 for j in range(len(self.param_groups)) for k in self.hyper}
        for k in d:
            if k.startswith("state."):
                i, slot = k.split(".")[1:]
                if int(i) >= len(self.params):
                    raise ValueError(f"{name}.load_state_dict: {k} but only "
                                     f"{len(self.params)} parameters")
                if slot != "step" and np.shape(d[k]) != self.params[int(i)].shape:
                    raise ValueError(f"{name}.load_state_dict: {k} has shape {np.shape(d[k])}, "
                                     f"parameter {i} has {self.params[int(i)].shape}")
            elif k not in valid:
                raise ValueError(f"{name}.load_state_dict: unexpected key {k!r}")
        for j, g in enumerate(self.param_groups):
            pre = "" if j == 0 else f"group.{j}."
            for k in self.hyper:
                if pre + k in d:
                    v = np.asarray(d[pre + k])
                    g[k] = tuple(v.tolist()) if v.ndim else v.item()
        self.state = [{} for _ in self.params]
        for k, v in d.items():
            if k.startswith("state."):
                i, slot = k.split(".")[1:]
                p = self.params[int(i)]
                self.state[int(i)][slot] = int(v) if slot == "step" else np.array(v, p.dtype)


def _check_hyper(opt: str, k: str, v) -> None:
    """A hyper-parameter is a finite number >= 0 (flags and tuples are checked elsewhere)."""
    if isinstance(v, (bool, tuple, list)) or v is None:
        return
    if not isinstance(v, (int, float, np.number)) or not np.isfinite(v) or v < 0:
        raise ValueError(f"{opt}: {k} must be a finite number >= 0, got {v!r}")


class SGD(Optimizer):
    """SGD with optional momentum (PyTorch's form: buf = mu*buf + g), Nesterov momentum and
    L2 weight decay."""

    hyper = ("lr", "momentum", "weight_decay", "dampening", "nesterov", "maximize")
    slots = ("buf",)

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0, maximize: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         dampening=dampening, nesterov=nesterov, maximize=maximize)

    def update(self, p, g, state, h):
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        if h["momentum"]:
            buf = state["buf"]
            if state["step"] == 1:  # torch starts the buffer at the first gradient, undamped
                buf[...] = g
            else:
                buf *= h["momentum"]
                buf += (1 - h["dampening"]) * g
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        p -= h["lr"] * g


class AdaGrad(Optimizer):
    """p -= lr_t * g / (sqrt(sum of g^2 so far) + eps), lr_t = lr / (1 + (t - 1) lr_decay),
    the sum starting at initial_accumulator_value (torch.optim.Adagrad)."""

    hyper = ("lr", "eps", "weight_decay", "lr_decay", "initial_accumulator_value", "maximize")
    slots = ("sum",)

    # eps third and 1e-8, as the project's API names it (torch: eps=1e-10, after lr_decay etc.)
    def __init__(self, params, lr: float = 0.01, eps: float = 1e-8, weight_decay: float = 0.0,
                 lr_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 maximize: bool = False):
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay, lr_decay=lr_decay,
                         initial_accumulator_value=initial_accumulator_value, maximize=maximize)

    def update(self, p, g, state, h):
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        if state["step"] == 1:
            state["sum"] += h["initial_accumulator_value"]
        state["sum"] += g * g
        lr = h["lr"] / (1 + (state["step"] - 1) * h["lr_decay"])
        p -= lr * g / (np.sqrt(state["sum"]) + h["eps"])


class RMSProp(Optimizer):
    """v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), with torch's optional
    momentum and centered variants."""

    hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
    slots = ("square_avg", "grad_avg", "buf")

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, maximize=maximize)

    def update(self, p, g, state, h):
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        v = state["square_avg"]
        v *= h["alpha"]
        v += (1 - h["alpha"]) * g * g
        if h["centered"]:
            m = state["grad_avg"]
            m *= h["alpha"]
            m += (1 - h["alpha"]) * g
            denom = np.sqrt(v - m * m) + h["eps"]
        else:
            denom = np.sqrt(v) + h["eps"]
        if h["momentum"]:
            buf = state["buf"]
            buf *= h["momentum"]
            buf += g / denom
            p -= h["lr"] * buf
        else:
            p -= h["lr"] * g / denom


class Adam(Optimizer):
    """Adam with bias correction; weight_decay is L2 added to the gradient (torch.optim.Adam);
    amsgrad divides by the largest second moment seen so far instead of the current one."""

    hyper = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")
    slots = ("m", "v")
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False):
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)

    def update(self, p, g, state, h):
        b1, b2 = h["betas"]
        if h["weight_decay"]:
            if self.decoupled:  # AdamW: shrink the weights directly, outside the moments
                p *= 1 - h["lr"] * h["weight_decay"]
            else:
                g = g + h["weight_decay"] * p
        m, v = state["m"], state["v"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if h["amsgrad"]:  # the largest v so far: its own state, made only when asked for
            if "v_max" not in state:
                state["v_max"] = np.zeros_like(v)
            v = np.maximum(state["v_max"], v, out=state["v_max"])
        t = state["step"]
        p -= h["lr"] / (1 - b1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + h["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW; default weight_decay 0.01)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
