# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
# Parameters (papermill style: override any). Paths are relative to the repository root unless absolute.
import os

SMOKE = os.environ.get("WORKBENCH_SMOKE") == "1"  # True: tiny sizes, seconds (CI); its numbers mean nothing
CHECKPOINT = "checkpoints/demo.pt"  # the embedded demo checkpoint: EfficientNet-Lite0 (ImageNet features) trained on the SYNTHETIC benchmark
DATA = "csv"  # label source, as TrainConfig.data: "csv" (folder + labels.csv), "ava" or "photonet"
DATA_ROOT = "data/synth"  # the synthetic benchmark (written first if missing) or your dataset's folder
DATA_OPTIONS = {}  # more TrainConfig data fields, e.g. {"ava_labels": "AVA.txt", "images_dir": "images"}
SPLIT = "test"  # the split whose photos are predicted
N_PHOTOS = 8  # photos shown, spread from the lowest to the highest ground-truth mean score
TTA = False  # True: average the six test views (original, flip, four corner crops), the paper's protocol
SHARED_AVA = "../shared/ava"  # the real AVA files (62 photos); skipped when absent
N_AVA_PHOTOS = 8  # real AVA photos without ground truth shown, spread over aspect ratio
FIG1_PHOTO = "../shared/ava/images/42039.jpg"  # Fig. 1's photo (a real AVA photo); absent: FIG1_FALLBACK
FIG1_FALLBACK = "examples/panorama.jpg"  # a synthetic example bundled with the repository
SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
OUTPUT_DIR = "artifacts/notebooks/01_quickstart"  # figures are shown and saved here

# %% [markdown]
# # 01 · Quickstart: score distributions of photos at full resolution (Figs. 1, 3, 4, 5, 9)
#
# Load a checkpoint as a `Predictor` (`open_checkpoint`), say what it is, and predict the distribution of
# human scores of a few photos **at full resolution**: each photo keeps its size and aspect ratio
# (downscaled only if it exceeds the checkpoint's canvas), is zero-padded onto the canvas, and the
# backbone's first pooling is an ROI pooling over the photo's own region (Sec. III). The figures follow
# the paper: Fig. 4 (predicted bins in blue, ground truth in red) and Fig. 5 (photos with their aspect
# ratio kept; predicted mean (ground-truth mean) / EMD (r=1) under each).
# Then how the model sees a photo: Fig. 1 (the input transforms), Fig. 3 (the architecture, traced from a
# real forward pass) and Fig. 9 (how far flips and corner crops move a prediction; the truth does not move).
#
# By default the model is the embedded demo checkpoint: EfficientNet-Lite0 with ImageNet weights,
# fine-tuned on the **synthetic benchmark** (procedural photos with simulated votes, `docs/SYNTHETIC.md`). It is not an
# AVA model and its numbers are not AVA numbers. Point `CHECKPOINT`, `DATA` and `DATA_ROOT` at an AVA
# or Photo.net model and dataset to run the same cells on real photos (see `notebooks/README.md`).

# %%
# %matplotlib inline
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

# This checkout first on sys.path (Jupyter and nbmake start in notebooks/, where an installed copy would win);
# the library cannot find the checkout before it is imported, everything after this is its job.
REPO = next(p for p in (Path.cwd().resolve(), *Path.cwd().resolve().parents) if (p / "workbench" / "__init__.py").is_file())
sys.path.insert(0, str(REPO))
from workbench.notebook import start_notebook  # noqa: E402

run = start_notebook(OUTPUT_DIR, smoke=SMOKE, repo=REPO)  # checks that workbench is REPO's; says where figures go
OUT, SCRATCH, repo_path = run.out, run.scratch, run.path  # figures and tables; SMOKE's throwaway folder; a path parameter -> Path

# %%
n_photos = min(N_PHOTOS, 4) if SMOKE else N_PHOTOS
n_ava_photos = min(N_AVA_PHOTOS, 4) if SMOKE else N_AVA_PHOTOS

# %% [markdown]
# ## Data and checkpoint

# %%
from workbench.notebook import load_notebook_data

data = load_notebook_data(run, DATA, DATA_ROOT, DATA_OPTIONS, synth_n=SYNTH_N)  # says what it is; SMOKE: 48 synthetic photos, <= 16 per split
table, data_fields, data_config = data.table, data.fields, data.config  # labels; the TrainConfig fields naming the data
SYNTHETIC, DATA_NAME = data.synthetic, data.name

# %%
from workbench.notebook import open_checkpoint

predictor, checkpoint = open_checkpoint(run, CHECKPOINT, data_config, device=DEVICE)  # says what it was trained on (a throwaway SMOKE model in bold)

# %% [markdown]
# The checkpoint's card: what it was trained on, the model's arguments, the validation metrics it
# recorded. A synthetic model says so here and in `describe()`.

# %%
import pprint

pprint.pprint({key: predictor.card.get(key) for key in ("checkpoint", "data", "model", "canvas", "num_bins", "num_themes", "epoch", "metrics")},
              sort_dicts=False, width=110)
if predictor.card.get("data", {}).get("synthetic"):
    display(Markdown("**This model was trained on the SYNTHETIC benchmark. It is not an AVA model; its scores are not AVA scores.**"))

# %% [markdown]
# ## Predict photos of the split
#
# `predictor.predict(paths, themes, view="full", tta=...)` returns one distribution over the scores
# 1..K per photo. The theme is each photo's challenge (AVA) or synthetic theme; `None` predicts without.
# The photos are chosen from the lowest to the highest ground-truth mean, so good and bad photos both
# appear (as in Fig. 4).

# %%
from workbench.analysis import vote_distributions
from workbench.metrics import per_image_distances
from workbench.notebook import photo_titles, spread_by_mean
from workbench.predict import summarize

split = data.split(SPLIT)
photos = spread_by_mean(split, n_photos)  # from the lowest to the highest ground-truth mean
themes = [t if isinstance(t, str) else None for t in photos["theme"]] if predictor.theme_names else None
pred = predictor.predict(photos["path"].tolist(), themes=themes, tta=TTA)
target = vote_distributions(photos)
titles = photo_titles(photos)
model_name = f"{'SYNTHETIC-trained ' if predictor.card.get('data', {}).get('synthetic') else ''}model {Path(checkpoint).name}"
caption = f"{DATA_NAME}, {SPLIT} split: {len(photos)} of {len(split)} photos, spread over the true mean · {model_name}{', TTA' if TTA else ', one view'}"
predicted, truth = summarize(pred), summarize(target)
pd.DataFrame({
    "photo": titles, "predicted mean": predicted["mean"], "ground-truth mean": truth["mean"],
    "predicted std": predicted["std"], "ground-truth std": truth["std"],
    "EMD (r=1)": per_image_distances(pred, target)["emd1"],
}).round(3)

# %% [markdown]
# ### Fig. 4 style: predicted (blue) vs ground-truth (red) distributions

# %%
from workbench.plots import photo_grid, plot_histograms

plot_histograms(pred, target, titles=titles, ncols=4, caption=caption, save_to=OUT / "fig4_histograms.png")

# %% [markdown]
# ### Fig. 5 style: the photos with their aspect ratio kept, predicted mean (ground-truth mean) / EMD (r=1)

# %%
photo_grid(photos["path"].tolist(), pred, target, titles=titles, ncols=4, caption=caption, save_to=OUT / "fig5_photos.png")

# %% [markdown]
# ## Real AVA photos (`../shared/ava`)
#
# 62 real dpchallenge photos from public repositories (`../shared/ava/SOURCES.md`), from 0.57 to 2.56 in
# aspect ratio. Only a few have a known AVA id whose votes are in the partial label files here (TANet
# val/test, idealo test); the others have no ground truth. A model trained on the synthetic benchmark has
# never seen a real photo: on these, its predictions show that the API takes photos of any size and shape,
# not how good the photos are. With an AVA checkpoint, photos with a known challenge are predicted under it.

# %%
from workbench.notebook import real_ava_photos

shared = repo_path(SHARED_AVA)
if shared is None or not (shared / "IMAGES.csv").is_file():
    display(Markdown(f"`{SHARED_AVA}` is not here (a clone of the repository has no `../shared`): no real AVA photos to show."))
else:
    labelled, rest = real_ava_photos(shared)  # with votes in the partial label files / all the others (each photo in one)
    ava_model = predictor.theme_names == labelled.attrs["theme_names"]  # an AVA checkpoint knows the challenges
    print(f"{len(labelled) + len(rest)} real AVA photos; {len(labelled)} with votes in the partial label files; "
          f"{'predicted under their challenge' if ava_model else 'predicted without theme (the model does not know AVA challenges)'}")
    ava_pred = predictor.predict(labelled["path"].tolist(), themes=labelled["theme_id"].tolist() if ava_model else None, tta=TTA)
    ava_titles = [f"AVA {i}" + (f"\n{t}" if isinstance(t, str) else "") for i, t in zip(labelled["image_id"], labelled["theme"])]
    ava_truth = vote_distributions(labelled)
    if ava_truth.shape[1] != predictor.num_bins:  # e.g. a Photo.net model: 7 bins, AVA has 10
        display(Markdown(f"The model predicts {predictor.num_bins} score bins, AVA's votes have {ava_truth.shape[1]}: "
                         "their ground truth is left out below."))
        ava_truth = None
    ava_caption = f"real AVA photos with votes (TANet / idealo label files), n = {len(labelled)} · {model_name}"
    display(photo_grid(labelled["path"].tolist(), ava_pred, ava_truth, titles=ava_titles, caption=ava_caption,
                       save_to=OUT / "ava_photos_with_ground_truth.png"))
    n_without_votes = len(rest)
    rest = rest.iloc[np.argsort(rest["width"] / rest["height"], kind="stable")]
    rest = rest.iloc[np.unique(np.linspace(0, len(rest) - 1, min(n_ava_photos, len(rest))).round().astype(int))]
    rest_pred = predictor.predict(rest["path"].tolist(), tta=TTA)
    rest_caption = f"real AVA photos without votes here: {len(rest)} of the {n_without_votes}, spread over aspect ratio · {model_name}"
    display(photo_grid(rest["path"].tolist(), rest_pred, titles=[Path(p).stem for p in rest["file"]], caption=rest_caption,
                       save_to=OUT / "ava_photos_without_ground_truth.png"))

# %% [markdown]
# ## How the model sees a photo
#
# **Fig. 1**: one photo through the library's own input transforms (`workbench.data.augment.test_samples`
# then `pad_batch`, exactly what the network receives): Pad at full resolution (ours), and the three
# 299x299 baselines of Table III, which distort the aspect ratio (Resize), shrink the detail (Resized pad)
# or cut most of the frame (Crop).

# %%
from workbench.figures import forward_trace, plot_architecture, plot_input_transforms

fig1_photo = repo_path(FIG1_PHOTO)
if fig1_photo is None or not fig1_photo.is_file():
    fig1_photo, fig1_about = repo_path(FIG1_FALLBACK), f"SYNTHETIC example {FIG1_FALLBACK} ({FIG1_PHOTO} is not here)"
else:
    fig1_about = f"real AVA photo {fig1_photo.stem} ({FIG1_PHOTO})"
plot_input_transforms(fig1_photo, canvas=predictor.canvas, caption=f"Fig. 1 · {fig1_about}, n = 1", save_to=OUT / "fig1_input_transforms.png")

# %% [markdown]
# **Fig. 3**: the architecture, traced from one real forward pass of this model on a batch of three
# photos of different sizes: each photo zero-padded onto a shared canvas (its region in red), the
# stem's feature map with the ROI box that eq. (1) maps the region to, and every stage's tensor shape
# as recorded by forward hooks.

# %%
trace_photos = photos.iloc[:3]
stages, traced = forward_trace(predictor.model, trace_photos["path"].tolist(),
                               themes=predictor.theme_ids(themes[:3] if themes else None, len(trace_photos)).tolist(),
                               canvas=predictor.canvas)
display(stages)
plot_architecture(stages, traced, caption=f"Fig. 3 · {model_name}, {predictor.card['model'].get('backbone')} · "
                  f"{len(trace_photos)} photos of {DATA_NAME}", save_to=OUT / "fig3_architecture.png")

# %% [markdown]
# ## Fig. 9 and Table V's question: should flips and crops change the score?
#
# The paper trains with flips and corner crops and averages them at test time, assuming a photo's
# score survives them. A photo's votes do not change when it is flipped or cropped (they belong to
# the photo), so the truth moves by exactly 0; below, how far the prediction moves under each of the
# six test views, next to the size of the model's own error.

# %%
from workbench.figures import plot_view_stability, view_stability, view_stability_summary

stability = view_stability(predictor, photos["path"].tolist(), target, themes=themes)
stability_summary = view_stability_summary(stability)
stability_summary.to_csv(OUT / "fig9_view_stability.csv")
display(stability_summary.round(4))
plot_view_stability(photos["path"].iloc[0], stability, caption=f"Fig. 9 · {caption}", save_to=OUT / "fig9_view_stability.png")

# %%
print(f"saved in {OUT}:", *run.close(), sep="\n  ")
