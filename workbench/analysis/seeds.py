"""Several seeds -> mean, sd and 95% interval per model and metric, formatted as the paper prints them
(Tables III-V)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from workbench.metrics import METRIC_NAMES

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
