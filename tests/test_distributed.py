"""Data-parallel training: tinygrad1d.distributed, DistributedDataParallel, DistributedSampler.

In this process every test is a job of one (pytest is a plain start). The jobs of two processes
run through `mpiexec -n 2` in a subprocess (tests/distributed_job.py), and skip, saying how to
enable them, where mpi4py or mpiexec is missing."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import tinygrad1d as tg
import tinygrad1d.distributed as dist
from tinygrad1d import data, nn


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


# ------------------------------------------------------------------ DistributedDataParallel


def two_layer_net(seed=0):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))


def grads_of(model, forward, x):
    model.zero_grad()
    forward(tg.Tensor(x)).square().sum().backward()
    return [p.grad.copy() for p in model.parameters()]


def test_ddp_of_one_process_gives_the_modules_own_gradients(job_of_one):
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    plain, wrapped = two_layer_net(), two_layer_net()
    ddp = nn.parallel.DistributedDataParallel(wrapped)
    for a, b in zip(grads_of(plain, plain, x), grads_of(wrapped, ddp, x)):
        np.testing.assert_array_equal(a, b)
    assert ddp.parameters() == wrapped.parameters()  # the same Parameter objects
    assert ddp.module is wrapped and ddp.training and wrapped.training


def test_ddp_reduces_all_gradients_in_few_buckets(job_of_one, monkeypatch):
    calls = []
    monkeypatch.setattr(dist, "all_reduce",
                        lambda a, op="sum": calls.append((a.dtype, a.size, op)))
    model = two_layer_net()
    sizes = [p.size for p in model.parameters()]  # 32, 8, 8, 8, 24, 3: 83 numbers
    ddp = nn.parallel.DistributedDataParallel(model)
    ddp(tg.Tensor(np.ones((2, 4)))).sum().backward()
    assert calls == [(np.float32, sum(sizes), "avg")]  # one call for six parameters
    calls.clear()
    small = nn.parallel.DistributedDataParallel(two_layer_net(), bucket_cap_mb=120 / 2**20)
    small(tg.Tensor(np.ones((2, 4)))).sum().backward()  # buckets of at most 30 float32
    # in parameter order; a parameter larger than the cap is a bucket of its own
    assert [c[1] for c in calls] == [32, 8 + 8 + 8, 24 + 3] and small.num_buckets == 3


def test_ddp_buckets_hold_one_dtype_each(job_of_one):
    model = two_layer_net()
    model[0].to(np.float64)
    ddp = nn.parallel.DistributedDataParallel(model)
    assert ddp.num_buckets == 2
    x = np.ones((3, 4))
    plain = two_layer_net()
    plain[0].to(np.float64)
    for a, b in zip(grads_of(plain, plain, x), grads_of(model, ddp, x)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_ddp_gradients_accumulate_over_backwards_as_without_it(job_of_one):
    x = np.random.default_rng(1).standard_normal((4, 4))
    model = two_layer_net()
    ddp = nn.parallel.DistributedDataParallel(model)
    once = grads_of(model, ddp, x)
    ddp(tg.Tensor(x)).square().sum().backward()  # a second backward adds to .grad
    for g, p in zip(once, model.parameters()):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)


def test_a_gradient_handed_out_is_not_overwritten_by_the_next_backward(job_of_one):
    model = two_layer_net()
    ddp = nn.parallel.DistributedDataParallel(model)
    w = model[0].weight
    first = tg.grad(ddp(tg.Tensor(np.ones((2, 4)))).sum(), [w])[0]
    kept = first.data.copy()
    ddp(tg.Tensor(np.full((2, 4), 3.0))).sum().backward()
    np.testing.assert_array_equal(first.data, kept)


def test_ddp_names_a_parameter_that_got_no_gradient(job_of_one):
    class TwoHeads(nn.Module):
        def __init__(self):
            self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    ddp = nn.parallel.DistributedDataParallel(TwoHeads())
    ddp(tg.Tensor(np.ones((1, 2)))).sum().backward()
    with pytest.raises(RuntimeError, match=r"no gradient to \['unused.weight', 'unused.bias'\]"):
        ddp(tg.Tensor(np.ones((1, 2))))
    model = TwoHeads()
    for p in model.unused.parameters():
        p.requires_grad = False  # the remedy the message names
    ddp = nn.parallel.DistributedDataParallel(model)
    for _ in range(2):
        ddp(tg.Tensor(np.ones((1, 2)))).sum().backward()


def test_ddp_state_dict_has_torchs_module_prefix(job_of_one):
    model = two_layer_net()
    ddp = nn.parallel.DistributedDataParallel(model)
    state = ddp.state_dict()
    assert list(state) == ["module." + k for k in model.state_dict()]
    assert "module.2.running_mean" in state
    other = nn.parallel.DistributedDataParallel(two_layer_net(seed=1))
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.module[0].weight.data, model[0].weight.data)
    with pytest.raises(ValueError, match="missing keys"):
        ddp.load_state_dict(model.state_dict())  # the bare names belong to ddp.module


def test_values_riding_with_the_gradients_travel_in_the_last_bucket(job_of_one, monkeypatch):
    calls = []
    monkeypatch.setattr(dist, "all_reduce",
                        lambda a, op="sum": calls.append((a.dtype, a.size, op, a[-2:].copy())))
    model = two_layer_net()
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=120 / 2**20)
    alone = grads_of(model, ddp, np.ones((2, 4)))
    totals = np.array([2.5, 7.0])
    ddp.sum_with_gradients(totals)
    calls.clear()
    riding = grads_of(model, ddp, np.ones((2, 4)))
    # the first two buckets as before; the last one 27 gradients then the two values, summed
    assert [c[:3] for c in calls] == [(np.float32, 32, "avg"), (np.float32, 24, "avg"),
                                      (np.float32, 29, "sum")]
    assert calls[-1][3].tolist() == [2.5, 7.0] and totals.tolist() == [2.5, 7.0]
    for a, b in zip(alone, riding):
        np.testing.assert_array_equal(a, b)
    calls.clear()
    grads_of(model, ddp, np.ones((2, 4)))  # they rode once: the next backward is plain again
    assert [c[1] for c in calls] == [32, 24, 27]


def test_sum_with_gradients_names_bad_values(job_of_one):
    ddp = nn.parallel.DistributedDataParallel(two_layer_net())
    with pytest.raises(TypeError, match="sum_with_gradients: values must be a writeable float "
                                        "numpy array, got int64"):
        ddp.sum_with_gradients(np.array([1, 2]))
    with pytest.raises(TypeError, match="got list"):
        ddp.sum_with_gradients([1.0])
    assert ddp._riders == []  # a refused call changes nothing


def test_ddp_broadcasts_buffers_on_the_forward_after_a_training_one(job_of_one, monkeypatch):
    """torch's rule: the first forward, and a forward after one with grad enabled, first take
    rank 0's buffers; forwards under no_grad after that pay nothing."""
    ddp = nn.parallel.DistributedDataParallel(two_layer_net())
    synced = []
    monkeypatch.setattr(dist, "broadcast", lambda a, src=0: synced.append(a.dtype))
    x = tg.Tensor(np.ones((2, 4)))
    counts = []
    for grad_enabled in (True, True, False, False):
        with tg.set_grad_enabled(grad_enabled):
            ddp(x)
        counts.append(len(synced))
    # each sync sends the float64 running statistics and the int64 batch counter together,
    # as one buffer of bytes: one meeting point of the processes
    assert counts == [1, 2, 3, 3] and set(synced) == {np.dtype(np.uint8)}
    quiet = nn.parallel.DistributedDataParallel(two_layer_net(), broadcast_buffers=False)
    synced.clear()  # construction broadcast parameters and buffers
    quiet(x)
    assert synced == []


def test_ddp_broadcasts_rank_0s_parameters_and_buffers_at_construction(job_of_one,
                                                                      monkeypatch):
    sent = []
    monkeypatch.setattr(dist, "broadcast", lambda a, src=0: sent.append((a.dtype, a.size, src)))
    nn.parallel.DistributedDataParallel(two_layer_net())
    # 83 float32 parameters, 16 float64 statistics and one int64 counter, as one message
    assert sent == [(np.dtype(np.uint8), 83 * 4 + 16 * 8 + 8, 0)]


def test_ddp_names_bad_arguments(job_of_one):
    with pytest.raises(TypeError, match="DistributedDataParallel: module must be a Module, got "
                                        "function"):
        nn.parallel.DistributedDataParallel(two_layer_net)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a number > 0, got 0"):
        nn.parallel.DistributedDataParallel(two_layer_net(), bucket_cap_mb=0)


def test_ddp_needs_the_group(no_group):
    with pytest.raises(ValueError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(two_layer_net())


# ------------------------------------------------------------------ DistributedSampler


def shares(n, replicas, **kw):
    return [list(data.DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("n, replicas", [(10, 3), (12, 4), (2, 5), (7, 1), (0, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shares_are_torchs(n, replicas, drop_last):
    """Without shuffling the indices are torch's exactly: every replicas-th from the rank,
    padded with the first indices (or cut, with drop_last) to equal shares."""
    pytest.importorskip("torch", reason="compares with PyTorch: pip install torch==2.13.0")
    from torch.utils.data import DistributedSampler as TorchSampler

    ours = shares(n, replicas, shuffle=False, drop_last=drop_last)
    theirs = [list(TorchSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
              for r in range(replicas)]
    assert ours == theirs
    assert [len(data.DistributedSampler(range(n), replicas, r, drop_last=drop_last))
            for r in range(replicas)] == [len(s) for s in theirs]


def test_sampler_shares_split_one_shuffled_order_that_set_epoch_changes():
    n, replicas = 103, 4
    epoch0 = shares(n, replicas, seed=5)
    assert all(len(s) == 26 for s in epoch0)  # ceil(103 / 4): padded by one
    everything = sorted(i for s in epoch0 for i in s)
    assert set(everything) == set(range(n)) and len(everything) == 104
    assert shares(n, replicas, seed=5) == epoch0  # a function of (seed, epoch) only
    later = data.DistributedSampler(range(n), replicas, 0, seed=5)
    later.set_epoch(1)
    assert list(later) != epoch0[0]
    dropped = shares(n, replicas, seed=5, drop_last=True)
    assert all(len(s) == 25 for s in dropped) and len({i for s in dropped for i in s}) == 100


def test_sampler_takes_the_jobs_size_and_rank(job_of_one):
    sampler = data.DistributedSampler(np.zeros((6, 40)), shuffle=False)
    assert (sampler.num_replicas, sampler.rank, list(sampler)) == (1, 0, [0, 1, 2, 3, 4, 5])


def test_sampler_names_bad_arguments():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval "
                                         r"\[0, 2\]"):
        data.DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(TypeError, match="DistributedSampler: rank must be an int, got float"):
        data.DistributedSampler(range(5), num_replicas=3, rank=1.0)
    with pytest.raises(ValueError, match="num_replicas must be >= 1, got 0"):
        data.DistributedSampler(range(5), num_replicas=0, rank=0)


# ------------------------------------------------------------------ jobs of two processes

JOB = Path(__file__).with_name("distributed_job.py")
SAFETY_NET = 600  # seconds: only so that a hang fails the test instead of stalling the suite


def find_mpiexec() -> str | None:
    """mpiexec beside this Python (where `pip install mpich` puts it), else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = find_mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="jobs of two processes need mpi4py and mpiexec: pip install mpi4py mpich (CI does)")


def mpiexec(n: int, *args, cwd=None) -> subprocess.CompletedProcess:
    """`mpiexec -n n python args...`, one BLAS thread per process (two cores hold two)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *map(str, args)],
                              capture_output=True, text=True, env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, timeout=SAFETY_NET)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the job of {n} did not end within {SAFETY_NET} s (a hang?): "
                    f"{' '.join(map(str, args))}\n{e.stderr}")


def ran(job: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert job.returncode == 0, f"exit {job.returncode}\n{job.stdout[-3000:]}\n{job.stderr[-3000:]}"
    return job


@needs_mpi
def test_collectives_over_two_processes():
    ran(mpiexec(2, JOB, "collectives"))


@needs_mpi
def test_ranks_agree_on_parameters_and_batch_norm_buffers():
    """Buffers of two dtypes (float64 statistics, an int64 counter) are broadcast in the same
    order on every rank, and every rank ends with rank 0's model."""
    ran(mpiexec(2, JOB, "batchnorm"))


@needs_mpi
def test_values_ride_with_the_gradients_and_buffers_sync_when_asked():
    """sum_with_gradients sums a step's numbers in the gradient reduction and leaves the
    gradients as they were to the bit; with broadcast_buffers=False the ranks keep their own
    batch norm statistics until sync_buffers (the Trainer's way: at the end of fit)."""
    ran(mpiexec(2, JOB, "riders"))


@pytest.fixture
def default_dtype_restored():
    was = tg.get_default_dtype()
    yield
    tg.set_default_dtype(was)


@needs_mpi
def test_two_processes_train_the_one_process_model(tmp_path, default_dtype_restored):
    """The paper CNN, 20 float64 Adam steps on global batches of 64: two processes, seeded
    differently, each on 32 samples of every batch, end with the parameters one process gets
    from rank 0's seed on the whole batch (to rounding), and equal to each other bit for bit."""
    import distributed_job

    ran(mpiexec(2, JOB, "exact", tmp_path))
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(2)]
    alone = distributed_job.train_paper_cnn(rank=0, world=1, seed=100)
    assert list(alone) == list(ranks[0]) and all(v.dtype == np.float64 for v in alone.values())
    worst = max(np.abs(ranks[0][k] - alone[k]).max() for k in alone)
    print(f"two processes vs one: max |difference| {worst:.3g}")
    assert worst <= 1e-10, f"two processes differ from one by {worst:.3g}"
    for k in alone:
        assert ranks[0][k].tobytes() == ranks[1][k].tobytes(), k
    # and the test can tell: rank 1's own seed, had construction not replaced it, trains
    # another model
    other = distributed_job.train_paper_cnn(rank=0, world=1, seed=101)
    assert min(np.abs(other[k] - alone[k]).max() for k in alone) > 1e-3


@needs_mpi
def test_an_error_on_one_rank_ends_the_whole_job():
    job = mpiexec(2, JOB, "fail")
    assert job.returncode != 0
    assert "ValueError: rank 1 fails on purpose" in job.stderr
    assert "rank 1 of 2 failed: ending the whole job" in job.stderr


def model_state(run: Path) -> dict:
    with np.load(run / "checkpoint.npz") as z:
        return {k: z[k] for k in z.files if k.startswith("model/")}


def largest_difference(a: dict, b: dict) -> float:
    assert list(a) == list(b)
    return max(np.abs(a[k] - b[k]).max() for k in a)


@needs_mpi
def test_mpiexec_train_is_the_one_process_run_written_once(tmp_path, default_dtype_restored):
    """`mpiexec -n 2 python -m tinygrad1d train` with the same recipe trains the model one
    process trains (--batch-size is the global batch), rank 0 alone prints and writes, and
    --resume continues it under mpiexec as one process would."""
    from tinygrad1d.app import cli

    recipe = ["--batch-size", "64", "--dtype", "float64", "--no-progress", "--eval-every", "10"]
    job = ran(mpiexec(2, "-m", "tinygrad1d", "train", "--steps", "20", "--out", tmp_path / "two",
                      *recipe, cwd=tmp_path))
    assert job.stdout.count("training paper_cnn") == 1 and job.stdout.count("wrote ") == 1
    assert "20 steps of batch 64 (2 processes, 32 samples each)" in job.stdout
    assert cli.main(["train", "--steps", "20", "--out", str(tmp_path / "one"), *recipe]) == 0
    assert largest_difference(model_state(tmp_path / "two"), model_state(tmp_path / "one")) \
        <= 1e-10
    two, one = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("two", "one"))
    assert (two["processes"], one["processes"]) == (2, 1)
    assert two["test_accuracy"] == one["test_accuracy"]  # rank 0 evaluated the same model
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    assert sorted(os.listdir(tmp_path)) == ["one", "two"]  # nothing written by another rank

    ran(mpiexec(2, "-m", "tinygrad1d", "train", "--steps", "30", "--resume",
                tmp_path / "two" / "checkpoint.npz", "--out", tmp_path / "resumed", *recipe))
    assert cli.main(["train", "--steps", "30", "--out", str(tmp_path / "straight"), *recipe]) == 0
    assert largest_difference(model_state(tmp_path / "resumed"),
                              model_state(tmp_path / "straight")) <= 1e-10


@needs_mpi
def test_unequal_shares_weigh_by_their_size(tmp_path, default_dtype_restored):
    """Three processes split a batch of 64 into 21, 21 and 22 samples: each share's loss
    weighs by its size, so the step is still the whole batch's."""
    from tinygrad1d.app import cli

    recipe = ["--steps", "20", "--batch-size", "64", "--dtype", "float64", "--no-progress"]
    job = ran(mpiexec(3, "-m", "tinygrad1d", "train", "--out", tmp_path / "three", *recipe))
    assert "(3 processes, 21 to 22 samples each)" in job.stdout
    assert cli.main(["train", "--out", str(tmp_path / "one"), *recipe]) == 0
    assert largest_difference(model_state(tmp_path / "three"), model_state(tmp_path / "one")) \
        <= 1e-10


def test_the_trainer_refuses_a_batch_some_process_gets_no_sample_of(job_of_one, monkeypatch):
    from tinygrad1d import optim
    from tinygrad1d.app.train import Trainer

    monkeypatch.setattr(dist, "get_world_size", lambda: 3)  # as if one of three
    model = nn.Linear(40, 10)
    with pytest.raises(ValueError, match="Trainer: each of the 3 processes needs a sample of "
                                         "every batch, but batch_size=100 on 4001 samples makes "
                                         "a batch of 1"):
        Trainer(model, optim.SGD(model.parameters(), lr=0.1), np.zeros((4001, 40)),
                np.zeros(4001, np.int64), batch_size=100)


@needs_mpi
def test_an_error_on_one_rank_ends_the_train_command(tmp_path):
    job = mpiexec(2, JOB, "cli-fail", tmp_path / "run")
    assert job.returncode != 0
    assert "error (rank 1 of 2): rank 1 fails on purpose" in job.stderr
