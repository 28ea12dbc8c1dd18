"""Training: the paper's recipe (Sec. IV-B), the entry point ``train(config)`` that sets a run up.

Use it from a notebook cell or the CLI (``python -m workbench train --config FILE.yaml``)::

    from workbench.config import TrainConfig
    from workbench.curves import plot_history
    from workbench.train import train

    result = train(TrainConfig(data_root="data/synth", backbone="compact", pretrained=False, freeze_bn=False))
    result.history                      # one row per epoch
    plot_history(result.history)

Why a module of its own: a run is set up once, here (seeds, the label table and datasets, the model,
a checked resume, the built-in hooks, SIGINT / SIGTERM handling, DDP set-up and tear-down), around a
loop that knows none of it: the loop is ``workbench.trainer`` (``Trainer``, ``Hook``), the built-in
hooks ``workbench.hooks``. The settings are ``workbench.config.TrainConfig``; the device options (AMP,
channels_last, compile) and DDP set-up are ``workbench.runtime``; validation and test metrics are
``workbench.evaluation``.

A run killed at any point and resumed from its ``last.pt`` ends (on CPU) with bit-identical weights to
an uninterrupted run (``workbench.trainer`` says why). Launched by ``torchrun`` (``RANK`` /
``WORLD_SIZE`` / ``LOCAL_RANK`` set), training runs as DistributedDataParallel.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
import torch.distributed as dist

from workbench.checkpoints import CheckpointError, code_version, load_checkpoint
from workbench.config import RESUMABLE_CHANGES, TrainConfig
from workbench.data.datasets import AestheticDataset
from workbench.data.prepare import prepare_table
from workbench.hooks import CheckpointHook, EvalHook, LivePlotHook, LRSchedulerHook, ProgressHook, in_notebook
from workbench.model.build import build_model
from workbench.runtime import World, init_distributed, resolve_device
from workbench.trainer import Hook, StopRequested, Trainer, TrainResult, seed_of


@contextlib.contextmanager
def _stop_on_signals(trainer: Trainer, last: Path):
    """SIGINT / SIGTERM ask the loop to stop after the current step (it then saves and leaves);
    a second signal stops at once, without saving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer.stop_signal is not None:
            raise KeyboardInterrupt
        trainer.stop_signal = signum
        if trainer.is_main:
            print(f"\n{signal.Signals(signum).name}: stopping after this step and saving {last} "
                  "(send it again to stop at once, without saving)", file=sys.stderr, flush=True)  # fmt: skip

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    current = asdict(config)
    defaults = asdict(TrainConfig())
    differ = [
        f"{key} ({saved.get(key, defaults[key])!r} in the checkpoint, {value!r} now)"
        for key, value in current.items()
        if key not in RESUMABLE_CHANGES and saved.get(key, defaults[key]) != value
    ]
    if differ:
        raise CheckpointError(
            f"{path}: cannot resume with different settings: {'; '.join(differ)}. Use the checkpoint's settings "
            f"or start a new run in another out_dir (only {', '.join(sorted(RESUMABLE_CHANGES))} may change)"
        )


def train(config: TrainConfig | dict, resume: bool | str | os.PathLike = False, progress: bool = True, hooks: Iterable[Hook] = ()) -> TrainResult:
    """Train a model as ``config`` says; returns the history, the checkpoints written and the last val metrics.

    resume: True continues from ``out_dir/last.pt``, a path from that checkpoint (new checkpoints still
        go to ``out_dir``). The settings must match the checkpoint's (``RESUMABLE_CHANGES`` may differ).
    progress: tqdm bars and a line per epoch (plus live curves in a notebook); rank 0 only.
    hooks: extra ``Hook`` objects, called after the built-in ones.
    SIGINT (Ctrl-C, a notebook's interrupt) and SIGTERM stop after the current step, save ``last.pt``,
    then raise KeyboardInterrupt or exit with status 143.
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    world = init_distributed(config)
    try:
        return _train(config, world, resume, progress, list(hooks))
    finally:
        if world.owned:
            dist.destroy_process_group()


def _train(config: TrainConfig, world: World, resume: bool | str | os.PathLike, progress: bool, hooks: list[Hook]) -> TrainResult:
    device = resolve_device(config.device, world.local_rank)
    out_dir = Path(config.out_dir)
    payload = None
    if resume:
        path = out_dir / "last.pt" if resume is True else Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no checkpoint to resume from (train without resume to start a new run)")
        payload = load_checkpoint(path)
        _check_resumable(payload["config"], config, path)
        written_by, now = payload.get("code_version"), code_version()
        if world.is_main and written_by != now:
            # a finished run resumed trains nothing more: a fix since then would not reach its numbers
            print(f"note: {path.parent} continues a run written by workbench {written_by} (this is {now}); "
                  "delete the folder to train it again with this code", file=sys.stderr)  # fmt: skip
    elif world.is_main and (out_dir / "last.pt").is_file():
        print(f"note: {out_dir} holds an earlier run; its checkpoints will be overwritten (resume=True continues it)", file=sys.stderr)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed % 2**32)
    import random

    random.seed(config.seed)

    table = prepare_table(config, verbose=world.is_main)
    # Every transform starts from the photo fitted within the config's canvas (the full view's): a 299 view
    # (resize, resized pad, crop) is made from it, not from a photo already shrunk to 299 (which made the
    # crop a whole-photo resize and the resize an upscale).
    canvas = config.canvas
    train_set = AestheticDataset(table, "train", config.transform, canvas, train=True, augment=config.augment, seed=config.seed)
    if len(train_set) == 0:
        raise ValueError(f"{config.data_root}: no usable training photos")
    val_set = AestheticDataset(table, "val", config.transform, canvas)
    num_themes = len(train_set.theme_names) if config.use_theme else 0
    download_first = world.size > 1 and config.pretrained  # rank 0 fills the weights cache, then the others read it
    if download_first and not world.is_main:
        dist.barrier()
    model = build_model(
        config.backbone, num_bins=train_set.num_bins, num_themes=num_themes, roi=config.roi,
        roi_size=config.roi_size, pretrained=config.pretrained, freeze_bn=config.freeze_bn,
        no_theme=config.no_theme if num_themes else "learned", head=config.head, grid_channels=config.grid_channels,
        dropout=config.head_dropout, view_heads=config.view_head_names, **({"spatial_grid": True} if config.spatial_grid else {}),
    )  # fmt: skip
    if download_first and world.is_main:
        dist.barrier()
    if config.freeze_stem:
        model.backbone.stem.requires_grad_(False)  # the optimizer then skips it, autograd stops before it
    if world.size > 1:
        torch.manual_seed(seed_of(config.seed, world.rank))  # dropout masks differ across ranks
    trainer = Trainer(config, model, train_set, val_set if len(val_set) else None, device, world, progress)
    if payload is not None:
        if payload["num_bins"] != train_set.num_bins or list(payload["theme_names"])[:num_themes] != train_set.theme_names[:num_themes]:
            raise CheckpointError(f"{path}: the checkpoint's bins/themes do not match the data")
        trainer.load_state(payload, path)
    checkpoints = CheckpointHook(out_dir, config.save_every_steps)
    trainer.hooks = [EvalHook(), LRSchedulerHook(), checkpoints]
    if progress and world.is_main:
        trainer.hooks.append(ProgressHook())
        if in_notebook():
            trainer.hooks.append(LivePlotHook())
    trainer.hooks += hooks
    if world.is_main:
        config.to_yaml(out_dir / "config.yaml")
    with _stop_on_signals(trainer, checkpoints.last):
        try:
            trainer.train()
        except StopRequested as stop:
            trainer.sync_rng_states()  # every rank stopped after the same step
            checkpoints.save_last(trainer)
            if stop.signum == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise SystemExit(128 + stop.signum) from None
    if trainer.epoch >= config.epochs and not checkpoints.last.exists() and world.is_main:
        checkpoints.save_last(trainer)  # nothing left to train after a resume: still leave last.pt
    return trainer.result(checkpoints)
