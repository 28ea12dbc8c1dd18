"""The ablation runner: one config, variants that change only what the paper varies, across seeds."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench.train
from workbench.ablation import PAPER_ROWS_OF_VARIANTS, VARIANTS, add_prediction_spread, prediction_spread, run_ablation, summarize, variant_config
from workbench.checkpoints import load_checkpoint
from workbench.config import TrainConfig

# What makes the ablation's recipe (the committed results must come from the committed config).
RECIPE_FIELDS = ("backbone", "canvas", "roi_size", "augment", "spatial_grid", "head", "head_targets", "own_theme_weight",
                 "head_epochs", "head_lr", "head_optimizer", "std_loss_weight", "limit_images", "epochs")


def test_variants_change_only_what_the_paper_varies(tmp_path, tiny_config):
    base = tiny_config(tmp_path, tmp_path / "out")
    for name in VARIANTS:
        config = variant_config(base, name, seed=3, out_dir=tmp_path / "ablation")
        changed = {f.name for f in dataclasses.fields(base) if getattr(config, f.name) != getattr(base, f.name)}
        assert changed <= {"transform", "use_theme", "roi_size", "canvas", "augment", "seed", "out_dir", "head_targets", "no_theme", "own_theme_weight", "feature_cache"}, name
        assert config.seed == 3 and Path(config.out_dir).parent.parent == tmp_path / "ablation"
    assert variant_config(base, "Resize", 0, tmp_path).transform == "resize"
    assert variant_config(base, "Canvas 400, ROI 73", 0, tmp_path).canvas == 400
    with pytest.raises(ValueError, match="unknown ablation variant"):
        variant_config(base, "Bigger Model", 0, tmp_path)


def test_variants_without_a_theme_fit_their_own_votes(tmp_path, tiny_config):
    base = tiny_config(tmp_path, tmp_path / "out", head_epochs=1, head_targets="every_theme", no_theme="posterior", own_theme_weight=15)
    for name, changes in VARIANTS.items():
        config = variant_config(base, name, seed=0, out_dir=tmp_path / "ablation")
        if changes["use_theme"]:
            assert (config.head_targets, config.no_theme) == (changes.get("head_targets", "every_theme"), "posterior"), name
        else:  # no theme to condition on: the photos' own votes, the learned no-theme input
            assert (config.head_targets, config.no_theme) == ("votes", "learned"), name
        # the own-theme weight weighs every-theme pairs; a variant fitting its votes (one pair a photo) drops it
        assert config.own_theme_weight == (15 if config.head_targets == "every_theme" else 1), name
    assert variant_config(base, "Pad+ROI+Theme (own votes)", 0, tmp_path).head_targets == "votes"
    assert len({variant_config(base, name, 0, tmp_path).out_dir for name in VARIANTS}) == len(VARIANTS)
    assert Path(variant_config(base, "Flip + crop", 0, tmp_path).out_dir).parent.name == "flip_crop"


@pytest.mark.slow
def test_run_ablation_writes_results_per_variant_and_seed_and_resumes(tmp_path, tiny_config, write_tiny_folder, monkeypatch, capsys):
    root = write_tiny_folder(tmp_path / "data", n_train=8, n_val=4, n_test=4)
    base = tiny_config(root, tmp_path / "unused", epochs=1, max_steps_per_epoch=2)
    out = tmp_path / "ablation"
    results = run_ablation(base, out, seeds=(0, 1), variants=["Pad+ROI", "Pad+ROI+Theme"], tta=False, progress=False)
    assert list(zip(results["variant"], results["seed"])) == [("Pad+ROI", 0), ("Pad+ROI", 1), ("Pad+ROI+Theme", 0), ("Pad+ROI+Theme", 1)]
    assert pd.read_csv(out / "results.csv").shape[0] == 4
    with_theme = load_checkpoint(results["checkpoint"].iloc[2])
    assert with_theme["config"]["use_theme"] is True and with_theme["config"]["seed"] == 0
    provenance = json.loads((out / "results.json").read_text())  # what notebook 03 names as the table's source
    assert provenance["command"] is None and provenance["finished_utc"] and provenance["started_utc"]
    assert provenance["seeds"] == [0, 1] and provenance["variants"] == ["Pad+ROI", "Pad+ROI+Theme"] and provenance["tta"] is False
    assert provenance["config"]["backbone"] == "compact" and "git_commit" in provenance
    assert provenance["earlier_git_commits"] == []  # a fresh run
    # A second call finds every pair done and trains nothing.
    before = (out / "results.csv").stat().st_mtime_ns
    again = run_ablation(base, out, seeds=(0, 1), variants=["Pad+ROI", "Pad+ROI+Theme"], tta=False, progress=False)
    assert len(again) == 4 and (out / "results.csv").stat().st_mtime_ns == before
    # the resumed run keeps naming the commit that wrote the earlier rows
    first_commit = provenance["git_commit"]
    assert json.loads((out / "results.json").read_text())["earlier_git_commits"] == ([first_commit] if first_commit else [])
    # Without results.csv the run folders are continued (nothing retrains); a folder other code wrote is named.
    (out / "results.csv").unlink()
    monkeypatch.setattr(workbench.train, "code_version", lambda: "0.0+other")
    rerun = run_ablation(base, out, seeds=(0,), variants=["Pad+ROI"], tta=False, progress=False)
    assert rerun["emd1"].iloc[0] == pytest.approx(results["emd1"].iloc[0])
    assert "pad_roi/seed0 continues a run written by workbench" in capsys.readouterr().err
    table = summarize(again)
    assert list(table.index) == ["Pad+ROI", "Pad+ROI+Theme"]
    assert table[("seeds", "n")].tolist() == [2, 2]
    assert table[("emd1", "mean")].between(0, 1).all()
    assert (table[("pred_mean_sd", "mean")] >= 0).all()
    # Rows written before the spread was recorded get it from their checkpoints, identically.
    filled = add_prediction_spread(again.drop(columns=["pred_mean_sd", "target_mean_sd"]), device="cpu", progress=False)
    assert filled["pred_mean_sd"].to_numpy() == pytest.approx(again["pred_mean_sd"].to_numpy(), rel=1e-5, abs=1e-7)
    assert filled["target_mean_sd"].to_numpy() == pytest.approx(again["target_mean_sd"].to_numpy())


def test_prediction_spread_tells_a_collapsed_model_from_one_that_ranks():
    target = np.array([[0.0, 0.2, 0.8], [0.7, 0.3, 0.0], [0.3, 0.4, 0.3]])
    collapsed = np.tile(target.mean(axis=0), (3, 1))
    assert prediction_spread(collapsed, target)["pred_mean_sd"] == pytest.approx(0.0, abs=1e-12)
    spread = prediction_spread(target, target)
    assert spread["pred_mean_sd"] == pytest.approx(spread["target_mean_sd"]) and spread["target_mean_sd"] > 0.4
    rows = pd.DataFrame({"variant": ["A", "A"], "seed": [0, 1], "srcc_mean": [0.1, 0.3], "srcc_std": [0.5, 0.5],
                         "emd1": [0.07, 0.08], "kl": [0.2, 0.2]})
    assert "pred_mean_sd" not in summarize(rows).columns.get_level_values(0)  # older results lack it


def test_the_committed_results_cover_tables_iii_to_v_with_three_seeds_and_are_what_03_reads():
    """results/ablation_synthetic.csv: the measured run the README reports and 03_tables shows by default,
    every variant of Tables III-V with three seeds, with the sidecar that names the command and the recipe."""
    from test_notebooks_meta import parameters

    path = Path(__file__).resolve().parents[1] / "results" / "ablation_synthetic.csv"
    results = pd.read_csv(path)
    paper_variants = {variant for rows in PAPER_ROWS_OF_VARIANTS.values() for variant in rows.values()}
    assert paper_variants <= set(results["variant"]) <= set(VARIANTS)
    assert all(sorted(results.loc[results["variant"] == v, "seed"]) == [0, 1, 2] for v in results["variant"].unique())
    assert (results["backbone"] == "efficientnet_lite0").all() and results["data"].str.contains("SYNTHETIC").all()
    table = summarize(results)
    assert ("srcc_mean", "ci95") in table.columns and (table[("seeds", "n")] == 3).all()
    provenance = json.loads(path.with_suffix(".json").read_text())
    assert provenance["command"].startswith("python -m workbench ablation") and provenance["finished_utc"]
    assert provenance["seeds"] == [0, 1, 2] and set(provenance["variants"]) == set(results["variant"])
    assert provenance["config"]["backbone"] == "efficientnet_lite0" and provenance["config"]["head"] == "film"
    # made with the recipe that configs/ablation_synthetic.yaml commits today (the README quotes both)
    recipe = TrainConfig.from_yaml(path.parents[1] / "configs" / "ablation_synthetic.yaml")
    assert {key: provenance["config"][key] for key in RECIPE_FIELDS} == {key: getattr(recipe, key) for key in RECIPE_FIELDS}
    assert parameters("03_tables")["ABLATION_RESULTS"] == "results/ablation_synthetic.csv"
    # Each view its own numbers: Random Crop once trained and was tested on the whole photo shrunk to 299,
    # which made its rows Resized Pad's to the last digit.
    metrics = ["srcc_mean", "emd1", "pred_mean_sd"]
    by_variant = {variant: rows.sort_values("seed")[metrics].to_numpy() for variant, rows in results.groupby("variant")}
    assert not np.allclose(by_variant["Random Crop"], by_variant["Resized Pad"])
    # Table V's row with the recipe's own augmentation is the recipe again: the same numbers, seed by seed.
    same_as_recipe = "Flip only" if recipe.augment == "flip" else "Flip + crop"
    assert np.allclose(by_variant[same_as_recipe], by_variant["Pad+ROI+Theme"])
    # The README's Table III claim: Pad+ROI ahead of every transform, on average by more than twice the larger seed
    # standard deviation of the pair, and in every seed.
    srcc = results.pivot(index="seed", columns="variant", values="srcc_mean")
    for transform in ("Resize", "Resized Pad", "Random Crop"):
        lead = srcc["Pad+ROI"] - srcc[transform]
        assert (lead > 0).all() and lead.mean() > 2 * max(srcc["Pad+ROI"].std(), srcc[transform].std()), transform
