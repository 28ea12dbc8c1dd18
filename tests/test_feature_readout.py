"""bench/feature_readout.py: the ridge readout that bounds what a head can follow, and the feature's levels."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from feature_readout import level_channels, ridge_r2  # noqa: E402

from workbench.config import TrainConfig  # noqa: E402
from workbench.model.build import build_model  # noqa: E402


def test_the_readout_scores_a_carried_attribute_near_one_and_noise_near_zero():
    rng = np.random.default_rng(0)
    attribute, held_out = rng.uniform(size=400), rng.uniform(size=200)
    noise = rng.normal(size=(600, 20))
    carried = noise.copy()
    carried[:, 3] += 20 * np.concatenate([attribute, held_out])  # one feature carries it, among noise
    assert ridge_r2(carried[:400], attribute, carried[400:], held_out) > 0.9
    assert ridge_r2(noise[:400], attribute, noise[400:], held_out) < 0.1


def test_the_levels_are_the_global_feature_s_parts():
    config = TrainConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "demo_synthetic.yaml")
    channels = level_channels(config)
    layout = build_model(config.backbone, num_bins=10, pretrained=False, spatial_grid=config.spatial_grid).backbone.feature_layout
    assert channels[0] == 32 and sum(channels) == layout[0][1]
