"""torch.autograd's names for what the engine already does: tg.autograd.grad is tg.grad,
tg.autograd.backward(tensors, grad_tensors) runs backward from several roots at once, and
set_grad_enabled / inference_mode are torch's other switches for recording."""
from __future__ import annotations

import functools

from .tensor import Tensor, _seed, _State, _sweep, grad, no_grad

__all__ = ["backward", "grad", "inference_mode", "set_grad_enabled"]


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate into the leaves' .grad (or only into `inputs`) the gradients of several
    roots in one sweep, as torch.autograd.backward; grad_tensors: one per root (None for a
    one-element root)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(roots)
    if len(grad_tensors) != len(roots):
        raise ValueError(f"backward: {len(grad_tensors)} grad_tensors for {len(roots)} tensors")
    seeds = [_seed(r, g, "backward") for r, g in zip(roots, grad_tensors)]
    _sweep(roots, seeds, retain_graph, create_graph, inputs)


class set_grad_enabled(no_grad):
    """torch.set_grad_enabled(mode): switches recording on or off at once; as a context
    manager (or decorator) the previous mode comes back at the end."""

    def __init__(self, mode: bool):
        self._enable, self._prev = bool(mode), _State.grad_enabled
        _State.grad_enabled = self._enable

    def __enter__(self):
        return None  # already switched, in __init__

    def __call__(self, fn):
        _State.grad_enabled = self._prev  # as a decorator it switches only inside fn
        return _inside(fn, set_grad_enabled, self._enable)


class inference_mode(no_grad):
    """torch.inference_mode(mode=True): here the same as no_grad (mode=False: no change)."""

    def __init__(self, mode: bool = True):
        self._mode = mode

    def __enter__(self):  # the mode in force at entry, not at construction, is what stays
        self._prev = _State.grad_enabled
        if self._mode:
            _State.grad_enabled = False

    def __call__(self, fn):
        return _inside(fn, inference_mode, self._mode)


def _inside(fn, switch, mode):
    """fn run inside `with switch(mode)`: the decorator form of the two switches above."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with switch(mode):
            return fn(*args, **kwargs)
    return wrapped
