"""Where a score comes from: a Grad-CAM map of the predicted mean over each photo's own pixels.

Why a body stage: ROI pooling resamples exactly the photo's region of the stem's feature map onto a
fixed ``roi_size`` grid, and the body after it sees only that grid, so every body map is a map over the
photo's own pixels, whatever the padding around it: the heat is exactly zero outside the photo by
construction (``heat_on_canvas``).

Why Grad-CAM (Selvaraju et al., ICCV 2017) on a later stage: gradient x activation on the ROI-pooled
map itself drew horizontal streaks over smooth areas (issue 21): at the stem every channel sees fine
texture, and ROI max pooling's bins repeat rows. A stage whose grid is about 1/8 of the ROI side
(``CAM_SIDE_FRACTION``; Inception-v3: Mixed_6e, 35x35; EfficientNet-Lite0: the last 14x14 block) has
seen whole regions; each channel is weighed by its mean gradient, and the map is kept signed: red
raises the predicted mean score, blue lowers it. The stage's maps come from ``RoiBackbone.trace``.

    result = explain_score(predictor.model, view_image, theme_id)   # ScoreHeatMap
    result.heat                                                     # float[h, w] in [-1, 1], the view's pixels
    result.value_range                                              # (-scale, scale) in score points per cell
    on_canvas = heat_on_canvas(result.heat, canvas=800)             # zero on the padding
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from workbench.inference import head_predictions, pad_views
from workbench.model.build import AestheticModel
from workbench.model.heads import NO_THEME

SMOOTHING = 1  # cells of the stage's grid averaged together (1: none; the coarse grid is smooth already)
SCALE_PERCENTILE = 99  # |heat| at this percentile maps to 1 (clipped above): a few extreme cells would wash out the rest
CAM_SIDE_FRACTION = 8  # the map's stage: the deepest whose grid side is at least roi_size / 8 (and 4 cells)


@dataclass(frozen=True)
class ScoreHeatMap:
    """A heat map of the predicted mean and what its colours mean.

    heat: float32[h, w] in [-1, 1] over the view image's pixels (positive raises the predicted mean).
    scale: the value that maps to 1, in score points: Grad-CAM's per-cell first-order contribution to the
        predicted mean (sum over channels of mean gradient x activation), at ``SCALE_PERCENTILE``.
    stage: the body stage it was computed on (``RoiBackbone.body_stages``), and its grid (rows, columns).
    """

    heat: np.ndarray
    scale: float
    stage: str
    grid: tuple[int, int]

    @property
    def value_range(self) -> tuple[float, float]:
        """(low, high) in score points per cell that -1 and +1 stand for: the ends of a colour scale."""
        return -self.scale, self.scale


def score_mean(probabilities: Tensor) -> Tensor:
    """Tensor[B]: the mean score sum_k k p_k over scores 1..K of ``probabilities`` [B, K]."""
    scores = torch.arange(1, probabilities.shape[1] + 1, dtype=probabilities.dtype, device=probabilities.device)
    return probabilities @ scores


def cam_stage(stages: list[tuple[str, Tensor]], roi_size: int) -> str:
    """The stage ``explain_score`` maps by default among a trace's ``(name, map)`` body stages: the
    deepest whose grid side is at least ``roi_size / CAM_SIDE_FRACTION`` (module docstring: why)."""
    spatial = [(name, value) for name, value in stages if value.ndim == 4]
    if not spatial:
        raise ValueError("the backbone's body has no spatial stage to map")
    large = [name for name, value in spatial if min(value.shape[-2:]) >= max(4, roi_size // CAM_SIDE_FRACTION)]
    return large[-1] if large else spatial[0][0]


def explain_score(
    model: AestheticModel, image: Image.Image, theme_id: int = NO_THEME, smoothing: int = SMOOTHING,
    view: str = "full", stage: str | None = None,
) -> ScoreHeatMap:
    """The Grad-CAM heat map of the predicted mean score on ``image``'s own pixels (``ScoreHeatMap``).

    image: the view image exactly as the network receives it (e.g. the photo fitted in the canvas for
    ``full``, the 299x299 resize for ``resize``); view: which of those it is. theme_id: -1 for no theme.
    stage: a name of ``model.backbone.body_stages()``; None: ``cam_stage``'s choice.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL image, got {type(image).__name__}")
    if not hasattr(model.backbone, "trace"):
        raise ValueError(f"{type(model.backbone).__name__} has no traceable body to explain (needs a RoiBackbone)")
    names = [name for name, _ in model.backbone.body_stages()]
    if stage is not None and stage not in names:
        raise ValueError(f"stage must be one of {names}, got {stage!r}")
    device = next(model.parameters()).device
    batch = pad_views([image.convert("RGB")]).to(device)
    themes = torch.tensor([theme_id], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            trace = model.backbone.trace(batch.images, batch.sizes)
            stage = cam_stage(trace.stages, model.backbone.roi_size) if stage is None else stage
            activation = dict(trace.stages)[stage]  # [1, C, r, c]: the photo's region only
            mean = score_mean(head_predictions(model, trace.features, themes, view))
            (gradient,) = torch.autograd.grad(mean.sum(), activation)
    finally:
        model.train(was_training)
    weights = gradient.float().mean(dim=(2, 3), keepdim=True)  # Grad-CAM: each channel's mean gradient
    heat = (weights * activation.detach().float()).sum(dim=1, keepdim=True)  # [1, 1, r, c], signed
    if smoothing > 1:
        heat = nn.functional.avg_pool2d(heat, smoothing, stride=1, padding=smoothing // 2, count_include_pad=False)
    scale = float(torch.quantile(heat.abs().flatten(), SCALE_PERCENTILE / 100))
    grid = (int(heat.shape[-2]), int(heat.shape[-1]))
    heat = heat / scale if scale > 0 else heat
    # The grid covers exactly the photo's region: stretch it back over the photo's (h, w) pixels.
    heat = nn.functional.interpolate(heat, size=(image.height, image.width), mode="bilinear", align_corners=False)
    return ScoreHeatMap(heat[0, 0].clamp(-1, 1).cpu().numpy().astype(np.float32), scale, stage, grid)


def score_heat_map(model: AestheticModel, image: Image.Image, theme_id: int = NO_THEME, smoothing: int = SMOOTHING) -> np.ndarray:
    """float32[h, w] in [-1, 1] over ``image``'s own pixels: ``explain_score(...).heat`` (its docstring)."""
    return explain_score(model, image, theme_id, smoothing).heat


def heat_on_canvas(heat: np.ndarray, canvas: int) -> np.ndarray:
    """float32[canvas, canvas]: ``heat`` [h, w] placed top-left where the photo is padded, 0 elsewhere."""
    h, w = heat.shape
    if h > canvas or w > canvas:
        raise ValueError(f"heat of {w}x{h} does not fit a {canvas}x{canvas} canvas")
    placed = np.zeros((canvas, canvas), np.float32)
    placed[:h, :w] = heat
    return placed
