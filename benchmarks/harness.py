"""Shared benchmark machinery: thread limits, a BLAS report, alternating timing, tables.

Rules every benchmark here follows (see docs/performance.md):

- ours and PyTorch are timed in the same process, limited to the same number of threads
  (threadpoolctl for numpy's BLAS, torch.set_num_threads for torch);
- after a warm-up the contenders run in turn (ours, torch, ours, torch, ...) and the result is
  the median of the pair-by-pair ratios ours_i / torch_i, so a burst of load from another
  process hits both sides of a pair instead of biasing one;
- each sample repeats the call enough times to last >= ~20 ms (chosen once, per contender);
- with more than one thread, a short pause precedes each sample (`settle`): otherwise the
  other library's idle worker threads, still spinning, take the cores (measured: torch's
  toy conv1d at 2 threads took 14 ms instead of 0.07 ms right after numpy's matmuls);
- OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE must be unset in the command that runs the script:
  they make numpy's matmuls ~1.7x slower, so `report_environment` warns loudly if set.
"""
from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

try:
    import torch
except ImportError:  # torch is optional: without it only our own timings are printed
    torch = None

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

BAD_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SAMPLE_SECONDS = 0.02


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report_environment() -> None:
    """Print machine, versions and which BLAS kernels are loaded; shout about bad env vars."""
    print(f"python {platform.python_version()}  numpy {np.__version__}  "
          f"torch {torch.__version__ if torch else 'not installed'}")
    print(f"cpu: {_cpu_model()}  ({os.cpu_count()} logical cpus)")
    if threadpoolctl is None:
        print("threadpoolctl not installed: cannot report or limit BLAS threads")
    else:
        for info in threadpoolctl.threadpool_info():
            print(f"  {info.get('user_api')}: {info.get('internal_api')} "
                  f"{info.get('version')}  arch={info.get('architecture', '-')}  "
                  f"threads={info.get('num_threads')}  ({os.path.basename(info['filepath'])})")
    bad = {k: os.environ[k] for k in BAD_ENV if k in os.environ}
    if bad:
        banner = "!" * 78
        print(f"{banner}\n!! WARNING: {bad} is set: numpy's OpenBLAS runs a slower kernel "
              f"(~1.7x on matmuls).\n!! Rerun with: env -u OPENBLAS_CORETYPE -u "
              f"OPENBLAS_L2_SIZE python {' '.join(sys.argv)}\n{banner}", file=sys.stderr)
        print(f"WARNING: {', '.join(bad)} set; numbers below are NOT valid")
    sys.stdout.flush()


def report_memory_policy() -> None:
    """Say which allocator settings are in force: the default unless MALLOC_* tunables were
    set in the command (a tuned variant, reported beside the default, never instead)."""
    tuned = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    policy = f"TUNED glibc malloc {tuned}" if tuned else "default glibc malloc"
    print(f"memory policy: {policy} (tinygrad1d recycles its own big buffers: memory.py)")


@contextlib.contextmanager
def threads(n: int):
    """Limit numpy's BLAS (and any OpenMP pool) and torch to `n` threads inside the block."""
    prev = torch.get_num_threads() if torch else None
    limiter = threadpoolctl.threadpool_limits(limits=n) if threadpoolctl \
        else contextlib.nullcontext()
    with limiter:
        if torch:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(prev)


def thread_counts() -> str:
    """'numpy BLAS threads/torch threads' as in force now (to confirm a limit took effect)."""
    blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"] \
        if threadpoolctl else []
    blas.sort(key=lambda i: "numpy" not in i["filepath"])  # numpy's own BLAS first
    return f"{blas[0]['num_threads'] if blas else '?'}/{torch.get_num_threads() if torch else '-'}"


def _reps(fn: Callable[[], object], target: float) -> int:
    """How many calls make one sample last at least `target` seconds."""
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target:
            return reps
        reps = max(reps * 2, int(reps * target * 1.2 / max(dt, 1e-9)))


def alternate(fns: dict[str, Callable[[], object]], samples: int = 15, warmup: int = 3,
              target: float = SAMPLE_SECONDS, settle: float = 0.0,
              faults: dict | None = None) -> dict[str, list[float]]:
    """Seconds per call for each contender, sampled in turn (a, b, c, a, b, c, ...).

    `settle` > 0 sleeps that long, then makes one untimed call, before each sample: with more
    than one thread, OpenBLAS's and OpenMP's idle workers keep spinning for a while after a
    call (~0.1 s for OpenBLAS) and, on a small machine, steal the cores from the next
    contender. If `faults` is a dict, it receives each contender's minor page faults per call."""
    for fn in fns.values():  # warm-up: caches, allocator, lazy init, BLAS thread start
        for _ in range(warmup):
            fn()
    reps = {name: _reps(fn, target) for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    flt = dict.fromkeys(fns, 0)
    for _ in range(samples):
        for name, fn in fns.items():
            n = reps[name]
            if settle:
                time.sleep(settle)
                fn()
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times[name].append((time.perf_counter() - t0) / n)
            flt[name] += (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
    if faults is not None:
        faults.update({name: v / samples for name, v in flt.items()})
    return times


def median_ratio(a: list[float], b: list[float]) -> float:
    """Median of the pair-by-pair ratios a_i / b_i."""
    return statistics.median(x / y for x, y in zip(a, b))


def median(a: list[float]) -> float:
    return statistics.median(a)


def fmt_time(seconds: float) -> str:
    """Microseconds below 10 ms, milliseconds above."""
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-2 else f"{seconds * 1e3:.2f} ms"


def table(rows: list[list], headers: list[str]) -> str:
    """A plain-text (and markdown-compatible) table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def traced_peak(step: Callable[[], object]) -> tuple[int, int]:
    """(peak bytes allocated during one call of step, bytes still held after it), by
    tracemalloc, counted from just before the call; warm the step up first."""
    import gc
    import tracemalloc
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        gc.collect()
        now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, now - base
