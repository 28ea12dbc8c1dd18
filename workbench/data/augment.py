"""Training augmentation and test-time views, as PIL -> PIL functions (the paper's IV-B and IV-D).

``full`` is the method: the whole photo at full resolution (padded later, never resized beyond
fitting the canvas), augmented by a horizontal flip or one of four corner crops that remove 1/8 of
each side (aspect ratio kept), and tested on those six views. ``resize``, ``resized_pad`` and
``crop`` are the ablation baselines, all at the usual 299x299 Inception input size.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from workbench.data.batching import MIN_SIDE
from workbench.data.images import fit_within

SIX_VIEWS = ("original", "flip", "crop_top_left", "crop_top_right", "crop_bottom_left", "crop_bottom_right")
TRANSFORMS = ("full", "resize", "resized_pad", "crop")
SIX_VIEW_TRANSFORMS = ("full", "resized_pad")  # augmented and tested with SIX_VIEWS; the others with random 299 crops
RANDOM_TEST_VIEWS = 20  # test-time views of resize / crop (random crop + flip each)
CENTRE_VIEW = "centre"  # the one test view of resize / crop without tta
AUGMENTS = ("flip_crop", "flip", "none")
BASELINE_SIZE = 299  # the baselines' network input side (Inception-v3)
RESIZE_SIDE = 340  # the Resize baseline's square before its 299 crop
# Baseline resizes use bilinear (antialiased when shrinking in PIL), torchvision's Resize default.
RESAMPLE = Image.Resampling.BILINEAR


def apply_view(image: Image.Image, view: str) -> Image.Image:
    """One of SIX_VIEWS: the photo itself ("original" returns it unchanged), its mirror, or a 7/8 corner crop."""
    if view == "original":
        return image
    if view == "flip":
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if view not in SIX_VIEWS:
        raise ValueError(f"view must be one of {SIX_VIEWS}, got {view!r}")
    w, h = image.size
    crop_w, crop_h = _seven_eighths(w), _seven_eighths(h)
    left = 0 if view.endswith("_left") else w - crop_w
    top = 0 if view.startswith("crop_top") else h - crop_h
    return image.crop((left, top, left + crop_w, top + crop_h))


def transform_canvas(transform: str, canvas: int) -> int:
    """Side of the square every output of ``transform`` fits in: the canvas for full, 299 otherwise."""
    _check_transform(transform)
    if isinstance(canvas, bool) or not isinstance(canvas, (int, np.integer)) or canvas < MIN_SIDE:
        raise ValueError(f"canvas must be an int >= {MIN_SIDE}, got {canvas!r}")
    return int(canvas) if transform == "full" else BASELINE_SIZE


def train_sample(
    image: Image.Image,
    transform: str,
    rng: np.random.Generator,
    augment: str = "flip_crop",
    canvas: int = 800,
) -> Image.Image:
    """One randomly augmented training view of an RGB photo, fitting ``transform_canvas(transform, canvas)``.

    augment: "flip_crop" (full/resized_pad: a random one of SIX_VIEWS; resize/crop: a random 299
    crop and a random flip), "flip" (random flip only; resize/crop take the centre crop) or "none"
    (the test view without tta).
    """
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}")
    base = _base(image, transform, canvas)
    if transform in SIX_VIEW_TRANSFORMS:
        if augment == "flip_crop":
            return apply_view(base, SIX_VIEWS[int(rng.integers(len(SIX_VIEWS)))])
        if augment == "flip":
            return apply_view(base, "flip" if rng.random() < 0.5 else "original")
        return base
    if augment == "flip_crop":
        return _random_crop_flip(base, rng)
    view = _centre_crop(base)
    if augment == "flip" and rng.random() < 0.5:
        view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return view


def view_names(transform: str, tta: bool, n_random: int = RANDOM_TEST_VIEWS) -> tuple[str, ...]:
    """The test-time layout, in the order ``test_samples`` returns the views (the one definition of it):
    without tta ``("original",)`` (full / resized_pad) or ``("centre",)`` (resize / crop); with tta
    ``SIX_VIEWS`` or ``("random_0", ..., "random_{n_random - 1}")``."""
    _check_transform(transform)
    if transform in SIX_VIEW_TRANSFORMS:
        return SIX_VIEWS if tta else ("original",)
    if not tta:
        return (CENTRE_VIEW,)
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 1:
        raise ValueError(f"n_random must be a positive int, got {n_random!r}")
    return tuple(f"random_{i}" for i in range(n_random))


def test_samples(
    image: Image.Image,
    transform: str,
    tta: bool,
    rng: np.random.Generator | None = None,
    canvas: int = 800,
    n_random: int = RANDOM_TEST_VIEWS,
) -> list[Image.Image]:
    """The views a prediction averages over, laid out as ``view_names`` says: one deterministic view,
    or with tta the six views (full/resized_pad) or ``n_random`` random crop+flip views (resize/crop;
    rng None -> seed 0)."""
    names = view_names(transform, tta, n_random)
    base = _base(image, transform, canvas)
    if transform in SIX_VIEW_TRANSFORMS:
        return [apply_view(base, name) for name in names]
    if not tta:
        return [_centre_crop(base)]
    rng = np.random.default_rng(0) if rng is None else rng
    return [_random_crop_flip(base, rng) for _ in names]


def _base(image: Image.Image, transform: str, canvas: int) -> Image.Image:
    """The photo each transform crops its views from."""
    side = transform_canvas(transform, canvas)
    if transform == "full":
        return fit_within(image, side)
    if transform == "resize":
        return image.resize((RESIZE_SIDE, RESIZE_SIDE), RESAMPLE)  # aspect ratio not kept, as in the baseline
    if transform == "resized_pad":
        return _resize_long_side(image, BASELINE_SIZE)
    return image  # crop: 299 crops of the photo as given


def _resize_long_side(image: Image.Image, side: int) -> Image.Image:
    """Resize (up or down) so the long side is exactly ``side``, keeping the aspect ratio."""
    w, h = image.size
    # The short side stays >= MIN_SIDE so extreme panoramas still pass the network's stem.
    short = max(MIN_SIDE, round(min(w, h) * side / max(w, h)))
    size = (side, min(short, side)) if w >= h else (min(short, side), side)
    return image if size == (w, h) else image.resize(size, RESAMPLE)


def _seven_eighths(side: int) -> int:
    """Corner-crop side: 7/8 of ``side`` rounded half up, but not below MIN_SIDE (or the side itself)."""
    return min(side, max(MIN_SIDE, (7 * side + 4) // 8))


def _crop_size(image: Image.Image) -> tuple[int, int]:
    w, h = image.size
    return min(w, BASELINE_SIZE), min(h, BASELINE_SIZE)


def _centre_crop(image: Image.Image) -> Image.Image:
    (w, h), (crop_w, crop_h) = image.size, _crop_size(image)
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def _random_crop_flip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    (w, h), (crop_w, crop_h) = image.size, _crop_size(image)
    left = int(rng.integers(w - crop_w + 1))
    top = int(rng.integers(h - crop_h + 1))
    view = image.crop((left, top, left + crop_w, top + crop_h))
    return view.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else view


def _check_transform(transform: str) -> None:
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
