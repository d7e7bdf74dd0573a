"""Every registered primitive, driven by its own hints through the public kit
(tinygrad1d.testing.check_op): forward against the numpy reference, first-order gradients
against central differences, second-order gradients against differences of the first-order
ones. Adding an op to ops.py adds it here."""
import numpy as np
import pytest
from hypothesis import settings

import tinygrad1d as tg
from tinygrad1d import OPS, Tensor
from tinygrad1d.ops import hint
from tinygrad1d.testing import check_op

NAMES = sorted(OPS)
KNOWN_SHAPES = {"broadcast", "matmul", "unary", "same", "scatter", "index_scatter", "along",
                "put_along", "random", "running_stats"}


def test_every_registered_op_has_usable_hints():
    """Fails when an op is registered without hints the strategies understand."""
    for name in NAMES:
        h = OPS[name].hints
        assert h, f"op {name!r} has no test hints"
        assert h["shapes"] in KNOWN_SHAPES, f"op {name!r}: unknown shape hint {h['shapes']!r}"
        assert h["ref"] is not None, f"op {name!r}: no forward reference"


def test_the_registry_holds_the_required_primitives():
    required = {"add", "sub", "mul", "neg", "div", "pow", "exp", "log", "relu", "maximum",
                "tanh", "sigmoid", "sum", "max", "reshape", "transpose", "expand", "pad",
                "getitem", "gather", "scatter_add", "matmul", "where", "stack"}
    assert required <= set(OPS)


@pytest.mark.parametrize("name", NAMES)
def test_op_passes_its_property_tests(name):
    """check_op: 3 properties (forward, first order, second order), each on the profile's
    number of examples (25 locally, 100 under CI=true)."""
    assert check_op(OPS[name], max_examples=settings().max_examples)


class BrokenExp(tg.Function):
    """exp with a wrong derivative (2 instead of e^x): check_op must catch it."""

    def forward(ctx, x):
        return np.exp(x)

    def backward(ctx, g):
        return g * 2.0
    hints = hint(np.exp, "real")


def test_check_op_fails_on_a_wrong_backward():
    with pytest.raises(tg.GradcheckError, match=r"input 0 .* element"):
        check_op(BrokenExp, max_examples=20)


def test_gradgradcheck_catches_a_wrong_second_derivative():
    """A backward written in numpy (constant gradient) is right once, wrong twice."""
    class NumpyExp(tg.Function):
        def forward(ctx, x):
            return np.exp(x)

        def backward(ctx, g):
            return g * Tensor._make(np.exp(ctx.inputs[0].data), False, None)

    assert tg.gradcheck(lambda x: NumpyExp.apply(x), [np.array([0.1, 0.2])])
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(lambda x: NumpyExp.apply(x), [np.array([0.1, 0.2])])


def test_check_op_refuses_an_op_without_a_reference():
    class NoHints(tg.Function):
        def forward(ctx, x):
            return x

    with pytest.raises(ValueError, match="no hints with a numpy reference"):
        check_op(NoHints)
