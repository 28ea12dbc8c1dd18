"""The theme-only baseline: each photo predicted by its theme's average distribution, shrunk toward the
global average (``theme_prior_baseline``), against the global-average baseline (``theme_baseline_report``)."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from workbench.analysis.votes import table_theme_ids, vote_distributions
from workbench.data.tables import NO_THEME
from workbench.metrics import METRIC_NAMES, distribution_mean, evaluate, per_image_distances

DEFAULT_SHRINKAGE_GRID = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, math.inf)


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
    themes = table_theme_ids(train_table)
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
    themes = table_theme_ids(test_table)
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
    train_themes = set(table_theme_ids(train_table).tolist()) - {NO_THEME}
    test_themes = table_theme_ids(test_table)
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
