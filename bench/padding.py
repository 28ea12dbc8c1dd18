"""Padding waste: naive pad-to-800 batches vs ShapeGroupedBatchSampler batches padded to the batch max.

Photo sizes: the synthetic generator's AVA-like size distribution (and, when present, the 62 real AVA
photos listed in shared/ava/IMAGES.csv, read in place). Padded-pixel fraction = padding pixels / canvas
pixels over the whole epoch (what the stem computes on for nothing). Three batchings, batch 16:

- naive: random batches, each padded to the full 800 x 800 canvas (``pad_batch(canvas=800)``);
- random, batch max: random batches padded to their own largest photo (``pad_batch(canvas=None)``);
- grouped: ``ShapeGroupedBatchSampler`` batches padded to their own largest photo.

A sweep over the sampler's ``pool_batches`` and ``pad_batch``'s ``multiple`` follows, then training
images/s (forward + EMD loss + backward + SGD step) on naive vs grouped batches: batches picked at
evenly spaced quantiles of the grouped canvas area, so their mean cost is the epoch's.
Goal: <= 15% padded pixels, and a measurable speed-up.

    python bench/padding.py [--quick] [--device cpu|cuda] [--json OUT]
"""
from __future__ import annotations

import math

import common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np
import torch

from common import (
    Runtime, ava_like_sizes, base_parser, fit_sizes, median, print_goal, print_header, print_ratio, print_table,
    random_padded_batch, random_targets, real_ava_sizes, runtime_from_args, write_json,
)  # fmt: skip
from workbench.data.batching import ShapeGroupedBatchSampler
from workbench.losses import emd_loss
from workbench.model.build import build_model

GOAL = 0.15


def round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def canvas_of(sizes: np.ndarray, batch: list[int], canvas: int | None, multiple: int) -> tuple[int, int]:
    """(H, W) that ``pad_batch`` gives this batch."""
    if canvas is not None:
        return canvas, canvas
    return round_up(sizes[batch, 0].max(), multiple), round_up(sizes[batch, 1].max(), multiple)


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]


def grouped_batches(sizes: np.ndarray, batch_size: int, seed: int, pool_batches: int) -> list[list[int]]:
    return ShapeGroupedBatchSampler(sizes, batch_size, shuffle=True, seed=seed, pool_batches=pool_batches).all_batches()


def padding_stats(sizes: np.ndarray, batches: list[list[int]], canvas: int | None, multiple: int = 16) -> dict:
    """Epoch padded fraction (pixel weighted), per-batch mean and 90th percentile, canvas pixels."""
    photo_pixels = canvas_pixels = 0
    fractions = []
    for batch in batches:
        h, w = canvas_of(sizes, batch, canvas, multiple)
        photos = int((sizes[batch, 0] * sizes[batch, 1]).sum())
        canvas_pixels_batch = len(batch) * h * w
        photo_pixels += photos
        canvas_pixels += canvas_pixels_batch
        fractions.append(1 - photos / canvas_pixels_batch)
    return {
        "padded %": 100 * (1 - photo_pixels / canvas_pixels),
        "mean batch %": 100 * float(np.mean(fractions)),
        "p90 batch %": 100 * float(np.percentile(fractions, 90)),
        "Mpx/photo": canvas_pixels / len(sizes) / 1e6,
        "batches": len(batches),
    }


def batching_table(name: str, sizes: np.ndarray, args) -> list[dict]:
    rows = []
    for label, batches, canvas in (
        ("naive pad-to-800", random_batches(len(sizes), args.batch, args.seed), args.canvas),
        ("random, batch max", random_batches(len(sizes), args.batch, args.seed), None),
        (f"grouped (pool {args.pool_batches})", grouped_batches(sizes, args.batch, args.seed, args.pool_batches), None),
    ):
        rows.append({"photos": name, "batching": label, **padding_stats(sizes, batches, canvas, args.multiple)})
    return rows


def sweep(sizes: np.ndarray, args) -> list[dict]:
    """Padded % for pool_batches x multiple (pool_batches 1 = no grouping)."""
    all_pools = math.ceil(len(sizes) / args.batch)
    pools = sorted({p for p in (1, 4, 16, 64, 256) if p < all_pools} | {all_pools})
    rows = []
    for pool_batches in pools:
        batches = grouped_batches(sizes, args.batch, args.seed, pool_batches)
        row = {"pool_batches": f"{pool_batches}{' (all)' if pool_batches == all_pools else ''}"}
        for multiple in (1, 8, 16, 32):
            row[f"multiple {multiple}"] = padding_stats(sizes, batches, None, multiple)["padded %"]
        rows.append(row)
    return rows


def quantile_batches(sizes: np.ndarray, batches: list[list[int]], count: int, multiple: int) -> list[list[int]]:
    """``count`` full batches at evenly spaced quantiles of canvas area (their mean cost ~ the epoch's)."""
    full = [b for b in batches if len(b) == max(map(len, batches))]
    full.sort(key=lambda b: np.prod(canvas_of(sizes, b, None, multiple)))
    return [full[min(len(full) - 1, int((i + 0.5) * len(full) / count))] for i in range(count)]


def bench_speed(sizes: np.ndarray, args, runtime: Runtime) -> dict:
    torch.manual_seed(args.seed)
    model = runtime.module(build_model(args.backbone, num_bins=10, roi_size=args.roi_size))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    targets = random_targets(args.batch, 10, args.seed).to(runtime.device)
    grouped = quantile_batches(sizes, grouped_batches(sizes, args.batch, args.seed, args.pool_batches), args.speed_batches, args.multiple)
    naive = [b for b in random_batches(len(sizes), args.batch, args.seed) if len(b) == args.batch][: args.speed_batches]

    def step(indices: list[int], canvas: int | None):
        batch = runtime.batch(random_padded_batch(sizes[indices], canvas=canvas, seed=args.seed, multiple=args.multiple))

        def run() -> None:
            with runtime.autocast():
                loss = emd_loss(model(batch.images, batch.sizes).float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return run

    model.train()
    variants = {}
    for i, (naive_batch, grouped_batch) in enumerate(zip(naive, grouped)):
        variants[f"naive {i}"] = step(naive_batch, args.canvas)
        variants[f"grouped {i}"] = step(grouped_batch, None)
    times = runtime.time(variants, args.repeats, args.warmup, desc="train steps")
    naive_seconds = sum(median(times[f"naive {i}"]) for i in range(len(naive)))
    grouped_seconds = sum(median(times[f"grouped {i}"]) for i in range(len(grouped)))
    pixels = lambda batches, canvas: sum(np.prod(canvas_of(sizes, b, canvas, args.multiple)) for b in batches)  # noqa: E731
    return {
        "naive img/s": len(naive) * args.batch / naive_seconds,
        "grouped img/s": len(grouped) * args.batch / grouped_seconds,
        "canvas pixel ratio": pixels(naive, args.canvas) / pixels(grouped, None),
        "batches timed": len(naive),
    }


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="synthetic sizes drawn (default 4096; 256 with --quick)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--canvas", type=int, default=800, help="the naive batches' canvas")
    parser.add_argument("--pool-batches", type=int, default=64, help="ShapeGroupedBatchSampler pool_batches")
    parser.add_argument("--multiple", type=int, default=16, help="pad_batch multiple for batch-max canvases")
    parser.add_argument("--backbone", default="compact", help="model for the images/s figure")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--speed-batches", type=int, default=None, help="batches of each kind timed (default 4; 1 with --quick)")
    parser.add_argument("--speed-scale", type=float, default=None,
                        help="scale photo sizes and canvas for the timing only (default 1; 0.25 with --quick)")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    args.photos = args.photos or (256 if args.quick else 4096)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.warmup = 0 if args.quick else args.warmup
    args.speed_batches = args.speed_batches or (1 if args.quick else 4)
    args.speed_scale = args.speed_scale or (0.25 if args.quick else 1.0)
    print_header("padding waste: naive pad-to-800 vs shape-grouped batches", runtime)

    synthetic = fit_sizes(ava_like_sizes(args.photos, args.seed), args.canvas)
    rows = batching_table(f"synthetic ({len(synthetic)})", synthetic, args)
    real = real_ava_sizes()
    if real is not None:
        rows += batching_table(f"real AVA ({len(real)})", fit_sizes(real, args.canvas), args)
    else:
        print("(real AVA sizes: shared/ava/IMAGES.csv not found, skipped)")
    print_table(rows)
    print()
    print(f"grouped padded % on the synthetic sizes, pool_batches x multiple (batch {args.batch}):")
    sweep_rows = sweep(synthetic, args)
    print_table(sweep_rows)
    print()

    speed_canvas = round(args.canvas * args.speed_scale)
    speed_args = type(args)(**{**vars(args), "canvas": speed_canvas})
    speed = bench_speed(fit_sizes(np.round(synthetic * args.speed_scale), speed_canvas), speed_args, runtime)
    print_table([{
        "backbone": args.backbone, "canvas": speed_canvas, "batch": args.batch, "batches timed": speed["batches timed"],
        "naive img/s": speed["naive img/s"], "grouped img/s": speed["grouped img/s"],
    }])  # fmt: skip
    print()

    by_key = {(row["photos"].split(" (")[0], row["batching"].split(" (")[0]): row for row in rows}
    grouped_synthetic = by_key[("synthetic", "grouped")]["padded %"]
    naive_synthetic = by_key[("synthetic", "naive pad-to-800")]["padded %"]
    print_ratio("padded fraction grouped [synthetic]", grouped_synthetic / 100, f"naive pad-to-800: {naive_synthetic / 100:.3f}")
    if real is not None:
        print_ratio("padded fraction grouped [real AVA]", by_key[("real AVA", "grouped")]["padded %"] / 100,
                    f"naive pad-to-800: {by_key[('real AVA', 'naive pad-to-800')]['padded %'] / 100:.3f}")
    speed_up = speed["grouped img/s"] / speed["naive img/s"]
    print_ratio(f"train images/s grouped / naive [{args.backbone}]", speed_up,
                f"canvas pixels naive / grouped {speed['canvas pixel ratio']:.2f}: the stem's bound")
    best = min(((row["pool_batches"], key, value) for row in sweep_rows for key, value in row.items() if key != "pool_batches"),
               key=lambda item: item[2])  # fmt: skip
    met = grouped_synthetic <= 100 * GOAL
    detail = f"{grouped_synthetic:.1f}% with pool_batches {args.pool_batches}, multiple {args.multiple}"
    if not met:
        detail += f": {grouped_synthetic - 100 * GOAL:.1f} points over; best in sweep {best[2]:.1f}% (pool_batches {best[0]}, {best[1]})"
    print_goal(f"padded pixels <= {100 * GOAL:.0f}% [synthetic, grouped]", met, detail)
    print_goal("measurable speed-up [grouped vs naive]", speed_up > 1.05, f"{speed_up:.2f}x")
    write_json(args.json, {"rows": rows, "sweep": sweep_rows, "speed": speed, "speed_up": speed_up, "goal": GOAL}, runtime)


if __name__ == "__main__":
    main()
