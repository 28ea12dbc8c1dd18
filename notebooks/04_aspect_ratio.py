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
AVA_IMAGES = None  # a folder of AVA photos (any depth); None: the 62 real AVA photos of SHARED_AVA/IMAGES.csv
PHOTONET_IMAGES = None  # a folder of Photo.net photos; None: left out (only the labels are in SHARED_AVA)
SHARED_AVA = "../shared/ava"  # the real AVA files; skipped when absent
DATA_ROOT = "data/synth"  # the synthetic benchmark (its labels.csv gives width and height)
SYNTH_N = 6000  # when the benchmark is not on disk: sizes of this many of its photos, drawn without rendering
MAX_IMAGES = None  # read at most this many image headers per folder (None: all)
BINS = 40
OUTPUT_DIR = "artifacts/notebooks/04_aspect_ratio"  # figures and tables are shown and saved here

# %% [markdown]
# # 04 · Fig. 6: aspect ratios of the photos
#
# The paper's case for full-resolution input rests on photos having many shapes: Fig. 6 shows the
# distribution of aspect ratios (width / height) of AVA (blue) and Photo.net (red), which it finds
# wide and "nearly the same". This notebook draws the same histogram from image headers (no pixels
# decoded) for the folders you give, and a table of the distributions with the Kolmogorov-Smirnov
# distance of each to the first.
#
# Without image folders: the 62 real AVA photos in `../shared/ava` (**not a random sample**: 55 of
# them were picked spread evenly over aspect ratio, so extreme shapes are over-represented) and the
# synthetic benchmark (whose shapes are drawn by the generator, `docs/SYNTHETIC.md`).
#
# **Photo.net**: only its labels are here (`../shared/ava/photonet`), not its photos, so its sizes are not in
# the data we have: it is not drawn unless you set `PHOTONET_IMAGES`, and the figure says so. Colours: AVA in
# the paper's blue, Photo.net (when given) in its red, the synthetic benchmark in a colour of its own.

# %%
# %matplotlib inline
import sys
from pathlib import Path

import pandas as pd

# This checkout first on sys.path (Jupyter and nbmake start in notebooks/, where an installed copy would win);
# the library cannot find the checkout before it is imported, everything after this is its job.
REPO = next(p for p in (Path.cwd().resolve(), *Path.cwd().resolve().parents) if (p / "workbench" / "__init__.py").is_file())
sys.path.insert(0, str(REPO))
from workbench.notebook import start_notebook  # noqa: E402

run = start_notebook(OUTPUT_DIR, smoke=SMOKE, repo=REPO)  # checks that workbench is REPO's; says where figures go
OUT, SCRATCH, repo_path = run.out, run.scratch, run.path  # figures and tables; SMOKE's throwaway folder; a path parameter -> Path

# %%
from workbench.analysis import aspect_ratio_summary, aspect_ratios, folder_sizes
from workbench.data.csv_folder import read_csv_folder
from workbench.data.synth_attributes import sample_attributes
from workbench.plots import plot_aspect_ratios

max_images = 200 if SMOKE else MAX_IMAGES


ratios, notes = {}, {}
shared = repo_path(SHARED_AVA)
if AVA_IMAGES:
    ratios["AVA"] = aspect_ratios(folder_sizes(repo_path(AVA_IMAGES), max_images))
elif shared is not None and (shared / "IMAGES.csv").is_file():
    ava_name = "AVA: 62 real photos, sampled to spread over aspect ratio (not a random sample)"
    ratios[ava_name] = aspect_ratios(pd.read_csv(shared / "IMAGES.csv"))
    notes[ava_name] = "55 of them were chosen spread evenly over aspect ratio, so extreme shapes are over-represented"
if PHOTONET_IMAGES:
    ratios["Photo.net"] = aspect_ratios(folder_sizes(repo_path(PHOTONET_IMAGES), max_images))
synth_root = repo_path(DATA_ROOT)
if (synth_root / "labels.csv").is_file():
    synth = read_csv_folder(synth_root)
    ratios["SYNTHETIC benchmark"] = aspect_ratios(synth.head(max_images) if max_images else synth)
else:
    n = 200 if SMOKE else SYNTH_N
    attributes = [sample_attributes(index, seed=0) for index in range(n)]
    ratios["SYNTHETIC benchmark"] = aspect_ratios(pd.DataFrame({side: [a[side] for a in attributes] for side in ("width", "height")}))
    notes["SYNTHETIC benchmark"] = f"sizes of its first {n} photos (seed 0) from the generator, photos not rendered"
notes["SYNTHETIC benchmark"] = notes.get("SYNTHETIC benchmark", f"from {synth_root / 'labels.csv'}")
print(*(f"{name}: {len(values)} photos{f' ({notes[name]})' if name in notes else ''}" for name, values in ratios.items()), sep="\n")

# %%
fig6_note = "" if "Photo.net" in ratios else " · Photo.net not drawn: its photos are not here (only its labels; set PHOTONET_IMAGES)"
plot_aspect_ratios(ratios, bins=BINS, caption=f"Fig. 6 · aspect ratios from image headers{fig6_note}", save_to=OUT / "fig6_aspect_ratios.png")

# %% [markdown]
# Shares of portrait (w/h < 0.95), square and landscape (w/h > 1.05) photos, percentiles, and the KS
# distance to the first dataset (0: the same distribution; the paper's "nearly the same" would be small).

# %%
summary = aspect_ratio_summary(ratios)
summary.to_csv(OUT / "aspect_ratio_summary.csv")
summary.round(3)

# %%
print(f"saved in {OUT}:", *run.close(), sep="\n  ")
