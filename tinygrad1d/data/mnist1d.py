"""MNIST-1D, generated offline by the mnist1d package, cached in-process and on disk.

Generating takes seconds, so the result is kept in a file under `files.cache_dir()` whose
name hashes what the data depends on (the mnist1d, numpy and scipy versions): a new version
simply finds no file. The `mnist1d` generator (which pulls matplotlib, scipy and requests) is
imported only when generating.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import random
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset, copied, frozen
from .files import atomic_write, cache_dir

__all__ = ["load_mnist1d"]

_MNIST1D_SHAPES = {"x_train": (4000, 40), "y_train": (4000,), "x_test": (1000, 40),
                   "y_test": (1000,)}
_MNIST1D_HINT = "pip install mnist1d (or pip install 'tinygrad1d[data]')"
_CACHE_FORMAT = 1  # bump when the on-disk layout changes, so old files are simply not found
_generate_lock = threading.Lock()  # generation reseeds numpy's and random's global state


def load_mnist1d() -> Dataset:
    """MNIST-1D from the mnist1d generator: x float32 (4000, 40) / (1000, 40), y int64 in 0..9.

    Generated offline with the package's default arguments (`make_dataset(get_dataset_args())`,
    seed 42), so every call and every machine gets the same data; the caller's global numpy and
    `random` states are left as they were. The result is cached in-process and, because
    generating takes seconds, on disk (see `files.cache_dir`).
    """
    return copied(_mnist1d_cached())


@functools.lru_cache(maxsize=1)
def _mnist1d_cached() -> Dataset:
    key = _mnist1d_cache_key()  # raises the ImportError when mnist1d is not installed
    folder = cache_dir()
    path = None if folder is None else folder / f"mnist1d-{key}.npz"
    if path is not None and path.is_file():
        try:
            return frozen(_read_mnist1d_npz(path))
        except ValueError:
            pass  # a damaged or foreign file: regenerate below and overwrite it
    ds = _generate_mnist1d()
    if path is not None:
        try:  # a file object, so numpy does not append ".npz" to the name
            atomic_write(path, lambda f: np.savez(f, **dict(zip(Dataset._fields, ds))))
        except OSError:
            pass  # a read-only or full disk: the cache is only an optimisation
    return frozen(ds)


def _mnist1d_cache_key() -> str:
    """Hash of what the generated data depends on: the mnist1d, numpy and scipy versions."""
    try:
        versions = [importlib.metadata.version(d) for d in ("mnist1d", "numpy", "scipy")]
    except importlib.metadata.PackageNotFoundError as e:
        raise ImportError(f"load_mnist1d: needs the {e.name or 'mnist1d'} package: "
                          f"{_MNIST1D_HINT}") from e
    text = f"format={_CACHE_FORMAT} mnist1d={versions[0]} numpy={versions[1]} scipy={versions[2]}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _generate_mnist1d() -> Dataset:
    """Run mnist1d's generator, putting the global RNG states it reseeds back afterwards."""
    try:
        # Lazy: mnist1d imports matplotlib.pyplot, scipy and requests at import time. pyplot only
        # resolves its backend when a figure is made, so this works headless and we set none.
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        raise ImportError(f"load_mnist1d: importing mnist1d failed ({e}); {_MNIST1D_HINT}") from e
    with _generate_lock:
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            # make_dataset, not get_dataset: the latter downloads and writes ./mnist1d_data.pkl
            d = make_dataset(get_dataset_args())
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
    return Dataset(np.asarray(d["x"], np.float32), np.asarray(d["y"], np.int64),
                   np.asarray(d["x_test"], np.float32), np.asarray(d["y_test"], np.int64))


def _read_mnist1d_npz(path: Path) -> Dataset:
    """A cache file, checked key by key; ValueError if it is not exactly what we wrote."""
    try:
        # Our own handle: np.load leaks the one it opens when the zip is unreadable.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in Dataset._fields}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"load_mnist1d: unreadable cache file {path}: {e}") from e
    for k, shape in _MNIST1D_SHAPES.items():
        want = np.float32 if k.startswith("x") else np.int64
        if arrays[k].shape != shape or arrays[k].dtype != want:
            raise ValueError(f"load_mnist1d: cache file {path}: {k} is {arrays[k].shape} "
                             f"{arrays[k].dtype}, expected {shape} {np.dtype(want)}")
    return Dataset(**arrays)
