"""The theme branch and the distribution head (section III-B, Fig. 3)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from workbench.data.tables import NO_THEME  # theme id meaning "predict without a theme" (defined with the label tables)


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
