"""Label-table readers, image checks, AestheticDataset and collate_padded.

Small fixtures are written to tmp_path; the real published files are read in place from ../shared/ava
when that folder exists (skipped otherwise, never copied into the repo).
"""
from __future__ import annotations

import functools
import logging
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from workbench.data import ava as ava_reader, photonet as photonet_reader
from workbench.data.augment import train_sample
from workbench.data.batching import PaddedBatch, to_normalized_tensor
from workbench.data.ava import ava_table, read_ava_tanet_csv, read_ava_txt, read_challenges, read_idealo_json, read_jpgl, read_tags
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset, collate_padded
from workbench.data.photonet import photonet_table, read_photonet
from workbench.data.tables import check_images, image_sizes
from workbench.data.images import load_image

SHARED_AVA = Path(__file__).resolve().parents[1].parent / "shared" / "ava"

AVA_TXT = """\
1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396
2 953958 10 7 15 27 52 33 12 5 3 2 0 0 1396
3 954184 0 2 8 30 60 40 10 4 1 1 15 0 1004
4 954113 1 1 4 20 41 44 18 8 2 0 0 0 1329

"""
CHALLENGES = "1396 100_Meters\n1004 100_Years_Old\n1329 Black___White\n"
PHOTONET = (
    "1 1008958 18 5.17 0.583333333333333 0 0 0 4 7 7 0\r\n"
    "2 1009826 11 5.36 1.32231404958678 0 0 1 1 4 3 2\r\n"
    "3 1021911 33 6.18 -1 -1 -1 -1 -1 -1 -1 -1\r\n"
    "4 2985331 12 4.58 0.828402366863905 0 0 1 5 4 3 0\r\n"
    "5 2985331 12 4.58 0.828402366863905 0 0 1 5 4 3 0\r\n"
    "6 2985353 16 5.62 0.609375 0 0 0 2 3 10 1\r\n"
    "7 2985398 12 4.83 0 0 0 0 0 0 0 0\r\n"
    "8 2985400 12 4.83 0.472222222222225 0 0 0 4 6 2 0\r\n"
)


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline=newline) as handle:
        handle.write(text)
    return path


def shared(*parts: str) -> Path:
    path = SHARED_AVA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    return path


@pytest.fixture
def ava_files(tmp_path):
    root = tmp_path / "ava"
    write(root / "AVA.txt", AVA_TXT)
    write(root / "challenges.txt", CHALLENGES)
    write(root / "aesthetics_image_lists" / "generic_test.jpgl", "954184\n")
    return root


def photo(path: Path, size: tuple[int, int], seed: int = 0, exif_orientation: int | None = None) -> Path:
    """A random RGB photo of ``size`` (w, h)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    if exif_orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(path, exif=exif)
    return path


@pytest.fixture
def csv_folder(tmp_path):
    """Ten photos of different sizes, K = 5, two themes; one file missing and one corrupt."""
    root = tmp_path / "folder"
    sizes = [(40, 30), (32, 48), (64, 20), (50, 50), (24, 36), (70, 40), (33, 33), (45, 60), (30, 30), (30, 30)]
    rows = []
    for i, (w, h) in enumerate(sizes):
        name = f"images/{i:03d}.png"
        if i == 8:
            write(root / name, "not a PNG at all")  # corrupt
        elif i != 9:  # 009.png is missing
            photo(root / name, (w, h), seed=i)
        split = ["train", "train", "train", "train", "val", "val", "test", "test", "train", "train"][i]
        theme = ["sky", "sea", "", "sky", "sea", "sky", "sea", "", "sky", "sea"][i]
        rows.append({"image": name, "split": split, "theme": theme, **{f"v{k}": (i + k) % 4 + 1 for k in range(1, 6)}})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    write(root / "themes.txt", "sea\nsky\n")
    write(root / "dataset.json", '{"name": "tiny", "description": "ten photos", "synthetic": true, "num_bins": 5}')
    return root


# --------------------------------------------------------------------------------------------------
# AVA readers and table


def test_read_ava_txt_columns_and_types(ava_files):
    frame = read_ava_txt(ava_files / "AVA.txt")
    assert list(frame.columns) == ["index", "image_id", *[f"v{k}" for k in range(1, 11)], "tag1", "tag2", "challenge_id"]
    assert len(frame) == 4  # the trailing blank line is skipped
    assert frame["image_id"].tolist() == ["953619", "953958", "954184", "954113"]
    assert frame.loc[0, [f"v{k}" for k in range(1, 11)]].tolist() == [0, 1, 5, 17, 38, 36, 15, 6, 5, 1]
    assert frame.loc[0, ["tag1", "tag2", "challenge_id"]].tolist() == [1, 22, 1396]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("3 954184 0 2 8 30 60 40 10 4 1 1 15 0", r"line 3: expected 15"),
        ("3 954184 0 2 8 x 60 40 10 4 1 1 15 0 1004", r"line 3: column 'v4'"),
        ("3 954184 0 2 8 -3 60 40 10 4 1 1 15 0 1004", r"line 3: vote counts must be >= 0"),
    ],
)
def test_read_ava_txt_names_file_and_line_of_malformed_rows(tmp_path, bad_line, message):
    lines = AVA_TXT.splitlines()
    lines[2] = bad_line
    path = write(tmp_path / "AVA.txt", "\n".join(lines))
    with pytest.raises(ValueError, match=message) as error:
        read_ava_txt(path)
    assert str(path) in str(error.value)


def test_line_by_line_readers_agree_with_the_fast_path(ava_files, tmp_path, monkeypatch):
    photonet = write(tmp_path / "photonet_dataset.txt", PHOTONET, newline="")
    fast = read_ava_txt(ava_files / "AVA.txt"), read_photonet(photonet)
    for reader in (ava_reader, photonet_reader):  # the readers' fast path off: the line-by-line one runs
        monkeypatch.setattr(reader, "fast_read", lambda *args: None)
    slow = read_ava_txt(ava_files / "AVA.txt"), read_photonet(photonet)
    for a, b in zip(fast, slow):
        pd.testing.assert_frame_equal(a, b)


def test_tanet_csv_and_idealo_json_yield_the_ava_columns(tmp_path):
    tanet = write(
        tmp_path / "test.csv",
        "image_id,score2,score3,score4,score5,score6,score7,score8,score9,score10,score11,tag1,tag2,tag3\n"
        "953619,0,1,5,17,38,36,15,6,5,1,1,22,1396\n\n",
    )
    idealo = write(tmp_path / "labels.json", '[{"image_id": "953619", "label": [0,1,5,17,38,36,15,6,5,1]}]')
    ava = read_ava_txt(write(tmp_path / "AVA.txt", AVA_TXT.splitlines()[0]))
    from_tanet, from_idealo = read_ava_tanet_csv(tanet), read_idealo_json(idealo)
    assert list(from_tanet.columns) == list(ava.columns) == list(from_idealo.columns)
    votes = [f"v{k}" for k in range(1, 11)] + ["tag1", "tag2", "challenge_id"]
    assert from_tanet[votes].to_numpy().tolist() == ava[votes].to_numpy().tolist()
    assert from_idealo.loc[0, "challenge_id"] == -1 and from_idealo.loc[0, "index"] == -1
    write(tmp_path / "bad.csv", "image_id,score2\n1,2\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 1: expected the header"):
        read_ava_tanet_csv(tmp_path / "bad.csv")
    write(tmp_path / "bad.json", '[{"image_id": "1", "label": [1, 2]}]')
    with pytest.raises(ValueError, match=r"bad.json, record 0"):
        read_idealo_json(tmp_path / "bad.json")


def test_read_challenges_tags_and_jpgl(tmp_path, ava_files):
    challenges = read_challenges(ava_files / "challenges.txt")
    assert challenges == {1396: "100 Meters", 1004: "100 Years Old", 1329: "Black & White"}
    tags = read_tags(write(tmp_path / "tags.txt", "1 Abstract\n9 Black and White\n"))
    assert tags == {1: "Abstract", 9: "Black and White"}
    assert read_jpgl(write(tmp_path / "a.jpgl", "12\n34\n\n")) == ["12", "34"]
    with pytest.raises(ValueError, match=r"dup.txt, line 2: challenge id 5 appears twice"):
        read_challenges(write(tmp_path / "dup.txt", "5 A\n5 B\n"))


def test_ava_table_split_themes_and_paths(ava_files, tmp_path):
    table = ava_table(ava_files / "AVA.txt", ava_files / "challenges.txt", tmp_path / "imgs", val_fraction=0.34, seed=3)
    assert table.attrs["num_bins"] == 10 and table.attrs["name"] == "AVA" and table.attrs["synthetic"] is False
    # Theme ids follow challenges.txt order, whatever challenges the rows use.
    assert table.attrs["theme_names"] == ["100 Meters", "100 Years Old", "Black & White"]
    by_id = table.set_index("image_id")
    assert by_id.loc["953619", "theme_id"] == 0 and by_id.loc["954184", "theme_id"] == 1
    assert by_id.loc["954113", "theme"] == "Black & White"
    # The test list found beside challenges.txt decides the test split; one of the other three is val.
    assert table.loc[table["split"] == "test", "image_id"].tolist() == ["954184"]
    assert sorted(table["split"].tolist()) == ["test", "train", "train", "val"]
    assert by_id.loc["953619", "path"] == str((tmp_path / "imgs" / "953619.jpg").resolve())
    assert table.columns[:5].tolist() == ["image_id", "path", "split", "theme_id", "theme"]
    # The split depends on ids and seed, not on row order.
    shuffled = read_ava_txt(ava_files / "AVA.txt").iloc[::-1]
    again = ava_table(shuffled, ava_files / "challenges.txt", tmp_path / "imgs", val_fraction=0.34, seed=3)
    assert again.set_index("image_id")["split"].to_dict() == by_id["split"].to_dict()


def test_ava_table_rejects_unknown_challenges_and_conflicting_duplicates(ava_files, tmp_path):
    frame = read_ava_txt(ava_files / "AVA.txt")
    unknown = frame.assign(challenge_id=[1396, 7, 1004, 1329])
    with pytest.raises(ValueError, match=r"challenge ids \[7\]"):
        ava_table(unknown, ava_files / "challenges.txt", tmp_path, test_list=[])
    conflicting = pd.concat([frame, frame.iloc[[0]].assign(v1=99)])
    with pytest.raises(ValueError, match=r"953619"):
        ava_table(conflicting, ava_files / "challenges.txt", tmp_path, test_list=[])
    # Identical repeats are kept once, preferring the row that names a challenge.
    repeated = pd.concat([frame.iloc[[0]].assign(challenge_id=-1), frame])
    table = ava_table(repeated, ava_files / "challenges.txt", tmp_path, test_list=[])
    assert len(table) == 4 and table.attrs["dropped"] == {"duplicate_id": 1}
    assert table.set_index("image_id").loc["953619", "theme_id"] == 0


# --------------------------------------------------------------------------------------------------
# Photo.net


def test_read_photonet_crlf_and_rows_without_votes(tmp_path):
    path = write(tmp_path / "photonet_dataset.txt", PHOTONET, newline="")
    assert b"\r\n" in path.read_bytes()
    frame = read_photonet(path)
    assert len(frame) == 8
    assert frame["has_votes"].tolist() == [True, True, False, True, True, True, False, True]
    no_votes = frame[~frame["has_votes"]]
    assert (no_votes[[f"v{k}" for k in range(1, 8)]].to_numpy() == 0).all()
    assert no_votes["mean_rating"].tolist() == [6.18, 4.83] and no_votes["variance"].isna().all()
    assert frame.loc[0, "variance"] == pytest.approx(0.583333333333333)
    with pytest.raises(ValueError, match=r"bad.txt, line 1: expected 12"):
        read_photonet(write(tmp_path / "bad.txt", "1 2 3\r\n", newline=""))


def test_photonet_table_drops_and_reports_rows_without_votes(tmp_path, caplog):
    path = write(tmp_path / "photonet_dataset.txt", PHOTONET, newline="")
    with caplog.at_level(logging.WARNING, logger="workbench.data.photonet"):
        table = photonet_table(path, tmp_path / "images", seed=0, split_sizes=(3, 1, 1))
    assert table.attrs["dropped"] == {"no_votes": 2, "duplicate_id": 1}
    assert "no_votes" in caplog.text
    assert len(table) == 5 and table["image_id"].is_unique
    assert table["split"].value_counts().to_dict() == {"train": 3, "val": 1, "test": 1}
    assert table.attrs["num_bins"] == 7 and table.attrs["theme_names"] == []
    assert (table["theme_id"] == -1).all() and table["theme"].isna().all()
    # Fewer rows than the sizes: split in their proportions; more: the rest is dropped and counted.
    proportional = photonet_table(path, tmp_path, split_sizes=(60, 20, 20))
    assert proportional["split"].value_counts().to_dict() == {"train": 3, "val": 1, "test": 1}
    small = photonet_table(path, tmp_path, split_sizes=(2, 1, 1))
    assert len(small) == 4 and small.attrs["dropped"]["beyond_split_sizes"] == 1


# --------------------------------------------------------------------------------------------------
# Generic folder


def test_read_csv_folder(csv_folder):
    table = read_csv_folder(csv_folder)
    assert table.attrs["num_bins"] == 5 and table.attrs["name"] == "tiny" and table.attrs["synthetic"] is True
    assert table.attrs["theme_names"] == ["sea", "sky"]
    assert table["theme_id"].tolist() == [1, 0, -1, 1, 0, 1, 0, -1, 1, 0]
    assert table.loc[2, "theme"] is None and table.loc[0, "theme"] == "sky"
    assert table["split"].tolist()[:6] == ["train"] * 4 + ["val"] * 2
    assert table["image_id"].tolist()[:2] == ["000", "001"]
    assert all(Path(p).is_absolute() for p in table["path"])


def test_read_csv_folder_errors_and_default_split(csv_folder, tmp_path):
    labels = pd.read_csv(csv_folder / "labels.csv", keep_default_na=False)
    labels.loc[3, "theme"] = "desert"
    labels.to_csv(csv_folder / "labels.csv", index=False)
    with pytest.raises(ValueError, match=r"labels.csv, line 5: theme 'desert' is not in .*themes.txt"):
        read_csv_folder(csv_folder)
    (csv_folder / "themes.txt").unlink()
    assert read_csv_folder(csv_folder).attrs["theme_names"] == ["desert", "sea", "sky"]
    # No split column: a seeded 80/10/10 split.
    labels.drop(columns=["split", "theme"]).to_csv(csv_folder / "labels.csv", index=False)
    first, second = read_csv_folder(csv_folder, seed=1), read_csv_folder(csv_folder, seed=1)
    assert first["split"].value_counts().to_dict() == {"train": 8, "val": 1, "test": 1}
    assert first["split"].tolist() == second["split"].tolist()
    assert (first["theme_id"] == -1).all() and first.attrs["theme_names"] == []
    write(csv_folder / "dataset.json", '{"num_bins": 10}')
    with pytest.raises(ValueError, match=r"num_bins is 10"):
        read_csv_folder(csv_folder)


# --------------------------------------------------------------------------------------------------
# Image headers and checks


def test_image_sizes_from_columns_headers_and_exif(tmp_path):
    plain = photo(tmp_path / "plain.png", (40, 20))
    rotated = photo(tmp_path / "rotated.jpg", (40, 20), exif_orientation=6)
    table = pd.DataFrame({"path": [str(plain), str(rotated), str(tmp_path / "none.jpg")]})
    assert image_sizes(table).tolist() == [[20, 40], [40, 20], [0, 0]]
    assert load_image(rotated).size == (20, 40)  # agrees with the loader: (w, h) after orientation
    with_columns = table.assign(height=[7, np.nan, 9], width=[8, np.nan, 10])
    assert image_sizes(with_columns).tolist() == [[7, 8], [40, 20], [9, 10]]


def test_check_images_drops_missing_and_unreadable(csv_folder, caplog):
    table = read_csv_folder(csv_folder)
    with caplog.at_level(logging.WARNING, logger="workbench.data.tables"):
        kept, report = check_images(table)
    assert report == {"missing": 1, "unreadable": 1, "too_small": 0, "kept": 8}
    assert kept["image_id"].tolist() == [f"{i:03d}" for i in range(8)]
    assert kept.loc[0, ["height", "width"]].tolist() == [30, 40]
    assert kept.attrs["num_bins"] == 5 and "dropped" in caplog.text


# --------------------------------------------------------------------------------------------------
# Dataset and collate


def test_dataset_items_targets_and_missing_or_corrupt(csv_folder):
    table = read_csv_folder(csv_folder)
    dataset = AestheticDataset(table, "train", canvas=64)
    assert len(dataset) == 6 and dataset.num_bins == 5 and dataset.theme_names == ["sea", "sky"]
    assert dataset.table.index.tolist() == list(range(6))
    item = dataset[1]
    assert item["image"].shape == (3, 48, 32) and item["image"].dtype == torch.float32
    assert item["target"].shape == (5,) and float(item["target"].sum()) == pytest.approx(1.0)
    assert item["theme"] == 0 and item["index"] == 1
    votes = table.loc[1, [f"v{k}" for k in range(1, 6)]].to_numpy(dtype=float)
    assert torch.allclose(item["target"], torch.tensor(votes / votes.sum(), dtype=torch.float32))
    assert torch.allclose(dataset.targets.sum(dim=1), torch.ones(6))
    assert dataset.sizes.tolist()[:4] == [[30, 40], [48, 32], [20, 64], [50, 50]]
    for index in (4, 5):  # corrupt, missing
        with pytest.warns(UserWarning, match=f"{index + 4:03d}.png"):
            assert dataset[index] is None
    # Photos larger than the canvas are downscaled to fit it; one that would fall below 16 px is skipped.
    small_canvas = AestheticDataset(table, "train", canvas=32)
    assert small_canvas[3]["image"].shape == (3, 32, 32)
    with pytest.warns(UserWarning, match="002.png"):
        assert small_canvas[2] is None


def test_train_augmentation_is_reproducible_by_seed_epoch_and_index(csv_folder):
    table = read_csv_folder(csv_folder)
    first = AestheticDataset(table, "train", canvas=64, train=True, seed=5)
    second = AestheticDataset(table, "train", canvas=64, train=True, seed=5)
    first.set_epoch(3)
    second.set_epoch(3)
    for index in range(4):
        assert torch.equal(first[index]["image"], second[index]["image"])
    # It is exactly train_sample with rng = default_rng([seed, epoch, index]).
    image = load_image(first.table.loc[2, "path"], max_side=64)
    expected = train_sample(image, "full", np.random.default_rng([5, 3, 2]), augment="flip_crop", canvas=64)
    assert torch.equal(first[2]["image"], to_normalized_tensor(expected))
    # Other epochs draw other views.
    views = []
    for epoch in range(8):
        first.set_epoch(epoch)
        views.append(first[0]["image"])
    assert any(not torch.equal(views[0], view) or view.shape != views[0].shape for view in views[1:])
    # Evaluation items are deterministic and unaugmented.
    test_view = AestheticDataset(table, "train", canvas=64)[0]["image"]
    assert torch.equal(test_view, to_normalized_tensor(load_image(first.table.loc[0, "path"])))


def test_test_items_views(csv_folder):
    dataset = AestheticDataset(read_csv_folder(csv_folder), "train", canvas=64)
    assert len(dataset.test_items(0, tta=True, rng=np.random.default_rng(0))) == 6
    assert len(dataset.test_items(0, tta=False, rng=None)) == 1
    crops = AestheticDataset(read_csv_folder(csv_folder), "train", transform="resize", canvas=64)
    views = crops.test_items(0, tta=True, rng=np.random.default_rng(0))
    assert len(views) == 20 and all(v.shape == (3, 299, 299) for v in views)
    with pytest.warns(UserWarning):
        assert dataset.test_items(5, tta=True) is None


def test_collate_pads_to_canvas_or_batch_max_and_counts_skipped(csv_folder):
    dataset = AestheticDataset(read_csv_folder(csv_folder), "train", canvas=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        items = [dataset[i] for i in range(6)]
    to_canvas = collate_padded(items, canvas=64)
    assert isinstance(to_canvas["batch"], PaddedBatch) and to_canvas["skipped"] == 2
    assert to_canvas["batch"].images.shape == (4, 3, 64, 64)
    assert to_canvas["batch"].sizes.tolist() == [[30, 40], [48, 32], [20, 64], [50, 50]]
    assert to_canvas["target"].shape == (4, 5) and to_canvas["index"].tolist() == [0, 1, 2, 3]
    assert to_canvas["theme"].dtype == torch.long and to_canvas["theme"].tolist() == [1, 0, -1, 1]
    to_max = collate_padded(items[:2], canvas=None)
    assert to_max["batch"].images.shape == (2, 3, 48, 48) and to_max["skipped"] == 0  # (48, 40) rounded to 16
    assert collate_padded([None, None]) is None


def test_dataloader_with_workers_matches_in_process_items(csv_folder):
    table = read_csv_folder(csv_folder)
    dataset = AestheticDataset(table, "train", canvas=64, train=True, seed=1)
    dataset.set_epoch(2)
    collate = functools.partial(collate_padded, canvas=64)
    pickle.dumps(collate)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=collate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(loader)
        expected = [dataset[i] for i in range(6)]
    assert [b["skipped"] for b in batches] == [0, 2]
    first = batches[0]["batch"]
    for row, index in enumerate(batches[0]["index"].tolist()):
        h, w = first.sizes[row].tolist()
        assert torch.equal(first.images[row, :, :h, :w], expected[index]["image"])


# --------------------------------------------------------------------------------------------------
# The real published files (../shared/ava), read in place


def test_real_challenges_tags_and_test_list():
    challenges = read_challenges(shared("challenges.txt"))
    assert len(challenges) == 1398 and min(challenges) == 2 and max(challenges) == 1408
    assert len(set(challenges.values())) == 1398 and all(name and "_" not in name for name in challenges.values())
    assert challenges[1396] == "100 Meters"
    assert len(read_tags(shared("tags.txt"))) == 66
    test_ids = read_jpgl(shared("aesthetics_image_lists", "generic_test.jpgl"))
    assert len(test_ids) == 20000 and len(set(test_ids)) == 20000


def test_real_tanet_and_idealo_files():
    challenges = read_challenges(shared("challenges.txt"))
    test = read_ava_tanet_csv(shared("tanet", "test.csv"))
    val = read_ava_tanet_csv(shared("tanet", "val.csv"))  # ends with a blank line
    assert (len(test), len(val)) == (12776, 12775)
    assert set(test["challenge_id"]) <= set(challenges) and set(val["challenge_id"]) <= set(challenges)
    idealo = read_idealo_json(shared("idealo", "ava_labels_test.json"))
    assert len(idealo) == 25551
    row = idealo[idealo["image_id"] == "953619"]
    assert row[[f"v{k}" for k in range(1, 11)]].to_numpy().tolist() == [[0, 1, 5, 17, 38, 36, 15, 6, 5, 1]]


def test_real_ava_table_on_tanet_files_with_generic_test():
    labels = pd.concat([read_ava_tanet_csv(shared("tanet", "val.csv")), read_ava_tanet_csv(shared("tanet", "test.csv"))])
    table = ava_table(labels, shared("challenges.txt"), shared("images"))
    test_ids = set(read_jpgl(shared("aesthetics_image_lists", "generic_test.jpgl")))
    is_test = table["split"] == "test"
    assert set(table.loc[is_test, "image_id"]) == set(table["image_id"]) & test_ids
    assert is_test.sum() == 975 + 984
    assert len(table.attrs["theme_names"]) == 1398 and (table["theme_id"] >= 0).all()
    assert (table["split"] == "val").sum() == round(0.05 * (~is_test).sum())


def test_real_photonet_file():
    frame = read_photonet(shared("photonet", "photonet_dataset.txt"))
    assert len(frame) == 20278
    assert (frame["image_id"] == "2985331").sum() == 2
    assert (~frame["has_votes"]).sum() == 1173
    votes = frame[[f"v{k}" for k in range(1, 8)]].sum(axis=1)
    # Kept as published. (SOURCES.md's 3,953 "off by 1-2" rows are these 2,780 plus the 1,173 without votes;
    # the real offsets run from -13 to +52.)
    assert ((votes != frame["n_ratings"]) & frame["has_votes"]).sum() == 2780
    table = photonet_table(frame, "/nonexistent/photonet")
    assert table.attrs["dropped"] == {"no_votes": 1173, "duplicate_id": 1, "beyond_split_sizes": 20278 - 1174 - 16666}
    assert table["split"].value_counts().to_dict() == {"train": 14800, "val": 666, "test": 1200}


def test_real_photos_load_through_a_csv_folder(tmp_path):
    photos = sorted(shared("images").glob("*.jpg")) + sorted(shared("images_by_ava_index").glob("*.jpg"))
    assert len(photos) == 62
    root = tmp_path / "real"
    root.mkdir()
    rows = [{"image": str(p), "split": "test", **{f"v{k}": k for k in range(1, 11)}} for p in photos]
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    table = read_csv_folder(root)
    assert table["path"].tolist() == [str(p) for p in photos]
    index = pd.read_csv(shared("IMAGES.csv")).set_index("file")
    expected = [index.loc[f"{p.parent.name}/{p.name}", ["height", "width"]].tolist() for p in photos]
    assert image_sizes(table).tolist() == expected
    dataset = AestheticDataset(table, "test", canvas=800)
    items = [dataset[i] for i in range(len(dataset))]
    assert all(item is not None for item in items)
    assert [list(item["image"].shape[1:]) for item in items] == expected  # all fit the 800 canvas as they are
    batch = collate_padded(items[:4], canvas=800)
    assert batch["batch"].images.shape == (4, 3, 800, 800) and batch["skipped"] == 0


@pytest.mark.parametrize("text, match", [("{not json", r"x.json, line 1: not valid JSON"), ("[1, 2]", r"x.json: expected a JSON object with the seed, got list")])
def test_a_json_file_that_is_not_one_object_is_an_error_naming_it(tmp_path, text, match):
    from workbench.data.tables import read_json_object

    (tmp_path / "x.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_json_object(tmp_path / "x.json", "the seed")
    (tmp_path / "x.json").write_text('{"seed": 3}')
    assert read_json_object(tmp_path / "x.json", "the seed") == {"seed": 3}
