"""Predicting a whole split (optionally averaging the test-time views) and scoring checkpoints.

``evaluate_model`` runs a dataset's photos through ``workbench.inference`` (the same views, shape-sorted
batches and backbone as ``Predictor``), applies the head under each photo's theme and averages each
photo's views (``inference.head_predictions`` and ``mean_over_views``, as ``Predictor`` does); under DDP
every rank predicts its share and the predictions are gathered.
``evaluate_checkpoint`` rebuilds a checkpoint's model and data and returns ``metrics.evaluate``;
``checkpoint_results_table`` lays several out like the paper's Tables I-II.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn

from workbench.checkpoints import load_checkpoint, model_from_checkpoint
from workbench.config import TrainConfig
from workbench.data.datasets import AestheticDataset
from workbench.data.prepare import prepare_table
from workbench.feature_cache import cache_path, cached_split_features, evaluation_fingerprint
from workbench.inference import TestViews, ViewFeatures, head_predictions, mean_over_views, shape_sorted_batches, view_features
from workbench.metrics import evaluate, results_table
from workbench.model.heads import NO_THEME
from workbench.runtime import DeviceOptions, device_options, is_distributed, resolve_device


def _rank_share() -> tuple[int, int]:
    """(rank, world size): under DDP each rank predicts every world-size-th photo of a split."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def split_features(
    model: nn.Module,
    dataset: AestheticDataset,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    tta: bool = False,
    *,
    num_workers: int = 0,
    options: DeviceOptions | None = None,
    progress: bool = False,
) -> Iterator[ViewFeatures]:
    """The backbone's features of this rank's share of ``dataset``'s photos, all their test views
    (``inference.view_features``), batch by batch. Keep them (``list(...)``) to evaluate heads trained
    on a frozen backbone many times, each time without the backbone (``evaluate_model(features=...)``).
    """
    rank, world_size = _rank_share()
    indices = np.arange(len(dataset))[rank::world_size]
    views = TestViews(dataset.load_photo, len(dataset), dataset.transform, tta, dataset.canvas)
    batches = [[int(indices[i]) for i in batch] for batch in shape_sorted_batches(dataset.sizes[indices], views.views_per_photo, batch_size)]
    return view_features(
        model, views, batches, batch_size, device, options, num_workers=num_workers, progress=progress and rank == 0,
        desc="evaluating",
    )  # fmt: skip


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
    features: Iterable[ViewFeatures] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predict every photo of ``dataset``: ``(pred [N, K], target [N, K], index [N])``, sorted by index.

    tta: average the six views (full, resized_pad) or 20 random views (resize, crop) per photo.
    themes: give the model each photo's theme; False predicts without (theme -1).
    batch_size: the most view images in one forward pass.
    options: autocast dtype, memory format, pinned memory (``device_options``); None = float32.
    features: this rank's ``split_features`` of ``dataset`` with the same ``tta``, from the model's
    current backbone: only the head runs. None: the backbone runs here.
    Photos that fail to load are left out (``index`` says which remain). Under DDP each rank
    predicts its share and all ranks return the gathered predictions.
    """
    device = torch.device(device)
    options = options or DeviceOptions(device)
    themes = themes and getattr(model, "num_themes", 0) > 0  # a model without themes gets -1 for every photo
    world_size = _rank_share()[1]
    dataset_themes = torch.tensor(dataset.themes, dtype=torch.long)
    preds, index = [], []
    if features is None:
        features = split_features(model, dataset, batch_size, device, tta, num_workers=num_workers, options=options, progress=progress)
    was_training = model.training
    model.eval()
    try:
        for part in features:
            photo_themes = dataset_themes[part.index] if themes else torch.full_like(part.index, NO_THEME)
            view_themes = photo_themes.repeat_interleave(part.counts).to(device, non_blocking=True)
            with options.autocast():
                pred = head_predictions(model, part.values, view_themes, dataset.transform)
            preds.append(mean_over_views(pred.float(), part.counts).cpu().numpy())
            index.append(part.index.numpy())
    finally:
        model.train(was_training)
    num_bins = dataset.num_bins
    pred = np.concatenate(preds) if preds else np.zeros((0, num_bins), np.float32)
    index = np.concatenate(index) if index else np.zeros(0, np.int64)
    target = dataset.targets[index].numpy() if len(index) else np.zeros((0, num_bins), np.float32)
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
    feature_cache: str | os.PathLike | None = None,
    **overrides,
) -> dict[str, float] | tuple[dict[str, float], np.ndarray, np.ndarray]:
    """``metrics.evaluate`` of a checkpoint on a split of its data (or of ``data_root``; ``overrides``
    replace other fields of the checkpoint's training config, e.g. ``ava_test_list``).

    themes: feed each photo's theme (True), none (False), or as the model was trained (None).
    return_predictions: also return the predicted and target distributions (float[N, K] each).
    feature_cache: a folder of backbone features shared between runs (``feature_cache``): a checkpoint
    whose backbone, photos and views match a saved file runs only its head (one process only).
    """
    payload = load_checkpoint(path)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {key: value for key, value in payload["config"].items() if key in known}
    values["limit_images"] = None  # the whole split, whatever the training run used
    if data_root is not None:
        values["data_root"] = str(data_root)
    config = TrainConfig.from_dict({**values, **overrides})
    themes = config.use_theme if themes is None else themes
    table = prepare_table(config, verbose=progress)
    dataset = AestheticDataset(table, split, transform=payload["transform"], canvas=payload["canvas"])
    if len(dataset) == 0:
        raise ValueError(f"{config.data_root}: the {split!r} split has no usable photos")
    if dataset.num_bins != payload["num_bins"]:
        raise ValueError(f"{path}: the model predicts {payload['num_bins']} bins but the data has {dataset.num_bins}")
    if themes and payload["theme_names"] and list(dataset.theme_names) != list(payload["theme_names"]):
        # Theme ids index the names: another list would silently feed the wrong themes.
        raise ValueError(f"{path}: the data's theme names differ from the ones the model was trained with")
    target_device = resolve_device(device)
    model = model_from_checkpoint(payload, path).to(target_device)
    options = device_options(config, target_device)
    features = None
    if feature_cache is not None and _rank_share()[1] == 1:
        fingerprint = evaluation_fingerprint(model, dataset, tta)
        compute = lambda: list(split_features(  # noqa: E731
            model, dataset, batch_size or config.batch_size, target_device, tta, num_workers=num_workers, options=options, progress=progress,
        ))  # fmt: skip
        features = cached_split_features(cache_path(feature_cache, dataset, fingerprint), fingerprint, compute, target_device)
    pred, target, _ = evaluate_model(
        model, dataset, batch_size or config.batch_size, target_device, tta=tta, themes=themes,
        num_workers=num_workers, options=options, progress=progress, features=features,
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
