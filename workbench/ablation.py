"""The paper's ablations (Tables III-V) run as one controlled experiment, across seeds.

Every variant gets the same budget (data, epochs, batch size, optimiser) and differs only in what
the paper varies: the input transform, the theme, the canvas and the ROI size, the augmentation.
Results are appended to ``results.csv`` one (variant, seed) at a time, so a killed run resumes
where it stopped and a notebook can read partial results.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from workbench.analysis import aggregate_seeds
from workbench.checkpoints import git_commit, load_checkpoint, write_atomically
from workbench.config import TrainConfig
from workbench.data.tables import read_json_object
from workbench.evaluation import evaluate_checkpoint
from workbench.metrics import distribution_mean
from workbench.model.backbones import backbone_defaults
from workbench.train import train

# The three 299x299 baselines use the backbone's standard geometry (``baseline_roi_size``): for
# Inception-v3 the stem maps 299 -> 147 and the replaced max-pool gives 73x73, so ROI size 73 (the
# paper trains them as plain Inception-v3); EfficientNet-Lite0's body always sees 112x112.
BASELINE_ROI = "baseline"  # stands for the backbone's baseline_roi_size
VARIANTS: dict[str, dict[str, Any]] = {
    "Resize": dict(transform="resize", use_theme=False, roi_size=BASELINE_ROI),  # Table III
    "Resized Pad": dict(transform="resized_pad", use_theme=False, roi_size=BASELINE_ROI),  # Table III
    "Random Crop": dict(transform="crop", use_theme=False, roi_size=BASELINE_ROI),  # Table III
    "Pad+ROI": dict(transform="full", use_theme=False),  # Table III
    "Pad+ROI+Theme": dict(transform="full", use_theme=True),  # Tables III-V, = canvas 800 / ROI 146
    "Canvas 400, ROI 73": dict(transform="full", use_theme=True, canvas=400, roi_size=73),  # Table IV
    "Canvas 800, ROI 73": dict(transform="full", use_theme=True, roi_size=73),  # Table IV
    "Flip only": dict(transform="full", use_theme=True, augment="flip"),  # Table V
    "Flip + crop": dict(transform="full", use_theme=True, augment="flip_crop"),  # Table V (the paper's full recipe)
    # Not in the paper: the theme with the photos' own votes as targets, for a base recipe that fits every
    # theme's truth (head_targets: every_theme, synthetic only): separates what the theme input brings
    # from what the richer targets bring.
    "Pad+ROI+Theme (own votes)": dict(transform="full", use_theme=True, head_targets="votes"),
}
# The paper's table rows -> the variant above that reproduces each (Table IV's 800/146 is the full recipe,
# Pad+ROI+Theme; Table V names its augmentation, so one of its two rows repeats Pad+ROI+Theme's config, whichever
# augmentation the base recipe uses).
PAPER_ROWS_OF_VARIANTS: dict[str, dict[str, str]] = {
    "III": {"Resize": "Resize", "Resized Pad": "Resized Pad", "Random Crop": "Random Crop", "Pad+ROI": "Pad+ROI", "Pad+ROI+Theme": "Pad+ROI+Theme"},
    "IV": {"Image 400, Feature 73": "Canvas 400, ROI 73", "Image 800, Feature 73": "Canvas 800, ROI 73", "Image 800, Feature 146": "Pad+ROI+Theme"},
    "V": {"Flip": "Flip only", "Flip+Crop": "Flip + crop"},
}
DEFAULT_VARIANTS = tuple(name for name in VARIANTS if name not in PAPER_ROWS_OF_VARIANTS["V"].values())


def variant_config(base: TrainConfig, variant: str, seed: int, out_dir: Path) -> TrainConfig:
    """``base`` with the variant's changes, the seed, and its own output folder."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ablation variant {variant!r}; known: {', '.join(VARIANTS)}")
    slug = re.sub(r"[^a-z0-9]+", "_", variant.lower()).strip("_")  # "Flip + crop" -> flip_crop
    changes = dict(VARIANTS[variant])
    if changes.get("roi_size") == BASELINE_ROI:
        changes["roi_size"] = backbone_defaults(base.backbone)["baseline_roi_size"]
    if not changes["use_theme"]:
        # A model without themes has no theme to condition on: it fits its photos' own votes (the paper's
        # targets) and predicts with no theme input, whatever the base recipe does with themes.
        changes.update(head_targets="votes", no_theme="learned")
    if changes.get("head_targets", base.head_targets) != "every_theme":
        changes["own_theme_weight"] = 1.0  # it weighs the pairs of every-theme targets; votes have one pair a photo
    return dataclasses.replace(base, **changes, seed=seed, out_dir=str(out_dir / slug / f"seed{seed}"))


def run_ablation(
    base: TrainConfig,
    out_dir: str | Path,
    seeds: Sequence[int] = (0, 1, 2),
    variants: Iterable[str] = DEFAULT_VARIANTS,
    tta: bool = True,
    progress: bool = True,
    command: str | None = None,
) -> pd.DataFrame:
    """Train and evaluate every (variant, seed) on the test split; returns and writes ``results.csv`` and
    its sidecar ``results.json`` (``command``, dates, git commit, the base config, seeds, variants, tta).

    tta: the paper's test protocol (six views for pad variants, 20 random views for resize/crop).
    Pairs already in ``results.csv`` are skipped; an interrupted training resumes from its last.pt.
    Frozen-backbone features are shared between runs through ``out_dir/features`` (``feature_cache``;
    ``base.feature_cache`` overrides the folder): variants and seeds with the same views reuse them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.csv"
    variants, seeds = list(variants), list(seeds)
    if base.feature_cache is None:
        base = dataclasses.replace(base, feature_cache=str(out_dir / "features"))
    provenance = _start_provenance(results_path.with_suffix(".json"), base, seeds, variants, tta, command)
    done = pd.read_csv(results_path) if results_path.is_file() else pd.DataFrame(columns=["variant", "seed"])
    finished = set(zip(done["variant"], done["seed"].astype(int)))
    for variant in variants:
        for seed in seeds:
            if (variant, seed) in finished:
                continue
            config = variant_config(base, variant, seed, out_dir)
            if progress:
                print(f"== {variant}, seed {seed} -> {config.out_dir}", flush=True)
            resume = (Path(config.out_dir) / "last.pt").is_file()  # train names a run other code wrote
            result = train(config, resume=resume, progress=progress)
            metrics, pred, target = evaluate_checkpoint(
                result.checkpoint, split="test", tta=tta, themes=config.use_theme, device=config.device, return_predictions=True,
                feature_cache=config.feature_cache,
            )
            data = load_checkpoint(result.checkpoint)["data"]
            row = {"variant": variant, "seed": seed, **metrics, **prediction_spread(pred, target),
                   "epochs": config.epochs, "head_epochs": config.head_epochs, "backbone": config.backbone,
                   "data": f"{data.get('name', '?')}{' (SYNTHETIC, not AVA)' if data.get('synthetic') else ''}",
                   "checkpoint": str(result.checkpoint)}  # fmt: skip
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            done.to_csv(results_path, index=False)
    _finish_provenance(results_path.with_suffix(".json"), provenance)
    return done


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _start_provenance(sidecar: Path, base: TrainConfig, seeds: list[int], variants: list[str], tta: bool, command: str | None) -> dict[str, Any]:
    """What made ``results.csv``, for ``notebook.results_source``: kept from an earlier (resumed) run where it
    matches, with this run's command, commit and variants added."""
    earlier = read_json_object(sidecar, "the run's command, seeds and variants") if sidecar.is_file() else {}
    provenance = {
        "command": command or earlier.get("command"),
        "started_utc": earlier.get("started_utc") or _utc_now(),
        "finished_utc": None,
        "git_commit": git_commit(short=False, mark_changes=True) or None,
        # a resumed run's rows may come from earlier code: every commit that wrote some of them stays named
        "earlier_git_commits": _earlier_commits(earlier),
        "config": {key: value for key, value in dataclasses.asdict(base).items() if key not in ("out_dir",)},
        "seeds": sorted(set(earlier.get("seeds", [])) | set(seeds)),
        "variants": list(dict.fromkeys([*earlier.get("variants", []), *variants])),
        "tta": tta,
        "torch_threads": torch.get_num_threads(),
    }
    _write_json(sidecar, provenance)
    return provenance


def _earlier_commits(earlier: dict[str, Any]) -> list[str]:
    commits = [*earlier.get("earlier_git_commits", []), earlier.get("git_commit")]
    return list(dict.fromkeys(commit for commit in commits if commit))


def _finish_provenance(sidecar: Path, provenance: dict[str, Any]) -> None:
    _write_json(sidecar, {**provenance, "finished_utc": _utc_now()})


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, default=str) + "\n"
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def prediction_spread(pred, target) -> dict[str, float]:
    """Standard deviation across photos of the predicted and the target mean scores.

    Why: SRCC alone cannot tell a model that ranks badly from one that never left the training
    marginal (every photo gets the same distribution, ``pred_mean_sd`` ~ 0) -- the usual state of a
    network trained from scratch on too small a budget.
    """
    return {"pred_mean_sd": float(distribution_mean(pred).std()), "target_mean_sd": float(distribution_mean(target).std())}


def add_prediction_spread(results: pd.DataFrame, tta: bool = False, device: str = "auto", progress: bool = True) -> pd.DataFrame:
    """Fill ``pred_mean_sd`` / ``target_mean_sd`` of rows written without them (older runs) from their checkpoints."""
    results = results.copy()
    for column in ("pred_mean_sd", "target_mean_sd"):
        if column not in results:
            results[column] = np.nan
    missing = results.index[results["pred_mean_sd"].isna()]
    for index in tqdm(missing, desc="prediction spread", disable=not progress or len(missing) == 0):
        _, pred, target = evaluate_checkpoint(
            results.at[index, "checkpoint"], split="test", tta=tta, themes=None, device=device, return_predictions=True
        )  # themes=None: as each variant was trained
        for key, value in prediction_spread(pred, target).items():
            results.at[index, key] = value
    return results


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
    command = shlex.join(["python", "-m", "workbench", "ablation", *(sys.argv[1:] if argv is None else argv)])
    results = run_ablation(base, args.out, args.seeds, args.variants, tta=not args.no_tta, command=command)
    if "pred_mean_sd" not in results or results["pred_mean_sd"].isna().any():
        results = add_prediction_spread(results, tta=not args.no_tta, device=base.device, progress=True)
        results.to_csv(Path(args.out) / "results.csv", index=False)
    print(summarize(results).to_string())
    return 0


def summarize(
    results: pd.DataFrame, metrics: Sequence[str] = ("srcc_mean", "srcc_std", "emd1", "kl", "pred_mean_sd")
) -> pd.DataFrame:
    """Mean and sd across seeds of the Table III metrics, one row per variant, in run order
    (metrics that ``results`` lacks, e.g. ``pred_mean_sd`` of older runs, are left out)."""
    present = [metric for metric in metrics if metric in results and results[metric].notna().any()]
    return aggregate_seeds(results.rename(columns={"variant": "model"}), present)
