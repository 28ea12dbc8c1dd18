"""Backbone features saved on disk under a fingerprint of everything they depend on.

Why: with a frozen backbone the features of a photo's view are a function of the photo, the view and
the backbone's weights alone. The head stage, the validation after each head epoch and the ablation's
many (variant, seed) runs would otherwise extract the same features again and again (most of a CPU
ablation's time); a fingerprint makes reuse safe: fine-tuned weights, other photos or other views
give another fingerprint and the features are computed afresh.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from workbench.checkpoints import write_atomically
from workbench.data.datasets import AestheticDataset
from workbench.inference import ViewFeatures
from workbench.model.build import AestheticModel

# Model arguments that shape only the head (theme branch, head, per-view heads): the backbone's features
# do not depend on them, so runs that differ only there (with or without themes, concat or FiLM) share features.
HEAD_ONLY_ARGS = frozenset({"num_bins", "num_themes", "theme_dim", "hidden_dim", "dropout", "no_theme", "head", "grid_channels", "view_heads"})


def features_fingerprint(model: AestheticModel, dataset: AestheticDataset, views: int | str) -> str:
    """A digest of everything the backbone's features of ``dataset`` depend on: the photos (paths, in
    order), their views (transform, canvas, augmentation, how many; the seed only for training views,
    the only random ones) and the backbone (its arguments and weights)."""
    digest = hashlib.sha256()
    seed = dataset.seed if dataset.train else None
    digest.update(repr((dataset.paths, dataset.transform, dataset.canvas, dataset.augment, seed, dataset.train, views)).encode())
    digest.update(repr(sorted((k, v) for k, v in model.model_args.items() if k not in HEAD_ONLY_ARGS)).encode())
    for name, tensor in model.backbone.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def evaluation_fingerprint(model: AestheticModel, dataset: AestheticDataset, tta: bool) -> str:
    """``features_fingerprint`` of a split's test views (one view, or the paper's six / 20 fixed-seed ones)."""
    return features_fingerprint(model, dataset, f"test views, tta={bool(tta)}")


def cached_features(path: Path | None, fingerprint: str, compute: Callable[[], tuple[Tensor, Tensor]], write: bool = True) -> tuple[Tensor, Tensor]:
    """``compute()`` once: the head stage's features are saved at ``path`` with ``fingerprint`` (atomically:
    a temporary file, then a rename) and read back by a later run whose fingerprint matches, e.g. a run
    killed after its hour of feature extraction, or the same backbone's features with another head recipe.
    Read with ``weights_only=True``; a file with another fingerprint is recomputed and replaced."""
    saved = _read(path, fingerprint)
    if saved is not None:
        return saved["features"], saved["loaded"]
    features, loaded = compute()
    if path is not None and write:
        write_atomically(path, functools.partial(torch.save, {"fingerprint": fingerprint, "features": features, "loaded": loaded}))
    return features, loaded


def cached_split_features(
    path: Path | None, fingerprint: str, compute: Callable[[], list[ViewFeatures]], device: str | torch.device = "cpu", write: bool = True
) -> list[ViewFeatures]:
    """``evaluation.split_features`` of a split (every test view of every photo) kept on disk like
    ``cached_features``: the frozen backbone's validation and test features, shared by every run that
    has the same photos, views and backbone. Returned on ``device``."""
    saved = _read(path, fingerprint)
    if saved is None:
        parts = compute()
        saved = {"fingerprint": fingerprint, "parts": [{"values": p.values.cpu(), "index": p.index.cpu(), "counts": p.counts.cpu()} for p in parts]}
        if path is not None and write:
            write_atomically(path, functools.partial(torch.save, saved))
    return [ViewFeatures(p["values"].to(device), p["index"], p["counts"]) for p in saved["parts"]]


def cache_path(folder: str | os.PathLike, dataset: AestheticDataset, fingerprint: str) -> Path:
    """Where a shared cache folder keeps ``dataset``'s features: one file per fingerprint, so that runs
    with different views (seeds, augmentations) of the same split do not replace each other's."""
    return Path(folder) / f"{dataset.split}-{dataset.transform}-{fingerprint[:16]}.pt"


def _read(path: Path | None, fingerprint: str) -> dict | None:
    if path is None or not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return saved if saved.get("fingerprint") == fingerprint else None
