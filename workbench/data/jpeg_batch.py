"""Decoding a batch of JPEGs with torchvision, on a CUDA device with nvJPEG: the PIL path's photos, GPU-fed.

Why: at 1,000+ training photos/s a GPU needs many CPU workers decoding full-resolution JPEGs
(bench/data_pipeline.py measures how many); ``torchvision.io.decode_jpeg(list, device="cuda")``
decodes a whole batch on the GPU instead. The photos it returns are ``load_image``'s:

- only plain 8-bit JPEGs (PIL mode RGB or L) of an accepted size, ending in their EOI marker, go to
  torchvision; every other file (CMYK JPEGs, PNG / TIFF, 16-bit, alpha, truncated or corrupt files,
  photos too small or too large) goes through ``load_image``, so it gets the PIL path's pixels or the
  PIL path's ``ImageError``, word for word; a file torchvision fails to decode goes there too;
- EXIF orientation is read from the header and applied here (torchvision applies it on the CPU only);
- on the CPU both decoders are libjpeg-turbo with the same defaults (tests/test_jpeg_batch.py
  measures a difference of 0); nvJPEG's IDCT and chroma upsampling may differ by a few levels.

Downscaling (``max_side``) is not done here: photos that need it take the PIL path (``draft`` plus
Lanczos), whose pixels a GPU resize would not reproduce.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import torch
from PIL import Image
from torch import Tensor

from workbench.data.batching import IMAGENET_MEAN, IMAGENET_STD, MIN_SIDE
from workbench.data.images import MAX_PIXELS, _orientation, load_image

# torchvision decodes these PIL modes of a JPEG exactly as PIL shows them (YCbCr -> RGB, grey).
_TORCHVISION_MODES = ("RGB", "L")
_END_OF_IMAGE = b"\xff\xd9"


def decode_device(device: torch.device | str, gpu_decode: bool) -> torch.device:
    """Where to decode: the training ``device`` when it is CUDA and ``gpu_decode`` asks for it, else the CPU."""
    device = torch.device(device)
    return device if gpu_decode and device.type == "cuda" else torch.device("cpu")


def decode_photos(paths: Sequence[str | os.PathLike], device: torch.device | str = "cpu") -> list[Tensor]:
    """Upright RGB photos ``uint8 Tensor[3, h, w]`` on ``device``, the pixels ``load_image`` gives.

    Plain JPEGs are decoded together by torchvision (one batched nvJPEG call on CUDA); the rest, and
    any file torchvision rejects, by ``load_image`` (raising its ``ImageError`` for unusable files).
    """
    device = torch.device(device)
    photos: list[Tensor | None] = [None] * len(paths)
    batch, orientations = [], []
    for index, path in enumerate(paths):
        orientation = _torchvision_orientation(path)
        if orientation is None:
            photos[index] = _pil_photo(path, device)
        else:
            batch.append(index)
            orientations.append(orientation)
    if batch:
        data = [_read_bytes(paths[index]) for index in batch]
        try:
            decoded = _decode_jpeg(data, device)
        except RuntimeError:  # one bad file fails the whole call: decode one by one, PIL for failures
            decoded = [_decode_one_or_none(item, device) for item in data]
        for index, orientation, photo in zip(batch, orientations, decoded):
            photos[index] = _pil_photo(paths[index], device) if photo is None else orient(photo, orientation)
    return photos  # type: ignore[return-value]


def normalize_photo(photo: Tensor) -> Tensor:
    """``uint8 Tensor[3, h, w]`` -> float, ImageNet-normalised: ``to_normalized_tensor`` on a tensor."""
    mean = torch.tensor(IMAGENET_MEAN, device=photo.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=photo.device).view(3, 1, 1)
    return (photo.float().div_(255.0) - mean) / std


def orient(photo: Tensor, orientation: int) -> Tensor:
    """``Tensor[C, h, w]`` as stored -> as shown, for EXIF orientation 1-8 (PIL's ``exif_transpose`` table)."""
    if orientation in (2, 4, 5, 7):  # mirrored orientations: flip first
        photo = photo.flip(-2 if orientation == 4 else -1)
        orientation = {2: 1, 4: 1, 5: 8, 7: 6}[orientation]
    turns = {1: 0, 3: 2, 6: -1, 8: 1}.get(orientation, 0)  # rot90 counter-clockwise quarter turns
    return photo.rot90(turns, dims=(-2, -1)) if turns else photo


def _torchvision_orientation(path: str | os.PathLike) -> int | None:
    """The EXIF orientation of a file torchvision decodes as PIL does, or None for the PIL path."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.format != "JPEG" or image.mode not in _TORCHVISION_MODES:
                return None
            if width * height > MAX_PIXELS or min(width, height) < MIN_SIDE:
                return None  # load_image refuses it with its own message
            orientation = _orientation(image)
        with open(path, "rb") as file:  # a truncated file: libjpeg would pad it grey, PIL refuses it
            file.seek(-2, os.SEEK_END)
            if file.read(2) != _END_OF_IMAGE:
                return None
        return orientation if orientation in range(1, 9) else 1
    except Exception:  # noqa: BLE001 - anything unreadable: load_image gives the error message
        return None


def _read_bytes(path: str | os.PathLike) -> Tensor:
    from torchvision.io import read_file

    return read_file(os.fspath(path))


def _decode_jpeg(data: list[Tensor], device: torch.device) -> list[Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))  # torchvision 0.29 points to TorchCodec
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)


def _decode_one_or_none(data: Tensor, device: torch.device) -> Tensor | None:
    try:
        return _decode_jpeg([data], device)[0]
    except RuntimeError:
        return None


def _pil_photo(path: str | os.PathLike, device: torch.device) -> Tensor:
    from torchvision.transforms.functional import pil_to_tensor

    return pil_to_tensor(load_image(path)).to(device)
