"""Data sets and batching: MNIST-1D (generated), MNIST (from local copies only), DataLoader.

| module | holds |
|---|---|
| `dataset.py` | `Dataset`, the train/test container every loader returns |
| `loader.py` | `DataLoader`, `epoch_order` |
| `sampler.py` | `DistributedSampler`: each process's share of the indices (docs/distributed.md) |
| `mnist1d.py` | `load_mnist1d`: generation, in-process and on-disk cache |
| `mnist.py` | `load_mnist`: its sources, checksums and the restricted unpickler |
| `files.py` | `cache_dir`, `atomic_write` (the cache and the application's checkpoints) |

Importing this package is cheap: the `mnist1d` generator is imported only inside
`load_mnist1d`, and keras only when it is the source used. Nothing here writes into the
working directory; see docs/data.md for where files go.
"""
from .dataset import Dataset
from .loader import DataLoader, epoch_order
from .mnist import RefusedGlobalError, load_mnist
from .mnist1d import load_mnist1d
from .sampler import DistributedSampler

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "RefusedGlobalError", "epoch_order",
           "load_mnist", "load_mnist1d"]
