"""The Tensor surface is declared in one place: tinygrad1d/surface.py (and what a Tensor holds,
in tensor.py's class body). Nothing else in the package may set a Tensor attribute."""
import ast
from pathlib import Path

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import surface
from tinygrad1d.tensor import Tensor

PKG = Path(__file__).resolve().parents[1] / "tinygrad1d"
ENGINE_BODY = {"__slots__", "__array_ufunc__", "__hash__", "is_param", "__init__", "_make",
               "__module__", "__qualname__", "__doc__", "__weakref__", "__firstlineno__",
               "__static_attributes__", "data", "grad", "requires_grad", "_ctx", "name",
               "_retain"}


def test_every_tensor_attribute_is_declared_in_the_class_body_or_the_surface():
    declared = set(vars(surface.TensorMethods)) - surface._MACHINERY
    assert ENGINE_BODY.isdisjoint(declared)
    extra = set(vars(Tensor)) - ENGINE_BODY - declared
    assert not extra, f"Tensor attributes set outside surface.py: {sorted(extra)}"
    missing = declared - set(vars(Tensor))
    assert not missing, f"declared but not installed: {sorted(missing)}"
    assert len(declared) > 250  # the PyTorch surface, not a handful


def _assigns_tensor_attribute(tree: ast.AST) -> list[int]:
    """Lines that set an attribute on the name `Tensor`: Tensor.x = ..., setattr(Tensor, ...)."""
    lines = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                    t.value.id == "Tensor":
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("setattr", "delattr") and node.args and \
                isinstance(node.args[0], ast.Name) and node.args[0].id == "Tensor":
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_surface_assigns_tensor_attributes():
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        lines = _assigns_tensor_attribute(ast.parse(path.read_text()))
        if lines and path.name != "surface.py":
            found[str(path.relative_to(PKG))] = lines
    assert not found, f"Tensor attributes assigned outside surface.py: {found}"
    surface_lines = _assigns_tensor_attribute(ast.parse((PKG / "surface.py").read_text()))
    assert len(surface_lines) == 1  # install()'s one setattr


def test_the_check_catches_an_assignment_anywhere():
    sneaky = "from .tensor import Tensor\nTensor.foo = 1\nsetattr(Tensor, 'bar', 2)\n"
    assert _assigns_tensor_attribute(ast.parse(sneaky)) == [2, 3]


def test_install_refuses_to_override_the_engine():
    class Clash(surface.TensorMethods):
        pass
    Clash._make = lambda *a: None  # a name tensor.py defines
    saved = surface.TensorMethods
    surface.TensorMethods = Clash
    try:
        with pytest.raises(AssertionError, match="Tensor._make is already defined"):
            surface.install()
    finally:
        surface.TensorMethods = saved


def test_register_adds_no_method_and_ops_keep_their_names():
    assert "gather" in tg.OPS and "getitem" in tg.OPS
    assert not hasattr(Tensor, "getitem") and not hasattr(Tensor, "index_scatter")
    assert Tensor.sum.__qualname__ == "TensorMethods.sum"


@pytest.mark.parametrize("name", surface.FUNCTIONS)
def test_every_function_form_has_torchs_signature(name):
    """tg.f's first parameter is torch's `input`; the rest are the method's."""
    import inspect
    params = list(inspect.signature(getattr(tg, name)).parameters)
    assert params[0] == "input"
    assert params[1:] == list(inspect.signature(getattr(Tensor, name)).parameters)[1:]


def test_the_silent_differences_of_the_issue_are_gone():
    """x.where(cond, y) and x.max(1)[0] used to answer differently from torch."""
    x = tg.tensor([1.0, 0.0, 3.0])
    y = tg.tensor([9.0, 9.0, 9.0])
    assert x.where(x > 0, y).tolist() == [1.0, 9.0, 3.0]
    m = tg.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert m.max(1)[0].tolist() == [5.0, 7.0] and m.min(1)[0].tolist() == [1.0, 2.0]
    assert m.max(1).indices.tolist() == [1, 0]
    np.testing.assert_array_equal(m.max(axis=1).data, [5.0, 7.0])  # numpy's keyword: values
