"""conv1d and pooling: the seed's hand-computed numbers, the multi-channel example with its
backward worked out by hand, conv_output_size, and naive-loop references under drawn stride,
padding, dilation and groups (values, first and second derivatives)."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tinygrad1d.testing import distinct

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import Tensor

# ================================================================== naive references
# Plain Python loops over n, o, i, c, k: no gather, no matmul, no np.pad. Slow and obvious.


def resolve_padding(padding, kernel_size: int, dilation: int) -> tuple[int, int]:
    """(left, right) for an int, a (left, right) pair, "valid" or "same" (extra sample right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        total = dilation * (kernel_size - 1)  # "same": L_out == L at stride 1
        return total // 2, total - total // 2
    if isinstance(padding, (tuple, list)):
        return int(padding[0]), int(padding[1])
    return int(padding), int(padding)


def count_windows(padded_len: int, span: int, stride: int) -> int:
    """How many windows of `span` samples fit, starting at 0, stride, 2*stride, ..."""
    n = 0
    while n * stride + span <= padded_len:
        n += 1
    return n


def naive_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """out[n, o, i] = b[o] + sum_{c, k} x[n, g*C_g + c, i*stride + k*dilation - left] w[o, c, k],
    where g = o // (C_out / groups) and out-of-range x reads are the zero padding."""
    n_batch, c_in, length = x.shape
    c_out, c_g, k_size = w.shape
    left, right = resolve_padding(padding, k_size, dilation)
    l_out = count_windows(length + left + right, dilation * (k_size - 1) + 1, stride)
    o_g = c_out // groups
    out = np.zeros((n_batch, c_out, l_out))
    for n in range(n_batch):
        for o in range(c_out):
            g = o // o_g
            for i in range(l_out):
                acc = 0.0 if b is None else float(b[o])
                for c in range(c_g):
                    for k in range(k_size):
                        j = i * stride + k * dilation - left
                        if 0 <= j < length:
                            acc += x[n, g * c_g + c, j] * w[o, c, k]
                out[n, o, i] = acc
    return out


def naive_conv1d_backward(x, w, grad_out, stride=1, padding=0, dilation=1, groups=1):
    """(dx, dw, db) by the chain rule on the loops above: every product x*w that fed
    out[n, o, i] sends grad_out[n, o, i] times the other factor back to each factor."""
    n_batch, c_in, length = x.shape
    c_out, c_g, k_size = w.shape
    left, _ = resolve_padding(padding, k_size, dilation)
    o_g = c_out // groups
    dx, dw, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(c_out)
    for n in range(n_batch):
        for o in range(c_out):
            g = o // o_g
            for i in range(grad_out.shape[2]):
                db[o] += grad_out[n, o, i]
                for c in range(c_g):
                    for k in range(k_size):
                        j = i * stride + k * dilation - left
                        if 0 <= j < length:
                            dx[n, g * c_g + c, j] += grad_out[n, o, i] * w[o, c, k]
                            dw[o, c, k] += grad_out[n, o, i] * x[n, g * c_g + c, j]
    return dx, dw, db


def naive_max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max over each window, reading -inf outside the input."""
    stride = kernel_size if stride is None else stride
    n_batch, chans, length = x.shape
    l_out = count_windows(length + 2 * padding, dilation * (kernel_size - 1) + 1, stride)
    out = np.zeros((n_batch, chans, l_out))
    for n in range(n_batch):
        for c in range(chans):
            for i in range(l_out):
                best = -np.inf
                for k in range(kernel_size):
                    j = i * stride + k * dilation - padding
                    v = x[n, c, j] if 0 <= j < length else -np.inf
                    best = max(best, v)
                out[n, c, i] = best
    return out


def naive_avg_pool1d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over each window: padded zeros count in the divisor only if count_include_pad."""
    stride = kernel_size if stride is None else stride
    n_batch, chans, length = x.shape
    l_out = count_windows(length + 2 * padding, kernel_size, stride)
    out = np.zeros((n_batch, chans, l_out))
    for n in range(n_batch):
        for c in range(chans):
            for i in range(l_out):
                total, inside = 0.0, 0
                for k in range(kernel_size):
                    j = i * stride + k - padding
                    if 0 <= j < length:
                        total += x[n, c, j]
                        inside += 1
                out[n, c, i] = total / (kernel_size if count_include_pad else inside)
    return out


def leaf(a, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


# ================================================================== the seed's small example

SEED_X, SEED_W, SEED_B = [1, 2, 3, 4], [3, 5, 7], [1]
SEED_DELTA_A = [10, 20]
SEED_A = [35, 50]  # a_i = sum_s x_(i+s) w_s + b: 1*3+2*5+3*7+1, 2*3+3*5+4*7+1
SEED_DELTA_B, SEED_DELTA_W, SEED_DELTA_X = [30], [50, 80, 110], [30, 110, 170, 140]


def _seed_check(x, w, b, a):
    np.testing.assert_array_equal(a.data, SEED_A)
    a.backward(np.array(SEED_DELTA_A, dtype=a.dtype))
    np.testing.assert_array_equal(b.grad, SEED_DELTA_B)
    np.testing.assert_array_equal(w.grad, SEED_DELTA_W)
    np.testing.assert_array_equal(x.grad, SEED_DELTA_X)


def test_seed_example_through_functional_conv1d():
    x, w, b = leaf(SEED_X), leaf(SEED_W), leaf(SEED_B)
    _seed_check(x, w, b, F.conv1d(x, w, b))


def test_seed_example_through_tensor_method():
    x, w, b = leaf(SEED_X, np.float32), leaf(SEED_W, np.float32), leaf(SEED_B, np.float32)
    _seed_check(x, w, b, x.conv1d(w, b))


def test_seed_example_through_simple_conv1d_layer():
    import tinygrad1d.nn as nn  # imported here so the other tests run while nn is in progress

    layer = nn.SimpleConv1d(3)
    assert layer.weight.shape == (3,) and layer.bias.shape == (1,)
    layer.weight.data[...] = SEED_W
    layer.bias.data[...] = SEED_B
    x = leaf(SEED_X, layer.weight.dtype)
    _seed_check(x, layer.weight, layer.bias, layer(x))


def test_seed_example_against_the_naive_reference():
    x, w, b = (np.array(v, dtype=np.float64)[None, None] for v in (SEED_X, SEED_W, SEED_B))
    np.testing.assert_array_equal(naive_conv1d(x, w, b[0, 0]), [[SEED_A]])
    dx, dw, db = naive_conv1d_backward(x, w, np.array([[SEED_DELTA_A]], dtype=np.float64))
    np.testing.assert_array_equal(dx, [[SEED_DELTA_X]])
    np.testing.assert_array_equal(dw, [[SEED_DELTA_W]])
    np.testing.assert_array_equal(db, SEED_DELTA_B)


# ================================================================== the multi-channel example

MC_X = [[1, 2, 3, 4], [2, 3, 4, 5]]  # (C_in=2, L=4)
MC_W = np.ones((3, 2, 3))  # (C_out=3, C_in=2, K=3), all ones
MC_B = [1, 2, 3]  # (C_out,)
MC_A = [[16, 22], [17, 23], [18, 24]]  # (C_out, L_out=2)
# The upstream gradient g = dL/da used for the hand-computed backward, (C_out, L_out).
MC_G = [[1, 2], [3, 4], [5, 6]]

# By hand. With all-ones weights the forward is a[o, i] = b[o] + sum_c sum_k x[c, i+k]:
#   window i=0 reads x[:, 0:3] -> 1+2+3 + 2+3+4 = 15;  window i=1 reads x[:, 1:4] -> 9+12 = 21
#   so a = [[15+1, 21+1], [15+2, 21+2], [15+3, 21+3]] = [[16, 22], [17, 23], [18, 24]].
#
# dL/db[o] = sum_i g[o, i]:  [1+2, 3+4, 5+6] = [3, 7, 11]
MC_DB = [3, 7, 11]
# dL/dw[o, c, k] = sum_i g[o, i] * x[c, i+k] = g[o, 0] x[c, k] + g[o, 1] x[c, k+1]:
#   o=0 (g = 1, 2): c=0: k=0 1*1+2*2=5,   k=1 1*2+2*3=8,   k=2 1*3+2*4=11
#                   c=1: k=0 1*2+2*3=8,   k=1 1*3+2*4=11,  k=2 1*4+2*5=14
#   o=1 (g = 3, 4): c=0: 3*1+4*2=11, 3*2+4*3=18, 3*3+4*4=25
#                   c=1: 3*2+4*3=18, 3*3+4*4=25, 3*4+4*5=32
#   o=2 (g = 5, 6): c=0: 5*1+6*2=17, 5*2+6*3=28, 5*3+6*4=39
#                   c=1: 5*2+6*3=28, 5*3+6*4=39, 5*4+6*5=50
MC_DW = [[[5, 8, 11], [8, 11, 14]],
         [[11, 18, 25], [18, 25, 32]],
         [[17, 28, 39], [28, 39, 50]]]
# dL/dx[c, j] = sum_o sum_{k: 0 <= j-k < L_out} g[o, j-k] w[o, c, k]; with w = 1 this is
# sum_o of g[o, i] over the windows i in {j-2, j-1, j} ∩ {0, 1} that read position j,
# and it is the same for both channels:
#   column sums over o: sum_o g[o, 0] = 1+3+5 = 9,  sum_o g[o, 1] = 2+4+6 = 12
#   j=0: windows {0}    -> 9
#   j=1: windows {0, 1} -> 9 + 12 = 21
#   j=2: windows {0, 1} -> 21  (window 0 reads it with k=2, window 1 with k=1)
#   j=3: windows {1}    -> 12
MC_DX = [[9, 21, 21, 12], [9, 21, 21, 12]]


def test_multichannel_example_forward_and_hand_computed_backward():
    x, w, b = leaf(MC_X), leaf(MC_W), leaf(MC_B)
    a = F.conv1d(x, w, b)
    assert a.shape == (3, 2)
    np.testing.assert_array_equal(a.data, MC_A)
    a.backward(np.array(MC_G, dtype=np.float64))
    np.testing.assert_array_equal(b.grad, MC_DB)
    np.testing.assert_array_equal(w.grad, MC_DW)
    np.testing.assert_array_equal(x.grad, MC_DX)


def test_multichannel_hand_values_agree_with_the_naive_reference():
    x, w = np.array(MC_X, dtype=np.float64)[None], MC_W
    np.testing.assert_array_equal(naive_conv1d(x, w, np.array(MC_B)), [MC_A])
    dx, dw, db = naive_conv1d_backward(x, w, np.array(MC_G, dtype=np.float64)[None])
    np.testing.assert_array_equal(dx, [MC_DX])
    np.testing.assert_array_equal(dw, MC_DW)
    np.testing.assert_array_equal(db, MC_DB)


def test_multichannel_example_batched_equals_unbatched():
    x = np.array([MC_X, np.array(MC_X)[::-1]], dtype=np.float64)  # (N=2, C=2, L=4)
    out = F.conv1d(x, MC_W, np.array(MC_B, dtype=np.float64))
    assert out.shape == (2, 3, 2)
    np.testing.assert_array_equal(out.data[0], MC_A)
    np.testing.assert_array_equal(out.data[1], F.conv1d(x[1], MC_W, MC_B).data)


# ================================================================== conv_output_size


@pytest.mark.parametrize("args, expected", [
    ((4, 3), 2),  # the seed: 4 - 3 + 1
    ((4, 3, 1, 0, 1), 2),
    ((5, 3, 2), 2),  # windows at 0 and 2
    ((5, 3, 2, 1), 3),  # padded length 7: windows at 0, 2, 4
    ((6, 3, 2), 2),  # the last sample is never read
    ((10, 3, 1, 0, 2), 6),  # dilation 2: span 5
    ((7, 4, 1, 0, 2), 1),  # span 7 exactly fills the input
    ((7, 2, 3, 1), 3),  # (7 + 2 - 1 - 1) // 3 + 1
    ((28, 5, 3, 2), 10),
    ((1, 1), 1),
    ((1, 3, 1, 1), 1),  # padding makes room for the kernel
    ((3, 5, 1, 1), 1),
    ((784, 3), 782),
    ((100, 7, 5, 3, 2), 19),
])
def test_conv_output_size_table(args, expected):
    assert F.conv_output_size(*args) == expected
    n, k, s, p, d = (args + (1, 0, 1)[len(args) - 2:])[:5]
    assert (n + 2 * p - d * (k - 1) - 1) // s + 1 == expected  # API.md's formula
    assert count_windows(n + 2 * p, d * (k - 1) + 1, s) == expected  # counting windows


@given(n=st.integers(1, 40), k=st.integers(1, 8), s=st.integers(1, 5), p=st.integers(0, 4),
       d=st.integers(1, 4))
def test_conv_output_size_counts_the_windows(n, k, s, p, d):
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        with pytest.raises(ValueError, match="kernel_size"):
            F.conv_output_size(n, k, s, p, d)
    else:
        assert F.conv_output_size(n, k, s, p, d) == count_windows(n + 2 * p, span, s)
        assert F.conv_output_size(n, k, stride=s, padding=p, dilation=d) == \
            naive_conv1d(np.zeros((1, 1, n)), np.zeros((1, 1, k)), None, s, p, d).shape[2]


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_in=3, kernel_size=5), "kernel_size"),  # kernel longer than the input
    (dict(n_in=3, kernel_size=6, padding=1), "kernel_size"),  # ... than the padded input
    (dict(n_in=5, kernel_size=3, dilation=3), "kernel_size"),  # dilated span 7 > 5
    (dict(n_in=4, kernel_size=3, stride=0), "stride"),
    (dict(n_in=4, kernel_size=3, stride=-1), "stride"),
    (dict(n_in=4, kernel_size=3, padding=-1), "padding"),
    (dict(n_in=4, kernel_size=0), "kernel_size"),
    (dict(n_in=4, kernel_size=-2), "kernel_size"),
    (dict(n_in=4, kernel_size=3, dilation=0), "dilation"),
    (dict(n_in=0, kernel_size=1), "n_in"),
    (dict(n_in=-4, kernel_size=1), "n_in"),
])
def test_conv_output_size_rejects_out_of_range_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        F.conv_output_size(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_in=4.0, kernel_size=3), "n_in"),
    (dict(n_in=4, kernel_size=2.5), "kernel_size"),
    (dict(n_in="4", kernel_size=3), "n_in"),
    (dict(n_in=4, kernel_size=3, stride=1.0), "stride"),
    (dict(n_in=4, kernel_size=3, padding=None), "padding"),
    (dict(n_in=True, kernel_size=1), "n_in"),  # bool is not an int
    (dict(n_in=4, kernel_size=True), "kernel_size"),
    (dict(n_in=4, kernel_size=3, stride=True), "stride"),
    (dict(n_in=4, kernel_size=3, dilation=False), "dilation"),
])
def test_conv_output_size_rejects_non_integers(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        F.conv_output_size(**kwargs)


def test_conv_output_size_accepts_numpy_integers():
    assert F.conv_output_size(np.int64(5), np.int32(3), stride=np.int64(2)) == 2


# ================================================================== drawn cases vs the loops


@st.composite
def conv_cases(draw, max_len_extra=4):
    """(x, w, b, params): groups dividing both channel counts, every padding form, small sizes
    so that the element-by-element gradchecks stay fast."""
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    k = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["int", "pair", "valid", "same"]))
    stride = 1 if kind == "same" else draw(st.integers(1, 3))
    if kind == "int":
        padding = draw(st.integers(0, 3))
    elif kind == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    else:
        padding = kind
    left, right = resolve_padding(padding, k, dilation)
    min_len = max(1, dilation * (k - 1) + 1 - left - right)
    length = draw(st.integers(min_len, min_len + max_len_extra))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-2, 2, (n, c_in, length))
    w = rng.uniform(-2, 2, (c_out, c_in // groups, k))
    b = rng.uniform(-2, 2, (c_out,)) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _conv_fn(params, with_bias: bool):
    if with_bias:
        return lambda x, w, b: F.conv1d(x, w, b, **params)
    return lambda x, w: F.conv1d(x, w, None, **params)


@given(case=conv_cases())
def test_conv1d_matches_the_naive_loops(case):
    x, w, b, params = case
    out = F.conv1d(Tensor(x), Tensor(w), None if b is None else Tensor(b), **params)
    expect = naive_conv1d(x, w, b, **params)
    assert out.shape == expect.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expect, rtol=1e-12, atol=1e-12)


@given(case=conv_cases(), seed=st.integers(0, 2**32 - 1))
def test_conv1d_gradients_match_the_naive_chain_rule(case, seed):
    x, w, b, params = case
    xt, wt = leaf(x), leaf(w)
    bt = None if b is None else leaf(b)
    out = F.conv1d(xt, wt, bt, **params)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(g)
    dx, dw, db = naive_conv1d_backward(x, w, g, **params)
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad, dw, rtol=1e-12, atol=1e-12)
    if bt is not None:
        np.testing.assert_allclose(bt.grad, db, rtol=1e-12, atol=1e-12)


@given(case=conv_cases())
def test_conv1d_gradcheck(case):
    x, w, b, params = case
    inputs = [x, w] if b is None else [x, w, b]
    assert tg.gradcheck(_conv_fn(params, b is not None), inputs)


@given(case=conv_cases(max_len_extra=3))
def test_conv1d_gradgradcheck(case):
    x, w, b, params = case
    inputs = [x, w] if b is None else [x, w, b]
    assert tg.gradgradcheck(_conv_fn(params, b is not None), inputs)


@st.composite
def pool_cases(draw, dilated=False):
    """(x, kernel_size, stride, padding, dilation): padding at most kernel_size // 2 (PyTorch's
    rule), values distinct with gaps of 0.13 so a max never ties and central differences
    never cross a switch of winner."""
    k = draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.integers(1, 3)))
    padding = draw(st.integers(0, k // 2))
    dilation = draw(st.integers(1, 3)) if dilated else 1
    span = dilation * (k - 1) + 1
    min_len = max(1, span - 2 * padding)
    length = draw(st.integers(min_len, min_len + 5))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), length)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    (x,) = distinct([shape], rng)
    return x, k, stride, padding, dilation


@given(case=pool_cases(dilated=True))
def test_max_pool1d_matches_the_naive_loops_and_gradchecks(case):
    x, k, stride, padding, dilation = case
    expect = naive_max_pool1d(x, k, stride, padding, dilation)
    # with dilation a window can fall entirely in the padding (PyTorch gives -inf there too);
    # its value is checked below, but central differences through -inf are meaningless
    out = F.max_pool1d(Tensor(x), k, stride, padding, dilation=dilation)
    assert out.shape == expect.shape
    np.testing.assert_array_equal(out.data, expect)
    assume(np.isfinite(expect).all())
    fn = lambda t: F.max_pool1d(t, k, stride, padding, dilation=dilation)  # noqa: E731
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


@given(case=pool_cases(), count_include_pad=st.booleans())
def test_avg_pool1d_matches_the_naive_loops_and_gradchecks(case, count_include_pad):
    x, k, stride, padding, _ = case
    expect = naive_avg_pool1d(x, k, stride, padding, count_include_pad)
    out = F.avg_pool1d(Tensor(x), k, stride, padding, count_include_pad=count_include_pad)
    assert out.shape == expect.shape
    np.testing.assert_allclose(out.data, expect, rtol=1e-12, atol=1e-12)
    def fn(t):
        return F.avg_pool1d(t, k, stride, padding, count_include_pad=count_include_pad)
    assert tg.gradcheck(fn, [x])
    assert tg.gradgradcheck(fn, [x])


def test_pool_defaults_stride_to_kernel_size_and_avg_counts_padding():
    x = np.arange(1.0, 8.0)[None, None]  # [1..7]
    np.testing.assert_array_equal(F.max_pool1d(x, 2).data, [[[2, 4, 6]]])
    np.testing.assert_array_equal(F.avg_pool1d(x, 2).data, [[[1.5, 3.5, 5.5]]])
    # padding 1: windows [0,1,2] [2,3,4] [4,5,6] [6,7,0] over the zero-padded input
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1).data, [[[1, 3, 5, 13 / 3]]])
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, count_include_pad=False).data,
                               [[[1.5, 3, 5, 6.5]]])
    np.testing.assert_array_equal(F.max_pool1d(-x, 3, 2, 1).data, [[[-1, -2, -4, -6]]])


def test_max_pool1d_gradient_goes_to_the_winner_and_adds_over_windows():
    x = leaf([[[0.0, 5.0, 1.0, 2.0, 0.5]]])
    out = F.max_pool1d(x, 3, stride=1)  # windows [0,5,1] [5,1,2] [1,2,0.5]: 5 wins two
    np.testing.assert_array_equal(out.data, [[[5, 5, 2]]])
    out.backward(np.array([[[1.0, 10.0, 100.0]]]))
    np.testing.assert_array_equal(x.grad, [[[0, 11, 0, 100, 0]]])


def test_pools_accept_unbatched_input():
    rng = np.random.default_rng(3)
    (x,) = distinct([(3, 9)], rng)
    for pool, kw in [(F.max_pool1d, {}), (F.avg_pool1d, {"count_include_pad": False})]:
        got = pool(Tensor(x), 3, 2, 1, **kw)
        assert got.shape == (3, 5)
        np.testing.assert_array_equal(got.data, pool(Tensor(x[None]), 3, 2, 1, **kw).data[0])


# ================================================================== unbatched and (L,) forms


@given(case=conv_cases())
def test_unbatched_input_equals_a_batch_of_one(case):
    x, w, b, params = case
    x0 = x[0]  # (C_in, L)
    xt, wt = leaf(x0), leaf(w)
    bt = None if b is None else leaf(b)
    out = F.conv1d(xt, wt, bt, **params)
    ref = naive_conv1d(x0[None], w, b, **params)[0]
    assert out.shape == ref.shape  # (C_out, L_out)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(g)
    dx, dw, db = naive_conv1d_backward(x0[None], w, g[None], **params)
    np.testing.assert_allclose(xt.grad, dx[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wt.grad, dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bias", [
    np.array([1.0]),  # (1,)
    np.float64(1.0),  # numpy scalar
    1.0,  # Python number
    "tensor0d",  # a 0-d Tensor that requires grad: its gradient keeps shape ()
])
def test_single_channel_form_with_scalar_bias(bias):
    x, w = leaf(SEED_X), leaf(SEED_W)
    b = leaf(1.0) if isinstance(bias, str) else bias
    a = F.conv1d(x, w, b)
    assert a.shape == (2,)
    np.testing.assert_array_equal(a.data, SEED_A)
    a.backward(np.array(SEED_DELTA_A, dtype=np.float64))
    np.testing.assert_array_equal(x.grad, SEED_DELTA_X)
    np.testing.assert_array_equal(w.grad, SEED_DELTA_W)
    if isinstance(b, Tensor):
        assert b.grad.shape == () and b.grad == 30


def test_single_channel_form_without_bias_and_with_stride_padding_dilation():
    x = np.arange(1.0, 9.0)
    w = np.array([1.0, -2.0, 0.5])
    for params in [dict(), dict(stride=2), dict(padding=2), dict(padding="same"),
                   dict(padding=(0, 3), dilation=2), dict(stride=3, padding=1, dilation=3)]:
        out = F.conv1d(x, w, **params)
        ref = naive_conv1d(x[None, None], w[None, None], None, **params)[0, 0]
        assert out.shape == ref.shape
        np.testing.assert_allclose(out.data, ref, rtol=1e-12)
        assert tg.gradcheck(lambda xx, ww, p=params: F.conv1d(xx, ww, **p), [x, w])


def test_same_padding_keeps_the_length_and_puts_the_odd_sample_right():
    x = np.arange(1.0, 6.0)[None, None]  # (1, 1, 5)
    w = np.array([[[1.0, 10.0, 100.0, 1000.0]]])  # K = 4: pad 1 left, 2 right
    out = F.conv1d(x, w, padding="same")
    assert out.shape == (1, 1, 5)
    np.testing.assert_array_equal(out.data, naive_conv1d(x, w, padding=(1, 2)))
    # first window reads [0, 1, 2, 3]: 0*1 + 1*10 + 2*100 + 3*1000
    assert out.data[0, 0, 0] == 3210


# ================================================================== error paths


def _raises(match_all, fn, *args, **kwargs):
    with pytest.raises(ValueError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    for part in match_all:
        assert part in msg, f"{part!r} not in the error message {msg!r}"


def test_conv1d_channel_mismatch():
    _raises(["conv1d", "3", "(2, 2, 3)"], F.conv1d, np.ones((1, 3, 5)), np.ones((2, 2, 3)))


def test_conv1d_wrong_weight_rank():
    _raises(["conv1d", "(2, 3)"], F.conv1d, np.ones((1, 3, 5)), np.ones((2, 3)))
    _raises(["conv1d", "(2, 3, 3, 1)"], F.conv1d, np.ones((1, 3, 5)), np.ones((2, 3, 3, 1)))
    _raises(["conv1d", "(3,)"], F.conv1d, np.ones((1, 3, 5)), np.ones(3))
    _raises(["conv1d", "(1, 1, 3)"], F.conv1d, np.ones(5), np.ones((1, 1, 3)))  # (L,) needs (K,)


def test_conv1d_wrong_input_rank():
    _raises(["conv1d", "(1, 1, 3, 5)"], F.conv1d, np.ones((1, 1, 3, 5)), np.ones((2, 3, 3)))


def test_conv1d_groups_must_divide_the_channels():
    _raises(["conv1d", "groups=2", "3"], F.conv1d, np.ones((1, 3, 5)), np.ones((4, 1, 3)),
            groups=2)
    _raises(["conv1d", "groups=2", "3"], F.conv1d, np.ones((1, 4, 5)), np.ones((3, 2, 3)),
            groups=2)
    # groups divides both, but the weight's channels do not match C_in / groups
    _raises(["conv1d", "(4, 4, 3)"], F.conv1d, np.ones((1, 4, 5)), np.ones((4, 4, 3)), groups=2)


def test_conv1d_bias_of_the_wrong_shape():
    _raises(["conv1d", "(2,)", "(3,)"], F.conv1d, np.ones((1, 1, 5)), np.ones((2, 1, 3)),
            np.ones(3))
    _raises(["conv1d", "(2,)", "(1, 2)"], F.conv1d, np.ones((1, 1, 5)), np.ones((2, 1, 3)),
            np.ones((1, 2)))
    _raises(["conv1d", "(2,)"], F.conv1d, np.ones(5), np.ones(3), np.ones(2))  # (L,) form


def test_conv1d_kernel_longer_than_the_input():
    _raises(["conv1d", "kernel_size=5", "3"], F.conv1d, np.ones((1, 1, 3)), np.ones((1, 1, 5)))
    _raises(["conv1d", "kernel_size=3", "dilation=3"], F.conv1d, np.ones((1, 1, 5)),
            np.ones((1, 1, 3)), dilation=3)
    _raises(["conv1d", "kernel_size=4"], F.conv1d, np.ones(3), np.ones(4))


def test_conv1d_same_padding_needs_stride_one():
    _raises(["conv1d", "same", "stride=2"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)),
            stride=2, padding="same")


def test_conv1d_rejects_bad_padding_and_stride_values():
    _raises(["conv1d", "padding"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)),
            padding="full")
    _raises(["conv1d", "padding"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)), padding=-1)
    _raises(["conv1d", "padding"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)),
            padding=(1, 2, 3))
    _raises(["conv1d", "stride"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)), stride=0)
    _raises(["conv1d", "dilation"], F.conv1d, np.ones((1, 1, 8)), np.ones((1, 1, 3)), dilation=0)


@pytest.mark.parametrize("pool", [F.max_pool1d, F.avg_pool1d])
def test_pool_padding_larger_than_half_the_kernel(pool):
    name = pool.__name__
    _raises([name, "padding=2"], pool, np.ones((1, 1, 8)), 3, padding=2)
    _raises([name, "padding=1"], pool, np.ones((1, 1, 8)), 1, padding=1)
    _raises([name, "kernel_size=5"], pool, np.ones((1, 1, 3)), 5)  # window longer than input


def test_max_pool1d_padding_rule_does_not_depend_on_dilation():
    """PyTorch requires padding <= kernel_size // 2 whatever the dilation; allowing more lets
    a dilated window fall entirely in the -inf padding (the output below would be all -inf)."""
    _raises(["max_pool1d", "padding=3"], F.max_pool1d, np.array([[[1.0, 2.0]]]), 2, 1, 3,
            dilation=5)


# ================================================================== accumulation over windows


def test_shared_weight_gradient_is_the_sum_over_windows():
    rng = np.random.default_rng(7)
    n, c, o, length, k, stride = 2, 3, 4, 9, 3, 2
    x, w = rng.standard_normal((n, c, length)), rng.standard_normal((o, c, k))
    wt = leaf(w)
    out = F.conv1d(x, wt, stride=stride)  # (2, 4, 4)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    # every window i of every sample uses the same w; its contribution to dL/dw is
    # g[n, :, i] (outer) the window x[n, :, i*stride : i*stride+K]
    per_window = [np.einsum("o,ck->ock", g[b, :, i], x[b, :, i * stride:i * stride + k])
                  for b in range(n) for i in range(out.shape[2])]
    assert len(per_window) == n * 4
    np.testing.assert_allclose(wt.grad, np.sum(per_window, axis=0), rtol=1e-12)
    # and no single window alone accounts for it
    assert not np.allclose(wt.grad, per_window[0])


def test_input_read_by_k_windows_gets_the_sum_of_their_gradients():
    rng = np.random.default_rng(8)
    x, w, k = rng.standard_normal(10), rng.standard_normal(4), 4
    xt = leaf(x)
    out = F.conv1d(xt, w)  # 7 windows, stride 1: x[j] for 3 <= j <= 6 is read by 4 windows
    g = rng.standard_normal(out.shape)
    out.backward(g)
    for j in range(10):
        readers = [i for i in range(7) if i <= j < i + k]  # windows that read x[j]
        assert len(readers) == (k if 3 <= j <= 6 else min(j + 1, 10 - j))
        # window i reads x[j] through tap j - i
        np.testing.assert_allclose(xt.grad[j], sum(g[i] * w[j - i] for i in readers),
                                   rtol=1e-12)


def test_conv1d_grads_equal_an_explicit_per_window_graph():
    """The same sum built window by window with slicing: w is used by every window on its own
    branch, and the engine's sum over branches must give conv1d's (gather-based) gradient."""
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 7)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)
    g = rng.standard_normal((3, 5))
    xa, wa, ba = leaf(x), leaf(w), leaf(b)
    F.conv1d(xa, wa, ba).backward(g)
    xb, wb, bb = leaf(x), leaf(w), leaf(b)
    loss = 0.0
    for i in range(5):
        window = xb[:, i:i + 3]  # (C, K)
        for o in range(3):
            loss = loss + g[o, i] * ((window * wb[o]).sum() + bb[o])
    loss.backward()
    np.testing.assert_allclose(xa.grad, xb.grad, rtol=1e-12)
    np.testing.assert_allclose(wa.grad, wb.grad, rtol=1e-12)
    np.testing.assert_allclose(ba.grad, bb.grad, rtol=1e-12)


def test_gradients_accumulate_across_backward_calls():
    x, w, b = leaf(SEED_X), leaf(SEED_W), leaf(SEED_B)
    for _ in range(2):
        F.conv1d(x, w, b).backward(np.array(SEED_DELTA_A, dtype=np.float64))
    np.testing.assert_array_equal(w.grad, 2 * np.array(SEED_DELTA_W))
    np.testing.assert_array_equal(x.grad, 2 * np.array(SEED_DELTA_X))


# ================================================================== dtypes


@pytest.mark.parametrize("params", [dict(), dict(stride=2, padding=1, dilation=2),
                                    dict(padding="same", groups=2)])
def test_float32_in_float32_out(params):
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal((2, 4, 11)), np.float32)
    w = leaf(rng.standard_normal((6, 4 // params.get("groups", 1), 3)), np.float32)
    b = leaf(rng.standard_normal(6), np.float32)
    out = F.conv1d(x, w, b, **params)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    for t in (x, w, b):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
    ref = naive_conv1d(x.data.astype(np.float64), w.data.astype(np.float64),
                       b.data.astype(np.float64), **params)
    np.testing.assert_allclose(out.data, ref, rtol=1e-5, atol=1e-5)


def test_float32_pools_stay_float32():
    x = leaf(np.random.default_rng(2).standard_normal((1, 2, 8)), np.float32)
    for out in (F.max_pool1d(x, 2), F.avg_pool1d(x, 3, 1, 1, count_include_pad=False)):
        assert out.dtype == np.float32
        x.grad = None
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_window_index_is_the_seed_index():
    np.testing.assert_array_equal(F.window_index(2, 3), [[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(np.array(SEED_X)[F.window_index(2, 3)], [[1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(F.window_index(3, 2, 2, 3), [[0, 3], [2, 5], [4, 7]])


def test_max_pool1d_picks_the_first_maximum_and_propagates_nan_as_torch():
    x = tg.Tensor(np.array([[[1.0, np.nan, 3.0, 2.0, 5.0, 5.0, 0.0, 1.0]]]), requires_grad=True)
    out = F.max_pool1d(x, 2)
    np.testing.assert_array_equal(out.data, [[[np.nan, 3.0, 5.0, 1.0]]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[0, 1, 1, 0, 1, 0, 0, 1]]])  # ties: the first


# ================================================================== window geometry


def test_windows_materialise_the_seed_index_and_its_padding():
    win = F.windows(4, 3)  # the seed: x = [1, 2, 3, 4], K = 3
    assert win.shape == (3, 2) and win.n_out == 2
    np.testing.assert_array_equal(win.index().T, F.window_index(2, 3))
    padded = F.windows(5, 3, stride=2, dilation=1, padding=(1, 1))  # padded length 7
    np.testing.assert_array_equal(padded.index(), [[0, 2, 4], [1, 3, 5], [2, 4, 6]])
    # tap k, windows i0..i1-1 read the signal itself from position p on
    assert padded.spans == ((1, 3, 1), (0, 3, 0), (0, 2, 1))
    assert not padded.index().flags.writeable  # cached, shared by every call


@given(length=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 3),
       left=st.integers(0, 3), right=st.integers(0, 3), big=st.booleans())
def test_gather_and_scatter_with_windows_equal_the_index_array_path(length, k, s, d, left,
                                                                    right, big):
    """Both paths (a loop over the taps for big inputs, np.take on the index for small ones)
    equal numpy on the padded signal with the materialised index, forward and adjoint."""
    assume(length + left + right >= d * (k - 1) + 1)
    win = tg.ops.Windows(length, k, s, d, (left, right))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, length, 700 if big else 2))  # 700 * 3 * L: the tap loop
    padded = np.pad(x, ((0, 0), (left, right), (0, 0)), constant_values=-7.0)
    got = Tensor(x).gather(win, axis=1, value=-7.0).data
    np.testing.assert_array_equal(got, np.take(padded, win.index(), axis=1))
    g = rng.standard_normal(got.shape)
    want = np.zeros(padded.shape)
    np.add.at(want, (slice(None), win.index()), g)
    out = tg.OPS["scatter_add"].apply(Tensor(g), index=win, axis=1, size=length).data
    np.testing.assert_allclose(out, want[:, left:left + length], rtol=1e-12, atol=1e-12)


def test_windows_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="kernel_size=4.*length=2"):
        tg.ops.Windows(2, 4)
    with pytest.raises(ValueError, match="gather.*does not fit axis 1"):
        Tensor(np.ones((2, 5))).gather(F.windows(4, 2), axis=1)
    with pytest.raises(ValueError, match="scatter_add.*size 6"):
        tg.OPS["scatter_add"].apply(Tensor(np.ones((2, 3))), index=F.windows(4, 2), axis=0,
                                    size=6)


def test_the_seed_conv1d_records_three_nodes_and_padding_records_none():
    x, w, b = leaf(SEED_X), leaf(SEED_W), leaf(SEED_B)
    out = F.conv1d(x, w, b)
    assert [type(t._ctx).name for t in tg.tensor.walk([out]) if t._ctx] == \
        ["gather", "matmul", "add"]
    padded = F.conv1d(leaf(np.ones((2, 3, 8))), leaf(np.ones((4, 3, 3))), padding=2)
    names = [type(t._ctx).name for t in tg.tensor.walk([padded]) if t._ctx]
    assert "pad" not in names and names.count("gather") == 1


# ================================================================== configurations that refuse


@pytest.mark.parametrize("call, words", [
    (lambda: F.conv1d(np.ones((1, 1, 0)), np.ones((1, 1, 3))), ["conv1d", "length"]),
    (lambda: F.conv1d(np.ones((1, 1, 5)), np.ones((1, 1, 0))), ["conv1d", "kernel_size", "0"]),
    (lambda: F.conv1d(np.ones(0), np.ones(3)), ["conv1d"]),
    (lambda: F.conv1d(np.ones((1, 0, 5)), np.ones((1, 0, 3))), ["conv1d", "channel"]),
    (lambda: F.max_pool1d(np.ones((1, 1, 0)), 2), ["max_pool1d", "(1, 1, 0)"]),
    (lambda: F.avg_pool1d(np.ones((1, 1, 0)), 2), ["avg_pool1d", "(1, 1, 0)"]),
    (lambda: F.max_pool1d(np.ones((1, 1, 4)), 0), ["max_pool1d", "kernel_size", "0"]),
])
def test_empty_inputs_and_kernels_refuse(call, words):
    with pytest.raises(ValueError) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


@pytest.mark.parametrize("make, words", [
    (lambda: tg.nn.Conv1d(1, 1, 0), ["Conv1d", "kernel_size", "0"]),
    (lambda: tg.nn.Conv1d(1, 1, -1), ["Conv1d", "kernel_size", "-1"]),
    (lambda: tg.nn.Conv1d(2, 2, 3, groups=-1), ["Conv1d", "groups", "-1"]),
    (lambda: tg.nn.Conv1d(2, 2, 3, groups=0), ["Conv1d", "groups", "0"]),
    (lambda: tg.nn.Conv1d(2, 2, 3, groups=3), ["Conv1d", "groups=3"]),
    (lambda: tg.nn.Conv1d(1, 1, 3, stride=0), ["Conv1d", "stride", "0"]),
    (lambda: tg.nn.Conv1d(1, 1, 3, dilation=-2), ["Conv1d", "dilation", "-2"]),
    (lambda: tg.nn.Conv1d(1, 1, 3, padding=-1), ["Conv1d", "padding", "-1"]),
    (lambda: tg.nn.Conv1d(0, 1, 3), ["Conv1d", "in_channels", "0"]),
    (lambda: tg.nn.Conv1d(1, -4, 3), ["Conv1d", "out_channels", "-4"]),
    (lambda: tg.nn.MaxPool1d(0), ["MaxPool1d", "kernel_size", "0"]),
    (lambda: tg.nn.MaxPool1d(2, stride=-1), ["MaxPool1d", "stride", "-1"]),
    (lambda: tg.nn.MaxPool1d(2, dilation=0), ["MaxPool1d", "dilation", "0"]),
    (lambda: tg.nn.MaxPool1d(2, padding=-1), ["MaxPool1d", "padding", "-1"]),
    (lambda: tg.nn.AvgPool1d(-3), ["AvgPool1d", "kernel_size", "-3"]),
    (lambda: tg.nn.AvgPool1d(2, 0), ["AvgPool1d", "stride", "0"]),
    (lambda: tg.nn.AvgPool1d(3, padding=2), ["AvgPool1d", "padding=2"]),
])
def test_layer_constructors_refuse_bad_sizes(make, words):
    with pytest.raises(ValueError) as e:
        make()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_max_pool1d_layer_takes_dilation_in_torchs_position():
    x = leaf(np.arange(8.0).reshape(1, 1, 8))
    np.testing.assert_array_equal(tg.nn.MaxPool1d(2, 2, 0, 2)(x).data,
                                  F.max_pool1d(x, 2, 2, 0, dilation=2).data)
