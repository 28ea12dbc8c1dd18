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
CHECKPOINT = "checkpoints/demo.pt"  # the model of Tables I-II (Table VI when DATA = "photonet")
DATA = "csv"  # label source, as TrainConfig.data: "csv" (folder + labels.csv), "ava" or "photonet"
DATA_ROOT = "data/synth"  # the synthetic benchmark (written first if missing) or your dataset's folder
DATA_OPTIONS = {}  # more TrainConfig data fields, e.g. {"ava_labels": "AVA.txt", "images_dir": "images"}
EXTRA_CHECKPOINTS = {}  # more rows for Tables I-II, name -> checkpoint, e.g. {"Ours (Align)": "runs/ava_align/best.pt"}
ABLATION_RESULTS = "results/ablation_synthetic.csv"  # workbench.ablation's results (Tables III-V); the committed, measured run
PROBE_TRAIN = 1200  # training photos for the view probe (workbench.view_probe); 0: leave it out
PHOTONET_CHECKPOINTS = {}  # Table VI rows, name -> checkpoint trained on Photo.net, e.g. {"Ours": "runs/photonet/best.pt"}
PHOTONET_ROOT = None  # the folder their config paths start from (None: as recorded in each checkpoint)
TTA = True  # the paper's test protocol: average over the six test views
SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
DEVICE = "auto"
OUTPUT_DIR = "artifacts/notebooks/03_tables"  # tables are shown and saved here (CSV)

# %% [markdown]
# # 03 · Tables I-VI: the paper's numbers next to this run's
#
# Each table stacks blocks that say where their numbers come from: **paper** (the published numbers,
# `workbench.paper`), **this run** (measured while this notebook runs: a checkpoint evaluated here, or
# labels averaged here) and **results file** (read from a committed file, e.g. `results/ablation_synthetic.csv`:
# nothing is trained or evaluated here; its `source` names the file and the command and date that made it).
# Every row's `source` repeats it with the data, split and checkpoint. A measured row never replaces a paper row.
#
# - Tables I-II (distribution metrics; mean and std correlations): `CHECKPOINT` evaluated on the test
#   split of `DATA` in this run, with the paper's test protocol (six-view TTA), plus two label-only baselines
#   (the global average distribution; each photo's theme average, `workbench.analysis`).
# - Tables III-V (ablations: input transform and theme, image and feature-map size, augmentation):
#   read from `workbench.ablation`'s results (`ABLATION_RESULTS`): mean ± the half-width of the 95%
#   t-interval across seeds (`aggregate_seeds`' `ci95`, as the READMEs quote it); a paper row whose
#   variant the file lacks says "not measured".
# - Table VI (Photo.net): measured only from checkpoints trained on Photo.net (its photos are not here).
#
# On the default **synthetic** benchmark the measured numbers test the paper's claims on data built to
# contain the effects the paper describes; they are synthetic-benchmark numbers, not AVA or Photo.net
# results, and are labelled so.

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
# ## Data and checkpoint

# %%
from workbench.notebook import load_notebook_data

data = load_notebook_data(run, DATA, DATA_ROOT, DATA_OPTIONS, synth_n=SYNTH_N)  # says what it is; SMOKE: 48 synthetic photos, <= 16 per split
table, data_fields, data_config = data.table, data.fields, data.config  # labels; the TrainConfig fields naming the data
SYNTHETIC, DATA_NAME = data.synthetic, data.name

# %%
from workbench.notebook import open_checkpoint

predictor, checkpoint = open_checkpoint(run, CHECKPOINT, data_config, device=DEVICE)  # says what it was trained on (a throwaway SMOKE model in bold)

# %%
from workbench.analysis import theme_baseline_report
from workbench.metrics import METRIC_LABELS, results_table
from workbench.paper import published_table
from workbench.evaluation import evaluate_checkpoint


def show(name, blocks):
    """Stack the blocks ({"paper": frame, "this run": frame, "results file": frame}) of one table, show it and save it as CSV."""
    combined = pd.concat({key: frame for key, frame in blocks.items() if frame is not None and len(frame)}, names=["from"])
    combined = combined[[column for column in combined.columns if column != "source"] + ["source"]]  # where from: last, as in every table
    combined.to_csv(OUT / f"table_{name}.csv")
    display(Markdown(f"**Table {name}**"), combined.style.format(precision=4, na_rep="–"))


# %% [markdown]
# ## Tables I and II: distribution prediction, mean and std prediction
#
# The paper evaluates on AVA's standard test split (~19.9k photos) with a theme-aware Inception-v3.

# %%
n_test = int((table["split"] == "test").sum())
where = f"{DATA_NAME}, test split ({n_test} photos)"
measured, sources = {}, {}
if DATA != "photonet":
    models = {f"this run: {predictor.card['model'].get('backbone')}, {'with' if predictor.theme_names else 'no'} theme": checkpoint,
              **{f"this run: {name}": repo_path(path) for name, path in EXTRA_CHECKPOINTS.items()}}
    for name, path in models.items():
        measured[name] = evaluate_checkpoint(path, split="test", tta=TTA, device=DEVICE, **data_fields)
        sources[name] = f"this run: evaluated here | {where}{', TTA' if TTA else ''} | {path}"
    splits = {split: table[table["split"] == split] for split in ("train", "val", "test")}
    baselines = theme_baseline_report(splits["train"], splits["val"], splits["test"])
    for baseline, metrics in baselines.iterrows():
        name = f"baseline: {baseline} (labels only)"
        measured[name] = metrics.to_dict()
        sources[name] = f"this run: computed here | {where} | no model: the training photos' {'theme ' if baseline != 'global average' else ''}average distribution"
for name in ("I", "II"):
    show(name, {"paper": published_table(name, source="paper | AVA test split | published"),
                "this run": results_table(measured, table=name, sources=sources) if measured else None})

# %% [markdown]
# ## Tables III-V: ablations, mean ± 95% CI across seeds, read from a results file
#
# `workbench.ablation` trains every variant with the same budget and several seeds and appends one row
# per (variant, seed) to `results.csv`; the runner records the command and date in a sidecar
# `results.json` beside it. Nothing is trained here: the numbers are **read from `ABLATION_RESULTS`**, and
# each row's `source` names the file, the command and the date. The paper reports one run per row; here
# each cell is the mean ± the half-width of the 95% t-interval over the seeds (`aggregate_seeds`' `ci95`;
# the mean alone for one seed). Paper row → variant: Table III's transforms and theme; Table IV's
# image/feature sizes as canvas 400 / ROI 73, canvas 800 / ROI 73, canvas 800 / ROI 146 (= Pad+ROI+Theme);
# Table V's Flip as "Flip only" and Flip+Crop as "Flip + crop" (one of the two is the base recipe again, so its rows
# repeat Pad+ROI+Theme's: the committed recipe flips only). A paper row whose variant has no rows in the
# file says **not measured**, and the list below the tables says which variants were measured.

# %%
import dataclasses

from workbench.ablation import PAPER_ROWS_OF_VARIANTS, run_ablation
from workbench.analysis import aggregate_seeds
from workbench.checkpoints import load_checkpoint
from workbench.metrics import TABLE_LAYOUTS
from workbench.notebook import NOT_MEASURED, ablation_provenance, ablation_table, results_source

results_path = repo_path(ABLATION_RESULTS)
results, results_from, results_block = None, None, "results file"
if results_path is not None and results_path.is_file():
    results, results_from = pd.read_csv(results_path), results_source(results_path, REPO)
elif SMOKE:
    smoke_variants = ("Resize", "Pad+ROI", "Pad+ROI+Theme")  # a 299 transform, no theme, theme (a row of each table)
    display(Markdown(f"**SMOKE: a throwaway ablation** ({len(smoke_variants)} variants, two seeds, one training step each, "
                     "in a scratch folder); its numbers mean nothing. Real results go to `runs/ablation/results.csv`."))
    smoke_base = dataclasses.replace(data_config, backbone="compact", pretrained=False, freeze_bn=False, canvas=192, batch_size=8, epochs=1,
                                     max_steps_per_epoch=1, limit_images=8, num_workers=0, device="cpu")
    results = run_ablation(smoke_base, SCRATCH / "ablation", seeds=(0, 1), variants=smoke_variants, tta=False, progress=False)
    results_from, results_block = "trained in this run: SMOKE ablation (throwaway)", "this run"
else:
    display(Markdown(
        f"No ablation results at `{ABLATION_RESULTS}`: the measured blocks of Tables III-V are left out. Produce them with "
        "`python -m workbench ablation --config configs/ablation_synthetic.yaml --out runs/ablation --seeds 0 1 2` "
        "(any recipe; every variant gets the same budget). Rows are appended one (variant, seed) at a time, so an "
        "interrupted run resumes and this notebook can read partial results."
    ))
if results is not None:
    trained_on = "data unknown"
    if "data" in results.columns:
        trained_on = str(results["data"].iloc[0])
    elif "checkpoint" in results.columns and Path(str(results["checkpoint"].iloc[0])).is_file():
        trained_data = load_checkpoint(results["checkpoint"].iloc[0]).get("data") or {}
        trained_on = f"{trained_data.get('name', '?')}{' (SYNTHETIC, not AVA)' if trained_data.get('synthetic') else ''}"
    aggregated = aggregate_seeds(results.rename(columns={"variant": "model"}), list(TABLE_LAYOUTS["III"]))
    for name, rows in PAPER_ROWS_OF_VARIANTS.items():
        measured = ablation_table(aggregated, rows, name, source=f"{results_from} | {trained_on}, test split")
        paper = published_table(name, source="paper | AVA test split | published, one run per row")
        show(name, {"paper": paper, results_block: measured})
    recipe = ablation_provenance(results_path).get("config") if results_block == "results file" else None
    if recipe:  # the paper's row names are Inception-v3's geometry; say the measured run's own
        display(Markdown(
            f"**The measured run's geometry**: backbone `{recipe.get('backbone')}`, canvas {recipe.get('canvas')}, ROI size "
            f"{recipe.get('roi_size')} for the full-view rows (Table IV's \"Feature 146\" row is this size), head `{recipe.get('head')}`, "
            f"head targets `{recipe.get('head_targets')}` (variants without a theme: the photos' own votes), "
            f"{recipe.get('limit_images')} training photos, backbone {'frozen' if not recipe.get('epochs') else 'fine-tuned'}."
        ))
    wanted = list(dict.fromkeys(variant for rows in PAPER_ROWS_OF_VARIANTS.values() for variant in rows.values()))
    seeds_of = {variant: int(aggregated.at[variant, ("seeds", "n")]) for variant in wanted if variant in aggregated.index}
    display(Markdown(
        f"**Variants of Tables III-V** ({results_from}): measured: "
        + (", ".join(f"`{variant}` ({count} seed{'s' if count != 1 else ''})" for variant, count in seeds_of.items()) or "none")
        + "; **" + NOT_MEASURED + "**: " + (", ".join(f"`{variant}`" for variant in wanted if variant not in seeds_of) or "none") + "."
    ))
else:
    for name in PAPER_ROWS_OF_VARIANTS:
        show(name, {"paper": published_table(name, source="paper | AVA test split | published, one run per row")})

# %% [markdown]
# ### When the variants tie: did the network learn, and what do the views carry?
#
# Two checks separate "the pipeline loses the detail" from "the network has not learnt to use it":
# `pred_mean_sd` (the spread of the predicted mean scores across test photos; ~0 means the model predicts
# the training marginal for every photo, whatever its SRCC) next to `target_mean_sd`; and
# `workbench.view_probe`, a ridge regression on nine global statistics of each view exactly as the model
# receives it (colour, contrast, aspect, fine-scale energy), fitted on `PROBE_TRAIN` training photos. On the
# synthetic benchmark, `detail_retention` also ranks each view's 1 px energy against the true grain and
# sharpness. (`python -m workbench probe --data-root data/synth` prints the same.)

# %%
from workbench.view_probe import detail_retention, statistics_tables, view_probe

if results is not None and "pred_mean_sd" in results.columns:
    spread = aggregate_seeds(results.rename(columns={"variant": "model"}), ["pred_mean_sd", "target_mean_sd"])
    spread.to_csv(OUT / "ablation_prediction_spread.csv")
    display(Markdown(f"**Spread of the predicted mean scores** ({results_from}; mean, sd, 95% CI half-width and number of seeds)"),
            spread.style.format(precision=4, na_rep="–"))
if PROBE_TRAIN:
    probe_train = table[table["split"] == "train"].head(PROBE_TRAIN)
    probe_test = table[table["split"] == "test"]
    test_statistics = statistics_tables(probe_test, progress=not SMOKE)  # read by both the probe and the retention
    probe = view_probe(probe_train, probe_test, progress=not SMOKE, test_statistics=test_statistics)
    probe.to_csv(OUT / "view_probe.csv", index=False)
    display(Markdown(f"**View probe** (fitted and measured in this run; {DATA_NAME}: {len(probe_train)} train / {len(probe_test)} test photos)"),
            probe.pivot(index="view", columns="theme", values=["srcc_mean", "srcc_std"]).style.format(precision=3))
    if {"gt_grain", "gt_sharpness"} <= set(table.columns):
        retention = detail_retention(probe_test, statistics=test_statistics)
        retention.to_csv(OUT / "detail_retention.csv", index=False)
        display(Markdown(f"**Detail retention** (measured in this run on the {len(probe_test)} test photos): Spearman of each view's 1 px energy with the true attribute"),
                retention.style.format(precision=3))

# %% [markdown]
# ## Table VI: Photo.net
#
# Photo.net has no themes; the paper evaluates Pad+ROI with and without crop augmentation. Its "EMD" is
# read as r = 1 (`workbench.metrics.TABLE_LAYOUTS`). Only the labels are in `../shared/ava/photonet`,
# not the photos, so measured rows need checkpoints trained on your copy of the photos
# (`PHOTONET_CHECKPOINTS`, or `CHECKPOINT` with `DATA = "photonet"`).

# %%
photonet_runs = {f"this run: {name}": repo_path(path) for name, path in PHOTONET_CHECKPOINTS.items()}
if DATA == "photonet":
    photonet_runs = {f"this run: {predictor.card['model'].get('backbone')}": checkpoint, **photonet_runs}
measured, sources = {}, {}
for name, path in photonet_runs.items():
    options = {"data_root": str(repo_path(PHOTONET_ROOT))} if PHOTONET_ROOT else {}
    if DATA == "photonet" and path == checkpoint:
        options = data_fields
    measured[name] = evaluate_checkpoint(path, split="test", tta=TTA, themes=False, device=DEVICE, **options)
    sources[name] = f"this run: evaluated here | Photo.net test split{', TTA' if TTA else ''} | {path}"
if not measured:
    display(Markdown("No Photo.net checkpoint given: Table VI shows the paper's rows only."))
show("VI", {"paper": published_table("VI", source="paper | Photo.net test split (1,200 photos) | published"),
            "this run": results_table(measured, table="VI", sources=sources) if measured else None})

# %%
print(f"saved in {OUT}:", *run.close(), sep="\n  ")
