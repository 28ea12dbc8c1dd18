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
FULL_RECIPE = False  # False: the demo recipe's head stage on TRAIN_PHOTOS photos, one view each (minutes); True: the whole recipe of checkpoints/demo.pt (every training photo; its time: checkpoints/demo.md)
TRAIN_PHOTOS = 1200  # training photos when FULL_RECIPE is False (the validation and test splits stay whole: 648 / 601); 2400 doubles the caching time
END_TO_END_EPOCHS = 0  # then fine-tune everything, the full-resolution stem included, this many epochs (~12 min each on 2 cores per 4,751 photos; the whole training split is 14,751), the full view's head only
INTERRUPT_AFTER_STEPS = 10  # with END_TO_END_EPOCHS: stop after this many steps as ■ Interrupt would, then resume (None: never)
TTA = False  # also evaluate with the six test views (original, flip, four corner crops): the paper's protocol, 6x the test time
CONFIG = {}  # any other TrainConfig field, e.g. {"head_epochs": 60, "std_loss_weight": 0.0}
CONFIG_FILE = "configs/demo_synthetic.yaml"  # the recipe: EfficientNet-Lite0 with ImageNet features, the head stage
DATA = "csv"  # label source, as TrainConfig.data: "csv" (folder + labels.csv), "ava" or "photonet"
DATA_ROOT = "data/synth"  # the synthetic benchmark (written first if missing) or your dataset's folder
DATA_OPTIONS = {}  # more TrainConfig data fields, e.g. {"ava_labels": "AVA.txt", "images_dir": "images"}
RUN_DIR = "runs/notebooks/02_train"  # last.pt, best.pt, config.yaml, history.csv
SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
OUTPUT_DIR = "artifacts/notebooks/02_train"  # figures and tables are shown and saved here

# %% [markdown]
# # 02 · Train from a notebook cell, and watch it learn
#
# `train(config)` runs a recipe as plain code: tqdm bars, a line per epoch, validation after every
# epoch, `last.pt` and `best.pt` (lowest validation EMD, r=1) in `RUN_DIR`. The recipe here is the
# embedded demo model's (`configs/demo_synthetic.yaml`): **EfficientNet-Lite0 with its ImageNet
# weights**, the stem at full resolution on the 800x800 canvas and ROI pooling, its features frozen;
# the theme branch and the distribution head are trained on the cached features of each training photo
# (the *head stage*, `workbench.head_stage`: the backbone runs once per photo, then `head_epochs` cheap epochs, 30 in the recipe).
#
# You watch it learn: after every head-stage epoch the cell redraws the training loss and the
# **validation SRCC of the mean score**, next to the label-only theme prior (each photo predicted by its
# theme's average votes, no pixels; `workbench.analysis.theme_baseline_report`): the model must rise
# well above that line to show it sees the photos. **The first point takes a while**: before any head epoch
# the backbone runs at full resolution over every training photo and every validation photo (1,200 + 648
# by default), which is most of the cell's run time; the epochs after it take a second or so each. The cell
# prints when the first point appeared.
#
# Sizes: by default `TRAIN_PHOTOS` = 1,200 training photos, one view each (caching their features is most of
# the run time; `python bench/learning_curve.py --data-root data/synth` measures how validation SRCC(mean)
# grows with the number of training photos); `FULL_RECIPE = True` trains the demo checkpoint's whole recipe.
# The data is the **synthetic** benchmark: the numbers are synthetic-benchmark numbers, not AVA numbers.

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
from workbench.notebook import load_notebook_data

data = load_notebook_data(run, DATA, DATA_ROOT, DATA_OPTIONS, synth_n=SYNTH_N)  # says what it is; SMOKE: 48 synthetic photos, <= 16 per split
table, data_fields, data_config = data.table, data.fields, data.config  # labels; the TrainConfig fields naming the data
SYNTHETIC, DATA_NAME = data.synthetic, data.name

# %% [markdown]
# ## The configuration
#
# The recipe file, then this notebook's sizes (`FULL_RECIPE`, `TRAIN_PHOTOS`, `END_TO_END_EPOCHS`), then `CONFIG`.

# %%
from workbench.config import TrainConfig

overrides = {**data_fields, "out_dir": str(repo_path(RUN_DIR)), "device": DEVICE, "epochs": END_TO_END_EPOCHS}
if not FULL_RECIPE:
    # limit_images: per split, so validation and test stay whole; view_heads: the full view's head only (the demo's
    # resize / resized-pad / crop heads would each repeat the feature caching; FULL_RECIPE trains them)
    overrides.update(limit_images=TRAIN_PHOTOS, head_views=1, view_heads="")
if END_TO_END_EPOCHS:  # the views share one backbone: fine-tuning it would leave the other views' heads behind (a config error)
    overrides["view_heads"] = ""
interrupt_after = INTERRUPT_AFTER_STEPS
if SMOKE:  # tiny: 16 photos per split at a 192 canvas, 5 head epochs, one end-to-end epoch of 3 steps, in the scratch folder
    interrupt_after = 2
    overrides.update(canvas=192, batch_size=4, head_epochs=5, head_views=1, epochs=1, max_steps_per_epoch=3, limit_images=16,
                     num_workers=0, device="cpu", out_dir=str(SCRATCH / "run"))
config = TrainConfig.from_yaml(repo_path(CONFIG_FILE), **{**overrides, **CONFIG})
print(config.to_yaml())

# %% [markdown]
# ## The floor: what the labels alone give
#
# The theme prior predicts each validation photo by the average votes of its theme's training photos
# (shrunk toward the global average for small themes). It ranks the std of the votes well (themes differ
# in how much their voters disagree) but the mean barely: that is the part a model must get from pixels.

# %%
from workbench.data.prepare import prepare_table
from workbench.notebook import theme_prior_on_validation

training_table = prepare_table(config, verbose=False)  # the photos train() will use (limit_images applied)
baseline = theme_prior_on_validation(training_table)
counts = training_table["split"].value_counts()
print(f"{DATA_NAME}: train {counts.get('train', 0)}, validation {counts.get('val', 0)}, test {counts.get('test', 0)} photos")
print(f"theme prior on validation (labels only): SRCC(mean) {baseline['srcc_mean']:.3f}, SRCC(std) {baseline['srcc_std']:.3f}, EMD (r=1) {baseline['emd1']:.4f}")

# %% [markdown]
# ## Train, watching the head stage learn
#
# First the backbone's features of every training photo are cached (a progress bar: the slow part, the
# backbone at full resolution), then the validation photos' once (this monitor and the trainer's own validation
# share them); then each head-stage epoch redraws the curves below. `HeadStageMonitor` is a `workbench.trainer.Hook` (its `after_head_epoch`); `train` calls it.

# %%
import dataclasses
import time

from workbench.notebook import HeadStageMonitor
from workbench.train import train

monitor = HeadStageMonitor(baseline, title=f"{DATA_NAME} · {config.backbone}, ImageNet features frozen · "
                           f"{counts.get('train', 0)} training photos x {config.head_views} view(s), validation n = {counts.get('val', 0)}",
                           epochs=config.head_epochs)
started = time.perf_counter()
result = train(config if not config.epochs else dataclasses.replace(config, epochs=0), hooks=[monitor])
print(f"head stage: {time.perf_counter() - started:.0f} s; the first curve point appeared after {monitor.rows[0]['seconds']:.0f} s "
      f"(the backbone over {counts.get('train', 0)} training x {config.head_views} view(s) + {counts.get('val', 0)} validation photos), "
      f"and the last ({len(monitor.rows)} head epochs) after {monitor.rows[-1]['seconds']:.0f} s")
monitor.figure().savefig(OUT / "head_stage.png")
curve = pd.DataFrame(monitor.rows)
curve.to_csv(OUT / "head_stage.csv", index=False)
curve.round(4).tail(3)

# %% [markdown]
# ## Optional: fine-tune end to end, interrupted and resumed
#
# With `END_TO_END_EPOCHS > 0` the run continues end to end (the backbone too, at `lr_backbone`). Pressing
# ■ *Interrupt* stops the loop after the current step, saves `last.pt` and raises `KeyboardInterrupt`;
# `train(config, resume=True)` continues exactly where it stopped (same batches, augmentations and
# random state). Here a tiny hook presses the button after `INTERRUPT_AFTER_STEPS` steps, then the next
# call resumes. (SMOKE runs this with one 3-step epoch, so that CI exercises it.)

# %%
import signal

from workbench.checkpoints import load_checkpoint
from workbench.trainer import Hook


class StopAfterSteps(Hook):
    """Demo only: after `steps` steps, ask the loop to stop, exactly what ■ Interrupt (SIGINT) does."""

    def __init__(self, steps):
        self.steps, self.seen = steps, 0

    def after_step(self, trainer):
        self.seen += 1
        if self.seen == self.steps:
            trainer.stop_signal = signal.SIGINT


if config.epochs:
    try:
        result = train(config, resume=True, hooks=[StopAfterSteps(interrupt_after)] if interrupt_after else [])
    except KeyboardInterrupt:
        saved = load_checkpoint(Path(config.out_dir) / "last.pt")
        print(f"interrupted: {config.out_dir}/last.pt holds epoch {saved['epoch']} + {saved['step']} step(s); resuming")
        result = train(config, resume=True)
else:
    print("END_TO_END_EPOCHS = 0: the head stage alone, as checkpoints/demo.pt")

# %% [markdown]
# ## The whole history
#
# One row per epoch: the head stage is epoch 0 (`stage` "head"), then the end-to-end epochs.

# %%
from workbench.plots import plot_history

display(result.history.round(4))
plot_history(result.history, save_to=OUT / "history.png") if len(result.history) > 1 else None

# %% [markdown]
# ## Evaluate on the test split, and save a checkpoint the demo opens
#
# The best checkpoint (by validation EMD) through `Predictor`, the path the demo and the CLI use: the
# backbone runs once per test photo and view; the one-view row uses the original view, the TTA row the
# average of the six (with `TTA`), and the "without theme" row the same features without the theme. The
# label-only theme prior is given on the test split (the floor for these rows) and on the validation split
# (the dashed line of the curves above); **each row names its split**. The paper's "Ours" row is for scale
# only: AVA and Inception-v3, not this benchmark.

# %%
from workbench.analysis import vote_distributions
from workbench.metrics import evaluate, results_table
from workbench.paper import published_table
from workbench.predict import Features, Predictor

checkpoint = result.best_checkpoint or result.checkpoint
trained = Predictor.from_checkpoint(checkpoint, device=DEVICE)
test = training_table[training_table["split"] == "test"]
use_tta = TTA or SMOKE  # SMOKE checks the TTA path on its 16 photos
features = trained.features(test["path"].tolist(), tta=use_tta)
one_view = Features(features.values[:, :1], features.views[:1])  # the original view: what tta=False predicts
themes = test["theme_id"].tolist() if trained.theme_names else None
target = vote_distributions(test)
assert len(target) == counts.get("test", 0), "the test photos evaluated are the ones counted above"  # one table for every cell
predictions = {"this run, one view": trained.predict_from_features(one_view, themes)}
if use_tta:
    predictions["this run, TTA (six views)"] = trained.predict_from_features(features, themes)
    moved = np.abs(predictions["this run, TTA (six views)"] - predictions["this run, one view"]).max()
    assert moved > 0, "TTA returned the one-view predictions: the six views were not averaged"
    print(f"TTA moves the predicted distributions by up to {moved:.4f} (per bin) from the one view")
if trained.theme_names:
    predictions["this run, one view, without theme"] = trained.predict_from_features(one_view, None)
from workbench.analysis import theme_baseline_report

n_val = counts.get("val", 0)
rows = {f"{name} · test": evaluate(pred, target) for name, pred in predictions.items()}
splits = {split: training_table[training_table["split"] == split] for split in ("train", "val", "test")}
rows["label-only theme prior · test"] = theme_baseline_report(splits["train"], splits["val"], splits["test"]).loc["theme prior"].to_dict()
rows["label-only theme prior · validation"] = baseline  # the dashed line of the curves
sources = {name: f"trained in this run | {DATA_NAME}, test split ({len(test)} photos) | {Path(checkpoint).name}" for name in rows}
sources["label-only theme prior · test"] = f"labels only, computed in this run | test split ({len(test)} photos), training photos' votes"
sources["label-only theme prior · validation"] = f"labels only, computed in this run | validation split ({n_val} photos), training photos' votes"
assert all(name.endswith((" · test", " · validation")) for name in rows), "every row names the split it is measured on"
for name in ("I", "II"):
    measured = results_table(rows, table=name, sources=sources)
    combined = pd.concat({"paper": published_table(name, source="paper | AVA test split | published").loc[["Ours"]], "this run": measured}, names=["from"])
    combined.to_csv(OUT / f"table_{name}.csv")
    display(Markdown(f"**Table {name} layout**: each row names its split (test: {len(target)} photos, validation: {n_val} photos)"),
            combined.style.format(precision=4, na_rep="–"))

# %% [markdown]
# The checkpoint is a single file the demo and the CLI open as they are:

# %%
print(trained.describe())
print(f"python app.py --checkpoint {checkpoint}\npython -m workbench predict --checkpoint {checkpoint} photo.jpg")

# %%
print(f"saved in {OUT}:", *run.close(), sep="\n  ")
