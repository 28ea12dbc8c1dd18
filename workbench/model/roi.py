"""Mapping each photo's region through the stem, masking the padding, and ROI pooling (eq. 1-4).

The stem (three 3x3 convolutions: stride 2 valid, valid, padded) is applied to the whole padded
canvas. Rather than the paper's approximate ``round(x / tau)`` (eq. 1) we propagate each photo's
exact valid size through the stem with the convolution arithmetic. A photo's prediction must not
depend on its batch-mates, so what the stem computes inside that size must equal what it computes on
a canvas of the photo's own size. Only the pixels the next step reads need to be zero for that:

- a convolution with padding ``p`` computes its outputs inside the valid size from inputs at most
  ``p`` pixels beyond it (a valid convolution reads nothing beyond);
- ``roi_pool``'s float bin edges can read one row or column beyond the box, and so can
  ``roi_align``'s bilinear sampling (``ROI_POOL_REACH``).

So ``zero_border_strips_`` zeroes, in place, the ``reach`` rows below and columns right of each
photo's region (two indexed writes per layer for the whole batch); the rest of the padding holds
whatever the stem made of it and is never read.
Done on the pre-activation, before the ReLU, it gives the same gradients too (its docstring says
why). ``mask_padding`` (zero everything outside, out of place) is the simple reference it equals,
but it costs a new stem-sized tensor per layer (+19-27% of the compact forward on CPU,
bench/masking.py).
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import roi_align, roi_pool

ROI_MODES = ("pool", "align")
ROI_POOL_REACH = 1  # roi_pool's rounded bin edges read at most one pixel beyond the box


def conv_output_sizes(sizes: Tensor, kernel_size: int, stride: int, padding: int, padding_after: int | None = None) -> Tensor:
    """Valid output sizes ``Tensor[B, 2]`` of a convolution applied to photos of ``sizes`` (h, w).

    padding: zeros before (top, left); padding_after: zeros after (bottom, right), ``padding`` if None.
    """
    padding_after = padding if padding_after is None else padding_after
    return torch.div(sizes + padding + padding_after - kernel_size, stride, rounding_mode="floor") + 1


def valid_mask(sizes: Tensor, height: int, width: int, dtype: torch.dtype) -> Tensor:
    """``Tensor[B, 1, height, width]`` with ones inside each photo's top-left region, zeros elsewhere."""
    rows = torch.arange(height, device=sizes.device)
    cols = torch.arange(width, device=sizes.device)
    inside_rows = rows[None, :] < sizes[:, 0:1]  # [B, H]
    inside_cols = cols[None, :] < sizes[:, 1:2]  # [B, W]
    return (inside_rows[:, :, None] & inside_cols[:, None, :]).unsqueeze(1).to(dtype)


def mask_padding(features: Tensor, sizes: Tensor) -> Tensor:
    """Zero ``features`` (Tensor[B, C, H, W]) outside each photo's valid region ``sizes`` (h, w).

    The reference for ``zero_border_strips_``: simple, but it writes a new stem-sized tensor.
    """
    return features * valid_mask(sizes, features.shape[-2], features.shape[-1], features.dtype)


def fill_padding(features: Tensor, sizes: Tensor, value: float) -> Tensor:
    """``features`` (Tensor[B, C, H, W]) with ``value`` outside each photo's region, out of place.

    For a linear stem output (signed values) that ROI max pooling reads next: a zero just beyond the
    region could beat every (negative) value of a border bin, where the same photo alone on its own
    canvas has no pixel there at all; ``-inf`` never wins a max.
    """
    inside = valid_mask(sizes, features.shape[-2], features.shape[-1], torch.bool)
    return torch.where(inside, features, torch.tensor(value, dtype=features.dtype, device=features.device))


def zero_border_strips_(features: Tensor, sizes: Tensor, reach: int) -> Tensor:
    """In place: zero the ``reach`` rows below and the ``reach`` columns right of each photo's region.

    features: Tensor[B, C, H, W], a stem layer's pre-activation (its Conv2d or BatchNorm output),
        which a ReLU reads next. sizes: Tensor[B, 2], each photo's valid (h, w) on ``features``
        (cheapest on the CPU, as ``RoiBackbone.pooled_regions`` passes them: the indices are built
        there; on a GPU they cost one synchronisation).

    Exact, for features AND gradients, given that ReLU and ``reach`` = how far the next step reads
    beyond the region (a convolution's padding, ``ROI_POOL_REACH``): ReLU(0) = 0, so the next step
    reads zeros there, as after ``mask_padding``; the padding further out is read by nothing, so it
    gets no gradient and adds 0 x (finite) value to the weight gradients; and the ReLU passes no
    gradient where its output is 0, so nothing flows back through the overwritten values. Hence
    autograd need not record the assignment (``no_grad``; recorded, it would cost a full-size
    gradient copy), and overwriting is safe: Conv2d / BatchNorm backward never reads their own output.
    The rows and columns run the whole canvas (rows ``h .. h+reach-1`` lie wholly in the padding,
    and so do columns ``w .. w+reach-1``): a superset of the strips the next step reads, zeroed by two
    indexed writes per layer whatever the batch size, touching ``reach x (H + W) x C`` values per
    photo (not a full-map pass, not two slice writes per photo).
    """
    sizes = sizes.cpu()
    with torch.no_grad():
        photos, rows = _lines_beyond(sizes[:, 0], reach, features.shape[-2])
        features[photos.to(features.device), :, rows.to(features.device), :] = 0
        photos, columns = _lines_beyond(sizes[:, 1], reach, features.shape[-1])
        features[photos.to(features.device), :, :, columns.to(features.device)] = 0
    return features


def _lines_beyond(lengths: Tensor, reach: int, limit: int) -> tuple[Tensor, Tensor]:
    """(photo index, line index) of lines ``length .. length + reach - 1`` of each photo that exist (< limit)."""
    photos = torch.arange(len(lengths)).repeat_interleave(reach)
    lines = (lengths[:, None] + torch.arange(reach)).flatten()
    inside = lines < limit
    return photos[inside], lines[inside]


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


# torchvision's kernels index the input with 32-bit ints (``(n * channels + c) * height * width``): a map
# past 2^31 elements reads out of bounds (``illegal memory access`` on CUDA at batch 256 of Inception's
# 64 x 397 x 397 stem map, issue 20). ROI pooling therefore runs over chunks of whole photos of at most
# this many elements; it also bounds the float32 copy a chunk may need (4 GiB).
MAX_ROI_CHUNK_ELEMENTS = 2**30


def pool_regions(features: Tensor, sizes: Tensor, output_size: int, mode: str = "pool") -> Tensor:
    """Pool each photo's region of ``features`` (Tensor[B, C, H, W]) to ``Tensor[B, C, S, S]``.

    sizes: Tensor[B, 2], each region's (h, w), on any device (the boxes move to ``features``').
    mode: ``"pool"`` (ROI max pooling, the paper) or ``"align"`` (ROI Align, the paper's variant).

    Runs torchvision's ``roi_pool`` / ``roi_align`` over chunks of at most ``MAX_ROI_CHUNK_ELEMENTS``
    (its 32-bit indexing), each chunk in a dtype and layout its kernels take:
    - float32 / float64 as they are; bfloat16 and float16 in float32, chunk by chunk, as torchvision's
      CUDA autocast wrappers do: neither its CPU nor its CUDA kernels have a bfloat16 instantiation
      (``AT_DISPATCH_FLOATING_TYPES_AND_HALF``, torchvision 0.29), and in float16 they would compute the
      bin edges (and the boxes, past 2048) in float16, other bins than float32's;
    - NCHW, since the kernels call ``.contiguous()``: a channels_last chunk is converted in the same
      single copy as its dtype, never in two.
    Autocast is off inside (its wrappers would cast the whole map to float32 again). The result has the
    features' dtype: the values of pooling them in float32.

    Why not adaptive max pooling of each photo's region (bfloat16 and channels_last kernels exist)?
    It is not the same arithmetic: roi_pool's bin edges are float32 products (``floor(i * (w / S))``),
    which differ from the exact integer edges of ``adaptive_max_pool2d`` at some sizes (at S = 146, 15
    of the square sides 1..399: 90, 106, 122, ...; tests/test_roi.py keeps one), so trained checkpoints'
    features would shift.
    """
    if mode not in ROI_MODES:
        raise ValueError(f"roi mode must be one of {ROI_MODES}, got {mode!r}")
    if (sizes < 1).any():
        raise ValueError(f"every region must be at least 1x1 after the stem, got sizes {sizes.tolist()}")
    dtype = features.dtype
    kernel_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    boxes = roi_boxes(sizes).to(features.device, kernel_dtype)
    with torch.autocast(features.device.type, enabled=False):
        pooled = [
            _pool_chunk(chunk.to(kernel_dtype, memory_format=torch.contiguous_format), chunk_boxes, output_size, mode)
            for chunk, chunk_boxes in zip(*_photo_chunks(features, boxes))
        ]
    pooled = pooled[0] if len(pooled) == 1 else torch.cat(pooled)
    return pooled.to(dtype)


def _photo_chunks(features: Tensor, boxes: Tensor) -> tuple[tuple[Tensor, ...], list[Tensor]]:
    """Split ``features`` into chunks of whole photos of at most ``MAX_ROI_CHUNK_ELEMENTS`` elements.

    ``split`` (not slicing): its backward concatenates the chunks' gradients in one allocation, where
    each slice's backward would allocate a zero gradient of the whole map.
    """
    per_photo = features[0].numel() if len(features) else 1
    if per_photo > MAX_ROI_CHUNK_ELEMENTS:
        raise ValueError(
            f"features of one photo ({tuple(features.shape[1:])}) exceed MAX_ROI_CHUNK_ELEMENTS = {MAX_ROI_CHUNK_ELEMENTS}: "
            "use a smaller canvas"
        )  # fmt: skip
    photos_per_chunk = max(1, MAX_ROI_CHUNK_ELEMENTS // per_photo)
    if len(features) <= photos_per_chunk:
        return (features,), [boxes]
    chunks = features.split(photos_per_chunk)
    chunk_boxes = []
    for index, chunk in enumerate(chunks):
        start = index * photos_per_chunk
        local = boxes[start : start + len(chunk)].clone()
        local[:, 0] -= start  # the batch index within the chunk
        chunk_boxes.append(local)
    return chunks, chunk_boxes


def _pool_chunk(features: Tensor, boxes: Tensor, output_size: int, mode: str) -> Tensor:
    if mode == "pool":
        return roi_pool(features, boxes, output_size=output_size, spatial_scale=1.0)
    return roi_align(features, boxes, output_size=output_size, spatial_scale=1.0, sampling_ratio=2, aligned=False)
