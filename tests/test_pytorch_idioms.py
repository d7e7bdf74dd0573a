"""PyTorch idioms typed as in PyTorch, with `tg` for `torch`: each runs in both libraries on
the same data and must give the same values and, where PyTorch's is differentiable, the same
gradients. docs/pytorch.md lists what still differs on purpose."""
import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.functional as F

torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")
TF = torch.nn.functional

X = np.random.default_rng(0).standard_normal((3, 4))
X3 = np.random.default_rng(1).standard_normal((2, 3, 4))
TIED = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, 2.0, 7.0, -1.0], [0.0, 0.0, 3.0, 3.0]])
INDEX = np.array([[0, 3], [2, 2], [1, 0]])

# name: (input, idiom). `m` is the library (tg or torch), `f` its functional module.
IDIOMS = {
    "sum(1)": (X, lambda m, f, x: x.sum(1)),
    "sum((0, 1))": (X, lambda m, f, x: x.sum((0, 1))),
    "sum(dim=1, keepdim=True)": (X, lambda m, f, x: x.sum(dim=1, keepdim=True)),
    "mean(dim=0)": (X, lambda m, f, x: x.mean(dim=0)),
    "mean(-1, True)": (X, lambda m, f, x: x.mean(-1, True)),
    "max(dim=1).values": (TIED, lambda m, f, x: x.max(dim=1).values),
    "max(dim=1)[0]": (TIED, lambda m, f, x: x.max(dim=1)[0]),
    "max(dim=1).indices": (TIED, lambda m, f, x: x.max(dim=1).indices),
    "min(dim=0, keepdim=True).values": (TIED, lambda m, f, x: x.min(dim=0, keepdim=True).values),
    "min(dim=1)[1]": (TIED, lambda m, f, x: x.min(dim=1)[1]),
    "max()": (TIED, lambda m, f, x: x.max()),
    "amin(dim=1)": (TIED, lambda m, f, x: x.amin(dim=1)),
    "std(dim=1)": (X, lambda m, f, x: x.std(dim=1)),
    "var(dim=0, unbiased=False)": (X, lambda m, f, x: x.var(dim=0, unbiased=False)),
    "argmax(dim=1)": (TIED, lambda m, f, x: x.argmax(dim=1)),
    "argmin(dim=0, keepdim=True)": (TIED, lambda m, f, x: x.argmin(dim=0, keepdim=True)),
    "transpose(0, 1)": (X, lambda m, f, x: x.transpose(0, 1)),
    "transpose(1, 2) on 3-D": (X3, lambda m, f, x: x.transpose(1, 2)),
    "transpose(dim0=0, dim1=2)": (X3, lambda m, f, x: x.transpose(dim0=0, dim1=2)),
    "permute(2, 0, 1)": (X3, lambda m, f, x: x.permute(2, 0, 1)),
    "permute((1, 0, 2))": (X3, lambda m, f, x: x.permute((1, 0, 2))),
    "view(-1)": (X, lambda m, f, x: x.view(-1)),
    "view(2, -1)": (X, lambda m, f, x: x.view(2, -1)),
    "reshape(4, 3)": (X, lambda m, f, x: x.reshape(4, 3)),
    "t()": (X, lambda m, f, x: x.t()),
    ".T on 2-D": (X, lambda m, f, x: x.T),
    ".mT": (X3, lambda m, f, x: x.mT),
    "flatten(1)": (X3, lambda m, f, x: x.flatten(1)),
    "flatten(start_dim=1)": (X3, lambda m, f, x: x.flatten(start_dim=1)),
    "unsqueeze(0)": (X, lambda m, f, x: x.unsqueeze(0)),
    "unsqueeze(dim=1)": (X, lambda m, f, x: x.unsqueeze(dim=1)),
    "squeeze()": (X[None], lambda m, f, x: x.squeeze()),
    "squeeze(0)": (X[None], lambda m, f, x: x.squeeze(0)),
    "cat([x, x], dim=1)": (X, lambda m, f, x: m.cat([x, x * 2], dim=1)),
    "cat((x, x))": (X, lambda m, f, x: m.cat((x, x.exp()))),
    "stack([x, x], dim=0)": (X, lambda m, f, x: m.stack([x, x * 3], dim=0)),
    "stack([x, x], 2)": (X, lambda m, f, x: m.stack([x, x.tanh()], 2)),
    "where(x > 0, x, -x)": (X, lambda m, f, x: m.where(x > 0, x, x * -2)),
    "gather(1, index)": (X, lambda m, f, x: x.gather(1, _index(m))),
    "gather(dim=0, index=...)": (X, lambda m, f, x: x.gather(dim=0, index=(_index(m) % 3)[:2])),
    "softmax(dim=1)": (X, lambda m, f, x: f.softmax(x, dim=1)),
    "log_softmax(dim=-1)": (X, lambda m, f, x: f.log_softmax(x, dim=-1)),
    "clone()": (X, lambda m, f, x: x.clone() * 2),
    "x @ v (1-D)": (X, lambda m, f, x: x @ x[0]),
    "x.matmul(v)": (X, lambda m, f, x: x.matmul(x[1])),
    "x[x > 0] (mask)": (X, lambda m, f, x: x[x > 0]),
    "x[:, [0, 2]]": (X, lambda m, f, x: x[:, [0, 2]]),
    "gelu": (X, lambda m, f, x: f.gelu(x)),
    "gelu(approximate='tanh')": (X, lambda m, f, x: f.gelu(x, approximate="tanh")),
    "silu": (X, lambda m, f, x: f.silu(x)),
    "leaky_relu(x, 0.1)": (X, lambda m, f, x: f.leaky_relu(x, 0.1)),
    "elu": (X * 3, lambda m, f, x: f.elu(x)),
    "softplus(x, beta=2, threshold=1)": (X, lambda m, f, x: f.softplus(x, beta=2, threshold=1)),
    "clamp(-0.5, 0.5)": (X, lambda m, f, x: x.clamp(-0.5, 0.5)),
    "clamp(min=0)": (X, lambda m, f, x: x.clamp(min=0)),
    "clip(max=0.2)": (X, lambda m, f, x: x.clip(max=0.2)),
    "masked_fill(x > 0, 0.0)": (X, lambda m, f, x: x.masked_fill(x > 0, 0.0)),
    "lerp(end, 0.3)": (X, lambda m, f, x: x.lerp(x.exp(), 0.3)),
    "maximum(x, y)": (X, lambda m, f, x: m.maximum(x, x.tanh())),
    "minimum(x, y)": (X, lambda m, f, x: m.minimum(x, x * 0.5)),
    "logsumexp(dim=1)": (X * 40, lambda m, f, x: x.logsumexp(dim=1)),
    "amax(dim=1)": (TIED, lambda m, f, x: x.amax(dim=1)),
    "flip(0)": (X, lambda m, f, x: x.flip(0)),
    "repeat(2, 3)": (X, lambda m, f, x: x.repeat(2, 3)),
    "split(3, dim=1)[1]": (X, lambda m, f, x: x.split(3, dim=1)[1]),
    "split([1, 2])[1]": (X, lambda m, f, x: x.split([1, 2])[1]),
    "chunk(2, dim=1)[0]": (X, lambda m, f, x: x.chunk(2, dim=1)[0]),
    "cumsum(dim=1)": (X, lambda m, f, x: x.cumsum(dim=1)),
    "sin() * cos()": (X, lambda m, f, x: x.sin() * x.cos()),
    "log1p(x * x)": (X, lambda m, f, x: (x * x).log1p()),
    "sign() * x": (X, lambda m, f, x: x.sign() * x),
    "abs()": (X, lambda m, f, x: x.abs()),
    "norm()": (X, lambda m, f, x: x.norm()),
    "norm(dim=1)": (X, lambda m, f, x: x.norm(dim=1)),
    "norm(p=1, dim=0, keepdim=True)": (X, lambda m, f, x: x.norm(p=1, dim=0, keepdim=True)),
    "norm(p=3)": (X, lambda m, f, x: x.norm(p=3)),
    "norm of a zero row": (X * (np.arange(3) > 0)[:, None], lambda m, f, x: x.norm(dim=1)),
    "roll(1, 1)": (X, lambda m, f, x: x.roll(1, 1)),
    "roll((1, -2), (0, 1))": (X, lambda m, f, x: x.roll((1, -2), (0, 1))),
    "roll(5)": (X, lambda m, f, x: x.roll(5)),
    "prod()": (X, lambda m, f, x: x.prod()),
    "prod(dim=1)": (X, lambda m, f, x: x.prod(dim=1)),
    "prod(0, keepdim=True) with zeros": (X * (np.arange(4) != 2),
                                         lambda m, f, x: x.prod(0, keepdim=True)),
    "normalize(x)": (X, lambda m, f, x: f.normalize(x)),
    "normalize(x, p=1, dim=0) with a zero column": (X * (np.arange(4) != 1),
                                                    lambda m, f, x: f.normalize(x, p=1, dim=0)),
    "cross_entropy over positions (N, C, L)": (X3, lambda m, f, x: f.cross_entropy(
        x, _labels(m, (2, 4)), label_smoothing=0.1)),
    "cross_entropy(reduction='none') over positions": (X3, lambda m, f, x: f.cross_entropy(
        x, _labels(m, (2, 4)), reduction="none")),
    "cross_entropy against probabilities over positions": (X3, lambda m, f, x: f.cross_entropy(
        x, f.softmax(x * 2, dim=1))),
    "nll_loss over positions": (X3, lambda m, f, x: f.nll_loss(
        f.log_softmax(x, dim=1), _labels(m, (2, 4)), reduction="sum")),
    "sort(dim=1).values": (TIED, lambda m, f, x: x.sort(dim=1).values),
    "sort(descending).indices, ties stable": (TIED, lambda m, f, x: (
        x.sort(dim=0, descending=True, stable=True) if m is torch else
        x.sort(dim=0, descending=True)).indices),
    "topk(2, dim=1).values": (X, lambda m, f, x: x.topk(2, dim=1).values),
    "topk(3, largest=False)[1]": (X, lambda m, f, x: x.topk(3, largest=False)[1]),
    "outer": (X, lambda m, f, x: x[0].outer(x[1])),
    "x % 0.7": (X, lambda m, f, x: x % 0.7),
    "x % y (both)": (X, lambda m, f, x: x % (x.abs() + 0.5)),
    "x.max(other)": (X, lambda m, f, x: x.max(x.flip(0))),
    "x.min(other)": (X, lambda m, f, x: x.min(x * 0.5)),
    "expand(-1, 5)": (X, lambda m, f, x: x[:, :1].expand(-1, 5)),
    "expand(2, -1, 4)": (X, lambda m, f, x: x[:, :1].expand(2, -1, 4)),
    "expand_as": (X, lambda m, f, x: x[:1].expand_as(x)),
    "abs(x)": (X, lambda m, f, x: abs(x)),
}


def _labels(m, shape):
    y = np.arange(np.prod(shape)).reshape(shape) % X3.shape[1]
    return torch.tensor(y) if m is torch else y


def _index(m):
    return torch.tensor(INDEX) if m is torch else INDEX


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idiom_matches_torch(name):
    data, idiom = IDIOMS[name]
    ours = tg.tensor(data, dtype=np.float64, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    out, out_t = idiom(tg, F, ours), idiom(torch, TF, theirs)
    np.testing.assert_allclose(np.asarray(out.data), out_t.detach().numpy(), rtol=1e-12,
                               atol=1e-12, err_msg=name)
    if out_t.requires_grad:  # same gradient for the same upstream one
        g = np.random.default_rng(2).standard_normal(out_t.shape)
        out.backward(tg.tensor(g, dtype=np.float64))
        out_t.backward(torch.tensor(g))
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{name}: gradient")
    else:
        assert not out.requires_grad, f"{name}: torch's result is not differentiable"


def test_tensor_utilities_as_torch():
    x, t = tg.tensor(X), torch.tensor(X)
    assert x.size() == tuple(t.size()) and x.size(1) == t.size(1) and x.size(-1) == 4
    assert x.size == 12 and x.numel() == t.numel() and x.dim() == t.dim()  # numpy's .size too
    assert x.tolist() == t.tolist()
    assert x.to("cpu") is x and x.cpu() is x and x.to(np.float64).dtype == np.float64
    leaf = tg.tensor([1.0, 2.0]).requires_grad_()
    assert leaf.requires_grad and leaf.is_leaf
    with pytest.raises(tg.BackwardError, match="only a leaf"):
        (leaf * 2).requires_grad_(False)
    with pytest.raises(ValueError, match="CPU only"):
        x.to("cuda")


def test_autograd_names_as_torch():
    a, b = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0], requires_grad=True)
    (ga,) = tg.autograd.grad((a * a).sum(), [a])
    np.testing.assert_array_equal(ga.data, [2.0, 4.0])
    tg.autograd.backward([(a * 3).sum(), (b * b).sum()])
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])
    np.testing.assert_array_equal(b.grad, [6.0])


def test_module_tree_names_as_torch():
    ours = tg.nn.Sequential(tg.nn.Linear(2, 3), tg.nn.Sequential(tg.nn.ReLU(), tg.nn.Linear(3, 1)))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3),
                                 torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert len(ours.children()) == len(list(theirs.children())) == 2
    seen = []
    ours.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]


def test_spellings_refuse_mixed_or_bad_arguments():
    x = tg.tensor(X)
    with pytest.raises(TypeError, match="sum: give axis= .* or dim="):
        x.sum(axis=0, dim=1)
    with pytest.raises(ValueError, match=r"cat: tensors\[1\] has shape \(2, 4\)"):
        tg.cat([x, tg.tensor(np.ones((2, 4)))], dim=1)
    with pytest.raises(ValueError, match="permute: 2 dims for a tensor with 3"):
        tg.tensor(X3).permute(0, 1)
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]  # a mask of the wrong shape (numpy and torch raise too)
    with pytest.raises(ValueError, match="gather: index of shape"):
        x.gather(1, np.zeros((5, 1), int))
    with pytest.raises(TypeError, match="where: condition must be boolean"):
        tg.where(x, x, x)


LOSS_CASES = {
    "MSELoss": (lambda nn: nn.MSELoss(), "same"),
    "L1Loss(reduction='sum')": (lambda nn: nn.L1Loss(reduction="sum"), "same"),
    "CrossEntropyLoss(label_smoothing=0.1)": (lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
                                              "classes"),
    "CrossEntropyLoss(reduction='none')": (lambda nn: nn.CrossEntropyLoss(reduction="none"),
                                           "classes"),
    "NLLLoss": (lambda nn: nn.NLLLoss(), "classes"),
    "BCELoss": (lambda nn: nn.BCELoss(), "probabilities"),
    "BCEWithLogitsLoss": (lambda nn: nn.BCEWithLogitsLoss(), "binary"),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_modules_match_torch(name):
    make, kind = LOSS_CASES[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4))
    if kind == "probabilities":
        x = 1 / (1 + np.exp(-x))
    target = {"same": rng.standard_normal((5, 4)), "classes": np.array([0, 3, 1, 1, 2]),
              "probabilities": (rng.random((5, 4)) > 0.5) * 1.0,
              "binary": (rng.random((5, 4)) > 0.5) * 1.0}[kind]
    ours, theirs = tg.tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(
        x, requires_grad=True)
    out = make(tg.nn)(ours, target)
    out_t = make(torch.nn)(theirs, torch.tensor(target))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.ones(out_t.shape)
    out.backward(tg.tensor(g, dtype=np.float64))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(2, 1), (0, 3, 1, 1), (-1, 2), (3, -2), (-4, 4), (-2, -1, 1, -1)])
def test_f_pad_matches_torch_in_every_mode(mode, pad):
    """Negative widths cut: constant and circular cut first, reflect and replicate map each
    output position onto x (so (-4, 4) reflects past the cut), as PyTorch does."""
    x = np.random.default_rng(4).standard_normal((2, 3, 5))
    ours, theirs = tg.tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(
        x, requires_grad=True)
    kw = {"value": 1.5} if mode == "constant" else {}
    if mode == "circular" and pad == (-4, 4):  # 4 would wrap around the 1 sample left twice:
        with pytest.raises(ValueError, match="too wide"):  # torch reads its own output there
            F.pad(ours, pad, mode=mode)
        return
    out, out_t = F.pad(ours, pad, mode=mode, **kw), TF.pad(theirs, pad, mode=mode, **kw)
    np.testing.assert_array_equal(out.data, out_t.detach().numpy())
    g = np.random.default_rng(5).standard_normal(out_t.shape)
    out.backward(tg.tensor(g, dtype=np.float64))
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="pad: reflect padding .* too wide"):
        F.pad(ours, (5, 0), mode="reflect")


def test_f_pad_refuses_what_torch_refuses_naming_the_axis():
    x = tg.tensor(np.arange(6.0).reshape(1, 1, 6), requires_grad=True)
    with pytest.raises(ValueError, match=r"pad: \(-5, -2\) cuts more than axis 2 of size 6"):
        F.pad(x, (-5, -2))
    with pytest.raises(ValueError, match=r"pad: \(-6, 0\) cuts more than axis 2"):
        F.pad(x, (-6, 0), mode="replicate")  # no output left to map
    with pytest.raises(ValueError, match="circular padding .* too wide"):
        F.pad(x, (-4, 3), mode="circular")  # 3 wraps around the 2 samples the cut leaves
    with pytest.raises(ValueError, match="reflect padding of 1 axes needs an input of 2 or 3"):
        F.pad(x.reshape(6), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match="pad: pad .* must be int pairs"):
        F.pad(x, (1.5, 1))
    assert F.pad(x, (-3, -3)).shape == (1, 1, 0)  # as torch: cut to nothing is allowed
    with pytest.raises(ValueError, match="pad: replicate padding reads samples, and axis 2"):
        F.pad(tg.zeros(1, 1, 0), (1, 1), mode="replicate")


def test_activation_modules_and_containers_as_torch():
    x = np.random.default_rng(6).standard_normal((3, 4))
    for name, kw in [("GELU", {}), ("SiLU", {}), ("LeakyReLU", {"negative_slope": 0.2}),
                     ("ELU", {"alpha": 0.5}), ("Softplus", {"beta": 2.0}),
                     ("Softmax", {"dim": 0}), ("LogSoftmax", {"dim": 1}), ("Identity", {})]:
        ours = getattr(tg.nn, name)(**kw)(tg.tensor(x, dtype=np.float64))
        theirs = getattr(torch.nn, name)(**kw)(torch.tensor(x))
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    ours = tg.nn.ModuleDict({"a": tg.nn.Linear(2, 2),
                             "b": tg.nn.ModuleList([tg.nn.ReLU(), tg.nn.Linear(2, 1)])})
    theirs = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2),
                                  "b": torch.nn.ModuleList([torch.nn.ReLU(),
                                                            torch.nn.Linear(2, 1)])})
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert len(ours["b"]) == 2 and "a" in ours and list(ours.keys()) == ["a", "b"]


def test_model_to_dtype_and_a_failed_load_changes_nothing():
    net = tg.nn.Sequential(tg.nn.Linear(2, 3), tg.nn.BatchNorm1d(3)).to(np.float64)
    assert net[0].weight.dtype == np.float64 and net[1].running_mean.dtype == np.float64
    state = net.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    state["0.weight"] = state["0.weight"] + 1
    state["1.bias"] = np.array(["x", "y", "z"])  # correct key and shape, not numbers
    with pytest.raises(ValueError, match="load_state_dict: 1.bias: holds <U1, not numbers"):
        net.load_state_dict(state)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)  # nothing was copied
    with pytest.raises(ValueError, match="CPU only"):
        net.to("cuda")


def test_losses_over_positions_refuse_a_target_that_fits_nothing():
    with pytest.raises(ValueError, match=r"cross_entropy: target \(2, 3\) fits neither input "
                                         r"\(2, 3, 4\) nor its positions \(2, 4\)"):
        F.cross_entropy(tg.tensor(X3), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"nll_loss: target \(4,\) fits neither"):
        F.nll_loss(tg.tensor(X3), np.zeros(4, int))


def test_integer_results_as_torch_and_never_differentiated():
    x = tg.tensor(X, dtype=np.float64, requires_grad=True)
    np.testing.assert_array_equal((x // 0.5).data, (torch.tensor(X) // 0.5).numpy())
    np.testing.assert_array_equal((3.0 // (x.abs() + 1)).data,
                                  (3.0 // (torch.tensor(X).abs() + 1)).numpy())
    (x // 0.5).sum().backward()  # a step function: zero gradient (torch's `//` refuses one;
    np.testing.assert_array_equal(x.grad, 0.0)  # its div(rounding_mode="floor") gives zeros)
    for name in ("long", "int", "bool"):
        ours, theirs = getattr(x, name)(), getattr(torch.tensor(X), name)()
        np.testing.assert_array_equal(ours.data, theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    tg.manual_seed(3)
    labels = tg.randint(0, 4, (50,))
    assert labels.dtype == np.int64 and labels.shape == (50,)
    assert set(labels.data.tolist()) == {0, 1, 2, 3}
    assert tg.randint(5, size=3).data.max() < 5 and tg.empty(2, 3).shape == (2, 3)
    with pytest.raises(ValueError, match="randint: high=2 must be above low=2"):
        tg.randint(2, 2, (3,))
    with pytest.raises(ValueError, match=r"topk: k=5 is more than the 4 values along dim 1"):
        x.topk(5)


def test_backward_arguments_as_torch():
    """gradient=, inputs= (only those get .grad), retain_graph; create_graph refuses clearly."""
    def pair(m):
        x = m.tensor([1.0, 2.0], dtype=m.float64 if m is torch else np.float64,
                     requires_grad=True)
        y = m.tensor([3.0], dtype=m.float64 if m is torch else np.float64, requires_grad=True)
        return x, y
    (x, y), (xt, yt) = pair(tg), pair(torch)
    (x * y).sum().backward(inputs=[x])
    (xt * yt).sum().backward(inputs=[xt])
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    assert y.grad is None and yt.grad is None
    (x * y * x).backward(gradient=tg.tensor([1.0, 0.5], dtype=np.float64), inputs=y)
    (xt * yt * xt).backward(gradient=torch.tensor([1.0, 0.5], dtype=torch.float64), inputs=yt)
    np.testing.assert_array_equal(y.grad, yt.grad.numpy())
    tg.autograd.backward([(x * y).sum()], inputs=[y])
    torch.autograd.backward([(xt * yt).sum()], inputs=[yt])
    np.testing.assert_array_equal(y.grad, yt.grad.numpy())
    with pytest.raises(tg.BackwardError, match="use tg.grad\\(outputs, inputs, create_graph=Tr"):
        (x * x).sum().backward(create_graph=True)
    assert tg.grad((x * 2).sum(), [x, y], allow_unused=True)[1] is None
    assert not tg.grad((x * 2).sum(), [x, y])[1].data.any()  # API.md: zeros by default


def test_grad_mode_switches_and_small_conversions_as_torch():
    x = tg.tensor([1.5], requires_grad=True)
    tg.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with tg.inference_mode():
        assert not (x * 2).requires_grad
    assert float(x) == 1.5 and int(tg.tensor([2.7])) == 2 and x.device == "cpu"
    assert tg.as_tensor(x) is x and tg.from_numpy(np.ones(2)).dtype == np.float64
    labels = np.array([0, 2, 1, 2])
    np.testing.assert_array_equal(F.one_hot(labels).data,
                                  TF.one_hot(torch.tensor(labels)).numpy())
    assert F.one_hot(labels, 5).shape == (4, 5) and F.one_hot(labels).dtype == np.int64
    with pytest.raises(ValueError, match="one_hot: num_classes=2 does not hold index 2"):
        F.one_hot(labels, 2)
    with pytest.raises(ValueError, match="item: only a single-element Tensor"):
        float(tg.tensor([1.0, 2.0]))
