"""The dataset over a label table (``AestheticDataset``) and its collate function.

The readers live by source (``workbench.data.ava``, ``photonet``, ``csv_folder``) and the label-table
helpers in ``workbench.data.tables``.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from workbench.data.augment import TRANSFORMS, test_samples, train_sample
from workbench.data.batching import MIN_SIDE, PaddedBatch, pad_batch, to_normalized_tensor
from workbench.data.images import ImageError, load_image
from workbench.data.tables import SPLITS, image_sizes, vote_columns

__all__ = ["AestheticDataset", "collate_padded"]


class AestheticDataset(Dataset):
    """One split of a label table as photos at full resolution (up to ``canvas``) and vote distributions.

    ``canvas`` bounds the photo every view starts from, whatever the transform: the 299 baselines (resize,
    resized pad, crop) cut or shrink their views from it, as the full view pads it.

    Training items are augmented with ``rng = np.random.default_rng([seed, epoch, index])``, so an item's
    augmentation depends only on (seed, epoch, index): identical across runs, resumes and DataLoader
    workers. Call ``set_epoch`` before each epoch's iterator is created (with ``persistent_workers`` the
    workers keep the epoch they were started with). Other items are the single deterministic test view.
    Items are ``dict(image=Tensor[3, h, w] normalised, target=Tensor[K] float summing to 1, theme=int,
    index=int)`` (``index`` is the row of ``.table``, the split's rows), or None for a missing or corrupt photo (with a warning naming it); ``collate_padded``
    drops and counts those.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        split: str | None,
        transform: str = "full",
        canvas: int = 800,
        train: bool = False,
        augment: str = "flip_crop",
        seed: int = 0,
    ):
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None (all rows), got {split!r}")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        rows = table if split is None else table[table["split"] == split]
        self.table = rows.reset_index(drop=True)
        self.table.attrs = dict(table.attrs)
        columns = vote_columns(table)
        self.num_bins = len(columns)
        self.theme_names = list(table.attrs.get("theme_names", []))
        votes = self.table[columns].to_numpy(dtype=np.float64)
        totals = votes.sum(axis=1, keepdims=True)
        if (totals <= 0).any() or not np.isfinite(votes).all():
            row = int(np.flatnonzero((totals[:, 0] <= 0) | ~np.isfinite(votes).all(axis=1))[0])
            image_id = self.table["image_id"].iloc[row]
            raise ValueError(f"image {image_id!r}: votes {votes[row].tolist()} do not form a distribution")
        self.targets = torch.from_numpy(votes / totals).float()
        self.themes = self.table["theme_id"].to_numpy(dtype=np.int64)
        self.paths = self.table["path"].astype(str).tolist()
        self.split = split
        self.transform = transform
        self.canvas = canvas
        self.train = train
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self._sizes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def sizes(self) -> np.ndarray:
        """np.ndarray[N, 2] (h, w) of the split's photos (read once, on first use), for the shape-grouped sampler."""
        if self._sizes is None:
            self._sizes = image_sizes(self.table)
        return self._sizes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load_photo(self, index: int) -> Image.Image | None:
        """Photo ``index`` as RGB fitted within the canvas, or None (with a warning naming it) when it is
        missing or corrupt: what every view of it starts from."""
        try:
            return load_image(self.paths[index], max_side=self.canvas)
        except ImageError as error:
            warnings.warn(f"skipping photo {self.paths[index]}: {error}", stacklevel=3)
            return None

    def view(self, image: Image.Image, index: int, epoch: int) -> Image.Image | None:
        """The view photo ``index`` (loaded as ``image``) gets in ``epoch``: its augmentation when training,
        else the single test view; None (with a warning) when it is smaller than ``MIN_SIDE``."""
        if self.train:
            rng = np.random.default_rng([self.seed, epoch, index])
            view = train_sample(image, self.transform, rng, augment=self.augment, canvas=self.canvas)
        else:
            view = test_samples(image, self.transform, tta=False, rng=None, canvas=self.canvas)[0]
        if min(view.size) < MIN_SIDE:
            width, height = view.size
            warnings.warn(f"skipping photo {self.paths[index]}: {width}x{height} px is below {MIN_SIDE} px", stacklevel=3)
            return None
        return view

    def epoch_views(self, index: int, epochs: Sequence[int]) -> list[torch.Tensor] | None:
        """Normalised views Tensor[3, h, w] of photo ``index`` in each of ``epochs`` (what ``__getitem__``
        gives after ``set_epoch``), the photo decoded once: the head stage caches these. None when the
        photo or any of these views cannot be used."""
        image = self.load_photo(index)
        views = [] if image is None else [self.view(image, index, epoch) for epoch in epochs]
        if image is None or any(view is None for view in views):
            return None
        return [to_normalized_tensor(view) for view in views]

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        image = self.load_photo(index)
        view = None if image is None else self.view(image, index, self.epoch)
        if view is None:
            return None
        return {
            "image": to_normalized_tensor(view),
            "target": self.targets[index].clone(),
            "theme": int(self.themes[index]),
            "index": int(index),
        }

    def test_items(self, index: int, tta: bool, rng: np.random.Generator | None = None) -> list[torch.Tensor] | None:
        """Normalised views Tensor[3, h, w] of photo ``index`` for test-time averaging (six views, or 20
        random views for ``resize``/``crop``; one view without ``tta``); None if the photo is missing or corrupt."""
        image = self.load_photo(index)
        if image is None:
            return None
        views = test_samples(image, self.transform, tta=tta, rng=rng, canvas=self.canvas)
        return [to_normalized_tensor(view) for view in views]


def collate_padded(items: Sequence[dict[str, Any] | None], canvas: int | None = None) -> dict[str, Any] | None:
    """DataLoader collate: drop None items (counted in ``skipped``) and pad the photos into one ``PaddedBatch``.

    canvas: pad to a square canvas of this side, or (None) to the batch's largest photo (rounded up to 16).
    Returns ``dict(batch=PaddedBatch, target=Tensor[B, K], theme=LongTensor[B], index=LongTensor[B],
    skipped=int)``, or None when every item was None. Use ``functools.partial(collate_padded, canvas=800)``.
    """
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    batch: PaddedBatch = pad_batch([item["image"] for item in kept], canvas=canvas)
    return {
        "batch": batch,
        "target": torch.stack([item["target"] for item in kept]),
        "theme": torch.tensor([item["theme"] for item in kept], dtype=torch.long),
        "index": torch.tensor([item["index"] for item in kept], dtype=torch.long),
        "skipped": len(items) - len(kept),
    }
