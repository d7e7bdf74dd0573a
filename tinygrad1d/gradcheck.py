"""Numerical gradient checks: the analytic gradient against central differences, in float64."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .tensor import Tensor, enable_grad, grad, no_grad


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with central differences; the message says where."""


def worst_element(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float):
    """The index of the element that most exceeds atol + rtol |numeric| (any NaN in the
    analytic gradient first), or None when every element agrees."""
    err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if not err.size or not (np.isnan(analytic).any() or err.max() > 0):
        return None
    return np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), err.shape)


def float64_copies(inputs: Sequence) -> list[Tensor]:
    """float64 copies; Tensors keep their requires_grad flag, raw arrays are all checked."""
    out = []
    for x in inputs:
        rg = x.requires_grad if isinstance(x, Tensor) else True
        out.append(Tensor(np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64),
                          requires_grad=rg))
    return out


def outputs_of(fn: Callable, xs: list[Tensor]) -> list[Tensor]:
    out = fn(*xs)
    out = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in out:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return out


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, fast_mode: bool = False) -> bool:
    """Check d(fn)/d(inputs) element by element against central differences in float64.

    fn maps Tensors to a Tensor (or a tuple of Tensors). A random upstream gradient v is drawn
    for each output, and for every input element j the analytic sum(v * d out / d x_j) must
    match (f(x + eps e_j) - f(x - eps e_j)) . v / (2 eps) within atol + rtol * |numeric|.
    Returns True, or raises GradcheckError naming the input, the worst element and both values.

    fast_mode=True checks one random direction u per input instead of every element (as
    PyTorch's fast mode): v . J u against (f(x + eps u) - f(x - eps u)) . v / (2 eps). Two
    forward passes per input instead of two per element, for inputs too large to check one
    element at a time; a wrong gradient is caught unless its error happens to be orthogonal
    to u, and the message can only name the input, not the element."""
    xs = float64_copies(inputs)
    outs = outputs_of(fn, xs)
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
            return sum(float((o.data * v).sum()) for o, v in zip(outputs_of(fn, xs), vs))

    for i, a in zip(checked, analytic):
        if fast_mode:
            _check_direction(i, xs[i].data, a.data, f_dot_v, rng, eps, atol, rtol)
        else:
            _check_elements(i, xs[i].data, a.data, f_dot_v, eps, atol, rtol)
    return True


def _check_elements(i, x, a, f_dot_v, eps, atol, rtol) -> None:
    numeric = np.empty_like(x)
    for j in np.ndindex(x.shape):
        orig = x[j]
        x[j] = orig + eps
        hi = f_dot_v()
        x[j] = orig - eps
        lo = f_dot_v()
        x[j] = orig
        numeric[j] = (hi - lo) / (2 * eps)
    j = worst_element(a, numeric, atol, rtol)
    if j is not None:
        raise GradcheckError(
            f"gradcheck: input {i} (shape {x.shape}) element {tuple(int(k) for k in j)}: "
            f"analytic {float(a[j])!r} vs numeric {float(numeric[j])!r} (atol={atol}, "
            f"rtol={rtol}, eps={eps})")


def _check_direction(i, x, a, f_dot_v, rng, eps, atol, rtol) -> None:
    u = rng.standard_normal(x.shape)
    orig = x.copy()
    x += eps * u
    hi = f_dot_v()
    x[...] = orig - eps * u
    lo = f_dot_v()
    x[...] = orig
    numeric, analytic = (hi - lo) / (2 * eps), float((a * u).sum())
    if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
        raise GradcheckError(
            f"gradcheck (fast_mode): input {i} (shape {x.shape}), along a random direction: "
            f"analytic {analytic!r} vs numeric {numeric!r} (atol={atol}, rtol={rtol}, eps={eps})")


def first_order(fn: Callable, xs: Sequence[Tensor], seed: int = 0) -> Callable:
    """The function ys -> v . d fn(ys) / d ys (one Tensor per input that requires grad),
    built with create_graph=True, for a fixed random v: its gradient is fn's second
    derivative, so checking it checks one order higher."""
    rng = np.random.default_rng(seed + 1)
    vs = [Tensor(rng.standard_normal(o.shape), dtype=np.float64) for o in outputs_of(fn, list(xs))]
    checked = [i for i, x in enumerate(xs) if x.requires_grad]

    def derivative(*ys):
        with enable_grad():  # gradcheck evaluates this under no_grad; it needs its graph
            outs = outputs_of(fn, list(ys))
            live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
            if not live:
                return tuple(Tensor(np.zeros_like(ys[i].data)) for i in checked)
            return tuple(grad([o for o, _ in live], [ys[i] for i in checked],
                              grad_outputs=[v for _, v in live], create_graph=True))
    return derivative


def gradgradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0) -> bool:
    """Second-order check: the gradient of (v . d fn / d inputs), built with create_graph=True,
    against central differences of the first-order gradient."""
    xs = float64_copies(inputs)
    return gradcheck(first_order(fn, xs, seed), xs, eps=eps, atol=atol, rtol=rtol, seed=seed)
