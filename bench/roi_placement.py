"""Where EfficientNet-Lite0's ROI pooling sits: accuracy of frozen ImageNet features, and cost.

For each placement (``after_stem``: only the stem convolution sees the full-resolution canvas;
``after_block0``: the stem and block 0) and for the Resize-299 view, the pretrained backbone's
features of the synthetic benchmark's photos are cached once (one view, no augmentation) and the
theme branch + head are trained on them (``workbench.head_stage``, the first stage of the demo
recipe); the test split is scored with and without the theme. The cost columns are the backbone's
forward time per photo over the same photos (shape-grouped, one run).

    python bench/roi_placement.py --data-root data/synth6k [--train 1500] [--test 600] [--json OUT]
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import base_parser, print_header, print_ratio, print_table, write_json
from workbench.config import TrainConfig
from workbench.data.prepare import prepare_table
from workbench.data.augment import transform_canvas
from workbench.data.datasets import AestheticDataset
from workbench.evaluation import evaluate_model
from workbench.head_stage import dataset_themes, extract_features, fit_head
from workbench.metrics import evaluate
from workbench.model.build import build_model

CONFIGURATIONS = (  # (name, roi_position, transform)
    ("after_block0, full", "after_block0", "full"),
    ("after_stem, full", "after_stem", "full"),
    ("after_stem, resize 299", "after_stem", "resize"),
    ("after_block0, resize 299", "after_block0", "resize"),
)


def measure(name: str, roi_position: str, transform: str, table, args) -> dict:
    torch.manual_seed(args.seed)
    canvas = transform_canvas(transform, 800)
    train_set = AestheticDataset(table, "train", transform, canvas, train=True, augment="none", seed=args.seed)
    test_set = AestheticDataset(table, "test", transform, canvas)
    model = build_model(
        "efficientnet_lite0", num_bins=train_set.num_bins, num_themes=len(train_set.theme_names), pretrained=True,
        freeze_bn=True, roi_position=roi_position, multi_level=args.multi_level,
    )  # fmt: skip
    device = torch.device("cpu")
    start = time.perf_counter()
    features, loaded = extract_features(model, train_set, 1, 16, device, progress=False)
    seconds_per_photo = (time.perf_counter() - start) / len(train_set)
    fit_head(
        model, features, loaded, train_set.targets, dataset_themes(train_set, True), epochs=args.head_epochs,
        batch_size=16, lr=args.lr, theme_dropout=0.2, seed=args.seed, progress=False,
    )  # fmt: skip
    row = {"configuration": name, "ms_per_photo": 1000 * seconds_per_photo}
    for themes in (True, False):
        pred, target, _ = evaluate_model(model, test_set, 16, device, themes=themes)
        metrics = evaluate(pred, target)
        suffix = "theme" if themes else "no_theme"
        row[f"srcc_mean_{suffix}"] = metrics["srcc_mean"]
        row[f"srcc_std_{suffix}"] = metrics["srcc_std"]
        row[f"emd1_{suffix}"] = metrics["emd1"]
    print(row, flush=True)
    return row


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="data/synth6k")
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--test", type=int, default=600)
    parser.add_argument("--head-epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--multi-level", action="store_true", help="multi-level features (the default model's); off: the last layer's")
    args = parser.parse_args()
    if args.quick:  # a tiny benchmark of its own: the figures mean nothing
        from workbench.data.synth import generate_dataset

        args.data_root = str(generate_dataset(Path(tempfile.mkdtemp()) / "synth", 64, seed=0, workers=1, progress=False))
        args.train, args.test, args.head_epochs = 24, 8, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    print_header("EfficientNet-Lite0: where the ROI sits (frozen ImageNet features + trained head)", None)
    config = TrainConfig(data_root=args.data_root, limit_images=max(args.train, args.test), backbone="efficientnet_lite0")
    table = prepare_table(config, verbose=False)
    train_rows = table.index[table["split"] == "train"][: args.train]
    test_rows = table.index[table["split"] == "test"][: args.test]
    table = table.loc[train_rows.union(test_rows)]
    rows = [measure(name, position, transform, table, args) for name, position, transform in CONFIGURATIONS]
    print_table(rows)
    by_name = {row["configuration"]: row for row in rows}
    print_ratio("backbone time after_block0 / after_stem (full)", by_name["after_block0, full"]["ms_per_photo"] / by_name["after_stem, full"]["ms_per_photo"])
    write_json(args.json, {"rows": rows, "train": len(train_rows), "test": len(test_rows)})


if __name__ == "__main__":
    main()
