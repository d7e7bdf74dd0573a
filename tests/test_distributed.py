"""Data-parallel training: tinygrad1d.distributed, DistributedDataParallel, DistributedSampler.

In this process every test is a job of one (pytest is a plain start). The jobs of two processes
run through `mpiexec -n 2` in a subprocess (tests/distributed_job.py), and skip, saying how to
enable them, where mpi4py or mpiexec is missing."""
import sys

import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.distributed as dist
from tinygrad1d import nn


@pytest.fixture
def job_of_one():
    """An initialised group, as a plain `python` start gets it; left as found."""
    was = dist.is_initialized()
    if not was:
        dist.init_process_group()
    yield
    if not was:
        dist.destroy_process_group()


@pytest.fixture
def no_group():
    """No group initialised during the test (the CLI tests may have made one in this process)."""
    was = dist.is_initialized()
    dist.destroy_process_group()
    yield
    if was and not dist.is_initialized():
        dist.init_process_group()


# ------------------------------------------------------------------ the process group


def test_a_plain_start_is_a_job_of_one(job_of_one):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    dist.barrier()


def test_using_the_group_before_joining_it_says_to_call_init(no_group):
    for fn, args in ((dist.get_rank, ()), (dist.get_world_size, ()), (dist.barrier, ()),
                     (dist.all_reduce, (np.ones(2),)), (dist.broadcast, (np.ones(2),))):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: .*call init_process_group"):
            fn(*args)
    assert not dist.is_initialized()


def test_joining_twice_or_with_another_backend_is_refused(no_group):
    with pytest.raises(ValueError, match="init_process_group: backend 'nccl'.*'mpi'"):
        dist.init_process_group("nccl")
    dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group()


def test_a_job_of_one_needs_no_mpi4py(no_group, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now fails
    for k in dist.LAUNCHER_SIZE:
        monkeypatch.delenv(k, raising=False)
    dist.init_process_group()
    a = np.arange(3.0)
    dist.all_reduce(a, op="avg")
    dist.broadcast(a)
    np.testing.assert_array_equal(a, [0, 1, 2])
    assert dist.get_world_size() == 1


def test_a_job_started_by_mpiexec_without_mpi4py_says_how_to_install_it(no_group, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(ImportError, match=r"one of 4 .*pip install mpi4py mpich"):
        dist.init_process_group()
    assert not dist.is_initialized()


@pytest.mark.parametrize("op", ["sum", "avg", "max", "min", dist.ReduceOp.SUM])
def test_reductions_of_a_job_of_one_leave_the_values(op, job_of_one):
    t = tg.Tensor([[1.5, -2.0], [3.0, 4.0]])
    view = np.arange(12.0).reshape(3, 4)[:, ::2]  # strided: reduced through a copy
    dist.all_reduce(t, op=op)
    dist.all_reduce(view, op=op)
    np.testing.assert_array_equal(t.data, [[1.5, -2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(view, [[0, 2], [4, 6], [8, 10]])


def test_collectives_name_the_bad_argument(job_of_one):
    with pytest.raises(ValueError, match="all_reduce: op must be .* got 'mean'"):
        dist.all_reduce(np.ones(2), op="mean")
    with pytest.raises(TypeError, match="all_reduce: op='avg' needs a float array, got int64"):
        dist.all_reduce(np.ones(2, np.int64), op="avg")
    with pytest.raises(TypeError, match="all_reduce: tensor must be a Tensor or a numpy array, "
                                        "got list"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="broadcast: src must be a rank from 0 to 0, got 1"):
        dist.broadcast(np.ones(2), src=1)
    frozen = np.ones(2)
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match="broadcast: the array of shape \\(2,\\) is read-only"):
        dist.broadcast(frozen)
