"""Side by side with PyTorch in float64: values and gradients of conv1d, pooling, losses,
the softmax family, linear and the elementwise ops at their awkward points (ties, kinks,
large magnitudes). Tolerances are float64-tight; a mismatch is a finding, not a tolerance to
widen."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad1d.functional as F
from tinygrad1d import Tensor

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")
TF = torch.nn.functional
# torch notes that padding='same' with an even kernel copies the input; that is expected here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")



@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """torch's thread pool costs ~100 ms per tiny conv on a busy machine; one thread, 0.1 ms."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


RTOL = 1e-10
ATOL = 1e-12  # values and gradients here are O(1)..O(1000); this only absorbs exact-zero sums

seeds = st.integers(0, 2**32 - 1)


def ours(a) -> Tensor:
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True)


def theirs(a) -> "torch.Tensor":
    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=True)


def close(got, expect, what: str, rtol=RTOL, atol=ATOL) -> None:
    got = got.data if isinstance(got, Tensor) else got
    expect = expect.detach().numpy() if isinstance(expect, torch.Tensor) else expect
    assert np.shape(got) == np.shape(expect), f"{what}: shape {np.shape(got)} vs torch " \
                                              f"{np.shape(expect)}"
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=atol, err_msg=what)


def compare(our_fn, torch_fn, arrays, seed: int, grads=None, rtol=RTOL, atol=ATOL) -> None:
    """Run both on the same float64 arrays, compare the outputs, then backpropagate the same
    random upstream gradient through both and compare the gradient of every input (or of the
    inputs whose positions are listed in `grads`)."""
    grads = range(len(arrays)) if grads is None else grads
    xs = [ours(a) if i in grads else Tensor(np.array(a, dtype=np.float64))
          for i, a in enumerate(arrays)]
    ts = [theirs(a) if i in grads else torch.tensor(np.array(a, dtype=np.float64))
          for i, a in enumerate(arrays)]
    out, ref = our_fn(*xs), torch_fn(*ts)
    close(out, ref, "value", rtol, atol)
    g = np.random.default_rng(seed).standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for i in grads:
        close(xs[i].grad, ts[i].grad, f"gradient of input {i}", rtol, atol)


# ================================================================== conv1d


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k, dilation = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["int", "valid", "same"]))
    stride = 1 if kind == "same" else draw(st.integers(1, 4))
    padding = draw(st.integers(0, 4)) if kind == "int" else kind
    total_pad = {"int": 2 * (padding if kind == "int" else 0), "valid": 0,
                 "same": dilation * (k - 1)}[kind]
    min_len = max(1, dilation * (k - 1) + 1 - total_pad)
    length = draw(st.integers(min_len, min_len + 12))
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: unbatched (C_in, L)
    rng = np.random.default_rng(draw(seeds))
    x = rng.uniform(-2, 2, (c_in, length) if batch is None else (batch, c_in, length))
    w = rng.uniform(-2, 2, (c_out, c_in // groups, k))
    b = rng.uniform(-2, 2, c_out) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@given(case=conv_cases(), seed=seeds)
def test_conv1d_matches_torch(case, seed):
    x, w, b, params = case
    arrays = [x, w] if b is None else [x, w, b]
    compare(lambda *a: F.conv1d(*a, **params), lambda *a: TF.conv1d(*a, **params), arrays, seed)


@given(case=conv_cases(), left=st.integers(0, 3), right=st.integers(0, 3), seed=seeds)
def test_conv1d_asymmetric_padding_matches_torch_pad_then_conv(case, left, right, seed):
    x, w, b, params = case
    params = dict(params, padding=(left, right))
    if isinstance(case[3]["padding"], str):
        params["stride"] = 1
    k, d = w.shape[2], params["dilation"]
    assume(x.shape[-1] + left + right >= d * (k - 1) + 1)
    torch_params = {k_: v for k_, v in params.items() if k_ != "padding"}
    arrays = [x, w] if b is None else [x, w, b]
    compare(lambda *a: F.conv1d(*a, **params),
            lambda xx, *rest: TF.conv1d(TF.pad(xx, (left, right)), *rest, **torch_params),
            arrays, seed)


@given(case=conv_cases())
def test_conv_output_size_matches_torch_output_length(case):
    x, w, _, params = case
    assume(isinstance(params["padding"], int))
    out = TF.conv1d(torch.tensor(x), torch.tensor(w), **params)
    assert out.shape[-1] == F.conv_output_size(x.shape[-1], w.shape[2], params["stride"],
                                               params["padding"], params["dilation"])


def test_conv1d_seed_example_matches_torch():
    x, w, b = theirs([[[1, 2, 3, 4]]]), theirs([[[3, 5, 7]]]), theirs([1])
    a = TF.conv1d(x, w, b)
    a.backward(torch.tensor([[[10.0, 20.0]]], dtype=torch.float64))
    xo, wo, bo = ours([1, 2, 3, 4]), ours([3, 5, 7]), ours([1])
    ao = F.conv1d(xo, wo, bo)
    ao.backward(np.array([10.0, 20.0]))
    close(ao, a[0, 0], "value")
    close(xo.grad, x.grad[0, 0], "delta_x")
    close(wo.grad, w.grad[0, 0], "delta_w")
    close(bo.grad, b.grad, "delta_b")


# ================================================================== pooling


@st.composite
def pool_cases(draw, ties: bool):
    k = draw(st.integers(1, 5))
    stride = draw(st.one_of(st.none(), st.integers(1, 4)))
    padding = draw(st.integers(0, k // 2))  # PyTorch's limit
    min_len = max(1, k - 2 * padding)
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(min_len, min_len + 12)))
    rng = np.random.default_rng(draw(seeds))
    if not ties:
        x = rng.uniform(-2, 2, shape)
    elif draw(st.booleans()):
        x = np.maximum(rng.uniform(-2, 2, shape), 0.0)  # after relu: runs of exact zeros
    else:
        x = rng.integers(-2, 3, shape).astype(np.float64)  # few distinct values
    return x, k, stride, padding


@given(case=pool_cases(ties=True), dilation=st.integers(1, 3), seed=seeds)
def test_max_pool1d_with_ties_matches_torch(case, dilation, seed):
    """On ties PyTorch sends a window's whole gradient to its first maximum."""
    x, k, stride, padding = case
    assume(x.shape[-1] + 2 * padding >= dilation * (k - 1) + 1)
    ref = TF.max_pool1d(torch.tensor(x), k, stride, padding, dilation)
    assume(torch.isfinite(ref).all())  # a dilated window can miss the input entirely (-inf)
    compare(lambda t: F.max_pool1d(t, k, stride, padding, dilation=dilation),
            lambda t: TF.max_pool1d(t, k, stride, padding, dilation), [x], seed)


@given(case=pool_cases(ties=False), seed=seeds)
def test_max_pool1d_unbatched_matches_torch(case, seed):
    x, k, stride, padding = case
    compare(lambda t: F.max_pool1d(t, k, stride, padding),
            lambda t: TF.max_pool1d(t, k, stride, padding), [x[0]], seed)


def test_max_pool1d_tie_goes_to_the_first_maximum():
    x = [[[1.0, 3.0, 3.0, 0.0, 3.0, 3.0]]]
    compare(lambda t: F.max_pool1d(t, 3, 1, 1), lambda t: TF.max_pool1d(t, 3, 1, 1), [x], 0)
    xo = ours(x)
    # windows (1,3) (3,3) (3,0) (0,3) (3,3) are won by positions 1, 1, 2, 4, 4
    F.max_pool1d(xo, 2, 1).sum().backward()
    np.testing.assert_array_equal(xo.grad, [[[0, 2, 1, 0, 2, 0]]])


@given(case=pool_cases(ties=True), count_include_pad=st.booleans(), seed=seeds)
def test_avg_pool1d_matches_torch(case, count_include_pad, seed):
    x, k, stride, padding = case
    compare(lambda t: F.avg_pool1d(t, k, stride, padding, count_include_pad=count_include_pad),
            lambda t: TF.avg_pool1d(t, k, stride, padding, count_include_pad=count_include_pad),
            [x], seed)


@given(case=pool_cases(ties=True), count_include_pad=st.booleans(), seed=seeds)
def test_pools_with_ceil_mode_match_torch(case, count_include_pad, seed):
    """ceil_mode adds a last, partial window when one more stride still starts inside."""
    x, k, stride, padding = case
    compare(lambda t: F.max_pool1d(t, k, stride, padding, ceil_mode=True),
            lambda t: TF.max_pool1d(t, k, stride, padding, ceil_mode=True), [x], seed)
    compare(lambda t: F.avg_pool1d(t, k, stride, padding, ceil_mode=True,
                                   count_include_pad=count_include_pad),
            lambda t: TF.avg_pool1d(t, k, stride, padding, ceil_mode=True,
                                    count_include_pad=count_include_pad), [x], seed)


# ================================================================== losses

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@st.composite
def logits(draw):
    n, c = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    rng = np.random.default_rng(draw(seeds))
    scale = draw(st.sampled_from([1.0, 10.0, 1000.0]))
    shift = draw(st.sampled_from([0.0, 1000.0, -1000.0]))
    return rng.standard_normal((n, c)) * scale + shift, rng


@given(case=logits(), reduction=REDUCTIONS, seed=seeds)
def test_cross_entropy_with_class_indices_matches_torch(case, reduction, seed):
    z, rng = case
    target = rng.integers(0, z.shape[1], z.shape[0])
    compare(lambda t: F.cross_entropy(t, target, reduction=reduction),
            lambda t: TF.cross_entropy(t, torch.tensor(target), reduction=reduction), [z], seed)


@given(case=logits(), reduction=REDUCTIONS, one_hot=st.booleans(), seed=seeds)
def test_cross_entropy_with_probabilities_matches_torch(case, reduction, one_hot, seed):
    z, rng = case
    if one_hot:
        p = np.eye(z.shape[1])[rng.integers(0, z.shape[1], z.shape[0])]
    else:
        p = rng.random(z.shape) + 0.01
        p /= p.sum(axis=1, keepdims=True)
    # gradients with respect to the logits and to the target probabilities
    compare(lambda t, q: F.cross_entropy(t, q, reduction=reduction),
            lambda t, q: TF.cross_entropy(t, q, reduction=reduction), [z, p], seed)


def test_cross_entropy_large_logits_stay_finite():
    z = [[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]]
    target = np.array([2, 2])
    compare(lambda t: F.cross_entropy(t, target, reduction="none"),
            lambda t: TF.cross_entropy(t, torch.tensor(target), reduction="none"), [z], 0)
    assert np.isfinite(F.cross_entropy(z, target).data)


def test_cross_entropy_unbatched_matches_torch():
    z = [0.5, -1.0, 3.0, 2.0]
    compare(lambda t: F.cross_entropy(t, np.array(2)),
            lambda t: TF.cross_entropy(t, torch.tensor(2)), [z], 0)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), reduction=REDUCTIONS,
       seed=seeds)
def test_mse_loss_matches_torch(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.uniform(-3, 3, shape), rng.uniform(-3, 3, shape)
    compare(lambda p, t: F.mse_loss(p, t, reduction=reduction),
            lambda p, t: TF.mse_loss(p, t, reduction=reduction), [pred, target], seed)


# ================================================================== softmax family, linear


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), data=st.data(),
       scale=st.sampled_from([1.0, 30.0, 1000.0]), seed=seeds)
def test_softmax_and_log_softmax_match_torch(shape, data, scale, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    compare(lambda t: F.softmax(t, axis=axis), lambda t: TF.softmax(t, dim=axis), [x], seed)
    compare(lambda t: F.log_softmax(t, axis=axis), lambda t: TF.log_softmax(t, dim=axis), [x],
            seed)
    compare(lambda t: t.log_softmax(axis), lambda t: t.log_softmax(axis), [x], seed)


@given(lead=st.lists(st.integers(1, 4), max_size=2), n_in=st.integers(1, 6),
       n_out=st.integers(1, 6), bias=st.booleans(), seed=seeds)
def test_linear_matches_torch(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(lead + [n_in]), rng.standard_normal((n_out, n_in))]
    if bias:
        arrays.append(rng.standard_normal(n_out))
    compare(F.linear, TF.linear, arrays, seed)


# ================================================================== kinks, ties, tails


@given(seed=seeds)
def test_relu_at_exactly_zero_matches_torch(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (4, 5)).astype(np.float64)  # many exact zeros
    x[0, 0] = 0.0
    compare(F.relu, TF.relu, [x], seed)
    compare(lambda t: t.relu(), torch.relu, [[0.0, -0.0]], seed)


@given(seed=seeds)
def test_maximum_with_ties_matches_torch(seed):
    """PyTorch splits a tie's gradient evenly between the two inputs."""
    rng = np.random.default_rng(seed)
    x, y = (rng.integers(-1, 2, (3, 4)).astype(np.float64) for _ in range(2))
    compare(lambda a, b: a.maximum(b), torch.maximum, [x, y], seed)
    compare(lambda a, b: a.maximum(b), torch.maximum, [x, y[0]], seed)  # broadcast + ties


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data(), seed=seeds)
def test_max_reduction_with_ties_matches_torch_amax(shape, data, seed):
    """torch.amax spreads the gradient evenly over the tied maxima."""
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), min_size=1,
                                        unique=True).map(tuple)))
    keepdims = data.draw(st.booleans())
    x = np.random.default_rng(seed).integers(0, 2, shape).astype(np.float64)
    dim = () if axis is None else axis
    compare(lambda t: t.max(axis=axis, keepdims=keepdims),
            lambda t: torch.amax(t, dim=dim, keepdim=keepdims), [x], seed)


TAILS = st.lists(st.floats(-60, 60, allow_nan=False), min_size=1, max_size=12)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@given(x=TAILS)
def test_sigmoid_tanh_values_match_torch_in_relative_terms(name, x):
    """Relative precision in the tails: sigmoid(-40) is 4.2e-18, not 0; a log or a ratio taken
    downstream depends on it."""
    x = np.array(x + [-40.0, -20.0, 0.0, 20.0, 40.0])
    got = getattr(F, name)(Tensor(x)).data
    expect = getattr(torch, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expect, rtol=RTOL, atol=0, err_msg=name)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@given(x=TAILS, seed=seeds)
def test_sigmoid_tanh_gradients_match_torch(name, x, seed):
    # where |x| is large both libraries form the derivative from 1 - y with y within an ulp
    # of 1 (torch's sigmoid_backward and tanh_backward do too), so they can only agree to a few
    # ulps of 1.0 in absolute terms; atol=1e-15 is that, and tighter than this file's ATOL
    compare(getattr(F, name), getattr(torch, name), [x + [-40.0, 0.0, 40.0]], seed, atol=1e-15)


def test_log_of_sigmoid_in_the_negative_tail_matches_torch():
    x = [-40.0, -30.0, -20.0]
    compare(lambda t: t.sigmoid().log(), lambda t: torch.sigmoid(t).log(), [x], 0)


# ================================================================== dropout


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
def test_dropout_shape_matches_torch(p, shape):
    x = np.random.default_rng(0).uniform(1, 2, shape)
    out = F.dropout(Tensor(x), p=p, training=True)
    assert out.shape == TF.dropout(torch.tensor(x), p=p, training=True).shape == shape
    # every element is either dropped or scaled by 1 / (1 - p), as in torch
    kept = out.data != 0
    if p < 1:
        np.testing.assert_allclose(out.data[kept], x[kept] / (1 - p), rtol=1e-15)
    else:
        assert not kept.any()
    evaluated = F.dropout(Tensor(x), p=p, training=False)
    np.testing.assert_array_equal(evaluated.data, TF.dropout(torch.tensor(x), p=p,
                                                             training=False).numpy())
