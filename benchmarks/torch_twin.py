"""Train the same MNIST-1D model in tinygrad1d and in PyTorch, seed by seed, and compare.

Same data (tinygrad1d.data.load_mnist1d), same architecture, same initial weights (copied
from the tinygrad1d model into the torch one), same batches (a DataLoader with the seed), same
optimizer and schedule; only the arithmetic library differs. Prints test accuracy per seed and
the mean and spread.

    python benchmarks/torch_twin.py --preset paper_cnn --seeds 0 1 2 3 4
    python benchmarks/torch_twin.py --preset mlp --data mnist1d-shuffled
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn as tnn

import tinygrad1d as tg
from tinygrad1d import optim
from tinygrad1d.app import cli, models
from tinygrad1d.data import DataLoader
from tinygrad1d.app.train import Trainer


class _MLPTwin(tnn.Module):
    def __init__(self):
        super().__init__()
        self.linear1, self.linear2 = tnn.Linear(40, 100), tnn.Linear(100, 100)
        self.linear3 = tnn.Linear(100, 10)

    def forward(self, x):
        h = torch.relu(self.linear1(x))
        return self.linear3(h + torch.relu(self.linear2(h)))


class _GRUTwin(tnn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.rnn = tnn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = tnn.Linear(40 * 2 * hidden, 10)

    def forward(self, x):
        return self.linear(self.rnn(x)[0].flatten(1))


def _copied(model: tg.nn.Module, twin: tnn.Module) -> tnn.Module:
    """twin with model's weights, matched by PyTorch's parameter names."""
    ours = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in twin.named_parameters():
            p.copy_(torch.from_numpy(ours[name].data.copy()))
    return twin


def torch_twin(model: tg.nn.Module) -> tnn.Module:
    """The same model in torch (layer by layer for a Sequential) with a copy of the weights."""
    if isinstance(model, models.ResidualMLP):
        return _copied(model, _MLPTwin())
    if isinstance(model, models.GRUClassifier):
        return _copied(model, _GRUTwin(model.rnn.hidden_size))
    layers = []
    for m in model:
        if isinstance(m, tg.nn.Conv1d):
            t = tnn.Conv1d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                           m.dilation, m.groups, bias=m.bias is not None)
        elif isinstance(m, tg.nn.Linear):
            t = tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
        elif isinstance(m, tg.nn.BatchNorm1d):
            t = tnn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum)
        elif isinstance(m, tg.nn.GlobalAvgPool1d):
            t = tnn.Sequential(tnn.AdaptiveAvgPool1d(1), tnn.Flatten())
        elif isinstance(m, tg.nn.Dropout):
            t = tnn.Dropout(m.p)
        else:
            t = {tg.nn.ReLU: tnn.ReLU, tg.nn.Flatten: tnn.Flatten}[type(m)]()
        with torch.no_grad():
            for name, p in t.named_parameters():
                p.copy_(torch.from_numpy(getattr(m, name).data.copy()))
        layers.append(t)
    return tnn.Sequential(*layers)


def run(preset_name: str, seed: int, steps: int | None,
        data_name: str = "mnist1d") -> tuple[float, float, float, float]:
    preset = models.get_preset(preset_name)
    ds = cli._load(data_name, None)  # mnist1d, or its fixed shuffle
    x, y = preset.prepare(ds.x_train), ds.y_train
    xt, yt = preset.prepare(ds.x_test), ds.y_test
    r = preset.recipe
    steps = steps or r["steps"]
    tg.manual_seed(seed)
    torch.manual_seed(seed)  # torch's own dropout masks: reproducible, though not ours
    model = preset.build()
    twin = torch_twin(model)

    opt = optim.Adam(model.parameters(), lr=r["lr"])
    sched = optim.CosineAnnealingLR(opt, steps) if r.get("schedule") == "cosine" else None
    t0 = time.perf_counter()
    trainer = Trainer(model, opt, x, y, batch_size=r["batch_size"], seed=seed, schedule=sched)
    trainer.fit(steps, eval_every=steps, progress=False)
    ours = trainer.evaluate(xt, yt)["accuracy"]
    t_ours = time.perf_counter() - t0

    topt = torch.optim.Adam(twin.parameters(), lr=r["lr"])
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, steps) \
        if r.get("schedule") == "cosine" else None
    batches = DataLoader(x, y, r["batch_size"], seed=seed)  # the batches our Trainer saw
    t0 = time.perf_counter()
    twin.train()
    for step in range(steps):
        xb, yb = (torch.from_numpy(a) for a in batches.batch(step))
        loss = tnn.functional.cross_entropy(twin(xb), yb)
        topt.zero_grad()
        loss.backward()
        topt.step()
        if tsched is not None:
            tsched.step()
    twin.eval()
    with torch.no_grad():
        theirs = (twin(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean()
    return ours, float(theirs), t_ours, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper_cnn", choices=[
        k for k, p in models.PRESETS.items() if p.data == "mnist1d"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, help="override the preset's step count")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", default="mnist1d", choices=["mnist1d", "mnist1d-shuffled"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        pass
    rows = []
    print(f"{args.preset} on {args.data}: test accuracy after training, same init, data and "
          "batch order")
    print(f"{'seed':>4}  {'tinygrad1d':>10}  {'torch':>7}  {'ours s':>7}  {'torch s':>7}")
    for seed in args.seeds:
        ours, theirs, a, b = run(args.preset, seed, args.steps, args.data)
        rows.append((ours, theirs))
        print(f"{seed:4d}  {ours:10.4f}  {theirs:7.4f}  {a:7.1f}  {b:7.1f}", flush=True)
    ours, theirs = np.array(rows).T * 100
    sd = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in (ours, theirs)]
    print(f"mean  {ours.mean():9.2f}%  {theirs.mean():6.2f}%   (sd {sd[0]:.2f} / "
          f"{sd[1]:.2f} points; min {ours.min():.1f} / {theirs.min():.1f})")


if __name__ == "__main__":
    main()
