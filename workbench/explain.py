"""Where a score comes from: a heat map of the predicted mean on each photo's own ROI-pooled map.

Why there: ROI pooling resamples exactly the photo's region of the stem's feature map onto a fixed
``roi_size`` grid (``RoiBackbone.pooled_regions``), so a map over that grid is a map over the photo's
own pixels, whatever the padding around it; the body after it never sees the canvas.

The map is Grad-CAM's per-location form (gradient x activation, summed over channels; Selvaraju et
al., ICCV 2017 weigh each channel by its *mean* gradient instead): at the stem, where every channel
sees fine texture, the channel-mean weights make a near-constant map, while the per-location product
shows which parts of the photo raise (positive) or lower (negative) the predicted mean score.

    heat = score_heat_map(predictor.model, view_image, theme_id)   # float[h, w] in [-1, 1], the view's pixels
    on_canvas = heat_on_canvas(heat, canvas=800)                    # zero on the padding, by construction
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from workbench.data.batching import pad_batch, to_normalized_tensor
from workbench.model import NO_THEME, AestheticModel

SMOOTHING = 9  # cells of the ROI grid averaged together: a per-cell map is speckle at 112 x 112
SCALE_PERCENTILE = 99  # |heat| at this percentile maps to 1 (clipped above): a few extreme cells would wash out the rest


def score_mean(probabilities: Tensor) -> Tensor:
    """Tensor[B]: the mean score sum_k k p_k over scores 1..K of ``probabilities`` [B, K]."""
    scores = torch.arange(1, probabilities.shape[1] + 1, dtype=probabilities.dtype, device=probabilities.device)
    return probabilities @ scores


def score_heat_map(model: AestheticModel, image: Image.Image, theme_id: int = NO_THEME, smoothing: int = SMOOTHING) -> np.ndarray:
    """float32[h, w] in [-1, 1] over ``image``'s own pixels (h, w = its height and width).

    image: the view image exactly as the network receives it (e.g. the photo fitted in the canvas for
    ``full``, the 299x299 resize for ``resize``). theme_id: -1 for no theme. Positive: raises the
    predicted mean score; scaled so the 99th percentile of its magnitude is 1 (clipped beyond).
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL image, got {type(image).__name__}")
    backbone = model.backbone
    if not hasattr(backbone, "pooled_regions"):
        raise ValueError(f"{type(backbone).__name__} has no ROI-pooled map to explain (needs a RoiBackbone)")
    device = next(model.parameters()).device
    batch = pad_batch([to_normalized_tensor(image.convert("RGB"))], canvas=None)
    images, sizes = batch.images.to(device), batch.sizes.to(device)
    themes = torch.tensor([theme_id], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            with torch.no_grad():
                pooled = backbone.pooled_regions(images, sizes)  # [1, C, R, R]: the photo's region only
            pooled = torch.nan_to_num(pooled.float(), neginf=0.0).requires_grad_(True)
            features = backbone.body(pooled)
            if features.ndim != 2:
                features = torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1)
            mean = score_mean(model.predict_from_features(features, themes))
            (gradient,) = torch.autograd.grad(mean.sum(), pooled)
    finally:
        model.train(was_training)
    heat = (gradient * pooled.detach()).sum(dim=1, keepdim=True)  # [1, 1, R, R]
    if smoothing > 1:
        heat = nn.functional.avg_pool2d(heat, smoothing, stride=1, padding=smoothing // 2, count_include_pad=False)
    scale = float(torch.quantile(heat.abs().flatten(), SCALE_PERCENTILE / 100))
    heat = heat / scale if scale > 0 else heat
    # The R x R grid covers exactly the photo's region: stretch it back over the photo's (h, w) pixels.
    heat = nn.functional.interpolate(heat, size=(image.height, image.width), mode="bilinear", align_corners=False)
    return heat[0, 0].clamp(-1, 1).cpu().numpy().astype(np.float32)


def heat_on_canvas(heat: np.ndarray, canvas: int) -> np.ndarray:
    """float32[canvas, canvas]: ``heat`` [h, w] placed top-left where the photo is padded, 0 elsewhere."""
    h, w = heat.shape
    if h > canvas or w > canvas:
        raise ValueError(f"heat of {w}x{h} does not fit a {canvas}x{canvas} canvas")
    placed = np.zeros((canvas, canvas), np.float32)
    placed[:h, :w] = heat
    return placed
