"""workbench.notebook: the notebooks' shared steps (paths, data, real AVA photos, the live head stage)."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from workbench.analysis import vote_distributions
from workbench.config import TrainConfig
from workbench.data.synth import generate_dataset
from workbench.metrics import distribution_mean
from workbench.notebook import (
    SMOKE_BANNER,
    THROWAWAY_WARNING,
    HeadStageMonitor,
    find_repository,
    open_checkpoint,
    real_ava_photos,
    repo_path,
    spread_by_mean,
    start_notebook,
    theme_prior_on_validation,
)
from workbench.train import train

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (a worktree one level deeper: ../../shared), spelt with "..", as the notebooks do
SHARED_AVA = next((p for p in (ROOT / ".." / "shared" / "ava", ROOT / ".." / ".." / "shared" / "ava") if p.is_dir()), ROOT / ".." / "shared" / "ava")


def test_repo_path_normalises_so_one_folder_has_one_name(tmp_path):
    repo = tmp_path / "main"
    assert repo_path("../shared/ava", repo) == tmp_path / "shared" / "ava"
    assert repo_path("../shared/ava", repo) == repo_path(tmp_path / "main" / ".." / "shared" / "ava", repo)
    assert repo_path("/abs/x", repo) == Path("/abs/x") and repo_path(None, repo) is None


def test_find_repository_walks_up_from_notebooks():
    root = Path(__file__).resolve().parents[1]
    assert find_repository(root / "notebooks") == root
    with pytest.raises(FileNotFoundError, match="no workbench checkout"):
        find_repository("/")


def test_start_notebook_makes_the_output_and_removes_smoke_scratch(tmp_path, capsys):
    run = start_notebook(tmp_path / "artifacts" / "x", smoke=True, repo=ROOT)
    assert run.out == tmp_path / "artifacts" / "x" and run.out.is_dir() and run.scratch.is_dir()
    said = capsys.readouterr().out
    assert str(run.out) in said and SMOKE_BANNER in said  # where figures go; that SMOKE's numbers mean nothing
    (run.out / "fig.png").write_bytes(b"png")
    scratch = run.scratch
    assert run.close() == ["fig.png"] and not scratch.exists()


def test_start_notebook_refuses_a_workbench_imported_from_another_checkout(tmp_path):
    """A notebook started in another checkout whose workbench is not the one imported stops at once."""
    (tmp_path / "workbench").mkdir()
    (tmp_path / "workbench" / "__init__.py").write_text("")
    with pytest.raises(ImportError, match=f"not {tmp_path / 'workbench'}"):
        start_notebook("artifacts/notebooks/x", smoke=False, repo=tmp_path)
    assert not (tmp_path / "artifacts").exists()


def test_open_checkpoint_says_what_the_model_is(tmp_path, capsys, make_tiny_checkpoint):
    path = make_tiny_checkpoint(tmp_path / "tiny.pt", synthetic=True)
    run = start_notebook(tmp_path / "out", smoke=False, repo=ROOT)
    predictor, opened = open_checkpoint(run, path, TrainConfig())
    said = capsys.readouterr().out
    assert opened == path and predictor.card["checkpoint"] == str(path)
    assert "SYNTHETIC" in said and "THROWAWAY" not in said


def test_open_checkpoint_stands_in_a_throwaway_model_in_smoke_only_and_says_so(tiny_benchmark, tmp_path, capsys):
    run = start_notebook(tmp_path / "out", smoke=True, repo=ROOT)
    data_config = TrainConfig(data_root=str(tiny_benchmark), limit_images=8)
    try:
        predictor, opened = open_checkpoint(run, "checkpoints/missing.pt", data_config, device="cpu")
        said = capsys.readouterr().out
        assert THROWAWAY_WARNING.format(checkpoint="checkpoints/missing.pt") in said
        assert opened.is_relative_to(run.scratch) and predictor.card["model"]["backbone"] == "compact"
    finally:
        run.close()
    with pytest.raises(FileNotFoundError, match="make demo-checkpoint"):
        open_checkpoint(start_notebook(tmp_path / "out", smoke=False, repo=ROOT), "checkpoints/missing.pt", data_config)


def _shared_layout(root: Path) -> Path:
    """IMAGES.csv with three photos, votes for the first in a TANet csv, its challenge."""
    (root / "images").mkdir(parents=True)
    (root / "tanet").mkdir()
    for image_id in (1001, 1002, 1003):
        Image.new("RGB", (40, 30)).save(root / "images" / f"{image_id}.jpg")
    pd.DataFrame({"file": [f"images/{i}.jpg" for i in (1001, 1002, 1003)], "ava_image_id": [1001, 1002, None],
                  "width": [40, 40, 40], "height": [30, 30, 30]}).to_csv(root / "IMAGES.csv", index=False)
    header = "image_id," + ",".join(f"score{k}" for k in range(2, 12)) + ",tag1,tag2,tag3\n"
    (root / "tanet" / "test.csv").write_text(header + "1001,1,2,3,4,5,6,5,4,3,2,12,0,21\n5555,1,1,1,1,1,1,1,1,1,1,0,0,21\n")
    (root / "challenges.txt").write_text("21 Self_Portrait\n")
    return root


def test_real_ava_photos_puts_each_photo_in_one_group_whatever_the_path_spelling(tmp_path):
    shared = _shared_layout(tmp_path / "shared")
    (tmp_path / "main").mkdir()
    labelled, unlabelled = real_ava_photos(tmp_path / "main" / ".." / "shared")  # the notebooks' "../shared" from the repository
    assert labelled["image_id"].tolist() == ["1001"]
    assert sorted(Path(p).stem for p in unlabelled["path"]) == ["1002", "1003"]
    assert set(labelled["path"]).isdisjoint(unlabelled["path"])
    assert all(".." not in p for p in [*labelled["path"], *unlabelled["path"]])
    assert labelled["theme"].tolist() == ["Self Portrait"] or labelled["theme"].tolist() == ["Self_Portrait"]
    assert Path(labelled["path"].iloc[0]) == shared / "images" / "1001.jpg"


@pytest.mark.skipif(not (SHARED_AVA / "IMAGES.csv").is_file(), reason="../shared/ava is not here")
def test_real_ava_photos_on_the_shared_files_never_show_a_labelled_photo_twice():
    labelled, unlabelled = real_ava_photos(SHARED_AVA)  # SHARED_AVA is spelt with "..", as in the notebooks
    assert len(labelled) + len(unlabelled) == len(pd.read_csv(SHARED_AVA / "IMAGES.csv"))
    shown_without_truth = {Path(p).stem for p in unlabelled["path"]}
    assert {"42039", "42040"} & set(labelled["image_id"]) and not {"42039", "42040"} & shown_without_truth


def test_spread_by_mean_goes_from_the_lowest_to_the_highest_mean():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.integers(0, 50, (30, 10)), columns=[f"v{k}" for k in range(1, 11)])
    chosen = spread_by_mean(table, 5)
    means = distribution_mean(vote_distributions(chosen))
    all_means = distribution_mean(vote_distributions(table))
    assert len(chosen) == 5 and np.all(np.diff(means) >= 0)
    assert means[0] == all_means.min() and means[-1] == all_means.max()


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("synth") / "synth", 40, seed=0, workers=1, progress=False)


def test_head_stage_monitor_sees_every_head_epoch_with_validation(tiny_benchmark, tmp_path):
    """The Trainer calls Hook.after_head_epoch once per head epoch (fit_head's on_epoch); the monitor
    validates the head on cached features each time and records the falling loss."""
    config = TrainConfig(data_root=str(tiny_benchmark), backbone="compact", pretrained=False, freeze_bn=False, canvas=128,
                         batch_size=4, head_epochs=4, head_views=1, head_lr=0.05, epochs=0, num_workers=0, device="cpu",
                         out_dir=str(tmp_path / "run"))
    monitor = HeadStageMonitor({"srcc_mean": 0.1}, display=False, epochs=4)
    result = train(config, progress=False, hooks=[monitor])
    assert [row["epoch"] for row in monitor.rows] == [1, 2, 3, 4]
    assert all(np.isfinite(row["val_srcc_mean"]) and row["val_emd1"] > 0 for row in monitor.rows)
    assert monitor.rows[-1]["train_loss"] < monitor.rows[0]["train_loss"]
    seconds = [row["seconds"] for row in monitor.rows]  # since train() started: the first is the wait for the first point
    assert seconds[0] > 0 and seconds == sorted(seconds)
    assert result.history["stage"].tolist() == ["head"] and result.checkpoint.is_file()
    figure = monitor.figure()
    srcc_axis = figure.axes[1]
    assert any("theme prior" in line.get_label() for line in srcc_axis.get_lines())
    assert len(srcc_axis.get_lines()[0].get_xdata()) == 4


def test_theme_prior_on_validation_is_the_report_on_the_validation_split(tiny_benchmark):
    from workbench.data.csv_folder import read_csv_folder

    table = read_csv_folder(tiny_benchmark)
    prior = theme_prior_on_validation(table)
    assert {"srcc_mean", "srcc_std", "emd1"} <= set(prior) and 0 < prior["emd1"] < 1


def test_the_head_stage_runs_the_backbone_over_the_validation_photos_once(tiny_benchmark, tmp_path, monkeypatch):
    """The monitor validates after every head epoch and the trainer after the stage; the frozen backbone's
    validation features are computed once and shared, so the backbone sees each training view and each
    validation photo exactly once, and the monitor's last row is the trainer's validation of the stage."""
    from workbench.model.build import AestheticModel
    from workbench.trainer import Hook

    seen = []
    features = AestheticModel.features
    monkeypatch.setattr(AestheticModel, "features", lambda model, images, sizes: seen.append(len(images)) or features(model, images, sizes))

    class Sizes(Hook):
        def before_train(self, trainer):
            self.train, self.val = len(trainer.train_set), len(trainer.val_set)

    config = TrainConfig(data_root=str(tiny_benchmark), backbone="compact", pretrained=False, freeze_bn=False, canvas=128,
                         batch_size=4, head_epochs=3, head_views=2, head_lr=0.05, epochs=0, num_workers=0, device="cpu",
                         out_dir=str(tmp_path / "run"))
    monitor, sizes = HeadStageMonitor(display=False), Sizes()
    result = train(config, progress=False, hooks=[monitor, sizes])
    assert sizes.val > 0 and len(monitor.rows) == 3
    assert sum(seen) == 2 * sizes.train + sizes.val  # two cached views per training photo, one pass over validation
    head_row = result.history.iloc[0]
    assert monitor.rows[-1]["val_srcc_mean"] == pytest.approx(head_row["val_srcc_mean"])
    assert monitor.rows[-1]["val_emd1"] == pytest.approx(head_row["val_emd1"])


# --------------------------------------------------------------------------------------------------
# What an executed notebook keeps, and where its numbers come from


def test_an_executed_notebook_keeps_no_progress_bar_as_its_first_frame(tmp_path):
    """IPython stores a tqdm widget's text/plain when the bar appears ("0%|  | 0/5"); after
    start_notebook's hide_progress_bar_text an executed file keeps no such stale text."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom workbench.notebook import hide_progress_bar_text\n"
                                  "assert hide_progress_bar_text()"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(5), desc='bar', leave=False):\n    pass\n"
                                  "for _ in tqdm(range(3), desc='kept'):\n    pass\nprint('ran')"),
    ]  # fmt: skip
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = book.cells[1].outputs
    texts = [output.get("data", {}).get("text/plain", "") for output in outputs if output.output_type == "display_data"]
    assert len(texts) == 2, outputs  # both bars were displayed as widgets...
    assert all("%" not in text for text in texts), texts  # ...and neither is stored as "0%" text
    assert any(output.get("text") == "ran\n" for output in outputs)


def test_hide_progress_bar_text_outside_ipython_does_nothing():
    from workbench.notebook import hide_progress_bar_text

    assert hide_progress_bar_text() is False


def test_live_plot_waits_for_a_second_history_row(monkeypatch):
    """The trainer's live history figure: one row (a head stage alone) draws nothing, so 02 shows no
    one-point figure after its own live curves; two rows draw it."""
    import IPython.display

    from workbench.hooks import LivePlotHook

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **kwargs: shown.append(objects))

    class Trainer:
        history = [{"epoch": 0, "stage": "head", "train_loss": 0.2, "val_emd1": 0.07}]

    hook = LivePlotHook()
    hook.after_epoch(Trainer)
    assert shown == []
    Trainer.history = [*Trainer.history, {"epoch": 1, "stage": "end_to_end", "train_loss": 0.19, "val_emd1": 0.068}]
    hook.after_epoch(Trainer)
    assert len(shown) == 1


def _ablation_rows(variants, seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"variant": variant, "seed": seed, "srcc_mean": rng.uniform(0.2, 0.4), "srcc_std": rng.uniform(0.2, 0.8),
                          "emd1": rng.uniform(0.06, 0.07), "kl": rng.uniform(0.16, 0.18)} for variant in variants for seed in seeds])


def test_ablation_table_says_which_variants_were_not_measured():
    from workbench.ablation import PAPER_ROWS_OF_VARIANTS
    from workbench.analysis import aggregate_seeds
    from workbench.notebook import NOT_MEASURED, ablation_table

    rows = _ablation_rows(PAPER_ROWS_OF_VARIANTS["III"].values())
    aggregated = aggregate_seeds(rows.rename(columns={"variant": "model"}), ["srcc_mean", "srcc_std", "emd1", "kl"])
    table_iv = ablation_table(aggregated, PAPER_ROWS_OF_VARIANTS["IV"], "IV", source="read from results/x.csv")
    assert list(table_iv.index) == ["Image 400, Feature 73 (Canvas 400, ROI 73)", "Image 800, Feature 73 (Canvas 800, ROI 73)",
                                    "Image 800, Feature 146 (Pad+ROI+Theme)"]  # fmt: skip
    assert (table_iv.iloc[:2]["SRCC (mean)"] == NOT_MEASURED).all() and (table_iv.iloc[:2]["seeds"] == 0).all()
    assert table_iv.iloc[:2]["source"].str.startswith(NOT_MEASURED).all()
    measured = table_iv.iloc[2]
    mean, ci95 = aggregated.at["Pad+ROI+Theme", ("srcc_mean", "mean")], aggregated.at["Pad+ROI+Theme", ("srcc_mean", "ci95")]
    assert measured["SRCC (mean)"] == f"{mean:.4f} ± {ci95:.4f}"  # the 95% interval, not the sd
    assert ci95 != pytest.approx(aggregated.at["Pad+ROI+Theme", ("srcc_mean", "sd")])
    assert measured["seeds"] == 3 and measured["source"] == "read from results/x.csv"


def test_results_source_names_the_file_command_and_date_from_the_sidecar(tmp_path):
    import json

    from workbench.notebook import ablation_provenance, results_source

    results = tmp_path / "results" / "ablation.csv"
    results.parent.mkdir()
    _ablation_rows(["Resize"]).to_csv(results, index=False)
    said = results_source(results, tmp_path)
    assert said.startswith("read from results/ablation.csv") and "not recorded" in said and "ablation.json" in said
    command = "python -m workbench ablation --config configs/ablation_synthetic.yaml --out runs/ablation --seeds 0 1 2"
    results.with_suffix(".json").write_text(json.dumps({"command": command, "finished_utc": "2026-12-04T21:40:00Z", "seeds": [0, 1, 2]}))
    assert results_source(results, tmp_path) == f"read from results/ablation.csv (`{command}`, 2026-12-04T21:40:00Z)"
    assert ablation_provenance(results)["seeds"] == [0, 1, 2]
    results.with_suffix(".json").write_text("{not json")
    with pytest.raises(ValueError, match="ablation.json, line 1: not valid JSON"):
        results_source(results, tmp_path)
