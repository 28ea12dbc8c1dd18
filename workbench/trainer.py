"""The training loop: ``Trainer`` (the step, the epochs, the head stage, its state) and the ``Hook`` points.

Why a module of its own: the loop is plain code a reader can step through in a notebook, as in nanoGPT;
the step does only forward, loss (eq. 7, ``emd_loss`` with ``r = emd_r``, plus ``std_loss_weight`` x
``std_loss``), backward and the optimizer step. Evaluation, the LR schedule, checkpoints, progress bars
and live plots are hooks called ``before_train`` / ``after_step`` / ``after_epoch`` / ``after_train``
(detectron2's pattern; the built-in ones are ``workbench.hooks``), and setting a run up (data, model,
resume, signals) is ``workbench.train``, which users call.

Resuming is exact: the batch order depends only on (seed, epoch), each sample's augmentation on
(seed, epoch, index), theme dropout on (seed, epoch, step, rank), and the global RNG that dropout
layers draw from is saved in every checkpoint (``Trainer.checkpoint_payload`` / ``load_state``).
Under DistributedDataParallel every rank takes its share of the same batch list, evaluation
predictions are gathered across ranks, and only rank 0 writes files or shows progress.
"""
from __future__ import annotations

import functools
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from workbench.checkpoints import Checkpoint, CheckpointError
from workbench.config import TrainConfig
from workbench.data.augment import transform_canvas
from workbench.data.batching import MIN_SIDE, EpochBatchSampler, ResumedBatchSampler, ShapeGroupedBatchSampler, pad_batch
from workbench.data.datasets import AestheticDataset, collate_padded
from workbench.data.prepare import data_description
from workbench.data.synth_truth import truth_under_every_theme
from workbench.evaluation import evaluate_model, split_features
from workbench.feature_cache import cache_path, cached_features, cached_split_features, features_fingerprint, evaluation_fingerprint
from workbench.head_stage import dataset_themes, extract_features, fit_head, fit_theme_classifier_on_views, own_theme_pair_weights
from workbench.inference import ViewFeatures
from workbench.losses import training_loss
from workbench.metrics import evaluate
from workbench.model.build import AestheticModel
from workbench.model.heads import NO_THEME
from workbench.runtime import World, device_options, init_worker, rng_state, set_rng_state

if TYPE_CHECKING:
    from workbench.hooks import CheckpointHook

STOP_CHECK_STEPS = 10  # under DDP, ranks agree on a pending SIGINT/SIGTERM every this many steps
HEAD_STAGE, END_TO_END = "head", "end_to_end"  # a history row's stage (head_stage.py; the loop below)


def _collate(items: Sequence[dict | None], canvas: int | None) -> dict[str, Any]:
    """``collate_padded``, but a batch whose photos all failed comes back as ``{"skipped": n}``."""
    data = collate_padded(items, canvas=canvas)
    return {"skipped": len(items)} if data is None else data


class Hook:
    """Called by the ``Trainer`` around the step (detectron2's HookBase, reduced to four points)."""

    def before_train(self, trainer: "Trainer") -> None:
        pass

    def after_step(self, trainer: "Trainer") -> None:
        pass

    def after_epoch(self, trainer: "Trainer") -> None:
        pass

    def after_train(self, trainer: "Trainer") -> None:
        pass

    def after_head_epoch(self, trainer: "Trainer", epoch: int, loss: float) -> None:
        """After each epoch of the head stage (``fit_head``'s ``on_epoch``), e.g. to draw it live."""


@dataclass
class TrainResult:
    """What ``train`` returns: the per-epoch history, the checkpoints written, the last val metrics."""

    history: pd.DataFrame  # one row per epoch: epoch, train_loss, lr, val_<metric>..., seconds, skipped
    checkpoint: Path  # out_dir/last.pt
    best_checkpoint: Path | None  # out_dir/best.pt (lowest val EMD r=1), None without validation
    metrics: dict[str, float] = field(default_factory=dict)  # the last epoch's validation metrics


class StopRequested(Exception):
    """Raised by the loop after the step (or head epoch) at which SIGINT / SIGTERM arrived; ``train`` saves and leaves."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def seed_of(*parts: int) -> int:
    """A 63-bit seed from integers, well mixed (numpy's SeedSequence)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class Trainer:
    """The plain loop: for each epoch, for each batch, ``run_step``; hooks do everything else."""

    def __init__(
        self,
        config: TrainConfig,
        model: AestheticModel,
        train_set: AestheticDataset,
        val_set: AestheticDataset | None,
        device: torch.device,
        world: World,
        progress: bool = True,
    ):
        self.config, self.model, self.device, self.world = config, model, device, world
        self.train_set, self.val_set = train_set, val_set
        self.progress = progress
        self.is_main = world.is_main
        self.cuda = device.type == "cuda"
        self.num_workers = config.num_workers
        self.options = device_options(config, device)
        model.to(device, memory_format=self.options.memory_format)
        model.train()
        backbone = [p for p in model.backbone.parameters() if p.requires_grad]
        head = [p for module in (model.theme_branch, model.head) for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(
            [{"params": backbone, "lr": config.lr_backbone, "name": "backbone"},
             {"params": head, "lr": config.lr_head, "name": "head"}],
            lr=config.lr_backbone, momentum=config.momentum, weight_decay=config.weight_decay,
        )  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_step_epochs, gamma=config.lr_gamma)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.options.amp_dtype == torch.float16)
        self.train_model: nn.Module = model
        if world.size > 1:
            self.train_model = DistributedDataParallel(
                model, device_ids=[device.index] if self.cuda else None,
                forward_sync_buffers=not config.freeze_bn,  # frozen BatchNorm buffers never change
            )  # fmt: skip
        if self.options.compile:
            model.compile_fixed_shape_layers()  # not the whole model: its docstring says why
        if config.shape_grouped:
            self.batch_sampler = ShapeGroupedBatchSampler(
                train_set.sizes, config.batch_size, seed=config.seed, num_replicas=world.size, rank=world.rank
            )
        else:
            self.batch_sampler = EpochBatchSampler(len(train_set), config.batch_size, config.seed, world.size, world.rank)
        fixed_canvas = transform_canvas(train_set.transform, train_set.canvas)  # the side the views fit in
        self.collate = functools.partial(_collate, canvas=None if config.shape_grouped else fixed_canvas)
        self.hooks: list[Hook] = []
        # head_targets="every_theme": end-to-end epochs fit what the head stage fit (each photo's truth under every
        # theme, its own theme weighed own_theme_weight), not the photos' own votes, which would undo the criteria.
        self.every_theme_targets: torch.Tensor | None = None
        self.pair_weights: torch.Tensor | None = None
        if config.head_targets == "every_theme" and config.epochs > 0:
            self.every_theme_targets = self.head_targets  # [N, T, K]
            self.pair_weights = own_theme_pair_weights(dataset_themes(train_set, True), model.num_themes, config.own_theme_weight)
        # State: epochs completed, steps done in the current epoch, per-epoch rows.
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.metrics: dict[str, float] = {}
        self.best_val_emd1 = math.inf
        self.totals = self._zero_totals()
        self.stop_signal: int | None = None
        self.rank_rng: list[dict[str, Any]] | None = None
        # The head stage's validation features (its backbone is frozen): computed at the first validation, then reused.
        self.backbone_frozen = False
        self.frozen_val_features: list[ViewFeatures] | None = None

    # -- the step --------------------------------------------------------------------------------

    def run_step(
        self, images: torch.Tensor, sizes: torch.Tensor, themes: torch.Tensor, target: torch.Tensor, weight: float = 1.0,
        pair_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Forward, loss (eq. 7), backward, optimizer step. Returns the loss (detached).

        target [B, K] under each photo's theme, or [B, T, K] under every theme (``every_theme_targets``), then
        weighted per (photo, theme) pair by ``pair_weights`` [B, T]."""
        every_theme = target.ndim == 3
        with self.options.autocast():
            pred = self.train_model(images, sizes, themes, every_theme=every_theme)
        if every_theme:
            pred, target = pred.flatten(0, 1), target.flatten(0, 1)
            pair_weights = None if pair_weights is None else pair_weights.flatten()
        loss = training_loss(pred.float(), target, r=self.config.emd_r, std_weight=self.config.std_loss_weight, sample_weight=pair_weights)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * weight if weight != 1.0 else loss).backward()
        if not self.scaler.is_enabled():  # a GradScaler skips non-finite steps itself (float16)
            self._check_finite_gradients()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()

    def _check_finite_gradients(self) -> None:
        """Stop before a NaN/inf step would spoil the weights (and every later checkpoint).

        The gradients, unlike the loss, are all-reduced under DDP: every rank raises at the same step.
        One device sync per step, as a GradScaler makes.
        """
        gradients = [p.grad for p in self.model.parameters() if p.grad is not None]
        if gradients and not torch.isfinite(torch.nn.utils.get_total_norm(gradients)):
            precision = str(self.options.amp_dtype).removeprefix("torch.") if self.options.amp_dtype else "float32"
            raise FloatingPointError(
                f"non-finite gradients at epoch {self.epoch + 1}, step {self.step + 1} ({precision}): the model's "
                "outputs or loss overflowed; the weights were not updated and last.pt holds the last saved state. "
                "Try a lower lr_backbone / lr_head, amp: false, or pretrained weights with freeze_bn"
            )

    def _inputs(self, data: dict[str, Any]) -> tuple[torch.Tensor, ...]:
        """Move a batch to the device and apply theme dropout (seeded by seed, epoch, step, rank)."""
        themes = data["theme"]
        if not self.config.use_theme:
            themes = torch.full_like(themes, NO_THEME)
        elif self.config.theme_dropout > 0:
            generator = torch.Generator().manual_seed(seed_of(self.config.seed, self.epoch, self.step, self.world.rank))
            dropped = torch.rand(len(themes), generator=generator) < self.config.theme_dropout
            themes = themes.masked_fill(dropped, NO_THEME)
        batch = data["batch"].to(self.device, non_blocking=True, memory_format=self.options.memory_format)
        target, pair_weights = data["target"], None
        if self.every_theme_targets is not None:
            if "index" in data:
                target, pair_weights = self.every_theme_targets[data["index"]], self.pair_weights[data["index"]]
            else:  # the placeholder batch (weight 0): the right shape is all it needs
                target = target[:, None].expand(-1, self.model.num_themes, -1)
        themes, target = themes.to(self.device, non_blocking=True), target.to(self.device, non_blocking=True)
        return batch.images, batch.sizes, themes, target, None if pair_weights is None else pair_weights.to(self.device)

    def _placeholder(self) -> dict[str, Any]:
        """A one-photo batch of zeros for a DDP rank whose whole batch failed to load (trained with weight 0,
        so every rank still joins the gradient all-reduce)."""
        num_bins = self.model.num_bins
        return {
            "batch": pad_batch([torch.zeros(3, 2 * MIN_SIDE, 2 * MIN_SIDE)], canvas=None),
            "target": torch.full((1, num_bins), 1.0 / num_bins),
            "theme": torch.tensor([NO_THEME]),
        }

    # -- epochs ----------------------------------------------------------------------------------

    def _zero_totals(self) -> dict[str, float]:
        return {"loss_sum": 0.0, "steps": 0, "images": 0, "skipped": 0, "seconds": 0.0}

    @property
    def steps_in_epoch(self) -> int:
        limit = self.config.max_steps_per_epoch
        return len(self.batch_sampler) if limit is None else min(limit, len(self.batch_sampler))

    def running_loss(self) -> float:
        return self._loss_sum.item() / max(1, self._loss_steps)

    def _loader(self) -> DataLoader:
        self.train_set.set_epoch(self.epoch)
        self.batch_sampler.set_epoch(self.epoch)
        return DataLoader(
            self.train_set, batch_sampler=ResumedBatchSampler(self.batch_sampler, self.step, self.config.max_steps_per_epoch),
            collate_fn=self.collate, num_workers=self.num_workers, pin_memory=self.options.pin_memory,
            # Seeds the workers (their base seed); never the global RNG, which dropout layers use.
            generator=torch.Generator().manual_seed(seed_of(self.config.seed, self.epoch, 1)),
            worker_init_fn=init_worker,
        )  # fmt: skip

    def _stop_requested(self) -> int | None:
        if self.world.size == 1:
            return self.stop_signal
        if self.step % STOP_CHECK_STEPS:
            return None  # the all-reduce below syncs the device: only every few steps
        flag = torch.tensor([self.stop_signal or 0], device=self.device if self.cuda else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)  # every rank stops after the same step
        return int(flag.item()) or None

    def run_epoch(self) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        self._loss_sum = torch.tensor(self.totals["loss_sum"], dtype=torch.float64, device=self.device)
        self._loss_steps = int(self.totals["steps"])
        started = time.perf_counter() - self.totals["seconds"]
        if (signum := self._stop_requested()) is not None:
            raise StopRequested(signum)
        for data in self._loader():
            if "batch" in data:
                images, sizes, themes, target, pair_weights = self._inputs(data)
                loss = self.run_step(images, sizes, themes, target, pair_weights=pair_weights)
                self._loss_sum += loss.double()
                self._loss_steps += 1
                self.totals["images"] += len(data["target"])
            elif self.world.size > 1:  # every photo of the batch failed to load, but all ranks must all-reduce
                images, sizes, themes, target, pair_weights = self._inputs(self._placeholder())
                self.run_step(images, sizes, themes, target, weight=0.0, pair_weights=pair_weights)
            self.step += 1
            self.totals["skipped"] += int(data["skipped"])
            self.totals["steps"] = self._loss_steps
            self.totals["loss_sum"] = self._loss_sum  # a device tensor until the epoch ends (no sync per step)
            self.totals["seconds"] = time.perf_counter() - started
            for hook in self.hooks:
                hook.after_step(self)
            if (signum := self._stop_requested()) is not None:
                raise StopRequested(signum)
        totals = self._all_ranks([float(self._loss_sum), self._loss_steps, self.totals["images"], self.totals["skipped"]])
        self.refit_theme_classifier()
        self.history.append({
            "epoch": self.epoch + 1,
            "stage": END_TO_END,
            "train_loss": totals[0] / max(1, totals[1]),
            "lr": lr,
            "seconds": time.perf_counter() - started,
            "images": int(totals[2]),
            "skipped": int(totals[3]),
        })  # fmt: skip
        self.epoch += 1
        self.step = 0
        self.totals = self._zero_totals()
        for hook in self.hooks:
            hook.after_epoch(self)

    def refit_theme_classifier(self) -> None:
        """After an end-to-end epoch, refit p(theme | photo), which weighs the themes of a prediction without one
        (``no_theme="posterior"``), on the fine-tuned backbone's features of the training photos: the head stage
        fit it on the features before fine-tuning, which the backbone no longer makes. One forward pass over the
        training photos (the head stage's views), before the epoch is validated and saved; under DDP every rank
        fits the same classifier on all photos, as in the head stage."""
        model, config = self.model, self.config
        if not model.has_theme_posterior or not any(p.requires_grad for p in model.backbone.parameters()):
            return
        features, loaded = extract_features(
            model, self.train_set, config.head_views, config.batch_size, self.device, self.options, self.num_workers,
            progress=self.progress and self.is_main,
        )  # fmt: skip
        themes = dataset_themes(self.train_set, config.use_theme)
        fit_theme_classifier_on_views(model.theme_classifier, features, loaded, themes, seed=self.head_stage_seed, progress=self.progress and self.is_main)

    def _all_ranks(self, values: list[float]) -> list[float]:
        """Sums over ranks (the values themselves without DDP)."""
        if self.world.size == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device if self.cuda else "cpu")
        dist.all_reduce(tensor)
        return tensor.tolist()

    def validation_metrics(self) -> dict[str, float]:
        """``metrics.evaluate`` of the model on the validation split (call it on every rank). While the
        backbone is frozen (the head stage) its features of the validation photos are computed once and
        every later call runs only the head: the hooks that validate after each head epoch and after
        the stage share one backbone pass."""
        config = self.config
        evaluation = dict(
            batch_size=config.batch_size, device=self.device, tta=config.eval_tta, num_workers=self.num_workers,
            options=self.options, progress=self.progress and self.is_main,
        )  # fmt: skip
        if self.backbone_frozen and self.frozen_val_features is None:
            compute = lambda: list(split_features(self.model, self.val_set, **evaluation))  # noqa: E731
            if config.feature_cache and self.world.size == 1:  # under DDP each rank holds its own share
                fingerprint = evaluation_fingerprint(self.model, self.val_set, config.eval_tta)
                path = cache_path(config.feature_cache, self.val_set, fingerprint)
                self.frozen_val_features = cached_split_features(path, fingerprint, compute, self.device)
            else:
                self.frozen_val_features = compute()
        features = self.frozen_val_features if self.backbone_frozen else None
        pred, target, _ = evaluate_model(self.model, self.val_set, themes=config.use_theme, features=features, **evaluation)
        return evaluate(pred, target)

    @property
    def head_stage_done(self) -> bool:
        return any(row.get("stage") == HEAD_STAGE for row in self.history)

    def run_head_stage(self) -> None:
        """Train the theme branch + head on cached features (``workbench.head_stage``): history row
        ``epoch 0``, validated and saved like an epoch. Deterministic, so a run killed inside it redoes it.
        Under DDP every rank runs it on all photos (no gradient exchange; the same seed gives every
        rank the same head): cheap next to end-to-end epochs, but not split across ranks."""
        self.backbone_frozen = True
        try:
            self._train_head()
        finally:
            self.backbone_frozen, self.frozen_val_features = False, None

    def head_features(self, dataset: AestheticDataset) -> tuple[torch.Tensor, torch.Tensor]:
        """``extract_features`` of ``head_views`` views of each photo, cached under ``out_dir/head_features``
        (``head_stage.cached_features``: a killed or repeated run with the same photos and backbone reads them)."""
        config = self.config
        fingerprint = features_fingerprint(self.model, dataset, config.head_views)
        if config.feature_cache:
            path = cache_path(config.feature_cache, dataset, fingerprint)
        else:
            path = Path(config.out_dir) / "head_features" / f"{dataset.split}-{dataset.transform}.pt"
        compute = lambda: extract_features(  # noqa: E731
            self.model, dataset, config.head_views, config.batch_size, self.device, self.options,
            self.num_workers, progress=self.progress and self.is_main,
        )  # fmt: skip
        return cached_features(path, fingerprint, compute, write=self.is_main)

    def view_training_set(self, view: str) -> AestheticDataset:
        """The training photos as ``view`` sees them, for that view's own head: from the same canvas-fitted
        photo as the model's own view (a 299 crop of it, not of a photo first shrunk to 299)."""
        train_set = self.train_set
        return AestheticDataset(train_set.table, "train", view, train_set.canvas, train=True, augment=train_set.augment, seed=train_set.seed)

    @property
    def head_stage_seed(self) -> int:
        """The seed of the head stage's batches, dropout and theme classifier (and of the classifier's refits)."""
        return seed_of(self.config.seed, 2)

    @functools.cached_property
    def head_targets(self) -> torch.Tensor:
        """The head stage's targets: the photos' own votes ``[N, K]``, or (``head_targets="every_theme"``, the
        synthetic benchmark) their noise-free distributions under every theme ``[N, T, K]``; computed once, for the
        head stage and the end-to-end epochs."""
        if self.config.head_targets == "votes":
            return self.train_set.targets
        if not self.train_set.table.attrs.get("synthetic", False):
            raise ValueError("head_targets='every_theme' needs the synthetic benchmark (its labels know every theme's truth)")
        return torch.from_numpy(truth_under_every_theme(self.train_set.table, self.train_set.theme_names)).float()

    def _stop_in_head_stage(self) -> None:
        """SIGINT / SIGTERM during the head stage: stop after the current head epoch or feature extraction
        (``last.pt`` is saved without the stage; a resume redoes it, its extracted features read from the
        cache). One process only: under DDP the stage runs on every rank unsynchronised, so it ends first."""
        if self.world.size == 1 and self.stop_signal is not None:
            raise StopRequested(self.stop_signal)

    def _train_head(self) -> None:
        config, started = self.config, time.perf_counter()
        head_lr = config.lr_head if config.head_lr is None else config.head_lr
        features, loaded = self.head_features(self.train_set)
        targets, themes = self.head_targets, dataset_themes(self.train_set, config.use_theme)
        fit = functools.partial(
            fit_head, targets=targets, themes=themes, epochs=config.head_epochs, lr=head_lr,
            batch_size=config.batch_size if config.head_batch_size is None else config.head_batch_size,
            momentum=config.momentum, weight_decay=config.weight_decay, theme_dropout=config.theme_dropout,
            emd_r=config.emd_r, seed=self.head_stage_seed, progress=self.progress and self.is_main,
            optimizer=config.head_optimizer, std_weight=config.std_loss_weight, own_theme_weight=config.own_theme_weight,
        )  # fmt: skip
        def after_head_epoch(epoch: int, loss: float) -> None:
            for hook in self.hooks:
                hook.after_head_epoch(self, epoch, loss)
            self._stop_in_head_stage()

        self._stop_in_head_stage()
        losses = fit(self.model, features, loaded, on_epoch=after_head_epoch)
        for view in config.view_head_names:  # each other view's own head, on that view's features of the same photos
            view_features, view_loaded = self.head_features(self.view_training_set(view))
            self._stop_in_head_stage()
            fit(self.model, view_features, view_loaded, view=view, on_epoch=lambda epoch, loss: self._stop_in_head_stage())
        self.history.append({
            "epoch": 0, "stage": HEAD_STAGE, "train_loss": losses[-1], "lr": head_lr,
            "seconds": time.perf_counter() - started, "images": int(loaded.sum()),
            "skipped": int((~loaded).sum()),
        })  # fmt: skip
        for hook in self.hooks:
            hook.after_epoch(self)

    def train(self) -> None:
        for hook in self.hooks:
            hook.before_train(self)
        try:
            if self.config.head_epochs and not self.head_stage_done:
                self.run_head_stage()
            while self.epoch < self.config.epochs:
                self.run_epoch()
        finally:
            for hook in self.hooks:
                hook.after_train(self)

    # -- checkpoints -----------------------------------------------------------------------------

    def sync_rng_states(self) -> None:
        """Collect every rank's RNG state on all ranks (a checkpoint holds them all)."""
        if self.world.size > 1:
            states: list[Any] = [None] * self.world.size
            dist.all_gather_object(states, rng_state(self.device))
            self.rank_rng = states

    def checkpoint_payload(self) -> Checkpoint:
        """Everything to rebuild the model and to resume exactly (plain types and tensors only; the keys
        and their meaning: ``workbench.checkpoints.Checkpoint``)."""
        totals = dict(self.totals)
        totals["loss_sum"] = float(totals["loss_sum"])
        rng = rng_state(self.device)
        if self.world.size > 1 and self.rank_rng is not None:
            rng["ranks"] = self.rank_rng
        dataset = self.train_set
        return {
            "model_args": dict(self.model.model_args),
            "model": self.model.state_dict(),
            "theme_names": list(dataset.theme_names) if self.model.num_themes else [],
            "num_bins": int(dataset.num_bins),
            "data": data_description(dataset.table),
            "config": asdict(self.config),
            "metrics": dict(self.metrics),
            "history": [dict(row) for row in self.history],
            "epoch": self.epoch,
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "canvas": int(dataset.canvas),
            "transform": dataset.transform,
            "progress": {**totals, "best_val_emd1": self.best_val_emd1, "world_size": self.world.size},
        }

    def load_state(self, payload: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint: model, optimizer, schedule, RNG, epoch and step, history."""
        missing = [key for key in ("optimizer", "scheduler", "rng", "progress", "epoch", "step") if key not in payload]
        if missing:
            raise CheckpointError(f"{path}: holds no training state ({', '.join(missing)}; an exported checkpoint?); resume from a run's last.pt")
        saved_world = int(payload["progress"].get("world_size", 1))
        if payload["step"] and saved_world != self.world.size:
            raise CheckpointError(
                f"{path}: saved mid-epoch by {saved_world} process(es); resume it with the same number "
                f"(now {self.world.size}), or from an end-of-epoch checkpoint"
            )
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
            self.scheduler.load_state_dict(payload["scheduler"])
            if payload.get("scaler"):
                self.scaler.load_state_dict(payload["scaler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(f"{path}: cannot resume from this checkpoint: {error}") from None
        self.epoch, self.step = int(payload["epoch"]), int(payload["step"])
        self.history = [dict(row) for row in payload["history"]]
        self.metrics = dict(payload["metrics"])
        progress = dict(payload["progress"])
        self.best_val_emd1 = float(progress.get("best_val_emd1", math.inf))
        self.totals = {key: progress.get(key, value) for key, value in self._zero_totals().items()}
        rng = payload["rng"]
        ranks = rng.get("ranks")
        set_rng_state(ranks[self.world.rank] if ranks and len(ranks) == self.world.size else rng, self.device)

    def result(self, checkpoints: CheckpointHook) -> TrainResult:
        best = checkpoints.best if math.isfinite(self.best_val_emd1) else None
        return TrainResult(pd.DataFrame(self.history), checkpoints.last, best, dict(self.metrics))
