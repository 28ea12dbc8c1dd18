"""TrainConfig (the paper's defaults, YAML and command-line values, checks) and the label tables it selects."""
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.model.backbones import backbone_defaults
from workbench.config import TrainConfig
from workbench.data.prepare import load_table

REPO = Path(__file__).resolve().parents[1]


def test_ava_and_photonet_sources_read_the_published_layouts(tmp_path):
    ava = tmp_path / "AVA_dataset"
    (ava / "images").mkdir(parents=True)
    (ava / "aesthetics_image_lists").mkdir()
    lines = []
    for i in range(40):
        votes = " ".join(str(v) for v in np.random.default_rng(i).integers(0, 30, 10))
        lines.append(f"{i + 1} {1000 + i} {votes} 0 0 {[5, 7][i % 2]}")
        Image.new("RGB", (40 + i, 50)).save(ava / "images" / f"{1000 + i}.jpg")
    (ava / "AVA.txt").write_text("\n".join(lines) + "\n")
    (ava / "challenges.txt").write_text("5 Black___White\n7 100_Meters\n")
    (ava / "aesthetics_image_lists" / "generic_test.jpgl").write_text("".join(f"{1000 + i}\n" for i in range(30, 40)))
    config = TrainConfig(data="ava", data_root=str(ava), val_fraction=0.1)
    table = load_table(config)
    assert table["split"].value_counts().to_dict() == {"train": 27, "test": 10, "val": 3}
    assert table.attrs["theme_names"] == ["Black & White", "100 Meters"] and table.attrs["root"] == str(ava)
    assert set(table["theme_id"]) == {0, 1}
    limited = load_table(TrainConfig(data="ava", data_root=str(ava), limit_images=5))["split"].value_counts()
    assert limited.to_dict() == {"train": 5, "test": 5, "val": 2}  # at most 5 per split (val holds 2 of 37 at 5%)

    photonet = tmp_path / "photonet"
    (photonet / "images").mkdir(parents=True)
    rows = []
    for i in range(30):
        votes = np.random.default_rng(i).integers(0, 9, 7)
        rows.append(f"{i + 1} {2000 + i} {votes.sum()} 4.5 1.2 " + " ".join(map(str, votes)))
        if i < 25:  # five photos could not be downloaded
            Image.new("RGB", (50, 40)).save(photonet / "images" / f"{2000 + i}.jpg")
    (photonet / "photonet_dataset.txt").write_text("\r\n".join(rows) + "\r\n")
    table = load_table(TrainConfig(data="photonet", data_root=str(photonet), use_theme=False))
    assert len(table) == 25 and table.attrs["num_bins"] == 7
    counts = table["split"].value_counts()
    assert counts["train"] > counts["test"] > counts["val"]  # the paper's 14,800 / 1,200 test / 666 val proportions
    with pytest.raises(FileNotFoundError, match="photonet_dataset.txt"):
        load_table(TrainConfig(data="photonet", data_root=str(tmp_path)))


def test_config_from_dict_rejects_unknown_keys_and_coerces_values(tmp_path):
    with pytest.raises(ValueError, match=r"'lr' \(did you mean"):
        TrainConfig.from_dict({"lr": 0.1})
    config = TrainConfig.from_dict({"lr_head": "1e-2", "epochs": "3", "amp": "false", "limit_images": "none"})
    assert (config.lr_head, config.epochs, config.amp, config.limit_images) == (0.01, 3, False, None)
    with pytest.raises(ValueError, match="epochs must be an int"):
        TrainConfig.from_dict({"epochs": 2.5})
    with pytest.raises(ValueError, match="transform must be one of"):
        TrainConfig(transform="squash")
    path = tmp_path / "config.yaml"
    config.to_yaml(path)
    assert TrainConfig.from_yaml(path) == config
    path.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.from_yaml(path)


def test_defaults_are_the_papers_recipe():
    config = TrainConfig()
    assert (config.backbone, config.pretrained, config.roi, config.canvas) == ("inception_v3", True, "pool", 800)
    assert config.roi_size is None and backbone_defaults(config.backbone)["roi_size"] == 146  # the backbone's own
    assert config.head_epochs == 0  # no head stage in the paper
    assert (config.epochs, config.batch_size, config.lr_backbone, config.lr_head) == (30, 16, 1e-3, 1e-2)
    assert (config.momentum, config.weight_decay, config.lr_step_epochs, config.lr_gamma, config.emd_r) == (0.9, 1e-4, 10, 0.5, 2)
    assert config.freeze_bn and config.use_theme and config.augment == "flip_crop" and config.transform == "full"


@pytest.mark.parametrize("name", ["paper_ava", "paper_photonet", "demo_synthetic", "ablation_synthetic"])
def test_shipped_configs_load(name):
    config = TrainConfig.from_yaml(REPO / "configs" / f"{name}.yaml")
    assert config.canvas == 800
    if name == "paper_photonet":
        assert config.data == "photonet" and not config.use_theme
    if name in ("demo_synthetic", "ablation_synthetic"):  # the pretrained CPU backbone, head stage first
        assert config.backbone == "efficientnet_lite0" and config.pretrained and config.freeze_bn
        assert config.head_epochs > 0


def test_a_run_needs_some_training_epochs():
    TrainConfig(epochs=0, head_epochs=5)  # the head stage alone
    with pytest.raises(ValueError, match="epochs and head_epochs"):
        TrainConfig(epochs=0, head_epochs=0)
    with pytest.raises(ValueError, match="roi_size"):
        TrainConfig(roi_size=0)


def test_freezing_batchnorm_without_pretrained_weights_warns():
    with pytest.warns(UserWarning, match="freeze_bn=True with pretrained=False"):
        TrainConfig(backbone="compact", pretrained=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainConfig(backbone="compact", pretrained=False, freeze_bn=False)
        TrainConfig()


def test_own_theme_weight_is_refused_where_it_would_do_nothing_or_harm():
    every_theme = dict(head_targets="every_theme", head_epochs=1)
    assert TrainConfig(**every_theme, own_theme_weight=15).own_theme_weight == 15
    with pytest.raises(ValueError, match="own_theme_weight must be > 0"):
        TrainConfig(**every_theme, own_theme_weight=0)
    with pytest.raises(ValueError, match="own_theme_weight weighs the pairs"):
        TrainConfig(head_epochs=1, own_theme_weight=15)  # the photos' own votes: one pair per photo
