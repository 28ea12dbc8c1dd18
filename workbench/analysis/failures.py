"""Failure cases (Fig. 7): the worst predictions and the shapes of distributions; with / without theme
(Fig. 8): what the theme changes per photo."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import signal, stats

from workbench.metrics import DISTANCE_NAMES, distribution_mean, distribution_std, per_image_distances, score_values

def worst_predictions(pred: Any, target: Any, k: int = 10, metric: str = "emd1") -> pd.DataFrame:
    """The ``k`` photos with the largest error, worst first.

    metric: a per-image distance of ``metrics.DISTANCE_NAMES`` ("emd1", "kl", ...) or "abs_mean"
    (|predicted mean - ground-truth mean|). Index: row position in ``pred``; columns ``metric``'s
    value, ``pred_mean``, ``target_mean``, ``pred_std``, ``target_std``.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    distances = per_image_distances(pred, target)  # validates shapes
    pred_mean, target_mean = distribution_mean(pred), distribution_mean(target)
    if metric == "abs_mean":
        errors = np.abs(pred_mean - target_mean)
    elif metric in DISTANCE_NAMES:
        errors = distances[metric]
    else:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(DISTANCE_NAMES)} or 'abs_mean'")
    order = np.argsort(-errors, kind="stable")[:k]
    return pd.DataFrame(
        {
            metric: errors[order],
            "pred_mean": pred_mean[order],
            "target_mean": target_mean[order],
            "pred_std": distribution_std(pred)[order],
            "target_std": distribution_std(target)[order],
        },
        index=pd.Index(order, name="index"),
    )


def discretised_gaussian(mean: Any, std: Any, num_bins: int) -> np.ndarray:
    """Normal(mean, std) integrated over the bins ``[k - 1/2, k + 1/2]`` of the scores ``1..K``, tails
    folded into the end bins -> float64[..., K]. A std of 0 puts all the mass in the mean's bin."""
    mean, std = np.broadcast_arrays(np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64))
    edges = np.arange(1.5, num_bins, 1.0)  # K - 1 inner edges
    scale = np.maximum(std, 1e-9)[..., None]
    cdf = stats.norm.cdf((edges - mean[..., None]) / scale)
    cdf = np.concatenate([np.zeros(cdf.shape[:-1] + (1,)), cdf, np.ones(cdf.shape[:-1] + (1,))], axis=-1)
    return np.diff(cdf, axis=-1)


def count_modes(p: Any, min_prominence: float = 0.02) -> np.ndarray:
    """Local maxima of each distribution ``[..., K]`` rising at least ``min_prominence`` (probability)
    above the lower of the two valleys around them; the end bins can be modes -> int[...]."""
    p = np.asarray(p, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    flat = p.reshape(-1, p.shape[-1])
    counts = [len(signal.find_peaks(np.concatenate([[0.0], row, [0.0]]), prominence=min_prominence)[0]) for row in flat]
    return np.asarray(counts, dtype=np.int64).reshape(p.shape[:-1])


def distribution_shape(p: Any, min_prominence: float = 0.02) -> pd.DataFrame:
    """Shape statistics of distributions ``[N, K]`` over the scores ``1..K`` (Fig. 7's "uncommon" ones).

    Columns: ``mean``, ``std``, ``skewness`` (third standardised moment), ``excess_kurtosis``
    (fourth standardised moment - 3; NaN when std = 0 for both), ``modes`` (``count_modes``), and
    ``non_gaussianity``: EMD (r=1) between the distribution and the discretised Gaussian of the same
    mean and std (~0 for a discretised Gaussian, larger for skewed, flat or bimodal ones).
    """
    array = np.asarray(p, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    mean, std = distribution_mean(array), distribution_std(array)
    q = array / array.sum(axis=1, keepdims=True)
    deviation = score_values(q.shape[1])[None, :] - mean[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        skewness = np.where(std > 0, (q * deviation**3).sum(axis=1) / std**3, np.nan)
        kurtosis = np.where(std > 0, (q * deviation**4).sum(axis=1) / std**4 - 3.0, np.nan)
    # Sheppard's correction: binning adds ~1/12 to a Gaussian's variance, so the Gaussian whose
    # discretisation has this std has variance std^2 - 1/12 (exact up to the folded tails).
    gaussian = discretised_gaussian(mean, np.sqrt(np.clip(std**2 - 1.0 / 12.0, 0.0, None)), q.shape[1])
    return pd.DataFrame({
        "mean": mean,
        "std": std,
        "skewness": skewness,
        "excess_kurtosis": kurtosis,
        "modes": count_modes(q, min_prominence),
        "non_gaussianity": per_image_distances(gaussian, q)["emd1"],
    })


def theme_effect(pred_with: Any, pred_without: Any, target: Any) -> pd.DataFrame:
    """Per-photo mean-score errors with vs without theme (Fig. 8).

    Columns ``target_mean``, ``mean_with``, ``mean_without``, ``error_with`` / ``error_without``
    (absolute errors of the mean), ``improvement`` (error_without - error_with; > 0: the theme
    helped), ``emd1_with``, ``emd1_without``. ``attrs["summary"]``: mean errors, share improved.
    """
    emd_with = per_image_distances(pred_with, target)["emd1"]
    emd_without = per_image_distances(pred_without, target)["emd1"]
    target_mean = distribution_mean(target)
    mean_with, mean_without = distribution_mean(pred_with), distribution_mean(pred_without)
    frame = pd.DataFrame({
        "target_mean": target_mean,
        "mean_with": mean_with,
        "mean_without": mean_without,
        "error_with": np.abs(mean_with - target_mean),
        "error_without": np.abs(mean_without - target_mean),
        "emd1_with": emd_with,
        "emd1_without": emd_without,
    })
    frame["improvement"] = frame["error_without"] - frame["error_with"]
    frame.attrs["summary"] = {
        "photos": int(len(frame)),
        "mae_with": float(frame["error_with"].mean()),
        "mae_without": float(frame["error_without"].mean()),
        "emd1_with": float(emd_with.mean()),
        "emd1_without": float(emd_without.mean()),
        "share_improved": float(np.mean(frame["improvement"] > 0)),
        "share_predicted_higher_with_theme": float(np.mean(mean_with > mean_without)),
    }
    return frame
