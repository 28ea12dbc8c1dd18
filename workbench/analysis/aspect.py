"""Aspect ratios (Fig. 6): width / height of photos, read from sizes or headers, summarised per dataset."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from workbench.data.tables import image_sizes

PathLike = str | os.PathLike

def aspect_ratios(sizes: Any) -> np.ndarray:
    """Width / height of each photo -> float64[N].

    sizes: ``[N, 2]`` as ``(h, w)`` (``data.tables.image_sizes``' order), or a DataFrame with
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
                         "drop unreadable photos first (data.tables.check_images)")
    return widths / heights


def folder_sizes(folder: PathLike, limit: int | None = None) -> np.ndarray:
    """``int[N, 2]`` (h, w) of the JPEG / PNG photos in ``folder`` and its subfolders (sorted, at most
    ``limit``), read from their headers (no pixels decoded); unreadable files are left out."""
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
