"""Where one training step's time goes: the top 10 kernels of ``torch.profiler`` for the paper's configuration.

One shape-grouped batch (``common.shape_grouped_sizes``: what an epoch draws from AVA-like sizes, padded
to its largest photo), Inception-v3 at canvas 800, roi 146 (compact, canvas 256 with --quick); warm-up
steps first (cudnn autotuning, compilation), then one profiled training step (forward + EMD loss +
backward + SGD step). The table is sorted by self time on the device (CUDA) or the CPU: on CUDA the
rows are kernels and copies, on CPU aten operators. Each of its rows is also printed as a ``KERNEL``
line (rank, self ms, % of the step, name) for the logs.

    python bench/profile_step.py [--device cuda] [--batch 128] [--compile] [--trace OUT.json]
"""
from __future__ import annotations

import common  # noqa: F401  (puts the repository root on sys.path)
import torch
from torch.profiler import ProfilerActivity, profile

from common import (
    base_parser, print_header, random_padded_batch, random_targets, runtime_from_args, shape_grouped_sizes, train_step,
)  # fmt: skip
from workbench.model.build import build_model

NUM_BINS, NUM_THEMES, TOP = 10, 16, 10


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--backbone", default=None, help="default inception_v3 (compact with --quick)")
    parser.add_argument("--canvas", type=int, default=None, help="default 800 (256 with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--batch", type=int, default=None, help="default 64 on CUDA, 2 on CPU")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone body (as workbench.train does)")
    parser.add_argument("--trace", default=None, help="also export a Chrome trace (chrome://tracing, Perfetto) here")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    args.backbone = args.backbone or ("compact" if args.quick else "inception_v3")
    args.canvas = args.canvas or (256 if args.quick else 800)
    args.batch = args.batch or (64 if runtime.cuda else 2)
    warmup = max(args.warmup, 3 if args.compile else 2 if runtime.cuda else 1)
    print_header(f"one training step profiled: {args.backbone}, canvas {args.canvas}, roi {args.roi_size}, batch {args.batch}", runtime)

    torch.manual_seed(args.seed)
    model = runtime.module(build_model(args.backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES, roi_size=args.roi_size))
    if args.compile:
        model.compile_fixed_shape_layers()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    (sizes,) = shape_grouped_sizes(args.batch, 1, args.canvas, args.seed)
    batch = runtime.batch(random_padded_batch(sizes, None, args.seed, device=runtime.device))
    themes = torch.randint(0, NUM_THEMES, (args.batch,), generator=torch.Generator().manual_seed(0)).to(runtime.device)
    targets = random_targets(args.batch, NUM_BINS, args.seed).to(runtime.device)
    model.train()

    def step() -> None:
        train_step(model, optimizer, runtime, batch, themes, targets)

    for _ in range(warmup):
        step()
    runtime.sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if runtime.cuda else [])
    with profile(activities=activities) as profiler:
        step()
        runtime.sync()
    if args.trace:
        profiler.export_chrome_trace(args.trace)
    averages = profiler.key_averages()
    key = "self_device_time_total" if runtime.cuda else "self_cpu_time_total"
    print(f"batch {tuple(batch.images.shape)} ({100 * batch.padded_fraction:.1f}% padding), sorted by {key}")
    print(averages.table(sort_by=key, row_limit=TOP, max_name_column_width=60))
    rows = sorted(averages, key=lambda event: getattr(event, key), reverse=True)[:TOP]
    total = sum(getattr(event, key) for event in averages if event.key != "ProfilerStep*")
    for rank, event in enumerate(rows, 1):
        self_time = getattr(event, key)
        print(f"KERNEL {rank:2d} {self_time / 1e3:10.3f} ms {100 * self_time / total:5.1f}% {event.key}")


if __name__ == "__main__":
    main()
