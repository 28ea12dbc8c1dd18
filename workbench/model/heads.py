"""The theme branch and the distribution head (section III-B, Fig. 3)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from workbench.data.tables import NO_THEME  # theme id meaning "predict without a theme" (defined with the label tables)

NO_THEME_MODES = ("learned", "posterior")  # how a photo without a theme is predicted (build_model's no_theme)
HEAD_TYPES = ("concat", "film")  # how the theme enters the head (build_model's head)


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


class FilmHead(nn.Module):
    """[visual feature, theme feature] -> K logits, the theme *modulating* the hidden layer (FiLM).

    visual feature (``feature_layout``: a global part, then spatial grids) -> standardised -> each grid's
    channels projected to ``grid_channels`` by one linear map shared by its cells -> dropout -> FC ``hidden``
    = h; the theme feature -> FC -> (gamma, beta); ReLU(h * (1 + gamma) + beta) -> FC K.

    Why: concatenating the theme (``DistributionHead``) lets a theme *add* to the hidden units, which is
    beta alone; a theme's criterion also changes how much each visual cue counts (blur rewarded in
    "Motion Blur", punished in "Color on Color"), a per-theme scale of the hidden units (Perez et al.,
    FiLM, AAAI 2018). Sharing the projection across cells keeps a grid's parameters small (a 4x4 grid of
    112 channels costs 112 x 32 weights, not 1,792 x hidden) and treats a cue alike wherever it sits.
    The standardisation (``input_mean``, ``input_scale``; fit by the head stage on the training
    features) puts levels with very different ranges on one scale.
    """

    def __init__(
        self, feature_layout: list[tuple[str, int, int]], theme_dim: int, num_bins: int, hidden_dim: int = 512,
        dropout: float = 0.5, grid_channels: int = 32,
    ):  # fmt: skip
        super().__init__()
        self.feature_layout = [tuple(part) for part in feature_layout]
        feature_dim = sum(size * side * side for _, size, side in self.feature_layout)
        self.register_buffer("input_mean", torch.zeros(feature_dim))
        self.register_buffer("input_scale", torch.ones(feature_dim))
        self.grid_projections = nn.ModuleList(
            nn.Linear(size, grid_channels) for kind, size, _ in self.feature_layout if kind == "grid"
        )  # fmt: skip
        visual_dim = sum(size if kind == "global" else grid_channels * side * side for kind, size, side in self.feature_layout)
        self.dropout = nn.Dropout(dropout)
        self.visual = nn.Linear(visual_dim, hidden_dim)
        self.modulation = nn.Linear(theme_dim, 2 * hidden_dim)
        nn.init.zeros_(self.modulation.weight)  # starts as the theme-blind head: gamma = beta = 0
        nn.init.zeros_(self.modulation.bias)
        self.output = nn.Linear(hidden_dim, num_bins)

    def encode(self, features: Tensor) -> Tensor:
        """The theme-independent hidden units ``[B, hidden]`` of visual features ``[B, D]``."""
        x = (features - self.input_mean) / self.input_scale
        parts, start, grids = [], 0, iter(self.grid_projections)
        for kind, size, side in self.feature_layout:
            width = size * side * side
            part = x[:, start : start + width]
            if kind == "grid":  # [B, C * cells] channel-major -> [B, cells, C] -> shared projection
                part = next(grids)(part.reshape(len(x), size, side * side).transpose(1, 2)).flatten(1)
            parts.append(part)
            start += width
        return self.visual(self.dropout(torch.cat(parts, dim=1)))

    def forward(self, features: Tensor, theme_features: Tensor) -> Tensor:
        gamma, beta = self.modulation(theme_features).chunk(2, dim=1)
        return self.output(torch.relu(self.encode(features) * (1 + gamma) + beta))

    def forward_all_themes(self, features: Tensor, theme_features: Tensor) -> Tensor:
        """Logits ``[B, T, K]`` of every photo ``[B, D]`` under every theme ``[T, theme_dim]``: the visual part
        runs once per photo (equal to ``forward`` on each pair)."""
        gamma, beta = self.modulation(theme_features).chunk(2, dim=1)  # [T, H]
        hidden = self.encode(features)[:, None, :] * (1 + gamma[None]) + beta[None]
        return self.output(torch.relu(hidden))

    @torch.no_grad()
    def fit_standardisation(self, features: Tensor) -> None:
        """Set ``input_mean`` / ``input_scale`` from training features ``[N, D]``. The scale is floored at a
        tenth of the median feature's: a feature (nearly) constant on the training photos, e.g. a channel that
        ReLU keeps at 0, must not be blown up into a huge input by the first photo where it is not."""
        std = features.std(0)
        floor = 0.1 * std[std > 0].median() if (std > 0).any() else torch.tensor(1.0)
        self.input_mean.copy_(features.mean(0))
        self.input_scale.copy_(std.clamp_min(float(floor)))


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
