"""What each input view's pixels still carry about the scores, measured without training a CNN.

The controlled ablation (``workbench.ablation``) asks whether a network fed the ``full`` view (pad +
ROI at full resolution) beats one fed ``resize``, ``resized_pad`` or ``crop``. When every variant
scores about the same, two explanations compete: the pipeline loses the detail before the network
sees it, or the network has not learnt to use it within the budget. This probe separates them. It
reads each view exactly as the model would receive it (``test_samples``, one view, no TTA),
summarises it by a handful of global statistics, and fits a ridge regression of the photos' vote
means and stds on them (with or without per-theme weights):

- ``detail_retention``: Spearman of each view's fine-scale energy with the benchmark's true
  ``gt_grain`` / ``gt_sharpness``. Near 1 at full resolution, near 0 or negative once resized.
- ``view_probe``: SRCC of the probe's predicted mean and std on held-out photos, per view. A view
  that lost information scores lower; a CNN that scores far below the probe on the same view has
  not learnt what its input holds.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage, stats
from tqdm.auto import tqdm

from workbench.analysis.votes import vote_distributions
from workbench.data.augment import TRANSFORMS, test_samples
from workbench.data.images import load_image
from workbench.metrics import distribution_mean, distribution_std

VIEW_STATISTICS = (
    "mean_red", "mean_green", "mean_blue", "luma_std", "saturation", "log_aspect",
    "log_energy_1px", "log_energy_2px", "log_energy_4px",
)  # fmt: skip
ENERGY_SCALES = 3  # Laplacian energy at 1, 2 and 4 px (each scale a 2x2 box average of the previous)
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as PIL's "L" mode


def view_statistics(image: Image.Image) -> np.ndarray:
    """float64[len(VIEW_STATISTICS)]: colour, contrast, aspect and fine-scale energy of an RGB view.

    The energies are log mean squared Laplacians of the luma at the view's own resolution and two
    coarser scales: grain and defocus live at 1-3 px, so they separate views that keep them.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    luma = pixels @ LUMA_WEIGHTS
    values = [*pixels.reshape(-1, 3).mean(axis=0), luma.std(), np.ptp(pixels, axis=2).mean(), np.log(image.width / image.height)]
    for _ in range(ENERGY_SCALES):
        laplacian = ndimage.laplace(luma)[1:-1, 1:-1]  # the border row/column reflects: leave it out
        values.append(np.log(np.mean(laplacian**2) + 1e-10) if laplacian.size else np.log(1e-10))
        h, w = luma.shape[0] // 2 * 2, luma.shape[1] // 2 * 2
        luma = luma[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) if h and w else luma
    return np.asarray(values, dtype=np.float64)


def statistics_table(table: pd.DataFrame, transform: str, canvas: int = 800, progress: bool = True) -> np.ndarray:
    """float64[N, len(VIEW_STATISTICS)]: ``view_statistics`` of each photo's test view of ``transform``.

    table: a label table with a ``path`` column (``read_csv_folder``, ``ava_table``, ...).
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    rows = []
    for path in tqdm(table["path"], desc=f"view statistics ({transform})", disable=not progress, leave=False):
        view = test_samples(load_image(path), transform, tta=False, canvas=canvas)[0]
        rows.append(view_statistics(view))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(VIEW_STATISTICS))


def statistics_tables(
    table: pd.DataFrame, transforms: Sequence[str] = TRANSFORMS, canvas: int = 800, progress: bool = True
) -> dict[str, np.ndarray]:
    """``statistics_table`` of each transform: computed once, for ``view_probe`` and ``detail_retention``."""
    return {transform: statistics_table(table, transform, canvas, progress) for transform in transforms}


def _statistics(table, transform, canvas, progress, computed: Mapping[str, np.ndarray] | None) -> np.ndarray:
    if computed is not None and transform in computed:
        return np.asarray(computed[transform])
    return statistics_table(table, transform, canvas, progress)


def probe_design(features: np.ndarray, theme_ids: np.ndarray | None, num_themes: int) -> np.ndarray:
    """The regression's columns: an intercept and the features, or with themes, both per theme.

    theme_ids: int[N] (``-1`` = no theme: the photo gets only the shared columns) or None.
    """
    features = np.asarray(features, dtype=np.float64)
    shared = np.column_stack([np.ones(len(features)), features])
    if theme_ids is None:
        return shared
    theme_ids = np.asarray(theme_ids)
    if theme_ids.shape != (len(features),) or (theme_ids >= num_themes).any():
        raise ValueError(f"theme_ids must be int[{len(features)}] below num_themes={num_themes}")
    one_hot = (theme_ids[:, None] == np.arange(num_themes)[None, :]).astype(np.float64)
    per_theme = (shared[:, :, None] * one_hot[:, None, :]).reshape(len(features), -1)
    return np.column_stack([shared, per_theme])


def ridge_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression fitted on standardised ``train_x``, predicting ``test_x``.

    A closed form on a few hundred columns: not worth scikit-learn as a dependency. Constant columns
    (the intercept) are centred away rather than penalised.
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    centre, scale = train_x.mean(axis=0), train_x.std(axis=0)
    scale[scale == 0] = 1.0
    x, x_test = (train_x - centre) / scale, (test_x - centre) / scale
    y_centre = train_y.mean()
    weights = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ (train_y - y_centre))
    return x_test @ weights + y_centre


def view_probe(
    train: pd.DataFrame,
    test: pd.DataFrame,
    transforms: Sequence[str] = TRANSFORMS,
    canvas: int = 800,
    alpha: float = 1.0,
    progress: bool = True,
    test_statistics: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Per view, with and without the theme: SRCC of the probe's predicted vote mean and std on ``test``.

    train, test: label tables (votes, ``path``, ``theme_id``, ``attrs["theme_names"]``).
    test_statistics: ``statistics_table(test, transform)`` per transform, when already computed
        (``detail_retention`` reads the same ones).
    Returns one row per (view, theme) with ``srcc_mean``, ``srcc_std``, ``n_train``, ``n_test``.
    """
    targets = {}
    for name, table in (("train", train), ("test", test)):
        distributions = vote_distributions(table)
        targets[name] = distribution_mean(distributions), distribution_std(distributions)
    num_themes = len(train.attrs.get("theme_names") or []) or int(max(train["theme_id"].max(), test["theme_id"].max())) + 1
    rows = []
    for transform in transforms:
        train_stats = statistics_table(train, transform, canvas, progress)
        test_stats = _statistics(test, transform, canvas, progress, test_statistics)
        for use_theme in (False, True):
            train_x = probe_design(train_stats, train["theme_id"].to_numpy() if use_theme else None, num_themes)
            test_x = probe_design(test_stats, test["theme_id"].to_numpy() if use_theme else None, num_themes)
            row = {"view": transform, "theme": use_theme, "n_train": len(train), "n_test": len(test)}
            for index, target in enumerate(("mean", "std")):
                predicted = ridge_predict(train_x, targets["train"][index], test_x, alpha)
                row[f"srcc_{target}"] = float(stats.spearmanr(predicted, targets["test"][index])[0])
            rows.append(row)
    return pd.DataFrame(rows)


def detail_retention(
    table: pd.DataFrame,
    transforms: Sequence[str] = TRANSFORMS,
    attributes: Sequence[str] = ("gt_grain", "gt_sharpness"),
    canvas: int = 800,
    progress: bool = True,
    statistics: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Spearman of each view's 1 px energy (``log_energy_1px``) with known attributes, one row per view.

    table: a synthetic label table holding the ``gt_*`` attribute columns (docs/SYNTHETIC.md).
    statistics: ``statistics_table(table, transform)`` per transform, when already computed.
    """
    missing = [name for name in attributes if name not in table.columns]
    if missing:
        raise ValueError(f"table lacks the attribute columns {missing} (only the synthetic benchmark has them)")
    column = VIEW_STATISTICS.index("log_energy_1px")
    rows = []
    for transform in transforms:
        energy = _statistics(table, transform, canvas, progress, statistics)[:, column]
        rows.append({"view": transform, **{name: float(stats.spearmanr(energy, table[name])[0]) for name in attributes}})
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench probe --data-root DIR [--train N] [--transforms ...] [--out CSV]``."""
    import argparse

    from workbench.data.csv_folder import read_csv_folder

    parser = argparse.ArgumentParser(prog="python -m workbench probe", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="a folder + CSV dataset (e.g. the synthetic benchmark)")
    parser.add_argument("--train", type=int, default=1200, help="training photos for the probe (first N of the train split)")
    parser.add_argument("--transforms", nargs="+", default=list(TRANSFORMS), choices=list(TRANSFORMS))
    parser.add_argument("--canvas", type=int, default=800)
    parser.add_argument("--alpha", type=float, default=1.0, help="ridge penalty on standardised columns")
    parser.add_argument("--out", help="write the probe's table to this CSV")
    args = parser.parse_args(argv)
    table = read_csv_folder(args.data_root)
    if table.attrs.get("synthetic"):
        print("data: SYNTHETIC benchmark (not AVA)", flush=True)
    train, test = table[table["split"] == "train"].head(args.train), table[table["split"] == "test"]
    if len(train) < 2 or len(test) < 2:
        return _fail(f"{args.data_root} needs at least 2 train and 2 test photos, has {len(train)} and {len(test)}")
    test_statistics = statistics_tables(test, args.transforms, args.canvas)
    result = view_probe(train, test, args.transforms, args.canvas, args.alpha, test_statistics=test_statistics)
    print(result.to_string(index=False, float_format="%.3f"))
    if all(name in table.columns for name in ("gt_grain", "gt_sharpness")):
        retention = detail_retention(test, args.transforms, canvas=args.canvas, statistics=test_statistics)
        print(retention.to_string(index=False, float_format="%.3f"))
    if args.out:
        result.to_csv(args.out, index=False)
    return 0


def _fail(message: str) -> int:
    import sys

    print(f"python -m workbench probe: error: {message}", file=sys.stderr)
    return 2
