"""Layers with weights: Linear, the convolutions, normalisation, Embedding, Upsample."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import init
from ..tensor import as_tensor, default_rng, get_default_dtype
from .module import Module, Parameter


def _params(init_name, w_shape, b_shape):
    """(weight, bias or None) Parameters drawn by an initializer."""
    ini = init.get(init_name)
    w = Parameter(ini.W(w_shape))
    return w, (Parameter(ini.B(b_shape)) if b_shape else None)


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), bias (out_features,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init="xavier"):
        self.in_features, self.out_features = in_features, out_features
        self.weight, self.bias = _params(init, (out_features, in_features),
                                         (out_features,) if bias else None)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Conv1d(Module):
    """1-D convolution layer: weight (C_out, C_in // groups, K), bias (C_out,)."""

    # the project's init= sits where torch has padding_mode, so padding_mode is keyword-only
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding=0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 init="xavier", *, padding_mode: str = "zeros"):
        op = "Conv1d"
        in_channels = F.check_int(in_channels, op, "in_channels", 1)
        out_channels = F.check_int(out_channels, op, "out_channels", 1)
        kernel_size, stride, pads, dilation, groups = F.conv_args(op, kernel_size, stride,
                                                                  padding, dilation, groups)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"Conv1d: padding_mode must be 'zeros', 'reflect', 'replicate' or "
                             f"'circular', got {padding_mode!r}")
        self.padding_mode, self._pads = padding_mode, pads
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.groups = dilation, groups
        self.weight, self.bias = _params(init, (out_channels, in_channels // groups, kernel_size),
                                         (out_channels,) if bias else None)

    def forward(self, x):
        if self.padding_mode != "zeros" and any(self._pads):  # pad by copying x, as torch
            x = F.pad(x, self._pads, mode=self.padding_mode)
            return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}")


class SimpleConv1d(Module):
    """The course's first layer: one channel, batch 1, stride 1, no padding.
    weight (K,), bias (1,); input (L,) -> (L - K + 1,)."""

    def __init__(self, kernel_size: int, init="xavier"):
        self.kernel_size = kernel_size
        self.weight, self.bias = _params(init, (kernel_size,), (1,))

    def forward(self, x):
        x = as_tensor(x, type(self).__name__)
        if x.ndim != 1:
            raise ValueError(f"SimpleConv1d: expected one signal of shape (L,), got {x.shape}")
        return F.conv1d(x, self.weight, self.bias)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}"


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) with learned weight/bias and running
    statistics (buffers running_mean, running_var) used in eval mode, as torch."""

    _buffers = ("running_mean", "running_var", "num_batches_tracked")
    _optional_buffers = ("num_batches_tracked",)  # checkpoints from before it load as torch's

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.track_running_stats = track_running_stats
        self.weight = Parameter(np.ones(num_features, get_default_dtype())) if affine else None
        self.bias = Parameter(np.zeros(num_features, get_default_dtype())) if affine else None
        if track_running_stats:
            self.running_mean = np.zeros(num_features, np.float64)
            self.running_var = np.ones(num_features, np.float64)
            self.num_batches_tracked = np.zeros((), np.int64)
        else:  # batch statistics always, in eval mode too
            self.running_mean = self.running_var = self.num_batches_tracked = None
            self._buffers = ()

    def forward(self, x):
        x = as_tensor(x, type(self).__name__)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        # the running statistics and the batch count are updated in place by F.batch_norm
        # (momentum None: a cumulative average, every batch weighing the same)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, self.momentum,
                            self.eps, num_batches_tracked=self.num_batches_tracked)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class LayerNorm(Module):
    """Normalise over the trailing normalized_shape axes, with learned weight (ones) and
    bias (zeros, unless bias=False) of that shape, as torch.nn.LayerNorm."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        many = not isinstance(normalized_shape, (int, np.integer))
        shape = tuple(normalized_shape) if many else (normalized_shape,)
        if not shape or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be sizes >= 1, got "
                             f"{normalized_shape!r}")
        self.normalized_shape, self.eps = shape, eps
        dt = get_default_dtype()
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    """Normalise each group of num_channels / num_groups channels, with a learned scale and
    shift per channel, as torch.nn.GroupNorm."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True):
        num_groups = F.check_int(num_groups, "GroupNorm", "num_groups", 1)
        num_channels = F.check_int(num_channels, "GroupNorm", "num_channels", 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide "
                             f"num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        dt = get_default_dtype()
        self.weight = Parameter(np.ones(num_channels, dt)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dt)) if affine else None

    def forward(self, x):
        x = as_tensor(x, "GroupNorm")
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected (N, {self.num_channels}, ...), got {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class Embedding(Module):
    """A table of num_embeddings vectors of embedding_dim, drawn from N(0, 1) as torch; the
    padding_idx row starts at zero and learns nothing."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        n = F.check_int(num_embeddings, "Embedding", "num_embeddings", 1)
        dim = F.check_int(embedding_dim, "Embedding", "embedding_dim", 1)
        if padding_idx is not None and not -n <= padding_idx < n:
            raise ValueError(f"Embedding: padding_idx={padding_idx} is out of range for {n} "
                             "embeddings")
        table = default_rng().standard_normal((n, dim)).astype(get_default_dtype())
        if padding_idx is not None:
            padding_idx = int(padding_idx) % n  # a negative one counts from the end, as torch
            table[padding_idx] = 0.0
        self.num_embeddings, self.embedding_dim, self.padding_idx = n, dim, padding_idx
        self.weight = Parameter(table)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class ConvTranspose1d(Module):
    """The transposed 1-D convolution (conv1d's adjoint as a layer): weight
    (C_in, C_out // groups, K), bias (C_out,), both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_out // groups * K, as torch's default."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, groups: int = 1, bias: bool = True,
                 dilation: int = 1):
        op = "ConvTranspose1d"
        c_in = F.check_int(in_channels, op, "in_channels", 1)
        c_out = F.check_int(out_channels, op, "out_channels", 1)
        k, stride, (pad, _), dilation, groups = F.conv_args(op, kernel_size, stride, padding,
                                                            dilation, groups)
        if c_in % groups or c_out % groups:
            raise ValueError(f"{op}: groups={groups} must divide in_channels={c_in} and "
                             f"out_channels={c_out}")
        self.in_channels, self.out_channels, self.kernel_size = c_in, c_out, k
        self.stride, self.padding, self.dilation, self.groups = stride, pad, dilation, groups
        self.output_padding = F.check_int(output_padding, op, "output_padding", 0)
        bound, dt = 1 / np.sqrt(c_out // groups * k), get_default_dtype()
        draw = default_rng().uniform
        self.weight = Parameter(draw(-bound, bound, (c_in, c_out // groups, k)).astype(dt))
        self.bias = Parameter(draw(-bound, bound, c_out).astype(dt)) if bias else None

    def forward(self, x):
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, output_padding="
                f"{self.output_padding}, dilation={self.dilation}, groups={self.groups}")


class Upsample(Module):
    """Resize the length axis (F.interpolate): by size or scale_factor, nearest or linear."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode not in ("nearest", "linear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'linear', got {mode!r}")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = align_corners

    def forward(self, x):
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class PReLU(Module):
    """x where x > 0, else a * x, with the slope a learned: one (num_parameters=1) or one per
    channel, starting at `init`."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be an int >= 1, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.weight = Parameter(np.full(num_parameters, init, get_default_dtype()))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
