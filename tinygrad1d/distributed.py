"""torch.distributed's names over MPI: a job of several processes, each training on its own
share of the data, that agree by reducing arrays across the processes.

    import tinygrad1d.distributed as dist
    dist.init_process_group()             # joins the job `mpiexec -n 4 python ...` started
    dist.get_rank(), dist.get_world_size()
    dist.all_reduce(g, op="avg")          # in place: every process now holds the mean

MPI (through mpi4py) is the transport: `pip install mpi4py mpich` brings an MPI library and
`mpiexec` from the package index, and the same program runs across machines from a hostfile.
A plain `python` start is a job of one, and then nothing here needs mpi4py: every collective
is the identity on one process. docs/distributed.md says how to run and what scales.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from .tensor import Tensor

__all__ = ["ReduceOp", "abort", "all_reduce", "barrier", "broadcast", "destroy_process_group",
           "get_rank", "get_world_size", "init_process_group", "is_initialized"]

INSTALL = "pip install mpi4py mpich (or pip install 'tinygrad1d[distributed]')"
# Variables a launcher sets in each process it starts: MPICH's and Intel MPI's mpiexec and
# Slurm set PMI_SIZE, Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE. Read only when mpi4py is
# missing, to tell a plain start (a job of one) from a job that cannot work without it.
LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


class ReduceOp:
    """torch's spelling `op=dist.ReduceOp.SUM`; the plain strings work the same."""

    SUM, AVG, MAX, MIN = "sum", "avg", "max", "min"


class _Group:
    """The job this process belongs to: MPI's COMM_WORLD, or nothing for a job of one."""

    comm = None  # an mpi4py communicator when the job has MPI under it
    rank, size = 0, 1
    initialized = False
    excepthook = None  # the one init_process_group replaced, put back on leaving


def init_process_group(backend: str | None = None) -> None:
    """Join the job this process was started in (`mpiexec -n N python ...`); a plain `python`
    start is a job of one. With several processes, an exception that reaches the top of any
    of them ends the whole job (MPI_Abort) instead of leaving the others waiting forever."""
    if _Group.initialized:  # torch says the same
        raise ValueError("init_process_group: trying to initialize the default process group "
                         "twice")
    if backend not in (None, "mpi"):
        raise ValueError(f"init_process_group: backend {backend!r}: tinygrad1d runs over MPI; "
                         "pass backend='mpi' or nothing")
    try:
        from mpi4py import MPI  # initialises MPI; imported here so that plain use never pays
    except ImportError:
        sizes = [int(os.environ[k]) for k in LAUNCHER_SIZE if os.environ.get(k, "").isdigit()]
        if max(sizes, default=1) > 1:
            raise ImportError(f"init_process_group: this process is one of {max(sizes)} "
                              f"started by mpiexec, but mpi4py is not installed: {INSTALL}"
                              ) from None
    else:
        _Group.comm = MPI.COMM_WORLD
        _Group.rank, _Group.size = _Group.comm.Get_rank(), _Group.comm.Get_size()
        if _Group.size > 1:
            _Group.excepthook, sys.excepthook = sys.excepthook, _abort_on_error(sys.excepthook)
    _Group.initialized = True


def _abort_on_error(previous):
    """An excepthook that prints the error as usual, then ends every process of the job: the
    others may be waiting in a reduction for this one, and would wait forever."""
    def hook(kind, value, tb):
        previous(kind, value, tb)
        print(f"rank {_Group.rank} of {_Group.size} failed: ending the whole job",
              file=sys.stderr, flush=True)
        abort(1)
    return hook


def destroy_process_group() -> None:
    """Leave the group (MPI itself stays up until the process exits, as mpi4py does)."""
    if _Group.excepthook is not None:
        sys.excepthook, _Group.excepthook = _Group.excepthook, None
    _Group.comm, _Group.rank, _Group.size, _Group.initialized = None, 0, 1, False


def is_initialized() -> bool:
    return _Group.initialized


def _group(fn: str) -> type[_Group]:
    if not _Group.initialized:  # torch's message
        raise ValueError(f"{fn}: Default process group has not been initialized, please make "
                         "sure to call init_process_group.")
    return _Group


def get_rank() -> int:
    """This process's number in the job, 0 to get_world_size() - 1."""
    return _group("get_rank").rank


def get_world_size() -> int:
    """How many processes the job has."""
    return _group("get_world_size").size


def _array(fn: str, tensor) -> np.ndarray:
    """The array a collective works on in place: a Tensor's data, or the ndarray itself."""
    a = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: tensor must be a Tensor or a numpy array, got "
                        f"{type(tensor).__name__}")
    if not a.flags.writeable:
        raise ValueError(f"{fn}: the array of shape {a.shape} is read-only; the result is "
                         "written into it")
    return a


def _in_place(a: np.ndarray, call) -> None:
    """Run call(buffer) on a contiguous buffer holding a (MPI reads and writes flat memory),
    copying back when a is a strided view."""
    buf = a if a.flags.c_contiguous else np.ascontiguousarray(a)
    call(buf)
    if buf is not a:
        a[...] = buf


def all_reduce(tensor, op: str = "sum") -> None:
    """Reduce `tensor` (a Tensor or ndarray) over all processes, in place: afterwards every
    process holds the elementwise "sum", "avg", "max" or "min". Not recorded by autograd."""
    g = _group("all_reduce")
    a = _array("all_reduce", tensor)
    if op not in ("sum", "avg", "max", "min"):
        raise ValueError(f"all_reduce: op must be 'sum', 'avg', 'max' or 'min', got {op!r}")
    if op == "avg" and a.dtype.kind != "f":
        raise TypeError(f"all_reduce: op='avg' needs a float array, got {a.dtype}")
    if g.size == 1:  # a job of one: every reduction is the array itself
        return
    from mpi4py import MPI
    mpi_op = {"sum": MPI.SUM, "avg": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
    _in_place(a, lambda buf: g.comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op))
    if op == "avg":  # MPI has no mean: the sum, then divided here, the same on every process
        a /= g.size


def broadcast(tensor, src: int = 0) -> None:
    """Overwrite `tensor` (a Tensor or ndarray) on every process with process `src`'s."""
    g = _group("broadcast")
    a = _array("broadcast", tensor)
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) \
            or not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be a rank from 0 to {g.size - 1}, got {src!r}")
    if g.size > 1:
        _in_place(a, lambda buf: g.comm.Bcast(buf, root=int(src)))


def barrier() -> None:
    """Wait until every process of the job has reached this call."""
    g = _group("barrier")
    if g.size > 1:
        g.comm.Barrier()


ABORT_GRACE = 0.5  # seconds between a failing process's last words and MPI_Abort


def abort(errorcode: int = 1) -> None:
    """End every process of the job now, with this exit code (MPI_Abort; torch has no such
    call). What a process that failed does when the others may be waiting for it."""
    sys.stdout.flush()
    sys.stderr.flush()
    if _Group.comm is not None and _Group.size > 1:
        # the launcher forwards what this process printed through a pipe, and MPI_Abort tears
        # the job down at once: a moment's grace lets the error message reach the terminal
        time.sleep(ABORT_GRACE)
        _Group.comm.Abort(errorcode)
    raise SystemExit(errorcode)
