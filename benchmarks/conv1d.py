"""conv1d forward + backward (grads of x, w, b): tinygrad1d vs PyTorch, plus the BLAS floor.

Run (both variables unset in the same command; they slow numpy's BLAS ~1.7x):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv1d.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv1d.py --quick \\
        --shapes mnist1d,large --dtypes float32 --threads 1

For every shape x dtype x thread count it times, alternating: ours, torch, and the "BLAS
floor" (the three bare numpy matmuls conv1d cannot avoid, on preallocated arrays:
cols @ wm, g @ wm.T, cols.T @ g). It prints the median time of each, the median of the
pair-by-pair ratios ours/torch and ours/floor, and the memory ratio: the peak extra memory
of one forward+backward (tracemalloc, which sees numpy's buffers) divided by the size of the
gathered window array (N * L_out * K * C_in * itemsize), and our minor page faults per call
(buffers glibc returned to the OS and the next call faults in again; tinygrad1d/memory.py).
The allocator is glibc's default; MALLOC_* variables in the command make a tuned variant,
which the header then names.
"""
from __future__ import annotations

import argparse

import numpy as np
from harness import (
    alternate,
    fmt_time,
    median,
    median_ratio,
    report_environment,
    report_memory_policy,
    table,
    thread_counts,
    threads,
    traced_peak,
)
from harness import torch as torch_mod

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d.memory import BUFFERS

# name: (N, C_in, C_out, L, K, padding, target ratio to torch)
SHAPES = {
    "toy": (1, 1, 1, 4, 3, 0, 1.5),
    "mnist1d": (128, 32, 32, 40, 5, 2, 1.5),
    "large": (64, 64, 128, 1024, 9, 4, 1.4),
}
MEMORY_TARGET = 3.0
SETTLE = 0.2  # seconds between samples with > 1 thread: lets the other library's workers sleep


def make_case(shape, dtype, seed=0):
    """Random x, w, b and a fixed upstream gradient g of the output's shape."""
    n, c_in, c_out, length, k, pad, _ = shape
    rng = np.random.default_rng(seed)
    l_out = length + 2 * pad - k + 1
    x, w, b, g = (rng.standard_normal(s).astype(dtype) for s in
                  [(n, c_in, length), (c_out, c_in, k), (c_out,), (n, c_out, l_out)])
    return x, w, b, g, pad


def ours_step(x, w, b, g, pad):
    xt, wt, bt = (tg.Tensor(a, requires_grad=True) for a in (x, w, b))
    gt = tg.Tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        F.conv1d(xt, wt, bt, padding=pad).backward(gt)
    return step, (xt, wt, bt)


def torch_step(x, w, b, g, pad):
    xt, wt, bt = (torch_mod.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = torch_mod.tensor(g)

    def step():
        xt.grad = wt.grad = bt.grad = None
        torch_mod.nn.functional.conv1d(xt, wt, bt, padding=pad).backward(gt)
    return step, (xt, wt, bt)


def floor_step(x, w, g):
    """The three matmuls of an im2col conv1d, on preallocated arrays: the BLAS floor."""
    n, c_in, _ = x.shape
    c_out, _, k = w.shape
    rows, cols_n = n * g.shape[2], k * c_in
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((rows, cols_n)).astype(x.dtype)  # (N*L_out, K*C_in)
    wm = rng.standard_normal((cols_n, c_out)).astype(x.dtype)  # (K*C_in, C_out)
    g2 = rng.standard_normal((rows, c_out)).astype(x.dtype)  # (N*L_out, C_out)
    out, gcols, gw = (np.empty(s, x.dtype) for s in
                      [(rows, c_out), (rows, cols_n), (cols_n, c_out)])

    def step():
        np.matmul(cols, wm, out=out)
        np.matmul(g2, wm.T, out=gcols)
        np.matmul(cols.T, g2, out=gw)
    return step


def check_grads(ours, theirs, dtype) -> None:
    """Both libraries must agree before their times are compared."""
    tol = 1e-3 if dtype == np.float32 else 1e-9
    for name, a, t in zip("xwb", ours, theirs):
        ref = t.grad.numpy()
        err = np.abs(a.grad - ref).max() / max(np.abs(ref).max(), 1e-30)
        assert err < tol, f"conv1d benchmark: grad of {name} differs from torch (rel {err:.2e})"


def peak_memory(step, window_bytes: int) -> tuple[float, float]:
    """Peak bytes allocated during one forward+backward, and the bytes tinygrad1d's buffer
    pool keeps between steps, both over the window array's size. The pool is emptied first,
    so the step allocates (and is charged for) every buffer it later recycles."""
    step()  # warm: caches (the Windows geometry) are not per-call memory
    BUFFERS.clear()
    peak, now = traced_peak(step)
    return peak / window_bytes, now / window_bytes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples (provisional numbers)")
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"subset of {','.join(SHAPES)}")
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--samples", type=int, default=None, help="pairs per case (default 15)")
    args = p.parse_args()
    samples = args.samples or (5 if args.quick else 15)
    report_environment()
    report_memory_policy()

    rows = []
    for name in args.shapes.split(","):
        shape = SHAPES[name]
        n, c_in, c_out, length, k, pad, target = shape
        for dname in args.dtypes.split(","):
            dtype = np.dtype(dname)
            x, w, b, g, pad = make_case(shape, dtype)
            ours, ours_t = ours_step(x, w, b, g, pad)
            fns = {"ours": ours}
            if torch_mod:
                fns["torch"], torch_t = torch_step(x, w, b, g, pad)
                ours()
                fns["torch"]()
                check_grads(ours_t, torch_t, dtype)
            fns["floor"] = floor_step(x, w, g)
            mem, held = peak_memory(ours, n * g.shape[2] * k * c_in * dtype.itemsize)
            for nt in (int(t) for t in args.threads.split(",")):
                with threads(nt):
                    used = thread_counts()
                    faults = {}
                    t = alternate(fns, samples=samples, faults=faults,
                                  settle=SETTLE if nt > 1 else 0.0)
                row = [name, dname, used, fmt_time(median(t["ours"]))]
                if torch_mod:
                    r = median_ratio(t["ours"], t["torch"])
                    row += [fmt_time(median(t["torch"])), f"{r:.2f}x",
                            f"{'ok' if r <= target else 'MISSED'} (<={target})"]
                else:
                    row += ["-", "-", "-"]
                row += [fmt_time(median(t["floor"])),
                        f"{median_ratio(t['ours'], t['floor']):.2f}x",
                        f"{mem:.2f}x" + ("" if name == "toy" else
                                         " ok" if mem < MEMORY_TARGET else " MISSED"),
                        f"{held:.2f}x",
                        " / ".join(f"{faults[c]:.0f}" for c in ("ours", "torch") if c in faults)]
                rows.append(row)
                print(table([row], HEADERS).splitlines()[-1], flush=True)
    print()
    print(table(rows, HEADERS))
    print(f"\nsamples per case: {samples} alternating pairs; memory target < {MEMORY_TARGET}x "
          "(toy: window array is a few bytes, not judged)")


HEADERS = ["shape", "dtype", "threads np/torch", "ours", "torch", "ours/torch",
           "target", "BLAS floor", "ours/floor", "peak mem / window", "kept / window",
           "page faults/call ours / torch"]

if __name__ == "__main__":
    main()
