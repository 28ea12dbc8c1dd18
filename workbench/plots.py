"""Figures of the paper (Figs. 4-8) and of our analyses, drawn from ``workbench.analysis`` results.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, no
backend needed, nothing to close, no double display in notebooks: show one by leaving it as a
cell's last value) and writes it as PNG when ``save_to`` is given. Colours follow the paper:
blue = predicted, red = ground truth.
"""
from __future__ import annotations

import math
import os
import textwrap
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workbench.analysis import (
    distribution_shape,
    theme_effect,
    theme_statistics,
    worst_predictions,
)
from workbench.curves import figure_png, save_figure
from workbench.curves import plot_history  # noqa: F401  (re-exported: one place for every figure)
from workbench.data.images import load_image
from workbench.metrics import distribution_mean, per_image_distances

PathLike = str | os.PathLike
PREDICTED_COLOR = "#1f77b4"  # blue, as in Fig. 4
TARGET_COLOR = "#d62728"  # red
PAPER_DATASET_COLORS = {"AVA": "#1f77b4", "Photo.net": "#d62728"}  # Fig. 6: AVA blue, Photo.net red
OTHER_DATASET_COLORS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f")  # any other data: never the paper's two


def dataset_color(name: str, others_seen: int = 0) -> str:
    """Fig. 6's colour of a dataset: the paper's blue for a name starting "AVA", its red for "Photo.net",
    and for anything else (e.g. the synthetic benchmark) the ``others_seen``-th of colours the paper does not use,
    so that no other data is drawn as if it were AVA or Photo.net."""
    for dataset, color in PAPER_DATASET_COLORS.items():
        if name.lower().startswith(dataset.lower()):
            return color
    return OTHER_DATASET_COLORS[others_seen % len(OTHER_DATASET_COLORS)]
SUMMARY_KEY = "under each: predicted mean (ground-truth mean) / EMD (r=1) between the two histograms"


def label_figure(figure: Figure, caption: str | None, key: str | None = None) -> Figure:
    """Say on the figure itself where its data comes from (``caption``: data, split, n, model) and how to
    read it (``key``), as a title above every panel; nothing when both are None."""
    width = max(60, int(figure.get_figwidth() * 15))  # characters that fit at fontsize 9
    lines = [textwrap.fill(line, width) for line in (caption, key) if line]
    if lines:
        figure.suptitle("\n".join(lines), fontsize=9)
    return figure


def _distributions(x: Any, name: str) -> np.ndarray:
    """[K] or [N, K] vote counts / probabilities -> float64[N, K] with rows summing to 1."""
    array = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"{name} must have shape [K] or [N, K], got {array.shape}")
    totals = array.sum(axis=1, keepdims=True)
    if np.any(~np.isfinite(array)) or np.any(array < 0) or np.any(totals <= 0):
        raise ValueError(f"{name} has a row that is negative, not finite or sums to 0")
    return array / totals


def _grid_shape(n: int, ncols: int) -> tuple[int, int]:
    if n < 1:
        raise ValueError("nothing to plot: got 0 items")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    ncols = min(ncols, n)
    return math.ceil(n / ncols), ncols


def _summary_title(p: np.ndarray, q: np.ndarray | None) -> str:
    """Fig. 4/5 caption: predicted mean (ground-truth mean) / EMD (r=1)."""
    mean = float(distribution_mean(p))
    if q is None:
        return f"mean {mean:.2f}"
    emd = float(per_image_distances(p[None], q[None])["emd1"][0])
    return f"{mean:.2f} ({float(distribution_mean(q)):.2f}) / EMD {emd:.3f}"


def _draw_histogram(ax: Axes, p: np.ndarray, q: np.ndarray | None, title: str | None, legend: bool) -> None:
    """Predicted bins (blue) beside ground-truth bins (red) over the scores 1..K."""
    scores = np.arange(1, len(p) + 1)
    if q is None:
        ax.bar(scores, p, width=0.8, color=PREDICTED_COLOR, label="predicted")
    else:
        ax.bar(scores - 0.2, p, width=0.4, color=PREDICTED_COLOR, label="predicted")
        ax.bar(scores + 0.2, q, width=0.4, color=TARGET_COLOR, label="ground truth")
    ax.set_xticks(scores)
    ax.set_xlim(0.4, len(p) + 0.6)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("score", fontsize=7, labelpad=1)
    ax.set_ylabel("share of votes", fontsize=7, labelpad=1)
    if title:
        ax.set_title(title, fontsize=8)
    if legend:
        ax.legend(fontsize=7, frameon=False)


def plot_histograms(
    pred: Any,
    target: Any = None,
    ax: Axes | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Predicted vs ground-truth score histograms (Fig. 4): one panel per photo.

    pred, target: ``[K]`` or ``[N, K]`` (counts or probabilities). Each panel's title gives the
    predicted mean, the ground-truth mean in brackets and EMD (r=1) (only the mean without target),
    under the optional ``titles[i]``. ``ax``: draw one distribution into an existing axes.
    """
    p = _distributions(pred, "pred")
    q = None if target is None else _distributions(target, "target")
    if q is not None and q.shape != p.shape:
        raise ValueError(f"pred and target shapes differ: {p.shape} vs {q.shape}")
    if titles is not None and len(titles) != len(p):
        raise ValueError(f"titles has {len(titles)} entries for {len(p)} distributions")
    if ax is not None:
        if len(p) != 1:
            raise ValueError(f"ax draws one distribution, got {len(p)}; leave ax=None for a grid")
        axes = [ax]
        figure = ax.figure
    else:
        rows, cols = _grid_shape(len(p), ncols)
        figure = Figure(figsize=(2.8 * cols, 2.2 * rows), layout="constrained")
        axes = [figure.add_subplot(rows, cols, i + 1) for i in range(len(p))]
    for i, axis in enumerate(axes):
        summary = _summary_title(p[i], None if q is None else q[i])
        title = summary if titles is None else f"{titles[i]}\n{summary}"
        _draw_histogram(axis, p[i], None if q is None else q[i], title, legend=i == 0)
    if ax is None:
        label_figure(figure, caption, SUMMARY_KEY if q is not None else "under each: predicted mean score")
    return save_figure(figure, save_to)


def _as_pixels(image: Any, max_side: int | None) -> np.ndarray:
    """A PIL image, an array [H, W(, C)] or a path -> an array imshow accepts (aspect kept)."""
    if isinstance(image, (str, os.PathLike)):
        image = load_image(image, max_side=max_side)
    if hasattr(image, "convert"):  # PIL
        if max_side is not None and max(image.size) > max_side:
            image = image.copy()
            image.thumbnail((max_side, max_side))
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise ValueError(f"an image must be a PIL image, a path or an array [H, W(, C)], got shape {array.shape}")
    return array


def _photo_histogram_grid(
    images: Sequence[Any] | None,
    preds: np.ndarray,
    targets: np.ndarray | None,
    titles: Sequence[str] | None,
    captions: Sequence[str],
    ncols: int,
    max_side: int | None,
) -> Figure:
    """Each photo (aspect ratio kept) above its histogram; ``captions[i]`` between them."""
    n = len(preds)
    rows, cols = _grid_shape(n, ncols)
    with_images = images is not None
    figure = Figure(figsize=(3.0 * cols, (4.4 if with_images else 2.3) * rows), layout="constrained")
    grid = figure.add_gridspec(2 * rows if with_images else rows, cols, height_ratios=[3.0, 1.4] * rows if with_images else None)
    for i in range(n):
        row, col = divmod(i, cols)
        if with_images:
            photo = figure.add_subplot(grid[2 * row, col])
            photo.imshow(_as_pixels(images[i], max_side))  # aspect="equal": the photo's own proportions
            photo.set_axis_off()
            if titles is not None:
                photo.set_title(titles[i], fontsize=8)
            histogram = figure.add_subplot(grid[2 * row + 1, col])
            title = captions[i]
        else:
            histogram = figure.add_subplot(grid[row, col])
            title = captions[i] if titles is None else f"{titles[i]}\n{captions[i]}"
        _draw_histogram(histogram, preds[i], None if targets is None else targets[i], title, legend=i == 0)
    return figure


def _check_lengths(n: int, **sequences: Sequence[Any] | None) -> None:
    for name, values in sequences.items():
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} photos")


def photo_grid(
    images: Sequence[Any],
    preds: Any,
    targets: Any = None,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    max_side: int | None = 512,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Fig. 5: each photo with its aspect ratio kept, above its histogram, captioned
    "predicted mean (ground-truth mean) / EMD". images: PIL images, arrays or paths (loaded,
    downscaled to ``max_side`` for display). Two axes per photo."""
    p = _distributions(preds, "preds")
    q = None if targets is None else _distributions(targets, "targets")
    _check_lengths(len(p), images=images, titles=titles, targets=q)
    captions = [_summary_title(p[i], None if q is None else q[i]) for i in range(len(p))]
    figure = _photo_histogram_grid(images, p, q, titles, captions, ncols, max_side)
    label_figure(figure, caption, SUMMARY_KEY if q is not None else "under each photo: its predicted distribution and mean score")
    return save_figure(figure, save_to)


def plot_aspect_ratios(
    ratios: Mapping[str, Any],
    bins: int = 40,
    value_range: tuple[float, float] | None = None,
    ax: Axes | None = None,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Fig. 6: overlaid histograms (density) of the aspect ratios w/h of several datasets.

    ratios: dataset name -> ratios (``analysis.aspect_ratios``); all share the same bins, over
    ``value_range`` (default: the data's range, clipped to [0.25, 4]). Colours: ``dataset_color``
    (AVA blue and Photo.net red as in the paper; other data in neither).
    """
    if not ratios:
        raise ValueError("ratios is empty; give at least one dataset")
    arrays = {name: np.asarray(values, dtype=np.float64).ravel() for name, values in ratios.items()}
    if value_range is None:
        low = max(0.25, min(float(a.min()) for a in arrays.values()))
        high = min(4.0, max(float(a.max()) for a in arrays.values()))
        value_range = (low, high) if high > low else (low - 0.1, high + 0.1)
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    if ax is None:
        figure = Figure(figsize=(8, 4.2), layout="constrained")
        ax = figure.add_subplot()
    figure = ax.figure
    others = 0
    for name, values in arrays.items():
        color = dataset_color(name, others)
        others += color not in PAPER_DATASET_COLORS.values()
        ax.hist(np.clip(values, edges[0], edges[-1]), bins=edges, density=True, alpha=0.55,
                color=color, label=textwrap.fill(f"{name} (n={values.size})", 48))
    ax.axvline(1.0, color="0.3", linewidth=0.8, linestyle=":")
    ax.set_xlabel("aspect ratio (width / height)")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    label_figure(figure, caption)
    return save_figure(figure, save_to)


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


def plot_failure_cases(
    pred: Any,
    target: Any,
    images: Sequence[Any] | None = None,
    k: int = 4,
    metric: str = "emd1",
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    max_side: int | None = 512,
    save_to: PathLike | None = None,
    caption: str | None = None,
) -> Figure:
    """Fig. 7: the ``k`` worst-predicted photos by ``metric``, each histogram captioned with the error
    and the ground truth's shape (skewness, modes, non-Gaussianity: what makes it "uncommon").

    pred, target: ``[N, K]`` for all photos; images / titles (optional): aligned with them (paths are
    loaded only for the photos shown). One axis per case, two with images.
    """
    p, q = _distributions(pred, "pred"), _distributions(target, "target")
    _check_lengths(len(p), images=images, titles=titles)
    worst = worst_predictions(p, q, k=k, metric=metric)
    if len(worst) == 0:
        raise ValueError("k = 0: no failure case to plot")
    chosen = worst.index.to_numpy()
    shape = distribution_shape(q[chosen])
    captions = [
        f"{_summary_title(p[i], q[i])}\nskew {s.skewness:+.2f}, {s.modes} mode{'s' if s.modes != 1 else ''}, "
        f"non-Gauss. {s.non_gaussianity:.3f}"
        for i, s in zip(chosen, shape.itertuples())
    ]
    figure = _photo_histogram_grid(
        None if images is None else [images[i] for i in chosen],
        p[chosen], q[chosen],
        None if titles is None else [titles[i] for i in chosen],
        captions, ncols, max_side,
    )
    label_figure(figure, caption, SUMMARY_KEY + "; the ground truth's shape below")
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


def plot_head_stage(
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
    baseline: Mapping[str, float] | None = None,
    title: str = "",
    epochs: int | None = None,
    save_to: PathLike | None = None,
    loss_label: str = "training loss (EMD, r=2)",
) -> Figure:
    """The head stage as it learns: training loss per epoch (left) and validation SRCC of the mean score
    (right) against the label-only theme prior's (dashed; ``baseline["srcc_mean"]``). rows: one per epoch
    with ``epoch``, ``train_loss`` and optionally ``val_srcc_mean`` (``notebook.HeadStageMonitor``).
    epochs: the x range to reserve (the run's length), so a live figure does not rescale.
    loss_label: what the loss is (``notebook.loss_label`` names the config's)."""
    from matplotlib.ticker import MaxNLocator

    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError("rows is empty: nothing to plot")
    figure = Figure(figsize=(9.5, 3.4), layout="constrained")
    loss_ax, srcc_ax = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    loss_ax.plot(frame["epoch"], frame["train_loss"], marker=".", color=PREDICTED_COLOR)
    loss_ax.set_ylabel(loss_label)
    loss_ax.set_title(f"training loss: {frame['train_loss'].iloc[0]:.4f} -> {frame['train_loss'].iloc[-1]:.4f}", fontsize=9)
    if "val_srcc_mean" in frame:
        srcc_ax.plot(frame["epoch"], frame["val_srcc_mean"], marker=".", color=TARGET_COLOR, label="this model (photo + theme)")
        srcc_ax.set_title(f"validation SRCC(mean): {frame['val_srcc_mean'].iloc[-1]:.3f} after epoch {int(frame['epoch'].iloc[-1])}", fontsize=9)
    if baseline and np.isfinite(baseline.get("srcc_mean", np.nan)):
        srcc_ax.axhline(baseline["srcc_mean"], color="0.3", linestyle="--", linewidth=1,
                        label=f"theme prior, labels only ({baseline['srcc_mean']:.3f})")
    srcc_ax.axhline(0.0, color="0.7", linewidth=0.6)
    srcc_ax.set_ylabel("validation SRCC of the mean score")
    srcc_ax.legend(fontsize=7, frameon=False, loc="lower right")
    for ax in (loss_ax, srcc_ax):
        ax.set_xlabel("head-stage epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if epochs:
            ax.set_xlim(0.5, epochs + 0.5)
    label_figure(figure, title or None)
    return save_figure(figure, save_to)
