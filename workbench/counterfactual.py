"""Counterfactual photos of the synthetic benchmark: change one attribute, see truth and prediction move.

A photo ``(index, seed)`` of the benchmark can be redrawn with one attribute set
(``generate_image(..., overrides=...)``): everything else in the scene stays. The truth of each
version is known (``expected_distribution``), so for every view of the model one can ask how much
of the truth's movement the prediction follows. This is the test of the paper's first claim at the
scale of a single photo: full resolution should follow the 1-px film grain that a resize averages away.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import distribution_moments, expected_distribution
from workbench.metrics import distribution_mean
from workbench.predict import Predictor

VIEWS = ("full", "resize", "resized_pad", "crop")


def attribute_response(
    predictor: Predictor,
    indices: Sequence[int],
    attribute: str,
    values: Sequence[float] = (0.0, 1.0),
    theme: str | None = "Film Grain",
    seed: int = 0,
    views: Sequence[str] = ("full", "resize"),
) -> pd.DataFrame:
    """One row per (photo, value): the true mean score and each view's predicted mean.

    Each photo ``index`` of the benchmark drawn with ``seed`` is redrawn as made for ``theme`` with
    ``attribute`` set to each of ``values`` (``overrides``); predictions are under ``theme`` too
    (None: no theme, truth under the photo's own theme). Columns: ``index``, ``value``, ``true_mean``,
    ``true_std``, ``<view>_mean`` for each view.
    """
    rows: list[dict[str, Any]] = []
    for index in indices:
        for value in values:
            overrides: dict[str, Any] = {attribute: value}
            if theme is not None:
                overrides["theme"] = theme
            image, attributes = generate_image(int(index), seed, overrides=overrides)
            true_mean, true_std = distribution_moments(expected_distribution(attributes, attributes["theme"]))
            row = {"index": int(index), "value": float(value), "true_mean": true_mean, "true_std": true_std}
            features = predictor.features([image], view=list(views))
            for view in views:
                row[f"{view}_mean"] = float(distribution_mean(predictor.predict_from_features(features, theme, view=view))[0])
            rows.append(row)
    return pd.DataFrame(rows)


def response_summary(response: pd.DataFrame, views: Sequence[str] | None = None) -> pd.DataFrame:
    """Per photo, the change from the lowest to the highest value: truth and each view; plus the
    mean row. Also ``<view>_share``: the view's change as a share of the truth's (mean over photos)."""
    views = views or [column.removesuffix("_mean") for column in response if column.endswith("_mean") and column != "true_mean"]
    low, high = response["value"].min(), response["value"].max()
    first = response[response["value"] == low].set_index("index")
    last = response[response["value"] == high].set_index("index")
    change = pd.DataFrame({"true": last["true_mean"] - first["true_mean"]})
    for view in views:
        change[view] = last[f"{view}_mean"] - first[f"{view}_mean"]
    summary = change.copy()
    summary.loc["mean"] = change.mean()
    for view in views:
        summary[f"{view}_share"] = np.nan
        summary.loc["mean", f"{view}_share"] = change[view].mean() / change["true"].mean()
    return summary
