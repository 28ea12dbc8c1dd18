"""The synthetic benchmark's photo attributes (SYNTHETIC, not AVA): what each photo is, drawn from seeds.

Why a module of its own: a photo's latent attributes (its theme, size, layout, subject, grain,
sharpness, blur, colour ...) are the benchmark's ground truth, read by the truth model
(``synth_truth``: how voters score them), the renderer (``synth_render``: how they look) and the
studies that redraw a photo with one attribute changed; drawing them needs no pixel. Photo
``index`` of a dataset with ``seed`` is drawn from ``np.random.SeedSequence([seed, index])`` alone
(``photo_streams``), so any photo's attributes can be drawn on their own (``sample_attributes``).
A change that gives other attributes for the same (seed, index) bumps ``synth.GENERATOR_VERSION``.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from workbench.data.synth_truth import THEME_IDS, THEMES, beta_prior, normal_prior, resolve_theme

MIN_LONG_SIDE, MAX_LONG_SIDE = 300, 800
FIT_PROBABILITY = 0.7  # chance that a theme-relevant attribute is drawn from the theme's prior

# Primary attributes are drawn; derived ones (thirds, centering, border_cut, aspect) follow from
# them. Amounts are in [0, 1]; warmth and brightness in [-1, 1].
GENERIC_PRIORS: dict[str, Any] = {
    "grain": ("zero_or_beta", 0.3, 1.0, 2.0),
    "sharpness": beta_prior(1.6, 1.0),
    "blur": ("zero_or_beta", 0.5, 1.2, 4.0),
    "subject_size": beta_prior(2.0, 3.0),
    "roundness": ("one_or_beta", 0.2, 2.5, 1.5),
    "warmth": normal_prior(0.0, 0.4),
    "brightness": normal_prior(0.0, 0.3),
    "saturation": beta_prior(2.5, 2.5),
    "haze": beta_prior(1.2, 4.0),
    "clutter": beta_prior(1.5, 2.5),
    "hue_match": beta_prior(1.0, 1.0),
    "position": "any",
    "aspect": "any",
    "shape": "any",
    "scene": "any",
}
POSITION_MODES = ("centre", "thirds", "uniform", "edge")
SHAPES = ("disc", "box", "polygon")
SCENES = ("horizon", "studio", "field")
# Long side over short side: AVA photos cluster at 3:2, 4:3 and 1:1 (the paper's Fig. 6).
STANDARD_RATIOS = (1.5, 4 / 3, 1.0, 16 / 9, 1.25)
STANDARD_RATIO_PROBABILITIES = (0.42, 0.2, 0.1, 0.05, 0.06)  # the remaining 0.17: any ratio in [1, 2.5]
COMMON_LONG_SIDES = (500, 600, 640, 700, 720, 750, 800)
COMMON_LONG_SIDE_PROBABILITIES = (0.05, 0.1, 0.15, 0.05, 0.3, 0.05, 0.3)

PRIMARY_ATTRIBUTES = (
    "theme", "width", "height", "scene", "shape", "polygon_sides", "subject_x", "subject_y", "subject_angle",
    "subject_size", "roundness", "grain", "sharpness", "blur", "blur_vertical", "warmth", "brightness",
    "saturation", "haze", "clutter", "hue_match", "background_hue", "subject_hue",
)  # fmt: skip
DERIVED_ATTRIBUTES = ("aspect", "thirds", "centering", "border_cut")
_RANGES = {
    name: (0.0, 1.0)
    for name in ("subject_size", "grain", "sharpness", "blur", "saturation", "haze", "clutter", "hue_match",
                 "background_hue", "subject_hue")  # fmt: skip
} | {"warmth": (-1.0, 1.0), "brightness": (-1.0, 1.0), "roundness": (0.4, 1.0)}


def _draw(rng: np.random.Generator, prior: tuple) -> float:
    kind = prior[0]
    if kind == "beta":
        return float(rng.beta(prior[1], prior[2]))
    if kind == "normal":
        return float(np.clip(rng.normal(prior[1], prior[2]), -1.0, 1.0))
    if kind == "zero_or_beta":  # a share of photos without any
        return 0.0 if rng.random() < prior[1] else float(rng.beta(prior[2], prior[3]))
    if kind == "one_or_beta":  # a share of exactly round subjects
        return 1.0 if rng.random() < prior[1] else float(rng.beta(prior[2], prior[3]))
    raise ValueError(f"unknown prior {prior!r}")


def _sample_size(rng: np.random.Generator, aspect_mode: str) -> tuple[int, int]:
    """(width, height) like an AVA photo; aspect_mode: 'any', 'portrait', 'wide' or 'panorama'."""
    pick = rng.random()
    if pick < 0.55:
        long_side = float(rng.choice(COMMON_LONG_SIDES, p=COMMON_LONG_SIDE_PROBABILITIES))
    elif pick < 0.9:
        long_side = rng.uniform(500, MAX_LONG_SIDE)
    else:
        long_side = rng.uniform(MIN_LONG_SIDE, 500)
    pick = rng.random()
    if aspect_mode == "panorama":
        ratio = rng.uniform(1.8, 2.5)
    elif aspect_mode == "wide":
        ratio = rng.choice((1.5, 16 / 9, 2.0, rng.uniform(1.5, 2.5)), p=(0.4, 0.25, 0.1, 0.25))
    elif pick < sum(STANDARD_RATIO_PROBABILITIES):
        ratio = rng.choice(STANDARD_RATIOS, p=np.array(STANDARD_RATIO_PROBABILITIES) / sum(STANDARD_RATIO_PROBABILITIES))
    else:
        ratio = math.exp(rng.uniform(0.0, math.log(2.5)))
    portrait_share = {"any": 0.28, "portrait": 0.9}.get(aspect_mode, 0.0)
    portrait = rng.random() < portrait_share
    if portrait:
        ratio = min(ratio, 2.0)  # tall photos stay at aspect >= 0.5
    short_side = max(round(long_side / ratio), 16)
    long_side = round(long_side)
    return (short_side, long_side) if portrait else (long_side, short_side)


def _sample_position(rng: np.random.Generator, mode: str) -> tuple[float, float]:
    if mode == "any":
        mode = POSITION_MODES[rng.choice(4, p=(0.3, 0.3, 0.3, 0.1))]
    if mode == "centre":
        return tuple(np.clip(0.5 + rng.normal(0, 0.03, 2), 0.3, 0.7))
    if mode == "thirds":
        x, y = rng.choice((1 / 3, 2 / 3), 2)
        return tuple(np.clip((x, y) + rng.normal(0, 0.025, 2), 0.15, 0.85))
    if mode == "edge":
        near, across = rng.uniform(0.0, 0.1), rng.uniform(0.2, 0.8)
        near = near if rng.random() < 0.5 else 1 - near
        return (near, across) if rng.random() < 0.5 else (across, near)
    return tuple(rng.uniform(0.15, 0.85, 2))


def polygon_distance(u: np.ndarray, v: np.ndarray, major: float, minor: float, sides: int) -> np.ndarray:
    """Signed distance (in the units of u, v) to a regular polygon stretched to (major, minor)."""
    distance = None
    for k in range(sides):
        a0, a1 = 2 * math.pi * k / sides, 2 * math.pi * (k + 1) / sides
        x0, y0, x1, y1 = major * math.cos(a0), minor * math.sin(a0), major * math.cos(a1), minor * math.sin(a1)
        nx, ny = y1 - y0, x0 - x1
        norm = math.hypot(nx, ny)
        d = ((u - x0) * nx + (v - y0) * ny) / norm
        distance = d if distance is None else np.maximum(distance, d)
    return distance


@functools.lru_cache(maxsize=None)
def _shape_points(shape: str, sides: int) -> np.ndarray:
    """A fixed grid of points ``float[P, 2]`` filling the unit shape, to measure area fractions."""
    g = (np.arange(32) + 0.5) / 16 - 1
    u, v = np.meshgrid(g, g)
    u, v = u.ravel(), v.ravel()
    if shape == "disc":
        inside = u**2 + v**2 <= 1
    elif shape == "box":
        inside = np.ones_like(u, bool)
    else:
        inside = polygon_distance(u, v, 1.0, 1.0, sides) <= 0
    return np.stack([u[inside], v[inside]], axis=1)


def _derive(attributes: dict[str, Any]) -> dict[str, Any]:
    """Adds the attributes that follow from the primary ones (layout and frame geometry)."""
    a = attributes
    w, h = a["width"], a["height"]
    x, y = a["subject_x"], a["subject_y"]
    thirds_distance = min(math.hypot(x - tx, y - ty) for tx in (1 / 3, 2 / 3) for ty in (1 / 3, 2 / 3))
    major, minor = subject_axes(a)
    points = _shape_points(a["shape"], a["polygon_sides"])
    cos, sin = math.cos(a["subject_angle"]), math.sin(a["subject_angle"])
    px = x * w + points[:, 0] * major * cos - points[:, 1] * minor * sin
    py = y * h + points[:, 0] * major * sin + points[:, 1] * minor * cos
    outside = (px < 0) | (px > w) | (py < 0) | (py > h)
    a["aspect"] = w / h
    a["thirds"] = max(0.0, 1 - thirds_distance / 0.15)
    a["centering"] = max(0.0, 1 - math.hypot(x - 0.5, y - 0.5) / 0.15)
    a["border_cut"] = float(outside.mean())
    return a


def subject_axes(attributes: dict[str, Any]) -> tuple[float, float]:
    """(major, minor) semi-axes of the subject in pixels."""
    short_side = min(attributes["width"], attributes["height"])
    major = (0.06 + 0.39 * attributes["subject_size"]) * short_side
    return major, major * attributes["roundness"]


def sample_attributes(index: int, seed: int = 0, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The attributes of photo ``index`` (its theme, size, layout, ...) without drawing a pixel.

    overrides: primary attributes to set (e.g. ``{"grain": 0.0}``) before the derived ones are
        computed; everything else stays as drawn, so the same scene can be rendered with one
        attribute changed (``theme`` is the exception: the photo is drawn as one made for that
        theme; to score the same photo under another theme use ``expected_distribution``).
    """
    attribute_rng, _, _ = photo_streams(index, seed)
    return draw_attributes(attribute_rng, overrides)


def photo_streams(index: int, seed: int) -> list[np.random.Generator]:
    """Independent streams for the attributes, the pixels and the votes of one photo."""
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, index]).spawn(3)]


def draw_attributes(rng: np.random.Generator, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """A photo's attributes from its attribute stream (``photo_streams(index, seed)[0]``); see ``sample_attributes``."""
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(PRIMARY_ATTRIBUTES)
    if unknown:
        raise ValueError(f"overrides: {sorted(unknown)} are not primary attributes; use {PRIMARY_ATTRIBUTES}")
    frequencies = np.array([t.frequency for t in THEMES])
    theme_id = int(rng.choice(len(THEMES), p=frequencies / frequencies.sum()))
    if "theme" in overrides:
        theme_id = THEME_IDS[resolve_theme(overrides["theme"]).name]
    theme = THEMES[theme_id]

    def prior(name: str) -> Any:
        fits = rng.random() < FIT_PROBABILITY  # drawn for every attribute: a fixed number of draws
        return theme.priors[name] if fits and name in theme.priors else GENERIC_PRIORS[name]

    a: dict[str, Any] = {"theme": theme.name}
    a["width"], a["height"] = _sample_size(rng, prior("aspect"))
    scene = prior("scene")
    a["scene"] = SCENES[rng.choice(3, p=(0.45, 0.3, 0.25))] if scene == "any" else scene
    shape = prior("shape")
    a["shape"] = SHAPES[rng.choice(3, p=(0.45, 0.3, 0.25))] if shape == "any" else shape
    a["polygon_sides"] = int(rng.integers(5, 9))
    a["subject_x"], a["subject_y"] = (float(v) for v in _sample_position(rng, prior("position")))
    a["subject_angle"] = float(rng.uniform(0, math.pi))
    for name in ("subject_size", "grain", "sharpness", "blur", "warmth", "brightness", "saturation", "haze",
                 "clutter", "hue_match"):  # fmt: skip
        a[name] = _draw(rng, prior(name))
    a["roundness"] = 0.4 + 0.6 * _draw(rng, prior("roundness"))
    a["blur_vertical"] = bool(rng.random() < 0.25)
    a["background_hue"] = float(rng.random())
    hue_side = 1 if rng.random() < 0.5 else -1
    for name, value in overrides.items():
        low, high = _RANGES.get(name, (-math.inf, math.inf))
        if isinstance(value, (int, float)) and not low <= value <= high:
            raise ValueError(f"overrides: {name} must be in [{low}, {high}], got {value}")
        a[name] = value
    a["theme"] = theme.name
    if "subject_hue" not in overrides:
        a["subject_hue"] = float((a["background_hue"] + hue_side * (1 - a["hue_match"]) * 0.5) % 1.0)
    elif "hue_match" not in overrides:
        distance = abs(a["subject_hue"] - a["background_hue"]) % 1.0
        a["hue_match"] = 1 - 2 * min(distance, 1 - distance)
    return _derive(a)

