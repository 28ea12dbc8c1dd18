"""A training run's settings (``TrainConfig``, the paper's recipe by default).

``TrainConfig`` is a dataclass whose fields carry a comment; it loads from YAML and from command-line
strings (``coerce_field``). The label table a config selects is ``workbench.data.prepare.prepare_table``
(re-exported here).
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import typing
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from workbench.data.augment import AUGMENTS, TRANSFORMS
from workbench.data.batching import MIN_SIDE
from workbench.data.prepare import DATA_SOURCES

__all__ = ["AMP_DTYPES", "DATA_SOURCES", "HEAD_TARGETS", "RESUMABLE_CHANGES", "TrainConfig", "coerce_field"]
from workbench.model.heads import HEAD_TYPES, NO_THEME_MODES
from workbench.model.roi import ROI_MODES

# Fields that may differ between a run and its resume: they change how, not what, is trained.
RESUMABLE_CHANGES = frozenset({
    "epochs", "out_dir", "device", "num_workers", "save_every_steps", "eval_tta",
    "amp", "amp_dtype", "channels_last", "compile", "accelerate_on_cpu",
})  # fmt: skip
AMP_DTYPES = ("auto", "bfloat16", "float16")  # names of torch dtypes; "auto": the device decides (runtime)
COMPACT_MIN_ROI_SIZE = 33  # ceil(roi_size / 2**5) >= 2: the compact body's five stride-2 BatchNorm layers keep > 1 value
HEAD_OPTIMIZERS = ("sgd", "adamw")  # the head stage's optimizers (workbench.head_stage.fit_head)
HEAD_TARGETS = ("votes", "every_theme")  # what the head stage fits (TrainConfig.head_targets)


@dataclass
class TrainConfig:
    """Everything a training run depends on. Defaults are the paper's AVA recipe (Sec. IV-B)."""

    # Data
    data: str = "csv"  # label source: "csv" (a folder with labels.csv, e.g. from `workbench synth`), "ava", "photonet"
    data_root: str = "data/synth"  # csv: the dataset folder; ava/photonet: the folder relative paths below start from
    images_dir: str = "images"  # ava/photonet: folder holding <image_id>.jpg (relative to data_root unless absolute)
    ava_labels: str = "AVA.txt"  # ava: AVA.txt, a TANet/ReLIC .csv or idealo's .json (relative to data_root)
    ava_challenges: str = "challenges.txt"  # ava: challenges.txt, the 1,398 theme names (relative to data_root)
    ava_test_list: str | None = None  # ava: .jpgl of test ids; None = aesthetics_image_lists/generic_test.jpgl beside challenges.txt
    photonet_labels: str = "photonet_dataset.txt"  # photonet: the published label file (relative to data_root)
    val_fraction: float = 0.05  # share of the training photos held out for validation (ava; csv folders without val rows)
    split_seed: int = 0  # seed of the random splits (kept fixed when `seed` changes, so runs share one test set)
    limit_images: int | None = None  # smoke runs: keep at most this many photos of each split (seeded); None = all
    # Model (Sec. III-D)
    backbone: str = "inception_v3"  # "inception_v3" (the paper), "efficientnet_lite0" (pretrained, CPU-sized: the demo) or "compact" (tests)
    pretrained: bool = True  # start from ImageNet weights (the paper): Inception-v3 downloads once into the torch hub cache; EfficientNet-Lite0 reads its installed package
    roi: str = "pool"  # "pool" (ROI pooling, the paper) or "align" (Tables I-II "Align")
    roi_size: int | None = None  # side of the ROI pooling output; None = the backbone's (Inception-v3 146 = 2 x 73, EfficientNet-Lite0 112)
    freeze_bn: bool = True  # fix BatchNorm layers at their pre-trained statistics (batch 16 is too small)
    freeze_stem: bool = False  # keep the full-resolution stem at its pre-trained weights (as Detectron2's FREEZE_AT): fine-tuning then runs the full-resolution part forward only (bench/RESULTS.md section 8: the cost)
    use_theme: bool = True  # feed the photo's theme (AVA challenge) through the theme branch (Sec. III-B)
    theme_dropout: float = 0.1  # probability a training photo's theme is replaced by -1, so one model predicts with and without it
    no_theme: str = "learned"  # predicting without a theme: "learned" (a learned "no theme" vector, trained by theme dropout) or "posterior" (the themes' predictions mixed by p(theme | photo), a classifier fit in the head stage: needs head_epochs >= 1)
    head: str = "concat"  # how the theme enters the head: "concat" (theme feature concatenated, the paper) or "film" (the theme scales and shifts the hidden layer; heads.FilmHead)
    grid_channels: int = 32  # head "film": channels each spatial grid cell is projected to
    head_dropout: float = 0.5  # dropout on the head's input features (the visual feature and, concat head, the theme feature)
    spatial_grid: bool = False  # efficientnet_lite0: add a coarse spatial grid of the last stages to the feature (keeps where things are: composition)
    view_heads: str = ""  # comma-separated other transforms ("resize,resized_pad,crop") that get their own head in the head stage, trained on that view's features (the paper's Table III trains one model per transform)
    # Input (Sec. III-A, IV-B, IV-D)
    canvas: int = 800  # side of the square canvas photos are zero-padded into (larger photos are downscaled to fit)
    transform: str = "full"  # "full" (pad + ROI, the paper) or the 299x299 ablations "resize", "resized_pad", "crop"
    augment: str = "flip_crop"  # "flip_crop" (one of the six views at random, the paper), "flip" or "none"
    shape_grouped: bool = True  # batch photos of similar shape and pad to the batch's largest, not the full canvas
    # Optimisation (Sec. III-C, IV-B)
    head_epochs: int = 0  # first train only the theme branch + head, this many epochs on cached backbone features (workbench.head_stage); 0 = off (the paper)
    head_views: int = 2  # augmented views per training photo whose features the head stage caches
    head_lr: float | None = None  # learning rate of the head stage; None = lr_head
    head_batch_size: int | None = None  # (photo, view) pairs per step of the head stage; None = batch_size (the head is cheap: larger batches cut the steps' overhead)
    std_loss_weight: float = 0.0  # weight of the auxiliary squared error of the distribution's std (losses.std_loss); 0 = the paper's EMD alone
    head_optimizer: str = "sgd"  # head stage: "sgd" (momentum, as the paper) or "adamw" (measured better on cached features: checkpoints/demo.md)
    own_theme_weight: float = 1.0  # head_targets every_theme: each photo's pair with its own theme weighs this many times each other pair (the evaluation asks only that pair); 1 = all alike
    head_targets: str = "votes"  # head stage: "votes" (each photo's own votes, under its own theme: the paper, AVA) or "every_theme" (SYNTHETIC benchmark only: each photo's noise-free vote distribution under every theme, data.synth_truth.truth_under_every_theme)
    epochs: int = 30  # end-to-end training epochs (after the head stage, if any)
    batch_size: int = 16  # photos per step (per process under DDP)
    lr_backbone: float = 1e-3  # SGD learning rate of the convolutional layers
    lr_head: float = 1e-2  # learning rate of the fully connected layers (theme branch + head): 10x
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 1e-4  # SGD weight decay
    lr_step_epochs: int = 10  # the learning rate is multiplied by lr_gamma every this many epochs
    lr_gamma: float = 0.5  # learning rate factor every lr_step_epochs (halved, as in the paper)
    emd_r: float = 2  # r of the EMD training loss, eq. (7)
    seed: int = 0  # seeds the model initialisation, the batch order, augmentation and theme dropout
    # Runtime
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"
    amp: bool = True  # mixed precision (autocast) on CUDA; on CPU only with accelerate_on_cpu
    amp_dtype: str = "auto"  # "auto" (bfloat16 where the device has it natively, else float16 + GradScaler), "bfloat16", "float16"
    channels_last: bool = True  # channels-last memory format (faster convolutions on CUDA); on CPU only with accelerate_on_cpu
    compile: bool = False  # torch.compile the backbone's body (after ROI pooling); on CPU only with accelerate_on_cpu
    accelerate_on_cpu: bool = False  # apply amp, channels_last and compile on CPU too (checks those paths without a GPU)
    num_workers: int = 4  # DataLoader worker processes decoding photos (0 = in the training process)
    eval_tta: bool = False  # validate on the average over the test views (six for full), not the single view
    out_dir: str = "runs/default"  # where last.pt, best.pt, config.yaml and history.csv go
    feature_cache: str | None = None  # a folder of frozen-backbone features shared between runs (feature_cache.py: the ablation's variants and seeds reuse each other's validation, test and training features); None: out_dir/head_features
    max_steps_per_epoch: int | None = None  # smoke runs: stop each epoch after this many steps; None = whole epoch
    save_every_steps: int | None = None  # also write last.pt every this many steps (besides every epoch); None = per epoch

    def __post_init__(self):
        _check_choice("data", self.data, DATA_SOURCES)
        _check_choice("transform", self.transform, TRANSFORMS)
        _check_choice("augment", self.augment, AUGMENTS)
        _check_choice("roi", self.roi, ROI_MODES)
        _check_choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        _check_choice("head_optimizer", self.head_optimizer, HEAD_OPTIMIZERS)
        _check_choice("head_targets", self.head_targets, HEAD_TARGETS)
        _check_choice("head", self.head, HEAD_TYPES)
        unknown_views = [view for view in self.view_head_names if view not in TRANSFORMS or view == self.transform]
        if unknown_views:
            raise ValueError(f"config: view_heads must name transforms from {TRANSFORMS} other than transform={self.transform!r}, got {unknown_views}")
        if (self.view_heads or self.head_targets != "votes") and self.head_epochs < 1:
            raise ValueError("config: view_heads and head_targets='every_theme' are trained in the head stage: set head_epochs >= 1")
        if self.view_heads and self.epochs > 0:
            # The views share one backbone: end-to-end epochs fine-tune it on this config's view, and the other
            # views' heads, fit on the frozen features, would then predict features they never saw.
            raise ValueError(
                f"config: view_heads ({self.view_heads}) are fit on the frozen backbone's features in the head stage; "
                f"epochs={self.epochs} would then fine-tune the backbone they share under them: set epochs 0 or view_heads ''"
            )  # fmt: skip
        if self.head_targets == "every_theme" and not self.use_theme:
            raise ValueError("config: head_targets='every_theme' needs use_theme=true")
        if self.spatial_grid and self.backbone != "efficientnet_lite0":
            raise ValueError(f"config: spatial_grid is an option of the efficientnet_lite0 backbone, not {self.backbone!r}")
        if self.grid_channels < 1:
            raise ValueError(f"config: grid_channels must be >= 1, got {self.grid_channels}")
        for name in ("batch_size", "lr_step_epochs", "head_views"):
            if getattr(self, name) < 1:
                raise ValueError(f"config: {name} must be >= 1, got {getattr(self, name)}")
        if self.roi_size is not None and self.roi_size < 1:
            raise ValueError(f"config: roi_size must be >= 1 or None (the backbone's default), got {self.roi_size}")
        if self.head_epochs < 0 or self.epochs < 0 or self.epochs + self.head_epochs < 1:
            raise ValueError(f"config: epochs and head_epochs must be >= 0, and one of them >= 1; got {self.epochs}, {self.head_epochs}")
        for name in ("limit_images", "max_steps_per_epoch", "save_every_steps", "head_batch_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"config: {name} must be >= 1 or None, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"config: num_workers must be >= 0, got {self.num_workers}")
        for name in ("lr_backbone", "lr_head", "lr_gamma", "head_lr", "momentum", "weight_decay"):
            value = getattr(self, name, None)
            if value is not None and not (math.isfinite(value) and value >= 0):  # NaN fails every comparison: check it by name
                raise ValueError(f"config: {name} must be a finite number >= 0, got {value}")
        if self.backbone == "compact" and self.roi_size is not None and self.roi_size < COMPACT_MIN_ROI_SIZE:
            raise ValueError(
                f"config: the compact backbone needs roi_size >= {COMPACT_MIN_ROI_SIZE}, got {self.roi_size} (its body halves "
                "the pooled map five times; below that the last BatchNorm sees one value per channel on a batch of one)"
            )
        if not self.std_loss_weight >= 0:
            raise ValueError(f"config: std_loss_weight must be >= 0, got {self.std_loss_weight}")
        if not self.own_theme_weight > 0:
            raise ValueError(f"config: own_theme_weight must be > 0, got {self.own_theme_weight}")
        if self.own_theme_weight != 1 and self.head_targets != "every_theme":
            raise ValueError("config: own_theme_weight weighs the pairs of head_targets='every_theme'; with the photos' own votes it would do nothing")
        _check_choice("no_theme", self.no_theme, NO_THEME_MODES)
        if self.no_theme == "posterior" and not (self.use_theme and self.head_epochs >= 1):
            raise ValueError("config: no_theme='posterior' needs use_theme=true and head_epochs >= 1 (the head stage fits the theme classifier)")
        if not 0 <= self.head_dropout < 1:
            raise ValueError(f"config: head_dropout must be in [0, 1), got {self.head_dropout}")
        if not 0 <= self.theme_dropout < 1:
            raise ValueError(f"config: theme_dropout must be in [0, 1), got {self.theme_dropout}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"config: val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.canvas < MIN_SIDE:
            raise ValueError(f"config: canvas must be >= {MIN_SIDE}, got {self.canvas}")
        if self.emd_r < 1:
            raise ValueError(f"config: emd_r must be >= 1, got {self.emd_r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"config: device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.freeze_stem and not self.pretrained:
            warnings.warn("config: freeze_stem=True with pretrained=False keeps the stem at its random initialisation", stacklevel=3)
        if self.freeze_bn and not self.pretrained:
            warnings.warn(
                "config: freeze_bn=True with pretrained=False freezes BatchNorm at its initial statistics "
                "(mean 0, variance 1), so activations grow layer after layer (~1e12 through Inception-v3); "
                "use freeze_bn=false when training from scratch", stacklevel=3,
            )  # fmt: skip

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build a config from plain values (YAML, CLI); unknown keys are an error naming close matches."""
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = [key for key in values if key not in known]
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6) or [k for k in known if str(key) in k][:3]
                hints.append(f"{key!r}" + (f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""))
            raise ValueError(f"unknown config key(s) {', '.join(hints)}; known keys: {', '.join(known)}")
        types = typing.get_type_hints(cls)
        return cls(**{key: coerce_field(key, types[key], value) for key, value in values.items()})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides) -> "TrainConfig":
        """Read a YAML file of config fields, then apply ``overrides``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
        try:
            return cls.from_dict({**values, **overrides})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from None

    @property
    def view_head_names(self) -> list[str]:
        """``view_heads`` as a list of transform names."""
        return [name.strip() for name in self.view_heads.split(",") if name.strip()]

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The config as YAML text; written to ``path`` when given."""
        text = yaml.safe_dump(asdict(self), sort_keys=False)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
        return text


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"config: {name} must be one of {', '.join(choices)}, got {value!r}")


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def coerce_field(name: str, annotation: Any, value: Any) -> Any:
    """Convert a YAML/CLI value to a field's type (``"1e-3"`` -> 0.001, ``"none"`` -> None, ``"false"`` -> False)."""
    args = typing.get_args(annotation)
    optional = type(None) in args
    kind = next((a for a in args if a is not type(None)), annotation) if args else annotation
    if value is None or (optional and isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        if optional:
            return None
        raise ValueError(f"config: {name} cannot be None (expected {kind.__name__})")
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    value = float(value)  # "1e3"
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return str(value)
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"config: {name} must be {'an' if kind is int else 'a'} {kind.__name__}"
                         f"{' or None' if optional else ''}, got {value!r}") from None  # fmt: skip
    return value
