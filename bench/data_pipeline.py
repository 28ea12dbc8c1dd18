"""Data pipeline: decode + orient + normalise + pad images/s for ONE worker, and DataLoader workers needed.

A DataLoader worker runs single-threaded (torch sets 1 intra-op thread in workers), so this runs with
one thread and times process CPU time: images/s per worker = per CPU core. Photos: synthetic scenes
(workbench.data.synth) rendered at 800 px long side, saved as JPEG quality 90, 4:2:0 (camera-like;
AVA's JPEGs are 4:2:0); every 4th carries EXIF orientation 6 (stored rotated, shown upright).

Per batch of 16 (what a worker hands over), 800 px photos into the 800 canvas:
- PIL: ``load_image`` (EXIF orientation applied) + ``to_normalized_tensor``, then ``pad_batch``;
- torchvision: ``decode_jpeg(apply_exif_orientation=True)`` (libjpeg-turbo) + the same normalisation,
  then ``pad_batch``. It skips load_image's checks (decompression bombs, alpha, 16-bit, CMYK via PIL).
- PIL ``draft`` (libjpeg's DCT scaling) cannot help here: it only decodes at 1/2, 1/4, 1/8 scale,
  and an 800 px photo on an 800 canvas is not downscaled.

Where draft applies, larger photos (2400 px long side, e.g. Photo.net or users' photos) downscaled
to 800: ``load_image(max_side=800)`` (draft, then Lanczos), the same with draft switched off, and
torchvision decode + antialiased bilinear resize.

On a CUDA machine (``--gpu-decode``, on by default there) one more row: the same photos decoded in
batches on the GPU (``workbench.data.jpeg_batch.decode_photos``, nvJPEG), normalised and padded there,
timed by the wall clock: images/s of the whole GPU, not of one worker.

Bounded: ``--budget`` seconds (default 50) for everything; writing the photos takes what it takes
(``--photos``, ``--large-photos``, ``--long-side`` set their number and size), and the timing rounds
stop once the budget is spent (at least one round runs).

    python bench/data_pipeline.py [--quick] [--json OUT] [--gpu-rates 200 500 1000] [--budget 50] [--long-side 800]
"""
from __future__ import annotations

import contextlib
import math
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository root on sys.path)
import numpy as np
import torch
from PIL import Image, JpegImagePlugin
from torchvision.io import ImageReadMode, decode_jpeg, read_file
from torchvision.transforms.v2 import functional as F

from common import base_parser, median, print_header, print_ratio, print_table, runtime_from_args, write_json
from workbench.data.batching import IMAGENET_MEAN, IMAGENET_STD, pad_batch, to_normalized_tensor
from workbench.data.images import load_image
from workbench.data.jpeg_batch import decode_photos, normalize_photo
from workbench.data.synth_attributes import sample_attributes
from workbench.data.synth_render import generate_image

BATCH = 16
EXIF_ORIENTATION = 0x0112
ROTATED = 6  # EXIF: stored rotated 90 degrees, shown upright after ROTATE_270


def write_photos(folder: Path, count: int, long_side: int, seed: int) -> list[Path]:
    """``count`` synthetic JPEGs with ``long_side`` px long side; every 4th stored rotated (EXIF 6)."""
    paths = []
    for index in range(count):
        attributes = sample_attributes(index, seed)
        scale = long_side / max(attributes["width"], attributes["height"])
        size = {"width": round(attributes["width"] * scale), "height": round(attributes["height"] * scale)}
        image, _ = generate_image(index, seed, overrides=size)
        path = folder / f"{long_side}_{index:03d}.jpg"
        if index % 4 == 3:
            exif = Image.Exif()
            exif[EXIF_ORIENTATION] = ROTATED
            image.transpose(Image.Transpose.ROTATE_90).save(path, quality=90, exif=exif)  # upright = ROTATE_270 of stored
        else:
            image.save(path, quality=90)
        paths.append(path)
    return paths


def normalized(uint8: torch.Tensor) -> torch.Tensor:
    """uint8 Tensor[3, h, w] -> float, ImageNet-normalised (what ``to_normalized_tensor`` does for PIL)."""
    return F.normalize(uint8.float().div_(255.0), IMAGENET_MEAN, IMAGENET_STD)


def pil_photo(path: Path, max_side: int | None) -> torch.Tensor:
    return to_normalized_tensor(load_image(path, max_side=max_side))


def torchvision_photo(path: Path, max_side: int | None) -> torch.Tensor:
    uint8 = decode_jpeg(read_file(str(path)), mode=ImageReadMode.RGB, apply_exif_orientation=True)
    h, w = uint8.shape[-2:]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        uint8 = F.resize(uint8, [max(1, round(h * scale)), max(1, round(w * scale))], antialias=True)
    return normalized(uint8)


@contextlib.contextmanager
def draft_disabled():
    """PIL's JPEG ``draft`` as a no-op, so ``load_image`` decodes at full size before resizing."""
    original = JpegImagePlugin.JpegImageFile.draft
    JpegImagePlugin.JpegImageFile.draft = lambda self, mode, size: None
    try:
        yield
    finally:
        JpegImagePlugin.JpegImageFile.draft = original


def worker_loop(load, paths: list[Path], canvas: int, max_side: int | None):
    """What one DataLoader worker does for these photos: load each, pad every BATCH into a canvas."""

    def run() -> None:
        for start in range(0, len(paths), BATCH):
            pad_batch([load(path, max_side) for path in paths[start : start + BATCH]], canvas=canvas)

    return run


def gpu_batches(paths: list[Path], canvas: int, device: torch.device):
    """What a GPU-decoding loader does: each BATCH of files decoded together on ``device``, normalised, padded."""

    def run() -> None:
        for start in range(0, len(paths), BATCH):
            photos = decode_photos(paths[start : start + BATCH], device)
            pad_batch([normalize_photo(photo) for photo in photos], canvas=canvas)
        torch.cuda.synchronize(device)

    return run


def time_gpu_decode(paths: list[Path], canvas: int, repeats: int, max_seconds: float) -> float:
    """images/s of batched nvJPEG decoding + normalise + pad on the GPU, wall clock (median of rounds)."""
    device = torch.device("cuda")
    run = gpu_batches(paths, canvas, device)
    run()  # warm-up: nvJPEG handles, allocator
    times, started = [], time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() - started > max_seconds:
            break
    return len(paths) / median(times)


def without_draft(load):
    def run(path: Path, max_side: int | None) -> torch.Tensor:
        with draft_disabled():
            return load(path, max_side)

    return run


def orientation_check(paths: list[Path]) -> dict:
    """PIL and torchvision agree on the upright size of rotated photos; pixel difference (decoders differ)."""
    rotated = [p for i, p in enumerate(paths) if i % 4 == 3]
    if not rotated:
        return {"checked": 0}
    path = rotated[0]
    pil = torch.from_numpy(np.array(load_image(path))).permute(2, 0, 1).int()
    tv = decode_jpeg(read_file(str(path)), mode=ImageReadMode.RGB, apply_exif_orientation=True).int()
    same_shape = pil.shape == tv.shape
    diff = (pil - tv).abs() if same_shape else None
    return {
        "checked": 1,
        "same upright shape": same_shape,
        "max abs diff": int(diff.max()) if diff is not None else None,
        "mean abs diff": float(diff.float().mean()) if diff is not None else None,
    }


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="full-resolution JPEGs (default 64; 4 with --quick)")
    parser.add_argument("--large-photos", type=int, default=None, help="large JPEGs (default 8; 2 with --quick)")
    parser.add_argument("--canvas", type=int, default=800)
    parser.add_argument("--long-side", type=int, default=None, help="long side of the full-resolution JPEGs (default: the canvas)")
    parser.add_argument("--budget", type=float, default=50.0, help="seconds for the whole bench; timing stops when spent")
    parser.add_argument("--gpu-decode", choices=("auto", "on", "off"), default="auto", help="also time batched nvJPEG decoding (auto: when CUDA is there)")
    parser.add_argument("--large-side", type=int, default=2400, help="long side of the large JPEGs")
    parser.add_argument("--gpu-rates", type=float, nargs="+", default=[200, 500, 1000],
                        help="GPU training throughputs (images/s) to size the workers for")  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    args.device = "cpu"  # decoding runs on the CPU workers whatever the GPU
    runtime = runtime_from_args(args)  # 1 thread, process CPU time: one worker
    gpu_decode = args.gpu_decode == "on" or (args.gpu_decode == "auto" and torch.cuda.is_available())
    if gpu_decode and not torch.cuda.is_available():
        raise SystemExit("--gpu-decode on: no CUDA device is visible to torch")
    args.photos = args.photos or (4 if args.quick else 64)
    args.large_photos = args.large_photos or (2 if args.quick else 8)
    args.long_side = args.long_side or args.canvas
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.warmup = 0 if args.quick else args.warmup
    if args.quick:
        args.large_side = min(args.large_side, 1200)
    print_header("data pipeline: decode + orient + normalise + pad, one worker", runtime)

    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as folder:
        paths = write_photos(Path(folder), args.photos, args.long_side, args.seed)
        large = write_photos(Path(folder), args.large_photos, args.large_side, args.seed)
        written = time.perf_counter() - started
        print(f"wrote {len(paths) + len(large)} JPEGs in {written:.1f} s; timing for the rest of the {args.budget:g} s budget")
        megapixels = sum(Image.open(p).width * Image.open(p).height for p in paths) / len(paths) / 1e6
        variants = {
            "PIL 800": worker_loop(pil_photo, paths, args.canvas, args.canvas),
            "torchvision 800": worker_loop(torchvision_photo, paths, args.canvas, args.canvas),
            "PIL draft large": worker_loop(pil_photo, large, args.canvas, args.canvas),
            "PIL no draft large": worker_loop(without_draft(pil_photo), large, args.canvas, args.canvas),
            "torchvision large": worker_loop(torchvision_photo, large, args.canvas, args.canvas),
        }
        left = args.budget - (time.perf_counter() - started)
        gpu_share = 0.2 if gpu_decode else 0.0
        times = runtime.time(variants, args.repeats, args.warmup, desc="pipeline", max_seconds=max(0.0, left * (1 - gpu_share)))
        check = orientation_check(paths)
        gpu_decode_rate = time_gpu_decode(paths, args.canvas, args.repeats, left * gpu_share) if gpu_decode else None

    rates = {name: (len(paths) if "800" in name else len(large)) / median(values) for name, values in times.items()}
    rows = []
    for name, rate in rates.items():
        row = {
            "photos": f"{args.long_side} px" if "800" in name else f"{args.large_side} px -> {args.canvas}",
            "decoder": name.replace(" 800", "").replace(" large", ""),
            "img/s per worker": rate,
        }
        for gpu_rate in args.gpu_rates:
            row[f"workers @{gpu_rate:g}/s"] = math.ceil(gpu_rate / rate)
        rows.append(row)
    print(f"{args.photos} photos of {args.long_side} px long side ({megapixels:.2f} Mpx on average), "
          f"{args.large_photos} of {args.large_side} px; batches of {BATCH} padded to {args.canvas}")  # fmt: skip
    print_table(rows)
    print()
    print(f"EXIF orientation: {check}")
    if gpu_decode_rate is not None:
        print(f"GPU decode (nvJPEG, batches of {BATCH}, normalise + pad on {torch.cuda.get_device_name()}): "
              f"{gpu_decode_rate:.0f} img/s, wall clock, the whole GPU")  # fmt: skip
        print_ratio(f"images/s GPU batch decode / one CPU worker torchvision [{args.long_side} px]", gpu_decode_rate / rates["torchvision 800"])
    print("workers = ceil(GPU images/s / images/s per worker), per core of this CPU; add headroom for collation,")
    print("pinning and the main process, and remeasure on the GPU machine's cores (bench/gpu.sh does).")
    print()
    print_ratio(f"images/s torchvision / PIL [{args.canvas} px]", rates["torchvision 800"] / rates["PIL 800"])
    print_ratio(f"images/s PIL draft / no draft [{args.large_side} px -> {args.canvas}]",
                rates["PIL draft large"] / rates["PIL no draft large"])  # fmt: skip
    print_ratio(f"images/s torchvision / PIL draft [{args.large_side} px -> {args.canvas}]",
                rates["torchvision large"] / rates["PIL draft large"])  # fmt: skip
    workers = {f"{gpu_rate:g}": math.ceil(gpu_rate / max(rates["PIL 800"], rates["torchvision 800"])) for gpu_rate in args.gpu_rates}
    print(f"WORKERS needed at GPU images/s {workers} (best {args.canvas} px decoder)")
    print(f"bench time {time.perf_counter() - started:.1f} s (budget {args.budget:g} s)")
    write_json(args.json, {"rows": rows, "rates": rates, "orientation": check, "workers": workers, "gpu_decode_images_per_s": gpu_decode_rate}, runtime)


if __name__ == "__main__":
    main()
