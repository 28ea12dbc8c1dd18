"""Gradio demo: a photo's predicted score distribution at full resolution, under any theme.

    python app.py [--checkpoint checkpoints/demo.pt | FOLDER] [--port 7860] [--host 127.0.0.1] [--device cpu]

Layout and wiring only (the logic is ``workbench.demo``; the lab and the Many photos tab lay themselves out:
``demo.lab_panel``, ``demo.batch_tab``). ``create_app(checkpoint)`` builds the page (tests and
benchmarks call it; nothing happens at import); ``main()`` serves it with its own file folder, removed on exit,
Ctrl-C or SIGTERM. One request per user action: a theme switch sends only what depends on the theme.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # offline: no telemetry, no version check

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from gradio_client import handle_file  # noqa: E402

from workbench.checkpoints import CheckpointError  # noqa: E402
from workbench.data.augment import TRANSFORMS  # noqa: E402
from workbench.data.images import ImageError  # noqa: E402
from workbench.demo.batch_tab import BatchTab  # noqa: E402
from workbench.demo.benchmark import BenchmarkPhoto, BenchmarkRegistry  # noqa: E402
from workbench.demo.drawing import DISPLAY_SIDE, heat_scale_html  # noqa: E402
from workbench.demo.lab_panel import LabPanel  # noqa: E402
from workbench.demo.models import model_banner, public_card  # noqa: E402
from workbench.demo.page import (  # noqa: E402
    NARROW_CSS, NO_HEAT, PROMPT, VIEW_TITLES, WITH_THEME, example_inputs, heat_file, intro, kept_theme, view_files,
)  # fmt: skip
from workbench.demo.registry import ModelRegistry, open_checkpoints  # noqa: E402
from workbench.demo.session import DemoSession, Page, PhotoState  # noqa: E402
from workbench.demo.store import ImageStore  # noqa: E402
from workbench.demo.tables import COMPARISON_COLUMNS, MOVEMENT_COLUMNS, RANKING_COLUMNS, TOP_THEMES, TRUTH, fixed_decimals, histogram_frame  # noqa: E402
from workbench.predict import NO_THEME_NAME  # noqa: E402
from workbench.runtime import check_device  # noqa: E402

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "demo.pt"
EXAMPLES = ROOT / "examples" / "examples.csv"
CONCURRENCY_LIMIT = 2  # analyses at once: torch already uses every core within one forward pass
SWITCH = {"concurrency_limit": 8, "concurrency_id": "switch"}  # theme switches run only the head: they need not wait behind analyses
QUEUE_SIZE = 64  # requests waiting beyond this are refused ("queue full") rather than piling up
DELETE_CACHE = (3600, 24 * 3600)  # Gradio's copies of served files: checked hourly, gone after a day (gr.Blocks(delete_cache=...))
MAX_UPLOAD = "200mb"  # a 64-megapixel photo (the largest load_image accepts) as uncompressed TIFF is 192 MB
LAUNCH_OPTIONS = {"css": NARROW_CSS, "max_file_size": MAX_UPLOAD}  # what launch() needs besides host and port (tests too)
API_EXAMPLE_PHOTO = "https://raw.githubusercontent.com/gradio-app/gradio/main/test/test_files/bus.png"  # gr.Image's own


@dataclass
class DemoApp:
    """The page (``demo``) and what it serves from: the models and the files."""

    demo: gr.Blocks
    registry: ModelRegistry
    store: ImageStore

    @property
    def session(self) -> DemoSession:
        """The default model's session (benchmarks call ``analyze`` / ``switch_theme`` on it)."""
        return self.registry.session(self.registry.default)


def create_app(checkpoint: str | os.PathLike = DEFAULT_CHECKPOINT, device: str = "cpu", store: ImageStore | None = None) -> DemoApp:
    """The demo for ``checkpoint`` (a file or a folder: every file in it is checked now and only usable ones
    offered). store: the page's files (default: a new temp folder). CheckpointError when nothing can be served."""
    store = store or ImageStore()
    benchmark = BenchmarkRegistry()  # which photo contents are benchmark photos, shared by every model
    benchmark.register_examples(EXAMPLES)
    registry = ModelRegistry(open_checkpoints(checkpoint, DEFAULT_CHECKPOINT.name), store, benchmark, check_device(device))
    registry.session(registry.default)  # the default model is loaded before the page is served
    return DemoApp(build_page(registry, store), registry, store)


def photo_input(**kwargs) -> gr.File:
    """gr.File whose "Use via API" example is a photo (gr.File's own is a PDF, which this page refuses)."""
    component = gr.File(**kwargs)
    component.example_payload = lambda: handle_file(API_EXAMPLE_PHOTO)
    component.example_value = lambda: API_EXAMPLE_PHOTO
    return component


def empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def build_page(registry: ModelRegistry, store: ImageStore) -> gr.Blocks:
    first = registry.session(registry.default).predictor
    theme_choices, has_themes = [NO_THEME_NAME, *first.theme_names], bool(first.theme_names)
    bars = {"x": "score", "y": "probability", "color": "series", "sort": [str(s) for s in range(1, first.num_bins + 1)],
            "y_lim": [0, None], "x_title": "score", "colors_in_legend": [], "min_width": 320}  # fmt: skip

    with gr.Blocks(title="workbench: theme-aware aesthetic scores", delete_cache=DELETE_CACHE) as blocks:
        gr.Markdown(intro(first.canvas))
        with gr.Row():
            model = gr.Dropdown(registry.names, value=registry.default, label="Model (checkpoint)", elem_id="model",
                                visible=len(registry.names) > 1, scale=1, min_width=200)  # fmt: skip
            banner = gr.Markdown(model_banner(first), elem_id="model-banner")
        state = gr.State(None)
        with gr.Tab("One photo", id="one"):
            with gr.Row():
                with gr.Column(scale=1, min_width=300):
                    photo = photo_input(label="Photo (any size)", type="filepath", file_types=["image"], elem_id="photo")
                    theme = gr.Dropdown(theme_choices, value=NO_THEME_NAME, label="Theme (type to search)",
                                        filterable=True, visible=has_themes, elem_id="theme")  # fmt: skip
                    gr.Examples(example_inputs(EXAMPLES, first.theme_names), inputs=[photo, theme], label="Examples (synthetic benchmark photos: their truth is known)")
                    with gr.Group(elem_id="make-photo"):
                        with gr.Row():
                            index = gr.Number(8, label="Benchmark photo #", precision=0, elem_id="photo-index", min_width=100)
                            seed = gr.Number(0, label="seed", precision=0, elem_id="photo-seed", min_width=80)
                        make = gr.Button("Draw this benchmark photo", elem_id="make-photo-button")
                with gr.Column(scale=2, min_width=300):
                    info = gr.Markdown(PROMPT, label="photo", elem_id="photo-info")
                    canvas = gr.Image(label="Padded canvas: the photo's ROI in red", type="filepath", interactive=False,
                                      elem_id="canvas", height=DISPLAY_SIDE + 20)  # fmt: skip
            summary = gr.Markdown(label="summary", elem_id="summary")
            with gr.Row(equal_height=False):
                theme_histogram = gr.BarPlot(None, label="Predicted, full view, with the chosen theme", elem_id="histogram-theme",
                                             color_map={WITH_THEME: "#4c78a8"}, **bars)  # fmt: skip
                truth_histogram = gr.BarPlot(None, label="Truth: the benchmark's expected votes (benchmark photos only)",
                                             elem_id="histogram-truth", color_map={TRUTH: "#54a24b"}, **bars)  # fmt: skip
                no_theme_histogram = gr.BarPlot(None, label=f"Predicted, full view, {NO_THEME_NAME}", elem_id="histogram-no-theme",
                                                color_map={NO_THEME_NAME: "#888888"}, visible=has_themes, **bars)  # fmt: skip
            lab = LabPanel.build()
            with gr.Row():
                with gr.Column(min_width=300):
                    gr.Markdown("**The four views:** what the network sees, and its prediction under the chosen theme, each by the "
                                "head trained on that view's own features when the checkpoint has one (the paper's Table III trains "
                                "one model per transform; the embedded model has all four), else by the model's head")
                with gr.Column(min_width=300):
                    heat_view = gr.Radio([NO_HEAT, *TRANSFORMS], value=NO_HEAT, label="Heat map of the predicted mean on",
                                         elem_id="heat-view")  # fmt: skip
                    gr.HTML(heat_scale_html(), elem_id="heat-scale")
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
            batch = BatchTab.build(theme_choices, has_themes)
        with gr.Accordion("About this model (checkpoint card)", open=False):
            card = gr.JSON(public_card(first), elem_id="card")

        histograms = {WITH_THEME: theme_histogram, TRUTH: truth_histogram, NO_THEME_NAME: no_theme_histogram,
                      **{view: view_histograms[view] for view in TRANSFORMS}}  # fmt: skip
        images = list(view_images.values())
        page_outputs = [state, info, canvas, summary, *histograms.values(), *images, table, ranking, lab.movement, lab.attribute, lab.value, lab.note]
        switch_outputs = [state, info, summary, theme_histogram, truth_histogram, *view_histograms.values(), *images, table, lab.movement]

        def bars_of(dist: np.ndarray | None, series: str) -> pd.DataFrame:
            """A chart's data (zero bars when there is none). Only data, never a new y scale: a chart sent data and a
            new y_lim at once re-embeds with its old data and keeps it until the window is resized (Gradio 6.31),
            and a chart set to None throws on its next resize; so the y axis starts at 0 and fits its bars."""
            return histogram_frame(np.zeros(first.num_bins) if dist is None else dist, series)

        def show(page: Page, heat: str, attribute_name: str = "grain") -> dict:
            """The page's components for ``page``: all of them for a new photo, the theme's part after a switch."""
            new = page.views is not None
            values = {state: page.state, summary: page.summary, table: fixed_decimals(page.table),
                      lab.movement: fixed_decimals(page.movement) if page.movement is not None else empty(MOVEMENT_COLUMNS),
                      theme_histogram: bars_of(page.distributions["full"], WITH_THEME), truth_histogram: bars_of(page.truth, TRUTH),
                      **{view_histograms[v]: bars_of(page.distributions[v], v) for v in TRANSFORMS}}  # fmt: skip
            if new:
                themed = bool(registry.session(page.state.model).predictor.theme_names)
                values |= {info: page.info, ranking: gr.Dataframe(fixed_decimals(page.ranking), visible=themed),
                           canvas: store.image(registry.image_name(page.state, "canvas"), lambda: page.canvas),
                           no_theme_histogram: gr.BarPlot(bars_of(page.distributions[NO_THEME_NAME], NO_THEME_NAME), visible=True)
                           if themed else gr.BarPlot(visible=False), **lab.shown(page.state, attribute_name)}  # fmt: skip
                for view, image in view_images.items():
                    w, h = page.views[view].size
                    path = store.image(registry.image_name(page.state, view), lambda view=view: page.views[view].thumbnail)
                    values[image] = gr.Image(heat_file(registry, store, page.state, view) if view == heat else path, label=f"{VIEW_TITLES[view]}: {w}×{h}")
            elif heat in view_images:
                values[view_images[heat]] = heat_file(registry, store, page.state, heat)
            return values

        def cleared(message: str, model_name: str) -> dict:
            """The page with no photo: empty tables with their headers, empty plots, views unlabelled by size."""
            themed = bool(registry.session(model_name).predictor.theme_names)
            return {state: None, info: message, canvas: None, summary: "", table: empty(COMPARISON_COLUMNS),
                    ranking: gr.Dataframe(empty(RANKING_COLUMNS), visible=themed), **lab.cleared(),
                    **{plot: bars_of(None, series) for series, plot in histograms.items() if themed or plot is not no_theme_histogram},
                    **{image: gr.Image(None, label=VIEW_TITLES[view]) for view, image in view_images.items()}}  # fmt: skip

        def on_photo(path: str | None, theme_value: str, model_name: str = registry.default, attribute_name: str = "grain",
                     heat: str = NO_HEAT) -> dict:  # fmt: skip
            if path is None:
                return cleared(PROMPT, model_name)
            try:
                return show(registry.session(model_name).analyze(path, theme_value), heat, attribute_name)
            except (ImageError, ValueError, CheckpointError) as error:  # in place until the next action; no component left in error
                return cleared(f"⚠ **Cannot use this file.** {error}", model_name)

        def on_theme(path: str | None, theme_value: str, current: PhotoState | None, model_name: str = registry.default,
                     heat: str = NO_HEAT) -> dict:  # fmt: skip
            if path is None:
                return gr.skip()
            try:
                if current is None or current.path != path or current.model != model_name:  # not landed yet, or an API call
                    return {k: v for k, v in on_photo(path, theme_value, model_name, heat=heat).items() if k in switch_outputs}
                return show(registry.session(model_name).switch_theme(current, theme_value), heat)
            except (ImageError, ValueError) as error:  # e.g. the photo's file is gone: said in place, nothing left red
                return {info: f"⚠ {error}"}

        def after_photo(path: str | None, theme_value: str, current: PhotoState | None, heat: str) -> dict:
            """The theme may have changed while the photo was analysed: show the one now chosen."""
            if current is None or current.path != path or current.theme_id == registry.session(current.model).theme_id(theme_value):
                return gr.skip()
            return show(registry.session(current.model).switch_theme(current, theme_value), heat)

        def on_make(index_value: float | None, seed_value: float | None, model_name: str = registry.default) -> dict:
            try:
                scene = BenchmarkPhoto(int(index_value or 0), int(seed_value or 0))
                session = registry.session(model_name)
                path = session.draw_benchmark_photo(scene)
            except (ValueError, TypeError) as error:
                return {info: f"⚠ **Cannot draw this photo.** {error}"}
            own = scene.attributes()["theme"]  # predicted under its own theme, as its truth is judged
            return {photo: str(path), theme: own if own in session.predictor.theme_names else NO_THEME_NAME}

        def on_heat(view: str, current: PhotoState | None) -> dict:
            """The heat map on the chosen view, the plain view on the others."""
            if current is None:
                return gr.skip()
            return {view_images[name]: path for name, path in view_files(registry, store, current, view).items()}

        def on_model(model_name: str, path: str | None, theme_value: str, attribute_name: str, heat: str) -> dict:
            """Another model: its card and theme controls (the chosen theme kept if it knows it), and the photo again."""
            try:
                session = registry.session(model_name)
            except CheckpointError as error:
                gr.Warning(str(error))
                return gr.skip()
            names = session.predictor.theme_names
            kept = kept_theme(theme_value, names)
            controls = {banner: model_banner(session.predictor), card: public_card(session.predictor),
                        theme: gr.Dropdown([NO_THEME_NAME, *names], value=kept, visible=bool(names)),
                        batch.theme: gr.Dropdown([NO_THEME_NAME, *names], value=NO_THEME_NAME, visible=bool(names)),
                        ranking: gr.Dataframe(visible=bool(names)), no_theme_histogram: gr.BarPlot(visible=bool(names))}  # fmt: skip
            return controls | on_photo(path, kept, model_name, attribute_name, heat) if path is not None else controls

        quiet = {"api_visibility": "private", "show_progress": "hidden"}
        photo.change(on_photo, [photo, theme, model, lab.attribute, heat_view], page_outputs, api_name="analyze").success(
            after_photo, [photo, theme, state, heat_view], switch_outputs, **quiet, **SWITCH)  # fmt: skip
        # .select: one event per choice the user makes (not the value an example sets with its photo); one request.
        theme.select(on_theme, [photo, theme, state, model, heat_view], switch_outputs, api_name="switch_theme", **SWITCH)
        model.input(on_model, [model, photo, theme, lab.attribute, heat_view], [banner, card, theme, batch.theme, *page_outputs],
                    api_visibility="private")  # fmt: skip
        make.click(on_make, [index, seed, model], [photo, theme, info], api_name="draw_benchmark_photo")
        lab.wire(registry, state, photo)
        heat_view.input(on_heat, [heat_view, state], images, api_name="heat_map")
        batch.wire(registry, store, model)
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return blocks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the workbench demo (Gradio).")
    parser.add_argument("--checkpoint", default=os.environ.get("WORKBENCH_CHECKPOINT", str(DEFAULT_CHECKPOINT)),
                        help="a checkpoint file or a folder of them (default $WORKBENCH_CHECKPOINT, else checkpoints/demo.pt)")  # fmt: skip
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (checked before any checkpoint is read)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        check_device(args.device)
        store = ImageStore()
        # Gradio's file cache inside this process's folder: another app process stopping cannot delete our files.
        os.environ["GRADIO_TEMP_DIR"] = str(store.folder / "gradio")
        store.remove_on_signals()
        app = create_app(args.checkpoint, args.device, store)
    except (CheckpointError, ValueError) as error:
        sys.exit(f"app.py: {error}")
    for name, why in app.registry.checkpoints.skipped.items():
        print(f"app.py: not offering {name}: {why}", file=sys.stderr)
    app.demo.launch(server_name=args.host, server_port=args.port, **LAUNCH_OPTIONS)


if __name__ == "__main__":
    main()
