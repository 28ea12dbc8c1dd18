"""What full resolution costs: Pad+ROI on an 800 canvas vs the Resize-299 baseline, both backbones.

Pad+ROI: AVA-like photos (the synthetic generator's sizes) zero-padded top-left into a canvas x canvas
batch, ROI pooled to roi_size 146 after the stem. Resize 299: 299 x 299 inputs with roi_size 73, which
is standard Inception-v3 geometry (the stem maps 299 to 147, and maxpool1 maps 147 to 73). Both
variants of a backbone share weights.

Figures per backbone: images/s for a training step (forward + EMD loss + backward + SGD step) and for
inference, and the peak memory per image (CUDA: max_memory_allocated; CPU: peak RSS delta).

    python bench/full_resolution.py [--quick] [--device cpu|cuda] [--json OUT]
"""
from __future__ import annotations

import common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np
import torch

from common import (
    MIB, Runtime, add_model_options, ava_like_sizes, base_parser, fit_sizes, median, peak_memory, print_header, print_ratio,
    print_table, random_padded_batch, random_targets, resolve_model_options, runtime_from_args, train_step, write_json,
)  # fmt: skip
from workbench.model.build import build_model

NUM_BINS = 10
NUM_THEMES = 16


def make_train_step(model, batch, themes, targets, runtime: Runtime):
    """One SGD step: forward, EMD loss (eq. 7), backward, step -- what a training loop repeats."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step() -> None:
        model.train()
        train_step(model, optimizer, runtime, batch, themes, targets)

    return step


def make_inference(model, batch, themes, runtime: Runtime):
    def infer() -> None:
        model.eval()
        with torch.inference_mode(), runtime.autocast():
            model(batch.images, batch.sizes, themes)

    return infer


def bench_backbone(backbone: str, batch_size: int, args, runtime: Runtime) -> list[dict]:
    torch.manual_seed(args.seed)
    full = build_model(backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES, roi_size=args.roi_size)
    resized = build_model(backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES, roi_size=args.baseline_roi_size)
    resized.load_state_dict(full.state_dict())
    full, resized = runtime.module(full), runtime.module(resized)

    sizes = fit_sizes(ava_like_sizes(batch_size, args.seed), args.canvas)
    inputs = {
        "Pad+ROI": runtime.batch(random_padded_batch(sizes, canvas=args.canvas, seed=args.seed)),
        "Resize": runtime.batch(random_padded_batch([(args.baseline_size,) * 2] * batch_size, canvas=args.baseline_size, seed=args.seed)),
    }  # fmt: skip
    models = {"Pad+ROI": full, "Resize": resized}
    themes = torch.randint(0, NUM_THEMES, (batch_size,), generator=torch.Generator().manual_seed(args.seed)).to(runtime.device)
    targets = random_targets(batch_size, NUM_BINS, args.seed).to(runtime.device)

    calls = {}
    for name in ("Pad+ROI", "Resize"):
        calls[(name, "train")] = make_train_step(models[name], inputs[name], themes, targets, runtime)
        calls[(name, "infer")] = make_inference(models[name], inputs[name], themes, runtime)
    times = runtime.time({f"{name} {mode}": fn for (name, mode), fn in calls.items()}, args.repeats, args.warmup,
                         desc=f"{backbone} b{batch_size}")
    memory = {}
    if not args.no_memory:
        for key, fn in calls.items():
            memory[key] = peak_memory(fn, runtime) / batch_size

    rows = []
    for name in ("Pad+ROI", "Resize"):
        batch = inputs[name]
        rows.append({
            "backbone": backbone,
            "variant": f"{name} {args.canvas if name == 'Pad+ROI' else args.baseline_size}",
            "batch": batch_size,
            "canvas": "x".join(map(str, batch.images.shape[-2:])),
            "roi_size": models[name].backbone.roi_size,
            "padded %": 100 * batch.padded_fraction,
            "train img/s": batch_size / median(times[f"{name} train"]),
            "infer img/s": batch_size / median(times[f"{name} infer"]),
            "train MiB/img": memory.get((name, "train"), float("nan")) / MIB,
            "infer MiB/img": memory.get((name, "infer"), float("nan")) / MIB,
        })  # fmt: skip
    return rows


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    add_model_options(parser)
    parser.add_argument("--baseline-size", type=int, default=299)
    parser.add_argument("--baseline-roi-size", type=int, default=73)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    batch_sizes = resolve_model_options(args, runtime, repeats=5)
    print_header("full resolution: Pad+ROI vs Resize 299", runtime)

    rows = []
    for backbone in args.backbones:
        rows += bench_backbone(backbone, batch_sizes.get(backbone, 4), args, runtime)
    print_table(rows)
    print()
    ratios = {}
    for backbone in args.backbones:
        full, resized = (row for row in rows if row["backbone"] == backbone)
        for key, label in (("train img/s", "train images/s"), ("infer img/s", "inference images/s"),
                           ("train MiB/img", "train peak memory/image"), ("infer MiB/img", "inference peak memory/image")):  # fmt: skip
            value = full[key] / resized[key] if resized[key] and not np.isnan(resized[key]) else float("nan")
            ratios[f"{label} {backbone}"] = value
            print_ratio(f"{label} Pad+ROI-{args.canvas} / Resize-{args.baseline_size} [{backbone}]", value,
                        "x; <1 = full resolution is slower" if "images/s" in label else "x")  # fmt: skip
    write_json(args.json, {"rows": rows, "ratios": ratios, "canvas": args.canvas, "repeats": args.repeats}, runtime)


if __name__ == "__main__":
    main()
