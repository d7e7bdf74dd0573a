"""Every registered primitive, driven by its own hints: forward against the numpy reference,
first-order gradients against central differences, second-order gradients against
differences of the first-order ones. Adding an op to ops.py adds it here."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import op_case

import tinygrad1d as tg
from tinygrad1d import OPS, Tensor
from tinygrad1d.ops import Windows


# Ops whose hints give no numpy reference: their forward is checked against these instead.
def _scatter_ref(x, index, axis, size):
    """np.add.at; for Windows, into the padded signal, then the padding is cut away."""
    left, right = index.padding if isinstance(index, Windows) else (0, 0)
    out = np.zeros(x.shape[:axis] + (left + size + right,) + x.shape[axis + index.ndim:])
    idx = index.index() if isinstance(index, Windows) else index
    np.add.at(out, (slice(None),) * axis + (idx,), x)
    return out[(slice(None),) * axis + (slice(left, left + size),)]


def _index_scatter_ref(x, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, x)
    return out


EXTRA_REFS = {"scatter_add": _scatter_ref, "index_scatter": _index_scatter_ref}
NAMES = sorted(OPS)


def _call(op, arrays, params):
    """fn(*tensors) -> op applied with the drawn parameters; bool inputs are held constant."""
    diff = [i for i, a in enumerate(arrays) if a.dtype != np.bool_]

    def fn(*xs):
        args = list(arrays)
        for i, x in zip(diff, xs):
            args[i] = x
        args = [Tensor._make(a, False, None) if isinstance(a, np.ndarray) else a for a in args]
        return op.apply(*args, **params)
    return fn, [arrays[i] for i in diff]


def test_every_registered_op_has_usable_hints():
    """Fails when an op is registered without hints the strategies understand."""
    known_shapes = {"broadcast", "matmul", "unary", "same", "scatter", "index_scatter"}
    for name in NAMES:
        h = OPS[name].hints
        assert h, f"op {name!r} has no test hints"
        assert h["shapes"] in known_shapes, f"op {name!r}: unknown shape hint {h['shapes']!r}"
        assert h["ref"] is not None or name in EXTRA_REFS, f"op {name!r}: no forward reference"
        assert callable(OPS[name].backward), name


def test_the_registry_holds_the_required_primitives():
    required = {"add", "mul", "neg", "div", "pow", "exp", "log", "relu", "maximum", "tanh",
                "sigmoid", "sum", "max", "reshape", "transpose", "expand", "pad", "getitem",
                "gather", "scatter_add", "matmul", "where"}
    assert required <= set(OPS)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_matches_reference(name, data):
    op = OPS[name]
    arrays, params = data.draw(op_case(op))
    out = op.apply(*[Tensor._make(a, False, None) for a in arrays], **params)
    ref = EXTRA_REFS.get(name) or op.hints["ref"]
    expect = np.asarray(ref(*arrays, **params))
    assert out.shape == expect.shape
    np.testing.assert_allclose(out.data, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("check", [tg.gradcheck, tg.gradgradcheck], ids=["first", "second"])
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_gradients_match_central_differences(name, check, data):
    """First order: analytic vs central differences; second order: the gradient of the
    gradient (create_graph=True) vs central differences of the first-order gradient."""
    op = OPS[name]
    arrays, params = data.draw(op_case(op))
    fn, inputs = _call(op, arrays, params)
    assert check(fn, inputs)


def test_gradcheck_catches_a_wrong_backward():
    """The checker itself must be able to fail: a deliberately wrong derivative."""
    class BadExp(tg.Function):
        def forward(ctx, x): return np.exp(x)
        def backward(ctx, g): return g * 2.0

    with pytest.raises(tg.GradcheckError, match=r"input 0 .* element"):
        tg.gradcheck(lambda x: BadExp.apply(x), [np.array([0.1, 0.2])])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    """A backward written in numpy (constant gradient) is right once, wrong twice."""
    class NumpyExp(tg.Function):
        def forward(ctx, x): return np.exp(x)
        def backward(ctx, g): return g * Tensor._make(np.exp(ctx.inputs[0].data), False, None)

    assert tg.gradcheck(lambda x: NumpyExp.apply(x), [np.array([0.1, 0.2])])
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(lambda x: NumpyExp.apply(x), [np.array([0.1, 0.2])])
