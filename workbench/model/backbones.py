"""Backbones: a stem on the padded canvas, ROI pooling over each photo, a body, global pooling.

A small registry (timm style): each backbone is one decorated function returning a ``RoiBackbone``;
``create_backbone(name, **kwargs)`` builds one by name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn
from torchvision import models
from torchvision.models.inception import BasicConv2d
from torchvision.ops.misc import FrozenBatchNorm2d

from workbench.data.batching import IMAGENET_MEAN, IMAGENET_STD
from workbench.model.roi import (
    ROI_POOL_REACH, conv_output_sizes, fill_padding, mask_padding, pool_regions, zero_border_strips_,
)  # fmt: skip

_REGISTRY: dict[str, Callable[..., "RoiBackbone"]] = {}


def register_backbone(fn: Callable[..., "RoiBackbone"]) -> Callable[..., "RoiBackbone"]:
    """Register ``fn`` under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def create_backbone(name: str, **kwargs) -> "RoiBackbone":
    """Build the backbone registered as ``name`` with keyword arguments."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(list_backbones())}")
    return _REGISTRY[name](**kwargs)


def backbone_defaults(name: str) -> dict[str, int]:
    """The sizes a backbone declares for itself: ``roi_size`` (the method) and ``baseline_roi_size``
    (the 299x299 ablation baselines). Builds it without weights (no download)."""
    backbone = create_backbone(name)
    return {"roi_size": backbone.roi_size, "baseline_roi_size": backbone.baseline_roi_size}


def first_conv(module: nn.Module) -> nn.Conv2d:
    for child in module.modules():
        if isinstance(child, nn.Conv2d):
            return child
    raise ValueError(f"stem layer {module.__class__.__name__} has no Conv2d")


class PadAfterConv2d(nn.Conv2d):
    """A Conv2d zero-padded only after (bottom, right): TF "SAME" on even inputs, whatever the parity.

    TF's SAME padding of a stride-2 3x3 convolution is (0 before, 1 after) on even sizes but (1, 1) on
    odd ones, so a photo alone on a canvas of its own odd size would be sampled on a grid shifted by
    one pixel from the same photo in an even canvas (batch variance). A fixed (0, 1) is independent
    of the canvas and equals SAME on the even inputs TF-ported weights were trained on.
    """

    def __init__(self, *args, padding_after: int = 1, **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.padding_after = padding_after

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        # Conv2d's hook for its weights: overriding it (not forward) lets folded weights pad too.
        return super()._conv_forward(nn.functional.pad(x, (0, self.padding_after, 0, self.padding_after)), weight, bias)


class ConvGeometry(NamedTuple):
    """A stem convolution's arithmetic (eq. 1 without rounding): square kernel, stride, padding."""

    kernel: int
    stride: int
    padding: int  # zeros before (top, left)
    padding_after: int  # zeros after (bottom, right): how far it reads beyond a photo's region

    @classmethod
    def of(cls, conv: nn.Conv2d) -> "ConvGeometry":
        if isinstance(conv.padding, str) or conv.kernel_size[0] != conv.kernel_size[1] or conv.dilation != (1, 1):
            raise ValueError(f"stem convolution {conv!r}: use square kernels, integer padding and no dilation")
        padding = conv.padding[0]
        return cls(conv.kernel_size[0], conv.stride[0], padding, getattr(conv, "padding_after", padding))

    def output_sizes(self, sizes: Tensor) -> Tensor:
        return conv_output_sizes(sizes, self.kernel, self.stride, self.padding, self.padding_after)


# Per-pixel layers that may sit between a stem Conv2d and its activation.
_PER_PIXEL = (nn.BatchNorm2d, FrozenBatchNorm2d)
# Activations whose border strips may be zeroed in place on the pre-activation (``zero_border_strips_``):
# f(0) = 0 and no gradient where the input is exactly 0.
ZERO_PRESERVING = (nn.ReLU, nn.ReLU6)


def split_activation(layer: nn.Module) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor] | None]:
    """(pre-activation, activation) of a stem layer, so that its padding can be zeroed between the two.

    The activation is ``None`` for a linear layer (a projection ending a block): its output's strips
    are then masked out of place (``RoiBackbone.pooled_regions`` says why). A convolution followed by
    a frozen BatchNorm runs as one convolution with folded weights (``conv_with_folded_bn``). Built at
    each call, never stored: the model stays deep-copyable and its state_dict unchanged.
    """
    if isinstance(layer, BasicConv2d):  # torchvision's Inception block: conv -> bn -> F.relu
        if isinstance(layer.bn, FrozenBatchNorm2d):
            return partial(conv_with_folded_bn, layer.conv, layer.bn), partial(nn.functional.relu, inplace=True)
        return (lambda x: layer.bn(layer.conv(x))), partial(nn.functional.relu, inplace=True)
    if isinstance(layer, nn.Sequential) and isinstance(layer[0], nn.Conv2d):
        *pre_activation, last = layer
        activation = None
        if isinstance(last, ZERO_PRESERVING):
            activation = last
        elif not isinstance(last, (*_PER_PIXEL, nn.Conv2d, nn.Identity)):
            raise ValueError(
                f"stem layer {layer!r} ends in {last.__class__.__name__}; stem masking needs "
                f"{' or '.join(a.__name__ for a in ZERO_PRESERVING)}, or no activation"
            )  # fmt: skip
        else:
            pre_activation.append(last)
        pre_activation = [m for m in pre_activation if not isinstance(m, nn.Identity)]
        if len(pre_activation) == 2 and isinstance(pre_activation[1], FrozenBatchNorm2d):
            return partial(conv_with_folded_bn, *pre_activation), activation
        if all(isinstance(m, _PER_PIXEL) for m in pre_activation[1:]):
            return partial(_apply_in_turn, pre_activation), activation
    raise ValueError(
        f"unsupported stem layer {layer!r}: use nn.Sequential(Conv2d, [BatchNorm2d,] [ReLU / ReLU6]) or "
        "torchvision's BasicConv2d"
    )  # fmt: skip


def conv_with_folded_bn(conv: nn.Conv2d, bn: FrozenBatchNorm2d, x: Tensor) -> Tensor:
    """``bn(conv(x))`` as one convolution: the frozen BatchNorm's affine folded into the weights.

    Why: at full resolution the stem's frozen BatchNorm is two more passes over the largest map of the
    network (a multiply, then an add, and their backward); folded, it costs a per-channel scale of a
    3x3 kernel. Gradients still reach ``conv.weight`` (through the scale); the BN's buffers stay frozen.
    """
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return conv._conv_forward(x, conv.weight * scale.view(-1, 1, 1, 1), bias)


def _apply_in_turn(modules: list[nn.Module], x: Tensor) -> Tensor:
    for module in modules:
        x = module(x)
    return x


class ImageNetToHalfRangeInput(nn.Module):
    """Convert ImageNet-normalised input to the (x - 0.5) / 0.5 input that TF-ported weights expect.

    This is torchvision's Inception ``transform_input=True`` (and timm's ``tf_efficientnet_lite0``
    mean/std): we normalise with the ImageNet mean/std once and convert here, never both. It maps the
    canvas's zero padding to a non-zero value, so a backbone whose first convolution reads beyond a
    photo zeroes that strip again (``RoiBackbone.pooled_regions``).
    """

    def __init__(self):
        super().__init__()
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("scale", std / 0.5, persistent=False)
        self.register_buffer("shift", (mean - 0.5) / 0.5, persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        return images * self.scale + self.shift


@dataclass
class BackboneTrace:
    """Every stage of one forward pass of a ``RoiBackbone`` (``RoiBackbone.trace``), for figures and
    explanations: the tensors themselves, still in the autograd graph when traced with gradients.

    canvas (Tensor[B, 3, H, W]): the padded input as the stem's first convolution reads it (after the
        input transform, its reach beyond each photo zeroed).
    sizes (Tensor[B, 2]): each photo's (h, w) on the canvas.
    stem (list of Tensor[B, C_i, H_i, W_i]): each stem layer's output at full resolution, activated (the
        last one too: a trace activates it before ROI max pooling, which gives the same pooled map as
        ``activate_after_max_pooling``); beyond the strips the next step reads, the padding holds
        whatever the stem made of it.
    stem_sizes (list of Tensor[B, 2]): each photo's (h, w) on each stem output (the ROI box on the last).
    pooled (Tensor[B, C, roi_size, roi_size]): each photo's region of the last stem map, ROI-pooled
        (``pooled_regions``): what the body sees.
    stages (list of (name, Tensor[B, C_j, h_j, w_j])): the body's stages in turn (``MultiLevelBody``'s
        stages, or the children of a sequential body).
    features (Tensor[B, feature_dim]): the visual feature, as ``forward`` returns it.
    """

    canvas: Tensor
    sizes: Tensor
    stem: list[Tensor]
    stem_sizes: list[Tensor]
    pooled: Tensor
    stages: list[tuple[str, Tensor]]
    features: Tensor


class RoiBackbone(nn.Module):
    """stem -> ROI pool each photo -> body -> global pool; the stem zeroes the padding it will read.

    stem: the layers that see the full-resolution canvas, each ``Conv2d -> [BatchNorm] ->
        [ReLU / ReLU6]`` (see ``split_activation``), whose conv geometry maps photo sizes (eq. 1).
    body: everything after the replaced first downsampling; sees only pooled ``roi_size^2`` maps,
        so padding never reaches it.
    rebuild_args: keyword arguments of the registered function that a checkpoint must record to
        rebuild this backbone without its pretrained weights (e.g. Inception's ``transform_input``).
    baseline_roi_size: the ROI side for the ablation's 299x299 baselines (resize, resized pad, crop):
        what the unmodified network's first downsampling gives a 299 input (Inception: 147 -> 73).

    BatchNorm in the stem (Inception-v3's, EfficientNet-Lite0's) in train mode takes its batch
    statistics over the whole canvas, padding included, so there a photo's features do depend on its
    batch; the paper freezes BatchNorm (``build_model(freeze_bn=True)``), which makes the stem exact.
    """

    def __init__(
        self,
        stem: nn.Sequential,
        body: nn.Module,
        feature_dim: int,
        roi_size: int = 146,
        roi: str = "pool",
        input_transform: nn.Module | None = None,
        rebuild_args: dict | None = None,
        baseline_roi_size: int = 73,
        feature_layout: list[tuple[str, int, int]] | None = None,
    ):
        super().__init__()
        self.input_transform = input_transform if input_transform is not None else nn.Identity()
        self.stem = stem
        self.body = body
        self.feature_dim = feature_dim
        self.roi_size = roi_size
        self.roi = roi
        self.rebuild_args = dict(rebuild_args or {})
        self.baseline_roi_size = baseline_roi_size
        # The feature's parts (``MultiLevelBody.layout``): one global vector unless the body adds spatial grids.
        self.feature_layout = list(feature_layout) if feature_layout else [("global", feature_dim, 1)]
        if sum(size * side * side for _, size, side in self.feature_layout) != feature_dim:
            raise ValueError(f"feature_layout {self.feature_layout} does not add up to feature_dim {feature_dim}")
        self._geometry = [ConvGeometry.of(first_conv(layer)) for layer in stem]
        for layer in stem:
            split_activation(layer)  # fail now, not at the first forward
        # How far beyond each photo's region the next step reads each stem output, and the input.
        self._reaches = [geometry.padding_after for geometry in self._geometry[1:]] + [ROI_POOL_REACH]
        self._input_reach = 0 if isinstance(self.input_transform, nn.Identity) else self._geometry[0].padding_after

    def stem_sizes(self, sizes: Tensor) -> Tensor:
        """Each photo's valid ``(h, w)`` on the stem's output (what the ROI box covers)."""
        for geometry in self._geometry:
            sizes = geometry.output_sizes(sizes)
        return sizes

    # The stem's last activation (ReLU / ReLU6) runs on the ROI-max-pooled map instead of the full-resolution
    # one: both are non-decreasing, so max(f(x)) = f(max(x)) over every bin, and f >= f(0) = 0 keeps the
    # zeroed strips as harmless as before. The same features and gradients (but at ties), and one fewer
    # full-resolution pass forward and backward (bench/RESULTS.md section 8). False: the plain order.
    activate_after_max_pooling = True

    def pooled_regions(self, images: Tensor, sizes: Tensor) -> Tensor:
        """Tensor[B, C, roi_size, roi_size]: each photo's stem features, pooled over its own region.

        Before each ReLU / ReLU6, zero the strips beyond each photo's region that the next step reads
        (``zero_border_strips_``): the same features and gradients as zeroing all the padding. A
        linear layer (no activation) is filled out of place instead, since its output is signed: in
        place, the gradient would flow into overwritten values; and ROI max pooling, which can read one
        pixel beyond a region, must find -inf there, not a zero that beats a border bin's negatives. The input transform's output is re-zeroed where the first convolution reads beyond.
        """
        return self._stem_and_pool(images, sizes, None)

    def _stem_and_pool(self, images: Tensor, sizes: Tensor, record: BackboneTrace | None) -> Tensor:
        """``pooled_regions``, filling ``record``'s canvas and stem maps when given (``trace``): the stem
        runs its layers itself (between pre-activation and activation; a frozen BatchNorm folded into its
        convolution), so module hooks cannot see them and this is where they are recorded."""
        sizes = sizes.cpu()  # the strips need Python ints: one sync now, before the stem is queued
        x = self.input_transform(images)
        if self._input_reach:
            zero_border_strips_(x, sizes, self._input_reach)  # the images need no gradient
        if record is not None:
            record.canvas = x
        after_pooling = None
        for layer, geometry, reach in zip(self.stem, self._geometry, self._reaches):
            pre_activation, activation = split_activation(layer)
            x = pre_activation(x)
            sizes = geometry.output_sizes(sizes)
            ends_stem = layer is self.stem[-1] and self.roi == "pool"
            if activation is None:
                if reach:  # out of place; before ROI max pooling -inf, not 0 (fill_padding says why)
                    x = fill_padding(x, sizes.to(x.device), -math.inf) if ends_stem else mask_padding(x, sizes.to(x.device))
            else:
                if reach:  # 0 before a valid convolution: it reads nothing beyond the region
                    zero_border_strips_(x, sizes, reach)
                if ends_stem and self.activate_after_max_pooling and record is None:
                    after_pooling = activation
                else:  # a trace keeps the activated map, so it runs in the plain order (the same features)
                    x = activation(x)
            if record is not None:
                record.stem.append(x)
                record.stem_sizes.append(sizes.clone())
        pooled = pool_regions(x, sizes, self.roi_size, self.roi)
        return pooled if after_pooling is None else after_pooling(pooled)

    def forward(self, images: Tensor, sizes: Tensor) -> Tensor:
        """images Tensor[B, 3, H, W] (padded), sizes Tensor[B, 2] (h, w) -> features Tensor[B, feature_dim]."""
        return self._body_features(self.pooled_regions(images, sizes))

    def _body_features(self, pooled: Tensor) -> Tensor:
        x = self.body(pooled)
        return x if x.ndim == 2 else torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    def body_stages(self) -> list[tuple[str, nn.Module]]:
        """The body's stages, named: ``MultiLevelBody``'s ``stages``, else the children of the body."""
        stages = getattr(self.body, "stages", None)
        modules = self.body.named_children() if stages is None else ((f"stages.{i}", stage) for i, stage in enumerate(stages))
        return list(modules)

    def trace(self, images: Tensor, sizes: Tensor) -> BackboneTrace:
        """One forward pass, every stage kept (``BackboneTrace``): the documented way to observe the
        backbone (figures, heat maps), whatever the stem's BatchNorm (folded when frozen) or the input
        transform. ``trace(...).features`` equals ``forward(images, sizes)``; gradients flow through
        every kept tensor when traced under ``torch.enable_grad``.

        images Tensor[B, 3, H, W] (padded), sizes Tensor[B, 2] (h, w).
        """
        record = BackboneTrace(images, sizes.cpu(), [], [], images, [], images)
        record.pooled = self._stem_and_pool(images, sizes, record)
        hooks = [
            module.register_forward_hook(lambda _module, _inputs, output, name=name: record.stages.append((name, output)))
            for name, module in self.body_stages()
        ]  # the body runs its stages as modules: hooks see them
        try:
            record.features = self._body_features(record.pooled)
        finally:
            for hook in hooks:
                hook.remove()
        return record


class MultiLevelBody(nn.Module):
    """Stages run in turn; the feature is every level's global average, concatenated (its input's too),
    then, optionally, a coarse spatial grid of some levels.

    Why: an aesthetic score rests on low-level statistics (grain, sharpness, exposure, colour) as much
    as on content; global averages of early maps keep them, where the last ImageNet layer has
    abstracted them away (multi-level spatially pooled features, Hosu et al., CVPR 2019). A global
    average throws away *where* things are, which composition (rule of thirds, symmetry) is about:
    ``grids`` maps a level (0 = the input map, i = the output of stage i) to a side ``n``, and that
    level's map is also average-pooled to ``n x n`` cells (``adaptive_avg_pool2d``) and appended,
    channels first. The ROI-pooled map is the whole photo stretched to a square, so a cell is the same
    fraction of every photo's frame. Each map is ``roi_size``-derived, so the padding never reaches any level.
    """

    def __init__(self, stages: list[nn.Module], grids: dict[int, int] | None = None):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.grids = dict(sorted((grids or {}).items()))
        if any(not 0 <= level <= len(stages) or side < 1 for level, side in self.grids.items()):
            raise ValueError(f"grids: levels must be in [0, {len(stages)}] and sides >= 1, got {self.grids}")

    def forward(self, x: Tensor) -> Tensor:
        levels, cells = [x.mean(dim=(2, 3))], []
        if 0 in self.grids:
            cells.append(torch.flatten(nn.functional.adaptive_avg_pool2d(x, self.grids[0]), 1))
        for level, stage in enumerate(self.stages, start=1):
            x = stage(x)
            levels.append(x.mean(dim=(2, 3)))
            if level in self.grids:
                cells.append(torch.flatten(nn.functional.adaptive_avg_pool2d(x, self.grids[level]), 1))
        return torch.cat(levels + cells, dim=1)

    def level_channels(self, input_channels: int) -> list[int]:
        """Channels of each level of the global feature, in order: the input map's, then each stage's output."""
        training, channels = self.training, [input_channels]
        try:
            with torch.no_grad():
                x = torch.zeros(1, input_channels, 32, 32)
                for stage in self.eval().stages:
                    x = stage(x)
                    channels.append(x.shape[1])
        finally:
            self.train(training)
        return channels

    def layout(self, input_channels: int) -> list[tuple[str, int, int]]:
        """The feature's parts in order: ``("global", dim, 1)`` then ``("grid", channels, side)`` per grid
        level (``channels * side**2`` values, channel-major): what a head needs to treat cells alike."""
        channels = self.level_channels(input_channels)
        return [("global", sum(channels), 1)] + [("grid", channels[level], side) for level, side in self.grids.items()]


@register_backbone
def inception_v3(roi_size: int = 146, roi: str = "pool", pretrained: bool = False, transform_input: bool | None = None) -> RoiBackbone:
    """torchvision's Inception-v3 with ``maxpool1`` replaced by ROI pooling (section III-D).

    pretrained: load torchvision's ImageNet weights through its weights API (downloads once into
        the torch hub cache; never called in tests).
    transform_input: convert ImageNet-normalised input for the TF-ported weights; defaults to
        ``pretrained``, and is recorded in checkpoints so a fine-tuned model rebuilds identically.
    """
    weights = models.Inception_V3_Weights.IMAGENET1K_V1 if pretrained else None
    net = models.inception_v3(weights=weights, aux_logits=pretrained, init_weights=not pretrained)
    stem = nn.Sequential(net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3)
    body = nn.Sequential(
        net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, net.maxpool2,
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c,
        net.Mixed_6d, net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
    )  # fmt: skip
    if transform_input is None:
        transform_input = pretrained
    transform = ImageNetToHalfRangeInput() if transform_input else None
    return RoiBackbone(
        stem, body, feature_dim=2048, roi_size=roi_size, roi=roi, input_transform=transform,
        rebuild_args={"transform_input": transform_input},
    )  # fmt: skip


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@register_backbone
def compact(roi_size: int = 146, roi: str = "pool", width: int = 16, pretrained: bool = False) -> RoiBackbone:
    """Inception-v3's topology at under 1M parameters, for CPU training, tests and the demo.

    The stem has Inception's geometry (3x3 stride 2 valid, 3x3 valid, 3x3 padded) but no
    normalisation, so training-mode batch statistics never see padding; BatchNorm lives only in
    the body, after ROI pooling.
    """
    if pretrained:
        raise ValueError("the compact backbone has no pretrained weights; use pretrained=False")
    stem = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, width // 2, 3, stride=2), nn.ReLU(inplace=True)),
        nn.Sequential(nn.Conv2d(width // 2, width, 3), nn.ReLU(inplace=True)),
        nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)),
    )
    channels = [width, 2 * width, 4 * width, 6 * width, 8 * width, 12 * width]
    body = nn.Sequential(
        *[_conv_bn_relu(c_in, c_out, stride=2) for c_in, c_out in zip(channels, channels[1:])],
        nn.Conv2d(channels[-1], 16 * width, 1),
        nn.ReLU(inplace=True),
    )
    return RoiBackbone(stem, body, feature_dim=16 * width, roi_size=roi_size, roi=roi)
