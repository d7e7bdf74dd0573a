"""Mini-batches of a data set, in an order that depends only on the seed and the epoch."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..tensor import default_rng

__all__ = ["DataLoader", "epoch_order"]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled sample order of one epoch: a function of (seed, epoch) only, so a run
    resumed at any step sees exactly the batches it would have seen."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class DataLoader:
    """Mini-batches `(x_batch, y_batch)` of two arrays, reshuffled every epoch from a seed.

    Epoch e visits the samples in the order `epoch_order(n, seed, e)`: two loaders with the
    same seed give the same sequence of epochs, and successive epochs differ. Each `iter()`
    is the next epoch; `batch(step)` gives the batch at any global step directly (what a
    resumed training run needs). `seed=None` draws the seed from the package generator, so
    `tg.manual_seed` decides. Batches are copies; the last one is short unless `drop_last`.
    """

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle: bool = True,
                 seed: int | None = 0, drop_last: bool = False) -> None:
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"DataLoader: x and y must have a leading sample axis, got x "
                             f"{x.shape} and y {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"DataLoader: x and y must have the same length, got x {x.shape} "
                             f"and y {y.shape}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got "
                            f"{type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"DataLoader: seed must be an int or None, got {type(seed).__name__}")
        if seed is not None and seed < 0:
            raise ValueError(f"DataLoader: seed must be >= 0, got {seed}")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), drop_last
        self.seed = int(default_rng().integers(2**63)) if seed is None else int(seed)
        self.epoch = 0  # the epoch the next iter() walks
        self._order_epoch = None  # which epoch's order self._order holds

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # The epoch advances here, not on the first next(), so epochs are numbered by iter()
        # calls even if an iterator is created and never consumed.
        self.epoch += 1
        start = (self.epoch - 1) * len(self)
        return (self.batch(step) for step in range(start, start + len(self)))

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch at global step `step` (epoch step // len(self))."""
        if len(self) == 0:
            raise ValueError(f"DataLoader.batch: no batches in {len(self.x)} samples with "
                             f"batch_size={self.batch_size} and drop_last={self.drop_last}")
        epoch, i = divmod(step, len(self))
        if self._order_epoch != epoch:
            n = len(self.x)
            self._order = epoch_order(n, self.seed, epoch) if self.shuffle else np.arange(n)
            self._order_epoch = epoch
        rows = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def __repr__(self) -> str:
        return (f"DataLoader(x={self.x.shape}, y={self.y.shape}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
