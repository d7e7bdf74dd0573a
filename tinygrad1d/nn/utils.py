"""torch.nn.utils's gradient clipping: tinygrad1d.nn.utils.clip_grad_norm_ and clip_grad_value_."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale every .grad in place so that their joint norm is at most max_norm (by
    max_norm / (norm + 1e-6), as torch); returns the norm before clipping."""
    params = _with_grads(parameters)
    if not params:
        return Tensor(0.0)
    if norm_type == np.inf:
        total = max(float(np.abs(p.grad).max()) for p in params)
    else:
        total = float(sum((np.abs(p.grad) ** norm_type).sum() for p in params) ** (1 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise ValueError(f"clip_grad_norm_: the total norm of the gradients is {total}")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad *= coef
    return Tensor(np.asarray(total, dtype=params[0].grad.dtype))  # the gradients' dtype


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every .grad in place to [-clip_value, clip_value]."""
    for p in _with_grads(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
