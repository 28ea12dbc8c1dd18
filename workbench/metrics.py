"""Evaluation metrics of the paper (Sec. IV-A): distribution distances and mean/std correlations.

Pure functions: arrays (numpy, torch tensors or nested lists) of shape ``[N, K]`` in, Python
floats out. ``pred`` and ``target`` are score distributions over the scores ``1..K`` (K = 10 for
AVA, 7 for Photo.net); each row is normalised to sum to 1 before anything is computed.

Conventions (all natural logarithms; per-image values are averaged over images):

- ``euc``: L2 distance between the two pmfs, ``sqrt(sum_k (p_k - q_k)^2)``.
- ``kl``: ``KL(target || pred) = sum_k q_k log(q_k / p_k)`` with ``0 log 0 = 0`` (AVA targets
  contain empty bins) and ``pred`` clipped below at ``KL_EPS`` so an empty predicted bin under a
  non-empty target bin stays finite. The other direction (and the symmetric KL of Jin et al.)
  is infinite whenever a target bin is empty, the reason the paper gives in Sec. IV-C.
- ``js``: Jensen-Shannon divergence ``1/2 KL(p || m) + 1/2 KL(q || m)``, ``m = (p + q) / 2``; the
  divergence itself, not ``scipy.spatial.distance.jensenshannon`` (its square root).
- ``chi2``: ``1/2 sum_k (p_k - q_k)^2 / (p_k + q_k)`` over bins with ``p_k + q_k > 0``.
- ``emd2`` / ``emd1``: eq. (7), ``(1/K sum_k |CDF_p(k) - CDF_q(k)|^r)^(1/r)`` with r = 2 / r = 1,
  the root taken per image before the average over images.
- ``cd``: cosine distance, ``1 - <p, q> / (|p| |q|)``.
- ``srcc_*`` / ``plcc_*``: Spearman / Pearson correlation (``scipy.stats``) between the predicted
  and ground-truth means (``*_mean``) or standard deviations (``*_std``), both computed from the
  distributions over the scores ``1..K``. NaN, without a warning or an error, when either side is
  constant or there are fewer than two images: a correlation is undefined there.
- ``mse_mean``: mean over images of ``(mean(pred) - mean(target))^2``.

Why these variants (Table I's ratios): on simulated AVA-like data (20,000 targets, each a
multinomial sample of 80-550 votes from a discretised Gaussian with mean ~N(5.4, 0.7) and std
~N(1.45, 0.25); predictions are smooth discretised Gaussians whose mean and std are off by
N(0, 0.3-0.6) and N(0, 0.1-0.25), giving ``emd1`` 0.027-0.051 around the paper's 0.041) these
formulas give KL / JS = 4.1-4.8 and chi2 / JS = 1.83-1.88, against the paper's
0.088 / 0.022 = 4.0 and 0.041 / 0.022 = 1.86, and EMD(r=2) / EMD(r=1) = 1.48 (paper: 1.44).
The alternatives miss by large factors: JS in log base 2 gives KL / JS = 2.8-3.3; chi2 without
the 1/2 gives 3.7 JS; Pearson's ``sum (p - q)^2 / q`` explodes on empty target bins;
KL(pred || target) with the same floor gives ~7 JS. ``tests/test_metrics.py`` repeats this check.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import rel_entr

KL_EPS = 1e-8  # floor on predicted probabilities inside KL(target || pred)

# Keys of ``evaluate``, in the order of Tables I then II.
METRIC_NAMES = (
    "euc", "kl", "js", "chi2", "emd2", "emd1", "cd",
    "srcc_mean", "plcc_mean", "srcc_std", "plcc_std", "mse_mean",
)
DISTANCE_NAMES = METRIC_NAMES[:7]  # per-image distances, averaged over images
LOWER_IS_BETTER = frozenset({"euc", "kl", "js", "chi2", "emd2", "emd1", "cd", "mse_mean"})
METRIC_LABELS = {
    "euc": "Euc", "kl": "KL", "js": "JS", "chi2": "χ2", "emd2": "EMD (r=2)", "emd1": "EMD (r=1)",
    "cd": "CD", "srcc_mean": "SRCC (mean)", "plcc_mean": "PLCC (mean)", "srcc_std": "SRCC (std.dev)",
    "plcc_std": "PLCC (std.dev)", "mse_mean": "MSE (mean)",
}

# Column layouts of the paper's tables. Tables III-V share one layout. Table VI prints "EMD"
# without r; r = 1 is our reading, not the paper's statement: the text says the only earlier
# distribution result on Photo.net is [19], whose AVA EMD sits in Table I's r = 1 column, and
# Tables III-V report r = 1 as the representative EMD.
TABLE_LAYOUTS = {
    "I": ("euc", "kl", "js", "chi2", "emd2", "emd1", "cd"),
    "II": ("srcc_mean", "plcc_mean", "srcc_std", "plcc_std", "mse_mean"),
    "III": ("srcc_mean", "srcc_std", "emd1", "kl"),
    "IV": ("srcc_mean", "srcc_std", "emd1", "kl"),
    "V": ("srcc_mean", "srcc_std", "emd1", "kl"),
    "VI": ("srcc_mean", "plcc_mean", "mse_mean", "emd1"),
}


def score_values(num_bins: int) -> np.ndarray:
    """The scores ``1..K`` that the ``K`` bins of a distribution stand for (float64[K])."""
    if int(num_bins) != num_bins or num_bins < 1:
        raise ValueError(f"num_bins must be a positive integer, got {num_bins!r}")
    return np.arange(1, int(num_bins) + 1, dtype=np.float64)


def _as_array(x: Any, name: str) -> np.ndarray:
    """numpy / torch / list -> float64 array (torch tensors are detached and moved to the CPU)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().double().numpy()
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from error
    return array


def _normalise(x: Any, name: str) -> np.ndarray:
    """Rows of ``x`` ([..., K]) as distributions; rejects negative, non-finite and all-zero rows."""
    array = _as_array(x, name)
    if array.ndim == 0 or array.shape[-1] < 1:
        raise ValueError(f"{name} must have shape [..., K] with K >= 1, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(array < 0):
        raise ValueError(f"{name} contains negative values; expected probabilities or vote counts")
    total = array.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"{name} has a row that sums to 0; every distribution needs some mass")
    return array / total


def _pair(pred: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated, row-normalised ``pred`` and ``target`` of the same shape ``[N, K]``."""
    p, q = _normalise(pred, "pred"), _normalise(target, "target")
    if p.ndim != 2 or q.ndim != 2:
        raise ValueError(f"pred and target must have shape [N, K], got {p.shape} and {q.shape}")
    if p.shape != q.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {q.shape}")
    if p.shape[0] == 0:
        raise ValueError("pred and target are empty (N = 0)")
    return p, q


def distribution_mean(p: Any) -> np.ndarray:
    """Mean score of each distribution ``[..., K]`` over the scores ``1..K`` -> ``[...]``."""
    p = _normalise(p, "p")
    return p @ score_values(p.shape[-1])


def distribution_std(p: Any) -> np.ndarray:
    """Standard deviation of each distribution ``[..., K]`` over the scores ``1..K`` -> ``[...]``."""
    p = _normalise(p, "p")
    scores = score_values(p.shape[-1])
    mean = p @ scores
    variance = p @ scores**2 - mean**2
    return np.sqrt(np.clip(variance, 0.0, None))  # clip: rounding can make a zero variance -1e-16


def _emd(p: np.ndarray, q: np.ndarray, r: float) -> np.ndarray:
    """Eq. (7) per row: ``(mean_k |CDF_p - CDF_q|^r)^(1/r)``."""
    difference = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))
    return np.mean(difference**r, axis=-1) ** (1.0 / r)


def per_image_distances(pred: Any, target: Any) -> dict[str, np.ndarray]:
    """The seven distribution distances of Table I for every image: name -> float64[N].

    Conventions as in the module docstring; ``evaluate`` reports their means over images.
    """
    p, q = _pair(pred, target)
    middle = 0.5 * (p + q)
    total = p + q
    safe_total = np.where(total > 0, total, 1.0)
    cosine = np.sum(p * q, axis=1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1))
    return {
        "euc": np.sqrt(np.sum((p - q) ** 2, axis=1)),
        "kl": np.sum(rel_entr(q, np.maximum(p, KL_EPS)), axis=1),  # rel_entr(0, x) = 0
        "js": 0.5 * np.sum(rel_entr(p, middle), axis=1) + 0.5 * np.sum(rel_entr(q, middle), axis=1),
        "chi2": 0.5 * np.sum(np.where(total > 0, (p - q) ** 2 / safe_total, 0.0), axis=1),
        "emd2": _emd(p, q, 2.0),
        "emd1": _emd(p, q, 1.0),
        "cd": 1.0 - cosine,
    }


def _correlation(function: Callable, x: np.ndarray, y: np.ndarray) -> float:
    """``scipy.stats`` correlation coefficient, NaN where it is undefined (constant input, N < 2).

    "Constant" allows rounding: identical distributions give means and stds that differ in the last
    bits (BLAS sums rows in different orders), and ranking that noise would report a spurious value.
    """
    if x.size < 2 or _constant(x) or _constant(y):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-constant inputs still warn about precision
        return float(function(x, y)[0])


def _constant(values: np.ndarray, relative_tolerance: float = 1e-9) -> bool:
    return bool(np.ptp(values) <= relative_tolerance * max(1.0, float(np.abs(values).max())))


def _summary_metrics(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """Table II: correlations of means and stds, and the MSE of the means."""
    mean_p, mean_q = distribution_mean(p), distribution_mean(q)
    std_p, std_q = distribution_std(p), distribution_std(q)
    return {
        "srcc_mean": _correlation(stats.spearmanr, mean_p, mean_q),
        "plcc_mean": _correlation(stats.pearsonr, mean_p, mean_q),
        "srcc_std": _correlation(stats.spearmanr, std_p, std_q),
        "plcc_std": _correlation(stats.pearsonr, std_p, std_q),
        "mse_mean": float(np.mean((mean_p - mean_q) ** 2)),
    }


def evaluate(pred: Any, target: Any) -> dict[str, float]:
    """All metrics of Tables I and II for predicted vs ground-truth distributions ``[N, K]``.

    Returns a dict with the keys of ``METRIC_NAMES`` (in that order); conventions in the module
    docstring. Correlations are NaN when undefined (constant input or N < 2), never an error.
    """
    p, q = _pair(pred, target)
    distances = {name: float(np.mean(values)) for name, values in per_image_distances(p, q).items()}
    return {**distances, **_summary_metrics(p, q)}


def bootstrap_ci(
    pred: Any, target: Any, metric: str, n: int = 1000, seed: int = 0, level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of one ``evaluate`` metric over images
    (``scipy.stats.bootstrap``, ``method="percentile"``).

    Images are resampled with replacement ``n`` times (seeded, reproducible). NaN resamples (a
    constant resample of a correlation) are ignored; ``(nan, nan)`` if all are NaN.
    """
    if metric not in METRIC_NAMES:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    p, q = _pair(pred, target)
    rng = np.random.default_rng(seed)
    count = p.shape[0]
    if metric in DISTANCE_NAMES:
        values = per_image_distances(p, q)[metric]
        statistic = lambda index: float(np.mean(values[index]))  # noqa: E731
    else:
        mean_p, mean_q = distribution_mean(p), distribution_mean(q)
        std_p, std_q = distribution_std(p), distribution_std(q)
        kind, moment = metric.split("_")
        x, y = (mean_p, mean_q) if moment == "mean" else (std_p, std_q)
        if kind == "mse":
            squared = (x - y) ** 2
            statistic = lambda index: float(np.mean(squared[index]))  # noqa: E731
        else:
            function = stats.spearmanr if kind == "srcc" else stats.pearsonr
            statistic = lambda index: _correlation(function, x[index], y[index])  # noqa: E731
    # Resample image indices (one sample), so the statistic sees prediction and target paired.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # NaN resamples: handled below
        result = stats.bootstrap(
            (np.arange(count),), lambda index: statistic(index.astype(np.int64)), n_resamples=n, vectorized=False,
            confidence_level=level, method="percentile", rng=rng,
        )  # fmt: skip
    samples = result.bootstrap_distribution
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    if finite.size == samples.size:
        return float(result.confidence_interval.low), float(result.confidence_interval.high)
    # scipy's interval is NaN once any resample is: the percentiles of the defined ones instead.
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _cell(value: Any) -> float:
    """A table entry: None (not reported) -> NaN, anything else -> float."""
    return float("nan") if value is None else float(value)


def results_table(
    rows: dict[str, dict[str, float]],
    table: str = "I",
    sources: dict[str, str] | None = None,
    labels: bool = True,
) -> pd.DataFrame:
    """Models' metric dicts (``evaluate`` output) in the column layout of one of the paper's tables.

    rows: model name -> metrics; metrics a table shows but a row lacks become NaN, extra ones are
        dropped. table: "I", "II", "III", "IV", "V" or "VI" (see ``TABLE_LAYOUTS``).
    sources: optional model name -> where the numbers come from (e.g. "paper", "this run"),
        added as a last column "source"; models not named get "".
    labels: column headers as printed in the paper ("EMD (r=1)"); False keeps metric keys ("emd1").
    """
    if table not in TABLE_LAYOUTS:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLE_LAYOUTS)}")
    if sources is not None and set(sources) - set(rows):
        unknown = ", ".join(sorted(set(sources) - set(rows)))
        raise ValueError(f"sources names models that are not in rows: {unknown}")
    columns = TABLE_LAYOUTS[table]
    frame = pd.DataFrame(
        [[_cell(metrics.get(name)) for name in columns] for metrics in rows.values()],
        index=pd.Index(list(rows), name="Models"), columns=list(columns), dtype=np.float64,
    )
    if labels:
        frame = frame.rename(columns=METRIC_LABELS)
    if sources is not None:
        frame["source"] = [sources.get(model, "") for model in rows]
    return frame
