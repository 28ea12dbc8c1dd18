"""Gradio demo: a photo's predicted score distribution at full resolution, under any theme.

    python app.py [--checkpoint checkpoints/demo.pt] [--port 7860] [--host 127.0.0.1] [--device cpu]

The predictor is loaded once, at import (``--checkpoint``, else ``$WORKBENCH_CHECKPOINT``, else
``checkpoints/demo.pt``); callbacks are thin and call ``workbench.predict.Predictor``. The page
shows the padded canvas with the photo's ROI, the distributions with and without the chosen theme,
the four views (full / resize / resized_pad / crop) and a ranking of the themes. Switching the theme
re-reads cached backbone features (per photo content and view), so only the head runs again, and
re-sends only what depends on the theme: the summary, the table and the histograms, which are native
Gradio bar plots (a few rows of JSON, drawn by the browser). Images and the ranking are sent once per photo.

Without a UI: ``analyze(path, theme) -> Page`` and ``switch_theme(page.state, theme) -> Page``;
``clear_cache()`` empties the feature cache (for benchmarks).
"""
from __future__ import annotations

import argparse
import atexit
import csv
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # offline: no telemetry, no version check

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from workbench.checkpoints import CheckpointError  # noqa: E402
from workbench.data.augment import TRANSFORMS, test_samples  # noqa: E402
from workbench.data.images import ImageError, ImageInfo, load_image_with_info  # noqa: E402
from workbench.metrics import per_image_distances  # noqa: E402
from workbench.predict import NO_THEME_NAME, Features, Predictor, summarize  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "demo.pt"
CHECKPOINT_COMMAND = "make demo-checkpoint"  # how the default checkpoint is made (Makefile)
EXAMPLES_DIR = ROOT / "examples"
CACHE_PHOTOS = 32  # photos whose features (all four views) stay cached; each entry is a few kB + a thumbnail
CONCURRENCY_LIMIT = 2  # analyses at once: torch already uses every core within one forward pass
SWITCH_CONCURRENCY_LIMIT = 8  # theme switches run only the head, so they need not wait behind analyses
QUEUE_SIZE = 64  # requests waiting beyond this are refused ("queue full") rather than piling up
MAX_UPLOAD = "200mb"  # a 64-megapixel photo (the largest load_image accepts) as uncompressed TIFF is 192 MB
DISPLAY_SIDE = 480  # px: the canvas preview's side
THUMBNAIL_SIDE = 320  # px: view thumbnails kept in the cache for drawing
TOP_THEMES = 5
ROI_COLOUR = (255, 64, 64)
PADDING_GREY = (40, 40, 40)
WITH_THEME = "with the theme"  # the with-theme histogram's series: a fixed name, whatever the theme
VIEW_TITLES = {"full": "full (pad + ROI)", "resize": "resize", "resized_pad": "resized_pad", "crop": "crop"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the workbench demo (Gradio).")
    parser.add_argument("--checkpoint", default=os.environ.get("WORKBENCH_CHECKPOINT", str(DEFAULT_CHECKPOINT)))
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def load_predictor(path: str | os.PathLike, device: str = "cpu") -> Predictor:
    """The predictor the page uses; a missing checkpoint names itself and the command that makes it."""
    if not Path(path).is_file():
        raise CheckpointError(
            f"checkpoint {path} not found. Make the demo checkpoint with `{CHECKPOINT_COMMAND}` "
            "(synthetic benchmark + CPU training), or pass --checkpoint PATH / set WORKBENCH_CHECKPOINT."
        )
    return Predictor.from_checkpoint(path, device=device)


ARGS = parse_args() if __name__ == "__main__" else None
try:
    predictor = load_predictor(
        ARGS.checkpoint if ARGS else os.environ.get("WORKBENCH_CHECKPOINT", str(DEFAULT_CHECKPOINT)),
        ARGS.device if ARGS else "cpu",
    )
except CheckpointError as error:
    if __name__ == "__main__":
        sys.exit(f"app.py: {error}")
    raise


# --- the feature cache: (photo content hash, view) -> features + the view's thumbnail ----------


@dataclass(frozen=True)
class CachedView:
    features: Features  # values Tensor[1, 1, D]
    thumbnail: np.ndarray  # uint8[h, w, 3], the view image as the network sees it, shrunk for drawing
    size: tuple[int, int]  # (w, h) of the view image the network sees


_cache: OrderedDict[tuple[str, str], CachedView] = OrderedDict()
_cache_lock = threading.Lock()


# The page's images as webp files, one per photo (content hash) and view, removed with the cache entry
# (and at exit). Gradio would encode a PIL image itself, in place, to a path named by its content: two
# sessions showing the same photo at once could then serve a half-written file (the load test did).
# Removed at exit, not by a TemporaryDirectory finaliser: a module imported twice (tests reload it)
# would have its first folder collected early, with a ResourceWarning.
IMAGE_DIR = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
atexit.register(shutil.rmtree, IMAGE_DIR, ignore_errors=True)


def image_file(name: str, draw: Callable[[], Image.Image | np.ndarray]) -> str:
    """``IMAGE_DIR/name.webp``, drawn and written once, atomically (written aside, then renamed)."""
    path = IMAGE_DIR / f"{name}.webp"
    if not path.exists():
        image = draw()
        image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        handle, staging = tempfile.mkstemp(dir=IMAGE_DIR, suffix=".tmp")
        os.close(handle)
        image.save(staging, format="webp")
        os.replace(staging, path)
    return str(path)


def clear_cache() -> None:
    """Forget every cached feature and image file (benchmarks time a cold analysis after this)."""
    with _cache_lock:
        _cache.clear()
        for path in IMAGE_DIR.glob("*.webp"):
            path.unlink(missing_ok=True)


def cache_info() -> dict[str, int]:
    with _cache_lock:
        return {"entries": len(_cache), "max_entries": CACHE_PHOTOS * len(TRANSFORMS)}


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes: the same photo uploaded twice (any name) hits the cache."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def view_features(
    key: str, photo: Image.Image | None, load_photo: Callable[[], Image.Image] | None = None
) -> dict[str, CachedView]:
    """The four views' features of one photo, from the cache or from one padded backbone batch."""
    with _cache_lock:
        found = {view: _cache[(key, view)] for view in TRANSFORMS if (key, view) in _cache}
        for view in found:
            _cache.move_to_end((key, view))
    missing = [view for view in TRANSFORMS if view not in found]
    if missing:
        photo = photo if photo is not None else load_photo()
        features = predictor.features([photo], view=missing)  # one padded batch of the missing views
        for view in missing:
            image = view_image(photo, view)
            found[view] = CachedView(features.select(view), _thumbnail(image), image.size)
        with _cache_lock:
            for view in missing:
                _cache[(key, view)] = found[view]
            while len(_cache) > CACHE_PHOTOS * len(TRANSFORMS):
                evicted, view = _cache.popitem(last=False)[0]
                for name in (view, "canvas") if view == "full" else (view,):
                    (IMAGE_DIR / f"{evicted}-{name}.webp").unlink(missing_ok=True)
    return {view: found[view] for view in TRANSFORMS}


def view_image(photo: Image.Image, view: str) -> Image.Image:
    """The image the network sees for ``view`` (no test-time augmentation)."""
    return test_samples(photo, view, tta=False, canvas=predictor.canvas)[0]


def _thumbnail(image: Image.Image) -> np.ndarray:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return np.asarray(small)


# --- drawing and tables (pure functions of arrays, tested directly) ---------------------------


def canvas_with_roi(photo: Image.Image, canvas: int, display_side: int = DISPLAY_SIDE) -> Image.Image:
    """The padded canvas the model sees, drawn at ``display_side`` px: the photo top-left on a grey
    field, its ROI (the region ROI pooling reads) outlined."""
    scale = display_side / canvas
    w, h = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
    field = Image.new("RGB", (display_side, display_side), PADDING_GREY)
    field.paste(photo.resize((w, h), Image.Resampling.BILINEAR), (0, 0))
    draw = ImageDraw.Draw(field)
    line = max(2, display_side // 160)
    draw.rectangle((0, 0, w - 1, h - 1), outline=ROI_COLOUR, width=line)
    font = ImageFont.load_default(size=max(10, display_side // 32))
    label = f"ROI {photo.width}x{photo.height}"
    corner = (line + 5, max(line + 5, h - line - 5))  # bottom-left inside the ROI (the page's label covers the top)
    box = draw.textbbox(corner, label, font=font, anchor="ld")
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
    draw.text(corner, label, fill=ROI_COLOUR, font=font, anchor="ld")
    # Label the padding in its larger free band (right of or below the photo) if the text fits there.
    left, top = (w, 0) if display_side - w >= display_side - h else (0, h)
    for text in (f"padding (canvas {canvas}x{canvas})", "padding"):
        if draw.textlength(text, font=font) + 8 <= display_side - left and font.size + 8 <= display_side - top:
            centre = ((left + display_side) / 2, (top + display_side) / 2)
            draw.text(centre, text, fill=(200, 200, 200), font=font, anchor="mm")
            break
    return field


def photo_description(name: str, info: ImageInfo, photo: Image.Image, canvas: int) -> str:
    """Markdown: true size and aspect ratio, what was converted, and a note when it was downscaled."""
    w, h = info.original_size
    ratio = max(w, h) / min(w, h)
    orientation = "square" if w == h else "landscape" if w > h else "portrait"
    lines = [
        f"**{name}**: {w} × {h} px, aspect ratio {ratio:.2f} : 1 ({orientation}), "
        f"{info.format or 'unknown format'}, stored as {info.mode}"
    ]
    if info.mode not in ("RGB", "L"):
        lines.append(f"Converted from {info.mode} to RGB.")
    if info.frames > 1:
        lines.append(f"Animated ({info.frames} frames): the first frame is scored.")
    if info.downscaled:
        lines.append(
            f"⚠ **Downscaled** from {w} × {h} to {photo.width} × {photo.height} to fit the "
            f"{canvas} × {canvas} canvas the model works on."
        )
    padding = 1 - photo.width * photo.height / canvas**2
    lines.append(
        f"Padded top-left onto the {canvas} × {canvas} canvas ({padding:.0%} padding); ROI pooling reads "
        f"only the photo's {photo.width} × {photo.height} region."
    )
    return "  \n".join(lines)


def comparison_table(views: dict[str, np.ndarray], no_theme: np.ndarray, theme: str) -> pd.DataFrame:
    """Mean, std and EMD(r=1) of each view against ``full``, and of no theme against the theme.

    All rows in one call each (a theme switch recomputes this table)."""
    names = list(views)
    rows = np.stack([*views.values(), no_theme])  # [V + 1, K]
    stats = summarize(rows)
    emd = per_image_distances(rows, np.tile(views["full"], (len(rows), 1)))["emd1"]
    emd[names.index("full")] = 0.0
    table = pd.DataFrame({
        "view": names + ["full"], "theme": [theme] * len(names) + [NO_THEME_NAME], "mean": stats["mean"], "std": stats["std"],
        "EMD(r=1)": emd, "EMD against": ["—" if view == "full" else "full" for view in names] + [f"full, {theme}"],
    })  # fmt: skip
    return table.round({"mean": 3, "std": 3, "EMD(r=1)": 4})


def rank_themes(all_themes: np.ndarray, theme_names: list[str], top: int = TOP_THEMES) -> pd.DataFrame:
    """The ``top`` themes with the highest and the lowest predicted mean (all_themes [T, K])."""
    columns = ["rank", "theme", "mean", "std"]
    if len(theme_names) == 0:
        return pd.DataFrame(columns=columns)
    stats = summarize(all_themes)
    order = np.argsort(-stats["mean"], kind="stable")
    top = min(top, len(order))
    best = [(f"highest {i + 1}", order[i]) for i in range(top)]
    worst = [(f"lowest {i + 1}", order[-1 - i]) for i in range(min(top, len(order) - top))][::-1]
    rows = [{"rank": label, "theme": theme_names[t], "mean": stats["mean"][t], "std": stats["std"][t]}
            for label, t in best + worst]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).round({"mean": 3, "std": 3})


def histogram_frame(dist: np.ndarray, series: str) -> pd.DataFrame:
    """One histogram as a native plot's data (dist [K]): the browser draws it, the server sends ~10 rows.

    Scores are strings so the bars sit on a category axis (one bar per score, ordered by the plot's
    ``sort``). ``series`` picks the bars' colour from the plot's ``color_map``; it must not change
    with the theme (the browser keeps the colour domain of the first data it drew)."""
    return pd.DataFrame(
        {"score": [str(score) for score in range(1, len(dist) + 1)], "probability": np.round(dist, 4), "series": series}
    )


def histogram_top(distributions: np.ndarray) -> float:
    """The y-axis top shared by all of a photo's histograms, from its distributions under every theme:
    the bars compare at a glance and the axis does not jump when the theme changes."""
    return float(min(1.0, np.ceil(20 * np.max(distributions) + 1e-9) / 20))


# --- the analysis: what the page shows, callable without a UI ---------------------------------


@dataclass(frozen=True)
class PhotoState:
    """Per-session state: which photo is shown, under which theme (the features live in the cache)."""

    key: str
    path: str
    name: str
    theme: str = NO_THEME_NAME


@dataclass
class Page:
    """What the page shows for one photo and theme. The photo-level fields do not depend on the theme:
    ``analyze`` sets them, ``switch_theme`` leaves them ``None`` and the page keeps showing them."""

    state: PhotoState
    theme: str
    distributions: dict[str, np.ndarray]  # the four views under the theme, and NO_THEME_NAME
    summary: str
    table: pd.DataFrame
    info: str | None = None
    canvas: Image.Image | None = None
    views: dict[str, CachedView] | None = None  # each view's thumbnail and size
    ranking: pd.DataFrame | None = None
    histogram_top: float | None = None  # y-axis top of every histogram of this photo, under any theme


def analyze(path: str | os.PathLike | None, theme: str | None = NO_THEME_NAME) -> Page:
    """Load a photo, run the backbone on its four views (or take them from the cache), show it all."""
    if path is None:
        raise gr.Error("Upload a photo first.")
    path = os.fspath(path)
    name = Path(path).name
    theme = _theme_name(theme)
    try:
        photo, info = load_image_with_info(path, max_side=predictor.canvas)
    except ImageError as error:
        raise gr.Error(str(error).replace(path, name), title="Cannot use this file", print_exception=False) from None
    state = PhotoState(content_hash(path), path, name, theme)
    views = view_features(state.key, photo)
    page = _page(state, views)
    page.info = photo_description(name, info, photo, predictor.canvas)
    page.canvas = canvas_with_roi(photo, predictor.canvas)
    page.views = views
    # Head only: every view under every theme (the ranking, and the y scale of what a switch can show).
    under_every_theme = {view: predictor.predict_all_themes(cached.features)[0] for view, cached in views.items()}
    page.ranking = rank_themes(under_every_theme["full"], predictor.theme_names)
    page.histogram_top = histogram_top(np.concatenate([*under_every_theme.values(), page.distributions[NO_THEME_NAME][None]]))
    return page


def switch_theme(state: PhotoState, theme: str | None) -> Page:
    """The same photo under another theme: cached features, only the head runs."""
    theme = _theme_name(theme)

    def reload() -> Image.Image:  # only when the cache has evicted this photo
        try:
            return load_image_with_info(state.path, max_side=predictor.canvas)[0]
        except ImageError:
            raise gr.Error(f"{state.name} is no longer available; upload it again.") from None

    return _page(replace(state, theme=theme), view_features(state.key, None, reload))


def _theme_name(theme: str | None) -> str:
    try:
        theme_id = predictor.theme_id(theme)
    except (TypeError, ValueError) as error:
        raise gr.Error(str(error), title="Unknown theme", print_exception=False) from None
    return NO_THEME_NAME if theme_id < 0 else predictor.theme_names[theme_id]


def _page(state: PhotoState, views: dict[str, CachedView]) -> Page:
    """The theme-dependent part of the page (under ``state.theme``): what a theme switch recomputes."""
    theme = state.theme
    distributions = {view: predictor.predict_from_features(cached.features, theme)[0] for view, cached in views.items()}
    no_theme = predictor.predict_from_features(views["full"].features, None)[0]
    with_theme, without = summarize(distributions["full"]), summarize(no_theme)
    summary = (
        f"### Predicted mean score: {with_theme['mean']:.3f} (std {with_theme['std']:.3f}) under theme *{theme}*\n"
        f"Without a theme: {without['mean']:.3f} (std {without['std']:.3f}). Full view, scores 1–{predictor.num_bins}."
    )
    return Page(
        state=state,
        theme=theme,
        distributions={**distributions, NO_THEME_NAME: no_theme},
        summary=summary,
        table=comparison_table(distributions, no_theme, theme),
    )


# --- the page ---------------------------------------------------------------------------------


def example_rows() -> list[list[str]]:
    """[photo path, theme] for each example in examples/ (examples.csv gives their themes)."""
    listing = EXAMPLES_DIR / "examples.csv"
    if listing.is_file():
        with open(listing, newline="") as handle:
            rows = [[str(EXAMPLES_DIR / row["file"]), row["theme"]] for row in csv.DictReader(handle)]
    else:
        rows = [[str(path), NO_THEME_NAME] for path in sorted(EXAMPLES_DIR.glob("*.jpg"))]
    known = {name.casefold() for name in predictor.theme_names}
    return [[path, theme if theme.casefold() in known else NO_THEME_NAME] for path, theme in rows if Path(path).is_file()]


def model_banner() -> str:
    lines = [f"**Model:** {predictor.describe()} (`{Path(predictor.card.get('checkpoint', '')).name}`)"]
    if predictor.card.get("data", {}).get("synthetic"):
        lines.append(
            "⚠ This model was **trained on synthetic data, not AVA**: its scores show how the method "
            "works, they are not judgements of real photos."
        )
    return "  \n".join(lines)


def build_demo() -> gr.Blocks:
    theme_choices = [NO_THEME_NAME] + predictor.theme_names
    # Native bar plots: the browser draws them from ~10 rows of JSON, so a theme switch sends almost nothing.
    bars = {"x": "score", "y": "probability", "color": "series", "sort": [str(s) for s in range(1, predictor.num_bins + 1)],
            "y_lim": [0, 1], "x_title": "score", "colors_in_legend": []}  # fmt: skip
    with gr.Blocks(title="workbench: theme-aware aesthetic scores") as blocks:
        gr.Markdown(
            "# Theme-aware aesthetic score distributions at full resolution\n"
            "The photo is zero-padded top-left into one canvas and the backbone pools only over the "
            "photo's own region (ROI pooling), so it is never resized or cropped. The theme "
            "(a challenge's topic) shifts what voters reward."
        )
        gr.Markdown(model_banner(), elem_id="model-banner")
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.File(label="Photo (any size)", type="filepath", elem_id="photo")
                theme = gr.Dropdown(theme_choices, value=NO_THEME_NAME, label="Theme (type to search)",
                                    filterable=True, elem_id="theme")  # fmt: skip
                gr.Examples(example_rows(), inputs=[photo, theme], label="Examples (synthetic benchmark photos)")
            with gr.Column(scale=2):
                info = gr.Markdown("Upload a photo or pick an example.", elem_id="photo-info")
                canvas = gr.Image(label="Padded canvas: the photo's ROI in red", type="filepath", interactive=False,
                                  elem_id="canvas", height=DISPLAY_SIDE + 20)  # fmt: skip
        summary = gr.Markdown(elem_id="summary")
        with gr.Row():
            theme_histogram = gr.BarPlot(label="Full view, with the chosen theme", elem_id="histogram-theme", scale=2,
                                         color_map={WITH_THEME: "#4c78a8"}, **bars)  # fmt: skip
            no_theme_histogram = gr.BarPlot(label=f"Full view, {NO_THEME_NAME}", elem_id="histogram-no-theme", scale=2,
                                            color_map={NO_THEME_NAME: "#888888"}, **bars)  # fmt: skip
            ranking = gr.Dataframe(label=f"Themes under which this photo scores highest / lowest (top {TOP_THEMES})",
                                   interactive=False, scale=3, elem_id="ranking")  # fmt: skip
        gr.Markdown("**The four views:** what the network sees (shown once per photo), and its prediction under the chosen theme")
        view_images, view_histograms = {}, {}
        with gr.Row():
            for view in TRANSFORMS:
                with gr.Column(min_width=200):
                    view_images[view] = gr.Image(label=VIEW_TITLES.get(view, view), type="filepath", interactive=False,
                                                 height=240, elem_id=f"view-{view}")  # fmt: skip
                    view_histograms[view] = gr.BarPlot(label=f"{view}: predicted scores", elem_id=f"histogram-{view}",
                                                       color_map={view: "#4c78a8" if view == "full" else "#f58518"}, **bars)  # fmt: skip
        table = gr.Dataframe(label="Mean, std and EMD(r=1) of each view against full, and of no theme against the theme",
                             interactive=False, elem_id="table")  # fmt: skip
        with gr.Accordion("About this model (checkpoint card)", open=False):
            gr.JSON(predictor.card)

        histograms = [theme_histogram, no_theme_histogram, *view_histograms.values()]
        outputs = [state, info, canvas, summary, *histograms, *view_images.values(), table, ranking]
        # A switch re-sends only what depends on the theme; the canvas, the view images, the ranking
        # and the no-theme histogram stay as they are.
        switch_outputs = [state, summary, theme_histogram, *view_histograms.values(), table]

        def show(page: Page, shown: list) -> dict:
            values = {state: page.state, summary: page.summary, table: page.table}
            histogram_data = {theme_histogram: histogram_frame(page.distributions["full"], WITH_THEME)}
            histogram_data |= {plot: histogram_frame(page.distributions[view], view) for view, plot in view_histograms.items()}
            if page.views is not None:  # a new photo: its theme-independent parts, and its histograms' y scale
                key = page.state.key
                values |= {info: page.info, ranking: page.ranking, canvas: image_file(f"{key}-canvas", lambda: page.canvas)}
                histogram_data[no_theme_histogram] = histogram_frame(page.distributions[NO_THEME_NAME], NO_THEME_NAME)
                for view, image in view_images.items():
                    w, h = page.views[view].size
                    path = image_file(f"{key}-{view}", lambda view=view: page.views[view].thumbnail)
                    values[image] = gr.Image(path, label=f"{VIEW_TITLES.get(view, view)}: {w}×{h}")
            for plot, data in histogram_data.items():  # a switch sends plain data: a property update costs more
                values[plot] = data if page.views is None else gr.BarPlot(data, y_lim=[0, page.histogram_top])
            return {component: value for component, value in values.items() if component in shown}

        def on_photo(path: str | None, theme_value: str) -> dict:
            if path is None:  # cleared
                return {state: None, info: "Upload a photo or pick an example.", canvas: None, summary: "",
                        table: None, ranking: None, **dict.fromkeys([*histograms, *view_images.values()])}  # fmt: skip
            return show(analyze(path, theme_value), outputs)

        def on_theme(path: str | None, theme_value: str, current: PhotoState | None) -> dict:
            if path is None:
                return gr.skip()
            if current is None or current.path != path:  # the photo's analysis has not landed yet, or an API call
                return show(analyze(path, theme_value), switch_outputs)
            return show(switch_theme(current, theme_value), switch_outputs)

        def after_photo(path: str | None, theme_value: str, current: PhotoState | None) -> dict:
            """The theme may have changed while the photo was analysed: show the one now chosen."""
            if current is None or current.path != path or current.theme == _theme_name(theme_value):
                return gr.skip()
            return show(switch_theme(current, theme_value), switch_outputs)

        switch = {"concurrency_limit": SWITCH_CONCURRENCY_LIMIT, "concurrency_id": "switch"}
        photo.change(on_photo, [photo, theme], outputs, api_name="analyze").success(
            after_photo, [photo, theme, state], switch_outputs, api_visibility="private", show_progress="hidden", **switch
        )  # fmt: skip
        # .input: only the user's choice, not the value an example sets along with its photo.
        theme.input(on_theme, [photo, theme, state], switch_outputs, api_name="switch_theme", **switch)
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return blocks


demo = build_demo()

if __name__ == "__main__":
    demo.launch(server_name=ARGS.host, server_port=ARGS.port, max_file_size=MAX_UPLOAD)
