"""What the worst-predicted photos are (the paper's Fig. 7), measured, and the finding said in words.

The paper explains its failure cases by "uncommon" ground-truth distributions (non-Gaussian, not
smooth) and says the model "tends to predict distributions with a mean score close to 5". On other
data either can be false, so the notebook does not repeat the explanation: ``failure_case_summary``
measures both on the data, and ``describe_failure_cases`` writes the sentence from those numbers.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from workbench.analysis.failures import distribution_shape, worst_predictions
from workbench.metrics import distribution_mean, per_image_distances

# A worst-k median non-Gaussianity at least this many times the overall one, and at least NON_GAUSSIAN_MARGIN
# above it, counts as "more non-Gaussian" (the mirror image: "less"); in between, "about as non-Gaussian".
# A factor and a margin, not a test: k is ~8 photos, and near 0 (Gaussian truths) a ratio alone would call
# 0.003 vs 0.0002 "more". The margin is in EMD (r=1) units; the synthetic benchmark's median is ~0.009.
NON_GAUSSIAN_FACTOR, NON_GAUSSIAN_MARGIN = 1.5, 0.005


def failure_case_summary(pred: Any, target: Any, k: int = 8, metric: str = "emd1") -> dict[str, float]:
    """The ``k`` worst photos by ``metric`` against all photos, as numbers.

    pred, target: distributions [N, K]. Returns ``k``, ``n`` (photos), ``median_non_gaussianity_worst`` /
    ``_all`` (``analysis.distribution_shape``), ``spearman_error_non_gaussianity`` and its ``p_value``
    (over all photos; NaN with fewer than 3), ``true_mean_worst`` / ``pred_mean_worst`` (the worst photos'
    average true and predicted mean score), ``true_mean_all``, ``abs_true_offset_worst`` / ``_all`` (mean
    |true mean - true_mean_all|: how far from the middle the photos lie), ``toward_middle_worst`` (how many of
    the worst photos are predicted between their true mean and ``true_mean_all``), and the sd across
    photos of the true and predicted means (``sd_true_means``, ``sd_pred_means``)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    shape = distribution_shape(target)
    worst = worst_predictions(pred, target, k=k, metric=metric)  # validates metric and shapes
    true_means, pred_means = distribution_mean(target), distribution_mean(pred)
    errors = np.abs(pred_means - true_means) if metric == "abs_mean" else per_image_distances(pred, target)[metric]
    centre = float(true_means.mean())
    worst_true, worst_pred = worst["target_mean"].to_numpy(), worst["pred_mean"].to_numpy()
    toward = np.sign(worst_pred - worst_true) == np.sign(centre - worst_true)  # the error points to the middle
    if len(errors) >= 3:
        rho, p_value = stats.spearmanr(errors, shape["non_gaussianity"])
    else:
        rho, p_value = float("nan"), float("nan")
    return {
        "k": int(len(worst)),
        "n": int(len(true_means)),
        "median_non_gaussianity_worst": float(shape.loc[worst.index, "non_gaussianity"].median()),
        "median_non_gaussianity_all": float(shape["non_gaussianity"].median()),
        "spearman_error_non_gaussianity": float(rho),
        "p_value": float(p_value),
        "true_mean_worst": float(worst_true.mean()),
        "pred_mean_worst": float(worst_pred.mean()),
        "true_mean_all": centre,
        "abs_true_offset_worst": float(np.abs(worst_true - centre).mean()),
        "abs_true_offset_all": float(np.abs(true_means - centre).mean()),
        "toward_middle_worst": int(toward.sum()),
        "sd_true_means": float(true_means.std()),
        "sd_pred_means": float(pred_means.std()),
    }


def _strength(rho: float) -> str:
    size, sign = abs(rho), "" if rho > 0 else " negative"
    # By size, not by p: over hundreds of photos a tiny correlation is "significant" yet explains ~nothing
    # (rho 0.09: p 0.03 at n 601, under 1% of the rank variance), so it is called negligible, never "no".
    return f"a negligible{sign}" if size < 0.1 else f"a weak{sign}" if size < 0.3 else f"a moderate{sign}" if size < 0.5 else f"a strong{sign}"


def describe_failure_cases(summary: dict[str, float]) -> str:
    """The finding of ``failure_case_summary`` in words, every claim with its number: whether the worst
    photos have unusually non-Gaussian truths, and whether they are photos far from the middle that the
    model predicts toward it."""
    k, n = summary["k"], summary["n"]
    worst_ng, all_ng = summary["median_non_gaussianity_worst"], summary["median_non_gaussianity_all"]
    ratio = worst_ng / all_ng if all_ng > 0 else float("inf")
    if ratio >= NON_GAUSSIAN_FACTOR and worst_ng - all_ng >= NON_GAUSSIAN_MARGIN:
        shape_word, uncommon = "more non-Gaussian than", True
    elif ratio <= 1 / NON_GAUSSIAN_FACTOR and all_ng - worst_ng >= NON_GAUSSIAN_MARGIN:
        shape_word, uncommon = "less non-Gaussian than", False
    else:
        shape_word, uncommon = "about as non-Gaussian as", False
    rho, p_value = summary["spearman_error_non_gaussianity"], summary["p_value"]
    correlation = (f"{_strength(rho)} rank correlation between a photo's error and its truth's non-Gaussianity "
                   f"(Spearman {rho:.3f}, p = {p_value:.2g}, n = {n})") if np.isfinite(rho) else "too few photos for a correlation"
    sentences = [
        f"The {k} worst photos' ground truths are {shape_word} the rest (median non-Gaussianity {worst_ng:.4f} vs "
        f"{all_ng:.4f} over all {n} photos), with {correlation}."
    ]
    far = summary["abs_true_offset_worst"] > 1.5 * summary["abs_true_offset_all"]
    toward = summary["toward_middle_worst"]
    sentences.append(
        f"Their true mean scores average {summary['true_mean_worst']:.2f} (all photos: {summary['true_mean_all']:.2f}; "
        f"on average {summary['abs_true_offset_worst']:.2f} from it, against {summary['abs_true_offset_all']:.2f} for all photos), "
        f"their predicted means {summary['pred_mean_worst']:.2f}; {toward} of the {k} are predicted on the middle's side of their truth."
    )
    pulled = far and toward > k / 2
    if pulled and not uncommon:
        verdict = ("So here the worst cases are not the paper's uncommon distributions: they are photos far from the average "
                   "score that the model predicts toward the middle")
    elif pulled:
        verdict = "So the worst cases are both uncommon distributions and photos far from the average that the model predicts toward the middle"
    elif uncommon:
        verdict = "So the worst cases are the uncommon distributions, as the paper explains"
    else:
        verdict = "Neither the paper's uncommon distributions nor extreme mean scores single out the worst cases here"
    sentences.append(f"{verdict} (the predicted means spread with sd {summary['sd_pred_means']:.3f} against the truth's "
                     f"{summary['sd_true_means']:.3f}).")
    return " ".join(sentences)
