"""workbench.fidelity: a synthetic-benchmark model against the truth, by view, theme and attribute."""
import json

import numpy as np
import pandas as pd
import pytest

from workbench import Predictor
from workbench.data.synth import generate_dataset
from workbench.fidelity import (
    ATTRIBUTE_PROBES, AttributeProbe, agreement, attribute_scene_changes, dataset_seed, describe_view_retention, fidelity_report,
    full_over_other, main,
    summarise_attribute_changes, target_checks, theme_response, theme_response_pairs,
)  # fmt: skip
from workbench.metrics import distribution_mean

from conftest import make_tiny_checkpoint


def _distributions(means, spread=1.3):
    scores = np.arange(1, 11)
    p = np.exp(-0.5 * ((scores - np.asarray(means)[..., None]) / spread) ** 2)
    return p / p.sum(axis=-1, keepdims=True)


def test_theme_response_is_one_when_the_prediction_is_the_truth_and_zero_when_it_ignores_the_theme():
    rng = np.random.default_rng(0)
    truth_means = rng.uniform(3, 8, (30, 5))
    truth = _distributions(truth_means)
    own = rng.integers(0, 5, 30)
    perfect = theme_response(truth, truth, own, bootstrap=50)
    assert perfect["slope"] == pytest.approx(1.0) and perfect["r"] == pytest.approx(1.0)
    assert perfect["sign_agreement"] == 1.0 and perfect["pairs"] == 30 * 4
    blind = _distributions(np.repeat(truth_means[np.arange(30), own][:, None], 5, axis=1))  # the own theme's answer for all
    response = theme_response(blind, truth, own, bootstrap=50)
    assert abs(response["slope"]) < 1e-9
    half = _distributions(truth_means[np.arange(30), own][:, None] + 0.5 * (truth_means - truth_means[np.arange(30), own][:, None]))
    assert 0.3 < theme_response(half, truth, own, bootstrap=50)["slope"] < 0.7  # the distribution's clipping bends it a little
    low, high = perfect["slope_low"], perfect["slope_high"]
    assert low <= 1.0 + 1e-9 and high >= 1.0 - 1e-9


def test_theme_response_pairs_are_the_points_behind_the_slope_and_a_known_slope_is_recovered():
    """A prediction that moves by 0.6 of the truth's change minus 0.1 (means kept in the middle of the
    scale, where the distributions' means are not bent by the ends): the pairs, the slope and the
    intercept say so."""
    rng = np.random.default_rng(1)
    photos, themes = 25, 6
    own = rng.integers(0, themes, photos)
    truth_means = rng.uniform(4.5, 6.5, (photos, themes))
    truth = _distributions(truth_means, spread=1.0)
    exact = distribution_mean(truth)  # the means the distributions really have
    own_means = exact[np.arange(photos), own][:, None]
    target = own_means + 0.6 * (exact - own_means) - 0.1
    target[np.arange(photos), own] = own_means[:, 0]
    pred = _distributions(target, spread=1.0)
    pairs = theme_response_pairs(pred, truth, own)
    assert len(pairs) == photos * (themes - 1) and list(pairs.columns) == ["photo", "theme", "true_change", "pred_change"]
    assert not (pairs["theme"].to_numpy() == own[pairs["photo"].to_numpy()]).any()  # a photo's own theme is no pair
    response = theme_response(pred, truth, own, bootstrap=100)
    fitted = np.polyfit(pairs["true_change"], pairs["pred_change"], 1)
    assert response["slope"] == pytest.approx(fitted[0]) and response["intercept"] == pytest.approx(fitted[1])
    assert response["slope"] == pytest.approx(0.6, abs=0.03) and response["intercept"] == pytest.approx(-0.1, abs=0.03)
    assert response["slope_low"] <= response["slope"] <= response["slope_high"]
    assert response["sign_pairs"] == int((pairs["true_change"].abs() >= 0.25).sum())
    # under the other themes the prediction sits 0.4 x (its own theme's mean - the theme's) - 0.1 off the truth
    off = (distribution_mean(pred) - exact)[pairs["photo"].to_numpy(), pairs["theme"].to_numpy()]
    assert response["other_theme_bias"] == pytest.approx(off.mean()) and response["other_theme_bias"] == pytest.approx((-0.4 * pairs["true_change"] - 0.1).mean(), abs=0.03)
    with pytest.raises(ValueError, match="same photos and themes"):
        theme_response_pairs(pred[:-1], truth, own)


def test_attribute_shares_and_their_intervals_over_scenes():
    rng = np.random.default_rng(2)
    truth = rng.uniform(1.5, 2.5, 40)
    changes = pd.DataFrame({
        "attribute": ["grain"] * 20 + ["haze"] * 20, "theme": ["Film Grain"] * 20 + ["Landscape"] * 20, "scene": list(range(40)),
        "truth": truth, "full": 0.5 * truth + rng.normal(0, 0.05, 40), "resize": rng.normal(0, 0.05, 40),
    })  # fmt: skip
    summary = summarise_attribute_changes(changes, views=("full", "resize"), bootstrap=200)
    assert list(summary.index) == ["grain", "haze"] and summary.loc["haze", "theme"] == "Landscape"
    assert (summary["scenes"] == 20).all()
    assert summary["full_share"].to_numpy() == pytest.approx(0.5, abs=0.03)
    assert summary["resize_share"].abs().max() < 0.05
    for view in ("full", "resize"):
        assert (summary[f"{view}_share_low"] <= summary[f"{view}_share"]).all() and (summary[f"{view}_share"] <= summary[f"{view}_share_high"]).all()
    assert (summary["full_share_high"] - summary["full_share_low"] < 0.1).all()
    assert "full_share_low" not in summarise_attribute_changes(changes, views=("full",)).columns  # no bootstrap, no interval


def test_the_full_over_resize_ratio_has_a_paired_interval_over_the_same_scenes():
    rng = np.random.default_rng(3)
    truth = rng.uniform(1.5, 2.5, 20)
    changes = pd.DataFrame({
        "attribute": ["sharpness"] * 20, "theme": ["Macro Detail"] * 20, "scene": list(range(20)), "truth": truth,
        "full": 0.5 * truth + rng.normal(0, 0.3, 20), "resize": 0.25 * truth + rng.normal(0, 0.3, 20),
        "still": rng.normal(0, 0.3, 20),  # a view that does not move on average
    })  # fmt: skip
    row = summarise_attribute_changes(changes, views=("full", "resize", "still"), bootstrap=500).loc["sharpness"]
    ratio = full_over_other(row)
    assert 1.2 < ratio < 3.5
    assert row["full_over_resize_low"] < ratio < row["full_over_resize_high"]
    # the interval is wider than its shares' alone would suggest with 20 noisy scenes, and finite here
    assert np.isfinite(row["full_over_resize_high"]) and row["full_over_resize_high"] - row["full_over_resize_low"] > 0.3
    # a view that may not move at all leaves the ratio unbounded above
    assert row["full_over_still_high"] == float("inf") and row["full_over_still_low"] > 1


def test_view_retention_is_written_from_the_shares_whichever_way_they_go():
    table = pd.DataFrame({
        "theme": ["Film Grain", "Color on Color", "Landscape"], "truth": [1.08, -1.71, -1.1],
        "full_share": [0.72, 0.81, 0.9], "resize_share": [0.10, 1.0, 0.9], "resized_pad_share": [-0.05, 0.7, 0.9],
    }, index=pd.Index(["grain 0 -> 1", "blur 0 -> 1", "haze 0 -> 1"], name="attribute"))  # fmt: skip
    assert full_over_other(table.loc["grain 0 -> 1"]) == pytest.approx(7.2)
    assert full_over_other(table.loc["grain 0 -> 1"], "resized_pad") == float("inf")  # moved the wrong way: counts as 0
    assert np.isnan(full_over_other(table.loc["grain 0 -> 1"].replace(0.72, -0.1)))
    text = describe_view_retention(table)
    assert "7.2x resize's" in text and "resized_pad does not move the right way" in text
    assert "0.8x resize's" in text  # blur: the resize keeps more, and the sentence says so
    assert "haze" not in text  # not a fine-scale probe
    with_intervals = table.assign(full_share_low=0.6, full_share_high=0.8, resize_share_low=0.0, resize_share_high=0.2)
    assert "full 0.72 [0.60, 0.80]" in describe_view_retention(with_intervals, others=("resize",))
    with_ratio_interval = with_intervals.assign(full_over_resize_low=3.0, full_over_resize_high=float("inf"))
    assert "7.2x [3.0, inf] resize's" in describe_view_retention(with_ratio_interval, others=("resize",))


def test_agreement_measures_spread_bias_and_ranking_against_the_truth():
    means = np.linspace(3, 8, 40)
    truth = _distributions(means)
    shrunk = _distributions(5.5 + 0.5 * (means - 5.5) + 0.2)
    result = agreement(shrunk, truth, truth, bootstrap=50)
    assert result["srcc_mean"] == pytest.approx(1.0)
    assert 0.4 < result["spread_ratio"] < 0.6
    assert result["mean_bias"] == pytest.approx(0.2, abs=0.05)
    assert result["srcc_mean_low"] <= result["srcc_mean"] <= result["srcc_mean_high"] + 1e-9


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("fidelity") / "synth", 50, seed=0, workers=1, progress=False)


def test_the_report_and_its_targets_on_a_tiny_model(benchmark, tmp_path):
    predictor = Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path / "tiny.pt"))
    probes = ATTRIBUTE_PROBES[:1] + (AttributeProbe("grain 0 -> 1", "Film Grain", {"grain": 0.0}, {"grain": 1.0}),)
    report = fidelity_report(predictor, benchmark, split="train", scenes=2, bootstrap=20, limit=12, probes=probes)
    assert set(report.views.index) == {(view, theme) for view in ("full", "resize", "resized_pad", "crop") for theme in ("given", "none")}
    assert len(report.per_theme) == 16 and report.per_theme["photos"].sum() == 12
    assert list(report.attributes.index) == ["subject centre -> thirds", "grain 0 -> 1"]
    assert report.attributes.loc["subject centre -> thirds", "truth"] > 1.0  # Rule of Thirds rewards the move
    assert {"full_share_low", "crop_share_high"} <= set(report.attributes.columns)  # the report's bootstrap reaches the shares
    changes = attribute_scene_changes(predictor, [3, 5], dataset_seed(benchmark), probes[1:], views=("full", "crop"))
    assert changes.shape == (2, 6) and changes["scene"].tolist() == [3, 5] and (changes["truth"] > 0.3).all()  # Film Grain rewards grain
    ceiling = report.baselines.loc["ceiling (the truth against its own votes)"]
    assert 0.5 < ceiling["srcc_mean_votes"] <= 1.0
    checks = target_checks(report)
    assert "theme response slope" in checks.index and checks["met"].dtype == bool
    assert checks.loc["theme response slope", "95% interval"].startswith("[")  # the report's intervals reach the targets
    assert checks.loc["mean bias", "95% interval"] == ""
    assert not checks.loc["SRCC(mean) vs truth, full view, theme", "met"]  # an untrained model meets nothing of this
    json.dumps(report.to_dict(), default=float)


def test_the_command_writes_json_and_refuses_a_folder_without_truth(benchmark, tmp_path, capsys, write_tiny_folder):
    checkpoint = make_tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "fidelity.json"
    assert main(["--checkpoint", str(checkpoint), "--data-root", str(benchmark), "--split", "train", "--limit", "6",
                 "--scenes", "0", "--bootstrap", "10", "--json", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "theme response" in printed
    assert {"views", "baselines", "theme_response", "per_theme", "targets"} <= set(json.loads(out.read_text()))
    folder = write_tiny_folder(tmp_path / "tiny")
    labels = pd.read_csv(folder / "labels.csv")
    labels.to_csv(folder / "labels.csv", index=False)
    (folder / "dataset.json").write_text(json.dumps({"name": "tiny", "synthetic": False}))
    assert main(["--checkpoint", str(checkpoint), "--data-root", str(folder), "--scenes", "0"]) == 1
    assert "synthetic" in capsys.readouterr().err
