"""Padding photos of any size into one batch, grouping photos of similar shape, and the training batch samplers.

Photos are normalised with the ImageNet mean/std *before* padding, so the padding is exactly zero
in the network's input space (the paper's zero padding) and the stem masking that follows can treat
"outside the photo" uniformly. Padding is top-left aligned: the photo occupies rows ``[0, h)`` and
columns ``[0, w)`` of the canvas, so its region is fully described by its size ``(h, w)``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import BatchSampler, Sampler
from torchvision.transforms.functional import normalize, pil_to_tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIDE = 16  # smallest photo side the Inception-style stem (three 3x3 convs, one of stride 2) accepts


@dataclass
class PaddedBatch:
    """A batch of photos zero-padded top-left into one canvas (our ``ImageList``).

    images (Tensor[B, 3, H, W]): normalised photos, zero outside each photo's region.
    sizes (Tensor[B, 2], long): the true ``(h, w)`` of each photo, in canvas pixels.
    """

    images: torch.Tensor
    sizes: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device, non_blocking: bool = False, memory_format=torch.contiguous_format) -> "PaddedBatch":
        images = self.images.to(device, non_blocking=non_blocking, memory_format=memory_format)
        return PaddedBatch(images, self.sizes.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "PaddedBatch":
        return PaddedBatch(self.images.pin_memory(), self.sizes.pin_memory())

    @property
    def padded_fraction(self) -> float:
        return padded_fraction(self.sizes, tuple(self.images.shape[-2:]))


def to_normalized_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB image -> float Tensor[3, h, w] normalised with the ImageNet mean/std."""
    if image.mode != "RGB":
        raise ValueError(f"image must be RGB (use workbench.data.load_image), got mode {image.mode!r}")
    tensor = pil_to_tensor(image).float().div_(255.0)
    return normalize(tensor, IMAGENET_MEAN, IMAGENET_STD)


def pad_batch(tensors: Sequence[torch.Tensor], canvas: int | None = 800, multiple: int = 16) -> PaddedBatch:
    """Zero-pad normalised photos ``Tensor[3, h, w]`` top-left into one ``PaddedBatch``.

    canvas: side of the square canvas (800 for AVA, as in the paper). ``None`` pads only to the
        batch's largest height and width, rounded up to ``multiple`` (what shape-grouped batches use).
    """
    if len(tensors) == 0:
        raise ValueError("pad_batch needs at least one photo")
    sizes = []
    for index, tensor in enumerate(tensors):
        if tensor.ndim != 3 or tensor.shape[0] != 3:
            raise ValueError(f"photo {index}: expected Tensor[3, h, w], got shape {tuple(tensor.shape)}")
        h, w = tensor.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise ValueError(f"photo {index}: size {h}x{w} is below the minimum side of {MIN_SIDE} px")
        if canvas is not None and max(h, w) > canvas:
            raise ValueError(
                f"photo {index}: size {h}x{w} exceeds the {canvas}x{canvas} canvas; "
                "downscale it first (load_image(..., max_side=canvas) does)"
            )
        sizes.append((h, w))
    if canvas is None:
        height = round_up(max(h for h, _ in sizes), multiple)
        width = round_up(max(w for _, w in sizes), multiple)
    else:
        height = width = canvas
    images = tensors[0].new_zeros((len(tensors), 3, height, width))
    for index, (tensor, (h, w)) in enumerate(zip(tensors, sizes)):
        images[index, :, :h, :w] = tensor
    return PaddedBatch(images, torch.tensor(sizes, dtype=torch.long))


def padded_fraction(sizes, canvas_hw: tuple[int, int]) -> float:
    """Fraction of canvas pixels that are padding, for photos of ``sizes`` on a canvas of ``canvas_hw``."""
    sizes = torch.as_tensor(sizes, dtype=torch.float64).reshape(-1, 2)
    photo_pixels = (sizes[:, 0] * sizes[:, 1]).sum().item()
    return 1.0 - photo_pixels / (len(sizes) * canvas_hw[0] * canvas_hw[1])


def shape_order(sizes) -> np.ndarray:
    """Indices that sort photos of ``sizes`` ([N, 2] (h, w)) by orientation, then area, so that neighbours
    share both height and width and padding them together wastes little (every shape-grouped batch uses it).

    Aspect ratios are binned (log, 1/8 steps); unknown sizes (0) count as 1 px.
    """
    sizes = np.maximum(np.asarray(sizes, dtype=np.float64).reshape(-1, 2), 1.0)
    heights, widths = sizes[:, 0], sizes[:, 1]
    return np.lexsort((heights * widths, np.round(np.log(heights / widths) * 8)))


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``: the side of a padded canvas."""
    return int(math.ceil(value / multiple) * multiple)


class ShapeGroupedBatchSampler(Sampler[list[int]]):
    """Batches of photos with similar shapes, so padding to the batch's largest photo wastes little.

    Each epoch, indices are shuffled (by ``seed`` and the epoch), cut into pools of ``pool_batches``
    batches, each pool is sorted by orientation and size and cut into batches, and the batches are
    shuffled again. Every rank of a distributed run builds the same batch list and takes every
    ``num_replicas``-th batch (padded by repetition so all ranks run the same number of steps).
    """

    def __init__(
        self,
        sizes: Sequence[tuple[int, int]],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        pool_batches: int = 64,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, {num_replicas})")
        self.sizes = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.pool_batches = pool_batches
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def all_batches(self) -> list[list[int]]:
        """The whole epoch's batches, before the split across ranks."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.sizes)) if self.shuffle else np.arange(len(self.sizes))
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[shape_order(self.sizes[chunk])]
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size].tolist()
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(split_across_ranks(self.all_batches(), self.num_replicas, self.rank))

    def __len__(self) -> int:
        return len(list(self.__iter__())) if self.drop_last else self._count()

    def _count(self) -> int:
        n = len(self.sizes)
        pools, rest = divmod(n, self.batch_size * self.pool_batches)
        total = pools * self.pool_batches + math.ceil(rest / self.batch_size)
        return math.ceil(total / self.num_replicas) if self.num_replicas > 1 else total


def split_across_ranks(batches: list[list[int]], num_replicas: int, rank: int) -> list[list[int]]:
    """Rank ``rank``'s share of one batch list: every ``num_replicas``-th batch, the list first padded by
    repetition so all ranks run the same number of steps (DDP's collectives need that)."""
    if num_replicas <= 1 or not batches:
        return batches
    per_rank = math.ceil(len(batches) / num_replicas)
    return (batches * num_replicas)[: per_rank * num_replicas][rank::num_replicas]


class EpochBatchSampler(Sampler[list[int]]):
    """Shuffled batches by (seed, epoch) (``shape_grouped: false``), split across ranks like
    ``ShapeGroupedBatchSampler``.

    torch's ``BatchSampler`` cuts the permutation into batches. ``DistributedSampler`` does not fit: it
    splits photos, not batches, across ranks and draws its permutation from torch's generator, where
    exact resumption and the shape-grouped path both rely on numpy's ``default_rng([seed, epoch])``.
    """

    def __init__(self, count: int, batch_size: int, seed: int = 0, num_replicas: int = 1, rank: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside [0, {num_replicas})")
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self.num_replicas, self.rank, self.epoch = num_replicas, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.count).tolist()
        batches = list(BatchSampler(order, self.batch_size, drop_last=False))
        return iter(split_across_ranks(batches, self.num_replicas, self.rank))

    def __len__(self) -> int:
        return math.ceil(math.ceil(self.count / self.batch_size) / self.num_replicas)


class ResumedBatchSampler(Sampler[list[int]]):
    """A batch sampler without its first ``skip`` batches (done before a resume) and cut at ``limit``."""

    def __init__(self, batch_sampler: Sampler, skip: int = 0, limit: int | None = None):
        self.batch_sampler, self.skip, self.limit = batch_sampler, skip, limit

    def __iter__(self) -> Iterator[list[int]]:
        return itertools.islice(iter(self.batch_sampler), self.skip, self.limit)

    def __len__(self) -> int:
        total = len(self.batch_sampler) if self.limit is None else min(self.limit, len(self.batch_sampler))
        return max(0, total - self.skip)
