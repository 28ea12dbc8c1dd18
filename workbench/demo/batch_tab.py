"""The demo page's "Many photos" tab: its Gradio components and its one callback (``/score_many``).

Why a module of its own: the tab is a page of its own inside app.py's page (photos or zips in, a table,
the files that failed, thumbnails and a CSV out) that shares only the model choice with the rest, so
app.py lays out the one-photo tab and composes this one: ``BatchTab.build`` inside the tab, ``wire``
where app.py registers its events (the same order as before the split). Its logic is
``demo.batch.score_uploads``; this module is Gradio only.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from workbench.checkpoints import CheckpointError
from workbench.demo.batch import FAILED_COLUMNS, batch_columns, limits_text, score_uploads, shown_table
from workbench.demo.registry import ModelRegistry
from workbench.demo.store import ImageStore
from workbench.predict import NO_THEME_NAME


@dataclass
class BatchTab:
    """The tab's components; ``theme`` is updated by a model switch (app.py's ``on_model``)."""

    files: gr.File
    theme: gr.Dropdown
    run: gr.Button
    csv: gr.File
    table: gr.Dataframe
    failed: gr.Dataframe
    gallery: gr.Gallery

    @classmethod
    def build(cls, theme_choices: list[str], has_themes: bool) -> BatchTab:
        """Lays the tab out in the current ``gr.Tab``."""
        gr.Markdown(f"Several photos or zips of them: mean and std of each under the theme and with none (full view); "
                    f"{limits_text()}. Files that cannot be used are listed; the others are scored.")  # fmt: skip
        with gr.Row():
            files = gr.File(label="Photos or .zip", file_count="multiple", elem_id="batch-files")  # any file: bad ones are listed
            with gr.Column():
                theme = gr.Dropdown(theme_choices, value=NO_THEME_NAME, label="Theme", filterable=True,
                                    visible=has_themes, elem_id="batch-theme")  # fmt: skip
                run = gr.Button("Score them", variant="primary", elem_id="batch-run")
                csv = gr.File(label="Results as CSV", interactive=False, elem_id="batch-csv")
        table = gr.Dataframe(shown_table(pd.DataFrame(columns=batch_columns())), label="Scores (the CSV has each number in its own column)",
                             interactive=False, elem_id="batch-table", wrap=True)  # fmt: skip
        failed = gr.Dataframe(pd.DataFrame(columns=FAILED_COLUMNS), label="Files that could not be used", interactive=False,
                              elem_id="batch-failed", wrap=True, column_widths=["35%", "65%"])  # fmt: skip
        gallery = gr.Gallery(label="Thumbnails (caption: mean under the theme)", columns=6, height="auto", object_fit="contain",
                             elem_id="batch-gallery")  # fmt: skip
        return cls(files, theme, run, csv, table, failed, gallery)

    def wire(self, registry: ModelRegistry, store: ImageStore, model: gr.Dropdown) -> None:
        """Registers the button's event (``/score_many``) with the page's model choice."""

        def on_batch(paths: list[str] | None, theme_value: str, model_name: str = registry.default, progress=gr.Progress()):
            if not paths:
                gr.Warning("Choose photos or a zip first.")
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            try:
                table_, failed, thumbnails, path = score_uploads(registry.session(model_name), paths, theme_value, store,
                                                                 lambda done, total, name: progress(done / total, desc=f"{done} of {total}: {name}"))  # fmt: skip
            except (ValueError, CheckpointError) as error:
                gr.Warning(str(error))
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return table_, failed, thumbnails, str(path)

        self.run.click(on_batch, [self.files, self.theme, model], [self.table, self.failed, self.gallery, self.csv], api_name="score_many")
