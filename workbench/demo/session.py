"""What the demo page shows for a photo under a theme, computed without any UI.

``DemoSession`` holds the predictor, the feature cache (by photo content) and the registry of
benchmark photos; ``analyze`` and ``switch_theme`` return a ``Page``. The Gradio app only lays the
page out and wires events to these calls; tests and benchmarks call them directly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from PIL import Image

from workbench.data.augment import TRANSFORMS
from workbench.data.images import ImageError, load_image_with_info
from workbench.demo.benchmark import BenchmarkPhoto, BenchmarkRegistry, save_benchmark_photo
from workbench.demo.cache import CachedPhoto, CachedView, FeatureCache, content_hash
from workbench.demo.drawing import canvas_with_roi, thumbnail
from workbench.demo.store import DRAWN_KEPT, keep_newest
from workbench.demo.tables import (
    TRUTH, comparison_table, histogram_top, movement_table, photo_description, rank_themes,
)  # fmt: skip
from workbench.explain import score_heat_map
from workbench.model import NO_THEME
from workbench.predict import NO_THEME_NAME, Features, Predictor, summarize


GUESSED_THEMES = 3  # the summary names the themes a photo most looks like (models with no_theme="posterior")


@dataclass(frozen=True)
class PhotoState:
    """Per-session state: which photo is shown, under which theme (the features live in the cache)."""

    key: str
    path: str
    name: str
    theme_id: int = NO_THEME  # -1: no theme; the page's name for it is ``DemoSession.theme_label``
    benchmark: BenchmarkPhoto | None = None  # set when the photo is one of the synthetic benchmark's
    model: str = ""  # the session's name: which model analysed it (the page may offer several)


@dataclass
class Page:
    """What the page shows for one photo and theme. The photo-level fields do not depend on the theme:
    ``analyze`` sets them, ``switch_theme`` leaves them ``None`` and the page keeps showing them."""

    state: PhotoState
    theme: str
    distributions: dict[str, np.ndarray]  # the four views under the theme, and NO_THEME_NAME
    summary: str
    table: pd.DataFrame
    truth: np.ndarray | None = None  # the benchmark's true distribution under the theme (None: not a benchmark photo)
    truth_theme: str | None = None  # the theme the truth is judged under (the photo's own when no theme is chosen)
    movement: pd.DataFrame | None = None  # a redrawn benchmark photo: truth and views, as drawn vs redrawn
    info: str | None = None
    canvas: Image.Image | None = None
    views: dict[str, CachedView] | None = None  # each view's thumbnail and size
    ranking: pd.DataFrame | None = None
    histogram_top: float | None = None  # y-axis top of every histogram of this photo, under any theme


class DemoSession:
    """The demo's logic: photos -> cached features -> pages, for any theme. Thread-safe.

    predictor: the model. max_photos: photos whose features stay cached. examples: an examples.csv
    (file, theme, index, seed) whose photos are recognised as benchmark photos (their truth is shown).
    folder: where photos drawn from the benchmark are written (a temp folder the app owns).
    name: what the page calls this model (its checkpoint's file name); recorded in each ``PhotoState``.
    benchmark: a registry shared with other sessions (a photo drawn under one model is known to all).
    max_drawn: drawn benchmark photos kept in ``folder`` (the most recently used; older ones are redrawn on demand).
    """

    def __init__(
        self,
        predictor: Predictor,
        max_photos: int = 32,
        examples: str | os.PathLike | None = None,
        folder: str | os.PathLike | None = None,
        on_evict: Callable[[str], None] | None = None,
        name: str = "",
        benchmark: BenchmarkRegistry | None = None,
        max_drawn: int = DRAWN_KEPT,
    ):
        self.predictor = predictor
        self.name = name
        self.cache = FeatureCache(max_photos, on_evict)
        self.benchmark = benchmark if benchmark is not None else BenchmarkRegistry()  # shared by the page's models
        self.folder = Path(folder) if folder is not None else None
        self.max_drawn = max_drawn
        if examples is not None:
            self.benchmark.register_examples(examples)

    # --- themes ---------------------------------------------------------------------------------

    def theme_id(self, theme: str | int | None) -> int:
        """The id of ``theme`` (a name, case-insensitive, an id, or None / "no theme" -> -1); ValueError if unknown.
        The page turns its dropdown's name into an id once; everything after works on the id."""
        try:
            return self.predictor.theme_id(theme)
        except TypeError as error:
            raise ValueError(str(error)) from None

    def theme_label(self, theme_id: int) -> str:
        """What the page calls theme ``theme_id``."""
        return NO_THEME_NAME if theme_id < 0 else self.predictor.theme_names[theme_id]

    def theme_name(self, theme: str | int | None) -> str:
        """The canonical name of ``theme`` (None / "no theme" -> "no theme"); ValueError if unknown."""
        return self.theme_label(self.theme_id(theme))

    # --- photos ---------------------------------------------------------------------------------

    def photo(self, key: str, path: str | os.PathLike, name: str | None = None) -> CachedPhoto:
        """The photo's cached entry, or load it and run the backbone on its four views (one padded batch)."""
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        predictor = self.predictor
        photo, info = load_image_with_info(path, max_side=predictor.canvas)  # ImageError names the file
        features = predictor.features([photo], view=list(TRANSFORMS), return_images=True)
        views = {}
        for view in TRANSFORMS:
            selected = features.select(view)
            image = selected.images[0][0]  # the view as the network saw it: drawn once, by the predictor
            views[view] = CachedView(Features(selected.values, selected.views), thumbnail(image), image.size, image)
        under_every_theme = {view: predictor.predict_all_themes(cached.features)[0] for view, cached in views.items()}
        guess = predictor.theme_posterior(views["full"].features)
        entry = CachedPhoto(key, views, info, photo.size, under_every_theme, photo, None if guess is None else guess[0])
        self.cache.put(entry)
        return entry

    def analyze(self, path: str | os.PathLike, theme: str | None = NO_THEME_NAME, name: str | None = None) -> Page:
        """Everything the page shows for a photo file under ``theme``.

        Raises ``ImageError`` (the file cannot be used; the message names the file by ``name`` only)
        or ``ValueError`` (unknown theme)."""
        if path is None:
            raise ValueError("no photo: upload a photo first")
        path = os.fspath(path)
        name = name or Path(path).name
        theme_id = self.theme_id(theme)
        try:
            key = content_hash(path)
            cached = self.photo(key, path)
        except ImageError as error:
            raise ImageError(str(error).replace(path, name)) from None
        except OSError as error:
            raise ImageError(f"{name}: cannot be read ({error.strerror or error})") from None
        state = PhotoState(key, path, name, theme_id, self.benchmark.lookup(key), self.name)
        page = self._page(state, cached)
        page.info = photo_description(name, cached.info, cached.fitted_size, self.predictor.canvas)
        if state.benchmark is not None:
            page.info += f"  \nA photo of the **synthetic benchmark**: {state.benchmark.label()}; its true score distribution is known."
        page.canvas = canvas_with_roi(cached.photo, self.predictor.canvas)
        page.views = cached.views
        page.ranking = rank_themes(cached.under_every_theme["full"], self.predictor.theme_names)
        every = [*cached.under_every_theme.values(), page.distributions[NO_THEME_NAME][None]]
        if page.truth is not None:
            every.append(page.truth[None])
        page.histogram_top = histogram_top(np.concatenate(every))
        return page

    def switch_theme(self, state: PhotoState, theme: str | None) -> Page:
        """The same photo under another theme: cached features, only the head runs."""
        theme_id = self.theme_id(theme)
        try:
            cached = self.photo(state.key, state.path)  # reloaded only when the cache has evicted it
        except (ImageError, OSError):
            raise ImageError(f"{state.name} is no longer available; upload it again.") from None
        return self._page(replace(state, theme_id=theme_id), cached)

    def _page(self, state: PhotoState, cached: CachedPhoto) -> Page:
        """The theme-dependent part of the page (under ``state.theme_id``): what a theme switch recomputes."""
        predictor, theme = self.predictor, self.theme_label(state.theme_id)
        distributions = {view: predictor.predict_from_features(entry.features, state.theme_id)[0] for view, entry in cached.views.items()}
        no_theme = predictor.predict_from_features(cached.views["full"].features, None)[0]
        truth = truth_theme = None
        if state.benchmark is not None:
            truth_theme = state.benchmark.truth_theme(theme)
            truth = state.benchmark.truth(truth_theme)
        summary = self._summary(theme, distributions["full"], no_theme, truth, truth_theme, cached.theme_guess)
        page = Page(
            state=state,
            theme=theme,
            distributions={**distributions, NO_THEME_NAME: no_theme},
            summary=summary,
            table=comparison_table(distributions, no_theme, theme, truth, truth_theme),
            truth=truth,
            truth_theme=truth_theme,
        )
        if state.benchmark is not None and state.benchmark.overrides:
            page.movement = self._movement(state, page)
        return page

    def _summary(self, theme, full, no_theme, truth, truth_theme, theme_guess=None) -> str:
        with_theme, without = summarize(full), summarize(no_theme)
        lines = [
            f"### Predicted mean score: {with_theme['mean']:.3f} (std {with_theme['std']:.3f}) under theme *{theme}*",
            f"Without a theme: {without['mean']:.3f} (std {without['std']:.3f}). Full view, scores 1–{self.predictor.num_bins}.",
        ]
        if theme_guess is not None:  # the no-theme prediction mixes the themes by this guess
            likely = np.argsort(-theme_guess, kind="stable")[:GUESSED_THEMES]
            names = ", ".join(f"*{self.predictor.theme_names[t]}* {theme_guess[t]:.0%}" for t in likely)
            lines.append(f"Without a theme the model weighs each theme by how much the photo looks like it: {names}, …")
        if truth is None:
            lines.append("*No truth for this photo: only photos of the synthetic benchmark (the examples, drawn ones) have one.*")
        else:
            true = summarize(truth)
            own = " (the photo's own theme; the prediction above was given no theme)" if theme == NO_THEME_NAME else ""
            lines.append(
                f"**Truth** (the benchmark's expected votes under *{truth_theme}*{own}): mean {true['mean']:.3f} "
                f"(std {true['std']:.3f}); the full view is off by {with_theme['mean'] - true['mean']:+.3f}."
            )
        return "  \n".join(lines)

    # --- the synthetic benchmark ------------------------------------------------------------------

    def draw_benchmark_photo(self, photo: BenchmarkPhoto) -> Path:
        """Draw a benchmark photo into ``folder`` and remember it as one (its truth is then shown)."""
        if self.folder is None:
            raise ValueError("DemoSession(folder=...) is needed to draw benchmark photos")
        path = self.folder / photo.file_name()
        if not path.is_file():
            path = save_benchmark_photo(photo, self.folder)
        self.benchmark.register(content_hash(path), photo)
        keep_newest(self.folder, "benchmark-*.jpg", self.max_drawn, path)  # one client drawing all day fills no disk
        return path

    def _movement(self, state: PhotoState, page: Page) -> pd.DataFrame:
        """Truth and each view's mean, the scene as drawn vs redrawn, under the page's theme."""
        base = state.benchmark.base
        path = self.draw_benchmark_photo(base)
        base_state = replace(state, key=content_hash(path), path=str(path), benchmark=base)
        before = self._page(base_state, self.photo(base_state.key, path))
        names = [TRUTH, *TRANSFORMS]

        def means(of: Page) -> dict[str, float]:
            return {name: summarize(of.truth if name == TRUTH else of.distributions[name])["mean"] for name in names}

        return movement_table(means(before), means(page))

    # --- where the score comes from -----------------------------------------------------------------

    def heat_map(self, state: PhotoState, view: str, theme: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(heat map float[h, w] in [-1, 1] over the view image's pixels, the view image uint8[h, w, 3])."""
        if view not in TRANSFORMS:
            raise ValueError(f"view must be one of {TRANSFORMS}, got {view!r}")
        theme_id = state.theme_id if theme is None else self.theme_id(theme)
        image = self.photo(state.key, state.path).views[view].image
        return score_heat_map(self.predictor.model, image, theme_id), np.asarray(image)
