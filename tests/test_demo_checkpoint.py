"""The embedded demo checkpoint: small, self-describing, labelled synthetic, and a model that sees.

The behaviour tests regenerate photos of the synthetic benchmark (nothing is read from data/), so they
run on a fresh clone; their thresholds are what the model card reports, with a margin.
"""
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from workbench import Predictor
from workbench.checkpoints import load_checkpoint
from workbench.counterfactual import attribute_response, response_summary
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import distribution_moments, expected_distribution
from workbench.metrics import distribution_mean

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "checkpoints" / "demo.pt"
PHOTOS = range(2000, 2024)  # benchmark photos (seed 0) of every split: what matters is that predictions follow the truth
TEST_PHOTOS = [1, 23, 28, 46, 48, 50, 51, 58, 68, 75, 76, 89]  # the first 12 of the benchmark's test split (seed 0)


def test_demo_checkpoint_is_small_and_says_it_is_synthetic():
    assert DEMO.stat().st_size <= 20 * 2**20
    payload = load_checkpoint(DEMO)
    assert payload["data"]["synthetic"] is True
    assert "optimizer" not in payload  # exported for prediction only
    assert payload["model_args"]["backbone"] == "efficientnet_lite0" and payload["config"]["pretrained"] is True
    predictor = Predictor.from_checkpoint(DEMO)
    assert "SYNTHETIC" in predictor.describe() and "not an AVA model" in predictor.describe()
    assert "ImageNet-pretrained" in predictor.describe()
    assert len(predictor.theme_names) == 16 and predictor.canvas == 800
    card = (REPO / "checkpoints" / "demo.md").read_text()
    assert "synthetic" in card.lower() and "python -m workbench train" in card and "ImageNet" in card


def test_demo_checkpoint_predicts_differently_with_and_without_a_theme():
    predictor = Predictor.from_checkpoint(DEMO)
    photo = sorted((REPO / "examples").glob("*.jpg"))[0]
    features = predictor.features([photo])
    without = predictor.predict_from_features(features, None)
    per_theme = predictor.predict_all_themes(features)[0]
    assert np.allclose(without.sum(axis=1), 1, atol=1e-5)
    assert np.abs(per_theme - without[0]).sum(axis=1).max() > 0.05


def test_demo_checkpoint_ranks_photos_as_the_truth_does():
    """The model sees: across benchmark photos its predicted means spread and follow the true means
    (the model trained from scratch before it predicted one mean for every photo, spread 0.03)."""
    predictor = Predictor.from_checkpoint(DEMO)
    images, truth, themes = [], [], []
    for index in PHOTOS:
        image, attributes = generate_image(index, 0)
        images.append(image)
        truth.append(distribution_moments(expected_distribution(attributes))[0])
        themes.append(attributes["theme"])
    predicted = distribution_mean(predictor.predict(images, themes=themes))
    assert predicted.std() > 0.25  # measured 0.43 (truth 0.68)
    assert spearmanr(predicted, truth).statistic > 0.6  # measured 0.83


def test_full_resolution_follows_the_film_grain_that_a_resize_loses():
    """Counterfactual photos that differ only in 1-px grain, scored under "Film Grain": the full view's
    predicted mean moves with the truth, the resized view's much less."""
    predictor = Predictor.from_checkpoint(DEMO)
    summary = response_summary(attribute_response(predictor, TEST_PHOTOS, "grain", (0.0, 1.0), theme="Film Grain"))
    mean = summary.loc["mean"]
    assert mean["true"] > 1.0  # measured 1.085
    assert mean["full"] > mean["true"] / 3  # measured 0.425 (a share of 0.39; checkpoints/demo.md)
    assert mean["full"] > 2 * abs(mean["resize"])  # measured 0.069


def test_demo_checkpoint_predicts_without_a_theme_by_the_themes_the_photo_looks_like(tmp_path):
    """Without a theme: the themed predictions mixed by p(theme | photo) (no_theme="posterior"), and the
    demo's summary names the themes the mixture leans on."""
    from workbench.demo import DemoSession

    predictor = Predictor.from_checkpoint(DEMO)
    assert predictor.model.model_args["no_theme"] == "posterior"
    example = sorted((REPO / "examples").glob("*.jpg"))[0]
    features = predictor.features([example])
    posterior = predictor.theme_posterior(features)[0]
    assert posterior.shape == (16,) and abs(posterior.sum() - 1) < 1e-6 and posterior.max() < 0.99
    mixture = posterior @ predictor.predict_all_themes(features)[0]
    assert np.allclose(predictor.predict_from_features(features, None)[0], mixture, atol=1e-5)
    session = DemoSession(predictor, max_photos=2, examples=REPO / "examples" / "examples.csv", folder=tmp_path)
    summary = session.analyze(example).summary
    likely = [predictor.theme_names[t] for t in np.argsort(-posterior, kind="stable")[:3]]
    assert "looks like it" in summary and all(f"*{name}*" in summary for name in likely)
