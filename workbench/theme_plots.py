"""Figures of the theme (Sec. III-B, Fig. 2 on real votes, Fig. 8): each theme's mean distribution, the
spread of the themes' means and stds, the prediction with and without the theme, and an ipywidgets
browser of themes. Apart from ``workbench.plots`` because they read theme statistics, not one
prediction per photo; drawn the same way (no pyplot, PNG when ``save_to`` is given).
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workbench.analysis import theme_effect, theme_statistics
from workbench.curves import figure_png, save_figure
from workbench.plots import PREDICTED_COLOR, TARGET_COLOR, PathLike, _as_pixels, _check_lengths, _grid_shape, label_figure


def _as_theme_statistics(source: pd.DataFrame) -> pd.DataFrame:
    """A label table (v1..vK columns) -> ``theme_statistics`` of all its themes; theme statistics pass through."""
    if "mean_of_means" in source.columns:
        return source
    return theme_statistics(source, min_photos=1)


def _resolve_themes(stats: pd.DataFrame, themes: Iterable[int | str] | None, top: int) -> list[int]:
    """Theme ids from ids or names; None -> the ``top`` largest themes."""
    if themes is None:
        return [int(t) for t in stats.sort_values("count", ascending=False, kind="stable").index[:top]]
    by_name = {name: int(theme) for theme, name in stats["theme"].items() if isinstance(name, str)}
    resolved = []
    for theme in themes:
        if isinstance(theme, str):
            if theme not in by_name:
                raise ValueError(f"theme {theme!r} is not in the theme statistics (names are case-sensitive)")
            resolved.append(by_name[theme])
        else:
            if int(theme) not in stats.index:
                raise ValueError(f"theme id {theme} is not in the theme statistics (too few photos, or unknown)")
            resolved.append(int(theme))
    if not resolved:
        raise ValueError("themes is empty; pick at least one theme")
    return resolved


def _theme_label(stats: pd.DataFrame, theme: int) -> str:
    name = stats.at[theme, "theme"]
    return f"{name if isinstance(name, str) else f'theme {theme}'} (n={int(stats.at[theme, 'count'])})"


def plot_theme_distributions(
    source: pd.DataFrame,
    themes: Iterable[int | str] | None = None,
    top: int = 5,
    show_global: bool = True,
    ax: Axes | None = None,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Mean vote distributions of selected themes side by side (grouped bars, one group per score).

    source: ``analysis.theme_statistics`` output or a label table. themes: ids or names (default: the
    ``top`` largest). ``show_global`` adds the mean distribution over all photos as a dashed line.
    """
    stats = _as_theme_statistics(source)
    chosen = _resolve_themes(stats, themes, top)
    num_bins = int(stats.attrs.get("num_bins") or sum(1 for c in stats.columns if str(c).startswith("p") and str(c)[1:].isdigit()))
    scores = np.arange(1, num_bins + 1)
    if ax is None:
        figure = Figure(figsize=(min(12.0, max(6.0, 0.25 * num_bins * len(chosen) + 3)), 3.8), layout="constrained")
        ax = figure.add_subplot()
    figure = ax.figure
    width = 0.8 / len(chosen)
    for i, theme in enumerate(chosen):
        distribution = stats.loc[theme, [f"p{k}" for k in scores]].to_numpy(dtype=np.float64)
        ax.bar(scores - 0.4 + width * (i + 0.5), distribution, width=width, label=_theme_label(stats, theme))
    global_distribution = stats.attrs.get("global_distribution")
    if show_global and global_distribution:
        ax.plot(scores, global_distribution, color="black", linestyle="--", marker=".", linewidth=1, label="all photos")
    ax.set_xticks(scores)
    ax.set_xlabel("score")
    ax.set_ylabel("share of votes (photos weighted equally)")
    ax.set_title("Mean vote distribution per theme" + (f"\n{caption}" if caption else ""), fontsize=9 if caption else None)
    ax.legend(fontsize=7, frameon=False)
    return save_figure(figure, save_to)


def plot_theme_means(
    theme_stats: pd.DataFrame, top: int | None = None, save_to: PathLike | None = None, caption: str | None = None,
) -> Figure:
    """The spread of themes: theme averages of photo mean scores (left) and photo stds (right),
    sorted, each with a band of ±1 sd over the theme's photos. Titles give eta^2 (share of the
    variance between themes) and the chance-corrected omega^2 when ``theme_stats.attrs`` has them.
    top: only the ``top`` largest themes."""
    stats = _as_theme_statistics(theme_stats)
    if top is not None:
        stats = stats.sort_values("count", ascending=False, kind="stable").head(top)
    if len(stats) == 0:
        raise ValueError("no themes to plot")
    variance = {row["quantity"]: row for row in stats.attrs.get("variance", [])}
    figure = Figure(figsize=(11, 3.8), layout="constrained")
    panels = (("mean", "mean_of_means", "sd_of_means", "photo mean score"),
              ("std", "mean_of_stds", "sd_of_stds", "photo std of votes"))
    for i, (quantity, centre, spread, label) in enumerate(panels):
        ax = figure.add_subplot(1, 2, i + 1)
        ordered = stats.sort_values(centre)
        rank = np.arange(len(ordered))
        values = ordered[centre].to_numpy(dtype=np.float64)
        sd = np.nan_to_num(ordered[spread].to_numpy(dtype=np.float64))
        ax.fill_between(rank, values - sd, values + sd, color=PREDICTED_COLOR, alpha=0.2, linewidth=0, label="±1 sd over photos")
        ax.plot(rank, values, color=PREDICTED_COLOR, linewidth=1.2, marker="." if len(rank) <= 50 else None, label="theme average")
        overall = float(np.average(values, weights=ordered["count"]))
        ax.axhline(overall, color="black", linestyle="--", linewidth=0.8, label="all photos")
        ax.set_xlabel(f"themes, sorted ({len(ordered)})")
        ax.set_ylabel(label)
        title = f"Theme averages of the {label}"
        if quantity in variance:
            row = variance[quantity]
            title += f"\nbetween themes: eta² {row['eta_squared']:.3f}, omega² {row['omega_squared']:.3f} (chance {row['chance_eta_squared']:.3f})"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    label_figure(figure, caption)
    return save_figure(figure, save_to)


def plot_with_without_theme(
    pred_with: Any,
    pred_without: Any,
    target: Any,
    images: Sequence[Any] | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    max_side: int | None = 512,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Fig. 8: mean scores predicted with vs without the theme.

    With ``images``: one panel per photo, captioned "gt / with theme / without theme" mean scores.
    Without: two panels over all photos: predicted vs ground-truth means for both models, and the
    histogram of the improvement |error without| - |error with| (> 0: the theme helped).
    """
    effect = theme_effect(pred_with, pred_without, target)
    if images is not None:
        _check_lengths(len(effect), images=images, titles=titles)
        rows, cols = _grid_shape(len(effect), ncols)
        figure = Figure(figsize=(3.0 * cols, 3.2 * rows), layout="constrained")
        for i, row in enumerate(effect.itertuples()):
            ax = figure.add_subplot(rows, cols, i + 1)
            ax.imshow(_as_pixels(images[i], max_side))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"gt {row.target_mean:.2f} | with {row.mean_with:.2f} | without {row.mean_without:.2f}", fontsize=8)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
        label_figure(figure, caption, "under each: ground-truth mean | predicted with the theme | predicted without")
        return save_figure(figure, save_to)
    summary = effect.attrs["summary"]
    figure = Figure(figsize=(10, 4), layout="constrained")
    scatter = figure.add_subplot(1, 2, 1)
    scatter.scatter(effect["target_mean"], effect["mean_without"], s=6, alpha=0.5, color="0.5",
                    label=f"without theme (MAE {summary['mae_without']:.3f})")
    scatter.scatter(effect["target_mean"], effect["mean_with"], s=6, alpha=0.5, color=PREDICTED_COLOR,
                    label=f"with theme (MAE {summary['mae_with']:.3f})")
    low = float(np.nanmin(effect[["target_mean", "mean_with", "mean_without"]].to_numpy()))
    high = float(np.nanmax(effect[["target_mean", "mean_with", "mean_without"]].to_numpy()))
    scatter.plot([low, high], [low, high], color=TARGET_COLOR, linewidth=0.8, linestyle="--")
    scatter.set_xlabel("ground-truth mean score")
    scatter.set_ylabel("predicted mean score")
    scatter.legend(fontsize=7, frameon=False)
    histogram = figure.add_subplot(1, 2, 2)
    histogram.hist(effect["improvement"], bins=40, color=PREDICTED_COLOR, alpha=0.8)
    histogram.axvline(0.0, color="black", linewidth=0.8)
    histogram.set_xlabel("|error without theme| - |error with theme| (mean score)")
    histogram.set_ylabel("photos")
    histogram.set_title(f"the theme helped on {summary['share_improved']:.0%} of {summary['photos']} photos", fontsize=9)
    label_figure(figure, caption)
    return save_figure(figure, save_to)


def _theme_browser_class():
    """Defined on first use so that importing ``workbench.plots`` does not import ipywidgets."""
    import ipywidgets as widgets

    class ThemeBrowser(widgets.VBox):
        """Pick themes (type to filter, ctrl/shift-click for several) and compare their mean
        distributions; the plot is a PNG in an ``Image`` widget, redrawn by ``update``, so it works
        with or without a running kernel."""

        def __init__(self, stats: pd.DataFrame, initial: Sequence[int | str] | None, top: int, rows: int, caption: str | None = None):
            self.stats = stats
            self.caption = caption
            self.figure: Figure | None = None
            ordered = stats.sort_values("count", ascending=False, kind="stable")
            self._all_options = [(_theme_label(stats, int(t)), int(t)) for t in ordered.index]
            self.filter = widgets.Text(placeholder="filter themes by name", description="Filter")
            self.select = widgets.SelectMultiple(options=self._all_options, rows=rows, description="Themes",
                                                 layout=widgets.Layout(width="480px"))
            self.image = widgets.Image(format="png")
            self.status = widgets.HTML()
            super().__init__([widgets.HBox([widgets.VBox([self.filter, self.select]), self.status]), self.image])
            self.select.value = tuple(_resolve_themes(stats, initial, top))
            self.filter.observe(lambda change: self.apply_filter(change["new"]), names="value")
            self.select.observe(lambda change: self.update(), names="value")
            self.update()

        def apply_filter(self, text: str) -> None:
            """Show only themes whose name contains ``text`` (case-insensitive); keeps matching selections."""
            needle = text.strip().lower()
            options = [o for o in self._all_options if needle in o[0].lower()] if needle else self._all_options
            kept = tuple(v for v in self.select.value if v in {value for _, value in options})
            with self.select.hold_trait_notifications():
                self.select.options = options
                self.select.value = kept
            self.status.value = f"{len(options)} of {len(self._all_options)} themes match"

        def update(self, themes: Sequence[int | str] | None = None) -> None:
            """Redraw for ``themes`` (ids or names; selects them) or for the current selection."""
            if themes is not None:
                ids = tuple(_resolve_themes(self.stats, themes, 0))
                if ids != tuple(self.select.value):
                    self.select.value = ids  # the observer redraws
                    return
            chosen = list(self.select.value)
            if not chosen:
                self.figure = None
                self.image.value = b""
                self.status.value = "select one or more themes"
                return
            self.figure = plot_theme_distributions(self.stats, themes=chosen, caption=self.caption)
            self.image.value = figure_png(self.figure)
            self.status.value = f"{len(chosen)} theme(s) shown"

    return ThemeBrowser


def theme_browser(source: pd.DataFrame, initial: Sequence[int | str] | None = None, top: int = 3, rows: int = 12, caption: str | None = None):
    """An ipywidgets browser of theme distributions (a ``VBox`` with ``filter``, ``select``, ``image``,
    ``update(themes=None)`` and the last ``figure``). source: a label table or ``theme_statistics``
    output; initial: themes shown first (default: the ``top`` largest); caption: the data, on every figure."""
    return _theme_browser_class()(_as_theme_statistics(source), initial, top, rows, caption)
