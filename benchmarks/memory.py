"""What a loss kept after backward costs: the usual logging loop, measured with tracemalloc.

Run:

    python benchmarks/memory.py [--steps 50]

The model is README's two-conv net on a batch of 100 MNIST-1D-shaped inputs, trained with
Adam. After one warm-up step it measures one step's peak allocation (its activations and
gradients), then runs `--steps` more steps keeping every loss, as `losses.append(loss)` does,
and prints how much memory each kept loss holds on to. (PyTorch's graph lives in C++,
where tracemalloc cannot see it, so there is no like-for-like PyTorch number here.)
"""
from __future__ import annotations

import argparse
import gc
import tracemalloc

import numpy as np

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import nn, optim

def readme_net():
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(250, 10))


def ours(steps: int) -> tuple[float, float]:
    """(one step's peak bytes, bytes held per kept loss)."""
    tg.manual_seed(0)
    model = readme_net()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((100, 1, 40)).astype(np.float32), rng.integers(0, 10, 100)

    def step():
        loss = F.cross_entropy(model(tg.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        first = step()
        peak = tracemalloc.get_traced_memory()[1] - base
        del first
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        kept = [step() for _ in range(steps)]
        gc.collect()
        held = (tracemalloc.get_traced_memory()[0] - base) / len(kept)
    finally:
        tracemalloc.stop()
    return peak, held


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args()
    peak, held = ours(args.steps)
    print(f"tinygrad1d: one step peaks at {peak / 1e6:.2f} MB; each kept loss holds "
          f"{held / 1e3:.1f} kB ({100 * held / peak:.2f}% of a step's peak), over "
          f"{args.steps} kept losses")


if __name__ == "__main__":
    main()
