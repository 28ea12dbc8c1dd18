"""How much of an attribute do a view's frozen backbone features keep? Linear readout on VALIDATION photos.

The head can only follow what the feature carries: issue 24 asks the full view to move >= 2x the resize view's
own head on sharpness, and every head lever that raises the full view's share raises the resize head's too
(bench/head_levers.py --view, results/head_levers_resolution.csv). This measures the ceiling the features set:
a ridge regression from each view's cached features of the benchmark's first 6,000 training photos to the
true attribute (the benchmark's ``gt_*`` columns), R^2 on the 648 validation photos, level by level (the
global average of the ROI-pooled stem, then of each stage, cumulated) and for the whole feature.

``--roi-sizes`` asks whether pooling the full-resolution stem less lets the full view read more: at a side other
than the run's, both views' features are extracted afresh by a backbone pooling to that side (the head stage's
augmented training views, cached under the run's ``head_features/readout-roi*`` files), so the sizes compare alike;
``--roi-position after_block0`` runs the stem and block 0 at full resolution before the ROI.

    python bench/head_levers.py --run runs/demo --data-root data/synth --rows "(the recipe)" --view resize  # caches val features
    python bench/feature_readout.py --run runs/demo --data-root data/synth --views full resize
    python bench/feature_readout.py --run runs/demo --data-root data/synth --roi-sizes 112 160 200 --out results/feature_readout_roi.csv
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from workbench.config import TrainConfig
from workbench.data.datasets import AestheticDataset
from workbench.data.prepare import prepare_table
from workbench.head_stage import extract_features
from workbench.model.build import build_model

TRAIN_PHOTOS = 6000
ALPHAS = np.logspace(-1, 5, 13)
RECIPE_POSITION = "after_stem"  # where the recipe's backbone ROI-pools (efficientnet_lite.py's roi_position)


def ridge_r2(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> float:
    """Best validation R^2 over ``ALPHAS`` of a ridge fit on standardised features. Closed form in numpy:
    scikit-learn is not a dependency for one normal-equation solve."""
    mean, scale = train_x.mean(0), train_x.std(0) + 1e-6
    a, b = (train_x - mean) / scale, (val_x - mean) / scale
    y_mean = train_y.mean()
    gram, moment = a.T @ a, a.T @ (train_y - y_mean)
    best = -np.inf
    for alpha in ALPHAS:
        weights = np.linalg.solve(gram + alpha * np.eye(len(gram)), moment)
        residual = ((b @ weights + y_mean - val_y) ** 2).sum()
        best = max(best, 1 - residual / ((val_y - val_y.mean()) ** 2).sum())
    return float(best)


def level_channels(config: TrainConfig, roi_position: str = RECIPE_POSITION) -> list[int]:
    """Channels of each level of the global feature (``MultiLevelBody.level_channels``): the ROI-pooled map's, then each stage's."""
    body = build_model(config.backbone, num_bins=10, pretrained=False, spatial_grid=config.spatial_grid, roi_position=roi_position).backbone.body
    first_conv = next(module for module in body.stages[0].modules() if isinstance(module, torch.nn.Conv2d))
    return body.level_channels(first_conv.in_channels)


def frozen_extractor(config: TrainConfig, roi_size: int, roi_position: str = RECIPE_POSITION) -> torch.nn.Module:
    """The recipe's backbone at its ImageNet weights, BatchNorm frozen, pooling each photo's map at ``roi_position``
    to ``roi_size``."""
    return build_model(
        config.backbone, num_bins=10, roi=config.roi, roi_size=roi_size, pretrained=True, freeze_bn=True, spatial_grid=config.spatial_grid,
        roi_position=roi_position,
    ).eval()  # fmt: skip


def run_features(config: TrainConfig, table: pd.DataFrame, view: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's cached features of ``view`` (its head stage's; the validation photos' as head_levers.py caches
    them, extracted here when missing): training ``[N, D]``, which training photos loaded ``[N]``, validation ``[M, D]``."""
    run = Path(config.out_dir)
    cache = torch.load(run / "head_features" / f"train-{view}.pt", weights_only=True)
    val_cache = run / "head_features" / f"val-{view}.pt"
    if val_cache.is_file():
        val = torch.load(val_cache, weights_only=True)["features"]
    else:
        val, _ = extract_features(frozen_extractor(config, config.roi_size), AestheticDataset(table, "val", view, config.canvas), 1, 16, torch.device("cpu"), progress=True)
        torch.save({"features": val}, val_cache)
    return cache["features"][:, 0].double().numpy(), cache["loaded"][:, 0].numpy(), val[:, 0].double().numpy()


def fresh_features(
    config: TrainConfig, table: pd.DataFrame, view: str, roi_size: int, photos: int, roi_position: str = RECIPE_POSITION,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """``run_features`` from a backbone pooling to ``roi_size`` at ``roi_position``: the first ``photos`` training
    photos as the head stage sees them (one augmented view, seeded alike) and the validation photos, cached beside the run's."""
    position = "" if roi_position == RECIPE_POSITION else f"-{roi_position}"
    cache = Path(config.out_dir) / "head_features" / f"readout-roi{roi_size}{position}-{view}-{photos}.pt"
    if not cache.is_file():
        train_rows = AestheticDataset(table, "train", view, config.canvas).table.iloc[:photos]
        train_set = AestheticDataset(train_rows, None, view, config.canvas, train=True, augment=config.augment, seed=config.seed)
        val_set = AestheticDataset(table, "val", view, config.canvas)
        extractor = frozen_extractor(config, roi_size, roi_position)
        train, loaded = extract_features(extractor, train_set, 1, 16, torch.device("cpu"), progress=True)
        val, _ = extract_features(extractor, val_set, 1, 16, torch.device("cpu"), progress=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"train": train, "loaded": loaded, "val": val}, cache)
    saved = torch.load(cache, weights_only=True)
    return saved["train"][:, 0].double().numpy(), saved["loaded"][:, 0].numpy(), saved["val"][:, 0].double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a training run of configs/demo_synthetic.yaml (its head_features cache)")
    parser.add_argument("--data-root", default="data/synth")
    parser.add_argument("--config", default="configs/demo_synthetic.yaml")
    parser.add_argument("--views", nargs="+", default=["full", "resize"])
    parser.add_argument("--attributes", nargs="+", default=["sharpness", "grain", "blur"])
    parser.add_argument("--photos", type=int, default=TRAIN_PHOTOS, help="the first N training photos fit the readout")
    parser.add_argument("--roi-sizes", type=int, nargs="+", default=None, help="ROI sides to compare (default: the run's)")
    parser.add_argument("--roi-position", choices=["after_stem", "after_block0"], default=RECIPE_POSITION,
                        help="after_block0: the stem and block 0 at full resolution, then the ROI (features extracted afresh)")
    parser.add_argument("--out", default="results/feature_readout.csv")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = TrainConfig.from_yaml(args.config, data_root=args.data_root, out_dir=args.run)
    table = prepare_table(config, verbose=True)
    train_table = AestheticDataset(table, "train", "full", config.canvas).table.iloc[: args.photos]
    val_table = AestheticDataset(table, "val", "full", config.canvas).table
    edges = np.cumsum([0, *level_channels(config, args.roi_position)])
    rows = []
    for roi_size in args.roi_sizes or [config.roi_size]:
        for view in args.views:
            if roi_size == config.roi_size and args.roi_position == RECIPE_POSITION:
                train_x, loaded, val_x = run_features(config, table, view)
                train_x, loaded = train_x[: args.photos], loaded[: args.photos]
            else:
                train_x, loaded, val_x = fresh_features(config, table, view, roi_size, args.photos, args.roi_position)
            train_x = train_x[loaded]
            for attribute in args.attributes:
                train_y = train_table[f"gt_{attribute}"].to_numpy(float)[loaded]
                val_y = val_table[f"gt_{attribute}"].to_numpy(float)
                row = {"roi_position": args.roi_position, "roi_size": roi_size, "photos": int(loaded.sum()), "view": view, "attribute": attribute}
                for level in range(1, len(edges)):
                    row[f"levels <= {level - 1}"] = ridge_r2(train_x[:, : edges[level]], train_y, val_x[:, : edges[level]], val_y)
                row["whole feature"] = ridge_r2(train_x, train_y, val_x, val_y)
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    frame = pd.DataFrame(rows)
    print("\nVALIDATION R^2 of a ridge readout (level 0: the ROI-pooled stem's global average; then each stage's, cumulated):")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()
