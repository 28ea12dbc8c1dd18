"""Photos of the synthetic benchmark in the demo: their ground truth, and the same scene redrawn.

A benchmark photo is ``(index, seed)`` plus optional attribute overrides; its true expected vote
distribution under any theme is known (``expected_distribution``), so the page can put the truth
beside each view's prediction, and redraw the scene with one attribute changed to show how the
truth and each view's prediction move (``workbench.counterfactual`` does the same for many photos).
"""
from __future__ import annotations

import csv
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.synth import JPEG_OPTIONS
from workbench.data.synth_attributes import MAX_LONG_SIDE, sample_attributes
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import expected_distribution
from workbench.demo.cache import content_hash
from workbench.predict import NO_THEME_NAME

# The attributes a slider can set: (low, high, what it is). ``aspect`` sets width / height keeping the long side.
SLIDER_ATTRIBUTES: dict[str, tuple[float, float, str]] = {
    "grain": (0.0, 1.0, "film grain (1-px noise: resize averages it away)"),
    "sharpness": (0.0, 1.0, "sharpness (defocus at 0)"),
    "blur": (0.0, 1.0, "motion blur length"),
    "haze": (0.0, 1.0, "haze"),
    "clutter": (0.0, 1.0, "background clutter"),
    "saturation": (0.0, 1.0, "colour saturation"),
    "brightness": (-1.0, 1.0, "exposure"),
    "warmth": (-1.0, 1.0, "colour temperature"),
    "subject_size": (0.0, 1.0, "subject size"),
    "subject_x": (0.0, 1.0, "subject position, across (thirds at 0.33 / 0.67)"),
    "subject_y": (0.0, 1.0, "subject position, down (thirds at 0.33 / 0.67)"),
    "aspect": (0.4, 2.5, "aspect ratio width / height (long side kept)"),
}
MAX_REGISTERED = 256  # generated photos remembered by content (a few hundred bytes each)


@dataclass(frozen=True)
class BenchmarkPhoto:
    """Photo ``index`` of the benchmark drawn with ``seed``; ``overrides`` as sorted (name, value) pairs."""

    index: int
    seed: int = 0
    overrides: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self):
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ValueError(f"index must be an int >= 0, got {self.index!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        for name, value in self.overrides:
            if name not in SLIDER_ATTRIBUTES:
                raise ValueError(f"unknown attribute {name!r}; use one of {', '.join(SLIDER_ATTRIBUTES)}")
            low, high, _ = SLIDER_ATTRIBUTES[name]
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")

    def with_attribute(self, name: str, value: float) -> "BenchmarkPhoto":
        """The scene as the benchmark drew it with only ``name`` set to ``value``: earlier redraws do not pile
        up, so "one attribute changed" is always true of what the lab compares against the scene as drawn."""
        return BenchmarkPhoto(self.index, self.seed, ((name, round(float(value), 4)),))

    @property
    def base(self) -> "BenchmarkPhoto":
        """The scene as the benchmark drew it."""
        return BenchmarkPhoto(self.index, self.seed)

    def attributes(self) -> dict[str, Any]:
        """The scene's attributes (no pixels drawn)."""
        return sample_attributes(self.index, self.seed, self._synth_overrides())

    def draw(self):
        """(RGB image, attributes), as ``generate_image`` draws them."""
        return generate_image(self.index, self.seed, self._synth_overrides())

    def truth(self, theme: str | None = None) -> np.ndarray:
        """The true expected vote distribution ``[10]`` under ``theme`` (None: the photo's own theme)."""
        return expected_distribution(self.attributes(), theme)

    def truth_theme(self, theme: str) -> str:
        """The theme the page judges this photo's truth under: the chosen one, else (no theme chosen) the
        photo's own (the benchmark has no theme-free truth). The one place this rule is written."""
        return theme if theme != NO_THEME_NAME else self.attributes()["theme"]

    def label(self) -> str:
        changes = ", ".join(f"{name} = {value:g}" for name, value in self.overrides)
        return f"benchmark photo {self.index} (seed {self.seed})" + (f", redrawn with {changes}" if changes else "")

    def file_name(self) -> str:
        changes = "".join(f"-{name}{value:g}" for name, value in self.overrides)
        return f"benchmark-{self.index}-seed{self.seed}{changes}.jpg"

    def _synth_overrides(self) -> dict[str, Any]:
        overrides = dict(self.overrides)
        aspect = overrides.pop("aspect", None)
        if aspect is not None:  # width / height with the drawn long side kept
            drawn = sample_attributes(self.index, self.seed)
            long_side = min(max(drawn["width"], drawn["height"]), MAX_LONG_SIDE)
            width, height = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
            overrides |= {"width": int(width), "height": int(height)}
        return overrides

    def current_value(self, name: str) -> float:
        """The attribute's value in this scene (what the slider starts from)."""
        if name not in SLIDER_ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; use one of {', '.join(SLIDER_ATTRIBUTES)}")
        return float(self.attributes()[name])


class BenchmarkRegistry:
    """Which photo contents are benchmark photos: the examples (examples.csv) and the photos drawn here.

    Keyed by content hash, so a photo is recognised whatever its file name. Thread-safe.
    """

    def __init__(self):
        self._pinned: dict[str, BenchmarkPhoto] = {}  # the examples: always known
        self._drawn: OrderedDict[str, BenchmarkPhoto] = OrderedDict()  # drawn on the page: the latest MAX_REGISTERED
        self._lock = threading.Lock()

    def register(self, key: str, photo: BenchmarkPhoto, pinned: bool = False) -> None:
        with self._lock:
            if pinned:
                self._pinned[key] = photo
                return
            self._drawn[key] = photo
            self._drawn.move_to_end(key)
            while len(self._drawn) > MAX_REGISTERED:
                self._drawn.popitem(last=False)

    def lookup(self, key: str) -> BenchmarkPhoto | None:
        with self._lock:
            return self._pinned.get(key) or self._drawn.get(key)

    def register_examples(self, listing: str | os.PathLike) -> int:
        """Registers each example of examples.csv that is a benchmark photo; returns how many."""
        examples = [example for example in read_examples(listing) if example.photo is not None]
        for example in examples:
            self.register(content_hash(example.path), example.photo, pinned=True)
        return len(examples)


@dataclass(frozen=True)
class Example:
    """One row of examples.csv: the photo file, the theme the page opens it under, the benchmark scene if any."""

    path: Path
    theme: str
    photo: BenchmarkPhoto | None


def read_examples(listing: str | os.PathLike) -> list[Example]:
    """The examples whose files exist: examples.csv (file, theme[, index, seed]) in the photos' folder;
    without it, every .jpg there under no theme. The one reader of that file (the page and the registry)."""
    listing = Path(listing)
    if not listing.is_file():
        return [Example(path, NO_THEME_NAME, None) for path in sorted(listing.parent.glob("*.jpg"))]
    with open(listing, newline="") as handle:
        rows = list(csv.DictReader(handle))
    examples = []
    for row in rows:
        path = listing.parent / row["file"]
        if path.is_file():
            scene = BenchmarkPhoto(int(row["index"]), int(row.get("seed") or 0)) if row.get("index", "") != "" else None
            examples.append(Example(path, row.get("theme") or NO_THEME_NAME, scene))
    return examples


def save_benchmark_photo(photo: BenchmarkPhoto, folder: str | os.PathLike) -> Path:
    """Draw the photo and save it as the benchmark stores its photos (JPEG, 4:4:4, quality 95)."""
    image, _ = photo.draw()
    path = Path(folder) / photo.file_name()
    handle, staging = tempfile.mkstemp(dir=folder, suffix=".tmp")  # two sessions may draw the same photo at once
    os.close(handle)
    image.save(staging, format="JPEG", **JPEG_OPTIONS)
    os.replace(staging, path)
    return path
