"""Loss modules: each holds its reduction= and calls tinygrad1d.functional."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Loss(Module):
    """loss(input, target) (or loss(input1, input2, target)) with PyTorch's reduction=
    ("mean", "sum", "none")."""

    fn = staticmethod(lambda x, t, **kw: x)

    def __init__(self, reduction: str = "mean", **kwargs):
        self.reduction = F.check_reduction(reduction, type(self).__name__)  # now, not at forward
        self.kwargs = kwargs

    def forward(self, *inputs):
        return type(self).fn(*inputs, reduction=self.reduction, **self.kwargs)


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

    def __init__(self, reduction: str = "mean", *, weight=None):
        super().__init__(reduction, weight=weight)


class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, reduction: str = "mean", pos_weight=None, *, weight=None):
        super().__init__(reduction, pos_weight=pos_weight, weight=weight)


class SmoothL1Loss(_Loss):
    fn = staticmethod(F.smooth_l1_loss)

    def __init__(self, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction, beta=beta)


class HuberLoss(_Loss):
    fn = staticmethod(F.huber_loss)

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction, delta=delta)


class KLDivLoss(_Loss):
    fn = staticmethod(F.kl_div)

    def __init__(self, reduction: str = "mean", log_target: bool = False):
        if reduction != "batchmean":
            F.check_reduction(reduction, "KLDivLoss")
        self.reduction, self.kwargs = reduction, {"log_target": log_target}


class SoftMarginLoss(_Loss):
    fn = staticmethod(F.soft_margin_loss)


class PoissonNLLLoss(_Loss):
    fn = staticmethod(F.poisson_nll_loss)

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                 reduction: str = "mean"):
        super().__init__(reduction, log_input=log_input, full=full, eps=eps)


class HingeEmbeddingLoss(_Loss):
    fn = staticmethod(F.hinge_embedding_loss)

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)


class MarginRankingLoss(_Loss):
    """loss(input1, input2, target): input1 should rank above input2 where target is 1."""

    fn = staticmethod(F.margin_ranking_loss)

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)


class CosineEmbeddingLoss(_Loss):
    """loss(input1, input2, target): rows alike where target is 1, apart where -1."""

    fn = staticmethod(F.cosine_embedding_loss)

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction, margin=margin)
