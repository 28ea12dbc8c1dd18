"""Which lever makes the head learn each theme's criterion? Measured on VALIDATION photos of the benchmark.

Issue 24 asks for a table "lever -> targets", chosen on validation and confirmed once on test. Every row
trains a theme branch + head on the SAME cached backbone features (the head stage's own cache of a
training run, ``runs/<name>/head_features/train-full.pt``, so the backbone runs once) and differs in one
thing: the head (concat / FiLM), the feature (global averages / + the spatial grid), the targets (each
photo's votes under its own theme / the noise-free truth under every theme), or the number of photos.
Columns: SRCC(mean), SRCC(std), EMD(r=1) against the truth under the photo's theme; the theme-response
slope and sign agreement; the spread of the predicted means over the truth's; the no-theme SRCC(mean);
the lowest per-theme SRCC; and the full view's share of the truth's change for the two composition probes
(subject centre -> thirds under Rule of Thirds, centre -> edge under Symmetry) and the two fine-scale ones
(sharpness and grain 0 -> 1; issue 24 asks the full view to move >= 2x the resize view's own head on them),
20 validation scenes each.

    python bench/head_levers.py --run runs/demo16k --data-root data/synth16k     # SYNTHETIC benchmark
    python bench/head_levers.py --run runs/demo --data-root data/synth --view resize   # the resize view's own head
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from workbench.data.datasets import AestheticDataset
from workbench.data.prepare import prepare_table
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import distribution_moments, expected_distribution, truth_under_every_theme
from workbench.config import TrainConfig
from workbench.fidelity import ATTRIBUTE_PROBES, _srcc, agreement, theme_response
from workbench.head_stage import dataset_themes, extract_features, fit_head
from workbench.inference import photo_features
from workbench.metrics import distribution_mean
from workbench.model.build import build_model

GLOBAL_DIM = 1776  # efficientnet_lite0's multi-level global averages; the spatial grid follows them
PROBES = [probe for probe in ATTRIBUTE_PROBES if probe.theme in ("Rule of Thirds", "Symmetry", "Macro Detail", "Film Grain")]


def head_model(config: TrainConfig, head: str, grid: bool, num_themes: int, dropout: float):
    model = build_model(
        "efficientnet_lite0", num_bins=10, num_themes=num_themes, pretrained=False, freeze_bn=True, head=head,
        no_theme="posterior", spatial_grid=grid, grid_channels=config.grid_channels, dropout=dropout,
    )  # fmt: skip
    return model


def predictions(model, features: torch.Tensor, themes: torch.Tensor, every_theme: bool = False) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        if every_theme:
            rows = [model.predict_from_features(features, torch.full((len(features),), t)) for t in range(model.num_themes)]
            return torch.stack(rows, dim=1).double().numpy()
        return model.predict_from_features(features, themes).double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a training run of configs/demo_synthetic.yaml (its head_features cache)")
    parser.add_argument("--data-root", default="data/synth16k")
    parser.add_argument("--config", default="configs/demo_synthetic.yaml")
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--view", default="full", help="the view whose head the rows train (full, resize, resized_pad, crop; the run's view_heads cache)")
    parser.add_argument("--rows", default="all", help="';'-separated parts of row names (each picks the rows containing it), or all")
    parser.add_argument("--out", default="results/head_levers.csv")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = TrainConfig.from_yaml(args.config, data_root=args.data_root, out_dir=args.run)
    table = prepare_table(config, verbose=True)
    train_set = AestheticDataset(table, "train", "full", config.canvas, train=True, augment=config.augment, seed=config.seed)
    val_set = AestheticDataset(table, "val", args.view, config.canvas)  # every view is cut from the canvas-fitted photo
    cache = torch.load(Path(args.run) / "head_features" / f"train-{args.view}.pt", weights_only=True)
    features, loaded = cache["features"], cache["loaded"]
    themes = dataset_themes(train_set, True)
    extractor = build_model("efficientnet_lite0", num_bins=10, num_themes=16, pretrained=True, freeze_bn=True, spatial_grid=True).eval()
    started = time.perf_counter()
    val_cache = Path(args.run) / "head_features" / f"val-{args.view}.pt"
    if val_cache.is_file():
        val = torch.load(val_cache, weights_only=True)
        val_features = val["features"]
    else:
        val_features, _ = extract_features(extractor, val_set, 1, 16, torch.device("cpu"), progress=True)
        torch.save({"features": val_features}, val_cache)
    val_features = val_features[:, 0]
    val_themes = torch.tensor(np.asarray(val_set.themes))
    truth_all = truth_under_every_theme(val_set.table, val_set.theme_names)
    own = np.asarray(val_set.themes)
    truth, votes = truth_all[np.arange(len(own)), own], val_set.targets.double().numpy()
    # the probes: validation scenes redrawn with one attribute moved (the subject, sharpness, grain), the view's features once
    scene_ids = val_set.table["image_id"].astype(int).tolist()[: args.scenes]
    probe_images, probe_truth = [], []
    for probe in PROBES:
        for index in scene_ids:
            for overrides in (probe.low, probe.high):
                image, attributes = generate_image(index, 0, overrides={**overrides, "theme": probe.theme})
                probe_images.append(image)
                probe_truth.append(distribution_moments(expected_distribution(attributes, probe.theme))[0])

    probe_cache = Path(args.run) / "head_features" / f"probes-{args.view}-{len(PROBES)}x{args.scenes}.pt"
    if probe_cache.is_file():
        probe_features = torch.load(probe_cache, weights_only=True)["features"]
    else:
        probe_values, _, _ = photo_features(extractor, probe_images, (args.view,), False, config.canvas, 8, torch.device("cpu"))
        probe_features = probe_values[:, 0]
        torch.save({"features": probe_features}, probe_cache)
    print(f"validation and probe features: {time.perf_counter() - started:.0f} s", flush=True)
    train_truth = None
    # name -> (head, grid, targets, photos, changes to the config's fit: epochs, own_theme_weight, dropout = head_dropout)
    recipe = {"own_theme_weight": config.own_theme_weight}
    rows = {
        "concat, global, votes (the previous recipe)": ("concat", False, "votes", None, {}),
        "concat, global, every theme": ("concat", False, "every_theme", None, {}),
        "film, global, every theme": ("film", False, "every_theme", None, {}),
        "film, global + grid, votes": ("film", True, "votes", None, {}),
        "film, global + grid, every theme (4,751 photos)": ("film", True, "every_theme", 4751, {}),
        "film, global + grid, every theme, all pairs alike": ("film", True, "every_theme", None, {}),
        "film, global + grid, every theme (the recipe)": ("film", True, "every_theme", None, recipe),
        "the recipe, own theme weight 5": ("film", True, "every_theme", None, {"own_theme_weight": 5.0}),
        "the recipe, 60 epochs": ("film", True, "every_theme", None, {**recipe, "epochs": 2 * config.head_epochs}),
        "the recipe, head dropout 0.2": ("film", True, "every_theme", None, {**recipe, "dropout": 0.2}),
        "the recipe, head dropout 0": ("film", True, "every_theme", None, {**recipe, "dropout": 0.0}),
        "the recipe, head dropout 0, own theme weight 5": ("film", True, "every_theme", None, {"own_theme_weight": 5.0, "dropout": 0.0}),
        "the recipe, head dropout 0.2, own theme weight 5": ("film", True, "every_theme", None, {"own_theme_weight": 5.0, "dropout": 0.2}),
    }
    # --rows: ';'-separated parts of row names, run in the order given (the recipe first, to decide early)
    chosen = list(rows) if args.rows == "all" else list(dict.fromkeys(name for part in args.rows.split(";") for name in rows if part.strip() in name))
    results = []
    for name in chosen:
        head, grid, targets_kind, photos, changes = rows[name]
        torch.manual_seed(config.seed)
        model = head_model(config, head, grid, 16, changes.get("dropout", config.head_dropout))
        width = None if grid else GLOBAL_DIM
        train_features = features if width is None else features[..., :width]
        train_loaded = loaded.clone()
        if photos is not None:
            train_loaded[photos:] = False  # the first photos: the 6,000-photo benchmark's training split
        if targets_kind == "every_theme" and train_truth is None:
            train_truth = torch.from_numpy(truth_under_every_theme(train_set.table, train_set.theme_names)).float()
        targets = train_truth if targets_kind == "every_theme" else train_set.targets
        start = time.perf_counter()
        fit_head(model, train_features, train_loaded, targets, themes, epochs=changes.get("epochs", config.head_epochs), batch_size=config.head_batch_size or config.batch_size,
                 lr=config.head_lr, weight_decay=config.weight_decay, theme_dropout=config.theme_dropout, emd_r=config.emd_r,
                 seed=config.seed, progress=False, optimizer=config.head_optimizer, std_weight=config.std_loss_weight,
                 own_theme_weight=changes.get("own_theme_weight", 1.0))  # fmt: skip
        seconds = time.perf_counter() - start
        val_in = val_features if width is None else val_features[:, :width]
        with_theme = predictions(model, val_in, val_themes)
        without = predictions(model, val_in, torch.full_like(val_themes, -1))
        measured = agreement(with_theme, truth, votes, bootstrap=200)
        response = theme_response(predictions(model, val_in, val_themes, every_theme=True), truth_all, own, bootstrap=0)
        pred_mean, truth_mean = distribution_mean(with_theme), distribution_mean(truth)
        per_theme = [_srcc(pred_mean[own == t], truth_mean[own == t]) for t in range(16)]
        probe_in = probe_features if width is None else probe_features[:, :width]
        row = {
            "lever": name, "srcc_mean": measured["srcc_mean"], "srcc_std": measured["srcc_std"], "emd1": measured["emd1"],
            "slope": response["slope"], "sign": response["sign_agreement"], "spread": measured["spread_ratio"],
            "bias": measured["mean_bias"], "no_theme_srcc": agreement(without, truth, votes, bootstrap=0)["srcc_mean"],
            "min_theme_srcc": float(np.nanmin(per_theme)),
        }  # fmt: skip
        for p, probe in enumerate(PROBES):
            part = slice(p * 2 * len(scene_ids), (p + 1) * 2 * len(scene_ids))
            theme_ids = torch.full((2 * len(scene_ids),), val_set.theme_names.index(probe.theme))
            means = distribution_mean(predictions(model, probe_in[part], theme_ids)).reshape(-1, 2)
            change_truth = np.asarray(probe_truth[part]).reshape(-1, 2)
            row[f"{probe.name} share"] = float((means[:, 1] - means[:, 0]).mean() / (change_truth[:, 1] - change_truth[:, 0]).mean())
        row["fit_s"] = seconds
        results.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
    frame = pd.DataFrame(results).set_index("lever")
    print(f"\nVALIDATION split of the SYNTHETIC benchmark (648 photos), the {args.view} view, against the noise-free truth:")
    print(frame.to_string(float_format=lambda v: f"{v:.3f}"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out)


if __name__ == "__main__":
    main()
