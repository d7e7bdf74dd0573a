"""tinygrad1d: an autograd mini-framework on numpy, built around conv1d as gather-plus-sum.

    import tinygrad1d as tg
    x = tg.Tensor([1, 2, 3, 4], requires_grad=True)
    w = tg.Tensor([3, 5, 7], requires_grad=True)
    a = x.conv1d(w, tg.Tensor([1]))      # [35, 50]
    (a * tg.Tensor([10, 20])).sum().backward()
    x.grad, w.grad                        # [30, 110, 170, 140], [50, 80, 110]
"""
# importing ops registers the primitives as Tensor methods; functional adds the composites'
from . import autograd, func, functional, init, nn, ops, optim
from . import tensor as _engine
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import OPS, AnomalyError, BackwardError, Function, Tensor, default_rng, enable_grad
from .tensor import detect_anomaly, register
from .tensor import get_default_dtype, grad, is_grad_enabled, manual_seed, no_grad
from .tensor import scope, set_default_dtype
from .creation import arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace, ones
from .creation import ones_like, rand, rand_like, randint, randn, randn_like, zeros, zeros_like
from .autograd import inference_mode, set_grad_enabled
from .functional import clamp, logsumexp, maximum, minimum
from .functional import cat, stack, where
from .serialization import load, save
from .viz import draw, to_dot


class _CallableModule(type(functional)):
    """`tg.tensor` names the engine's module (tinygrad1d/tensor.py), so PyTorch's spelling
    `tg.tensor([1, 2], requires_grad=True)` calls the module: it builds a Tensor."""

    def __call__(self, data, dtype=None, requires_grad: bool = False) -> Tensor:
        return Tensor(data, requires_grad=requires_grad, dtype=dtype)


_engine.__class__ = _CallableModule

__version__ = "0.1.0"
__all__ = ["AnomalyError", "arange", "as_tensor", "autograd", "BackwardError", "cat", "clamp",
           "default_rng", "detect_anomaly", "draw", "empty", "enable_grad", "eye", "from_numpy",
           "inference_mode", "full", "full_like", "func",
           "Function", "functional", "get_default_dtype", "grad", "gradcheck", "GradcheckError",
           "gradgradcheck", "init", "is_grad_enabled", "linspace", "load",
           "logsumexp", "manual_seed",
           "maximum", "minimum", "nn", "no_grad", "ones", "ones_like", "ops", "OPS", "optim",
           "rand", "rand_like", "randint", "randn", "randn_like", "register", "save", "scope",
           "serialization", "set_default_dtype", "set_grad_enabled", "stack", "Tensor",
           "to_dot", "viz", "where", "zeros", "zeros_like"]
