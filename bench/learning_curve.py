"""Learning curve of the head stage: training photos vs validation SRCC, from frozen ImageNet features.

EfficientNet-Lite0 (the demo's backbone: ImageNet weights, ROI after the stem, multi-level features)
caches one view (no augmentation) of the first ``--train`` training photos and of the validation split
once; then the theme branch + head are trained on the first n photos for each n (``workbench.head_stage``,
40 epochs, lr 0.01, theme dropout 0.2: the demo recipe's head stage) and scored on validation.

    python bench/learning_curve.py --data-root data/synth [--train 2400] [--sizes 300 600 1200 2400] [--cache FILE]
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np
import torch

from common import base_parser, print_header, print_ratio, print_table, write_json
from workbench.config import TrainConfig
from workbench.data.prepare import prepare_table
from workbench.data.datasets import AestheticDataset
from workbench.head_stage import extract_features, fit_head
from workbench.metrics import evaluate
from workbench.model.build import build_model


def cached_features(args) -> dict:
    """{split: (features [N, D], targets [N, K], themes [N])}, from ``--cache`` when it exists."""
    if args.cache and Path(args.cache).is_file():
        return torch.load(args.cache, weights_only=True)
    table = prepare_table(TrainConfig(data_root=args.data_root, limit_images=args.train, backbone="efficientnet_lite0"), verbose=False)
    model = build_model("efficientnet_lite0", num_bins=10, num_themes=16, pretrained=not args.quick, freeze_bn=True)
    cache = {}
    for split in ("train", "val"):
        dataset = AestheticDataset(table, split, "full", 800)
        features, _ = extract_features(model, dataset, 1, 16, torch.device("cpu"), progress=not args.quick)
        cache[split] = {"features": features[:, 0], "targets": dataset.targets, "themes": torch.tensor(np.asarray(dataset.themes))}
    if args.cache:
        torch.save(cache, args.cache)
    return cache


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="data/synth")
    parser.add_argument("--train", type=int, default=2400, help="training photos to cache (the largest size)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 600, 1200, 2400])
    parser.add_argument("--cache", default=None, help="file to keep the cached features in (reused when present)")
    args = parser.parse_args()
    if args.quick:  # a tiny benchmark of its own: the figures mean nothing
        from workbench.data.synth import generate_dataset

        args.data_root = str(generate_dataset(Path(tempfile.mkdtemp()) / "synth", 48, seed=0, workers=1, progress=False))
        args.train, args.sizes = 24, [12, 24]
    if args.threads:
        torch.set_num_threads(args.threads)
    print_header("head stage learning curve: training photos vs validation SRCC (frozen ImageNet features)", None)
    cache = cached_features(args)
    train, val = cache["train"], cache["val"]
    rows = []
    for n in args.sizes:
        torch.manual_seed(args.seed)
        model = build_model("efficientnet_lite0", num_bins=10, num_themes=16)
        features = train["features"][:n]
        fit_head(model, features[:, None], torch.ones(len(features), 1, dtype=torch.bool), train["targets"][:n], train["themes"][:n],
                 epochs=2 if args.quick else 40, batch_size=16, lr=0.01, theme_dropout=0.2, seed=args.seed, progress=False)  # fmt: skip
        model.eval()
        row = {"train photos": len(features)}
        with torch.no_grad():
            for name, themes in (("theme", val["themes"]), ("no theme", torch.full_like(val["themes"], -1))):
                metrics = evaluate(model.predict_from_features(val["features"], themes).numpy(), val["targets"].numpy())
                row.update({f"srcc_mean {name}": metrics["srcc_mean"], f"srcc_std {name}": metrics["srcc_std"], f"emd1 {name}": metrics["emd1"]})
        rows.append(row)
    print_table(rows)
    print_ratio("srcc_mean with theme, most / fewest photos", rows[-1]["srcc_mean theme"] / rows[0]["srcc_mean theme"])
    write_json(args.json, {"rows": rows, "val": len(val["features"])})


if __name__ == "__main__":
    main()
