"""Layers without weights: activations, pools, dropout, Flatten, Identity."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Fn(Module):
    """A parameter-free layer around one functional call, with fixed keyword arguments
    (LeakyReLU(0.2) calls F.leaky_relu(x, negative_slope=0.2))."""

    fn = staticmethod(lambda x, **kw: x)

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def forward(self, x):
        return type(self).fn(x, **self.kwargs)

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class ReLU(_Fn):
    fn = staticmethod(F.relu)


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
    def __init__(self, p: float = 0.5):
        p = F.dropout_p(p, "Dropout")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

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


class LeakyReLU(_Fn):
    fn = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01):
        super().__init__(negative_slope=negative_slope)


class ELU(_Fn):
    fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=alpha)


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
