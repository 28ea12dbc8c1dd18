"""Throughput of the paper's configuration: Inception-v3, canvas 800, roi 146, at batch 16 and the largest batch.

Training steps (forward + EMD loss + backward + SGD step) and inference, images/s and peak memory, with
AVA-like photos (the synthetic generator's sizes) zero-padded into the 800 x 800 canvas. On CUDA: autocast
bf16 + channels_last (``--no-amp``, ``--no-channels-last`` to compare), optionally ``--compile``.

The largest batch is found per mode by doubling from 16 until a step runs out of memory, then
bisecting between the last batch that fit and the first that did not (``--max-batch-cap`` bounds the
search; on CPU nothing runs out of memory, so the search runs there only with --quick or an explicit
--max-batch-cap, and the cap is then the answer).

    python bench/paper_throughput.py [--device cuda] [--compile] [--json OUT]
    python bench/paper_throughput.py --device cpu --quick       # smoke test (compact, canvas 256)
"""
from __future__ import annotations

import gc

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import (
    MIB, Runtime, ava_like_sizes, base_parser, fit_sizes, median, peak_memory, print_header, print_ratio, print_table,
    random_padded_batch, random_targets, runtime_from_args, write_json,
)  # fmt: skip
from workbench.losses import emd_loss
from workbench.model.build import build_model

NUM_BINS = 10
NUM_THEMES = 16


class Bench:
    """One model (and optimizer) and a cache of input batches, for steps at any batch size."""

    def __init__(self, args, runtime: Runtime):
        torch.manual_seed(args.seed)
        self.args, self.runtime = args, runtime
        model = build_model(args.backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES, roi_size=args.roi_size,
                            freeze_bn=args.freeze_bn)  # fmt: skip
        self.model = runtime.module(model)
        if args.compile:
            model.compile_fixed_shape_layers()  # as workbench.train does: the body after ROI pooling
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-4, momentum=0.9)
        self.sizes = fit_sizes(ava_like_sizes(max(args.max_batch_cap, args.batch), args.seed), args.canvas)

    def inputs(self, batch_size: int):
        sizes = self.sizes[:batch_size]
        batch = self.runtime.batch(random_padded_batch(sizes, self.args.canvas, self.args.seed, device=self.runtime.device))
        themes = torch.randint(0, NUM_THEMES, (batch_size,), generator=torch.Generator().manual_seed(0)).to(self.runtime.device)
        targets = random_targets(batch_size, NUM_BINS, self.args.seed).to(self.runtime.device)
        return batch, themes, targets

    def step(self, mode: str, batch_size: int):
        """A callable running one training step or one inference forward at ``batch_size``."""
        batch, themes, targets = self.inputs(batch_size)
        model = self.model
        runtime = self.runtime

        def train() -> None:
            model.train()
            with runtime.autocast():
                prediction = model(batch.images, batch.sizes, themes)
            loss = emd_loss(prediction.float(), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

        def infer() -> None:
            model.eval()
            with torch.inference_mode(), runtime.autocast():
                model(batch.images, batch.sizes, themes)

        return train if mode == "train" else infer

    def fits(self, mode: str, batch_size: int) -> bool:
        """Whether two steps at ``batch_size`` run without running out of device memory."""
        ok, step = True, None
        try:
            step = self.step(mode, batch_size)
            step()
            step()
            self.runtime.sync()
        except torch.OutOfMemoryError:
            ok = False  # the exception (and the tensors its traceback holds) is gone after this block
        del step
        self.optimizer.zero_grad(set_to_none=True)
        gc.collect()
        if self.runtime.cuda:
            torch.cuda.empty_cache()
        return ok

    def largest_batch(self, mode: str, start: int) -> tuple[int, list[tuple[int, bool]]]:
        """Doubling from ``start`` until out of memory (or the cap), then bisecting; returns (batch, trials)."""
        cap = self.args.max_batch_cap
        trials: list[tuple[int, bool]] = []
        good, bad = 0, None
        size = min(start, cap)
        while size <= cap:
            ok = self.fits(mode, size)
            trials.append((size, ok))
            if not ok:
                bad = size
                break
            good = size
            if size == cap:
                break
            size = min(size * 2, cap)
        while good == 0 and size > 1:  # not even ``start`` fits: halve until one does
            size //= 2
            ok = self.fits(mode, size)
            trials.append((size, ok))
            good = size if ok else 0
        if good == 0:
            raise SystemExit(f"{mode}: not even a batch of 1 fits in device memory")
        if bad is not None:  # bisect (good, bad) to within 1/8 of good (a few trials)
            while bad - good > max(1, good // 8):
                middle = (good + bad) // 2
                ok = self.fits(mode, middle)
                trials.append((middle, ok))
                good, bad = (middle, bad) if ok else (good, middle)
        return good, trials


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--backbone", default=None, help="default inception_v3 (compact with --quick)")
    parser.add_argument("--canvas", type=int, default=None, help="default 800 (256 with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--batch", type=int, default=None, help="the fixed batch (default 16; 2 with --quick)")
    parser.add_argument("--max-batch-cap", type=int, default=None,
                        help="upper bound of the largest-batch search (default 1024 on CUDA, 4 with --quick; CPU: no search unless given)")
    parser.add_argument("--no-max-batch", action="store_true", help="skip the largest-batch search")
    parser.add_argument("--compile", action="store_true", help="torch.compile the backbone body for the timed steps (as workbench.train does)")
    parser.add_argument("--freeze-bn", action="store_true", help="frozen BatchNorm (the paper's Inception-v3 recipe)")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    args.backbone = args.backbone or ("compact" if args.quick else "inception_v3")
    args.canvas = args.canvas or (256 if args.quick else 800)
    args.batch = args.batch or (2 if args.quick else 16)
    skip_search_on_cpu = not (runtime.cuda or args.quick or args.max_batch_cap or args.no_max_batch)
    args.no_max_batch = args.no_max_batch or skip_search_on_cpu
    args.max_batch_cap = args.max_batch_cap or (4 if args.quick else 1024 if runtime.cuda else args.batch)
    args.repeats = args.repeats or (1 if args.quick else 5 if runtime.cuda else 2)
    args.warmup = 0 if args.quick and not args.compile else max(args.warmup, 2 if args.compile else 1)
    print_header(f"paper configuration: {args.backbone}, canvas {args.canvas}, roi {args.roi_size}", runtime)
    if skip_search_on_cpu:
        print("(largest-batch search skipped on CPU: nothing runs out of memory; pass --max-batch-cap N to search)")

    bench = Bench(args, runtime)
    largest = {}
    search = {}
    for mode in ("train", "infer"):
        if args.no_max_batch:
            largest[mode] = args.batch
            continue
        largest[mode], search[mode] = bench.largest_batch(mode, args.batch)
        tried = ", ".join(f"{size}{'' if ok else ' OOM'}" for size, ok in search[mode])
        print(f"largest {mode} batch: {largest[mode]} (tried {tried}; cap {args.max_batch_cap})")
    if runtime.cuda:
        # Leave headroom: the searched batch fit with the allocator's cache emptied; timing keeps it full.
        largest = {mode: max(args.batch, int(size * 0.9)) if size > args.batch else size for mode, size in largest.items()}
        print(f"timed at 90% of the largest batch (allocator headroom): {largest}")

    rows = []
    for mode in ("train", "infer"):
        batch_sizes = sorted({min(args.batch, largest[mode]), largest[mode]})
        steps = {f"{mode} b{size}": bench.step(mode, size) for size in batch_sizes}
        times = runtime.time(steps, args.repeats, args.warmup, desc=mode)
        for size in batch_sizes:
            memory = peak_memory(steps[f"{mode} b{size}"], runtime)
            rows.append({
                "mode": mode, "batch": size, "largest": "yes" if size == largest[mode] and not args.no_max_batch else "",
                "img/s": size / median(times[f"{mode} b{size}"]), "ms/step": 1e3 * median(times[f"{mode} b{size}"]),
                "peak MiB": memory / MIB, "MiB/img": memory / MIB / size,
            })  # fmt: skip
    print_table(rows)
    print()
    rate = {(row["mode"], row["batch"]): row["img/s"] for row in rows}
    fixed = {mode: min(args.batch, largest[mode]) for mode in ("train", "infer")}
    for mode in ("train", "infer"):
        print_ratio(f"{mode} images/s largest batch {largest[mode]} / batch {fixed[mode]}",
                    rate[(mode, largest[mode])] / rate[(mode, fixed[mode])])  # fmt: skip
    print_ratio(f"inference / training images/s at batch {args.batch}",
                rate[("infer", fixed["infer"])] / rate[("train", fixed["train"])],
                "" if fixed["train"] == fixed["infer"] == args.batch else f"train at {fixed['train']}, infer at {fixed['infer']}")
    summary = {
        "train_images_per_s": {str(size): value for (mode, size), value in rate.items() if mode == "train"},
        "infer_images_per_s": {str(size): value for (mode, size), value in rate.items() if mode == "infer"},
        "largest_batch": largest,
    }
    print(f"THROUGHPUT train img/s {summary['train_images_per_s']}, infer img/s {summary['infer_images_per_s']}")
    write_json(args.json, {"rows": rows, "search": search, **summary, "backbone": args.backbone, "canvas": args.canvas,
                           "roi_size": args.roi_size, "compile": args.compile}, runtime)  # fmt: skip


if __name__ == "__main__":
    main()
