"""The built-in training hooks: validation, the LR schedule, checkpoints, progress bars, live curves.

Why a module of its own: each hook is one job done around the ``Trainer``'s step (``workbench.trainer``
calls them at ``before_train`` / ``after_step`` / ``after_epoch`` / ``after_train``, detectron2's
``engine/hooks.py``), so the loop stays forward, loss, backward, step. ``workbench.train`` installs
``EvalHook``, ``LRSchedulerHook``, ``CheckpointHook`` and, on rank 0 with progress, ``ProgressHook``
(plus ``LivePlotHook`` in a notebook); a user's own ``Hook`` objects run after them.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm.auto import tqdm

from workbench.checkpoints import save_checkpoint
from workbench.curves import figure_png, plot_history
from workbench.trainer import HEAD_STAGE, Hook

if TYPE_CHECKING:
    from workbench.trainer import Trainer


class EvalHook(Hook):
    """Validate after every epoch; adds ``val_<metric>`` (``metrics.evaluate``) to the epoch's row."""

    def after_epoch(self, trainer: "Trainer") -> None:
        if trainer.val_set is None or len(trainer.val_set) == 0:
            return
        start = time.perf_counter()
        trainer.metrics = trainer.validation_metrics()
        trainer.history[-1].update({f"val_{name}": value for name, value in trainer.metrics.items()})
        trainer.history[-1]["val_seconds"] = time.perf_counter() - start


class LRSchedulerHook(Hook):
    """Step the epoch-wise LR schedule (StepLR: x lr_gamma every lr_step_epochs); the head stage is no epoch of it."""

    def after_epoch(self, trainer: "Trainer") -> None:
        if trainer.history[-1]["stage"] != HEAD_STAGE:
            trainer.scheduler.step()


class CheckpointHook(Hook):
    """``last.pt`` after every epoch (and every ``save_every_steps``), ``best.pt`` by val EMD (r=1); rank 0 only."""

    def __init__(self, out_dir: str | os.PathLike, save_every_steps: int | None = None):
        self.out_dir = Path(out_dir)
        self.save_every_steps = save_every_steps
        self.last = self.out_dir / "last.pt"
        self.best = self.out_dir / "best.pt"

    def save_last(self, trainer: "Trainer") -> None:
        if trainer.is_main:
            save_checkpoint(self.last, trainer.checkpoint_payload())

    def after_step(self, trainer: "Trainer") -> None:
        if self.save_every_steps and trainer.step % self.save_every_steps == 0:
            trainer.sync_rng_states()
            self.save_last(trainer)

    def after_epoch(self, trainer: "Trainer") -> None:
        trainer.sync_rng_states()
        emd1 = trainer.history[-1].get("val_emd1", math.nan)
        improved = math.isfinite(emd1) and emd1 < trainer.best_val_emd1
        if improved:
            trainer.best_val_emd1 = emd1
        if trainer.is_main:
            payload = trainer.checkpoint_payload()
            save_checkpoint(self.last, payload)
            if improved:
                save_checkpoint(self.best, payload)
            pd.DataFrame(trainer.history).to_csv(self.out_dir / "history.csv", index=False)


class ProgressHook(Hook):
    """A tqdm bar per epoch (renders in Jupyter and terminals) and one summary line per epoch."""

    def __init__(self, every: int = 10):
        self.every = every
        self.bar = None

    def after_step(self, trainer: "Trainer") -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=trainer.steps_in_epoch, initial=trainer.step - 1, dynamic_ncols=True, leave=False,
                desc=f"epoch {trainer.epoch + 1}/{trainer.config.epochs}",
            )  # fmt: skip
        self.bar.update(1)
        if trainer.step % self.every == 0 or trainer.step == trainer.steps_in_epoch:
            self.bar.set_postfix(loss=f"{trainer.running_loss():.4f}", refresh=False)

    def after_epoch(self, trainer: "Trainer") -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        row = trainer.history[-1]
        title = "head stage" if row["stage"] == HEAD_STAGE else f"epoch {row['epoch']}/{trainer.config.epochs}"
        parts = [title, f"train_loss {row['train_loss']:.4f}"]
        parts += [f"{key} {row[key]:.4f}" for key in ("val_emd2", "val_emd1", "val_srcc_mean", "val_srcc_std") if key in row]
        parts += [f"lr {row['lr']:.2g}", f"{row['seconds']:.0f} s"]
        if row.get("skipped"):
            parts.append(f"skipped {row['skipped']}")
        tqdm.write("  ".join(parts))

    def after_train(self, trainer: "Trainer") -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class LivePlotHook(Hook):
    """Redraw ``plot_history`` in the notebook cell after every epoch (one display, updated in place,
    so the progress bars above it stay). Shown as PNG, so no matplotlib backend setup is needed."""

    def __init__(self):
        self.handle = None

    def after_epoch(self, trainer: "Trainer") -> None:
        from IPython.display import Image, display

        if len(trainer.history) < 2:  # one point is no curve (a head stage alone: its hooks draw it per head epoch)
            return
        image = Image(data=figure_png(plot_history(trainer.history)), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where ``LivePlotHook`` can show curves)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
