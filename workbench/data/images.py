"""Loading photos of any kind into RGB at full resolution, or downscaled to fit a canvas.

Every photo that cannot be used raises ``ImageError`` naming the file and the reason, before any
network sees it: missing, empty, truncated or non-image files, decompression bombs, and photos
too small for the network. Orientation follows the EXIF tag, as a viewer would show the photo.
"""
from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Union

import numpy as np
from PIL import ExifTags, Image

from workbench.data.batching import MIN_SIDE

ImageSource = Union[str, "os.PathLike[str]", BinaryIO]

# Largest photo accepted, in pixels (w * h as stored). 64 megapixels is above every current
# full-frame camera (61 MP) and about 190 MB once decoded to RGB; it is below PIL's own warning
# level (Image.MAX_IMAGE_PIXELS, 89.5 MP), so anything PIL would only warn about is refused too.
# Raise it (workbench.data.images.MAX_PIXELS = ...) for trusted larger photos.
MAX_PIXELS = 64_000_000

# Downscaling filter. reducing_gap=3 first shrinks by an integer factor (Image.reduce), which is
# fast and, at that gap, indistinguishable from resampling the full image with this filter.
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0

# What Pillow's decoders raise on corrupt or unsupported data (no single base class covers them).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error, zlib.error)

# EXIF orientation -> the transpose that displays the photo upright (ImageOps.exif_transpose's
# table); applied after downscaling so the rotation touches fewer pixels.
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


class ImageError(ValueError):
    """A photo that cannot be used; the message names the file and the reason."""


@dataclass
class ImageInfo:
    """What the file held, before conversion to RGB and downscaling."""

    original_size: tuple[int, int]  # (w, h) after EXIF orientation
    mode: str  # PIL mode as stored, e.g. "CMYK", "I;16", "P"
    format: str | None  # PIL format name, e.g. "JPEG"
    downscaled: bool  # True when the returned image is smaller than original_size
    frames: int  # frames in the file (animated GIF/WebP: only the first is returned)


def load_image(source: ImageSource, max_side: int | None = None) -> Image.Image:
    """RGB photo, upright by its EXIF orientation, downscaled so that max(w, h) <= max_side if given."""
    return load_image_with_info(source, max_side)[0]


def load_image_with_info(source: ImageSource, max_side: int | None = None) -> tuple[Image.Image, ImageInfo]:
    """``load_image`` plus an ``ImageInfo`` describing the file as stored."""
    if max_side is not None:
        _check_max_side(max_side)
    name = _source_name(source)
    if not hasattr(source, "read"):
        if not os.path.exists(source):
            raise ImageError(f"{name}: file not found")
        if os.path.isdir(source):
            raise ImageError(f"{name}: is a directory, not an image file")
        if os.path.getsize(source) == 0:
            raise ImageError(f"{name}: file is empty (0 bytes); re-download or re-export it")
    try:
        with warnings.catch_warnings():
            # PIL's own bomb warning is replaced by the MAX_PIXELS check below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(source)
    except Image.DecompressionBombError as error:
        raise _bomb_error(name, error) from None
    except Image.UnidentifiedImageError:
        if _is_empty_stream(source):
            raise ImageError(f"{name}: file is empty (0 bytes)") from None
        raise ImageError(f"{name}: not an image file PIL can read (unrecognised format)") from None
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name}: cannot read image header ({error})") from None
    with opened as image:
        return _decode(image, name, max_side)


def convert_image(image: Image.Image, max_side: int | None = None, name: str = "<PIL image>") -> Image.Image:
    """A photo already in memory -> RGB (``to_rgb``), downscaled to fit ``max_side`` when given.

    The checks of ``load_image`` that concern the pixels (too small, too extreme for ``max_side``); not
    the pixel limit, which guards decoding, nor EXIF orientation: an image in memory is taken as shown.
    """
    if max_side is not None:
        _check_max_side(max_side)
    w, h = image.size
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{name}: {w}x{h} photo is too small; the network needs at least {MIN_SIDE} px a side")
    if max_side is not None and min(_fitted_size((w, h), max_side)) < MIN_SIDE:
        raise ImageError(
            f"{name}: {w}x{h} photo would be below {MIN_SIDE} px on its short side at max_side={max_side}; "
            "crop it to a less extreme aspect ratio or use a larger max_side"
        )
    try:
        rgb = image if image.mode == "RGB" else to_rgb(image)
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name}: cannot convert PIL mode {image.mode!r} to RGB ({error})") from None
    return rgb if max_side is None else fit_within(rgb, max_side)


def header_size(path: str | os.PathLike) -> tuple[int, int]:
    """(h, w) of a photo as displayed (EXIF orientation 5-8 swaps the sides), read from its header
    without decoding the pixels; (0, 0) when the file is missing or unreadable (never raises)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if _orientation(image) in (5, 6, 7, 8):
                width, height = height, width
            return int(height), int(width)
    except Exception:  # noqa: BLE001 - any unreadable file is reported as (0, 0)
        return 0, 0


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the long side is max_side, keeping the aspect ratio."""
    _check_max_side(max_side)
    size = _fitted_size(image.size, max_side)
    if size == image.size:
        return image
    return image.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)


def _decode(image: Image.Image, name: str, max_side: int | None) -> tuple[Image.Image, ImageInfo]:
    stored_size = image.size
    if stored_size[0] * stored_size[1] > MAX_PIXELS:
        raise _bomb_error(name, f"{stored_size[0]}x{stored_size[1]} pixels")
    orientation = _orientation(image)
    w, h = stored_size[::-1] if orientation in (5, 6, 7, 8) else stored_size
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{name}: {w}x{h} photo is too small; the network needs at least {MIN_SIDE} px a side")
    target = stored_size if max_side is None else _fitted_size(stored_size, max_side)
    if min(target) < MIN_SIDE:
        raise ImageError(
            f"{name}: {w}x{h} photo would be {min(target)} px on its short side at max_side={max_side} "
            f"(minimum {MIN_SIDE}); crop it to a less extreme aspect ratio or use a larger max_side"
        )
    info = ImageInfo((w, h), image.mode, image.format, False, _frame_count(image))
    try:
        if target != stored_size and image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale (still >= target): less memory and time.
            image.draft(None, target)
        image.load()  # force the full decode here, so a truncated file fails now and not later
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name}: cannot decode image, file is corrupt or truncated ({error})") from None
    try:
        rgb = to_rgb(image)
    except _DECODE_ERRORS as error:
        raise ImageError(f"{name}: cannot convert PIL mode {image.mode!r} to RGB ({error})") from None
    rgb = fit_within(rgb, max_side) if max_side is not None else rgb
    if orientation in _ORIENTATION:
        rgb = rgb.transpose(_ORIENTATION[orientation])
    info.downscaled = rgb.size != (w, h)
    return rgb, info


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> a new RGB image (CMYK, palette, 16-bit and float grey scaled, alpha over white)."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_bit_depth_to_rgb(image)
    if mode in _ALPHA_MODES or "transparency" in image.info:
        # Composite over white, as a browser or viewer shows a transparent photo on a page: the
        # colour stored under fully transparent pixels is arbitrary (often black) and not part of it.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # RGB (copy), L, 1, P, CMYK, YCbCr, HSV


def _high_bit_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer or float grey -> 8-bit RGB, scaled (not clipped) to keep brightness."""
    values = np.asarray(image).astype(np.float64)
    if image.mode == "F":
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = (0.0, 1.0) if values.min() >= 0.0 and values.max() <= 1.0 else (values.min(), values.max())
    elif image.mode == "I" and (values.min() < 0 or values.max() > 65535):
        low, high = values.min(), values.max()  # not 16-bit data in a 32-bit container: stretch
    else:
        low, high = 0.0, 65535.0  # I;16* and I holding 16-bit values (e.g. from a 16-bit PNG/TIFF)
    scale = 255.0 / (high - low) if high > low else 0.0
    grey = np.clip(np.rint((values - low) * scale), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except _DECODE_ERRORS:
        return 1  # unreadable EXIF: show the photo as stored


def _frame_count(image: Image.Image) -> int:
    try:
        return int(getattr(image, "n_frames", 1))
    except _DECODE_ERRORS:
        return 1  # counting frames seeks through the file; a broken later frame does not matter


def _fitted_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    w, h = size
    if max(w, h) <= max_side:
        return w, h
    if w >= h:
        return max_side, max(1, round(h * max_side / w))
    return max(1, round(w * max_side / h)), max_side


def _check_max_side(max_side: int) -> None:
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive int, got {max_side!r}")


def _bomb_error(name: str, detail: object) -> ImageError:
    return ImageError(
        f"{name}: refused as a possible decompression bomb ({detail}; limit {MAX_PIXELS:,} pixels); "
        "downscale the photo, or raise workbench.data.images.MAX_PIXELS if you trust the file"
    )


def _source_name(source: ImageSource) -> str:
    if hasattr(source, "read"):
        name = getattr(source, "name", None)
        return str(name) if isinstance(name, (str, bytes, os.PathLike)) else f"<{type(source).__name__}>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or a binary file object, got {type(source).__name__}")
    return os.fspath(source)


def _is_empty_stream(source: ImageSource) -> bool:
    if not hasattr(source, "read"):
        return os.path.getsize(source) == 0
    try:
        position = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(position)
        return end == 0
    except (OSError, AttributeError, ValueError):
        return False
