"""``AestheticModel`` and ``build_model``: backbone + theme branch + distribution head."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

from workbench.model.backbones import create_backbone
from workbench.data.augment import TRANSFORMS
from workbench.model.heads import HEAD_TYPES, NO_THEME, NO_THEME_MODES, DistributionHead, FilmHead, ThemeBranch, ThemeClassifier


class ThemedHead(nn.Module):
    """A theme branch, a distribution head and (``no_theme="posterior"``) a theme classifier: everything
    after the backbone. ``AestheticModel`` holds one for its own view and, optionally, one per other view."""

    def __init__(self, backbone: nn.Module, num_bins: int, num_themes: int, theme_dim: int, hidden_dim: int, dropout: float, model_args: dict[str, Any]):
        super().__init__()
        self.theme_branch = ThemeBranch(num_themes, theme_dim)
        if model_args.get("head", "concat") == "film":
            grid_channels = model_args.get("grid_channels", 32)
            self.head = FilmHead(backbone.feature_layout, theme_dim, num_bins, hidden_dim, dropout, grid_channels)
        else:
            self.head = DistributionHead(backbone.feature_dim, theme_dim, num_bins, hidden_dim, dropout)
        posterior = model_args.get("no_theme", "learned") == "posterior" and num_themes > 0
        self.theme_classifier = ThemeClassifier(backbone.feature_dim, num_themes) if posterior else None


class AestheticModel(nn.Module):
    """Predicts a score distribution ``[B, num_bins]`` from padded photos, their sizes and themes.

    ``model_args`` holds the ``build_model`` arguments so a checkpoint rebuilds the same model.
    ``view_heads`` (optional): for each named input transform (``resize``, ``resized_pad``, ``crop``), a
    ``ThemedHead`` trained on that view's features, as the paper's Table III trains one model per
    transform; ``predict_from_features(..., view=name)`` uses it. The model's own head (``theme_branch``,
    ``head``, ``theme_classifier``, the keys every checkpoint has) serves its own view and any other.
    """

    def __init__(self, backbone: nn.Module, num_bins: int, num_themes: int, theme_dim: int, hidden_dim: int, dropout: float, model_args: dict[str, Any]):
        super().__init__()
        self.backbone = backbone
        own = ThemedHead(backbone, num_bins, num_themes, theme_dim, hidden_dim, dropout, model_args)
        self.theme_branch, self.head, self.theme_classifier = own.theme_branch, own.head, own.theme_classifier
        self.num_bins = num_bins
        self.num_themes = num_themes
        self.model_args = dict(model_args)
        self.view_heads = nn.ModuleDict({
            view: ThemedHead(backbone, num_bins, num_themes, theme_dim, hidden_dim, dropout, model_args)
            for view in model_args.get("view_heads", ())
        })  # fmt: skip

    def heads_for(self, view: str | None) -> nn.Module:
        """The module holding ``theme_branch``, ``head`` and ``theme_classifier`` for features of ``view``:
        that view's own trained head when the model has one, else the model's (its training view's)."""
        return self.view_heads[view] if view is not None and view in self.view_heads else self

    def features(self, images: Tensor, sizes: Tensor) -> Tensor:
        """The visual feature ``Tensor[B, feature_dim]``: the expensive, theme-independent part."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be Tensor[B, 3, H, W], got {tuple(images.shape)}")
        if sizes.shape != (images.shape[0], 2):
            raise ValueError(f"sizes must be Tensor[{images.shape[0]}, 2] of (h, w), got {tuple(sizes.shape)}")
        if (sizes[:, 0] > images.shape[2]).any() or (sizes[:, 1] > images.shape[3]).any():
            raise ValueError(f"sizes {sizes.tolist()} exceed the canvas {tuple(images.shape[-2:])}")
        return self.backbone(images, sizes.to(images.device))

    def predict_from_features(
        self, features: Tensor, themes: Tensor | None = None, return_logits: bool = False, view: str | None = None,
    ) -> Tensor:  # fmt: skip
        """Distributions (softmax, eq. 5) or logits from cached visual features, for any themes.

        view: the input transform the features were computed on (``full``, ``resize``, ...): a model with
            ``view_heads`` predicts them with that view's own head; None or another view: the model's head.
        The softmax runs in float32 under any autocast (CUDA's does so by itself, CPU's would not):
        distributions feed the EMD loss and the metrics, where bf16's 3 digits are too coarse.
        """
        heads = self.heads_for(view)
        if self.has_theme_posterior_for(heads):
            return self._predict_with_theme_posterior(heads, features, themes, return_logits)
        theme_features = heads.theme_branch(themes, features.shape[0])
        logits = heads.head(features, theme_features)
        return logits if return_logits else torch.softmax(logits.float(), dim=1)

    @staticmethod
    def has_theme_posterior_for(heads: nn.Module) -> bool:
        return heads.theme_classifier is not None and bool(heads.theme_classifier.fitted)

    @property
    def has_theme_posterior(self) -> bool:
        """True once the head stage has fit the theme classifier (``no_theme="posterior"``): photos without a
        theme are then predicted as the themes' mixture, else by the learned "no theme" vector."""
        return self.has_theme_posterior_for(self)

    def theme_posterior(self, features: Tensor, view: str | None = None) -> Tensor:
        """p(theme | photo) ``[B, num_themes]`` from the fitted theme classifier (``no_theme="posterior"``)."""
        heads = self.heads_for(view)
        if not self.has_theme_posterior_for(heads):
            raise ValueError("this model has no fitted theme classifier (build_model(no_theme='posterior'), fit in the head stage)")
        return torch.softmax(heads.theme_classifier(features).float(), dim=1)

    def _predict_with_theme_posterior(self, heads: nn.Module, features: Tensor, themes: Tensor | None, return_logits: bool) -> Tensor:
        """Rows with a theme as usual; rows without (-1, or themes None): sum_t p(t | photo) p(score | photo, t).
        Logits of the mixture are its log-probabilities (their softmax is the mixture)."""
        count = features.shape[0]
        themes = torch.full((count,), NO_THEME, dtype=torch.long, device=features.device) if themes is None else themes
        theme_features = heads.theme_branch(themes, count)  # checks the ids; the head runs on themed rows only
        known = themes != NO_THEME
        probabilities = torch.empty(count, self.num_bins, device=features.device)
        if known.any():
            probabilities[known] = torch.softmax(heads.head(features[known], theme_features[known]).float(), dim=1)
        if not known.all():
            unknown = features[~known]
            per_theme = self._every_theme(heads, unknown, return_logits=False)  # [U, T, K]
            posterior = torch.softmax(heads.theme_classifier(unknown).float(), dim=1)
            probabilities[~known] = torch.einsum("ut,utk->uk", posterior, per_theme)
        return probabilities.clamp_min(1e-12).log() if return_logits else probabilities

    def forward(self, images: Tensor, sizes: Tensor, themes: Tensor | None = None, return_logits: bool = False, every_theme: bool = False) -> Tensor:
        """images Tensor[B, 3, H, W], sizes Tensor[B, 2] (h, w), themes LongTensor[B] (-1 = none) or None.

        every_theme: instead, each photo's distributions under every theme ``[B, T, K]`` (``themes`` unused):
        what end-to-end epochs fit under ``head_targets="every_theme"``, through this forward so that DDP sees it.
        """
        features = self.features(images, sizes)
        if every_theme:
            return self.predict_every_theme(features, return_logits=return_logits)
        return self.predict_from_features(features, themes, return_logits)

    def predict_every_theme(self, features: Tensor, view: str | None = None, return_logits: bool = False) -> Tensor:
        """Each photo's distributions (or logits) under every theme ``[B, T, K]`` from cached visual features ``[B, D]``,
        by ``view``'s head (``predict_from_features`` says which): the visual part of the head runs once per photo.
        What the every-theme targets are fit to (the head stage, end-to-end epochs) and the no-theme mixture mixes."""
        return self._every_theme(self.heads_for(view), features, return_logits)

    def _every_theme(self, heads: nn.Module, features: Tensor, return_logits: bool) -> Tensor:
        theme_features = heads.theme_branch(torch.arange(self.num_themes, device=features.device), self.num_themes)
        logits = heads.head.forward_all_themes(features, theme_features)
        return logits if return_logits else torch.softmax(logits.float(), dim=2)

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
    head: str = "concat",
    grid_channels: int = 32,
    view_heads: tuple[str, ...] | list[str] = (),
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
    head: ``"concat"`` (the theme feature concatenated with the visual one, the paper) or ``"film"``
        (``FilmHead``: the theme scales and shifts the hidden layer; uses the backbone's spatial grids).
    grid_channels: ``"film"`` only: channels each grid cell is projected to.
    view_heads: other input transforms that get their own head (``AestheticModel`` says why).
    """
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    if num_themes < 0:
        raise ValueError(f"num_themes must be >= 0, got {num_themes}")
    if no_theme not in NO_THEME_MODES:
        raise ValueError(f"no_theme must be one of {NO_THEME_MODES}, got {no_theme!r}")
    if head not in HEAD_TYPES:
        raise ValueError(f"head must be one of {HEAD_TYPES}, got {head!r}")
    unknown_views = [view for view in view_heads if view not in TRANSFORMS]
    if unknown_views or len(set(view_heads)) != len(view_heads):
        raise ValueError(f"view_heads must be distinct names from {TRANSFORMS}, got {list(view_heads)}")
    chosen_roi_size = {} if roi_size is None else {"roi_size": roi_size}  # else the backbone's own
    visual = create_backbone(backbone, roi=roi, pretrained=pretrained, **chosen_roi_size, **backbone_kwargs)
    args = dict(
        backbone=backbone, num_bins=num_bins, num_themes=num_themes, roi=roi, roi_size=visual.roi_size,
        theme_dim=theme_dim, hidden_dim=hidden_dim, dropout=dropout, freeze_bn=freeze_bn, **backbone_kwargs,
    )  # fmt: skip
    if no_theme != "learned":
        args["no_theme"] = no_theme  # only when set: checkpoints written before this option load unchanged
    if head != "concat":  # likewise for the head type and the per-view heads
        args.update(head=head, grid_channels=grid_channels)
    if view_heads:
        args["view_heads"] = list(view_heads)
    args.update(visual.rebuild_args)  # what the weights need, so a checkpoint rebuilds without them
    model = AestheticModel(visual, num_bins, num_themes, theme_dim, hidden_dim, dropout, args)
    if freeze_bn:
        freeze_batchnorm(model)
    return model
