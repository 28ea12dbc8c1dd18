"""Throughput of the paper's configuration: Inception-v3, canvas 800, roi 146, at batch 16 and the largest batch.

Training steps (forward + EMD loss + backward + SGD step) and inference, images/s, peak memory and
achieved TFLOP/s beside the device's peak. The batches are what an epoch's ``ShapeGroupedBatchSampler``
draws from AVA-like sizes (``common.shape_grouped_sizes``), each padded to its largest photo as the
trainer pads it; a timed call runs ``--batches`` of them (a new canvas shape each step, as in training).
On CUDA: autocast bf16 + channels_last (``--no-amp``, ``--no-channels-last`` to compare);
``--compile on|both`` compiles the backbone body as workbench.train does (``both``: eager and compiled
side by side). ``--resize-baseline`` adds the Resize-299 baseline at the fixed batch (299 x 299 inputs,
roi 73: the plain network's geometry, its own eager model) timed in the same rounds, for the
full resolution / Resize-299 cost ratio. FLOPs are counted once per batch size (``torch.utils.flop_counter``: convolutions and
matmuls, forward and backward; ROI pooling and element-wise ops are not counted).

The largest batch is found per mode by doubling from 16 until a step fails, then bisecting between the
last batch that fit and the first that did not (``--max-batch-cap`` bounds it). The search runs in a
child process that prints each trial as it goes: an out-of-memory error is caught there, and a trial
that kills the child (a CUDA error loses the context for good) counts as failed: the search resumes in
a new child from the bounds found so far. On CPU nothing runs out of memory, so the search runs there
only with --quick or an explicit --max-batch-cap, and the cap is then the answer.

    python bench/paper_throughput.py [--device cuda] [--compile both] [--json OUT]
    python bench/paper_throughput.py --device cpu --quick       # smoke test (compact, canvas 256)
"""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import (
    MIB, Runtime, base_parser, count_flops, describe_tflops, median, padded_fraction, peak_memory, peak_tflops,
    print_header, print_ratio, print_table, random_padded_batch, random_targets, runtime_from_args,
    shape_grouped_sizes, train_step, write_json,
)  # fmt: skip
from workbench.model.build import build_model

NUM_BINS = 10
NUM_THEMES = 16
VARIANT = {False: "", True: " compiled", "resize": " resize"}  # row labels of the models
CRASH_HOOK = "BENCH_CRASH_AT_BATCH"  # tests: a search trial at this batch or larger kills its process


class Bench:
    """The model (eager, and compiled when asked) with an optimizer, and shape-grouped batches at any size."""

    def __init__(self, args, runtime: Runtime):
        self.args, self.runtime = args, runtime
        self.models = {}
        self.timed = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
        for compiled in sorted({False, *self.timed}):  # eager always: FLOPs are counted on it
            torch.manual_seed(args.seed)
            model = runtime.module(build_model(args.backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES,
                                               roi_size=args.roi_size, freeze_bn=args.freeze_bn))  # fmt: skip
            if compiled:
                model.compile_fixed_shape_layers()  # as workbench.train does: the body after ROI pooling
            optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
            self.models[compiled] = (model, optimizer)
        self.padding: dict[int, float] = {}
        if args.resize_baseline:
            torch.manual_seed(args.seed)
            model = runtime.module(build_model(args.backbone, num_bins=NUM_BINS, num_themes=NUM_THEMES,
                                               roi_size=args.baseline_roi_size, freeze_bn=args.freeze_bn))  # fmt: skip
            self.models["resize"] = (model, torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9))

    def inputs(self, batch_size: int, batches: int, resized: bool = False):
        groups = shape_grouped_sizes(batch_size, batches, self.args.canvas, self.args.seed, self.args.epoch_photos)
        if resized:
            side = self.args.baseline_size
            groups = [[(side, side)] * batch_size for _ in groups]
        padded = [random_padded_batch(sizes, None, self.args.seed + i, device=self.runtime.device) for i, sizes in enumerate(groups)]
        if not resized:
            self.padding[batch_size] = padded_fraction(padded)
        themes = torch.randint(0, NUM_THEMES, (batch_size,), generator=torch.Generator().manual_seed(0)).to(self.runtime.device)
        targets = random_targets(batch_size, NUM_BINS, self.args.seed).to(self.runtime.device)
        return [self.runtime.batch(batch) for batch in padded], themes, targets

    def step(self, mode: str, batch_size: int, compiled: bool | str = False, batches: int | None = None):
        """A callable running a training step or an inference forward on each of ``batches`` batches.

        compiled: False (eager), True (compiled body) or "resize" (the Resize-299 baseline's model)."""
        padded, themes, targets = self.inputs(batch_size, batches or self.args.batches, resized=compiled == "resize")
        model, optimizer = self.models[compiled]
        runtime = self.runtime

        def train() -> None:
            model.train()
            for batch in padded:
                train_step(model, optimizer, runtime, batch, themes, targets)

        def infer() -> None:
            model.eval()
            with torch.inference_mode(), runtime.autocast():
                for batch in padded:
                    model(batch.images, batch.sizes, themes)

        return train if mode == "train" else infer

    def fits(self, mode: str, batch_size: int) -> bool:
        """Whether two steps at ``batch_size`` run without running out of device memory."""
        crash_at = os.environ.get(CRASH_HOOK)
        if crash_at and batch_size >= int(crash_at):
            os._exit(134)  # what a lost CUDA context does to the process (tests only)
        ok, step = True, None
        try:
            step = self.step(mode, batch_size, compiled=self.args.compile == "on", batches=1)
            step()
            step()
            self.runtime.sync()
        except torch.OutOfMemoryError:
            ok = False  # the exception (and the tensors its traceback holds) is gone after this block
        del step
        for _, optimizer in self.models.values():
            optimizer.zero_grad(set_to_none=True)
        gc.collect()
        if self.runtime.cuda:
            torch.cuda.empty_cache()
        return ok


def largest_batch(fits, start: int, cap: int, good: int = 0, bad: int | None = None) -> int:
    """Doubling from ``start`` (or from ``good``) until a trial fails or reaches ``cap``, then bisecting
    (good, bad) to within 1/8 of good. Prints ``TRYING n`` before and ``TRIAL n ok|failed`` after each
    trial, flushed, so a parent sees which trial killed the process."""

    def trial(size: int) -> bool:
        print(f"TRYING {size}", flush=True)
        ok = fits(size)
        print(f"TRIAL {size} {'ok' if ok else 'failed'}", flush=True)
        return ok

    if bad is None:
        size = min(good * 2 if good else start, cap)
        while size <= cap and size > good:
            if not trial(size):
                bad = size
                break
            good = size
            size = min(size * 2, cap)
    while good == 0 and bad is not None and bad > 1:  # not even ``start`` fits: halve until one does
        size = bad // 2
        if trial(size):
            good = size
        else:
            bad = size
    if good == 0:
        raise SystemExit("not even a batch of 1 fits in device memory")
    while bad is not None and bad - good > max(1, good // 8):
        middle = (good + bad) // 2
        good, bad = (middle, bad) if trial(middle) else (good, middle)
    return good


def search_in_children(mode: str, args) -> tuple[int, list[str]]:
    """The largest batch of ``mode``, searched in child processes; a child's death fails its trial."""
    good, bad, trials = 0, None, []
    child_args = [a for a in sys.argv[1:] if a != "--json" and not a.endswith(".json")]
    for _ in range(6):  # at most 5 crashes, then what was found stands
        command = [sys.executable, __file__, *child_args, "--search-child", mode, str(good), str(bad or 0)]
        result = subprocess.run(command, capture_output=True, text=True)
        trying = None
        for line in result.stdout.splitlines():
            if line.startswith("TRYING "):
                trying = int(line.split()[1])
            elif line.startswith("TRIAL "):
                _, size, outcome = line.split()
                trials.append(f"{size}{'' if outcome == 'ok' else ' OOM'}")
                good, bad = (max(good, int(size)), bad) if outcome == "ok" else (good, min(bad or int(size), int(size)))
                trying = None
            elif line.startswith("LARGEST "):
                return int(line.split()[1]), trials
        if trying is None:
            raise SystemExit(f"{mode} search child exited {result.returncode} outside a trial:\n{result.stderr[-2000:]}")
        trials.append(f"{trying} crashed (exit {result.returncode})")
        bad = trying if bad is None else min(bad, trying)
    if good == 0:
        raise SystemExit(f"{mode}: every search trial failed")
    return good, trials


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--backbone", default=None, help="default inception_v3 (compact with --quick)")
    parser.add_argument("--canvas", type=int, default=None, help="default 800 (256 with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--batch", type=int, default=None, help="the fixed batch (default 16; 2 with --quick)")
    parser.add_argument("--batches", type=int, default=None, help="shape-grouped batches per timed call (default 4 on CUDA, 1 on CPU)")
    parser.add_argument("--epoch-photos", type=int, default=4751, help="photos the shape grouping chooses from")
    parser.add_argument("--max-batch-cap", type=int, default=None,
                        help="upper bound of the largest-batch search (default 1024 on CUDA, 4 with --quick; CPU: no search unless given)")
    parser.add_argument("--no-max-batch", action="store_true", help="skip the largest-batch search")
    parser.add_argument("--compile", nargs="?", const="on", default="off", choices=("off", "on", "both"),
                        help="torch.compile the backbone body (as workbench.train does); both: eager and compiled side by side")
    parser.add_argument("--freeze-bn", action="store_true", help="frozen BatchNorm (the paper's Inception-v3 recipe)")
    parser.add_argument("--resize-baseline", action="store_true", help="also time Resize-299 at the fixed batch")
    parser.add_argument("--baseline-size", type=int, default=299)
    parser.add_argument("--baseline-roi-size", type=int, default=73)
    parser.add_argument("--search-child", nargs=3, metavar=("MODE", "GOOD", "BAD"), help=argparse_hidden())
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    args.backbone = args.backbone or ("compact" if args.quick else "inception_v3")
    args.canvas = args.canvas or (256 if args.quick else 800)
    args.batch = args.batch or (2 if args.quick else 16)
    args.batches = args.batches or (4 if runtime.cuda and not args.quick else 1)
    skip_search_on_cpu = not (runtime.cuda or args.quick or args.max_batch_cap or args.no_max_batch)
    args.no_max_batch = args.no_max_batch or skip_search_on_cpu
    args.max_batch_cap = args.max_batch_cap or (4 if args.quick else 1024 if runtime.cuda else args.batch)
    args.repeats = args.repeats or (1 if args.quick else 5 if runtime.cuda else 2)
    args.warmup = 0 if args.quick and args.compile == "off" else max(args.warmup, 2 if args.compile != "off" else 1)
    if args.search_child:
        mode, good, bad = args.search_child[0], int(args.search_child[1]), int(args.search_child[2]) or None
        bench = Bench(args, runtime)
        print(f"LARGEST {largest_batch(lambda size: bench.fits(mode, size), args.batch, args.max_batch_cap, good, bad)}")
        return

    print_header(f"paper configuration: {args.backbone}, canvas {args.canvas}, roi {args.roi_size}, shape-grouped batches", runtime)
    if skip_search_on_cpu:
        print("(largest-batch search skipped on CPU: nothing runs out of memory; pass --max-batch-cap N to search)")
    largest, search = {}, {}
    for mode in ("train", "infer"):
        if args.no_max_batch:
            largest[mode] = args.batch
            continue
        largest[mode], search[mode] = search_in_children(mode, args)
        print(f"largest {mode} batch: {largest[mode]} (tried {', '.join(search[mode])}; cap {args.max_batch_cap})")
    if runtime.cuda:
        # Leave headroom: the searched batch fit with the allocator's cache emptied; timing keeps it full.
        largest = {mode: max(args.batch, int(size * 0.9)) if size > args.batch else size for mode, size in largest.items()}
        print(f"timed at 90% of the largest batch (allocator headroom): {largest}")

    bench = Bench(args, runtime)
    peak = peak_tflops(runtime)
    rows = []
    for mode in ("train", "infer"):
        batch_sizes = sorted({min(args.batch, largest[mode]), largest[mode]})
        steps = {(size, c): bench.step(mode, size, c) for size in batch_sizes for c in bench.timed}
        flops = {(size, False): count_flops(bench.step(mode, size, False, batches=1)) for size in batch_sizes}
        flops.update({(size, True): flops[(size, False)] for size in batch_sizes})
        if args.resize_baseline:
            fixed_batch = min(args.batch, largest[mode])
            steps[(fixed_batch, "resize")] = bench.step(mode, fixed_batch, "resize")
            flops[(fixed_batch, "resize")] = count_flops(bench.step(mode, fixed_batch, "resize", batches=1))
        times = runtime.time({f"{mode} b{size}{VARIANT[c]}": fn for (size, c), fn in steps.items()},
                             args.repeats, args.warmup, desc=mode)  # fmt: skip
        for (size, compiled), fn in steps.items():
            seconds = median(times[f"{mode} b{size}{VARIANT[compiled]}"]) / args.batches
            memory = peak_memory(fn, runtime) if compiled is not True else float("nan")
            tflops = flops[(size, compiled)] / seconds / 1e12
            rows.append({
                "mode": mode, "batch": size, "compiled": VARIANT[compiled].strip(),
                "largest": "yes" if size == largest[mode] and not args.no_max_batch else "",
                "img/s": size / seconds, "ms/step": 1e3 * seconds,
                "padding %": 100 * bench.padding[size] if compiled != "resize" else 0.0,
                "peak MiB": memory / MIB, "GFLOP/img": flops[(size, compiled)] / size / 1e9, "TFLOP/s": tflops,
                "% peak": 100 * tflops / peak if peak else float("nan"),
            })  # fmt: skip
    print_table(rows)
    print()
    for row in rows:
        print(f"TFLOPS {row['mode']} batch {row['batch']}{' ' + row['compiled'] if row['compiled'] else ''}: "
              f"{describe_tflops(row['TFLOP/s'], peak)} ({row['GFLOP/img']:.1f} GFLOP/img)")  # fmt: skip
    rate = {(row["mode"], row["batch"], {"": False, "compiled": True}.get(row["compiled"], row["compiled"])): row["img/s"] for row in rows}
    fixed = {mode: min(args.batch, largest[mode]) for mode in ("train", "infer")}
    eager = args.compile == "on"  # the baseline rows: compiled ones when only those ran
    for mode in ("train", "infer"):
        print_ratio(f"{mode} images/s largest batch {largest[mode]} / batch {fixed[mode]}",
                    rate[(mode, largest[mode], eager)] / rate[(mode, fixed[mode], eager)])  # fmt: skip
        if args.resize_baseline:
            print_ratio(f"{mode} time full resolution / Resize-{args.baseline_size} at batch {fixed[mode]}",
                        rate[(mode, fixed[mode], "resize")] / rate[(mode, fixed[mode], eager)], "x; goal <= 2 for training")
        if args.compile == "both":
            for size in sorted({fixed[mode], largest[mode]}):
                print_ratio(f"{mode} images/s compiled / eager at batch {size}", rate[(mode, size, True)] / rate[(mode, size, False)])
    print_ratio(f"inference / training images/s at batch {args.batch}",
                rate[("infer", fixed["infer"], eager)] / rate[("train", fixed["train"], eager)],
                "" if fixed["train"] == fixed["infer"] == args.batch else f"train at {fixed['train']}, infer at {fixed['infer']}")
    summary = {
        f"{mode}_images_per_s": {f"{size}{VARIANT[c]}": value for (m, size, c), value in rate.items() if m == mode and c != "resize"}
        for mode in ("train", "infer")
    }
    summary = {"train_images_per_s": summary["train_images_per_s"], "infer_images_per_s": summary["infer_images_per_s"], "largest_batch": largest}
    print(f"THROUGHPUT train img/s {summary['train_images_per_s']}, infer img/s {summary['infer_images_per_s']}")
    write_json(args.json, {"rows": rows, "search": search, **summary, "backbone": args.backbone, "canvas": args.canvas,
                           "roi_size": args.roi_size, "compile": args.compile, "peak_tflops": peak}, runtime)  # fmt: skip


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
