"""Checkpoint files: one self-describing file per save, written atomically, read with weights_only.

A checkpoint is a dict of plain types and tensors (nanoGPT style, it rebuilds itself) whose keys are
``Checkpoint``'s, each marked with its role: ``MODEL`` (rebuild the model and view photos as it was
trained), ``CARD`` (what it says about itself) and ``RESUME`` (continue training). ``save_checkpoint``
is the one writer (it checks the keys and stamps the format), ``load_checkpoint`` the one reader (it
migrates older formats, so every reader sees the current one); ``inference_payload`` is what ``export``
keeps.
"""
from __future__ import annotations

import importlib.metadata
import os
import pickle
import subprocess
import tempfile
import typing
from pathlib import Path
from typing import Annotated, Any, NotRequired, Required, TypedDict

import torch

from workbench.data.augment import TRANSFORMS, transform_canvas
from workbench.data.batching import pad_batch
from workbench.model.build import AestheticModel, build_model
from workbench.model.heads import NO_THEME_MODES

FORMAT = "workbench-checkpoint"
# 1: canvas and transform optional (a reader fell back on the config); 2: required; 3: model_args names
# no_theme (how a photo without a theme is predicted), which 2 left out for the learned vector
FORMAT_VERSION = 3
DEFAULT_CANVAS = 800  # the paper's canvas, for version-1 files whose config does not name one
MODEL, CARD, RESUME = "model", "card", "resume"  # the roles of the keys (export keeps MODEL and CARD)


class Checkpoint(TypedDict, total=False):
    """The keys of a checkpoint file (format ``FORMAT_VERSION``), each ``Annotated`` with its role."""

    format: Required[Annotated[str, MODEL]]  # always FORMAT ("workbench-checkpoint"); written by save_checkpoint
    format_version: Required[Annotated[int, MODEL]]  # FORMAT_VERSION when written; older files are migrated on read
    model_args: Required[Annotated[dict[str, Any], MODEL]]  # build_model's keyword arguments (model.model_args), no_theme always named
    model: Required[Annotated[dict[str, torch.Tensor], MODEL]]  # the state dict (float32, or float16 from export --half)
    theme_names: Required[Annotated[list[str], MODEL]]  # index = theme id; [] for a model without themes
    num_bins: Required[Annotated[int, MODEL]]  # K, the score bins of the predicted distribution
    canvas: Required[Annotated[int, MODEL]]  # side photos are fitted within before any view is made (the config's canvas; files before 2026-12-05 with a 299 transform say 299)
    transform: Required[Annotated[str, MODEL]]  # the view it was trained on, one of data.augment.TRANSFORMS
    code_version: NotRequired[Annotated[str, CARD]]  # workbench version + git commit of the code that wrote it
    data: NotRequired[Annotated[dict[str, Any], CARD]]  # what it learnt from: name, description, synthetic (bool), root, untrained
    config: NotRequired[Annotated[dict[str, Any], CARD]]  # the TrainConfig as a dict (the recipe); {} when unknown
    metrics: NotRequired[Annotated[dict[str, Any], CARD]]  # the last validation metrics (metrics.evaluate's keys)
    history: NotRequired[Annotated[list[dict[str, Any]], CARD]]  # one row per epoch (trainer.TrainResult.history)
    epoch: NotRequired[Annotated[int, CARD]]  # epochs completed (0: the head stage only)
    step: NotRequired[Annotated[int, RESUME]]  # steps done in the current epoch (0 at an epoch's end)
    optimizer: NotRequired[Annotated[dict[str, Any], RESUME]]  # optimizer.state_dict()
    scheduler: NotRequired[Annotated[dict[str, Any], RESUME]]  # the LR schedule's state_dict()
    scaler: NotRequired[Annotated[dict[str, Any], RESUME]]  # the float16 GradScaler's state_dict() ({} when off)
    rng: NotRequired[Annotated[dict[str, Any], RESUME]]  # RNG states (runtime.rng_state), "ranks": every rank's under DDP
    progress: NotRequired[Annotated[dict[str, Any], RESUME]]  # the epoch's running totals, best_val_emd1, world_size


def _schema() -> tuple[dict[str, str], tuple[str, ...]]:
    """(key -> role, required keys) from ``Checkpoint``'s annotations (``__required_keys__`` cannot see
    ``Required`` in the string annotations of ``from __future__ import annotations``)."""
    roles, required = {}, []
    for key, hint in typing.get_type_hints(Checkpoint, include_extras=True).items():
        while typing.get_origin(hint) in (Required, NotRequired):
            if typing.get_origin(hint) is Required:
                required.append(key)
            hint = typing.get_args(hint)[0]
        roles[key] = hint.__metadata__[0]
    return roles, tuple(required)


KEY_ROLES, REQUIRED_KEYS = _schema()  # key -> MODEL | CARD | RESUME; the keys every file holds
INFERENCE_KEYS = tuple(key for key, role in KEY_ROLES.items() if role != RESUME)  # what export keeps
_CARD_DEFAULTS = {"data": dict, "config": dict, "metrics": dict, "history": list}  # filled on read when absent


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated, tampered with or incompatible."""


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, through ``importlib.metadata``), or
    "unknown" when the package runs from a folder that was never installed."""
    try:
        return importlib.metadata.version("workbench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def git_commit(short: bool = True, mark_changes: bool = False) -> str:
    """The checkout's commit ("" outside a git checkout); mark_changes: "+changes" when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5, check=True).stdout.strip()

    try:
        commit = git("rev-parse", *(["--short"] if short else []), "HEAD")
        dirty = mark_changes and bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{commit}+changes" if dirty else commit


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    commit = git_commit()
    version = package_version()
    return f"{version}+{commit}" if commit else version


def write_atomically(path: str | os.PathLike, write: typing.Callable[[typing.BinaryIO], None]) -> Path:
    """``write(handle)`` into a temp file beside ``path``, fsync, then rename over ``path``: a run killed
    mid-write leaves the previous file intact and never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, payload: Checkpoint | dict[str, Any]) -> Path:
    """Write ``payload`` (the keys of ``Checkpoint``; ``format``, ``format_version`` and ``code_version``
    are stamped here) to ``path`` atomically: a temp file in the same folder, fsync, rename.

    ValueError for a key the schema does not know or a required one missing. A run killed mid-save
    leaves the previous checkpoint intact.
    """
    path = Path(path)
    payload = {**payload, "format": FORMAT, "format_version": FORMAT_VERSION, "code_version": code_version()}
    if isinstance(payload.get("model_args"), dict):
        payload["model_args"] = _with_no_theme(payload["model_args"])
    unknown = sorted(set(payload) - set(KEY_ROLES))
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if unknown or missing:
        raise ValueError(
            f"{path}: a checkpoint holds the keys of workbench.checkpoints.Checkpoint; "
            + "; ".join(part for part in (f"unknown: {', '.join(unknown)}" if unknown else "",
                                          f"missing: {', '.join(missing)}" if missing else "") if part)
        )  # fmt: skip
    if payload["transform"] not in TRANSFORMS:
        raise ValueError(f"{path}: transform must be one of {TRANSFORMS}, got {payload['transform']!r}")
    return write_atomically(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint with ``torch.load(weights_only=True)``; raise ``CheckpointError`` if unusable.
    Older formats are migrated, so the result always holds format ``FORMAT_VERSION``'s keys."""
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
    version = payload.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: format_version must be an int >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version} is newer than this workbench ({FORMAT_VERSION}); upgrade workbench"
        )
    if version == 1:
        payload = _migrate_v1(payload)
    if payload["format_version"] == 2:
        payload = _migrate_v2(payload)
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    for key, empty in _CARD_DEFAULTS.items():
        if payload.get(key) is None:
            payload[key] = empty()
    model_args = payload["model_args"]
    if not isinstance(model_args, dict) or model_args.get("no_theme") not in NO_THEME_MODES:
        no_theme = model_args.get("no_theme") if isinstance(model_args, dict) else None
        raise CheckpointError(f"{path}: model_args must be a dict naming no_theme, one of {NO_THEME_MODES}; got {no_theme!r}")
    return Checkpoint(**payload)


def _migrate_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 1 -> 2: ``canvas`` and ``transform`` from the training config where the file lacks them
    (as training derived them when it wrote version 1: ``transform_canvas``); the other keys are unchanged."""
    config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
    transform = payload.get("transform") or config.get("transform") or "full"
    canvas = payload.get("canvas") or transform_canvas(transform, int(config.get("canvas") or DEFAULT_CANVAS))
    return {**payload, "format_version": 2, "transform": transform, "canvas": int(canvas)}


def _migrate_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """Format 2 -> 3: ``model_args`` names ``no_theme``; a file that does not predicted without a theme
    by the learned vector ("learned", all there was before the option); the other keys are unchanged."""
    model_args = payload.get("model_args")
    if isinstance(model_args, dict):
        payload = {**payload, "model_args": _with_no_theme(model_args)}
    return {**payload, "format_version": 3}


def _with_no_theme(model_args: dict[str, Any]) -> dict[str, Any]:
    return {**model_args, "no_theme": model_args.get("no_theme", "learned")}


def model_payload(
    model: AestheticModel, theme_names: list[str], canvas: int, transform: str = "full", *,
    data: dict[str, Any] | None = None, config: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
) -> Checkpoint:
    """The ``MODEL`` keys of ``model`` (and the ``CARD`` keys given) as ``save_checkpoint`` takes them: a
    checkpoint of a model built outside a training run (a test fixture, a benchmark's untrained model),
    without writing its payload by hand. canvas: the side photos are fitted within before any view of them is made."""
    payload = Checkpoint(
        model_args=dict(model.model_args), model=model.state_dict(), theme_names=list(theme_names),
        num_bins=int(model.num_bins), canvas=int(canvas), transform=transform,
    )  # fmt: skip
    for key, value in (("data", data), ("config", config), ("metrics", metrics)):
        if value is not None:
            payload[key] = value
    return payload


def inference_payload(payload: Checkpoint | dict[str, Any]) -> Checkpoint:
    """The keys a prediction needs or shows (roles ``MODEL`` and ``CARD``): a checkpoint without its
    training state, what ``python -m workbench export`` writes."""
    return Checkpoint(**{key: value for key, value in payload.items() if key in INFERENCE_KEYS})


def _first_line(error: BaseException) -> str:
    # torch's unpickling message suggests weights_only=False, which must never be done with an
    # untrusted file: name the failure without that advice.
    if isinstance(error, pickle.UnpicklingError):
        return "the weights-only unpickler refused its contents"
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:200] if text else ''}"


def model_from_checkpoint(payload: Checkpoint, path: str | os.PathLike = "<checkpoint>") -> AestheticModel:
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


def half_precision_weights(payload: Checkpoint, tolerance: float = 1e-3, photos: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    """The checkpoint's weights in float16 (loading casts them back to float32), after checking that
    the predictions of ``photos`` random photos (with and without a theme) move by at most
    ``tolerance`` in any bin; ValueError otherwise."""
    half = {key: value.half() if value.is_floating_point() else value for key, value in payload["model"].items()}
    full_model = model_from_checkpoint(payload).eval()
    half_model = model_from_checkpoint({**payload, "model": half}).eval()
    generator = torch.Generator().manual_seed(seed)
    batch = pad_batch([torch.randn(3, 96 + 37 * i, 160 - 21 * i, generator=generator) for i in range(photos)], canvas=None)
    themes = torch.tensor([i % max(1, full_model.num_themes) if full_model.num_themes and i % 2 else -1 for i in range(photos)])
    with torch.no_grad():
        moved = (full_model(batch.images, batch.sizes, themes) - half_model(batch.images, batch.sizes, themes)).abs().max().item()
    if moved > tolerance:
        raise ValueError(f"float16 weights move the predictions by {moved:.2g} > {tolerance:g}; export in float32")
    return half
