"""A finished run's report: metrics.json, history.csv, and the pictures curves.png and
confusion.png (the pictures need matplotlib, imported only here and only when drawing)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .. import functional as F
from ..tensor import Tensor

__all__ = ["training_step", "write_report"]


def write_report(out: Path, history: list[dict], final: dict, metrics: dict) -> list[Path]:
    """metrics.json, history.csv, curves.png and confusion.png (the PNGs need matplotlib)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "metrics.json", out / "history.csv"]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    keys = sorted({k for row in history for k in row}, key=lambda k: (k != "step", k))
    with open(out / "history.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping curves.png and confusion.png "
              "(pip install matplotlib)")
        return written
    steps = [r["step"] for r in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", a), ("accuracy", b)):
        ax.plot(steps, [r[f"train_{key}"] for r in history], label="train")
        if history and f"test_{key}" in history[0]:
            ax.plot(steps, [r[f"test_{key}"] for r in history], label="test")
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    cm = final["confusion"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"test accuracy {final['accuracy']:.4f}")
    ax.set_xticks(range(len(cm)))
    ax.set_yticks(range(len(cm)))
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=100)
    plt.close(fig)
    return written + [out / "curves.png", out / "confusion.png"]


def training_step(name: str, preset, model, x: np.ndarray, y: np.ndarray) -> tuple:
    """(loss, title) of one training step of `model` on the samples x, y: what a run's
    graph.svg and `tinygrad1d graph` draw. The input requires grad, so the drawing starts at
    it (not at conv1d's gathered windows), and it ends at the loss, as a step does."""
    x = Tensor(preset.prepare(x), requires_grad=True)
    x.name = "input"
    loss = F.cross_entropy(model(x), y)
    title = f"{name}: {preset.about}\none training step on {len(y)} samples, input to loss"
    return loss, title
