"""tg.onnx.export, checked against the real thing: onnx's checker (full_check) and onnxruntime,
at a batch size other than the exported one, against this package's eval-mode output.

Every preset, a set of models written as expressions, and every op of the registry (drawn by
the registry's own hypothesis hints) go through onnxruntime. These tests skip, saying how to
enable them, when onnx or onnxruntime is absent; CI installs both (the [onnx] extra)."""
import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import OPS, nn
from tinygrad1d.app import models
from tinygrad1d.tensor import constant
from tinygrad1d.testing import op_inputs

HOW = "needs onnx and onnxruntime: pip install onnx onnxruntime (or 'tinygrad1d[onnx]')"
onnx = pytest.importorskip("onnx", reason=HOW)
ort = pytest.importorskip("onnxruntime", reason=HOW)

TOLERANCE = 1e-4  # issue 19: within 1e-4 of this package's eval-mode output


def run(proto, feeds: dict) -> list:
    """The model in onnxruntime on the CPU, after the checker's full check."""
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def eager(fn, *args) -> list:
    """fn's outputs here, flattened as export flattens them."""
    with tg.no_grad():
        out = fn(*[tg.Tensor(a, dtype=a.dtype) for a in args])
    flat, todo = [], [out]
    while todo:
        item = todo.pop(0)
        if isinstance(item, (tuple, list)):
            todo[:0] = list(item)
        else:
            flat.append(item.data)
    return flat


def assert_close(got: list, want: list) -> float:
    """Same count, dtypes and shapes, values within TOLERANCE; the largest difference."""
    assert len(got) == len(want)
    worst = 0.0
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        np.testing.assert_allclose(g, w, rtol=0, atol=TOLERANCE)
        if g.size:
            worst = max(worst, float(np.abs(g.astype(np.float64) - w).max()))
    return worst


# ------------------------------------------------------------------ the presets


def raw_batch(preset, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if preset.data == "mnist":
        return preset.prepare(rng.integers(0, 256, (n, 784)).astype(np.uint8))
    return preset.prepare(rng.normal(size=(n, 40)))


@pytest.fixture(params=sorted(models.PRESETS))
def trained_like(request):
    """(name, preset, model in training mode) whose batch norms hold moved statistics."""
    preset = models.PRESETS[request.param]
    tg.manual_seed(0)
    model = preset.build()
    with tg.no_grad():
        model(tg.Tensor(raw_batch(preset, 8, seed=1)))  # running statistics move off 0 and 1
    return request.param, preset, model


def test_every_preset_runs_in_onnxruntime_at_another_batch_size(trained_like):
    name, preset, model = trained_like
    proto = tg.onnx.export(model, tg.Tensor(raw_batch(preset, 3, seed=2)), io.BytesIO(),
                           input_names=["x"], output_names=["logits"],
                           dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    assert model.training, "export must put the model back in training mode"
    for n in (5, 1):
        x = raw_batch(preset, n, seed=3 + n)
        got = run(proto, {"x": x})
        model.eval()
        assert_close(got, eager(model, x))
        model.train()


def test_a_preset_exported_at_batch_one_runs_at_any_batch():
    """A batch of one takes shortcuts (conv1d skips a transpose): export records at >= 2."""
    preset = models.PRESETS["paper_cnn"]
    tg.manual_seed(0)
    model = preset.build()
    proto = tg.onnx.export(model, tg.Tensor(raw_batch(preset, 1, seed=0)), io.BytesIO(),
                           dynamic_axes={"x": {0: "batch"}})
    x = raw_batch(preset, 9, seed=1)
    assert_close(run(proto, {"x": x}), eager(model.eval(), x))


def test_the_graph_is_the_recorded_one_with_state_dict_names():
    tg.manual_seed(0)
    model = models.dilated_cnn()
    proto = tg.onnx.export(model, tg.randn(2, 1, 40), io.BytesIO())
    ops = {node.op_type for node in proto.graph.node}
    assert {"Gather", "MatMul", "Pad"} <= ops and "Conv" not in ops  # conv1d as drawn
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    state = model.state_dict()
    used = {k for k in state if not k.endswith("num_batches_tracked")}  # eval never reads it
    assert used <= set(stored)
    for k in used:
        np.testing.assert_array_equal(stored[k], state[k], err_msg=k)


def test_dynamic_axes_name_the_dims_of_inputs_and_outputs():
    model = models.GRUClassifier()
    proto = tg.onnx.export(model, tg.randn(3, 40, 1), io.BytesIO(), input_names=["x"],
                           output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": [0]})

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
    assert dims(proto.graph.input[0]) == ["n", 40, 1]
    assert dims(proto.graph.output[0]) == ["logits_dynamic_axes_1", 10]  # torch's name
    static = tg.onnx.export(model, tg.randn(3, 40, 1), io.BytesIO())
    assert dims(static.graph.input[0]) == [3, 40, 1]


# ------------------------------------------------------------------ models as expressions


def _conv_pool(x):
    return F.max_pool1d(F.conv1d(x, W, padding=2).relu(), 3, stride=2, padding=1)


def _batch_norm(x):
    return F.batch_norm(x, RUNNING[0], RUNNING[1], GAMMA, BETA)  # eval: running statistics


tg.manual_seed(0)
W = tg.randn(8, 3, 5, requires_grad=True)
RUNNING = (np.random.default_rng(0).normal(size=8), np.random.default_rng(1).uniform(.5, 2, 8))
GAMMA, BETA = tg.randn(8, requires_grad=True), tg.randn(8, requires_grad=True)
EMBED, NORM, LSTM = nn.Embedding(20, 6), nn.LayerNorm(6), nn.LSTM(3, 4, batch_first=True)


def floats(*shape):
    return lambda n, rng: rng.normal(size=(n,) + shape).astype(np.float32)


EXPRESSIONS = {  # name: (function, input makers (batch, rng) -> array)
    "softmax": (lambda x: F.softmax(x * 4, axis=1), [floats(10)]),
    "cross_entropy": (lambda x, y: F.cross_entropy(x, y, reduction="none"),
                      [floats(10), lambda n, rng: rng.integers(0, 10, n)]),
    "max_pool1d": (_conv_pool, [floats(3, 16)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False),
                   [floats(3, 16)]),
    "batch_norm": (_batch_norm, [floats(8, 12)]),
    "embedding_layer_norm": (lambda t: NORM(EMBED(t)), [lambda n, rng: rng.integers(0, 20,
                                                                                    (n, 7))]),
    "where_clamp": (lambda x: tg.where(x > 0.5, x * 2, x.clamp(-0.3, 0.4)), [floats(5)]),
    "mean_std_over_batch": (lambda x: (x - x.mean(0)) / (x.std(0) + 1), [floats(4)]),
    "lstm_outputs": (lambda x: LSTM(x), [floats(6, 3)]),  # (out, (h, c)): three outputs
    "argmax": (lambda x: x.argmax(axis=1), [floats(10)]),
    "slices_and_gelu": (lambda x: F.gelu(x[:, 1:3] * x[..., -1:]), [floats(4)]),
}


@pytest.mark.parametrize("exported_at", [1, 3])
@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_expressions_run_in_onnxruntime_at_another_batch_size(name, exported_at):
    fn, makers = EXPRESSIONS[name]
    rng = np.random.default_rng(0)
    names = [f"in{i}" for i in range(len(makers))]
    args = [make(exported_at, rng) for make in makers]
    proto = tg.onnx.export(fn, tuple(tg.Tensor(a, dtype=a.dtype) for a in args), io.BytesIO(),
                           input_names=names, dynamic_axes={n: {0: "batch"} for n in names})
    later = [make(6, rng) for make in makers]
    assert_close(run(proto, dict(zip(names, later))), eager(fn, *later))


MASK_2D = np.random.default_rng(0).random((3, 4)) < 0.5
INDICES = [  # numpy's rules: masks, ints beside arrays, arrays apart (their axes go first)
    (MASK_2D,), (slice(None), MASK_2D[0]), (MASK_2D, 1), (None, [0, 2]), (Ellipsis, None, -1),
    ([0, 1], slice(None), [1, 2]), (1, slice(None), [0, 1]), (slice(None), [[0], [2]], [1, 3]),
    (slice(None), None, [0, 1]), (slice(None, None, -1), 2, slice(1, None, 2)),
    (np.array([True, False, True]), Ellipsis, 0)]


@pytest.mark.parametrize("index", INDICES, ids=range(len(INDICES)))
def test_getitem_follows_numpys_indexing_rules(index):
    x = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)
    proto = tg.onnx.export(lambda x: x[index], tg.Tensor(x), io.BytesIO())
    want = x[tuple(np.asarray(i) if isinstance(i, list) else i for i in index)]
    assert_close(run(proto, {"x": x}), [want])


def test_two_dynamic_axes_of_their_own_sizes():
    """Each name is its own size: recorded moving one at a time, computed each from its own
    input's shape (a mean over each, an outer sum of the two)."""
    fn = lambda x, y: x.mean(0) + (x[:, :1] + y[:, 0].reshape(1, -1)).sum()  # noqa: E731
    proto = tg.onnx.export(fn, (tg.randn(3, 4), tg.randn(5, 2)), io.BytesIO(),
                           dynamic_axes={"x": {0: "n"}, "y": {0: "m"}})
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 4)).astype(np.float32), rng.normal(size=(2, 2)).astype(np.float32)
    assert_close(run(proto, {"x": x, "y": y}), eager(fn, x, y))


def test_what_moves_with_the_batch_and_cannot_be_computed_is_refused():
    with pytest.raises(ValueError, match=r"a constant of shape \(3,\) changes with the dynamic "
                                         r"axes \(batch = 3, 4, 5\) and is not one value"):
        tg.onnx.export(lambda x: x * tg.arange(x.shape[0]).reshape(-1, 1), tg.randn(3, 2),
                       io.BytesIO(), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ValueError, match="the dynamic axes named 'b' have the sizes"):
        tg.onnx.export(lambda x, y: x + y.sum(), (tg.randn(3), tg.randn(4)), io.BytesIO(),
                       dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})


def test_a_function_of_constant_tensors_exports():
    """Nothing requires grad: the graph is recorded all the same."""
    a, b = tg.Tensor([[1.0, -2.0], [0.5, 3.0]]), tg.Tensor([0.25, 4.0])
    fn = lambda a, b: (a @ b).tanh() + b.sum()  # noqa: E731
    proto = tg.onnx.export(fn, (a, b), io.BytesIO())
    assert [i.name for i in proto.graph.input] == ["a", "b"]  # the function's own names
    assert {"MatMul", "Tanh", "ReduceSum"} <= {n.op_type for n in proto.graph.node}
    feeds = {"a": np.array([[2.0, 1.0], [0.0, -1.0]], np.float32),
             "b": np.array([1.0, 2.0], np.float32)}
    assert_close(run(proto, feeds), eager(fn, *feeds.values()))


def test_a_compiled_model_and_numbers_riding_along_export():
    tg.manual_seed(0)
    model = models.paper_cnn()
    x = tg.randn(2, 1, 40)
    compiled = tg.compile(model)
    compiled(x)  # captured: export must not capture inside a capture
    proto = tg.onnx.export(compiled, x, io.BytesIO())
    assert_close(run(proto, {"x": x.data}), eager(model.eval(), x.data))
    scaled = tg.onnx.export(lambda x, k: x * k, (x, 3.0), io.BytesIO())
    assert [i.name for i in scaled.graph.input] == ["x"]  # the number is part of the graph
    assert_close(run(scaled, {"x": x.data}), [x.data * 3])


def test_float64_models_export_in_float64():
    tg.set_default_dtype(np.float64)
    try:
        tg.manual_seed(0)
        model = models.ResidualMLP()
        x = np.random.default_rng(0).normal(size=(4, 40))
        proto = tg.onnx.export(model, tg.Tensor(x), io.BytesIO())
    finally:
        tg.set_default_dtype(np.float32)
    got = run(proto, {"x": x})
    assert got[0].dtype == np.float64
    np.testing.assert_allclose(got[0], eager(model.eval(), x)[0], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ every op of the registry


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(set(OPS) - set(tg.onnx.TRAINING_ONLY)))
def test_every_registry_op_runs_in_onnxruntime(name, dtype):
    """Each op on inputs and parameters drawn from its own test hints, exported and run: the
    same values, dtype and shape (float32: models' dtype; float64: the hints' own)."""
    op, tol = OPS[name], 1e-6 if dtype == np.float64 else 1e-5  # erf: float32 inside

    @settings(max_examples=max(10, settings().max_examples // 2))
    @given(op_inputs(op))
    def exports(case):
        arrays, params = case
        arrays = [np.asarray(a) for a in arrays]  # a 0-d draw may come as a numpy scalar
        arrays = [a.astype(dtype) if a.dtype == np.float64 else a for a in arrays]
        fn = lambda *xs: op.apply(*xs, **params)  # noqa: E731
        names = [f"in{i}" for i in range(len(arrays))]
        proto = tg.onnx.export(fn, tuple(constant(a) for a in arrays), io.BytesIO(),
                               input_names=names)
        got, want = run(proto, dict(zip(names, arrays)))[0], fn(*map(constant, arrays)).data
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)

    exports()


@pytest.mark.parametrize("name", tg.onnx.TRAINING_ONLY)
def test_training_only_ops_are_refused_naming_the_op(name, tmp_path):
    x = tg.randn(4, 3)

    def training(x):
        if name == "dropout_mask":
            return F.dropout(x, 0.5, training=True)
        return F.batch_norm(x, np.zeros(3), np.ones(3), training=True)

    with pytest.raises(ValueError, match=f"the graph has {name}, a training-only op"):
        tg.onnx.export(training, x, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_op_without_an_onnx_form_is_named(tmp_path):
    class Cube(tg.Function):  # a user's own op, registered nowhere in export's table
        name = "my_cube"

        def forward(ctx, x):
            return x ** 3

    with pytest.raises(ValueError, match="the op 'my_cube' has no ONNX form"):
        tg.onnx.export(lambda x: Cube.apply(x) + 1, tg.randn(3), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_a_wrong_mapping_would_be_caught(monkeypatch):
    """The comparisons above can fail: exp written as Log is seen at once."""
    from tinygrad1d import onnx as exporter
    monkeypatch.setitem(exporter._CONVERT, "exp", exporter._elementwise("Log"))
    x = np.array([0.5, 1.5, 2.0], np.float32)
    proto = tg.onnx.export(lambda x: x.exp(), tg.Tensor(x), io.BytesIO())
    with pytest.raises(AssertionError):
        assert_close(run(proto, {"x": x}), [np.exp(x)])


# ------------------------------------------------------------------ arguments and files


@pytest.fixture
def cnn():
    tg.manual_seed(0)
    return models.paper_cnn(), tg.randn(3, 1, 40)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(input_names=["a", "b"]), ValueError, "input_names has 2 names ['a', 'b'] for 1 input"),
    (dict(input_names="x"), TypeError, "input_names must be a list of strings"),
    (dict(output_names=["p", "q"]), ValueError, "output_names has 2 names ['p', 'q'] for 1 "
                                                "output"),
    (dict(input_names=["x"], output_names=["x"]), ValueError, "names both an input and an "
                                                              "output"),
    (dict(dynamic_axes={"y": {0: "batch"}}), ValueError, "dynamic_axes names 'y', which is "
                                                         "neither an input ['x'] nor an output"),
    (dict(dynamic_axes={"x": {3: "batch"}}), ValueError, "names axis 3, but x has 3 axes"),
    (dict(dynamic_axes={"x": {0: 7}}), TypeError, "must map axes to names"),
    (dict(dynamic_axes=["x"]), TypeError, "dynamic_axes must be a dict"),
    (dict(dynamic_axes={"x": {2: "length"}}), ValueError, "gather's parameter index changes "
                                                          "with the dynamic axes"),
    (dict(opset_version=13), ValueError, "opset_version must be an int from 18"),
])
def test_bad_arguments_get_clear_errors_and_write_nothing(cnn, tmp_path, kwargs, error, words):
    model, x = cnn
    with pytest.raises(error) as e:
        tg.onnx.export(model, x, tmp_path / "m.onnx", **kwargs)
    assert words in str(e.value) and str(e.value).startswith("onnx.export: ")
    assert not list(tmp_path.iterdir()) and model.training


def test_bad_models_args_and_files_get_clear_errors(cnn, tmp_path):
    model, x = cnn
    with pytest.raises(TypeError, match="model must be an nn.Module or a function"):
        tg.onnx.export("paper_cnn", x, io.BytesIO())
    with pytest.raises(ValueError, match="holds no Tensor or array"):
        tg.onnx.export(model, (3,), io.BytesIO())
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        tg.onnx.export(model, x, tmp_path / "missing" / "m.onnx")
    with pytest.raises(TypeError, match="open it with 'wb'"):
        tg.onnx.export(model, x, io.StringIO())
    with pytest.raises(ValueError, match=r"item\(\) takes a value computed from the inputs"):
        tg.onnx.export(lambda x: x * x.sum().item(), x, io.BytesIO())
    assert not list(tmp_path.iterdir())


def test_the_file_holds_the_returned_model(cnn, tmp_path):
    model, x = cnn
    proto = tg.onnx.export(model, x, tmp_path / "m.onnx")
    assert onnx.load(tmp_path / "m.onnx") == proto
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left
    with open(tmp_path / "n.onnx", "wb") as f:
        tg.onnx.export(model, x, f)
    assert onnx.load(tmp_path / "n.onnx") == proto


def test_importing_the_package_imports_no_onnx():
    code = "import sys, tinygrad1d as tg; tg.onnx; assert 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_onnx_the_error_says_how_to_install_it(cnn, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'tinygrad1d\[onnx\]'"):
        tg.onnx.export(*cnn, io.BytesIO())
