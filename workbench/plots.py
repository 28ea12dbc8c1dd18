"""Figures of the paper (Figs. 4-7) and of our analyses (the theme's figures: ``workbench.theme_plots``), drawn from ``workbench.analysis`` results.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, no
backend needed, nothing to close, no double display in notebooks: show one by leaving it as a
cell's last value) and writes it as PNG when ``save_to`` is given. Colours follow the paper:
blue = predicted, red = ground truth.
"""
from __future__ import annotations

import math
import os
import textwrap
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from workbench.analysis import distribution_shape, worst_predictions
from workbench.curves import save_figure
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
