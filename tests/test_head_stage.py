"""The head stage's training loop on cached features (no backbone pass: features are made up)."""
import pytest
import torch

from workbench.config import TrainConfig

from workbench.head_stage import fit_head
from workbench.model.build import build_model


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.05), ("adamw", 0.003)])
def test_fit_head_reports_each_epoch_and_the_loss_falls(optimizer, lr):
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=8)
    photos, dim = 64, model.backbone.feature_dim
    features = torch.randn(photos, 1, dim)
    # Targets that depend on the features: a head that learns anything lowers the loss.
    logits = features[:, 0, :10] * 3
    targets = torch.softmax(logits, dim=1)
    themes = torch.randint(0, 3, (photos,))
    seen = []
    losses = fit_head(model, features, torch.ones(photos, 1, dtype=torch.bool), targets, themes, epochs=12, batch_size=8,
                      lr=lr, optimizer=optimizer, progress=False, on_epoch=lambda epoch, loss: seen.append((epoch, loss, model.head.training)))  # fmt: skip
    assert [epoch for epoch, _, _ in seen] == list(range(1, 13))
    assert [loss for _, loss, _ in seen] == losses
    assert losses[-1] < 0.7 * losses[0]


def test_an_unknown_head_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match="head_optimizer"):
        TrainConfig(head_optimizer="adam")
    model = build_model("compact", num_bins=10, num_themes=0, roi_size=8)
    with pytest.raises(ValueError, match="'lbfgs'"):
        fit_head(model, torch.zeros(2, 1, model.backbone.feature_dim), torch.ones(2, 1, dtype=torch.bool),
                 torch.full((2, 10), 0.1), torch.full((2,), -1), epochs=1, batch_size=2, lr=0.1, optimizer="lbfgs", progress=False)  # fmt: skip
