"""Numerical gradient checks: the analytic gradient against central differences, in float64."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .tensor import Tensor, enable_grad, grad, no_grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with central differences; the message says where."""


def _prepare(inputs: Sequence) -> list[Tensor]:
    """float64 copies; Tensors keep their requires_grad flag, raw arrays are all checked."""
    out = []
    for x in inputs:
        rg = x.requires_grad if isinstance(x, Tensor) else True
        out.append(Tensor(np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64),
                          requires_grad=rg))
    return out


def _outputs(fn: Callable, xs: list[Tensor]) -> list[Tensor]:
    out = fn(*xs)
    out = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in out:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return out


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check d(fn)/d(inputs) element by element against central differences in float64.

    fn maps Tensors to a Tensor (or a tuple of Tensors). A random upstream gradient v is drawn
    for each output, and for every input element j the analytic sum(v * d out / d x_j) must
    match (f(x + eps e_j) - f(x - eps e_j)) . v / (2 eps) within atol + rtol * |numeric|.
    Returns True, or raises GradcheckError naming the input, the worst element and both values.
    """
    xs = _prepare(inputs)
    outs = _outputs(fn, xs)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(o.shape) for o in outs]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    analytic = grad([o for o, _ in live], [xs[i] for i in checked],
                    grad_outputs=[Tensor(v, dtype=np.float64) for _, v in live]) if live \
        else [Tensor(np.zeros_like(xs[i].data)) for i in checked]

    def f_dot_v() -> float:
        with no_grad():
            return sum(float((o.data * v).sum()) for o, v in zip(_outputs(fn, xs), vs))

    for i, a in zip(checked, analytic):
        x = xs[i].data
        numeric = np.empty_like(x)
        for j in np.ndindex(x.shape):
            orig = x[j]
            x[j] = orig + eps
            hi = f_dot_v()
            x[j] = orig - eps
            lo = f_dot_v()
            x[j] = orig
            numeric[j] = (hi - lo) / (2 * eps)
        err = np.abs(a.data - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and (np.isnan(a.data).any() or err.max() > 0):
            j = np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), x.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {x.shape}) element {tuple(int(k) for k in j)}: "
                f"analytic {a.data[j]!r} vs numeric {numeric[j]!r} "
                f"(atol={atol}, rtol={rtol}, eps={eps})")
    return True


def gradgradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0) -> bool:
    """Second-order check: the gradient of (v . d fn / d inputs), built with create_graph=True,
    against central differences of the first-order gradient."""
    xs = _prepare(inputs)
    rng = np.random.default_rng(seed + 1)
    vs = [Tensor(rng.standard_normal(o.shape), dtype=np.float64) for o in _outputs(fn, xs)]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]

    def first_order(*ys):
        with enable_grad():  # gradcheck evaluates this under no_grad; it needs its graph
            return _first_order(ys)

    def _first_order(ys):
        outs = _outputs(fn, list(ys))
        live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros_like(ys[i].data)) for i in checked)
        return tuple(grad([o for o, _ in live], [ys[i] for i in checked],
                          grad_outputs=[v for _, v in live], create_graph=True))

    return gradcheck(first_order, xs, eps=eps, atol=atol, rtol=rtol, seed=seed)
