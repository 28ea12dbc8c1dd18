"""The synthetic benchmark's renderer (SYNTHETIC, not AVA): a photo's pixels from its attributes.

Why a module of its own: painting a procedural scene (background, textures, clutter, a shaded
subject, lighting, colour, haze, motion blur, defocus, grain) is the one costly and long part of
the benchmark, and nothing that only scores photos needs it. ``render`` paints given attributes;
``generate_image(index, seed)`` draws photo ``index``'s attributes (``synth_attributes``) and paints
it from its own pixel stream, so any photo can be redrawn alone, or with one attribute changed.
The fine-scale attributes sit near the Nyquist frequency of the full-resolution photo (``grain``: a
1-px checker grain; ``sharpness``: whether 2-3 px line detail survives defocus), so a resize to
299 px averages them away (docs/SYNTHETIC.md). A change that gives other pixels for the same
(seed, index) bumps ``synth.GENERATOR_VERSION``.
"""
from __future__ import annotations

import colorsys
import math
from typing import Any

import numpy as np
from PIL import Image
from scipy.ndimage import correlate1d, gaussian_filter, uniform_filter1d

from workbench.data.synth_attributes import SHAPES, draw_attributes, photo_streams, polygon_distance, subject_axes

GRAIN_STD = 0.06  # std of the grain at grain = 1, in [0, 1] pixel units (about 15 / 255)
SENSOR_NOISE_STD = 1.2 / 255  # white luminance noise in every photo
DEFOCUS_SIGMA = 1.2  # Gaussian defocus in px at sharpness = 0 (none at sharpness = 1)
FINE_DETAIL = 0.06  # contrast of the 2-3 px line patterns that only sharp, full-resolution photos show
MOTION_BLUR = 0.045  # motion blur length at blur = 1, as a fraction of the long side (36 px at 800)


def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, float(np.clip(saturation, 0, 1)), float(np.clip(value, 0, 1))), np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth random field ``[height, width]`` in about [-1, 1], ``cells`` bumps along the long side."""
    scale = cells / max(height, width)
    grid = rng.standard_normal((max(2, round(height * scale) + 2), max(2, round(width * scale) + 2))).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)) / 1.5


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray, major: float, minor: float, sides: int) -> np.ndarray:
    """Signed distance in pixels to the shape (negative inside); u, v are pixel offsets along its axes."""
    if shape == "disc":
        f = (u / major) ** 2 + (v / minor) ** 2 - 1
        gradient = 2 * np.sqrt((u / major**2) ** 2 + (v / minor**2) ** 2) + 1e-6
        return f / gradient
    if shape == "box":
        corner = 0.15 * minor
        qx, qy = np.abs(u) - major + corner, np.abs(v) - minor + corner
        outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
        return outside + np.minimum(np.maximum(qx, qy), 0) - corner
    return polygon_distance(u, v, major, minor, sides)


def _box(cx: float, cy: float, reach: float, width: int, height: int) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Rows/columns within ``reach`` px of (cx, cy), clipped to the frame, and their pixel centres."""
    x0, x1 = max(0, int(cx - reach)), min(width, int(cx + reach) + 2)
    y0, y1 = max(0, int(cy - reach)), min(height, int(cy + reach) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    return slice(y0, y1), slice(x0, x1), xs, ys


def _blend(canvas: np.ndarray, rows: slice, cols: slice, alpha: np.ndarray, colour: np.ndarray) -> None:
    region = canvas[:, rows, cols]
    region += alpha * (colour[:, None, None] - region)


def _outer(shade: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``colour[3] * shade[h, w]`` -> ``float32[3, h, w]`` (channels first: long inner loops)."""
    return colour[:, None, None] * shade[None]


def _background(a: dict[str, Any], rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Sky and ground, a studio backdrop or a two-tone colour field, with textures."""
    palette_saturation = 0.1 + 0.75 * a["saturation"]
    hue = a["background_hue"]
    ys = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / height
    xs = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / width
    texture = _smooth_noise(rng, height, width, 4)
    detail = _smooth_noise(rng, height, width, 40)
    ridge = _smooth_noise(rng, 1, width, 6)[0]
    p = rng.random(8).tolist()  # a fixed number of draws whatever the scene
    base = _rgb(hue, palette_saturation, 0.45 + 0.25 * p[0])
    if a["scene"] == "horizon":
        sky_top = _rgb(0.58, 0.25 + 0.5 * palette_saturation, 0.75 + 0.2 * p[1])
        sunset = _rgb(0.07, 0.3 + 0.5 * palette_saturation, 0.8 + 0.15 * p[1])
        sky_top += 0.8 * max(a["warmth"], 0.0) * (sunset - sky_top)  # warm photos get a sunset sky
        sky_low = 0.45 * sky_top + 0.55 * 0.95
        horizon = (0.3 + 0.45 * p[2]) + (0.03 * (1 + p[3])) * ridge  # rolling hills
        below = ys - horizon
        t = np.clip(ys / horizon, 0, 1) ** 1.5
        canvas = _outer(t, sky_low - sky_top)
        canvas += sky_top[:, None, None]
        canvas += 0.05 * texture  # soft clouds
        depth = np.clip(below / (1.001 - horizon), 0, 1)
        ground = _outer((1.1 - 0.45 * depth) * (1 + 0.12 * texture + 0.06 * detail), base)
        edge = np.clip(below * height + 0.5, 0, 1)
        canvas += edge * (ground - canvas)
        return canvas
    if a["scene"] == "studio":
        lx, ly = 0.2 + 0.6 * p[4], 0.1 + 0.3 * p[5]
        light = np.exp(((xs - lx) ** 2 + (ys - ly) ** 2) * (-1 / 0.35))
        return _outer((0.55 + 0.6 * light) * (1 + 0.04 * texture), base)
    other = _rgb(hue + 0.08 * (p[6] - 0.5), palette_saturation * 0.8, 0.3 + 0.5 * p[7])
    split = (0.35 + 0.4 * p[2]) + ((p[3] - 0.5) * 0.6) * (xs - 0.5)
    edge = np.clip((ys - split) * height + 0.5, 0, 1)
    shade = 1 + 0.1 * texture + 0.08 * detail
    canvas = _outer(shade, base)
    canvas += _outer(edge * shade, other - base)
    return canvas


MAX_DISTRACTORS = 14
# ~Gaussian (sigma 1.4 px) with zero response at Nyquist: the envelope of the grain
_BINOMIAL = np.array([1, 8, 28, 56, 70, 56, 28, 8, 1], np.float32) / 256


def _add_distractors(canvas: np.ndarray, a: dict[str, Any], rng: np.random.Generator) -> None:
    """Clutter: up to 14 small shapes scattered over the background."""
    height, width = canvas.shape[1:]
    params = rng.random((MAX_DISTRACTORS, 8)).tolist()  # always drawn: clutter does not shift later draws
    count = round(a["clutter"] * MAX_DISTRACTORS)
    for p in params[:count]:
        cx, cy = p[0] * width, p[1] * height
        major = (0.015 + 0.05 * p[2]) * max(width, height)
        minor = major * (0.4 + 0.6 * p[3])
        box = _box(cx, cy, major + 2, width, height)
        if box is None:
            continue
        rows, cols, xs, ys = box
        angle = p[4] * math.pi
        u, v = xs * math.cos(angle) + ys * math.sin(angle), -xs * math.sin(angle) + ys * math.cos(angle)
        shape = SHAPES[int(p[5] * 3) % 3]
        alpha = np.clip(0.5 - _shape_distance(shape, u, v, major, minor, 6), 0, 1) * (0.55 + 0.4 * p[6])
        colour = _rgb(p[7], 0.1 + 0.7 * a["saturation"], 0.3 + 0.6 * p[6])
        _blend(canvas, rows, cols, alpha, colour)


def _add_subject(canvas: np.ndarray, a: dict[str, Any], rng: np.random.Generator) -> None:
    """The subject: a shaded disc, box or polygon with a soft shadow and a surface pattern."""
    height, width = canvas.shape[1:]
    p = rng.random(8).tolist()
    major, minor = subject_axes(a)
    cx, cy = a["subject_x"] * width, a["subject_y"] * height
    cos, sin = math.cos(a["subject_angle"]), math.sin(a["subject_angle"])
    lx, ly = -0.4 - 0.4 * p[0], -0.5 - 0.3 * p[1]  # light from the upper left
    norm = math.hypot(lx, ly)
    lx, ly = lx / norm, ly / norm

    # soft shadow, cast away from the light
    sx, sy = cx - lx * 0.25 * major, cy - ly * 0.25 * major + 0.1 * major
    box = _box(sx, sy, 1.6 * major, width, height)
    if box is not None:
        rows, cols, xs, ys = box
        r = np.sqrt((xs * (1 / (1.15 * major))) ** 2 + (ys * (1 / (1.035 * minor + 0.1 * major))) ** 2)
        canvas[:, rows, cols] *= 1 - 0.35 * np.clip((1.25 - r) * 2, 0, 1)

    box = _box(cx, cy, major + 2, width, height)
    if box is None:
        return
    rows, cols, xs, ys = box
    u, v = xs * cos + ys * sin, ys * cos - xs * sin
    alpha = np.clip(0.5 - _shape_distance(a["shape"], u, v, major, minor, a["polygon_sides"]), 0, 1)
    if a["shape"] == "disc":  # a sphere lit from the light direction
        nz = np.sqrt(np.clip(1 - (u * (1 / major)) ** 2 - (v * (1 / minor)) ** 2, 0, 1))
        lambert = np.clip((xs * (-0.8 * lx / major) + ys * (-0.8 * ly / major)) + 0.6 * nz, 0, 1)
        shade = 0.3 + 0.75 * lambert + 1.4 * np.clip(lambert - 0.75, 0, 1)  # with a highlight
    else:  # a flat face lit across
        shade = 0.75 - (0.35 / major) * (xs * lx + ys * ly)
    period = 8 + 16 * p[2]  # a pattern coarse enough for any view to keep
    direction = 3 * p[3]
    pattern = 1 + 0.08 * np.sin((u * math.cos(direction) + v * math.sin(direction)) * (2 * math.pi / period))
    colour = _rgb(a["subject_hue"], 0.2 + 0.75 * a["saturation"], 0.55 + 0.35 * p[4])
    region = canvas[:, rows, cols]
    region += alpha * (_outer(shade * pattern, colour) - region)


def render(attributes: dict[str, Any], rng: np.random.Generator) -> Image.Image:
    """The RGB photo of the given attributes (drawn channels first, ``float32[3, h, w]`` in [0, 1])."""
    a = attributes
    width, height = int(a["width"]), int(a["height"])
    canvas = _background(a, rng, height, width)
    _add_distractors(canvas, a, rng)
    _add_subject(canvas, a, rng)
    # fine texture (4 and 12 px) over everything, as real surfaces have, and a gentle vignette
    gain = 1 + 0.05 * _smooth_noise(rng, height, width, max(height, width) // 4)
    gain += 0.035 * _smooth_noise(rng, height, width, max(height, width) // 12)
    # fine detail: 2.2-2.6 px line patterns in patches (weave, foliage); the defocus below erases
    # them unless the photo is sharp, and any resize to 299 px erases them whatever the sharpness
    p = rng.random(4).tolist()
    columns = np.sin((2 * math.pi / (2.2 + 0.4 * p[0])) * np.arange(width, dtype=np.float32) + 6.3 * p[1])
    rows = np.sin((2 * math.pi / (2.2 + 0.4 * p[2])) * np.arange(height, dtype=np.float32) + 6.3 * p[3])
    patches = np.clip(0.5 + _smooth_noise(rng, height, width, 6), 0, 1)
    gain += FINE_DETAIL * (patches * columns[None, :] + (1 - patches) * rows[:, None])
    vignette = 2 * (0.15 + 0.25 * rng.random())
    ys = (np.arange(height, dtype=np.float32)[:, None] + 0.5) / height - 0.5
    xs = (np.arange(width, dtype=np.float32)[None, :] + 0.5) / width - 0.5
    gain *= 1 - vignette * (xs**2 + ys**2)
    # colour: white balance (warmth) and exposure (brightness)
    warmth, exposure = a["warmth"], 2.0 ** (1.3 * a["brightness"])
    canvas *= _outer(gain, np.array([1 + 0.22 * warmth, 1 + 0.04 * warmth, 1 - 0.22 * warmth], np.float32) * exposure)
    # haze: a grey-brown veil that lowers contrast
    veil = 0.65 * a["haze"]
    canvas *= 1 - veil
    canvas += veil * np.array([0.66, 0.63, 0.57], np.float32)[:, None, None]
    # motion blur along x or y, long enough for every view to keep
    length = int(round(a["blur"] * MOTION_BLUR * max(width, height)))
    if length >= 2:
        canvas = uniform_filter1d(canvas, size=length, axis=1 if a["blur_vertical"] else 2, mode="nearest")
    # defocus: at most 1.2 px, enough to erase the fine detail
    sigma = DEFOCUS_SIGMA * (1 - a["sharpness"])
    if sigma > 0.05:
        canvas = gaussian_filter(canvas, sigma=(0, sigma, sigma), truncate=3.0)
    # grain: smooth noise times a 1-px checkerboard, so its energy sits at the Nyquist corner of the
    # spectrum; an antialiased resize to 299 px leaves about 0.1-0.3 grey levels of it
    grain = correlate1d(correlate1d(rng.random((height, width), dtype=np.float32), _BINOMIAL, 0), _BINOMIAL, 1)
    grain -= grain.mean()
    grain[0::2, 1::2] *= -1
    grain[1::2, 0::2] *= -1
    grain *= GRAIN_STD * a["grain"] / max(float(grain.std()), 1e-6)
    # sensor noise: the same faint white noise in every photo, as in every real one
    grain += (SENSOR_NOISE_STD * 12**0.5) * (rng.random((height, width), dtype=np.float32) - 0.5)
    canvas += grain
    canvas *= 255
    canvas += 0.5
    channels = np.clip(canvas, 0, 255, out=canvas).astype(np.uint8)
    return Image.merge("RGB", [Image.fromarray(channel) for channel in channels])


def generate_image(index: int, seed: int = 0, overrides: dict[str, Any] | None = None) -> tuple[Image.Image, dict[str, Any]]:
    """Photo ``index`` of the dataset drawn with ``seed``, as (RGB image, attributes).

    overrides: see ``sample_attributes``; the rest of the scene (textures, clutter, grain noise)
        is unchanged, so two calls differing in one attribute give counterfactual photos.
    """
    attribute_rng, render_rng, _ = photo_streams(index, seed)
    attributes = draw_attributes(attribute_rng, overrides)
    return render(attributes, render_rng), attributes

