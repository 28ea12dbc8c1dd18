"""The theme branch and the distribution head (section III-B, Fig. 3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.data.tables import NO_THEME  # theme id meaning "predict without a theme" (defined with the label tables)

NO_THEME_MODES = ("learned", "posterior")  # how a photo without a theme is predicted (build_model's no_theme)


class ThemeBranch(nn.Module):
    """Theme id -> 256-d theme feature; id ``NO_THEME`` (-1) -> a learned "no theme" vector.

    ``nn.Embedding`` is the one-hot -> FC 256 of the paper without materialising the one-hot code.
    """

    def __init__(self, num_themes: int, theme_dim: int = 256):
        super().__init__()
        self.num_themes = num_themes
        self.embedding = nn.Embedding(max(num_themes, 1), theme_dim)
        self.no_theme = nn.Parameter(torch.zeros(theme_dim))

    def forward(self, themes: Tensor | None, batch_size: int) -> Tensor:
        """themes: LongTensor[B] of ids in ``[0, num_themes)`` or -1, or None (no theme for all)."""
        if themes is None:
            return torch.relu(self.no_theme).expand(batch_size, -1)
        if themes.shape != (batch_size,):
            raise ValueError(f"themes must have shape ({batch_size},), got {tuple(themes.shape)}")
        if ((themes < NO_THEME) | (themes >= self.num_themes)).any():
            raise ValueError(f"theme ids must be -1 (no theme) or in [0, {self.num_themes}), got {themes.tolist()}")
        has_theme = themes >= 0
        embedded = self.embedding(themes.clamp(min=0))
        features = torch.where(has_theme[:, None], embedded, self.no_theme.expand_as(embedded))
        return torch.relu(features)


class DistributionHead(nn.Module):
    """[visual feature, theme feature] -> dropout -> FC -> ReLU -> FC -> K logits.

    The paper feeds the concatenation into "fully connected layers" (plural). A hidden layer
    matters: with a single linear layer the theme could only add a per-theme offset to the
    logits and never change how visual features are weighed (no theme-specific criterion).
    """

    def __init__(self, feature_dim: int, theme_dim: int, num_bins: int, hidden_dim: int = 512, dropout: float = 0.5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(feature_dim + theme_dim, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, num_bins),
        )

    def forward(self, features: Tensor, theme_features: Tensor) -> Tensor:
        return self.layers(torch.cat([features, theme_features], dim=1))

    def forward_all_themes(self, features: Tensor, theme_features: Tensor) -> Tensor:
        """Logits ``[B, T, K]`` of every photo ``[B, D]`` under every theme ``[T, theme_dim]``, equal to
        ``forward`` on each (photo, theme) pair. The first FC is split into its visual and theme columns,
        so the B x T concatenations are never built (AVA: 1,398 themes per photo)."""
        dropout, first, relu, last = self.layers
        visual = F.linear(dropout(features), first.weight[:, : features.shape[1]], first.bias)
        theme = F.linear(dropout(theme_features), first.weight[:, features.shape[1] :])
        return last(relu(visual[:, None, :] + theme[None, :, :]))


class ThemeClassifier(nn.Module):
    """Visual feature -> theme logits: which theme a photo looks like, p(theme | photo).

    Why: without a theme, the score distribution of a photo is the mixture of its distributions under each
    theme, weighted by how likely each theme is for that photo. A multinomial logistic regression on the
    standardised features (``head_stage.fit_theme_classifier`` fits it, and the mean and scale, on the head
    stage's cached features). Its weights start at zero (the uniform posterior), which also draws no random
    numbers, so adding it leaves every other layer's initialisation as it was. Not trained end to end:
    its parameters do not require gradients outside its own fit.
    """

    def __init__(self, feature_dim: int, num_themes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(num_themes, feature_dim), requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(num_themes), requires_grad=False)
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("scale", torch.ones(feature_dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))  # False: the model predicts "no theme" by its learned vector

    def forward(self, features: Tensor) -> Tensor:
        return F.linear((features - self.mean) / self.scale, self.weight, self.bias)
