"""workbench.data.augment: the six views, the four transforms, their canvases and determinism."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from workbench.data import augment  # module import: pytest would collect a bare `test_samples`
from workbench.data.augment import (
    BASELINE_SIZE,
    RESIZE_SIDE,
    SIX_VIEWS,
    TRANSFORMS,
    apply_view,
    train_sample,
    transform_canvas,
)
from workbench.data.batching import MIN_SIDE


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


@pytest.mark.parametrize("size", [(101, 57), (64, 48), (333, 999), (12, 20)])
def test_corner_crop_sizes_are_seven_eighths(size):
    w, h = size
    image = _noise(w, h)
    expected = (min(w, max(MIN_SIDE, (7 * w + 4) // 8)), min(h, max(MIN_SIDE, (7 * h + 4) // 8)))
    for view in SIX_VIEWS[2:]:
        assert apply_view(image, view).size == expected
    assert apply_view(image, "original").size == size and apply_view(image, "flip").size == size


def test_seven_eighths_on_odd_sizes_rounds_half_up():
    # 7/8 * 101 = 88.375 -> 88, 7/8 * 57 = 49.875 -> 50, 7/8 * 28 = 24.5 -> 25 (not the banker's 24)
    assert apply_view(_noise(101, 57), "crop_top_left").size == (88, 50)
    assert apply_view(_noise(28, 100), "crop_top_left").size == (25, 88)


def test_small_sides_never_crop_below_min_side():
    assert apply_view(_noise(17, 400), "crop_top_left").size == (MIN_SIDE, 350)
    assert apply_view(_noise(MIN_SIDE, MIN_SIDE), "crop_bottom_right").size == (MIN_SIDE, MIN_SIDE)


def test_flip_mirrors_pixels():
    image = _noise(31, 17)
    flipped = apply_view(image, "flip")
    assert np.array_equal(_pixels(flipped), _pixels(image)[:, ::-1])
    assert not np.array_equal(_pixels(flipped), _pixels(image))


@pytest.mark.parametrize(
    "view, corner",
    [
        ("crop_top_left", (0, 0)),
        ("crop_top_right", (1, 0)),
        ("crop_bottom_left", (0, 1)),
        ("crop_bottom_right", (1, 1)),
    ],
)
def test_corner_crops_take_their_corner(view, corner):
    w, h = 80, 48
    pixels = _pixels(_noise(w, h))
    crop = _pixels(apply_view(Image.fromarray(pixels), view))
    crop_h, crop_w = crop.shape[:2]
    top = 0 if corner[1] == 0 else h - crop_h
    left = 0 if corner[0] == 0 else w - crop_w
    assert np.array_equal(crop, pixels[top : top + crop_h, left : left + crop_w])
    # The photo's own corner pixel survives in this crop only.
    marked = Image.new("RGB", (w, h), (0, 0, 0))
    marked.putpixel(((w - 1) * corner[0], (h - 1) * corner[1]), (255, 255, 255))
    for other in SIX_VIEWS[2:]:
        kept = _pixels(apply_view(marked, other)).max() == 255
        assert kept == (other == view), other


def test_unknown_view_and_transform_name_the_allowed_ones():
    with pytest.raises(ValueError, match="crop_top_left"):
        apply_view(_noise(32, 32), "rotate")
    with pytest.raises(ValueError, match="resized_pad"):
        transform_canvas("zoom", 800)
    with pytest.raises(ValueError, match="flip_crop"):
        train_sample(_noise(32, 32), "full", np.random.default_rng(0), augment="jitter")


def test_transform_canvas():
    assert transform_canvas("full", 800) == 800 and transform_canvas("full", 512) == 512
    for transform in ("resize", "resized_pad", "crop"):
        assert transform_canvas(transform, 800) == BASELINE_SIZE == 299
    assert RESIZE_SIDE == 340


SIZES = [(1024, 683), (683, 1024), (640, 480), (200, 120), (299, 299), (3000, 120)]


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_every_output_fits_its_canvas(transform):
    rng = np.random.default_rng(0)
    canvas = 800
    side = transform_canvas(transform, canvas)
    for w, h in SIZES:
        image = Image.new("RGB", (w, h))
        outputs = [train_sample(image, transform, rng, augment, canvas) for augment in augment.AUGMENTS for _ in range(3)]
        outputs += augment.test_samples(image, transform, tta=True, rng=rng, canvas=canvas, n_random=5)
        outputs += augment.test_samples(image, transform, tta=False, canvas=canvas)
        for output in outputs:
            assert max(output.size) <= side, (transform, (w, h), output.size)
            assert min(output.size) >= min(MIN_SIDE, w, h), (transform, (w, h), output.size)
            assert output.mode == "RGB"


def test_full_keeps_the_photo_and_fits_large_ones():
    small = _noise(640, 427)
    assert augment.test_samples(small, "full", tta=False)[0].size == (640, 427)
    assert np.array_equal(_pixels(augment.test_samples(small, "full", tta=False)[0]), _pixels(small))
    large = Image.new("RGB", (1600, 1000))
    assert augment.test_samples(large, "full", tta=False, canvas=800)[0].size == (800, 500)
    unchanged = train_sample(small, "full", np.random.default_rng(0), augment="none")
    assert np.array_equal(_pixels(unchanged), _pixels(small))


@pytest.mark.parametrize("size", [(1000, 600), (600, 1000), (120, 80), (50, 200)])
def test_resized_pad_long_side_is_299(size):
    image = _noise(*size)
    base = augment.test_samples(image, "resized_pad", tta=False)[0]
    assert max(base.size) == 299  # up or down
    w, h = size
    assert abs(base.size[0] / base.size[1] - w / h) < 0.02  # aspect kept
    views = augment.test_samples(image, "resized_pad", tta=True)
    assert len(views) == 6 and views[0].size == base.size


def test_resize_output_is_299_square():
    image = _noise(640, 427)
    rng = np.random.default_rng(0)
    assert train_sample(image, "resize", rng).size == (299, 299)
    centre = augment.test_samples(image, "resize", tta=False)[0]
    assert centre.size == (299, 299)
    # Without tta: the centre 299 crop of the 340x340 resize.
    resized = image.resize((RESIZE_SIDE, RESIZE_SIDE), augment.RESAMPLE)
    offset = (RESIZE_SIDE - 299) // 2
    assert np.array_equal(_pixels(centre), _pixels(resized)[offset : offset + 299, offset : offset + 299])


def test_crop_takes_299_or_the_whole_side():
    rng = np.random.default_rng(0)
    assert train_sample(_noise(640, 427), "crop", rng).size == (299, 299)
    assert train_sample(_noise(640, 200), "crop", rng).size == (299, 200)
    image = _noise(640, 427)
    centre = augment.test_samples(image, "crop", tta=False)[0]
    left, top = (640 - 299) // 2, (427 - 299) // 2
    assert np.array_equal(_pixels(centre), _pixels(image)[top : top + 299, left : left + 299])


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_same_seed_same_output(transform):
    image = _noise(500, 400)

    def run(seed):
        rng = np.random.default_rng(seed)
        train = [_pixels(train_sample(image, transform, rng)) for _ in range(8)]
        test = [_pixels(v) for v in augment.test_samples(image, transform, tta=True, rng=rng, n_random=4)]
        return train + test

    first, again, other = run(1), run(1), run(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))


def test_random_views_vary_and_cover_all_six():
    image = _noise(200, 160)
    rng = np.random.default_rng(0)
    views = {(apply_view(image, v).size, apply_view(image, v).tobytes()): v for v in SIX_VIEWS}
    seen = set()
    for _ in range(60):
        sample = train_sample(image, "full", rng, augment="flip_crop")
        seen.add(views[(sample.size, sample.tobytes())])
    assert seen == set(SIX_VIEWS)
    flips = {train_sample(image, "full", rng, augment="flip").size for _ in range(10)}
    assert flips == {image.size}  # flip only: never cropped


@pytest.mark.parametrize("transform, count", [("full", 6), ("resized_pad", 6), ("resize", 20), ("crop", 20)])
def test_tta_counts(transform, count):
    image = _noise(400, 300)
    assert len(augment.test_samples(image, transform, tta=True)) == count
    assert len(augment.test_samples(image, transform, tta=False)) == 1
    if transform in ("resize", "crop"):
        assert len(augment.test_samples(image, transform, tta=True, n_random=7)) == 7
        # rng=None is seeded, so test-time predictions repeat.
        first = augment.test_samples(image, transform, tta=True)
        again = augment.test_samples(image, transform, tta=True)
        assert all(np.array_equal(_pixels(a), _pixels(b)) for a, b in zip(first, again))
