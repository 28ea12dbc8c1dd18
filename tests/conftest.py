"""Helpers several test files share (pytest finds this file itself; tests reach the helpers as fixtures).

A tiny dataset folder in the generic CSV format (``write_tiny_folder``), a training config for it
(``tiny_config``), an untrained compact checkpoint whose themes visibly move the prediction
(``make_tiny_checkpoint``) and random photos (``photo``).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from workbench.checkpoints import model_payload, save_checkpoint
from workbench.config import TrainConfig
from workbench.data.synth_truth import theme_names
from workbench.model import build_model

CANVAS = 256  # small canvas: fast on CPU, and photos above it exercise the downscaling


def make_tiny_checkpoint(path: Path, synthetic: bool = True, themes: list[str] | None = None, transform: str = "full") -> Path:
    """An untrained compact checkpoint (~130k parameters) whose themes visibly move the prediction,
    trained (as its file says) on ``transform``'s views."""
    themes = theme_names() if themes is None else themes
    canvas = CANVAS  # as training records it: the photo every view starts from
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=len(themes), roi_size=32, width=8, theme_dim=32, hidden_dim=64)
    with torch.no_grad():  # random weights give near-uniform outputs; spread them so themes show
        model.theme_branch.embedding.weight.normal_(0.0, 2.0)
        model.head.layers[-1].weight.mul_(4.0)
    data = {"name": "workbench-synthetic-themes" if synthetic else "ava", "synthetic": synthetic, "untrained": True,
            "description": "untrained weights for tests"}  # fmt: skip
    return save_checkpoint(path, model_payload(
        model, themes, canvas, transform, data=data, config={"canvas": CANVAS, "transform": transform},
        metrics={"val": {"emd1": torch.tensor(0.25), "srcc_mean": 0.5}},
    ))  # fmt: skip


def photo(w: int, h: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return image if mode == "RGB" else image.convert(mode)


TINY_SIZES = [(48, 64), (64, 48), (80, 80), (40, 96), (96, 56), (56, 72)]  # (h, w): several shapes and orientations
TINY_THEMES = ["Alpha", "Beta", "Gamma"]


def write_tiny_folder(
    root: Path, n_train: int = 24, n_val: int = 8, n_test: int = 8, seed: int = 0, sizes: list[tuple[int, int]] = TINY_SIZES
) -> Path:
    """A dataset folder in the generic CSV format whose score follows the photo's brightness (learnable);
    photo ``i`` has ``sizes[i % len(sizes)]`` (h, w)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows = []
    splits = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    for index, split in enumerate(splits):
        h, w = sizes[index % len(sizes)]
        brightness = rng.uniform(0.1, 0.9)
        pixels = np.clip(brightness + rng.normal(0, 0.05, (h, w, 3)), 0, 1)
        name = f"images/{index:03d}.png"
        Image.fromarray((pixels * 255).astype(np.uint8)).save(root / name)
        mean = 2 + 6 * brightness
        votes = np.exp(-0.5 * ((np.arange(1, 11) - mean) / 1.3) ** 2)
        votes = np.round(100 * votes / votes.sum()).astype(int)
        rows.append({"image": name, "split": split, "theme": TINY_THEMES[index % 3], **{f"v{k}": votes[k - 1] for k in range(1, 11)},
                     "width": w, "height": h})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    (root / "themes.txt").write_text("\n".join(TINY_THEMES) + "\n")
    (root / "dataset.json").write_text(json.dumps({"name": "tiny", "description": "test photos", "synthetic": True}))
    return root


def tiny_config(root: Path, out_dir: Path, **overrides) -> TrainConfig:
    values = dict(
        data_root=str(root), out_dir=str(out_dir), backbone="compact", pretrained=False, freeze_bn=False,
        roi_size=33, canvas=128, epochs=2, batch_size=4, lr_backbone=0.01, lr_head=0.1, num_workers=0,
        device="cpu", amp=False,
    )  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """One tiny folder per test module (24 train / 8 val / 8 test photos, themes TINY_THEMES)."""
    return write_tiny_folder(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(name="write_tiny_folder")
def write_tiny_folder_fixture():
    return write_tiny_folder


@pytest.fixture(name="tiny_config")
def tiny_config_fixture():
    return tiny_config


@pytest.fixture(name="tiny_themes")
def tiny_themes_fixture() -> list[str]:
    return list(TINY_THEMES)


@pytest.fixture(name="make_tiny_checkpoint")
def make_tiny_checkpoint_fixture():
    return make_tiny_checkpoint
