"""The demo page's lab: redraw the shown benchmark photo with one attribute changed (``/redraw``), in Gradio.

Why a module of its own: the lab is one panel with its own controls (an attribute, a slider at the photo's
value, a note when the photo is no benchmark photo) and its own two events, inside app.py's one-photo page.
app.py builds it (``LabPanel.build``) where it stands on the page, puts ``shown`` / ``cleared`` in the
values it sends for a photo, and calls ``wire`` where it registers its events (the same order as before the
split). Its logic is ``demo.benchmark`` (``SLIDER_ATTRIBUTES``, ``BenchmarkPhoto.with_attribute``) and the
session's ``draw_benchmark_photo``; the movement table is ``demo.tables``; this module is Gradio only.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from workbench.demo.benchmark import SLIDER_ATTRIBUTES
from workbench.demo.page import LAB_NEEDS_BENCHMARK, SLIDER_STEP
from workbench.demo.registry import ModelRegistry
from workbench.demo.session import PhotoState
from workbench.demo.tables import MOVEMENT_COLUMNS


def attribute_slider(name: str, current: PhotoState | None) -> gr.Slider:
    """The slider for attribute ``name``, at the shown benchmark photo's value (else at its low end)."""
    low, high, _ = SLIDER_ATTRIBUTES[name]
    start = current.benchmark.current_value(name) if current is not None and current.benchmark is not None else low
    return gr.Slider(low, high, value=round(start, 2), step=SLIDER_STEP, interactive=current is not None and current.benchmark is not None)


@dataclass
class LabPanel:
    """The lab's components: its note, the attribute, the new value and the movement table."""

    note: gr.Markdown
    attribute: gr.Dropdown
    value: gr.Slider
    movement: gr.Dataframe

    @classmethod
    def build(cls) -> LabPanel:
        """Lays the panel out where it is called (inside the page's ``gr.Blocks``)."""
        with gr.Group(elem_id="redraw"):
            gr.Markdown("**Redraw this benchmark photo with one attribute changed** (the rest of the scene stays as drawn): "
                        "how far do the truth and each view's prediction move?")  # fmt: skip
            note = gr.Markdown(LAB_NEEDS_BENCHMARK, elem_id="lab-note")
            with gr.Row():
                attribute = gr.Dropdown(list(SLIDER_ATTRIBUTES), value="grain", label="attribute", elem_id="attribute", min_width=160,
                                        info=SLIDER_ATTRIBUTES["grain"][2], interactive=False)  # fmt: skip
                value = gr.Slider(0, 1, value=1, step=SLIDER_STEP, label="new value (redraws on release)", elem_id="attribute-value",
                                  min_width=200, interactive=False)  # fmt: skip
            movement = gr.Dataframe(pd.DataFrame(columns=MOVEMENT_COLUMNS), label="Mean score, the scene as drawn vs redrawn",
                                    interactive=False, elem_id="movement", wrap=True)  # fmt: skip
        return cls(note, attribute, value, movement)

    def shown(self, state: PhotoState, attribute_name: str) -> dict:
        """The controls for a newly shown photo: usable on a benchmark photo, the slider at its value."""
        lab = state.benchmark is not None
        return {self.attribute: gr.Dropdown(interactive=lab), self.note: "" if lab else LAB_NEEDS_BENCHMARK,
                self.value: attribute_slider(attribute_name, state) if lab else gr.Slider(interactive=False)}  # fmt: skip

    def cleared(self) -> dict:
        """The panel with no photo: an empty movement table, the controls off."""
        return {self.movement: pd.DataFrame(columns=MOVEMENT_COLUMNS), self.note: LAB_NEEDS_BENCHMARK,
                self.attribute: gr.Dropdown(interactive=False), self.value: gr.Slider(interactive=False)}  # fmt: skip

    def wire(self, registry: ModelRegistry, state: gr.State, photo: gr.File) -> None:
        """Registers the attribute choice (its slider) and the redraw on the slider's release (``/redraw``): the
        redrawn photo goes into ``photo``, whose change analyses it."""

        def on_attribute(name: str, current: PhotoState | None):
            return gr.Dropdown(info=SLIDER_ATTRIBUTES[name][2]), attribute_slider(name, current)

        def on_redraw(name: str, new_value: float, current: PhotoState | None):
            if current is None or current.benchmark is None:
                gr.Warning("Redrawing needs a benchmark photo: pick an example or draw one first.")
                return gr.skip()
            return str(registry.session(current.model).draw_benchmark_photo(current.benchmark.with_attribute(name, new_value)))

        quiet = {"api_visibility": "private", "show_progress": "hidden"}
        self.attribute.input(on_attribute, [self.attribute, state], [self.attribute, self.value], **quiet)
        self.value.release(on_redraw, [self.attribute, self.value, state], photo, api_name="redraw")
