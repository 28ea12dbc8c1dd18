"""Plumbing shared by the benchmarks: arguments, device settings, interleaved timing, memory, output.

Every benchmark reports RATIOS of variants measured side by side in one process: the variants are
interleaved round by round (the order rotates each round, so slow drift and neighbours' load hit
them alike) and the median of the rounds is compared. Absolute times on a shared machine are noise.

Run as ``python bench/NAME.py``: Python then puts ``bench/`` on the path, so ``import common`` works;
the repository root is added below so ``workbench`` imports without installing the package.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from workbench.data.batching import PaddedBatch, pad_batch  # noqa: E402

MIB = 2**20


# ----------------------------------------------------------------------------- arguments, device


def base_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --quick, --device, --repeats, --json, --seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 1-2 rounds (smoke test, figures meaningless)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda when available")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per variant (default depends on --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds per variant before timing")
    parser.add_argument("--no-amp", action="store_true", help="CUDA: keep fp32 instead of autocast bf16")
    parser.add_argument("--no-channels-last", action="store_true", help="CUDA: keep NCHW instead of channels_last")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: 1 on CPU, see README)")
    parser.add_argument("--clock", choices=("auto", "wall", "cpu"), default="auto",
                        help="wall time, or this process's CPU time (auto: cpu on a CPU device, wall on CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the figures as JSON")
    return parser


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--backbones, --canvas, --roi-size, --batch-compact, --batch-inception (see ``resolve_model_options``)."""
    parser.add_argument("--backbones", nargs="+", default=None, help="default: compact inception_v3 (compact with --quick)")
    parser.add_argument("--canvas", type=int, default=None, help="Pad+ROI canvas side (default 800; 256 with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--batch-compact", type=int, default=None, help="default 16 (2 with --quick)")
    parser.add_argument("--batch-inception", type=int, default=None, help="default 16 on CUDA, 2 on CPU (1 with --quick)")


def resolve_model_options(args: argparse.Namespace, runtime: "Runtime", repeats: int) -> dict[str, int]:
    """Fill the defaults of ``add_model_options`` and --repeats/--warmup; returns backbone -> batch size."""
    args.backbones = args.backbones or (["compact"] if args.quick else ["compact", "inception_v3"])
    args.canvas = args.canvas or (256 if args.quick else 800)
    args.repeats = args.repeats or (min(2, repeats) if args.quick else repeats)
    args.warmup = 0 if args.quick else args.warmup
    return {
        "compact": args.batch_compact or (2 if args.quick else 16),
        "inception_v3": args.batch_inception or (1 if args.quick else 16 if runtime.cuda else 2),
    }


@dataclass
class Runtime:
    """Where and how the models run: CUDA gets autocast bf16 and channels_last, CPU plain fp32 NCHW."""

    device: torch.device
    amp: bool
    channels_last: bool
    cpu_clock: bool = False  # time with process CPU seconds: other processes' load does not count

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        return module.to(self.device, memory_format=self.memory_format)

    def batch(self, batch: PaddedBatch) -> PaddedBatch:
        return batch.to(self.device, memory_format=self.memory_format)

    @property
    def clock(self) -> Callable[[], float]:
        return time.process_time if self.cpu_clock else time.perf_counter

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def time(self, variants: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1, desc: str | None = None,
             max_seconds: float | None = None) -> dict[str, list[float]]:
        """``time_interleaved`` with this runtime's synchronisation and clock."""
        return time_interleaved(variants, repeats, warmup, sync=self.sync, desc=desc, clock=self.clock, max_seconds=max_seconds)

    def describe(self) -> str:
        precision = "autocast bf16" if self.amp else "fp32"
        layout = "channels_last" if self.channels_last else "NCHW"
        clock = "process CPU time" if self.cpu_clock else "wall time"
        return (f"{self.device} ({device_name(self.device)}), {precision}, {layout}, "
                f"torch threads {torch.get_num_threads()}, timed by {clock}")


def runtime_from_args(args: argparse.Namespace) -> Runtime:
    """Resolve --device/--no-amp/--no-channels-last/--threads/--seed into a ``Runtime``."""
    name = args.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch (check nvidia-smi and the torch build)")
    cuda = name == "cuda"
    # One thread on CPU: on shared cores, OpenMP threads spinning against other processes distort
    # the ratios (we saw 10x slow-downs with 2 threads under load), and CPU time then equals latency.
    threads = args.threads or (None if cuda else 1)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(args.seed)
    torch.set_flush_denormal(True)  # randomly initialised nets in eval mode must not time denormal arithmetic
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    cpu_clock = args.clock == "cpu" or (args.clock == "auto" and not cuda)
    return Runtime(device, amp=cuda and not args.no_amp, channels_last=cuda and not args.no_channels_last, cpu_clock=cpu_clock)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(runtime: Runtime | None = None) -> dict[str, Any]:
    """What the figures were measured on (goes into the JSON and the header)."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if runtime is not None:
        info.update(device=str(runtime.device), device_name=device_name(runtime.device), amp_bf16=runtime.amp,
                    channels_last=runtime.channels_last)  # fmt: skip
    return info


def print_header(title: str, runtime: Runtime | None, command: Sequence[str] | None = None) -> None:
    env = environment(runtime)
    print(f"== {title}")
    print(f"   {env['date']} | nproc {env['nproc']} | {env['cpu']} | torch {env['torch']}")
    if runtime is not None:
        print(f"   device: {runtime.describe()}")
    print(f"   command: python {' '.join(command if command is not None else sys.argv)}")
    print("   (shared machine: compare the RATIOS below, not the absolute times)")


# ----------------------------------------------------------------------------- timing


def time_interleaved(
    variants: dict[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    sync: Callable[[], None] = lambda: None,
    desc: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    max_seconds: float | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each variant, measured round-robin: ``repeats`` rounds, order rotating.

    Each variant first runs ``warmup`` untimed times (allocator, cudnn autotuning, lazy init).
    clock: ``time.perf_counter`` (wall) or ``time.process_time`` (this process's CPU seconds, which
        other processes' load does not inflate; see ``Runtime.clock``).
    max_seconds: stop before a round that would end (judged by the last round) past this many wall
        seconds from the start; at least one timed round always runs: bounded whatever the machine.
    """
    started = time.perf_counter()
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
        sync()
    times: dict[str, list[float]] = {name: [] for name in names}
    rounds = tqdm(range(repeats), desc=desc, leave=False, disable=None, file=sys.stderr)
    for round_index in rounds:
        round_started = time.perf_counter()
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            sync()
            start = clock()
            variants[name]()
            sync()
            times[name].append(clock() - start)
        now = time.perf_counter()
        if max_seconds is not None and now - started + (now - round_started) > max_seconds:
            break
    return times


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


# ----------------------------------------------------------------------------- memory


_MALLOC_TUNED = False


def _return_freed_memory_to_the_os() -> None:
    """Make glibc hand every freed block >= 64 KiB back to the OS, so RSS tracks live tensors.

    By default glibc keeps freed tensor memory in its heap (its mmap threshold adapts upwards to
    32 MiB), and an RSS delta then misses reuse. This slows allocation, so measure memory AFTER timing.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 * 1024)
        libc.mallopt(m_trim_threshold, 128 * 1024)
        libc.malloc_trim(0)
    except OSError:
        pass  # not glibc: the RSS delta is then a lower bound


class _RssSampler(threading.Thread):
    """Samples this process's resident set size every ``interval`` seconds; keeps the maximum."""

    def __init__(self, interval: float = 0.0005):
        super().__init__(daemon=True)
        import psutil  # dev dependency; only needed for CPU memory figures

        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        return self.peak


def peak_memory(fn: Callable[[], Any], runtime: Runtime) -> int:
    """Peak bytes allocated by one call of ``fn`` above what was allocated before it.

    CUDA: ``torch.cuda.max_memory_allocated`` (exact). CPU: peak RSS sampled every 0.5 ms by a
    thread (psutil) minus RSS before, with glibc told to return freed memory (approximate, +-
    a few MiB; tracemalloc does not see torch's allocations). Run after the timing.
    """
    if runtime.cuda:
        runtime.sync()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(runtime.device)
        before = torch.cuda.memory_allocated(runtime.device)
        fn()
        runtime.sync()
        return torch.cuda.max_memory_allocated(runtime.device) - before
    _return_freed_memory_to_the_os()
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except OSError:
        pass
    sampler = _RssSampler()
    before = sampler.peak
    sampler.start()
    try:
        fn()
    finally:
        peak = sampler.stop()
    return max(0, peak - before)


# ----------------------------------------------------------------------------- inputs


def random_padded_batch(
    sizes: Sequence[tuple[int, int]], canvas: int | None, seed: int = 0, multiple: int = 16, device: torch.device | str = "cpu"
) -> PaddedBatch:
    """A ``PaddedBatch`` of normal-noise photos of ``sizes`` (h, w); content does not change the cost.

    device: where the photos are drawn and padded (a GPU draws a batch of hundreds in no time; the
        sizes stay on the CPU, as ``pad_batch`` returns them).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    photos = [torch.randn(3, int(h), int(w), generator=generator, device=device) for h, w in sizes]
    return pad_batch(photos, canvas=canvas, multiple=multiple)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, runtime: "Runtime", batch: PaddedBatch,
               themes: torch.Tensor, targets: torch.Tensor) -> None:
    """One training step as a training loop repeats it: forward under autocast, EMD loss (eq. 7) in
    float32, backward, SGD step."""
    from workbench.losses import emd_loss

    with runtime.autocast():
        prediction = model(batch.images, batch.sizes, themes)
    loss = emd_loss(prediction.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def random_targets(batch_size: int, num_bins: int, seed: int = 0) -> torch.Tensor:
    """Score distributions ``Tensor[B, num_bins]`` (rows sum to 1)."""
    generator = torch.Generator().manual_seed(seed)
    votes = torch.rand(batch_size, num_bins, generator=generator) + 0.1
    return votes / votes.sum(dim=1, keepdim=True)


def shape_grouped_sizes(batch_size: int, batches: int, canvas: int, seed: int = 0, epoch_photos: int = 4751) -> list[np.ndarray]:
    """The photo sizes ``int64[batch_size, 2]`` of the first ``batches`` batches an epoch's
    ``ShapeGroupedBatchSampler`` draws from ``epoch_photos`` AVA-like sizes fitted to ``canvas``.

    What training pads (each batch to its largest photo): the groups come from a whole epoch because how
    tight they are depends on how many photos the sampler chooses from (160 photos grouped on their own
    pad 29% of their pixels, an epoch's groups 14%: bench/RESULTS.md section 8). Only full batches.
    """
    from workbench.data.batching import ShapeGroupedBatchSampler

    sizes = fit_sizes(ava_like_sizes(max(epoch_photos, batch_size * batches), seed), canvas)
    groups = [group for group in ShapeGroupedBatchSampler(sizes, batch_size, seed=seed, drop_last=True)][:batches]
    return [sizes[group] for group in groups]


def padded_fraction(batches: Sequence[PaddedBatch]) -> float:
    """The fraction of the batches' canvas pixels that are padding."""
    return sum(b.padded_fraction * b.images[:, 0].numel() for b in batches) / sum(b.images[:, 0].numel() for b in batches)


# Dense bf16 tensor-core peaks (vendor datasheets, no sparsity), TFLOP/s, by a substring of the device
# name, first match wins. Only to put an achieved figure in proportion; fp32 runs have lower peaks.
PEAK_BF16_TFLOPS = (
    ("H200 NVL", 835.0), ("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0),
    ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
)  # fmt: skip


def peak_tflops(runtime: "Runtime") -> float | None:
    """The device's dense bf16 peak TFLOP/s from ``PEAK_BF16_TFLOPS``, or None (CPU, unknown GPU)."""
    if not runtime.cuda:
        return None
    name = device_name(runtime.device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def count_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations of one call of ``fn`` (convolutions and matmuls, forward and backward),
    counted by ``torch.utils.flop_counter.FlopCounterMode`` (it runs ``fn`` once)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def describe_tflops(achieved: float, peak: float | None) -> str:
    """``"37.1 TFLOP/s = 4.7% of the 790 peak"``, or ``"... (peak unknown)"``."""
    if peak is None:
        return f"{achieved:.3g} TFLOP/s (peak unknown)"
    return f"{achieved:.3g} TFLOP/s = {100 * achieved / peak:.1f}% of the {peak:g} TFLOP/s bf16 peak"


def fit_sizes(sizes: np.ndarray, canvas: int) -> np.ndarray:
    """Scale (h, w) rows down so that the long side fits ``canvas`` (keeps rows that already fit)."""
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    scale = np.minimum(1.0, canvas / sizes.max(axis=1))
    return np.maximum(np.round(sizes * scale[:, None]), 16).astype(np.int64)


# ----------------------------------------------------------------------------- output


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """A plain fixed-width table; floats get 3 significant decimals."""
    if not rows:
        return
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    cells = [[cell(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths)))
    print("  ".join("-" * width for width in widths))
    for line in cells:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths)))


def print_ratio(name: str, value: float, detail: str = "") -> None:
    """``RATIO name: value`` -- the line the tests and RESULTS.md look for."""
    print(f"RATIO {name}: {value:.3f}" + (f"  ({detail})" if detail else ""))


def print_goal(name: str, met: bool, detail: str) -> None:
    print(f"GOAL {name}: {'met' if met else 'MISSED'} ({detail})")


def write_json(path: Path | None, payload: dict[str, Any], runtime: Runtime | None = None) -> None:
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"environment": environment(runtime), "command": sys.argv, **payload}
    path.write_text(json.dumps(document, indent=2, default=_json_default) + "\n")
    print(f"wrote {path}")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path, torch.device, torch.dtype)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ----------------------------------------------------------------------------- photo sizes

REAL_AVA_SIZES = ROOT.parent / "shared" / "ava" / "IMAGES.csv"  # the 62 real AVA photos (read in place)


def ava_like_sizes(n: int, seed: int = 0) -> np.ndarray:
    """``int64[n, 2]`` (h, w): the synthetic benchmark's AVA-like sizes (long side 300-800, 3:2, 4:3, ...)."""
    from workbench.data.synth_attributes import sample_attributes

    return np.array([(a["height"], a["width"]) for a in (sample_attributes(i, seed) for i in range(n))], dtype=np.int64)


def real_ava_sizes(path: Path = REAL_AVA_SIZES) -> np.ndarray | None:
    """``int64[N, 2]`` (h, w) of the real AVA photos listed in IMAGES.csv, or None when it is absent."""
    path = Path(path)
    if not path.is_file():
        return None
    import pandas as pd

    table = pd.read_csv(path)
    return table[["height", "width"]].to_numpy(dtype=np.int64)
