"""emd_loss: eq. (7) on the CDFs, per-sample root before the batch mean, finite gradients; the std term."""
import math

import numpy as np
import pytest
import torch

from workbench.losses import emd_loss, std_loss, training_loss
from workbench.metrics import evaluate


def _emd_by_hand(p, q, r):
    """Eq. (7) with explicit loops: running sums for the CDFs, then the mean of |difference|^r."""
    cdf_p = cdf_q = 0.0
    total = 0.0
    for p_k, q_k in zip(p, q):
        cdf_p += p_k
        cdf_q += q_k
        total += abs(cdf_p - cdf_q) ** r
    return (total / len(p)) ** (1 / r)


def _random_distributions(batch, bins, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(batch, bins, generator=generator, dtype=torch.float64), dim=1)


def test_zero_on_equal_inputs():
    p = _random_distributions(4, 10, 0)
    assert emd_loss(p, p.clone()).item() == 0.0
    assert torch.equal(emd_loss(p, p.clone(), r=1, reduction="none"), torch.zeros(4, dtype=p.dtype))


@pytest.mark.parametrize("r", [1, 2])
def test_ordered_bins_nearer_bin_is_closer(r):
    # The paper's example: [0, 0, 1] is closer to [0, 1, 0] than to [1, 0, 0].
    top = torch.tensor([[0.0, 0.0, 1.0]])
    near = emd_loss(top, torch.tensor([[0.0, 1.0, 0.0]]), r=r).item()
    far = emd_loss(top, torch.tensor([[1.0, 0.0, 0.0]]), r=r).item()
    assert near == pytest.approx((1 / 3) ** (1 / r))  # CDF difference [0, 1, 0]
    assert far == pytest.approx((2 / 3) ** (1 / r))  # CDF difference [1, 1, 0]
    assert near < far


def test_symmetric():
    p, q = _random_distributions(5, 10, 1), _random_distributions(5, 10, 2)
    torch.testing.assert_close(emd_loss(p, q, reduction="none"), emd_loss(q, p, reduction="none"))


@pytest.mark.parametrize("r", [1, 2, 3])
def test_matches_loops_over_bins(r):
    p, q = _random_distributions(3, 7, 3), _random_distributions(3, 7, 4)
    expected = [_emd_by_hand(p[i].tolist(), q[i].tolist(), r) for i in range(3)]
    torch.testing.assert_close(emd_loss(p, q, r=r, reduction="none"), torch.tensor(expected, dtype=p.dtype))


def test_root_per_sample_before_batch_mean():
    pred = torch.tensor([[0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])
    target = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    per_sample = emd_loss(pred, target, reduction="none")
    torch.testing.assert_close(per_sample, torch.tensor([math.sqrt(1 / 3), 0.0]))
    batch = emd_loss(pred, target).item()
    assert batch == pytest.approx(math.sqrt(1 / 3) / 2)
    assert batch != pytest.approx(math.sqrt(1 / 6))  # the root of the batch mean: the bug to avoid
    assert emd_loss(pred, target, reduction="sum").item() == pytest.approx(math.sqrt(1 / 3))


def test_r1_is_mean_absolute_cdf_difference():
    p, q = _random_distributions(6, 10, 5), _random_distributions(6, 10, 6)
    expected = (torch.cumsum(p, 1) - torch.cumsum(q, 1)).abs().mean(1)
    torch.testing.assert_close(emd_loss(p, q, r=1, reduction="none"), expected)


def test_agrees_with_metrics_emd():
    p, q = _random_distributions(16, 10, 7), _random_distributions(16, 10, 8)
    metrics = evaluate(p, q)
    assert emd_loss(p, q, r=2).item() == pytest.approx(metrics["emd2"], rel=1e-12)
    assert emd_loss(p, q, r=1).item() == pytest.approx(metrics["emd1"], rel=1e-12)


@pytest.mark.parametrize("r", [1, 2])
def test_gradient_finite_at_equality(r):
    logits = torch.randn(3, 10, generator=torch.Generator().manual_seed(9), requires_grad=True)
    pred = torch.softmax(logits, dim=1)
    target = pred.detach().clone()
    target[2] = torch.softmax(torch.zeros(10), dim=0)  # one pair differs, two are equal
    emd_loss(pred, target, r=r).backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.equal(logits.grad[:2], torch.zeros(2, 10))
    assert logits.grad[2].abs().sum() > 0


def test_gradient_matches_finite_differences():
    logits = torch.randn(2, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(10), requires_grad=True)
    target = _random_distributions(2, 10, 11)
    assert torch.autograd.gradcheck(lambda x: emd_loss(torch.softmax(x, 1), target), (logits,))


def test_nan_prediction_gives_nan_loss_not_zero():
    """An overflowed (NaN) prediction must not look like a perfect one: the trainer has to see it."""
    pred = _random_distributions(3, 10, 14)
    pred[1] = float("nan")
    target = _random_distributions(3, 10, 15)
    per_sample = emd_loss(pred, target, reduction="none")
    assert torch.isnan(per_sample[1]) and torch.isfinite(per_sample[[0, 2]]).all()
    assert torch.isnan(emd_loss(pred, target))


def test_target_dtype_follows_pred():
    pred = _random_distributions(2, 10, 12).float()
    target = _random_distributions(2, 10, 13)  # float64
    assert emd_loss(pred, target).dtype == torch.float32


@pytest.mark.parametrize(
    ("pred", "target", "kwargs", "match"),
    [
        (torch.ones(10) / 10, torch.ones(10) / 10, {}, r"pred must have shape \[B, K\]"),
        (torch.ones(2, 10) / 10, torch.ones(2, 7) / 7, {}, "target must have the shape of pred"),
        (torch.ones(2, 10) / 10, torch.ones(3, 10) / 10, {}, "target must have the shape of pred"),
        (torch.ones(2, 10) / 10, torch.ones(2, 10) / 10, {"r": 0.5}, "r must be >= 1"),
        (torch.ones(2, 10) / 10, torch.ones(2, 10) / 10, {"reduction": "avg"}, "reduction must be one of"),
    ],
)
def test_rejects_bad_arguments(pred, target, kwargs, match):
    with pytest.raises(ValueError, match=match):
        emd_loss(pred, target, **kwargs)


def test_rejects_arrays():
    with pytest.raises(TypeError, match="must be tensors"):
        emd_loss(np.ones((2, 10)) / 10, torch.ones(2, 10) / 10)


def test_std_loss_is_the_squared_error_of_the_standard_deviations_in_score_units():
    narrow = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]])  # std 0
    wide = torch.tensor([[0.0, 0.0, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]])  # scores 4 and 6: std 1
    assert std_loss(narrow, wide).item() == pytest.approx(1.0, abs=1e-3)
    assert std_loss(wide, wide).item() == pytest.approx(0.0, abs=1e-6)
    shifted = torch.roll(wide, 2, dims=1)  # same spread, another mean: nothing to correct
    assert std_loss(shifted, wide).item() == pytest.approx(0.0, abs=1e-6)
    assert std_loss(torch.cat([narrow, wide]), torch.cat([wide, wide]), reduction="none").tolist() == pytest.approx([1.0, 0.0], abs=1e-3)


def test_std_loss_gives_finite_gradients_that_widen_a_narrow_prediction():
    logits = torch.zeros(1, 10)
    logits[0, 4] = 6.0  # almost all mass on one bin
    logits.requires_grad_(True)
    wide = torch.full((1, 10), 0.1)
    std_loss(torch.softmax(logits, dim=1), wide).backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[0, 4] > 0  # descending lowers the peak: the prediction widens


def test_training_loss_is_the_emd_plus_the_weighted_std_term():
    pred, target = torch.softmax(torch.randn(4, 10), dim=1), torch.softmax(torch.randn(4, 10), dim=1)
    assert torch.equal(training_loss(pred, target), emd_loss(pred, target))
    expected = emd_loss(pred, target) + 0.5 * std_loss(pred, target)
    assert torch.allclose(training_loss(pred, target, std_weight=0.5), expected)


def test_training_loss_with_sample_weights_is_the_weighted_mean_of_the_per_sample_losses():
    pred, target = torch.softmax(torch.randn(4, 10), dim=1), torch.softmax(torch.randn(4, 10), dim=1)
    weight = torch.tensor([1.0, 3.0, 0.0, 1.0])
    per_sample = emd_loss(pred, target, reduction="none") + 0.5 * std_loss(pred, target, reduction="none")
    expected = (per_sample * weight).sum() / weight.sum()
    assert torch.allclose(training_loss(pred, target, std_weight=0.5, sample_weight=weight), expected)
    assert torch.allclose(training_loss(pred, target, sample_weight=torch.ones(4)), emd_loss(pred, target))
    with pytest.raises(ValueError, match="sample_weight"):
        training_loss(pred, target, sample_weight=torch.zeros(4))
    with pytest.raises(ValueError, match="sample_weight"):
        training_loss(pred, target, sample_weight=torch.ones(3))
