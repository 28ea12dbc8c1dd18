"""Predictor: loading a checkpoint, photos of mixed sizes, views, TTA, themes and cached features."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.data.augment import SIX_VIEWS, TRANSFORMS
from workbench.data.images import fit_within
from workbench.data.synth_truth import theme_names
from workbench.predict import NO_THEME_NAME, Features, Predictor, summarize

# The shared helpers live in conftest.py; imported here by name because test_app.py and test_browser.py
# import them from this module.
from conftest import CANVAS, make_tiny_checkpoint, photo  # noqa: E402,F401

SIZES = [(200, 120), (90, 300), (256, 256), (64, 400)]  # (w, h); the last one exceeds the canvas


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    return Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt"))


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [photo(w, h, seed=i) for i, (w, h) in enumerate(SIZES)]


def test_from_checkpoint_reads_the_card(predictor):
    assert predictor.theme_names == theme_names()
    assert predictor.num_bins == 10 and predictor.canvas == CANVAS
    assert not predictor.model.training
    card = predictor.card
    assert card["data"]["synthetic"] is True and card["data"]["name"] == "workbench-synthetic-themes"
    assert card["model"]["backbone"] == "compact" and card["recipe"]["canvas"] == CANVAS
    assert {"metrics", "code_version", "checkpoint", "num_themes"} <= set(card)
    assert json.loads(json.dumps(card))["metrics"]["val"]["emd1"] == 0.25  # JSON-ready for the app's card


def test_describe_says_synthetic_and_not_ava(predictor, tmp_path):
    line = predictor.describe()
    assert "SYNTHETIC" in line and "not an AVA model" in line and "compact" in line
    real = Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path / "real.pt", synthetic=False))
    assert "SYNTHETIC" not in real.describe() and "'ava'" in real.describe()


def test_predict_mixed_sizes_pil_and_paths(predictor, photos, tmp_path):
    paths = []
    for i, image in enumerate(photos):
        paths.append(tmp_path / f"p{i}.png")
        image.save(paths[-1])
    from_pil = predictor.predict(photos)
    from_paths = predictor.predict([str(p) for p in paths])
    assert from_pil.shape == (len(photos), 10)
    np.testing.assert_allclose(from_pil.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(from_paths, from_pil, atol=1e-6)
    # Padded batches of mixed sizes give what each photo gives alone (batch size 3 splits them 3 + 1).
    alone = np.concatenate([predictor.predict(image) for image in photos])
    np.testing.assert_allclose(predictor.predict(photos, batch_size=3), alone, atol=1e-5)


def test_huge_and_non_rgb_photos(predictor):
    huge = photo(1000, 700, seed=5)
    np.testing.assert_allclose(predictor.predict(huge), predictor.predict(fit_within(huge, CANVAS)), atol=1e-6)
    for mode in ("CMYK", "L", "RGBA"):
        assert predictor.predict(photo(120, 90, mode=mode)).shape == (1, 10)
    sixteen = Image.fromarray((np.random.default_rng(0).random((90, 120)) * 65535).astype(np.uint16))
    assert predictor.predict(sixteen).shape == (1, 10)


@pytest.mark.parametrize("view", TRANSFORMS)
def test_views_and_tta(predictor, photos, view):
    plain = predictor.features(photos[:2], view=view)
    assert plain.values.shape[:2] == (2, 1) and plain.transforms == (view,)
    tta = predictor.features(photos[:2], view=view, tta=True)
    expected = len(SIX_VIEWS) if view in ("full", "resized_pad") else 20
    assert tta.values.shape[:2] == (2, expected)
    if view in ("full", "resized_pad"):
        assert [name for _, name in tta.views] == list(SIX_VIEWS)
        # The "original" TTA view is the plain view.
        torch.testing.assert_close(tta.values[:, 0], plain.values[:, 0], atol=1e-5, rtol=1e-5)
    result = predictor.predict(photos[:2], "Motion Blur", view=view, tta=True)
    assert result.shape == (2, 10)
    np.testing.assert_allclose(result, predictor.predict_from_features(tta, "Motion Blur"), atol=1e-6)


def test_themes_by_name_id_none_and_lists(predictor, photos):
    by_name = predictor.predict(photos, "motion BLUR")
    np.testing.assert_allclose(predictor.predict(photos, 0), by_name, atol=1e-6)
    no_theme = predictor.predict(photos)
    for same in (-1, NO_THEME_NAME, "No Theme", [None] * len(photos)):
        np.testing.assert_allclose(predictor.predict(photos, same), no_theme, atol=1e-6)
    assert np.abs(by_name - no_theme).max() > 1e-3  # the fixture's themes visibly move the prediction
    per_image = ["Panorama", None, 3, "circles"]
    mixed = predictor.predict(photos, per_image)
    for i, theme in enumerate(per_image):
        np.testing.assert_allclose(mixed[i], predictor.predict(photos[i], theme)[0], atol=1e-5)
    with pytest.raises(ValueError, match="2 entries for 4 photos"):
        predictor.predict(photos, ["Panorama", None])


def test_unknown_theme_suggests_close_matches(predictor):
    with pytest.raises(ValueError, match=r"unknown theme 'Motion Blr'.*did you mean 'Motion Blur'"):
        predictor.theme_id("Motion Blr")
    with pytest.raises(ValueError, match="out of range"):
        predictor.theme_id(len(predictor.theme_names))
    with pytest.raises(TypeError):
        predictor.theme_id(True)
    assert predictor.theme_id(None) == -1 and predictor.theme_id("  landscape ") == 7


def test_features_then_predict_from_features_equals_predict(predictor, photos):
    features = predictor.features(photos)
    assert isinstance(features, Features) and len(features) == len(photos)
    assert features.values.shape == (len(photos), 1, predictor.model.backbone.feature_dim)
    for themes in (None, "Golden Hour", [0, 1, 2, -1]):
        np.testing.assert_allclose(predictor.predict_from_features(features, themes), predictor.predict(photos, themes), atol=1e-6)
    # Several views in one padded batch; each selected view equals its own run.
    four = predictor.features(photos[:2], view=TRANSFORMS)
    assert four.transforms == TRANSFORMS and four.values.shape[1] == 4
    for view in TRANSFORMS:
        np.testing.assert_allclose(
            predictor.predict_from_features(four, "Circles", view=view),
            predictor.predict(photos[:2], "Circles", view=view), atol=1e-5,
        )  # fmt: skip
    # Without view=, the model's own transform among them (the tiny checkpoint's: full); else an error.
    np.testing.assert_allclose(predictor.predict_from_features(four, "Circles"), predictor.predict_from_features(four, "Circles", view="full"))
    with pytest.raises(ValueError, match="pass view="):
        predictor.predict_from_features(predictor.features(photos[:1], view=["resize", "crop"]), "Circles")


def test_predict_all_themes_matches_each_theme(predictor, photos):
    features = predictor.features(photos, view="full", tta=True)
    every = predictor.predict_all_themes(features)
    assert every.shape == (len(photos), len(predictor.theme_names), 10)
    for theme in range(len(predictor.theme_names)):
        np.testing.assert_allclose(every[:, theme], predictor.predict_from_features(features, theme), atol=1e-6)


def test_summarize(predictor, photos):
    dists = predictor.predict(photos)
    one = summarize(dists[0])
    assert isinstance(one["mean"], float) and 1 <= one["mean"] <= 10 and one["std"] > 0
    many = summarize(dists)
    assert many["mean"].shape == (len(photos),) and many["mean"][0] == pytest.approx(one["mean"])


def test_bad_arguments(predictor, photos):
    with pytest.raises(ValueError, match="view must be"):
        predictor.predict(photos, view="squash")
    with pytest.raises(ValueError, match="batch_size"):
        predictor.features(photos, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        predictor.features([])


@pytest.mark.parametrize("transform", ["resize", "crop"])
def test_a_checkpoint_trained_on_another_transform_predicts_what_evaluate_measures(tmp_path, write_tiny_folder, tiny_themes, transform):
    """One contract: the checkpoint's transform is the default view of Predictor, as it is of evaluate."""
    from workbench.data.csv_folder import read_csv_folder
    from workbench.evaluation import evaluate_checkpoint

    root = write_tiny_folder(tmp_path / "data", n_train=3, n_val=3, n_test=6)
    table = read_csv_folder(root)
    for seed, (file, w, h) in enumerate(zip(table["path"], table["width"], table["height"])):
        photo(int(w), int(h), seed=seed).save(file)  # noise: a resize smooths it, the full view keeps it
    path = make_tiny_checkpoint(tmp_path / f"{transform}.pt", themes=tiny_themes, transform=transform)
    predictor = Predictor.from_checkpoint(path)
    assert predictor.transform == transform and predictor.card["transform"] == transform
    test = table[table["split"] == "test"]
    for tta in (False, True):
        _, evaluated, _ = evaluate_checkpoint(path, data_root=str(root), split="test", tta=tta, device="cpu", return_predictions=True)
        predicted = predictor.predict(test["path"].tolist(), test["theme_id"].tolist(), tta=tta)
        np.testing.assert_allclose(predicted, evaluated, rtol=0, atol=1e-6)
        features = predictor.features(test["path"].tolist(), tta=tta)
        assert features.transforms == (transform,)
        np.testing.assert_allclose(predictor.predict_from_features(features, test["theme_id"].tolist()), evaluated, atol=1e-5)
    # The full view is another input (what the predictor showed every model before it read the transform).
    full = predictor.predict(test["path"].tolist(), test["theme_id"].tolist(), view="full")
    assert np.abs(full - predicted).max() > 10 * np.abs(evaluated - predicted).max()
