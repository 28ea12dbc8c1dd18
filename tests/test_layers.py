"""The module dependency order of docs/DESIGN.md, checked: every import inside the package points to a
lower floor (no arrow runs back up, none sideways), and prediction never loads the training config."""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"

# Floors, lowest first; a module may import only from floors below its own. docs/DESIGN.md draws the same.
FLOORS = [
    ["data.batching", "data.synth_truth", "model.roi", "losses", "metrics", "curves"],
    ["data.images", "data.synth_attributes", "paper"],
    ["data.augment", "data.tables", "data.jpeg_batch", "data.synth_render"],
    ["data.ava", "data.photonet", "data.csv_folder", "data.datasets", "data.synth", "model.heads", "model.backbones"],
    ["data.prepare", "model.efficientnet_lite", "model.build"],
    ["data", "model"],
    ["checkpoints", "config"],
    ["runtime"],
    ["inference"],
    ["feature_cache"],
    ["evaluation", "head_stage", "predict", "explain"],
    ["trainer", "counterfactual", "analysis.votes", "analysis.aspect", "analysis.failures", "analysis.seeds"],
    ["hooks", "analysis.themes", "analysis.baselines", "analysis.failure_summary", "view_probe"],
    ["train", "analysis"],
    ["plots", "ablation", "fidelity", "demo.cache", "demo.drawing", "demo.tables", "demo.models", "demo.store"],
    ["figures", "fidelity_plots", "theme_plots", "demo.benchmark"],
    ["demo.session"],
    ["demo.batch", "demo.registry", "demo", "notebook"],
    ["demo.page"],
    ["demo.lab_panel", "demo.batch_tab"],
    ["", "__main__"],  # "": the package's own __init__ (lazy re-exports, for users)
]
# Imports that look up but are not a dependency, each with why.
ALLOWED = {("notebook", ""): "notebook.check_imported_from reads workbench.__file__ to say which checkout is imported"}
FLOOR = {module: level for level, modules in enumerate(FLOORS) for module in modules}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The workbench modules ``path`` imports (at any depth of its code), but not under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
               for child in block.body for node in ast.walk(child)}  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "workbench":
            base = node.module.removeprefix("workbench").lstrip(".")
            found.add(base)
            for alias in node.names:  # "from workbench.data import ava": the submodule
                candidate = f"{base}.{alias.name}".lstrip(".")
                if candidate in FLOOR:
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {alias.name.removeprefix("workbench").lstrip(".") for alias in node.names if alias.name.split(".")[0] == "workbench"}
    return found


def test_every_module_has_a_floor():
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    assert modules - set(FLOOR) == set(), "add the new module to FLOORS (and docs/DESIGN.md)"
    assert set(FLOOR) - modules == set(), "a module in FLOORS no longer exists"


def test_no_import_runs_back_up_or_sideways():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        for imported in imported_modules(path) - {module}:
            if (module, imported) in ALLOWED:
                continue
            if FLOOR[imported] >= FLOOR[module] and not module.startswith(f"{imported}.") and imported != "":
                upward.append(f"{module} (floor {FLOOR[module]}) imports {imported} (floor {FLOOR[imported]})")
            elif imported == "" and module != "__main__":
                upward.append(f"{module} imports the package __init__ (workbench); import the submodule")
    assert upward == []


def test_prediction_does_not_load_the_training_config_or_the_trainer():
    code = "import sys, workbench.predict; print(sorted(m for m in sys.modules if m in ('workbench.config', 'workbench.train', 'workbench.trainer', 'workbench.hooks', 'workbench.evaluation')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent).stdout
    assert out.strip() == "[]"
