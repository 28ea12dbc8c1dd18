"""The notebooks' AVA and Photo.net branches, run top to bottom on generated copies of those layouts.

CI runs every notebook on its defaults (the synthetic benchmark). Real AVA photos are not on our
machines, so here the published layouts (AVA.txt, challenges.txt, generic_test.jpgl, images/<id>.jpg;
Photo.net's photonet_dataset.txt) are written with made-up photos and votes, and the parameters are overridden as papermill would: a
cell inserted after the parameters cell. In SMOKE mode a missing CHECKPOINT makes each notebook train
a throwaway model on that data, so the AVA themes reach the model, the tables and the plots.
"""
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SIZES = [(480, 640), (640, 427), (500, 500), (300, 720), (720, 405)]  # (w, h): landscape, portrait, square, pano


def write_ava_layout(root: Path, n: int = 60) -> Path:
    """AVA's published files for ``n`` made-up photos in two challenges; the last sixth is the test list."""
    (root / "images").mkdir(parents=True)
    (root / "aesthetics_image_lists").mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for index in range(n):
        image_id = 5000 + index
        brightness = rng.uniform(0.2, 0.8)
        w, h = SIZES[index % len(SIZES)]
        pixels = np.clip(brightness + rng.normal(0, 0.08, (h // 4, w // 4, 3)), 0, 1)
        Image.fromarray((pixels * 255).astype(np.uint8)).resize((w, h)).save(root / "images" / f"{image_id}.jpg")
        votes = np.round(120 * np.exp(-0.5 * ((np.arange(1, 11) - (2 + 6 * brightness)) / 1.4) ** 2)).astype(int)
        lines.append(f"{index + 1} {image_id} {' '.join(map(str, votes))} 0 0 {[21, 35][index % 2]}")
    (root / "AVA.txt").write_text("\n".join(lines) + "\n")
    (root / "challenges.txt").write_text("21 Self_Portrait\n35 Macro___Close-ups\n")
    test_ids = "".join(f"{5000 + index}\n" for index in range(n - n // 6, n))
    (root / "aesthetics_image_lists" / "generic_test.jpgl").write_text(test_ids)
    return root


def write_photonet_layout(root: Path, n: int = 40) -> Path:
    """photonet_dataset.txt (CRLF, 7 bins) and images/<id>.jpg; the last two photos were never downloaded."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = []
    for index in range(n):
        image_id = 7000 + index
        brightness = rng.uniform(0.2, 0.8)
        votes = np.round(40 * np.exp(-0.5 * ((np.arange(1, 8) - (1.5 + 5 * brightness)) / 1.2) ** 2)).astype(int)
        mean = float((votes * np.arange(1, 8)).sum() / max(votes.sum(), 1))
        rows.append(f"{index + 1} {image_id} {votes.sum()} {mean:.2f} 1.0 " + " ".join(map(str, votes)))
        if index < n - 2:
            w, h = SIZES[index % len(SIZES)]
            Image.new("RGB", (w, h), tuple(int(255 * brightness) for _ in range(3))).save(root / "images" / f"{image_id}.jpg")
    (root / "photonet_dataset.txt").write_text("\r\n".join(rows) + "\r\n")
    return root


@pytest.fixture(scope="module")
def photonet_root(tmp_path_factory) -> Path:
    return write_photonet_layout(tmp_path_factory.mktemp("photonet") / "photonet")


@pytest.fixture(scope="module")
def ava_root(tmp_path_factory) -> Path:
    return write_ava_layout(tmp_path_factory.mktemp("ava") / "AVA_dataset")


def parameters(data: str, root: Path, tmp_path: Path, out: Path) -> str:
    """The injected cell: the dataset, a checkpoint that does not exist (SMOKE then trains a throwaway
    model on this data, so its themes and bins reach every cell) and a scratch output folder."""
    return "\n".join([
        f'DATA = "{data}"',
        f'DATA_ROOT = r"{root}"',
        "DATA_OPTIONS = {}",
        f'CHECKPOINT = r"{tmp_path / "no-such-checkpoint.pt"}"',
        f'OUTPUT_DIR = r"{out}"',
    ])  # fmt: skip


def run_notebook(name: str, overrides: str, tmp_path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    index = next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides, metadata={"tags": ["injected-parameters"]}))
    env = {**os.environ, "WORKBENCH_SMOKE": "1", "OMP_NUM_THREADS": "1"}
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def outputs_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else "")
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_quickstart", "03_tables", "05_failure_cases"])
def test_notebook_runs_on_ava_layout(name, ava_root, tmp_path):
    out = tmp_path / "out"
    notebook = run_notebook(name, parameters("ava", ava_root, tmp_path, out), tmp_path)
    text = outputs_text(notebook)
    assert "THROWAWAY SMOKE MODEL" in text  # the stand-in was trained on the AVA data, as intended
    assert "Self Portrait" in text or "Macro" in text or name == "03_tables"  # AVA's theme names reach the output
    assert any(out.iterdir()), "the notebook saved no figure or table"
    if name == "03_tables":
        tables = {path.name for path in out.iterdir()}
        assert {"table_I.csv", "table_II.csv", "table_III.csv"} <= tables
        assert "ava" in (out / "table_I.csv").read_text().lower()  # the measured rows name the AVA data


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_quickstart", "03_tables"])
def test_notebook_runs_on_photonet_layout(name, photonet_root, tmp_path):
    out = tmp_path / "out"
    notebook = run_notebook(name, parameters("photonet", photonet_root, tmp_path, out), tmp_path)
    assert "THROWAWAY SMOKE MODEL" in outputs_text(notebook)
    if name == "03_tables":
        table_vi = (out / "table_VI.csv").read_text()
        assert "this run" in table_vi and "Photo.net" in table_vi  # a measured row beside the paper's


@pytest.mark.slow
def test_tables_read_from_the_results_file_say_so_and_name_what_was_not_measured(tmp_path):
    """03 by default: Tables III-V are read from results/ablation_synthetic.csv, labelled as read from it (never
    "this run"), with every paper row of Tables IV and V present, measured or "not measured"."""
    import pandas as pd

    out = tmp_path / "out"
    run_notebook("03_tables", f'OUTPUT_DIR = r"{out}"', tmp_path)
    for name in ("III", "IV", "V"):
        table = pd.read_csv(out / f"table_{name}.csv")
        measured = table[table["from"] != "paper"]
        assert set(measured["from"]) == {"results file"}
        assert len(measured) == (table["from"] == "paper").sum()  # one row per paper row
        read = measured[measured["seeds"] > 0]
        assert len(read) and read["source"].str.startswith("read from results/ablation_synthetic.csv").all()
        assert not measured["source"].str.contains("this run").any()
        assert (measured.loc[measured["seeds"] == 0, "SRCC (mean)"] == "not measured").all()
        assert read["SRCC (mean)"].str.contains(" ± ").all()


@pytest.mark.slow
def test_tables_without_a_results_file_train_a_smoke_ablation_and_say_so(tmp_path):
    """03 in SMOKE mode with no results file trains a throwaway ablation (this exercises its fallback, which
    once lacked an import) and labels it as trained in this run."""
    import pandas as pd

    out = tmp_path / "out"
    notebook = run_notebook("03_tables", f'ABLATION_RESULTS = r"{tmp_path / "no-results.csv"}"\nOUTPUT_DIR = r"{out}"', tmp_path)
    assert "SMOKE: a throwaway ablation" in outputs_text(notebook)
    table = pd.read_csv(out / "table_III.csv")
    measured = table[table["from"] == "this run"]
    assert len(measured) == 5 and measured.loc[measured["seeds"] > 0, "source"].str.startswith("trained in this run").all()
