"""How much of an attribute do a view's frozen backbone features keep? Linear readout on VALIDATION photos.

The head can only follow what the feature carries: issue 24 asks the full view to move >= 2x the resize view's
own head on sharpness, and every head lever that raises the full view's share raises the resize head's too
(bench/head_levers.py --view, results/head_levers_resolution.csv). This measures the ceiling the features set:
a ridge regression from each view's cached features of the benchmark's first 6,000 training photos to the
true attribute (the benchmark's ``gt_*`` columns), R^2 on the 648 validation photos, level by level (the
global average of the ROI-pooled stem, then of each stage, cumulated) and for the whole feature.

    python bench/head_levers.py --run runs/demo --data-root data/synth --rows "(the recipe)" --view resize  # caches val features
    python bench/feature_readout.py --run runs/demo --data-root data/synth --views full resize
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


def level_channels(config: TrainConfig) -> list[int]:
    """Channels of each level of the global feature (``MultiLevelBody.level_channels``): the ROI-pooled stem's, then each stage's."""
    body = build_model(config.backbone, num_bins=10, pretrained=False, spatial_grid=config.spatial_grid).backbone.body
    first_conv = next(module for module in body.stages[0].modules() if isinstance(module, torch.nn.Conv2d))
    return body.level_channels(first_conv.in_channels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a training run of configs/demo_synthetic.yaml (its head_features cache)")
    parser.add_argument("--data-root", default="data/synth")
    parser.add_argument("--config", default="configs/demo_synthetic.yaml")
    parser.add_argument("--views", nargs="+", default=["full", "resize"])
    parser.add_argument("--attributes", nargs="+", default=["sharpness", "grain", "blur"])
    parser.add_argument("--out", default="results/feature_readout.csv")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = TrainConfig.from_yaml(args.config, data_root=args.data_root, out_dir=args.run)
    table = prepare_table(config, verbose=True)
    train_table = AestheticDataset(table, "train", "full", config.canvas).table.iloc[:TRAIN_PHOTOS]
    rows = []
    for view in args.views:
        cache = torch.load(Path(args.run) / "head_features" / f"train-{view}.pt", weights_only=True)
        loaded = cache["loaded"][:TRAIN_PHOTOS, 0].numpy()
        train_x = cache["features"][:TRAIN_PHOTOS, 0].double().numpy()[loaded]
        val_set = AestheticDataset(table, "val", view, config.canvas)
        val_cache = Path(args.run) / "head_features" / f"val-{view}.pt"
        if val_cache.is_file():  # head_levers.py's cache of the same features
            val_features = torch.load(val_cache, weights_only=True)["features"]
        else:
            extractor = build_model(config.backbone, num_bins=10, pretrained=True, freeze_bn=True, spatial_grid=config.spatial_grid).eval()
            val_features, _ = extract_features(extractor, val_set, 1, 16, torch.device("cpu"), progress=True)
            torch.save({"features": val_features}, val_cache)
        val_x = val_features[:, 0].double().numpy()
        edges = np.cumsum([0, *level_channels(config)])
        for attribute in args.attributes:
            train_y = train_table[f"gt_{attribute}"].to_numpy(float)[loaded]
            val_y = val_set.table[f"gt_{attribute}"].to_numpy(float)
            row = {"view": view, "attribute": attribute}
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
