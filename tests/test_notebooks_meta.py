"""The notebooks' contract (STYLE.md): one real source per notebook (``notebooks/<name>.py``, jupytext's
percent format) and its paired ``.ipynb`` holding exactly its cells, without outputs; a first cell tagged
``parameters`` with the ``SMOKE`` switch; kernel python3; outputs under git-ignored folders; the notebooks
import this checkout's ``workbench``. (Running them is nbmake's job: ``--nbmake notebooks``.)"""
import ast
from pathlib import Path

import jupytext
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


def cells(book: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(cell.cell_type, cell.source, list(cell.metadata.get("tags", []))) for cell in book.cells]


def test_each_notebook_has_one_source_and_nothing_else_is_there():
    assert sorted(path.stem for path in NOTEBOOKS_DIR.glob("*.py")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_holds_exactly_the_cells_of_its_source(name):
    source = jupytext.read(NOTEBOOKS_DIR / f"{name}.py")
    assert cells(read(name)) == cells(source), (
        f"{name}.ipynb differs from {name}.py: edit the .py, then run "
        f"`.venv/bin/jupytext --update --to ipynb notebooks/{name}.py`"
    )
    assert read(name).metadata["jupytext"]["formats"] == "ipynb,py:percent"  # paired, so Jupyter saves both


@pytest.mark.parametrize("name", NAMES)
def test_source_is_plain_python(name):
    """The source compiles (magics are comments in it) and every code cell imports only what it uses
    from workbench modules that exist."""
    text = (NOTEBOOKS_DIR / f"{name}.py").read_text(encoding="utf-8")
    tree = ast.parse(text, filename=f"{name}.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("workbench"):
            module = __import__(node.module, fromlist=[alias.name for alias in node.names])
            for alias in node.names:
                assert hasattr(module, alias.name), f"{name}.py imports {alias.name} from {node.module}, which has none"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_imports_this_checkout(name):
    """nbmake and Jupyter start in notebooks/, where an installed workbench (another checkout's) would win:
    the setup cell puts this repository first on sys.path before its first workbench import, and
    ``start_notebook(..., repo=REPO)`` checks where workbench came from (tests/test_notebook.py)."""
    setup = next(cell.source for cell in read(name).cells if "from workbench" in cell.source)
    assert setup.index("sys.path.insert(0, str(REPO))") < setup.index("from workbench")
    assert "start_notebook(OUTPUT_DIR, smoke=SMOKE, repo=REPO)" in setup
