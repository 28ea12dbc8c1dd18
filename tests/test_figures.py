"""workbench.figures: Figs. 1, 2, 3 and 9 measured from the library's own views and a real forward pass."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from workbench.data.augment import SIX_VIEWS  # noqa: E402
from workbench.data.synth import generate_dataset  # noqa: E402
from workbench.data.synth_attributes import sample_attributes  # noqa: E402
from workbench.data.synth_truth import expected_distribution, theme_names  # noqa: E402
from workbench.figures import (  # noqa: E402
    benchmark_theme_pairs,
    forward_trace,
    input_views,
    plot_architecture,
    plot_input_transforms,
    plot_theme_contrast,
    plot_theme_pair,
    plot_view_stability,
    theme_contrast_by_content,
    view_stability,
    view_stability_summary,
)
from workbench.metrics import distribution_mean  # noqa: E402
from workbench.model import build_model, list_backbones  # noqa: E402
from workbench.predict import Predictor  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _photo(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


def test_input_views_are_what_each_transform_gives_the_network():
    views = input_views(_photo(640, 480), canvas=800)
    assert list(views.index) == ["full", "resize", "resized_pad", "crop"]
    full = views.loc["full"]
    assert (full.photo_w, full.photo_h, full.input_w, full.input_h) == (640, 480, 800, 800)
    assert not full.stretched and full.padding_share == pytest.approx(1 - 640 * 480 / 800**2)
    assert full.pixels.shape == (800, 800, 3) and (full.pixels[600:, :] == full.pixels[799, 0]).all()  # padding: one colour
    resize = views.loc["resize"]
    assert (resize.photo_w, resize.photo_h) == (299, 299) and resize.stretched and resize.padding_share == 0
    resized_pad = views.loc["resized_pad"]
    assert resized_pad.photo_w == 299 and not resized_pad.stretched and resized_pad.padding_share > 0.2
    crop = views.loc["crop"]
    assert (crop.input_w, crop.input_h) == (299, 299) and not crop.stretched and crop.kept_share == pytest.approx(299 * 299 / (640 * 480))


def test_plot_input_transforms_draws_the_original_and_four_inputs(tmp_path):
    figure = plot_input_transforms(_photo(300, 500), canvas=400, caption="test photo, n = 1", save_to=tmp_path / "fig1.png")
    assert len(figure.axes) == 5 and "test photo, n = 1" in figure._suptitle.get_text()
    assert (tmp_path / "fig1.png").read_bytes().startswith(PNG)


@pytest.fixture(scope="module")
def compact_predictor():
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=len(theme_names()), roi_size=16)
    return Predictor(model, theme_names(), canvas=256)


def test_forward_trace_records_the_shapes_of_one_real_pass(compact_predictor):
    photos = [_photo(200, 120, 1), _photo(90, 160, 2), _photo(256, 256, 3)]
    stages, batch = forward_trace(compact_predictor.model, photos, themes=[0, 3, -1], canvas=256)
    shapes = dict(zip(stages["stage"], stages["shape"]))
    assert shapes["padded batch (input)"][:2] == (3, 3) and shapes["padded batch (input)"][2:] == batch["images"].shape[1:3]
    assert shapes["ROI pooling"][0] == 3 and shapes["ROI pooling"][2:] == (16, 16)
    assert shapes["softmax (output)"] == (3, 10) and shapes["theme feature"] == (3, 256)
    assert any(stage.startswith("stem conv") for stage in shapes)
    np.testing.assert_array_equal(batch["sizes"], [[120, 200], [160, 90], [256, 256]])
    # the stem's ROI boxes follow the conv arithmetic of eq. (1), and match the model's own
    np.testing.assert_array_equal(batch["stem_sizes"], compact_predictor.model.backbone.stem_sizes(torch.tensor(batch["sizes"])).numpy())
    np.testing.assert_allclose(batch["distributions"].sum(axis=1), 1, atol=1e-5)


def test_plot_architecture_shows_each_photo_with_its_roi_and_the_stage_table(compact_predictor, tmp_path):
    stages, batch = forward_trace(compact_predictor.model, [_photo(200, 120), _photo(90, 160)], canvas=256)
    figure = plot_architecture(stages, batch, caption="compact, untrained", save_to=tmp_path / "fig3.png")
    assert len(figure.axes) == 2 * 2 + 1
    assert (tmp_path / "fig3.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize("backbone", list_backbones())
def test_fig3_shows_the_full_resolution_stem_of_every_backbone_with_frozen_batchnorm(backbone, tmp_path):
    """The shipped models freeze BatchNorm, which folds the stem's BN into its convolution: Fig. 3 still has
    the stem rows and the stem map, each photo's ROI box on it (its valid region: stem activity inside)."""
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, num_themes=3, freeze_bn=backbone != "compact", pretrained=False)
    sizes = [(80, 120), (100, 64)]  # (h, w)
    stages, batch = forward_trace(model, [_photo(w, h, i) for i, (h, w) in enumerate(sizes)], themes=[1, -1], canvas=128)
    rows = stages.set_index("stage")["shape"]
    stem_rows = [stage for stage in rows.index if stage.startswith("stem conv")]
    assert len(stem_rows) == len(model.backbone.stem)
    assert rows[stem_rows[-1]][2:] == batch["stem_map"].shape[1:] and rows["softmax (output)"] == (2, 10)
    assert list(rows.index).index(stem_rows[-1]) < list(rows.index).index("ROI pooling") < list(rows.index).index("visual feature")
    assert rows["ROI pooling"][2:] == (model.backbone.roi_size, model.backbone.roi_size)
    assert any(stage.startswith("body stage") for stage in rows.index)
    np.testing.assert_array_equal(batch["stem_sizes"], model.backbone.stem_sizes(torch.tensor(sizes)).numpy())
    for stem_map, (h, w) in zip(batch["stem_map"], batch["stem_sizes"]):
        assert np.isfinite(stem_map).all() and stem_map[:h, :w].mean() > 0
    np.testing.assert_allclose(batch["distributions"].sum(axis=1), 1, atol=1e-5)
    figure = plot_architecture(stages, batch, caption=f"{backbone}, untrained", save_to=tmp_path / "fig3.png")
    assert len(figure.axes) == 2 * 2 + 1 and (tmp_path / "fig3.png").read_bytes().startswith(PNG)


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    from workbench.data.csv_folder import read_csv_folder

    return read_csv_folder(generate_dataset(tmp_path_factory.mktemp("synth") / "synth", 6, seed=0, workers=1, progress=False))


def test_benchmark_theme_pairs_use_the_generators_truth_under_each_theme(tiny_benchmark, tmp_path):
    names = theme_names()
    predicted = np.full((len(tiny_benchmark), len(names), 10), 0.1)
    predicted[:, :, 9] += np.linspace(0, 0.5, len(names))  # the prediction rises with the theme id
    pairs = benchmark_theme_pairs(tiny_benchmark, predicted)
    assert len(pairs) == len(tiny_benchmark)
    assert np.all(np.diff(pairs["true_mean_change"].abs()) <= 0)  # largest change first
    for pair in pairs.itertuples():
        attributes = sample_attributes(int(pair.path.split("/")[-1].split(".")[0]), seed=0)
        assert pair.theme == attributes["theme"]
        expected = distribution_mean(expected_distribution(attributes, pair.other_theme)) - distribution_mean(expected_distribution(attributes))
        assert pair.true_mean_change == pytest.approx(expected)
        means = [distribution_mean(expected_distribution(attributes, theme)) for theme in names]
        assert abs(pair.true_mean_change) == pytest.approx(np.max(np.abs(np.array(means) - means[names.index(pair.theme)])))
        assert np.sign(pair.pred_mean_change) == np.sign(names.index(pair.other_theme) - names.index(pair.theme))
    figure = plot_theme_pair(pairs, count=2, caption="SYNTHETIC", save_to=tmp_path / "fig2.png")
    assert len(figure.axes) == 6 and (tmp_path / "fig2.png").read_bytes().startswith(PNG)


def test_theme_contrast_by_content_finds_the_most_different_themes_per_tag(tmp_path):
    rows = []
    for tag, themes in ((1, {"A": 3, "B": 8, "C": 5}), (2, {"A": 5, "D": 6})):
        for theme, score in themes.items():
            for _ in range(4 if theme != "C" else 2):  # C has too few photos of tag 1
                votes = np.zeros(10)
                votes[score - 1] = 10
                rows.append({"tag1": tag, "theme": theme, **{f"v{k + 1}": votes[k] for k in range(10)}})
    rows.append({"tag1": 0, "theme": "E", **{f"v{k + 1}": float(k == 0) for k in range(10)}})  # no tag: left out
    contrast = theme_contrast_by_content(pd.DataFrame(rows), min_photos=3)
    assert contrast["tag"].tolist() == [1, 2]
    first = contrast.iloc[0]
    assert (first.theme_low, first.theme_high, first.n_low, first.n_high) == ("A", "B", 4, 4)
    assert first.difference == pytest.approx(5.0) and first.p_high[7] == pytest.approx(1.0)
    figure = plot_theme_contrast(contrast, {1: "Abstract"}, caption="made-up votes", save_to=tmp_path / "fig2ava.png")
    assert "Abstract" in figure.axes[0].get_title()
    with pytest.raises(ValueError, match="no content tag"):
        plot_theme_contrast(contrast.iloc[:0])


def test_view_stability_measures_each_view_against_the_original(compact_predictor, tmp_path):
    paths = []
    for i, (w, h) in enumerate(((200, 120), (90, 160), (150, 150))):
        paths.append(tmp_path / f"{i}.png")
        _photo(w, h, i).save(paths[-1])
    target = np.tile(np.arange(1, 11, dtype=float), (3, 1))
    stability = view_stability(compact_predictor, paths, target)
    assert len(stability) == 3 * len(SIX_VIEWS) and set(stability["view"]) == set(SIX_VIEWS)
    original = stability[stability["view"] == "original"]
    assert np.allclose(original["pred_mean_change"], 0) and np.allclose(original["emd1_to_original"], 0)
    assert (stability["true_mean_change"] == 0).all()
    assert stability.loc[stability["view"] != "original", "emd1_to_original"].max() > 0  # the views do differ
    summary = view_stability_summary(stability)
    assert list(summary.index) == list(SIX_VIEWS) and summary.loc["original", "mean_abs_pred_change"] == pytest.approx(0, abs=1e-9)
    figure = plot_view_stability(paths[0], stability, caption="compact, untrained", save_to=tmp_path / "fig9.png")
    assert len(figure.axes) == 3 and (tmp_path / "fig9.png").read_bytes().startswith(PNG)


def test_fig3_names_each_part_of_the_visual_feature():
    """A spatial-grid feature is not 'global averages': Fig. 3 says which stage each grid comes from."""
    from workbench.figures import _feature_parts

    stages = [(f"stage {i}", torch.zeros(1, channels, 7, 7)) for i, channels in enumerate((16, 112, 192), start=1)]
    assert _feature_parts([("global", 320, 1)], stages, multi_level=True) == "stage averages (320)"
    parts = _feature_parts([("global", 320, 1), ("grid", 112, 4), ("grid", 192, 3)], stages, multi_level=True)
    assert parts == "stage averages (320) + 4x4 grid, stage 2 (1792) + 3x3 grid, stage 3 (1728)"
