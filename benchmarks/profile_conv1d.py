"""Where our conv1d forward+backward spends its time, primitive by primitive (1 thread).

Run (both variables unset in the same command):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_conv1d.py \\
        --shape mnist1d --dtype float32 [--calls 200]

Every registered primitive's numpy `forward` is wrapped with a timer (in this process only),
keyed by phase (fwd while recording, bwd inside backward), op name and input shapes; what
the primitives do not account for is the engine (graph recording, the backward walk,
gradient bookkeeping). Minor page faults per call are printed too: they are the cost of
buffers glibc unmapped after the previous call.
"""
from __future__ import annotations

import argparse
import collections
import resource
import time

import numpy as np
from conv1d import SHAPES, make_case, ours_step
from harness import report_environment, report_memory_policy, table, threads

from tinygrad1d.tensor import OPS, is_grad_enabled


def instrument(acc: dict) -> None:
    """Wrap each primitive's forward so its time lands in acc[(phase, op, shapes)]."""
    for cls in OPS.values():
        def timed(ctx, *arrays, _f=cls.forward, _name=cls.name, **params):
            t0 = time.perf_counter()
            out = _f(ctx, *arrays, **params)
            key = ("fwd" if is_grad_enabled() else "bwd", _name,
                   " ".join(str(a.shape) for a in arrays))
            acc[key] += time.perf_counter() - t0
            return out
        cls.forward = timed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="mnist1d", choices=list(SHAPES))
    p.add_argument("--dtype", default="float32")
    p.add_argument("--calls", type=int, default=None, help="default: ~2 s worth")
    args = p.parse_args()
    report_environment()
    report_memory_policy()
    step, _ = ours_step(*make_case(SHAPES[args.shape], np.dtype(args.dtype)))
    acc: dict = collections.defaultdict(float)
    with threads(1):
        for _ in range(3):
            step()
        t0 = time.perf_counter()
        step()
        calls = args.calls or max(3, int(2.0 / (time.perf_counter() - t0)))
        instrument(acc)
        step()
        acc.clear()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        total = (time.perf_counter() - t0) / calls
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / calls
    rows, prims = [], 0.0
    for (phase, op, shapes), t in sorted(acc.items(), key=lambda kv: -kv[1]):
        per = t / calls
        prims += per
        if per >= 0.002 * total:
            rows.append([phase, op, shapes, f"{per * 1e3:.3f}", f"{100 * per / total:.1f}"])
    rows.append(["", "engine + small ops", "", f"{(total - prims) * 1e3:.3f}",
                 f"{100 * (total - prims) / total:.1f}"])
    print(f"\n{args.shape} {args.dtype}, 1 thread: {total * 1e3:.3f} ms per forward+backward "
          f"({calls} calls), {faults:.0f} minor page faults per call\n")
    print(table(rows, ["phase", "primitive", "input shapes", "ms/call", "%"]))


if __name__ == "__main__":
    main()
