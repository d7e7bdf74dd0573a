"""The container every loader returns: a train/test split of arrays."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)  # eq=False: `==` on arrays is elementwise, not a bool
class Dataset:
    """A train/test split of arrays; unpacks as `x_train, y_train, x_test, y_test = ds`."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    _fields = ("x_train", "y_train", "x_test", "y_test")  # no annotation: not a dataclass field

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise ValueError(f"Dataset: x_{split} {x.shape} and y_{split} {y.shape} "
                                 "differ in length")

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))

    def __repr__(self) -> str:
        parts = (f"{k}={v.shape} {v.dtype}" for k, v in zip(self._fields, self))
        return f"Dataset({', '.join(parts)})"


def frozen(ds: Dataset) -> Dataset:
    """The same arrays marked read-only, fit to sit in a cache shared by every caller."""
    for a in ds:
        a.setflags(write=False)
    return ds


def copied(ds: Dataset) -> Dataset:
    """Fresh writable copies, so a caller normalising in place cannot corrupt the cache."""
    return Dataset(*(a.copy() for a in ds))
