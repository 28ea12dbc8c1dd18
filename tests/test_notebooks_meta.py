"""The notebooks' contract (STYLE.md): a first cell tagged ``parameters`` with the ``SMOKE`` switch,
outputs stripped, kernel python3, outputs under git-ignored folders, and the files on disk exactly
what ``notebooks/build_notebooks.py`` writes. (Running them is nbmake's job: ``--nbmake notebooks``.)"""
import ast
import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_quickstart", "02_train", "03_tables", "04_aspect_ratio", "05_failure_cases", "06_theme_bias")
SMOKE_SWITCH = 'SMOKE = os.environ.get("WORKBENCH_SMOKE") == "1"'
IGNORED_ROOTS = ("artifacts/", "runs/", "data/")  # .gitignore: /artifacts/, /runs/, /data/


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)


def parameters(name: str) -> dict[str, object]:
    """The parameters cell's assignments, name -> literal value."""
    tree = ast.parse(read(name).cells[0].source)
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                values[node.targets[0].id] = ast.unparse(node.value)
    return values


def test_the_six_notebooks_and_nothing_else():
    assert sorted(path.stem for path in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_first_cell_is_the_parameters_cell_with_smoke(name):
    book = read(name)
    nbformat.validate(book)
    first = book.cells[0]
    assert first.cell_type == "code" and "parameters" in first.metadata.get("tags", [])
    assert SMOKE_SWITCH in first.source
    tagged = [i for i, cell in enumerate(book.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert tagged == [0], "only the first cell is tagged parameters"
    # papermill injects overrides after it: plain imports and assignments, nothing that computes
    for node in ast.parse(first.source).body:
        assert isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign)), ast.unparse(node)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_stripped_and_kernel_is_python3(name):
    book = read(name)
    assert book.metadata["kernelspec"]["name"] == "python3"
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cell.id} has outputs"


@pytest.mark.parametrize("name", NAMES)
def test_outputs_go_to_git_ignored_folders(name):
    values = parameters(name)
    assert values["OUTPUT_DIR"] == f"artifacts/notebooks/{name}"
    for key in ("RUN_DIR",):
        if key in values:
            assert str(values[key]).startswith(IGNORED_ROOTS), f"{key} = {values[key]!r}"


def test_notebooks_match_their_generator():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert tuple(module.NOTEBOOKS) == NAMES
    for name in NAMES:
        expected = nbformat.writes(module.notebook(name)) + "\n"
        on_disk = (NOTEBOOKS_DIR / f"{name}.ipynb").read_text(encoding="utf-8")
        assert on_disk == expected, f"{name}.ipynb differs from build_notebooks.py: run `.venv/bin/python notebooks/build_notebooks.py`"
