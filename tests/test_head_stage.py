"""The head stage's training loop on cached features (no backbone pass: features are made up)."""
import torch

from workbench.head_stage import fit_head
from workbench.model.build import build_model


def test_fit_head_reports_each_epoch_and_the_loss_falls():
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
                      lr=0.05, progress=False, on_epoch=lambda epoch, loss: seen.append((epoch, loss, model.head.training)))  # fmt: skip
    assert [epoch for epoch, _, _ in seen] == list(range(1, 13))
    assert [loss for _, loss, _ in seen] == losses
    assert losses[-1] < 0.7 * losses[0]
