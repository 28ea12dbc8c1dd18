"""Bad arguments and bad labels are refused up front with one line naming them (issue 21, item 10).

Each case here once got through: NaN learning rates ran into a 27-line traceback, a device the
machine lacks was reported as a corrupt checkpoint, duplicate image ids and --batch-size 0 were
accepted, and the compact backbone with a small roi_size died on a batch of one in training.
"""
import pandas as pd
import pytest
import torch

from workbench.__main__ import main
from workbench.config import COMPACT_MIN_ROI_SIZE, TrainConfig
from workbench.data.csv_folder import read_csv_folder
from workbench.model.build import build_model


@pytest.mark.parametrize("field, value", [("lr_head", "nan"), ("lr_backbone", "-0.1"), ("head_lr", "inf"), ("momentum", "nan")])
def test_train_refuses_nan_and_negative_rates_in_one_line(field, value, capsys):
    assert main(["train", f"--{field}", value, "--data", "csv", "--data_root", "nowhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and "finite number >= 0" in err


def test_compact_backbone_with_too_small_roi_is_refused_and_the_bound_is_the_real_one():
    with pytest.raises(ValueError, match=rf"compact backbone needs roi_size >= {COMPACT_MIN_ROI_SIZE}, got 32"):
        TrainConfig(backbone="compact", roi_size=32)
    TrainConfig(backbone="compact", roi_size=COMPACT_MIN_ROI_SIZE)
    images, sizes = torch.rand(1, 3, 64, 64), torch.tensor([[64, 64]])
    model = build_model("compact", num_bins=10, roi_size=COMPACT_MIN_ROI_SIZE).train()
    model(images, sizes).sum().backward()  # a batch of one trains at the bound
    below = build_model("compact", num_bins=10, roi_size=COMPACT_MIN_ROI_SIZE - 1).train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # and fails just under it: the bound is tight
        below(images, sizes)


@pytest.mark.parametrize("device, words", [("banana", "is not a device"), ("cuda:7", "CUDA")])
def test_predict_checks_the_device_before_reading_the_checkpoint(device, words, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")  # were it read first, the error would blame the file
    with pytest.raises(SystemExit) as caught:
        main(["predict", "--checkpoint", str(corrupt), "--device", device, "photo.jpg"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "--device" in err and words in err and "checkpoint" not in err.lower().split("--device")[-1]


def test_evaluate_refuses_batch_size_zero(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["evaluate", "--checkpoint", str(tmp_path / "x.pt"), "--data-root", str(tmp_path), "--batch-size", "0"])
    assert caught.value.code == 2 and "--batch-size: must be >= 1, got 0" in capsys.readouterr().err


def test_labels_csv_with_a_repeated_image_id_is_refused(tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    rows = []
    for i in range(3):
        Image.new("RGB", (40, 30), (10 * i, 0, 0)).save(tmp_path / "images" / f"{i}.png")
        rows.append({"image": f"images/{i}.png", "image_id": ["a", "b", "a"][i], **{f"v{k}": k for k in range(1, 6)}})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(ValueError, match=r"labels.csv, line 4: image_id 'a' listed twice"):
        read_csv_folder(tmp_path)
