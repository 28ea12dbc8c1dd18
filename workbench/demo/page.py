"""The page's words, styles and file names: what app.py lays out, kept apart so that app.py is wiring only."""
from __future__ import annotations

from workbench.demo.benchmark import read_examples
from workbench.demo.drawing import heat_overlay
from workbench.demo.registry import ModelRegistry
from workbench.demo.session import PhotoState
from workbench.demo.store import ImageStore
from workbench.predict import NO_THEME_NAME

WITH_THEME = "with the theme"  # the with-theme histogram's series: a fixed name, whatever the theme
VIEW_TITLES = {"full": "full (pad + ROI)", "resize": "resize", "resized_pad": "resized_pad", "crop": "crop"}
NO_HEAT = "off"
SLIDER_STEP = 0.01  # fine enough to show a benchmark photo's own attribute value (rounded to 2 decimals)
PROMPT = "Upload a photo, pick an example or draw a benchmark photo."
LAB_NEEDS_BENCHMARK = "*The lab redraws photos of the synthetic benchmark: pick an example or draw one to use it.*"
# Table headers wrap between words only; long names in the batch tables wrap anywhere; below 600 px smaller
# type and tight cells keep every column in view (the view and ranking tables' cells wrap between words, so
# a theme name takes two lines and a number never does), and the gallery's thumbnails reflow to the width.
NARROW_CSS = """
table th span.wrap { word-break: normal !important; overflow-wrap: normal !important; }
#batch-table td, #batch-table td span, #batch-failed td, #batch-failed td span { overflow-wrap: anywhere !important; white-space: normal !important; }
#batch-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)) !important; }
@media (max-width: 600px) {
  table th, table td, .body-cell, .body-cell span { font-size: 11px !important; }
  table th, table td, .body-cell .cell-wrap { padding: 2px 3px !important; }
  table .cell-wrap, table .header-content { padding: 0 !important; }
  #table td, #table td span, #ranking td, #ranking td span { white-space: normal !important; overflow-wrap: normal !important; word-break: normal !important; }
}
"""  # the hidden table Gradio measures column widths on, and the cells it shows, must agree


def intro(canvas: int) -> str:
    return (
        "# Theme-aware aesthetic score distributions at full resolution\n"
        f"The photo is zero-padded top-left into one {canvas} × {canvas} canvas and the backbone pools only over the "
        "photo's own region (ROI pooling): it is neither warped nor cropped, and keeps its own resolution up to the "
        "canvas (larger photos are downscaled to fit, and the page says so). The theme (a challenge's topic) shifts what voters reward."
    )


def example_inputs(listing, theme_names: list[str]) -> list[list[str]]:
    """[photo path, theme] per example, the theme replaced by no theme where the model does not know it."""
    known = {name.casefold() for name in theme_names}
    return [[str(e.path), e.theme if e.theme.casefold() in known else NO_THEME_NAME] for e in read_examples(listing)]


def kept_theme(theme: str, theme_names: list[str]) -> str:
    """The chosen theme if another model knows it too, else no theme."""
    return theme if theme.casefold() in {name.casefold() for name in theme_names} else NO_THEME_NAME


def heat_file(registry: ModelRegistry, store: ImageStore, state: PhotoState, view: str) -> str:
    """The heat map over ``view`` of the shown photo under its theme, drawn once into the store."""

    def draw():
        heat, image = registry.session(state.model).heat_map(state, view)
        return heat_overlay(image, heat)

    return store.image(registry.image_name(state, f"{view}-heat-t{state.theme_id}"), draw)


def view_files(registry: ModelRegistry, store: ImageStore, state: PhotoState, heat: str) -> dict[str, str]:
    """Each view's image file as shown: the heat map on view ``heat``, the plain view (if still stored) on the others."""
    files = {view: store.existing(registry.image_name(state, view)) for view in VIEW_TITLES}
    if heat in files:
        files[heat] = heat_file(registry, store, state, heat)
    return {view: path for view, path in files.items() if path}
