"""torch.autograd's names for what the engine already does: tg.autograd.grad is tg.grad,
tg.autograd.backward(tensors, grad_tensors) runs backward from several roots at once (the
engine's `backward`, which Tensor.backward calls too), and set_grad_enabled / inference_mode
are torch's other switches for recording."""
from __future__ import annotations

import functools

from .tensor import backward, grad, is_grad_enabled, no_grad, set_grad_mode

__all__ = ["backward", "grad", "inference_mode", "set_grad_enabled"]


class set_grad_enabled(no_grad):
    """torch.set_grad_enabled(mode): switches recording on or off at once; as a context
    manager (or decorator) the previous mode comes back at the end."""

    def __init__(self, mode: bool):
        self._enable = bool(mode)
        self._prev = set_grad_mode(self._enable)

    def __enter__(self):
        return None  # already switched, in __init__

    def __call__(self, fn):
        set_grad_mode(self._prev)  # as a decorator it switches only inside fn
        return _inside(fn, set_grad_enabled, self._enable)


class inference_mode(no_grad):
    """torch.inference_mode(mode=True): here the same as no_grad (mode=False: no change)."""

    def __init__(self, mode: bool = True):
        self._mode = mode

    def __enter__(self):  # the mode in force at entry, not at construction, is what stays
        self._prev = is_grad_enabled()
        if self._mode:
            set_grad_mode(False)

    def __call__(self, fn):
        return _inside(fn, inference_mode, self._mode)


def _inside(fn, switch, mode):
    """fn run inside `with switch(mode)`: the decorator form of the two switches above."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with switch(mode):
            return fn(*args, **kwargs)
    return wrapped
