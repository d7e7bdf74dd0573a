"""Recurrent layers, RNN, GRU and LSTM, as expressions of the primitives."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor import Tensor, as_tensor, default_rng, get_default_dtype, scope
from .module import Module, Parameter


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

    def extra_repr(self):  # as torch's: the sizes, then what differs from the defaults
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False}
        changed = [f"{k}={getattr(self, k)}" for k, d in defaults.items() if getattr(self, k) != d]
        return ", ".join([f"{self.input_size}, {self.hidden_size}"] + changed)


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
