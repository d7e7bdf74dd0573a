"""Optimizers and learning-rate schedules.

Updates are plain numpy on each parameter's .data, in place, following PyTorch's documented
algorithms for the same arguments (torch.optim.SGD, Adagrad, RMSprop, Adam, AdamW). They are
not recorded: an optimizer step is not part of any graph.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "AdaGrad", "RMSProp", "Adam", "AdamW", "StepLR",
           "CosineAnnealingLR"]


class Optimizer:
    """Base class: holds the parameters, their per-parameter state and the hyper-parameters.

    Subclasses list their hyper-parameter names in `hyper` and their per-parameter state
    arrays in `slots`, and implement `update(p, grad, state)`. State is created at a
    parameter's first update, as torch does; state["step"] counts that parameter's updates."""

    hyper: tuple[str, ...] = ("lr",)
    slots: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], **hyper):
        name = type(self).__name__
        if isinstance(params, Tensor):  # list(t) would silently split it into rows
            raise TypeError(f"{name}: params must be an iterable of Tensors, got one Tensor; "
                            "use [t] or model.parameters()")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: parameter {i} is not a Tensor that requires grad")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf; "
                                 "an optimizer can only update leaves")
        for k, v in hyper.items():
            if isinstance(v, (int, float)) and v < 0:
                raise ValueError(f"{type(self).__name__}: {k} must be >= 0, got {v}")
            setattr(self, k, v)
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            if not state:
                state.update((s, np.zeros_like(p.data)) for s in self.slots)
                state["step"] = 0
            state["step"] += 1
            self.update(p.data, p.grad, state)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat name -> array dict (hyper-parameters and state), storable in an .npz."""
        out = {k: np.asarray(getattr(self, k)) for k in self.hyper}
        for i, state in enumerate(self.state):
            out.update((f"state.{i}.{k}", np.array(v, copy=True)) for k, v in state.items())
        return out

    def load_state_dict(self, d: dict) -> None:
        name = type(self).__name__
        for k in d:
            if k.startswith("state."):
                i, slot = k.split(".")[1:]
                if int(i) >= len(self.params):
                    raise ValueError(f"{name}.load_state_dict: {k} but only "
                                     f"{len(self.params)} parameters")
                if slot != "step" and np.shape(d[k]) != self.params[int(i)].shape:
                    raise ValueError(f"{name}.load_state_dict: {k} has shape {np.shape(d[k])}, "
                                     f"parameter {i} has {self.params[int(i)].shape}")
            elif k not in self.hyper:
                raise ValueError(f"{name}.load_state_dict: unexpected key {k!r}")
        for k in self.hyper:
            if k in d:
                v = np.asarray(d[k])
                setattr(self, k, tuple(v.tolist()) if v.ndim else v.item())
        self.state = [{} for _ in self.params]
        for k, v in d.items():
            if k.startswith("state."):
                i, slot = k.split(".")[1:]
                p = self.params[int(i)]
                self.state[int(i)][slot] = int(v) if slot == "step" else \
                    np.array(v, dtype=p.dtype)


class SGD(Optimizer):
    """SGD with optional momentum (PyTorch's form: buf = mu*buf + g), Nesterov momentum and
    L2 weight decay."""

    hyper = ("lr", "momentum", "weight_decay", "dampening", "nesterov")
    slots = ("buf",)

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         dampening=dampening, nesterov=nesterov)

    def update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = state["buf"]
            if state["step"] == 1:  # torch starts the buffer at the first gradient, undamped
                buf[...] = g
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class AdaGrad(Optimizer):
    """p -= lr * g / (sqrt(sum of g^2 so far) + eps)."""

    hyper = ("lr", "eps", "weight_decay")
    slots = ("sum",)

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        state["sum"] += g * g
        p -= self.lr * g / (np.sqrt(state["sum"]) + self.eps)


class RMSProp(Optimizer):
    """v = alpha*v + (1-alpha)*g^2; p -= lr * g / (sqrt(v) + eps), with torch's optional
    momentum and centered variants."""

    hyper = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    slots = ("square_avg", "grad_avg", "buf")

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def update(self, p, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * p
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        if self.centered:
            m = state["grad_avg"]
            m *= self.alpha
            m += (1 - self.alpha) * g
            denom = np.sqrt(v - m * m) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum:
            buf = state["buf"]
            buf *= self.momentum
            buf += g / denom
            p -= self.lr * buf
        else:
            p -= self.lr * g / denom


class Adam(Optimizer):
    """Adam with bias correction; weight_decay is L2 added to the gradient (torch.optim.Adam)."""

    hyper = ("lr", "betas", "eps", "weight_decay")
    slots = ("m", "v")
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def update(self, p, g, state):
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:  # AdamW: shrink the weights directly, outside the moments
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v = state["m"], state["v"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        t = state["step"]
        p -= self.lr / (1 - b1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW; default weight_decay 0.01)."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ================================================================== learning-rate schedules


class _Schedule:
    """Sets optimizer.lr from the number of step() calls (per batch or per epoch: your call)."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer, self.base_lr, self.count = optimizer, optimizer.lr, 0

    def step(self) -> None:
        self.count += 1
        self.optimizer.lr = self.lr_at(self.count)

    def lr_at(self, n: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (n // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, n):
        return self.base_lr * self.gamma ** (n // self.step_size)


class CosineAnnealingLR(_Schedule):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * n / T_max)) / 2; past T_max it
    keeps following the cosine (back up to base_lr at 2 T_max), as torch's formula does."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, n):
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * n
                                                                          / self.T_max)) / 2
