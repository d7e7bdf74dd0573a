"""Modules: Parameter, Module, and the layers built on tinygrad1d.functional.

A Module finds its parameters and submodules by walking its attributes (and lists, tuples and
dicts of them), so a model is plain Python: assign layers and Parameters, write `forward`.
Names are PyTorch's dotted paths ("0.weight", "fc.bias").

    module.py      Parameter, Module, Sequential, ModuleList, ModuleDict
    layers.py      layers with weights (Linear, Conv1d, ConvTranspose1d, the norms,
                   Embedding) and Upsample
    recurrent.py   RNN, GRU, LSTM
    weightless.py  activations, pools, Dropout, Flatten, Identity
    loss.py        the loss modules
    utils.py       gradient clipping (torch.nn.utils)
    parallel.py    DistributedDataParallel (torch.nn.parallel; docs/distributed.md)
"""
from .. import init
from . import parallel, utils
from .layers import (BatchNorm1d, Conv1d, ConvTranspose1d, Embedding, GroupNorm, LayerNorm,
                     Linear, PReLU, SimpleConv1d, Upsample)
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss,
                   HingeEmbeddingLoss, HuberLoss, KLDivLoss, L1Loss, MarginRankingLoss, MSELoss,
                   NLLLoss, PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .recurrent import GRU, LSTM, RNN
from .weightless import (CELU, ELU, GELU, GLU, SELU, AdaptiveAvgPool1d, AdaptiveMaxPool1d,
                         AvgPool1d, CosineSimilarity, Dropout, Flatten, GlobalAvgPool1d,
                         Hardshrink, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU,
                         LogSigmoid, LogSoftmax, MaxPool1d, Mish, PairwiseDistance, ReLU, ReLU6,
                         SiLU, Sigmoid, Softmax, Softmin, Softplus, Softshrink, Softsign, Tanh,
                         Tanhshrink, Threshold, Unflatten)

__all__ = ["Parameter", "Module", "Linear", "Conv1d", "SimpleConv1d", "ReLU", "Sigmoid", "Tanh",
           "Flatten", "Dropout", "MaxPool1d", "AvgPool1d", "GlobalAvgPool1d", "BatchNorm1d",
           "Sequential", "ModuleList", "ModuleDict", "Identity", "GELU", "SiLU", "LeakyReLU",
           "ELU", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "NLLLoss",
           "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "LayerNorm", "GroupNorm",
           "Embedding", "RNN", "GRU", "LSTM", "ConvTranspose1d", "Upsample", "init", "utils",
           "parallel",
           "PReLU", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "SoftMarginLoss", "PoissonNLLLoss",
           "HingeEmbeddingLoss", "MarginRankingLoss", "CosineEmbeddingLoss", "CELU", "GLU",
           "SELU", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "CosineSimilarity", "Hardshrink",
           "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "Mish", "PairwiseDistance",
           "ReLU6", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold", "Unflatten"]
