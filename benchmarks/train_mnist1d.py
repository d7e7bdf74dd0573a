"""Training steps of the MNIST-1D paper CNN: tinygrad1d vs the same model in PyTorch.

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/train_mnist1d.py [--quick]

One step = forward on a batch of 100, cross-entropy, backward, Adam update: exactly what
`tinygrad1d train` repeats 6,000 times. Both models start from the same weights and see the
same batches. Per-step cost in this small model is Python overhead, not arithmetic, so this
measures the engine's bookkeeping. Target: at most 0.8x PyTorch per step.
"""
from __future__ import annotations

import argparse

import numpy as np
from harness import (
    alternate,
    median,
    median_ratio,
    report_environment,
    report_memory_policy,
    table,
    threads,
)
from harness import torch as torch_mod

import tinygrad1d as tg
from tinygrad1d import data, optim
from tinygrad1d.app import models
from tinygrad1d import functional as F

TARGET = 0.8  # issue "Core v2": the paper CNN's Adam step at most 0.8x PyTorch
BATCH = 100


def batches(x: np.ndarray, y: np.ndarray):
    """The same endless sequence of batches for both libraries (indices only)."""
    rng = np.random.default_rng(0)
    rows = [rng.permutation(len(x))[:BATCH] for _ in range(64)]
    return rows


def ours_step(model, x, y, rows):
    opt = optim.Adam(model.parameters(), lr=1e-2)
    i = [0]

    def step():
        r = rows[i[0] % len(rows)]
        i[0] += 1
        loss = F.cross_entropy(model(tg.Tensor(x[r])), y[r])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_step(model, x, y, rows):
    from torch_twin import torch_twin
    twin = torch_twin(model)
    opt = torch_mod.optim.Adam(twin.parameters(), lr=1e-2)
    X, Y = torch_mod.from_numpy(x), torch_mod.from_numpy(y)
    rows = [torch_mod.from_numpy(r) for r in rows]
    i = [0]

    def step():
        r = rows[i[0] % len(rows)]
        i[0] += 1
        loss = torch_mod.nn.functional.cross_entropy(twin(X[r]), Y[r])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    p.add_argument("--threads", default="1,2")
    args = p.parse_args()
    report_environment()
    report_memory_policy()
    preset = models.get_preset("paper_cnn")
    ds = data.load_mnist1d()
    x, y = preset.prepare(ds.x_train), ds.y_train
    rows = batches(x, y)
    out = []
    for n in (int(t) for t in args.threads.split(",")):
        tg.manual_seed(0)
        model = preset.build()
        fns = {"ours": ours_step(model, x, y, rows)}
        if torch_mod:
            fns["torch"] = torch_step(preset.build(), x, y, rows)
        with threads(n):
            t = alternate(fns, samples=7 if args.quick else 21, warmup=20)
        row = [f"paper CNN step, batch {BATCH}", f"{n}/{n}", f"{median(t['ours']) * 1e3:.2f}"]
        if torch_mod:
            r = median_ratio(t["ours"], t["torch"])
            row += [f"{median(t['torch']) * 1e3:.2f}", f"{r:.2f}x",
                    "ok" if r <= TARGET else "MISSED"]
        out.append(row)
    headers = ["case", "threads np/torch", "ours ms", "torch ms", "median ratio",
               f"target <= {TARGET}x"]
    print(table(out, headers[:len(out[0])]))


if __name__ == "__main__":
    main()
