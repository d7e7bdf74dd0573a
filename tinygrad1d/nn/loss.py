"""Loss modules: each holds its reduction= and calls tinygrad1d.functional."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Loss(Module):
    """loss(input, target) with PyTorch's reduction= ("mean", "sum", "none")."""

    fn = staticmethod(lambda x, t, **kw: x)

    def __init__(self, reduction: str = "mean", **kwargs):
        self.reduction = F.check_reduction(reduction, type(self).__name__)  # now, not at forward
        self.kwargs = kwargs

    def forward(self, input, target):
        return type(self).fn(input, target, reduction=self.reduction, **self.kwargs)


class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    fn = staticmethod(F.l1_loss)


class NLLLoss(_Loss):
    fn = staticmethod(F.nll_loss)


class CrossEntropyLoss(_Loss):
    fn = staticmethod(F.cross_entropy)

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction, label_smoothing=label_smoothing)


class BCELoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction, pos_weight=pos_weight)
