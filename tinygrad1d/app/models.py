"""Model presets: each one a readable expression of layers, with the data it reads and the
training recipe it was tuned with. Copy any of them as a starting point.

    from tinygrad1d.app.models import paper_cnn
    model = paper_cnn()            # an nn.Sequential
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import nn


def paper_cnn(init: str = "torch") -> nn.Sequential:
    """The MNIST-1D paper's CNN (Greydanus 2020): 3 strided convolutions and one linear layer,
    5,210 parameters, initialised as PyTorch does by default (as in the paper). Input (N, 1, 40)."""
    return nn.Sequential(
        nn.Conv1d(1, 25, 5, stride=2, padding=1, init=init), nn.ReLU(),   # (N,1,40) -> (N,25,19)
        nn.Conv1d(25, 25, 3, stride=2, padding=1, init=init), nn.ReLU(),  # -> (N, 25, 10)
        nn.Conv1d(25, 25, 3, stride=2, padding=1, init=init), nn.ReLU(),  # -> (N, 25, 5)
        nn.Flatten(), nn.Linear(125, 10, init=init),                      # -> (N, 125) -> (N, 10)
    )


def logistic(init: str = "torch") -> nn.Sequential:
    """The paper's logistic regression: one Linear(40, 10) on the raw signal (N, 40)."""
    return nn.Sequential(nn.Linear(40, 10, init=init))


class ResidualMLP(nn.Module):
    """The paper's MLP: h = relu(Linear(40, 100) x); h = h + relu(Linear(100, 100) h);
    Linear(100, 10) h. Input (N, 40)."""

    def __init__(self, init: str = "torch"):
        self.linear1 = nn.Linear(40, 100, init=init)
        self.linear2 = nn.Linear(100, 100, init=init)
        self.linear3 = nn.Linear(100, 10, init=init)

    def forward(self, x):
        h = self.linear1(x).relu()
        h = h + self.linear2(h).relu()
        return self.linear3(h)


class GRUClassifier(nn.Module):
    """The paper's GRU: bidirectional, hidden size 6, batch_first, over the 40 positions
    with one input feature; all 40 outputs (N, 40, 12) flattened into Linear(480, 10)."""

    def __init__(self, hidden: int = 6):
        self.rnn = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(40 * 2 * hidden, 10, init="torch")

    def forward(self, x):  # x (N, 40, 1)
        out, _ = self.rnn(x)
        return self.linear(out.flatten(1))


def _conv_bn(c_in: int, c_out: int, k: int, dilation: int = 1, stride: int = 1) -> list:
    """Conv1d (no bias: batch norm has its own) -> BatchNorm1d -> ReLU, length kept at stride 1."""
    pad = dilation * (k - 1) // 2
    return [nn.Conv1d(c_in, c_out, k, stride=stride, padding=pad, dilation=dilation,
                      bias=False, init="he"), nn.BatchNorm1d(c_out), nn.ReLU()]


def dilated_cnn(width: int = 32) -> nn.Sequential:
    """A stronger MNIST-1D model: dilated convolutions (receptive field 31 of 40 samples) with
    batch norm and global average pooling, so the digit may sit anywhere. Input (N, 1, 40)."""
    return nn.Sequential(
        *_conv_bn(1, width, 5),                  # (N, 1, 40) -> (N, W, 40)
        *_conv_bn(width, width, 3, dilation=2),  # each dilation doubles the reach
        *_conv_bn(width, width, 3, dilation=4),
        *_conv_bn(width, width, 3, dilation=8),
        nn.GlobalAvgPool1d(), nn.Dropout(0.2), nn.Linear(width, 10),  # -> (N, W) -> (N, 10)
    )


def mnist_rows_cnn(width: int = 64) -> nn.Sequential:
    """MNIST read as 28 channels (image rows) of length 28 (columns). Input (N, 28, 28)."""
    return nn.Sequential(
        *_conv_bn(28, width, 3),                     # (N, 28, 28) -> (N, W, 28)
        *_conv_bn(width, width, 3), nn.MaxPool1d(2),  # -> (N, W, 14)
        *_conv_bn(width, 2 * width, 3),               # -> (N, 2W, 14)
        *_conv_bn(2 * width, 2 * width, 3), nn.MaxPool1d(2),  # -> (N, 2W, 7)
        nn.Flatten(), nn.Dropout(0.25), nn.Linear(2 * width * 7, 10),
    )


def mnist_seed_cnn(width: int = 32) -> nn.Sequential:
    """The course's experiment: each image flattened to one channel of length 784, Conv1d
    layers only, then one fully connected output layer. A dilation of 28 steps down one image
    row, so those convolutions see vertical strokes. Input (N, 1, 784)."""
    return nn.Sequential(
        *_conv_bn(1, width, 3),                    # horizontal: (N, 1, 784) -> (N, W, 784)
        *_conv_bn(width, width, 3, dilation=28),   # vertical neighbours
        nn.MaxPool1d(2),                           # -> (N, W, 392): rows are now 14 apart
        *_conv_bn(width, width, 3),
        *_conv_bn(width, width, 3, dilation=14),
        nn.MaxPool1d(2),                           # -> (N, W, 196): 7 apart
        *_conv_bn(width, 2 * width, 3),
        *_conv_bn(2 * width, 2 * width, 3, dilation=7),
        nn.MaxPool1d(4),                           # -> (N, 2W, 49)
        nn.Flatten(), nn.Linear(2 * width * 49, 10),  # the only fully connected layer
    )


# ------------------------------------------------------------------ presets: model + data + recipe


def _mnist1d_input(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), 1, -1).astype(np.float32)  # (N, 40) -> (N, 1, 40)


def _mnist1d_flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32)  # (N, 40)


def _mnist1d_sequence(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1, 1).astype(np.float32)  # (N, 40) -> (N, 40, 1): one feature


def _mnist_scale(x: np.ndarray) -> np.ndarray:
    return ((x.astype(np.float32) / 255.0) - 0.1307) / 0.3081  # MNIST's mean and std


def _mnist_rows(x: np.ndarray) -> np.ndarray:
    return _mnist_scale(x).reshape(len(x), 28, 28)  # rows as channels


def _mnist_flat(x: np.ndarray) -> np.ndarray:
    return _mnist_scale(x).reshape(len(x), 1, 784)  # one channel of 784 samples


def shift_images(x: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Data augmentation: move each 28x28 image (in any layout holding 784 values per sample)
    by up to max_shift pixels in each direction, filling with the background value."""
    n, m = len(x), max_shift
    canvas = np.full((n, 28 + 2 * m, 28 + 2 * m), _mnist_scale(np.zeros(1))[0], x.dtype)
    canvas[:, m:m + 28, m:m + 28] = x.reshape(n, 28, 28)
    dy, dx = rng.integers(0, 2 * m + 1, (2, n))
    # every 28x28 window of each canvas, as a view (n, 2m+1, 2m+1, 28, 28); image i takes
    # window (dy[i], dx[i]). Picking whole windows copies rows of pixels, 4x faster than
    # indexing each pixel, which mattered: every process of a job augments every batch.
    windows = np.lib.stride_tricks.sliding_window_view(canvas, (28, 28), axis=(1, 2))
    return windows[np.arange(n), dy, dx].reshape(x.shape)


@dataclass(frozen=True)
class Preset:
    """A model, the data set it reads, how raw inputs become its input, and a recipe."""

    build: Callable[[], nn.Module]
    data: str                       # "mnist1d" or "mnist"
    prepare: Callable[[np.ndarray], np.ndarray]
    recipe: dict = field(default_factory=dict)  # defaults for the train command
    about: str = ""
    augment: Callable | None = None  # (x_batch, rng) -> x_batch, applied while training


_PAPER = dict(optimizer="adam", lr=1e-2, batch_size=100, steps=6000)  # the paper's training
PRESETS: dict[str, Preset] = {
    "paper_cnn": Preset(paper_cnn, "mnist1d", _mnist1d_input, dict(_PAPER),
                        "the MNIST-1D paper's CNN"),
    "logistic": Preset(logistic, "mnist1d", _mnist1d_flat, dict(_PAPER),
                       "the paper's logistic regression"),
    "mlp": Preset(ResidualMLP, "mnist1d", _mnist1d_flat, dict(_PAPER),
                  "the paper's MLP, with one residual layer"),
    "gru": Preset(GRUClassifier, "mnist1d", _mnist1d_sequence, dict(_PAPER),
                  "the paper's bidirectional GRU (hidden 6)"),
    "dilated_cnn": Preset(dilated_cnn, "mnist1d", _mnist1d_input,
                          dict(optimizer="adam", lr=1e-2, batch_size=100, steps=2000,
                               schedule="cosine"),
                          "dilated convolutions, batch norm, global average pooling"),
    "mnist_rows": Preset(mnist_rows_cnn, "mnist", _mnist_rows,
                         dict(optimizer="adam", lr=3e-3, batch_size=128, epochs=6,
                              schedule="cosine"),
                         "MNIST rows as 28 channels of length 28", shift_images),
    "mnist_seed": Preset(mnist_seed_cnn, "mnist", _mnist_flat,
                         dict(optimizer="adam", lr=3e-3, batch_size=128, epochs=3,
                              schedule="cosine"),
                         "the course's experiment: one channel of length 784", shift_images),
}
DEFAULT_PRESET = {"mnist1d": "paper_cnn", "mnist": "mnist_rows"}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}")
    return PRESETS[name]
