"""Metrics against formulas written out independently, and the paper's tables as data."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from workbench.metrics import (
    KL_EPS, LOWER_IS_BETTER, METRIC_LABELS, METRIC_NAMES, TABLE_LAYOUTS, bootstrap_ci, distribution_mean,
    distribution_std, evaluate, per_image_distances, results_table, score_values,
)
from workbench.paper import DERIVED, PAPER_AVA, PAPER_PHOTONET, TABLES, published_table


def _pairs(n=50, bins=10, seed=0):
    """Random predictions (no zeros, like a softmax) and targets with empty bins (like AVA votes)."""
    rng = np.random.default_rng(seed)
    pred = rng.dirichlet(np.ones(bins), size=n)
    target = rng.dirichlet(np.ones(bins), size=n)
    target[rng.random((n, bins)) < 0.3] = 0.0
    target[:, 4] += 0.1  # no all-zero rows
    return pred, target / target.sum(1, keepdims=True)


def _by_hand(p, q):
    """The seven distances for one image, with explicit loops over bins (natural log)."""
    bins = len(p)
    euc = math.sqrt(sum((p[k] - q[k]) ** 2 for k in range(bins)))
    kl = sum(q[k] * math.log(q[k] / max(p[k], KL_EPS)) for k in range(bins) if q[k] > 0)
    js = 0.0
    chi2 = 0.0
    for k in range(bins):
        m = (p[k] + q[k]) / 2
        if p[k] > 0:
            js += 0.5 * p[k] * math.log(p[k] / m)
        if q[k] > 0:
            js += 0.5 * q[k] * math.log(q[k] / m)
        if p[k] + q[k] > 0:
            chi2 += 0.5 * (p[k] - q[k]) ** 2 / (p[k] + q[k])
    cdf_p = np.cumsum(p)
    cdf_q = np.cumsum(q)
    emd2 = math.sqrt(sum((cdf_p[k] - cdf_q[k]) ** 2 for k in range(bins)) / bins)
    emd1 = sum(abs(cdf_p[k] - cdf_q[k]) for k in range(bins)) / bins
    dot = sum(p[k] * q[k] for k in range(bins))
    cd = 1 - dot / (math.sqrt(sum(x * x for x in p)) * math.sqrt(sum(x * x for x in q)))
    return {"euc": euc, "kl": kl, "js": js, "chi2": chi2, "emd2": emd2, "emd1": emd1, "cd": cd}


# --- scores, mean, std ---------------------------------------------------------------------------

def test_score_values():
    assert score_values(10).tolist() == list(range(1, 11))
    assert score_values(7).tolist() == list(range(1, 8))
    with pytest.raises(ValueError, match="num_bins"):
        score_values(0)


def test_mean_and_std_of_known_distributions():
    all_on_five = np.eye(10)[4]
    uniform = np.full(10, 0.1)
    votes = np.array([0, 2, 2, 0, 0, 0, 0])  # counts, normalised first; K = 7
    assert distribution_mean(all_on_five) == pytest.approx(5.0)
    assert distribution_std(all_on_five) == 0.0
    assert distribution_mean(uniform) == pytest.approx(5.5)
    assert distribution_std(uniform) == pytest.approx(math.sqrt((10**2 - 1) / 12))
    assert distribution_mean(votes) == pytest.approx(2.5)
    assert distribution_std(votes) == pytest.approx(0.5)
    batch = np.stack([all_on_five, uniform])
    np.testing.assert_allclose(distribution_mean(batch), [5.0, 5.5])
    np.testing.assert_allclose(distribution_std(torch.tensor(batch)), [0.0, math.sqrt(8.25)])


# --- distances -----------------------------------------------------------------------------------

def test_distances_match_loops_over_bins():
    pred, target = _pairs()
    distances = per_image_distances(pred, target)
    expected = [_by_hand(pred[i], target[i]) for i in range(len(pred))]
    for name in ("euc", "kl", "js", "chi2", "emd2", "emd1", "cd"):
        np.testing.assert_allclose(distances[name], [row[name] for row in expected], rtol=1e-10, err_msg=name)
    metrics = evaluate(pred, target)
    for name in ("euc", "kl", "js", "chi2", "emd2", "emd1", "cd"):
        assert metrics[name] == pytest.approx(np.mean([row[name] for row in expected]), rel=1e-10)


def test_kl_and_js_match_scipy():
    pred, target = _pairs(seed=1)
    distances = per_image_distances(pred, target)
    # KL(target || pred): scipy.stats.entropy(pk, qk) = sum pk log(pk / qk), natural log.
    np.testing.assert_allclose(distances["kl"], [stats.entropy(q, p) for p, q in zip(pred, target)], rtol=1e-10)
    np.testing.assert_allclose(distances["kl"], rel_entr(target, pred).sum(1), rtol=1e-10)
    # scipy's jensenshannon is the square root of the divergence.
    np.testing.assert_allclose(distances["js"], [jensenshannon(p, q) ** 2 for p, q in zip(pred, target)], rtol=1e-9)


def test_hand_computed_two_bin_example():
    metrics = evaluate([[0.5, 0.5]], [[1.0, 0.0]])
    assert metrics["euc"] == pytest.approx(math.sqrt(0.5))
    assert metrics["kl"] == pytest.approx(math.log(2))
    assert metrics["js"] == pytest.approx(0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2))
    assert metrics["chi2"] == pytest.approx(0.5 * (0.25 / 1.5 + 0.25 / 0.5))
    assert metrics["emd2"] == pytest.approx(math.sqrt(0.25 / 2))  # CDFs [0.5, 1] vs [1, 1]
    assert metrics["emd1"] == pytest.approx(0.25)
    assert metrics["cd"] == pytest.approx(1 - 0.5 / math.sqrt(0.5))
    assert metrics["mse_mean"] == pytest.approx(0.25)  # means 1.5 vs 1


def test_kl_clips_empty_predicted_bins_and_ignores_empty_target_bins():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = evaluate([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert metrics["kl"] == pytest.approx((0.5 * math.log(0.5 / KL_EPS) + 0.5 * math.log(0.5)) / 2)
    assert all(math.isfinite(metrics[name]) for name in ("euc", "js", "chi2", "emd2", "emd1", "cd", "mse_mean"))


def test_equal_inputs():
    pred, _ = _pairs(seed=2)
    metrics = evaluate(pred, pred.copy())
    for name in ("euc", "kl", "js", "chi2", "emd2", "emd1", "mse_mean"):
        assert metrics[name] == 0.0, name
    assert metrics["cd"] == pytest.approx(0.0, abs=1e-12)
    for name in ("srcc_mean", "plcc_mean", "srcc_std", "plcc_std"):
        assert metrics[name] == pytest.approx(1.0), name


def test_emd_orders_bins():
    near = evaluate([[0, 0, 1]], [[0, 1, 0]])
    far = evaluate([[0, 0, 1]], [[1, 0, 0]])
    assert near["emd1"] < far["emd1"] and near["emd2"] < far["emd2"]
    assert near["euc"] == far["euc"]  # the bin-wise distances cannot tell them apart


def test_emd2_root_per_image_before_mean():
    metrics = evaluate([[0, 0, 1], [0.2, 0.3, 0.5]], [[0, 1, 0], [0.2, 0.3, 0.5]])
    assert metrics["emd2"] == pytest.approx(math.sqrt(1 / 3) / 2)


def test_rows_are_normalised():
    pred, target = _pairs(seed=3)
    assert evaluate(pred * 3.0, target * 250) == pytest.approx(evaluate(pred, target), nan_ok=True)


# --- correlations and evaluate -------------------------------------------------------------------

def test_evaluate_keys_order_and_types():
    metrics = evaluate(*_pairs())
    assert tuple(metrics) == METRIC_NAMES
    assert all(type(value) is float for value in metrics.values())
    assert set(METRIC_LABELS) == set(METRIC_NAMES)
    assert LOWER_IS_BETTER == set(METRIC_NAMES) - {"srcc_mean", "plcc_mean", "srcc_std", "plcc_std"}
    assert METRIC_LABELS["emd1"] == "EMD (r=1)"


def test_correlations_and_mse_match_scipy():
    pred, target = _pairs(n=200, seed=4)
    metrics = evaluate(pred, target)
    scores = np.arange(1, 11)
    mean_p, mean_q = pred @ scores, target @ scores
    std_p = np.sqrt(pred @ scores**2 - mean_p**2)
    std_q = np.sqrt(target @ scores**2 - mean_q**2)
    assert metrics["srcc_mean"] == pytest.approx(stats.spearmanr(mean_p, mean_q)[0])
    assert metrics["plcc_mean"] == pytest.approx(stats.pearsonr(mean_p, mean_q)[0])
    assert metrics["srcc_std"] == pytest.approx(stats.spearmanr(std_p, std_q)[0])
    assert metrics["plcc_std"] == pytest.approx(stats.pearsonr(std_p, std_q)[0])
    assert metrics["mse_mean"] == pytest.approx(np.mean((mean_p - mean_q) ** 2))


def test_constant_inputs_give_nan_correlations_without_warnings():
    pred, target = _pairs(seed=5)
    constant = np.tile(np.full(10, 0.1), (len(target), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = evaluate(constant, target)
        single = evaluate(pred[:1], target[:1])
    for name in ("srcc_mean", "plcc_mean", "srcc_std", "plcc_std"):
        assert math.isnan(metrics[name]) and math.isnan(single[name]), name
    assert math.isfinite(metrics["emd1"]) and math.isfinite(single["mse_mean"])


def test_accepts_torch_tensors():
    pred, target = _pairs(seed=6)
    from_torch = evaluate(torch.tensor(pred, dtype=torch.float32, requires_grad=True), torch.tensor(target))
    assert from_torch == pytest.approx(evaluate(pred.astype(np.float32), target), rel=1e-6)


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        (np.full((2, 10), 0.1), np.full((2, 7), 1 / 7), "shapes differ"),
        (np.full(10, 0.1), np.full(10, 0.1), r"shape \[N, K\]"),
        (np.full((2, 10), 0.1), np.zeros((2, 10)), "sums to 0"),
        (np.full((2, 10), -0.1), np.full((2, 10), 0.1), "negative"),
        (np.full((2, 10), np.nan), np.full((2, 10), 0.1), "NaN"),
        (np.zeros((0, 10)), np.zeros((0, 10)), "empty"),
    ],
)
def test_rejects_bad_inputs(pred, target, match):
    with pytest.raises(ValueError, match=match):
        evaluate(pred, target)


def test_conventions_reproduce_table_one_ratios():
    # AVA-like: targets are ~200 votes from discretised Gaussians; predictions are smooth Gaussians
    # whose mean and std are a little off. The paper's Table I: KL/JS = 4.0, chi2/JS = 1.86,
    # EMD(r=2)/EMD(r=1) = 1.44. JS in log2 (2.8) or chi2 without the 1/2 (3.7) would fail.
    rng = np.random.default_rng(0)
    n, scores = 3000, np.arange(1, 11)

    def gaussian(mean, std):
        weights = np.exp(-((scores - mean[:, None]) ** 2) / (2 * std[:, None] ** 2))
        return weights / weights.sum(1, keepdims=True)

    mean, std = rng.normal(5.4, 0.7, n), np.clip(rng.normal(1.45, 0.25, n), 0.8, None)
    target = np.stack([rng.multinomial(v, p) for v, p in zip(rng.integers(80, 550, n), gaussian(mean, std))])
    pred = gaussian(mean + rng.normal(0, 0.48, n), np.clip(std + rng.normal(0, 0.2, n), 0.7, None))
    metrics = evaluate(pred, target)
    assert 0.03 < metrics["emd1"] < 0.05  # the paper's regime (0.041)
    assert 3.6 < metrics["kl"] / metrics["js"] < 5.0
    assert 1.7 < metrics["chi2"] / metrics["js"] < 2.05
    assert 1.3 < metrics["emd2"] / metrics["emd1"] < 1.6


# --- bootstrap -----------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["emd1", "srcc_mean", "mse_mean", "plcc_std"])
def test_bootstrap_interval_brackets_estimate_and_is_seeded(metric):
    pred, target = _pairs(n=100, seed=7)
    low, high = bootstrap_ci(pred, target, metric, n=200, seed=1)
    assert low < evaluate(pred, target)[metric] < high
    assert bootstrap_ci(pred, target, metric, n=200, seed=1) == (low, high)
    assert bootstrap_ci(pred, target, metric, n=200, seed=2) != (low, high)


def test_bootstrap_rejects_unknown_metric_and_handles_constant():
    pred, target = _pairs(seed=8)
    with pytest.raises(ValueError, match="unknown metric"):
        bootstrap_ci(pred, target, "emd")
    constant = np.tile(np.full(10, 0.1), (len(target), 1))
    assert all(math.isnan(x) for x in bootstrap_ci(constant, target, "srcc_mean", n=20))


# --- tables --------------------------------------------------------------------------------------

def test_results_table_layouts():
    rows = {"a": evaluate(*_pairs(seed=9)), "b": {"emd1": 0.05, "kl": None}}
    table_one = results_table(rows, "I")
    assert list(table_one.columns) == ["Euc", "KL", "JS", "χ2", "EMD (r=2)", "EMD (r=1)", "CD"]
    assert list(table_one.index) == ["a", "b"]
    assert table_one.loc["a", "EMD (r=1)"] == rows["a"]["emd1"]
    assert table_one.loc["b", "EMD (r=1)"] == 0.05
    assert np.isnan(table_one.loc["b", "KL"]) and np.isnan(table_one.loc["b", "Euc"])
    assert list(results_table(rows, "II").columns) == [
        "SRCC (mean)", "PLCC (mean)", "SRCC (std.dev)", "PLCC (std.dev)", "MSE (mean)",
    ]
    assert list(results_table(rows, "III").columns) == ["SRCC (mean)", "SRCC (std.dev)", "EMD (r=1)", "KL"]
    assert list(results_table(rows, "VI", labels=False).columns) == ["srcc_mean", "plcc_mean", "mse_mean", "emd1"]


def test_results_table_sources_and_errors():
    rows = {"a": {"emd1": 0.04}, "b": {"emd1": 0.05}}
    table = results_table(rows, "III", sources={"a": "this run"})
    assert table["source"].tolist() == ["this run", ""]
    with pytest.raises(ValueError, match="unknown table"):
        results_table(rows, "VII")
    with pytest.raises(ValueError, match="not in rows"):
        results_table(rows, "I", sources={"c": "paper"})


def test_published_tables_spot_values():
    assert published_table("II").loc["Ours", "SRCC (mean)"] == 0.7611
    assert published_table("III").loc["Resize", "EMD (r=1)"] == 0.046
    assert published_table("I").loc["Jin et al. [17]", "EMD (r=2)"] == 0.082
    assert published_table("I").loc["Ours (Align)", "KL"] == 0.089
    assert published_table("IV", labels=False).loc["Image 400, Feature 73", "srcc_std"] == 0.4667
    assert published_table("V").loc["Flip", "SRCC (std.dev)"] == 0.6707
    assert published_table("VI").loc["Ours", "EMD (r=1)"] == 0.065
    assert np.isnan(published_table("I").loc["Talebi et al. [18]", "Euc"])  # "-" in the paper
    assert len(published_table("II")) == 11 and len(published_table("III")) == 5


def test_published_tables_share_results_table_layout():
    for name in TABLE_LAYOUTS:
        published = published_table(name, source="paper")
        ours = results_table({"run": PAPER_AVA}, name, sources={"run": "this run"})
        assert list(published.columns) == list(ours.columns), name
        stacked = pd.concat([published, ours])
        assert stacked["source"].iloc[-1] == "this run"
    with pytest.raises(ValueError, match="unknown table"):
        published_table("0")


def test_paper_constants():
    assert PAPER_AVA["srcc_mean"] == 0.7611 and PAPER_AVA["srcc_std"] == 0.6918 and PAPER_AVA["emd1"] == 0.041
    assert set(PAPER_AVA) == set(METRIC_NAMES)
    assert PAPER_PHOTONET == {"srcc_mean": 0.5826, "plcc_mean": 0.5858, "mse_mean": 0.2195, "emd1": 0.065}
    # The ablations' full model is the headline model.
    assert TABLES["III"]["Pad+ROI+Theme"] == {name: PAPER_AVA[name] for name in TABLE_LAYOUTS["III"]}
    for table, model, metric in DERIVED:
        assert TABLES[table][model][metric] is not None


def test_one_distribution_for_every_photo_gives_nan_even_when_rounding_differs():
    """A global-average baseline: the same row for every photo. Its means/stds can differ in the last
    bits (BLAS), which a naive check would rank into a spurious correlation."""
    _, target = _pairs(seed=6)
    rng = np.random.default_rng(0)
    row = rng.dirichlet(np.ones(10))
    same = np.tile(row, (len(target), 1)) * (1 + rng.uniform(-1e-15, 1e-15, (len(target), 1)))
    metrics = evaluate(same, target)
    assert all(math.isnan(metrics[name]) for name in ("srcc_mean", "plcc_mean", "srcc_std", "plcc_std"))
    varied = np.tile(row, (len(target), 1))
    varied[0] = np.roll(row, 3)  # one photo differs for real: correlations are defined again
    assert math.isfinite(evaluate(varied, target)["srcc_mean"])
