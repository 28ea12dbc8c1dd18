"""A synthetic, themed benchmark with known ground truth (SYNTHETIC, not AVA).

Each photo is a procedural scene (background, textures, a shaded subject, lighting and colour)
drawn from latent *attributes*, and each photo belongs to one *theme* whose voters score it by the
theme's own criterion. The attributes are chosen so that the paper's two claims can be tested:

- fine-scale attributes live near the Nyquist frequency of the full-resolution photo: ``grain``
  (a 1-px checker grain) and ``sharpness`` (whether 2-3 px line detail survives defocus); an
  antialiased resize to 299 px averages them away (claim 1: resize, resized padding);
- layout attributes (``thirds``, ``centering``, ``border_cut``) are defined on the whole frame and
  lost by a random 299 crop (claim 1: crop);
- geometry attributes (``aspect``, ``roundness``) are warped by a resize to a square (claim 1);
- global attributes (``blur``, ``warmth``, ``brightness``, ...) survive every view (a control);
- themes reward and punish the same attribute (``blur`` in "Motion Blur" vs "Color on Color") and
  differ in voter disagreement, so the theme changes the mean and the spread (claim 2).

Everything is deterministic: photo ``index`` of a dataset with ``seed`` is drawn from
``np.random.SeedSequence([seed, index])`` alone, so any photo can be regenerated on its own
(``generate_image(index, seed)``). docs/SYNTHETIC.md describes the benchmark.
"""
from __future__ import annotations

import argparse
import colorsys
import functools
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import correlate1d, gaussian_filter, uniform_filter1d
from scipy.special import ndtr

GENERATOR_VERSION = "1.0"  # bump whenever the same (seed, index) would give other pixels or votes
DATASET_NAME = "workbench-synthetic-themes"
NUM_BINS = 10
MIN_VOTERS, MAX_VOTERS = 78, 549  # the AVA range
MIN_LONG_SIDE, MAX_LONG_SIDE = 300, 800
JPEG_OPTIONS = {"quality": 95, "subsampling": 0}  # 4:4:4: the 1-px grain survives (tests check it)
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}

GRAIN_STD = 0.06  # std of the grain at grain = 1, in [0, 1] pixel units (about 15 / 255)
SENSOR_NOISE_STD = 1.2 / 255  # white luminance noise in every photo
DEFOCUS_SIGMA = 1.2  # Gaussian defocus in px at sharpness = 0 (none at sharpness = 1)
FINE_DETAIL = 0.06  # contrast of the 2-3 px line patterns that only sharp, full-resolution photos show
MOTION_BLUR = 0.045  # motion blur length at blur = 1, as a fraction of the long side (36 px at 800)
HARSH_VOTER_SHARE = 0.03  # voters who score every photo 3 points lower (AVA's odd low votes)
HARSH_VOTER_SHIFT = 3.0
IMAGE_NOISE_STD = 0.3  # quality of a photo that no attribute explains, in score points
FIT_PROBABILITY = 0.7  # chance that a theme-relevant attribute is drawn from the theme's prior


# --- themes and their criteria ---------------------------------------------------------------
# The criterion reads *features*: attributes mapped to [0, 1] (warmth and brightness to [-1, 1]).
# A score is ``base + sum_k weight_k * (feature_k - FEATURE_CENTRES[k])``: a photo with typical
# features gets ``base``.
FEATURE_CENTRES = {
    "sharpness": 0.7, "grain": 0.2, "blur": 0.15, "thirds": 0.3, "centering": 0.3, "border_cut": 0.05,
    "roundness": 0.6, "disc": 0.45, "tall": 0.25, "wide": 0.1, "warmth": 0.0, "brightness": 0.0,
    "exposure": 0.7, "saturation": 0.5, "haze": 0.2, "clutter": 0.35, "hue_match": 0.5, "subject_size": 0.35,
}  # fmt: skip

# What every voter likes a little, whatever the theme: sharp, steady, clean, well exposed, tidy.
GENERIC_WEIGHTS = {
    "sharpness": 1.5, "blur": -0.9, "grain": -1.0, "exposure": 1.0, "thirds": 0.4, "border_cut": -0.8,
    "clutter": -0.7, "saturation": 0.3, "haze": -0.5, "warmth": 0.2,
}  # fmt: skip
GENERIC_BASE = 5.5


@dataclass(frozen=True)
class Theme:
    """One challenge: its criterion, its voters' disagreement and the photos submitted to it."""

    name: str
    weights: dict[str, float]  # criterion terms that replace or add to the generic ones
    base: float = 5.4  # score of a photo at FEATURE_CENTRES; set so the theme's own photos average ~5.4
    generic_share: float = 0.6  # how much of the generic criterion the theme's voters keep
    spread: float = 1.3  # std of one voter's noise, in score points
    fans: float = 0.85  # share of voters who judge by the theme (the rest use the generic criterion)
    priors: dict[str, Any] = field(default_factory=dict)  # attribute -> prior for photos made for it
    frequency: float = 1.0  # relative number of photos


def _beta(a: float, b: float) -> tuple:
    return ("beta", a, b)


def _normal(mean: float, std: float) -> tuple:
    return ("normal", mean, std)


THEMES: tuple[Theme, ...] = (
    Theme("Motion Blur", {"blur": 2.2, "sharpness": 0.0}, base=4.7, spread=1.5, fans=0.75,
          priors={"blur": _beta(3, 1.5)}),
    Theme("Color on Color", {"hue_match": 1.6, "saturation": 1.2, "blur": -1.8, "haze": -0.8}, base=5.0, spread=1.1,
          fans=0.92, priors={"hue_match": _beta(5, 1), "saturation": _beta(4, 1.5)}),
    Theme("Film Grain", {"grain": 2.2, "saturation": -0.8, "sharpness": 0.4}, base=4.55, spread=1.75, fans=0.65,
          priors={"grain": _beta(2.5, 1.2), "saturation": _beta(1.5, 3)}, frequency=0.8),
    Theme("Minimalism", {"clutter": -2.2, "subject_size": -1.2, "grain": -0.8}, base=5.1, spread=1.5, fans=0.8,
          priors={"clutter": _beta(0.7, 3), "subject_size": _beta(1.2, 4)}),
    Theme("Macro Detail", {"sharpness": 2.4, "grain": -1.0, "subject_size": 1.2, "blur": -1.4}, base=5.35,
          spread=1.15, fans=0.9, priors={"sharpness": _beta(3, 1), "subject_size": _beta(4, 1.5), "scene": "studio"}),
    Theme("Rule of Thirds", {"thirds": 2.2, "centering": -1.0, "border_cut": -1.2}, base=4.45, spread=1.2,
          fans=0.9, priors={"position": "thirds"}),
    Theme("Harsh Environments", {"haze": 1.4, "saturation": -1.0, "warmth": -1.0, "brightness": -0.6, "grain": 0.6},
          base=4.7, spread=1.6, fans=0.75, generic_share=0.5,
          priors={"haze": _beta(3, 1.5), "warmth": _normal(-0.5, 0.3), "saturation": _beta(1.2, 3), "scene": "horizon"}),
    Theme("Landscape", {"haze": -1.2, "saturation": 0.8, "warmth": 0.6, "wide": 0.8}, base=5.6, spread=1.2,
          fans=0.9, priors={"haze": _beta(0.8, 5), "aspect": "wide", "scene": "horizon"}, frequency=1.2),
    Theme("Portrait Orientation", {"tall": 2.2, "wide": -0.8, "sharpness": 1.0, "centering": 0.5}, base=4.85,
          spread=1.25, fans=0.85, priors={"aspect": "portrait"}),
    Theme("Panorama", {"wide": 2.4, "tall": -1.0, "haze": -0.5}, base=4.3, spread=1.3, fans=0.85,
          priors={"aspect": "panorama", "scene": "horizon"}, frequency=0.8),
    Theme("Circles", {"roundness": 2.2, "disc": 1.2, "centering": 0.6}, base=4.85, spread=1.3, fans=0.85,
          priors={"roundness": _beta(4, 1), "shape": "disc"}),
    Theme("Golden Hour", {"warmth": 2.0, "brightness": 0.3, "saturation": 0.6}, base=5.0, spread=1.2, fans=0.9,
          priors={"warmth": _normal(0.55, 0.3), "scene": "horizon"}, frequency=1.2),
    Theme("Low Key", {"brightness": -2.0, "exposure": 0.0, "clutter": -0.8, "saturation": -0.3}, base=4.75,
          spread=1.45, fans=0.8, priors={"brightness": _normal(-0.55, 0.25), "scene": "studio"}),
    Theme("High Key", {"brightness": 2.0, "exposure": 0.0, "haze": 0.3, "saturation": -0.6}, base=4.75,
          spread=1.45, fans=0.8, priors={"brightness": _normal(0.55, 0.25), "scene": "studio"}),
    Theme("Symmetry", {"centering": 2.2, "thirds": -1.0, "roundness": 0.6}, base=4.5, spread=1.2, fans=0.88,
          priors={"position": "centre"}),
    Theme("Breaking the Frame", {"border_cut": 2.4, "centering": -0.5, "subject_size": 0.8}, base=3.45,
          spread=1.6, fans=0.7, priors={"position": "edge", "subject_size": _beta(4, 2)}, frequency=0.8),
)  # fmt: skip
_THEME_INDEX = {theme.name: index for index, theme in enumerate(THEMES)}


def theme_names() -> list[str]:
    """Theme names; list index = theme id (the line order of themes.txt)."""
    return [theme.name for theme in THEMES]


def _theme(theme: int | str | Theme) -> Theme:
    if isinstance(theme, Theme):
        return theme
    if isinstance(theme, (int, np.integer)):
        if not 0 <= theme < len(THEMES):
            raise ValueError(f"theme id {theme} is out of range 0..{len(THEMES) - 1}")
        return THEMES[int(theme)]
    if theme not in _THEME_INDEX:
        raise ValueError(f"unknown theme {theme!r}; known themes: {', '.join(theme_names())}")
    return THEMES[_THEME_INDEX[theme]]


# --- attributes ------------------------------------------------------------------------------
# Primary attributes are drawn; derived ones (thirds, centering, border_cut, aspect) follow from
# them. Amounts are in [0, 1]; warmth and brightness in [-1, 1].
GENERIC_PRIORS: dict[str, Any] = {
    "grain": ("zero_or_beta", 0.3, 1.0, 2.0),
    "sharpness": _beta(1.6, 1.0),
    "blur": ("zero_or_beta", 0.5, 1.2, 4.0),
    "subject_size": _beta(2.0, 3.0),
    "roundness": ("one_or_beta", 0.2, 2.5, 1.5),
    "warmth": _normal(0.0, 0.4),
    "brightness": _normal(0.0, 0.3),
    "saturation": _beta(2.5, 2.5),
    "haze": _beta(1.2, 4.0),
    "clutter": _beta(1.5, 2.5),
    "hue_match": _beta(1.0, 1.0),
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
        inside = _polygon_distance(u, v, 1.0, 1.0, sides) <= 0
    return np.stack([u[inside], v[inside]], axis=1)


def _derive(attributes: dict[str, Any]) -> dict[str, Any]:
    """Adds the attributes that follow from the primary ones (layout and frame geometry)."""
    a = attributes
    w, h = a["width"], a["height"]
    x, y = a["subject_x"], a["subject_y"]
    thirds_distance = min(math.hypot(x - tx, y - ty) for tx in (1 / 3, 2 / 3) for ty in (1 / 3, 2 / 3))
    major, minor = _subject_axes(a)
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


def _subject_axes(attributes: dict[str, Any]) -> tuple[float, float]:
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
    attribute_rng, _, _ = _streams(index, seed)
    return _attributes_from(attribute_rng, overrides)


def _streams(index: int, seed: int) -> list[np.random.Generator]:
    """Independent streams for the attributes, the pixels and the votes of one photo."""
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, index]).spawn(3)]


def _attributes_from(rng: np.random.Generator, overrides: dict[str, Any] | None) -> dict[str, Any]:
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(PRIMARY_ATTRIBUTES)
    if unknown:
        raise ValueError(f"overrides: {sorted(unknown)} are not primary attributes; use {PRIMARY_ATTRIBUTES}")
    frequencies = np.array([t.frequency for t in THEMES])
    theme_id = int(rng.choice(len(THEMES), p=frequencies / frequencies.sum()))
    if "theme" in overrides:
        theme_id = _THEME_INDEX[_theme(overrides["theme"]).name]
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


# --- scores ----------------------------------------------------------------------------------
def criterion_features(attributes: dict[str, Any]) -> dict[str, float]:
    """The features the criteria read, from the attributes (see FEATURE_CENTRES)."""
    a = attributes
    aspect = a["width"] / a["height"]
    return {
        "sharpness": a["sharpness"], "grain": a["grain"], "blur": a["blur"], "thirds": a["thirds"],
        "centering": a["centering"], "border_cut": min(1.0, a["border_cut"] * 4),
        "roundness": (a["roundness"] - 0.4) / 0.6, "disc": float(a["shape"] == "disc"),
        "tall": float(np.clip((1 / aspect - 1) / 0.5, 0, 1)), "wide": float(np.clip((aspect - 1.6) / 0.6, 0, 1)),
        "warmth": a["warmth"], "brightness": a["brightness"], "exposure": 1 - abs(a["brightness"]),
        "saturation": a["saturation"], "haze": a["haze"], "clutter": a["clutter"], "hue_match": a["hue_match"],
        "subject_size": a["subject_size"],
    }  # fmt: skip


def theme_weights(theme: int | str) -> dict[str, float]:
    """The full criterion of a theme: the generic weights, scaled, then the theme's own terms."""
    theme = _theme(theme)
    weights = {name: theme.generic_share * w for name, w in GENERIC_WEIGHTS.items()}
    weights.update(theme.weights)
    return weights


def _linear_score(features: dict[str, float], base: float, weights: dict[str, float]) -> float:
    return base + sum(w * (features[name] - FEATURE_CENTRES[name]) for name, w in weights.items())


def theme_quality(attributes: dict[str, Any], theme: int | str) -> float:
    """Noise-free quality of the photo in the eyes of the theme's voters, in score points."""
    theme = _theme(theme)
    return _linear_score(criterion_features(attributes), theme.base, theme_weights(theme))


def generic_quality(attributes: dict[str, Any]) -> float:
    """Noise-free quality for voters who ignore the theme."""
    return _linear_score(criterion_features(attributes), GENERIC_BASE, GENERIC_WEIGHTS)


def _discretised_normal(quality: float, spread: float) -> np.ndarray:
    """P(clip(round(quality + spread * z), 1, 10) = k) for k = 1..10."""
    edges = (np.arange(1, NUM_BINS) + 0.5 - quality) / spread
    cdf = np.concatenate([[0.0], ndtr(edges), [1.0]])
    return np.diff(cdf)


def _voter_groups(theme: Theme) -> tuple[float, float, float]:
    """Shares of (theme fans, theme-blind voters, harsh voters)."""
    fans = (1 - HARSH_VOTER_SHARE) * theme.fans
    return fans, (1 - HARSH_VOTER_SHARE) - fans, HARSH_VOTER_SHARE


def voter_spread(attributes: dict[str, Any], theme: int | str) -> float:
    """Std of one voter's noise: the theme's disagreement, from 0.9x (ordinary) to 1.1x (unusual photo)."""
    f = criterion_features(attributes)
    unusual = min(1.0, (f["blur"] + f["grain"] + f["haze"] + abs(f["brightness"]) + f["border_cut"]) / 2.5)
    return _theme(theme).spread * (0.9 + 0.2 * unusual)


def _distribution(quality: float, generic: float, spread: float, theme: Theme) -> np.ndarray:
    fans, blind, harsh = _voter_groups(theme)
    return (
        fans * _discretised_normal(quality, spread)
        + blind * _discretised_normal(generic, spread)
        + harsh * _discretised_normal(quality - HARSH_VOTER_SHIFT, spread)
    )


def expected_distribution(attributes: dict[str, Any], theme: int | str | None = None) -> np.ndarray:
    """Noise-free vote distribution ``[10]`` (sums to 1) of a photo judged under ``theme``.

    theme: name or id; ``None`` uses the photo's own theme (``attributes["theme"]``).
    """
    theme = _theme(attributes["theme"] if theme is None else theme)
    spread = voter_spread(attributes, theme)
    return _distribution(theme_quality(attributes, theme), generic_quality(attributes), spread, theme)


TRUTH_COLUMNS_EXCLUDED = ("gt_quality", "gt_generic_quality", "gt_image_noise", "gt_mean", "gt_std")  # scores, not attributes


def attributes_of_row(row: Any) -> dict[str, Any]:
    """A labels.csv row (a mapping with ``theme``, ``width``, ``height`` and the ``gt_*`` columns) -> the
    photo's attributes, as ``sample_attributes`` gives them: what ``expected_distribution`` reads."""
    attributes = {key[3:]: row[key] for key in row.keys() if str(key).startswith("gt_") and key not in TRUTH_COLUMNS_EXCLUDED}
    attributes.update(theme=row["theme"], width=int(row["width"]), height=int(row["height"]))
    return attributes


def truth_under_every_theme(table: pd.DataFrame, themes: Sequence[str] | None = None) -> np.ndarray:
    """Noise-free vote distributions ``[N, T, 10]`` of a benchmark table's photos judged under each theme.

    Why: the benchmark knows how every theme's voters would score every photo, which AVA never shows
    (one challenge per photo). A recipe may learn each theme's criterion from these (the demo model does,
    ``TrainConfig.head_targets``), and an evaluation can ask how far a theme switch moves the truth.
    themes: names in the order of the model's theme ids (default: ``theme_names()``).
    """
    missing = [column for column in ("theme", "width", "height", "gt_sharpness", "gt_thirds") if column not in table.columns]
    if missing:
        raise ValueError(f"the table has no {missing} columns: the truth under every theme needs the synthetic benchmark's labels")
    themes = list(theme_names() if themes is None else themes)
    truth = np.empty((len(table), len(themes), NUM_BINS))
    for row_index, (_, row) in enumerate(table.iterrows()):
        attributes = attributes_of_row(row)
        for theme_index, theme in enumerate(themes):
            truth[row_index, theme_index] = expected_distribution(attributes, theme)
    return truth


def distribution_moments(distribution: np.ndarray) -> tuple[float, float]:
    """(mean, std) of a distribution over the scores 1..K."""
    p = np.asarray(distribution, float) / np.sum(distribution)
    scores = np.arange(1, len(p) + 1)
    mean = float(p @ scores)
    return mean, float(math.sqrt(max(p @ (scores - mean) ** 2, 0.0)))


def sample_votes(attributes: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Vote counts ``[10]`` from 78-549 simulated voters, and the photo's unexplained quality."""
    theme = _theme(attributes["theme"])
    image_noise = float(rng.normal(0.0, IMAGE_NOISE_STD))
    voters = int(np.clip(round(rng.lognormal(math.log(210), 0.4)), MIN_VOTERS, MAX_VOTERS))
    quality = theme_quality(attributes, theme) + image_noise
    generic = generic_quality(attributes) + image_noise
    group = rng.choice(3, size=voters, p=_voter_groups(theme))
    opinion = np.choose(group, [quality, generic, quality - HARSH_VOTER_SHIFT])
    spread = voter_spread(attributes, theme)
    scores = np.clip(np.rint(opinion + spread * rng.standard_normal(voters)), 1, NUM_BINS).astype(int)
    return np.bincount(scores - 1, minlength=NUM_BINS), image_noise


# --- pixels ----------------------------------------------------------------------------------
def _rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, float(np.clip(saturation, 0, 1)), float(np.clip(value, 0, 1))), np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth random field ``[height, width]`` in about [-1, 1], ``cells`` bumps along the long side."""
    scale = cells / max(height, width)
    grid = rng.standard_normal((max(2, round(height * scale) + 2), max(2, round(width * scale) + 2))).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)) / 1.5


def _polygon_distance(u: np.ndarray, v: np.ndarray, major: float, minor: float, sides: int) -> np.ndarray:
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
    return _polygon_distance(u, v, major, minor, sides)


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
    major, minor = _subject_axes(a)
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
    attribute_rng, render_rng, _ = _streams(index, seed)
    attributes = _attributes_from(attribute_rng, overrides)
    return render(attributes, render_rng), attributes


# --- the dataset -----------------------------------------------------------------------------
def _split(index: int, seed: int, evaluation_photos: int | None = None) -> str:
    """train / val / test from the photo's own stream: a photo keeps its split whatever n.

    evaluation_photos: photos from this index on are all training photos, so a dataset grown for training
    keeps the validation and test photos of its first ``evaluation_photos`` (the benchmark's test split).
    """
    if evaluation_photos is not None and index >= evaluation_photos:
        return "train"
    u = np.random.default_rng(np.random.SeedSequence([seed, index]).spawn(4)[3]).random()
    return "train" if u < SPLIT_FRACTIONS["train"] else "val" if u < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["val"] else "test"


def _row(index: int, seed: int, images_dir: Path, digits: int, evaluation_photos: int | None = None) -> dict[str, Any]:
    """Renders, writes and labels one photo."""
    attribute_rng, render_rng, vote_rng = _streams(index, seed)
    attributes = _attributes_from(attribute_rng, None)
    image = render(attributes, render_rng)
    file_name = f"{index:0{digits}d}.jpg"
    image.save(images_dir / file_name, format="JPEG", **JPEG_OPTIONS)
    votes, image_noise = sample_votes(attributes, vote_rng)
    mean, std = distribution_moments(expected_distribution(attributes))
    row: dict[str, Any] = {"image": f"images/{file_name}", "split": _split(index, seed, evaluation_photos), "theme": attributes["theme"]}
    row.update({f"v{k + 1}": int(count) for k, count in enumerate(votes)})
    row.update(width=attributes["width"], height=attributes["height"])
    row.update({f"gt_{key}": value for key, value in attributes.items() if key not in ("theme", "width", "height")})
    row.update(
        gt_quality=theme_quality(attributes, attributes["theme"]), gt_generic_quality=generic_quality(attributes),
        gt_image_noise=image_noise, gt_mean=mean, gt_std=std,
    )  # fmt: skip
    return row


def _rows(indices: Sequence[int], seed: int, images_dir: str, digits: int, evaluation_photos: int | None = None) -> list[dict[str, Any]]:
    return [_row(index, seed, Path(images_dir), digits, evaluation_photos) for index in indices]


OUTPUTS = ("images", "labels.csv", "themes.txt", "dataset.json")


def generate_dataset(out_dir: str | os.PathLike, n: int, seed: int = 0, workers: int | None = None,
                     progress: bool = True, overwrite: bool = False, evaluation_photos: int | None = None) -> Path:  # fmt: skip
    """Writes ``n`` photos and their labels in the generic folder + CSV format; returns the folder.

    workers: processes (``None``: up to 2, the CPUs this is sized for; 1: this process). The output
        does not depend on it. overwrite: replace an earlier dataset's files (images/, labels.csv,
        themes.txt, dataset.json) in a non-empty ``out_dir``; without it a non-empty folder is refused.
    evaluation_photos: only the first this many photos are split into train / val / test; the rest are all
        training photos (more data for a recipe, the same validation and test photos as ``n=evaluation_photos``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if evaluation_photos is not None and not 1 <= evaluation_photos <= n:
        raise ValueError(f"evaluation_photos must be in [1, n={n}], got {evaluation_photos}")
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} is a file; give a folder for the dataset")
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{root} is not empty; choose an empty folder or pass overwrite=True (--overwrite)")
        for name in OUTPUTS:
            path = root / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    images_dir = root / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    workers = min(2, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    digits = max(6, len(str(n - 1)))
    size = max(1, min(16, n // (4 * workers)))  # chunks small enough to keep every worker busy
    chunks = [range(start, min(start + size, n)) for start in range(0, n, size)]
    arguments = (chunks, [seed] * len(chunks), [str(images_dir)] * len(chunks), [digits] * len(chunks), [evaluation_photos] * len(chunks))

    from tqdm.auto import tqdm

    pool = None
    if workers == 1:
        results = map(_rows, *arguments)
    else:
        # fork where there is one: workers inherit the imported modules (workbench.data imports
        # torch) instead of importing them again; they run only numpy, scipy and PIL code
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
        results = pool.map(_rows, *arguments)  # forks now, before the progress bar starts a thread
    rows: list[dict[str, Any]] = []
    try:
        with tqdm(total=n, desc="synth", unit="photo", disable=not progress) as bar:
            for chunk_rows in results:
                rows += chunk_rows
                bar.update(len(chunk_rows))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    labels = pd.DataFrame(rows)
    labels.to_csv(root / "labels.csv", index=False, float_format="%.6g")
    (root / "themes.txt").write_text("".join(f"{name}\n" for name in theme_names()))
    metadata = {
        "name": DATASET_NAME,
        "description": (
            "SYNTHETIC benchmark, not AVA: procedural photos with known attributes, themed criteria and "
            "simulated AVA-like votes (docs/SYNTHETIC.md). Use it to test full-resolution and theme-aware "
            "models; do not report its numbers as AVA results."
        ),
        "synthetic": True,
        "num_bins": NUM_BINS,
        "seed": seed,
        "n": n,
        "evaluation_photos": evaluation_photos,  # None: every photo split 80/10/10; else photos from this index on are all train
        "generator_version": GENERATOR_VERSION,
        "image_format": "JPEG quality 95, 4:4:4",
        "splits": {split: int((labels["split"] == split).sum()) for split in SPLIT_FRACTIONS},
    }
    (root / "dataset.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench synth --out DIR --n N --seed S``."""
    parser = argparse.ArgumentParser(
        prog="python -m workbench synth",
        description="Write the synthetic themed benchmark (SYNTHETIC, not AVA) as a folder + labels.csv.",
    )
    parser.add_argument("--out", required=True, help="folder to write (must be empty unless --overwrite)")
    parser.add_argument("--n", type=int, default=2000, help="number of photos (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier dataset in --out")
    parser.add_argument("--evaluation-photos", type=int, default=None,
                        help="split only the first this many photos into train/val/test; the rest are training photos "
                             "(e.g. --n 16000 --evaluation-photos 6000: the 6,000-photo benchmark's val/test, 14,000+ train)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.n < 1 or args.seed < 0:
        parser.error("--n must be >= 1 and --seed >= 0")
    if args.evaluation_photos is not None and not 1 <= args.evaluation_photos <= args.n:
        parser.error("--evaluation-photos must be in [1, --n]")
    start = time.perf_counter()
    try:
        root = generate_dataset(args.out, args.n, args.seed, args.workers, not args.quiet, args.overwrite, args.evaluation_photos)
    except (FileExistsError, NotADirectoryError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    seconds = time.perf_counter() - start
    print(f"wrote {args.n} synthetic photos to {root} in {seconds:.1f} s ({60 * args.n / seconds:.0f} photos/min)",
          file=sys.stderr)  # fmt: skip
    return 0
