"""nn: Parameter, Module (discovery, names, state), layers, initializers, BatchNorm1d.

The last section compares each layer with its PyTorch twin (float64, weights copied across);
it is skipped when torch is not installed, everything above it runs without torch."""
import math

import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F
import tinygrad1d.nn as nn
import tinygrad1d.optim as optim
from tinygrad1d import Tensor


@pytest.fixture
def f64():
    """Layers created inside the test are float64 (restores the previous default after)."""
    old = tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    yield
    tg.set_default_dtype(old)


def t64(a, requires_grad=False):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


class Net(nn.Module):
    """Parameters reached through a submodule, a list, a tuple, a dict and a Sequential."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.blocks = [nn.Linear(4, 4), nn.Linear(4, 4, bias=False)]
        self.pair = (nn.Linear(4, 2), nn.Parameter(np.zeros(2)))
        self.heads = {"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)}
        self.seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
        self.scale = nn.Parameter(np.ones(1))
        self.constant = Tensor(np.ones(3))  # a plain Tensor is not a parameter
        self.table = np.ones(2)
        self.count = 3

    def forward(self, x):
        x = self.fc(x).relu()
        for b in self.blocks:
            x = b(x).relu()
        x = self.pair[0](x) + self.pair[1]
        x = self.seq(x)
        return (self.heads["a"](x) * self.scale).sum() + self.heads["b"](x).sum()


NET_NAMES = {"fc.weight", "fc.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
             "pair.0.weight", "pair.0.bias", "pair.1", "heads.a.weight", "heads.a.bias",
             "heads.b.weight", "heads.b.bias", "seq.0.weight", "seq.0.bias", "seq.2.weight",
             "seq.2.bias", "scale"}


# ================================================================== Parameter and discovery


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.arange(3.0))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float64  # float arrays keep their dtype, as Tensor
    assert nn.Parameter([1, 2]).dtype == tg.get_default_dtype()
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad, [0.0, 2.0, 4.0])


def test_module_finds_parameters_through_attributes_lists_tuples_dicts_and_modules():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert len(names) == len(set(names))
    assert set(names) == NET_NAMES
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert id(net.constant) not in {id(p) for p in net.parameters()}


def test_sequential_and_attribute_names_are_pytorch_dotted_paths():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, bias=False))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
    net = Net()
    params = dict(net.named_parameters())
    assert params["fc.weight"] is net.fc.weight
    assert params["blocks.1.weight"] is net.blocks[1].weight
    assert params["heads.b.bias"] is net.heads["b"].bias
    assert params["seq.2.weight"] is net.seq[2].weight
    assert params["pair.1"] is net.pair[1]


def test_named_parameters_follow_attribute_insertion_order():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.z = nn.Linear(2, 2)
            self.a = nn.Linear(2, 2, bias=False)
            self.m = nn.Linear(2, 2)

    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.w2 = nn.Parameter(np.zeros(1))
            self.w1 = nn.Parameter(np.zeros(2))
            self.b0 = nn.Parameter(np.zeros(3))

    assert [n for n, _ in Plain().named_parameters()] == [
        "z.weight", "z.bias", "a.weight", "m.weight", "m.bias"]
    assert [n for n, _ in Own().named_parameters()] == ["w2", "w1", "b0"]
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), nn.Linear(2, 2))
    assert [n for n, _ in seq.named_parameters()] == [
        "0.weight", "0.bias", "1.0.weight", "1.0.bias", "2.weight", "2.bias"]


def test_a_shared_parameter_or_module_appears_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(3, 3)
            self.dec = nn.Linear(3, 3)
            self.dec.weight = self.enc.weight  # tied weights
            self.again = self.enc  # the same module under a second name

    m = Tied()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["enc.weight", "enc.bias", "dec.bias"]
    assert len(m.parameters()) == 3
    seq = nn.Sequential(m.enc, nn.ReLU(), m.enc)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]


def test_shared_parameter_collects_the_gradient_of_every_use(f64):
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    x = t64([[0.3, -0.7]])
    seq(x).sum().backward()
    w, b = lin.weight.data, lin.bias.data
    h = np.tanh(x.data @ w.T + b)
    # d/dW of sum(h @ W.T + b) through both uses: outer(1, h) + outer(W.T 1 * (1 - h^2), x)
    gh = np.ones((1, 2)) @ w * (1 - h**2)
    np.testing.assert_allclose(lin.weight.grad, np.ones((2, 1)) @ h + gh.T @ x.data,
                               rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad, np.ones(2) + gh[0], rtol=1e-12)


def test_buffers_are_in_state_dict_but_not_parameters():
    bn = nn.BatchNorm1d(3)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]  # torch's keys, in torch's order
    seq = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert {n for n, _ in seq.named_parameters()} == {"0.weight", "0.bias", "1.weight",
                                                      "1.bias"}
    assert set(seq.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias",
                                     "1.running_mean", "1.running_var", "1.num_batches_tracked"}
    np.testing.assert_array_equal(seq.state_dict()["1.running_var"], np.ones(3))
    old = {k: v for k, v in seq.state_dict().items() if "num_batches" not in k}
    seq.load_state_dict(old)  # a checkpoint from before the counter still loads, strictly
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]
    seq.double()
    assert seq[1].num_batches_tracked.dtype == np.int64  # counters do not become floats


# ================================================================== state_dict


def test_state_dict_returns_copies():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = m.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    before = {k: v.copy() for k, v in sd.items()}
    for v in sd.values():
        v[...] = 42.0
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    sd = m.state_dict()
    m[0].weight.data += 1.0
    m[1].running_mean += 1.0
    np.testing.assert_array_equal(sd["0.weight"], before["0.weight"])
    np.testing.assert_array_equal(sd["1.running_mean"], before["1.running_mean"])


def test_load_state_dict_round_trip_including_buffers():
    tg.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    a[1].running_mean[...] = [0.5, -0.5]
    a[1].running_var[...] = [2.0, 3.0]
    tg.manual_seed(1)
    b = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    assert not np.array_equal(a[0].weight.data, b[0].weight.data)
    result = b.load_state_dict(a.state_dict())
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for (k, va), (k2, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(va, vb)


def test_load_state_dict_strict_lists_missing_and_unexpected_keys():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    sd = m.state_dict()
    del sd["0.bias"], sd["1.running_var"]
    sd["2.weight"] = np.zeros((2, 2))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    for key in ("0.bias", "1.running_var", "2.weight"):
        assert key in msg
    assert "missing" in msg and "unexpected" in msg
    with pytest.raises(ValueError, match="0.bias"):
        m.load_state_dict(sd, strict=True)


def test_load_state_dict_non_strict_returns_the_keys_and_loads_the_rest():
    m = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    old_bias = m[0].bias.data.copy()
    sd = {"0.weight": np.full((2, 3), 7.0), "1.running_mean": np.array([1.0, 2.0]),
          "extra": np.zeros(1)}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert set(missing) == {"0.bias", "1.weight", "1.bias", "1.running_var"}
    assert list(unexpected) == ["extra"]
    np.testing.assert_array_equal(m[0].weight.data, np.full((2, 3), 7.0))
    np.testing.assert_array_equal(m[1].running_mean, [1.0, 2.0])
    np.testing.assert_array_equal(m[0].bias.data, old_bias)


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_shape_mismatch_always_raises_naming_key_and_shapes(strict):
    m = nn.Sequential(nn.Linear(3, 2))
    sd = m.state_dict()
    sd["0.weight"] = np.zeros((3, 2))
    with pytest.raises(ValueError) as e:
        m.load_state_dict(sd, strict=strict)
    msg = str(e.value)
    assert "0.weight" in msg and "(3, 2)" in msg and "(2, 3)" in msg


def test_load_state_dict_copies_in_place_so_an_existing_optimizer_still_updates(f64):
    m = nn.Sequential(nn.Linear(2, 2))
    params_before = [id(p) for p in m.parameters()]
    opt = optim.SGD(m.parameters(), lr=0.5)
    m.load_state_dict({"0.weight": np.array([[1.0, 2.0], [3.0, 4.0]]),
                       "0.bias": np.array([0.0, 1.0])})
    assert [id(p) for p in m.parameters()] == params_before
    m(t64([[1.0, 1.0]])).sum().backward()  # dW = [[1, 1], [1, 1]], db = [1, 1]
    opt.step()
    np.testing.assert_array_equal(m[0].weight.data, [[0.5, 1.5], [2.5, 3.5]])
    np.testing.assert_array_equal(m[0].bias.data, [-0.5, 0.5])
    sd = {"0.weight": np.zeros((2, 2)), "0.bias": np.zeros(2)}
    m.load_state_dict(sd)
    sd["0.weight"][...] = 9.0  # the module holds its own copy
    np.testing.assert_array_equal(m[0].weight.data, np.zeros((2, 2)))


# ================================================================== modes and gradients


def test_zero_grad_clears_every_parameter():
    net = Net()
    net(Tensor(np.ones((2, 3)))).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_train_and_eval_propagate_to_every_submodule():
    net = Net()
    net.heads["c"] = nn.Dropout(0.5)
    net.blocks.append(nn.BatchNorm1d(4))
    modules = net.modules()
    assert len(modules) >= 12
    assert net.eval() is net
    assert all(m.training is False for m in modules)
    assert net.heads["c"].training is False and net.blocks[2].training is False
    assert net.seq[1].training is False
    assert net.train() is net
    assert all(m.training is True for m in modules)
    net.train(False)
    assert all(m.training is False for m in modules)


def test_dropout_is_the_identity_in_eval():
    x = Tensor(np.random.default_rng(0).standard_normal((20, 30)), requires_grad=True)
    d = nn.Dropout(0.7).eval()
    y = d(x)
    np.testing.assert_array_equal(y.data, x.data)
    y.backward(np.ones(x.shape))
    np.testing.assert_array_equal(x.grad, np.ones(x.shape))
    seq = nn.Sequential(nn.Dropout(0.9)).eval()
    np.testing.assert_array_equal(seq(x).data, x.data)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_dropout_in_training_zeroes_with_probability_p_and_scales_the_rest(p):
    tg.manual_seed(3)
    x = Tensor(np.ones((200, 100)), requires_grad=True)
    y = nn.Dropout(p)(x)
    kept = y.data != 0
    np.testing.assert_array_equal(y.data[kept], np.full(kept.sum(), 1.0 / (1.0 - p)))
    # 20,000 Bernoulli draws: standard error of the dropped fraction is below 0.0035
    assert abs((1.0 - kept.mean()) - p) < 0.015
    y.backward(np.ones(x.shape))
    np.testing.assert_array_equal(x.grad, y.data)  # d y / d x = mask / (1 - p)


def test_dropout_is_reproducible_under_manual_seed():
    x = Tensor(np.ones((50, 50)))
    tg.manual_seed(7)
    a = nn.Dropout(0.5)(x).data
    tg.manual_seed(7)
    b = nn.Dropout(0.5)(x).data
    c = nn.Dropout(0.5)(x).data  # the generator moved on
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_edge_probabilities():
    x = Tensor(np.arange(1.0, 7.0))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros(6))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError):
            nn.Dropout(p)


# ================================================================== Sequential


def test_sequential_indexing_len_iter_and_append(f64):
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.Tanh()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4
    assert list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[-1]
    head = seq[1:3]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert head[0] is layers[1] and head[1] is layers[2]
    assert [n for n, _ in head.named_parameters()] == ["1.weight", "1.bias"]
    x = t64([[1.0, -2.0]])
    np.testing.assert_array_equal(seq[:2](x).data, layers[1](layers[0](x)).data)
    extra = nn.Linear(4, 1)
    assert seq.append(extra) is seq
    assert len(seq) == 5 and seq[4] is extra
    assert [n for n, _ in seq.named_parameters()][-2:] == ["4.weight", "4.bias"]
    assert seq(x).shape == (1, 1)
    with pytest.raises(IndexError):
        seq[5]


def test_sequential_forward_applies_layers_in_order(f64):
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seq.load_state_dict({"0.weight": np.array([[1.0, 0.0], [0.0, -1.0]]),
                         "0.bias": np.array([0.5, 0.5])})
    np.testing.assert_array_equal(seq(t64([[1.0, 2.0]])).data, [[1.5, 0.0]])


def test_sequential_rejects_layers_that_are_not_modules():
    with pytest.raises(TypeError, match="Sequential"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)
    with pytest.raises(TypeError):
        nn.Sequential(F.relu)


def test_sequential_append_rejects_a_non_module():
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError):  # torch's append raises too: "is not a Module subclass"
        seq.append(F.relu)


def test_repr_nests_like_pytorch():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Dropout(0.5)))
    lines = repr(seq).splitlines()
    assert len(lines) == 7
    assert lines[0] == "Sequential("
    assert lines[1].startswith("  (0): Linear(") and lines[1].endswith(")")
    assert "3" in lines[1] and "4" in lines[1]
    assert lines[2] == "  (1): ReLU()"
    assert lines[3] == "  (2): Sequential("
    assert lines[4].startswith("    (0): Dropout(") and "0.5" in lines[4]
    assert lines[5] == "  )"
    assert lines[6] == ")"
    assert repr(nn.ReLU()) == "ReLU()"

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

    lines = repr(Custom()).splitlines()
    assert lines[0] == "Custom(" and lines[1].startswith("  (fc): Linear(") and lines[-1] == ")"


# ================================================================== layer shapes


def test_linear_shapes_and_forward(f64):
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    assert isinstance(lin.weight, nn.Parameter) and isinstance(lin.bias, nn.Parameter)
    x = np.random.default_rng(0).standard_normal((4, 5))
    lin.bias.data[...] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(lin(t64(x)).data, x @ lin.weight.data.T + lin.bias.data,
                               rtol=1e-13)
    no_bias = nn.Linear(5, 3, bias=False)
    assert no_bias.bias is None
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert list(no_bias.state_dict()) == ["weight"]
    np.testing.assert_allclose(no_bias(t64(x)).data, x @ no_bias.weight.data.T, rtol=1e-13)
    assert lin(t64(np.ones((2, 6, 5)))).shape == (2, 6, 3)


def test_conv1d_shapes(f64):
    conv = nn.Conv1d(6, 4, 5)
    assert conv.weight.shape == (4, 6, 5) and conv.bias.shape == (4,)
    grouped = nn.Conv1d(6, 4, 5, groups=2)
    assert grouped.weight.shape == (4, 3, 5) and grouped.bias.shape == (4,)
    assert nn.Conv1d(6, 4, 5, bias=False).bias is None
    assert len(nn.Conv1d(6, 4, 5, bias=False).parameters()) == 1
    x = t64(np.ones((2, 6, 20)))
    assert conv(x).shape == (2, 4, 16)
    assert nn.Conv1d(6, 4, 5, stride=2, padding=1, dilation=2)(x).shape == (2, 4, 7)
    assert nn.Conv1d(6, 4, 5, padding="same")(x).shape == (2, 4, 20)
    with pytest.raises(ValueError):
        nn.Conv1d(6, 4, 3, groups=4)  # 4 does not divide 6


def test_simple_conv1d_shapes_and_the_seed_example(f64):
    layer = nn.SimpleConv1d(3)
    assert layer.weight.shape == (3,) and layer.bias.shape == (1,)
    layer.weight.data[...] = [3.0, 5.0, 7.0]
    layer.bias.data[...] = [1.0]
    x = t64([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a = layer(x)
    assert a.shape == (2,)
    np.testing.assert_array_equal(a.data, [35.0, 50.0])
    a.backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(layer.weight.grad, [50.0, 80.0, 110.0])
    np.testing.assert_array_equal(layer.bias.grad, [30.0])
    np.testing.assert_array_equal(x.grad, [30.0, 110.0, 170.0, 140.0])


@pytest.mark.parametrize("shape", [(1, 4), (2, 1, 4), ()])
def test_simple_conv1d_rejects_other_ranks(shape):
    with pytest.raises(ValueError, match="SimpleConv1d"):
        nn.SimpleConv1d(3)(Tensor(np.ones(shape)))


def test_pool_flatten_and_activation_layers_by_hand():
    x = Tensor(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0, 0.0]]]))
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x).data, [[[3.0, 5.0, 4.0]]])
    np.testing.assert_array_equal(nn.AvgPool1d(2)(x).data, [[[2.0, 3.5, 2.0]]])
    np.testing.assert_array_equal(nn.MaxPool1d(3, stride=1, padding=1)(x).data,
                                  [[[3.0, 3.0, 5.0, 5.0, 5.0, 4.0]]])
    np.testing.assert_array_equal(nn.Flatten()(Tensor(np.ones((2, 3, 4)))).shape, (2, 12))
    np.testing.assert_array_equal(nn.Flatten(0)(Tensor(np.ones((2, 3, 4)))).shape, (24,))
    v = Tensor(np.array([-1.0, 0.5]))
    np.testing.assert_array_equal(nn.ReLU()(v).data, [0.0, 0.5])
    np.testing.assert_allclose(nn.Tanh()(v).data, np.tanh(v.data), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(v).data, 1 / (1 + np.exp(-v.data)), rtol=1e-6)


# ================================================================== initializers


def _std_ok(a, std, rel=0.01):
    """Sample std within rel of std (the standard error is about std / sqrt(2 n))."""
    assert abs(a.std() / std - 1.0) < rel, f"std {a.std()} vs expected {std}"
    assert abs(a.mean()) < 5 * std / math.sqrt(a.size)


def test_xavier_is_gaussian_with_std_sqrt_one_over_fan_in():
    tg.manual_seed(0)
    lin = nn.Linear(1000, 500)  # 500,000 draws: the std is known to about 0.1 %
    w = lin.weight.data.astype(np.float64)
    _std_ok(w, math.sqrt(1 / 1000))
    # Gaussian, not Glorot's uniform form: a uniform of this std never exceeds sqrt(3) std
    assert np.abs(w).max() > 4 * math.sqrt(1 / 1000)
    np.testing.assert_array_equal(lin.bias.data, np.zeros(500))
    assert lin.weight.dtype == tg.get_default_dtype()


def test_he_is_gaussian_with_std_sqrt_two_over_fan_in():
    tg.manual_seed(0)
    lin = nn.Linear(1000, 500, init="he")
    _std_ok(lin.weight.data.astype(np.float64), math.sqrt(2 / 1000))
    np.testing.assert_array_equal(lin.bias.data, np.zeros(500))


def test_simple_is_gaussian_with_sigma_001_for_weights_and_biases():
    tg.manual_seed(0)
    lin = nn.Linear(4, 50_000, init="simple")
    _std_ok(lin.weight.data.astype(np.float64), 0.01)
    _std_ok(lin.bias.data.astype(np.float64), 0.01, rel=0.02)


def test_torch_init_is_uniform_within_one_over_sqrt_fan_in():
    tg.manual_seed(0)
    lin = nn.Linear(1000, 500, init="torch")
    bound = 1 / math.sqrt(1000)
    w, b = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.max() > 0.999 * bound and w.min() < -0.999 * bound
    _std_ok(w, bound / math.sqrt(3))
    assert np.unique(b).size == 500  # drawn, not zero


def test_conv_fan_in_counts_channels_per_group_times_kernel():
    tg.manual_seed(0)
    conv = nn.Conv1d(64, 128, 9)  # fan_in 64 * 9
    _std_ok(conv.weight.data.astype(np.float64), math.sqrt(1 / (64 * 9)), rel=0.02)
    grouped = nn.Conv1d(64, 128, 9, groups=4, init="he")  # fan_in 16 * 9
    _std_ok(grouped.weight.data.astype(np.float64), math.sqrt(2 / (16 * 9)), rel=0.03)
    bound = 1 / math.sqrt(16 * 9)
    torch_like = nn.Conv1d(64, 128, 9, groups=4, init="torch").weight.data
    assert np.abs(torch_like).max() <= bound and np.abs(torch_like).max() > 0.99 * bound
    simple = nn.SimpleConv1d(20_000)  # fan_in K
    _std_ok(simple.weight.data.astype(np.float64), math.sqrt(1 / 20_000), rel=0.03)


def test_initializer_objects_are_accepted():
    tg.manual_seed(0)
    lin = nn.Linear(400, 300, init=nn.init.SimpleInitializer(0.5))
    _std_ok(lin.weight.data.astype(np.float64), 0.5, rel=0.02)
    assert lin.bias.data.std() > 0.3  # SimpleInitializer draws biases too

    class Constant:
        def W(self, shape):
            return np.full(shape, 2.0)

        def B(self, shape):
            return np.full(shape, -1.0)

    conv = nn.Conv1d(2, 3, 4, init=Constant())
    np.testing.assert_array_equal(conv.weight.data, np.full((3, 2, 4), 2.0))
    np.testing.assert_array_equal(conv.bias.data, np.full(3, -1.0))
    lin = nn.Linear(3, 2, init=nn.init.HeInitializer())
    assert lin.weight.shape == (2, 3)


def test_unknown_init_string_raises():
    with pytest.raises(ValueError, match="nonsense"):
        nn.Linear(2, 2, init="nonsense")
    with pytest.raises(ValueError):
        nn.Conv1d(2, 2, 3, init="kaiming_normal_typo")
    with pytest.raises((TypeError, ValueError)):
        nn.Linear(2, 2, init=object())


@pytest.mark.parametrize("kind", ["xavier", "he", "simple", "torch"])
def test_initialization_is_deterministic_under_manual_seed(kind):
    tg.manual_seed(11)
    a = nn.Sequential(nn.Linear(5, 4, init=kind), nn.Conv1d(2, 3, 3, init=kind))
    tg.manual_seed(11)
    b = nn.Sequential(nn.Linear(5, 4, init=kind), nn.Conv1d(2, 3, 3, init=kind))
    c = nn.Sequential(nn.Linear(5, 4, init=kind), nn.Conv1d(2, 3, 3, init=kind))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def test_init_functions_and_classes():
    tg.manual_seed(0)
    w = nn.init.xavier((300, 400), 50, 70)  # fan_in is given, not read from the shape
    assert isinstance(w, np.ndarray) and w.shape == (300, 400)
    _std_ok(w.astype(np.float64), math.sqrt(1 / 50))
    h = nn.init.he((300, 400), 50)
    assert h.shape == (300, 400)
    _std_ok(h.astype(np.float64), math.sqrt(2 / 50))
    xi, hi = nn.init.XavierInitializer(), nn.init.HeInitializer()
    _std_ok(xi.W((200, 1000)).astype(np.float64), math.sqrt(1 / 1000))
    _std_ok(hi.W((200, 1000)).astype(np.float64), math.sqrt(2 / 1000))
    np.testing.assert_array_equal(xi.B((7,)), np.zeros(7))
    np.testing.assert_array_equal(hi.B((7,)), np.zeros(7))
    s = nn.init.SimpleInitializer(0.25)
    _std_ok(s.W((500, 400)).astype(np.float64), 0.25)
    assert s.B((5,)).shape == (5,)
    assert nn.init.SimpleInitializer().W((3,)).dtype == tg.get_default_dtype()


# ================================================================== BatchNorm1d


def test_batchnorm_training_normalises_by_hand():
    bn = nn.BatchNorm1d(2)
    # channel 0: mean 4, biased var 5, unbiased 20/3; channel 1: mean 15, var 25, unbiased 100/3
    x = t64([[1.0, 10.0], [3.0, 10.0], [5.0, 20.0], [7.0, 20.0]])
    y = bn(x).data
    expected = np.stack([(x.data[:, 0] - 4) / math.sqrt(5 + 1e-5),
                         (x.data[:, 1] - 15) / math.sqrt(25 + 1e-5)], axis=1)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, [0.4, 1.5], rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, [0.9 + 2 / 3, 0.9 + 10 / 3], rtol=1e-12)


@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 5)])
def test_batchnorm_training_output_has_zero_mean_unit_variance(shape):
    rng = np.random.default_rng(0)
    x = t64(rng.standard_normal(shape) * np.array([4.0, 0.5, 9.0]).reshape(
        (1, 3) + (1,) * (len(shape) - 2)) + 3.0)
    bn = nn.BatchNorm1d(3, eps=0.0)
    y = bn(x).data
    axes = (0,) if len(shape) == 2 else (0, 2)
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-12)  # biased variance
    bn.weight.data[...] = [2.0, 3.0, 4.0]
    bn.bias.data[...] = [-1.0, 0.0, 1.0]
    y = bn(x).data
    np.testing.assert_allclose(y.mean(axis=axes), [-1.0, 0.0, 1.0], atol=1e-13)
    np.testing.assert_allclose(y.std(axis=axes), [2.0, 3.0, 4.0], rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm_running_stats_use_momentum_and_unbiased_variance(shape):
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm1d(3, momentum=0.3)
    axes = (0,) if len(shape) == 2 else (0, 2)
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.standard_normal(shape) * 2.0 + 1.0
        bn(t64(x))
        rm = 0.7 * rm + 0.3 * x.mean(axis=axes)
        rv = 0.7 * rv + 0.3 * x.var(axis=axes, ddof=1)
    np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, rv, rtol=1e-12)


def test_batchnorm_eval_uses_running_statistics():
    bn = nn.BatchNorm1d(2)
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.25]
    bn.weight.data[...] = [2.0, 1.0]
    bn.bias.data[...] = [0.5, 0.0]
    bn.eval()
    x = t64([[3.0, -1.0], [1.0, -2.0]])
    y = bn(x).data
    expected = np.array([[(3 - 1) / math.sqrt(4 + 1e-5) * 2 + 0.5, 1 / math.sqrt(0.25 + 1e-5)],
                         [0.5, 0.0]])
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, [1.0, -2.0])  # eval does not update
    np.testing.assert_array_equal(bn.running_var, [4.0, 0.25])
    np.testing.assert_allclose(bn(t64([[3.0, -1.0]])).data, expected[:1], rtol=1e-12)


def test_batchnorm_gradcheck_in_training_mode():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3, 4)) * 2.0 + 1.0
    w, b = rng.standard_normal(3) + 1.0, rng.standard_normal(3)

    def composite(x, w, b):
        return F.batch_norm(x, np.zeros(3), np.ones(3), w, b, training=True)

    assert tg.gradcheck(composite, [x, w, b])

    bn = nn.BatchNorm1d(3)

    def module(x, w, b):
        bn.weight, bn.bias = w, b
        return bn(x)

    assert tg.gradcheck(module, [x[:, :, 0], w, b])


def test_batchnorm_bad_input():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="BatchNorm1d"):
        bn(Tensor(np.ones((4, 2))))
    with pytest.raises(ValueError):
        bn(Tensor(np.ones((4, 5, 6))))
    with pytest.raises(ValueError):
        bn(Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(Tensor(np.ones((1, 3))))
    with pytest.raises(ValueError):
        bn(Tensor(np.ones((1, 3, 1))))
    assert bn(Tensor(np.arange(6.0).reshape(1, 3, 2))).shape == (1, 3, 2)
    bn.eval()
    assert bn(Tensor(np.ones((1, 3)))).shape == (1, 3)  # eval needs no batch statistics


# ================================================================== parameter names for drawing


def test_first_call_names_each_parameter_by_its_dotted_name(f64):
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.BatchNorm1d(2), nn.Flatten(),
                          nn.Linear(12, 3))
    model(t64(np.ones((2, 1, 8))))
    for name, p in model.named_parameters():
        assert p.name == name
    net = Net()
    net(t64(np.ones((2, 3))))
    assert net.fc.weight.name == "fc.weight"
    assert net.blocks[1].weight.name == "blocks.1.weight"
    assert net.heads["a"].bias.name == "heads.a.bias"
    assert net.pair[1].name == "pair.1"
    for name, p in net.named_parameters():
        assert p.name == name


# ================================================================== PyTorch parity


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=0)


def _copy_into_torch(torch, ours, theirs):
    """Copy our parameters into the torch module by name; the names must agree exactly."""
    tp = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tp)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            tp[name].copy_(torch.from_numpy(p.data))
    return tp


def _compare(torch, ours, theirs, x, seed=0):
    """Forward, then backward with the same random upstream gradient: outputs, input
    gradient and every parameter gradient must agree."""
    tp = _copy_into_torch(torch, ours, theirs)
    xo = t64(x, requires_grad=True)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert yo.shape == tuple(yt.shape)
    close(yo.data, yt.detach().numpy())
    g = np.random.default_rng(seed).standard_normal(yo.shape)
    yo.backward(g)
    yt.backward(torch.from_numpy(g))
    close(xo.grad, xt.grad.numpy())
    for name, p in ours.named_parameters():
        close(p.grad, tp[name].grad.numpy())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7)])
def test_torch_linear(torch, f64, bias, shape):
    tg.manual_seed(0)
    x = np.random.default_rng(1).standard_normal(shape)
    _compare(torch, nn.Linear(7, 4, bias=bias),
             torch.nn.Linear(7, 4, bias=bias, dtype=torch.float64), x)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("c_in, c_out, k, stride, padding, dilation, groups", [
    (3, 4, 3, 1, 0, 1, 1),
    (3, 4, 3, 2, 1, 1, 1),
    (6, 4, 4, 1, 2, 2, 2),
    (6, 12, 3, 3, 3, 2, 3),
    (6, 6, 5, 2, 0, 1, 6),
    (4, 6, 4, 1, "same", 1, 2),
    (4, 6, 3, 1, "same", 3, 1),
    (4, 6, 3, 1, "valid", 2, 1),
])
def test_torch_conv1d(torch, f64, c_in, c_out, k, stride, padding, dilation, groups):
    tg.manual_seed(0)
    ours = nn.Conv1d(c_in, c_out, k, stride, padding, dilation, groups)
    theirs = torch.nn.Conv1d(c_in, c_out, k, stride, padding, dilation, groups,
                             dtype=torch.float64)
    x = np.random.default_rng(2).standard_normal((2, c_in, 17))
    _compare(torch, ours, theirs, x)


def test_torch_conv1d_without_bias(torch, f64):
    ours = nn.Conv1d(3, 2, 3, bias=False)
    theirs = torch.nn.Conv1d(3, 2, 3, bias=False, dtype=torch.float64)
    _compare(torch, ours, theirs, np.random.default_rng(3).standard_normal((2, 3, 9)))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 6)])
def test_torch_batchnorm_train_then_eval(torch, f64, shape):
    rng = np.random.default_rng(4)
    ours = nn.BatchNorm1d(3, momentum=0.2)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.2, dtype=torch.float64)
    ours.weight.data[...] = rng.standard_normal(3) + 1.0
    ours.bias.data[...] = rng.standard_normal(3)
    for step in range(4):
        ours.zero_grad()
        theirs.zero_grad()
        x = rng.standard_normal(shape) * 3.0 - 1.0
        _compare(torch, ours, theirs, x, seed=step)
        close(ours.running_mean, theirs.running_mean.numpy())
        close(ours.running_var, theirs.running_var.numpy())
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    _compare(torch, ours, theirs, rng.standard_normal(shape), seed=9)


@pytest.mark.parametrize("k, stride, padding", [(2, None, 0), (3, 1, 1), (3, 2, 1), (4, 3, 2),
                                                (5, 2, 0)])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_torch_pools(torch, f64, k, stride, padding, kind):
    ours = (nn.MaxPool1d if kind == "max" else nn.AvgPool1d)(k, stride, padding)
    theirs = (torch.nn.MaxPool1d if kind == "max" else torch.nn.AvgPool1d)(k, stride, padding)
    _compare(torch, ours, theirs, np.random.default_rng(5).standard_normal((2, 3, 13)))


@pytest.mark.parametrize("start", [0, 1, 2])
def test_torch_flatten(torch, f64, start):
    _compare(torch, nn.Flatten(start), torch.nn.Flatten(start),
             np.random.default_rng(6).standard_normal((2, 3, 4)))


def test_torch_dropout_p0_and_activations(torch, f64):
    x = np.random.default_rng(7).standard_normal((3, 5))
    _compare(torch, nn.Dropout(0.0), torch.nn.Dropout(0.0), x)
    for ours, theirs in [(nn.ReLU(), torch.nn.ReLU()), (nn.Tanh(), torch.nn.Tanh()),
                         (nn.Sigmoid(), torch.nn.Sigmoid())]:
        _compare(torch, ours, theirs, x)


def test_torch_whole_model_names_outputs_and_gradients(torch, f64):
    tg.manual_seed(0)

    def build(lib, **kw):
        return lib.Sequential(
            # no bias before batch norm: its gradient is exactly zero, so only roundoff
            lib.Conv1d(2, 4, 3, padding=1, bias=False, **kw), lib.BatchNorm1d(4, **kw), lib.ReLU(),
            lib.MaxPool1d(2), lib.Conv1d(4, 4, 3, dilation=2, groups=2, **kw), lib.Tanh(),
            lib.AvgPool1d(2), lib.Flatten(), lib.Dropout(0.0), lib.Linear(8, 3, **kw))

    ours, theirs = build(nn), build(torch.nn, dtype=torch.float64)
    _compare(torch, ours, theirs, np.random.default_rng(8).standard_normal((5, 2, 16)))
    close(ours[1].running_var, theirs[1].running_var.numpy())


def test_torch_named_parameter_order_for_mixed_modules(torch):
    """Own parameters first, then submodules, each in insertion order: torch's rule."""

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.p1 = nn.Parameter(np.zeros(1))
            self.fc = nn.Linear(2, 2)
            self.p2 = nn.Parameter(np.zeros(1))
            self.bn = nn.BatchNorm1d(2)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p1 = torch.nn.Parameter(torch.zeros(1))
            self.fc = torch.nn.Linear(2, 2)
            self.p2 = torch.nn.Parameter(torch.zeros(1))
            self.bn = torch.nn.BatchNorm1d(2)

    assert [n for n, _ in Ours().named_parameters()] == \
        [n for n, _ in Theirs().named_parameters()]
