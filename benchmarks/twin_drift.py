"""How far apart do a tinygrad1d model and its PyTorch twin drift while they train?

torch_twin.py compares where the two runs end after 6,000 steps. This script trains them in
lockstep (same initial weights, same batches, Adam) and prints, at a few steps, the largest
relative difference between their parameters and how many test predictions they share. Run in
float32 and float64: if the float64 runs stay together far longer, the two libraries compute
the same function and the float32 gap at the end is rounding, amplified by training.

    python benchmarks/twin_drift.py --preset paper_cnn --data mnist1d-shuffled --seeds 0
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn as tnn
from torch_twin import torch_twin

import tinygrad1d as tg
from tinygrad1d import optim
from tinygrad1d.app import cli, models
from tinygrad1d.data import DataLoader

CHECKPOINTS = (1, 10, 100, 300, 1000, 3000, 6000)


def drift(preset_name: str, data_name: str, seed: int, dtype) -> list[tuple]:
    preset = models.get_preset(preset_name)
    ds = cli._load(data_name, None)
    x, y = (preset.prepare(ds.x_train).astype(dtype), ds.y_train)
    xt, yt = preset.prepare(ds.x_test).astype(dtype), ds.y_test
    r = preset.recipe
    tg.set_default_dtype(dtype)
    try:
        tg.manual_seed(seed)
        model = preset.build()
    finally:
        tg.set_default_dtype(np.float32)
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    try:  # the twin is built in the dtype, so the copied weights are not rounded on the way
        twin = torch_twin(model)
    finally:
        torch.set_default_dtype(torch.float32)
    opt = optim.Adam(model.parameters(), lr=r["lr"])
    topt = torch.optim.Adam(twin.parameters(), lr=r["lr"])
    batches = DataLoader(x, y, r["batch_size"], seed=seed)
    ours, theirs = dict(model.named_parameters()), dict(twin.named_parameters())
    rows = []
    for step in range(1, max(CHECKPOINTS) + 1):
        xb, yb = batches.batch(step - 1)
        loss = tg.functional.cross_entropy(model(tg.Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = tnn.functional.cross_entropy(twin(torch.from_numpy(xb)), torch.from_numpy(yb))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        if step in CHECKPOINTS:
            rel = max(float(np.abs(p.data - theirs[k].detach().numpy()).max()
                            / np.abs(theirs[k].detach().numpy()).max()) for k, p in ours.items())
            with tg.no_grad(), torch.no_grad():
                a = model(tg.Tensor(xt)).data.argmax(1)
                b = twin(torch.from_numpy(xt)).numpy().argmax(1)
            rows.append((step, rel, (a == b).mean(), (a == yt).mean(), (b == yt).mean()))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper_cnn")
    ap.add_argument("--data", default="mnist1d", choices=["mnist1d", "mnist1d-shuffled"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--dtypes", default="float32,float64")
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    final = {}
    for dtype in (np.dtype(d) for d in args.dtypes.split(",")):
        for seed in args.seeds:
            print(f"\n{args.preset} on {args.data}, seed {seed}, {dtype.name}")
            print(f"{'step':>5}  {'max rel param diff':>18}  {'same predictions':>16}  "
                  f"{'acc ours':>8}  {'acc torch':>9}")
            for step, rel, same, a, b in drift(args.preset, args.data, seed, dtype.type):
                print(f"{step:5d}  {rel:18.2e}  {same:16.1%}  {a:8.1%}  {b:9.1%}", flush=True)
            final.setdefault(dtype.name, []).append((a, b))
    print("\nfinal test accuracy, mean over seeds", args.seeds)
    for name, rows in final.items():
        ours, theirs = np.array(rows).T * 100
        print(f"{name}: tinygrad1d {ours.mean():.2f}%  torch {theirs.mean():.2f}%  "
              f"(mean difference {np.mean(ours - theirs):+.2f} points)")


if __name__ == "__main__":
    main()
