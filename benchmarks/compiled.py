"""tg.compile against eager tinygrad1d and PyTorch eager: the five cases of issue 18.

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/compiled.py [--quick]

Cases, forward + backward each (the two presets also an Adam step):

- toy: the seed's conv1d on four numbers (N=1, C=1, L=4, K=3), the per-call cost;
- mnist1d conv: conv1d at MNIST-1D size (N=128, C 32->32, L=40, K=5, padding 2);
- chain: h = (h * 1.0001).tanh() 2,000 times on 4 floats (4,000 ops), then h.sum();
- paper CNN: one Adam step of the MNIST-1D paper's CNN, batch 100, cross-entropy;
- GRU: one Adam step of the GRU preset (bidirectional, hidden 6, 40 steps), batch 100.

For the two presets the compiled contender is what `tinygrad1d train` runs: the model and
its loss compiled as one function, the optimizer step eager.

Three contenders per case, timed in turn in one process at the same thread count (1, then
2): eager, compiled (the model or function passed through tg.compile, captured before the
timing), and PyTorch eager; the ratios are medians of pair-by-pair ratios. Then the capture
cost (first call against a replay) and the memory of one step (tracemalloc's peak,
compiled over eager), at 1 thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from harness import alternate, fmt_time, median, median_ratio, report_environment
from harness import report_memory_policy, table, thread_counts, threads, traced_peak
from harness import torch as torch_mod

import tinygrad1d as tg
import tinygrad1d.functional as F
from tinygrad1d import optim
from tinygrad1d.app import models

sys.path.insert(0, str(Path(__file__).parent))
TARGETS = {"toy": 1.0, "mnist1d conv": 1.2, "chain": 0.5, "paper CNN": 0.5, "GRU": 1.0}
SETTLE = 0.2  # seconds between samples with 2 threads (see harness.alternate)
CHAIN = 2000


def conv_case(shape):
    """(make(kind) -> step, torch step) for conv1d forward+backward on one fixed batch."""
    n, c_in, c_out, length, k, pad = shape
    rng = np.random.default_rng(0)
    l_out = length + 2 * pad - k + 1
    x, w, b, g = (rng.standard_normal(s).astype(np.float32) for s in
                  [(n, c_in, length), (c_out, c_in, k), (c_out,), (n, c_out, l_out)])

    def conv(xt, wt, bt):
        return F.conv1d(xt, wt, bt, padding=pad)

    def make(kind):
        xt, wt, bt = (tg.Tensor(a, requires_grad=True) for a in (x, w, b))
        gt = tg.Tensor(g)
        run = tg.compile(conv) if kind == "compiled" else conv

        def step():
            xt.grad = wt.grad = bt.grad = None
            run(xt, wt, bt).backward(gt)
        return step

    def torch_step():
        from conv1d import torch_step as conv1d_torch_step  # the conv1d benchmark's own
        return conv1d_torch_step(x, w, b, g, pad)[0]
    return make, torch_step


def chain_case():
    start = np.full(4, 0.5, dtype=np.float32)

    def chain(h):
        for _ in range(CHAIN):
            h = (h * 1.0001).tanh()
        return h.sum()

    def make(kind):
        run = tg.compile(chain) if kind == "compiled" else chain

        def step():
            x = tg.Tensor(start, requires_grad=True)
            run(x).backward()
            return x.grad
        return step

    def torch_step():
        def step():
            h = x = torch_mod.tensor(start, requires_grad=True)
            for _ in range(CHAIN):
                h = (h * 1.0001).tanh()
            h.sum().backward()
            return x.grad
        return step
    return make, torch_step


def preset_case(name: str):
    """An Adam step of a preset, batch 100, its PyTorch twin starting from the same weights."""
    p = models.PRESETS[name]
    rng = np.random.default_rng(0)
    x = p.prepare(rng.standard_normal((100, 40))).astype(np.float32)
    y = rng.integers(0, 10, 100)

    def make(kind):
        tg.manual_seed(0)
        model = p.build()

        def loss_of(xb, yb):
            return F.cross_entropy(model(xb), yb)
        run = tg.compile(loss_of) if kind == "compiled" else loss_of  # as `train` runs it
        opt = optim.Adam(model.parameters(), lr=1e-3)

        def step():
            loss = run(tg.Tensor(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    def torch_step():
        from torch_twin import torch_twin
        tg.manual_seed(0)
        twin = torch_twin(p.build())
        opt = torch_mod.optim.Adam(twin.parameters(), lr=1e-3)
        xt, yt = torch_mod.tensor(x), torch_mod.tensor(y)

        def step():
            loss = torch_mod.nn.functional.cross_entropy(twin(xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    return make, torch_step


CASES = {
    "toy": lambda: conv_case((1, 1, 1, 4, 3, 0)),
    "mnist1d conv": lambda: conv_case((128, 32, 32, 40, 5, 2)),
    "chain": chain_case,
    "paper CNN": lambda: preset_case("paper_cnn"),
    "GRU": lambda: preset_case("gru"),
}


def capture_cost(make) -> tuple[float, float]:
    """(seconds of the first call of a fresh compiled step, seconds of a replay)."""
    step = make("compiled")
    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    step()
    t0 = time.perf_counter()
    for _ in range(5):
        step()
    return first, (time.perf_counter() - t0) / 5


def peak(step) -> float:
    """Peak bytes tracemalloc sees during one step (after a warm-up call)."""
    step()
    return traced_peak(step)[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples")
    p.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = p.parse_args()
    report_environment()
    report_memory_policy()
    samples = 5 if args.quick else 11
    rows, extra = [], []
    for n_threads in (1, 2):
        with threads(n_threads):
            print(f"threads numpy/torch: {thread_counts()}", flush=True)
            for name in args.cases:
                make, torch_make = CASES[name]()
                fns = {"eager": make("eager"), "compiled": make("compiled")}
                if torch_mod:
                    fns["torch"] = torch_make()
                t = alternate(fns, samples=samples, warmup=3,
                              settle=SETTLE if n_threads > 1 else 0.0)
                row = [name, n_threads, fmt_time(median(t["eager"])),
                       fmt_time(median(t["compiled"]))]
                if torch_mod:
                    row += [fmt_time(median(t["torch"])),
                            f"{median_ratio(t['eager'], t['torch']):.2f}x",
                            f"{median_ratio(t['compiled'], t['torch']):.2f}x",
                            f"<= {TARGETS[name]}x"]
                rows.append(row)
                print(table([row], ["case", "threads", "eager", "compiled", "torch",
                                    "eager/torch", "compiled/torch", "target"][:len(row)]),
                      flush=True)
                if n_threads == 1:
                    first, replay = capture_cost(make)
                    mem = peak(make("compiled")) / max(peak(make("eager")), 1)
                    extra.append([name, fmt_time(first), fmt_time(replay),
                                  f"{first / replay:.0f}x", f"{mem:.2f}x"])
    print()
    print(table(rows, ["case", "threads", "eager", "compiled", "torch", "eager/torch",
                       "compiled/torch", "target"][:len(rows[0])]))
    print()
    print(table(extra, ["case (1 thread)", "capture (first call)", "replay", "first/replay",
                        "peak memory compiled/eager"]))


if __name__ == "__main__":
    main()
