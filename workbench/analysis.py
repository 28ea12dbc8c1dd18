"""Analyses behind the paper's figures and tables, as pure functions on label tables and arrays.

- Themes (Sec. III-B, Fig. 2): ``theme_statistics`` (per-theme counts, means, stds, mean
  distributions), ``theme_variance_explained`` (what share of the variance of photo mean scores and
  stds lies between themes), and the theme-only baseline ``theme_prior_baseline`` (each photo
  predicted by its theme's average distribution, shrunk toward the global average), evaluated
  against the global-average baseline by ``theme_baseline_report``.
- Real AVA votes: ``real_ava_theme_split`` (the ~25k TANet photos that carry challenge ids).
- Failure cases (Fig. 7): ``worst_predictions``, ``distribution_shape``; with / without theme
  (Fig. 8): ``theme_effect``.
- Aspect ratios (Fig. 6): ``aspect_ratios``, ``aspect_ratio_summary``.
- Seeds (Tables III-V): ``aggregate_seeds``, ``format_mean_sd``.

Distributions are ``[N, K]`` arrays over the scores ``1..K`` (vote counts or probabilities; rows
are normalised). Nothing here plots; ``workbench.plots`` draws these results.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import signal, stats

from workbench.data.ava import real_ava_theme_split  # noqa: F401 - moved to the AVA reader; re-exported for notebooks
from workbench.data.tables import NO_THEME, VOTE_COLUMN
from workbench.metrics import (
    DISTANCE_NAMES,
    METRIC_NAMES,
    distribution_mean,
    distribution_std,
    evaluate,
    per_image_distances,
    score_values,
)

DEFAULT_SHRINKAGE_GRID = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, math.inf)


# --------------------------------------------------------------------------------------------------
# Label tables -> distributions


def vote_distributions(table: pd.DataFrame) -> np.ndarray:
    """The normalised vote distributions ``v1..vK`` of a label table -> float64[N, K] (rows sum to 1)."""
    num_bins = table.attrs.get("num_bins")
    if num_bins is None:
        num_bins = sum(1 for column in table.columns if VOTE_COLUMN.fullmatch(str(column)))
    columns = [f"v{k}" for k in range(1, int(num_bins) + 1)]
    missing = [column for column in columns if column not in table.columns]
    if not columns or missing:
        raise ValueError(f"table lacks the vote columns {missing or 'v1..vK'} of a label table")
    votes = table[columns].to_numpy(dtype=np.float64)
    totals = votes.sum(axis=1, keepdims=True)
    if np.any(~np.isfinite(votes)) or np.any(votes < 0) or np.any(totals <= 0):
        bad = int(np.flatnonzero(~np.isfinite(votes).all(axis=1) | (votes < 0).any(axis=1) | (totals[:, 0] <= 0))[0])
        raise ValueError(f"table row {bad} (image_id {table['image_id'].iloc[bad] if 'image_id' in table else bad}) "
                         "has votes that are negative, not finite or all zero")
    return votes / totals


def _theme_ids(table: pd.DataFrame) -> np.ndarray:
    if "theme_id" not in table.columns:
        raise ValueError("table has no 'theme_id' column (a label table; -1 = no theme)")
    return table["theme_id"].to_numpy(dtype=np.int64)


def _theme_name(table: pd.DataFrame, theme_id: int) -> str | None:
    names = table.attrs.get("theme_names") or []
    if 0 <= theme_id < len(names):
        return names[theme_id]
    if "theme" in table.columns:
        found = table.loc[table["theme_id"] == theme_id, "theme"]
        if len(found) and isinstance(found.iloc[0], str):
            return found.iloc[0]
    return None


# --------------------------------------------------------------------------------------------------
# Theme statistics and the share of variance between themes


def theme_statistics(table: pd.DataFrame, min_photos: int = 2) -> pd.DataFrame:
    """Per-theme summary of a label table, one row per theme with at least ``min_photos`` photos.

    Index ``theme_id``; columns ``theme`` (name), ``count``, ``mean_of_means`` / ``sd_of_means``
    (mean and sample sd over the theme's photos of their mean score), ``mean_of_stds`` /
    ``sd_of_stds`` (the same for each photo's std of votes), ``p1..pK`` (the theme's mean
    distribution, photos weighted equally). Rows sorted by count (largest first), then theme id.
    Photos without a theme (theme_id -1) are not a theme and are left out. ``attrs``: ``num_bins``,
    ``global_distribution`` (mean over all photos), ``counts`` (photos, themed photos, photos without
    theme, photos and themes below ``min_photos``), ``variance`` (``theme_variance_explained`` as records).
    """
    if min_photos < 1:
        raise ValueError(f"min_photos must be >= 1, got {min_photos}")
    p = vote_distributions(table)
    num_bins = p.shape[1]
    themes = _theme_ids(table)
    frame = pd.DataFrame({"theme_id": themes, "mean": distribution_mean(p), "std": distribution_std(p)})
    for k in range(num_bins):
        frame[f"p{k + 1}"] = p[:, k]
    themed = frame[frame["theme_id"] != NO_THEME]
    grouped = themed.groupby("theme_id", sort=True)
    result = pd.DataFrame({
        "count": grouped.size(),
        "mean_of_means": grouped["mean"].mean(),
        "sd_of_means": grouped["mean"].std(ddof=1),
        "mean_of_stds": grouped["std"].mean(),
        "sd_of_stds": grouped["std"].std(ddof=1),
    })
    result = pd.concat([result, grouped[[f"p{k + 1}" for k in range(num_bins)]].mean()], axis=1)
    small = result["count"] < min_photos
    result = result[~small]
    result.insert(0, "theme", [_theme_name(table, int(t)) for t in result.index])
    result = result.reset_index().sort_values(["count", "theme_id"], ascending=[False, True]).set_index("theme_id")
    result.attrs = {
        "num_bins": num_bins,
        "global_distribution": p.mean(axis=0).tolist() if len(p) else [],
        "min_photos": int(min_photos),
        "counts": {
            "photos": int(len(frame)),
            "themed_photos": int(len(themed)),
            "photos_without_theme": int(len(frame) - len(themed)),
            "photos_in_small_themes": int(grouped.size()[small].sum()),
            "small_themes": int(small.sum()),
            "themes": int(len(result)),
        },
        "variance": theme_variance_explained(table, min_photos=min_photos).reset_index().to_dict("records"),
    }
    return result


def _between_share(values: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    """One-way ANOVA of ``values`` by ``groups``: eta^2, omega^2, F, p and eta^2 expected by chance."""
    n = len(values)
    labels, inverse = np.unique(groups, return_inverse=True)
    j = len(labels)
    result = {"photos": n, "themes": j}
    if n < 2 or j < 2 or n <= j:
        return {**result, "eta_squared": math.nan, "omega_squared": math.nan, "chance_eta_squared": math.nan,
                "f_statistic": math.nan, "p_value": math.nan}
    counts = np.bincount(inverse)
    group_means = np.bincount(inverse, weights=values) / counts
    grand = values.mean()
    ss_total = float(np.sum((values - grand) ** 2))
    ss_between = float(np.sum(counts * (group_means - grand) ** 2))
    ms_within = (ss_total - ss_between) / (n - j)
    samples = [values[inverse == g] for g in range(j)]
    f_statistic, p_value = stats.f_oneway(*samples)
    return {
        **result,
        # eta^2 = SS_between / SS_total: the share of the variance over photos that lies between the
        # theme means (the between / total variance ratio, both weighted by photos).
        "eta_squared": ss_between / ss_total if ss_total > 0 else math.nan,
        # omega^2 removes what J themes would explain by chance alone (small themes inflate eta^2).
        "omega_squared": (ss_between - (j - 1) * ms_within) / (ss_total + ms_within) if ss_total > 0 else math.nan,
        "chance_eta_squared": (j - 1) / (n - 1),  # E[eta^2] when themes do not matter
        "f_statistic": float(f_statistic),
        "p_value": float(p_value),
    }


def theme_variance_explained(table: pd.DataFrame, min_photos: int = 2) -> pd.DataFrame:
    """How much of the spread of photo mean scores (and of photo stds) lies between themes.

    One-way ANOVA over the photos of themes with at least ``min_photos`` photos (photos without a
    theme left out). Index ``quantity`` ("mean", "std"); columns ``photos``, ``themes``,
    ``eta_squared`` (SS_between / SS_total), ``omega_squared`` (chance-corrected), ``chance_eta_squared``
    ((J - 1) / (N - 1), what eta^2 would be with no theme effect), ``f_statistic``, ``p_value``
    (``scipy.stats.f_oneway``).
    """
    p = vote_distributions(table)
    themes = _theme_ids(table)
    keep = themes != NO_THEME
    labels, counts = np.unique(themes[keep], return_counts=True)
    keep &= np.isin(themes, labels[counts >= min_photos])
    rows = {
        "mean": _between_share(distribution_mean(p)[keep], themes[keep]),
        "std": _between_share(distribution_std(p)[keep], themes[keep]),
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quantity")


# --------------------------------------------------------------------------------------------------
# The theme-only baseline


def shrinkage_weights(counts: np.ndarray | Sequence[int], shrinkage: float) -> np.ndarray:
    """Weight ``n / (n + k)`` of a theme's own average for themes with ``n`` training photos.

    ``k = 0`` trusts any seen theme fully; ``k = inf`` never does (the global baseline). A theme with
    no training photo gets 0 whatever ``k``.
    """
    if not shrinkage >= 0:  # also rejects NaN
        raise ValueError(f"shrinkage must be >= 0 (or inf), got {shrinkage}")
    counts = np.asarray(counts, dtype=np.float64)
    if np.isinf(shrinkage):
        return np.zeros_like(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        weights = counts / (counts + shrinkage)
    return np.where(counts > 0, weights, 0.0)


def _theme_averages(train_table: pd.DataFrame) -> tuple[np.ndarray, dict[int, tuple[int, np.ndarray]]]:
    """Global mean distribution and {theme id: (photo count, mean distribution)} of the training photos."""
    p = vote_distributions(train_table)
    if len(p) == 0:
        raise ValueError("train_table is empty; the baselines need training photos")
    themes = _theme_ids(train_table)
    averages = {}
    for theme in np.unique(themes[themes != NO_THEME]):
        rows = themes == theme
        averages[int(theme)] = (int(rows.sum()), p[rows].mean(axis=0))
    return p.mean(axis=0), averages


def _check_bins(train_table: pd.DataFrame, test_table: pd.DataFrame) -> None:
    k_train, k_test = vote_distributions(train_table.head(1)).shape[1], vote_distributions(test_table.head(1)).shape[1]
    if len(test_table) and k_train != k_test:
        raise ValueError(f"train and test tables have different numbers of bins ({k_train} vs {k_test})")


def global_baseline(train_table: pd.DataFrame, test_table: pd.DataFrame) -> np.ndarray:
    """Every test photo predicted by the mean distribution of the training photos -> float64[N_test, K]."""
    _check_bins(train_table, test_table)
    global_average, _ = _theme_averages(train_table)
    return np.tile(global_average, (len(test_table), 1))


def theme_prior_baseline(train_table: pd.DataFrame, test_table: pd.DataFrame, shrinkage: float = 10.0) -> np.ndarray:
    """Each test photo predicted from its theme alone -> float64[N_test, K].

    prediction = w * theme average + (1 - w) * global average, with ``w = n / (n + shrinkage)`` and
    ``n`` the theme's training photos (empirical-Bayes shrinkage of small themes toward the global
    average). Themes unseen in training and photos without a theme get the global average.
    """
    _check_bins(train_table, test_table)
    global_average, averages = _theme_averages(train_table)
    themes = _theme_ids(test_table)
    counts = np.array([averages.get(int(t), (0, None))[0] if t != NO_THEME else 0 for t in themes])
    theme_average = np.array([averages[int(t)][1] if c > 0 else global_average for t, c in zip(themes, counts)])
    theme_average = theme_average.reshape(len(themes), len(global_average))
    weights = shrinkage_weights(counts, shrinkage)[:, None]
    return weights * theme_average + (1.0 - weights) * global_average


def shrinkage_curve(
    train_table: pd.DataFrame, val_table: pd.DataFrame, grid: Iterable[float] = DEFAULT_SHRINKAGE_GRID,
) -> pd.DataFrame:
    """EMD (r=1) and mean-score MSE of the theme baseline on ``val_table`` for each shrinkage in ``grid``."""
    grid = [float(k) for k in grid]
    if not grid:
        raise ValueError("grid is empty; give at least one shrinkage value")
    target = vote_distributions(val_table)
    rows = []
    for k in grid:
        pred = theme_prior_baseline(train_table, val_table, shrinkage=k)
        distances = per_image_distances(pred, target)
        error = distribution_mean(pred) - distribution_mean(target)
        rows.append({"shrinkage": k, "emd1": float(distances["emd1"].mean()), "mse_mean": float(np.mean(error**2))})
    return pd.DataFrame(rows).set_index("shrinkage")


def choose_shrinkage(
    train_table: pd.DataFrame, val_table: pd.DataFrame, grid: Iterable[float] = DEFAULT_SHRINKAGE_GRID,
) -> float:
    """The shrinkage in ``grid`` with the lowest EMD (r=1) on ``val_table`` (ties: the smallest)."""
    curve = shrinkage_curve(train_table, val_table, grid)
    return float(curve["emd1"].idxmin())


def theme_baseline_report(
    train_table: pd.DataFrame,
    val_table: pd.DataFrame,
    test_table: pd.DataFrame,
    grid: Iterable[float] = DEFAULT_SHRINKAGE_GRID,
) -> pd.DataFrame:
    """Global-average vs theme-prior baseline on ``test_table``, every ``metrics.evaluate`` metric.

    The shrinkage is chosen on ``val_table`` (``choose_shrinkage``). Index: "global average",
    "theme prior"; columns ``METRIC_NAMES``. The global baseline predicts one constant distribution,
    so its correlations are NaN (undefined). ``attrs``: ``shrinkage``, ``shrinkage_curve`` (records),
    ``counts`` (train/val/test photos; test photos whose theme has no training photo).
    """
    curve = shrinkage_curve(train_table, val_table, grid)
    shrinkage = float(curve["emd1"].idxmin())
    target = vote_distributions(test_table)
    rows = {
        "global average": evaluate(global_baseline(train_table, test_table), target),
        "theme prior": evaluate(theme_prior_baseline(train_table, test_table, shrinkage), target),
    }
    report = pd.DataFrame.from_dict(rows, orient="index")[list(METRIC_NAMES)]
    report.index.name = "baseline"
    train_themes = set(_theme_ids(train_table).tolist()) - {NO_THEME}
    test_themes = _theme_ids(test_table)
    report.attrs = {
        "shrinkage": shrinkage,
        "shrinkage_curve": curve.reset_index().to_dict("records"),
        "counts": {
            "train": int(len(train_table)),
            "val": int(len(val_table)),
            "test": int(len(test_table)),
            "test_without_theme": int(np.sum(test_themes == NO_THEME)),
            "test_theme_unseen_in_train": int(np.sum([t != NO_THEME and t not in train_themes for t in test_themes])),
        },
    }
    return report


# --------------------------------------------------------------------------------------------------
# Failure analysis (Figs. 7 and 8)


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


# --------------------------------------------------------------------------------------------------
# Aspect ratios (Fig. 6)


def aspect_ratios(sizes: Any) -> np.ndarray:
    """Width / height of each photo -> float64[N].

    sizes: ``[N, 2]`` as ``(h, w)`` (``datasets.image_sizes``' order), or a DataFrame with
    ``width`` and ``height`` columns (``IMAGES.csv``, a label table). Unknown sizes (0) are an error.
    """
    if isinstance(sizes, pd.DataFrame):
        if not {"width", "height"} <= set(sizes.columns):
            raise ValueError(f"sizes DataFrame needs 'width' and 'height' columns, got {list(sizes.columns)}")
        heights = sizes["height"].to_numpy(dtype=np.float64)
        widths = sizes["width"].to_numpy(dtype=np.float64)
    else:
        array = np.asarray(sizes, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 2:
            raise ValueError(f"sizes must be [N, 2] (h, w), got shape {array.shape}")
        heights, widths = array[:, 0], array[:, 1]
    bad = ~(np.isfinite(heights) & np.isfinite(widths) & (heights > 0) & (widths > 0))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} size(s) are unknown or not positive (first at row {int(np.flatnonzero(bad)[0])}); "
                         "drop unreadable photos first (datasets.check_images)")
    return widths / heights


def folder_sizes(folder: PathLike, limit: int | None = None) -> np.ndarray:
    """``int[N, 2]`` (h, w) of the JPEG / PNG photos in ``folder`` and its subfolders (sorted, at most
    ``limit``), read from their headers (no pixels decoded); unreadable files are left out."""
    from workbench.data.datasets import image_sizes

    paths = sorted(str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    if not paths:
        return np.zeros((0, 2), dtype=np.int64)
    sizes = np.asarray(image_sizes(pd.DataFrame({"path": paths})))
    return sizes[(sizes > 0).all(axis=1)]


def aspect_ratio_summary(ratios: Mapping[str, Any] | Any, square_tolerance: float = 0.05) -> pd.DataFrame:
    """Distribution of aspect ratios (w/h) per dataset: one row per name (or "all" for one array).

    Columns ``count``, ``mean``, ``median``, ``min``, ``p05``, ``p95``, ``max``, ``portrait``
    (share with w/h < 1 - tol), ``square`` (within ``square_tolerance`` of 1), ``landscape``, and
    ``ks_vs_first``: the two-sample Kolmogorov-Smirnov distance to the first dataset (Fig. 6 claims
    AVA and Photo.net are "nearly the same").
    """
    if not isinstance(ratios, Mapping):
        ratios = {"all": ratios}
    rows, first = {}, None
    for name, values in ratios.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            raise ValueError(f"no aspect ratios for {name!r}")
        first = values if first is None else first
        rows[name] = {
            "count": int(values.size),
            "mean": float(values.mean()),
            "median": float(np.median(values)),
            "min": float(values.min()),
            "p05": float(np.percentile(values, 5)),
            "p95": float(np.percentile(values, 95)),
            "max": float(values.max()),
            "portrait": float(np.mean(values < 1 - square_tolerance)),
            "square": float(np.mean(np.abs(values - 1) <= square_tolerance)),
            "landscape": float(np.mean(values > 1 + square_tolerance)),
            "ks_vs_first": float(stats.ks_2samp(first, values).statistic),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")


# --------------------------------------------------------------------------------------------------
# Several seeds -> mean ± sd (Tables III-V)


def aggregate_seeds(rows: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, sample sd (ddof 1; NaN for one seed), the half-width of the mean's 95% t-interval
    (``ci95``: t(0.975, n-1) x sd / sqrt(n), scipy.stats; NaN for one seed) and the seed count.

    rows: one row per (model, seed) with columns ``model``, ``seed`` and metric columns. metrics:
    which columns (default: the ``METRIC_NAMES`` present, else every numeric column but ``seed``).
    Returns a DataFrame indexed by model (first-appearance order) with columns ``(metric, "mean")``,
    ``(metric, "sd")``, ``(metric, "ci95")`` and ``("seeds", "n")``. A (model, seed) pair given twice is an error.
    """
    for column in ("model", "seed"):
        if column not in rows.columns:
            raise ValueError(f"rows need a {column!r} column, got {list(rows.columns)}")
    repeated = rows.duplicated(["model", "seed"])
    if repeated.any():
        model, seed = rows.loc[repeated, ["model", "seed"]].iloc[0]
        raise ValueError(f"model {model!r}, seed {seed} appears more than once in rows")
    if metrics is None:
        metrics = [m for m in METRIC_NAMES if m in rows.columns] or [
            c for c in rows.columns if c not in ("model", "seed") and pd.api.types.is_numeric_dtype(rows[c])
        ]
    missing = [m for m in metrics if m not in rows.columns]
    if missing:
        raise ValueError(f"rows lack the metric columns {missing}")
    grouped = rows.groupby("model", sort=False)
    counts = grouped.size()
    # A t interval, not a bootstrap: 3-5 seeds are too few to resample.
    t_quantile = pd.Series(stats.t.ppf(0.975, np.maximum(counts - 1, 1)), index=counts.index).where(counts > 1)
    columns = {}
    for metric in metrics:
        values = grouped[metric]
        columns[(metric, "mean")] = values.mean()
        columns[(metric, "sd")] = values.std(ddof=1)
        columns[(metric, "ci95")] = t_quantile * columns[(metric, "sd")] / np.sqrt(counts)
    columns[("seeds", "n")] = counts
    result = pd.DataFrame(columns)
    result.columns = pd.MultiIndex.from_tuples(result.columns)
    return result


def _decimals_for(metric: str) -> int:
    """The paper's precision: 4 decimals for correlations and MSE, 3 for distances (Tables I-V)."""
    return 4 if metric.startswith(("srcc", "plcc", "mse")) else 3


def format_mean_sd(aggregated: pd.DataFrame, decimals: int | Mapping[str, int] | None = None) -> pd.DataFrame:
    """``aggregate_seeds`` output -> strings "0.7611 ± 0.0042" per model and metric (just the mean
    when there is one seed). decimals: one int, a metric -> int mapping, or None (the paper's)."""
    metrics = [m for m in aggregated.columns.get_level_values(0).unique() if m != "seeds"]
    table = {}
    for metric in metrics:
        if isinstance(decimals, Mapping):
            places = decimals.get(metric, _decimals_for(metric))
        else:
            places = _decimals_for(metric) if decimals is None else int(decimals)
        means, sds = aggregated[(metric, "mean")], aggregated[(metric, "sd")]
        table[metric] = [
            "nan" if not np.isfinite(m) else f"{m:.{places}f}" if not np.isfinite(s) else f"{m:.{places}f} ± {s:.{places}f}"
            for m, s in zip(means, sds)
        ]
    return pd.DataFrame(table, index=aggregated.index)
