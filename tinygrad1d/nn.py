"""Modules: Parameter, Module, and the layers built on tinygrad1d.functional.

A Module finds its parameters and submodules by walking its attributes (and lists, tuples and
dicts of them), so a model is plain Python: assign layers and Parameters, write `forward`.
Names are PyTorch's dotted paths ("0.weight", "fc.bias").
"""
from __future__ import annotations

import sys
from collections import OrderedDict, namedtuple
from collections.abc import Iterator

import numpy as np

from . import functional as F
from . import nn_utils as _nn_utils
from . import init
from .tensor import RemovableHandle, Tensor, as_tensor, default_rng, get_default_dtype, scope

__all__ = ["Parameter", "Module", "Linear", "Conv1d", "SimpleConv1d", "ReLU", "Sigmoid", "Tanh",
           "Flatten", "Dropout", "MaxPool1d", "AvgPool1d", "GlobalAvgPool1d", "BatchNorm1d",
           "Sequential", "ModuleList", "ModuleDict", "Identity", "GELU", "SiLU", "LeakyReLU",
           "ELU", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "LayerNorm", "GroupNorm",
           "Embedding", "RNN", "GRU", "LSTM", "ConvTranspose1d", "Upsample", "init"]


def _join(prefix: str, name: str) -> str:
    """PyTorch's dotted names: "" + "0" is "0", "1" + "weight" is "1.weight"."""
    return f"{prefix}.{name}" if prefix else name


class Parameter(Tensor):
    """A Tensor that requires grad and that Modules collect as a learnable weight."""

    __slots__ = ()
    is_param = True

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models.

    Subclasses set attributes (Parameters, Modules, lists/dicts of them, and numpy arrays named
    in `_buffers` for non-learned state such as running means) and define `forward`. Calling a
    module runs forward; the first call also gives each parameter its dotted name, which graph
    drawings show (tg.draw(model(x)))."""

    training = True
    _buffers: tuple[str, ...] = ()
    _named = False

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        if not self._named:
            for name, p in self.named_parameters():
                if p.name is None:  # the outermost module runs first and names everything
                    p.name = name
            self._named = True
        out = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", ())):
            result = hook(self, args, out)
            if result is not None:  # as PyTorch: a returned value replaces the output
                out = result
        return out

    def register_forward_hook(self, fn) -> RemovableHandle:
        """Call fn(module, inputs, output) after every forward of this module (to read its
        activations); a returned value replaces the output. `.remove()` on the handle."""
        hooks = self.__dict__.setdefault("_forward_hooks", [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    # -- walking the tree
    def _children(self) -> Iterator[tuple[str, object]]:
        """(name, value) of attributes that may hold parameters, buffers or modules."""
        for name, v in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(v, (list, tuple)):
                yield from ((f"{name}.{i}", x) for i, x in enumerate(v))
            elif isinstance(v, dict):
                yield from ((f"{name}.{k}", x) for k, x in v.items())
            else:
                yield name, v

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every submodule, each once, with
        PyTorch's names ("0", "1.0", "fc")."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(_join(name, n), v) for n, v in m._children() if isinstance(v, Module)]
            stack.extend(reversed(kids))

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct submodules."""
        yield from ((n, v) for n, v in self._children() if isinstance(v, Module))

    def children(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def apply(self, fn) -> Module:
        """Call fn(module) on every submodule, children first, then on this one (as PyTorch,
        e.g. to initialise weights); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter), each shared parameter once, under its first name."""
        seen = set()
        for prefix, m in self.named_modules():
            for name, v in m._children():
                if isinstance(v, Parameter) and id(v) not in seen:
                    seen.add(id(v))
                    yield _join(prefix, name), v

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, m in self.named_modules():
            for name in m._buffers:
                yield _join(prefix, name), getattr(m, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # -- modes and gradients
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- state
    def state_dict(self) -> OrderedDict:
        """name -> a copy of every parameter and buffer."""
        out = OrderedDict((n, p.data.copy()) for n, p in self.named_parameters())
        out.update((n, np.array(b, copy=True)) for n, b in self.named_buffers())
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers in place (optimizers keep working).

        strict=True raises ValueError listing missing and unexpected keys; a shape mismatch
        always raises."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys "
                             f"{unexpected}")
        checked = {}  # every entry is checked before any is copied: a failed load changes nothing
        for k in own:
            if k in state:
                try:
                    value = np.asarray(state[k].data if isinstance(state[k], Tensor) else state[k])
                except (TypeError, ValueError) as e:
                    raise ValueError(f"load_state_dict: {k}: not an array: {e}") from None
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"load_state_dict: {k}: holds {value.dtype}, not numbers")
                if value.shape != np.shape(_array(own[k])):
                    raise ValueError(f"load_state_dict: shape mismatch for {k}: checkpoint "
                                     f"{value.shape} vs model {np.shape(_array(own[k]))}")
                checked[k] = value
        for k, value in checked.items():
            _array(own[k])[...] = value
        return IncompatibleKeys(missing, unexpected)

    def to(self, dtype=None, device=None) -> Module:
        """model.to(np.float64) casts every parameter and buffer in place (their Parameter
        objects stay, so build the optimizer after); model.to("cpu") is the model itself."""
        if isinstance(dtype, str) and device is None:
            dtype, device = None, dtype
        if device is not None and str(device) != "cpu":
            raise ValueError(f"{type(self).__name__}.to: device {device!r}: tinygrad1d runs on "
                             "the CPU only")
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
                raise TypeError(f"{type(self).__name__}.to: dtype must be float32 or float64, "
                                f"got {dtype}")
            for _, p in self.named_parameters():
                p.data, p.grad = p.data.astype(dtype), None
            for m in self.modules():
                for name in m._buffers:
                    setattr(m, name, np.asarray(getattr(m, name)).astype(dtype))
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def __repr__(self) -> str:
        kids = [(n, v) for n, v in self._children() if isinstance(v, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        body = "".join(f"\n  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in kids)
        return head + body + "\n)"

    def extra_repr(self) -> str:
        return ""


def _array(v) -> np.ndarray:
    return v.data if isinstance(v, Tensor) else v


def _params(init_name, w_shape, b_shape):
    """(weight, bias or None) Parameters drawn by an initializer."""
    ini = init.get(init_name)
    w = Parameter(ini.W(w_shape))
    return w, (Parameter(ini.B(b_shape)) if b_shape else None)


# ================================================================== layers with weights


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

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding=0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 init="xavier"):
        op = "Conv1d"
        in_channels = F.check_int(in_channels, op, "in_channels", 1)
        out_channels = F.check_int(out_channels, op, "out_channels", 1)
        kernel_size, stride, _, dilation, groups = F.conv_args(op, kernel_size, stride, padding,
                                                               dilation, groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.groups = dilation, groups
        self.weight, self.bias = _params(init, (out_channels, in_channels // groups, kernel_size),
                                         (out_channels,) if bias else None)

    def forward(self, x):
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

    _buffers = ("running_mean", "running_var")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, get_default_dtype())) if affine else None
        self.bias = Parameter(np.zeros(num_features, get_default_dtype())) if affine else None
        self.running_mean = np.zeros(num_features, np.float64)
        self.running_var = np.ones(num_features, np.float64)

    def forward(self, x):
        x = as_tensor(x, type(self).__name__)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class LayerNorm(Module):
    """Normalise over the trailing normalized_shape axes, with learned weight (ones) and
    bias (zeros) of that shape, as torch.nn.LayerNorm."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        many = not isinstance(normalized_shape, (int, np.integer))
        shape = tuple(normalized_shape) if many else (normalized_shape,)
        if not shape or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be sizes >= 1, got "
                             f"{normalized_shape!r}")
        self.normalized_shape, self.eps = shape, eps
        dt = get_default_dtype()
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine else None

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


# ================================================================== recurrent layers


class _Recurrent(Module):
    """RNN, GRU and LSTM as expressions of the primitives: per layer and direction, one
    matmul projects every time step's input at once, then each step is a cell (drawn as
    one box with collapse=True). PyTorch's arguments, gate order, parameter names
    (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse), U(-1/sqrt(H),
    1/sqrt(H)) initialisation and return values; input (L, N, H_in), (N, L, H_in) with
    batch_first, or unbatched (L, H_in)."""

    gates = 1  # rows of weight_ih per hidden unit: 1 (RNN), 3 (GRU), 4 (LSTM)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False):
        name = type(self).__name__
        self.input_size = F.check_int(input_size, name, "input_size", 1)
        self.hidden_size = h = F.check_int(hidden_size, name, "hidden_size", 1)
        self.num_layers = F.check_int(num_layers, name, "num_layers", 1)
        self.dropout = F.dropout_p(dropout, name)
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.directions = 2 if bidirectional else 1
        bound, dt = 1 / np.sqrt(h), get_default_dtype()
        for layer in range(self.num_layers):
            inputs = self.input_size if layer == 0 else h * self.directions
            for suffix in ("", "_reverse")[:self.directions]:
                shapes = {"weight_ih": (self.gates * h, inputs), "weight_hh": (self.gates * h, h)}
                if bias:
                    shapes.update(bias_ih=(self.gates * h,), bias_hh=(self.gates * h,))
                for kind, shape in shapes.items():
                    values = default_rng().uniform(-bound, bound, shape).astype(dt)
                    setattr(self, f"{kind}_l{layer}{suffix}", Parameter(values))

    def _weights(self, layer: int, reverse: bool) -> tuple:
        suffix = f"l{layer}{'_reverse' if reverse else ''}"
        return tuple(getattr(self, f"{k}_{suffix}", None)
                     for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def forward(self, x, hx=None):
        name = type(self).__name__
        x = as_tensor(x, name)
        unbatched = x.ndim == 2
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input (L, N, {self.input_size}) (batch_first: "
                             f"(N, L, {self.input_size})) or (L, {self.input_size}), got "
                             f"{x.shape}")
        x = x.unsqueeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        states = self._initial(hx, x.shape[1], unbatched, x.dtype)
        out, last = x, []
        for layer in range(self.num_layers):
            runs = [self._run(out, layer, d == 1, states[layer * self.directions + d])
                    for d in range(self.directions)]
            out = F.cat([r[0] for r in runs], axis=2) if self.directions == 2 else runs[0][0]
            last += [r[1] for r in runs]
            if self.dropout and self.training and layer < self.num_layers - 1:
                out = F.dropout(out, self.dropout)
        out = out.squeeze(1) if unbatched else (out.transpose(0, 1) if self.batch_first else out)
        return out, self._final(last, unbatched)

    def _initial(self, hx, n: int, unbatched: bool, dtype) -> list:
        """One initial state per layer and direction: zeros, or slices of the given hx."""
        batch = () if unbatched else (n,)
        shape = (self.num_layers * self.directions,) + batch + (self.hidden_size,)
        if hx is None:  # the input has a batch axis by now, of 1 if it came unbatched
            zero = Tensor(np.zeros((n, self.hidden_size), dtype))
            return [self._pack(zero, zero) for _ in range(shape[0])]
        parts = hx if isinstance(hx, tuple) else (hx,)
        parts = [as_tensor(p, type(self).__name__, "hx") for p in parts]
        for p in parts:
            if p.shape != shape:
                raise ValueError(f"{type(self).__name__}: hidden state of shape {p.shape}, "
                                 f"expected {shape}")
        if unbatched:
            parts = [p.unsqueeze(1) for p in parts]
        return [self._pack(*(p[i] for p in parts)) for i in range(shape[0])]

    @staticmethod
    def _pack(h, c=None):
        return h

    def _final(self, last: list, unbatched: bool):
        h_n = F.stack(last, 0)
        return h_n.squeeze(1) if unbatched else h_n

    def _run(self, x, layer: int, reverse: bool, state):
        """One direction of one layer over the sequence: (outputs (L, N, H), last state)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, reverse)
        projected = x @ w_ih.transpose()  # (L, N, H_in) -> (L, N, G*H): every step at once
        if b_ih is not None:
            projected = projected + b_ih
        inputs, b_step = self._inputs(projected, b_hh)
        w_t = w_hh.transpose()  # once: the engine sums its gradient over the steps
        outs = [None] * x.shape[0]
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            with scope(f"{type(self).__name__.lower()}_cell", layer=layer, step=t,
                       reverse=reverse):
                state = self.cell(tuple(s[t] for s in inputs), self._last(state) @ w_t,
                                  state, b_step)
            outs[t] = self._last(state)
        return F.stack(outs, 0), state

    def _inputs(self, projected, b_hh) -> tuple:
        """The per-step inputs as whole sequences, and what stays to add at each step. A bias
        that is only added (all of RNN's and LSTM's b_hh) is added to every step at once
        here: each op saved per step is saved L times per direction."""
        return (projected if b_hh is None else projected + b_hh,), None

    @staticmethod
    def _last(state):
        return state


class RNN(_Recurrent):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (nonlinearity="relu": relu)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)

    def cell(self, gi, gh, h, _):
        z = gi[0] + gh
        return z.tanh() if self.nonlinearity == "tanh" else z.relu()


class GRU(_Recurrent):
    """r = s(..r), z = s(..z), n = tanh(gi_n + r * gh_n), h' = (1 - z) n + z h (gates r, z, n)."""

    gates = 3

    def _inputs(self, projected, b_hh) -> tuple:
        # b_hr and b_hz only add, so they join the input projection once; b_hn is scaled by
        # r inside n's gate and stays per step
        k = self.hidden_size
        rz, n = projected[..., :2 * k], projected[..., 2 * k:]
        return (rz if b_hh is None else rz + b_hh[:2 * k], n), (
            None if b_hh is None else b_hh[2 * k:])

    def cell(self, gi, gh, h, b_hn):
        k = self.hidden_size
        rz = (gi[0] + gh[:, :2 * k]).sigmoid()  # r and z in one op: (N, 2H)
        gh_n = gh[:, 2 * k:] if b_hn is None else gh[:, 2 * k:] + b_hn
        n = (gi[1] + rz[:, :k] * gh_n).tanh()
        return n + rz[:, k:] * (h - n)


class LSTM(_Recurrent):
    """Gates i, f, g, o: c' = f c + i g, h' = o tanh(c'); returns (output, (h_n, c_n))."""

    gates = 4

    @staticmethod
    def _pack(h, c=None):
        return (h, h if c is None else c)

    @staticmethod
    def _last(state):
        return state[0]

    def _final(self, last: list, unbatched: bool):
        h_n, c_n = F.stack([s[0] for s in last], 0), F.stack([s[1] for s in last], 0)
        return (h_n.squeeze(1), c_n.squeeze(1)) if unbatched else (h_n, c_n)

    def cell(self, gi, gh, state, _):
        k, c = self.hidden_size, state[1]
        g = gi[0] + gh
        i, f = g[:, :k].sigmoid(), g[:, k:2 * k].sigmoid()
        cand, o = g[:, 2 * k:3 * k].tanh(), g[:, 3 * k:].sigmoid()
        c = f * c + i * cand
        return (o * c.tanh(), c)


# ================================================================== layers without weights


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
    """Merge the axes from start_axis on: (N, C, L) -> (N, C*L)."""

    def __init__(self, start_axis: int = 1):
        self.start_axis = start_axis

    def forward(self, x):
        return x.flatten(self.start_axis)


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
    """Max over sliding windows; arguments in PyTorch's order."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 dilation: int = 1, ceil_mode: bool = False):
        self._set(kernel_size, stride, padding, dilation, ceil_mode)

    def forward(self, x):
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode)


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


class _Loss(Module):
    """loss(input, target) with PyTorch's reduction= ("mean", "sum", "none")."""

    fn = staticmethod(lambda x, t, **kw: x)

    def __init__(self, reduction: str = "mean", **kwargs):
        self.reduction = F.check_reduction(reduction, type(self).__name__)  # now, not at forward
        self.kwargs = kwargs

    def forward(self, input, target):
        return type(self).fn(input, target, reduction=self.reduction, **self.kwargs)


class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    fn = staticmethod(F.l1_loss)


class NLLLoss(_Loss):
    fn = staticmethod(F.nll_loss)


class CrossEntropyLoss(_Loss):
    fn = staticmethod(F.cross_entropy)

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction, label_smoothing=label_smoothing)


class BCELoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction, pos_weight=pos_weight)


class ModuleList(Module):
    """A list of modules, registered as submodules "0", "1", ... (not callable itself)."""

    def __init__(self, modules=()):
        self._list: list[Module] = []
        self.extend(modules)

    def _children(self):
        return ((str(i), m) for i, m in enumerate(self._list))

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: {type(module).__name__} is not a Module")
        self._list.append(module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        return ModuleList(self._list[i]) if isinstance(i, slice) else self._list[i]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self):
        return iter(self._list)


class ModuleDict(Module):
    """A dict of modules, registered under their keys (not callable itself)."""

    def __init__(self, modules=None):
        self._dict: dict[str, Module] = {}
        for k, m in (modules or {}).items():
            self[k] = m

    def _children(self):
        return iter(self._dict.items())

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not isinstance(module, Module):
            raise TypeError(f"ModuleDict: needs str keys and Module values, got "
                            f"{type(key).__name__} -> {type(module).__name__}")
        self._dict[key] = module

    def __getitem__(self, key: str) -> Module:
        return self._dict[key]

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self):
        return iter(self._dict)

    def __contains__(self, key) -> bool:
        return key in self._dict

    def keys(self):
        return self._dict.keys()

    def values(self):
        return self._dict.values()

    def items(self):
        return self._dict.items()


class Sequential(Module):
    """Layers applied in order; indexable (model[0], model[1:]) and named "0", "1", ..."""

    def __init__(self, *layers: Module):
        for i, m in enumerate(layers):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(m).__name__}, not a Module")
        self._layers = list(layers)

    def _children(self):
        return ((str(i), m) for i, m in enumerate(self._layers))

    def forward(self, x):
        for m in self._layers:
            x = m(x)
        return x

    def __getitem__(self, i):
        return Sequential(*self._layers[i]) if isinstance(i, slice) else self._layers[i]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: {type(layer).__name__} is not a Module")
        self._layers.append(layer)
        return self


utils = _nn_utils  # torch.nn.utils's spelling: nn.utils.clip_grad_norm_(...)
sys.modules[__name__ + ".utils"] = _nn_utils  # and import tinygrad1d.nn.utils
