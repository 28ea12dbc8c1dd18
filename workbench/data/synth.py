"""A synthetic, themed benchmark with known ground truth (SYNTHETIC, not AVA): the writer and its CLI.

Each photo is a procedural scene (background, textures, a shaded subject, lighting and colour)
drawn from latent *attributes*, and each photo belongs to one *theme* whose voters score it by the
theme's own criterion. The attributes are chosen so that the paper's two claims can be tested:

- fine-scale attributes live near the Nyquist frequency of the full-resolution photo: ``grain``
  (a 1-px checker grain) and ``sharpness`` (whether 2-3 px line detail survives defocus); an
  antialiased resize to 299 px averages them away (claim 1: resize, resized padding);
- layout attributes (``thirds``, ``centering``, ``border_cut``) are defined on the whole frame and
  lost by a random 299 crop (claim 1: crop);
- geometry attributes (``aspect``, ``roundness``) are warped by a resize to a square (claim 1);
- global attributes (``blur``, ``warmth``, ``brightness``, ...) survive every view (a control);
- themes reward and punish the same attribute (``blur`` in "Motion Blur" vs "Color on Color") and
  differ in voter disagreement, so the theme changes the mean and the spread (claim 2).

The benchmark is four modules, each with one job, each importing only the ones before it:
``synth_truth`` (themes, criteria, voters: attributes -> vote distributions under any theme),
``synth_attributes`` (a photo's attributes drawn from its seed), ``synth_render`` (its pixels), and
this one, which writes a benchmark folder (``generate_dataset``, ``python -m workbench synth``).

Everything is deterministic: photo ``index`` of a dataset with ``seed`` is drawn from
``np.random.SeedSequence([seed, index])`` alone, so any photo can be regenerated on its own
(``synth_render.generate_image(index, seed)``). docs/SYNTHETIC.md describes the benchmark.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.data.synth_attributes import draw_attributes, photo_streams
from workbench.data.synth_render import render
from workbench.data.synth_truth import (
    NUM_BINS, distribution_moments, expected_distribution, generic_quality, sample_votes, theme_names, theme_quality,
)  # fmt: skip

GENERATOR_VERSION = "1.0"  # bump whenever the same (seed, index) would give other pixels or votes
DATASET_NAME = "workbench-synthetic-themes"
JPEG_OPTIONS = {"quality": 95, "subsampling": 0}  # 4:4:4: the 1-px grain survives (tests check it)
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


def _split(index: int, seed: int, evaluation_photos: int | None = None) -> str:
    """train / val / test from the photo's own stream: a photo keeps its split whatever n.

    evaluation_photos: photos from this index on are all training photos, so a dataset grown for training
    keeps the validation and test photos of its first ``evaluation_photos`` (the benchmark's test split).
    """
    if evaluation_photos is not None and index >= evaluation_photos:
        return "train"
    u = np.random.default_rng(np.random.SeedSequence([seed, index]).spawn(4)[3]).random()
    return "train" if u < SPLIT_FRACTIONS["train"] else "val" if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["val"] else "test"


def _row(index: int, seed: int, images_dir: Path, digits: int, evaluation_photos: int | None = None) -> dict[str, Any]:
    """Renders, writes and labels one photo."""
    attribute_rng, render_rng, vote_rng = photo_streams(index, seed)
    attributes = draw_attributes(attribute_rng, None)
    image = render(attributes, render_rng)
    file_name = f"{index:0{digits}d}.jpg"
    image.save(images_dir / file_name, format="JPEG", **JPEG_OPTIONS)
    votes, image_noise = sample_votes(attributes, vote_rng)
    mean, std = distribution_moments(expected_distribution(attributes))
    row: dict[str, Any] = {"image": f"images/{file_name}", "split": _split(index, seed, evaluation_photos), "theme": attributes["theme"]}
    row.update({f"v{k + 1}": int(count) for k, count in enumerate(votes)})
    row.update(width=attributes["width"], height=attributes["height"])
    row.update({f"gt_{key}": value for key, value in attributes.items() if key not in ("theme", "width", "height")})
    row.update(
        gt_quality=theme_quality(attributes, attributes["theme"]), gt_generic_quality=generic_quality(attributes),
        gt_image_noise=image_noise, gt_mean=mean, gt_std=std,
    )  # fmt: skip
    return row


def _rows(indices: Sequence[int], seed: int, images_dir: str, digits: int, evaluation_photos: int | None = None) -> list[dict[str, Any]]:
    return [_row(index, seed, Path(images_dir), digits, evaluation_photos) for index in indices]


OUTPUTS = ("images", "labels.csv", "themes.txt", "dataset.json")


def generate_dataset(out_dir: str | os.PathLike, n: int, seed: int = 0, workers: int | None = None,
                     progress: bool = True, overwrite: bool = False, evaluation_photos: int | None = None) -> Path:  # fmt: skip
    """Writes ``n`` photos and their labels in the generic folder + CSV format; returns the folder.

    workers: processes (``None``: up to 2, the CPUs this is sized for; 1: this process). The output
        does not depend on it. overwrite: replace an earlier dataset's files (images/, labels.csv,
        themes.txt, dataset.json) in a non-empty ``out_dir``; without it a non-empty folder is refused.
    evaluation_photos: only the first this many photos are split into train / val / test; the rest are all
        training photos (more data for a recipe, the same validation and test photos as ``n=evaluation_photos``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if evaluation_photos is not None and not 1 <= evaluation_photos <= n:
        raise ValueError(f"evaluation_photos must be in [1, n={n}], got {evaluation_photos}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file; give a folder for the dataset")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root} is not empty; choose an empty folder or pass overwrite=True (--overwrite)")
        for name in OUTPUTS:
            path = root / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    workers = min(2, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    digits = max(6, len(str(n - 1)))
    size = max(1, min(16, n // (4 * workers)))  # chunks small enough to keep every worker busy
    chunks = [range(start, min(start + size, n)) for start in range(0, n, size)]
    arguments = (chunks, [seed] * len(chunks), [str(images_dir)] * len(chunks), [digits] * len(chunks), [evaluation_photos] * len(chunks))

    from tqdm.auto import tqdm

    pool = None
    if workers == 1:
        results = map(_rows, *arguments)
    else:
        # fork where there is one: workers inherit the imported modules (workbench.data imports
        # torch) instead of importing them again; they run only numpy, scipy and PIL code
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
        results = pool.map(_rows, *arguments)  # forks now, before the progress bar starts a thread
    rows: list[dict[str, Any]] = []
    try:
        with tqdm(total=n, desc="synth", unit="photo", disable=not progress) as bar:
            for chunk_rows in results:
                rows += chunk_rows
                bar.update(len(chunk_rows))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    labels = pd.DataFrame(rows)
    labels.to_csv(root / "labels.csv", index=False, float_format="%.6g")
    (root / "themes.txt").write_text("".join(f"{name}\n" for name in theme_names()))
    metadata = {
        "name": DATASET_NAME,
        "description": (
            "SYNTHETIC benchmark, not AVA: procedural photos with known attributes, themed criteria and "
            "simulated AVA-like votes (docs/SYNTHETIC.md). Use it to test full-resolution and theme-aware "
            "models; do not report its numbers as AVA results."
        ),
        "synthetic": True,
        "num_bins": NUM_BINS,
        "seed": seed,
        "n": n,
        "evaluation_photos": evaluation_photos,  # None: every photo split 80/10/10; else photos from this index on are all train
        "generator_version": GENERATOR_VERSION,
        "image_format": "JPEG quality 95, 4:4:4",
        "splits": {split: int((labels["split"] == split).sum()) for split in SPLIT_FRACTIONS},
    }
    (root / "dataset.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench synth --out DIR --n N --seed S``."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench synth",
        description="Write the synthetic themed benchmark (SYNTHETIC, not AVA) as a folder + labels.csv.",
    )
    parser.add_argument("--out", required=True, help="folder to write (must be empty unless --overwrite)")
    parser.add_argument("--n", type=int, default=2000, help="number of photos (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier dataset in --out")
    parser.add_argument("--evaluation-photos", type=int, default=None,
                        help="split only the first this many photos into train/val/test; the rest are training photos "
                             "(e.g. --n 16000 --evaluation-photos 6000: the 6,000-photo benchmark's val/test, 14,000+ train)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.n < 1 or args.seed < 0:
        parser.error("--n must be >= 1 and --seed >= 0")
    if args.evaluation_photos is not None and not 1 <= args.evaluation_photos <= args.n:
        parser.error("--evaluation-photos must be in [1, --n]")
    start = time.perf_counter()
    try:
        root = generate_dataset(args.out, args.n, args.seed, args.workers, not args.quiet, args.overwrite, args.evaluation_photos)
    except (FileExistsError, NotADirectoryError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    seconds = time.perf_counter() - start
    print(f"wrote {args.n} synthetic photos to {root} in {seconds:.1f} s ({60 * args.n / seconds:.0f} photos/min)",
          file=sys.stderr)  # fmt: skip
    return 0
