"""The embedded demo checkpoint: small, self-describing, labelled synthetic, theme-aware."""
from pathlib import Path

import numpy as np

from workbench import Predictor
from workbench.checkpoints import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "checkpoints" / "demo.pt"


def test_demo_checkpoint_is_small_and_says_it_is_synthetic():
    assert DEMO.stat().st_size <= 20 * 2**20
    payload = load_checkpoint(DEMO)
    assert payload["data"]["synthetic"] is True
    assert "optimizer" not in payload  # exported for prediction only
    predictor = Predictor.from_checkpoint(DEMO)
    assert "SYNTHETIC" in predictor.describe() and "not an AVA model" in predictor.describe()
    assert len(predictor.theme_names) == 16 and predictor.canvas == 800
    card = (REPO / "checkpoints" / "demo.md").read_text()
    assert "synthetic" in card.lower() and "python -m workbench train" in card


def test_demo_checkpoint_predicts_differently_with_and_without_a_theme():
    predictor = Predictor.from_checkpoint(DEMO)
    photo = sorted((REPO / "examples").glob("*.jpg"))[0]
    features = predictor.features([photo])
    without = predictor.predict_from_features(features, None)
    per_theme = predictor.predict_all_themes(features)[0]
    assert np.allclose(without.sum(axis=1), 1, atol=1e-5)
    # The themes' priors are what this model learned best: they must move the distribution.
    assert np.abs(per_theme - without[0]).sum(axis=1).max() > 0.05
