"""The model: ROI geometry, padding invariance, theme branch, frozen BatchNorm, overfitting."""
import copy
import math
from functools import partial

import pytest
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

import workbench.model.backbones as backbones
from workbench.data.batching import pad_batch
from workbench.losses import emd_loss
from workbench.model.roi import fill_padding
from workbench.model import (
    NO_THEME, RoiBackbone, build_model, conv_output_sizes, list_backbones, mask_padding, pool_regions, roi_boxes,
    valid_mask,
)  # fmt: skip


def calibrated(model: nn.Module, canvas: int = 160) -> nn.Module:
    """Give randomly initialised BatchNorm layers realistic running statistics, then eval mode.

    A freshly initialised Inception-v3 in eval mode (running mean 0, var 1) blows activations up to
    ~1e10, which would make any absolute tolerance meaningless.
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        images = torch.randn(4, 3, canvas, canvas)
        model(images, torch.full((4, 2), canvas))
    return model.eval()


SIZES = [(301, 457), (517, 233), (64, 99), (800, 800), (17, 16)]
# Every registered backbone, pretrained where its weights ship offline (Inception-v3's download is never
# made in tests): the backbone contract below holds for each.
BACKBONE_CASES = [("compact", False), ("inception_v3", False), ("efficientnet_lite0", False), ("efficientnet_lite0", True)]


def contract_model(backbone: str, pretrained: bool, **kwargs) -> nn.Module:
    """A model in eval mode with realistic BatchNorm statistics (ImageNet's, or calibrated)."""
    model = build_model(backbone, pretrained=pretrained, freeze_bn=pretrained, **kwargs)
    return model.eval() if pretrained else calibrated(model)


def test_every_registered_backbone_is_covered_by_the_contract_tests():
    assert {name for name, _ in BACKBONE_CASES} == set(list_backbones())


def alone_and_batched(model, themes):
    torch.manual_seed(1)
    photos = [torch.randn(3, h, w) for h, w in SIZES]
    with torch.no_grad():
        batch = pad_batch(photos, canvas=800)
        batched = model(batch.images, batch.sizes, themes)
        alone = torch.cat([
            model(photo[None], torch.tensor([photo.shape[1:]]), themes[i : i + 1]) for i, photo in enumerate(photos)
        ])  # fmt: skip
    return batched, alone


@pytest.mark.parametrize(("backbone", "pretrained"), BACKBONE_CASES)
@pytest.mark.parametrize("roi", ["pool", "align"])
def test_prediction_does_not_depend_on_batch_mates_or_padding(backbone, pretrained, roi):
    torch.manual_seed(0)
    model = contract_model(backbone, pretrained, num_bins=10, num_themes=3, roi=roi)
    themes = torch.tensor([0, NO_THEME, 2, 1, 0])
    batched, alone = alone_and_batched(model, themes)
    assert (batched - alone).abs().max().item() <= 1e-4
    # The predictions are not trivially uniform, so the comparison above has teeth.
    assert batched.std(dim=1).min().item() > 1e-3


def test_without_stem_masking_padding_leaks_into_the_prediction(monkeypatch):
    torch.manual_seed(0)
    model = calibrated(build_model("compact", num_bins=10))
    monkeypatch.setattr(backbones, "zero_border_strips_", lambda features, sizes, reach: features)
    photos = [torch.rand(3, 120, 90) * 3, torch.rand(3, 200, 200) * 3]
    with torch.no_grad():
        batch = pad_batch(photos, canvas=256)
        batch.images[:, :, :, :] += (batch.images == 0) * 2.0  # padding made visible if it leaks
        batched = model.features(batch.images, batch.sizes)
        alone = model.features(photos[0][None], torch.tensor([[120, 90]]))
    assert (batched[0] - alone[0]).abs().max().item() > 1e-4


def full_mask_pooled_regions(self, images, sizes):
    """The reference ``RoiBackbone.pooled_regions``: ``mask_padding`` after each whole stem layer."""
    x = mask_padding(self.input_transform(images), sizes)  # zero padding in the network's input space
    for layer, geometry in zip(self.stem, self._geometry):
        sizes = geometry.output_sizes(sizes)
        x = mask_padding(layer(x), sizes)
    if backbones.split_activation(self.stem[-1])[1] is None and self.roi == "pool":
        x = fill_padding(x, sizes, -math.inf)  # a signed stem output: padding must never win a max
    return pool_regions(x, sizes, self.roi_size, self.roi)


def small_batch(seed: int = 0):
    """Three photos of odd sizes on a 96 canvas, and target distributions for them."""
    generator = torch.Generator().manual_seed(seed)
    photos = [torch.randn(3, h, w, generator=generator) for h, w in [(96, 71), (62, 96), (41, 34)]]
    targets = torch.softmax(torch.randn(3, 10, generator=generator), dim=1)
    return pad_batch(photos, canvas=96), targets


def features_and_gradients(model, batch, targets):
    """Features Tensor[B, D] and all parameter gradients of the EMD loss, flattened."""
    model.zero_grad(set_to_none=True)
    features = model.features(batch.images, batch.sizes)
    emd_loss(model.predict_from_features(features), targets).backward()
    gradients = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad(set_to_none=True)
    return features.detach(), gradients


def relative_difference(values: torch.Tensor, reference: torch.Tensor) -> float:
    return (values - reference).abs().max().item() / reference.abs().max().item()


@pytest.mark.parametrize(("backbone", "pretrained", "kwargs"), [
    ("compact", False, {}), ("inception_v3", False, {}), ("efficientnet_lite0", True, {}),
    ("efficientnet_lite0", False, {}), ("efficientnet_lite0", True, {"roi_position": "after_stem"}),
])  # fmt: skip
def test_border_strips_give_the_full_mask_features_and_gradients(backbone, pretrained, kwargs, monkeypatch):
    """Exact for ReLU, ReLU6 and a linear projection ending the stem (EfficientNet-Lite0's block 0)."""
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, roi_size=35, pretrained=pretrained, freeze_bn=pretrained, **kwargs)
    model = model.eval() if pretrained else calibrated(model, canvas=96)
    batch, targets = small_batch()
    strips = features_and_gradients(model, batch, targets)
    monkeypatch.setattr(RoiBackbone, "pooled_regions", full_mask_pooled_regions)
    full_mask = features_and_gradients(model, batch, targets)
    assert relative_difference(strips[0], full_mask[0]) <= 1e-5
    assert relative_difference(strips[1], full_mask[1]) <= 1e-5
    # Unmasked, the stem's output is not zero in the padding: the comparison has teeth.
    with torch.no_grad():
        first_layer = model.backbone.stem[0](model.backbone.input_transform(batch.images))
    assert first_layer[2, :, 30:, 30:].abs().max().item() > 1e-3


@pytest.mark.parametrize(("backbone", "pretrained"), BACKBONE_CASES)
@pytest.mark.parametrize("roi", ["pool", "align"])
def test_what_the_padding_holds_does_not_matter(backbone, pretrained, roi):
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, roi=roi, roi_size=35, pretrained=pretrained, freeze_bn=pretrained)
    model = model.eval() if pretrained else calibrated(model, canvas=96)
    batch, _ = small_batch()
    noisy = batch.images.clone()
    padding = valid_mask(batch.sizes, 96, 96, noisy.dtype).expand_as(noisy) == 0
    noisy[padding] = torch.randn(int(padding.sum())) * 3
    with torch.no_grad():
        zero_padded = model.features(batch.images, batch.sizes)
        noise_padded = model.features(noisy, batch.sizes)
    assert relative_difference(noise_padded, zero_padded) <= 1e-5


def test_the_model_deep_copies_and_keeps_its_state_dict_keys():
    model = build_model("compact", num_bins=10, roi_size=35).eval()
    twin = copy.deepcopy(model)
    batch, _ = small_batch()
    with torch.no_grad():
        assert torch.equal(twin.features(batch.images, batch.sizes), model.features(batch.images, batch.sizes))
    assert set(model.backbone.state_dict()) >= {"stem.0.0.weight", "stem.0.0.bias", "stem.2.0.weight"}
    inception_keys = set(build_model("inception_v3").backbone.state_dict())
    assert {"stem.0.conv.weight", "stem.0.bn.running_mean", "stem.2.bn.weight"} <= inception_keys


def test_unsupported_stem_layers_are_rejected_when_built():
    body = nn.Identity()
    with pytest.raises(ValueError, match="stem masking needs ReLU or ReLU6"):
        RoiBackbone(nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3), nn.GELU())), body, feature_dim=8)
    with pytest.raises(ValueError, match="unsupported stem layer"):
        RoiBackbone(nn.Sequential(nn.Conv2d(3, 8, 3)), body, feature_dim=8)
    with pytest.raises(ValueError, match="unsupported stem layer"):  # a pooling between conv and ReLU
        RoiBackbone(nn.Sequential(nn.Sequential(nn.Conv2d(3, 8, 3), nn.MaxPool2d(2), nn.ReLU())), body, feature_dim=8)


def test_stem_sizes_follow_the_convolution_arithmetic():
    model = build_model("compact")
    sizes = torch.tensor([[299, 299], [800, 800], [17, 16], [333, 601]])
    stem = model.backbone.stem_sizes(sizes)
    # 3x3 stride 2 valid, 3x3 valid, 3x3 padded: (s - 3) // 2 + 1 - 2
    expected = torch.tensor([[(s - 3) // 2 + 1 - 2 for s in row] for row in sizes.tolist()])
    assert torch.equal(stem, expected)
    assert stem[0].tolist() == [147, 147]  # Inception-v3's 299 -> 147 before maxpool1
    assert torch.equal(conv_output_sizes(torch.tensor([[7, 8]]), 3, 2, 0), torch.tensor([[3, 3]]))


def test_roi_boxes_have_inclusive_ends_and_batch_index():
    boxes = roi_boxes(torch.tensor([[5, 7], [146, 73]]))
    assert boxes.tolist() == [[0, 0, 0, 6, 4], [1, 0, 0, 72, 145]]


def test_valid_mask_marks_only_the_top_left_region():
    mask = valid_mask(torch.tensor([[2, 3]]), 4, 5, torch.float32)[0, 0]
    assert mask.sum().item() == 6
    assert mask[:2, :3].all() and not mask[2:].any() and not mask[:, 3:].any()


@pytest.mark.parametrize("roi_size", [73, 146])
def test_pooled_regions_have_the_roi_size(roi_size):
    model = build_model("compact", roi_size=roi_size).eval()
    batch = pad_batch([torch.randn(3, 99, 301), torch.randn(3, 40, 41)], canvas=320)
    with torch.no_grad():
        pooled = model.backbone.pooled_regions(batch.images, batch.sizes)
    assert pooled.shape == (2, 16, roi_size, roi_size)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("roi", ["pool", "align"])
def test_roi_pooling_under_mixed_precision_keeps_the_input_dtype(roi, dtype):
    """Under autocast ROI pooling runs in float32 on every device (torchvision's CPU roi_pool has no
    bfloat16 kernel) and returns the features' dtype, the values of pooling them in float32."""
    features = torch.randn(2, 4, 30, 40).to(dtype)
    sizes = torch.tensor([[30, 40], [11, 17]])
    with torch.autocast("cpu", dtype=dtype):
        pooled = pool_regions(features, sizes, 8, roi)
    assert pooled.dtype == dtype
    assert torch.equal(pooled, pool_regions(features.float(), sizes, 8, roi).to(dtype))


@pytest.mark.parametrize("roi", ["pool", "align"])
def test_mixed_precision_training_step_runs_and_stays_close_to_float32(roi):
    """The AMP path of the trainer (bf16 autocast, channels_last) on CPU: finite gradients, and the
    prediction within bf16 rounding of the float32 one."""
    torch.manual_seed(0)
    model = calibrated(build_model("compact", num_bins=10, num_themes=3, roi=roi, roi_size=32)).train()
    model.to(memory_format=torch.channels_last)
    batch = pad_batch([torch.randn(3, 120, 90), torch.randn(3, 64, 128)], canvas=128)
    images = batch.images.contiguous(memory_format=torch.channels_last)
    themes = torch.tensor([1, NO_THEME])
    model.eval()  # no dropout: the two passes must see the same network
    with torch.no_grad():
        reference = model(images, batch.sizes, themes)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = model(images, batch.sizes, themes)
        logits = model(images, batch.sizes, themes, return_logits=True)
    assert logits.dtype == torch.bfloat16 and pred.dtype == torch.float32  # distributions in float32
    assert (pred - reference).abs().max().item() < 0.02
    emd_loss(pred.float(), torch.full((2, 10), 0.1)).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0


@pytest.mark.slow
def test_compiled_model_gives_eager_gradients_and_predictions_over_changing_canvas_shapes():
    """torch.compile (of the fixed-shape layers) through shape-grouped batches: a new canvas shape
    and a new batch size per step, as in training; gradients and predictions match the eager model."""
    torch.manual_seed(0)
    eager = build_model("compact", num_bins=10, num_themes=3, roi_size=32, dropout=0.0)
    compiled = copy.deepcopy(eager).compile_fixed_shape_layers()
    for step, (h, w, batch_size) in enumerate([(96, 64, 4), (64, 96, 4), (96, 96, 4), (80, 56, 4), (56, 80, 3), (96, 48, 2)]):
        generator = torch.Generator().manual_seed(step)
        images = torch.randn(batch_size, 3, h, w, generator=generator)
        sizes = torch.tensor([[h - 8 * i, w - 4 * i] for i in range(batch_size)])
        themes = torch.tensor([i % 3 - (i == 1) * 2 for i in range(batch_size)])
        target = torch.softmax(torch.randn(batch_size, 10, generator=generator), dim=1)
        for model in (eager, compiled):
            model.zero_grad(set_to_none=True)
            emd_loss(model.train()(images, sizes, themes), target).backward()
        for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
            assert torch.allclose(a.grad, b.grad, rtol=1e-3, atol=1e-5), (step, name)  # fused kernels sum in another order
        with torch.no_grad():
            assert torch.allclose(eager.eval()(images, sizes, themes), compiled.eval()(images, sizes, themes), atol=1e-5)


def test_theme_branch_uses_the_learned_no_theme_vector():
    torch.manual_seed(0)
    model = build_model("compact", num_themes=4).eval()
    with torch.no_grad():
        model.theme_branch.no_theme.fill_(0.5)
        features = torch.randn(3, model.backbone.feature_dim)
        none = model.predict_from_features(features, None)
        minus_one = model.predict_from_features(features, torch.full((3,), NO_THEME))
        themed = model.predict_from_features(features, torch.tensor([0, 1, 3]))
    assert torch.allclose(none, minus_one)
    assert not torch.allclose(none, themed)
    assert torch.allclose(themed.sum(dim=1), torch.ones(3))
    with pytest.raises(ValueError, match="theme ids"):
        model.predict_from_features(features, torch.tensor([0, 4, 1]))


def test_theme_changes_the_prediction_through_an_interaction_with_visual_features():
    torch.manual_seed(0)
    model = build_model("compact", num_themes=2).eval()
    features = torch.randn(2, model.backbone.feature_dim)
    with torch.no_grad():
        logits = [model.predict_from_features(features, torch.full((2,), t), return_logits=True) for t in (0, 1)]
    shift = logits[1] - logits[0]
    # A single linear layer would shift every photo's logits identically; the hidden layer does not.
    assert not torch.allclose(shift[0], shift[1], atol=1e-5)


def test_frozen_batchnorm_is_not_trained_and_ignores_batch_statistics():
    model = build_model("compact", freeze_bn=True)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    batch = pad_batch([torch.randn(3, 64, 64), torch.randn(3, 64, 48)], canvas=64)
    model.train()
    model.head.layers[0].p = 0.0  # dropout off so train and eval forward agree
    with torch.no_grad():
        train_out = model(batch.images, batch.sizes)
        eval_out = model.eval()(batch.images, batch.sizes)
    assert torch.allclose(train_out, eval_out)
    frozen_names = {name for name, _ in model.named_buffers() if "running_mean" in name}
    assert frozen_names and not any("running_mean" in name for name, _ in model.named_parameters())


def test_compact_backbone_is_small_and_registered():
    assert {"compact", "inception_v3"} <= set(list_backbones())
    model = build_model("compact")
    assert sum(p.numel() for p in model.backbone.parameters()) <= 1_000_000
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model("resnet_9000")
    with pytest.raises(ValueError, match="pretrained"):
        build_model("compact", pretrained=True)


def test_inception_records_its_input_convention_for_rebuilding():
    model = build_model("inception_v3", num_bins=7)
    assert model.model_args["transform_input"] is False
    assert model.model_args["num_bins"] == 7


def test_bad_inputs_are_rejected_with_named_arguments():
    model = build_model("compact")
    with pytest.raises(ValueError, match="sizes"):
        model(torch.zeros(2, 3, 64, 64), torch.tensor([[64, 64]]))
    with pytest.raises(ValueError, match="exceed the canvas"):
        model(torch.zeros(1, 3, 64, 64), torch.tensor([[65, 64]]))
    with pytest.raises(ValueError, match="num_bins"):
        build_model("compact", num_bins=1)


def test_compact_model_overfits_eight_photos():
    """EMD on 8 fixed photos falls by at least half within a few hundred CPU steps."""
    generator = torch.Generator().manual_seed(0)
    sizes = [(96, 128), (128, 96), (112, 112), (80, 120), (128, 128), (100, 90), (72, 128), (128, 80)]
    photos = [torch.rand(3, h, w, generator=generator) * 2 - 1 for h, w in sizes]
    targets = torch.softmax(torch.randn(8, 10, generator=generator) * 1.5, dim=1)
    batch = pad_batch(photos, canvas=128)
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, roi_size=32, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = emd_loss(model(batch.images, batch.sizes), targets, r=2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert min(losses[-10:]) <= 0.5 * losses[0]


@pytest.mark.parametrize("name", ["inception_v3", "efficientnet_lite0"])
def test_a_frozen_stem_batchnorm_is_folded_into_its_convolution_exactly(name):
    """The folded stem (one convolution) gives what conv then frozen BN give, values and gradients."""
    torch.manual_seed(0)
    model = build_model(name, num_bins=10, freeze_bn=True).eval()
    layer = model.backbone.stem[0]
    conv = backbones.first_conv(layer)
    bn = next(m for m in layer.modules() if isinstance(m, FrozenBatchNorm2d))
    with torch.no_grad():  # BN statistics far from identity, so a fold that forgets one shows
        for buffer in (bn.weight, bn.bias, bn.running_mean):
            buffer.copy_(torch.randn_like(buffer))
        bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.1)
    pre_activation, _ = backbones.split_activation(layer)
    assert isinstance(pre_activation, partial) and pre_activation.func is backbones.conv_with_folded_bn
    x = torch.randn(2, 3, 37, 41)
    folded = pre_activation(x)
    folded.square().sum().backward()
    folded_grad, conv.weight.grad = conv.weight.grad.clone(), None
    reference = bn(conv(x))
    reference.square().sum().backward()
    assert torch.allclose(folded, reference, atol=1e-4, rtol=1e-4)
    assert torch.allclose(folded_grad, conv.weight.grad, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize(("backbone", "pretrained"), [("inception_v3", False), ("efficientnet_lite0", True)])
def test_the_stems_last_activation_after_roi_max_pooling_gives_the_same_features_and_gradients(backbone, pretrained, monkeypatch):
    """ReLU / ReLU6 commute with max pooling, so running the stem's last one on the pooled map (one
    full-resolution pass fewer, forward and backward) changes no feature and no gradient."""
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, roi_size=35, pretrained=pretrained, freeze_bn=pretrained)
    model = model.eval() if pretrained else calibrated(model, canvas=96)
    batch, targets = small_batch()
    seen = []  # the spatial shape each stem activation runs on
    original = backbones.split_activation

    def recording(layer):
        pre_activation, activation = original(layer)
        return pre_activation, (lambda x: seen.append(tuple(x.shape[-2:])) or activation(x))

    monkeypatch.setattr(backbones, "split_activation", recording)
    after = features_and_gradients(model, batch, targets)
    assert seen[-1] == (35, 35)  # the last activation ran on the ROI-pooled map
    monkeypatch.setattr(RoiBackbone, "activate_after_max_pooling", False)
    seen.clear()
    before = features_and_gradients(model, batch, targets)
    assert seen[-1][0] > 35  # ... and here on the stem's full-resolution output
    assert relative_difference(after[0], before[0]) <= 1e-6
    assert relative_difference(after[1], before[1]) <= 1e-6
