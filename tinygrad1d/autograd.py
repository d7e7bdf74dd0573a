"""torch.autograd's names for what the engine already does: tg.autograd.grad is tg.grad,
tg.autograd.backward(tensors, grad_tensors) runs backward from several roots at once, and
set_grad_enabled / inference_mode are torch's other switches for recording."""
from __future__ import annotations

import functools

from .tensor import BackwardError, Tensor, _backprop, _seed, _State, grad, no_grad

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
    if create_graph:
        raise BackwardError("backward: create_graph=True needs gradients you can "
                            "differentiate; use tg.grad(outputs, inputs, create_graph=True)")
    seeds = [_seed(r, g, "backward") for r, g in zip(roots, grad_tensors)]
    if inputs is None:
        return _backprop(roots, seeds, accumulate=True, create_graph=False,
                         retain=bool(retain_graph))
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for x, g in zip(inputs, grad(roots, inputs, seeds, retain_graph=bool(retain_graph),
                                 allow_unused=True)):
        if g is not None:
            x.grad = g.data.astype(x.dtype) if x.grad is None else x.grad + g.data


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
        mode = self._enable

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapped


class inference_mode(no_grad):
    """torch.inference_mode(mode=True): here the same as no_grad (mode=False: no change)."""

    def __init__(self, mode: bool = True):
        self._enable = _State.grad_enabled if not mode else False
        self._mode = mode

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapped
