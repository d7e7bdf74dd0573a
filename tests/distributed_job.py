"""What the tests run inside `mpiexec -n N python tests/distributed_job.py MODE [OUT]`.

    collectives   all_reduce, broadcast and barrier give every rank the expected values
    exact OUT     the paper CNN, 20 float64 steps on global batches of 64 split over the ranks,
                  each rank seeded differently; writes OUT/rank{r}.npz
    batchnorm     a model with batch norm (buffers of two dtypes) and dropout, each rank on
                  data of its own: every rank ends with rank 0's parameters and buffers
    riders        values summed with the gradients (sum_with_gradients) leave the gradients
                  as they were; buffers kept per rank are rank 0's after sync_buffers and
                  after a Trainer's fit
    fail          rank 1 raises at step 3 while rank 0 goes on into the reduction
    cli-fail OUT  the same through `tinygrad1d train`

An assertion that fails here ends the job with a non-zero code (init_process_group's hook
calls MPI_Abort), which the test reports with this job's output.
"""
import sys
from pathlib import Path

import numpy as np

import tinygrad1d as tg
import tinygrad1d.distributed as dist
import tinygrad1d.functional as F
from tinygrad1d import optim
from tinygrad1d.app import models
from tinygrad1d.data import DataLoader, load_mnist1d
from tinygrad1d.nn.parallel import DistributedDataParallel

STEPS, BATCH = 20, 64


def train_paper_cnn(rank: int, world: int, seed: int) -> dict:
    """The paper CNN after STEPS Adam steps in float64: every global batch of BATCH split into
    contiguous shares, one per rank; the model starts from `seed`'s weights unless wrapped."""
    tg.set_default_dtype(np.float64)
    tg.manual_seed(seed)
    model = models.paper_cnn()
    net = DistributedDataParallel(model) if dist.is_initialized() else model
    opt = optim.Adam(model.parameters(), lr=1e-2)
    ds = load_mnist1d()
    loader = DataLoader(models.PRESETS["paper_cnn"].prepare(ds.x_train).astype(np.float64),
                        ds.y_train, BATCH, seed=0)
    for step in range(STEPS):
        x, y = loader.batch(step)
        share = slice(BATCH * rank // world, BATCH * (rank + 1) // world)
        loss = F.cross_entropy(net(tg.Tensor(x[share])), y[share])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.state_dict()


def collectives(rank: int, world: int) -> None:
    a = np.array([rank + 1.0, -rank, 2.0 * rank])
    t = tg.Tensor(a.copy())
    dist.all_reduce(t)
    assert t.data.tolist() == [world * (world + 1) / 2, -world * (world - 1) / 2,
                               world * (world - 1)], t.data
    for op, want in (("avg", (world + 1) / 2), ("max", world), ("min", 1)):
        b = np.full((2, 3), rank + 1.0)[:, ::2]  # a strided view goes through a copy
        dist.all_reduce(b, op=op)
        assert (b == want).all(), (op, b)
    c = np.arange(4) * (rank + 1)
    dist.broadcast(c, src=world - 1)
    assert c.tolist() == [0, world, 2 * world, 3 * world], c
    dist.barrier()


def batchnorm(rank: int, world: int) -> None:
    tg.manual_seed(rank)  # different weights and dropout masks on each rank
    model = models.dilated_cnn(width=8)
    net = DistributedDataParallel(model)
    opt = optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(rank)
    for _ in range(3):
        x = rng.standard_normal((6, 1, 40)).astype(np.float32)
        loss = F.cross_entropy(net(tg.Tensor(x)), rng.integers(0, 10, 6))
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()  # in training mode a forward would update the statistics again, locally
    with tg.no_grad():
        net(tg.Tensor(x))  # the forward after a training one takes rank 0's buffers
    assert_same_as_rank0(rank, model.state_dict(), "after a forward in eval mode")


def assert_same_as_rank0(rank: int, state: dict, what: str) -> None:
    for name, mine in state.items():
        theirs = mine.copy()
        dist.broadcast(theirs, src=0)
        assert mine.tobytes() == theirs.tobytes(), f"rank {rank}: {name} differs ({what})"


def riders(rank: int, world: int) -> None:
    from tinygrad1d.app.train import Trainer

    model = models.dilated_cnn(width=8)
    net = DistributedDataParallel(model, broadcast_buffers=False)
    x = np.random.default_rng(rank).standard_normal((6, 1, 40)).astype(np.float32)
    y = np.arange(6) % 10
    grads = []
    for ride in (False, True):
        model.zero_grad()
        tg.manual_seed(rank)  # the same dropout masks both times
        loss = F.cross_entropy(net(tg.Tensor(x)), y)
        values = np.array([rank + 1.0, 10.0 * rank])
        if ride:
            net.sum_with_gradients(values)
        loss.backward()
        grads.append([p.grad.copy() for p in model.parameters()])
    assert values.tolist() == [world * (world + 1) / 2, 10 * world * (world - 1) / 2], values
    for a, b in zip(*grads):
        assert a.tobytes() == b.tobytes(), "riding values changed a gradient"
    rank0s = model[1].running_mean.copy()  # each rank's statistics are of its own data
    dist.broadcast(rank0s, src=0)
    assert rank == 0 or (rank0s != model[1].running_mean).any(), "buffers synced already"
    net.sync_buffers()
    assert_same_as_rank0(rank, model.state_dict(), "after sync_buffers")

    ds = load_mnist1d()
    tg.manual_seed(rank)
    model = models.dilated_cnn(width=8)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-2),
                      models.PRESETS["dilated_cnn"].prepare(ds.x_train)[:256], ds.y_train[:256],
                      batch_size=32)
    trainer.fit(5, progress=False)
    assert_same_as_rank0(rank, model.state_dict(), "after Trainer.fit")
    losses = np.array([row["train_loss"] for row in trainer.history])
    assert_same_as_rank0(rank, {"train_loss": losses}, "the loss the Trainer reports")


def fail(rank: int, world: int) -> None:
    model = DistributedDataParallel(models.paper_cnn())
    x, y = np.zeros((4, 1, 40), np.float32), np.zeros(4, np.int64)
    for step in range(10):
        if rank == 1 and step == 3:
            raise ValueError("rank 1 fails on purpose")
        F.cross_entropy(model(tg.Tensor(x)), y).backward()  # rank 0 waits here for rank 1


def cli_fail(out: str) -> int:
    from tinygrad1d.app import cli, train

    dist.init_process_group()
    if dist.get_rank() == 1:
        step = train.Trainer.train_step

        def failing(self, x, y):
            if self.step == 3:
                raise ValueError("rank 1 fails on purpose")
            return step(self, x, y)

        train.Trainer.train_step = failing
    return cli.main(["train", "--steps", "10", "--no-progress", "--out", out])


def main(mode: str, out: str | None = None) -> int:
    if mode == "cli-fail":
        return cli_fail(out)
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    if mode == "collectives":
        collectives(rank, world)
    elif mode == "exact":
        state = train_paper_cnn(rank, world, seed=100 + rank)  # rank 0's weights win
        np.savez(Path(out) / f"rank{rank}.npz", **state)
    elif mode == "batchnorm":
        batchnorm(rank, world)
    elif mode == "riders":
        riders(rank, world)
    elif mode == "fail":
        fail(rank, world)
    else:
        raise ValueError(f"distributed_job: unknown mode {mode!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
