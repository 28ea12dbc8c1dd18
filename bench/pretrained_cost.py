"""What full resolution costs on the pretrained CPU backbone: EfficientNet-Lite0 Pad+ROI vs Resize-224.

Pad+ROI: the synthetic benchmark's AVA-like photo sizes (long side 300-800), grouped by shape into
batches (``ShapeGroupedBatchSampler``, as training does) and zero-padded to each batch's largest
photo; the stem sees full resolution, ROI pooling gives 112x112. Resize-224: the same number of
photos as 224x224 inputs (the stem's 112x112 map, ROI pooled to 112: the plain network's geometry).
Both share weights (ImageNet, frozen BatchNorm: the demo recipe). One epoch over the photos is timed
for a training step (forward + EMD loss + backward + SGD step) and for inference, interleaved. The
training step is timed twice: fine-tuning everything (the paper) and with the stem frozen at its
ImageNet weights (``TrainConfig.freeze_stem``), where the full-resolution part runs forward only.
One more row times the full fine-tuning with the stem's last activation before ROI max pooling
(``RoiBackbone.activate_after_max_pooling`` off), to measure what running it on the pooled map saves.

    python bench/pretrained_cost.py [--photos 64] [--batch 16] [--epoch-photos 4751] [--threads 2] [--json OUT]
"""
from __future__ import annotations

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import (
    base_parser, median, padded_fraction, print_goal, print_header, print_ratio, print_table, random_padded_batch,
    random_targets, runtime_from_args, shape_grouped_sizes, write_json,
)  # fmt: skip
from workbench.losses import emd_loss
from workbench.model.build import build_model

NUM_BINS, NUM_THEMES = 10, 16
GOAL = 1.5  # full-resolution training at most 1.5x the cost of resize-224 (issue 12)


def epoch_batches(photos: int, batch_size: int, canvas: int, seed: int, epoch_photos: int):
    """``photos / batch_size`` shape-grouped padded batches as a training epoch over ``epoch_photos``
    AVA-like sizes forms them (``shape_grouped_sizes``), and as many 224x224 batches."""
    groups = shape_grouped_sizes(batch_size, max(1, photos // batch_size), canvas, seed, epoch_photos)
    full = [random_padded_batch(sizes, canvas=None, seed=seed + i) for i, sizes in enumerate(groups)]
    resized = [random_padded_batch([(224, 224)] * len(sizes), canvas=None, seed=seed + i) for i, sizes in enumerate(groups)]
    return full, resized, padded_fraction(full)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--canvas", type=int, default=800)
    parser.add_argument("--epoch-photos", type=int, default=4751, help="photos the shape grouping chooses from (the demo's training set)")
    args = parser.parse_args()
    if args.quick:
        args.photos, args.batch, args.canvas, args.epoch_photos = 4, 2, 256, 4
    runtime = runtime_from_args(args)
    repeats = args.repeats or (1 if args.quick else 3)
    print_header("EfficientNet-Lite0: Pad+ROI (shape-grouped, full resolution) vs Resize-224", runtime)
    torch.manual_seed(args.seed)
    network = build_model(
        "efficientnet_lite0", num_bins=NUM_BINS, num_themes=NUM_THEMES, pretrained=not args.quick, freeze_bn=True,
    )  # fmt: skip
    model = runtime.module(network)
    full, resized, padded = epoch_batches(args.photos, args.batch, args.canvas, args.seed, args.epoch_photos)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed)

    def run(batches, train: bool, frozen_stem: bool = False, activation_first: bool = False):
        def epoch() -> None:
            model.train(train)
            network.backbone.stem.requires_grad_(not frozen_stem)  # TrainConfig.freeze_stem
            network.backbone.activate_after_max_pooling = not activation_first  # the plain order, for comparison
            for batch in batches:
                batch = runtime.batch(batch)
                themes = torch.randint(0, NUM_THEMES, (len(batch),), generator=generator).to(runtime.device)
                if train:
                    with runtime.autocast():
                        pred = model(batch.images, batch.sizes, themes)
                    loss = emd_loss(pred.float(), random_targets(len(batch), NUM_BINS).to(runtime.device))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                else:
                    with torch.inference_mode(), runtime.autocast():
                        model(batch.images, batch.sizes, themes)

        return epoch

    calls = {"Pad+ROI train": run(full, True), "Resize-224 train": run(resized, True),
             "Pad+ROI train, frozen stem": run(full, True, frozen_stem=True),
             "Resize-224 train, frozen stem": run(resized, True, frozen_stem=True),
             "Pad+ROI train, stem activation before pooling": run(full, True, activation_first=True),
             "Pad+ROI infer": run(full, False), "Resize-224 infer": run(resized, False)}  # fmt: skip
    times = runtime.time(calls, repeats, args.warmup, desc="epochs")
    rows = [{"variant": name, "images/s": args.photos / median(times[name]), "s/epoch": median(times[name])} for name in calls]
    print_table(rows)
    print(f"padding: {100 * padded:.1f}% of the Pad+ROI pixels ({len(full)} shape-grouped batches of an epoch over {args.epoch_photos} photos)")
    ratios = {}
    for mode in ("train", "train, frozen stem", "infer"):
        ratios[mode] = median(times[f"Pad+ROI {mode}"]) / median(times[f"Resize-224 {mode}"])
        print_ratio(f"{mode} time Pad+ROI / Resize-224 [efficientnet_lite0]", ratios[mode], "x; 1 = same cost")
    saved = median(times["Pad+ROI train"]) / median(times["Pad+ROI train, stem activation before pooling"])
    print_ratio("train time Pad+ROI, stem activation after / before ROI max pooling", saved, "x; < 1: after is cheaper")
    for mode in ("train", "train, frozen stem"):
        print_goal(f"full-resolution training cost ({mode})", ratios[mode] <= GOAL, f"{ratios[mode]:.2f}x vs <= {GOAL}x")
    write_json(args.json, {"rows": rows, "ratios": ratios, "activation_after_over_before": saved, "padded_fraction": padded, "photos": args.photos,
                           "epoch_photos": args.epoch_photos}, runtime)  # fmt: skip


if __name__ == "__main__":
    main()
