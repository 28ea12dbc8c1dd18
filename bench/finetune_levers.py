"""Does fine-tuning the backbone widen full resolution's lead on sharpness? Measured on VALIDATION scenes.

Issue 24 asks the full view to move >= 2x the resize view's own head on grain, sharpness and blur. The head
levers (bench/head_levers.py) and a ridge readout of the frozen features (bench/feature_readout.py) say the
frozen ImageNet features keep about twice the resize's sharpness and no more. This bench tries the lever
left: fine-tuning. For each view (``full``, ``resize``) it loads a trained run (its view's own head), measures
that head's share of the truth's change on the sharpness / grain / blur probes over validation scenes and its
SRCC(mean) against the truth on the validation photos, fine-tunes the backbone layers chosen (``--layers``)
and the view's head on that view's training photos, with the head stage's objective (each photo's truth
under every theme, its own theme weighed ``own_theme_weight``), then measures again. Each view gets its
own copy of the backbone, as Table III trains one model per transform: the trainer's end-to-end epochs
fine-tune one shared backbone and so refuse ``view_heads``. The last table: the full / resize ratio with
its paired bootstrap interval over the scenes, before and after.

    python bench/finetune_levers.py --run runs/demo --data-root data/synth --photos 4751 --lr-backbone 3e-4
    python bench/finetune_levers.py ... --layers early --lr-backbone 1e-3 --epochs 2   # stem + stages 0-2 only

SYNTHETIC benchmark; one seed per row. ~6 min an epoch of 4,751 full-view photos on 2 cores (resize ~4).
"""
from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from workbench.data.batching import ShapeGroupedBatchSampler
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset, collate_padded
from workbench.data.synth_truth import truth_under_every_theme
from workbench.fidelity import ATTRIBUTE_PROBES, _srcc, attribute_scene_changes, dataset_seed, summarise_attribute_changes
from workbench.head_stage import dataset_themes, own_theme_pair_weights
from workbench.losses import training_loss
from workbench.metrics import distribution_mean
from workbench.predict import Predictor
from workbench.runtime import init_worker

PROBES = [probe for probe in ATTRIBUTE_PROBES if probe.name.split()[0] in ("sharpness", "grain", "blur")]
EARLY_STAGES = 3  # --layers early: the stem and the body's first three stages (the layers at the finest scale)


def measure(predictor: Predictor, view: str, validation: pd.DataFrame, scenes: list[int], seed: int) -> tuple[pd.DataFrame, float]:
    """The probes' per-scene changes for ``view`` and its SRCC(mean) against the truth on the validation photos."""
    changes = attribute_scene_changes(predictor, scenes, seed, PROBES, [view])
    features = predictor.features(validation["path"].tolist(), view=[view])
    truth = truth_under_every_theme(validation, predictor.theme_names)[np.arange(len(validation)), validation["theme_id"].to_numpy()]
    pred = predictor.predict_from_features(features, validation["theme"].tolist(), view=view)
    return changes, _srcc(distribution_mean(pred), distribution_mean(truth))


def fine_tune(predictor: Predictor, view: str, table: pd.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    """Fine-tune ``predictor.model``'s backbone layers and ``view``'s head on ``view``'s training photos, in place."""
    model = predictor.model.float()
    heads = model.heads_for(view)
    model.requires_grad_(False)
    stages = [module for _, module in model.backbone.body_stages()]
    layers = [model.backbone] if args.layers == "all" else [model.backbone.stem, *stages[:EARLY_STAGES]]
    backbone = [parameter for layer in layers for parameter in layer.parameters()]
    head = [parameter for module in (heads.theme_branch, heads.head) for parameter in module.parameters()]
    for parameter in backbone + head:
        parameter.requires_grad_(True)
    optimizer = torch.optim.SGD(
        [{"params": backbone, "lr": args.lr_backbone}, {"params": head, "lr": args.lr_head}], momentum=0.9, weight_decay=1e-4,
    )  # fmt: skip
    train_set = AestheticDataset(table, "train", view, predictor.canvas, train=True, augment="flip", seed=args.seed)
    targets = torch.from_numpy(truth_under_every_theme(train_set.table, train_set.theme_names)).float()  # [N, T, K]
    pair_weights = own_theme_pair_weights(dataset_themes(train_set, True), model.num_themes, args.own_theme_weight)
    sampler = ShapeGroupedBatchSampler(train_set.sizes, args.batch_size, seed=args.seed)

    def batches():
        for epoch in range(1, args.epochs + 1):  # epoch 0's views are the ones the head stage cached
            train_set.set_epoch(epoch)
            sampler.set_epoch(epoch)
            yield from DataLoader(train_set, batch_sampler=list(sampler), collate_fn=functools.partial(collate_padded, canvas=None),
                                  num_workers=1, worker_init_fn=init_worker)  # fmt: skip

    torch.manual_seed(args.seed)  # the head's dropout
    model.train()
    losses, started = [], time.perf_counter()
    for data in tqdm(batches(), total=args.epochs * len(sampler), desc=f"fine-tuning the {view} view", dynamic_ncols=True):
        if data is None:
            continue
        features = model.features(data["batch"].images, data["batch"].sizes)
        pred = model.predict_every_theme(features, view=view)
        rows = data["index"]
        loss = training_loss(pred.flatten(0, 1), targets[rows].flatten(0, 1), r=2, std_weight=1.0, sample_weight=pair_weights[rows].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval().requires_grad_(False)
    return {"seconds": time.perf_counter() - started, "steps": len(losses), "loss_first": float(np.mean(losses[:20])), "loss_last": float(np.mean(losses[-20:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/demo", help="a trained run of configs/demo_synthetic.yaml (its best.pt, with a resize head)")
    parser.add_argument("--data-root", default="data/synth")
    parser.add_argument("--photos", type=int, default=4751, help="the first this many training photos")
    parser.add_argument("--scenes", type=int, default=100, help="validation scenes redrawn per probe")
    parser.add_argument("--layers", choices=("all", "early"), default="all")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr-backbone", type=float, default=3e-4)
    parser.add_argument("--lr-head", type=float, default=1e-4)
    parser.add_argument("--own-theme-weight", type=float, default=15.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0, help="the batches' order and the flips")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    table = read_csv_folder(args.data_root)
    training = table.index[table["split"] == "train"][: args.photos]
    subset = table[table.index.isin(training) | (table["split"] != "train")].copy()
    subset.attrs = table.attrs
    validation = table[table["split"] == "val"].reset_index(drop=True)
    scenes = validation["image_id"].astype(int).tolist()[: args.scenes]
    seed = dataset_seed(args.data_root)
    views, changes, rows = ("full", "resize"), {}, []
    for view in views:
        predictor = Predictor.from_checkpoint(Path(args.run) / "best.pt")
        before, srcc_before = measure(predictor, view, validation, scenes, seed)
        trained = fine_tune(predictor, view, subset, args)
        after, srcc_after = measure(predictor, view, validation, scenes, seed)
        changes[view] = (before, after)
        rows.append({"view": view, "srcc_mean_before": srcc_before, "srcc_mean_after": srcc_after, **trained})
    print(f"SYNTHETIC benchmark, validation; fine-tuning {args.layers} layers, {args.epochs} epoch(s) of {len(training)} photos, "
          f"lr {args.lr_backbone} (backbone) / {args.lr_head} (head)")  # fmt: skip
    print(pd.DataFrame(rows).set_index("view").round(4).to_string())
    summaries = {}
    for stage, index in (("before", 0), ("after", 1)):
        merged = changes["full"][index].copy()
        merged["resize"] = changes["resize"][index]["resize"].to_numpy()
        summary = summarise_attribute_changes(merged, views, bootstrap=1000)
        summary["full_over_resize"] = summary["full_share"] / summary["resize_share"]
        columns = ["truth", "full_share", "resize_share", "full_over_resize", "full_over_resize_low", "full_over_resize_high"]
        summaries[stage] = summary[columns]
        print(f"\n== {stage} fine-tuning ==\n{summary[columns].round(3).to_string()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "views": rows, **{k: v.reset_index().to_dict("records") for k, v in summaries.items()}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
