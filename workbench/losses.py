"""Training loss: the earth mover's distance between score distributions, eq. (7), and an auxiliary term."""
from __future__ import annotations

import torch

REDUCTIONS = ("mean", "sum", "none")


def emd_loss(pred: torch.Tensor, target: torch.Tensor, r: float = 2, reduction: str = "mean") -> torch.Tensor:
    """Earth mover's distance on the CDFs, eq. (7): ``(1/K sum_k |CDF_p(k) - CDF_q(k)|^r)^(1/r)``.

    pred (Tensor[B, K]): predicted distributions (softmax output, eq. (5)).
    target (Tensor[B, K]): ground-truth distributions (normalised votes); cast to ``pred``'s dtype.
    r: the norm's order, >= 1 (the paper trains with r = 2).
    reduction: "mean" (over the batch, of the per-sample distances: the root is taken per sample
        first), "sum", or "none" (Tensor[B]).

    The gradient is finite everywhere, also at ``pred == target`` where the root's derivative is
    infinite: a per-sample distance of exactly 0 gets gradient 0 (its subgradient) instead of NaN.
    """
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"pred and target must be tensors, got {type(pred).__name__} and {type(target).__name__}")
    if pred.ndim != 2:
        raise ValueError(f"pred must have shape [B, K], got {tuple(pred.shape)}")
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred {tuple(pred.shape)}, got {tuple(target.shape)}")
    if not r >= 1:
        raise ValueError(f"r must be >= 1 (eq. (7) is a norm), got {r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    target = target.to(dtype=pred.dtype, device=pred.device)
    difference = torch.cumsum(pred, dim=1) - torch.cumsum(target, dim=1)
    power_mean = difference.abs().pow(r).mean(dim=1)
    # Safe root: where the power mean is 0, take the root of 1 and then select 0, so that the
    # unused branch's infinite derivative never meets a zero upstream gradient (0 * inf = NaN).
    # A NaN prediction (an overflow) stays NaN, so the trainer sees it instead of a loss of 0.
    zero = power_mean == 0
    root = torch.where(zero, torch.ones_like(power_mean), power_mean).pow(1.0 / r)
    distance = torch.where(zero, torch.zeros_like(root), root)
    if reduction == "mean":
        return distance.mean()
    if reduction == "sum":
        return distance.sum()
    return distance


def std_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared difference of the distributions' standard deviations, in score units (bins 1..K).

    Why: the EMD's gradient is dominated by where the mass sits (the mean); how wide the votes spread
    gets little of it, and a head trained on EMD alone ranks the spread barely better than a theme's
    prior does. This term (``TrainConfig.std_loss_weight``) asks for the spread directly. Shapes as
    ``emd_loss``.
    """
    if pred.ndim != 2 or target.shape != pred.shape:
        raise ValueError(f"pred and target must have the same shape [B, K], got {tuple(pred.shape)} and {tuple(target.shape)}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    target = target.to(dtype=pred.dtype, device=pred.device)
    scores = torch.arange(1, pred.shape[1] + 1, dtype=pred.dtype, device=pred.device)

    def std(p: torch.Tensor) -> torch.Tensor:
        mean = p @ scores
        # The floor keeps sqrt's derivative finite for a one-bin distribution.
        return ((p * (scores - mean[:, None]).square()).sum(dim=1) + 1e-8).sqrt()

    error = (std(pred) - std(target)).square()
    if reduction == "mean":
        return error.mean()
    return error.sum() if reduction == "sum" else error


def training_loss(
    pred: torch.Tensor, target: torch.Tensor, r: float = 2, std_weight: float = 0.0, sample_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss every stage trains on: ``emd_loss`` (eq. 7), plus ``std_weight * std_loss`` when > 0.

    sample_weight (Tensor[B], optional): a weighted mean over the batch instead of the plain one (the head stage
    weighs each photo's own theme above the others it is labelled under, ``TrainConfig.own_theme_weight``).
    """
    if sample_weight is None:
        loss = emd_loss(pred, target, r=r)
        return loss + std_weight * std_loss(pred, target) if std_weight else loss
    if sample_weight.shape != pred.shape[:1] or not bool((sample_weight >= 0).all()) or not float(sample_weight.sum()) > 0:
        raise ValueError(f"sample_weight must be [B] = [{pred.shape[0]}], >= 0 and not all 0, got shape {tuple(sample_weight.shape)}")
    per_sample = emd_loss(pred, target, r=r, reduction="none")
    if std_weight:
        per_sample = per_sample + std_weight * std_loss(pred, target, reduction="none")
    weight = sample_weight.to(dtype=per_sample.dtype, device=per_sample.device)
    return (per_sample * weight).sum() / weight.sum()
