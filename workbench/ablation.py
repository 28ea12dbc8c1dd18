"""The paper's ablations (Tables III-V) run as one controlled experiment, across seeds.

Every variant gets the same budget (data, epochs, batch size, optimiser) and differs only in what
the paper varies: the input transform, the theme, the canvas and the ROI size, the augmentation.
Results are appended to ``results.csv`` one (variant, seed) at a time, so a killed run resumes
where it stopped and a notebook can read partial results.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from workbench.analysis import aggregate_seeds
from workbench.train import TrainConfig, evaluate_checkpoint, train

# The three 299x299 baselines use standard Inception-v3 geometry: the stem maps 299 -> 147 and
# the replaced max-pool gives 73x73, so ROI size 73 (the paper trains them as plain Inception-v3).
VARIANTS: dict[str, dict[str, Any]] = {
    "Resize": dict(transform="resize", use_theme=False, roi_size=73),  # Table III
    "Resized Pad": dict(transform="resized_pad", use_theme=False, roi_size=73),  # Table III
    "Random Crop": dict(transform="crop", use_theme=False, roi_size=73),  # Table III
    "Pad+ROI": dict(transform="full", use_theme=False),  # Table III
    "Pad+ROI+Theme": dict(transform="full", use_theme=True),  # Tables III-V, = canvas 800 / ROI 146
    "Canvas 400, ROI 73": dict(transform="full", use_theme=True, canvas=400, roi_size=73),  # Table IV
    "Canvas 800, ROI 73": dict(transform="full", use_theme=True, roi_size=73),  # Table IV
    "Flip only": dict(transform="full", use_theme=True, augment="flip"),  # Table V
}
DEFAULT_VARIANTS = tuple(name for name in VARIANTS if name != "Flip only")


def variant_config(base: TrainConfig, variant: str, seed: int, out_dir: Path) -> TrainConfig:
    """``base`` with the variant's changes, the seed, and its own output folder."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ablation variant {variant!r}; known: {', '.join(VARIANTS)}")
    slug = variant.lower().replace("+", "_").replace(",", "").replace(" ", "_")
    return dataclasses.replace(base, **VARIANTS[variant], seed=seed, out_dir=str(out_dir / slug / f"seed{seed}"))


def run_ablation(
    base: TrainConfig,
    out_dir: str | Path,
    seeds: Sequence[int] = (0, 1, 2),
    variants: Iterable[str] = DEFAULT_VARIANTS,
    tta: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Train and evaluate every (variant, seed) on the test split; returns and writes ``results.csv``.

    tta: the paper's test protocol (six views for pad variants, 20 random views for resize/crop).
    Pairs already in ``results.csv`` are skipped; an interrupted training resumes from its last.pt.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.csv"
    done = pd.read_csv(results_path) if results_path.is_file() else pd.DataFrame(columns=["variant", "seed"])
    finished = set(zip(done["variant"], done["seed"].astype(int)))
    for variant in variants:
        for seed in seeds:
            if (variant, seed) in finished:
                continue
            config = variant_config(base, variant, seed, out_dir)
            if progress:
                print(f"== {variant}, seed {seed} -> {config.out_dir}", flush=True)
            resume = (Path(config.out_dir) / "last.pt").is_file()
            result = train(config, resume=resume, progress=progress)
            metrics = evaluate_checkpoint(result.checkpoint, split="test", tta=tta, themes=config.use_theme, device=config.device)
            row = {"variant": variant, "seed": seed, **metrics, "epochs": config.epochs, "checkpoint": str(result.checkpoint)}
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            done.to_csv(results_path, index=False)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench ablation --config FILE --out DIR [--seeds 0 1 2] [--variants ...] [--FIELD VALUE]``."""
    parser = argparse.ArgumentParser(prog="python -m workbench ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML TrainConfig every variant starts from")
    parser.add_argument("--out", required=True, help="folder for the runs and results.csv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), choices=list(VARIANTS), metavar="VARIANT")
    parser.add_argument("--no-tta", action="store_true", help="evaluate on one view instead of the paper's test views")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override config fields")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    base = TrainConfig.from_yaml(args.config, **overrides)
    results = run_ablation(base, args.out, args.seeds, args.variants, tta=not args.no_tta)
    print(summarize(results).to_string())
    return 0


def summarize(results: pd.DataFrame, metrics: Sequence[str] = ("srcc_mean", "srcc_std", "emd1", "kl")) -> pd.DataFrame:
    """Mean and sd across seeds of the Table III metrics, one row per variant, in run order."""
    return aggregate_seeds(results.rename(columns={"variant": "model"}), list(metrics))
