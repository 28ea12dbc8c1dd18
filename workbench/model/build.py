"""``AestheticModel`` and ``build_model``: backbone + theme branch + distribution head."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

from workbench.model.backbones import create_backbone
from workbench.model.heads import NO_THEME, NO_THEME_MODES, DistributionHead, ThemeBranch, ThemeClassifier


class AestheticModel(nn.Module):
    """Predicts a score distribution ``[B, num_bins]`` from padded photos, their sizes and themes.

    ``model_args`` holds the ``build_model`` arguments so a checkpoint rebuilds the same model.
    """

    def __init__(self, backbone: nn.Module, num_bins: int, num_themes: int, theme_dim: int, hidden_dim: int, dropout: float, model_args: dict[str, Any]):
        super().__init__()
        self.backbone = backbone
        self.theme_branch = ThemeBranch(num_themes, theme_dim)
        self.head = DistributionHead(backbone.feature_dim, theme_dim, num_bins, hidden_dim, dropout)
        self.num_bins = num_bins
        self.num_themes = num_themes
        self.model_args = dict(model_args)
        posterior = model_args.get("no_theme", "learned") == "posterior" and num_themes > 0
        self.theme_classifier = ThemeClassifier(backbone.feature_dim, num_themes) if posterior else None

    def features(self, images: Tensor, sizes: Tensor) -> Tensor:
        """The visual feature ``Tensor[B, feature_dim]``: the expensive, theme-independent part."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be Tensor[B, 3, H, W], got {tuple(images.shape)}")
        if sizes.shape != (images.shape[0], 2):
            raise ValueError(f"sizes must be Tensor[{images.shape[0]}, 2] of (h, w), got {tuple(sizes.shape)}")
        if (sizes[:, 0] > images.shape[2]).any() or (sizes[:, 1] > images.shape[3]).any():
            raise ValueError(f"sizes {sizes.tolist()} exceed the canvas {tuple(images.shape[-2:])}")
        return self.backbone(images, sizes.to(images.device))

    def predict_from_features(self, features: Tensor, themes: Tensor | None = None, return_logits: bool = False) -> Tensor:
        """Distributions (softmax, eq. 5) or logits from cached visual features, for any themes.

        The softmax runs in float32 under any autocast (CUDA's does so by itself, CPU's would not):
        distributions feed the EMD loss and the metrics, where bf16's 3 digits are too coarse.
        """
        if self.has_theme_posterior:
            return self._predict_with_theme_posterior(features, themes, return_logits)
        theme_features = self.theme_branch(themes, features.shape[0])
        logits = self.head(features, theme_features)
        return logits if return_logits else torch.softmax(logits.float(), dim=1)

    @property
    def has_theme_posterior(self) -> bool:
        """True once the head stage has fit the theme classifier (``no_theme="posterior"``): photos without a
        theme are then predicted as the themes' mixture, else by the learned "no theme" vector."""
        return self.theme_classifier is not None and bool(self.theme_classifier.fitted)

    def theme_posterior(self, features: Tensor) -> Tensor:
        """p(theme | photo) ``[B, num_themes]`` from the fitted theme classifier (``no_theme="posterior"``)."""
        if not self.has_theme_posterior:
            raise ValueError("this model has no fitted theme classifier (build_model(no_theme='posterior'), fit in the head stage)")
        return torch.softmax(self.theme_classifier(features).float(), dim=1)

    def _predict_with_theme_posterior(self, features: Tensor, themes: Tensor | None, return_logits: bool) -> Tensor:
        """Rows with a theme as usual; rows without (-1, or themes None): sum_t p(t | photo) p(score | photo, t).
        Logits of the mixture are its log-probabilities (their softmax is the mixture)."""
        count = features.shape[0]
        themes = torch.full((count,), NO_THEME, dtype=torch.long, device=features.device) if themes is None else themes
        theme_features = self.theme_branch(themes, count)  # checks the ids; the head runs on themed rows only
        known = themes != NO_THEME
        probabilities = torch.empty(count, self.num_bins, device=features.device)
        if known.any():
            probabilities[known] = torch.softmax(self.head(features[known], theme_features[known]).float(), dim=1)
        if not known.all():
            unknown = features[~known]
            every_theme = self.theme_branch(torch.arange(self.num_themes, device=features.device), self.num_themes)
            per_theme = torch.softmax(self.head.forward_all_themes(unknown, every_theme).float(), dim=2)  # [U, T, K]
            probabilities[~known] = torch.einsum("ut,utk->uk", self.theme_posterior(unknown), per_theme)
        return probabilities.clamp_min(1e-12).log() if return_logits else probabilities

    def forward(self, images: Tensor, sizes: Tensor, themes: Tensor | None = None, return_logits: bool = False) -> Tensor:
        """images Tensor[B, 3, H, W], sizes Tensor[B, 2] (h, w), themes LongTensor[B] (-1 = none) or None."""
        return self.predict_from_features(self.features(images, sizes), themes, return_logits)

    def compile_fixed_shape_layers(self, **compile_kwargs) -> "AestheticModel":
        """``torch.compile`` the backbone's body in place: the layers after ROI pooling, which see
        ``roi_size x roi_size`` maps whatever the photos' shapes: compiled at the first batch, once more
        (with a dynamic batch size) when the batch size first changes, then reused (Inception-v3 on
        2 CPU cores: 141 s, then 127 s; a new canvas shape at the same batch size: no recompile).

        Not the stem: it sees a new canvas shape in every shape-grouped batch and zeroes strips from
        per-photo Python ints. Compiling the whole model recompiled per shape, hit dynamo's recompile
        limit, then failed an inductor stride assertion in backward (torch 2.14, CPU). In place
        (``Module.compile``): state_dict keys, checkpoints and DDP wrapping are unchanged.
        """
        self.backbone.body.compile(**compile_kwargs)
        return self


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` by a frozen one (the paper fixes BN).

    Plain ``BatchNorm2d`` -> torchvision's ``FrozenBatchNorm2d``. A subclass that fuses an activation
    (timm's ``BatchNormAct2d``, as in EfficientNet-Lite0: BN + ReLU6 in one module) goes through timm's
    own freezer, which keeps the activation; replacing it by a plain frozen BN would drop the ReLU6.
    """
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and hasattr(child, "act"):
            from timm.layers import freeze_batch_norm_2d  # timm's BatchNormAct2d; imported only when present

            setattr(module, name, freeze_batch_norm_2d(child))
        elif isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
        else:
            freeze_batchnorm(child)
    return module


def build_model(
    backbone: str = "inception_v3",
    num_bins: int = 10,
    num_themes: int = 0,
    roi: str = "pool",
    roi_size: int | None = None,
    pretrained: bool = False,
    theme_dim: int = 256,
    hidden_dim: int = 512,
    dropout: float = 0.5,
    freeze_bn: bool = False,
    no_theme: str = "learned",
    **backbone_kwargs,
) -> AestheticModel:
    """Build the theme-aware full-resolution model.

    backbone: a registered name (``inception_v3``, ``efficientnet_lite0``, ``compact``).
    num_bins: K score bins (10 for AVA, 7 for Photo.net). num_themes: 0 for no theme input.
    roi: ``"pool"`` or ``"align"``; roi_size: the pooled side, None for the backbone's own default
        (Inception-v3 146, or 73 for the ablation; EfficientNet-Lite0 112).
    pretrained: ImageNet weights (Inception-v3: torchvision's weights API, never in tests;
        EfficientNet-Lite0: the installed package's file, no network).
    freeze_bn: replace BatchNorm by frozen BatchNorm (the paper's recipe for Inception-v3).
    no_theme: how a photo without a theme (-1) is predicted: ``"learned"``, a learned "no theme" vector in
        the theme branch (theme dropout trains it); ``"posterior"``, once the head stage has fit the theme
        classifier, the mixture of the photo's predictions under every theme weighted by p(theme | photo)
        (until then, the learned vector). Only with themes.
    """
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    if num_themes < 0:
        raise ValueError(f"num_themes must be >= 0, got {num_themes}")
    if no_theme not in NO_THEME_MODES:
        raise ValueError(f"no_theme must be one of {NO_THEME_MODES}, got {no_theme!r}")
    chosen_roi_size = {} if roi_size is None else {"roi_size": roi_size}  # else the backbone's own
    visual = create_backbone(backbone, roi=roi, pretrained=pretrained, **chosen_roi_size, **backbone_kwargs)
    args = dict(
        backbone=backbone, num_bins=num_bins, num_themes=num_themes, roi=roi, roi_size=visual.roi_size,
        theme_dim=theme_dim, hidden_dim=hidden_dim, dropout=dropout, freeze_bn=freeze_bn, **backbone_kwargs,
    )  # fmt: skip
    if no_theme != "learned":
        args["no_theme"] = no_theme  # only when set: checkpoints written before this option load unchanged
    args.update(visual.rebuild_args)  # what the weights need, so a checkpoint rebuilds without them
    model = AestheticModel(visual, num_bins, num_themes, theme_dim, hidden_dim, dropout, args)
    if freeze_bn:
        freeze_batchnorm(model)
    return model
