"""Gradio demo: a photo's predicted score distribution at full resolution, under any theme.

    python app.py [--checkpoint checkpoints/demo.pt] [--port 7860] [--host 127.0.0.1] [--device cpu]

The predictor is loaded once, at import (``--checkpoint``, else ``$WORKBENCH_CHECKPOINT``, else
``checkpoints/demo.pt``); callbacks are thin and call ``workbench.predict.Predictor``. The page
shows the padded canvas with the photo's ROI, the distributions with and without the chosen theme,
the four views (full / resize / resized_pad / crop) and a ranking of the themes. Switching the theme
re-reads cached backbone features (per photo content and view), so only the head runs again.

Without a UI: ``analyze(path, theme) -> Page`` and ``switch_theme(page.state, theme) -> Page``;
``clear_cache()`` empties the feature cache (for benchmarks).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # offline: no telemetry, no version check

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402  (no pyplot: figures are never registered globally)
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


def clear_cache() -> None:
    """Forget every cached feature (benchmarks time a cold analysis after this)."""
    with _cache_lock:
        _cache.clear()


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
                _cache.popitem(last=False)
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
    """Mean, std and EMD(r=1) of each view against ``full``, and of no theme against the theme."""
    full = views["full"]
    rows = []
    for view, dist in views.items():
        stats = summarize(dist)
        emd = 0.0 if view == "full" else float(per_image_distances(dist[None], full[None])["emd1"][0])
        rows.append({"view": view, "theme": theme, "mean": stats["mean"], "std": stats["std"],
                     "EMD(r=1)": emd, "EMD against": "—" if view == "full" else "full"})  # fmt: skip
    stats = summarize(no_theme)
    emd = float(per_image_distances(no_theme[None], full[None])["emd1"][0])
    rows.append({"view": "full", "theme": NO_THEME_NAME, "mean": stats["mean"], "std": stats["std"],
                 "EMD(r=1)": emd, "EMD against": f"full, {theme}"})  # fmt: skip
    return pd.DataFrame(rows).round({"mean": 3, "std": 3, "EMD(r=1)": 4})


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


def _histogram(ax, dist: np.ndarray, colour: str, title: str) -> None:
    scores = np.arange(1, len(dist) + 1)
    mean = summarize(dist)["mean"]
    ax.bar(scores, dist, color=colour, width=0.8)
    ax.axvline(mean, color="black", linestyle="--", linewidth=1)
    ax.set_title(f"{title}\nmean {mean:.2f}", fontsize=9)
    ax.set_xticks(scores)
    ax.set_xlabel("score")
    ax.tick_params(labelsize=7)


def theme_figure(with_theme: np.ndarray, without_theme: np.ndarray, theme: str) -> Figure:
    """Two histograms side by side: under the chosen theme, and without a theme."""
    figure = Figure(figsize=(7, 3))  # fixed margins: constrained layout costs more than the drawing
    figure.subplots_adjust(left=0.1, right=0.98, top=0.78, bottom=0.16, wspace=0.08)
    axes = figure.subplots(1, 2, sharey=True)
    _histogram(axes[0], with_theme, "tab:blue", f"theme: {theme}")
    _histogram(axes[1], without_theme, "tab:gray", NO_THEME_NAME)
    axes[0].set_ylabel("probability")
    figure.suptitle("Predicted score distribution (full view)", fontsize=10)
    return figure


def views_figure(
    distributions: dict[str, np.ndarray], thumbnails: dict[str, np.ndarray], sizes: dict[str, tuple[int, int]], theme: str
) -> Figure:
    """Each view's image (as the network sees it) above its histogram."""
    figure = Figure(figsize=(11, 5.2))
    figure.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.09, hspace=0.45, wspace=0.22)
    axes = figure.subplots(2, len(distributions), height_ratios=[1.2, 1])
    for column, (view, dist) in enumerate(distributions.items()):
        axes[0, column].imshow(thumbnails[view])
        axes[0, column].set_title(f"{VIEW_TITLES.get(view, view)}: {sizes[view][0]}×{sizes[view][1]}", fontsize=9)
        axes[0, column].axis("off")
        _histogram(axes[1, column], dist, "tab:blue" if view == "full" else "tab:orange", view)
        if column:
            axes[1, column].sharey(axes[1, 0])  # one scale, so the views compare at a glance
    axes[1, 0].set_ylabel("probability")
    figure.suptitle(f"Each view under theme: {theme}", fontsize=10)
    return figure


# --- the analysis: what the page shows, callable without a UI ---------------------------------


@dataclass
class PhotoState:
    """Per-session state: which photo is shown (the features live in the cache, not here)."""

    key: str
    path: str
    name: str


@dataclass
class Page:
    """Everything the page shows for one photo and theme. ``None`` fields are left as they are."""

    state: PhotoState
    theme: str
    distributions: dict[str, np.ndarray]  # the four views under the theme, and NO_THEME_NAME
    summary: str
    table: pd.DataFrame
    theme_plot: Figure
    views_plot: Figure
    info: str | None = None
    canvas: Image.Image | None = None
    ranking: pd.DataFrame | None = None


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
    state = PhotoState(content_hash(path), path, name)
    views = view_features(state.key, photo)
    page = _page(state, theme, views)
    page.info = photo_description(name, info, photo, predictor.canvas)
    page.canvas = canvas_with_roi(photo, predictor.canvas)
    all_themes = predictor.predict_all_themes(views["full"].features)[0]
    page.ranking = rank_themes(all_themes, predictor.theme_names)
    return page


def switch_theme(state: PhotoState, theme: str | None) -> Page:
    """The same photo under another theme: cached features, only the head runs."""
    theme = _theme_name(theme)

    def reload() -> Image.Image:  # only when the cache has evicted this photo
        try:
            return load_image_with_info(state.path, max_side=predictor.canvas)[0]
        except ImageError:
            raise gr.Error(f"{state.name} is no longer available; upload it again.") from None

    return _page(state, theme, view_features(state.key, None, reload))


def _theme_name(theme: str | None) -> str:
    try:
        theme_id = predictor.theme_id(theme)
    except (TypeError, ValueError) as error:
        raise gr.Error(str(error), title="Unknown theme", print_exception=False) from None
    return NO_THEME_NAME if theme_id < 0 else predictor.theme_names[theme_id]


def _page(state: PhotoState, theme: str, views: dict[str, CachedView]) -> Page:
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
        theme_plot=theme_figure(distributions["full"], no_theme, theme),
        views_plot=views_figure(
            distributions, {v: c.thumbnail for v, c in views.items()}, {v: c.size for v, c in views.items()}, theme
        ),
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
                canvas = gr.Image(label="Padded canvas: the photo's ROI in red", type="pil", interactive=False,
                                  elem_id="canvas", height=DISPLAY_SIDE + 20)  # fmt: skip
        summary = gr.Markdown(elem_id="summary")
        with gr.Row():
            theme_plot = gr.Plot(label="With the theme vs without a theme", scale=3)
            ranking = gr.Dataframe(label=f"Themes under which this photo scores highest / lowest (top {TOP_THEMES})",
                                   interactive=False, scale=2, elem_id="ranking")  # fmt: skip
        views_plot = gr.Plot(label="The four views: what the network sees, and its prediction")
        table = gr.Dataframe(label="Mean, std and EMD(r=1) of each view against full, and of no theme against the theme",
                             interactive=False, elem_id="table")  # fmt: skip
        with gr.Accordion("About this model (checkpoint card)", open=False):
            gr.JSON(predictor.card)

        outputs = [state, info, canvas, summary, theme_plot, views_plot, table, ranking]

        def show(page: Page) -> dict:
            values = {state: page.state, summary: page.summary, theme_plot: page.theme_plot,
                      views_plot: page.views_plot, table: page.table}  # fmt: skip
            for component, value in ((info, page.info), (canvas, page.canvas), (ranking, page.ranking)):
                if value is not None:
                    values[component] = value
            return values

        def on_photo(path: str | None, theme_value: str) -> dict:
            if path is None:  # cleared
                return {state: None, info: "Upload a photo or pick an example.", canvas: None, summary: "",
                        theme_plot: None, views_plot: None, table: None, ranking: None}  # fmt: skip
            return show(analyze(path, theme_value))

        def on_theme(path: str | None, theme_value: str, current: PhotoState | None) -> dict:
            if path is None:
                return {}
            if current is None or current.path != path:  # the photo's analysis has not landed yet
                return show(analyze(path, theme_value))
            return show(switch_theme(current, theme_value))

        photo.change(on_photo, [photo, theme], outputs, api_name="analyze")
        # .input: only the user's choice, not the value an example sets along with its photo.
        theme.input(on_theme, [photo, theme, state], outputs, api_name="switch_theme",
                    concurrency_limit=SWITCH_CONCURRENCY_LIMIT, concurrency_id="switch")  # fmt: skip
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return blocks


demo = build_demo()

if __name__ == "__main__":
    demo.launch(server_name=ARGS.host, server_port=ARGS.port, max_file_size=MAX_UPLOAD)
