"""Which checkpoints the demo offers, and what it says about each without exposing the server.

``--checkpoint`` may name one file or a folder of them: a researcher compares their AVA model with
the demo's synthetic one on the same photo. Cards show a checkpoint's file name, never its folder.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.checkpoints import CheckpointError
from workbench.predict import Predictor

CHECKPOINT_SUFFIXES = (".pt", ".pth")


def list_checkpoints(path: str | os.PathLike) -> dict[str, Path]:
    """File name -> path: the file itself, or every checkpoint directly in the folder, sorted by name.

    Raises ``CheckpointError`` when the path does not exist or the folder holds no checkpoint."""
    path = Path(path)
    if path.is_file():
        return {path.name: path}
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
        if not found:
            raise CheckpointError(f"checkpoint folder {path.name!r} holds no {' / '.join(CHECKPOINT_SUFFIXES)} files")
        return {p.name: p for p in found}
    raise CheckpointError(f"checkpoint {path} not found")


def public_card(predictor: Predictor) -> dict[str, Any]:
    """The checkpoint card as the page shows it: the file's name instead of its path on the server."""
    card = dict(predictor.card)
    name = Path(card.pop("checkpoint", "") or "").name
    return {"checkpoint": name, **_without_paths(card)}


def _without_paths(value: Any) -> Any:
    """Absolute paths (a recipe's data_root, the data's root) -> their last part, behind an ellipsis."""
    if isinstance(value, dict):
        return {key: _without_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_paths(item) for item in value]
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
        return f"…/{Path(value).name}"
    return value


def model_banner(predictor: Predictor) -> str:
    """Markdown: which model, trained on what; a warning when the training data was synthetic."""
    lines = [f"**Model:** {predictor.describe()} (`{Path(predictor.card.get('checkpoint', '')).name}`)"]
    if predictor.card.get("data", {}).get("synthetic"):
        lines.append(
            "⚠ This model was **trained on synthetic data, not AVA**: its scores show how the method "
            "works, they are not judgements of real photos."
        )
    if not predictor.theme_names:
        lines.append("This model was trained without themes: it predicts one distribution per photo.")
    return "  \n".join(lines)
