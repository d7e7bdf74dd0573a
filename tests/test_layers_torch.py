"""Normalisation and lookup layers against PyTorch in float64, with PyTorch's weights copied in
by name: values and gradients of the input and of every parameter."""
import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")


def copy_weights(ours, theirs):
    for name, p in theirs.named_parameters():
        dict(ours.named_parameters())[name].data = p.detach().numpy().astype(np.float64).copy()


def compare(ours, theirs, x, integer_input=False):
    copy_weights(ours, theirs)
    theirs = theirs.double()
    xi = tg.tensor(x, dtype=np.float64, requires_grad=True) if not integer_input else x
    xt = torch.tensor(x, requires_grad=not integer_input)
    out, out_t = ours(xi), theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(9).standard_normal(out_t.shape)
    out.backward(tg.tensor(g, dtype=np.float64))
    out_t.backward(torch.tensor(g))
    if not integer_input:
        np.testing.assert_allclose(xi.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad, p.grad.numpy(),
                                   rtol=1e-9, atol=1e-11, err_msg=name)


X = np.random.default_rng(0).standard_normal((4, 6, 5)) * 2 + 1


@pytest.mark.parametrize("shape, kw", [(5, {}), ((6, 5), {}), (5, {"bias": False}),
                                       ((6, 5), {"elementwise_affine": False, "eps": 1e-3})])
def test_layer_norm(shape, kw):
    ours, theirs = tg.nn.LayerNorm(shape, **kw), torch.nn.LayerNorm(shape, **kw)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    compare(ours, theirs, X)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_group_norm(groups):
    ours, theirs = tg.nn.GroupNorm(groups, 6), torch.nn.GroupNorm(groups, 6)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    compare(ours, theirs, X)


@pytest.mark.parametrize("padding_idx", [None, 2, -2])
def test_embedding_sums_the_gradient_of_repeated_tokens(padding_idx):
    ours = tg.nn.Embedding(7, 3, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(7, 3, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx  # -2 counts from the end: 5
    tokens = np.array([[0, 2, 2, 5], [5, 5, 1, 2]])  # 5 read three times, 2 three times
    compare(ours, theirs, tokens, integer_input=True)
    grad = ours.weight.grad
    if padding_idx is not None:
        assert not grad[padding_idx].any()  # the padding row learns nothing


def test_second_order_gradients_through_the_norms():
    x = np.random.default_rng(1).standard_normal((2, 4, 3))
    w = np.random.default_rng(2).standard_normal(3)
    assert tg.gradgradcheck(lambda t, v: F.layer_norm(t, 3, v), [x, w])
    assert tg.gradgradcheck(lambda t: F.group_norm(t, 2), [x])


def test_bad_shapes_refuse_naming_the_layer():
    with pytest.raises(ValueError, match="GroupNorm: num_groups=4 must divide num_channels=6"):
        tg.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected \(N, 6, \.\.\.\), got \(2, 5\)"):
        tg.nn.GroupNorm(2, 6)(tg.tensor(np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\) does not end"):
        tg.nn.LayerNorm(4)(tg.tensor(np.ones((2, 5))))
    with pytest.raises(IndexError, match="embedding: index 9 is out of range for 7 embeddings"):
        tg.nn.Embedding(7, 3)(np.array([1, 9]))
    with pytest.raises(TypeError, match="embedding: input must hold integers"):
        tg.nn.Embedding(7, 3)(np.array([1.5]))


@pytest.mark.parametrize("kw", [{}, {"stride": 2}, {"stride": 3, "padding": 1, "output_padding": 2},
                                {"dilation": 2, "padding": 2}, {"groups": 2, "stride": 2},
                                {"dilation": 3, "output_padding": 2},  # past every window
                                {"stride": 2, "dilation": 2, "padding": 1, "output_padding": 1}])
def test_conv_transpose1d_layer_matches_torch(kw):
    ours, theirs = tg.nn.ConvTranspose1d(4, 6, 3, **kw), torch.nn.ConvTranspose1d(4, 6, 3, **kw)
    compare(ours, theirs, np.random.default_rng(7).standard_normal((2, 4, 7)))


def test_conv_transpose1d_is_the_adjoint_of_conv1d():
    """<conv1d(x, w), y> = <x, conv_transpose1d(y, w)>: the same windows, read and added."""
    rng = np.random.default_rng(8)
    x, w, y = rng.standard_normal((2, 3, 11)), rng.standard_normal((4, 3, 3)), None
    out = F.conv1d(x, w, stride=2, padding=1)
    y = rng.standard_normal(out.shape)
    back = F.conv_transpose1d(y, w, stride=2, padding=1, output_padding=0)
    assert back.shape == x.shape
    np.testing.assert_allclose((out.data * y).sum(), (x * back.data).sum(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{"size": 9}, {"scale_factor": 2}, {"size": 8, "mode": "linear"},
                                {"scale_factor": 2.5, "mode": "linear"},
                                {"size": 7, "mode": "linear", "align_corners": True}])
def test_upsample_matches_torch(kw):
    compare(tg.nn.Upsample(**kw), torch.nn.Upsample(**kw),
            np.random.default_rng(9).standard_normal((2, 3, 5)))


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"track_running_stats": False},
                                {"affine": False, "momentum": 0.3, "eps": 1e-3}])
def test_batch_norm_options_as_torch_through_training_and_eval(kw):
    ours, theirs = tg.nn.BatchNorm1d(3, **kw), torch.nn.BatchNorm1d(3, **kw)
    x = np.random.default_rng(10).standard_normal((4, 3, 6))
    for step in range(3):  # running statistics (or none) across several batches
        compare(ours, theirs, x + step)
    ours.eval()
    theirs.eval()
    compare(ours, theirs, x)
    for name, b in theirs.named_buffers():
        np.testing.assert_allclose(getattr(ours, name), b.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [2, "same"])
def test_conv1d_padding_modes_as_torch(mode, padding):
    ours = tg.nn.Conv1d(3, 4, 4, padding=padding, padding_mode=mode)
    theirs = torch.nn.Conv1d(3, 4, 4, padding=padding, padding_mode=mode)
    compare(ours, theirs, np.random.default_rng(11).standard_normal((2, 3, 9)))
    with pytest.raises(ValueError, match="Conv1d: padding_mode must be 'zeros'"):
        tg.nn.Conv1d(3, 4, 4, padding_mode="mirror")


def test_max_pool_indices_and_flatten_spellings_as_torch():
    x = np.random.default_rng(12).standard_normal((2, 3, 11))
    for kw in [{}, {"stride": 1, "padding": 1}, {"dilation": 2, "padding": 1, "ceil_mode": True}]:
        out, idx = tg.nn.MaxPool1d(3, return_indices=True, **kw)(tg.tensor(x))
        out_t, idx_t = torch.nn.MaxPool1d(3, return_indices=True, **kw)(torch.tensor(x))
        np.testing.assert_array_equal(out.data, out_t.numpy())
        np.testing.assert_array_equal(idx.data, idx_t.numpy())
    out, idx = F.max_pool1d(tg.tensor(x[0]), 2, return_indices=True)  # unbatched (C, L)
    np.testing.assert_array_equal(idx.data, torch.nn.functional.max_pool1d(
        torch.tensor(x[0]), 2, return_indices=True)[1].numpy())
    flat = tg.nn.Flatten(start_dim=0, end_dim=1)(tg.tensor(x))
    assert flat.shape == tuple(torch.nn.Flatten(start_dim=0, end_dim=1)(torch.tensor(x)).shape)


def test_state_dict_order_and_reprs_as_torch():
    def build(m):
        return m.Sequential(m.Conv1d(1, 2, 3), m.BatchNorm1d(2), m.ReLU(), m.Flatten(),
                            m.Linear(10, 3))
    assert list(build(tg.nn).state_dict()) == list(build(torch.nn).state_dict())
    for spec in ["RNN(3, 4, num_layers=2, bidirectional=True)", "GRU(3, 4)",
                 "LSTM(3, 4, bias=False, batch_first=True)", "Embedding(5, 3)"]:
        assert repr(eval("tg.nn." + spec)) == repr(eval("torch.nn." + spec))
