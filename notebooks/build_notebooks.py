"""Writes the notebooks of this folder from the cell sources below, outputs empty.

    .venv/bin/python notebooks/build_notebooks.py          # rewrite all six
    .venv/bin/python notebooks/build_notebooks.py 03_tables

Edit the cells here, not in Jupyter, then rebuild: ``tests/test_notebooks_meta.py`` fails when a
notebook on disk differs from what this script writes. Every notebook starts with a cell tagged
``parameters`` (papermill style) holding a ``SMOKE`` switch; cells are wiring around ``workbench``
calls, and what is worth reusing belongs in the library.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SMOKE_LINE = 'SMOKE = os.environ.get("WORKBENCH_SMOKE") == "1"  # True: tiny sizes, seconds (CI); its numbers mean nothing'


def _text(source: str) -> str:
    return textwrap.dedent(source).strip("\n")


def params(*sources: str) -> tuple[str, str]:
    header = "# Parameters (papermill style: override any). Paths are relative to the repository root unless absolute.\nimport os\n\n"
    return "parameters", header + SMOKE_LINE + "\n" + "\n".join(_text(source) for source in sources)


def md(source: str) -> tuple[str, str]:
    return "markdown", _text(source)


def code(source: str) -> tuple[str, str]:
    return "code", _text(source)


# Parameters shared by several notebooks
DEMO_CHECKPOINT = 'CHECKPOINT = "checkpoints/demo.pt"  # the embedded demo checkpoint: EfficientNet-Lite0 (ImageNet features) trained on the SYNTHETIC benchmark'
DATA_PARAMETERS = '''
        DATA = "csv"  # label source, as TrainConfig.data: "csv" (folder + labels.csv), "ava" or "photonet"
        DATA_ROOT = "data/synth"  # the synthetic benchmark (written first if missing) or your dataset's folder
        DATA_OPTIONS = {}  # more TrainConfig data fields, e.g. {"ava_labels": "AVA.txt", "images_dir": "images"}
'''

# --------------------------------------------------------------------------------------------------
# Cells shared by several notebooks (the same text in each, so every notebook stands alone)

SETUP = code('''
    %matplotlib inline
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from IPython.display import Markdown, display

    REPO = next((p for p in (Path.cwd(), *Path.cwd().parents) if (p / "workbench").is_dir()), Path.cwd())


    def repo_path(path):
        """A path parameter: absolute as given, else relative to the repository root; None stays None."""
        if path is None:
            return None
        path = Path(path).expanduser()
        return path if path.is_absolute() else REPO / path


    OUT = repo_path(OUTPUT_DIR)
    OUT.mkdir(parents=True, exist_ok=True)
    SCRATCH = Path(tempfile.mkdtemp(prefix="workbench-notebook-")) if SMOKE else None  # SMOKE's throwaway files
    print(f"repository: {REPO}\\nfigures and tables are saved in: {OUT}")
    if SMOKE:
        display(Markdown(
            "**SMOKE mode** (`WORKBENCH_SMOKE=1`): tiny data, few steps, small canvas, so that the notebook runs "
            "top to bottom in seconds. Every number and figure below only shows that the code runs."
        ))
''')

DATA = code('''
    from workbench.data.synth import generate_dataset
    from workbench.config import TrainConfig, prepare_table

    SYNTHETIC_ROOT = "data/synth"  # where `make demo-checkpoint` writes the synthetic benchmark
    SMOKE_PHOTOS = 48  # photos of the synthetic set SMOKE writes (seed 0: the same photos as the benchmark's first 48)

    data_root = repo_path(DATA_ROOT)
    if DATA == "csv" and DATA_ROOT == SYNTHETIC_ROOT and (SMOKE or not (data_root / "labels.csv").is_file()):
        # SMOKE: a tiny synthetic set in the scratch folder, whatever data/synth holds; else the benchmark, written if missing.
        data_root = SCRATCH / "synth" if SMOKE else data_root
        generate_dataset(data_root, SMOKE_PHOTOS if SMOKE else SYNTH_N, seed=0, workers=1 if SMOKE else None, progress=not SMOKE)
    data_fields = {"data": DATA, "data_root": str(data_root), **DATA_OPTIONS}  # TrainConfig fields naming the data
    if SMOKE:
        data_fields["limit_images"] = 16  # at most 16 photos per split (seeded), for training and evaluation alike
    data_config = TrainConfig(**data_fields)
    table = prepare_table(data_config)  # the label table; photos that are missing or unreadable are dropped
    SYNTHETIC = bool(table.attrs.get("synthetic"))
    DATA_NAME = f"{table.attrs.get('name', DATA)}{' (SYNTHETIC, not AVA)' if SYNTHETIC else ''}"
    print(f"{DATA_NAME}: {table.attrs.get('description', '')}")
''')

CHECKPOINT = code('''
    import torch

    from workbench.predict import Predictor
    from workbench.train import train


    def throwaway_smoke_checkpoint(data_config, out_dir):
        """SMOKE only, while checkpoints/demo.pt does not exist: a compact model trained for two steps of one
        epoch on a few photos of the data. It exercises the code; its predictions are noise.
        (Candidate for the library: the same stand-in is built in notebooks 01, 03 and 05.)"""
        config = dataclasses.replace(
            data_config, backbone="compact", pretrained=False, freeze_bn=False, canvas=192, batch_size=8, epochs=1,
            max_steps_per_epoch=2, limit_images=24, num_workers=0, device="cpu", out_dir=str(out_dir),
        )
        return train(config, progress=False).checkpoint


    checkpoint = repo_path(CHECKPOINT)
    if not checkpoint.is_file():
        if not SMOKE:
            raise FileNotFoundError(
                f"{checkpoint} does not exist. Make the demo checkpoint with `make demo-checkpoint` (synthetic "
                "benchmark + CPU training), or set CHECKPOINT to a checkpoint of yours."
            )
        display(Markdown(
            f"**⚠ `{CHECKPOINT}` does not exist yet: using a THROWAWAY SMOKE MODEL** (two training steps on a few "
            "photos, made here). Its predictions are noise; they only show that the code runs."
        ))
        checkpoint = throwaway_smoke_checkpoint(data_config, SCRATCH / "smoke-model")
    device = DEVICE if DEVICE != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    predictor = Predictor.from_checkpoint(checkpoint, device=device)
    print(predictor.describe())
''')

CLEANUP = code('''
    if SCRATCH is not None:
        shutil.rmtree(SCRATCH, ignore_errors=True)  # SMOKE's throwaway data and models
    print(f"saved in {OUT}:", *sorted(path.name for path in OUT.iterdir()), sep="\\n  ")
''')


# --------------------------------------------------------------------------------------------------
# 01 · quickstart

QUICKSTART = [
    params(DEMO_CHECKPOINT, DATA_PARAMETERS, '''
        SPLIT = "test"  # the split whose photos are predicted
        N_PHOTOS = 8  # photos shown, spread from the lowest to the highest ground-truth mean score
        TTA = False  # True: average the six test views (original, flip, four corner crops), the paper's protocol
        SHARED_AVA = "../shared/ava"  # the real AVA files (62 photos); skipped when absent
        N_AVA_PHOTOS = 8  # real AVA photos without ground truth shown, spread over aspect ratio
        SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
        DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
        OUTPUT_DIR = "artifacts/notebooks/01_quickstart"  # figures are shown and saved here
    '''),
    md('''
        # 01 · Quickstart: score distributions of photos at full resolution

        Load a checkpoint with `Predictor.from_checkpoint`, say what it is, and predict the distribution of
        human scores of a few photos **at full resolution**: each photo keeps its size and aspect ratio
        (downscaled only if it exceeds the checkpoint's canvas), is zero-padded onto the canvas, and the
        backbone's first pooling is an ROI pooling over the photo's own region (Sec. III). The figures follow
        the paper: Fig. 4 (predicted bins in blue, ground truth in red) and Fig. 5 (photos with their aspect
        ratio kept; predicted mean (ground-truth mean) / EMD (r=1) under each).

        By default the model is the embedded demo checkpoint: EfficientNet-Lite0 with ImageNet weights,
        fine-tuned on the **synthetic benchmark** (procedural photos with simulated votes, `docs/SYNTHETIC.md`). It is not an
        AVA model and its numbers are not AVA numbers. Point `CHECKPOINT`, `DATA` and `DATA_ROOT` at an AVA
        or Photo.net model and dataset to run the same cells on real photos (see `notebooks/README.md`).
    '''),
    SETUP,
    code('''
        n_photos = min(N_PHOTOS, 4) if SMOKE else N_PHOTOS
        n_ava_photos = min(N_AVA_PHOTOS, 4) if SMOKE else N_AVA_PHOTOS
    '''),
    md("## Data and checkpoint"),
    DATA,
    CHECKPOINT,
    md('''
        The checkpoint's card: what it was trained on, the model's arguments, the validation metrics it
        recorded. A synthetic model says so here and in `describe()`.
    '''),
    code('''
        import pprint

        pprint.pprint({key: predictor.card.get(key) for key in ("checkpoint", "data", "model", "canvas", "num_bins", "num_themes", "epoch", "metrics")},
                      sort_dicts=False, width=110)
        if predictor.card.get("data", {}).get("synthetic"):
            display(Markdown("**This model was trained on the SYNTHETIC benchmark. It is not an AVA model; its scores are not AVA scores.**"))
    '''),
    md('''
        ## Predict photos of the split

        `predictor.predict(paths, themes, view="full", tta=...)` returns one distribution over the scores
        1..K per photo. The theme is each photo's challenge (AVA) or synthetic theme; `None` predicts without.
        The photos are chosen from the lowest to the highest ground-truth mean, so good and bad photos both
        appear (as in Fig. 4).
    '''),
    code('''
        from workbench.analysis import vote_distributions
        from workbench.metrics import distribution_mean, per_image_distances
        from workbench.predict import summarize

        split = table[table["split"] == SPLIT]
        order = np.argsort(distribution_mean(vote_distributions(split)), kind="stable")
        photos = split.iloc[order[np.unique(np.linspace(0, len(order) - 1, min(n_photos, len(order))).round().astype(int))]]
        themes = [t if isinstance(t, str) else None for t in photos["theme"]] if predictor.theme_names else None
        pred = predictor.predict(photos["path"].tolist(), themes=themes, tta=TTA)
        target = vote_distributions(photos)
        titles = [f"{image_id} · {theme}" if isinstance(theme, str) else str(image_id) for image_id, theme in zip(photos["image_id"], photos["theme"])]
        predicted, truth = summarize(pred), summarize(target)
        pd.DataFrame({
            "photo": titles, "predicted mean": predicted["mean"], "ground-truth mean": truth["mean"],
            "predicted std": predicted["std"], "ground-truth std": truth["std"],
            "EMD (r=1)": per_image_distances(pred, target)["emd1"],
        }).round(3)
    '''),
    md("### Fig. 4 style: predicted (blue) vs ground-truth (red) distributions"),
    code('''
        from workbench.plots import photo_grid, plot_histograms

        plot_histograms(pred, target, titles=titles, ncols=4, save_to=OUT / "fig4_histograms.png")
    '''),
    md("### Fig. 5 style: the photos with their aspect ratio kept, predicted mean (ground-truth mean) / EMD (r=1)"),
    code('''
        photo_grid(photos["path"].tolist(), pred, target, titles=titles, ncols=4, save_to=OUT / "fig5_photos.png")
    '''),
    md('''
        ## Real AVA photos (`../shared/ava`)

        62 real dpchallenge photos from public repositories (`../shared/ava/SOURCES.md`), from 0.57 to 2.56 in
        aspect ratio. Only a few have a known AVA id whose votes are in the partial label files here (TANet
        val/test, idealo test); the others have no ground truth. A model trained on the synthetic benchmark has
        never seen a real photo: on these, its predictions show that the API takes photos of any size and shape,
        not how good the photos are. With an AVA checkpoint, photos with a known challenge are predicted under it.
    '''),
    code('''
        from workbench.data.datasets import ava_table, read_ava_tanet_csv, read_idealo_json

        shared = repo_path(SHARED_AVA)
        if shared is None or not (shared / "IMAGES.csv").is_file():
            display(Markdown(f"`{SHARED_AVA}` is not here (a clone of the repository has no `../shared`): no real AVA photos to show."))
        else:
            ava_photos = pd.read_csv(shared / "IMAGES.csv")
            ava_photos["path"] = [str(shared / name) for name in ava_photos["file"]]
            known_ids = set(ava_photos["ava_image_id"].dropna().astype("int64").astype(str))
            votes = pd.concat(
                [read_ava_tanet_csv(shared / "tanet" / name) for name in ("test.csv", "val.csv")]
                + [read_idealo_json(shared / "idealo" / "ava_labels_test.json")], ignore_index=True,
            )
            labelled = ava_table(votes[votes["image_id"].isin(known_ids)], shared / "challenges.txt", shared / "images", test_list=[])
            ava_model = predictor.theme_names == labelled.attrs["theme_names"]  # an AVA checkpoint knows the challenges
            print(f"{len(ava_photos)} real AVA photos; {len(labelled)} with votes in the partial label files; "
                  f"{'predicted under their challenge' if ava_model else 'predicted without theme (the model does not know AVA challenges)'}")
            ava_pred = predictor.predict(labelled["path"].tolist(), themes=labelled["theme_id"].tolist() if ava_model else None, tta=TTA)
            ava_titles = [f"AVA {i}" + (f"\\n{t}" if isinstance(t, str) else "") for i, t in zip(labelled["image_id"], labelled["theme"])]
            ava_truth = vote_distributions(labelled)
            if ava_truth.shape[1] != predictor.num_bins:  # e.g. a Photo.net model: 7 bins, AVA has 10
                display(Markdown(f"The model predicts {predictor.num_bins} score bins, AVA's votes have {ava_truth.shape[1]}: "
                                 "their ground truth is left out below."))
                ava_truth = None
            display(photo_grid(labelled["path"].tolist(), ava_pred, ava_truth, titles=ava_titles,
                               save_to=OUT / "ava_photos_with_ground_truth.png"))
            rest = ava_photos[~ava_photos["path"].isin(labelled["path"])]
            rest = rest.iloc[np.argsort(rest["width"] / rest["height"], kind="stable")]
            rest = rest.iloc[np.unique(np.linspace(0, len(rest) - 1, min(n_ava_photos, len(rest))).round().astype(int))]
            rest_pred = predictor.predict(rest["path"].tolist(), tta=TTA)
            display(photo_grid(rest["path"].tolist(), rest_pred, titles=[Path(p).stem for p in rest["file"]],
                               save_to=OUT / "ava_photos_without_ground_truth.png"))
    '''),
    CLEANUP,
]


# --------------------------------------------------------------------------------------------------
# 02 · train

TRAIN = [
    params(DATA_PARAMETERS, '''
        CONFIG_FILE = "configs/demo_synthetic.yaml"  # recipe to start from, if it exists; else the compact CPU recipe
        CONFIG = {"limit_images": 600, "head_views": 1}  # TrainConfig fields overriding the recipe; {} = the whole demo recipe
        EPOCHS = 1  # the first run trains this many end-to-end epochs (after the head stage)...
        MORE_EPOCHS = 2  # ...then a resumed run continues to this many
        INTERRUPT_AFTER_STEPS = 10  # demo: stop the first run after this many steps, as ■ Interrupt would (None: never)
        RUN_DIR = "runs/notebooks/02_train"  # last.pt, best.pt, config.yaml, history.csv
        SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
        DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
        OUTPUT_DIR = "artifacts/notebooks/02_train"  # figures and tables are shown and saved here
    '''),
    md('''
        # 02 · Train from a notebook cell: progress, live curves, interrupt and resume, evaluation

        `train(config)` runs the paper's recipe (Sec. IV-B) as plain code: a tqdm bar per epoch, one summary
        line per epoch and, in a notebook, live training curves redrawn after every epoch (the live-plot
        hook, `workbench.train.LivePlotHook`, which `train` adds by itself when it runs in a notebook). It validates after every epoch and writes `last.pt` (every epoch) and
        `best.pt` (lowest validation EMD, r=1) to `RUN_DIR`.

        **Interrupt-safe.** Pressing ■ *Interrupt* stops the loop after the current step; it saves `last.pt`
        and raises `KeyboardInterrupt`. `train(config, resume=True)` then continues exactly where it stopped
        (same batch order, augmentations and random state), and can go on to more epochs. Below, a tiny hook
        does what the button does after `INTERRUPT_AFTER_STEPS` steps, so the notebook shows the whole cycle
        when run top to bottom.

        By default the data is the **synthetic** benchmark and the model EfficientNet-Lite0 with its ImageNet
        weights (the demo recipe, `configs/demo_synthetic.yaml`: the head first on cached features, then end to
        end), on 600 photos of each split: the numbers at the end are synthetic-benchmark numbers, not AVA numbers.
    '''),
    SETUP,
    DATA,
    md("## The configuration"),
    code('''
        overrides = {**data_fields, "epochs": EPOCHS, "out_dir": str(repo_path(RUN_DIR)), "device": DEVICE, **CONFIG}
        epochs, more_epochs, interrupt_after = EPOCHS, MORE_EPOCHS, INTERRUPT_AFTER_STEPS
        if SMOKE:  # a few steps of two tiny epochs, in the scratch folder
            epochs, more_epochs, interrupt_after = 1, 2, 2
            overrides.update(backbone="compact", pretrained=False, freeze_bn=False, canvas=192, batch_size=4, epochs=epochs, max_steps_per_epoch=3,
                             limit_images=24, num_workers=0, device="cpu", eval_tta=False, out_dir=str(SCRATCH / "run"))
        config_file = repo_path(CONFIG_FILE)
        if config_file is not None and config_file.is_file():
            config = TrainConfig.from_yaml(config_file, **overrides)
        else:
            print(f"{CONFIG_FILE} not found: starting from the compact CPU recipe (TrainConfig defaults, compact backbone, no ImageNet weights)")
            config = TrainConfig.from_dict({"backbone": "compact", "pretrained": False, "freeze_bn": False, **overrides})
        print(config.to_yaml())
    '''),
    md('''
        ## Train, interrupted

        The first run stops after `INTERRUPT_AFTER_STEPS` steps as if ■ *Interrupt* had been pressed: the
        loop finishes the step, saves `last.pt` and raises `KeyboardInterrupt`, caught here.
    '''),
    code('''
        import signal

        from workbench.checkpoints import load_checkpoint
        from workbench.train import Hook, train


        class StopAfterSteps(Hook):
            """Demo only: after `steps` steps, ask the loop to stop, exactly what ■ Interrupt (SIGINT) does."""

            def __init__(self, steps):
                self.steps, self.seen = steps, 0

            def after_step(self, trainer):
                self.seen += 1
                if self.seen == self.steps:
                    trainer.stop_signal = signal.SIGINT


        try:
            result = train(config, hooks=[StopAfterSteps(interrupt_after)] if interrupt_after else [])
        except KeyboardInterrupt:
            saved = load_checkpoint(Path(config.out_dir) / "last.pt")
            print(f"interrupted: {config.out_dir}/last.pt holds epoch {saved['epoch']} + {saved['step']} step(s); the next cell resumes it")
    '''),
    md("## Resume where it stopped, to `EPOCHS`"),
    code('''
        result = train(config, resume=True)
    '''),
    md('''
        ## Resume again, to `MORE_EPOCHS`

        `epochs` is one of the settings a resume may change (`workbench.config.RESUMABLE_CHANGES`); the
        learning-rate schedule carries on from the checkpoint.
    '''),
    code('''
        config = dataclasses.replace(config, epochs=more_epochs)
        result = train(config, resume=True)
    '''),
    md("## The whole history (three calls, one run)"),
    code('''
        from workbench.plots import plot_history

        display(result.history.round(4))
        plot_history(result.history, save_to=OUT / "history.png")
    '''),
    md('''
        ## Evaluate on the test split, without and with test-time augmentation

        `evaluate_checkpoint` predicts every test photo at full resolution: one view, or the average of the
        six views (original, horizontal flip, four corner crops of 7/8 size) as in the paper's test protocol;
        and, for a theme-aware model, once more without the theme. The paper's "Ours" row is shown above
        ours for scale only: different data, different model.
    '''),
    code('''
        from workbench.metrics import results_table
        from workbench.paper import published_table
        from workbench.evaluation import evaluate_checkpoint

        evaluated = result.best_checkpoint or result.checkpoint
        runs = {
            "this run, one view": dict(tta=False),
            "this run, TTA (six views)": dict(tta=True),
            **({"this run, TTA, without theme": dict(tta=True, themes=False)} if config.use_theme else {}),
        }
        rows = {name: evaluate_checkpoint(evaluated, split="test", device=config.device, **data_fields, **options) for name, options in runs.items()}
        n_test = int((table["split"] == "test").sum())
        source = f"this run | {DATA_NAME}, test split ({n_test} photos) | {evaluated}"
        for name in ("I", "II"):
            measured = results_table(rows, table=name, sources={row: source for row in rows})
            paper = published_table(name, source="paper | AVA").loc[["Ours"]]
            combined = pd.concat({"paper": paper, "this run": measured}, names=["from"])
            combined.to_csv(OUT / f"table_{name}.csv")
            display(Markdown(f"**Table {name} layout**"), combined.style.format(precision=4, na_rep="–"))
    '''),
    CLEANUP,
]


# --------------------------------------------------------------------------------------------------
# 03 · tables

TABLES = [
    params('''
        CHECKPOINT = "checkpoints/demo.pt"  # the model of Tables I-II (Table VI when DATA = "photonet")
    ''', DATA_PARAMETERS, '''
        EXTRA_CHECKPOINTS = {}  # more rows for Tables I-II, name -> checkpoint, e.g. {"Ours (Align)": "runs/ava_align/best.pt"}
        ABLATION_RESULTS = "results/ablation_synthetic.csv"  # workbench.ablation's results (Tables III-V); the committed, measured run
        PROBE_TRAIN = 1200  # training photos for the view probe (workbench.view_probe); 0: leave it out
        PHOTONET_CHECKPOINTS = {}  # Table VI rows, name -> checkpoint trained on Photo.net, e.g. {"Ours": "runs/photonet/best.pt"}
        PHOTONET_ROOT = None  # the folder their config paths start from (None: as recorded in each checkpoint)
        TTA = True  # the paper's test protocol: average over the six test views
        SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
        DEVICE = "auto"
        OUTPUT_DIR = "artifacts/notebooks/03_tables"  # tables are shown and saved here (CSV)
    '''),
    md('''
        # 03 · Tables I-VI: the paper's numbers next to this run's

        Each table stacks two blocks: **paper** (the published numbers, `workbench.paper`) and **this run**
        (measured here), and every row's `source` says where it comes from: this run, which data and split,
        which checkpoint or results file. The two are never mixed: a measured row never replaces a paper row.

        - Tables I-II (distribution metrics; mean and std correlations): `CHECKPOINT` evaluated on the test
          split of `DATA`, with the paper's test protocol (six-view TTA), plus two label-only baselines
          (the global average distribution; each photo's theme average, `workbench.analysis`).
        - Tables III-V (ablations: input transform and theme, image and feature-map size, augmentation):
          mean ± sd across seeds of `workbench.ablation`'s results (`ABLATION_RESULTS`).
        - Table VI (Photo.net): measured only from checkpoints trained on Photo.net (its photos are not here).

        On the default **synthetic** benchmark the measured numbers test the paper's claims on data built to
        contain the effects the paper describes; they are synthetic-benchmark numbers, not AVA or Photo.net
        results, and are labelled so.
    '''),
    SETUP,
    md("## Data and checkpoint"),
    DATA,
    CHECKPOINT,
    code('''
        from workbench.analysis import theme_baseline_report
        from workbench.metrics import METRIC_LABELS, results_table
        from workbench.paper import published_table
        from workbench.evaluation import evaluate_checkpoint


        def show(name, blocks):
            """Stack the blocks ({"paper": frame, "this run": frame}) of one table, show it and save it as CSV."""
            combined = pd.concat({key: frame for key, frame in blocks.items() if frame is not None and len(frame)}, names=["from"])
            combined.to_csv(OUT / f"table_{name}.csv")
            display(Markdown(f"**Table {name}**"), combined.style.format(precision=4, na_rep="–"))
    '''),
    md('''
        ## Tables I and II: distribution prediction, mean and std prediction

        The paper evaluates on AVA's standard test split (~19.9k photos) with a theme-aware Inception-v3.
    '''),
    code('''
        n_test = int((table["split"] == "test").sum())
        where = f"{DATA_NAME}, test split ({n_test} photos)"
        measured, sources = {}, {}
        if DATA != "photonet":
            models = {f"this run: {predictor.card['model'].get('backbone')}, {'with' if predictor.theme_names else 'no'} theme": checkpoint,
                      **{f"this run: {name}": repo_path(path) for name, path in EXTRA_CHECKPOINTS.items()}}
            for name, path in models.items():
                measured[name] = evaluate_checkpoint(path, split="test", tta=TTA, device=DEVICE, **data_fields)
                sources[name] = f"this run | {where}{', TTA' if TTA else ''} | {path}"
            splits = {split: table[table["split"] == split] for split in ("train", "val", "test")}
            baselines = theme_baseline_report(splits["train"], splits["val"], splits["test"])
            for baseline, metrics in baselines.iterrows():
                name = f"baseline: {baseline} (labels only)"
                measured[name] = metrics.to_dict()
                sources[name] = f"this run | {where} | no model: the training photos' {'theme ' if baseline != 'global average' else ''}average distribution"
        for name in ("I", "II"):
            show(name, {"paper": published_table(name, source="paper | AVA test split | published"),
                        "this run": results_table(measured, table=name, sources=sources) if measured else None})
    '''),
    md('''
        ## Tables III-V: ablations, mean ± sd across seeds

        `workbench.ablation` trains every variant with the same budget and several seeds and appends one row
        per (variant, seed) to `results.csv`. The paper reports one run per row; here each cell is the mean ±
        sample sd over the seeds. Paper row → variant: Table III's transforms and theme; Table IV's
        image/feature sizes as canvas 400 / ROI 73, canvas 800 / ROI 73, canvas 800 / ROI 146 (= Pad+ROI+Theme);
        Table V's Flip as "Flip only" and Flip+Crop as Pad+ROI+Theme.
    '''),
    code('''
        from workbench.ablation import run_ablation
        from workbench.analysis import aggregate_seeds, format_mean_sd
        from workbench.checkpoints import load_checkpoint
        from workbench.metrics import TABLE_LAYOUTS

        # Paper row -> ablation variant (workbench.ablation.VARIANTS). Candidate for the library (workbench.ablation).
        PAPER_ROWS_OF_VARIANTS = {
            "III": {"Resize": "Resize", "Resized Pad": "Resized Pad", "Random Crop": "Random Crop", "Pad+ROI": "Pad+ROI", "Pad+ROI+Theme": "Pad+ROI+Theme"},
            "IV": {"Image 400, Feature 73": "Canvas 400, ROI 73", "Image 800, Feature 73": "Canvas 800, ROI 73", "Image 800, Feature 146": "Pad+ROI+Theme"},
            "V": {"Flip": "Flip only", "Flip+Crop": "Pad+ROI+Theme"},
        }
        results_path = repo_path(ABLATION_RESULTS)
        results, results_from = None, None
        if results_path is not None and results_path.is_file():
            results, results_from = pd.read_csv(results_path), str(results_path)
        elif SMOKE:
            smoke_variants = ("Resize", "Pad+ROI", "Pad+ROI+Theme")  # a 299 transform, no theme, theme (a row of each table)
            display(Markdown(f"**SMOKE: a throwaway ablation** ({len(smoke_variants)} variants, two seeds, one training step each, "
                             "in a scratch folder); its numbers mean nothing. Real results go to `runs/ablation/results.csv`."))
            smoke_base = dataclasses.replace(data_config, backbone="compact", pretrained=False, freeze_bn=False, canvas=192, batch_size=8, epochs=1,
                                             max_steps_per_epoch=1, limit_images=8, num_workers=0, device="cpu")
            results = run_ablation(smoke_base, SCRATCH / "ablation", seeds=(0, 1), variants=smoke_variants, tta=False, progress=False)
            results_from = "SMOKE ablation (throwaway)"
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
                data = load_checkpoint(results["checkpoint"].iloc[0]).get("data") or {}
                trained_on = f"{data.get('name', '?')}{' (SYNTHETIC, not AVA)' if data.get('synthetic') else ''}"
            aggregated = aggregate_seeds(results.rename(columns={"variant": "model"}), list(TABLE_LAYOUTS["III"]))
            cells = format_mean_sd(aggregated)
            for name, rows in PAPER_ROWS_OF_VARIANTS.items():
                present = {row: variant for row, variant in rows.items() if variant in cells.index}
                measured = cells.loc[list(present.values())].rename(columns=METRIC_LABELS)
                measured.index = pd.Index([f"{row} ({variant}, {int(aggregated.loc[variant, ('seeds', 'n')])} seeds)" for row, variant in present.items()], name="Models")
                measured["source"] = f"this run | {trained_on}, test split | {results_from}"
                paper = published_table(name, source="paper | AVA test split | published, one run per row")
                show(name, {"paper": paper, "this run": measured})
        else:
            for name in PAPER_ROWS_OF_VARIANTS:
                show(name, {"paper": published_table(name, source="paper | AVA test split | published, one run per row")})
    '''),
    md('''
        ### When the variants tie: did the network learn, and what do the views carry?

        Two checks separate "the pipeline loses the detail" from "the network has not learnt to use it":
        `pred_mean_sd` (the spread of the predicted mean scores across test photos; ~0 means the model predicts
        the training marginal for every photo, whatever its SRCC) next to `target_mean_sd`; and
        `workbench.view_probe`, a ridge regression on nine global statistics of each view exactly as the model
        receives it (colour, contrast, aspect, fine-scale energy), fitted on `PROBE_TRAIN` training photos. On the
        synthetic benchmark, `detail_retention` also ranks each view's 1 px energy against the true grain and
        sharpness. (`python -m workbench probe --data-root data/synth` prints the same.)
    '''),
    code('''
        from workbench.view_probe import detail_retention, statistics_tables, view_probe

        if results is not None and "pred_mean_sd" in results.columns:
            spread = aggregate_seeds(results.rename(columns={"variant": "model"}), ["pred_mean_sd", "target_mean_sd"])
            spread.to_csv(OUT / "ablation_prediction_spread.csv")
            display(Markdown(f"**Spread of the predicted mean scores** ({results_from})"), spread.style.format(precision=4, na_rep="–"))
        if PROBE_TRAIN:
            probe_train = table[table["split"] == "train"].head(PROBE_TRAIN)
            probe_test = table[table["split"] == "test"]
            test_statistics = statistics_tables(probe_test, progress=not SMOKE)  # read by both the probe and the retention
            probe = view_probe(probe_train, probe_test, progress=not SMOKE, test_statistics=test_statistics)
            probe.to_csv(OUT / "view_probe.csv", index=False)
            display(Markdown(f"**View probe** ({DATA_NAME}: {len(probe_train)} train / {len(probe_test)} test photos)"),
                    probe.pivot(index="view", columns="theme", values=["srcc_mean", "srcc_std"]).style.format(precision=3))
            if {"gt_grain", "gt_sharpness"} <= set(table.columns):
                retention = detail_retention(probe_test, statistics=test_statistics)
                retention.to_csv(OUT / "detail_retention.csv", index=False)
                display(Markdown("**Detail retention**: Spearman of each view's 1 px energy with the true attribute"),
                        retention.style.format(precision=3))
    '''),
    md('''
        ## Table VI: Photo.net

        Photo.net has no themes; the paper evaluates Pad+ROI with and without crop augmentation. Its "EMD" is
        read as r = 1 (`workbench.metrics.TABLE_LAYOUTS`). Only the labels are in `../shared/ava/photonet`,
        not the photos, so measured rows need checkpoints trained on your copy of the photos
        (`PHOTONET_CHECKPOINTS`, or `CHECKPOINT` with `DATA = "photonet"`).
    '''),
    code('''
        photonet_runs = {f"this run: {name}": repo_path(path) for name, path in PHOTONET_CHECKPOINTS.items()}
        if DATA == "photonet":
            photonet_runs = {f"this run: {predictor.card['model'].get('backbone')}": checkpoint, **photonet_runs}
        measured, sources = {}, {}
        for name, path in photonet_runs.items():
            options = {"data_root": str(repo_path(PHOTONET_ROOT))} if PHOTONET_ROOT else {}
            if DATA == "photonet" and path == checkpoint:
                options = data_fields
            measured[name] = evaluate_checkpoint(path, split="test", tta=TTA, themes=False, device=DEVICE, **options)
            sources[name] = f"this run | Photo.net test split{', TTA' if TTA else ''} | {path}"
        if not measured:
            display(Markdown("No Photo.net checkpoint given: Table VI shows the paper's rows only."))
        show("VI", {"paper": published_table("VI", source="paper | Photo.net test split (1,200 photos) | published"),
                    "this run": results_table(measured, table="VI", sources=sources) if measured else None})
    '''),
    CLEANUP,
]


# --------------------------------------------------------------------------------------------------
# 04 · aspect ratios

ASPECT = [
    params('''
        AVA_IMAGES = None  # a folder of AVA photos (any depth); None: the 62 real AVA photos of SHARED_AVA/IMAGES.csv
        PHOTONET_IMAGES = None  # a folder of Photo.net photos; None: left out (only the labels are in SHARED_AVA)
        SHARED_AVA = "../shared/ava"  # the real AVA files; skipped when absent
        DATA_ROOT = "data/synth"  # the synthetic benchmark (its labels.csv gives width and height)
        SYNTH_N = 6000  # when the benchmark is not on disk: sizes of this many of its photos, drawn without rendering
        MAX_IMAGES = None  # read at most this many image headers per folder (None: all)
        BINS = 40
        OUTPUT_DIR = "artifacts/notebooks/04_aspect_ratio"  # figures and tables are shown and saved here
    '''),
    md('''
        # 04 · Fig. 6: aspect ratios of the photos

        The paper's case for full-resolution input rests on photos having many shapes: Fig. 6 shows the
        distribution of aspect ratios (width / height) of AVA (blue) and Photo.net (red), which it finds
        wide and "nearly the same". This notebook draws the same histogram from image headers (no pixels
        decoded) for the folders you give, and a table of the distributions with the Kolmogorov-Smirnov
        distance of each to the first.

        Without image folders: the 62 real AVA photos in `../shared/ava` (**not a random sample**: 55 of
        them were picked spread evenly over aspect ratio, so extreme shapes are over-represented) and the
        synthetic benchmark (whose shapes are drawn by the generator, `docs/SYNTHETIC.md`).
    '''),
    SETUP,
    code('''
        from workbench.analysis import aspect_ratio_summary, aspect_ratios
        from workbench.data.datasets import image_sizes, read_csv_folder
        from workbench.data.synth import sample_attributes
        from workbench.plots import plot_aspect_ratios

        max_images = 200 if SMOKE else MAX_IMAGES


        def folder_sizes(folder, limit):
            """(h, w) of the photos in a folder and its subfolders, from their headers; unreadable files left out.
            (Candidate for the library: workbench.data.datasets.)"""
            paths = sorted(str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
            sizes = image_sizes(pd.DataFrame({"path": paths}))
            return sizes[(sizes > 0).all(axis=1)]


        ratios, notes = {}, {}
        shared = repo_path(SHARED_AVA)
        if AVA_IMAGES:
            ratios["AVA"] = aspect_ratios(folder_sizes(repo_path(AVA_IMAGES), max_images))
        elif shared is not None and (shared / "IMAGES.csv").is_file():
            ratios["AVA, 62 real photos"] = aspect_ratios(pd.read_csv(shared / "IMAGES.csv"))
            notes["AVA, 62 real photos"] = "not a random sample: 55 of them were chosen spread over aspect ratio"
        if PHOTONET_IMAGES:
            ratios["Photo.net"] = aspect_ratios(folder_sizes(repo_path(PHOTONET_IMAGES), max_images))
        synth_root = repo_path(DATA_ROOT)
        if (synth_root / "labels.csv").is_file():
            synth = read_csv_folder(synth_root)
            ratios["synthetic benchmark"] = aspect_ratios(synth.head(max_images) if max_images else synth)
        else:
            n = 200 if SMOKE else SYNTH_N
            attributes = [sample_attributes(index, seed=0) for index in range(n)]
            ratios["synthetic benchmark"] = aspect_ratios(pd.DataFrame({side: [a[side] for a in attributes] for side in ("width", "height")}))
            notes["synthetic benchmark"] = f"sizes of its first {n} photos (seed 0) from the generator, photos not rendered"
        notes["synthetic benchmark"] = "SYNTHETIC; " + notes.get("synthetic benchmark", f"from {synth_root / 'labels.csv'}")
        print(*(f"{name}: {len(values)} photos{f' ({notes[name]})' if name in notes else ''}" for name, values in ratios.items()), sep="\\n")
    '''),
    code('''
        plot_aspect_ratios(ratios, bins=BINS, save_to=OUT / "fig6_aspect_ratios.png")
    '''),
    md('''
        Shares of portrait (w/h < 0.95), square and landscape (w/h > 1.05) photos, percentiles, and the KS
        distance to the first dataset (0: the same distribution; the paper's "nearly the same" would be small).
    '''),
    code('''
        summary = aspect_ratio_summary(ratios)
        summary.to_csv(OUT / "aspect_ratio_summary.csv")
        summary.round(3)
    '''),
    CLEANUP,
]


# --------------------------------------------------------------------------------------------------
# 05 · failure cases

FAILURES = [
    params(DEMO_CHECKPOINT, DATA_PARAMETERS, '''
        SPLIT = "test"
        MAX_PHOTOS = None  # predict at most this many photos of the split (seeded sample; None: all)
        K = 8  # failure cases shown (Fig. 7)
        N_THEME_EXAMPLES = 8  # photos shown with and without theme (Fig. 8)
        TTA = False  # True: average the six test views, the paper's protocol
        SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
        DEVICE = "auto"  # "auto" (CUDA when available), "cpu", "cuda"
        OUTPUT_DIR = "artifacts/notebooks/05_failure_cases"  # figures and tables are shown and saved here
    '''),
    md('''
        # 05 · Figs. 7 and 8: where the model fails, and what the theme changes

        **Fig. 7.** The paper's failure cases are photos whose ground-truth distributions are "uncommon":
        non-Gaussian, not smooth, with odd votes (too few 9s, too many 1s), and its conclusion says the model
        "tends to predict distributions with a mean score close to 5". Here: the photos with the largest EMD
        (r=1) between prediction and ground truth, with the shape of their ground truth
        (`analysis.distribution_shape`: skewness, modes, distance to the Gaussian of the same mean and std),
        compared with all photos.

        **Fig. 8.** The same photos predicted with and without their theme (one backbone pass; only the head
        runs twice, `Predictor.features` / `predict_from_features`): mean scores, errors, and the photos whose
        predicted mean the theme moves most.

        Default: the demo checkpoint on the **synthetic** benchmark's test split (not AVA).
    '''),
    SETUP,
    md("## Data, checkpoint, predictions"),
    DATA,
    CHECKPOINT,
    code('''
        from workbench.analysis import distribution_shape, theme_effect, vote_distributions, worst_predictions
        from workbench.metrics import distribution_mean, per_image_distances

        max_photos = 16 if SMOKE else MAX_PHOTOS
        photos = table[table["split"] == SPLIT]
        if max_photos and len(photos) > max_photos:
            photos = photos.sample(n=max_photos, random_state=0)
        photos = photos.reset_index(drop=True)
        target = vote_distributions(photos)
        titles = [f"{image_id} · {theme}" if isinstance(theme, str) else str(image_id) for image_id, theme in zip(photos["image_id"], photos["theme"])]
        features = predictor.features(photos["path"].tolist(), tta=TTA)  # the backbone, once per photo (and view)
        themes = [t if isinstance(t, str) else None for t in photos["theme"]] if predictor.theme_names else None
        pred = predictor.predict_from_features(features, themes)
        print(f"{len(photos)} photos of the {SPLIT} split of {DATA_NAME}; mean EMD (r=1) {per_image_distances(pred, target)['emd1'].mean():.4f}")
    '''),
    md("## Fig. 7: the worst-predicted photos"),
    code('''
        k = min(K, 4) if SMOKE else K
        shape = distribution_shape(target)
        shape["abs_skewness"] = shape["skewness"].abs()
        worst = worst_predictions(pred, target, k=k, metric="emd1")
        shape_columns = ["abs_skewness", "excess_kurtosis", "modes", "non_gaussianity"]
        cases = pd.concat([photos.loc[worst.index, ["image_id", "theme"]], worst, shape.loc[worst.index, shape_columns].add_prefix("target_")], axis=1)
        cases.to_csv(OUT / "fig7_worst_predictions.csv")
        cases.round(3)
    '''),
    code('''
        from workbench.plots import plot_failure_cases, plot_with_without_theme

        plot_failure_cases(pred, target, images=photos["path"].tolist(), k=k, titles=titles, save_to=OUT / "fig7_failure_cases.png")
    '''),
    md('''
        Are the failures the uncommon distributions? The medians of the shape statistics for the worst k
        photos against all photos, the rank correlation between each photo's error and its ground truth's
        distance from a Gaussian, and how much the predicted means spread compared with the true ones (a
        model that "predicts close to 5" has a much narrower spread).
    '''),
    code('''
        from scipy import stats

        emd = per_image_distances(pred, target)["emd1"]
        display(pd.DataFrame({f"worst {k}": shape.loc[worst.index, shape_columns].median(), "all photos": shape[shape_columns].median()}).round(3))
        spread = pd.Series({
            "Spearman(EMD, non-Gaussianity of the ground truth)": stats.spearmanr(emd, shape["non_gaussianity"])[0],
            "Spearman(EMD, |skewness| of the ground truth)": stats.spearmanr(emd, shape["abs_skewness"])[0],
            "sd of ground-truth means": distribution_mean(target).std(),
            "sd of predicted means": distribution_mean(pred).std(),
        })
        spread.round(3)
    '''),
    md("## Fig. 8: with vs without theme"),
    code('''
        if not predictor.theme_names:
            display(Markdown("This model has no themes (e.g. Photo.net): nothing to compare."))
            effect = None
        else:
            pred_without = predictor.predict_from_features(features, None)
            effect = theme_effect(pred, pred_without, target)
            display(pd.Series(effect.attrs["summary"]).round(4))
            display(plot_with_without_theme(pred, pred_without, target, save_to=OUT / "fig8_with_without_theme.png"))
    '''),
    md('''
        The photos whose predicted mean the theme moves most, each captioned ground truth | with theme |
        without theme (the paper's Fig. 8 picks examples where the theme helps; these are picked by the size
        of the change, whichever way it goes).
    '''),
    code('''
        if effect is not None:
            n_examples = min(N_THEME_EXAMPLES, 4) if SMOKE else N_THEME_EXAMPLES
            moved = (effect["mean_with"] - effect["mean_without"]).abs().sort_values(ascending=False).index[:n_examples].to_numpy()
            display(effect.loc[moved].assign(photo=[titles[i] for i in moved]).round(3))
            display(plot_with_without_theme(pred[moved], pred_without[moved], target[moved], images=photos["path"].iloc[moved].tolist(),
                                            titles=[titles[i] for i in moved], save_to=OUT / "fig8_examples.png"))
    '''),
    CLEANUP,
]


# --------------------------------------------------------------------------------------------------
# 06 · theme bias

THEMES = [
    params('''
        AVA_TXT = None  # the full AVA.txt (255,530 photos), if you have it; None: the real AVA votes in SHARED_AVA
        AVA_CHALLENGES = None  # challenges.txt; None: beside AVA_TXT, else in SHARED_AVA
        AVA_TEST_LIST = None  # .jpgl of test ids; None: aesthetics_image_lists/generic_test.jpgl beside challenges.txt
        SHARED_AVA = "../shared/ava"  # TANet val + test: ~25.5k AVA photos with votes and challenge ids
        DATA_ROOT = "data/synth"  # fallback when no AVA labels are available: the synthetic benchmark's labels
        SYNTH_N = 6000  # photos of the synthetic benchmark, when it has to be written
        MIN_PHOTOS = 20  # themes with fewer photos are left out of the theme statistics
        TOP = 6  # themes in the distribution plot (the largest)
        OUTPUT_DIR = "artifacts/notebooks/06_theme_bias"  # figures and tables are shown and saved here
    '''),
    md('''
        # 06 · Theme criterion bias on real AVA votes

        The paper's second claim (Sec. III-B): voters judge a photo by its challenge's theme, so the theme
        carries information about the score distribution that the pixels alone do not. This notebook measures
        that on **real AVA votes**, without any model:

        1. the score distributions of themes, and how far theme averages spread (the share of the variance of
           photo mean scores, and of photo standard deviations, that lies between themes);
        2. the **theme-only baseline**: each test photo predicted by its theme's average training distribution,
           shrunk toward the global average for small themes (shrinkage chosen on validation), evaluated with
           every metric next to the global-average baseline, and in Table III's layout beside the paper's
           Pad+ROI (no theme) and Pad+ROI+Theme rows;
        3. a browser to pick themes and compare their distributions.

        Labels: the full `AVA.txt` when given; else the ~25.5k AVA photos in `../shared/ava/tanet` (a random
        ~10% of AVA with challenge ids; test = those in the official generic_test list). With neither, the
        synthetic benchmark's labels are used, and the notebook says so.
    '''),
    SETUP,
    code('''
        from workbench.analysis import real_ava_theme_split
        from workbench.data.datasets import ava_table, read_csv_folder
        from workbench.data.synth import generate_dataset

        shared = repo_path(SHARED_AVA)
        if AVA_TXT:
            ava_txt = repo_path(AVA_TXT)
            candidates = [repo_path(AVA_CHALLENGES)] if AVA_CHALLENGES else [ava_txt.parent / "challenges.txt"] + ([shared / "challenges.txt"] if shared else [])
            challenges = next((path for path in candidates if path.is_file()), None)
            if challenges is None:
                raise FileNotFoundError(f"no challenges.txt at {candidates}; set AVA_CHALLENGES")
            table = ava_table(ava_txt, challenges, ava_txt.parent / "images", test_list=repo_path(AVA_TEST_LIST))
            SOURCE = f"AVA: {ava_txt}"
        elif shared is not None and (shared / "tanet" / "test.csv").is_file():
            table = real_ava_theme_split(shared)
            SOURCE = "AVA, real votes: the TANet val + test subset (~10% of AVA)"
            print(table.attrs["counts"])
        else:
            synth_root = repo_path(DATA_ROOT)
            if not (synth_root / "labels.csv").is_file():
                synth_root = SCRATCH / "synth" if SMOKE else synth_root
                generate_dataset(synth_root, 160 if SMOKE else SYNTH_N, seed=0, workers=1 if SMOKE else None, progress=not SMOKE)
            table = read_csv_folder(synth_root)
            SOURCE = "SYNTHETIC benchmark labels (no AVA labels here)"
            display(Markdown(f"**No AVA labels here** (no `AVA_TXT`, no `{SHARED_AVA}`): falling back to the **synthetic** "
                             "benchmark's simulated votes. Its themes are invented; nothing below is about AVA."))
        SYNTHETIC = bool(table.attrs.get("synthetic"))
        min_photos = min(MIN_PHOTOS, 3) if SMOKE else MIN_PHOTOS
        print(f"{SOURCE}: {len(table):,} photos, {table.loc[table['theme_id'] >= 0, 'theme_id'].nunique():,} themes; "
              + ", ".join(f"{split} {count:,}" for split, count in table["split"].value_counts().items()))
    '''),
    md('''
        ## Themes: how many photos, their average score, their voters' disagreement

        Per theme (at least `MIN_PHOTOS` photos): the mean and sd over its photos of each photo's mean score,
        the mean of each photo's std of votes, and the theme's average distribution (`p1..pK`).
    '''),
    code('''
        from workbench.analysis import theme_statistics, theme_variance_explained

        stats = theme_statistics(table, min_photos=min_photos)
        stats.to_csv(OUT / "theme_statistics.csv")
        print(stats.attrs["counts"])
        columns = ["theme", "count", "mean_of_means", "sd_of_means", "mean_of_stds"]
        display(Markdown("**Largest themes**"), stats[columns].head(8).round(3))
        ranked = stats.sort_values("mean_of_means")
        display(Markdown("**Lowest and highest average mean score**"), pd.concat([ranked.head(5), ranked.tail(5)])[columns].round(3))
    '''),
    code('''
        from workbench.plots import plot_theme_distributions, plot_theme_means, theme_browser

        plot_theme_distributions(stats, top=TOP, save_to=OUT / "theme_distributions.png")
    '''),
    md("The largest themes are mostly generic (free studies, best-of); the extremes differ more: the two lowest and the two highest theme averages."),
    code('''
        extremes = [*ranked.index[:2], *ranked.index[-2:]]
        plot_theme_distributions(stats, themes=extremes, save_to=OUT / "theme_distributions_extremes.png")
    '''),
    md('''
        ## The spread of theme means

        eta² is the share of the variance over photos that lies between theme averages; omega² removes what
        that many themes would explain by chance (its value with no theme effect is "chance").
    '''),
    code('''
        variance = theme_variance_explained(table, min_photos=min_photos)
        variance.to_csv(OUT / "theme_variance_explained.csv")
        display(variance.round(4))
        plot_theme_means(stats, save_to=OUT / "theme_means.png")
    '''),
    md('''
        ## The theme-only baseline

        No pixels: each test photo is predicted by its theme's average training distribution,
        `w · theme average + (1 - w) · global average` with `w = n / (n + k)` for a theme with `n` training photos
        (`k` chosen on the validation split). The global-average baseline predicts the same distribution for
        every photo, so its correlations are undefined (–).
    '''),
    code('''
        from workbench.analysis import theme_baseline_report
        from workbench.metrics import METRIC_LABELS, results_table
        from workbench.paper import published_table

        splits = {split: table[table["split"] == split] for split in ("train", "val", "test")}
        report = theme_baseline_report(splits["train"], splits["val"], splits["test"]) if len(splits["val"]) else None
        if report is None:
            display(Markdown("This table has no validation split: no baseline."))
        else:
            report.to_csv(OUT / "theme_baseline.csv")
            print(f"shrinkage k = {report.attrs['shrinkage']:g}; photos: {report.attrs['counts']}")
            display(report.rename(columns=METRIC_LABELS).style.format(precision=4, na_rep="–"))
            display(Markdown("**Shrinkage chosen on validation** (EMD r=1 and MSE of the mean, by k)"),
                    pd.DataFrame(report.attrs["shrinkage_curve"]).set_index("shrinkage").round(4))
    '''),
    md('''
        In Table III's layout, beside the paper's Pad+ROI models without and with theme. The photo sets differ
        (the paper: AVA's ~19.9k generic test photos; here: the test photos of the labels above), so this
        compares orders of magnitude, not decimals. A theme-only predictor that matches or beats a pixel
        model on SRCC (std.dev) is the theme criterion bias of Sec. III-B in numbers.
    '''),
    code('''
        if report is not None:
            where = f"{SOURCE}, test split ({report.attrs['counts']['test']:,} photos)"
            rows = {f"baseline: {name}": metrics for name, metrics in report.to_dict("index").items()}
            measured = results_table(rows, table="III", sources={name: f"this run | {where} | labels only" for name in rows})
            paper = published_table("III", source="paper | AVA generic test | published").loc[["Pad+ROI", "Pad+ROI+Theme"]]
            blocks = {"this run": measured} if SYNTHETIC else {"paper": paper, "this run": measured}
            combined = pd.concat(blocks, names=["from"])
            combined.to_csv(OUT / "theme_baseline_table_III.csv")
            display(combined.style.format(precision=4, na_rep="–"))
    '''),
    md('''
        ## Browse themes

        Type to filter, ctrl/shift-click to select several: their average distributions side by side, with
        the average over all photos dashed. (Needs a running kernel to react; the figure of the initial
        selection is saved.)
    '''),
    code('''
        browser = theme_browser(stats, initial=[ranked.index[0], ranked.index[-1]])
        if browser.figure is not None:
            browser.figure.savefig(OUT / "theme_browser_initial.png")
        browser
    '''),
    CLEANUP,
]

NOTEBOOKS = {
    "01_quickstart": QUICKSTART,
    "02_train": TRAIN,
    "03_tables": TABLES,
    "04_aspect_ratio": ASPECT,
    "05_failure_cases": FAILURES,
    "06_theme_bias": THEMES,
}


def notebook(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` as written to disk: deterministic cell ids, no outputs, kernel python3."""
    cells = []
    for index, (kind, source) in enumerate(NOTEBOOKS[name]):
        cell_id = f"{name}-{index:02d}"
        if kind == "markdown":
            cells.append(new_markdown_cell(source, id=cell_id))
        else:
            cell = new_code_cell(source, id=cell_id)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            cells.append(cell)
    book = new_notebook(cells=cells)
    book.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    book.metadata["language_info"] = {"name": "python"}
    nbformat.validate(book)
    return book


def build(names: list[str] | None = None, out_dir: Path = HERE) -> list[Path]:
    """Write the notebooks (all, or ``names``) into ``out_dir``; returns their paths."""
    written = []
    for name in names or list(NOTEBOOKS):
        path = Path(out_dir) / f"{name}.ipynb"
        path.write_text(nbformat.writes(notebook(name)) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    unknown = [name for name in sys.argv[1:] if name not in NOTEBOOKS]
    if unknown:
        sys.exit(f"unknown notebook(s) {unknown}; known: {', '.join(NOTEBOOKS)}")
    for path in build(sys.argv[1:] or None):
        print(f"wrote {path}")
