"""Cost of forward mode (func.jvp, the double-vjp construction) against func.vjp.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/func_cost.py

The MNIST-1D paper CNN on a batch of 100, float32: median over 15 calls of a forward under
no_grad, a vjp (forward, then one cotangent pulled back, recorded so that it can be
differentiated again) and a jvp (forward, then one tangent pushed forward).
"""
from __future__ import annotations

import time

import numpy as np

import tinygrad1d as tg
from tinygrad1d import func
from tinygrad1d.app import models


def main() -> None:
    tg.manual_seed(0)
    net = models.paper_cnn()
    x = np.random.default_rng(0).standard_normal((100, 1, 40)).astype(np.float32)
    t = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)

    def forward():
        with tg.no_grad():
            net(tg.Tensor(x))

    def vjp():
        out, pull = func.vjp(net, x)
        pull(tg.Tensor(np.ones(out.shape, np.float32)))

    def jvp():
        func.jvp(net, (x,), (t,))

    times = {}
    for name, fn in [("forward", forward), ("vjp", vjp), ("jvp", jvp)]:
        fn()
        samples = []
        for _ in range(15):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        times[name] = float(np.median(samples))
        print(f"{name:8s} median {times[name] * 1e3:.2f} ms")
    print(f"jvp / vjp = {times['jvp'] / times['vjp']:.2f}")


if __name__ == "__main__":
    main()
