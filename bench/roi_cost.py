"""What the issue-20 ROI pooling and border-strip masking cost against the code they replaced, on stem-sized maps.

Old (copied here as the reference): ``zero_border_strips_`` as two slice writes per photo, and
``pool_regions`` casting the whole map to float32 and letting torchvision make it NCHW-contiguous.
New (the library): two indexed writes per layer whatever the batch, and ROI pooling over chunks of
whole photos with one dtype+layout copy per chunk. Timed side by side, round-robin (common.py), on
random maps of the stem output's shape (C x H x W of Inception-v3's stem at ``--canvas``), photos of
shape-grouped AVA-like sizes. CHECK lines: new == old, exactly (features and gradients).

    python bench/roi_cost.py [--quick] [--canvas 400] [--batches 16 64] [--channels 64] [--json OUT]
"""
from __future__ import annotations

import common  # noqa: F401  (puts the repository root on sys.path)
import torch
from torchvision.ops import roi_pool

from common import base_parser, median, print_header, print_ratio, print_table, runtime_from_args, shape_grouped_sizes, write_json
from workbench.model.roi import pool_regions, roi_boxes, zero_border_strips_


def old_zero_border_strips_(features: torch.Tensor, sizes: torch.Tensor, reach: int) -> torch.Tensor:
    """The replaced ``zero_border_strips_``: two slice writes per photo."""
    with torch.no_grad():
        for index, (h, w) in enumerate(sizes.tolist()):
            features[index, :, h : h + reach, : w + reach] = 0
            features[index, :, :h, w : w + reach] = 0
    return features


def old_pool_regions(features: torch.Tensor, sizes: torch.Tensor, output_size: int) -> torch.Tensor:
    """The replaced ``pool_regions`` (mode "pool"): the whole map to float32, then roi_pool."""
    dtype = features.dtype
    if dtype in (torch.float16, torch.bfloat16):
        features = features.float()
    boxes = roi_boxes(sizes).to(features.device, features.dtype)
    return roi_pool(features, boxes, output_size=output_size, spatial_scale=1.0).to(dtype)


def stem_maps(batch: int, channels: int, canvas: int, seed: int):
    """A shape-grouped batch's stem map ``Tensor[B, C, H, W]`` (stride 2: canvas / 2) and region sizes."""
    (sizes,) = shape_grouped_sizes(batch, 1, canvas, seed)
    regions = torch.as_tensor(sizes, dtype=torch.int64).div(2, rounding_mode="floor")
    height, width = (int(v) for v in regions.max(dim=0).values)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, height + 1, width + 1, generator=generator), regions


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--canvas", type=int, default=None, help="default 400 (128 with --quick)")
    parser.add_argument("--batches", type=int, nargs="+", default=None, help="batch sizes (default 16 64; 2 8 with --quick)")
    parser.add_argument("--channels", type=int, default=None, help="stem channels (default 64, Inception's; 8 with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    args.canvas = args.canvas or (128 if args.quick else 400)
    args.batches = args.batches or ([2, 8] if args.quick else [16, 64])
    args.channels = args.channels or (8 if args.quick else 64)
    args.repeats = args.repeats or (1 if args.quick else 7)
    print_header(f"ROI pooling and border strips, new / old: {args.channels} channels, canvas {args.canvas}", runtime)

    rows, ratios, checks = [], {}, {}
    for batch in args.batches:
        maps, regions = stem_maps(batch, args.channels, args.canvas, args.seed)
        maps = maps.to(runtime.device)
        bf16_last = maps.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        work = {name: maps.clone() for name in ("strips old", "strips new")}

        def pooled_step(fn, source):
            def run() -> None:
                features = source.detach().requires_grad_(True)
                fn(features, regions, args.roi_size).float().sum().backward()

            return run

        new_pool = lambda features, sizes, size: pool_regions(features, sizes, size, "pool")  # noqa: E731
        variants = {
            "strips old": lambda: old_zero_border_strips_(work["strips old"], regions, 1),
            "strips new": lambda: zero_border_strips_(work["strips new"], regions, 1),
            "pool fp32 old": pooled_step(old_pool_regions, maps),
            "pool fp32 new": pooled_step(new_pool, maps),
            "pool bf16 channels_last old": pooled_step(old_pool_regions, bf16_last),
            "pool bf16 channels_last new": pooled_step(new_pool, bf16_last),
        }
        times = runtime.time(variants, args.repeats, args.warmup, desc=f"batch {batch}")
        for name, values in times.items():
            rows.append({"batch": batch, "variant": name, "ms": 1e3 * median(values)})
        for what in ("strips", "pool fp32", "pool bf16 channels_last"):
            ratios[f"{what} [batch {batch}]"] = median(times[f"{what} new"]) / median(times[f"{what} old"])

        # exactness: the same zeros where the next step reads, the same pooled features and gradients
        old_map = old_zero_border_strips_(maps.clone(), regions, 1)
        new_map = zero_border_strips_(maps.clone(), regions, 1)
        strips_same = torch.equal(new_map[old_map == 0], old_map[old_map == 0])
        pooled_same = True
        for source in (maps, bf16_last):
            results = []
            for fn in (old_pool_regions, new_pool):
                features = source.detach().requires_grad_(True)
                pooled = fn(features, regions, args.roi_size)
                pooled.float().sum().backward()
                results.append((pooled, features.grad))
            pooled_same &= torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
        checks[batch] = strips_same and pooled_same

    print_table(rows)
    print()
    for batch, passed in checks.items():
        print(f"CHECK new == old [batch {batch}]: {'PASS' if passed else 'FAIL'} (strips zero what the loop zeroed; pooled features and gradients equal)")
    for name, value in ratios.items():
        print_ratio(f"time new / old {name}", value, "forward + backward" if name.startswith("pool") else "in place, one layer")
    write_json(args.json, {"rows": rows, "ratios": ratios, "checks": {str(k): v for k, v in checks.items()}}, runtime)
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
