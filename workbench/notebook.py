"""What every notebook does around its figures: the repository's paths, its output folder, its data,
its checkpoint (in SMOKE mode a throwaway stand-in), the real AVA photos of ``../shared/ava``, and the
live curves of the head stage. Kept here so that the notebooks stay wiring and this stays tested.

    run = start_notebook("artifacts/notebooks/01_quickstart", smoke=SMOKE, repo=REPO)
    data = load_notebook_data(run, "csv", "data/synth")
    predictor, checkpoint = open_checkpoint(run, "checkpoints/demo.pt", data.config)

Only finding the checkout stays in each notebook: it must put the checkout first on ``sys.path`` before
it can import this module.
"""
from __future__ import annotations

import dataclasses
import os
import time
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis.baselines import theme_baseline_report
from workbench.analysis.seeds import format_mean_sd
from workbench.analysis.votes import vote_distributions
from workbench.config import TrainConfig
from workbench.data.ava import ava_table, read_ava_tanet_csv, read_idealo_json
from workbench.data.prepare import prepare_table
from workbench.data.synth import generate_dataset
from workbench.data.tables import read_json_object
from workbench.metrics import METRIC_LABELS, TABLE_LAYOUTS, distribution_mean
from workbench.predict import Predictor
from workbench.train import train
from workbench.trainer import Hook

SYNTHETIC_ROOT = "data/synth"  # where `make demo-checkpoint` writes the synthetic benchmark
SMOKE_PHOTOS = 48  # photos of the synthetic set SMOKE writes (seed 0: the same photos as the benchmark's first 48)
SMOKE_LIMIT = 16  # SMOKE: at most this many photos per split
SMOKE_BANNER = (
    "**SMOKE mode** (`WORKBENCH_SMOKE=1`): tiny data, few steps, small canvas, so that the notebook runs "
    "top to bottom in seconds. Every number and figure below only shows that the code runs."
)
THROWAWAY_WARNING = (
    "**⚠ `{checkpoint}` does not exist yet: using a THROWAWAY SMOKE MODEL** (two training steps on a few "
    "photos, made here). Its predictions are noise; they only show that the code runs."
)


def show_markdown(text: str) -> None:
    """Bold in Jupyter, where a warning must stand out; plain text elsewhere (a script, a test)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


def find_repository(start: str | os.PathLike | None = None) -> Path:
    """The checkout holding ``workbench/``: ``start`` (default: the working directory) or a parent of it."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "workbench" / "__init__.py").is_file():
            return folder
    raise FileNotFoundError(f"no workbench checkout at or above {start}: start Jupyter inside the repository")


def repo_path(path: str | os.PathLike | None, repo: str | os.PathLike) -> Path | None:
    """A path parameter: absolute as given, else relative to the repository root, normalised
    (``main/../shared`` and ``shared`` are one folder); None stays None."""
    if path is None:
        return None
    path = Path(path).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else Path(repo) / path))


@dataclass
class NotebookRun:
    """repo: the checkout; out: figures and tables; scratch: SMOKE's throwaway folder (None otherwise)."""

    repo: Path
    out: Path
    smoke: bool
    scratch: Path | None

    def path(self, path: str | os.PathLike | None) -> Path | None:
        return repo_path(path, self.repo)

    def close(self) -> list[str]:
        """Remove SMOKE's scratch folder; returns the names of the files saved in ``out``."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        return sorted(path.name for path in self.out.iterdir())


def check_imported_from(repo: str | os.PathLike) -> None:
    """ImportError unless ``workbench`` was imported from ``repo``: Jupyter and nbmake start in
    notebooks/, where an installed copy (another checkout's) would otherwise run instead of this one."""
    import workbench

    package, expected = Path(workbench.__file__).resolve().parent, Path(repo).resolve() / "workbench"
    if package != expected:
        raise ImportError(f"workbench comes from {package}, not {expected}: put {Path(repo).resolve()} first on sys.path")


def start_notebook(output_dir: str | os.PathLike, smoke: bool, repo: str | os.PathLike | None = None) -> NotebookRun:
    """Check that this checkout's ``workbench`` runs, create the output folder (and SMOKE's scratch
    folder) of a notebook run, and say where figures go (in SMOKE: that no number means anything)."""
    repo = Path(repo) if repo is not None else find_repository()
    check_imported_from(repo)
    out = repo_path(output_dir, repo)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="workbench-notebook-")) if smoke else None
    print(f"repository: {repo}\nfigures and tables are saved in: {out}")
    hide_progress_bar_text()
    if smoke:
        show_markdown(SMOKE_BANNER)
    return NotebookRun(repo, out, smoke, scratch)


def hide_progress_bar_text() -> bool:
    """Store tqdm's notebook bars without their first frame as text.

    Why: IPython computes a displayed widget's ``text/plain`` once, when the bar appears, so an executed
    notebook keeps every bar as "0%|  | 0/40" text, whatever it reached (GitHub, nbconvert to text, a
    diff show that). Live in Jupyter the widget itself is drawn, so nothing is lost; the text is left
    empty instead. Returns whether a running IPython kernel was found to configure."""
    try:
        from IPython import get_ipython
        from tqdm.notebook import TqdmHBox
    except ImportError:  # no IPython or no ipywidgets: tqdm draws text bars, which are stored as they end
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/plain"].for_type(TqdmHBox, lambda bar, printer, cycle: printer.text(""))
    return True


@dataclass
class NotebookData:
    """table: the label table; fields: the ``TrainConfig`` fields that name the data; config: those as a config."""

    table: pd.DataFrame
    fields: dict[str, Any]
    config: TrainConfig

    @property
    def synthetic(self) -> bool:
        return bool(self.table.attrs.get("synthetic"))

    @property
    def name(self) -> str:
        """The data's name, with "(SYNTHETIC, not AVA)" when it is the benchmark."""
        return f"{self.table.attrs.get('name', self.config.data)}{' (SYNTHETIC, not AVA)' if self.synthetic else ''}"

    def split(self, split: str) -> pd.DataFrame:
        return self.table[self.table["split"] == split]


def load_notebook_data(
    run: NotebookRun, data: str = "csv", data_root: str = SYNTHETIC_ROOT, data_options: dict | None = None,
    synth_n: int = 6000, limit_images: int | None = None,
) -> NotebookData:
    """The label table a notebook works on, and a line saying what it is. The default synthetic benchmark
    is written when missing; in SMOKE mode a 48-photo copy in the scratch folder replaces it (at most 16
    photos per split)."""
    root = run.path(data_root)
    if data == "csv" and data_root == SYNTHETIC_ROOT and (run.smoke or not (root / "labels.csv").is_file()):
        root = run.scratch / "synth" if run.smoke else root
        generate_dataset(root, SMOKE_PHOTOS if run.smoke else synth_n, seed=0, workers=1 if run.smoke else None, progress=not run.smoke)
    fields = {"data": data, "data_root": str(root), **(data_options or {})}
    if run.smoke:
        fields["limit_images"] = SMOKE_LIMIT
    elif limit_images:
        fields["limit_images"] = limit_images
    config = TrainConfig(**fields)
    data = NotebookData(prepare_table(config), fields, config)
    print(f"{data.name}: {data.table.attrs.get('description', '')}")
    return data


def throwaway_smoke_checkpoint(data_config: TrainConfig, out_dir: str | os.PathLike) -> Path:
    """SMOKE only, while ``checkpoints/demo.pt`` does not exist: a compact model trained for two steps of
    one epoch on a few photos of the data. It exercises the code; its predictions are noise."""
    config = dataclasses.replace(
        data_config, backbone="compact", pretrained=False, freeze_bn=False, canvas=192, batch_size=8, epochs=1,
        head_epochs=0, max_steps_per_epoch=2, limit_images=24, num_workers=0, device="cpu", out_dir=str(out_dir),
    )  # fmt: skip
    return train(config, progress=False).checkpoint


def resolve_checkpoint(run: NotebookRun, checkpoint: str | os.PathLike, data_config: TrainConfig) -> tuple[Path, bool]:
    """``(path, throwaway)``: the checkpoint, or in SMOKE mode a throwaway one when it does not exist."""
    path = run.path(checkpoint)
    if path.is_file():
        return path, False
    if not run.smoke:
        raise FileNotFoundError(
            f"{path} does not exist. Make the demo checkpoint with `make demo-checkpoint` (synthetic benchmark + CPU "
            "training), or set CHECKPOINT to a checkpoint of yours."
        )
    return throwaway_smoke_checkpoint(data_config, run.scratch / "smoke-model"), True


def open_checkpoint(
    run: NotebookRun, checkpoint: str | os.PathLike, data_config: TrainConfig, device: str = "auto",
) -> tuple[Predictor, Path]:
    """``(predictor, path)`` of a notebook's model, after saying what it was trained on (``describe``: a
    synthetic model says so) and, in bold, when SMOKE stands a throwaway model in for a missing file."""
    path, throwaway = resolve_checkpoint(run, checkpoint, data_config)
    if throwaway:
        show_markdown(THROWAWAY_WARNING.format(checkpoint=checkpoint))
    predictor = Predictor.from_checkpoint(path, device=device)
    print(predictor.describe())
    return predictor, path


def photo_titles(photos: pd.DataFrame) -> list[str]:
    """"<id> · <theme>" per photo (the id alone without a theme)."""
    return [f"{i} · {t}" if isinstance(t, str) else str(i) for i, t in zip(photos["image_id"], photos["theme"])]


def spread_by_mean(photos: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` photos from the lowest to the highest ground-truth mean score, evenly spaced in rank."""
    order = np.argsort(distribution_mean(vote_distributions(photos)), kind="stable")
    return photos.iloc[order[np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))]]


# --------------------------------------------------------------------------------------------------
# The real AVA photos of ../shared/ava


def real_ava_photos(shared: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(labelled, unlabelled)``: the photos of ``shared/IMAGES.csv`` whose AVA id has votes in the
    partial label files there (TANet val/test, idealo test), as an AVA label table, and all the others
    (IMAGES.csv's rows with a ``path`` column). Paths are normalised, so each photo is in exactly one."""
    shared = Path(os.path.normpath(Path(shared).absolute()))
    photos = pd.read_csv(shared / "IMAGES.csv")
    photos["path"] = [os.path.normpath(shared / name) for name in photos["file"]]
    known_ids = set(photos["ava_image_id"].dropna().astype("int64").astype(str))
    sources = [read_ava_tanet_csv(shared / "tanet" / name) for name in ("test.csv", "val.csv") if (shared / "tanet" / name).is_file()]
    if (shared / "idealo" / "ava_labels_test.json").is_file():
        sources.append(read_idealo_json(shared / "idealo" / "ava_labels_test.json"))
    if not sources:
        return ava_table(pd.DataFrame(columns=["image_id"]), shared / "challenges.txt", shared / "images", test_list=[]), photos
    votes = pd.concat(sources, ignore_index=True).drop_duplicates("image_id")
    labelled = ava_table(votes[votes["image_id"].isin(known_ids)], shared / "challenges.txt", shared / "images", test_list=[])
    labelled["path"] = [os.path.normpath(path) for path in labelled["path"]]
    return labelled, photos[~photos["path"].isin(set(labelled["path"]))].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Live curves of the head stage


class HeadStageMonitor(Hook):
    """Validation after every epoch of the head stage, drawn live: the training loss falling and the
    validation SRCC(mean) rising, against the theme-prior baseline (labels only, no image).

    Validation is the trainer's own (``Trainer.validation_metrics``): the frozen backbone's features of
    the validation photos are computed once for the whole stage, so each epoch costs only the head.
    ``rows`` holds one dict per epoch (``epoch, train_loss, seconds, val_srcc_mean, val_srcc_std, val_emd1``;
    ``seconds`` since ``train`` started).
    """

    def __init__(self, baseline: dict[str, float] | None = None, display: bool = True, title: str = "", epochs: int | None = None):
        self.baseline = baseline or {}
        self.epochs = epochs  # the x range to reserve (the run's head epochs), so the live figure does not rescale
        self.display = display
        self.title = title
        self.rows: list[dict[str, float]] = []
        self.loss_label = "training loss"  # named after the trainer's config at the first epoch
        self._handle = None
        self._started = time.perf_counter()

    def before_train(self, trainer) -> None:
        self._started = time.perf_counter()

    def after_head_epoch(self, trainer, epoch: int, loss: float) -> None:
        # seconds: since train() started; the first row's is the wait for the first point (the backbone's pass
        # over every training and validation photo comes before any head epoch)
        row = {"epoch": epoch, "train_loss": loss, "seconds": time.perf_counter() - self._started}
        self.loss_label = loss_label(trainer.config.emd_r, trainer.config.std_loss_weight)
        if trainer.val_set is not None and len(trainer.val_set):
            metrics = trainer.validation_metrics()
            row.update({f"val_{key}": metrics[key] for key in ("srcc_mean", "srcc_std", "emd1")})
        self.rows.append(row)
        if self.display:
            self._draw()

    def figure(self):
        from workbench.plots import plot_head_stage

        return plot_head_stage(pd.DataFrame(self.rows), baseline=self.baseline, title=self.title, epochs=self.epochs,
                               loss_label=self.loss_label)

    def _draw(self) -> None:
        from IPython.display import Image, display

        from workbench.curves import figure_png

        image = Image(data=figure_png(self.figure()), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


def theme_prior_on_validation(table: pd.DataFrame) -> dict[str, float]:
    """The label-only theme prior's metrics on the validation split (``analysis.theme_baseline_report``
    with validation as its test split): the floor a model that sees the photo must clear."""
    train_split, val_split = table[table["split"] == "train"], table[table["split"] == "val"]
    report = theme_baseline_report(train_split, val_split, val_split)
    return report.loc["theme prior"].to_dict()


def loss_label(emd_r: float, std_weight: float) -> str:
    """The training loss named as ``losses.training_loss`` computes it, for an axis label."""
    label = f"EMD, r={emd_r:g}"
    return f"training loss ({label} + {std_weight:g} x std term)" if std_weight else f"training loss ({label})"


# --------------------------------------------------------------------------------------------------
# Tables III-V from a committed ablation results file

NOT_MEASURED = "not measured"


def ablation_provenance(results_path: str | os.PathLike) -> dict[str, Any]:
    """What made an ablation results file, from its sidecar ``<results>.json`` (written by the ablation
    runner beside the CSV, copied with it): ``command``, ``date`` (its ``finished_utc``, else ``date``),
    ``sidecar`` (the path) and every other field it holds (e.g. ``git_commit``, ``seeds``, ``variants``).

    Absent sidecar: ``command`` and ``date`` are None. A sidecar that is not a JSON object is
    an error naming the file (a wrong provenance is worse than none)."""
    sidecar = Path(results_path).with_suffix(".json")
    if not sidecar.is_file():
        return {"command": None, "date": None, "sidecar": str(sidecar)}
    recorded = read_json_object(sidecar, "'command' and 'finished_utc'")
    date = recorded.get("finished_utc") or recorded.get("date")
    return {"command": recorded.get("command"), "date": None if date is None else str(date), "sidecar": str(sidecar),
            **{key: value for key, value in recorded.items() if key not in ("command", "date")}}


def results_source(results_path: str | os.PathLike, repo: str | os.PathLike | None = None) -> str:
    """ "read from results/x.csv (`command`, date)": where a table's numbers come from when nothing is trained."""
    path = Path(results_path)
    shown = path.relative_to(repo) if repo is not None and path.is_relative_to(repo) else path
    provenance = ablation_provenance(path)
    command = f"`{provenance['command']}`" if provenance["command"] else "command not recorded"
    if not provenance["command"] and not provenance["date"]:
        return f"read from {shown} (command and date not recorded: no {shown.with_suffix('.json').name} beside it)"
    return f"read from {shown} ({command}, {provenance['date'] or 'date not recorded'})"


def format_mean_ci95(aggregated: pd.DataFrame, decimals: int | dict[str, int] | None = None) -> pd.DataFrame:
    """``analysis.aggregate_seeds`` output -> "0.3550 ± 0.0090" cells: the mean ± the half-width of its 95%
    t-interval (``ci95``), the interval the READMEs quote; the mean alone for one seed."""
    as_ci = aggregated.copy()
    for metric in aggregated.columns.get_level_values(0).unique():
        if metric != "seeds":
            as_ci[(metric, "sd")] = aggregated[(metric, "ci95")]  # format_mean_sd prints its "sd" column after the ±
    return format_mean_sd(as_ci, decimals)


def ablation_table(aggregated: pd.DataFrame, rows: dict[str, str], table: str, source: str) -> pd.DataFrame:
    """One of the paper's Tables III-V from measured variants: one row per paper row, "mean ± ci95" cells
    where ``aggregated`` (``aggregate_seeds``, indexed by variant) has the variant, else "not measured".

    rows: paper row -> variant (``ablation.PAPER_ROWS_OF_VARIANTS[table]``). Columns: the table's metrics
    (as printed), ``seeds`` (0 when not measured) and ``source``."""
    columns = list(TABLE_LAYOUTS[table])
    present = [variant for variant in rows.values() if variant in aggregated.index]
    chosen = aggregated.loc[present, [*[c for c in aggregated.columns if c[0] in columns], ("seeds", "n")]]
    cells = format_mean_ci95(chosen, decimals={"emd1": 4}) if present else None  # EMD: the variants differ in the 4th decimal
    records = []
    for paper_row, variant in rows.items():
        if variant in aggregated.index:
            record = {metric: cells.at[variant, metric] for metric in columns}
            record |= {"seeds": int(aggregated.at[variant, ("seeds", "n")]), "source": source}
        else:
            record = {metric: NOT_MEASURED for metric in columns}
            record |= {"seeds": 0, "source": f"{NOT_MEASURED}: no '{variant}' rows in the results file"}
        records.append(record)
    names = [row if row == variant else f"{row} ({variant})" for row, variant in rows.items()]
    frame = pd.DataFrame(records, index=pd.Index(names, name="Models")).astype({"seeds": "Int64"})  # stays whole beside rows without it
    return frame.rename(columns=METRIC_LABELS)
