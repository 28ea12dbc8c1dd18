"""Training curves and figure output, with matplotlib only: below ``hooks``, whose ``LivePlotHook`` draws live curves.

Figures are built without pyplot (no global state, no backend to resolve); ``figure_png`` gives the
bytes a notebook, widget or app shows, whatever backend the kernel has.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
# History columns that are bookkeeping, not curves.
NOT_PLOTTED = {"epoch", "step", "steps", "time", "seconds", "wall_s", "lr", "learning_rate", "images", "skipped", "val_seconds"}


def save_figure(figure: Figure, save_to: str | os.PathLike | None) -> Figure:
    """Write ``figure`` as PNG when ``save_to`` is given (creating its folder); returns it."""
    if save_to is not None:
        path = Path(save_to)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=DPI)
    return figure


def figure_png(figure: Figure) -> bytes:
    """A figure as PNG bytes (for widgets, the app, reports, live training curves)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def plot_history(
    history: pd.DataFrame | Sequence[Mapping[str, Any]], save_to: str | os.PathLike | None = None, title: str | None = None,
) -> Figure:
    """Training curves: one panel each for losses (columns with "loss"), correlations (srcc / plcc)
    and the other metrics (EMD, KL, ...; log scale, as they differ by orders of magnitude), against
    ``epoch`` (or the row number). Panels without a column are left out; NaN leaves a gap.
    title: above the panels (default: what the figure is, and the head stage's epoch when it has one)."""
    frame = pd.DataFrame(history)
    if frame.empty:
        raise ValueError("history is empty: nothing to plot")
    x = frame["epoch"].to_numpy() if "epoch" in frame.columns else np.arange(len(frame))
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and str(c).lower() not in NOT_PLOTTED]
    groups = {
        "loss": [c for c in numeric if "loss" in str(c).lower()],
        "correlation (higher is better)": [c for c in numeric if any(s in str(c).lower() for s in ("srcc", "plcc"))],
    }
    grouped = {c for columns in groups.values() for c in columns}
    groups["metric (lower is better)"] = [c for c in numeric if c not in grouped]
    groups = {label: columns for label, columns in groups.items() if columns}
    if not groups:
        raise ValueError(f"history has no numeric column to plot (got {list(frame.columns)})")
    figure = Figure(figsize=(4.2 * len(groups), 4.0), layout="constrained")
    for i, (label, columns) in enumerate(groups.items()):
        ax = figure.add_subplot(1, len(groups), i + 1)
        for column in columns:
            ax.plot(x, frame[column].to_numpy(dtype=np.float64), marker="." if len(frame) <= 60 else None, label=str(column))
        values = frame[columns].to_numpy(dtype=np.float64)
        if label.startswith("metric") and len(columns) > 1 and (values[np.isfinite(values)] > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch" if "epoch" in frame.columns else "row")
        if len(np.unique(x)) <= 10:  # few epochs: a tick at each (MaxNLocator falls back to fractions around one point)
            ax.set_xticks(np.unique(x))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.set_ylabel(label)
        # below the axes, so that it never covers a curve
        ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    if title is None:
        title = f"training history: {len(frame)} epoch{'s' if len(frame) != 1 else ''}, one point each"
        if "stage" in frame.columns and (frame["stage"] == "head").any():
            title += f"; epoch {', '.join(str(e) for e in x[(frame['stage'] == 'head').to_numpy()])} is the head stage"
    figure.suptitle(title, fontsize=9)
    return save_figure(figure, save_to)
