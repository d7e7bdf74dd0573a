"""tinygrad1d: an autograd mini-framework on numpy, built around conv1d as gather-plus-sum.

    import tinygrad1d as tg
    x = tg.Tensor([1, 2, 3, 4], requires_grad=True)
    w = tg.Tensor([3, 5, 7], requires_grad=True)
    a = x.conv1d(w, tg.Tensor([1]))      # [35, 50]
    (a * tg.Tensor([10, 20])).sum().backward()
    x.grad, w.grad                        # [30, 110, 170, 140], [50, 80, 110]
"""
import numpy as _np

# the engine and the primitives (ops fills the op table), then the composites, then the one
# declaration of Tensor's methods (surface.install runs on import)
from . import autograd, distributed, func, functional, init, nn, ops, optim, surface
from . import tensor as _engine
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import OPS, AnomalyError, BackwardError, Function, Tensor, default_rng, enable_grad
from .tensor import detect_anomaly, register
from .tensor import get_default_dtype, grad, is_grad_enabled, manual_seed, no_grad
from .tensor import scope, set_default_dtype
from .creation import arange, as_tensor, empty, eye, from_numpy, full, full_like, linspace, ones
from .creation import ones_like, rand, rand_like, randint, randn, randn_like, zeros, zeros_like
from .autograd import inference_mode, set_grad_enabled
from .functional import cat, stack, where
from .program import CompileError, compile
from .serialization import load, save
from . import onnx  # tg.onnx.export; the onnx package itself is imported only by export
from .viz import draw, to_dot

# torch.sum(x, 1), torch.exp(x), ...: each made from the Tensor method of the same name
globals().update({name: surface.function_form(name) for name in surface.FUNCTIONS})

# dtype names, as torch spells them (numpy's dtypes: x.dtype == tg.float32 holds)
float32 = float = _np.float32  # noqa: A001 - torch's names
float64 = double = _np.float64
int64 = long = _np.int64
int32 = int = _np.int32  # noqa: A001
bool = _np.bool_  # noqa: A001


def is_tensor(obj):
    """True for a Tensor (torch.is_tensor)."""
    return isinstance(obj, Tensor)


class _CallableModule(type(functional)):
    """`tg.tensor` names the engine's module (tinygrad1d/tensor.py), so PyTorch's spelling
    `tg.tensor([1, 2], requires_grad=True)` calls the module: it builds a Tensor."""

    def __call__(self, data, dtype=None, requires_grad=False) -> Tensor:
        return Tensor(data, requires_grad=requires_grad, dtype=dtype)


_engine.__class__ = _CallableModule

__version__ = "0.1.0"
__all__ = ["AnomalyError", "arange", "as_tensor", "autograd", "BackwardError", "bool", "cat",
           "compile", "CompileError",
           "default_rng", "detect_anomaly", "double", "draw", "empty", "enable_grad", "eye",
           "float", "float32", "float64", "from_numpy", "full", "full_like", "func",
           "Function", "functional", "get_default_dtype", "grad", "gradcheck",
           "GradcheckError", "gradgradcheck", "inference_mode", "init", "int", "int32",
           "int64", "is_grad_enabled", "is_tensor", "linspace", "load", "long", "manual_seed",
           "nn", "no_grad", "onnx", "ones", "ones_like", "ops", "OPS", "optim", "rand", "rand_like",
           "randint", "randn", "randn_like", "register", "save", "scope", "serialization",
           "set_default_dtype", "set_grad_enabled", "stack", "Tensor", "to_dot", "viz", "where",
           "zeros", "zeros_like", "distributed"] + list(surface.FUNCTIONS)
