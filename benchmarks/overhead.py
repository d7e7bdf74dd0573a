"""Per-op overhead: forward + backward of (x * y).sum() on 1-element float32 tensors, 1 thread.

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/overhead.py [--quick]

Nothing here is numerical work, so this measures the engine: op dispatch, node recording,
the topological sort and gradient accumulation. Target: within 2x of PyTorch.
"""
from __future__ import annotations

import argparse

import numpy as np
from harness import alternate, fmt_time, median, median_ratio, report_environment, table, threads
from harness import torch as torch_mod

import tinygrad1d as tg

TARGET = 2.0


def ours_step():
    x = tg.Tensor(np.array([1.5], dtype=np.float32), requires_grad=True)
    y = tg.Tensor(np.array([-2.0], dtype=np.float32), requires_grad=True)

    def step():
        x.grad = y.grad = None
        (x * y).sum().backward()
    return step


def torch_step():
    x = torch_mod.tensor([1.5], dtype=torch_mod.float32, requires_grad=True)
    y = torch_mod.tensor([-2.0], dtype=torch_mod.float32, requires_grad=True)

    def step():
        x.grad = y.grad = None
        (x * y).sum().backward()
    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    args = p.parse_args()
    report_environment()
    fns = {"ours": ours_step()}
    if torch_mod:
        fns["torch"] = torch_step()
    with threads(1):
        t = alternate(fns, samples=7 if args.quick else 25, warmup=200)
    row = ["(x*y).sum() fwd+bwd, 1-elem f32, 1 thread", f"{median(t['ours']) * 1e6:.1f}"]
    if torch_mod:
        r = median_ratio(t["ours"], t["torch"])
        row += [f"{median(t['torch']) * 1e6:.1f}", f"{r:.2f}x",
                "ok" if r <= TARGET else "MISSED"]
        print(table([row], ["case", "ours us/iter", "torch us/iter", "median ratio",
                            f"target <= {TARGET}x"]))
    else:
        print(table([row], ["case", "ours us/iter"]))
        print(f"(torch not installed; ours: {fmt_time(median(t['ours']))} per iteration)")


if __name__ == "__main__":
    main()
