"""Counterfactual photos: one attribute changed, truth and each view's prediction side by side."""
import numpy as np
import pytest

from workbench.counterfactual import attribute_response, response_summary
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import distribution_moments, expected_distribution
from workbench.predict import Predictor


def test_grain_moves_the_truth_under_film_grain_and_each_view_is_reported(tmp_path, make_tiny_checkpoint):
    predictor = Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path / "tiny.pt"))
    response = attribute_response(predictor, [3, 7], "grain", values=(0.0, 1.0), theme="Film Grain", views=("full", "resize"))
    assert len(response) == 4 and set(response.columns) >= {"index", "value", "true_mean", "full_mean", "resize_mean"}
    # The truth is the benchmark's own: the same scene with the grain set, scored by the theme.
    image, attributes = generate_image(7, 0, overrides={"grain": 1.0, "theme": "Film Grain"})
    expected = distribution_moments(expected_distribution(attributes, "Film Grain"))[0]
    assert response.query("index == 7 and value == 1.0")["true_mean"].item() == pytest.approx(expected)
    summary = response_summary(response)
    assert summary.loc["mean", "true"] > 0.5  # Film Grain's voters reward grain
    change = response.query("value == 1.0")["full_mean"].to_numpy() - response.query("value == 0.0")["full_mean"].to_numpy()
    assert summary.loc["mean", "full"] == pytest.approx(change.mean())
    assert summary.loc["mean", "full_share"] == pytest.approx(change.mean() / summary.loc["mean", "true"])
    assert np.isnan(summary.loc[3, "full_share"])  # shares are of the means only
