"""The one path from photos to backbone features: load, view, group by shape, pad, run the backbone.

``Predictor`` (a user's photos), ``evaluation.evaluate_model`` (a dataset's split, under DDP too) and
through them the CLI and the app all run it, and so does the head stage's feature cache (its training
views in place of test views); nothing else builds test views or batches for the backbone::

    views = TestViews(load, count, transforms=("full",), tta=True, canvas=800)
    batches = shape_sorted_batches(sizes, views.views_per_photo, batch_size=16)
    for part in view_features(model, views, batches, batch_size=16):
        part.index, part.counts, part.values     # photos, their views, Tensor[sum(counts), D]

Past the backbone, ``head_predictions`` is the one call of the model's head on view features (and
``head_theme_posterior`` of its theme classifier), told which transform the features were computed
with, and ``mean_over_views`` the one average of a photo's views: ``Predictor`` and ``evaluate_model``
both use them, so a prediction and an evaluation cannot drift apart.

A photo's views follow ``view_layout`` (``augment.view_names`` per transform). Photos are sorted by
shape (``batching.shape_order``) and cut into batches of whole photos holding at most ``batch_size``
views; a photo with more views than that is run in slices of ``batch_size``. Each forward pass is
padded only to its own largest view. The model is batch invariant, so neither the grouping nor the
order changes a prediction beyond float rounding (tests/test_model.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from workbench.data.augment import TRANSFORMS, test_samples, view_names
from workbench.data.batching import PaddedBatch, pad_batch, round_up, shape_order, to_normalized_tensor
from workbench.data.images import convert_image, header_size, load_image
from workbench.model.build import AestheticModel
from workbench.runtime import DeviceOptions, init_worker

PhotoSource = Union[str, "os.PathLike[str]", Image.Image]
View = tuple[str, str]  # (transform, view name), e.g. ("full", "flip"), ("crop", "random_3")
PAD_MULTIPLE = 16  # pad_batch's default: batch canvases are rounded up to it


def load_photo(source: PhotoSource, canvas: int) -> Image.Image:
    """A path, binary file or PIL image (any mode) -> RGB photo fitted within ``canvas``: what every view starts from.

    Files go through ``load_image`` (EXIF orientation, every check); images in memory through
    ``convert_image``. Raises ``ImageError`` naming the photo.
    """
    if isinstance(source, Image.Image):
        return convert_image(source, max_side=canvas)
    return load_image(source, max_side=canvas)


def photo_size(source: PhotoSource) -> tuple[int, int]:
    """(h, w) of a photo before loading it, for shape sorting: PIL size or the file's header ((0, 0) if unknown)."""
    if isinstance(source, Image.Image):
        return source.height, source.width
    if isinstance(source, (str, os.PathLike)):
        return header_size(source)
    return 0, 0


def view_layout(transforms: str | Sequence[str], tta: bool) -> tuple[View, ...]:
    """The views of one photo, in the order every tensor of views follows: each transform's
    ``augment.view_names``, transform after transform."""
    transforms = check_transforms(transforms)
    return tuple((transform, name) for transform in transforms for name in view_names(transform, tta))


def check_transforms(transforms: str | Sequence[str]) -> tuple[str, ...]:
    """One or more distinct names of ``TRANSFORMS`` as a tuple; ValueError naming the argument otherwise."""
    names = (transforms,) if isinstance(transforms, str) else tuple(transforms)
    unknown = [name for name in names if name not in TRANSFORMS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"view must be one or more distinct names of {TRANSFORMS}, got {transforms!r}")
    return names


def make_views(photo: Image.Image, transforms: str | Sequence[str], tta: bool, canvas: int) -> list[Image.Image]:
    """The view images of one loaded photo, laid out as ``view_layout(transforms, tta)``."""
    return [view for transform in check_transforms(transforms) for view in test_samples(photo, transform, tta, rng=None, canvas=canvas)]


class TestViews(Dataset):
    """Item ``i``: photo ``i``'s test views as normalised ``Tensor[3, h, w]`` (and the PIL views with
    ``keep_images``), or None when ``load(i)`` returns None (a photo to skip).

    load: index -> RGB photo fitted within the canvas, or None; it may raise to stop the run instead.
    """

    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self,
        load: Callable[[int], Image.Image | None],
        count: int,
        transforms: str | Sequence[str] = "full",
        tta: bool = False,
        canvas: int = 800,
        keep_images: bool = False,
    ):
        self.load, self.count = load, int(count)
        self.transforms = check_transforms(transforms)
        self.tta, self.canvas, self.keep_images = tta, int(canvas), keep_images
        self.layout = view_layout(self.transforms, tta)

    @property
    def views_per_photo(self) -> int:
        return len(self.layout)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        photo = self.load(index)
        if photo is None:
            return None
        views = make_views(photo, self.transforms, self.tta, self.canvas)
        item = {"index": int(index), "views": [to_normalized_tensor(view) for view in views]}
        if self.keep_images:
            item["images"] = views
        return item


@dataclass
class ViewBatch:
    """The views of some whole photos, padded together (``collate_views``).

    batch: PaddedBatch of the views, photo after photo, each photo's in ``view_layout`` order.
    index (LongTensor[P]): the photos' items; counts (LongTensor[P]): views per photo.
    images: per photo, its PIL views (only when the ``TestViews`` keeps them).
    """

    batch: PaddedBatch
    index: Tensor
    counts: Tensor
    images: list[list[Image.Image]] | None = None

    def pin_memory(self) -> "ViewBatch":
        return ViewBatch(self.batch.pin_memory(), self.index, self.counts, self.images)


def pad_views(views: Sequence[Image.Image]) -> PaddedBatch:
    """View images (PIL RGB, as ``make_views`` gives them) -> one ``PaddedBatch``, each view top-left and
    the canvas only as large as the largest view: what every forward pass of ``view_features`` gets."""
    return pad_batch([to_normalized_tensor(view) for view in views], canvas=None, multiple=PAD_MULTIPLE)


def collate_views(items: Sequence[dict[str, Any] | None]) -> ViewBatch | None:
    """DataLoader collate for ``TestViews``: drop None items, pad every view to the batch's largest."""
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    return ViewBatch(
        batch=pad_batch([view for item in kept for view in item["views"]], canvas=None, multiple=PAD_MULTIPLE),
        index=torch.tensor([item["index"] for item in kept], dtype=torch.long),
        counts=torch.tensor([len(item["views"]) for item in kept], dtype=torch.long),
        images=[item["images"] for item in kept] if "images" in kept[0] else None,
    )


def shape_sorted_batches(sizes, views_per_photo: int, batch_size: int) -> list[list[int]]:
    """Photo positions sorted by shape (``shape_order`` of ``sizes`` [N, 2] (h, w)) and cut into batches
    of whole photos with at most ``batch_size`` views each (one photo at least)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = shape_order(sizes).tolist() if len(sizes) else []
    photos = max(1, int(batch_size) // max(1, views_per_photo))
    return [order[start : start + photos] for start in range(0, len(order), photos)]


@dataclass
class ViewFeatures:
    """Backbone features of one ``ViewBatch``: ``values`` (Tensor[sum(counts), D], on the model's device,
    in its autocast dtype) row after row as in ``batch``; ``index``, ``counts``, ``images`` as there."""

    values: Tensor
    index: Tensor
    counts: Tensor
    images: list[list[Image.Image]] | None = None


def view_features(
    model: AestheticModel,
    views: Dataset,
    batches: Sequence[Sequence[int]],
    batch_size: int,
    device: str | torch.device = "cpu",
    options: DeviceOptions | None = None,
    num_workers: int = 0,
    progress: bool = False,
    desc: str = "views",
) -> Iterator[ViewFeatures]:
    """Run the backbone (``model.features``, in eval mode) over ``views`` batch by batch.

    views: ``TestViews``, or any Dataset with its items (``{"index", "views"}`` or None), e.g. the head
    stage's cached training views (``head_stage.EpochViews``).
    batches: lists of items of ``views`` (``shape_sorted_batches``); photos that fail to load are skipped.
    batch_size: the most views in one forward pass (a larger ``ViewBatch`` runs in slices).
    options: autocast dtype, memory format, pinned memory (``runtime.device_options``); None = float32.
    """
    device = torch.device(device)
    options = options or DeviceOptions(device)
    loader = DataLoader(
        views, batch_sampler=[list(batch) for batch in batches], collate_fn=collate_views, num_workers=num_workers,
        pin_memory=options.pin_memory, generator=torch.Generator().manual_seed(0), worker_init_fn=init_worker,
    )  # fmt: skip
    was_training = model.training
    model.eval()
    try:
        for data in tqdm(loader, desc=desc, leave=False, disable=not progress, dynamic_ncols=True):
            if data is None:
                continue
            values = [_backbone(model, part, device, options) for part in _slices(data.batch, batch_size)]
            yield ViewFeatures(torch.cat(values), data.index, data.counts, data.images)
    finally:
        model.train(was_training)


def _backbone(model: AestheticModel, batch: PaddedBatch, device: torch.device, options: DeviceOptions) -> Tensor:
    batch = batch.to(device, non_blocking=True, memory_format=options.memory_format)
    with torch.no_grad(), options.autocast():  # here, not around the generator: its state would leak to the caller
        return model.features(batch.images, batch.sizes)


def _slices(batch: PaddedBatch, size: int) -> Iterator[PaddedBatch]:
    """``batch`` in slices of ``size`` rows, each cut to its own largest view (what ``pad_batch`` of the
    slice alone gives: the canvas beyond is zero)."""
    if len(batch) <= size:
        yield batch
        return
    for start in range(0, len(batch), size):
        sizes = batch.sizes[start : start + size]
        height, width = round_up(int(sizes[:, 0].max()), PAD_MULTIPLE), round_up(int(sizes[:, 1].max()), PAD_MULTIPLE)
        yield PaddedBatch(batch.images[start : start + size, :, :height, :width], sizes)


def photo_features(
    model: AestheticModel,
    sources: Sequence[PhotoSource],
    transforms: str | Sequence[str] = "full",
    tta: bool = False,
    canvas: int = 800,
    batch_size: int = 8,
    device: str | torch.device = "cpu",
    keep_images: bool = False,
) -> tuple[Tensor, tuple[View, ...], list[list[Image.Image]] | None]:
    """Features of a user's photos: ``(values Tensor[N, V, D] float32 on the CPU, layout of the V views,
    per photo its V view images or None)``. A photo that cannot be used raises ``ImageError``.

    Photos are decoded batch by batch (``load_photo``), so memory holds about ``batch_size`` views.
    """
    views = TestViews(lambda index: load_photo(sources[index], canvas), len(sources), transforms, tta, canvas, keep_images)
    batches = shape_sorted_batches([photo_size(source) for source in sources], views.views_per_photo, batch_size)
    values: Tensor | None = None
    images: list[list[Image.Image]] | None = [[] for _ in sources] if keep_images else None
    for part in view_features(model, views, batches, batch_size, device):
        part_values = part.values.float().cpu().reshape(len(part.index), views.views_per_photo, -1)
        if values is None:
            values = part_values.new_zeros(len(sources), views.views_per_photo, part_values.shape[-1])
        values[part.index] = part_values
        if images is not None:
            for index, photo_views in zip(part.index.tolist(), part.images):
                images[index] = photo_views
    assert values is not None  # every photo loads or raises
    return values, views.layout, images


# --- past the backbone: the head and the mean over views -------------------------------------------


def head_predictions(model: AestheticModel, values: Tensor, theme_ids: Tensor, transform: str, return_logits: bool = False) -> Tensor:
    """Distributions ``Tensor[R, K]`` (or logits) of R rows of view features ``values`` [R, D], row r under
    theme ``theme_ids[r]`` (-1: none). transform: the one of ``TRANSFORMS`` the features were computed
    with (``Features.transforms``, the dataset's transform). The one place the model's head is called
    on view features, for ``Predictor`` and ``evaluate_model`` alike."""
    check_transforms(transform)
    return model.predict_from_features(values, theme_ids, return_logits=return_logits, view=transform)


def head_theme_posterior(model: AestheticModel, values: Tensor, transform: str) -> Tensor | None:
    """p(theme | photo) ``Tensor[R, T]`` of R rows of view features computed with ``transform``; None for a
    model that predicts a photo without a theme by its learned vector (no fitted theme classifier)."""
    check_transforms(transform)
    if not model.has_theme_posterior_for(model.heads_for(transform)):
        return None
    return model.theme_posterior(values, view=transform)


def mean_over_views(per_view: Tensor, counts: Tensor) -> Tensor:
    """``Tensor[P, ...]``: each photo's mean over its rows of ``per_view`` [sum(counts), ...], laid out photo
    after photo (``counts`` LongTensor[P], views per photo): the average a prediction over test-time views is."""
    counts = counts.to(per_view.device)
    photo_of_row = torch.arange(len(counts), device=per_view.device).repeat_interleave(counts)
    summed = per_view.new_zeros((len(counts), *per_view.shape[1:])).index_add_(0, photo_of_row, per_view)
    return summed / counts.view(-1, *([1] * (per_view.ndim - 1))).to(per_view.dtype)
