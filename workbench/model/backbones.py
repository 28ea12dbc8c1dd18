"""Backbones: a stem on the padded canvas, ROI pooling over each photo, a body, global pooling.

A small registry (timm style): each backbone is one decorated function returning a ``RoiBackbone``;
``create_backbone(name, **kwargs)`` builds one by name.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import Tensor, nn
from torchvision import models
from torchvision.models.inception import BasicConv2d
from torchvision.ops.misc import FrozenBatchNorm2d

from workbench.data.batching import IMAGENET_MEAN, IMAGENET_STD
from workbench.model.roi import ROI_POOL_REACH, conv_output_sizes, pool_regions, zero_border_strips_

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


def _first_conv(module: nn.Module) -> nn.Conv2d:
    for child in module.modules():
        if isinstance(child, nn.Conv2d):
            return child
    raise ValueError(f"stem layer {module.__class__.__name__} has no Conv2d")


_PER_PIXEL = (nn.BatchNorm2d, FrozenBatchNorm2d)  # may sit between a stem Conv2d and its ReLU


def split_activation(layer: nn.Module) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(pre-activation, ReLU) of a stem layer, so that its padding can be zeroed between the two.

    Built at each call, never stored: the model stays deep-copyable and its state_dict unchanged.
    Only ReLU: the border strips are exact because ReLU(0) = 0 and ReLU passes no gradient where
    it outputs 0 (``zero_border_strips_``).
    """
    if isinstance(layer, BasicConv2d):  # torchvision's Inception block: conv -> bn -> F.relu
        return (lambda x: layer.bn(layer.conv(x))), partial(nn.functional.relu, inplace=True)
    if isinstance(layer, nn.Sequential) and len(layer) >= 2:
        *pre_activation, activation = layer
        if not isinstance(activation, nn.ReLU):
            raise ValueError(
                f"stem layer {layer!r} ends in {activation.__class__.__name__}; stem masking needs nn.ReLU"
            )  # fmt: skip
        if isinstance(pre_activation[0], nn.Conv2d) and all(isinstance(m, _PER_PIXEL) for m in pre_activation[1:]):
            return partial(_apply_in_turn, pre_activation), activation
    raise ValueError(
        f"unsupported stem layer {layer!r}: use nn.Sequential(Conv2d, [BatchNorm2d,] ReLU) or "
        "torchvision's BasicConv2d"
    )  # fmt: skip


def _apply_in_turn(modules: list[nn.Module], x: Tensor) -> Tensor:
    for module in modules:
        x = module(x)
    return x


class ImageNetToInceptionInput(nn.Module):
    """Convert ImageNet-normalised input to the (x - 0.5) / 0.5 input the TF-ported weights expect.

    This is torchvision's ``transform_input=True``: we normalise with the ImageNet mean/std once
    and convert here, never both.
    """

    def __init__(self):
        super().__init__()
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("scale", std / 0.5, persistent=False)
        self.register_buffer("shift", (mean - 0.5) / 0.5, persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        return images * self.scale + self.shift


class RoiBackbone(nn.Module):
    """stem -> ROI pool each photo -> body -> global pool; the stem zeroes the padding it will read.

    stem: layers each ``Conv2d -> [BatchNorm] -> ReLU`` (see ``split_activation``), whose conv
        geometry maps photo sizes (eq. 1).
    body: everything after the replaced first max-pool; sees only pooled ``roi_size^2`` maps, so
        padding never reaches it.

    BatchNorm in the stem (Inception-v3's) in train mode takes its batch statistics over the whole
    canvas, padding included, so there a photo's features do depend on its batch; the paper freezes
    BatchNorm (``build_model(freeze_bn=True)``), which makes the stem exact again.
    """

    def __init__(
        self,
        stem: nn.Sequential,
        body: nn.Module,
        feature_dim: int,
        roi_size: int = 146,
        roi: str = "pool",
        input_transform: nn.Module | None = None,
    ):
        super().__init__()
        self.input_transform = input_transform if input_transform is not None else nn.Identity()
        self.stem = stem
        self.body = body
        self.feature_dim = feature_dim
        self.roi_size = roi_size
        self.roi = roi
        self._geometry = [
            (conv.kernel_size[0], conv.stride[0], conv.padding[0]) for conv in map(_first_conv, stem)
        ]
        for layer in stem:
            split_activation(layer)  # fail now, not at the first forward
        # How far beyond each photo's region the next step reads each stem output.
        self._reaches = [padding for _, _, padding in self._geometry[1:]] + [ROI_POOL_REACH]

    def stem_sizes(self, sizes: Tensor) -> Tensor:
        """Each photo's valid ``(h, w)`` on the stem's output (what the ROI box covers)."""
        for kernel, stride, padding in self._geometry:
            sizes = conv_output_sizes(sizes, kernel, stride, padding)
        return sizes

    def pooled_regions(self, images: Tensor, sizes: Tensor) -> Tensor:
        """Tensor[B, C, roi_size, roi_size]: each photo's stem features, pooled over its own region.

        Before each ReLU, zero the strips beyond each photo's region that the next step reads
        (``zero_border_strips_``): the same features and gradients as zeroing all the padding.
        """
        sizes = sizes.cpu()  # the strips need Python ints: one sync now, before the stem is queued
        x = self.input_transform(images)
        for layer, (kernel, stride, padding), reach in zip(self.stem, self._geometry, self._reaches):
            pre_activation, activation = split_activation(layer)
            x = pre_activation(x)
            sizes = conv_output_sizes(sizes, kernel, stride, padding)
            if reach:  # 0 before a valid convolution: it reads nothing beyond the region
                zero_border_strips_(x, sizes, reach)
            x = activation(x)
        return pool_regions(x, sizes, self.roi_size, self.roi)

    def forward(self, images: Tensor, sizes: Tensor) -> Tensor:
        """images Tensor[B, 3, H, W] (padded), sizes Tensor[B, 2] (h, w) -> features Tensor[B, feature_dim]."""
        x = self.body(self.pooled_regions(images, sizes))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


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
    transform = ImageNetToInceptionInput() if transform_input else None
    return RoiBackbone(stem, body, feature_dim=2048, roi_size=roi_size, roi=roi, input_transform=transform)


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
