"""Engine semantics: recording, accumulation, dtype rules, higher-order gradients, errors."""
import sys

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import Tensor


def leaf(*values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ accumulation


def test_fan_out_sums_the_branches():
    x = leaf(2.0)
    y = x * 3 + x * x + x.exp()  # three uses of x
    y.backward()
    np.testing.assert_allclose(x.grad, [3 + 2 * 2 + np.exp(2)])


def test_diamond_graph():
    x = leaf(0.5)
    a, b = x.tanh(), x.sigmoid()
    (a * b).backward()
    ta, sb = np.tanh(0.5), 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(x.grad, [(1 - ta**2) * sb + ta * sb * (1 - sb)])


def test_same_tensor_twice_in_one_op():
    x = leaf(3.0, -1.5)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [6.0, -3.0])
    y = leaf(2.0)
    (y / y).backward()
    np.testing.assert_allclose(y.grad, [0.0], atol=1e-15)


def test_backward_twice_accumulates():
    x = leaf(1.0, 2.0)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * 2 * np.array([1.0, 2.0]))
    x.zero_grad()
    assert x.grad is None


def test_grad_is_an_ndarray_of_the_data_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * np.arange(3.0)).sum().backward()  # float64 array promotes the product
    assert isinstance(x.grad, np.ndarray) and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [0, 1, 2])


def test_broadcast_gradients_sum_back_to_input_shapes():
    x, b = leaf(*range(6)).reshape(2, 3), leaf(1.0, 2.0, 3.0)
    x.retain_grad()
    (x * b).sum().backward()
    np.testing.assert_allclose(b.grad, [3.0, 5.0, 7.0])
    np.testing.assert_allclose(x.grad, [[1, 2, 3], [1, 2, 3]])
    c = Tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
    (c + np.zeros((2, 3, 4))).sum().backward()
    np.testing.assert_allclose(c.grad, np.full((3, 1), 8.0))


def test_non_leaf_grad_only_with_retain_grad():
    x = leaf(1.0, 2.0)
    y, z = x * 2, x * 3
    y.retain_grad()
    (y + z).sum().backward()
    np.testing.assert_allclose(y.grad, [1, 1])
    assert z.grad is None


def test_deep_chain_does_not_recurse():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_freed_graph_raises_and_retain_graph_allows_a_second_walk():
    x = leaf(2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, [8.0])
    with pytest.raises(tg.BackwardError, match="retain_graph"):
        y.backward()
    with pytest.raises(RuntimeError):  # also what PyTorch code expects
        y.backward()


# ------------------------------------------------------------------ recording switches


def test_no_grad_records_nothing():
    x = leaf(1.0)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None
    assert (x * 2).requires_grad

    @tg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and tg.is_grad_enabled()


def test_detach_cuts_the_graph_but_shares_data():
    x = leaf(1.0, 2.0)
    d = (x * 3).detach()
    assert not d.requires_grad and d._ctx is None
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, [3.0, 6.0])  # d is a constant


def test_constant_inputs_get_no_gradient():
    c = Tensor([1.0, 2.0])
    x = leaf(1.0, 1.0)
    (c * x).sum().backward()
    assert c.grad is None


# ------------------------------------------------------------------ backward's seed


def test_non_scalar_backward_needs_a_gradient():
    x = leaf(1.0, 2.0)
    with pytest.raises(ValueError, match=r"single-element.*\(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_constant_raises():
    with pytest.raises(ValueError, match="does not require grad"):
        Tensor([1.0]).backward()


# ------------------------------------------------------------------ higher order


def test_second_and_third_derivatives_of_a_composition():
    x = leaf(0.3, -0.7)
    y = (x.tanh() * x.exp()).sum()
    g1, = tg.grad(y, [x], create_graph=True)
    g2, = tg.grad(g1.sum(), [x], create_graph=True)
    g3, = tg.grad(g2.sum(), [x])
    v = x.data
    t, e = np.tanh(v), np.exp(v)
    s = 1 - t**2  # tanh'
    d1 = e * (s + t)
    d2 = e * (s + t) + e * (-2 * t * s + s)
    d3 = d2 + e * (-2 * t * s + s) + e * (-2 * s * s + 4 * t * t * s - 2 * t * s)
    np.testing.assert_allclose(g1.data, d1)
    np.testing.assert_allclose(g2.data, d2)
    np.testing.assert_allclose(g3.data, d3)


def test_grad_leaves_dot_grad_alone_and_zeros_unused_inputs():
    x, u = leaf(1.0, 2.0), leaf(5.0)
    gx, gu = tg.grad((x ** 3).sum(), [x, u])
    np.testing.assert_allclose(gx.data, [3.0, 12.0])
    np.testing.assert_array_equal(gu.data, [0.0])
    assert x.grad is None and u.grad is None


def test_grad_of_a_gradient_mixed_partials():
    x, y = leaf(1.5), leaf(-0.5)
    f = (x * x * y).sum() + (x * y.exp()).sum()
    gx, gy = tg.grad(f, [x, y], create_graph=True)
    gxy, = tg.grad(gx, [y])  # d2f/dxdy = 2x + e^y
    np.testing.assert_allclose(gxy.data, [2 * 1.5 + np.exp(-0.5)])


# ------------------------------------------------------------------ dtype rules


def test_dtype_rules():
    assert tg.get_default_dtype() == np.float32
    assert Tensor(1).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor([1.5, 2.5]).dtype == np.float32  # Python floats too
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.array([True])).dtype == np.float32
    assert Tensor(np.ones(2, np.float64)).dtype == np.float64
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    x = Tensor(np.ones(2, np.float32))
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3, x ** 2, 1 - x, x - 1, 2 ** x):
        assert y.dtype == np.float32  # a Python scalar never upcasts
    tg.set_default_dtype(np.float64)
    try:
        assert Tensor([1, 2]).dtype == np.float64
    finally:
        tg.set_default_dtype(np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        tg.set_default_dtype(np.int32)


def test_constructor_copies_and_rejects_non_numeric_data():
    a = np.ones(3, np.float32)
    t = Tensor(a)
    a[0] = 5
    assert t.data[0] == 1
    with pytest.raises(TypeError, match="numeric"):
        Tensor(["a", "b"])
    with pytest.raises(TypeError, match="numeric"):
        Tensor(None)
    with pytest.raises(ValueError, match="rectangular"):
        Tensor([[1, 2], [3]])
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64  # indices and masks, as torch
    with pytest.raises(TypeError, match="dtype must be one of float32, float64, int64"):
        Tensor([1, 2], dtype=np.complex64)
    with pytest.raises(TypeError, match="only float tensors can require grad, got dtype int64"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)


# ------------------------------------------------------------------ the Tensor surface


def test_attributes_and_conversions():
    t = Tensor([[1, 2, 3], [4, 5, 6]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float32
    assert len(t) == 2 and t.T.shape == (3, 2)
    assert isinstance(t.numpy(), np.ndarray)
    assert Tensor([[7.0]]).item() == 7.0
    with pytest.raises(ValueError, match=r"single-element.*\(2, 3\)"):
        t.item()
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=Mul" in repr(t * 2)
    with pytest.raises(TypeError):
        len(Tensor(1.0))


def test_operators_with_numbers_arrays_and_reflected_forms():
    x = Tensor([1.0, 2.0, 4.0])
    a = np.array([2.0, 2.0, 2.0], dtype=np.float32)
    cases = [(x + 1, [2, 3, 5]), (1 + x, [2, 3, 5]), (x - 1, [0, 1, 3]), (1 - x, [0, -1, -3]),
             (x * 2, [2, 4, 8]), (2 * x, [2, 4, 8]), (x / 2, [0.5, 1, 2]), (4 / x, [4, 2, 1]),
             (x ** 2, [1, 4, 16]), (2 ** x, [2, 4, 16]), (-x, [-1, -2, -4]), (a * x, [2, 4, 8]),
             (a - x, [1, 0, -2]), (x - [1, 1, 1], [0, 1, 3]), (a @ x, 14.0)]
    for got, want in cases:
        assert isinstance(got, Tensor)
        np.testing.assert_allclose(got.data, want)


def test_comparisons_are_constant_bool_tensors():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for c, want in [(x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]), (x > 2, [0, 0, 1]),
                    (x >= 2, [0, 1, 1]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert isinstance(c, Tensor) and not c.requires_grad and c.dtype == np.bool_
        np.testing.assert_array_equal(c.data, want)


def test_matmul_vector_and_batched_forms():
    rng = np.random.default_rng(0)
    for xs, ys in [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3, 5)),
                   ((2, 3), (4, 3, 5)), ((1, 2, 3), (4, 3, 2))]:
        a, b = rng.standard_normal(xs), rng.standard_normal(ys)
        out = Tensor(a) @ Tensor(b)
        np.testing.assert_allclose(out.data, a @ b, rtol=1e-12)
        assert tg.gradcheck(lambda p, q: p @ q, [a, b])
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 3\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))


def test_wide_float32_gradient_product_is_computed_transposed_and_stays_exact():
    """ops._product computes a large, wide float32 gradient as (b^T @ a^T)^T (faster on
    OpenBLAS's sgemm); its values must be those of the plain product, first and second order."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((16, 64)), rng.standard_normal((64, 2048))  # like conv1d's w, cols
    g = rng.standard_normal((16, 2048))
    x32, y32 = (Tensor(v.astype(np.float32), requires_grad=True) for v in (a, b))
    (x32 @ y32).backward(g.astype(np.float32))
    assert x32.grad.flags.f_contiguous and not x32.grad.flags.c_contiguous  # took the wide path
    np.testing.assert_allclose(x32.grad, g @ b.T, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(y32.grad, a.T @ g, rtol=2e-4, atol=2e-4)
    gx, = tg.grad(x32 @ y32, [x32], Tensor(g.astype(np.float32)), create_graph=True)
    gg, = tg.grad((gx * gx).sum(), [y32])  # through the transposed product's own graph
    np.testing.assert_allclose(gg.data, 2 * (g @ b.T).T @ g, rtol=2e-4, atol=2e-2)


def test_indexing_basic_and_integer_arrays():
    v = np.arange(24.0).reshape(2, 3, 4)
    x = Tensor(v, requires_grad=True)
    idx = np.array([0, 2, 2])
    for index in [1, (0, slice(1, None)), (Ellipsis, 1), (slice(None), idx),
                  (slice(None), [0, 0], slice(None, None, 2)), (None, 1), v[..., 0] > 5]:
        np.testing.assert_array_equal(x[index].data, v[index])
    x[:, idx].sum().backward()
    want = np.zeros_like(v)
    np.add.at(want, (slice(None), idx), 1)
    np.testing.assert_array_equal(x.grad, want)  # the repeated row 2 gets both reads
    np.testing.assert_array_equal(x[Tensor([1, 0])].data, v[[1, 0]])  # float Tensor of ints
    with pytest.raises(TypeError, match="whole numbers"):
        x[Tensor([0.5])]
    with pytest.raises(IndexError, match=r"getitem.*\(2, 3, 4\)"):
        x[5]


def test_shape_methods():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, -1).shape == (6, 4) and x.reshape((4, 6)).shape == (4, 6)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(1).squeeze(1).shape == (2, 3, 4)
    assert x.pad(((0, 0), (1, 2), (0, 0))).shape == (2, 6, 4) and x.pad(1).shape == (4, 5, 6)
    np.testing.assert_array_equal(x.max(axis=1).data, x.data.max(axis=1))
    np.testing.assert_array_equal(x.min(axis=(0, 2)).data, x.data.min(axis=(0, 2)))
    np.testing.assert_allclose(x.mean(axis=(0, 2)).data, x.data.mean(axis=(0, 2)))
    np.testing.assert_allclose(x.var(axis=2).data, x.data.var(axis=2, ddof=1))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3, 4\).*\(5, -1\)"):
        x.reshape(5, -1)
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        x.sum(axis=3) if False else x.flatten(3)
    with pytest.raises(ValueError, match="pad"):
        x.pad(-1)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 0, 1)


def test_max_ties_share_the_gradient_as_torch_amax():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])
    y = Tensor([0.0, -1.0, 2.0], requires_grad=True)
    y.relu().sum().backward()
    np.testing.assert_array_equal(y.grad, [0, 0, 1])  # no gradient at exactly 0, as torch


def test_gather_semantics_and_errors():
    x = Tensor(np.arange(10.0), requires_grad=True)
    idx = np.array([[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(x.gather(idx).data, [[0, 1, 2], [1, 2, 3]])
    x.gather(idx).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 2, 2, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x.gather(np.array([-1])).data, [9.0])
    with pytest.raises(IndexError, match=r"gather: index 10 .* size 10"):
        x.gather(np.array([10]))
    with pytest.raises(TypeError, match="integer"):
        x.gather(np.array([0.5]))


def test_binary_ops_reject_non_broadcastable_shapes_with_the_op_name():
    with pytest.raises(ValueError, match=r"add.*\(2,\).*\(3,\)|\(2,\).*\(3,\)"):
        Tensor([1.0, 2.0]) + Tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="mul"):
        Tensor([1.0]) * "a"


def test_large_sliding_window_gather_takes_the_strided_copy_path_and_matches_take():
    """Above 65,536 elements gather copies a strided view instead of calling np.take."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 30000, 2)), requires_grad=True)
    for index in (2 + 3 * np.arange(4)[:, None] + 2 * np.arange(5),  # (windows, taps)
                  (3 * np.arange(4)[:, None] + 5 * np.arange(7)).T):  # (taps, windows)
        out = x.gather(index, axis=1)
        np.testing.assert_array_equal(out.data, np.take(x.data, index, axis=1))
        assert out.data.flags.c_contiguous and out.data.flags.writeable
        g = rng.standard_normal(out.shape)
        x.grad = None
        out.backward(g)
        want = np.zeros_like(x.data)
        np.add.at(want, (slice(None), index), g)
        np.testing.assert_allclose(x.grad, want, rtol=1e-12)


# ------------------------------------------------------------------ one front door per op


def test_matmul_method_and_operator_are_one_door_with_1d_operands():
    rng = np.random.default_rng(0)
    a, v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    b = rng.standard_normal((2, 4, 5))
    for x, y in [(a, v), (v, a.T), (v, v), (b.transpose(0, 2, 1), rng.standard_normal(4)),
                 (rng.standard_normal(4), b)]:
        tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        np.testing.assert_allclose(tx.matmul(ty).data, x @ y)
        np.testing.assert_allclose((tx @ ty).data, x @ y)
        assert tg.gradcheck(lambda p, q: p @ q, [x, y])
        assert tg.gradgradcheck(lambda p, q: p @ q, [x, y])


def test_reductions_take_positional_axes_ints_and_tuples():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.sum(1).data, x.data.sum(1))
    np.testing.assert_array_equal(x.sum((0, -1)).data, x.data.sum((0, 2)))
    np.testing.assert_array_equal(x.max(axis=1).data, x.data.max(1))  # numpy's keyword
    np.testing.assert_array_equal(x.max(1).values.data, x.data.max(1))  # torch's pair
    np.testing.assert_array_equal(x.max((0, 1)).data, x.data.max((0, 1)))  # a tuple: numpy's
    np.testing.assert_array_equal(x.mean(-1, True).data, x.data.mean(-1, keepdims=True))
    with pytest.raises(ValueError, match="sum: axis 3 is out of range"):
        x.sum(3)
    with pytest.raises(ValueError, match="sum: axis .* repeats"):
        x.sum((1, -2))
    with pytest.raises(TypeError, match="sum: axis must be an int, got 1.5"):
        x.sum(axis=1.5)


def test_shapes_given_as_floats_are_refused_naming_the_op():
    x = Tensor(np.ones(6))
    with pytest.raises(TypeError, match=r"reshape: sizes must be ints, got \(3.0, 2.0\)"):
        x.reshape(3.0, 2.0)
    assert x.reshape((3, 2)).shape == x.reshape([3, 2]).shape == x.reshape(3, 2).shape


def test_register_fills_the_op_table_only_and_refuses_a_taken_name():
    """register records the op; the Tensor surface is declared in surface.py alone."""
    before = set(vars(Tensor))

    @tg.tensor.register("twice_for_test")
    class Twice(tg.Function):
        def forward(ctx, x):
            return 2 * x

        def backward(ctx, g):
            return g * 2
    try:
        assert tg.OPS["twice_for_test"] is Twice and set(vars(Tensor)) == before
        x = Tensor([1.0, 3.0], requires_grad=True)
        Twice.apply(x).sum().backward()  # a user's op is called as torch's custom functions
        np.testing.assert_array_equal(x.grad, [2.0, 2.0])
        with pytest.raises(ValueError, match="'reshape' is already an op"):
            @tg.tensor.register("reshape")
            class Again(tg.Function):
                pass
    finally:
        del tg.OPS["twice_for_test"]
