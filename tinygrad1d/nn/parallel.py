"""DistributedDataParallel: one model trained by every process of a job, each process on its
own share of the batch, with the gradients averaged so that all of them step alike.

    dist.init_process_group()
    model = DistributedDataParallel(paper_cnn())   # rank 0's weights, on every process
    loss = F.cross_entropy(model(x_share), y_share)
    loss.backward()                                # every .grad is now the mean over ranks
    opt.step()                                     # the same step on every process
"""
from __future__ import annotations

import functools

import numpy as np

from .. import distributed as dist
from ..tensor import constant, is_grad_enabled, register_hook
from .module import Module

__all__ = ["DistributedDataParallel"]


def _broadcast_from_rank0(arrays: list[np.ndarray]) -> None:
    """Give every process rank 0's values of `arrays`, in place, in one broadcast: a
    broadcast copies bytes and does no arithmetic, so arrays of every dtype travel together as
    one buffer of bytes (each call is a point where every process waits for the others)."""
    if not arrays:
        return
    flat = np.concatenate([np.ascontiguousarray(a).reshape(-1).view(np.uint8) for a in arrays])
    dist.broadcast(flat, src=0)
    start = 0
    for a in arrays:
        a[...] = flat[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
        start += a.nbytes


class DistributedDataParallel(Module):
    """Wraps `module` so that a job of several processes trains one model (torch's DDP).

    - At construction every process takes rank 0's parameters and buffers (a broadcast), so
      processes that initialised their weights differently start equal.
    - After each `backward()`, every parameter's `.grad` is the mean of that gradient over the
      processes; an optimizer then makes the same step everywhere. The gradients travel
      flattened into buckets (consecutive parameters of one dtype, up to `bucket_cap_mb`
      megabytes each), one all_reduce per bucket, never one call per parameter: each call
      costs a latency, and one big message uses the link better than many small ones.
    - `broadcast_buffers` (torch's default True): a forward that follows a forward with grad
      enabled (a training step) first gives every process rank 0's buffers, such as batch
      norm's running statistics, which each process otherwise updates from its own share.
    - Two additions of tinygrad1d's, for a training loop that counts its meeting points:
      `sum_with_gradients(values)` sums a few numbers (a step's loss and hits) in the last
      gradient bucket instead of a reduction of their own, and `sync_buffers()` gives every
      process rank 0's buffers when the loop chooses (wrap with broadcast_buffers=False).
    - As a Module it holds `module` as its one child, so its parameters and `state_dict()` are
      the module's under the prefix "module." (torch's names); save `model.module.state_dict()`
      for a checkpoint that loads into the bare model.

    When the reduction runs: after backward, not overlapped with it. A parameter's gradient
    reaches its hook only when the engine's whole walk is done (the engine writes the leaves
    last, so that a failed walk changes nothing: tensor.py `_backprop`), so there is no part
    of backward left to overlap with. Each hook copies its gradient into its bucket and
    returns a view of that slot as the gradient to accumulate; the last parameter's hook
    reduces every bucket in place, before the engine writes any `.grad`. Every parameter that
    requires grad must therefore get a gradient in each backward (torch's default
    `find_unused_parameters=False`): the next forward says which did not.
    """

    def __init__(self, module: Module, broadcast_buffers: bool = True,
                 bucket_cap_mb: float = 25):
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a Module, got "
                            f"{type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a number > 0, "
                             f"got {bucket_cap_mb!r}")
        self.module, self.broadcast_buffers = module, bool(broadcast_buffers)
        self.world_size = dist.get_world_size()  # raises, as torch, before init_process_group
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names, self._params = [n for n, _ in named], [p for _, p in named]
        _broadcast_from_rank0([p.data for p in module.parameters()] + self._buffers_now())
        self._layout(bucket_cap_mb * 2**20)
        self._arrived: set[int] = set()  # parameters whose gradient this backward has brought
        self._flat: list[np.ndarray] = []
        self._riders: list[np.ndarray] = []  # sum_with_gradients' arrays, for the next backward
        self._sync_buffers_next = True
        for i, p in enumerate(self._params):
            register_hook(p, functools.partial(self._gradient, i))

    def _buffers_now(self) -> list[np.ndarray]:
        """The module's buffer arrays as they are now (.to() replaces them)."""
        return [b for _, b in self.module.named_buffers() if isinstance(b, np.ndarray)]

    def _layout(self, cap_bytes: float) -> None:
        """Buckets of consecutive parameters of one dtype, each up to cap_bytes (a parameter
        larger than that is a bucket of its own); `self._slot[i]` is (bucket, start, stop) of
        parameter i in its bucket's flat array."""
        self._bucket_dtypes: list[np.dtype] = []
        self._bucket_sizes: list[int] = []
        self._slot: list[tuple[int, int, int]] = []
        open_bucket: dict[np.dtype, int] = {}  # dtype -> the bucket still taking parameters
        for p in self._params:
            b = open_bucket.get(p.data.dtype)
            if b is None or (self._bucket_sizes[b] + p.data.size) * p.data.itemsize > cap_bytes:
                b = open_bucket[p.data.dtype] = len(self._bucket_sizes)
                self._bucket_dtypes.append(p.data.dtype)
                self._bucket_sizes.append(0)
            start = self._bucket_sizes[b]
            self._bucket_sizes[b] += p.data.size
            self._slot.append((b, start, start + p.data.size))

    @property
    def num_buckets(self) -> int:
        """How many all_reduce calls one backward makes."""
        return len(self._bucket_sizes)

    def _gradient(self, i: int, g):
        """Parameter i's hook: its gradient into its slot; the last one reduces them all."""
        if not self._arrived:  # the first gradient of this backward: fresh buckets, so a
            # gradient handed out before (tg.grad returns them) is never overwritten; the
            # last one has room at its end for the values riding along
            extra = [0] * (self.num_buckets - 1) + [sum(a.size for a in self._riders)]
            self._flat = [np.empty(n + e, dt) for n, e, dt in zip(self._bucket_sizes, extra,
                                                                  self._bucket_dtypes)]
        b, start, stop = self._slot[i]
        slot = self._flat[b][start:stop]
        if g.data.dtype != slot.dtype:
            raise TypeError(f"DistributedDataParallel: {self._names[i]} is {g.data.dtype} now "
                            f"and was {slot.dtype} when wrapped; call .to() before wrapping")
        slot[...] = g.data.ravel()
        self._arrived.add(i)
        if len(self._arrived) == len(self._params):
            self._reduce()
            self._arrived.clear()
        return constant(slot.reshape(g.data.shape))  # the engine adds this into .grad

    def _reduce(self) -> None:
        """One all_reduce per bucket: the gradients' mean, and in the last bucket's tail the
        sum of the riders' values."""
        riders, self._riders = self._riders, []
        for flat in self._flat[:-1]:
            dist.all_reduce(flat, op="avg")
        last, n = self._flat[-1], self._bucket_sizes[-1]
        if not riders:
            dist.all_reduce(last, op="avg")
            return
        # the riders want a sum, the gradients a mean: all_reduce's "avg" is this same sum
        # followed by the division, so the gradients come out as without riders, to the bit
        last[n:] = np.concatenate([a.ravel() for a in riders])
        dist.all_reduce(last, op="sum")
        last[:n] /= self.world_size
        ends = np.cumsum([a.size for a in riders])[:-1]
        for a, part in zip(riders, np.split(last[n:], ends)):
            a[...] = part.reshape(a.shape)

    def sum_with_gradients(self, values: np.ndarray) -> None:
        """(tinygrad1d's, not torch's.) Sum `values`, a float array, over the processes in
        place as part of the next backward's gradient reduction, instead of a reduction of
        its own: a step's loss and number of hits, say. Each reduction is a point where every
        process waits for the slowest, so one per step is cheaper than two. The values travel
        in the last bucket, in the gradients' dtype (float32 sums counts exactly up to 2**24);
        until that backward's last gradient arrives they hold this process's own."""
        if not isinstance(values, np.ndarray) or values.dtype.kind != "f" \
                or not values.flags.writeable:
            raise TypeError(f"sum_with_gradients: values must be a writeable float numpy "
                            f"array, got {getattr(values, 'dtype', type(values).__name__)}")
        if self._arrived:
            raise RuntimeError("sum_with_gradients: a backward is under way; call it before "
                               "backward()")
        self._riders.append(values)

    def sync_buffers(self) -> None:
        """(tinygrad1d's, not torch's.) Give every process rank 0's buffers now, in one
        broadcast: what broadcast_buffers=True does before every training forward, for a
        loop that wraps with broadcast_buffers=False and needs the buffers alike only where
        it reads them (an evaluation, the end of training). Rank 0's own buffers are the same
        either way: a broadcast from rank 0 never changes them."""
        _broadcast_from_rank0(self._buffers_now())

    def forward(self, *args, **kwargs):
        self.pre_forward()
        return self.module(*args, **kwargs)

    def pre_forward(self) -> None:
        """What forward does before it calls the module: refuse to go on if the last backward
        left a parameter without a gradient, and broadcast rank 0's buffers after a training
        forward. A step that runs the module itself (a compiled model and loss, as `train`
        does) calls this first."""
        if self._arrived:  # the last backward reduced nothing: the processes now differ
            missing = [n for i, n in enumerate(self._names) if i not in self._arrived]
            self._arrived.clear()
            self._riders = []
            raise RuntimeError(f"DistributedDataParallel: the last backward gave no gradient "
                               f"to {missing}, so no gradient was averaged. Every parameter "
                               "that requires grad must be used by forward; set "
                               "requires_grad=False on those that are not")
        if self.broadcast_buffers and self._sync_buffers_next:
            self.sync_buffers()
        # as torch: the forward after one with grad enabled syncs, so the first evaluation
        # after training sees rank 0's buffers, and later ones under no_grad pay nothing
        self._sync_buffers_next = is_grad_enabled()

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={self.num_buckets}"
