"""Mapping each photo's region through the stem, masking the padding, and ROI pooling (eq. 1-4).

The stem (three 3x3 convolutions: stride 2 valid, valid, padded) is applied to the whole padded
canvas. Rather than the paper's approximate ``round(x / tau)`` (eq. 1) we propagate each photo's
exact valid size through the stem with the convolution arithmetic, and zero every stem feature map
outside that size. A padded convolution then reads zeros at the photo's border exactly as it would
on a canvas of the photo's own size, so a photo's prediction does not depend on its batch-mates.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import roi_align, roi_pool

ROI_MODES = ("pool", "align")


def conv_output_sizes(sizes: Tensor, kernel_size: int, stride: int, padding: int) -> Tensor:
    """Valid output sizes ``Tensor[B, 2]`` of a convolution applied to photos of ``sizes`` (h, w)."""
    return torch.div(sizes + 2 * padding - kernel_size, stride, rounding_mode="floor") + 1


def valid_mask(sizes: Tensor, height: int, width: int, dtype: torch.dtype) -> Tensor:
    """``Tensor[B, 1, height, width]`` with ones inside each photo's top-left region, zeros elsewhere."""
    rows = torch.arange(height, device=sizes.device)
    cols = torch.arange(width, device=sizes.device)
    inside_rows = rows[None, :] < sizes[:, 0:1]  # [B, H]
    inside_cols = cols[None, :] < sizes[:, 1:2]  # [B, W]
    return (inside_rows[:, :, None] & inside_cols[:, None, :]).unsqueeze(1).to(dtype)


def mask_padding(features: Tensor, sizes: Tensor) -> Tensor:
    """Zero ``features`` (Tensor[B, C, H, W]) outside each photo's valid region ``sizes`` (h, w)."""
    return features * valid_mask(sizes, features.shape[-2], features.shape[-1], features.dtype)


def roi_boxes(sizes: Tensor) -> Tensor:
    """Boxes ``Tensor[B, 5]`` = (batch index, x1, y1, x2, y2) covering each photo's region.

    Ends are inclusive (``roi_pool``'s convention, pixel ``i`` at coordinate ``i``): the box spans
    pixels ``0 .. w-1`` and ``0 .. h-1``. With ``roi_align(aligned=False)`` the sample points then
    stay inside the region, so no interpolation ever reads the padding.
    """
    sizes = sizes.to(torch.float32)
    index = torch.arange(len(sizes), dtype=torch.float32, device=sizes.device)
    zeros = torch.zeros_like(index)
    return torch.stack([index, zeros, zeros, sizes[:, 1] - 1, sizes[:, 0] - 1], dim=1)


def pool_regions(features: Tensor, sizes: Tensor, output_size: int, mode: str = "pool") -> Tensor:
    """Pool each photo's region of ``features`` (Tensor[B, C, H, W]) to ``Tensor[B, C, S, S]``.

    mode: ``"pool"`` (ROI max pooling, the paper) or ``"align"`` (ROI Align, the paper's variant).
    """
    if mode not in ROI_MODES:
        raise ValueError(f"roi mode must be one of {ROI_MODES}, got {mode!r}")
    if (sizes < 1).any():
        raise ValueError(f"every region must be at least 1x1 after the stem, got sizes {sizes.tolist()}")
    boxes = roi_boxes(sizes).to(features.dtype)
    if mode == "pool":
        return roi_pool(features, boxes, output_size=output_size, spatial_scale=1.0)
    return roi_align(features, boxes, output_size=output_size, spatial_scale=1.0, sampling_ratio=2, aligned=False)
