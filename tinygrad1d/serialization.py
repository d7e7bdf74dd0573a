"""Weights in and out: `save` writes safetensors; `load` reads safetensors or a PyTorch checkpoint.

safetensors is a JSON header (each array's name, dtype, shape and byte range) followed by the raw
bytes. It holds nothing but numbers, so loading one never runs code, and PyTorch, JAX, MLX and
tinygrad all read it. The optional `safetensors` package parses and writes it for us.

A PyTorch `torch.save` file is a zip archive: `data.pkl`, a pickle of the saved object in which
each tensor is a call `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, and
one entry `data/<key>` per storage with its raw bytes. Unpickling calls whatever global a pickle
names, so `pickle.load` of a stranger's file can run any code. Here every global goes through one
gate, `_TorchUnpickler.find_class`, with an explicit allow-list, and torch is never imported: the
names torch's pickle asks for are mapped to our own small functions that return numpy arrays.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from .tensor import Tensor

__all__ = ["load", "save"]

# safetensors' dtype codes and the numpy dtype of their bytes (the format is little-endian).
# BF16 is read by hand: numpy has no bfloat16.
_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                       "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2",
                       "U8": "u1", "BOOL": "?"}
_SAVABLE = {np.dtype(code) for code in _SAFETENSORS_DTYPES.values()}


def _safetensors():
    """The optional safetensors package, or an ImportError that says how to install it."""
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("tg.save and reading .safetensors files need the safetensors package: "
                          "pip install safetensors (or pip install \"tinygrad1d[safetensors]\")"
                          ) from None
    return safetensors


def save(state_dict: Mapping[str, Tensor | np.ndarray], f: str | os.PathLike | io.IOBase) -> None:
    """Write name -> array (Tensors or ndarrays, e.g. `model.state_dict()`) to the path or binary
    file `f` as safetensors; `safetensors.numpy.load_file` and `safetensors.torch.load_file` read
    it back under the same names."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: state_dict must map names to arrays, got "
                        f"{type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"save: key {key!r} is a {type(key).__name__}; names must be strings")
        if key == "__metadata__":
            raise ValueError("save: the name '__metadata__' is reserved by the safetensors header")
        value = value.data if isinstance(value, Tensor) else value
        if not isinstance(value, (np.ndarray, np.generic)):
            raise TypeError(f"save: {key!r} is a {type(value).__name__}, not a Tensor or ndarray")
        # safetensors copies an array's memory as it lies, so hand it C order, little-endian
        # (a transposed array would otherwise be written in its memory order, silently wrong)
        little = value.dtype.newbyteorder("<")
        if little not in _SAVABLE:
            raise ValueError(f"save: {key!r} holds {value.dtype}; safetensors stores bool, "
                             "int8-64, uint8-64 and float16-64")
        arrays[key] = np.asarray(value, dtype=little, order="C")
    data = _safetensors().numpy.save(arrays)
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(_path("save", f), "wb") as file:
            file.write(data)


def load(f: str | os.PathLike | io.IOBase) -> dict:
    """name -> np.ndarray from a safetensors file or a PyTorch `torch.save` file of a state_dict
    (read without torch, through an allow-list). float16 and bfloat16 arrive as float32.

    The format is told by the content, not the file name. A global outside the allow-list raises
    pickle.UnpicklingError naming it, before anything is called; a damaged or foreign file
    raises one ValueError naming the file."""
    if hasattr(f, "read"):
        name, data = str(getattr(f, "name", "the file object")), f.read()
    else:
        with open(_path("load", f), "rb") as file:
            name, data = os.fspath(f), file.read()
    if not isinstance(data, bytes):
        raise TypeError(f"load: {name} was opened in text mode; open it with 'rb'")
    if data[8:9] == b"{":  # an 8-byte header length, then the JSON header
        kind, reader = "a safetensors file", _load_safetensors
    elif data[:2] == b"PK":  # a zip archive: torch.save's format since PyTorch 1.6
        kind, reader = "a PyTorch checkpoint (zip)", _load_torch_zip
    elif data[:1] == b"\x80":  # a pickle (protocol 2 or later): torch.save's older format
        kind, reader = "a PyTorch checkpoint (legacy format)", _load_torch_legacy
    else:
        raise ValueError(f"load: {name} is neither a safetensors file nor a PyTorch checkpoint "
                         f"(it begins {data[:12]!r})")
    try:
        state = reader(data, name)
    except (_Refused, ImportError):
        raise
    except Exception as e:  # whatever broke deep in zipfile or pickle: one error naming the file
        raise ValueError(f"load: cannot read {name} as {kind}: {type(e).__name__}: {e}") from None
    if not (isinstance(state, dict) and all(isinstance(k, str) for k in state)):
        raise ValueError(f"load: {name} holds a {type(state).__name__}, not a state_dict "
                         "(a dict of name -> tensor)")
    return dict(state)


def _path(fn: str, f) -> str | os.PathLike:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"{fn}: f must be a path or a binary file object, got {type(f).__name__}")
    return f


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the upper half of a float32 (same sign and exponent, 7 mantissa bits): put the
    16 bits in the high half of 32 and read them as float32. Exact, no rounding."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _load_safetensors(data: bytes, name: str) -> dict:
    # deserialize (what safetensors.numpy.load calls) parses and checks the header and the byte
    # ranges; the dtype table is ours because numpy has no bfloat16
    out = {}
    for key, entry in _safetensors().deserialize(data):
        code = entry["dtype"]
        if code not in _SAFETENSORS_DTYPES and code != "BF16":
            raise ValueError(f"{key!r} has dtype {code}, which tg.load does not read")
        if code == "BF16":
            array = _bfloat16_to_float32(np.frombuffer(entry["data"], "<u2"))
        else:  # a copy (float16 widened) rather than a view of the file's bytes
            array = np.frombuffer(entry["data"], _SAFETENSORS_DTYPES[code])
            array = array.astype(np.float32 if code == "F16" else array.dtype)
        out[key] = array.reshape(entry["shape"])
    return out


# ------------------------------------------------------------------ PyTorch checkpoints


class _Refused(pickle.UnpicklingError):
    """A global outside the allow-list (kept apart from the errors of a damaged pickle)."""


class _Storage(NamedTuple):
    """What find_class gives for torch.FloatStorage and friends: the type of its elements."""
    name: str
    dtype: str


# torch.<Name>Storage -> numpy type of the elements in its bytes; bfloat16 read as raw bits
_TORCH_STORAGES = {"DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2",
                   "BFloat16Storage": "u2", "LongStorage": "i8", "IntStorage": "i4",
                   "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
                   "BoolStorage": "?"}


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple,
                    requires_grad=False, backward_hooks=None, metadata=None) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2: the tensor is the elements of `storage` from `offset`,
    `stride[d]` elements apart along axis d. A permuted tensor has permuted strides, a slice an
    offset, and several tensors may share one storage."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or min((offset, *size, *stride)) < 0:
        raise ValueError(f"a tensor of size {size}, stride {stride}, offset {offset} is invalid")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))  # its last element
    if 0 not in size and last >= len(storage):
        raise ValueError(f"a tensor of size {size}, stride {stride}, offset {offset} reaches past "
                         f"its storage of {len(storage)} elements")
    view = np.lib.stride_tricks.as_strided(storage[offset:], size,
                                           [s * storage.itemsize for s in stride], writeable=False)
    return view.copy()  # its own memory in C order, like model.state_dict()'s arrays


def _rebuild_parameter(data: np.ndarray, requires_grad=True, backward_hooks=None, state=None):
    """torch._utils._rebuild_parameter(_with_state): an nn.Parameter saved as itself; its
    tensor is all we keep."""
    return data


# The allow-list: every global a state_dict's pickle names, and nothing else. Plain containers
# (dict, list, tuple, str, numbers) need no global: pickle has opcodes for them.
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,  # a state_dict's own type
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,  # every tensor
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _Storage(name, dtype) for name, dtype in _TORCH_STORAGES.items()},
}


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles torch.save's pickle with the allow-list's globals only. Storages come from
    `read_storage(key, dtype, numel)` (raw elements); tensors come out as numpy arrays."""

    def __init__(self, file, name: str, read_storage: Callable | None = None):
        super().__init__(file)
        self.name, self.read_storage, self.storages = name, read_storage, {}

    def find_class(self, module: str, name: str):
        # pickle asks here for every global before it calls anything: the one gate
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        raise _Refused(f"load: {self.name}: refused the global {module}.{name}: tg.load reads "
                       "only tensors, their storages, OrderedDicts and plain containers "
                       "(docs/interop.md)")

    def persistent_load(self, pid):
        # ("storage", storage type, key, location, numel): torch's reference to a storage. The
        # location (cpu, cuda:0) does not matter here: the bytes are the same.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _Storage) and self.read_storage is not None):
            raise ValueError(f"unexpected persistent id {pid!r}")
        if len(pid) == 6 and pid[5] is not None:
            raise ValueError("storage views (PyTorch before 1.0) are not supported")
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if key not in self.storages:  # tensors sharing a storage share one array
            raw = self.read_storage(key, kind.dtype, numel)
            if kind.name == "BFloat16Storage":
                self.storages[key] = _bfloat16_to_float32(raw)
            else:  # float16 widened, everything in the machine's byte order
                native = np.float32 if kind.name == "HalfStorage" else np.dtype(kind.dtype)
                self.storages[key] = raw.astype(native)
        return self.storages[key]


def _storage_array(raw: bytes, dtype: str, numel: int, byteorder: str) -> np.ndarray:
    """A storage's elements from its bytes, checked against the count the pickle gives."""
    array = np.frombuffer(raw, np.dtype(dtype).newbyteorder(byteorder))
    if len(array) != numel:
        raise ValueError(f"a storage of {numel} elements holds {len(array)}")
    return array


def _load_torch_zip(data: bytes, name: str):
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ValueError("a zip archive without one data.pkl is not a PyTorch checkpoint (an .npz "
                         "is read with np.load)")
    root = pickles[0][:-len("data.pkl")]  # torch puts everything under one folder
    byteorder = "<"
    if root + "byteorder" in archive.namelist():  # written since PyTorch 1.11
        byteorder = {b"little": "<", b"big": ">"}[archive.read(root + "byteorder")]

    def read_storage(key: str, dtype: str, numel: int) -> np.ndarray:
        return _storage_array(archive.read(f"{root}data/{key}"), dtype, numel, byteorder)

    return _TorchUnpickler(io.BytesIO(archive.read(pickles[0])), name, read_storage).load()


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization's MAGIC_NUMBER, the first pickle


def _load_torch_legacy(data: bytes, name: str):
    """PyTorch before 1.6 (and `_use_new_zipfile_serialization=False`) wrote pickles one after
    another: magic number, version, system info, the object, its storage keys; then each
    storage's bytes, an 8-byte element count first. The storages come after the object that
    uses them, so the object is unpickled twice: once to learn each storage's type, and again
    once the storages are read."""
    f = io.BytesIO(data)
    magic = _TorchUnpickler(f, name).load()
    if not (isinstance(magic, int) and magic == _LEGACY_MAGIC):
        raise ValueError("a pickle, but not a PyTorch checkpoint (it does not begin with "
                         "torch's magic number)")
    _version, info = (_TorchUnpickler(f, name).load() for _ in range(2))
    byteorder = "<" if info.get("little_endian", True) else ">"
    start, types = f.tell(), {}

    def learn_type(key: str, dtype: str, numel: int) -> np.ndarray:
        types[key] = dtype
        return np.zeros(numel, dtype)

    _TorchUnpickler(f, name, learn_type).load()
    storages = {}
    for key in _TorchUnpickler(f, name).load():
        key, itemsize = str(key), np.dtype(types[key]).itemsize
        numel = int.from_bytes(f.read(8), "little" if byteorder == "<" else "big")
        storages[key] = _storage_array(f.read(numel * itemsize), types[key], numel, byteorder)
    f.seek(start)
    return _TorchUnpickler(f, name, lambda key, dtype, numel: storages[key]).load()
