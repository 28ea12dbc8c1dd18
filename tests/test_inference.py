"""workbench.inference: the one path from photos to features that Predictor and evaluate_model share."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from workbench.data import augment
from workbench.data.augment import SIX_VIEWS, TRANSFORMS, view_names
from workbench.data.batching import pad_batch, shape_order, to_normalized_tensor
from workbench.data.datasets import AestheticDataset
from workbench.data.images import ImageError, load_image
from workbench.evaluation import evaluate_model
from workbench.inference import (
    TestViews, load_photo, make_views, photo_features, shape_sorted_batches, view_features, view_layout,
)  # fmt: skip
from workbench.model import build_model
from workbench.predict import Features, Predictor

CANVAS = 128
SIZES = [(60, 90), (90, 60), (128, 128), (40, 120), (100, 70)]  # (h, w)
THEMES = ["Alpha", "Beta"]


def photo(h: int, w: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=len(THEMES), roi_size=32, width=8, theme_dim=16, hidden_dim=32)
    with torch.no_grad():  # spread the random head so themes and views visibly move the output
        model.theme_branch.embedding.weight.normal_(0.0, 2.0)
        model.head.layers[-1].weight.mul_(4.0)
    return model.eval()


@pytest.fixture(scope="module")
def photos():
    return [photo(h, w, seed) for seed, (h, w) in enumerate(SIZES)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("photos")
    rows = []
    for index, image in enumerate(photos):
        path = folder / f"{index}.png"
        image.save(path)
        votes = np.random.default_rng(index).integers(1, 20, 10)
        theme = index % 3 - 1  # -1 (no theme), 0, 1
        rows.append({"image_id": str(index), "path": str(path), "split": "test", "theme_id": theme,
                     "theme": THEMES[theme] if theme >= 0 else None, **{f"v{k + 1}": int(votes[k]) for k in range(10)}})  # fmt: skip
    table = pd.DataFrame(rows)
    table.attrs = {"num_bins": 10, "theme_names": THEMES, "name": "tiny", "description": "", "synthetic": True}
    return table


def test_the_layout_is_the_order_test_samples_returns(photos):
    image = photos[0]
    for transform in TRANSFORMS:
        for tta in (False, True):
            names = view_names(transform, tta)
            assert len(augment.test_samples(image, transform, tta, canvas=CANVAS)) == len(names)
    assert view_names("full", True) == SIX_VIEWS and view_names("crop", False) == ("centre",)
    assert view_names("resize", True) == tuple(f"random_{i}" for i in range(augment.RANDOM_TEST_VIEWS))
    layout = view_layout(("resized_pad", "crop"), tta=True)
    assert layout[:6] == tuple(("resized_pad", name) for name in SIX_VIEWS) and layout[6] == ("crop", "random_0")
    views = make_views(image, ("resized_pad", "crop"), True, CANVAS)
    expected = augment.test_samples(image, "resized_pad", True, canvas=CANVAS) + augment.test_samples(image, "crop", True, canvas=CANVAS)
    assert [np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(views, expected)] == [True] * len(layout)
    with pytest.raises(ValueError, match="view must be"):
        view_layout(("full", "full"), tta=False)


def test_shape_sorted_batches_hold_whole_photos_within_the_batch_size():
    sizes = np.array([[h, w] for h, w in SIZES * 3])
    for views_per_photo, batch_size in ((1, 4), (6, 13), (20, 8)):
        batches = shape_sorted_batches(sizes, views_per_photo, batch_size)
        assert sum(batches, []) == shape_order(sizes).tolist()  # every photo once, in shape order
        assert all(len(batch) * views_per_photo <= batch_size or len(batch) == 1 for batch in batches)
    assert shape_sorted_batches(np.zeros((0, 2)), 6, 4) == []
    # Orientation first, then area: landscape photos are neighbours, portrait ones too.
    order = shape_order([[60, 90], [90, 60], [30, 45], [45, 30]])
    assert order.tolist() == [2, 0, 3, 1]


def test_a_photo_with_more_views_than_the_batch_size_runs_in_slices(model, photos):
    """20 random views, 8 per forward pass: each slice cut to its own extent gives what one batch of 20 gives."""
    whole, layout, _ = photo_features(model, photos[:2], "crop", tta=True, canvas=CANVAS, batch_size=64)
    sliced, _, _ = photo_features(model, photos[:2], "crop", tta=True, canvas=CANVAS, batch_size=8)
    assert whole.shape[:2] == (2, 20) and len(layout) == 20
    torch.testing.assert_close(sliced, whole, atol=1e-5, rtol=1e-5)
    # The same features as running each view alone, padded to nothing but itself.
    views = make_views(load_photo(photos[1], CANVAS), "crop", True, CANVAS)
    alone = torch.cat([model.features(*(lambda b: (b.images, b.sizes))(pad_batch([to_normalized_tensor(v)], canvas=None))) for v in views[:3]])
    torch.testing.assert_close(whole[1, :3], alone.detach(), atol=1e-5, rtol=1e-5)


def test_returned_view_images_are_what_the_network_saw(model, photos):
    predictor = Predictor(model, THEMES, canvas=CANVAS)
    features = predictor.features(photos[:3], view=["full", "resize"], return_images=True)
    assert features.images is not None and len(features.images) == 3
    for image, row in zip(photos[:3], features.images):
        expected = make_views(load_photo(image, CANVAS), ("full", "resize"), False, CANVAS)
        assert [view.size for view in row] == [view.size for view in expected]
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(row, expected))
    resize = features.select("resize")
    assert resize.images[2][0].size == (augment.BASELINE_SIZE, augment.BASELINE_SIZE)
    assert features.photos([2, 0]).images == (features.images[2], features.images[0])
    assert predictor.features(photos[:1]).images is None
    with pytest.raises(ValueError, match="images must hold"):
        Features(features.values, features.views, features.images[:1])


@pytest.mark.parametrize("transform, tta", [("full", False), ("full", True), ("crop", True), ("resized_pad", False)])
def test_evaluate_model_and_predictor_give_the_same_predictions(model, dataset, transform, tta):
    """One engine: a split evaluated and the same photos predicted one by one agree."""
    data = AestheticDataset(dataset, "test", transform=transform, canvas=CANVAS)
    pred, target, index = evaluate_model(model, data, batch_size=7, tta=tta)
    assert index.tolist() == list(range(len(SIZES)))
    np.testing.assert_allclose(target, data.targets.numpy())
    predictor = Predictor(model, THEMES, canvas=CANVAS)
    alone = np.concatenate([
        predictor.predict(path, int(theme), view=transform, tta=tta) for path, theme in zip(data.paths, data.themes)
    ])  # fmt: skip
    np.testing.assert_allclose(pred, alone, atol=1e-5)
    together = predictor.predict(data.paths, data.themes.tolist(), view=transform, tta=tta, batch_size=5)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    no_theme, _, _ = evaluate_model(model, data, batch_size=7, tta=tta, themes=False)
    np.testing.assert_allclose(no_theme, predictor.predict(data.paths, None, view=transform, tta=tta), atol=1e-5)


def test_photos_that_fail_to_load_are_skipped_by_the_split_and_refused_by_the_predictor(model, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    good = tmp_path / "good.png"
    photo(50, 70, 1).save(good)
    views = TestViews(lambda i: None if i == 1 else load_image(good, max_side=CANVAS), 3, "full", tta=True, canvas=CANVAS)
    parts = list(view_features(model, views, [[0, 1], [2]], batch_size=4))
    assert [part.index.tolist() for part in parts] == [[0], [2]] and all(part.counts.tolist() == [6] for part in parts)
    assert [tuple(part.values.shape) for part in parts] == [(6, model.backbone.feature_dim)] * 2
    with pytest.raises(ImageError, match="broken.jpg"):
        Predictor(model, THEMES, canvas=CANVAS).features([str(good), str(broken)])


def test_load_converts_photos_in_memory_without_a_file_round_trip(tmp_path):
    """A non-RGB PIL image gets the converter load_image uses (CMYK, 16-bit, alpha over white)."""
    grey16 = Image.fromarray((np.random.default_rng(0).random((40, 60)) * 65535).astype(np.uint16))
    rgba = Image.fromarray(np.random.default_rng(1).integers(0, 256, (50, 30, 4), dtype=np.uint8), "RGBA")
    for image, suffix in ((grey16, "png"), (rgba, "png"), (photo(300, 200, 2).convert("CMYK"), "tiff")):
        path = tmp_path / f"photo.{suffix}"
        image.save(path)
        from_memory, from_file = load_photo(image, CANVAS), load_photo(path, CANVAS)
        assert from_memory.mode == "RGB" and max(from_memory.size) <= CANVAS
        assert np.array_equal(np.asarray(from_memory), np.asarray(from_file))
    with pytest.raises(ImageError, match="too small"):
        load_photo(photo(10, 40, 3), CANVAS)
