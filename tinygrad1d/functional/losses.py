"""Loss functions beside core.py's cross_entropy, nll_loss and mse_loss, with PyTorch's names,
arguments and reduction= ("mean", "sum", "none"): l1_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy (and with logits), kl_div, poisson_nll_loss, margin_ranking_loss,
soft_margin_loss, hinge_embedding_loss, cosine_embedding_loss; and the similarities
cosine_similarity and pairwise_distance. Each is an expression over the primitives.
"""
from __future__ import annotations

import math

from ..tensor import Tensor, as_tensor, lift
from .core import pointwise_loss, reduce_loss, where
from .everyday import clamp, norm

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
           "cosine_similarity", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss",
           "margin_ranking_loss", "pairwise_distance", "poisson_nll_loss", "smooth_l1_loss",
           "soft_margin_loss"]


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    return pointwise_loss("l1_loss", input, target, reduction, lambda x, t: (x - t).abs())


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is
    l1_loss."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    def loss(x, t):
        d = x - t
        return where(d.abs() < beta, d * d * (0.5 / beta), d.abs() - 0.5 * beta)
    return pointwise_loss("smooth_l1_loss", input, target, reduction, loss)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta): smooth_l1_loss times delta."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    def loss(x, t):
        d = x - t
        return where(d.abs() <= delta, d * d * 0.5, (d.abs() - 0.5 * delta) * delta)
    return pointwise_loss("huber_loss", input, target, reduction, loss)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p; each log is floored at -100,
    as PyTorch does, so p = 0 or 1 gives a large finite loss."""
    p = as_tensor(input, "binary_cross_entropy", "input")
    if p.size and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError("binary_cross_entropy: input must hold probabilities in [0, 1]; for "
                         "logits use binary_cross_entropy_with_logits")

    def loss(p, t):
        lp, lq = clamp(p.log(), min=-100.0), clamp((1 - p).log(), min=-100.0)
        out = -(t * lp + (1 - t) * lq)
        return out if weight is None else out * weight
    return pointwise_loss("binary_cross_entropy", p, target, reduction, loss)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of sigmoid(input), written max(z, 0) - z t + log(1 + e^-|z|) so
    that it is stable for any z; pos_weight scales the positive term, as PyTorch."""
    def loss(z, t):
        soft = (-z.abs()).exp().log1p()  # log(1 + e^-|z|)
        if pos_weight is None:
            out = z.relu() - z * t + soft
        else:  # -(w t log s(z) + (1 - t) log(1 - s(z))), log s(z) = -(relu(-z) + soft)
            log_s, log_1ms = -((-z).relu() + soft), -(z.relu() + soft)
            out = -(t * log_s * pos_weight + (1 - t) * log_1ms)
        return out if weight is None else out * weight
    return pointwise_loss("binary_cross_entropy_with_logits", input, target, reduction, loss)


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target * (log target - input) for log-probabilities `input`, 0 where target is 0;
    reduction "batchmean" divides the sum by the batch size (the true KL divergence), "mean"
    by the element count (PyTorch's default, kept for its meaning)."""
    op = "kl_div"
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum', 'none' or 'batchmean', got "
                         f"{reduction!r}")

    def loss(x, t):
        if log_target:
            return t.exp() * (t - x)
        positive = t > 0  # 0 log 0 is 0: no log of a zero target is ever taken
        return where(positive, t * (where(positive, t, 1.0).log() - x), 0.0)
    if reduction != "batchmean":
        return pointwise_loss(op, input, target, reduction, loss)
    x = as_tensor(input, op, "input")
    total = pointwise_loss(op, x, target, "sum", loss)
    return total / (x.shape[0] if x.ndim else 1)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     eps: float = 1e-8, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of target under Poisson(rate): exp(input) - target * input
    for a log-rate input, else input - target * log(input + eps); full adds Stirling's term
    for targets above 1."""
    def loss(x, t):
        out = x.exp() - t * x if log_input else x - t * (x + eps).log()
        if full:
            big = where(t > 1, t, 1.0)  # the term is used only where t > 1: no log of 0
            stirling = t * big.log() - t + 0.5 * (2 * math.pi * big).log()
            out = out + where(t > 1, stirling, 0.0)
        return out
    return pointwise_loss("poisson_nll_loss", input, target, reduction, loss)


def soft_margin_loss(input, target, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) for labels y in {-1, 1}."""
    return pointwise_loss("soft_margin_loss", input, target, reduction,
                          lambda x, y: ((-y * x).relu() + (-(y * x).abs()).exp().log1p()))


def margin_ranking_loss(input1, input2, target, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin): x1 should rank above x2 where y = 1, below where -1."""
    x1, x2 = lift((as_tensor(input1, "margin_ranking_loss", "input1"), input2),
                  "margin_ranking_loss")
    return pointwise_loss("margin_ranking_loss", x1 - x2, target, reduction,
                          lambda d, y: (-y * d + margin).relu())


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1."""
    return pointwise_loss("hinge_embedding_loss", input, target, reduction,
                          lambda x, y: where(y == 1, x, 0.0) +
                          where(y == -1, (margin - x).relu(), 0.0))


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / max(|x1| |x2|, eps) along dim (broadcasting), as torch's F.cosine_similarity."""
    x1, x2 = lift((as_tensor(x1, "cosine_similarity", "x1"), x2), "cosine_similarity")
    n1 = clamp(((x1 * x1).sum(dim, keepdim=True)).sqrt(), min=eps)  # as torch: each norm
    n2 = clamp(((x2 * x2).sum(dim, keepdim=True)).sqrt(), min=eps)  # held at eps, then divided
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps along the last dim, as torch's F.pairwise_distance."""
    x1, x2 = lift((as_tensor(x1, "pairwise_distance", "x1"), x2), "pairwise_distance")
    return norm(x1 - x2 + eps, p, -1, keepdim)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (rows)."""
    cos = cosine_similarity(input1, input2, dim=-1, eps=1e-12)
    y = lift((cos, target), "cosine_embedding_loss")[1]
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, (cos - margin).relu(), 0.0)
    return reduce_loss(loss, reduction, "cosine_embedding_loss")
