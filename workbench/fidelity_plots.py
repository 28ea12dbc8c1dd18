"""Figures of ``workbench.fidelity``: does the prediction move as the synthetic benchmark's truth does?

Two figures, each drawn from fidelity's own tables (nothing is recomputed here): the theme-response
scatter (``theme_response_pairs`` + ``theme_response``) and the attribute-response bars per view
(``summarise_attribute_changes``). Both exist only on the SYNTHETIC benchmark (only its generator knows
the truth under every theme and for a redrawn attribute) and say so in their titles; ``source`` says on
the figure where the numbers come from (e.g. "this run: computed here"). Built as ``workbench.plots``
builds its figures: no pyplot, PNG written when ``save_to`` is given.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from workbench.curves import save_figure
from workbench.fidelity import SIGN_THRESHOLD
from workbench.plots import PREDICTED_COLOR, TARGET_COLOR, PathLike, label_figure

# One colour per view (never the truth's red); the full view in the predicted blue, as in every other figure.
VIEW_COLORS = {"full": PREDICTED_COLOR, "resized_pad": "#ff7f0e", "resize": "#2ca02c", "crop": "#7f7f7f"}
VIEW_LABELS = {
    "full": "full (pad + ROI, full resolution)", "resized_pad": "resized_pad (downscaled, padded)",
    "resize": "resize (stretched to 299x299)", "crop": "crop (299x299 of the photo)",
}  # fmt: skip
VIEW_ORDER = ("full", "resized_pad", "resize", "crop")  # full resolution first, then what each baseline gives up


def plot_theme_response(
    pairs: pd.DataFrame, response: Mapping[str, Any], source: str, caption: str | None = None, save_to: PathLike | None = None,
) -> Figure:
    """Predicted vs true change of the mean score when each photo is judged under another theme, one
    point per (photo, other theme) pair, with y = x (follows the theme's criterion fully), y = 0 (ignores
    the theme) and the fitted line; the slope (95% interval), r and the sign agreement written on it.

    pairs: ``fidelity.theme_response_pairs``; response: ``fidelity.theme_response`` of the same predictions.
    source: where the numbers come from, printed with them.
    """
    if pairs.empty:
        raise ValueError("pairs is empty: no (photo, other theme) pair to draw")
    x, y = pairs["true_change"].to_numpy(), pairs["pred_change"].to_numpy()
    figure = Figure(figsize=(7.2, 6.4), layout="constrained")
    ax = figure.add_subplot(1, 1, 1)
    ax.scatter(x, y, s=5, alpha=float(np.clip(1000 / len(x), 0.12, 0.6)), color=PREDICTED_COLOR, linewidths=0,
               label=f"{len(x):,} (photo, other theme) pairs")  # fmt: skip
    limit = 1.05 * float(np.nanmax(np.abs(np.concatenate([x, y]))))
    line = np.array([-limit, limit])
    ax.plot(line, line, color=TARGET_COLOR, linestyle="--", linewidth=1.0, label="y = x: moves as the truth does")
    ax.axhline(0.0, color="0.4", linewidth=0.8, label="y = 0: ignores the theme")
    ax.plot(line, response["slope"] * line + response["intercept"], color="black", linewidth=1.4,
            label=f"fitted line, slope {response['slope']:.2f}")  # fmt: skip
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("true change of the mean score (the theme's voters, noise-free)")
    ax.set_ylabel("predicted change of the mean score")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    photos = pairs["photo"].nunique()
    numbers = (
        f"slope {response['slope']:.3f} (95% CI {response['slope_low']:.3f} to {response['slope_high']:.3f}, photos resampled)\n"
        f"r = {response['r']:.3f}\n"
        f"sign agreement {response['sign_agreement']:.1%}"
        + f" of the {response['sign_pairs']:,} pairs whose truth moves by >= {SIGN_THRESHOLD:g}"
        + f"\n{photos} photos x {len(pairs) // max(photos, 1)} other themes · {source}"
    )  # fmt: skip
    ax.text(0.98, 0.02, numbers, transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"})  # fmt: skip
    ax.set_title("Theme response · SYNTHETIC benchmark: a photo judged under another theme", fontsize=10)
    label_figure(figure, caption)
    return save_figure(figure, save_to)


def plot_attribute_responses(
    attributes: pd.DataFrame, source: str, views: Sequence[str] | None = None, caption: str | None = None,
    highlight: Sequence[str] = (), save_to: PathLike | None = None,
) -> Figure:
    """Each attribute probe's predicted change of the mean as a share of the true change, one bar per view
    (each view with its own trained head), with the 95% bootstrap interval over scenes when the table has
    it; 1 = moves as the truth does, 0 = blind to the attribute.

    attributes: ``fidelity.summarise_attribute_changes`` (``truth``, ``<view>_share``, optionally
    ``<view>_share_low`` / ``_high``). views: default every view in the table, full resolution first.
    highlight: probes to shade (e.g. ``fidelity.RESOLUTION_LEAD_PROBES``, where full resolution is asked to lead).
    """
    views = [view for view in VIEW_ORDER if f"{view}_share" in attributes.columns] if views is None else list(views)
    missing = [view for view in views if f"{view}_share" not in attributes.columns]
    if attributes.empty or not views or missing:
        raise ValueError(f"attributes needs rows and a '<view>_share' column per view; missing views: {missing or views}")
    figure = Figure(figsize=(max(8.0, 1.25 * len(attributes) + 2), 5.4), layout="constrained")
    ax = figure.add_subplot(1, 1, 1)
    positions = np.arange(len(attributes))
    width = 0.8 / len(views)
    for i, view in enumerate(views):
        shares = attributes[f"{view}_share"].to_numpy(float)
        errors = None
        if f"{view}_share_low" in attributes.columns:
            low, high = attributes[f"{view}_share_low"].to_numpy(float), attributes[f"{view}_share_high"].to_numpy(float)
            errors = np.vstack([np.clip(shares - low, 0, None), np.clip(high - shares, 0, None)])
        ax.bar(positions + (i - (len(views) - 1) / 2) * width, shares, width, yerr=errors, capsize=1.5,
               color=VIEW_COLORS.get(view, "0.3"), label=VIEW_LABELS.get(view, view), error_kw={"linewidth": 0.7})  # fmt: skip
    for j, name in enumerate(attributes.index):
        if name in highlight:
            ax.axvspan(j - 0.45, j + 0.45, color="#fff2cc", zorder=0)
    ax.axhline(1.0, color=TARGET_COLOR, linestyle="--", linewidth=1.0, label="1: moves as the truth does")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(positions, [f"{name}\n({row.theme})\ntruth {row.truth:+.2f}" for name, row in attributes.iterrows()], fontsize=7)
    ax.set_ylabel("predicted change / true change of the mean score")
    figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=len(views) + 1, fontsize=7, frameon=False)
    scenes = attributes["scenes"].iloc[0] if "scenes" in attributes.columns else "?"
    interval = "95% bootstrap intervals over scenes" if errors is not None else "no intervals"
    shaded = "; shaded: where full resolution is asked to lead" if any(name in highlight for name in attributes.index) else ""
    ax.set_title(f"Attribute response by view · SYNTHETIC benchmark: one attribute moved low -> high on {scenes} scenes, "
                 f"under the theme that judges it\n{interval}{shaded} · {source}", fontsize=9)  # fmt: skip
    ax.set_ylim(min(-0.1, ax.get_ylim()[0]), max(1.15, ax.get_ylim()[1]))  # the line at 1 always in view
    label_figure(figure, caption)
    return save_figure(figure, save_to)
