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
SPLIT = "test"
MAX_PHOTOS = None  # predict at most this many photos of the split (seeded sample; None: all)
K = 8  # failure cases shown (Fig. 7)
N_THEME_EXAMPLES = 8  # photos shown with and without theme (Fig. 8)
FIDELITY_SCENES = 20  # scenes redrawn per attribute probe (the attribute-response bars; 0: skip them); the CLI's default
FIDELITY_BOOTSTRAP = 1000  # bootstrap resamples of the fidelity intervals (theme-response slope, attribute shares)
TTA = False  # True: average the six test views, the paper's protocol
SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
OUTPUT_DIR = "artifacts/notebooks/05_failure_cases"  # figures and tables are shown and saved here

# %% [markdown]
# # 05 · Figs. 7, 8 and 2: where the model fails, and what the theme changes
#
# **Fig. 7.** The paper *explains* its failure cases by ground-truth distributions that are "uncommon":
# non-Gaussian, not smooth, with odd votes (too few 9s, too many 1s), and its conclusion says the model
# "tends to predict distributions with a mean score close to 5". Here that explanation is tested, not
# repeated: the photos with the largest EMD (r=1) between prediction and ground truth, with the shape of
# their ground truth (`analysis.distribution_shape`: skewness, modes, distance to the Gaussian of the same
# mean and std) and their mean scores, against all photos; the finding below the figure is written from
# those numbers (`workbench.analysis.failure_summary`), whichever way they go.
#
# **Fig. 8.** The same photos predicted with and without their theme (one backbone pass; only the head
# runs twice, `Predictor.features` / `predict_from_features`): mean scores, errors, and the photos whose
# predicted mean the theme moves most.
#
# **Fig. 2.** One photo judged under two themes: the truth (known to the synthetic benchmark's generator)
# and the prediction.
#
# Default: the demo checkpoint on the **synthetic** benchmark's test split (not AVA).

# %%
# %matplotlib inline
import sys
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

# This checkout first on sys.path (Jupyter and nbmake start in notebooks/, where an installed copy would win);
# the library cannot find the checkout before it is imported, everything after this is its job.
REPO = next(p for p in (Path.cwd().resolve(), *Path.cwd().resolve().parents) if (p / "workbench" / "__init__.py").is_file())
sys.path.insert(0, str(REPO))
from workbench.notebook import start_notebook  # noqa: E402

run = start_notebook(OUTPUT_DIR, smoke=SMOKE, repo=REPO)  # checks that workbench is REPO's; says where figures go
OUT, SCRATCH, repo_path = run.out, run.scratch, run.path  # figures and tables; SMOKE's throwaway folder; a path parameter -> Path

# %% [markdown]
# ## Data, checkpoint, predictions

# %%
from workbench.notebook import load_notebook_data

data = load_notebook_data(run, DATA, DATA_ROOT, DATA_OPTIONS, synth_n=SYNTH_N)  # says what it is; SMOKE: 48 synthetic photos, <= 16 per split
table, data_fields, data_config = data.table, data.fields, data.config  # labels; the TrainConfig fields naming the data
SYNTHETIC, DATA_NAME = data.synthetic, data.name

# %%
from workbench.notebook import open_checkpoint

predictor, checkpoint = open_checkpoint(run, CHECKPOINT, data_config, device=DEVICE)  # says what it was trained on (a throwaway SMOKE model in bold)

# %%
from workbench.analysis import distribution_shape, theme_effect, vote_distributions, worst_predictions
from workbench.metrics import per_image_distances
from workbench.notebook import photo_titles

max_photos = 16 if SMOKE else MAX_PHOTOS
photos = table[table["split"] == SPLIT]
if max_photos and len(photos) > max_photos:
    photos = photos.sample(n=max_photos, random_state=0)
photos = photos.reset_index(drop=True)
target = vote_distributions(photos)
titles = photo_titles(photos)
features = predictor.features(photos["path"].tolist(), tta=TTA)  # the backbone, once per photo (and view)
themes = [t if isinstance(t, str) else None for t in photos["theme"]] if predictor.theme_names else None
pred = predictor.predict_from_features(features, themes)
model_name = f"{'SYNTHETIC-trained ' if predictor.card.get('data', {}).get('synthetic') else ''}model {Path(checkpoint).name}"
caption = f"{DATA_NAME}, {SPLIT} split, n = {len(photos)} photos · {model_name}{', TTA' if TTA else ', one view'}"
print(f"{len(photos)} photos of the {SPLIT} split of {DATA_NAME}; mean EMD (r=1) {per_image_distances(pred, target)['emd1'].mean():.4f}")

# %% [markdown]
# ## Fig. 7: the worst-predicted photos

# %%
k = min(K, 4) if SMOKE else K
shape = distribution_shape(target)
shape["abs_skewness"] = shape["skewness"].abs()
worst = worst_predictions(pred, target, k=k, metric="emd1")
shape_columns = ["abs_skewness", "excess_kurtosis", "modes", "non_gaussianity"]
cases = pd.concat([photos.loc[worst.index, ["image_id", "theme"]], worst, shape.loc[worst.index, shape_columns].add_prefix("target_")], axis=1)
cases.to_csv(OUT / "fig7_worst_predictions.csv")
cases.round(3)

# %%
from workbench.analysis.failure_summary import describe_failure_cases, failure_case_summary
from workbench.plots import plot_failure_cases
from workbench.theme_plots import plot_with_without_theme

failures = failure_case_summary(pred, target, k=k, metric="emd1")  # the worst k against all photos, measured
plot_failure_cases(pred, target, images=photos["path"].tolist(), k=k, titles=titles,
                   caption=f"Fig. 7 · the {k} worst by EMD (r=1) of {caption} · all {failures['n']} photos: median non-Gauss. "
                   f"{failures['median_non_gaussianity_all']:.3f}, mean score {failures['true_mean_all']:.2f}",
                   save_to=OUT / "fig7_failure_cases.png")

# %% [markdown]
# Are the failures the uncommon distributions, or something else? The medians of the shape statistics for
# the worst k photos against all photos, the rank correlation between each photo's error and its ground
# truth's distance from a Gaussian, the worst photos' true and predicted mean scores, and how much the
# predicted means spread compared with the true ones (a model that "predicts close to 5" has a much
# narrower spread). The finding is printed from these numbers.

# %%
from scipy import stats

emd = per_image_distances(pred, target)["emd1"]
display(pd.DataFrame({f"worst {k}": shape.loc[worst.index, shape_columns].median(), "all photos": shape[shape_columns].median()}).round(4))
spread = pd.Series({
    "Spearman(EMD, non-Gaussianity of the ground truth)": failures["spearman_error_non_gaussianity"],
    "Spearman(EMD, |skewness| of the ground truth)": stats.spearmanr(emd, shape["abs_skewness"])[0],
    f"true mean score, worst {k} (all photos: {failures['true_mean_all']:.2f})": failures["true_mean_worst"],
    f"predicted mean score, worst {k}": failures["pred_mean_worst"],
    "sd of ground-truth means": failures["sd_true_means"],
    "sd of predicted means": failures["sd_pred_means"],
})
pd.Series(failures).to_csv(OUT / "fig7_finding.csv", header=["value"])
display(spread.round(3))
display(Markdown(f"**What the data show** ({caption}): {describe_failure_cases(failures)}"))

# %% [markdown]
# ## Fig. 8: with vs without theme

# %%
if not predictor.theme_names:
    display(Markdown("This model has no themes (e.g. Photo.net): nothing to compare."))
    effect = None
else:
    pred_without = predictor.predict_from_features(features, None)
    effect = theme_effect(pred, pred_without, target)
    display(pd.Series(effect.attrs["summary"]).round(4))
    display(plot_with_without_theme(pred, pred_without, target, caption=f"Fig. 8 · {caption}", save_to=OUT / "fig8_with_without_theme.png"))

# %% [markdown]
# The photos whose predicted mean the theme moves most, each captioned ground truth | with theme |
# without theme (the paper's Fig. 8 picks examples where the theme helps; these are picked by the size
# of the change, whichever way it goes).

# %%
if effect is not None:
    n_examples = min(N_THEME_EXAMPLES, 4) if SMOKE else N_THEME_EXAMPLES
    moved = (effect["mean_with"] - effect["mean_without"]).abs().sort_values(ascending=False).index[:n_examples].to_numpy()
    display(effect.loc[moved].assign(photo=[titles[i] for i in moved]).round(3))
    display(plot_with_without_theme(pred[moved], pred_without[moved], target[moved], images=photos["path"].iloc[moved].tolist(),
                                    titles=[titles[i] for i in moved], caption=f"Fig. 8 · the {len(moved)} photos the theme moves most of {caption}",
                                    save_to=OUT / "fig8_examples.png"))

# %% [markdown]
# ## Fig. 2: the theme changes the criterion
#
# The paper's Fig. 2 shows photos whose scores depend on the challenge they were entered in. On the
# synthetic benchmark that can be measured on one and the same photo: the generator knows each theme's
# criterion, so it gives the **true** distribution of any photo judged under any theme
# (`workbench.data.synth_truth.expected_distribution`), and the model predicts it under any theme from one
# backbone pass (`Predictor.predict_all_themes`). Below, for each photo, the theme that judges it most
# differently from its own, and whether the model's prediction follows. (On real AVA votes each photo
# was judged under one challenge only: `06_theme_bias` shows what those data can say.)

# %%
from workbench.figures import benchmark_theme_pairs, plot_theme_pair

if SYNTHETIC and DATA == "csv" and predictor.theme_names == table.attrs.get("theme_names"):
    pred_all = predictor.predict_all_themes(features)  # [photos, themes, K]: every theme from one backbone pass (the fidelity figures reuse it)
    pairs = benchmark_theme_pairs(photos, pred_all)
    agreement = stats.spearmanr(pairs["true_mean_change"], pairs["pred_mean_change"])[0] if len(pairs) > 2 else float("nan")
    display(Markdown(
        f"Over {len(pairs)} photos, the true mean moves by {pairs['true_mean_change'].abs().mean():.2f} on average between a photo's own "
        f"theme and the most different one; the prediction by {pairs['pred_mean_change'].abs().mean():.2f} "
        f"(Spearman of the two changes: {agreement:.2f})."
    ))
    pairs.drop(columns=["true_own", "true_other", "pred_own", "pred_other"]).to_csv(OUT / "fig2_theme_pairs.csv", index=False)
    display(plot_theme_pair(pairs, count=3, caption=f"Fig. 2 · {caption}: the 3 photos whose truth the theme moves most",
                            save_to=OUT / "fig2_theme_changes_criterion.png"))
else:
    display(Markdown("Fig. 2 needs the synthetic benchmark (its generator knows every theme's criterion) and a model trained on its themes."))

# %% [markdown]
# ## Fidelity: does the prediction move as far as the truth? (SYNTHETIC benchmark only)
#
# Fig. 2 shows three photos; these two figures measure the same question over the whole split, with
# `workbench.fidelity` (the functions behind `python -m workbench fidelity`, whose full tables for the demo
# checkpoint are in `results/fidelity_demo.txt`), computed here:
#
# - **Theme response.** Every photo judged under every *other* theme: the predicted change of its mean
#   score against the true change (the benchmark's noise-free voters). The fitted slope is the share of
#   the theme's effect the model reproduces (1: all of it, 0: it ignores the theme); sign agreement counts
#   the pairs where the truth moves by at least 0.25 and the prediction moves the same way.
# - **Attribute response by view.** One attribute of `FIDELITY_SCENES` scenes redrawn low -> high (the
#   rest of the scene unchanged) under the theme that judges it; each bar is a view's predicted change as
#   a share of the truth's, each view with its own trained head. The paper's claim, put to the test: the
#   attributes shaded are where full resolution is asked to lead: sharpness and grain live at 1-3 px, what a
#   resize can destroy; blur (up to 36 px) is a control every view keeps. The sentence under the figure says,
#   from the numbers, for which of them the full view leads.

# %%
from workbench.data.synth_truth import truth_under_every_theme
from workbench.fidelity import SIGN_THRESHOLD, theme_response, theme_response_pairs
from workbench.fidelity_plots import plot_theme_response

FIDELITY = SYNTHETIC and DATA == "csv" and predictor.theme_names == table.attrs.get("theme_names")  # the truth under every theme is known
FIDELITY_SOURCE = "this run: computed here"
bootstrap = min(FIDELITY_BOOTSTRAP, 50) if SMOKE else FIDELITY_BOOTSTRAP
if FIDELITY:
    truth_all = truth_under_every_theme(photos, predictor.theme_names)  # [photos, themes, K], noise-free
    own = photos["theme_id"].to_numpy()
    response = theme_response(pred_all, truth_all, own, bootstrap=bootstrap)
    response_pairs = theme_response_pairs(pred_all, truth_all, own)
    response_pairs.assign(image_id=photos["image_id"].to_numpy()[response_pairs["photo"]]).to_csv(OUT / "fidelity_theme_response_pairs.csv", index=False)
    display(pd.Series(response, name=FIDELITY_SOURCE).round(3))
    display(plot_theme_response(response_pairs, response, source=FIDELITY_SOURCE, caption=f"{caption} ('{predictor.transform}')",
                                save_to=OUT / "fidelity_theme_response.png"))
    display(Markdown(f"**Theme response** ({FIDELITY_SOURCE}; {caption}): over {response['pairs']:,} (photo, other theme) pairs the prediction "
                     f"moves by {response['slope']:.2f} of the truth's change (95% CI {response['slope_low']:.2f} to {response['slope_high']:.2f}), "
                     f"r = {response['r']:.2f}, and the right way on {response['sign_agreement']:.0%} of the {response['sign_pairs']:,} pairs "
                     f"the truth moves by {SIGN_THRESHOLD:g} or more."))
else:
    display(Markdown("The fidelity figures need the synthetic benchmark (the truth under every theme) and a model trained on its themes."))

# %%
from workbench.fidelity import ATTRIBUTE_PROBES, RESOLUTION_LEAD_PROBES, attribute_scene_changes, dataset_seed, describe_view_retention, summarise_attribute_changes
from workbench.fidelity_plots import plot_attribute_responses

scenes = min(FIDELITY_SCENES, 2) if SMOKE else FIDELITY_SCENES
probes = [probe for probe in ATTRIBUTE_PROBES if probe.name in RESOLUTION_LEAD_PROBES] if SMOKE else ATTRIBUTE_PROBES  # SMOKE: 3 of the 10
if FIDELITY and scenes:
    # the first `scenes` photos of the split, each redrawn for each probe: the CLI's scenes, so its numbers can be compared
    scene_ids = table.loc[table["split"] == SPLIT, "image_id"].astype(int).tolist()[:scenes]
    changes = attribute_scene_changes(predictor, scene_ids, seed=dataset_seed(data_config.data_root), probes=probes)  # 2 x probes x scenes photos, 4 views each
    attribute_table = summarise_attribute_changes(changes, bootstrap=bootstrap)
    changes.to_csv(OUT / "fidelity_attribute_changes.csv", index=False)
    attribute_table.to_csv(OUT / "fidelity_attribute_responses.csv")
    display(attribute_table.filter(regex="^(theme|truth|full|resized_pad|resize|crop)$|_share$").round(3).assign(source=FIDELITY_SOURCE))
    display(plot_attribute_responses(attribute_table, source=FIDELITY_SOURCE, highlight=RESOLUTION_LEAD_PROBES,
                                     caption=f"{DATA_NAME}, {len(scene_ids)} scenes of the {SPLIT} split redrawn · {model_name}",
                                     save_to=OUT / "fidelity_attribute_responses.png"))
    display(Markdown(f"**Full resolution vs the downscaled views** ({FIDELITY_SOURCE}; {len(scene_ids)} scenes, 95% bootstrap intervals): "
                     + describe_view_retention(attribute_table)))

# %%
print(f"saved in {OUT}:", *run.close(), sep="\n  ")
