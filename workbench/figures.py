"""The paper's figures that need the model or the data pipeline, drawn from the library itself:
Fig. 1 (a photo as each input transform delivers it), Fig. 2 (the theme changes the criterion),
Fig. 3 (the architecture, traced from a real forward pass) and Fig. 9 (how much a prediction moves
under the test-time flips and corner crops, while the photo's votes do not move at all).

Each figure function takes ``caption`` (data, split, n, model: written on the figure) and ``save_to``;
each measurement it draws is a public function returning a DataFrame, so it can be tested and tabled.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from workbench.analysis.votes import vote_distributions
from workbench.curves import save_figure
from workbench.data.augment import SIX_VIEWS, TRANSFORMS, test_samples, transform_canvas
from workbench.data.batching import IMAGENET_MEAN, IMAGENET_STD, pad_batch, to_normalized_tensor
from workbench.data.images import load_image
from workbench.inference import head_predictions, load_photo, make_views, pad_views
from workbench.model.backbones import first_conv
from workbench.metrics import distribution_mean, per_image_distances
from workbench.plots import PREDICTED_COLOR, TARGET_COLOR, _draw_histogram, label_figure

PathLike = str | os.PathLike
# The paper's names for the four transforms (Fig. 1 / Table III)
TRANSFORM_NAMES = {"full": "Pad (full resolution, ours)", "resize": "Resize", "resized_pad": "Resized pad", "crop": "Crop"}


def _photo(image: Image.Image | PathLike) -> Image.Image:
    return image if isinstance(image, Image.Image) else load_image(image)


def _displayed(tensor: torch.Tensor) -> np.ndarray:
    """A normalised image Tensor[3, H, W] -> uint8 [H, W, 3] as a person sees it (padding = ImageNet mean colour)."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (tensor * std + mean).clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()


# --------------------------------------------------------------------------------------------------
# Fig. 1: one photo through each input transform


def input_views(image: Image.Image | PathLike, canvas: int = 800) -> pd.DataFrame:
    """What the network receives for each of ``TRANSFORMS`` (one view, no TTA): one row per transform with
    ``pixels`` (uint8 [H, W, 3] of the padded input, zero padding shown as the ImageNet mean colour),
    ``photo_h``, ``photo_w`` (the photo's region on it), ``input_h``, ``input_w``, ``padding_share``,
    ``stretched`` (scaled unevenly: Resize) and ``kept_share`` (the share of the original photo's pixels the view still shows, at any scale)."""
    photo = _photo(image).convert("RGB")
    rows = []
    for transform in TRANSFORMS:
        side = transform_canvas(transform, canvas)
        (view,) = test_samples(photo, transform, tta=False, canvas=canvas)
        batch = pad_batch([to_normalized_tensor(view)], canvas=side)
        h, w = (int(v) for v in batch.sizes[0])
        height, width = batch.images.shape[-2:]
        kept = 1.0
        if transform == "crop":
            kept = (w * h) / (photo.width * photo.height)
        elif transform == "resize":
            kept = min(1.0, (w * h) / (view.width * view.height)) * (299 / 340) ** 2  # centre 299 of the 340 square
        rows.append({
            "transform": transform, "name": TRANSFORM_NAMES[transform], "pixels": _displayed(batch.images[0]),
            "photo_h": h, "photo_w": w, "input_h": int(height), "input_w": int(width),
            "padding_share": 1 - (h * w) / (int(height) * int(width)), "kept_share": min(1.0, kept),
            "stretched": transform == "resize" and abs(photo.width / photo.height - 1) > 0.01,  # squashed to a square
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("transform")


def plot_input_transforms(
    image: Image.Image | PathLike, canvas: int = 800, caption: str | None = None, save_to: PathLike | None = None
) -> Figure:
    """Fig. 1: the original photo, then what the network receives under Pad (ours), Resize, Resized pad
    and Crop, each drawn at the same pixel scale (so sizes compare), the photo's region outlined."""
    photo = _photo(image).convert("RGB")
    views = input_views(photo, canvas)
    sides = [max(photo.size)] + [max(r.input_h, r.input_w) for r in views.itertuples()]
    figure = Figure(figsize=(3.4 * (1 + len(views)), 4.2), layout="constrained")
    axes = figure.subplots(1, 1 + len(views), width_ratios=[s / max(sides) for s in sides])
    axes[0].imshow(np.asarray(photo))
    axes[0].set_title(f"original\n{photo.width}x{photo.height} (w x h), aspect {photo.width / photo.height:.2f}", fontsize=8)
    for ax, row in zip(axes[1:], views.itertuples()):
        ax.imshow(row.pixels)
        ax.add_patch(Rectangle((-0.5, -0.5), row.photo_w, row.photo_h, fill=False, edgecolor=TARGET_COLOR, linewidth=1.2))
        notes = [f"input {row.input_w}x{row.input_h}, photo {row.photo_w}x{row.photo_h}",
                 f"padding {row.padding_share:.0%}, " + ("STRETCHED to a square" if row.stretched else "not stretched"),
                 f"shows {row.kept_share:.0%} of the photo" + (", downscaled" if row.Index in ("resize", "resized_pad") else "")]
        ax.set_title(f"{row.name}\n" + "\n".join(notes), fontsize=7)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    label_figure(figure, caption, "red box: the photo's region on the network's input; grey: zero padding (ImageNet mean colour)")
    return save_figure(figure, save_to)


# --------------------------------------------------------------------------------------------------
# Fig. 2: the theme changes the criterion


def benchmark_theme_pairs(photos: pd.DataFrame, predicted: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """For synthetic benchmark photos (``image`` paths ``images/<index>.jpg`` of seed ``seed``): the theme
    under which each photo's true mean score differs most from its own theme's, with the true and the
    predicted distributions under both. predicted: ``Predictor.predict_all_themes`` output ``[N, T, K]``
    (themes in the benchmark's order). One row per photo, sorted by the true difference, largest first."""
    from workbench.data.synth_attributes import sample_attributes
    from workbench.data.synth_truth import expected_distribution, theme_names

    names = theme_names()
    if predicted.shape[:2] != (len(photos), len(names)):
        raise ValueError(f"predicted must be [{len(photos)}, {len(names)}, K], got {predicted.shape}")
    rows = []
    for i, path in enumerate(photos["path"]):
        attributes = sample_attributes(int(os.path.splitext(os.path.basename(path))[0]), seed=seed)
        truth = np.stack([expected_distribution(attributes, theme) for theme in names])
        means = distribution_mean(truth)
        own = names.index(attributes["theme"])
        other = int(np.argmax(np.abs(means - means[own])))
        rows.append({
            "photo": i, "path": path, "theme": names[own], "other_theme": names[other],
            "true_own": truth[own], "true_other": truth[other],
            "pred_own": predicted[i, own], "pred_other": predicted[i, other],
            "true_mean_change": float(means[other] - means[own]),
            "pred_mean_change": float(distribution_mean(predicted[i, other]) - distribution_mean(predicted[i, own])),
        })  # fmt: skip
    return pd.DataFrame(rows).sort_values("true_mean_change", key=np.abs, ascending=False, kind="stable").reset_index(drop=True)


def plot_theme_pair(pairs: pd.DataFrame, count: int = 3, caption: str | None = None, save_to: PathLike | None = None) -> Figure:
    """Fig. 2 on the benchmark: each photo, then its true (red) and predicted (blue) distributions under its
    own theme and under the theme that judges it most differently."""
    chosen = pairs.head(count)
    figure = Figure(figsize=(9.5, 2.6 * len(chosen)), layout="constrained")
    axes = figure.subplots(len(chosen), 3, squeeze=False, width_ratios=[1.2, 1, 1])
    for row, pair in zip(axes, chosen.itertuples()):
        photo = load_image(pair.path, max_side=400)
        row[0].imshow(np.asarray(photo))
        row[0].set_axis_off()
        row[0].set_title(f"{os.path.basename(pair.path)}: one photo", fontsize=8)
        for ax, theme, true, pred in ((row[1], pair.theme, pair.true_own, pair.pred_own), (row[2], pair.other_theme, pair.true_other, pair.pred_other)):
            title = f"judged as '{theme}'{' (its theme)' if theme == pair.theme else ''}\ntrue mean {distribution_mean(true):.2f}, predicted {distribution_mean(pred):.2f}"
            _draw_histogram(ax, np.asarray(pred), np.asarray(true), title, legend=theme == pair.theme)
    label_figure(figure, caption, "the same pixels, two themes: red = the simulated voters' true distribution, blue = the model's")
    return save_figure(figure, save_to)


def theme_contrast_by_content(table: pd.DataFrame, content: str = "tag1", min_photos: int = 15) -> pd.DataFrame:
    """Real votes: for photos with the same content tag (AVA's semantic ``tag1``), the two themes whose
    average mean scores differ most. One row per tag with at least two themes of ``min_photos`` photos each:
    ``tag, theme_low, theme_high, n_low, n_high, mean_low, mean_high, difference, p_low, p_high``
    (average distributions). Sorted by the difference, largest first. Photos without tag are left out.
    This compares different photos of similar content, never one photo under two themes."""
    scores = distribution_mean(vote_distributions(table))
    frame = pd.DataFrame({"tag": table[content].to_numpy(), "theme": table["theme"].to_numpy(), "mean": scores})
    distributions = vote_distributions(table)
    frame = frame[(frame["tag"] > 0) & frame["theme"].notna()]
    rows = []
    for tag, group in frame.groupby("tag"):
        stats = group.groupby("theme")["mean"].agg(["mean", "count"])
        stats = stats[stats["count"] >= min_photos]
        if len(stats) < 2:
            continue
        low, high = stats["mean"].idxmin(), stats["mean"].idxmax()
        rows.append({
            "tag": int(tag), "theme_low": low, "theme_high": high,
            "n_low": int(stats.at[low, "count"]), "n_high": int(stats.at[high, "count"]),
            "mean_low": float(stats.at[low, "mean"]), "mean_high": float(stats.at[high, "mean"]),
            "difference": float(stats.at[high, "mean"] - stats.at[low, "mean"]),
            "p_low": distributions[group.index[group["theme"] == low]].mean(axis=0),  # frame's index = row positions
            "p_high": distributions[group.index[group["theme"] == high]].mean(axis=0),
        })  # fmt: skip
    columns = ["tag", "theme_low", "theme_high", "n_low", "n_high", "mean_low", "mean_high", "difference", "p_low", "p_high"]
    return pd.DataFrame(rows, columns=columns).sort_values("difference", ascending=False, kind="stable").reset_index(drop=True)


def plot_theme_contrast(
    contrast: pd.DataFrame, tag_names: dict[int, str] | None = None, count: int = 3,
    caption: str | None = None, save_to: PathLike | None = None,
) -> Figure:
    """Fig. 2 on real votes: per content tag, the average vote distributions of its lowest- and
    highest-scoring themes."""
    chosen = contrast.head(count)
    if chosen.empty:
        raise ValueError("no content tag has two themes with enough photos")
    figure = Figure(figsize=(4.2 * len(chosen), 3.9), layout="constrained")
    axes = figure.subplots(1, len(chosen), squeeze=False)[0]
    for ax, row in zip(axes, chosen.itertuples()):
        scores = np.arange(1, len(row.p_low) + 1)
        ax.bar(scores - 0.2, row.p_low, width=0.4, color="0.55", label=f"{row.theme_low} (n={row.n_low}, mean {row.mean_low:.2f})")
        ax.bar(scores + 0.2, row.p_high, width=0.4, color=PREDICTED_COLOR, label=f"{row.theme_high} (n={row.n_high}, mean {row.mean_high:.2f})")
        name = (tag_names or {}).get(row.tag, f"tag {row.tag}")
        ax.set_title(f"photos tagged '{name}'", fontsize=9)
        ax.set_xticks(scores)
        ax.set_xlabel("score")
        ax.set_ylabel("share of votes (photos weighted equally)")
        ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below the axes: never over a bar
    label_figure(figure, caption, "same content tag, different challenge themes: different photos, so this bounds the theme effect, it does not isolate it")
    return save_figure(figure, save_to)


# --------------------------------------------------------------------------------------------------
# Fig. 3: the architecture, from a real forward pass


def _feature_parts(layout: Sequence[tuple[str, int, int]], stages: Sequence[tuple[str, torch.Tensor]], multi_level: bool) -> str:
    """What the visual feature concatenates (``RoiBackbone.feature_layout``), e.g. "stage averages (1776) +
    4x4 grid, stage 5 (1792)": the grid keeps where the subject sits, the averages do not."""
    parts = []
    for kind, size, side in layout:
        if kind == "global":
            parts.append(f"{'stage' if multi_level else 'global'} averages ({size})")
            continue
        stage = next((i + 1 for i, (_, output) in enumerate(stages) if output.shape[1] == size), None)
        parts.append(f"{side}x{side} grid, {f'stage {stage}' if stage else f'{size} channels'} ({size * side * side})")
    return " + ".join(parts)


@torch.no_grad()
def forward_trace(model: torch.nn.Module, images: Sequence[Image.Image | PathLike], themes: Sequence[int] | None = None,
                  canvas: int = 800) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run ``model`` (an ``AestheticModel`` with a ``RoiBackbone``, put in eval mode here) once on the
    padded batch of ``images`` (any sizes, each fitted in ``canvas`` and shown in the ``full`` view) and
    record each stage's output shape: the backbone's from ``RoiBackbone.trace`` (which sees the stem
    whatever its BatchNorm), the head's from forward hooks.

    Returns ``(stages, batch)``: stages has one row per stage (``stage``, ``shape``, ``what``);
    batch holds the padded ``images`` (uint8 [B, H, W, 3] for display), the photos' ``sizes`` [B, 2]
    (h, w) on the canvas, their ROI boxes on the stem's output (``stem_sizes`` [B, 2]), the stem's
    last output ``stem_map`` (mean |activation| over channels, [B, h, w]; 0 where the stem left no
    finite value) and the output ``distributions`` [B, K]."""
    views = [make_views(load_photo(image, canvas), "full", False, canvas)[0] for image in images]
    batch = pad_views(views)
    backbone = model.backbone
    model_was_training = model.training
    model.eval()
    recorded: list[tuple[str, tuple[int, ...], str]] = []
    hooks = [model.theme_branch.register_forward_hook(
        lambda module, inputs, output: recorded.append(("theme feature", tuple(output.shape), "theme id -> embedding -> ReLU (-1: learned 'no theme')")))]
    linear_layers = [(name, layer) for name, layer in model.head.named_modules() if isinstance(layer, torch.nn.Linear)]
    for i, (name, layer) in enumerate(linear_layers):  # DistributionHead's layers.1 / layers.3; FilmHead's projections, visual, modulation, output
        what = "logits over the K scores" if i == len(linear_layers) - 1 else f"head layer {name}"
        # Listed in the order they run (FiLM's modulation first), so named, not numbered.
        hooks.append(layer.register_forward_hook(lambda module, inputs, output, name=f"head FC ({name})", what=what: recorded.append((name, tuple(output.shape), what))))
    try:
        trace = backbone.trace(batch.images, batch.sizes)
        theme_ids = torch.full((len(views),), -1, dtype=torch.long) if themes is None else torch.as_tensor(list(themes), dtype=torch.long)
        distributions = head_predictions(model, trace.features, theme_ids, "full")
    finally:
        for hook in hooks:
            hook.remove()
        model.train(model_was_training)
    rows = [("padded batch (input)", tuple(batch.images.shape), f"{len(views)} photos zero-padded top-left; sizes kept")]
    for i, (layer, output) in enumerate(zip(backbone.stem, trace.stem)):
        conv = first_conv(layer)
        rows.append((f"stem conv {i + 1}", tuple(output.shape),
                     f"conv {conv.kernel_size[0]}x{conv.kernel_size[1]} stride {conv.stride[0]} over the whole canvas (full resolution)"))
    rows.append(("ROI pooling", tuple(trace.pooled.shape), f"each photo's own region -> {backbone.roi_size}x{backbone.roi_size}"))
    rows += [(f"body stage {i + 1}", tuple(output.shape), "layers on the pooled maps") for i, (_, output) in enumerate(trace.stages)]
    multi_level = hasattr(backbone.body, "stages")
    rows.append(("visual feature", tuple(trace.features.shape), _feature_parts(backbone.feature_layout, trace.stages, multi_level)))
    rows += recorded
    rows.append(("softmax (output)", tuple(distributions.shape), "score distribution per photo"))
    table = pd.DataFrame(rows, columns=["stage", "shape", "what"])
    stem_map = torch.nan_to_num(trace.stem[-1].float(), nan=0.0, posinf=0.0, neginf=0.0).abs().mean(dim=1)
    return table, {
        "images": np.stack([_displayed(image) for image in batch.images]),
        "sizes": batch.sizes.numpy(), "stem_sizes": trace.stem_sizes[-1].numpy(),
        "stem_map": stem_map.numpy(), "distributions": distributions.numpy(),
    }


def plot_architecture(stages: pd.DataFrame, batch: dict[str, Any], caption: str | None = None, save_to: PathLike | None = None) -> Figure:
    """Fig. 3 from ``forward_trace``: top, each photo on the shared canvas and on the stem's feature map
    with its ROI box; bottom, the stages top to bottom with the tensor shapes the forward pass produced."""
    n = len(batch["images"])
    figure = Figure(figsize=(max(9.0, 2.6 * n), 4.6 + 0.32 * len(stages)), layout="constrained")
    grid = figure.add_gridspec(3, n, height_ratios=[2.2, 2.2, 0.32 * len(stages)])
    for i in range(n):
        h, w = batch["sizes"][i]
        ax = figure.add_subplot(grid[0, i])
        ax.imshow(batch["images"][i])
        ax.add_patch(Rectangle((-0.5, -0.5), w, h, fill=False, edgecolor=TARGET_COLOR, linewidth=1.2))
        ax.set_title(f"photo {i + 1} on the canvas\nregion {w}x{h} of {batch['images'].shape[2]}x{batch['images'].shape[1]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if batch["stem_map"] is not None:
            sh, sw = batch["stem_sizes"][i]
            ax = figure.add_subplot(grid[1, i])
            ax.imshow(batch["stem_map"][i], cmap="viridis")
            ax.add_patch(Rectangle((-0.5, -0.5), sw, sh, fill=False, edgecolor=TARGET_COLOR, linewidth=1.2))
            ax.set_title(f"stem output |mean over channels|\nROI box {sw}x{sh} (eq. 1)", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    table_ax = figure.add_subplot(grid[2, :])
    table_ax.set_axis_off()
    cells = [[row.stage, " x ".join(map(str, row.shape)), row.what] for row in stages.itertuples()]
    table = table_ax.table(cellText=cells, colLabels=["stage (top to bottom)", "shape [B, C, H, W]", "what it does"],
                           loc="center", cellLoc="left", colLoc="left", colWidths=[0.25, 0.17, 0.58])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    label_figure(figure, caption, "shapes recorded during one real forward pass (RoiBackbone.trace); red box: the region ROI pooling reads")
    return save_figure(figure, save_to)


# --------------------------------------------------------------------------------------------------
# Fig. 9 / Table V: do flips and corner crops move the prediction?


def view_stability(predictor: Any, paths: Sequence[PathLike], target: np.ndarray, themes: Any = None) -> pd.DataFrame:
    """Each photo under each of the six test views (``SIX_VIEWS``: original, flip, four 7/8 corner
    crops): the predicted mean score and its change from the original view's, the EMD (r=1) between
    the view's and the original's predicted distributions, and the true mean (the same for every view:
    a photo's votes do not change when it is flipped or cropped). One row per (photo, view)."""
    features = predictor.features(list(paths), view="full", tta=True)
    if [name for _, name in features.views] != list(SIX_VIEWS):
        raise ValueError(f"expected the six views {SIX_VIEWS}, got {features.views}")
    from workbench.predict import Features

    per_view = [predictor.predict_from_features(Features(features.values[:, [i]], (features.views[i],)), themes) for i in range(len(SIX_VIEWS))]
    original = per_view[0]
    true_mean = distribution_mean(np.asarray(target, dtype=np.float64))
    rows = []
    for name, pred in zip(SIX_VIEWS, per_view):
        mean = distribution_mean(pred)
        emd = per_image_distances(pred, original)["emd1"]
        for photo in range(len(paths)):
            rows.append({
                "photo": photo, "view": name, "pred_mean": float(mean[photo]),
                "pred_mean_change": float(mean[photo] - distribution_mean(original[photo])),
                "emd1_to_original": float(emd[photo]), "true_mean": float(true_mean[photo]), "true_mean_change": 0.0,
                "error_original": float(distribution_mean(original[photo]) - true_mean[photo]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def view_stability_summary(stability: pd.DataFrame) -> pd.DataFrame:
    """Per view: mean |change of the predicted mean|, mean EMD to the original's prediction, against
    the mean |error| of the original view's prediction (the scale the changes should be small next to)."""
    summary = stability.groupby("view", sort=False).agg(
        mean_abs_pred_change=("pred_mean_change", lambda v: float(np.abs(v).mean())),
        max_abs_pred_change=("pred_mean_change", lambda v: float(np.abs(v).max())),
        mean_emd1_to_original=("emd1_to_original", "mean"),
        true_mean_change=("true_mean_change", "max"),
    )
    summary["mean_abs_error_original"] = float(stability[stability["view"] == SIX_VIEWS[0]]["error_original"].abs().mean())
    return summary


def plot_view_stability(
    image: Image.Image | PathLike, stability: pd.DataFrame, view: str = "crop_bottom_right",
    caption: str | None = None, save_to: PathLike | None = None,
) -> Figure:
    """Fig. 9: a photo with one of its corner crops outlined (left), and per view how far the predicted
    mean moves from the original view's (box plot over photos), next to the model's own error and the
    truth's change (0: the votes belong to the photo, not the view)."""
    from workbench.data.augment import apply_view

    photo = _photo(image).convert("RGB")
    crop = apply_view(photo, view)
    figure = Figure(figsize=(11, 3.9), layout="constrained")
    left, middle, right = figure.subplots(1, 3, width_ratios=[1, 1, 1.6])
    left.imshow(np.asarray(photo))
    x0 = 0 if view.endswith("_left") else photo.width - crop.width
    y0 = 0 if view.startswith("crop_top") else photo.height - crop.height
    if view != "flip":
        left.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), crop.width, crop.height, fill=False, edgecolor=TARGET_COLOR, linewidth=1.5))
    left.set_title(f"the photo, {photo.width}x{photo.height}; red: its {view.replace('_', ' ')}", fontsize=8)
    middle.imshow(np.asarray(crop))
    middle.set_title(f"{view.replace('_', ' ')}: {crop.width}x{crop.height}\n(the same votes: the label does not change)", fontsize=8)
    for ax in (left, middle):
        ax.set_xticks([])
        ax.set_yticks([])
    views = [v for v in SIX_VIEWS if v != SIX_VIEWS[0]]
    data = [stability.loc[stability["view"] == v, "pred_mean_change"].to_numpy() for v in views]
    error = stability.loc[stability["view"] == SIX_VIEWS[0], "error_original"].to_numpy()
    right.boxplot(data + [error], tick_labels=[v.replace("crop_", "crop\n").replace("_", " ") for v in views] + ["model error\n(original view:\npredicted - true)"])
    right.axhline(0.0, color=TARGET_COLOR, linestyle="--", linewidth=1, label="the truth's change under any view: 0")
    right.set_ylabel("predicted mean: view - original (score points)")
    right.set_title(f"how much the prediction moves, {stability['photo'].nunique()} photos", fontsize=9)
    right.tick_params(axis="x", labelsize=7)
    right.legend(fontsize=7, frameon=False, loc="lower left")
    label_figure(figure, caption)
    return save_figure(figure, save_to)
