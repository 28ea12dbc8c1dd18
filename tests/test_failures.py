"""workbench.analysis.failure_summary: the worst-predicted photos measured against the paper's explanation, and the
finding written from the numbers (05_failure_cases, Fig. 7)."""
import numpy as np
import pytest

from workbench.analysis import discretised_gaussian
from workbench.analysis.failure_summary import describe_failure_cases, failure_case_summary


def _gaussians(means, std=1.2):
    return np.stack([discretised_gaussian(m, std, 10) for m in means])


def _bimodal(n):
    p = np.full((n, 10), 0.02)
    p[:, 0] += 0.4
    p[:, 9] += 0.4
    return p / p.sum(axis=1, keepdims=True)


def test_worst_photos_far_from_the_middle_predicted_toward_it_are_said_to_be_so():
    """Gaussian truths everywhere; the model predicts every photo near the middle, so the worst are the
    extreme means, and the text says they are not the paper's uncommon distributions."""
    rng = np.random.default_rng(0)
    true_means = rng.uniform(3.0, 8.0, 80)
    target = _gaussians(true_means)
    pred = _gaussians(5.5 + 0.2 * (true_means - 5.5))
    summary = failure_case_summary(pred, target, k=8)
    assert summary["k"] == 8 and summary["n"] == 80
    assert summary["toward_middle_worst"] == 8
    assert summary["abs_true_offset_worst"] > summary["abs_true_offset_all"]
    assert summary["sd_pred_means"] < summary["sd_true_means"]
    text = describe_failure_cases(summary)
    assert "not the paper's uncommon distributions" in text and "toward the middle" in text
    assert f"{summary['median_non_gaussianity_worst']:.4f}" in text and f"{summary['spearman_error_non_gaussianity']:.3f}" in text
    assert f"{summary['true_mean_worst']:.2f}" in text and f"{summary['pred_mean_worst']:.2f}" in text


def test_worst_photos_with_uncommon_truths_are_said_to_be_the_papers_case():
    """Eight bimodal truths among Gaussian ones, every mean near the middle and predicted as a Gaussian:
    the worst are the bimodal ones, and the text agrees with the paper."""
    target = np.concatenate([_gaussians(np.linspace(5.0, 6.0, 72)), _bimodal(8)])
    pred = _gaussians(np.concatenate([np.linspace(5.0, 6.0, 72), np.full(8, 5.5)]))
    summary = failure_case_summary(pred, target, k=8)
    assert summary["median_non_gaussianity_worst"] > 1.5 * summary["median_non_gaussianity_all"]
    assert summary["spearman_error_non_gaussianity"] > 0.3
    assert "the uncommon distributions, as the paper explains" in describe_failure_cases(summary)


def test_failure_case_summary_rejects_a_bad_k_and_metric():
    target = _gaussians([4.0, 5.0, 6.0])
    with pytest.raises(ValueError, match="k must be >= 1"):
        failure_case_summary(target, target, k=0)
    with pytest.raises(ValueError, match="unknown metric"):
        failure_case_summary(target, target, k=2, metric="nope")


def test_a_tiny_correlation_is_called_negligible_not_absent():
    """rho 0.09 over 601 photos is "significant" (p ~0.03) yet explains under 1% of the ranks: the text
    must not say there is no correlation, nor call it more than negligible."""
    from workbench.analysis.failure_summary import _strength

    assert _strength(0.091) == "a negligible" and _strength(-0.05) == "a negligible negative"
    assert _strength(0.2) == "a weak" and _strength(-0.4) == "a moderate negative" and _strength(0.7) == "a strong"
