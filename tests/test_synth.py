"""The synthetic themed benchmark: determinism, AVA-like sizes and votes, the folder format, and the
properties that make it test the paper's claims (fine grain lost by a 299 resize, theme criteria
that disagree, theme-dependent spread)."""
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.stats import spearmanr

from workbench.data.csv_folder import read_csv_folder
from workbench.data.synth import JPEG_OPTIONS, generate_dataset, main
from workbench.data.synth_attributes import GENERIC_PRIORS, sample_attributes
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import (
    FEATURE_CENTRES,
    MAX_VOTERS,
    MIN_VOTERS,
    NUM_BINS,
    THEMES,
    distribution_moments,
    expected_distribution,
    sample_votes,
    theme_names,
)

SEED = 7


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A small dataset written once for the format tests."""
    return generate_dataset(tmp_path_factory.mktemp("synth") / "data", 12, seed=SEED, workers=1, progress=False)


def photos_without_pixels(count: int, seed: int = SEED) -> list[dict]:
    return [sample_attributes(index, seed) for index in range(count)]


def high_pass_energy(image: Image.Image) -> float:
    """Mean squared Laplacian of the luminance: where 1-px grain lives."""
    x = np.asarray(image.convert("L"), np.float32)
    laplacian = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
    return float(np.mean(laplacian**2))


def as_written(image: Image.Image) -> Image.Image:
    """The photo as a dataset stores it (JPEG round trip)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **JPEG_OPTIONS)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# --- determinism ---------------------------------------------------------------------------------
def test_same_seed_and_index_give_identical_photos_and_others_differ():
    image, attributes = generate_image(3, SEED)
    again, attributes_again = generate_image(3, SEED)
    assert attributes == attributes_again
    assert np.array_equal(np.asarray(image), np.asarray(again))
    other_seed, _ = generate_image(3, SEED + 1)
    other_index, _ = generate_image(4, SEED)
    for other in (other_seed, other_index):
        assert other.size != image.size or not np.array_equal(np.asarray(other), np.asarray(image))


def test_attributes_are_drawn_without_pixels_and_match_the_rendered_photo():
    image, attributes = generate_image(5, SEED)
    assert sample_attributes(5, SEED) == attributes
    assert image.mode == "RGB" and image.size == (attributes["width"], attributes["height"])


def test_overrides_change_one_attribute_and_keep_the_scene():
    _, attributes = generate_image(2, SEED)
    clean, clean_attributes = generate_image(2, SEED, overrides={"grain": 0.0})
    grainy, _ = generate_image(2, SEED, overrides={"grain": 1.0})
    assert clean_attributes == {**attributes, "grain": 0.0}
    difference = np.asarray(grainy, np.float32) - np.asarray(clean, np.float32)
    assert np.abs(difference).mean() > 3  # the grain is there ...
    block_means = difference[: difference.shape[0] // 8 * 8, : difference.shape[1] // 8 * 8]
    block_means = block_means.reshape(difference.shape[0] // 8, 8, difference.shape[1] // 8, 8, 3).mean(axis=(1, 3))
    assert np.abs(block_means).mean() < 0.5  # ... and nothing else: it averages out over 8x8 blocks


def test_overridden_attributes_keep_the_dependent_ones_consistent():
    matched = sample_attributes(4, SEED, overrides={"hue_match": 1.0})
    assert matched["subject_hue"] == pytest.approx(matched["background_hue"])
    opposite = sample_attributes(4, SEED, overrides={"background_hue": 0.1, "subject_hue": 0.6})
    assert opposite["hue_match"] == pytest.approx(0.0)
    wide = sample_attributes(4, SEED, overrides={"width": 800, "height": 400})
    assert wide["aspect"] == 2.0


def test_dataset_bytes_are_deterministic_and_do_not_depend_on_workers(tmp_path):
    serial = generate_dataset(tmp_path / "serial", 4, seed=SEED, workers=1, progress=False)
    again = generate_dataset(tmp_path / "again", 4, seed=SEED, workers=1, progress=False)
    parallel = generate_dataset(tmp_path / "parallel", 4, seed=SEED, workers=2, progress=False)
    other_seed = generate_dataset(tmp_path / "other", 4, seed=SEED + 1, workers=1, progress=False)
    names = ["labels.csv", "themes.txt", "dataset.json"] + [f"images/{i:06d}.jpg" for i in range(4)]
    for name in names:
        assert (serial / name).read_bytes() == (again / name).read_bytes() == (parallel / name).read_bytes(), name
    assert (serial / "labels.csv").read_bytes() != (other_seed / "labels.csv").read_bytes()
    assert (serial / "images/000000.jpg").read_bytes() != (other_seed / "images/000000.jpg").read_bytes()


# --- sizes ---------------------------------------------------------------------------------------
def test_sizes_follow_an_ava_like_distribution():
    photos = photos_without_pixels(300)
    width = np.array([p["width"] for p in photos])
    height = np.array([p["height"] for p in photos])
    long_side, aspect = np.maximum(width, height), width / height
    assert long_side.min() >= 300 and long_side.max() <= 800
    assert np.mean(long_side >= 500) > 0.8
    assert aspect.min() >= 0.49 and aspect.max() <= 2.51
    standard = np.array([1.5, 2 / 3, 4 / 3, 3 / 4, 1.0])
    near_standard = np.abs(aspect[:, None] / standard[None, :] - 1).min(axis=1) < 0.02
    assert near_standard.mean() > 0.5  # concentrated at 3:2, 2:3, 4:3, 3:4 and 1:1
    assert 0.15 < np.mean(aspect < 0.99) < 0.45  # both orientations, landscape first
    assert np.mean(np.abs(aspect - 1.5) < 0.02) > 0.2  # 3:2 is the mode, as in AVA


# --- the folder + CSV format ---------------------------------------------------------------------
def test_written_folder_matches_the_csv_format(dataset):
    labels = pd.read_csv(dataset / "labels.csv")
    votes = [f"v{k}" for k in range(1, NUM_BINS + 1)]
    assert list(labels.columns[:15]) == ["image", "split", "theme", *votes, "width", "height"]
    extra = list(labels.columns[15:])
    assert extra and all(name.startswith("gt_") for name in extra)
    assert {"gt_grain", "gt_blur", "gt_thirds", "gt_border_cut", "gt_roundness", "gt_aspect", "gt_mean", "gt_std"} <= set(extra)
    assert len(labels) == 12 and set(labels["split"]) <= {"train", "val", "test"}
    assert (dataset / "themes.txt").read_text().splitlines() == theme_names()
    assert set(labels["theme"]) <= set(theme_names())
    for row in labels.itertuples():
        with Image.open(dataset / row.image) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert image.size == (row.width, row.height)
    metadata = json.loads((dataset / "dataset.json").read_text())
    assert metadata["synthetic"] is True and metadata["num_bins"] == NUM_BINS
    assert metadata["name"] == "workbench-synthetic-themes" and "SYNTHETIC" in metadata["description"]
    assert metadata["seed"] == SEED and metadata["n"] == 12 and metadata["generator_version"]


def test_written_folder_reads_back_as_a_label_table(dataset):
    table = read_csv_folder(dataset)
    labels = pd.read_csv(dataset / "labels.csv")
    assert len(table) == len(labels)
    assert all(Path(path).is_file() for path in table["path"])
    assert table["theme_id"].tolist() == [theme_names().index(name) for name in labels["theme"]]
    assert table.attrs["num_bins"] == NUM_BINS and table.attrs["synthetic"] is True
    assert list(table.attrs["theme_names"]) == theme_names()


def test_refuses_a_non_empty_folder_unless_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_dataset(tmp_path, 2, progress=False, workers=1)
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--n", "2", "--quiet"])
    assert exit_info.value.code == 2
    assert main(["--out", str(tmp_path), "--n", "2", "--seed", "1", "--quiet", "--overwrite", "--workers", "1"]) == 0
    assert len(pd.read_csv(tmp_path / "labels.csv")) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the dataset's own files are replaced


def test_rejects_bad_arguments_with_a_message_naming_them():
    with pytest.raises(ValueError, match="not primary attributes"):
        sample_attributes(0, overrides={"quality": 10})
    with pytest.raises(ValueError, match="grain must be in"):
        generate_image(0, overrides={"grain": 2.0})
    with pytest.raises(ValueError, match="unknown theme"):
        expected_distribution(sample_attributes(0), "Cats")
    with pytest.raises(ValueError, match="n must be"):
        generate_dataset("/nonexistent-never-written", 0)


# --- votes ---------------------------------------------------------------------------------------
def test_votes_look_like_ava():
    photos = photos_without_pixels(200)
    means, expected_means = [], []
    for index, attributes in enumerate(photos):
        vote_rng = np.random.default_rng(index)
        votes, _ = sample_votes(attributes, vote_rng)
        assert votes.shape == (NUM_BINS,) and votes.dtype.kind == "i" and (votes >= 0).all()
        assert MIN_VOTERS <= votes.sum() <= MAX_VOTERS
        distribution = expected_distribution(attributes)
        assert distribution.shape == (NUM_BINS,) and abs(distribution.sum() - 1) < 1e-9
        means.append(distribution_moments(votes)[0])
        expected_means.append(distribution_moments(distribution)[0])
    means = np.array(means)
    assert 4.8 < means.mean() < 6.0 and 0.4 < means.std() < 1.2  # AVA: 5.4 and 0.7
    assert np.mean((means > 3) & (means < 8)) > 0.97
    assert np.corrcoef(means, expected_means)[0, 1] > 0.8  # votes follow the criterion, with noise


def test_written_votes_sum_to_the_voter_count(dataset):
    labels = pd.read_csv(dataset / "labels.csv")
    counts = labels[[f"v{k}" for k in range(1, NUM_BINS + 1)]].to_numpy()
    assert counts.dtype.kind == "i" and (counts >= 0).all()
    assert ((counts.sum(axis=1) >= MIN_VOTERS) & (counts.sum(axis=1) <= MAX_VOTERS)).all()
    assert (counts == 0).any()  # AVA-like: empty bins at the extremes


# --- theme criteria ------------------------------------------------------------------------------
def test_the_same_photo_scores_differently_under_different_themes():
    attributes = sample_attributes(0, SEED)
    moments = np.array([distribution_moments(expected_distribution(attributes, name)) for name in theme_names()])
    assert len(np.unique(np.round(moments[:, 0], 3))) == len(theme_names())
    assert np.ptp(moments[:, 0]) > 1.0  # mean score differs by more than a point
    assert np.ptp(moments[:, 1]) > 0.3  # and so does the spread


@pytest.mark.parametrize(
    "attribute, rewarded_by, punished_by",
    [("blur", "Motion Blur", "Color on Color"), ("grain", "Film Grain", "Macro Detail"), ("warmth", "Golden Hour", "Harsh Environments")],
)
def test_themes_disagree_in_sign_on_an_attribute(attribute, rewarded_by, punished_by):
    low = sample_attributes(1, SEED, overrides={attribute: 0.0})
    high = sample_attributes(1, SEED, overrides={attribute: 1.0})

    def gain(theme: str) -> float:
        return distribution_moments(expected_distribution(high, theme))[0] - distribution_moments(expected_distribution(low, theme))[0]

    assert gain(rewarded_by) > 0.5 and gain(punished_by) < -0.3


def test_the_spread_of_votes_depends_on_the_theme():
    photos = photos_without_pixels(400)
    table = pd.DataFrame(
        {"theme": [p["theme"] for p in photos], "std": [distribution_moments(expected_distribution(p))[1] for p in photos]}
    )
    theme_means = table.groupby("theme")["std"].mean()
    assert len(theme_means) == len(theme_names())  # every theme is drawn
    assert theme_means.max() - theme_means.min() > 0.4
    between = table.groupby("theme")["std"].transform("mean").var()
    assert between / table["std"].var() > 0.3  # the theme explains much of the spread ...
    within = table.groupby("theme")["std"].std()
    assert (within > 0.03).all() and within.mean() > 0.06  # ... but not all of it: photos matter too


# --- layout and geometry -------------------------------------------------------------------------
def test_layout_attributes_are_defined_on_the_whole_frame():
    centred = sample_attributes(0, SEED, overrides={"subject_x": 0.5, "subject_y": 0.5, "subject_size": 0.2})
    assert centred["centering"] == 1.0 and centred["thirds"] == 0.0 and centred["border_cut"] == 0.0
    thirds = sample_attributes(0, SEED, overrides={"subject_x": 1 / 3, "subject_y": 2 / 3})
    assert thirds["thirds"] == pytest.approx(1.0) and thirds["centering"] == 0.0
    cut = sample_attributes(0, SEED, overrides={"subject_x": 0.0, "subject_y": 0.5, "subject_size": 0.8})
    assert 0.35 < cut["border_cut"] < 0.65  # half the subject is outside the frame


def test_subject_is_drawn_where_its_attributes_say():
    overrides = {"subject_x": 0.25, "subject_y": 0.6, "subject_size": 0.5, "clutter": 0.0, "blur": 0.0, "grain": 0.0}
    image, attributes = generate_image(9, SEED, overrides=overrides)
    hidden, _ = generate_image(9, SEED, overrides={**overrides, "subject_size": 0.0, "subject_x": 2.0})
    changed = np.abs(np.asarray(image, np.float32) - np.asarray(hidden, np.float32)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert abs(xs.mean() / attributes["width"] - 0.25) < 0.06 and abs(ys.mean() / attributes["height"] - 0.6) < 0.08


# --- fine detail that only the full resolution keeps -----------------------------------------------
def big_photo_indices(count: int, min_long_side: int = 640) -> list[int]:
    indices = [i for i in range(200) if max(sample_attributes(i, SEED)["width"], sample_attributes(i, SEED)["height"]) >= min_long_side]
    return indices[:count]


def test_grain_survives_jpeg_and_is_averaged_away_by_a_299_resize():
    for index in big_photo_indices(4):
        raw = {grain: generate_image(index, SEED, overrides={"grain": grain})[0] for grain in (0.0, 1.0)}
        stored = {grain: as_written(image) for grain, image in raw.items()}
        assert high_pass_energy(stored[1.0]) / high_pass_energy(raw[1.0]) == pytest.approx(1, abs=0.15)  # JPEG keeps it
        assert high_pass_energy(stored[1.0]) / high_pass_energy(stored[0.0]) > 20  # it dominates the fine scale

        def grain_left(resize) -> float:
            """Std of what the grain adds to the photo, in grey levels."""
            clean, grainy = (np.asarray(resize(stored[grain]), np.float32) for grain in (0.0, 1.0))
            return float(np.std(grainy - clean))

        full = grain_left(lambda image: image)
        assert full > 12  # grain = 1 is about 15 grey levels at full resolution
        for resample in (Image.Resampling.BILINEAR, Image.Resampling.LANCZOS):
            assert grain_left(lambda image: image.resize((299, 299), resample)) < 0.12 * full
        paper_resize = lambda image: image.resize((340, 340), Image.Resampling.BILINEAR).crop((20, 20, 319, 319))  # noqa: E731
        assert grain_left(paper_resize) < 0.12 * full


def test_grain_is_readable_at_full_resolution_but_not_after_a_299_resize():
    grains, full, resized = [], [], []
    for index in big_photo_indices(12):
        grain = float(np.random.default_rng(index).random())
        stored = as_written(generate_image(index, SEED, overrides={"grain": grain})[0])
        grains.append(grain)
        full.append(high_pass_energy(stored))
        resized.append(high_pass_energy(stored.resize((299, 299), Image.Resampling.BILINEAR)))
    assert spearmanr(grains, full)[0] > 0.95
    assert abs(spearmanr(grains, resized)[0]) < 0.6


def test_the_theme_table_is_consistent():
    assert 12 <= len(THEMES) <= 16 and len(set(theme_names())) == len(THEMES)
    for theme in THEMES:
        assert set(theme.weights) <= set(FEATURE_CENTRES), theme.name
        assert set(theme.priors) <= set(GENERIC_PRIORS), theme.name
        assert 0.5 <= theme.fans <= 1 and theme.spread > 0


def test_sharpness_shows_mostly_at_full_resolution():
    for index in big_photo_indices(3):
        stored = {s: as_written(generate_image(index, SEED, overrides={"sharpness": s, "grain": 0.0})[0]) for s in (0.0, 1.0)}
        full = high_pass_energy(stored[1.0]) / high_pass_energy(stored[0.0])
        resized = [high_pass_energy(stored[s].resize((299, 299), Image.Resampling.BILINEAR)) for s in (0.0, 1.0)]
        assert full > 3  # the 2-3 px detail that defocus erases
        assert resized[1] / resized[0] < 0.5 * full  # the resize erases it too; softer edges remain
