"""The view probe: does a view still carry what the scores depend on? (issue 4's "find out why")."""
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from workbench.data.synth import generate_dataset
from workbench.view_probe import (
    VIEW_STATISTICS,
    detail_retention,
    main,
    probe_design,
    ridge_predict,
    view_probe,
    view_statistics,
)

ENERGY_1PX = VIEW_STATISTICS.index("log_energy_1px")


def grain_photo(amount: float, size=(640, 420), seed=0) -> Image.Image:
    """Mid-grey photo with 1-px checkerboard grain of ``amount`` (0..1): detail that a resize averages away."""
    h, w = size[1], size[0]
    checker = np.indices((h, w)).sum(axis=0) % 2 * 2 - 1
    noise = np.random.default_rng(seed).normal(0, 2, (h, w))
    grey = np.clip(128 + amount * 40 * checker + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=2))


def planted_table(folder, n=40, seed=0) -> pd.DataFrame:
    """Photos whose vote mean rises with their grain, two themes; nothing else distinguishes them."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(n):
        amount = rng.uniform(0, 1)
        path = folder / f"{index}.png"
        grain_photo(amount, seed=index).save(path)
        centre = 3 + 4 * amount
        votes = np.exp(-0.5 * ((np.arange(1, 11) - centre) / 1.2) ** 2) * 200
        rows.append({"path": str(path), "theme_id": index % 2, "split": "train" if index < n * 3 // 4 else "test",
                     **{f"v{k}": float(votes[k - 1]) for k in range(1, 11)}})
    table = pd.DataFrame(rows)
    table.attrs.update(num_bins=10, theme_names=["a", "b"])
    return table


def test_view_statistics_measure_colour_aspect_and_fine_detail():
    red = view_statistics(Image.new("RGB", (60, 30), (255, 0, 0)))
    assert red.shape == (len(VIEW_STATISTICS),)
    assert red[:3] == pytest.approx([1.0, 0.0, 0.0])
    assert red[VIEW_STATISTICS.index("log_aspect")] == pytest.approx(np.log(2.0))
    assert red[VIEW_STATISTICS.index("saturation")] == pytest.approx(1.0)
    grainy, smooth = view_statistics(grain_photo(1.0)), view_statistics(grain_photo(0.0))
    assert grainy[ENERGY_1PX] > smooth[ENERGY_1PX] + 3  # e^3 = 20x the energy
    assert np.isfinite(view_statistics(Image.new("RGB", (1, 1))).all())  # degenerate views do not crash


def test_probe_design_gives_each_theme_its_own_weights():
    features = np.arange(6, dtype=float).reshape(3, 2)
    assert probe_design(features, None, 2).shape == (3, 3)
    design = probe_design(features, np.array([0, 1, -1]), 2)
    assert design.shape == (3, 3 + 3 * 2)
    per_theme = design[:, 3:].reshape(3, 3, 2)  # [photo, column, theme]
    assert (per_theme[0, :, 1] == 0).all() and (per_theme[0, :, 0] == [1, 0, 1]).all()
    assert (per_theme[2] == 0).all()  # no theme: only the shared columns
    with pytest.raises(ValueError, match="theme_ids"):
        probe_design(features, np.array([0, 5, 1]), 2)


def test_ridge_predict_recovers_a_linear_rule():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = 2 * x[:, 0] - x[:, 2] + 5
    test_x = rng.normal(size=(50, 4))
    predicted = ridge_predict(x, y, test_x, alpha=1e-6)
    assert predicted == pytest.approx(2 * test_x[:, 0] - test_x[:, 2] + 5, abs=1e-4)
    with pytest.raises(ValueError, match="alpha"):
        ridge_predict(x, y, test_x, alpha=-1)


def test_probe_sees_that_resizing_loses_the_grain_the_scores_depend_on(tmp_path):
    table = planted_table(tmp_path)
    result = view_probe(table[table.split == "train"], table[table.split == "test"],
                        transforms=("full", "resize"), progress=False)
    assert set(zip(result["view"], result["theme"])) == {("full", False), ("full", True), ("resize", False), ("resize", True)}
    full = result[(result.view == "full") & ~result.theme].iloc[0]
    resized = result[(result.view == "resize") & ~result.theme].iloc[0]
    assert full.srcc_mean > 0.9
    assert resized.srcc_mean < full.srcc_mean - 0.3  # 640 px grain averaged away at 340 -> 299


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("probe") / "data", 40, seed=0, workers=1, progress=False)


def test_detail_retention_on_the_benchmark_full_view_keeps_the_grain(synthetic_root):
    from workbench.data.csv_folder import read_csv_folder

    table = read_csv_folder(synthetic_root)
    retention = detail_retention(table, ("full", "resize"), progress=False).set_index("view")
    assert retention.loc["full", "gt_grain"] > 0.5
    assert retention.loc["full", "gt_grain"] > retention.loc["resize", "gt_grain"] + 0.3
    with pytest.raises(ValueError, match="attribute columns"):
        detail_retention(table.drop(columns=["gt_grain"]), ("full",), progress=False)


def test_probe_command_prints_the_table_and_refuses_tiny_splits(synthetic_root, tmp_path, capsys):
    out = tmp_path / "probe.csv"
    assert main(["--data-root", str(synthetic_root), "--train", "20", "--transforms", "full", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "srcc_mean" in printed and "gt_grain" in printed
    assert pd.read_csv(out)["view"].tolist() == ["full", "full"]
    assert main(["--data-root", str(synthetic_root), "--train", "1", "--transforms", "full"]) == 2
