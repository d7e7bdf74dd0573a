"""Engine overhead: tiny ops where nothing but the bookkeeping costs, against PyTorch, 1 thread.

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/overhead.py [--quick]

Two cases, forward + backward each:

- `(x * y).sum()` on 1-element float32 tensors: op dispatch, recording, one short walk;
- a deep chain, `h = (h * 1.0001).tanh()` 2,000 times on 4 floats (4,000 nodes), then
  `h.sum().backward()`: the per-node cost of recording, walking and freeing a long graph.
"""
from __future__ import annotations

import argparse

import numpy as np
from harness import alternate, fmt_time, median, median_ratio, report_environment, table, threads
from harness import torch as torch_mod

import tinygrad1d as tg

TARGETS = {"product": 2.0, "chain": 1.5}
CHAIN = 2000


def product(lib, tensor):
    x = tensor(np.array([1.5], dtype=np.float32), requires_grad=True)
    y = tensor(np.array([-2.0], dtype=np.float32), requires_grad=True)

    def step():
        x.grad = y.grad = None
        (x * y).sum().backward()
    return step


def chain(lib, tensor):
    start = np.full(4, 0.5, dtype=np.float32)

    def step():
        h = x = tensor(start, requires_grad=True)
        for _ in range(CHAIN):
            h = (h * 1.0001).tanh()
        h.sum().backward()
        return x.grad
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    args = p.parse_args()
    report_environment()
    rows = []
    for name, case in (("product", product), ("chain", chain)):
        fns = {"ours": case(tg, tg.Tensor)}
        if torch_mod:
            fns["torch"] = case(torch_mod, torch_mod.tensor)
            if name == "chain":  # the same numbers first
                np.testing.assert_allclose(fns["ours"](), fns["torch"]().numpy(), rtol=1e-4)
        with threads(1):
            t = alternate(fns, samples=7 if args.quick else 21, warmup=3 if name == "chain"
                          else 200)
        row = [name, fmt_time(median(t["ours"]))]
        if torch_mod:
            r = median_ratio(t["ours"], t["torch"])
            target = TARGETS[name]
            row += [fmt_time(median(t["torch"])), f"{r:.2f}x",
                    f"{'ok' if r <= target else 'MISSED'} (<={target})"]
        rows.append(row)
        print(rows[-1], flush=True)
    headers = ["case (1 thread)", "ours", "torch", "median ratio", "target"]
    print(table(rows, headers[:len(rows[0])]))


if __name__ == "__main__":
    main()
