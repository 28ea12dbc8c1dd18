"""Training: the paper's recipe (Sec. IV-B) as a dataclass config, a plain loop, and hooks around it.

Use it from a notebook cell or the CLI (``python -m workbench train --config FILE.yaml``)::

    result = train(TrainConfig(data_root="data/synth", backbone="compact", pretrained=False))
    result.history                      # one row per epoch
    plot_history(result.history)

The step does only forward, loss (eq. 7, ``emd_loss`` with ``r = emd_r``), backward and the optimizer
step; evaluation, the LR schedule, checkpoints, progress bars and live plots are hooks called
``before_train`` / ``after_step`` / ``after_epoch`` / ``after_train`` (detectron2's pattern).

Resuming is exact: the batch order depends only on (seed, epoch), each sample's augmentation on
(seed, epoch, index), theme dropout on (seed, epoch, step, rank), and the global RNG that dropout
layers draw from is saved in every checkpoint. A run killed at any point and resumed from its
``last.pt`` ends (on CPU) with bit-identical weights to an uninterrupted run.

Launched by ``torchrun`` (``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` set), training runs as
DistributedDataParallel: every rank takes its share of the same batch list, evaluation predictions
are gathered across ranks, and only rank 0 writes files or shows progress.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import itertools
import math
import os
import signal
import sys
import threading
import time
import typing
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from workbench.checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from workbench.data.augment import AUGMENTS, TRANSFORMS, transform_canvas
from workbench.data.batching import MIN_SIDE, ShapeGroupedBatchSampler, pad_batch
from workbench.data.datasets import (
    AestheticDataset, PHOTONET_SPLIT_SIZES, ava_table, check_images, collate_padded, photonet_table, read_ava_tanet_csv,
    read_ava_txt, read_csv_folder, read_idealo_json,
)  # fmt: skip
from workbench.losses import emd_loss
from workbench.metrics import evaluate, results_table
from workbench.model.build import AestheticModel, build_model
from workbench.model.heads import NO_THEME
from workbench.model.roi import ROI_MODES

DATA_SOURCES = ("csv", "ava", "photonet")
STOP_CHECK_STEPS = 10  # under DDP, ranks agree on a pending SIGINT/SIGTERM every this many steps
# Fields that may differ between a run and its resume: they change how, not what, is trained.
RESUMABLE_CHANGES = frozenset({
    "epochs", "out_dir", "device", "num_workers", "save_every_steps", "eval_tta",
    "amp", "amp_dtype", "channels_last", "compile", "accelerate_on_cpu",
})  # fmt: skip
AMP_DTYPES = {"auto": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------------------------------
# Config


@dataclass
class TrainConfig:
    """Everything a training run depends on. Defaults are the paper's AVA recipe (Sec. IV-B)."""

    # Data
    data: str = "csv"  # label source: "csv" (a folder with labels.csv, e.g. from `workbench synth`), "ava", "photonet"
    data_root: str = "data/synth"  # csv: the dataset folder; ava/photonet: the folder relative paths below start from
    images_dir: str = "images"  # ava/photonet: folder holding <image_id>.jpg (relative to data_root unless absolute)
    ava_labels: str = "AVA.txt"  # ava: AVA.txt, a TANet/ReLIC .csv or idealo's .json (relative to data_root)
    ava_challenges: str = "challenges.txt"  # ava: challenges.txt, the 1,398 theme names (relative to data_root)
    ava_test_list: str | None = None  # ava: .jpgl of test ids; None = aesthetics_image_lists/generic_test.jpgl beside challenges.txt
    photonet_labels: str = "photonet_dataset.txt"  # photonet: the published label file (relative to data_root)
    val_fraction: float = 0.05  # share of the training photos held out for validation (ava; csv folders without val rows)
    split_seed: int = 0  # seed of the random splits (kept fixed when `seed` changes, so runs share one test set)
    limit_images: int | None = None  # smoke runs: keep at most this many photos of each split (seeded); None = all
    # Model (Sec. III-D)
    backbone: str = "inception_v3"  # "inception_v3" (the paper) or "compact" (CPU demo and tests)
    pretrained: bool = True  # start from ImageNet weights (the paper); downloads once into the torch hub cache
    roi: str = "pool"  # "pool" (ROI pooling, the paper) or "align" (Tables I-II "Align")
    roi_size: int = 146  # side of the ROI pooling output replacing Inception's first max-pool (2 x 73)
    freeze_bn: bool = True  # fix BatchNorm layers at their pre-trained statistics (batch 16 is too small)
    use_theme: bool = True  # feed the photo's theme (AVA challenge) through the theme branch (Sec. III-B)
    theme_dropout: float = 0.1  # probability a training photo's theme is replaced by -1, so one model predicts with and without it
    # Input (Sec. III-A, IV-B, IV-D)
    canvas: int = 800  # side of the square canvas photos are zero-padded into (larger photos are downscaled to fit)
    transform: str = "full"  # "full" (pad + ROI, the paper) or the 299x299 ablations "resize", "resized_pad", "crop"
    augment: str = "flip_crop"  # "flip_crop" (one of the six views at random, the paper), "flip" or "none"
    shape_grouped: bool = True  # batch photos of similar shape and pad to the batch's largest, not the full canvas
    # Optimisation (Sec. III-C, IV-B)
    epochs: int = 30  # training epochs
    batch_size: int = 16  # photos per step (per process under DDP)
    lr_backbone: float = 1e-3  # SGD learning rate of the convolutional layers
    lr_head: float = 1e-2  # learning rate of the fully connected layers (theme branch + head): 10x
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # SGD weight decay
    lr_step_epochs: int = 10  # the learning rate is multiplied by lr_gamma every this many epochs
    lr_gamma: float = 0.5  # learning rate factor every lr_step_epochs (halved, as in the paper)
    emd_r: float = 2  # r of the EMD training loss, eq. (7)
    seed: int = 0  # seeds the model initialisation, the batch order, augmentation and theme dropout
    # Runtime
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"
    amp: bool = True  # mixed precision (autocast) on CUDA; on CPU only with accelerate_on_cpu
    amp_dtype: str = "auto"  # "auto" (bfloat16 where the device has it natively, else float16 + GradScaler), "bfloat16", "float16"
    channels_last: bool = True  # channels-last memory format (faster convolutions on CUDA); on CPU only with accelerate_on_cpu
    compile: bool = False  # torch.compile the backbone's body (after ROI pooling); on CPU only with accelerate_on_cpu
    accelerate_on_cpu: bool = False  # apply amp, channels_last and compile on CPU too (checks those paths without a GPU)
    num_workers: int = 4  # DataLoader worker processes decoding photos (0 = in the training process)
    eval_tta: bool = False  # validate on the average over the test views (six for full), not the single view
    out_dir: str = "runs/default"  # where last.pt, best.pt, config.yaml and history.csv go
    max_steps_per_epoch: int | None = None  # smoke runs: stop each epoch after this many steps; None = whole epoch
    save_every_steps: int | None = None  # also write last.pt every this many steps (besides every epoch); None = per epoch

    def __post_init__(self):
        _check_choice("data", self.data, DATA_SOURCES)
        _check_choice("transform", self.transform, TRANSFORMS)
        _check_choice("augment", self.augment, AUGMENTS)
        _check_choice("roi", self.roi, ROI_MODES)
        _check_choice("amp_dtype", self.amp_dtype, tuple(AMP_DTYPES))
        for name in ("roi_size", "epochs", "batch_size", "lr_step_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"config: {name} must be >= 1, got {getattr(self, name)}")
        for name in ("limit_images", "max_steps_per_epoch", "save_every_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"config: {name} must be >= 1 or None, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"config: num_workers must be >= 0, got {self.num_workers}")
        if not 0 <= self.theme_dropout < 1:
            raise ValueError(f"config: theme_dropout must be in [0, 1), got {self.theme_dropout}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"config: val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.canvas < MIN_SIDE:
            raise ValueError(f"config: canvas must be >= {MIN_SIDE}, got {self.canvas}")
        if self.emd_r < 1:
            raise ValueError(f"config: emd_r must be >= 1, got {self.emd_r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"config: device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.freeze_bn and not self.pretrained:
            warnings.warn(
                "config: freeze_bn=True with pretrained=False freezes BatchNorm at its initial statistics "
                "(mean 0, variance 1), so activations grow layer after layer (~1e12 through Inception-v3); "
                "use freeze_bn=false when training from scratch", stacklevel=3,
            )  # fmt: skip

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build a config from plain values (YAML, CLI); unknown keys are an error naming close matches."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [key for key in values if key not in known]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6) or [k for k in known if str(key) in k][:3]
                hints.append(f"{key!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""))
            raise ValueError(f"unknown config key(s) {', '.join(hints)}; known keys: {', '.join(known)}")
        types = typing.get_type_hints(cls)
        return cls(**{key: coerce_field(key, types[key], value) for key, value in values.items()})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides) -> "TrainConfig":
        """Read a YAML file of config fields, then apply ``overrides``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
        try:
            return cls.from_dict({**values, **overrides})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from None

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The config as YAML text; written to ``path`` when given."""
        text = yaml.safe_dump(asdict(self), sort_keys=False)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        return text


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"config: {name} must be one of {', '.join(choices)}, got {value!r}")


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce_field(name: str, annotation: Any, value: Any) -> Any:
    """Convert a YAML/CLI value to a field's type (``"1e-3"`` -> 0.001, ``"none"`` -> None, ``"false"`` -> False)."""
    args = typing.get_args(annotation)
    optional = type(None) in args
    kind = next((a for a in args if a is not type(None)), annotation) if args else annotation
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        if optional:
            return None
        raise ValueError(f"config: {name} cannot be None (expected {kind.__name__})")
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    value = float(value)  # "1e3"
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return str(value)
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"config: {name} must be {'an' if kind is int else 'a'} {kind.__name__}"
                         f"{' or None' if optional else ''}, got {value!r}") from None  # fmt: skip
    return value


# --------------------------------------------------------------------------------------------------
# Data


def _resolve(root: Path, path: str | None) -> Path | None:
    if path is None:
        return None
    path = Path(path).expanduser()
    return path if path.is_absolute() else root / path


def _read_ava_labels(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        return read_ava_tanet_csv(path)
    if path.suffix.lower() == ".json":
        return read_idealo_json(path)
    return read_ava_txt(path)


def load_table(config: TrainConfig) -> pd.DataFrame:
    """The label table the config names: its source, splits (with a validation hold-out) and limit."""
    root = Path(config.data_root).expanduser()
    if config.data == "csv":
        table = read_csv_folder(root, seed=config.split_seed)
    elif config.data == "ava":
        for name in ("ava_labels", "ava_challenges"):
            if not _resolve(root, getattr(config, name)).is_file():
                raise FileNotFoundError(f"{_resolve(root, getattr(config, name))}: no such file (config {name}, data_root {root})")
        table = ava_table(
            _read_ava_labels(_resolve(root, config.ava_labels)), _resolve(root, config.ava_challenges),
            _resolve(root, config.images_dir), test_list=_resolve(root, config.ava_test_list),
            val_fraction=config.val_fraction, seed=config.split_seed,
        )  # fmt: skip
    else:
        labels = _resolve(root, config.photonet_labels)
        if not labels.is_file():
            raise FileNotFoundError(f"{labels}: no such file (config photonet_labels, data_root {root})")
        # Sec. IV-A 2: a random 14,800 train / 666 val / 1,200 test split of the photos that could be downloaded.
        table = photonet_table(labels, _resolve(root, config.images_dir), seed=config.split_seed,
                               split_sizes=PHOTONET_SPLIT_SIZES, require_images=True)  # fmt: skip
    attrs = dict(table.attrs)
    attrs.setdefault("root", str(root.resolve()))
    if config.data == "csv" and not (table["split"] == "val").any() and config.val_fraction > 0:
        table = _hold_out_validation(table, config.val_fraction, config.split_seed)
    if config.limit_images is not None:
        table = _limit_per_split(table, config.limit_images, config.split_seed)
    table.attrs = attrs
    return table


def _hold_out_validation(table: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Move ``fraction`` of the training rows (seeded, independent of row order) to the ``val`` split."""
    table = table.copy()
    train_rows = np.flatnonzero((table["split"] == "train").to_numpy())
    ids = table["image_id"].to_numpy(dtype=str)[train_rows]
    order = train_rows[np.argsort(ids, kind="stable")][np.random.default_rng([seed, 1]).permutation(len(train_rows))]
    table.loc[order[: int(round(fraction * len(train_rows)))], "split"] = "val"
    return table


def _limit_per_split(table: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    keep = []
    for split in ("train", "val", "test"):
        rows = np.flatnonzero((table["split"] == split).to_numpy())
        ids = table["image_id"].to_numpy(dtype=str)[rows]
        rows = rows[np.argsort(ids, kind="stable")][np.random.default_rng([seed, 2]).permutation(len(rows))]
        keep.extend(sorted(rows[:limit].tolist()))
    return table.iloc[sorted(keep)].reset_index(drop=True)


def prepare_table(config: TrainConfig, verbose: bool = True) -> pd.DataFrame:
    """``load_table`` then drop photos that are missing or unreadable (``check_images``), printing the counts."""
    table = load_table(config)
    attrs = dict(table.attrs)
    kept, report = check_images(table)
    kept.attrs = attrs
    if verbose:
        splits = kept["split"].value_counts()
        dropped = ", ".join(f"{reason} {count:,}" for reason, count in report.items() if reason != "kept" and count)
        print(
            f"data: {attrs.get('name', config.data)}{' (synthetic)' if attrs.get('synthetic') else ''}: "
            f"{report['kept']:,} of {len(table):,} photos usable{f' (dropped: {dropped})' if dropped else ''}; "
            + " / ".join(f"{split} {int(splits.get(split, 0)):,}" for split in ("train", "val", "test"))
            + f"; {attrs.get('num_bins')} bins, {len(attrs.get('theme_names', []))} themes",
            flush=True,
        )
    return kept


def data_description(table: pd.DataFrame) -> dict[str, Any]:
    """What a checkpoint records about its data; synthetic data is labelled synthetic."""
    attrs = table.attrs
    return {
        "name": str(attrs.get("name", "")),
        "description": str(attrs.get("description", "")),
        "synthetic": bool(attrs.get("synthetic", False)),
        "root": str(attrs.get("root", "")),
    }


class EpochBatchSampler(Sampler[list[int]]):
    """Shuffled batches by (seed, epoch), split across ranks like ``ShapeGroupedBatchSampler``."""

    def __init__(self, count: int, batch_size: int, seed: int = 0, num_replicas: int = 1, rank: int = 0):
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count)
        batches = [order[i : i + self.batch_size].tolist() for i in range(0, self.count, self.batch_size)]
        if self.num_replicas > 1 and batches:
            per_rank = math.ceil(len(batches) / self.num_replicas)
            batches = (batches * self.num_replicas)[: per_rank * self.num_replicas][self.rank :: self.num_replicas]
        return iter(batches)

    def __len__(self) -> int:
        return math.ceil(math.ceil(self.count / self.batch_size) / self.num_replicas)


class _Resumed(Sampler[list[int]]):
    """A batch sampler without its first ``skip`` batches (done before a resume) and cut at ``limit``."""

    def __init__(self, batch_sampler: Sampler, skip: int = 0, limit: int | None = None):
        self.batch_sampler, self.skip, self.limit = batch_sampler, skip, limit

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, self.limit)

    def __len__(self) -> int:
        total = len(self.batch_sampler) if self.limit is None else min(self.limit, len(self.batch_sampler))
        return max(0, total - self.skip)


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave SIGINT / SIGTERM to the training process, which stops cleanly and ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _collate(items: Sequence[dict | None], canvas: int | None) -> dict[str, Any]:
    """``collate_padded``, but a batch whose photos all failed comes back as ``{"skipped": n}``."""
    data = collate_padded(items, canvas=canvas)
    return {"skipped": len(items)} if data is None else data


# --------------------------------------------------------------------------------------------------
# Evaluation


class _TestViews(Dataset):
    """Each photo's test views (one, or the TTA views) with its target, theme and index."""

    def __init__(self, dataset: AestheticDataset, tta: bool):
        self.dataset, self.tta = dataset, tta

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        views = self.dataset.test_items(index, tta=self.tta)
        if views is None:
            return None
        return {"views": views, "target": self.dataset.targets[index], "theme": int(self.dataset.themes[index]), "index": index}


def _collate_views(items: Sequence[dict | None]) -> dict[str, Any] | None:
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    views = [view for item in kept for view in item["views"]]
    return {
        "batch": pad_batch(views, canvas=None),
        "counts": torch.tensor([len(item["views"]) for item in kept]),
        "target": torch.stack([item["target"] for item in kept]),
        "theme": torch.tensor([item["theme"] for item in kept], dtype=torch.long),
        "index": torch.tensor([item["index"] for item in kept], dtype=torch.long),
    }


def _views_per_photo(transform: str, tta: bool) -> int:
    if not tta:
        return 1
    return 6 if transform in ("full", "resized_pad") else 20


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


@dataclass(frozen=True)
class DeviceOptions:
    """What a run uses on its device beyond plain float32 (``device_options``)."""

    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype; None = float32
    memory_format: torch.memory_format = torch.contiguous_format  # of the model and the input batches
    compile: bool = False  # torch.compile the backbone's body
    pin_memory: bool = False  # page-locked DataLoader batches, copied to the GPU asynchronously

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def device_options(config: TrainConfig, device: torch.device) -> DeviceOptions:
    """AMP, channels_last and compile apply on CUDA, and on CPU only with ``accelerate_on_cpu``."""
    cuda = device.type == "cuda"
    accelerate = cuda or config.accelerate_on_cpu
    amp_dtype = None
    if config.amp and accelerate:
        amp_dtype = AMP_DTYPES[config.amp_dtype] or (torch.bfloat16 if not cuda or _native_bfloat16(device) else torch.float16)
    return DeviceOptions(
        device, amp_dtype, torch.channels_last if config.channels_last and accelerate else torch.contiguous_format,
        compile=config.compile and accelerate, pin_memory=cuda,
    )  # fmt: skip


def _native_bfloat16(device: torch.device) -> bool:
    # Not torch.cuda.is_bf16_supported()'s default: it also says yes to the slow emulation on
    # pre-Ampere GPUs (V100, T4), where float16 with a GradScaler is the fast choice.
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    dataset: AestheticDataset,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    tta: bool = False,
    themes: bool = True,
    *,
    num_workers: int = 0,
    options: DeviceOptions | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predict every photo of ``dataset``: ``(pred [N, K], target [N, K], index [N])``, sorted by index.

    tta: average the six views (full, resized_pad) or 20 random views (resize, crop) per photo.
    themes: give the model each photo's theme; False predicts without (theme -1).
    options: autocast dtype, memory format, pinned memory (``device_options``); None = float32.
    Photos that fail to load are left out (``index`` says which remain). Under DDP each rank
    predicts its share and all ranks return the gathered predictions.
    """
    device = torch.device(device)
    options = options or DeviceOptions(device, pin_memory=device.type == "cuda")
    themes = themes and getattr(model, "num_themes", 0) > 0  # a model without themes gets -1 for every photo
    rank, world_size = (dist.get_rank(), dist.get_world_size()) if _distributed() else (0, 1)
    indices = np.arange(len(dataset))[rank::world_size]
    # Photos of similar shape together, so padding to the batch's largest wastes little.
    sizes = np.maximum(np.asarray(dataset.sizes, dtype=np.float64)[indices], 1)
    indices = indices[np.lexsort((sizes[:, 0] * sizes[:, 1], np.round(np.log(sizes[:, 0] / sizes[:, 1]) * 8)))]
    photos_per_batch = max(1, batch_size // _views_per_photo(dataset.transform, tta))
    batches = [indices[i : i + photos_per_batch].tolist() for i in range(0, len(indices), photos_per_batch)]
    loader = DataLoader(
        _TestViews(dataset, tta), batch_sampler=batches, collate_fn=_collate_views, num_workers=num_workers,
        pin_memory=options.pin_memory, generator=torch.Generator().manual_seed(0),
        worker_init_fn=_ignore_stop_signals,
    )  # fmt: skip
    preds, targets, index = [], [], []
    was_training = model.training
    model.eval()
    try:
        for data in tqdm(loader, desc="evaluating", leave=False, disable=not progress or rank != 0, dynamic_ncols=True):
            if data is None:
                continue
            batch = data["batch"].to(device, non_blocking=True, memory_format=options.memory_format)
            photo_themes = data["theme"] if themes else torch.full_like(data["theme"], NO_THEME)
            view_themes = photo_themes.repeat_interleave(data["counts"]).to(device, non_blocking=True)
            with options.autocast():
                pred = model(batch.images, batch.sizes, view_themes)
            photo_of_view = torch.arange(len(data["counts"])).repeat_interleave(data["counts"]).to(device)
            summed = torch.zeros(len(data["counts"]), pred.shape[1], device=device).index_add_(0, photo_of_view, pred.float())
            preds.append((summed / data["counts"].to(device)[:, None]).cpu().numpy())
            targets.append(data["target"].numpy())
            index.append(data["index"].numpy())
    finally:
        model.train(was_training)
    num_bins = dataset.num_bins
    pred = np.concatenate(preds) if preds else np.zeros((0, num_bins), np.float32)
    target = np.concatenate(targets) if targets else np.zeros((0, num_bins), np.float32)
    index = np.concatenate(index) if index else np.zeros(0, np.int64)
    if world_size > 1:
        gathered: list[Any] = [None] * world_size
        dist.all_gather_object(gathered, (pred, target, index))
        pred, target, index = (np.concatenate([part[i] for part in gathered]) for i in range(3))
    index, first = np.unique(index, return_index=True)  # sorted, without duplicates
    return pred[first], target[first], index


def evaluate_checkpoint(
    path: str | os.PathLike,
    data_root: str | None = None,
    split: str = "test",
    tta: bool = False,
    themes: bool | None = True,
    device: str = "auto",
    batch_size: int | None = None,
    num_workers: int = 0,
    progress: bool = False,
    return_predictions: bool = False,
    **overrides,
) -> dict[str, float] | tuple[dict[str, float], np.ndarray, np.ndarray]:
    """``metrics.evaluate`` of a checkpoint on a split of its data (or of ``data_root``; ``overrides``
    replace other fields of the checkpoint's training config, e.g. ``ava_test_list``).

    themes: feed each photo's theme (True), none (False), or as the model was trained (None).
    return_predictions: also return the predicted and target distributions (float[N, K] each).
    """
    payload = load_checkpoint(path)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in dict(payload.get("config") or {}).items() if key in known}
    values["limit_images"] = None  # the whole split, whatever the training run used
    if data_root is not None:
        values["data_root"] = str(data_root)
    config = TrainConfig.from_dict({**values, **overrides})
    themes = config.use_theme if themes is None else themes
    table = prepare_table(config, verbose=progress)
    canvas = int(payload.get("canvas", transform_canvas(config.transform, config.canvas)))
    dataset = AestheticDataset(table, split, transform=payload.get("transform", config.transform), canvas=canvas)
    if len(dataset) == 0:
        raise ValueError(f"{config.data_root}: the {split!r} split has no usable photos")
    if dataset.num_bins != payload["num_bins"]:
        raise ValueError(f"{path}: the model predicts {payload['num_bins']} bins but the data has {dataset.num_bins}")
    if themes and payload["theme_names"] and list(dataset.theme_names) != list(payload["theme_names"]):
        # Theme ids index the names: another list would silently feed the wrong themes.
        raise ValueError(f"{path}: the data's theme names differ from the ones the model was trained with")
    target_device = _device(device)
    model = model_from_checkpoint(payload, path).to(target_device)
    pred, target, _ = evaluate_model(
        model, dataset, batch_size or config.batch_size, target_device, tta=tta, themes=themes,
        num_workers=num_workers, options=device_options(config, target_device), progress=progress,
    )  # fmt: skip
    metrics = evaluate(pred, target)
    return (metrics, np.asarray(pred), np.asarray(target)) if return_predictions else metrics


def checkpoint_results_table(
    runs: dict[str, str | os.PathLike | dict[str, float]],
    tables: Sequence[str] = ("I", "II"),
    **evaluate_kwargs,
) -> pd.DataFrame:
    """One row per model in the layout of the paper's Tables I-II (``metrics.results_table``).

    runs: model name -> checkpoint path (evaluated with ``evaluate_checkpoint(**evaluate_kwargs)``)
    or an already computed ``metrics.evaluate`` dict.
    """
    rows = {name: run if isinstance(run, dict) else evaluate_checkpoint(run, **evaluate_kwargs) for name, run in runs.items()}
    return pd.concat([results_table(rows, table=table) for table in tables], axis=1)


# --------------------------------------------------------------------------------------------------
# Hooks


class Hook:
    """Called by the ``Trainer`` around the step (detectron2's HookBase, reduced to four points)."""

    def before_train(self, trainer: "Trainer") -> None:
        pass

    def after_step(self, trainer: "Trainer") -> None:
        pass

    def after_epoch(self, trainer: "Trainer") -> None:
        pass

    def after_train(self, trainer: "Trainer") -> None:
        pass


class EvalHook(Hook):
    """Validate after every epoch; adds ``val_<metric>`` (``metrics.evaluate``) to the epoch's row."""

    def after_epoch(self, trainer: "Trainer") -> None:
        if trainer.val_set is None or len(trainer.val_set) == 0:
            return
        start = time.perf_counter()
        config = trainer.config
        pred, target, _ = evaluate_model(
            trainer.model, trainer.val_set, config.batch_size, trainer.device, tta=config.eval_tta,
            themes=config.use_theme, num_workers=trainer.num_workers, options=trainer.options,
            progress=trainer.progress and trainer.is_main,
        )  # fmt: skip
        trainer.metrics = evaluate(pred, target)
        trainer.history[-1].update({f"val_{name}": value for name, value in trainer.metrics.items()})
        trainer.history[-1]["val_seconds"] = time.perf_counter() - start


class LRSchedulerHook(Hook):
    """Step the epoch-wise LR schedule (StepLR: x lr_gamma every lr_step_epochs)."""

    def after_epoch(self, trainer: "Trainer") -> None:
        trainer.scheduler.step()


class CheckpointHook(Hook):
    """``last.pt`` after every epoch (and every ``save_every_steps``), ``best.pt`` by val EMD (r=1); rank 0 only."""

    def __init__(self, out_dir: str | os.PathLike, save_every_steps: int | None = None):
        self.out_dir = Path(out_dir)
        self.save_every_steps = save_every_steps
        self.last = self.out_dir / "last.pt"
        self.best = self.out_dir / "best.pt"

    def save_last(self, trainer: "Trainer") -> None:
        if trainer.is_main:
            save_checkpoint(self.last, trainer.checkpoint_payload())

    def after_step(self, trainer: "Trainer") -> None:
        if self.save_every_steps and trainer.step % self.save_every_steps == 0:
            trainer.sync_rng_states()
            self.save_last(trainer)

    def after_epoch(self, trainer: "Trainer") -> None:
        trainer.sync_rng_states()
        emd1 = trainer.history[-1].get("val_emd1", math.nan)
        improved = math.isfinite(emd1) and emd1 < trainer.best_val_emd1
        if improved:
            trainer.best_val_emd1 = emd1
        if trainer.is_main:
            payload = trainer.checkpoint_payload()
            save_checkpoint(self.last, payload)
            if improved:
                save_checkpoint(self.best, payload)
            pd.DataFrame(trainer.history).to_csv(self.out_dir / "history.csv", index=False)


class ProgressHook(Hook):
    """A tqdm bar per epoch (renders in Jupyter and terminals) and one summary line per epoch."""

    def __init__(self, every: int = 10):
        self.every = every
        self.bar = None

    def after_step(self, trainer: "Trainer") -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=trainer.steps_in_epoch, initial=trainer.step - 1, dynamic_ncols=True, leave=False,
                desc=f"epoch {trainer.epoch + 1}/{trainer.config.epochs}",
            )  # fmt: skip
        self.bar.update(1)
        if trainer.step % self.every == 0 or trainer.step == trainer.steps_in_epoch:
            self.bar.set_postfix(loss=f"{trainer.running_loss():.4f}", refresh=False)

    def after_epoch(self, trainer: "Trainer") -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        row = trainer.history[-1]
        parts = [f"epoch {row['epoch']}/{trainer.config.epochs}", f"train_loss {row['train_loss']:.4f}"]
        parts += [f"{key} {row[key]:.4f}" for key in ("val_emd2", "val_emd1", "val_srcc_mean", "val_srcc_std") if key in row]
        parts += [f"lr {row['lr']:.2g}", f"{row['seconds']:.0f} s"]
        if row.get("skipped"):
            parts.append(f"skipped {row['skipped']}")
        tqdm.write("  ".join(parts))

    def after_train(self, trainer: "Trainer") -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LivePlotHook(Hook):
    """Redraw ``plot_history`` in the notebook cell after every epoch (one display, updated in place,
    so the progress bars above it stay)."""

    def __init__(self):
        self.handle = None

    def after_epoch(self, trainer: "Trainer") -> None:
        from IPython.display import display
        import matplotlib.pyplot as plt

        figure = plot_history(pd.DataFrame(trainer.history))
        if self.handle is None:
            self.handle = display(figure, display_id=True)
        else:
            self.handle.update(figure)
        plt.close(figure)


def plot_history(history: pd.DataFrame | Sequence[dict], figure=None):
    """Training curves: EMD (train loss and validation, both r = 2) and the validation correlations."""
    import matplotlib.pyplot as plt

    history = pd.DataFrame(history)
    if figure is None:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    else:
        figure.clear()
        axes = figure.subplots(1, 2)
    if len(history):
        epochs = history["epoch"]
        axes[0].plot(epochs, history["train_loss"], "o-", label="train loss (EMD r=2)")
        if "val_emd2" in history:
            axes[0].plot(epochs, history["val_emd2"], "s-", label="val EMD (r=2)")
        if "val_emd1" in history:
            axes[0].plot(epochs, history["val_emd1"], "^--", label="val EMD (r=1)")
        for key, label in (("val_srcc_mean", "SRCC (mean)"), ("val_plcc_mean", "PLCC (mean)"), ("val_srcc_std", "SRCC (std.dev)")):
            if key in history:
                axes[1].plot(epochs, history[key], "o-", label=label)
    axes[0].set(xlabel="epoch", ylabel="EMD", title="loss")
    axes[1].set(xlabel="epoch", ylabel="correlation", title="validation")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


# --------------------------------------------------------------------------------------------------
# The loop


@dataclass
class TrainResult:
    """What ``train`` returns: the per-epoch history, the checkpoints written, the last val metrics."""

    history: pd.DataFrame  # one row per epoch: epoch, train_loss, lr, val_<metric>..., seconds, skipped
    checkpoint: Path  # out_dir/last.pt
    best_checkpoint: Path | None  # out_dir/best.pt (lowest val EMD r=1), None without validation
    metrics: dict[str, float] = field(default_factory=dict)  # the last epoch's validation metrics


@dataclass
class _World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owned: bool = False  # this call initialised the process group, so it destroys it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class _Stopped(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _seed_of(*parts: int) -> int:
    """A 63-bit seed from integers, well mixed (numpy's SeedSequence)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("config: device 'cuda' requested but CUDA is not available; use device: auto or cpu")
        return torch.device("cuda", local_rank)
    return torch.device(name)


class Trainer:
    """The plain loop: for each epoch, for each batch, ``run_step``; hooks do everything else."""

    def __init__(
        self,
        config: TrainConfig,
        model: AestheticModel,
        train_set: AestheticDataset,
        val_set: AestheticDataset | None,
        device: torch.device,
        world: _World,
        progress: bool = True,
    ):
        self.config, self.model, self.device, self.world = config, model, device, world
        self.train_set, self.val_set = train_set, val_set
        self.progress = progress
        self.is_main = world.is_main
        self.cuda = device.type == "cuda"
        self.num_workers = config.num_workers
        self.options = device_options(config, device)
        model.to(device, memory_format=self.options.memory_format)
        model.train()
        backbone = [p for p in model.backbone.parameters() if p.requires_grad]
        head = [p for module in (model.theme_branch, model.head) for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(
            [{"params": backbone, "lr": config.lr_backbone, "name": "backbone"},
             {"params": head, "lr": config.lr_head, "name": "head"}],
            lr=config.lr_backbone, momentum=config.momentum, weight_decay=config.weight_decay,
        )  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_step_epochs, gamma=config.lr_gamma)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.options.amp_dtype == torch.float16)
        self.train_model: nn.Module = model
        if world.size > 1:
            self.train_model = DistributedDataParallel(
                model, device_ids=[device.index] if self.cuda else None,
                forward_sync_buffers=not config.freeze_bn,  # frozen BatchNorm buffers never change
            )  # fmt: skip
        if self.options.compile:
            model.compile_fixed_shape_layers()  # not the whole model: its docstring says why
        if config.shape_grouped:
            self.batch_sampler = ShapeGroupedBatchSampler(
                train_set.sizes, config.batch_size, seed=config.seed, num_replicas=world.size, rank=world.rank
            )
        else:
            self.batch_sampler = EpochBatchSampler(len(train_set), config.batch_size, config.seed, world.size, world.rank)
        self.collate = functools.partial(_collate, canvas=None if config.shape_grouped else train_set.canvas)
        self.hooks: list[Hook] = []
        # State: epochs completed, steps done in the current epoch, per-epoch rows.
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.metrics: dict[str, float] = {}
        self.best_val_emd1 = math.inf
        self.totals = self._zero_totals()
        self.stop_signal: int | None = None
        self.rank_rng: list[dict[str, Any]] | None = None

    # -- the step --------------------------------------------------------------------------------

    def run_step(self, images: torch.Tensor, sizes: torch.Tensor, themes: torch.Tensor, target: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
        """Forward, loss (eq. 7), backward, optimizer step. Returns the loss (detached)."""
        with self.options.autocast():
            pred = self.train_model(images, sizes, themes)
        loss = emd_loss(pred.float(), target, r=self.config.emd_r)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * weight if weight != 1.0 else loss).backward()
        if not self.scaler.is_enabled():  # a GradScaler skips non-finite steps itself (float16)
            self._check_finite_gradients()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

    def _check_finite_gradients(self) -> None:
        """Stop before a NaN/inf step would spoil the weights (and every later checkpoint).

        The gradients, unlike the loss, are all-reduced under DDP: every rank raises at the same step.
        One device sync per step, as a GradScaler makes.
        """
        gradients = [p.grad for p in self.model.parameters() if p.grad is not None]
        if gradients and not torch.isfinite(torch.nn.utils.get_total_norm(gradients)):
            precision = str(self.options.amp_dtype).removeprefix("torch.") if self.options.amp_dtype else "float32"
            raise FloatingPointError(
                f"non-finite gradients at epoch {self.epoch + 1}, step {self.step + 1} ({precision}): the model's "
                "outputs or loss overflowed; the weights were not updated and last.pt holds the last saved state. "
                "Try a lower lr_backbone / lr_head, amp: false, or pretrained weights with freeze_bn"
            )

    def _inputs(self, data: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        """Move a batch to the device and apply theme dropout (seeded by seed, epoch, step, rank)."""
        themes = data["theme"]
        if not self.config.use_theme:
            themes = torch.full_like(themes, NO_THEME)
        elif self.config.theme_dropout > 0:
            generator = torch.Generator().manual_seed(_seed_of(self.config.seed, self.epoch, self.step, self.world.rank))
            dropped = torch.rand(len(themes), generator=generator) < self.config.theme_dropout
            themes = themes.masked_fill(dropped, NO_THEME)
        batch = data["batch"].to(self.device, non_blocking=True, memory_format=self.options.memory_format)
        target = data["target"].to(self.device, non_blocking=True)
        return batch.images, batch.sizes, themes.to(self.device, non_blocking=True), target

    def _placeholder(self) -> dict[str, Any]:
        """A one-photo batch of zeros for a DDP rank whose whole batch failed to load (trained with weight 0,
        so every rank still joins the gradient all-reduce)."""
        num_bins = self.model.num_bins
        return {
            "batch": pad_batch([torch.zeros(3, 2 * MIN_SIDE, 2 * MIN_SIDE)], canvas=None),
            "target": torch.full((1, num_bins), 1.0 / num_bins),
            "theme": torch.tensor([NO_THEME]),
        }

    # -- epochs ----------------------------------------------------------------------------------

    def _zero_totals(self) -> dict[str, float]:
        return {"loss_sum": 0.0, "steps": 0, "images": 0, "skipped": 0, "seconds": 0.0}

    @property
    def steps_in_epoch(self) -> int:
        limit = self.config.max_steps_per_epoch
        return len(self.batch_sampler) if limit is None else min(limit, len(self.batch_sampler))

    def running_loss(self) -> float:
        return self._loss_sum.item() / max(1, self._loss_steps)

    def _loader(self) -> DataLoader:
        self.train_set.set_epoch(self.epoch)
        self.batch_sampler.set_epoch(self.epoch)
        return DataLoader(
            self.train_set, batch_sampler=_Resumed(self.batch_sampler, self.step, self.config.max_steps_per_epoch),
            collate_fn=self.collate, num_workers=self.num_workers, pin_memory=self.options.pin_memory,
            # Seeds the workers (their base seed); never the global RNG, which dropout layers use.
            generator=torch.Generator().manual_seed(_seed_of(self.config.seed, self.epoch, 1)),
            worker_init_fn=_ignore_stop_signals,
        )  # fmt: skip

    def _stop_requested(self) -> int | None:
        if self.world.size == 1:
            return self.stop_signal
        if self.step % STOP_CHECK_STEPS:
            return None  # the all-reduce below syncs the device: only every few steps
        flag = torch.tensor([self.stop_signal or 0], device=self.device if self.cuda else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # every rank stops after the same step
        return int(flag.item()) or None

    def run_epoch(self) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        self._loss_sum = torch.tensor(self.totals["loss_sum"], dtype=torch.float64, device=self.device)
        self._loss_steps = int(self.totals["steps"])
        started = time.perf_counter() - self.totals["seconds"]
        if (signum := self._stop_requested()) is not None:
            raise _Stopped(signum)
        for data in self._loader():
            if "batch" in data:
                loss = self.run_step(*self._inputs(data))
                self._loss_sum += loss.double()
                self._loss_steps += 1
                self.totals["images"] += len(data["target"])
            elif self.world.size > 1:  # every photo of the batch failed to load, but all ranks must all-reduce
                self.run_step(*self._inputs(self._placeholder()), weight=0.0)
            self.step += 1
            self.totals["skipped"] += int(data["skipped"])
            self.totals["steps"] = self._loss_steps
            self.totals["loss_sum"] = self._loss_sum  # a device tensor until the epoch ends (no sync per step)
            self.totals["seconds"] = time.perf_counter() - started
            for hook in self.hooks:
                hook.after_step(self)
            if (signum := self._stop_requested()) is not None:
                raise _Stopped(signum)
        totals = self._all_ranks([float(self._loss_sum), self._loss_steps, self.totals["images"], self.totals["skipped"]])
        self.history.append({
            "epoch": self.epoch + 1,
            "train_loss": totals[0] / max(1, totals[1]),
            "lr": lr,
            "seconds": time.perf_counter() - started,
            "images": int(totals[2]),
            "skipped": int(totals[3]),
        })  # fmt: skip
        self.epoch += 1
        self.step = 0
        self.totals = self._zero_totals()
        for hook in self.hooks:
            hook.after_epoch(self)

    def _all_ranks(self, values: list[float]) -> list[float]:
        """Sums over ranks (the values themselves without DDP)."""
        if self.world.size == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device if self.cuda else "cpu")
        dist.all_reduce(tensor)
        return tensor.tolist()

    def train(self) -> None:
        for hook in self.hooks:
            hook.before_train(self)
        try:
            while self.epoch < self.config.epochs:
                self.run_epoch()
        finally:
            for hook in self.hooks:
                hook.after_train(self)

    # -- checkpoints -----------------------------------------------------------------------------

    def sync_rng_states(self) -> None:
        """Collect every rank's RNG state on all ranks (a checkpoint holds them all)."""
        if self.world.size > 1:
            states: list[Any] = [None] * self.world.size
            dist.all_gather_object(states, _rng_state(self.device))
            self.rank_rng = states

    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything to rebuild the model and to resume exactly (plain types and tensors only)."""
        totals = dict(self.totals)
        totals["loss_sum"] = float(totals["loss_sum"])
        rng = _rng_state(self.device)
        if self.world.size > 1 and self.rank_rng is not None:
            rng["ranks"] = self.rank_rng
        dataset = self.train_set
        return {
            "model_args": dict(self.model.model_args),
            "model": self.model.state_dict(),
            "theme_names": list(dataset.theme_names) if self.model.num_themes else [],
            "num_bins": int(dataset.num_bins),
            "data": data_description(dataset.table),
            "config": asdict(self.config),
            "metrics": dict(self.metrics),
            "history": [dict(row) for row in self.history],
            "epoch": self.epoch,
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "canvas": int(dataset.canvas),
            "transform": dataset.transform,
            "progress": {**totals, "best_val_emd1": self.best_val_emd1, "world_size": self.world.size},
        }

    def load_state(self, payload: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint: model, optimizer, schedule, RNG, epoch and step, history."""
        saved_world = int(payload.get("progress", {}).get("world_size", 1))
        if payload["step"] and saved_world != self.world.size:
            raise CheckpointError(
                f"{path}: saved mid-epoch by {saved_world} process(es); resume it with the same number "
                f"(now {self.world.size}), or from an end-of-epoch checkpoint"
            )
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            if payload.get("scaler"):
                self.scaler.load_state_dict(payload["scaler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"{path}: cannot resume from this checkpoint: {error}") from None
        self.epoch, self.step = int(payload["epoch"]), int(payload["step"])
        self.history = [dict(row) for row in payload.get("history", [])]
        self.metrics = dict(payload.get("metrics") or {})
        progress = dict(payload.get("progress") or {})
        self.best_val_emd1 = float(progress.get("best_val_emd1", math.inf))
        self.totals = {key: progress.get(key, value) for key, value in self._zero_totals().items()}
        rng = payload.get("rng") or {}
        ranks = rng.get("ranks")
        _set_rng_state(ranks[self.world.rank] if ranks and len(ranks) == self.world.size else rng, self.device)

    def result(self, checkpoints: CheckpointHook) -> TrainResult:
        best = checkpoints.best if math.isfinite(self.best_val_emd1) else None
        return TrainResult(pd.DataFrame(self.history), checkpoints.last, best, dict(self.metrics))


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = [torch.cuda.get_rng_state(device)]
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda"):
        torch.cuda.set_rng_state(state["cuda"][0], device)


@contextlib.contextmanager
def _stop_on_signals(trainer: Trainer, last: Path):
    """SIGINT / SIGTERM ask the loop to stop after the current step (it then saves and leaves);
    a second signal stops at once, without saving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer.stop_signal is not None:
            raise KeyboardInterrupt
        trainer.stop_signal = signum
        if trainer.is_main:
            print(f"\n{signal.Signals(signum).name}: stopping after this step and saving {last} "
                  "(send it again to stop at once, without saving)", file=sys.stderr, flush=True)  # fmt: skip

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _init_distributed(config: TrainConfig) -> _World:
    """Join the process group ``torchrun`` set up (env RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return _World()
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():
        return _World(rank, size, local_rank, owned=False)
    device = _device(config.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    return _World(rank, size, local_rank, owned=True)


def _check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    current = asdict(config)
    defaults = asdict(TrainConfig())
    differ = [
        f"{key} ({saved.get(key, defaults[key])!r} in the checkpoint, {value!r} now)"
        for key, value in current.items()
        if key not in RESUMABLE_CHANGES and saved.get(key, defaults[key]) != value
    ]
    if differ:
        raise CheckpointError(
            f"{path}: cannot resume with different settings: {'; '.join(differ)}. Use the checkpoint's settings "
            f"or start a new run in another out_dir (only {', '.join(sorted(RESUMABLE_CHANGES))} may change)"
        )


def train(config: TrainConfig | dict, resume: bool | str | os.PathLike = False, progress: bool = True, hooks: Iterable[Hook] = ()) -> TrainResult:
    """Train a model as ``config`` says; returns the history, the checkpoints written and the last val metrics.

    resume: True continues from ``out_dir/last.pt``, a path from that checkpoint (new checkpoints still
        go to ``out_dir``). The settings must match the checkpoint's (``RESUMABLE_CHANGES`` may differ).
    progress: tqdm bars and a line per epoch (plus live curves in a notebook); rank 0 only.
    hooks: extra ``Hook`` objects, called after the built-in ones.
    SIGINT (Ctrl-C, a notebook's interrupt) and SIGTERM stop after the current step, save ``last.pt``,
    then raise KeyboardInterrupt or exit with status 143.
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    world = _init_distributed(config)
    try:
        return _train(config, world, resume, progress, list(hooks))
    finally:
        if world.owned:
            dist.destroy_process_group()


def _train(config: TrainConfig, world: _World, resume: bool | str | os.PathLike, progress: bool, hooks: list[Hook]) -> TrainResult:
    device = _device(config.device, world.local_rank)
    out_dir = Path(config.out_dir)
    payload = None
    if resume:
        path = out_dir / "last.pt" if resume is True else Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to resume from (train without resume to start a new run)")
        payload = load_checkpoint(path)
        _check_resumable(dict(payload.get("config") or {}), config, path)
    elif world.is_main and (out_dir / "last.pt").is_file():
        print(f"note: {out_dir} holds an earlier run; its checkpoints will be overwritten (resume=True continues it)", file=sys.stderr)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    import random

    random.seed(config.seed)

    table = prepare_table(config, verbose=world.is_main)
    canvas = transform_canvas(config.transform, config.canvas)
    train_set = AestheticDataset(table, "train", config.transform, canvas, train=True, augment=config.augment, seed=config.seed)
    if len(train_set) == 0:
        raise ValueError(f"{config.data_root}: no usable training photos")
    val_set = AestheticDataset(table, "val", config.transform, canvas)
    num_themes = len(train_set.theme_names) if config.use_theme else 0
    download_first = world.size > 1 and config.pretrained  # rank 0 fills the weights cache, then the others read it
    if download_first and not world.is_main:
        dist.barrier()
    model = build_model(
        config.backbone, num_bins=train_set.num_bins, num_themes=num_themes, roi=config.roi,
        roi_size=config.roi_size, pretrained=config.pretrained, freeze_bn=config.freeze_bn,
    )  # fmt: skip
    if download_first and world.is_main:
        dist.barrier()
    if world.size > 1:
        torch.manual_seed(_seed_of(config.seed, world.rank))  # dropout masks differ across ranks
    trainer = Trainer(config, model, train_set, val_set if len(val_set) else None, device, world, progress)
    if payload is not None:
        if payload["num_bins"] != train_set.num_bins or list(payload["theme_names"])[:num_themes] != train_set.theme_names[:num_themes]:
            raise CheckpointError(f"{path}: the checkpoint's bins/themes do not match the data")
        trainer.load_state(payload, path)
    checkpoints = CheckpointHook(out_dir, config.save_every_steps)
    trainer.hooks = [EvalHook(), LRSchedulerHook(), checkpoints]
    if progress and world.is_main:
        trainer.hooks.append(ProgressHook())
        if _in_notebook():
            trainer.hooks.append(LivePlotHook())
    trainer.hooks += hooks
    if world.is_main:
        config.to_yaml(out_dir / "config.yaml")
    with _stop_on_signals(trainer, checkpoints.last):
        try:
            trainer.train()
        except _Stopped as stop:
            trainer.sync_rng_states()  # every rank stopped after the same step
            checkpoints.save_last(trainer)
            if stop.signum == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise SystemExit(128 + stop.signum) from None
    if trainer.epoch >= config.epochs and not checkpoints.last.exists() and world.is_main:
        checkpoints.save_last(trainer)  # nothing left to train after a resume: still leave last.pt
    return trainer.result(checkpoints)
