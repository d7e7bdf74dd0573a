"""The Tensor surface against PyTorch: everyday idioms typed as in PyTorch, with `tg` for
`torch`, run in both libraries on the same data. Each must give the same values, the same
dtype, the same requires_grad and, where PyTorch's result is differentiable, the same
gradient for a random upstream gradient. Then in-place operations, checked the same way, and
the errors PyTorch raises. docs/pytorch.md lists what differs on purpose.

tests/test_pytorch_idioms.py holds the first set of idioms; this is the second, wider one
(function forms, in-place updates, integer and bool tensors, index ops, the newer layers).
"""
import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F

torch = pytest.importorskip("torch", reason="comparisons against PyTorch need torch "
                            "(pip install torch==2.13.0)")
TF = torch.nn.functional

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
X3 = RNG.standard_normal((2, 3, 5))
TIED = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, 2.0, 7.0, -1.0], [0.0, 0.0, 3.0, 3.0]])
STEPS = np.array([[-1.7, -0.5, 0.5, 1.5], [2.5, -2.5, 0.2, -0.8], [1.1, -1.1, 3.6, -3.4]])
IDX = np.array([[0, 3], [2, 2], [1, 0]])  # (3, 2): a gather/scatter index for X along dim 1
PERM = np.array([[3, 0, 1, 2], [0, 1, 2, 3], [2, 3, 0, 1]])  # no repeats: scatter is exact


def idx(m, a=IDX):
    """An index tensor as each library makes one from a list of ints: torch's int64, ours the
    default float (API.md) of whole numbers, which every index argument accepts."""
    return m.tensor(a.tolist())


def other(m, a=Y):
    return m.tensor(a, dtype=m.float64)


# name: (input data, idiom(m, f, nn, x)): m is tg or torch, f its functional, nn its nn
IDIOMS = {
    # torch's hardsigmoid backward multiplies by 1/6 rounded to float32 (1.0f / 6.0f), even in
    # float64, so its gradient differs from the exact 1/6 used here by up to 3e-8 relative:
    # the one idiom compared at that tolerance (GRAD_RTOL below)
    # -- function forms: torch.f(x, ...) is x.f(...)
    "tg.sum(x, 1)": (X, lambda m, f, nn, x: m.sum(x, 1)),
    "tg.sum(x, dim=0, keepdim=True)": (X, lambda m, f, nn, x: m.sum(x, dim=0, keepdim=True)),
    "tg.mean(x)": (X, lambda m, f, nn, x: m.mean(x)),
    "tg.mean(x, (0, 1))": (X, lambda m, f, nn, x: m.mean(x, (0, 1))),
    "tg.max(x, 1)[0]": (TIED, lambda m, f, nn, x: m.max(x, 1)[0]),
    "tg.max(x, 1).indices": (TIED, lambda m, f, nn, x: m.max(x, 1).indices),
    "tg.max(x)": (TIED, lambda m, f, nn, x: m.max(x)),
    "tg.max(x, y)": (X, lambda m, f, nn, x: m.max(x, other(m))),
    "tg.min(x, 0)[1]": (TIED, lambda m, f, nn, x: m.min(x, 0)[1]),
    "tg.min(x, 1, keepdim=True).values": (X, lambda m, f, nn, x: m.min(x, 1, keepdim=True).values),
    "tg.exp": (X, lambda m, f, nn, x: m.exp(x)),
    "tg.log": (X, lambda m, f, nn, x: m.log(x.abs() + 1)),
    "tg.sqrt": (X, lambda m, f, nn, x: m.sqrt(x.abs() + 1)),
    "tg.rsqrt": (X, lambda m, f, nn, x: m.rsqrt(x.abs() + 1)),
    "tg.tanh": (X, lambda m, f, nn, x: m.tanh(x)),
    "tg.sigmoid": (X, lambda m, f, nn, x: m.sigmoid(x)),
    "tg.relu": (X, lambda m, f, nn, x: m.relu(x)),
    "tg.abs": (X, lambda m, f, nn, x: m.abs(x)),
    "tg.neg": (X, lambda m, f, nn, x: m.neg(x)),
    "tg.sin": (X, lambda m, f, nn, x: m.sin(x)),
    "tg.cos": (X, lambda m, f, nn, x: m.cos(x)),
    "tg.tan": (X, lambda m, f, nn, x: m.tan(x)),
    "tg.sinh": (X, lambda m, f, nn, x: m.sinh(x)),
    "tg.cosh": (X, lambda m, f, nn, x: m.cosh(x)),
    "tg.erf": (X, lambda m, f, nn, x: m.erf(x)),
    "tg.expm1 of small x": (X * 1e-9, lambda m, f, nn, x: m.expm1(x)),
    "tg.log1p": (X, lambda m, f, nn, x: m.log1p(x.abs())),
    "tg.log2": (X, lambda m, f, nn, x: m.log2(x.abs() + 1)),
    "tg.log10": (X, lambda m, f, nn, x: m.log10(x.abs() + 1)),
    "tg.exp2": (X, lambda m, f, nn, x: m.exp2(x)),
    "tg.square": (X, lambda m, f, nn, x: m.square(x)),
    "tg.reciprocal": (X, lambda m, f, nn, x: m.reciprocal(x + 5)),
    "tg.pow(x, 3)": (X, lambda m, f, nn, x: m.pow(x, 3)),
    "tg.pow(base, x)": (X, lambda m, f, nn, x: m.pow(x.abs() + 1, x)),
    "tg.sign (zero gradient)": (STEPS, lambda m, f, nn, x: m.sign(x)),
    "tg.floor (zero gradient)": (STEPS, lambda m, f, nn, x: m.floor(x)),
    "tg.ceil": (STEPS, lambda m, f, nn, x: m.ceil(x)),
    "tg.round": (STEPS, lambda m, f, nn, x: m.round(x)),
    "tg.trunc": (STEPS, lambda m, f, nn, x: m.trunc(x)),
    "tg.frac": (STEPS, lambda m, f, nn, x: m.frac(x)),
    "tg.matmul(x, x.T)": (X, lambda m, f, nn, x: m.matmul(x, x.T)),
    "tg.mm": (X, lambda m, f, nn, x: m.mm(x, x.t())),
    "tg.bmm": (X3, lambda m, f, nn, x: m.bmm(x, x.transpose(1, 2))),
    "tg.mv": (X, lambda m, f, nn, x: m.mv(x, x[0])),
    "tg.dot": (X, lambda m, f, nn, x: m.dot(x[0], x[1])),
    "tg.outer": (X, lambda m, f, nn, x: m.outer(x[0], x[1])),
    "tg.topk(x, 2)[0]": (X, lambda m, f, nn, x: m.topk(x, 2)[0]),
    "tg.topk(x, 2, dim=0).indices": (X, lambda m, f, nn, x: m.topk(x, 2, dim=0).indices),
    "tg.sort(x, 1)[0]": (X, lambda m, f, nn, x: m.sort(x, 1)[0]),
    "tg.argsort(x, 1)": (X, lambda m, f, nn, x: m.argsort(x, 1)),
    "tg.argmax(x, 1)": (TIED, lambda m, f, nn, x: m.argmax(x, 1)),
    "tg.argmin(x)": (X, lambda m, f, nn, x: m.argmin(x)),
    "tg.softmax(x, 1)": (X, lambda m, f, nn, x: m.softmax(x, 1)),
    "tg.log_softmax(x, dim=0)": (X, lambda m, f, nn, x: m.log_softmax(x, dim=0)),
    "tg.clamp(x, -0.5, 0.5)": (X, lambda m, f, nn, x: m.clamp(x, -0.5, 0.5)),
    "tg.clamp(x, min=0)": (X, lambda m, f, nn, x: m.clamp(x, min=0)),
    "tg.clip(x, max=0.2)": (X, lambda m, f, nn, x: m.clip(x, max=0.2)),
    "tg.clamp with tensor bounds": (X, lambda m, f, nn, x: m.clamp(x, min=other(m) * 0.1)),
    "tg.transpose(x, 0, 1)": (X, lambda m, f, nn, x: m.transpose(x, 0, 1)),
    "tg.reshape(x, (4, 3))": (X, lambda m, f, nn, x: m.reshape(x, (4, 3))),
    "tg.flatten(x, 1)": (X3, lambda m, f, nn, x: m.flatten(x, 1)),
    "tg.squeeze": (X[None], lambda m, f, nn, x: m.squeeze(x)),
    "tg.unsqueeze(x, 0)": (X, lambda m, f, nn, x: m.unsqueeze(x, 0)),
    "tg.cumsum(x, 1)": (X, lambda m, f, nn, x: m.cumsum(x, 1)),
    "tg.prod(x, 1)": (X, lambda m, f, nn, x: m.prod(x, 1)),
    "tg.std(x, 1)": (X, lambda m, f, nn, x: m.std(x, 1)),
    "tg.var(x, 0, unbiased=False)": (X, lambda m, f, nn, x: m.var(x, 0, unbiased=False)),
    "tg.var(x, 1, correction=0)": (X, lambda m, f, nn, x: m.var(x, 1, correction=0)),
    "tg.norm(x)": (X, lambda m, f, nn, x: m.norm(x)),
    "tg.logsumexp(x, 1)": (X, lambda m, f, nn, x: m.logsumexp(x, 1)),
    "tg.gather(x, 1, index)": (X, lambda m, f, nn, x: m.gather(x, 1, idx(m))),
    "tg.add(x, y, alpha=2)": (X, lambda m, f, nn, x: m.add(x, x * 2, alpha=2)),
    "tg.sub(x, 1)": (X, lambda m, f, nn, x: m.sub(x, 1)),
    "tg.mul": (X, lambda m, f, nn, x: m.mul(x, x)),
    "tg.div": (X, lambda m, f, nn, x: m.div(x, 3)),
    "tg.true_divide": (X, lambda m, f, nn, x: m.true_divide(x, x.abs() + 1)),
    "tg.floor_divide": (X, lambda m, f, nn, x: m.floor_divide(x, 0.5)),
    "tg.remainder": (X, lambda m, f, nn, x: m.remainder(x, 0.7)),
    "tg.fmod": (X, lambda m, f, nn, x: m.fmod(x, 0.7)),
    "tg.flip(x, [0])": (X, lambda m, f, nn, x: m.flip(x, [0])),
    "tg.roll(x, 1, 0)": (X, lambda m, f, nn, x: m.roll(x, 1, 0)),
    "tg.chunk(x, 2, 1)[0]": (X, lambda m, f, nn, x: m.chunk(x, 2, 1)[0]),
    "tg.split(x, 3, 1)": (X, lambda m, f, nn, x: m.split(x, 3, 1)),
    "tg.unbind(x, 1)[2]": (X, lambda m, f, nn, x: m.unbind(x, 1)[2]),
    "tg.narrow(x, 1, 1, 2)": (X, lambda m, f, nn, x: m.narrow(x, 1, 1, 2)),
    "tg.index_select(x, 1, index)": (X, lambda m, f, nn, x: m.index_select(
        x, 1, idx(m, np.array([3, 0, 3])))),
    "tg.masked_fill": (X, lambda m, f, nn, x: m.masked_fill(x, x > 0, 0.0)),
    "tg.masked_select": (X, lambda m, f, nn, x: m.masked_select(x, x > 0)),
    "tg.where(x > 0, x, 0.0)": (X, lambda m, f, nn, x: m.where(x > 0, x, 0.0)),
    "tg.where(x > 0, x, y)": (X, lambda m, f, nn, x: m.where(x > 0, x, x * 2)),
    "tg.numel": (X, lambda m, f, nn, x: m.numel(x)),
    "tg.isnan": (X, lambda m, f, nn, x: m.isnan(x)),
    "tg.all": (X, lambda m, f, nn, x: m.all(x > -5)),
    "tg.any(x, dim)": (X, lambda m, f, nn, x: m.any(x > 1, 1)),
    "tg.maximum": (X, lambda m, f, nn, x: m.maximum(x, other(m))),
    "tg.minimum": (X, lambda m, f, nn, x: m.minimum(x, other(m))),
    "tg.amax(x, 1)": (TIED, lambda m, f, nn, x: m.amax(x, 1)),
    "tg.amin(x, 0)": (TIED, lambda m, f, nn, x: m.amin(x, 0)),
    "tg.t": (X, lambda m, f, nn, x: m.t(x)),
    "tg.permute(x, (2, 0, 1))": (X3, lambda m, f, nn, x: m.permute(x, (2, 0, 1))),
    "tg.movedim(x, 0, 2)": (X3, lambda m, f, nn, x: m.movedim(x, 0, 2)),
    "tg.swapaxes(x, 0, 2)": (X3, lambda m, f, nn, x: m.swapaxes(x, 0, 2)),
    "tg.tril(x)": (X, lambda m, f, nn, x: m.tril(x)),
    "tg.triu(x, 1)": (X, lambda m, f, nn, x: m.triu(x, 1)),
    "tg.lerp": (X, lambda m, f, nn, x: m.lerp(x, x.exp(), 0.3)),
    "tg.addcmul": (X, lambda m, f, nn, x: m.addcmul(x, x, x, value=0.5)),
    "tg.addcdiv": (X, lambda m, f, nn, x: m.addcdiv(x, x, x.abs() + 1, value=2)),
    "tg.count_nonzero": (X, lambda m, f, nn, x: m.count_nonzero(x > 0)),
    "tg.median(x)": (X, lambda m, f, nn, x: m.median(x)),
    "tg.median(x, 1)[0]": (X, lambda m, f, nn, x: m.median(x, 1)[0]),
    "tg.median(x, 0).indices": (X, lambda m, f, nn, x: m.median(x, 0).indices),
    "tg.repeat_interleave(x, 2, dim=0)": (X, lambda m, f, nn, x: m.repeat_interleave(x, 2, 0)),
    "tg.unflatten(x, 1, (2, 2))": (X, lambda m, f, nn, x: m.unflatten(x, 1, (2, 2))),
    "tg.eq": (TIED, lambda m, f, nn, x: m.eq(x, x.flip(0))),
    "tg.logical_and": (X, lambda m, f, nn, x: m.logical_and(x > 0, x < 1)),
    "tg.logical_not": (X, lambda m, f, nn, x: m.logical_not(x > 0)),
    "tg.scatter_add": (X, lambda m, f, nn, x: m.scatter_add(x, 1, idx(m), x[:, :2] * 2)),
    "tg.equal": (X, lambda m, f, nn, x: m.equal(x, x * 1)),
    "tg.allclose": (X, lambda m, f, nn, x: m.allclose(x, x + 1e-9)),
    "tg.zeros_like": (X, lambda m, f, nn, x: m.zeros_like(x)),
    "tg.ones_like": (X, lambda m, f, nn, x: m.ones_like(x)),
    "tg.full_like": (X, lambda m, f, nn, x: m.full_like(x, 3.0)),
    "tg.cat([x, y], dim=1)": (X, lambda m, f, nn, x: m.cat([x, x.exp()], dim=1)),
    "tg.stack((x, y))": (X, lambda m, f, nn, x: m.stack((x, x.tanh()))),
    "tg.is_tensor": (X, lambda m, f, nn, x: (m.is_tensor(x), m.is_tensor([1.0]))),
    # -- comparisons and logic: bool tensors
    "x.eq(0)": (TIED, lambda m, f, nn, x: x.eq(0)),
    "x.ne(y)": (X, lambda m, f, nn, x: x.ne(x * 2)),
    "x.lt(0)": (X, lambda m, f, nn, x: x.lt(0)),
    "x.le(0)": (TIED, lambda m, f, nn, x: x.le(0)),
    "x.gt(0)": (X, lambda m, f, nn, x: x.gt(0)),
    "x.ge(y)": (X, lambda m, f, nn, x: x.ge(other(m))),
    "(x > 0) & (x < 1)": (X, lambda m, f, nn, x: (x > 0) & (x < 1)),
    "(x > 0) | (x < -1)": (X, lambda m, f, nn, x: (x > 0) | (x < -1)),
    "(x > 0) ^ (x > 1)": (X, lambda m, f, nn, x: (x > 0) ^ (x > 1)),
    "~(x > 0)": (X, lambda m, f, nn, x: ~(x > 0)),
    "x.logical_not()": (X, lambda m, f, nn, x: x.logical_not()),
    "x.isfinite()": (X, lambda m, f, nn, x: x.isfinite()),
    "x.all()": (X, lambda m, f, nn, x: x.all()),
    "x.any(dim=1)": (X, lambda m, f, nn, x: x.any(dim=1)),
    "(x > 0).sum()": (X, lambda m, f, nn, x: (x > 0).sum()),
    "(x > 0).float().mean()": (X, lambda m, f, nn, x: (x > 0).float().mean()),
    "(argmax == labels).sum().item()": (X, lambda m, f, nn, x: (
        x.argmax(1) == m.tensor([3, 0, 1])).sum().item()),
    # -- dtypes and conversions
    "x.float()": (X, lambda m, f, nn, x: x.float()),
    "x.double()": (X, lambda m, f, nn, x: x.double()),
    "x.long()": (X * 3, lambda m, f, nn, x: x.long()),
    "x.int()": (X * 3, lambda m, f, nn, x: x.int()),
    "x.bool()": (TIED, lambda m, f, nn, x: x.bool()),
    "x.to(tg.float32)": (X, lambda m, f, nn, x: x.to(m.float32)),
    "x.to(dtype=tg.float32)": (X, lambda m, f, nn, x: x.to(dtype=m.float32)),
    "x.to('cpu')": (X, lambda m, f, nn, x: x.to("cpu")),
    "x.type(tg.float32)": (X, lambda m, f, nn, x: x.type(m.float32)),
    "x.type_as(y)": (X, lambda m, f, nn, x: x.type_as(m.zeros(1))),
    "x.dtype == tg.float64": (X, lambda m, f, nn, x: x.dtype == m.float64),
    "(x > 0).dtype == tg.bool": (X, lambda m, f, nn, x: (x > 0).dtype == m.bool),
    "x.long().dtype == tg.int64": (X, lambda m, f, nn, x: x.long().dtype == m.int64),
    "tg.zeros(2, dtype=tg.float64)": (X, lambda m, f, nn, x: m.zeros(2, dtype=m.float64)),
    "tg.tensor(ints, dtype=tg.int64) + 1": (X, lambda m, f, nn, x: m.tensor(
        [1, 2], dtype=m.int64) + 1),
    "int tensor * 2.5": (X, lambda m, f, nn, x: m.tensor([1, 2], dtype=m.int64) * 2.5),
    "tg.arange(5, dtype=tg.int64)": (X, lambda m, f, nn, x: m.arange(5, dtype=m.int64)),
    "x.new_zeros(2, 3)": (X, lambda m, f, nn, x: x.new_zeros(2, 3)),
    "x.new_ones((2,))": (X, lambda m, f, nn, x: x.new_ones((2,))),
    "x.new_full((2,), 3.0)": (X, lambda m, f, nn, x: x.new_full((2,), 3.0)),
    "x.new_tensor([1.0, 2.0])": (X, lambda m, f, nn, x: x.new_tensor([1.0, 2.0])),
    "x.new_empty(2, 3).shape": (X, lambda m, f, nn, x: tuple(x.new_empty(2, 3).shape)),
    "x.is_floating_point()": (X, lambda m, f, nn, x: (x.is_floating_point(),
                                                      x.long().is_floating_point())),
    "x.element_size()": (X, lambda m, f, nn, x: x.element_size()),
    "x.item() of a sum": (X, lambda m, f, nn, x: x.sum().item()),
    "float(x.sum())": (X, lambda m, f, nn, x: float(x.sum())),
    "int(x.argmax())": (X, lambda m, f, nn, x: int(x.argmax())),
    "x.tolist()": (X, lambda m, f, nn, x: x.tolist()),
    "x.size(), x.size(1), x.shape": (X, lambda m, f, nn, x: (tuple(x.size()), x.size(1),
                                                            tuple(x.shape))),
    "len(x), x.dim(), x.ndim, x.numel()": (X, lambda m, f, nn, x: (len(x), x.dim(), x.ndim,
                                                                    x.numel())),
    "x.is_leaf, x.requires_grad": (X, lambda m, f, nn, x: (x.is_leaf, x.requires_grad,
                                                          (x * 2).is_leaf)),
    "f'{loss:.4f}'": (X, lambda m, f, nn, x: f"{x.sum():.4f}"),
    "[row.sum() for row in x]": (X, lambda m, f, nn, x: m.stack([row.sum() for row in x])),
    "x[x.argmax()] as an index": (X.reshape(-1), lambda m, f, nn, x: x[x.argmax()]),
    "x.clone()": (X, lambda m, f, nn, x: x.clone()),
    "x.detach()": (X, lambda m, f, nn, x: x.detach()),
    "x.contiguous()": (X, lambda m, f, nn, x: x.t().contiguous()),
    # -- shape and indexing
    "x.view_as(y)": (X, lambda m, f, nn, x: x.view_as(m.zeros(4, 3))),
    "x.reshape_as(y)": (X, lambda m, f, nn, x: x.reshape_as(m.zeros(2, 6))),
    "x.index_select(0, index)": (X, lambda m, f, nn, x: x.index_select(
        0, idx(m, np.array([2, 0, 2])))),
    "x.narrow(1, 0, 2)": (X, lambda m, f, nn, x: x.narrow(1, 0, 2)),
    "x.narrow(0, -2, 2)": (X, lambda m, f, nn, x: x.narrow(0, -2, 2)),
    "x.unbind(1)[0]": (X, lambda m, f, nn, x: x.unbind(1)[0]),
    "x.unbind()": (X, lambda m, f, nn, x: x.unbind()),
    "x.gather(1, index)": (X, lambda m, f, nn, x: x.gather(1, idx(m))),
    "x.gather(1, tg.tensor([[0, 1]]))": (X, lambda m, f, nn, x: x.gather(1, m.tensor([[0, 1]]))),
    "x.gather(dim=0, index=...)": (X, lambda m, f, nn, x: x.gather(
        dim=0, index=idx(m, np.array([[2, 0, 1, 1]])))),
    "x.gather(1, index=...)": (X, lambda m, f, nn, x: x.gather(1, index=idx(m))),
    "x.gather with int64 index": (X, lambda m, f, nn, x: x.gather(
        1, m.tensor(IDX.tolist(), dtype=m.int64))),
    "x.scatter_add(1, index, src)": (X, lambda m, f, nn, x: x.scatter_add(1, idx(m),
                                                                           x[:, 1:3] * 2)),
    "x.scatter_add(0, ...) repeats add up": (X, lambda m, f, nn, x: x.scatter_add(
        0, idx(m, np.array([[0, 0, 0, 0], [0, 2, 0, 2]])), x[:2].exp())),
    "x.scatter_add with a larger constant src": (X, lambda m, f, nn, x: x.scatter_add(
        1, idx(m), m.ones(3, 4, dtype=m.float64))),
    "x.scatter(1, perm, src)": (X, lambda m, f, nn, x: x.scatter(1, idx(m, PERM), x * 3)),
    "x.scatter(1, index, 1.5)": (X, lambda m, f, nn, x: x.scatter(1, idx(m), 1.5)),
    "x.index_add(0, index, src)": (X, lambda m, f, nn, x: x.index_add(
        0, idx(m, np.array([0, 2, 0])), x * 2)),
    "x.masked_select(x > 0)": (X, lambda m, f, nn, x: x.masked_select(x > 0)),
    "x.unflatten(1, (2, 2))": (X, lambda m, f, nn, x: x.unflatten(1, (2, 2))),
    "x.unflatten(1, (-1, 2))": (X, lambda m, f, nn, x: x.unflatten(1, (-1, 2))),
    "x.movedim(0, 1)": (X3, lambda m, f, nn, x: x.movedim(0, 1)),
    "x.movedim((0, 1), (2, 0))": (X3, lambda m, f, nn, x: x.movedim((0, 1), (2, 0))),
    "x.swapdims(0, 1)": (X, lambda m, f, nn, x: x.swapdims(0, 1)),
    "x.squeeze(dim=0)": (X[None], lambda m, f, nn, x: x.squeeze(dim=0)),
    "x.repeat_interleave(2)": (X, lambda m, f, nn, x: x.repeat_interleave(2)),
    "x.repeat_interleave(counts, dim=1)": (X, lambda m, f, nn, x: x.repeat_interleave(
        m.tensor([1, 0, 2, 1]), dim=1)),
    "x.tril()": (X, lambda m, f, nn, x: x.tril()),
    "x.triu(-1)": (X, lambda m, f, nn, x: x.triu(-1)),
    "x.expand(2, 3, 4)": (X, lambda m, f, nn, x: x.expand(2, 3, 4)),
    "x.repeat(1, 2)": (X, lambda m, f, nn, x: x.repeat(1, 2)),
    "x.flip(dims=[1])": (X, lambda m, f, nn, x: x.flip(dims=[1])),
    "x.flip(0, 1)": (X, lambda m, f, nn, x: x.flip(0, 1)),
    "x.roll(shifts=1, dims=0)": (X, lambda m, f, nn, x: x.roll(shifts=1, dims=0)),
    "x.chunk(2)[1]": (X, lambda m, f, nn, x: x.chunk(2)[1]),
    "x.split([1, 2])[0]": (X, lambda m, f, nn, x: x.split([1, 2])[0]),
    "x[..., None]": (X, lambda m, f, nn, x: x[..., None]),
    "x[:, -1]": (X, lambda m, f, nn, x: x[:, -1]),
    "x[[0, 2], 1:]": (X, lambda m, f, nn, x: x[[0, 2], 1:]),
    "x[index_tensor]": (X, lambda m, f, nn, x: x[m.tensor([2, 0, 2], dtype=m.int64)]),
    "x[mask_rows]": (X, lambda m, f, nn, x: x[x[:, 0] > 0]),
    "x.T @ x": (X, lambda m, f, nn, x: x.T @ x),
    # -- arithmetic methods
    "x.add(y, alpha=0.5)": (X, lambda m, f, nn, x: x.add(x.exp(), alpha=0.5)),
    "x.sub(1)": (X, lambda m, f, nn, x: x.sub(1)),
    "x.mul(2)": (X, lambda m, f, nn, x: x.mul(2)),
    "x.div(y, rounding_mode='floor')": (X, lambda m, f, nn, x: x.div(0.3, rounding_mode="floor")),
    "x.div(y, rounding_mode='trunc')": (X, lambda m, f, nn, x: x.div(0.3, rounding_mode="trunc")),
    "x.pow(2)": (X, lambda m, f, nn, x: x.pow(2)),
    "x.square()": (X, lambda m, f, nn, x: x.square()),
    "x.rsqrt()": (X, lambda m, f, nn, x: (x.abs() + 1).rsqrt()),
    "x.reciprocal()": (X, lambda m, f, nn, x: (x + 5).reciprocal()),
    "x.expm1()": (X, lambda m, f, nn, x: x.expm1()),
    "x.neg(), x.negative()": (X, lambda m, f, nn, x: x.neg() * 2 + x.negative()),
    "x.softmax(1)": (X, lambda m, f, nn, x: x.softmax(1)),
    "x.log_softmax(dim=1)": (X, lambda m, f, nn, x: x.log_softmax(dim=1)),
    "x.clamp_min(0)": (X, lambda m, f, nn, x: x.clamp_min(0)),
    "x.clamp_max(0.5)": (X, lambda m, f, nn, x: x.clamp_max(0.5)),
    "x.argsort(dim=1)": (X, lambda m, f, nn, x: x.argsort(dim=1)),
    "x.argsort(descending=True)": (X, lambda m, f, nn, x: x.argsort(descending=True)),
    "x.median()": (X, lambda m, f, nn, x: x.median()),
    "x.std(unbiased=False)": (X, lambda m, f, nn, x: x.std(unbiased=False)),
    "x.std(1, True)": (X, lambda m, f, nn, x: x.std(1, True)),
    "x.var(1, keepdim=True)": (X, lambda m, f, nn, x: x.var(1, keepdim=True)),
    "x.max(1)[0]": (TIED, lambda m, f, nn, x: x.max(1)[0]),
    "x.max(1, keepdim=True)[0]": (TIED, lambda m, f, nn, x: x.max(1, keepdim=True)[0]),
    "x.min(1)[0]": (TIED, lambda m, f, nn, x: x.min(1)[0]),
    "x.min(1).indices": (TIED, lambda m, f, nn, x: x.min(1).indices),
    "values, indices = x.max(1)": (X, lambda m, f, nn, x: tuple(x.max(1))),
    "x.where(x > 0, y)": (X, lambda m, f, nn, x: x.where(x > 0, x * 2)),
    "x.where(cond, 0.0)": (X, lambda m, f, nn, x: x.where(x > 0, 0.0)),
    "x.mm(x.t())": (X, lambda m, f, nn, x: x.mm(x.t())),
    "x.mv(v)": (X, lambda m, f, nn, x: x.mv(x[0])),
    "x.bmm(y)": (X3, lambda m, f, nn, x: x.bmm(x.transpose(1, 2))),
    "x.sum(dtype=tg.float32)": (X, lambda m, f, nn, x: x.sum(dtype=m.float32)),
    "x.prod()": (X, lambda m, f, nn, x: x.prod()),
    "x.cumsum(0)": (X, lambda m, f, nn, x: x.cumsum(0)),
    "x.norm(p=1)": (X, lambda m, f, nn, x: x.norm(p=1)),
    "x.norm(dim=1, p=2)": (X, lambda m, f, nn, x: x.norm(dim=1, p=2)),
    "x.logsumexp(0)": (X, lambda m, f, nn, x: x.logsumexp(0)),
    "x.count_nonzero()": (X, lambda m, f, nn, x: (x > 0).count_nonzero()),
    "x.amax((0, 1))": (TIED, lambda m, f, nn, x: x.amax((0, 1))),
    "x.amin(dim=1, keepdim=True)": (TIED, lambda m, f, nn, x: x.amin(dim=1, keepdim=True)),
    "x.sign() * x": (STEPS, lambda m, f, nn, x: x.sign() * x),
    "x.floor() + x": (STEPS, lambda m, f, nn, x: x.floor() + x),
    "x.round().sum() (zero gradient)": (STEPS, lambda m, f, nn, x: x.round().sum()),
    "x.frac()": (STEPS, lambda m, f, nn, x: x.frac()),
    "x.unique()": (np.round(X), lambda m, f, nn, x: x.unique()),
    "x.unique(return_counts=True)": (np.round(X), lambda m, f, nn, x: x.unique(
        return_counts=True)),
    # -- functional and nn additions
    "F.smooth_l1_loss": (X, lambda m, f, nn, x: f.smooth_l1_loss(x, other(m))),
    "F.smooth_l1_loss(beta=0.5)": (X, lambda m, f, nn, x: f.smooth_l1_loss(x, other(m),
                                                                           beta=0.5)),
    "F.huber_loss(delta=0.5)": (X, lambda m, f, nn, x: f.huber_loss(x, other(m), delta=0.5)),
    "F.kl_div(batchmean)": (X, lambda m, f, nn, x: f.kl_div(
        f.log_softmax(x, 1), f.softmax(other(m), 1), reduction="batchmean")),
    "F.kl_div(log_target=True, sum)": (X, lambda m, f, nn, x: f.kl_div(
        f.log_softmax(x, 1), f.log_softmax(other(m), 1), reduction="sum", log_target=True)),
    "F.kl_div with zero targets": (X, lambda m, f, nn, x: f.kl_div(
        f.log_softmax(x, 1), m.tensor([[0.0, 1.0, 0.0, 0.0]] * 3, dtype=m.float64))),
    "F.cosine_similarity": (X, lambda m, f, nn, x: f.cosine_similarity(x, other(m))),
    "F.cosine_similarity(dim=0)": (X, lambda m, f, nn, x: f.cosine_similarity(x, other(m), 0)),
    "F.pairwise_distance": (X, lambda m, f, nn, x: f.pairwise_distance(x, other(m))),
    "F.relu6": (X * 5, lambda m, f, nn, x: f.relu6(x)),
    "F.hardtanh": (X, lambda m, f, nn, x: f.hardtanh(x)),
    "F.hardtanh(x, -0.5, 0.5)": (X, lambda m, f, nn, x: f.hardtanh(x, -0.5, 0.5)),
    "F.mish": (X, lambda m, f, nn, x: f.mish(x)),
    "F.hardswish": (X * 4, lambda m, f, nn, x: f.hardswish(x)),
    "F.hardsigmoid": (X * 4, lambda m, f, nn, x: f.hardsigmoid(x)),
    "F.logsigmoid": (X * 10, lambda m, f, nn, x: f.logsigmoid(x)),
    "F.softsign": (X, lambda m, f, nn, x: f.softsign(x)),
    "F.selu": (X, lambda m, f, nn, x: f.selu(x)),
    "F.celu(x, 0.5)": (X, lambda m, f, nn, x: f.celu(x, 0.5)),
    "F.softmin(x, dim=1)": (X, lambda m, f, nn, x: f.softmin(x, dim=1)),
    "F.glu": (X, lambda m, f, nn, x: f.glu(x)),
    "F.threshold": (X, lambda m, f, nn, x: f.threshold(x, 0.1, 2.0)),
    "F.tanhshrink": (X, lambda m, f, nn, x: f.tanhshrink(x)),
    "F.softshrink": (X, lambda m, f, nn, x: f.softshrink(x, 0.3)),
    "F.hardshrink": (X, lambda m, f, nn, x: f.hardshrink(x, 0.3)),
    "F.prelu per channel": (X3, lambda m, f, nn, x: f.prelu(
        x, m.tensor([0.25, 0.1, 0.5], dtype=m.float64))),
    "F.adaptive_avg_pool1d(x, 3)": (X3, lambda m, f, nn, x: f.adaptive_avg_pool1d(x, 3)),
    "F.adaptive_avg_pool1d(x, 1)": (X3, lambda m, f, nn, x: f.adaptive_avg_pool1d(x, 1)),
    "F.adaptive_avg_pool1d(x, 7) upsamples": (X3, lambda m, f, nn, x: f.adaptive_avg_pool1d(
        x, 7)),
    "F.adaptive_max_pool1d(x, 3)": (X3, lambda m, f, nn, x: f.adaptive_max_pool1d(x, 3)),
    "F.adaptive_max_pool1d indices": (X3, lambda m, f, nn, x: f.adaptive_max_pool1d(
        x, 2, return_indices=True)),
    "F.margin_ranking_loss": (X, lambda m, f, nn, x: f.margin_ranking_loss(
        x[0], x[1], m.tensor([1.0, -1.0, 1.0, -1.0], dtype=m.float64), margin=0.2)),
    "F.soft_margin_loss": (X, lambda m, f, nn, x: f.soft_margin_loss(
        x, m.sign(other(m)))),
    "F.hinge_embedding_loss": (X, lambda m, f, nn, x: f.hinge_embedding_loss(
        x, m.sign(other(m)), margin=0.5)),
    "F.cosine_embedding_loss": (X, lambda m, f, nn, x: f.cosine_embedding_loss(
        x, other(m), m.tensor([1.0, -1.0, 1.0], dtype=m.float64), margin=0.1)),
    "F.poisson_nll_loss": (X, lambda m, f, nn, x: f.poisson_nll_loss(x, other(m).abs())),
    "F.poisson_nll_loss(log_input=False, full=True)": (X, lambda m, f, nn, x: f.poisson_nll_loss(
        x.abs() + 0.1, other(m).abs() * 3, log_input=False, full=True)),
    "F.binary_cross_entropy(weight=)": (X, lambda m, f, nn, x: f.binary_cross_entropy(
        x.sigmoid(), (other(m) > 0).double(), weight=other(m).abs())),
    "F.relu(x, inplace=True) on a non-leaf": (X, lambda m, f, nn, x: f.relu(x * 1, inplace=True)),
    "F.leaky_relu(x, 0.2)": (X, lambda m, f, nn, x: f.leaky_relu(x, 0.2)),
    "nn.AdaptiveAvgPool1d(2)": (X3, lambda m, f, nn, x: nn.AdaptiveAvgPool1d(2)(x)),
    "nn.AdaptiveMaxPool1d(4)": (X3, lambda m, f, nn, x: nn.AdaptiveMaxPool1d(4)(x)),
    "nn.Unflatten(1, (2, 2))": (X, lambda m, f, nn, x: nn.Unflatten(1, (2, 2))(x)),
    "nn.ReLU6()": (X * 5, lambda m, f, nn, x: nn.ReLU6()(x)),
    "nn.Hardtanh(-2, 2)": (X * 2, lambda m, f, nn, x: nn.Hardtanh(-2.0, 2.0)(x)),
    "nn.Mish()": (X, lambda m, f, nn, x: nn.Mish()(x)),
    "nn.Hardswish()": (X * 4, lambda m, f, nn, x: nn.Hardswish()(x)),
    "nn.SELU()": (X, lambda m, f, nn, x: nn.SELU()(x)),
    "nn.CELU(0.5)": (X, lambda m, f, nn, x: nn.CELU(0.5)(x)),
    "nn.Softmin(dim=1)": (X, lambda m, f, nn, x: nn.Softmin(dim=1)(x)),
    "nn.GLU()": (X, lambda m, f, nn, x: nn.GLU()(x)),
    "nn.LogSigmoid()": (X, lambda m, f, nn, x: nn.LogSigmoid()(x)),
    "nn.Softsign()": (X, lambda m, f, nn, x: nn.Softsign()(x)),
    "nn.Threshold(0.1, 2.0)": (X, lambda m, f, nn, x: nn.Threshold(0.1, 2.0)(x)),
    "nn.SmoothL1Loss()": (X, lambda m, f, nn, x: nn.SmoothL1Loss()(x, other(m))),
    "nn.HuberLoss(delta=0.5)": (X, lambda m, f, nn, x: nn.HuberLoss(delta=0.5)(x, other(m))),
    "nn.KLDivLoss(reduction='batchmean')": (X, lambda m, f, nn, x: nn.KLDivLoss(
        reduction="batchmean")(f.log_softmax(x, 1), f.softmax(other(m), 1))),
    "nn.CosineSimilarity()": (X, lambda m, f, nn, x: nn.CosineSimilarity()(x, other(m))),
    "nn.PairwiseDistance()": (X, lambda m, f, nn, x: nn.PairwiseDistance()(x, other(m))),
    "nn.MarginRankingLoss(0.1)": (X, lambda m, f, nn, x: nn.MarginRankingLoss(0.1)(
        x[0], x[2], m.tensor([1.0, -1.0, -1.0, 1.0], dtype=m.float64))),
    "nn.ReLU(inplace=True) on a non-leaf": (X, lambda m, f, nn, x: nn.ReLU(inplace=True)(x + 0)),
    "nn.Flatten()": (X3, lambda m, f, nn, x: nn.Flatten()(x)),
    "nn.Identity()": (X, lambda m, f, nn, x: nn.Identity()(x)),
}


GRAD_RTOL = {"F.hardsigmoid": 3e-8, "nn.Hardsigmoid()": 3e-8}


def _zero(got, data):
    np.testing.assert_array_equal(got, 0.0)  # // is a step function: zero, as div(floor)


def _first_of_each(got, data):
    flat, grad = data.reshape(-1), got.reshape(-1)
    first = np.unique(flat, return_index=True)[1]  # unique's values are read from these
    assert np.count_nonzero(grad) == len(first) and np.all(grad[first] != 0)


# where torch refuses a backward (docs/pytorch.md): what ours gives instead
NO_TORCH_DERIVATIVE = {"tg.floor_divide": _zero, "x.unique()": _first_of_each,
                       "x.unique(return_counts=True)": _first_of_each}


def _flat(out) -> list:
    """The leaves of a result: Tensors, numbers, strings, in order."""
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in _flat(item)]
    return [out]


def _same(ours, theirs, name: str) -> None:
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tg.Tensor), f"{name}: {type(ours).__name__}, torch a Tensor"
        assert tuple(ours.shape) == tuple(theirs.shape), f"{name}: shape {ours.shape} vs " \
            f"{tuple(theirs.shape)}"
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), \
            f"{name}: dtype {ours.dtype} vs {theirs.dtype}"
        assert ours.requires_grad == theirs.requires_grad, \
            f"{name}: requires_grad {ours.requires_grad} vs {theirs.requires_grad}"
        # a float32 result (x.sum(dtype=tg.float32)) is as exact as float32 rounding and
        # summation order allow
        tol = 1e-6 if ours.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(ours.data, float),
                                   theirs.detach().numpy().astype(float), rtol=tol,
                                   atol=tol, err_msg=name)
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12), name
    else:
        assert ours == theirs, f"{name}: {ours!r} vs {theirs!r}"


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idiom_matches_torch(name):
    data, idiom = IDIOMS[name]
    ours = tg.tensor(data, dtype=tg.float64, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    out, out_t = _flat(idiom(tg, F, tg.nn, ours)), _flat(idiom(torch, TF, torch.nn, theirs))
    assert len(out) == len(out_t), f"{name}: {len(out)} results, torch {len(out_t)}"
    for a, b in zip(out, out_t):
        _same(a, b, name)
    rng = np.random.default_rng(2)
    pairs = [(a, b) for a, b in zip(out, out_t)
             if isinstance(b, torch.Tensor) and b.requires_grad]
    if not pairs:
        return
    total = total_t = 0
    for a, b in pairs:  # one scalar from every differentiable result, random weights
        g = rng.standard_normal(b.shape)
        total = total + (a * tg.tensor(g, dtype=tg.float64)).sum()
        total_t = total_t + (b * torch.tensor(g)).sum()
    total.backward()
    got = np.zeros(data.shape) if ours.grad is None else ours.grad
    try:
        total_t.backward()
    except RuntimeError as e:  # torch has no derivative here; ours is the one documented
        assert "not implemented" in str(e) and name in NO_TORCH_DERIVATIVE, e
        NO_TORCH_DERIVATIVE[name](got, data)
        return
    expect = np.zeros(data.shape) if theirs.grad is None else theirs.grad.numpy()
    rtol = GRAD_RTOL.get(name, 1e-12)
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=1e-12, err_msg=f"{name}: gradient")


# ------------------------------------------------------------------ in place


def _pair(data=X, requires_grad=True):
    return (tg.tensor(data, dtype=tg.float64, requires_grad=requires_grad),
            torch.tensor(data, requires_grad=requires_grad))


def test_manual_sgd_step_under_no_grad_updates_the_same_leaf():
    """micrograd's and PyTorch's hand-written update: the parameter stays the same object,
    a leaf that requires grad, with new values (and `w -= ...` means the same)."""
    for step in ("sub_", "-="):
        (w, wt), (x, xt) = _pair(), _pair(Y, requires_grad=False)
        before = w
        for m, ww, xx in ((tg, w, x), (torch, wt, xt)):
            ((ww * xx).sum() ** 2).backward()
            with m.no_grad():
                g = ww.grad if m is torch else m.tensor(ww.grad, dtype=m.float64)
                if step == "sub_":
                    ww.sub_(0.1 * g)
                else:
                    ww -= 0.1 * g
        assert w is before and w.is_leaf and w.requires_grad
        np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-12)


INPLACE = {
    "add_(1)": lambda x, m: x.add_(1),
    "add_(y, alpha=2)": lambda x, m: x.add_(x * 0 + 3, alpha=2),
    "sub_(y)": lambda x, m: x.sub_(0.5),
    "mul_(2)": lambda x, m: x.mul_(2),
    "div_(4)": lambda x, m: x.div_(4),
    "pow_(2)": lambda x, m: x.pow_(2),
    "zero_()": lambda x, m: x.zero_(),
    "fill_(3)": lambda x, m: x.fill_(3.0),
    "copy_(y) broadcast": lambda x, m: x.copy_(m.tensor([1.0, 2.0, 3.0, 4.0], dtype=m.float64)),
    "clamp_(-0.5, 0.5)": lambda x, m: x.clamp_(-0.5, 0.5),
    "clamp_(min=0)": lambda x, m: x.clamp_(min=0),
    "neg_()": lambda x, m: x.neg_(),
    "abs_()": lambda x, m: x.abs_(),
    "exp_()": lambda x, m: x.exp_(),
    "relu_()": lambda x, m: x.relu_(),
    "sigmoid_()": lambda x, m: x.sigmoid_(),
    "tanh_()": lambda x, m: x.tanh_(),
    "masked_fill_": lambda x, m: x.masked_fill_(x > 0, -1.0),
    "lerp_": lambda x, m: x.lerp_(x * 0, 0.25),
    "addcmul_": (lambda x, m: x.addcmul_(x, x, value=0.5),
                 lambda x, m: x.addcmul(x, x, value=0.5)),
    "addcdiv_": (lambda x, m: x.addcdiv_(x, x.abs() + 1, value=2),
                 lambda x, m: x.addcdiv(x, x.abs() + 1, value=2)),
    "scatter_add_": lambda x, m: x.scatter_add_(1, idx(m), x[:, :2] * 2),
    "index_add_": lambda x, m: x.index_add_(0, idx(m, np.array([0, 2, 0])), x * 2),
    "floor_()": lambda x, m: x.floor_(),
    "x += 1": lambda x, m: _iop(x, "iadd", 1.0),
    "x *= 2": lambda x, m: _iop(x, "imul", 2.0),
    "x /= 2": lambda x, m: _iop(x, "itruediv", 2.0),
    "x[0] = 5": lambda x, m: x.__setitem__(0, 5.0) or x,
    "x[:, 1] = row": lambda x, m: x.__setitem__((slice(None), 1),
                                                m.tensor([1.0, 2.0, 3.0], dtype=m.float64)) or x,
    "x[x > 0] = 0": lambda x, m: x.__setitem__(x > 0, 0.0) or x,
}


def _iop(x, op, value):
    return getattr(x, f"__{op}__")(value)


def _forms(name):
    """(in place, out of place) forms of an INPLACE entry; the out-of-place one defaults to
    the in-place op on a clone."""
    entry = INPLACE[name]
    if isinstance(entry, tuple):
        return entry
    return entry, lambda x, m: entry(x.clone(), m)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_plain_tensors_as_torch(name):
    """Without a graph: the values change in memory, the method returns the tensor itself,
    and a view of it (detach shares memory) sees the change."""
    (x, xt) = _pair(requires_grad=False)
    view, view_t = x.detach(), xt.detach()
    out, out_t = _forms(name)[0](x, tg), _forms(name)[0](xt, torch)
    assert out is x and out_t is xt
    np.testing.assert_allclose(x.data, xt.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(view.data, view_t.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_inside_a_graph_as_torch(name):
    """On a non-leaf that requires grad the change is recorded: the values and the gradient
    reaching the leaf are those of the same computation done out of place in PyTorch (where
    PyTorch's own in-place run refuses because it overwrote a value its backward needs, the
    old value is still here, so the gradient is the exact one)."""
    inplace, outplace = _forms(name)
    (x, xt) = _pair()
    y = x * 1.5
    assert inplace(y, tg) is y
    ref = outplace(xt * 1.5, torch)
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12,
                               err_msg=name)
    assert y.requires_grad == ref.requires_grad, name
    if not ref.requires_grad:
        return
    g = np.random.default_rng(4).standard_normal(X.shape)
    (ref * torch.tensor(g)).sum().backward()
    (y * tg.tensor(g, dtype=tg.float64)).sum().backward()
    expect = np.zeros(X.shape) if xt.grad is None else xt.grad.numpy()
    got = np.zeros(X.shape) if x.grad is None else x.grad
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12, err_msg=name)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_torch():
    (w, wt) = _pair()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        wt.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0] = 1.0
    np.testing.assert_array_equal(w.data, X)  # a call that fails changes nothing


def test_a_saved_value_changed_in_place_raises_at_backward_naming_the_op():
    """Overwritten in memory (under no_grad, or through a tensor sharing the memory), the
    value a node saved is gone: backward refuses, naming the op, as torch's version counter.
    Changed inside the graph, the old value lives on in the graph, so backward is exact
    (torch refuses this case too; here the gradient of what z really computed comes out)."""
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    y = x * 2
    z = y * y  # mul saves y
    y.add_(1)
    z.sum().backward()
    np.testing.assert_allclose(x.grad, 8 * X, rtol=1e-12)  # d (2x)^2 / dx: the y z used
    e = x.exp()
    with tg.no_grad():
        e.add_(1)  # exp saved its output: written in memory under no_grad
    with pytest.raises(RuntimeError, match="backward: exp needs its output"):
        e.sum().backward()
    d = x.detach()
    s = x.sin()  # sin reads x at backward; d shares x's memory
    with tg.no_grad():
        d.mul_(0.0)
    with pytest.raises(RuntimeError, match="sin needs its input 0"):
        s.sum().backward()


def test_earlier_uses_of_a_rebased_tensor_keep_its_old_value_and_gradient():
    """z used y before y.mul_(3): torch sends z's gradient to the old y (x.grad = 2 + 6)."""
    for m in (tg, torch):
        x = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        y = x * 2
        z = y + 1
        y.mul_(3)
        (z.sum() + y.sum()).backward()
        np.testing.assert_array_equal(np.asarray(x.grad), [8.0, 8.0])


def test_running_total_and_a_buffer_that_becomes_part_of_the_graph():
    for m in (tg, torch):
        x = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        total = 0
        for k in range(3):
            total += (x * (k + 1)).sum()  # the first += makes a Tensor, the rest are in place
        buf = m.zeros(2, dtype=m.float64)
        buf += x * x  # a constant given history in place: it now requires grad
        assert buf.requires_grad
        (total + buf.sum()).backward()
        np.testing.assert_array_equal(np.asarray(x.grad), [8.0, 10.0])


def test_inplace_errors_name_the_op_and_change_nothing():
    x = tg.tensor(X, dtype=tg.float64)
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 3, 4\), but the "
                                         r"tensor changed in place has shape \(3, 4\)"):
        x.add_(tg.zeros(2, 3, 4, dtype=tg.float64))
    with pytest.raises(ValueError, match=r"copy_: src of shape \(5,\) does not broadcast"):
        x.copy_(tg.zeros(5))
    ints = tg.tensor([1, 2], dtype=tg.int64)
    with pytest.raises(TypeError, match="add_: a float result cannot be stored in a tensor "
                                        "of dtype int64"):
        ints.add_(0.5)
    np.testing.assert_array_equal(x.data, X)
    np.testing.assert_array_equal(ints.data, [1, 2])
    assert ints.add_(1) is ints and ints.tolist() == [2, 3]


def test_random_fills_draw_from_the_package_generator():
    x = tg.zeros(1000, dtype=tg.float64)
    tg.manual_seed(0)
    x.uniform_(-2, 3)
    first = x.data.copy()
    assert first.min() >= -2 and first.max() < 3 and abs(first.mean() - 0.5) < 0.2
    tg.manual_seed(0)
    assert np.array_equal(x.uniform_(-2, 3).data, first)  # reproducible
    x.normal_(1.0, 0.5)
    assert abs(x.data.mean() - 1.0) < 0.1 and abs(x.data.std() - 0.5) < 0.1


def test_nn_init_functions_work_in_place_on_parameters():
    lin, lin_t = tg.nn.Linear(30, 40), torch.nn.Linear(30, 40)
    w = lin.weight
    for name, kw in [("zeros_", {}), ("ones_", {}), ("constant_", {"val": 0.3})]:
        out = getattr(tg.nn.init, name)(w, **kw)
        getattr(torch.nn.init, name)(lin_t.weight, **kw)
        assert out is w and w.is_leaf and w.requires_grad
        np.testing.assert_allclose(w.data, lin_t.weight.detach().numpy(), rtol=1e-6)
    assert tg.nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    assert tg.nn.init.calculate_gain("tanh") == pytest.approx(torch.nn.init.calculate_gain("tanh"))
    tg.manual_seed(1)
    bound = np.sqrt(6 / 70)  # xavier_uniform_: fan_in 30 + fan_out 40
    assert np.abs(tg.nn.init.xavier_uniform_(w).data).max() <= bound
    assert np.abs(tg.nn.init.kaiming_uniform_(w, a=np.sqrt(5)).data).max() <= 1 / np.sqrt(30)
    assert abs(tg.nn.init.kaiming_normal_(w, nonlinearity="relu").data.std()
               - np.sqrt(2 / 30)) < 0.02
    tg.nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.data).max() <= 0.5
    q = tg.nn.init.orthogonal_(w).data  # (40, 30): orthonormal columns
    np.testing.assert_allclose(q.T @ q, np.eye(30), atol=1e-5)
    with pytest.raises(ValueError, match="xavier_uniform_: fan in and fan out need a tensor "
                                         "with 2 or more dims"):
        tg.nn.init.xavier_uniform_(lin.bias)


# ------------------------------------------------------------------ errors as torch's


def test_bad_arguments_get_errors_that_name_the_op():
    x = tg.tensor(X, dtype=tg.float64)
    with pytest.raises(ValueError, match=r"mm: expects two matrices, got shapes \(3, 4\) and "
                                         r"\(4,\)"):
        x.mm(x[0])
    with pytest.raises(IndexError, match="narrow: start 3 and length 2 do not fit dim 1 of "
                                         "size 4"):
        x.narrow(1, 3, 2)
    with pytest.raises(IndexError, match="gather: index 7 is out of range for dim 1 of size 4"):
        x.gather(1, tg.tensor([[7]]))
    with pytest.raises(ValueError, match=r"unflatten: sizes \(3, 2\) do not multiply to dim 1 "
                                         r"of size 4"):
        x.unflatten(1, (3, 2))
    with pytest.raises(TypeError, match="&: needs bool or integer tensors"):
        x & x
    with pytest.raises(ValueError, match="to: device 'cuda'"):
        x.to("cuda")
    with pytest.raises(TypeError, match="scatter: give src"):
        x.scatter(1, IDX)
    with pytest.raises(ValueError, match="glu: dim -1 of shape \\(3, 5\\) must have an even"):
        F.glu(tg.zeros(3, 5))
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: output_size must be >= 1"):
        F.adaptive_avg_pool1d(tg.zeros(1, 2, 5), 0)
    with pytest.raises(tg.BackwardError, match="backward: the gradient must be numbers of "
                                               "shape \\(\\)"):
        (tg.tensor([1.0], requires_grad=True).sum()).backward(gradient="ab")


def test_every_function_form_is_the_method_with_input_first():
    """tg.f(x, ...) is x.f(...): made from the method, so they can't drift apart."""
    from tinygrad1d.surface import FUNCTIONS
    for name in FUNCTIONS:
        f = getattr(tg, name)
        assert f.__wrapped__ is getattr(tg.Tensor, name), name
    assert tg.exp([0.0, 1.0]).tolist() == pytest.approx([1.0, np.e])  # input lifted


def test_unbatched_conv_transpose1d_and_errors_that_name_the_argument():
    x = RNG.standard_normal((3, 5))
    w = RNG.standard_normal((3, 2, 4))
    ours = F.conv_transpose1d(tg.tensor(x, dtype=tg.float64, requires_grad=True),
                              tg.tensor(w, dtype=tg.float64), stride=2, padding=1)
    theirs = TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=2, padding=1)
    assert ours.shape == tuple(theirs.shape) == (2, 10)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"conv1d: the input x \(1, 1, 0\) has length 0"):
        F.conv1d(tg.zeros(1, 1, 0), tg.zeros(2, 1, 3))
    with pytest.raises(tg.BackwardError, match="backward: the gradient must be numbers"):
        tg.tensor([1.0, 2.0], requires_grad=True).backward(gradient=["a", "b"])
