"""``Predictor``: the one way the app, the CLI and notebooks predict score distributions.

A thin wrapper (detectron2's ``DefaultPredictor``) around a checkpoint: photos go through
``workbench.inference`` (loaded and fitted to the checkpoint's canvas, the test views of
``workbench.data.augment``, shape-sorted padded batches, the backbone), then the head. The backbone and
the head are separate steps, so the features of a photo can be kept and re-read under any theme.
A checkpoint trained on one transform (``resize``, ``crop``, ...) is shown that transform's views
unless a call asks for another (``view=``), as ``evaluate`` does; the head and the mean over a photo's
views are ``inference.head_predictions`` and ``inference.mean_over_views``, shared with ``evaluate``:

    predictor = Predictor.from_checkpoint("checkpoints/demo.pt")
    features = predictor.features(["photo.jpg"])            # the expensive part, once
    predictor.predict_from_features(features, "Macro")       # [1, K], any theme, cheap
    predictor.predict_all_themes(features)                   # [1, T, K]
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from workbench.checkpoints import DEFAULT_CANVAS, load_checkpoint, model_from_checkpoint
from workbench.data.augment import TRANSFORMS
from workbench.inference import (
    PhotoSource, check_transforms, head_predictions, head_theme_posterior, load_photo, mean_over_views, photo_features,
)  # fmt: skip
from workbench.metrics import distribution_mean, distribution_std
from workbench.model.build import AestheticModel
from workbench.model.heads import NO_THEME

NO_THEME_NAME = "no theme"  # what a user types or picks for theme id -1
HEAD_ROWS = 8192  # rows per call of the head in predict_all_themes (bounds memory, not results)

Theme = Union[str, int, None]


@dataclass(frozen=True)
class Features:
    """Backbone features of N photos, each seen through the same V views.

    values (Tensor[N, V, D], float32, on the CPU): one visual feature per photo and view.
    views (tuple of V ``(transform, sample)`` pairs): the layout of the V axis
        (``inference.view_layout``), e.g. ``("full", "original")``, ``("full", "flip")``, ``("crop", "random_3")``.
    images: with ``Predictor.features(..., return_images=True)``, per photo its V view images (PIL, as
        the network saw them before normalisation), so nothing has to rebuild them; else None.
    """

    values: Tensor
    views: tuple[tuple[str, str], ...]
    images: tuple[tuple[Image.Image, ...], ...] | None = None

    def __post_init__(self):
        if self.values.ndim != 3 or self.values.shape[1] != len(self.views):
            raise ValueError(f"values must be Tensor[N, {len(self.views)}, D], got {tuple(self.values.shape)}")
        if self.images is not None and (len(self.images) != len(self.values) or any(len(row) != len(self.views) for row in self.images)):
            raise ValueError(f"images must hold {len(self.views)} views for each of the {len(self.values)} photos")

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def transforms(self) -> tuple[str, ...]:
        """The transforms present, in layout order (one for ``Predictor.features(view="full")``)."""
        return tuple(dict.fromkeys(transform for transform, _ in self.views))

    def select(self, transform: str) -> "Features":
        """The views of one transform only."""
        slots = [i for i, (name, _) in enumerate(self.views) if name == transform]
        if not slots:
            raise ValueError(f"features hold no {transform!r} views (they hold {self.transforms})")
        images = None if self.images is None else tuple(tuple(row[i] for i in slots) for row in self.images)
        return Features(self.values[:, slots], tuple(self.views[i] for i in slots), images)

    def photos(self, index: int | slice | Sequence[int]) -> "Features":
        """A subset of the photos, all views kept."""
        if isinstance(index, int):
            index = [index]
        rows = range(len(self))[index] if isinstance(index, slice) else list(index)
        images = None if self.images is None else tuple(self.images[i] for i in rows)
        return Features(self.values[index], self.views, images)


class Predictor:
    """Predicts score distributions ``[N, num_bins]`` for photos of any size, under any theme.

    model: an ``AestheticModel`` (put in eval mode here). theme_names: index = theme id.
    canvas: the square side photos are fitted into for the ``full`` view (the checkpoint's, 800 for AVA).
    transform: the view the model was trained on (one of ``TRANSFORMS``, the checkpoint's): what
        ``features`` and ``predict`` show it unless asked for another.
    card: what the checkpoint says about itself (see ``from_checkpoint``).
    """

    def __init__(
        self,
        model: AestheticModel,
        theme_names: Sequence[str] = (),
        canvas: int = DEFAULT_CANVAS,
        card: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        transform: str = "full",
    ):
        if len(theme_names) != model.num_themes:
            raise ValueError(f"theme_names has {len(theme_names)} names but the model has {model.num_themes} themes")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        self.transform = transform
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.theme_names = list(theme_names)
        self.num_bins = model.num_bins
        self.canvas = int(canvas)
        self.card = dict(card or {})
        self._theme_index: dict[str, int] = {}
        for index, name in enumerate(self.theme_names):
            self._theme_index.setdefault(name.casefold(), index)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "Predictor":
        """Load a checkpoint (``CheckpointError`` if unusable) and rebuild its model in eval mode."""
        if str(device) == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        payload = load_checkpoint(path, map_location=device)
        model = model_from_checkpoint(payload, path)
        config, canvas = payload["config"], payload["canvas"]
        data = payload["data"]
        card = {
            "checkpoint": os.fspath(path),
            "data": {key: data.get(key) for key in ("name", "description", "synthetic", "untrained") if key in data},
            "model": dict(payload["model_args"]),
            "recipe": _plain(config),
            "metrics": _plain(payload["metrics"]),
            "code_version": payload.get("code_version"),
            "epoch": payload.get("epoch"),
            "num_bins": payload["num_bins"],
            "num_themes": len(payload["theme_names"]),
            "canvas": int(canvas),
            "transform": payload["transform"],
        }
        return cls(model, payload["theme_names"], canvas=int(canvas), card=card, device=device, transform=payload["transform"])

    def describe(self) -> str:
        """One line: which model, trained on what (and a warning when the data is synthetic)."""
        backbone = self.card.get("model", {}).get("backbone", "unknown")
        if (self.card.get("recipe") or {}).get("pretrained"):
            backbone += " (ImageNet-pretrained)"
        data = self.card.get("data", {})
        name = data.get("name")
        if not name:
            line = f"{backbone} model; the checkpoint does not say what it was trained on"
        elif data.get("synthetic"):
            line = f"{backbone} model trained on the SYNTHETIC benchmark '{name}' — not an AVA model"
        else:
            line = f"{backbone} model trained on '{name}'"
        if data.get("untrained"):
            line += " (untrained: random weights)"
        own_heads = [self.transform, *self.model.view_heads]
        if len(own_heads) > 1:
            line += f"; each of the views {', '.join(own_heads)} has its own trained head"
        return line

    # --- themes ---------------------------------------------------------------------------------

    def theme_id(self, theme: Theme) -> int:
        """A theme name (exact, case-insensitive), an id, or None / "no theme" -> id (-1 = no theme)."""
        if theme is None:
            return NO_THEME
        if isinstance(theme, (bool, np.bool_)):
            raise TypeError(f"theme must be a name, an int id or None, got {theme!r}")
        if isinstance(theme, (int, np.integer)):
            if not NO_THEME <= theme < len(self.theme_names):
                raise ValueError(
                    f"theme id {int(theme)} is out of range: use -1 (no theme) or 0..{len(self.theme_names) - 1}"
                    if self.theme_names else f"theme id {int(theme)}: this model has no themes; use -1 or None"
                )
            return int(theme)
        if not isinstance(theme, str):
            raise TypeError(f"theme must be a name, an int id or None, got {type(theme).__name__}")
        key = theme.strip().casefold()
        if key == NO_THEME_NAME:
            return NO_THEME
        if key in self._theme_index:
            return self._theme_index[key]
        folded = {name.casefold(): name for name in reversed(self.theme_names)}
        close = [folded[match] for match in difflib.get_close_matches(key, list(folded), n=5, cutoff=0.6)]
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown theme {theme!r}{hint} (this model knows {len(self.theme_names)} themes, listed in "
            f"Predictor.theme_names; use None or {NO_THEME_NAME!r} for none)"
        )

    def theme_ids(self, themes: Theme | Sequence[Theme], count: int) -> Tensor:
        """LongTensor[count]: None (no theme for all), one theme for all, or one theme per photo."""
        if isinstance(themes, (list, tuple, np.ndarray, Tensor)):
            themes = list(themes.tolist() if hasattr(themes, "tolist") else themes)
            if len(themes) != count:
                raise ValueError(f"themes has {len(themes)} entries for {count} photos")
            return torch.tensor([self.theme_id(theme) for theme in themes], dtype=torch.long)
        return torch.full((count,), self.theme_id(themes), dtype=torch.long)

    # --- photos -> features -> distributions ---------------------------------------------------

    def load(self, photo: PhotoSource) -> Image.Image:
        """A path or PIL image (any mode) -> RGB photo fitted within the canvas (what every view starts from)."""
        return load_photo(photo, self.canvas)

    @torch.inference_mode()
    def features(
        self,
        images: PhotoSource | Sequence[PhotoSource],
        view: str | Sequence[str] | None = None,
        tta: bool = False,
        batch_size: int = 8,
        return_images: bool = False,
    ) -> Features:
        """Run the backbone once per photo and view -> ``Features`` (values Tensor[N, V, D]).

        view: one of ``TRANSFORMS`` or several (e.g. all four, run as one padded batch per photo);
            None: the transform the model was trained on (``self.transform``).
        tta: the test-time views of each transform (``augment.view_names``), averaged at prediction.
        batch_size: view images per forward pass; photos are grouped by shape and each batch is padded
            to its largest view only (``workbench.inference``).
        return_images: keep the view images in ``Features.images`` (what a demo shows).
        """
        transforms = check_transforms(self.transform if view is None else view)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        sources = _as_list(images)
        if not sources:
            raise ValueError("images is empty")
        values, layout, view_images = photo_features(
            self.model, sources, transforms, tta, self.canvas, batch_size, self.device, keep_images=return_images
        )
        return Features(values, layout, None if view_images is None else tuple(tuple(row) for row in view_images))

    @torch.inference_mode()
    def predict_from_features(
        self, features: Features, themes: Theme | Sequence[Theme] = None, view: str | None = None
    ) -> np.ndarray:
        """Distributions ``[N, num_bins]`` (float64): the softmax averaged over the V views.

        view: which transform's views to use when ``features`` hold several (required then, unless
        they include the model's own transform, which is then used).
        """
        features, transform = self._one_transform(features, view)
        n, v, d = features.values.shape
        theme_ids = self.theme_ids(themes, n).repeat_interleave(v).to(self.device)
        values = features.values.reshape(n * v, d).to(self.device)
        probabilities = head_predictions(self.model, values, theme_ids, transform)
        return self._mean_over_views(probabilities, n, v)

    @torch.inference_mode()
    def predict_all_themes(self, features: Features, view: str | None = None) -> np.ndarray:
        """Distributions ``[N, T, num_bins]`` under each of the T themes (for ranking themes)."""
        features, transform = self._one_transform(features, view)
        n, v, d = features.values.shape
        themes = len(self.theme_names)
        result = np.empty((n, themes, self.num_bins))
        if themes == 0:
            return result
        # Rows are (photo, theme, view) flattened; whole photos per chunk keep the reshape simple.
        photos_per_chunk = max(1, HEAD_ROWS // (themes * v))
        theme_ids = torch.arange(themes, device=self.device).repeat_interleave(v)
        for start in range(0, n, photos_per_chunk):
            chunk = features.values[start : start + photos_per_chunk].to(self.device)
            m = chunk.shape[0]
            values = chunk[:, None].expand(m, themes, v, d).reshape(m * themes * v, d)
            probabilities = head_predictions(self.model, values, theme_ids.repeat(m), transform)
            result[start : start + m] = self._mean_over_views(probabilities, m * themes, v).reshape(m, themes, -1)
        return result

    @torch.inference_mode()
    def theme_posterior(self, features: Features, view: str | None = None) -> np.ndarray | None:
        """p(theme | photo) ``[N, T]``, averaged over the views: which themes the model thinks each photo
        belongs to, what its no-theme prediction mixes (``build_model(no_theme="posterior")``); None for a
        model that predicts without a theme by its learned vector."""
        features, transform = self._one_transform(features, view)
        n, v, d = features.values.shape
        posterior = head_theme_posterior(self.model, features.values.reshape(n * v, d).to(self.device), transform)
        return None if posterior is None else self._mean_over_views(posterior, n, v)

    def predict(
        self,
        images: PhotoSource | Sequence[PhotoSource],
        themes: Theme | Sequence[Theme] = None,
        view: str | None = None,
        tta: bool = False,
        batch_size: int = 8,
    ) -> np.ndarray:
        """Score distributions ``[N, num_bins]`` of photos (PIL images or paths) of any sizes.

        themes: None (no theme), one name/id for all photos, or a list with one per photo.
        view: ``full`` (pad + ROI at full resolution on the canvas), ``resize``, ``resized_pad`` or ``crop``;
            None: the transform the model was trained on (``self.transform``), as ``evaluate`` shows it.
        """
        view = self.transform if view is None else view
        if not isinstance(view, str):
            raise ValueError(f"view must be one of {TRANSFORMS}, got {view!r}")
        images = _as_list(images)
        theme_ids = self.theme_ids(themes, len(images))  # fail on a bad theme before the backbone runs
        return self.predict_from_features(self.features(images, view, tta, batch_size), theme_ids)

    def _one_transform(self, features: Features, view: str | None) -> tuple[Features, str]:
        """The views of one transform and its name: ``view``, the only one held, or the model's own."""
        if view is None and len(features.transforms) > 1:
            if self.transform not in features.transforms:
                raise ValueError(f"features hold views of {features.transforms}; pass view= to choose one")
            view = self.transform
        if view is not None:
            features = features.select(view)
        return features, features.transforms[0]

    @staticmethod
    def _mean_over_views(per_view: Tensor, photos: int, views: int) -> np.ndarray:
        """[photos * views, ...] rows, photo after photo -> float64 [photos, ...]: the mean over each photo's views."""
        counts = torch.full((photos,), views, dtype=torch.long)
        return mean_over_views(per_view.float(), counts).double().cpu().numpy()


def summarize(dist: Any) -> dict[str, Any]:
    """Mean and standard deviation over the scores 1..K of one ``[K]`` (floats) or many ``[N, K]`` (arrays)."""
    mean, std = distribution_mean(dist), distribution_std(dist)
    if np.ndim(mean) == 0:
        return {"mean": float(mean), "std": float(std)}
    return {"mean": mean, "std": std}


def _plain(value: Any) -> Any:
    """Checkpoint values (tensors, numpy scalars, nested containers) -> JSON-ready Python values."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return value.tolist()
    return value


def _as_list(images: PhotoSource | Sequence[PhotoSource]) -> list[PhotoSource]:
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    return list(images)
