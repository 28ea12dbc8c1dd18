"""Themes (Sec. III-B, Fig. 2): per-theme counts, means, stds and mean distributions, and the share of
the variance of photo mean scores and stds that lies between themes."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from workbench.analysis.votes import table_theme_ids, table_theme_name, vote_distributions
from workbench.data.tables import NO_THEME
from workbench.metrics import distribution_mean, distribution_std

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
    themes = table_theme_ids(table)
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
    result.insert(0, "theme", [table_theme_name(table, int(t)) for t in result.index])
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
    themes = table_theme_ids(table)
    keep = themes != NO_THEME
    labels, counts = np.unique(themes[keep], return_counts=True)
    keep &= np.isin(themes, labels[counts >= min_photos])
    rows = {
        "mean": _between_share(distribution_mean(p)[keep], themes[keep]),
        "std": _between_share(distribution_std(p)[keep], themes[keep]),
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quantity")
