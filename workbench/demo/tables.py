"""The demo's text and tables: pure functions of distributions, so they are tested without a UI."""
from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.data.images import ImageInfo
from workbench.metrics import per_image_distances
from workbench.predict import NO_THEME_NAME, summarize

TOP_THEMES = 5
TRUTH = "truth"  # the row / series name of the benchmark's true expected distribution
COMPARISON_COLUMNS = ["view", "theme", "mean", "std", "EMD(r=1)", "EMD against"]
RANKING_COLUMNS = ["rank", "theme", "mean", "std"]
MIN_TRUE_CHANGE = 0.05  # a share of a smaller change of the true mean is noise over almost nothing (it read -2.33): left blank
MOVEMENT_COLUMNS = ["", "as drawn", "redrawn", "change", "share of the truth's change"]
COLUMN_DECIMALS = {"EMD(r=1)": 4}  # the places a table's column is rounded to, where not 3


def photo_description(name: str, info: ImageInfo, fitted_size: tuple[int, int], canvas: int) -> str:
    """Markdown: true size and aspect ratio, what was converted, and a note when it was downscaled."""
    w, h = info.original_size
    fitted_w, fitted_h = fitted_size
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
            f"⚠ **Downscaled** from {w} × {h} to {fitted_w} × {fitted_h} to fit the "
            f"{canvas} × {canvas} canvas the model works on."
        )
    padding = 1 - fitted_w * fitted_h / canvas**2
    lines.append(
        f"Padded top-left onto the {canvas} × {canvas} canvas ({padding:.0%} padding); ROI pooling reads "
        f"only the photo's {fitted_w} × {fitted_h} region."
    )
    return "  \n".join(lines)


def comparison_table(
    views: dict[str, np.ndarray], no_theme: np.ndarray, theme: str, truth: np.ndarray | None = None, truth_theme: str | None = None
) -> pd.DataFrame:
    """Mean, std and EMD(r=1) of each view (against the truth when known, else against ``full``),
    and of no theme against the theme (a row only when a theme is chosen: otherwise it is ``full`` again).

    truth: the benchmark's true distribution [K] (row ``truth``, judged under ``truth_theme``)."""
    names = list(views)
    rows = [*views.values()]
    labels = [(view, theme) for view in names]
    if theme != NO_THEME_NAME:
        rows.append(no_theme)
        labels.append(("full", NO_THEME_NAME))
    reference = truth if truth is not None else views["full"]
    against = TRUTH if truth is not None else "full"
    emd = per_image_distances(np.stack(rows), np.tile(reference, (len(rows), 1)))["emd1"]
    against_column = [against] * len(names) + ([against if truth is not None else f"full, {theme}"] if theme != NO_THEME_NAME else [])
    if truth is None:
        emd[names.index("full")] = 0.0
        against_column[names.index("full")] = "—"
    if truth is not None:
        rows.insert(0, truth)
        labels.insert(0, (TRUTH, truth_theme or theme))
        emd = np.concatenate([[0.0], emd])
        against_column.insert(0, "—")
    stats = summarize(np.stack(rows))
    table = pd.DataFrame({
        "view": [view for view, _ in labels], "theme": [name for _, name in labels], "mean": stats["mean"],
        "std": stats["std"], "EMD(r=1)": emd, "EMD against": against_column,
    })  # fmt: skip
    return table.round({"mean": 3, "std": 3, **COLUMN_DECIMALS})


def rank_themes(all_themes: np.ndarray, theme_names: list[str], top: int = TOP_THEMES) -> pd.DataFrame:
    """The ``top`` themes with the highest and the lowest predicted mean (all_themes [T, K])."""
    if len(theme_names) == 0:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    stats = summarize(all_themes)
    order = np.argsort(-stats["mean"], kind="stable")
    top = min(top, len(order))
    best = [(f"highest {i + 1}", order[i]) for i in range(top)]
    worst = [(f"lowest {i + 1}", order[-1 - i]) for i in range(min(top, len(order) - top))][::-1]
    rows = [{"rank": label, "theme": theme_names[t], "mean": stats["mean"][t], "std": stats["std"][t]}
            for label, t in best + worst]  # fmt: skip
    return pd.DataFrame(rows, columns=RANKING_COLUMNS).round({"mean": 3, "std": 3})


def movement_table(before: dict[str, float], after: dict[str, float]) -> pd.DataFrame:
    """How the truth's mean and each view's predicted mean move when one attribute is changed.

    before / after: name -> mean score, ``truth`` first. A view's share is its change over the truth's:
    1 follows the truth, 0 does not see the change (blank when the truth moves by less than MIN_TRUE_CHANGE)."""
    if list(before) != list(after) or TRUTH not in before:
        raise ValueError(f"before and after must name the same rows, {TRUTH!r} among them")
    true_change = after[TRUTH] - before[TRUTH]
    rows = []
    for name in before:
        change = after[name] - before[name]
        share = change / true_change if name != TRUTH and abs(true_change) >= MIN_TRUE_CHANGE else np.nan
        rows.append({"": name, "as drawn": before[name], "redrawn": after[name], "change": change, "share of the truth's change": share})
    return pd.DataFrame(rows, columns=MOVEMENT_COLUMNS).round(3)


def fixed_decimals(frame: pd.DataFrame) -> pd.io.formats.style.Styler:
    """``frame`` as the page shows it: each number to the places its column is rounded to (1.280, not Gradio's
    1.28, so a column's digits line up), a missing one blank; the numbers behind it, which the API returns, are
    unchanged."""
    numbers = frame.select_dtypes("floating").columns
    return frame.style.format({column: f"{{:.{COLUMN_DECIMALS.get(column, 3)}f}}" for column in numbers}, na_rep="")


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
