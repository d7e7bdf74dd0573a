"""Layers without weights: activations, pools (adaptive too), dropout, Flatten, Unflatten,
Identity, and the two similarity layers."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Fn(Module):
    """A parameter-free layer around one functional call, with fixed keyword arguments
    (LeakyReLU(0.2) calls F.leaky_relu(x, negative_slope=0.2)). torch's `inplace=False`, the
    default, is left out of the call and the repr."""

    fn = staticmethod(lambda x, **kw: x)

    def __init__(self, **kwargs):
        if not kwargs.get("inplace", True):
            del kwargs["inplace"]
        self.kwargs = kwargs

    def forward(self, *inputs):
        return type(self).fn(*inputs, **self.kwargs)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class ReLU(_Fn):
    fn = staticmethod(F.relu)

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class Sigmoid(_Fn):
    fn = staticmethod(F.sigmoid)


class Tanh(_Fn):
    fn = staticmethod(F.tanh)


class GlobalAvgPool1d(_Fn):
    """(N, C, L) -> (N, C): the mean over the length axis."""

    fn = staticmethod(F.global_avg_pool1d)


class Flatten(Module):
    """Merge the axes start_axis..end_axis (torch: start_dim..end_dim): (N, C, L) -> (N, C*L)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1, *, start_dim=None,
                 end_dim=None):
        self.start_axis = start_axis if start_dim is None else start_dim
        self.end_axis = end_axis if end_dim is None else end_dim

    def forward(self, x):
        return x.flatten(self.start_axis, self.end_axis)


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        p = F.dropout_p(p, "Dropout")
        self.p, self.inplace = p, bool(inplace)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, inplace=self.inplace)

    def extra_repr(self):
        return f"p={self.p}"


class _Pool(Module):
    def _set(self, kernel_size, stride, padding, dilation, ceil_mode):
        op = type(self).__name__
        F.pool_args(op, kernel_size, stride, padding, dilation)  # refuse now, not at forward
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, bool(ceil_mode)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool1d(_Pool):
    """Max over sliding windows; arguments in PyTorch's order (return_indices before
    ceil_mode, as torch.nn.MaxPool1d)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 dilation: int = 1, return_indices: bool = False, ceil_mode: bool = False):
        self._set(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool1d(_Pool):
    """Mean over sliding windows; arguments in PyTorch's order."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True):
        self._set(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class Identity(Module):
    """Returns its input (a placeholder layer, as torch.nn.Identity)."""

    def __init__(self, *args, **kwargs):
        pass

    def forward(self, x):
        return x


class GELU(_Fn):
    fn = staticmethod(F.gelu)

    def __init__(self, approximate: str = "none"):
        super().__init__(approximate=approximate)


class SiLU(_Fn):
    fn = staticmethod(F.silu)

    def __init__(self, inplace: bool = False):
        super().__init__(inplace=inplace)


class LeakyReLU(_Fn):
    fn = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__(negative_slope=negative_slope, inplace=inplace)


class ELU(_Fn):
    fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__(alpha=alpha, inplace=inplace)


class Softplus(_Fn):
    fn = staticmethod(F.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(beta=beta, threshold=threshold)


class Softmax(_Fn):
    fn = staticmethod(F.softmax)

    def __init__(self, dim: int = -1):
        super().__init__(axis=dim)


class LogSoftmax(_Fn):
    fn = staticmethod(F.log_softmax)

    def __init__(self, dim: int = -1):
        super().__init__(axis=dim)


class Softmin(_Fn):
    fn = staticmethod(F.softmin)

    def __init__(self, dim: int | None = None):
        super().__init__(dim=dim)


def _activation(name: str, fn, doc: str, **defaults):
    """A parameter-free activation module class with torch's constructor arguments (in
    `defaults`' order, positional too) and `inplace=` where torch has it."""
    def __init__(self, *args, **kwargs):
        names = list(defaults)
        if len(args) > len(names):
            raise TypeError(f"{name}: takes at most {len(names)} arguments, got {len(args)}")
        given = {**defaults, **dict(zip(names, args)), **kwargs}
        unknown = set(given) - set(defaults)
        if unknown:
            raise TypeError(f"{name}: unexpected arguments {sorted(unknown)}")
        _Fn.__init__(self, **given)
    return type(name, (_Fn,), {"fn": staticmethod(fn), "__init__": __init__, "__doc__": doc,
                                "__module__": __name__})


ReLU6 = _activation("ReLU6", F.relu6, "min(max(x, 0), 6).", inplace=False)
Hardtanh = _activation("Hardtanh", F.hardtanh, "x limited to [min_val, max_val].",
                       min_val=-1.0, max_val=1.0, inplace=False)
Hardsigmoid = _activation("Hardsigmoid", F.hardsigmoid, "x / 6 + 1/2 limited to [0, 1].",
                          inplace=False)
Hardswish = _activation("Hardswish", F.hardswish, "x * relu6(x + 3) / 6.", inplace=False)
Mish = _activation("Mish", F.mish, "x * tanh(softplus(x)).", inplace=False)
SELU = _activation("SELU", F.selu, "Scaled ELU with the SELU paper's constants.",
                   inplace=False)
CELU = _activation("CELU", F.celu, "x > 0: x, else alpha (e^(x/alpha) - 1).", alpha=1.0,
                   inplace=False)
LogSigmoid = _activation("LogSigmoid", F.logsigmoid, "log(sigmoid(x)), stable.")
Softsign = _activation("Softsign", F.softsign, "x / (1 + |x|).")
Tanhshrink = _activation("Tanhshrink", F.tanhshrink, "x - tanh(x).")
Softshrink = _activation("Softshrink", F.softshrink, "Shrink x toward 0 by lambd.", lambd=0.5)
Hardshrink = _activation("Hardshrink", F.hardshrink, "x where |x| > lambd, else 0.",
                         lambd=0.5)
GLU = _activation("GLU", F.glu, "a * sigmoid(b) of the two halves of x along dim.", dim=-1)


class Threshold(_Fn):
    """x where x > threshold, else value."""

    fn = staticmethod(F.threshold)

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__(threshold=threshold, value=value, inplace=inplace)


class AdaptiveAvgPool1d(_Fn):
    """(N, C, L) -> (N, C, output_size): means over evenly spread windows."""

    fn = staticmethod(F.adaptive_avg_pool1d)

    def __init__(self, output_size: int):
        super().__init__(output_size=output_size)


class AdaptiveMaxPool1d(_Fn):
    """(N, C, L) -> (N, C, output_size): maxima over evenly spread windows."""

    fn = staticmethod(F.adaptive_max_pool1d)

    def __init__(self, output_size: int, return_indices: bool = False):
        super().__init__(output_size=output_size, return_indices=return_indices)


class Unflatten(Module):
    """Split axis dim into unflattened_size: (N, 6) -> (N, 2, 3) for Unflatten(1, (2, 3))."""

    def __init__(self, dim: int, unflattened_size):
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return F.unflatten(x, self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class CosineSimilarity(_Fn):
    """cos(x1, x2) along dim."""

    fn = staticmethod(F.cosine_similarity)

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__(dim=dim, eps=eps)


class PairwiseDistance(_Fn):
    """The p-norm of x1 - x2 + eps along the last dim."""

    fn = staticmethod(F.pairwise_distance)

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__(p=p, eps=eps, keepdim=keepdim)
