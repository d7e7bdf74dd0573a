"""Functional autodiff: transforms of functions, with the semantics of torch.func and JAX.

`f` takes Tensors and returns a Tensor (or a tuple of them). Every transform builds its
gradients with create_graph=True, so its results are differentiable again and transforms
compose: `jacobian(grad(f))` is the Hessian, `grad(grad(f))` a second derivative.

Forward mode (`jvp`) is built from reverse mode by the double-vjp construction: for a dummy
cotangent u, `g(u) = J^T u` is linear in u, so the vjp of g with cotangent t is `J t`. That
costs about two reverse passes per tangent and needs no forward rule per op
(docs/testing.md measures it against `vjp`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .functional import stack
from .tensor import Tensor, as_tensor, constant, enable_grad
from .tensor import grad as _grad

__all__ = ["grad", "hessian", "hvp", "jacobian", "jvp", "value_and_grad", "vjp"]


def _primals(xs: Sequence, op: str) -> list[Tensor]:
    """Inputs to differentiate at: a Tensor that requires grad is used as it is (so an outer
    transform differentiates through it); anything else becomes a leaf sharing its data."""
    out = []
    for i, x in enumerate(xs):
        t = as_tensor(x, op, f"input {i}")
        out.append(t if t.requires_grad else Tensor._make(t.data, True, None))
    return out


def _outputs(out, op: str) -> tuple[Tensor, ...]:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{op}: f must return a Tensor or a tuple of Tensors, got "
                            f"{type(o).__name__}")
    return tuple(outs)


def _like(values, outs: Sequence[Tensor], op: str, what: str) -> list[Tensor]:
    """One Tensor per output, of its shape: cotangents or tangents given by the caller."""
    values = values if isinstance(values, (tuple, list)) else (values,)
    if len(values) != len(outs):
        raise ValueError(f"{op}: {len(values)} {what} for {len(outs)} tensors")
    got = [as_tensor(v, op, what) for v in values]
    for g, o in zip(got, outs):
        if g.shape != o.shape:
            raise ValueError(f"{op}: {what} of shape {g.shape} for a tensor of shape {o.shape}")
    return got


def vjp(f: Callable, *primals) -> tuple:
    """(f(*primals), vjp_fn): vjp_fn(cotangent) is the tuple of cotangent^T df/dx_i."""
    xs = _primals(primals, "vjp")
    with enable_grad():
        out = f(*xs)
    outs = _outputs(out, "vjp")

    def vjp_fn(cotangents) -> tuple[Tensor, ...]:
        cts = _like(cotangents, outs, "vjp", "cotangents")
        with enable_grad():
            return tuple(_grad(list(outs), xs, grad_outputs=cts, create_graph=True))
    return out, vjp_fn


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple:
    """(f(*primals), J t): the directional derivative along `tangents` (one per primal)."""
    primals, tangents = tuple(primals), tuple(tangents)
    xs = _primals(primals, "jvp")
    ts = _like(tangents, xs, "jvp", "tangents")
    with enable_grad():
        out = f(*xs)
        outs = _outputs(out, "jvp")
        # J^T u for a dummy cotangent u is linear in u; its vjp along the tangents is J t
        us = [Tensor._make(np.zeros_like(o.data), True, None) for o in outs]
        back = _grad(list(outs), xs, grad_outputs=us, create_graph=True)
        live = [(b, t) for b, t in zip(back, ts) if b.requires_grad]
        if live:
            dirs = _grad([b for b, _ in live], us, grad_outputs=[t for _, t in live],
                         create_graph=True)
        else:  # f does not depend on its inputs
            dirs = [constant(np.zeros_like(o.data)) for o in outs]
    return out, (dirs[0] if isinstance(out, Tensor) else tuple(dirs))


def jacobian(f: Callable, *inputs):
    """d f / d inputs, shape f(x).shape + x.shape per input (a tuple for several inputs, as
    torch.autograd.functional.jacobian). One vjp per output element."""
    xs = _primals(inputs, "jacobian")
    with enable_grad():
        out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian: f must return one Tensor, got {type(out).__name__}")
        rows = []
        for j in range(out.size):
            e = np.zeros(out.size, out.dtype)
            e[j] = 1.0
            rows.append(_grad(out, xs, grad_outputs=Tensor(e.reshape(out.shape)),
                              create_graph=True))
        jac = [_stack_rows([r[i] for r in rows], out.shape, x) for i, x in enumerate(xs)]
    return jac[0] if len(jac) == 1 else tuple(jac)


def _stack_rows(rows: list[Tensor], out_shape: tuple, x: Tensor) -> Tensor:
    if not rows:
        return constant(np.zeros(out_shape + x.shape, x.dtype))
    return stack(rows, 0).reshape(out_shape + x.shape)


def hessian(f: Callable, *inputs):
    """The Hessian of a scalar f: shape x.shape + x.shape for one input; for several, a tuple
    of tuples H[i][j] = d^2 f / dx_i dx_j (as torch.autograd.functional.hessian)."""
    n = len(inputs)
    first = grad(f, argnums=tuple(range(n)))
    if n == 1:
        return jacobian(lambda x: first(x)[0], *inputs)
    return tuple(jacobian(lambda *xs, i=i: first(*xs)[i], *inputs) for i in range(n))


def hvp(f: Callable, x, v) -> tuple[Tensor, Tensor]:
    """(f(x), H(x) v) for a scalar f of one input, without forming H (two reverse passes)."""
    (xt,) = _primals((x,), "hvp")
    (vt,) = _like((v,), (xt,), "hvp", "v")
    with enable_grad():
        y = f(xt)
        _scalar(y, "hvp")
        (g,) = _grad(y, [xt], create_graph=True)
        (hv,) = _grad(g, [xt], grad_outputs=vt, create_graph=True)
    return y, hv


def _scalar(y, op: str) -> None:
    if not isinstance(y, Tensor) or y.size != 1:
        raise ValueError(f"{op}: f must return a one-element Tensor, got "
                         f"{getattr(y, 'shape', type(y).__name__)}")


def value_and_grad(f: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """A function returning (f(*args), d f / d args[argnums]) for a scalar f; the gradient is
    a Tensor for an int argnums, a tuple for a tuple."""
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)

    def wrapped(*args):
        for a in nums:
            if not isinstance(a, int) or not -len(args) <= a < len(args):
                raise ValueError(f"grad: argnums {argnums!r} out of range for {len(args)} "
                                 "arguments")
        args = list(args)
        chosen = _primals([args[a] for a in nums], "grad")
        for a, t in zip(nums, chosen):
            args[a] = t
        with enable_grad():
            y = f(*args)
            _scalar(y, "grad")
            gs = _grad(y, chosen, create_graph=True)
        return y, (tuple(gs) if many else gs[0])
    return wrapped


def grad(f: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """A function returning d f / d args[argnums] for a scalar f (as jax.grad, torch.func.grad)."""
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]
