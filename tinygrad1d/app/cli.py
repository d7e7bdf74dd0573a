"""The command line: `tinygrad1d train | evaluate | export | graph` (also `python -m
tinygrad1d`).

`mpiexec -n N python -m tinygrad1d train ...` trains data-parallel on N processes with the same
global batch (docs/distributed.md); rank 0 alone writes the run folder."""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from .. import data, optim
from .. import distributed as dist
from ..data.files import atomic_write
from ..serialization import save
from ..tensor import Tensor, get_default_dtype, manual_seed, set_default_dtype
from .models import DEFAULT_PRESET, PRESETS, get_preset
from .report import training_step, write_report
from .train import (
    Trainer,
    TrainingDiverged,
    evaluate,
    load_checkpoint,
    read_checkpoint,
)

OPTIMIZERS = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD,
              "rmsprop": optim.RMSProp, "adagrad": optim.AdaGrad}


SHUFFLE_SEED = 0  # mnist1d-shuffled: the one fixed permutation of the 40 positions


def _load(name: str, mnist_path: str | None):
    if name == "mnist":
        return data.load_mnist(mnist_path)
    ds = data.load_mnist1d()
    if name == "mnist1d-shuffled":  # the paper's test of spatial priors: same data, order lost
        order = np.random.default_rng(SHUFFLE_SEED).permutation(ds.x_train.shape[1])
        ds = data.Dataset(ds.x_train[:, order], ds.y_train, ds.x_test[:, order], ds.y_test)
    return ds


def _dataset(preset, args):
    """(x_train, y_train, x_test, y_test) in the preset's input layout and dtype."""
    ds = _load(getattr(args, "data", None) or preset.data, getattr(args, "mnist_path", None))
    dtype = get_default_dtype()
    return (preset.prepare(ds.x_train).astype(dtype), ds.y_train,
            preset.prepare(ds.x_test).astype(dtype), ds.y_test)


def _optimizer(name: str, params, lr: float, weight_decay: float):
    kw = {"weight_decay": weight_decay} if weight_decay else {}
    if name == "sgd":
        kw["momentum"] = 0.9
    return OPTIMIZERS[name](params, lr=lr, **kw)


def _schedule(name: str | None, opt, steps: int):
    if name in (None, "none"):
        return None
    if name == "cosine":
        return optim.CosineAnnealingLR(opt, T_max=steps)
    return optim.StepLR(opt, step_size=max(steps // 3, 1), gamma=0.1)


def _positive(text: str) -> int:
    """argparse type: an int >= 1 (steps, epochs and batch sizes of 0 or less mean nothing)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _as_recorded(args, meta: dict) -> str | None:
    """With --resume, take the preset, data and dtype the checkpoint recorded; an error
    message if an option names another (its weights would be trained on as something else)."""
    for option, key in (("model", "preset"), ("data", "data"), ("dtype", "dtype")):
        given, recorded = getattr(args, option), meta.get(key)
        if given is not None and recorded is not None and given != recorded:
            return f"{args.resume} was trained with --{option} {recorded!r}, not {given!r}"
        setattr(args, option, given or recorded)
    return None


def cmd_train(args) -> int:
    if not dist.is_initialized():  # a plain start is a job of one; mpiexec's joins its job
        dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else _quiet  # the job's report, once
    done = read_checkpoint(args.resume)[2] if args.resume else {}  # the run so far
    problem = _as_recorded(args, done.get("meta", {})) if args.resume else None
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # the defaults: a model's own data set (--model mnist_rows reads MNIST), else MNIST-1D
    args.data = args.data or (PRESETS[args.model].data if args.model else "mnist1d")
    args.dtype = args.dtype or "float32"
    preset_name = args.model or DEFAULT_PRESET[args.data.replace("-shuffled", "")]
    preset = get_preset(preset_name)
    if preset.data != args.data.replace("-shuffled", ""):
        print(f"error: preset {preset_name!r} reads {preset.data}, not {args.data}",
              file=sys.stderr)
        return 2
    recipe = dict(preset.recipe)
    for key in ("optimizer", "lr", "batch_size", "schedule", "weight_decay"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    if args.dtype == "float64":
        set_default_dtype(np.float64)
    manual_seed(args.seed)
    x_train, y_train, x_test, y_test = _dataset(preset, args)
    batch = recipe["batch_size"]
    per_epoch = -(-len(x_train) // batch)
    if args.steps is not None or args.epochs is not None:
        recipe.pop("steps", None)
        recipe.pop("epochs", None)
    steps = args.steps or recipe.get("steps") or per_epoch * (args.epochs or recipe["epochs"])
    if args.resume and done.get("step", 0) >= steps:  # else a report of a 0-step run
        print(f"error: {args.resume} is a finished run (at step {done.get('step', 0)}; this "
              f"asks for {steps} steps in all), so there is nothing to train: give --steps "
              f"above {done.get('step', 0)} to continue it", file=sys.stderr)
        return 2
    model = preset.build()  # rank 0's weights are a one-process run's; the others get them
    if rank > 0:  # each process its own dropout masks (rank 0 keeps the one-process stream)
        manual_seed([args.seed, rank])
    opt = _optimizer(recipe["optimizer"], model.parameters(), recipe["lr"],
                     recipe.get("weight_decay", 0.0))
    augment = None if args.no_augment else preset.augment
    trainer = Trainer(model, opt, x_train, y_train, x_test, y_test, batch_size=batch,
                      seed=args.seed, schedule=_schedule(recipe.get("schedule"), opt, steps),
                      augment=augment, compile=not args.no_compile)
    out = Path(args.out or f"runs/{args.data}-{preset_name}-seed{args.seed}")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    meta = {"preset": preset_name, "data": args.data, "recipe": recipe, "steps": steps,
            "dtype": args.dtype, "augment": augment is not None}
    if args.resume:
        info = load_checkpoint(args.resume, trainer)
        say(f"resumed from {args.resume} at step {info['step']}")
    least, most = batch // world, -(-batch // world)  # contiguous shares of each batch
    each = f"{least}" if least == most else f"{least} to {most}"
    shares = f" ({world} processes, {each} samples each)" if world > 1 else ""
    say(f"training {preset_name} ({model.num_parameters():,} parameters) on {args.data}: "
        f"{len(x_train)} train / {len(x_test)} test, {steps} steps of batch {batch}{shares}, "
        f"{recipe['optimizer']} lr {recipe['lr']:g}, seed {args.seed}")
    try:
        trainer.fit(steps, eval_every=args.eval_every, progress=not args.no_progress,
                    checkpoint=out / "checkpoint.npz", meta=meta)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    if rank > 0:  # rank 0 evaluates and writes the report for the job
        return 0
    final = trainer.evaluate(x_test, y_test)
    metrics = {"test_accuracy": final["accuracy"], "test_loss": final["loss"],
               "train_seconds": round(trainer.seconds, 2), "steps": trainer.step,
               "parameters": model.num_parameters(), **meta, "seed": args.seed,
               "processes": world}
    written = write_report(out, trainer.history, final, metrics)
    written += _graph_for_run(preset_name, preset, model, x_train[:2], y_train[:2], out)
    written += _weights_for_run(model, out)
    written.append(out / "checkpoint.npz")  # fit saved it at the last step
    print(f"test accuracy {final['accuracy']:.4f}  (loss {final['loss']:.4f}, "
          f"{trainer.seconds:.1f} s of training)")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _quiet(*args, **kwargs) -> None:
    """print for processes other than rank 0."""


def _graph_for_run(name, preset, model, x, y, out: Path) -> list[Path]:
    """graph.svg of one training step on two samples, input to loss, collapsed (graph.dot
    alone when Graphviz's dot is missing). A copy of the model draws it, so nothing about
    the trained one (batch norm's running statistics) changes."""
    try:
        from .. import viz
    except ImportError:
        return []
    loss, title = training_step(name, preset, copy.deepcopy(model).train(), x, y)
    return [viz.save(loss, out / "graph.svg", collapse=True, required=False, rankdir="TB",
                     title=title)]


def _weights_for_run(model, out: Path) -> list[Path]:
    """model.safetensors: the weights alone, under their state_dict names, for PyTorch and
    whatever reads safetensors. Without the safetensors package, a note instead of the file:
    a finished run is not failed for it."""
    try:
        return [atomic_write(out / "model.safetensors", lambda f: save(model.state_dict(), f))]
    except ImportError as e:
        print(f"note: model.safetensors not written: {e}", file=sys.stderr)
        return []


def cmd_evaluate(args) -> int:
    state, _, info = read_checkpoint(args.checkpoint)
    meta = info.get("meta", {})
    preset = get_preset(meta.get("preset", "paper_cnn"))
    if meta.get("dtype") == "float64":
        set_default_dtype(np.float64)
    model = preset.build()
    model.load_state_dict(state)
    args.data = meta.get("data", preset.data)  # as trained: mnist1d-shuffled stays shuffled
    _, _, x_test, y_test = _dataset(preset, args)
    t = time.perf_counter()
    m = evaluate(model, x_test, y_test)
    print(f"{args.checkpoint}: {meta.get('preset')} on {args.data} test set "
          f"({len(y_test)} samples): accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f} "
          f"({time.perf_counter() - t:.1f} s)")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(m["confusion"])
    if args.json:
        print(json.dumps({"accuracy": m["accuracy"], "loss": m["loss"]}))
    return 0


EXTRA = {"onnx": "onnx", "safetensors": "safetensors"}  # format -> the package it needs
# two samples of each data set's raw form: what export records and graph draws a model on
SAMPLE = {"mnist1d": np.zeros((2, 40), np.float32), "mnist": np.zeros((2, 28, 28), np.uint8)}


def cmd_export(args) -> int:
    """The checkpoint's model as an ONNX file (its input: the preset's prepared batch, of any
    size) or as safetensors weights; the preset comes from the checkpoint's meta."""
    if importlib.util.find_spec(EXTRA[args.format]) is None:  # before any work
        print(f"error: export --format {args.format} needs the {EXTRA[args.format]} package: "
              f"pip install 'tinygrad1d[{args.format}]'", file=sys.stderr)
        return 2
    wanted = Path(args.output or Path(args.checkpoint).with_name(f"model.{args.format}"))
    if not wanted.parent.is_dir() or wanted.is_dir():
        what = ("is a folder" if wanted.is_dir() else "is not a folder" if
                wanted.parent.exists() else "does not exist")
        place = wanted if wanted.is_dir() else f"the folder {wanted.parent}"
        print(f"error: export -o {wanted}: {place} {what}", file=sys.stderr)
        return 2
    state, _, info = read_checkpoint(args.checkpoint)
    meta = info.get("meta", {})
    name = meta.get("preset", "paper_cnn")
    preset, dtype = get_preset(name), get_default_dtype()
    try:  # the checkpoint's dtype while the model is built, this process's afterwards
        set_default_dtype(np.float64 if meta.get("dtype") == "float64" else np.float32)
        model = preset.build()
        model.load_state_dict(state)
        if args.format == "safetensors":
            atomic_write(wanted, lambda f: save(model.state_dict(), f))
            print(f"wrote {wanted} ({len(state)} arrays of {name}, by state_dict name)")
            return 0
        from .. import onnx
        x = Tensor(preset.prepare(SAMPLE[preset.data]).astype(get_default_dtype()))
        onnx.export(model, x, wanted, input_names=["x"], output_names=["logits"],
                    dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    finally:
        set_default_dtype(dtype)
    shape = ", ".join(["batch"] + [str(n) for n in x.shape[1:]])
    print(f"wrote {wanted}: {name}, input x ({shape}) {x.dtype} as models.PRESETS[{name!r}]"
          f".prepare gives it -> logits (batch, 10); ONNX opset {onnx.DEFAULT_OPSET}")
    return 0


def cmd_graph(args) -> int:
    from .. import viz
    wanted = Path(args.output or ("backward.html" if args.html else "graph.svg"))
    if not wanted.parent.is_dir():  # a mistyped folder should not quietly become a new one
        what = "is not a folder" if wanted.parent.exists() else "does not exist"
        print(f"error: graph -o {wanted}: the folder {wanted.parent} {what}", file=sys.stderr)
        return 2
    if args.html and wanted.suffix.lower() not in (".html", ".htm"):
        print(f"error: graph --html -o {wanted}: the page's name must end in .html",
              file=sys.stderr)
        return 2
    preset = get_preset(args.model)
    manual_seed(0)
    model = preset.build()
    loss, title = training_step(args.model, preset, model, SAMPLE[preset.data], np.array([3, 7]))
    if args.html:  # the backward walk of that step, one page to step through
        try:
            path = viz.save_html(loss, wanted, collapse=not args.expand, title=title)
        except RuntimeError as e:  # no Graphviz: the message names the install command
            print(f"error: {e}", file=sys.stderr)
            return 4
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        return 0
    path = viz.save(loss, wanted, collapse=not args.expand, required=True, rankdir="TB",
                    title=title, max_nodes=None if args.expand else viz.MAX_NODES)
    print(f"wrote {path}")
    return 0 if path.suffix == wanted.suffix else 4  # an image was asked for and not made


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinygrad1d", description=__doc__)
    sub = p.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train a model preset (default: the MNIST-1D paper CNN)")
    # --data and --dtype default to None, not their values, so that --resume can tell an
    # option given on purpose (checked against the checkpoint) from one left out (recorded)
    t.add_argument("--data", choices=["mnist1d", "mnist1d-shuffled", "mnist"],
                   help="default: the --model's data set, else mnist1d; mnist1d-shuffled: one "
                   "fixed permutation of the 40 positions")
    t.add_argument("--model", choices=sorted(PRESETS), help="model preset (default: per data)")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--steps", type=_positive, help="optimizer steps (default: the recipe's)")
    g.add_argument("--epochs", type=_positive, help="passes over the training set")
    t.add_argument("--batch-size", type=_positive)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--schedule", choices=["none", "cosine", "step"])
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--dtype", choices=["float32", "float64"], help="default float32")
    t.add_argument("--eval-every", type=_positive, help="steps between test evaluations")
    t.add_argument("--out", help="output folder (default: runs/DATA-MODEL-seedSEED)")
    t.add_argument("--resume", help="continue from a checkpoint.npz (its preset, data and "
                   "dtype are used; giving others is an error)")
    t.add_argument("--mnist-path", help="a keras-format mnist.npz (else see docs/data.md)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--no-compile", action="store_true",
                   help="run the model eagerly (by default its steps are captured once and "
                        "replayed, tg.compile: the same numbers, faster)")
    t.add_argument("--no-augment", action="store_true",
                   help="train without the preset's data augmentation (MNIST: random shifts)")
    t.set_defaults(fn=cmd_train)
    e = sub.add_parser("evaluate", help="re-score a saved checkpoint on its test set")
    e.add_argument("checkpoint")
    e.add_argument("--mnist-path")
    e.add_argument("--json", action="store_true", help="also print the scores as JSON")
    e.set_defaults(fn=cmd_evaluate)
    x = sub.add_parser("export", help="write a checkpoint's model as ONNX (for onnxruntime) "
                       "or its weights as safetensors")
    x.add_argument("checkpoint")
    x.add_argument("-o", "--output", help="the file to write, in an existing folder (default: "
                   "model.onnx or model.safetensors beside the checkpoint)")
    x.add_argument("--format", choices=["onnx", "safetensors"], default="onnx",
                   help="onnx (default; needs pip install 'tinygrad1d[onnx]') or safetensors")
    x.set_defaults(fn=cmd_export)
    gr = sub.add_parser("graph", help="draw one training step of a preset, input to loss "
                        "(--html: its backward walk as a page to step through)")
    gr.add_argument("--model", choices=sorted(PRESETS), default="paper_cnn")
    gr.add_argument("-o", "--output", help=".svg, .png, .pdf or .dot (default graph.svg); "
                    "with --html, .html (default backward.html)")
    gr.add_argument("--expand", action="store_true", help="draw composites as primitives")
    gr.add_argument("--html", action="store_true", help="write the backward walk as a page "
                    "to step through (one self-contained .html file)")
    gr.set_defaults(fn=cmd_graph)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `tinygrad1d` alone explains itself rather than start a run
        parser.print_help()
        return 0
    try:
        code = args.fn(args)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"error{_which_process()}: {e}", file=sys.stderr)
        code = 2
    if code and _which_process():  # the other processes may be waiting for this one in a
        dist.abort(code)  # reduction: end them all (an exception of any other kind does the
    return code          # same through the excepthook that init_process_group set)


def _which_process() -> str:
    """' (rank r of n)' in a job of several processes, else ''."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        return f" (rank {dist.get_rank()} of {dist.get_world_size()})"
    return ""


if __name__ == "__main__":
    sys.exit(main())
