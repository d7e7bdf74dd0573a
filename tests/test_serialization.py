"""tg.save / tg.load: safetensors round trips, PyTorch checkpoints read without torch, the
allow-list that keeps a checkpoint from running code, and one clear error for a bad file.

Tests that need the optional packages skip with how to install them; CI installs both."""
import importlib.util
import io
import os
import pickle
import sys
import traceback
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d.app import models

ROOT = Path(__file__).resolve().parents[1]
try:
    import safetensors  # noqa: F401
    HAS_SAFETENSORS = True
except ImportError:
    HAS_SAFETENSORS = False
needs_safetensors = pytest.mark.skipif(not HAS_SAFETENSORS,
                                       reason="needs safetensors: pip install safetensors")


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="needs torch: pip install torch==2.13.0")


def torch_file(torch, obj, path: Path, legacy: bool = False) -> Path:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def as_numpy(t) -> np.ndarray:
    """What tg.load promises for a torch tensor: its values, half precisions as float32."""
    import torch
    return t.detach().float().numpy() if t.dtype in (torch.float16, torch.bfloat16) \
        else t.detach().numpy()


def assert_same(ours: dict, reference: dict) -> None:
    """Same names, and each array equal in dtype, shape and every value."""
    assert sorted(ours) == sorted(reference)
    for k, ref in reference.items():
        assert ours[k].dtype == ref.dtype and ours[k].shape == ref.shape, k
        np.testing.assert_array_equal(ours[k], ref, err_msg=k)


# ------------------------------------------------------------------ safetensors out and in

ARRAYS = {
    "conv.weight": np.random.default_rng(0).normal(size=(3, 2, 5)).astype(np.float32),
    "float64": np.linspace(-1, 1, 7),
    "int64": np.array([-(2 ** 40), 0, 7], np.int64),
    "bool": np.array([[True, False], [False, True]]),
    "scalar": np.array(3.5, np.float32),                 # 0-d, as num_batches_tracked
    "empty": np.zeros((0, 4), np.float32),
    "transposed": np.arange(12.0).reshape(3, 4).T,      # not C-contiguous
    "uint8": np.arange(5, dtype=np.uint8),
}


@needs_safetensors
def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    path = tmp_path / "weights.safetensors"
    tg.save(ARRAYS, path)
    assert_same(tg.load(path), ARRAYS)
    assert_same(tg.load(str(path)), ARRAYS)  # a str works as a path
    with open(path, "rb") as f:
        assert_same(tg.load(f), ARRAYS)      # and so does an open binary file


@needs_safetensors
def test_save_takes_tensors_and_a_models_state_dict(tmp_path):
    tg.manual_seed(0)
    model = models.dilated_cnn(width=4)  # batch norm: float buffers and an int64 counter
    model(tg.randn(3, 1, 40))
    buf = io.BytesIO()
    tg.save(model.state_dict(), buf)
    assert_same(tg.load(io.BytesIO(buf.getvalue())), model.state_dict())
    path = tmp_path / "tensors.safetensors"
    tg.save({"w": tg.Tensor([[1.0, 2.0]]), "p": model.parameters()[0]}, path)
    loaded = tg.load(path)
    np.testing.assert_array_equal(loaded["w"], [[1.0, 2.0]])
    np.testing.assert_array_equal(loaded["p"], model.parameters()[0].data)


@needs_safetensors
def test_the_file_is_plain_safetensors(tmp_path):
    from safetensors.numpy import load_file
    path = tmp_path / "weights.safetensors"
    tg.save(ARRAYS, path)
    assert_same(load_file(path), ARRAYS)


@needs_safetensors
def test_the_file_reads_in_torch(tmp_path, torch):
    from safetensors.torch import load_file
    path = tmp_path / "weights.safetensors"
    tg.save(ARRAYS, path)
    assert_same({k: v.numpy() for k, v in load_file(path).items()}, ARRAYS)


@needs_safetensors
def test_float16_and_bfloat16_arrive_as_float32(tmp_path, torch):
    from safetensors.torch import save_file
    t = torch.randn(3, 4)
    path = tmp_path / "half.safetensors"
    save_file({"h": t.half(), "b": t.bfloat16(), "f": t}, path)  # bfloat16: numpy has none
    loaded = tg.load(path)
    assert_same(loaded, {"h": t.half().float().numpy(), "b": t.bfloat16().float().numpy(),
                         "f": t.numpy()})
    assert not np.array_equal(loaded["b"], loaded["f"])  # really rounded to bfloat16


@needs_safetensors
def test_float16_saved_here_comes_back_as_float32(tmp_path):
    half = np.array([0.1, -2.5, 65504.0], np.float16)
    tg.save({"h": half}, tmp_path / "h.safetensors")
    loaded = tg.load(tmp_path / "h.safetensors")["h"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, half.astype(np.float32))


@pytest.mark.parametrize("state, error, words", [
    ({1: np.ones(2)}, TypeError, ["key 1", "int", "strings"]),
    ({"w": [1.0, 2.0]}, TypeError, ["'w'", "list"]),
    ({"w": np.array(["a", "b"])}, ValueError, ["'w'", "<U1"]),
    ({"w": np.array([object()])}, ValueError, ["'w'", "object"]),
    ({"w": np.ones(2, np.complex64)}, ValueError, ["'w'", "complex64"]),
    ({"__metadata__": np.ones(2)}, ValueError, ["__metadata__", "reserved"]),
    ([("w", np.ones(2))], TypeError, ["state_dict", "list"]),
], ids=["int key", "list value", "strings", "objects", "complex", "reserved name", "not a dict"])
def test_save_refuses_what_safetensors_cannot_hold(tmp_path, state, error, words):
    with pytest.raises(error) as e:
        tg.save(state, tmp_path / "x.safetensors")
    assert "save" in str(e.value) and all(w in str(e.value) for w in words), str(e.value)
    assert not (tmp_path / "x.safetensors").exists()


def test_without_safetensors_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    good = tmp_path / "empty.safetensors"
    good.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")  # header length 2, no arrays
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for attempt in (lambda: tg.save({"w": np.ones(2)}, tmp_path / "x.safetensors"),
                    lambda: tg.load(good)):
        with pytest.raises(ImportError, match=r"pip install safetensors"):
            attempt()


def test_torch_checkpoints_load_without_safetensors(tmp_path, monkeypatch, torch):
    path = torch_file(torch, {"w": torch.ones(2)}, tmp_path / "w.pt")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    np.testing.assert_array_equal(tg.load(path)["w"], [1.0, 1.0])


# ------------------------------------------------------------------ PyTorch checkpoints in


def small_torch_model(torch):
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.Flatten(), nn.Linear(9, 4))
    model(torch.randn(5, 2, 5))  # one training step's batch statistics: buffers move
    return model


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_torch_state_dict_loads_equal_to_torchs_tensors(tmp_path, torch, legacy):
    model = small_torch_model(torch)
    state = model.state_dict()
    assert state["1.num_batches_tracked"].dtype == torch.int64
    loaded = tg.load(torch_file(torch, state, tmp_path / "model.pt", legacy))
    assert list(loaded) == list(state)  # the state_dict's order too
    assert_same(loaded, {k: v.numpy() for k, v in state.items()})
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"] == 1


def test_saved_parameters_and_every_storage_type_load(tmp_path, torch):
    model = small_torch_model(torch)
    params = dict(model.named_parameters())  # nn.Parameter objects, pickled as themselves
    assert isinstance(params["0.weight"], torch.nn.Parameter)
    kinds = {str(d): (torch.arange(-3, 3) % 2).to(d) for d in
             (torch.float64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}
    loaded = tg.load(torch_file(torch, {**params, **kinds}, tmp_path / "p.pt"))
    assert_same(loaded, {k: as_numpy(v) for k, v in {**params, **kinds}.items()})


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_half_precisions_arrive_as_float32_equal_to_torchs_float(tmp_path, torch, legacy):
    t = torch.randn(4, 3)
    state = {"half": t.half(), "bfloat16": t.bfloat16(), "bfloat16.t": t.bfloat16().t()}
    loaded = tg.load(torch_file(torch, state, tmp_path / "half.pt", legacy))
    assert_same(loaded, {k: v.float().numpy() for k, v in state.items()})


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_permuted_offset_and_shared_storages_come_out_right(tmp_path, torch, legacy):
    t = torch.arange(24.0).reshape(4, 6)
    state = {"whole": t, "t": t.t(), "tail": t[1:], "columns": t[:, 1::2],
             "corner": t[2:, 3:].t(), "int": torch.arange(10)[3:8]}
    assert not state["t"].is_contiguous() and state["tail"].storage_offset() == 6
    path = torch_file(torch, state, tmp_path / "views.pt", legacy)
    if not legacy:  # five tensors on one storage: saved once, read once
        assert sum("/data/" in n for n in zipfile.ZipFile(path).namelist()) == 2
    loaded = tg.load(path)
    assert_same(loaded, {k: v.numpy() for k, v in state.items()})
    loaded["tail"][0, 0] = -1  # each entry owns its memory, as a state_dict's arrays do
    assert loaded["whole"][1, 0] == 6


def test_a_checkpoint_nesting_a_state_dict_comes_back_nested(tmp_path, torch):
    model = small_torch_model(torch)
    ckpt = {"model": model.state_dict(), "epoch": 3, "history": [0.5, 0.25], "name": "cnn"}
    loaded = tg.load(torch_file(torch, ckpt, tmp_path / "ckpt.pt"))
    assert (loaded["epoch"], loaded["history"], loaded["name"]) == (3, [0.5, 0.25], "cnn")
    assert_same(loaded["model"], {k: v.numpy() for k, v in model.state_dict().items()})


def test_a_file_holding_one_tensor_is_not_a_state_dict(tmp_path, torch):
    path = torch_file(torch, torch.ones(3), tmp_path / "t.pt")
    with pytest.raises(ValueError, match=r"t\.pt holds a ndarray, not a state_dict"):
        tg.load(path)


# ------------------------------------------------------------------ the allow-list


def calls(module: str, name: str, arg: str) -> bytes:
    """A protocol-2 pickle that calls module.name(arg) when loaded: GLOBAL, a 1-tuple, REDUCE."""
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + pickle.dumps(arg, 2)[2:-1]
            + b"\x85R.")


def as_torch_zip(pickled: bytes) -> bytes:
    """pickled as the data.pkl of a zip laid out as torch.save lays it out."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickled)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_the_crafted_pickle_really_calls_its_global():
    """The harness itself: plain pickle runs what calls() names (so the refusals below are
    refusals, not broken bytes)."""
    assert pickle.loads(calls("builtins", "len", "abcd")) == 4


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_forbidden_global_is_refused_before_it_runs(tmp_path, layout):
    marker = tmp_path / "ran"
    evil = calls("os", "system", f"touch {marker}")
    path = tmp_path / "evil.pt"
    path.write_bytes(as_torch_zip(evil) if layout == "zip" else evil)
    with pytest.raises(pickle.UnpicklingError, match=r"evil\.pt: refused the global os\.system"):
        tg.load(path)
    assert not marker.exists()
    pickle.loads(evil)  # the same bytes through plain pickle do run it
    assert marker.exists()


@pytest.mark.parametrize("module, name", [
    ("builtins", "eval"), ("builtins", "getattr"), ("posix", "system"), ("subprocess", "Popen"),
    ("torch", "load"), ("torch._utils", "_rebuild_qtensor"), ("torch.storage", "TypedStorage"),
    ("numpy.core.multiarray", "_reconstruct"), ("collections", "defaultdict"),
])
def test_only_the_allow_list_passes(tmp_path, module, name):
    path = tmp_path / "x.pt"
    path.write_bytes(as_torch_zip(calls(module, name, "x")))
    with pytest.raises(pickle.UnpicklingError) as e:
        tg.load(path)
    assert f"refused the global {module}.{name}" in str(e.value)


def test_a_forbidden_global_inside_a_real_checkpoint_is_refused(tmp_path, torch):
    """After genuine tensors, as an attacker would hide it."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = torch_file(torch, {"w": torch.ones(2), "z": Payload()}, tmp_path / "mixed.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"refused the global (os|posix)\.system"):
        tg.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------ damaged and foreign files


def npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, w=np.ones(3))
    return buf.getvalue()


FOREIGN = {
    "empty.pt": b"",
    "random.pt": np.random.default_rng(0).bytes(300),
    "notes.txt": b"these are not weights\n" * 5,
    "weights.npz": npz_bytes(),
    "truncated.npz": npz_bytes()[:100],
    "garbage-pickle.pt": as_torch_zip(b"\x80\x02\x8a\x0a garbage"),
    "plain-pickle.pkl": pickle.dumps({"w": [1.0, 2.0]}, 2),
    "bad-safetensors-header.safetensors": b"\xff\x00\x00\x00\x00\x00\x00\x00{" + b"x" * 20,
}


def assert_one_clear_error(path: Path) -> ValueError:
    with pytest.raises(ValueError) as e:
        tg.load(path)
    assert str(path) in str(e.value), str(e.value)
    shown = "".join(traceback.format_exception(e.value))
    assert "During handling" not in shown and "direct cause" not in shown, shown
    return e.value


@pytest.mark.parametrize("name", FOREIGN)
def test_a_damaged_or_foreign_file_gets_one_clear_error(tmp_path, name):
    if name.endswith(".safetensors") and not HAS_SAFETENSORS:
        pytest.skip("needs safetensors: pip install safetensors")
    path = tmp_path / name
    path.write_bytes(FOREIGN[name])
    error = assert_one_clear_error(path)
    if name == "weights.npz":
        assert "np.load" in str(error)
    if name == "plain-pickle.pkl":
        assert "not a PyTorch checkpoint" in str(error)


def test_a_damaged_torch_checkpoint_gets_one_clear_error(tmp_path, torch):
    good = torch_file(torch, small_torch_model(torch).state_dict(), tmp_path / "good.pt")
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        (tmp_path / "cut.pt").write_bytes(data[:cut])
        assert_one_clear_error(tmp_path / "cut.pt")
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(tmp_path / "lost.pt", "w") as out:
        for item in z.infolist():  # drop one storage
            if not item.filename.endswith("/data/1"):
                out.writestr(item, z.read(item))
    assert_one_clear_error(tmp_path / "lost.pt")
    legacy = torch_file(torch, {"w": torch.ones(100)}, tmp_path / "legacy.pt", legacy=True)
    (tmp_path / "cut-legacy.pt").write_bytes(legacy.read_bytes()[:-40])
    assert_one_clear_error(tmp_path / "cut-legacy.pt")


@needs_safetensors
def test_a_truncated_safetensors_file_gets_one_clear_error(tmp_path):
    tg.save(ARRAYS, tmp_path / "good.safetensors")
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "good.safetensors").read_bytes()[:-9])
    assert_one_clear_error(tmp_path / "cut.safetensors")


def test_the_format_is_told_by_content_not_by_name(tmp_path, torch):
    path = torch_file(torch, {"w": torch.ones(2)}, tmp_path / "weights.safetensors")
    np.testing.assert_array_equal(tg.load(path)["w"], [1.0, 1.0])
    if HAS_SAFETENSORS:
        tg.save({"w": np.zeros(2)}, tmp_path / "model.pt")
        np.testing.assert_array_equal(tg.load(tmp_path / "model.pt")["w"], [0.0, 0.0])


def test_load_names_a_wrong_argument():
    with pytest.raises(TypeError, match=r"load: f must be a path or a binary file object"):
        tg.load(3)
    with pytest.raises(TypeError, match="text mode"):
        tg.load(io.StringIO("text"))


# ------------------------------------------------------------------ the PyTorch twins


def torch_twin_module():
    spec = importlib.util.spec_from_file_location("torch_twin", ROOT / "benchmarks" /
                                                  "torch_twin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TWINNED = ["paper_cnn", "dilated_cnn", "mlp", "gru", "logistic", "mnist_rows", "mnist_seed"]


def twin_of(model):
    """benchmarks/torch_twin.py's twin; for the MNIST presets, whose MaxPool1d it does not
    build, the same layer by layer with torch's MaxPool1d (same indices: same names)."""
    import torch.nn as tnn

    twin = torch_twin_module().torch_twin
    if not any(isinstance(m, tg.nn.MaxPool1d) for m in model.modules()):
        return twin(model)
    return tnn.Sequential(*[
        tnn.MaxPool1d(m.kernel_size, m.stride, m.padding, m.dilation)
        if isinstance(m, tg.nn.MaxPool1d) else twin(tg.nn.Sequential(m))[0] for m in model])


def twin_atol(preset) -> float:
    """float32 rounding: MNIST's 784-sample convolutions and 3,136-input linear layer sum
    many more terms than MNIST-1D's, and differ from torch's order by a few 1e-5."""
    return 1e-4 if preset.data == "mnist" else 1e-5


def twin_inputs(preset):
    rng = np.random.default_rng(5)
    if preset.data == "mnist":
        return preset.prepare(rng.integers(0, 256, (7, 784)).astype(np.uint8))
    return preset.prepare(rng.normal(size=(7, 40)))


@needs_safetensors
@pytest.mark.parametrize("name", TWINNED)
def test_a_saved_model_runs_in_its_pytorch_twin(tmp_path, torch, name):
    from safetensors.torch import load_file
    preset = models.PRESETS[name]
    x = twin_inputs(preset)
    tg.manual_seed(0)
    model = preset.build()
    with tg.no_grad():
        model(tg.Tensor(x))  # batch norm's running statistics and counter move
        ours = model.eval()(tg.Tensor(x)).data
    tg.save(model.state_dict(), tmp_path / "model.safetensors")
    tg.manual_seed(1)
    twin = twin_of(preset.build()).eval()  # other weights, until it loads ours
    with torch.no_grad():
        assert not np.allclose(twin(torch.from_numpy(x)).numpy(), ours, atol=1e-3)
        twin.load_state_dict(load_file(tmp_path / "model.safetensors"))  # strict: every name
        np.testing.assert_allclose(twin(torch.from_numpy(x)).numpy(), ours, rtol=1e-4,
                                   atol=twin_atol(preset))


@pytest.mark.parametrize("name", TWINNED)
def test_a_torch_saved_twin_runs_here(tmp_path, torch, name):
    preset = models.PRESETS[name]
    x = twin_inputs(preset)
    tg.manual_seed(0)
    twin = twin_of(preset.build())
    torch.manual_seed(0)
    with torch.no_grad():
        for p in twin.parameters():  # weights trained in torch, not ours copied over
            p.add_(0.1 * torch.randn_like(p))
        twin(torch.from_numpy(x))  # batch statistics
        theirs = twin.eval()(torch.from_numpy(x)).numpy()
    torch.save(twin.state_dict(), tmp_path / "twin.pt")
    tg.manual_seed(1)
    model = preset.build().eval()
    with tg.no_grad():
        assert not np.allclose(model(tg.Tensor(x)).data, theirs, atol=1e-3)
        model.load_state_dict(tg.load(tmp_path / "twin.pt"))
        np.testing.assert_allclose(model(tg.Tensor(x)).data, theirs, rtol=1e-4,
                                   atol=twin_atol(preset))
