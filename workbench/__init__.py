"""workbench: theme-aware aesthetic score distributions for full-resolution photos.

``workbench.Predictor`` is the one way to predict (the app, the CLI and the notebooks use it);
``workbench.build_model`` builds the model; ``workbench.train`` runs training (its loop: ``workbench.trainer``).
"""
from importlib.metadata import PackageNotFoundError, version

try:  # pyproject.toml's version, the one place it is written
    __version__ = version("workbench")
except PackageNotFoundError:  # run from a folder that was never installed
    __version__ = "unknown"

__all__ = ["Predictor", "build_model", "__version__"]


def __getattr__(name: str):
    # Lazy, so `import workbench` stays cheap and `python -m workbench synth` does not import torch models.
    if name == "Predictor":
        from workbench.predict import Predictor

        return Predictor
    if name == "build_model":
        from workbench.model import build_model

        return build_model
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
