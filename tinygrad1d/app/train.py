"""The training loop, metrics, checkpoints and run reports.

    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2), x_train, y_train,
                      x_test, y_test, batch_size=100, seed=0)
    history = trainer.fit(steps=6000)
    trainer.evaluate(x_test, y_test)["accuracy"]

In a job of several processes (`mpiexec -n 4 python -m tinygrad1d train`, docs/distributed.md)
the same code trains one model data-parallel: see Trainer.
"""
from __future__ import annotations

import json
import math
import zipfile
import zlib
import time
from pathlib import Path

import numpy as np

from .. import distributed as dist
from .. import functional as F
from .. import nn, optim
from ..program import Compiled
from ..program import compile as compile_model
from ..data import DataLoader
from ..data.files import atomic_write
from ..nn.parallel import DistributedDataParallel
from ..tensor import Tensor, no_grad

__all__ = ["Trainer", "evaluate", "accuracy", "confusion_matrix", "save_checkpoint",
           "load_checkpoint", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; training stopped at that step."""


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Fraction of predicted class indices equal to the labels."""
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else float("nan")


def confusion_matrix(pred: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[true, predicted], (n_classes, n_classes)."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y), np.asarray(pred)), 1)
    return counts


def evaluate(model: nn.Module, x, y, batch_size: int = 1000, n_classes: int = 10) -> dict:
    """loss, accuracy, predictions and confusion matrix of a classifier on (x, y), in eval
    mode and without recording a graph."""
    was_training = model.training
    model.eval()
    losses, preds = [], []
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(Tensor(x[i:i + batch_size]))
            losses.append(F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item())
            preds.append(logits.data.argmax(axis=1))
    model.train(was_training)
    pred = np.concatenate(preds)
    return {"loss": sum(losses) / len(x), "accuracy": accuracy(pred, y), "predictions": pred,
            "confusion": confusion_matrix(pred, y, n_classes)}


class Trainer:
    """Mini-batch training of a classifier with cross-entropy, with evaluation, history,
    NaN/inf detection and resumable checkpoints.

    `augment(x_batch, rng) -> x_batch`, if given, transforms each training batch (data
    augmentation); rng is seeded by (seed, step), so a resumed run augments identically.

    In a job of several processes (tinygrad1d.distributed initialised), `batch_size` is the
    global batch: every process draws the same batch, takes its contiguous share of it and
    trains through DistributedDataParallel, so the job trains the model one process would
    (to rounding; batch norm normalises each share by its own statistics). Rank 0 alone
    evaluates, prints and saves checkpoints; `self.model` stays the bare model on every
    process (its state_dict has no "module." prefix: a checkpoint loads either way). The
    parameters are equal on every process after every step; batch norm's running statistics
    of processes other than rank 0 are their own during fit, and rank 0's when it ends."""

    def __init__(self, model: nn.Module, optimizer: optim.Optimizer, x_train, y_train,
                 x_test=None, y_test=None, batch_size: int = 100, seed: int = 0,
                 schedule=None, n_classes: int = 10, augment=None, compile: bool = True):
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        # the model's steps run as recorded programs (tg.compile): the same numbers, to the
        # last bit, without re-recording the graph every step; compile=False runs it eagerly.
        # A training step records the model and the loss as one program (in a job of several
        # processes too: DDP averages the gradients as they reach the parameters);
        # evaluation uses the compiled model alone.
        self.run = compile_model(model) if compile else model
        self.loss_and_logits = Compiled(self._loss_and_logits, "train_step", self.run._tree) \
            if compile else self._loss_and_logits
        self.loader = DataLoader(x_train, y_train, batch_size, seed=seed)
        self.x_test, self.y_test = x_test, y_test
        self.batch_size, self.seed, self.n_classes = batch_size, seed, n_classes
        self.augment = augment
        self.rank, self.world = ((dist.get_rank(), dist.get_world_size())
                                 if dist.is_initialized() else (0, 1))
        if self.world > 1:
            n = len(self.loader.x)
            smallest = min(batch_size, n % batch_size or batch_size)  # an epoch's last batch
            if smallest < self.world:
                raise ValueError(f"Trainer: each of the {self.world} processes needs a sample "
                                 f"of every batch, but batch_size={batch_size} on {n} samples "
                                 f"makes a batch of {smallest}")
        # what a step runs: the model, or in a job of several processes the model wrapped so
        # that its gradients are averaged over the processes. Every reduction is a point where
        # each process waits for the slowest, so a step has one: the gradients, with the
        # step's loss and hits riding along. Batch norm's running statistics are not
        # broadcast before each step (they do not change the training forward, and rank 0's
        # are the same either way) but once, at the end of fit: rank 0 alone evaluates and
        # saves on the way.
        self.net = DistributedDataParallel(self.run, broadcast_buffers=False) \
            if self.world > 1 else self.run
        self.step = 0
        self.history: list[dict] = []
        self.seconds = 0.0

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)

    def _batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.loader.batch(step)  # the same batches at a given step, resumed or not
        if self.augment is not None:
            x = self.augment(x, np.random.default_rng([self.seed, step, 1]))
        return x, y

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """One optimizer step on a batch; returns (loss, accuracy) on that batch. In a job of
        several processes this process trains on its contiguous share of the batch."""
        n = len(y)
        share = slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)
        y_share = y[share]
        if self.world > 1:
            self.net.pre_forward()  # DDP's check of the last backward, then the model itself
        # equal shares (a job of one too) take the mean; unequal ones weigh by their size, so
        # that the mean over processes is the batch's mean
        scale = None if len(y_share) * self.world == n else self.world / n
        loss, logits = self.loss_and_logits(Tensor(x[share]), y_share, scale)
        pred = logits.data.argmax(axis=1)
        if self.world > 1:
            # the batch's loss and hits, summed with the gradients: the same on every
            # process, so a loss that is not finite stops every process at the same step
            totals = np.array([loss.item() * n / self.world, np.sum(pred == y_share)])
            self.net.sum_with_gradients(totals)
        self.optimizer.zero_grad()
        loss.backward()  # in a job of several, the gradients are averaged over processes
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        if self.world == 1:
            return loss.item(), accuracy(pred, y)
        return totals[0] / n, totals[1] / n

    def _loss_and_logits(self, x: Tensor, y: np.ndarray, scale: float | None):
        """A step's loss on (x, y), the mean (or the sum times `scale`), and the logits
        (detached: read for the accuracy): the function a training step compiles."""
        logits = self.model(x)
        if scale is None:
            return F.cross_entropy(logits, y), logits.detach()
        return F.cross_entropy(logits, y, reduction="sum") * scale, logits.detach()

    def evaluate(self, x, y, batch_size: int = 1000) -> dict:
        return evaluate(self.run, x, y, batch_size, self.n_classes)

    def fit(self, steps: int, eval_every: int | None = None, progress: bool = True,
            checkpoint: str | Path | None = None, meta: dict | None = None) -> list[dict]:
        """Train until `self.step == steps` (so a resumed trainer continues), evaluating every
        `eval_every` steps and at the end. Raises TrainingDiverged on a NaN/inf loss."""
        eval_every = eval_every or self.steps_per_epoch
        lead = self.rank == 0  # the process that evaluates, prints and saves for the job
        bar = _progress(total=steps, initial=self.step, enabled=progress) if lead \
            else _Silent(self.step)
        run_loss = run_acc = 0.0
        run_n = 0
        start = time.perf_counter() - self.seconds
        self.run.train()
        try:
            while self.step < steps:
                loss, acc = self.train_step(*self._batch(self.step))
                self.step += 1
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} at step {self.step}; training stopped. Try a "
                        f"lower learning rate (now {self.optimizer.lr:g}) or float64.")
                run_loss, run_acc, run_n = run_loss + loss, run_acc + acc, run_n + 1
                if self.step % 10 == 0 or self.step == steps:
                    bar.update(self.step - bar.n)
                    bar.set_postfix(loss=f"{run_loss / run_n:.4f}", acc=f"{run_acc / run_n:.3f}")
                if self.step % eval_every == 0 or self.step == steps:
                    self.seconds = time.perf_counter() - start
                    row = {"step": self.step, "epoch": self.step / self.steps_per_epoch,
                           "lr": float(self.optimizer.lr), "train_loss": run_loss / run_n,
                           "train_accuracy": run_acc / run_n, "seconds": self.seconds}
                    if self.x_test is not None and lead:
                        m = self.evaluate(self.x_test, self.y_test)
                        row.update(test_loss=m["loss"], test_accuracy=m["accuracy"])
                    self.history.append(row)
                    bar.write(_format_row(row))
                    run_loss = run_acc = 0.0
                    run_n = 0
                    if checkpoint is not None and lead:
                        save_checkpoint(checkpoint, self, meta)
        finally:
            bar.close()
        if self.world > 1:  # every process ends with rank 0's model, buffers included
            self.net.sync_buffers()
        self.seconds = time.perf_counter() - start
        return self.history


def _format_row(row: dict) -> str:
    test = (f"  test loss {row['test_loss']:.4f}  test acc {row['test_accuracy']:.4f}"
            if "test_loss" in row else "")
    return (f"step {row['step']:6d}  train loss {row['train_loss']:.4f}  train acc "
            f"{row['train_accuracy']:.4f}{test}  ({row['seconds']:.1f} s)")


class _Quiet:
    """Stands in for a tqdm bar when progress is off or tqdm is missing: prints only the
    evaluation lines."""

    def __init__(self, initial=0):
        self.n = initial

    def update(self, k): self.n += k
    def set_postfix(self, **kw): pass
    def write(self, s): print(s, flush=True)
    def close(self): pass


class _Silent(_Quiet):
    """The bar of a process other than rank 0: the job's lines are printed once, by rank 0."""

    def write(self, s): pass


def _progress(total: int, initial: int, enabled: bool):
    if enabled:
        try:
            from tqdm import tqdm
            return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)
        except ImportError:
            pass
    return _Quiet(initial)


# ------------------------------------------------------------------ checkpoints (.npz, no pickle)


def save_checkpoint(path: str | Path, trainer: Trainer, meta: dict | None = None) -> Path:
    """Model and optimizer state, step, schedule and history in one .npz (no pickle)."""
    path = Path(path)
    arrays = {f"model/{k}": v for k, v in trainer.model.state_dict().items()}
    arrays.update({f"optim/{k}": v for k, v in trainer.optimizer.state_dict().items()})
    info = {"step": trainer.step, "seed": trainer.seed, "batch_size": trainer.batch_size,
            "seconds": trainer.seconds, "history": trainer.history,
            "schedule_count": getattr(trainer.schedule, "count", None), "meta": meta or {}}
    arrays["info"] = np.array(json.dumps(info))
    # an interrupted save leaves the previous checkpoint, never half of one
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def read_checkpoint(path: str | Path) -> tuple[dict, dict, dict]:
    """(model state, optimizer state, info) from a checkpoint written by save_checkpoint."""
    try:
        with open(path, "rb") as fh:  # our own handle: np.load leaks one on a bad zip
            # A checkpoint is an .npz, which is a zip archive. Anything else (a text file, a
            # bare .npy) is refused here: np.load would take text for a pickle and answer with
            # advice about allow_pickle, which does not tell the user what went wrong.
            is_npz = fh.read(4) == b"PK\x03\x04"
            fh.seek(0)
            if is_npz:
                with np.load(fh, allow_pickle=False) as z:
                    files = {k: z[k] for k in z.files}
        info = json.loads(str(files["info"])) if is_npz and "info" in files else None
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"read_checkpoint: {path} is not a tinygrad1d checkpoint, or it is "
                         f"damaged: {e}") from None
    if not is_npz:
        raise ValueError(f"read_checkpoint: {path} is not a tinygrad1d checkpoint: it is not an "
                         ".npz archive (training writes one as checkpoint.npz)")
    if not isinstance(info, dict):
        raise ValueError(f"read_checkpoint: {path} has no 'info' entry; not a tinygrad1d "
                         "checkpoint")
    model = {k[6:]: v for k, v in files.items() if k.startswith("model/")}
    opt = {k[6:]: v for k, v in files.items() if k.startswith("optim/")}
    return model, opt, info


def load_checkpoint(path: str | Path, trainer: Trainer) -> dict:
    """Restore a trainer (model, optimizer, step, schedule, history); returns the info."""
    model, opt, info = read_checkpoint(path)
    trainer.model.load_state_dict(model)
    trainer.optimizer.load_state_dict(opt)
    trainer.step, trainer.history = info["step"], info["history"]
    trainer.seconds = info.get("seconds", 0.0)
    if trainer.schedule is not None and info.get("schedule_count") is not None:
        trainer.schedule.count = info["schedule_count"]
        trainer.optimizer.lr = trainer.schedule.lr_at(trainer.schedule.count)
    return info
