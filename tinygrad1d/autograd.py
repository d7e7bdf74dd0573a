"""torch.autograd's names for what the engine already does: tg.autograd.grad is tg.grad,
tg.autograd.backward(tensors, grad_tensors) runs backward from several roots at once."""
from __future__ import annotations

from .tensor import Tensor, _backprop, _seed, grad

__all__ = ["backward", "grad"]


def backward(tensors, grad_tensors=None, retain_graph: bool = False) -> None:
    """Accumulate into the leaves' .grad the gradients of several roots in one sweep, as
    torch.autograd.backward; grad_tensors: one per root (None for a one-element root)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(roots)
    if len(grad_tensors) != len(roots):
        raise ValueError(f"backward: {len(grad_tensors)} grad_tensors for {len(roots)} tensors")
    seeds = [_seed(r, g, "backward") for r, g in zip(roots, grad_tensors)]
    _backprop(roots, seeds, accumulate=True, create_graph=False, retain=retain_graph)
