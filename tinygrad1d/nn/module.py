"""Parameter and Module (a model is plain Python: assign layers and Parameters, write
`forward`), and the containers Sequential, ModuleList and ModuleDict.

A Module finds its parameters and submodules by walking its attributes (and lists, tuples and
dicts of them). Names are PyTorch's dotted paths ("0.weight", "fc.bias").
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Iterator

import numpy as np

from ..tensor import RemovableHandle, Tensor


def _array(v) -> np.ndarray:
    return v.data if isinstance(v, Tensor) else v


def _join(prefix: str, name: str) -> str:
    """PyTorch's dotted names: "" + "0" is "0", "1" + "weight" is "1.weight"."""
    return f"{prefix}.{name}" if prefix else name


class Parameter(Tensor):
    """A Tensor that requires grad and that Modules collect as a learnable weight."""

    __slots__ = ()
    is_param = True

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models.

    Subclasses set attributes (Parameters, Modules, lists/dicts of them, and numpy arrays named
    in `_buffers` for non-learned state such as running means) and define `forward`. Calling a
    module runs forward; the first call also gives each parameter its dotted name, which graph
    drawings show (tg.draw(model(x)))."""

    training = True
    _buffers: tuple[str, ...] = ()
    _named = False

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        if not self._named:
            for name, p in self.named_parameters():
                if p.name is None:  # the outermost module runs first and names everything
                    p.name = name
            self._named = True
        out = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", ())):
            result = hook(self, args, out)
            if result is not None:  # as PyTorch: a returned value replaces the output
                out = result
        return out

    def register_forward_hook(self, fn) -> RemovableHandle:
        """Call fn(module, inputs, output) after every forward of this module (to read its
        activations); a returned value replaces the output. `.remove()` on the handle."""
        hooks = self.__dict__.setdefault("_forward_hooks", [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    # -- walking the tree
    def _children(self) -> Iterator[tuple[str, object]]:
        """(name, value) of attributes that may hold parameters, buffers or modules."""
        for name, v in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(v, (list, tuple)):
                yield from ((f"{name}.{i}", x) for i, x in enumerate(v))
            elif isinstance(v, dict):
                yield from ((f"{name}.{k}", x) for k, x in v.items())
            else:
                yield name, v

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every submodule, each once, with
        PyTorch's names ("0", "1.0", "fc")."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(_join(name, n), v) for n, v in m._children() if isinstance(v, Module)]
            stack.extend(reversed(kids))

    def modules(self) -> list[Module]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) of the direct submodules."""
        yield from ((n, v) for n, v in self._children() if isinstance(v, Module))

    def children(self) -> list[Module]:
        return [m for _, m in self.named_children()]

    def apply(self, fn) -> Module:
        """Call fn(module) on every submodule, children first, then on this one (as PyTorch,
        e.g. to initialise weights); returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter), each shared parameter once, under its first name."""
        seen = set()
        for prefix, m in self.named_modules():
            for name, v in m._children():
                if isinstance(v, Parameter) and id(v) not in seen:
                    seen.add(id(v))
                    yield _join(prefix, name), v

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, m in self.named_modules():
            for name in m._buffers:
                yield _join(prefix, name), getattr(m, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # -- modes and gradients
    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- state
    def state_dict(self) -> OrderedDict:
        """name -> a copy of every parameter and buffer, in PyTorch's order: module by module,
        each module's parameters before its buffers."""
        params = dict(self.named_parameters())
        out = OrderedDict()
        for prefix, m in self.named_modules():
            for name, v in m._children():
                key = _join(prefix, name)
                if isinstance(v, Parameter) and params.get(key) is v:
                    out[key] = v.data.copy()
            for name in m._buffers:
                out[_join(prefix, name)] = np.array(getattr(m, name), copy=True)
        return out

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers in place (optimizers keep working).

        strict=True raises ValueError listing missing and unexpected keys; a shape mismatch
        always raises."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        optional = {_join(prefix, n) for prefix, m in self.named_modules()
                    for n in getattr(m, "_optional_buffers", ())}
        missing = [k for k in own if k not in state and k not in optional]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys "
                             f"{unexpected}")
        checked = {}  # every entry is checked before any is copied: a failed load changes nothing
        for k in own:
            if k in state:
                try:
                    value = np.asarray(state[k].data if isinstance(state[k], Tensor) else state[k])
                except (TypeError, ValueError) as e:
                    raise ValueError(f"load_state_dict: {k}: not an array: {e}") from None
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"load_state_dict: {k}: holds {value.dtype}, not numbers")
                if value.shape != np.shape(_array(own[k])):
                    raise ValueError(f"load_state_dict: shape mismatch for {k}: checkpoint "
                                     f"{value.shape} vs model {np.shape(_array(own[k]))}")
                checked[k] = value
        for k, value in checked.items():
            _array(own[k])[...] = value
        return IncompatibleKeys(missing, unexpected)

    def to(self, dtype=None, device=None) -> Module:
        """model.to(np.float64) casts every parameter and buffer in place (their Parameter
        objects stay, so build the optimizer after); model.to("cpu") is the model itself."""
        if isinstance(dtype, str) and device is None:
            dtype, device = None, dtype
        if device is not None and str(device) != "cpu":
            raise ValueError(f"{type(self).__name__}.to: device {device!r}: tinygrad1d runs on "
                             "the CPU only")
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
                raise TypeError(f"{type(self).__name__}.to: dtype must be float32 or float64, "
                                f"got {dtype}")
            for _, p in self.named_parameters():
                p.data, p.grad = p.data.astype(dtype), None
            for m in self.modules():
                for name in m._buffers:  # float buffers follow; counters stay integers
                    b = np.asarray(getattr(m, name))
                    setattr(m, name, b.astype(dtype) if b.dtype.kind == "f" else b)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    def __repr__(self) -> str:
        kids = [(n, v) for n, v in self._children() if isinstance(v, Module)]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        body = "".join(f"\n  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in kids)
        return head + body + "\n)"

    def extra_repr(self) -> str:
        return ""


class ModuleList(Module):
    """A list of modules, registered as submodules "0", "1", ... (not callable itself)."""

    def __init__(self, modules=()):
        self._list: list[Module] = []
        self.extend(modules)

    def _children(self):
        return ((str(i), m) for i, m in enumerate(self._list))

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: {type(module).__name__} is not a Module")
        self._list.append(module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        return ModuleList(self._list[i]) if isinstance(i, slice) else self._list[i]

    def __len__(self) -> int:
        return len(self._list)

    def __iter__(self):
        return iter(self._list)


class ModuleDict(Module):
    """A dict of modules, registered under their keys (not callable itself)."""

    def __init__(self, modules=None):
        self._dict: dict[str, Module] = {}
        for k, m in (modules or {}).items():
            self[k] = m

    def _children(self):
        return iter(self._dict.items())

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not isinstance(module, Module):
            raise TypeError(f"ModuleDict: needs str keys and Module values, got "
                            f"{type(key).__name__} -> {type(module).__name__}")
        self._dict[key] = module

    def __getitem__(self, key: str) -> Module:
        return self._dict[key]

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self):
        return iter(self._dict)

    def __contains__(self, key) -> bool:
        return key in self._dict

    def keys(self):
        return self._dict.keys()

    def values(self):
        return self._dict.values()

    def items(self):
        return self._dict.items()


class Sequential(Module):
    """Layers applied in order; indexable (model[0], model[1:]) and named "0", "1", ..."""

    def __init__(self, *layers: Module):
        for i, m in enumerate(layers):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: layer {i} is a {type(m).__name__}, not a Module")
        self._layers = list(layers)

    def _children(self):
        return ((str(i), m) for i, m in enumerate(self._layers))

    def forward(self, x):
        for m in self._layers:
            x = m(x)
        return x

    def __getitem__(self, i):
        return Sequential(*self._layers[i]) if isinstance(i, slice) else self._layers[i]

    def __setitem__(self, i: int, layer: Module) -> None:
        """Replace layer i (model[0] = nn.Linear(...)), as torch."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: layer {i} must be a Module, got {type(layer).__name__}")
        self._layers[i] = layer

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self):
        return iter(self._layers)

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: {type(layer).__name__} is not a Module")
        self._layers.append(layer)
        return self
