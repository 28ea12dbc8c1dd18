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


def test_other_roi_sizes_are_read_from_features_extracted_afresh(tmp_path):
    """``--roi-sizes``: a side other than the recipe's extracts both splits' features with a backbone pooling to
    that side (cached beside the run's), and the CSV names the side and the photos that fit the readout."""
    import subprocess

    import pandas as pd
    import torch

    from workbench.data.synth import generate_dataset

    root = generate_dataset(tmp_path / "synth", 40, seed=3, workers=1, progress=False, evaluation_photos=28)
    out = tmp_path / "readout.csv"
    command = [
        sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "feature_readout.py"), "--run", str(tmp_path / "run"),
        "--data-root", str(root), "--photos", "12", "--roi-sizes", "64", "--views", "full", "--attributes", "sharpness", "grain", "--out", str(out),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert frame[["roi_position", "roi_size", "photos", "view"]].drop_duplicates().values.tolist() == [["after_stem", 64, 12, "full"]]
    assert frame["attribute"].tolist() == ["sharpness", "grain"] and np.isfinite(frame["whole feature"]).all()
    cache = torch.load(tmp_path / "run" / "head_features" / "readout-roi64-full-12.pt", weights_only=True)
    config = TrainConfig.from_yaml(Path(__file__).resolve().parents[1] / "configs" / "demo_synthetic.yaml")
    dim = build_model(config.backbone, num_bins=10, pretrained=False, spatial_grid=config.spatial_grid).backbone.feature_dim
    assert cache["train"].shape == (12, 1, dim) and cache["loaded"].all() and cache["val"].shape[-1] == dim
