"""Checkpoint files: one self-describing file per save, written atomically, read with weights_only.

A checkpoint is a dict of plain types and tensors (nanoGPT style, it rebuilds itself):
``format``, ``format_version``, ``model_args`` (``build_model`` keyword arguments), ``model``
(state dict), ``theme_names``, ``num_bins``, ``data`` (what it was trained on, with
``synthetic: bool``), ``config`` (the training config as a dict), ``metrics``, ``history``,
``code_version``, and for resuming ``epoch``, ``step``, ``optimizer``, ``scheduler``, ``rng``.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

from workbench import __version__
from workbench.model import AestheticModel, build_model

FORMAT = "workbench-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("format", "format_version", "model_args", "model", "theme_names", "num_bins")


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated, tampered with or incompatible."""


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temp file in the same folder, fsync, rename.

    A run killed mid-save leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "code_version": code_version(), **payload}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``; raise ``CheckpointError`` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - garbage bytes reach torch's legacy unpickler, which
        # raises whatever its stack machine trips on (IndexError, KeyError, UnicodeDecodeError, ...)
        raise CheckpointError(
            f"{path}: not a readable workbench checkpoint (corrupt, truncated, or holding objects "
            f"other than tensors and plain types): {_first_line(error)}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a workbench checkpoint (no format={FORMAT!r} field)")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload['format_version']} is newer than this workbench "
            f"({FORMAT_VERSION}); upgrade workbench"
        )
    return payload


def _first_line(error: BaseException) -> str:
    # torch's unpickling message suggests weights_only=False, which must never be done with an
    # untrusted file: name the failure without that advice.
    if isinstance(error, pickle.UnpicklingError):
        return "the weights-only unpickler refused its contents"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200] if text else ''}"


def model_from_checkpoint(payload: dict[str, Any], path: str | os.PathLike = "<checkpoint>") -> AestheticModel:
    """Rebuild the model from ``model_args`` (never downloading weights) and load its state."""
    args = dict(payload["model_args"])
    args.pop("pretrained", None)
    try:
        model = build_model(**args)
        model.load_state_dict(payload["model"], strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise CheckpointError(f"{path}: checkpoint does not match this workbench's model: {error}") from error
    if model.num_bins != payload["num_bins"] or model.num_themes != len(payload["theme_names"]):
        raise CheckpointError(
            f"{path}: model has {model.num_bins} bins / {model.num_themes} themes but the checkpoint "
            f"records {payload['num_bins']} bins / {len(payload['theme_names'])} theme names"
        )
    return model


def half_precision_weights(payload: dict[str, Any], tolerance: float = 1e-3, photos: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """The checkpoint's weights in float16 (loading casts them back to float32), after checking that
    the predictions of ``photos`` random photos (with and without a theme) move by at most
    ``tolerance`` in any bin; ValueError otherwise."""
    half = {key: value.half() if value.is_floating_point() else value for key, value in payload["model"].items()}
    full_model = model_from_checkpoint(payload).eval()
    half_model = model_from_checkpoint({**payload, "model": half}).eval()
    generator = torch.Generator().manual_seed(seed)
    sizes = [(96 + 37 * i, 160 - 21 * i) for i in range(photos)]
    images = torch.zeros(photos, 3, max(h for h, _ in sizes), max(w for _, w in sizes))
    for i, (h, w) in enumerate(sizes):
        images[i, :, :h, :w] = torch.randn(3, h, w, generator=generator)
    themes = torch.tensor([i % max(1, full_model.num_themes) if full_model.num_themes and i % 2 else -1 for i in range(photos)])
    with torch.no_grad():
        moved = (full_model(images, torch.tensor(sizes), themes) - half_model(images, torch.tensor(sizes), themes)).abs().max().item()
    if moved > tolerance:
        raise ValueError(f"float16 weights move the predictions by {moved:.2g} > {tolerance:g}; export in float32")
    return half
