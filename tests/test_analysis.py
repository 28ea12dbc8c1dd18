"""Theme statistics and the theme-only baseline on synthetic and real AVA votes; failure, aspect-ratio
and seed summaries against direct computations."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench.analysis import (
    aggregate_seeds,
    aspect_ratio_summary,
    aspect_ratios,
    choose_shrinkage,
    count_modes,
    discretised_gaussian,
    distribution_shape,
    format_mean_sd,
    global_baseline,
    shrinkage_curve,
    shrinkage_weights,
    theme_baseline_report,
    theme_effect,
    theme_prior_baseline,
    theme_statistics,
    theme_variance_explained,
    vote_distributions,
    worst_predictions,
)
from workbench.data.ava import real_ava_theme_split
from workbench.metrics import METRIC_NAMES, evaluate

SHARED_AVA = Path(__file__).resolve().parents[1].parent / "shared" / "ava"


def _label_table(theme_means, photos_per_theme, seed=0, num_bins=10, votes=(80, 300), split="train", theme_ids=None):
    """A label table whose photos' votes are multinomial draws from discretised Gaussians centred on
    their theme's mean score (so themes truly differ when ``theme_means`` do)."""
    rng = np.random.default_rng(seed)
    theme_ids = list(range(len(theme_means))) if theme_ids is None else list(theme_ids)
    rows = []
    for theme, theme_mean in zip(theme_ids, theme_means):
        for _ in range(photos_per_theme):
            mean = theme_mean + rng.normal(0, 0.3)
            std = float(np.clip(rng.normal(1.4, 0.2), 0.6, 3.0))
            p = discretised_gaussian(mean, std, num_bins)
            counts = rng.multinomial(int(rng.integers(*votes)), p)
            rows.append({"theme_id": theme, **{f"v{k + 1}": c for k, c in enumerate(counts)}})
    table = pd.DataFrame(rows)
    table.insert(0, "image_id", [f"{split}{i}" for i in range(len(table))])
    table.insert(1, "split", split)
    names = [f"theme {t}" for t in range(max(theme_ids) + 1)]
    table.insert(3, "theme", [names[t] if t >= 0 else None for t in table["theme_id"]])
    table.attrs = {"num_bins": num_bins, "theme_names": names}
    return table


THEME_MEANS = [3.5, 4.5, 5.0, 5.5, 6.0, 7.0]


def test_vote_distributions_normalise_and_reject_empty_rows():
    table = _label_table([5.0], 4)
    p = vote_distributions(table)
    votes = table[[f"v{k}" for k in range(1, 11)]].to_numpy(float)
    np.testing.assert_allclose(p, votes / votes.sum(1, keepdims=True))
    table.loc[2, [f"v{k}" for k in range(1, 11)]] = 0
    with pytest.raises(ValueError, match="row 2"):
        vote_distributions(table)


def test_theme_prior_beats_global_where_themes_differ():
    train = _label_table(THEME_MEANS, 40, seed=1)
    test = _label_table(THEME_MEANS, 20, seed=2, split="test")
    target = vote_distributions(test)
    theme = evaluate(theme_prior_baseline(train, test, shrinkage=5), target)
    plain = evaluate(global_baseline(train, test), target)
    assert theme["emd1"] < 0.7 * plain["emd1"]
    assert theme["mse_mean"] < 0.3 * plain["mse_mean"]
    assert theme["srcc_mean"] > 0.8
    assert math.isnan(plain["srcc_mean"])  # one constant prediction: correlation undefined


def test_infinite_shrinkage_is_the_global_baseline_and_zero_the_theme_average():
    train = _label_table(THEME_MEANS, 10, seed=3)
    test = _label_table(THEME_MEANS, 3, seed=4, split="test")
    np.testing.assert_array_equal(theme_prior_baseline(train, test, math.inf), global_baseline(train, test))
    np.testing.assert_allclose(theme_prior_baseline(train, test, 1e12), global_baseline(train, test), atol=1e-10)
    p_train = vote_distributions(train)
    unshrunk = theme_prior_baseline(train, test, 0.0)
    for row, theme in enumerate(test["theme_id"]):
        np.testing.assert_allclose(unshrunk[row], p_train[train["theme_id"].to_numpy() == theme].mean(0))


def test_unseen_theme_and_no_theme_get_the_global_average():
    train = _label_table([4.0, 7.0], 10, seed=5)
    test = _label_table([4.0, 6.0, 5.0], 2, seed=6, split="test", theme_ids=[0, 5, -1])
    pred = theme_prior_baseline(train, test, shrinkage=0.0)
    global_average = vote_distributions(train).mean(0)
    unseen = test["theme_id"].isin([5, -1]).to_numpy()
    np.testing.assert_allclose(pred[unseen], np.tile(global_average, (unseen.sum(), 1)))
    assert not np.allclose(pred[~unseen], global_average)


def test_shrinkage_weight_formula():
    np.testing.assert_allclose(shrinkage_weights([0, 1, 4, 12], 4.0), [0.0, 0.2, 0.5, 0.75])
    np.testing.assert_allclose(shrinkage_weights([0, 3], 0.0), [0.0, 1.0])
    np.testing.assert_allclose(shrinkage_weights([5], math.inf), [0.0])
    with pytest.raises(ValueError, match="shrinkage"):
        shrinkage_weights([1], -1.0)
    train = _label_table([3.0, 8.0], 3, seed=7)  # theme 0: n = 3
    test = _label_table([3.0], 1, seed=8, split="test")
    p = vote_distributions(train)
    theme_average, global_average = p[:3].mean(0), p.mean(0)
    expected = 3 / (3 + 2) * theme_average + 2 / (3 + 2) * global_average
    np.testing.assert_allclose(theme_prior_baseline(train, test, shrinkage=2.0)[0], expected)


def test_choose_shrinkage_trusts_themes_only_when_they_matter():
    grid = (0.0, 5.0, math.inf)
    differ = choose_shrinkage(_label_table(THEME_MEANS, 30, seed=9), _label_table(THEME_MEANS, 30, seed=10, split="val"), grid)
    assert differ < math.inf
    same = [5.4] * 40  # 40 themes that do not matter, 6 photos each: theme averages are only noise
    curve = shrinkage_curve(_label_table(same, 6, seed=11), _label_table(same, 6, seed=12, split="val"), grid)
    assert curve["emd1"].idxmin() == math.inf
    assert curve.loc[0.0, "emd1"] > curve.loc[math.inf, "emd1"]


def test_theme_baseline_report_has_every_metric_for_both_baselines():
    report = theme_baseline_report(
        _label_table(THEME_MEANS, 20, seed=13), _label_table(THEME_MEANS, 10, seed=14, split="val"),
        _label_table(THEME_MEANS, 10, seed=15, split="test"), grid=(0.0, 10.0, math.inf),
    )
    assert list(report.columns) == list(METRIC_NAMES)
    assert list(report.index) == ["global average", "theme prior"]
    assert report.loc["theme prior", "emd1"] < report.loc["global average", "emd1"]
    assert report.attrs["shrinkage"] in (0.0, 10.0)
    assert report.attrs["counts"] == {"train": 120, "val": 60, "test": 60, "test_without_theme": 0, "test_theme_unseen_in_train": 0}


def test_theme_statistics_counts_means_and_distributions():
    table = pd.concat([_label_table([4.0], 7, seed=17), _label_table([6.0], 3, seed=18, theme_ids=[1]),
                       _label_table([5.0], 1, seed=19, theme_ids=[2]), _label_table([5.0], 4, seed=20, theme_ids=[-1])],
                      ignore_index=True)
    table.attrs = {"num_bins": 10, "theme_names": ["theme 0", "theme 1", "theme 2"]}
    result = theme_statistics(table, min_photos=2)
    assert result["count"].to_dict() == {0: 7, 1: 3}  # theme 2 has 1 photo; -1 is no theme
    assert list(result.index) == [0, 1]  # largest first
    assert result.attrs["counts"] == {"photos": 15, "themed_photos": 11, "photos_without_theme": 4,
                                      "photos_in_small_themes": 1, "small_themes": 1, "themes": 2}
    p = vote_distributions(table)
    scores = np.arange(1, 11)
    rows = table["theme_id"].to_numpy() == 1
    means = p[rows] @ scores
    stds = np.sqrt(p[rows] @ scores**2 - means**2)
    assert result.loc[1, "theme"] == "theme 1"
    assert result.loc[1, "mean_of_means"] == pytest.approx(means.mean())
    assert result.loc[1, "sd_of_means"] == pytest.approx(means.std(ddof=1))
    assert result.loc[1, "mean_of_stds"] == pytest.approx(stds.mean())
    np.testing.assert_allclose(result.loc[1, [f"p{k}" for k in scores]].to_numpy(float), p[rows].mean(0))
    np.testing.assert_allclose(result.attrs["global_distribution"], p.mean(0))
    assert len(theme_statistics(table, min_photos=1)) == 3


def test_between_theme_variance_ratio_matches_a_direct_computation():
    table = _label_table(THEME_MEANS, 15, seed=21)
    result = theme_variance_explained(table, min_photos=2)
    p = vote_distributions(table)
    means = p @ np.arange(1, 11)
    frame = pd.DataFrame({"theme": table["theme_id"], "mean": means})
    theme_mean = frame.groupby("theme")["mean"].transform("mean")
    ratio = np.sum((theme_mean - means.mean()) ** 2) / np.sum((means - means.mean()) ** 2)
    f_statistic, p_value = stats.f_oneway(*[g.to_numpy() for _, g in frame.groupby("theme")["mean"]])
    row = result.loc["mean"]
    assert row["eta_squared"] == pytest.approx(ratio)
    assert row["f_statistic"] == pytest.approx(f_statistic)
    assert row["p_value"] == pytest.approx(p_value)
    assert row["chance_eta_squared"] == pytest.approx(5 / 89)
    assert row["eta_squared"] > 0.7 and 0 < row["omega_squared"] < row["eta_squared"]
    assert (row["photos"], row["themes"]) == (90, 6)
    # Themes that do not matter: eta^2 near what 6 themes explain by chance, omega^2 near 0.
    null = theme_variance_explained(_label_table([5.4] * 6, 200, seed=22)).loc["mean"]
    assert null["eta_squared"] < 4 * null["chance_eta_squared"]
    assert abs(null["omega_squared"]) < 0.02


def test_distribution_shape_on_known_distributions():
    symmetric = discretised_gaussian(5.5, 1.5, 10)
    bimodal = np.array([0.02, 0.25, 0.15, 0.05, 0.03, 0.03, 0.05, 0.15, 0.25, 0.02])
    uniform = np.full(10, 0.1)
    right_skewed = np.array([0.05, 0.4, 0.25, 0.12, 0.08, 0.05, 0.03, 0.01, 0.005, 0.005])
    shape = distribution_shape(np.stack([symmetric, bimodal, uniform, right_skewed]))
    assert shape.loc[0, "mean"] == pytest.approx(5.5)
    assert abs(shape.loc[0, "skewness"]) < 1e-9
    assert list(shape["modes"]) == [1, 2, 1, 1]  # the flat one is one plateau
    assert shape.loc[2, "excess_kurtosis"] == pytest.approx(-6 * 101 / (5 * 99))  # discrete uniform on 10 points
    assert shape.loc[3, "skewness"] > 0.5
    assert shape.loc[0, "non_gaussianity"] < 1e-3  # folded tails only
    assert shape.loc[1, "non_gaussianity"] > 20 * shape.loc[0, "non_gaussianity"]
    assert count_modes(np.array([0.5, 0.0, 0.0, 0.5])) == 2  # peaks at both ends count
    assert count_modes(np.array([0.3, 0.29, 0.41]), min_prominence=0.02) == 1  # a 0.01 dip is noise


def test_worst_predictions_orders_by_error():
    target = np.tile(discretised_gaussian(5.0, 1.4, 10), (5, 1))
    pred = np.stack([discretised_gaussian(m, 1.4, 10) for m in (5.0, 7.0, 5.5, 3.0, 6.0)])
    worst = worst_predictions(pred, target, k=3)
    assert list(worst.index) == [1, 3, 4]
    assert worst["emd1"].is_monotonic_decreasing
    assert list(worst_predictions(pred, target, k=2, metric="abs_mean").index) == [1, 3]
    with pytest.raises(ValueError, match="metric"):
        worst_predictions(pred, target, metric="rmse")


def test_theme_effect_errors_and_summary():
    target = np.stack([discretised_gaussian(m, 1.4, 10) for m in (4.0, 6.0)])
    with_theme = np.stack([discretised_gaussian(m, 1.4, 10) for m in (4.1, 6.5)])
    without = np.stack([discretised_gaussian(m, 1.4, 10) for m in (5.0, 6.2)])
    effect = theme_effect(with_theme, without, target)
    assert effect["improvement"].iloc[0] > 0.5 and effect["improvement"].iloc[1] < 0
    assert effect.attrs["summary"]["share_improved"] == 0.5
    assert effect["emd1_with"].iloc[0] < effect["emd1_without"].iloc[0]


def test_aspect_ratios_from_h_w_arrays_and_width_height_frames():
    np.testing.assert_allclose(aspect_ratios(np.array([[480, 640], [800, 400]])), [4 / 3, 0.5])
    np.testing.assert_allclose(aspect_ratios(pd.DataFrame({"width": [640], "height": [480]})), [4 / 3])
    with pytest.raises(ValueError, match="not positive"):
        aspect_ratios(np.array([[0, 0]]))
    summary = aspect_ratio_summary({"a": [0.5, 1.0, 1.5, 1.5], "b": [1.5, 1.5]})
    assert summary.loc["a", ["portrait", "square", "landscape"]].tolist() == [0.25, 0.25, 0.5]
    assert summary.loc["a", "ks_vs_first"] == 0 and summary.loc["b", "ks_vs_first"] == pytest.approx(0.5)


def test_aggregate_seeds_mean_sd_and_format():
    rows = pd.DataFrame({
        "model": ["Pad+ROI", "Pad+ROI", "Pad+ROI", "Resize"],
        "seed": [0, 1, 2, 0],
        "srcc_mean": [0.70, 0.72, 0.74, 0.69],
        "emd1": [0.043, 0.044, 0.045, 0.046],
    })
    aggregated = aggregate_seeds(rows)
    assert list(aggregated.index) == ["Pad+ROI", "Resize"]
    assert aggregated.loc["Pad+ROI", ("srcc_mean", "mean")] == pytest.approx(0.72)
    assert aggregated.loc["Pad+ROI", ("srcc_mean", "sd")] == pytest.approx(np.std([0.70, 0.72, 0.74], ddof=1))
    assert aggregated.loc["Pad+ROI", ("seeds", "n")] == 3
    assert math.isnan(aggregated.loc["Resize", ("emd1", "sd")])
    # The 95% interval of the mean over 3 seeds: t(0.975, 2) = 4.303 standard errors.
    assert aggregated.loc["Pad+ROI", ("srcc_mean", "ci95")] == pytest.approx(4.3027 * 0.02 / math.sqrt(3), rel=1e-4)
    assert math.isnan(aggregated.loc["Resize", ("srcc_mean", "ci95")])
    text = format_mean_sd(aggregated)
    assert text.loc["Pad+ROI", "srcc_mean"] == "0.7200 ± 0.0200"
    assert text.loc["Pad+ROI", "emd1"] == "0.044 ± 0.001"
    assert text.loc["Resize", "emd1"] == "0.046"
    with pytest.raises(ValueError, match="more than once"):
        aggregate_seeds(pd.concat([rows, rows.head(1)]))


# --------------------------------------------------------------------------------------------------
# Real AVA votes (read in place from ../shared/ava; skipped where that folder is absent)


@pytest.fixture(scope="module")
def real_ava():
    if not (SHARED_AVA / "tanet" / "test.csv").is_file():
        pytest.skip(f"real AVA label files not found under {SHARED_AVA}")
    return real_ava_theme_split(SHARED_AVA, seed=0)


def test_real_ava_theme_split_counts(real_ava):
    files = [pd.read_csv(SHARED_AVA / "tanet" / name, dtype={"image_id": str}) for name in ("test.csv", "val.csv")]
    ids = set(pd.concat(files)["image_id"])
    generic_test = set((SHARED_AVA / "aesthetics_image_lists" / "generic_test.jpgl").read_text().split())
    counts = real_ava.attrs["counts"]
    assert counts["rows_tanet/test.csv"] == len(files[0]) == 12776
    assert counts["rows_tanet/val.csv"] == len(files[1]) == 12775
    assert counts["photos"] == len(real_ava) == len(ids) == 25551
    assert counts["test"] == len(ids & generic_test) == (real_ava["split"] == "test").sum()
    assert set(real_ava.loc[real_ava["split"] == "test", "image_id"]) == ids & generic_test
    rest = len(ids) - counts["test"]
    assert counts["train"] + counts["val"] == rest and counts["val"] == round(0.1 * rest)
    assert counts["photos_without_theme"] == 0 and counts["themes"] <= 1398
    other = real_ava_theme_split(SHARED_AVA, seed=1)
    assert (other["split"] == "test").sum() == counts["test"]
    assert set(other.loc[other["split"] == "val", "image_id"]) != set(real_ava.loc[real_ava["split"] == "val", "image_id"])


def test_real_ava_theme_baseline_report(real_ava):
    train, val, test = (real_ava[real_ava["split"] == s] for s in ("train", "val", "test"))
    report = theme_baseline_report(train, val, test)
    assert list(report.columns) == list(METRIC_NAMES)
    assert report.loc["theme prior", list(METRIC_NAMES)].notna().all()
    assert report.loc["global average", ["euc", "kl", "emd1", "mse_mean"]].notna().all()
    print("\nreal AVA (TANet subset), test = generic_test ids:", report.attrs["counts"],
          "shrinkage", report.attrs["shrinkage"])
    print(report.T.to_string(float_format=lambda v: f"{v:.4f}"))
    variance = theme_variance_explained(real_ava)
    print(variance.to_string(float_format=lambda v: f"{v:.4g}"))
    # Robust on 25k photos: themes explain more than chance for photo means and stds alike.
    assert (variance["p_value"] < 1e-10).all()
    assert (variance["omega_squared"] > 0.02).all()


def test_real_image_sizes_aspect_ratios():
    images = SHARED_AVA / "IMAGES.csv"
    if not images.is_file():
        pytest.skip(f"{images} not found")
    summary = aspect_ratio_summary(aspect_ratios(pd.read_csv(images)))
    assert summary.loc["all", "count"] == 62
    assert 0.5 < summary.loc["all", "min"] < 1 < summary.loc["all", "max"] < 3
