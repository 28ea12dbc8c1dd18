"""Train the theme branch and the distribution head on cached backbone features, before fine-tuning.

Why: with a pretrained backbone, the head starts random; fine-tuning end to end from there sends the
head's large early gradients into the ImageNet features, and on a CPU every epoch over full-resolution
photos costs minutes. The backbone's features of a few augmented views per photo are computed once
(forward only, shape-grouped batches), then the head trains for many cheap epochs on them (the
"linear probe, then fine-tune" recipe). ``Trainer`` runs this stage first when ``head_epochs > 0``.

View ``k`` of a training photo is exactly the augmentation the dataset gives it in epoch ``k``
(``AestheticDataset.set_epoch``), so the cached views are the first ``head_views`` epochs' views.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from workbench.config import HEAD_OPTIMIZERS
from workbench.data.datasets import AestheticDataset
from workbench.inference import shape_sorted_batches, view_features
from workbench.losses import training_loss
from workbench.model.build import AestheticModel
from workbench.model.heads import NO_THEME, ThemeClassifier
from workbench.runtime import DeviceOptions


class EpochViews(Dataset):
    """Item ``i``: photo ``i``'s views of the first ``views`` training epochs (``AestheticDataset.epoch_views``),
    as ``inference.TestViews`` items, so that ``inference.view_features`` batches and runs them; None for a
    photo that cannot be used."""

    def __init__(self, dataset: AestheticDataset, views: int):
        self.dataset, self.views_per_photo = dataset, int(views)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        views = self.dataset.epoch_views(index, range(self.views_per_photo))
        return None if views is None else {"index": int(index), "views": views}


def extract_features(
    model: AestheticModel,
    dataset: AestheticDataset,
    views: int,
    batch_size: int,
    device: torch.device,
    options: DeviceOptions | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> tuple[Tensor, Tensor]:
    """Backbone features of ``views`` augmented views of every photo: ``(features [N, V, D], loaded [N, V])``.

    Through ``inference.view_features`` (eval mode, shape-sorted batches of whole photos, at most
    ``batch_size`` views a forward pass), the path every prediction takes. Photos that fail to load, or
    with a view below ``MIN_SIDE``, are marked False in ``loaded`` (their features stay 0).
    """
    photos = EpochViews(dataset, views)
    features = torch.zeros(len(dataset), views, model.backbone.feature_dim)
    loaded = torch.zeros(len(dataset), views, dtype=torch.bool)
    batches = shape_sorted_batches(dataset.sizes, views, batch_size)
    parts = view_features(
        model, photos, batches, batch_size, device, options, num_workers, progress=progress, desc="head stage: caching features",
    )  # fmt: skip
    for part in parts:
        features[part.index] = part.values.float().cpu().reshape(len(part.index), views, -1)
        loaded[part.index] = True
    return features, loaded


@contextmanager
def _restore_flush_denormal(was_set: bool) -> Iterator[None]:
    """Leave the process's denormal mode as it was (off by default) after ``fit_head``."""
    try:
        yield
    finally:
        if was_set:
            torch.set_flush_denormal(False)


@contextmanager
def in_mode(module: nn.Module, training: bool) -> Iterator[nn.Module]:
    """``module.train(training)`` inside the block, then every submodule's own mode back: restoring with
    ``module.train(previous)`` would also put a frozen BatchNorm back in training mode."""
    modes = [(submodule, submodule.training) for submodule in module.modules()]
    module.train(training)
    try:
        yield module
    finally:
        for submodule, mode in modes:
            submodule.training = mode


def fit_head(
    model: AestheticModel,
    features: Tensor,
    loaded: Tensor,
    targets: Tensor,
    themes: Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    theme_dropout: float = 0.0,
    emd_r: float = 2,
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[int, float], None] | None = None,
    optimizer: str = "sgd",
    std_weight: float = 0.0,
    view: str | None = None,
    own_theme_weight: float = 1.0,
) -> list[float]:
    """Train ``model.theme_branch`` and ``model.head`` on cached features; returns the loss per epoch.

    features [N, V, D], loaded [N, V] (``extract_features``), themes [N] (-1: none), and targets either
    [N, K] (each photo's votes under its own theme) or [N, T, K] (its distribution under every theme,
    ``head_targets="every_theme"``: each step then fits every (photo, theme) pair, the visual part of the
    head run once per photo, and there is no theme to drop; ``own_theme_weight`` weighs the pair of a photo and
    its own theme that many times each other pair, as the evaluation (AVA's protocol) asks only that pair).
    Each epoch visits every loaded (photo, view) pair once in a seeded order; theme dropout replaces a
    theme by -1 with probability ``theme_dropout``. SGD with momentum (or AdamW), the learning rate halved at
    1/2 and 3/4 of the epochs. The backbone is not touched. ``on_epoch(epoch, loss)`` is called after
    each epoch with the whole model in eval mode (a notebook validates and draws the falling loss live
    with it); training then resumes in train mode, and every module leaves in the mode it came in.
    view: train the head of that view (``AestheticModel.view_heads``) instead of the model's own.
    """
    photo, view_index = loaded.nonzero(as_tuple=True)
    if len(photo) == 0:
        raise ValueError("head stage: no training photo could be loaded")
    heads = model.heads_for(view)
    every_theme = targets.ndim == 3
    if every_theme and targets.shape[1] != model.num_themes:
        raise ValueError(f"head stage: targets under every theme must be [N, {model.num_themes}, K], got {tuple(targets.shape)}")
    if hasattr(heads.head, "fit_standardisation"):
        heads.head.fit_standardisation(features[photo, view_index].float())
    device = next(heads.head.parameters()).device
    parameters = [p for module in (heads.theme_branch, heads.head) for p in module.parameters()]
    if optimizer not in HEAD_OPTIMIZERS:
        raise ValueError(f"head stage: optimizer must be one of {HEAD_OPTIMIZERS}, got {optimizer!r}")
    if optimizer == "adamw":
        step = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    else:
        step = torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(step, [epochs // 2, (3 * epochs) // 4], gamma=0.5)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    if not own_theme_weight > 0 or (own_theme_weight != 1 and not every_theme):
        raise ValueError(f"head stage: own_theme_weight must be > 0 and weighs targets under every theme [N, T, K], got {own_theme_weight} with targets {tuple(targets.shape)}")
    pair_weights = None if own_theme_weight == 1 else own_theme_pair_weights(themes, model.num_themes, own_theme_weight)  # None: all alike
    # Flush denormal floats to zero while the head trains: Adam's running averages of the tiny gradients of
    # a zero-initialised layer (FilmHead's modulation) sink into the denormal range, where x86 arithmetic is
    # far slower (the demo recipe, measured: 7 s an epoch with flushing; without, its third epoch had not
    # ended after 4 minutes).
    flushing = torch.set_flush_denormal(True)
    with in_mode(heads.theme_branch, True), in_mode(heads.head, True), _restore_flush_denormal(flushing):
        for _ in tqdm(range(epochs), desc=f"head stage: training the {view or 'model'}'s head", disable=not progress, leave=False, dynamic_ncols=True):
            order = torch.randperm(len(photo), generator=generator)
            dropped = torch.rand(len(photo), generator=generator) < theme_dropout
            total = torch.zeros((), dtype=torch.float64)
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                rows = photo[chosen]
                batch_features = features[rows, view_index[chosen]].to(device)
                if every_theme:
                    pred = model.predict_every_theme(batch_features, view=view).flatten(0, 1)  # [B * T, K], rows as the targets'
                    loss = training_loss(
                        pred, targets[rows].flatten(0, 1).to(device), r=emd_r, std_weight=std_weight,
                        sample_weight=None if pair_weights is None else pair_weights[rows].flatten(),
                    )  # fmt: skip
                else:
                    batch_themes = themes[rows].masked_fill(dropped[chosen], NO_THEME)
                    pred = model.predict_from_features(batch_features, batch_themes.to(device), view=view)
                    loss = training_loss(pred, targets[rows].to(device), r=emd_r, std_weight=std_weight)
                step.zero_grad(set_to_none=True)
                loss.backward()
                step.step()
                total += loss.detach().double().cpu() * len(chosen)
            scheduler.step()
            losses.append(float(total) / len(order))
            if on_epoch is not None:
                with in_mode(model, False):  # a callback validates the head as a prediction would see it
                    on_epoch(len(losses), losses[-1])
    if heads.theme_classifier is not None:
        fit_theme_classifier_on_views(heads.theme_classifier, features, loaded, themes, seed=seed, progress=progress)
    return losses


# The theme classifier's fit (chosen on the validation split of the synthetic benchmark, checkpoints/demo.md):
# a few epochs of AdamW from zero weights. Trained longer, the regression grows overconfident on the
# training views (validation theme accuracy 0.29 after 3 epochs, 0.20 after 40) and the no-theme mixture it
# weighs gets worse (validation SRCC(mean) 0.387 -> 0.340).
THEME_CLASSIFIER_EPOCHS, THEME_CLASSIFIER_BATCH, THEME_CLASSIFIER_LR = 3, 64, 1e-3


def fit_theme_classifier(
    classifier: ThemeClassifier, features: Tensor, themes: Tensor, seed: int = 0, progress: bool = False,
    epochs: int = THEME_CLASSIFIER_EPOCHS, batch_size: int = THEME_CLASSIFIER_BATCH, lr: float = THEME_CLASSIFIER_LR,
) -> list[float]:  # fmt: skip
    """Fit p(theme | photo) on cached features ``[N, D]`` of photos with known themes ``[N]`` (cross-entropy);
    returns the loss per epoch and marks the classifier fitted. Draws its order from its own generator, so
    the global random state (and with it whatever trains next) is the same with or without it."""
    known = themes != NO_THEME
    if not known.any():
        raise ValueError("theme classifier: no training photo has a theme")
    features, themes = features[known].float(), themes[known]
    device = classifier.weight.device
    with torch.no_grad():
        classifier.mean.copy_(features.mean(0))
        classifier.scale.copy_(features.std(0) + 1e-6)  # a constant feature (e.g. a dead channel) stays finite
        classifier.weight.zero_()
        classifier.bias.zero_()
    generator = torch.Generator().manual_seed(seed)
    classifier.requires_grad_(True)
    losses = []
    try:
        step = torch.optim.AdamW(classifier.parameters(), lr=lr, weight_decay=1e-4)
        # mininterval=0: a few fast epochs, each drawn, so the bar a notebook keeps ends at 100%, not at the last
        # frame before tqdm's rate limit (leave=False closes a notebook bar without a final refresh).
        for _ in tqdm(range(epochs), desc="head stage: fitting the theme classifier", disable=not progress, leave=False, dynamic_ncols=True, mininterval=0):
            order = torch.randperm(len(features), generator=generator)
            total = 0.0
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                loss = torch.nn.functional.cross_entropy(classifier(features[chosen].to(device)), themes[chosen].to(device))
                step.zero_grad(set_to_none=True)
                loss.backward()
                step.step()
                total += float(loss.detach()) * len(chosen)
            losses.append(total / len(order))
    finally:
        classifier.requires_grad_(False)
    classifier.fitted.fill_(True)
    return losses


def fit_theme_classifier_on_views(
    classifier: ThemeClassifier, features: Tensor, loaded: Tensor, themes: Tensor, seed: int = 0, progress: bool = False,
) -> list[float]:  # fmt: skip
    """``fit_theme_classifier`` on every loaded view of cached features ``[N, V, D]`` (``loaded [N, V]``), each with
    its photo's theme ``themes[N]``: the head stage's fit, and the refit after each end-to-end epoch."""
    photo, view_index = loaded.nonzero(as_tuple=True)
    return fit_theme_classifier(classifier, features[photo, view_index], themes[photo], seed=seed, progress=progress)


def own_theme_pair_weights(themes: Tensor, num_themes: int, own_theme_weight: float) -> Tensor:
    """The weight of each (photo, theme) pair of every-theme targets ``[N, T]``: ``own_theme_weight`` where the
    theme is the photo's own ``themes[N]``, 1 elsewhere (no theme, -1, matches none)."""
    return torch.where(themes[:, None] == torch.arange(num_themes, device=themes.device), float(own_theme_weight), 1.0)


def dataset_themes(dataset: AestheticDataset, use_theme: bool) -> Tensor:
    """Theme ids ``LongTensor[N]`` of a dataset's photos, or all -1 when the model has no theme input."""
    themes = torch.tensor(np.asarray(dataset.themes), dtype=torch.long)
    return themes if use_theme else torch.full_like(themes, NO_THEME)
