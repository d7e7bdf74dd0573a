"""DistributedSampler: each process's share of a data set's indices, epoch by epoch."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from .. import distributed as dist
from .loader import epoch_order

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of `dataset` (anything with a length) that this process takes in one
    epoch, as torch's: every process draws the same shuffled order, then takes every
    `num_replicas`-th index starting at its `rank`, so the shares are disjoint.

    Without drop_last the order is padded with its own first indices up to a multiple of
    num_replicas, so every process gets ceil(n / num_replicas) indices (a few samples are
    seen twice); with drop_last the tail is cut instead. The shuffle depends on (seed, epoch)
    only (`epoch_order`, so not torch's generator): call `set_epoch(e)` before each epoch, or
    every epoch repeats the same order. num_replicas and rank default to the job's."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
        rank = dist.get_rank() if rank is None else rank
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an int, got "
                                f"{type(v).__name__}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:  # torch's message
            raise ValueError(f"DistributedSampler: Invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        if seed < 0:
            raise ValueError(f"DistributedSampler: seed must be >= 0, got {seed}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:  # the largest equal shares that fit
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = epoch_order(n, self.seed, self.epoch) if self.shuffle else np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        else:  # pad with the order itself, repeated as often as needed (n may be tiny)
            order = np.resize(order, self.total_size)
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        """Indices this process takes per epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffled order the next iter() uses."""
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        return (f"DistributedSampler(n={len(self.dataset)}, num_replicas={self.num_replicas}, "
                f"rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, "
                f"drop_last={self.drop_last})")
