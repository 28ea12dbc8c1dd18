"""The synthetic benchmark's truth model (SYNTHETIC, not AVA): themes, their criteria and their voters.

Why a module of its own: everything that says how a photo *scores* lives here, apart from how its
attributes are drawn (``synth_attributes``) and how it is painted (``synth_render``). A photo's
attributes go in, its noise-free quality and vote distribution under any theme come out
(``expected_distribution``, ``truth_under_every_theme`` for a labels table), or simulated votes
(``sample_votes``). It draws no pixel, so the analyses, the demo and the training recipe that use
the truth need none of the renderer. docs/SYNTHETIC.md describes the benchmark; a change that gives
other votes for the same (seed, index) bumps ``synth.GENERATOR_VERSION``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtr

NUM_BINS = 10
MIN_VOTERS, MAX_VOTERS = 78, 549  # the AVA range
HARSH_VOTER_SHARE = 0.03  # voters who score every photo 3 points lower (AVA's odd low votes)
HARSH_VOTER_SHIFT = 3.0
IMAGE_NOISE_STD = 0.3  # quality of a photo that no attribute explains, in score points


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


def beta_prior(a: float, b: float) -> tuple:
    """A Beta(a, b) prior for an amount in [0, 1] (read by ``synth_attributes``)."""
    return ("beta", a, b)


def normal_prior(mean: float, std: float) -> tuple:
    """A normal prior clipped to [-1, 1] (warmth, brightness)."""
    return ("normal", mean, std)


THEMES: tuple[Theme, ...] = (
    Theme("Motion Blur", {"blur": 2.2, "sharpness": 0.0}, base=4.7, spread=1.5, fans=0.75,
          priors={"blur": beta_prior(3, 1.5)}),
    Theme("Color on Color", {"hue_match": 1.6, "saturation": 1.2, "blur": -1.8, "haze": -0.8}, base=5.0, spread=1.1,
          fans=0.92, priors={"hue_match": beta_prior(5, 1), "saturation": beta_prior(4, 1.5)}),
    Theme("Film Grain", {"grain": 2.2, "saturation": -0.8, "sharpness": 0.4}, base=4.55, spread=1.75, fans=0.65,
          priors={"grain": beta_prior(2.5, 1.2), "saturation": beta_prior(1.5, 3)}, frequency=0.8),
    Theme("Minimalism", {"clutter": -2.2, "subject_size": -1.2, "grain": -0.8}, base=5.1, spread=1.5, fans=0.8,
          priors={"clutter": beta_prior(0.7, 3), "subject_size": beta_prior(1.2, 4)}),
    Theme("Macro Detail", {"sharpness": 2.4, "grain": -1.0, "subject_size": 1.2, "blur": -1.4}, base=5.35,
          spread=1.15, fans=0.9, priors={"sharpness": beta_prior(3, 1), "subject_size": beta_prior(4, 1.5), "scene": "studio"}),
    Theme("Rule of Thirds", {"thirds": 2.2, "centering": -1.0, "border_cut": -1.2}, base=4.45, spread=1.2,
          fans=0.9, priors={"position": "thirds"}),
    Theme("Harsh Environments", {"haze": 1.4, "saturation": -1.0, "warmth": -1.0, "brightness": -0.6, "grain": 0.6},
          base=4.7, spread=1.6, fans=0.75, generic_share=0.5,
          priors={"haze": beta_prior(3, 1.5), "warmth": normal_prior(-0.5, 0.3), "saturation": beta_prior(1.2, 3), "scene": "horizon"}),
    Theme("Landscape", {"haze": -1.2, "saturation": 0.8, "warmth": 0.6, "wide": 0.8}, base=5.6, spread=1.2,
          fans=0.9, priors={"haze": beta_prior(0.8, 5), "aspect": "wide", "scene": "horizon"}, frequency=1.2),
    Theme("Portrait Orientation", {"tall": 2.2, "wide": -0.8, "sharpness": 1.0, "centering": 0.5}, base=4.85,
          spread=1.25, fans=0.85, priors={"aspect": "portrait"}),
    Theme("Panorama", {"wide": 2.4, "tall": -1.0, "haze": -0.5}, base=4.3, spread=1.3, fans=0.85,
          priors={"aspect": "panorama", "scene": "horizon"}, frequency=0.8),
    Theme("Circles", {"roundness": 2.2, "disc": 1.2, "centering": 0.6}, base=4.85, spread=1.3, fans=0.85,
          priors={"roundness": beta_prior(4, 1), "shape": "disc"}),
    Theme("Golden Hour", {"warmth": 2.0, "brightness": 0.3, "saturation": 0.6}, base=5.0, spread=1.2, fans=0.9,
          priors={"warmth": normal_prior(0.55, 0.3), "scene": "horizon"}, frequency=1.2),
    Theme("Low Key", {"brightness": -2.0, "exposure": 0.0, "clutter": -0.8, "saturation": -0.3}, base=4.75,
          spread=1.45, fans=0.8, priors={"brightness": normal_prior(-0.55, 0.25), "scene": "studio"}),
    Theme("High Key", {"brightness": 2.0, "exposure": 0.0, "haze": 0.3, "saturation": -0.6}, base=4.75,
          spread=1.45, fans=0.8, priors={"brightness": normal_prior(0.55, 0.25), "scene": "studio"}),
    Theme("Symmetry", {"centering": 2.2, "thirds": -1.0, "roundness": 0.6}, base=4.5, spread=1.2, fans=0.88,
          priors={"position": "centre"}),
    Theme("Breaking the Frame", {"border_cut": 2.4, "centering": -0.5, "subject_size": 0.8}, base=3.45,
          spread=1.6, fans=0.7, priors={"position": "edge", "subject_size": beta_prior(4, 2)}, frequency=0.8),
)  # fmt: skip
THEME_IDS = {theme.name: index for index, theme in enumerate(THEMES)}


def theme_names() -> list[str]:
    """Theme names; list index = theme id (the line order of themes.txt)."""
    return [theme.name for theme in THEMES]


def resolve_theme(theme: int | str | Theme) -> Theme:
    """The ``Theme`` of an id or a name (a ValueError names the known themes)."""
    if isinstance(theme, Theme):
        return theme
    if isinstance(theme, (int, np.integer)):
        if not 0 <= theme < len(THEMES):
            raise ValueError(f"theme id {theme} is out of range 0..{len(THEMES) - 1}")
        return THEMES[int(theme)]
    if theme not in THEME_IDS:
        raise ValueError(f"unknown theme {theme!r}; known themes: {', '.join(theme_names())}")
    return THEMES[THEME_IDS[theme]]


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
    theme = resolve_theme(theme)
    weights = {name: theme.generic_share * w for name, w in GENERIC_WEIGHTS.items()}
    weights.update(theme.weights)
    return weights


def _linear_score(features: dict[str, float], base: float, weights: dict[str, float]) -> float:
    return base + sum(w * (features[name] - FEATURE_CENTRES[name]) for name, w in weights.items())


def theme_quality(attributes: dict[str, Any], theme: int | str) -> float:
    """Noise-free quality of the photo in the eyes of the theme's voters, in score points."""
    theme = resolve_theme(theme)
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
    return resolve_theme(theme).spread * (0.9 + 0.2 * unusual)


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
    theme = resolve_theme(attributes["theme"] if theme is None else theme)
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
    theme = resolve_theme(attributes["theme"])
    image_noise = float(rng.normal(0.0, IMAGE_NOISE_STD))
    voters = int(np.clip(round(rng.lognormal(math.log(210), 0.4)), MIN_VOTERS, MAX_VOTERS))
    quality = theme_quality(attributes, theme) + image_noise
    generic = generic_quality(attributes) + image_noise
    group = rng.choice(3, size=voters, p=_voter_groups(theme))
    opinion = np.choose(group, [quality, generic, quality - HARSH_VOTER_SHIFT])
    spread = voter_spread(attributes, theme)
    scores = np.clip(np.rint(opinion + spread * rng.standard_normal(voters)), 1, NUM_BINS).astype(int)
    return np.bincount(scores - 1, minlength=NUM_BINS), image_noise

