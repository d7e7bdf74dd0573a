"""Optimizers (optimizers.py) and learning-rate schedules (lr_scheduler.py, as
torch.optim.lr_scheduler; the two schedules the project had are also here as optim.StepLR
and optim.CosineAnnealingLR)."""
from . import lr_scheduler
from .lr_scheduler import CosineAnnealingLR, StepLR
from .optimizers import SGD, AdaGrad, Adam, AdamW, Optimizer, RMSProp

Adagrad, RMSprop = AdaGrad, RMSProp  # PyTorch's capitalisation

__all__ = ["SGD", "AdaGrad", "Adagrad", "Adam", "AdamW", "CosineAnnealingLR", "Optimizer",
           "RMSProp", "RMSprop", "StepLR", "lr_scheduler"]
