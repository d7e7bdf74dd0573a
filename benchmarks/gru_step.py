"""One training step of the MNIST-1D paper's GRU preset: tinygrad1d vs the same model in PyTorch.

Run (both variables unset in the same command):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gru_step.py [--quick]

A step: forward of a batch of 100 sequences of 40 steps (bidirectional GRU, hidden 6, then
Linear(480, 10)), cross-entropy, backward, Adam update. Both models start from the same
weights and see the same batch; alternating pairs, median of pair-by-pair ratios, 1 thread.
"""
from __future__ import annotations

import argparse

import numpy as np
from harness import alternate, fmt_time, median, median_ratio, report_environment, table, threads
from harness import torch as torch_mod

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import optim
from tinygrad1d.app import models


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    report_environment()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 40, 1)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    tg.manual_seed(0)
    ours = models.GRUClassifier()
    opt = optim.Adam(ours.parameters(), lr=1e-2)

    def step_ours():
        loss = F.cross_entropy(ours(tg.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    fns = {"ours": step_ours}
    if torch_mod:
        nn = torch_mod.nn

        class Twin(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(1, 6, batch_first=True, bidirectional=True)
                self.linear = nn.Linear(480, 10)

            def forward(self, z):
                return self.linear(self.rnn(z)[0].flatten(1))

        twin = Twin()
        with torch_mod.no_grad():
            for name, prm in twin.named_parameters():
                prm.copy_(torch_mod.tensor(dict(ours.named_parameters())[name].data))
        opt_t = torch_mod.optim.Adam(twin.parameters(), lr=1e-2)
        xt, yt = torch_mod.tensor(x), torch_mod.tensor(y)

        def step_torch():
            loss = nn.functional.cross_entropy(twin(xt), yt)
            opt_t.zero_grad()
            loss.backward()
            opt_t.step()
        fns["torch"] = step_torch
    with threads(1):
        t = alternate(fns, samples=5 if args.quick else 11, warmup=3)
    row = ["GRU preset step, batch 100", fmt_time(median(t["ours"]))]
    if torch_mod:
        row += [fmt_time(median(t["torch"])), f"{median_ratio(t['ours'], t['torch']):.2f}x"]
    print(table([row], ["case (1 thread)", "ours", "torch", "ours/torch"][:len(row)]))


if __name__ == "__main__":
    main()
