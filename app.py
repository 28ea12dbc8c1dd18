"""Gradio demo: a photo's predicted score distribution at full resolution, under any theme.

    python app.py [--checkpoint checkpoints/demo.pt] [--port 7860] [--host 127.0.0.1] [--device cpu]

Layout and wiring only: the logic (feature cache keyed by photo content, pages, tables, the
benchmark's ground truth, heat maps) is ``workbench.demo`` and ``workbench.explain``, tested without
Gradio. The predictor is loaded once, at import (``--checkpoint``, else ``$WORKBENCH_CHECKPOINT``,
else ``checkpoints/demo.pt``; a folder offers each checkpoint in it). A theme switch re-sends only what
depends on the theme.

Without a UI: ``analyze(path, theme) -> Page``, ``switch_theme(page.state, theme) -> Page`` and
``clear_cache()`` (for benchmarks) call the module's ``session``.
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
from pathlib import Path
from typing import Callable

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # offline: no telemetry, no version check

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from gradio_client import handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from workbench.checkpoints import CheckpointError  # noqa: E402
from workbench.data.augment import TRANSFORMS  # noqa: E402
from workbench.data.images import ImageError  # noqa: E402
from workbench.demo.benchmark import SLIDER_ATTRIBUTES, BenchmarkPhoto, BenchmarkRegistry  # noqa: E402
from workbench.demo.batch import FAILED_COLUMNS, MAX_PHOTOS as MAX_BATCH, expand_uploads, save_scores_csv, score_many  # noqa: E402
from workbench.demo.models import list_checkpoints, model_banner, public_card  # noqa: E402
from workbench.demo.drawing import DISPLAY_SIDE, heat_overlay  # noqa: E402
from workbench.demo.session import DemoSession, Page, PhotoState  # noqa: E402
from workbench.demo.tables import COMPARISON_COLUMNS, MOVEMENT_COLUMNS, RANKING_COLUMNS, TOP_THEMES, TRUTH, histogram_frame  # noqa: E402
from workbench.predict import NO_THEME_NAME, Predictor  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "demo.pt"
CHECKPOINT_COMMAND = "make demo-checkpoint"  # how the default checkpoint is made (Makefile)
EXAMPLES_DIR = ROOT / "examples"
CACHE_PHOTOS = 32  # photos whose features (all four views) stay cached
CONCURRENCY_LIMIT = 2  # analyses at once: torch already uses every core within one forward pass
SWITCH_CONCURRENCY_LIMIT = 8  # theme switches run only the head, so they need not wait behind analyses
QUEUE_SIZE = 64  # requests waiting beyond this are refused ("queue full") rather than piling up
# Gradio keeps a copy of every file it serves (uploads, view images, batch CSVs) in its own cache: checked
# hourly, a copy older than a day goes (a page left open that long loads its photo again).
DELETE_CACHE = (3600, 24 * 3600)  # (every s, older than s): gr.Blocks(delete_cache=...)
SLIDER_STEP = 0.01  # fine enough to show a benchmark photo's own attribute value (rounded to 2 decimals)
MAX_UPLOAD = "200mb"  # a 64-megapixel photo (the largest load_image accepts) as uncompressed TIFF is 192 MB
WITH_THEME = "with the theme"  # the with-theme histogram's series: a fixed name, whatever the theme
VIEW_TITLES = {"full": "full (pad + ROI)", "resize": "resize", "resized_pad": "resized_pad", "crop": "crop"}
NO_HEAT = "off"
# Table headers wrap between words only (Gradio's wrap=True breaks anywhere, e.g. "redraw-n"): a header's
# longest word then sets its column's least width. On a phone the tables keep every column in view: smaller
# type and tight cells below 600 px (Gradio scopes these rules to the page itself).
NARROW_CSS = """
table th span.wrap { word-break: normal !important; overflow-wrap: normal !important; }
@media (max-width: 600px) {
  table th, table td, .body-cell, .body-cell span { font-size: 11px !important; }
  table th, table td, .body-cell .cell-wrap { padding: 2px 3px !important; }
  table .cell-wrap, table .header-content { padding: 0 !important; }
}
"""  # the hidden table Gradio measures column widths on, and the cells it shows, must agree
LAUNCH_OPTIONS = {"css": NARROW_CSS, "max_file_size": MAX_UPLOAD}  # what launch() needs besides host and port (tests too)
API_EXAMPLE_PHOTO = "https://raw.githubusercontent.com/gradio-app/gradio/main/test/test_files/bus.png"  # gr.Image's own
PROMPT = "Upload a photo, pick an example or draw a benchmark photo."


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
CHECKPOINT_SOURCE = ARGS.checkpoint if ARGS else os.environ.get("WORKBENCH_CHECKPOINT", str(DEFAULT_CHECKPOINT))
DEVICE = ARGS.device if ARGS else "cpu"

# The page's images as webp files named by model and photo content, removed with the cache entry and at
# exit (not by a TemporaryDirectory finaliser: a module imported twice would lose its first folder early).
# Written aside then renamed: two sessions showing the same photo must never serve a half-written file.
IMAGE_DIR = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
atexit.register(shutil.rmtree, IMAGE_DIR, ignore_errors=True)
BENCHMARK = BenchmarkRegistry()  # which photo contents are benchmark photos, shared by every model
BENCHMARK.register_examples(EXAMPLES_DIR / "examples.csv")
_sessions: dict[str, DemoSession] = {}
_sessions_lock = threading.Lock()


def session_for(name: str) -> DemoSession:
    """The model ``name`` of CHECKPOINTS with its own feature cache, loaded once, on first use."""
    if name not in CHECKPOINTS:
        raise ValueError(f"unknown model {name!r}; this page offers {', '.join(CHECKPOINTS)}")
    with _sessions_lock:
        if name not in _sessions:
            tag = f"m{list(CHECKPOINTS).index(name)}"

            def forget_images(key: str, tag: str = tag) -> None:
                for path in IMAGE_DIR.glob(f"{tag}-{key}-*.webp"):
                    path.unlink(missing_ok=True)

            _sessions[name] = DemoSession(load_predictor(CHECKPOINTS[name], DEVICE), CACHE_PHOTOS, folder=IMAGE_DIR,
                                          on_evict=forget_images, name=name, benchmark=BENCHMARK)  # fmt: skip
        return _sessions[name]


def image_tag(state: PhotoState) -> str:
    """File name prefix of a photo's images under its model (views depend on the model's canvas)."""
    return f"m{list(CHECKPOINTS).index(state.model)}-{state.key}"


try:
    # A missing path stays one entry, so that load_predictor's error says how to make the demo checkpoint.
    missing = not Path(CHECKPOINT_SOURCE).exists()
    CHECKPOINTS = {Path(CHECKPOINT_SOURCE).name: Path(CHECKPOINT_SOURCE)} if missing else list_checkpoints(CHECKPOINT_SOURCE)
    DEFAULT_MODEL = DEFAULT_CHECKPOINT.name if DEFAULT_CHECKPOINT.name in CHECKPOINTS else next(iter(CHECKPOINTS))
    session = session_for(DEFAULT_MODEL)
except CheckpointError as error:
    if __name__ == "__main__":
        sys.exit(f"app.py: {error}")
    raise
predictor = session.predictor


def analyze(path: str | os.PathLike, theme: str | None = NO_THEME_NAME) -> Page:
    return session.analyze(path, theme)


def switch_theme(state: PhotoState, theme: str | None) -> Page:
    return session.switch_theme(state, theme)


def clear_cache() -> None:
    """Forget every cached feature and image file (benchmarks time a cold analysis after this)."""
    for each in list(_sessions.values()):
        each.cache.clear()


def image_file(name: str, draw: Callable[[], Image.Image | np.ndarray]) -> str:
    """``IMAGE_DIR/name.webp``, drawn and written once, atomically."""
    path = IMAGE_DIR / f"{name}.webp"
    if not path.exists():
        image = draw()
        image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
        handle, staging = tempfile.mkstemp(dir=IMAGE_DIR, suffix=".tmp")
        os.close(handle)
        image.save(staging, format="webp")
        os.replace(staging, path)
    return str(path)


def photo_input(**kwargs) -> gr.File:
    """gr.File whose "Use via API" example is a photo (gr.File's own is a PDF, which this page refuses).
    Set on the instance: a gr.File subclass would make Gradio write a .pyi stub beside this file."""
    component = gr.File(**kwargs)
    component.example_payload = lambda: handle_file(API_EXAMPLE_PHOTO)
    component.example_value = lambda: API_EXAMPLE_PHOTO
    return component


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


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def build_demo() -> gr.Blocks:
    theme_choices = [NO_THEME_NAME] + predictor.theme_names
    has_themes = bool(predictor.theme_names)
    bars = {"x": "score", "y": "probability", "color": "series", "sort": [str(s) for s in range(1, predictor.num_bins + 1)],
            "y_lim": [0, 1], "x_title": "score", "colors_in_legend": [], "min_width": 320}  # fmt: skip

    def no_bars(series: str) -> pd.DataFrame:  # zero bars of the plot's own series: the browser keeps its first colours
        return histogram_frame(np.zeros(predictor.num_bins), series)

    with gr.Blocks(title="workbench: theme-aware aesthetic scores", delete_cache=DELETE_CACHE) as blocks:
        gr.Markdown(
            "# Theme-aware aesthetic score distributions at full resolution\n"
            f"The photo is zero-padded top-left into one {predictor.canvas} × {predictor.canvas} canvas and the "
            "backbone pools only over the photo's own region (ROI pooling): it is neither warped nor cropped, "
            "and keeps its own resolution up to the canvas (larger photos are downscaled to fit, and the page says so). "
            "The theme (a challenge's topic) shifts what voters reward."
        )
        with gr.Row():
            model = gr.Dropdown(list(CHECKPOINTS), value=DEFAULT_MODEL, label="Model (checkpoint)", elem_id="model",
                                visible=len(CHECKPOINTS) > 1, scale=1, min_width=200)  # fmt: skip
            banner = gr.Markdown(model_banner(predictor), elem_id="model-banner")
        state = gr.State(None)
        with gr.Tab("One photo", id="one"):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    photo = photo_input(label="Photo (any size)", type="filepath", file_types=["image"], elem_id="photo")
                    theme = gr.Dropdown(theme_choices, value=NO_THEME_NAME, label="Theme (type to search)",
                                        filterable=True, visible=has_themes, elem_id="theme")  # fmt: skip
                    gr.Examples(example_rows(), inputs=[photo, theme], label="Examples (synthetic benchmark photos: their truth is known)")
                    with gr.Group(elem_id="make-photo"):
                        with gr.Row():
                            index = gr.Number(8, label="Benchmark photo #", precision=0, minimum=0, elem_id="photo-index", min_width=100)
                            seed = gr.Number(0, label="seed", precision=0, minimum=0, elem_id="photo-seed", min_width=80)
                        make = gr.Button("Draw this benchmark photo", elem_id="make-photo-button")
                with gr.Column(scale=2, min_width=300):
                    info = gr.Markdown(PROMPT, label="photo", elem_id="photo-info")
                    canvas = gr.Image(label="Padded canvas: the photo's ROI in red", type="filepath", interactive=False,
                                      elem_id="canvas", height=DISPLAY_SIDE + 20)  # fmt: skip
            summary = gr.Markdown(label="summary", elem_id="summary")
            with gr.Row(equal_height=False):
                theme_histogram = gr.BarPlot(None, label="Predicted, full view, with the chosen theme", elem_id="histogram-theme",
                                             color_map={WITH_THEME: "#4c78a8"}, **bars)  # fmt: skip
                truth_histogram = gr.BarPlot(None, label="Truth: the benchmark's expected votes", elem_id="histogram-truth",
                                             color_map={TRUTH: "#54a24b"}, **bars)  # fmt: skip
                no_theme_histogram = gr.BarPlot(None, label=f"Predicted, full view, {NO_THEME_NAME}", elem_id="histogram-no-theme",
                                                color_map={NO_THEME_NAME: "#888888"}, visible=has_themes, **bars)  # fmt: skip
            with gr.Group(elem_id="redraw"):
                gr.Markdown("**Redraw this benchmark photo with one attribute changed** (the rest of the scene stays): "
                            "how far do the truth and each view's prediction move?")  # fmt: skip
                with gr.Row():
                    attribute = gr.Dropdown(list(SLIDER_ATTRIBUTES), value="grain", label="attribute", elem_id="attribute", min_width=160,
                                            info=SLIDER_ATTRIBUTES["grain"][2])  # fmt: skip
                    value = gr.Slider(0, 1, value=1, step=SLIDER_STEP, label="new value (redraws on release)", elem_id="attribute-value",
                                      min_width=200)  # fmt: skip
                movement = gr.Dataframe(empty(MOVEMENT_COLUMNS), label="Mean score, the scene as drawn vs redrawn",
                                        interactive=False, elem_id="movement", wrap=True)  # fmt: skip
            with gr.Row():
                with gr.Column(min_width=300):
                    gr.Markdown("**The four views:** what the network sees, and its prediction under the chosen theme")
                heat_view = gr.Radio([NO_HEAT, *TRANSFORMS], value=NO_HEAT, label="Heat map of the predicted mean on (red raises it, blue lowers it)",
                                     elem_id="heat-view", min_width=300)  # fmt: skip
            view_images, view_histograms = {}, {}
            with gr.Row():
                for view in TRANSFORMS:
                    with gr.Column(min_width=200):
                        view_images[view] = gr.Image(label=VIEW_TITLES[view], type="filepath", interactive=False,
                                                     height=240, elem_id=f"view-{view}")  # fmt: skip
                        view_histograms[view] = gr.BarPlot(None, label=f"{view}: predicted scores", elem_id=f"histogram-{view}",
                                                           color_map={view: "#4c78a8" if view == "full" else "#f58518"}, **bars)  # fmt: skip
            table = gr.Dataframe(empty(COMPARISON_COLUMNS), label="Mean, std and EMD(r=1) of each view, against the truth when known",
                                 interactive=False, elem_id="table", wrap=True)  # fmt: skip
            ranking = gr.Dataframe(empty(RANKING_COLUMNS), label=f"Themes under which this photo scores highest / lowest (top {TOP_THEMES})",
                                   interactive=False, elem_id="ranking", wrap=True, visible=has_themes)  # fmt: skip
        with gr.Tab("Many photos", id="many"):
            gr.Markdown("Several photos or a zip of them: mean and std of each under the theme and with none "
                        f"(full view), up to {MAX_BATCH} photos. Files that cannot be used are listed; the others are scored.")  # fmt: skip
            with gr.Row():
                batch_files = gr.File(label="Photos or .zip", file_count="multiple", file_types=["image", ".zip"], elem_id="batch-files")
                with gr.Column():
                    batch_theme = gr.Dropdown(theme_choices, value=NO_THEME_NAME, label="Theme", filterable=True,
                                              visible=has_themes, elem_id="batch-theme")  # fmt: skip
                    batch_run = gr.Button("Score them", variant="primary", elem_id="batch-run")
                    batch_csv = gr.File(label="Results as CSV", interactive=False, elem_id="batch-csv")
            batch_table = gr.Dataframe(label="Scores (click a header to sort)", interactive=False, elem_id="batch-table", wrap=True)
            batch_failed = gr.Dataframe(empty(FAILED_COLUMNS), label="Files that could not be used", interactive=False,
                                        elem_id="batch-failed", wrap=True)  # fmt: skip
            batch_gallery = gr.Gallery(label="Thumbnails (caption: mean under the theme)", columns=6, height="auto", object_fit="contain",
                                       elem_id="batch-gallery")  # fmt: skip
        with gr.Accordion("About this model (checkpoint card)", open=False):
            card = gr.JSON(public_card(predictor), elem_id="card")

        histograms = [theme_histogram, truth_histogram, no_theme_histogram, *view_histograms.values()]
        histogram_series = [WITH_THEME, TRUTH, NO_THEME_NAME, *view_histograms]
        outputs = [state, info, canvas, summary, *histograms, *view_images.values(), table, ranking, movement]
        switch_outputs = [state, summary, theme_histogram, truth_histogram, *view_histograms.values(), table, movement]

        def show(page: Page, shown: list) -> dict:
            values = {state: page.state, summary: page.summary, table: page.table,
                      movement: page.movement if page.movement is not None else empty(MOVEMENT_COLUMNS)}  # fmt: skip
            truth = histogram_frame(page.truth, TRUTH) if page.truth is not None else no_bars(TRUTH)
            histogram_data = {theme_histogram: histogram_frame(page.distributions["full"], WITH_THEME), truth_histogram: truth}
            histogram_data |= {plot: histogram_frame(page.distributions[view], view) for view, plot in view_histograms.items()}
            if page.views is not None:  # a new photo: its theme-independent parts, and its histograms' y scale
                key = image_tag(page.state)
                values |= {info: page.info, ranking: page.ranking, canvas: image_file(f"{key}-canvas", lambda: page.canvas)}
                histogram_data[no_theme_histogram] = histogram_frame(page.distributions[NO_THEME_NAME], NO_THEME_NAME)
                for view, image in view_images.items():
                    w, h = page.views[view].size
                    path = image_file(f"{key}-{view}", lambda view=view: page.views[view].thumbnail)
                    values[image] = gr.Image(path, label=f"{VIEW_TITLES[view]}: {w}×{h}")
            for plot, data in histogram_data.items():  # a switch sends plain data: a property update costs more
                values[plot] = data if page.views is None else gr.BarPlot(data, y_lim=[0, page.histogram_top])
            return {component: value for component, value in values.items() if component in shown}

        def cleared(message: str) -> dict:
            """The page with no photo: empty tables with their headers, empty plots, views unlabelled by size."""
            return {state: None, info: message, canvas: None, summary: "", table: empty(COMPARISON_COLUMNS),
                    ranking: empty(RANKING_COLUMNS), movement: empty(MOVEMENT_COLUMNS),
                    **{plot: no_bars(series) for plot, series in zip(histograms, histogram_series)},
                    **{image: gr.Image(None, label=VIEW_TITLES[view]) for view, image in view_images.items()}}  # fmt: skip

        def on_photo(path: str | None, theme_value: str, model_name: str = DEFAULT_MODEL, attribute_name: str = "grain") -> dict:
            if path is None:
                return cleared(PROMPT)
            try:
                page = session_for(model_name).analyze(path, theme_value)
                shown = show(page, outputs)
                if page.state.benchmark is not None:  # the slider starts from this photo's own value: a redraw changes only what is asked
                    shown[value] = slider_for(attribute_name, page.state)
                return shown
            except (ImageError, ValueError) as error:  # shown in place until the next action; no component left in error
                return cleared(f"⚠ **Cannot use this file.** {error}")

        def on_theme(path: str | None, theme_value: str, current: PhotoState | None, model_name: str = DEFAULT_MODEL) -> dict:
            if path is None:
                return gr.skip()
            try:
                if current is None or current.path != path or current.model != model_name:  # not landed yet, or an API call
                    return show(session_for(model_name).analyze(path, theme_value), switch_outputs)
                return show(session_for(model_name).switch_theme(current, theme_value), switch_outputs)
            except (ImageError, ValueError) as error:
                raise gr.Error(str(error), print_exception=False) from None

        def after_photo(path: str | None, theme_value: str, current: PhotoState | None) -> dict:
            """The theme may have changed while the photo was analysed: show the one now chosen."""
            owner = session_for(current.model) if current is not None else None
            if current is None or current.path != path or current.theme == owner.theme_name(theme_value):
                return gr.skip()
            return show(owner.switch_theme(current, theme_value), switch_outputs)

        def on_make(index_value: float | None, seed_value: float | None) -> str:
            try:
                return str(session.draw_benchmark_photo(BenchmarkPhoto(int(index_value or 0), int(seed_value or 0))))
            except (ValueError, TypeError) as error:
                raise gr.Error(str(error), print_exception=False) from None

        def slider_for(name: str, current: PhotoState | None) -> gr.Slider:
            """The slider for attribute ``name``, at the shown benchmark photo's value (else at its low end)."""
            low, high, _ = SLIDER_ATTRIBUTES[name]
            start = current.benchmark.current_value(name) if current is not None and current.benchmark is not None else low
            return gr.Slider(low, high, value=round(start, 2), step=SLIDER_STEP)

        def on_attribute(name: str, current: PhotoState | None):
            return gr.Dropdown(info=SLIDER_ATTRIBUTES[name][2]), slider_for(name, current)

        def on_redraw(name: str, new_value: float, current: PhotoState | None):
            if current is None or current.benchmark is None:
                gr.Warning("Redrawing needs a benchmark photo: pick an example or draw one first.")
                return gr.skip()
            return str(session.draw_benchmark_photo(current.benchmark.with_attribute(name, new_value)))

        def on_heat(view: str, current: PhotoState | None) -> dict:
            if current is None:
                return gr.skip()
            updates = {}
            for name, image in view_images.items():  # the heat map on the chosen view, the plain view on the others
                plain = IMAGE_DIR / f"{image_tag(current)}-{name}.webp"
                if name == view:
                    tag = hashlib.sha1(current.theme.encode()).hexdigest()[:8]
                    updates[image] = image_file(f"{image_tag(current)}-{name}-heat-{tag}", lambda: heat_overlay(*_heat(current, name)))
                elif plain.exists():
                    updates[image] = str(plain)
            return updates

        def on_model(model_name: str) -> dict:
            """Another model: its card, and its theme controls (hidden for a model trained without themes)."""
            try:
                chosen = session_for(model_name).predictor
            except CheckpointError as error:  # a corrupt file in the folder: say so without the server's path
                raise gr.Error(str(error).replace(str(CHECKPOINTS[model_name]), model_name), print_exception=False) from None
            themed = bool(chosen.theme_names)
            return {banner: model_banner(chosen), card: public_card(chosen),
                    theme: gr.Dropdown([NO_THEME_NAME, *chosen.theme_names], value=NO_THEME_NAME, visible=themed),
                    no_theme_histogram: gr.BarPlot(visible=themed), ranking: gr.Dataframe(visible=themed),
                    batch_theme: gr.Dropdown([NO_THEME_NAME, *chosen.theme_names], value=NO_THEME_NAME, visible=themed)}  # fmt: skip

        def on_batch(paths: list[str] | None, theme_value: str, model_name: str = DEFAULT_MODEL, progress=gr.Progress()):
            if not paths:
                raise gr.Error("Choose photos or a zip first.", print_exception=False)
            owner = session_for(model_name)
            work = Path(tempfile.mkdtemp(dir=IMAGE_DIR, prefix="batch-"))
            try:
                photos, failed = expand_uploads(paths, work)
                progress(0, desc=f"0 of {len(photos)} photos")
                result = score_many(owner, photos, theme_value,
                                    progress=lambda done, total, name: progress(done / total, desc=f"{done} of {total}: {name}"))  # fmt: skip
            except ValueError as error:
                raise gr.Error(str(error), print_exception=False) from None
            finally:
                shutil.rmtree(work, ignore_errors=True)
            unreadable = pd.concat([pd.DataFrame(failed, columns=FAILED_COLUMNS), result.failed], ignore_index=True)
            return result.table, unreadable, result.thumbnails, str(save_scores_csv(result.table, IMAGE_DIR))

        def after_change(view: str, current: PhotoState | None) -> dict:
            """A new photo or theme: redraw the heat map if one is shown."""
            return gr.skip() if view == NO_HEAT else on_heat(view, current)

        def _heat(current: PhotoState, view: str):
            heat, image = session_for(current.model).heat_map(current, view)
            return image, heat

        switch = {"concurrency_limit": SWITCH_CONCURRENCY_LIMIT, "concurrency_id": "switch"}
        view_outputs = list(view_images.values())
        photo_outputs = [*outputs, value]
        photo.change(on_photo, [photo, theme, model, attribute], photo_outputs, api_name="analyze").success(
            after_photo, [photo, theme, state], switch_outputs, api_visibility="private", show_progress="hidden", **switch
        ).then(after_change, [heat_view, state], view_outputs, api_visibility="private", show_progress="hidden")  # fmt: skip
        # .select: one event per choice the user makes (not the value an example sets with its photo).
        theme.select(on_theme, [photo, theme, state, model], switch_outputs, api_name="switch_theme", **switch).then(
            after_change, [heat_view, state], view_outputs, api_visibility="private", show_progress="hidden"
        )  # fmt: skip
        model.input(on_model, model, [banner, card, theme, no_theme_histogram, ranking, batch_theme], api_visibility="private").success(
            on_photo, [photo, theme, model, attribute], photo_outputs, api_visibility="private"
        ).then(after_change, [heat_view, state], view_outputs, api_visibility="private", show_progress="hidden")  # fmt: skip
        make.click(on_make, [index, seed], photo, api_name="draw_benchmark_photo")
        attribute.input(on_attribute, [attribute, state], [attribute, value], api_visibility="private", show_progress="hidden")
        value.release(on_redraw, [attribute, value, state], photo, api_name="redraw")
        heat_view.input(on_heat, [heat_view, state], view_outputs, api_name="heat_map")
        batch_run.click(on_batch, [batch_files, batch_theme, model], [batch_table, batch_failed, batch_gallery, batch_csv], api_name="score_many")
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return blocks


demo = build_demo()

if __name__ == "__main__":
    demo.launch(server_name=ARGS.host, server_port=ARGS.port, **LAUNCH_OPTIONS)
