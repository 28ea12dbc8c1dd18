"""RoiBackbone.trace: every stage of a real forward pass, observable with frozen (folded) BatchNorm too."""
import pytest
import torch

from workbench.data.batching import pad_batch
from workbench.model import build_model, list_backbones
from workbench.model.roi import valid_mask

SIZES = [(70, 110), (96, 60)]  # (h, w)


def _batch(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return pad_batch([torch.randn(3, h, w, generator=generator) for h, w in SIZES], canvas=None)


@pytest.mark.parametrize("backbone, freeze_bn", [
    ("efficientnet_lite0", True), ("inception_v3", True), ("inception_v3", False), ("compact", False),
])  # fmt: skip
def test_trace_keeps_every_stage_and_equals_the_forward_pass(backbone, freeze_bn):
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, freeze_bn=freeze_bn, pretrained=False).eval()
    stem = model.backbone.stem
    batch = _batch()
    with torch.no_grad():
        trace = model.backbone.trace(batch.images, batch.sizes)
        expected = model.backbone(batch.images, batch.sizes)
        pooled = model.backbone.pooled_regions(batch.images, batch.sizes)
    torch.testing.assert_close(trace.features, expected)
    torch.testing.assert_close(trace.pooled, pooled)
    assert trace.canvas.shape == batch.images.shape and trace.sizes.tolist() == [list(size) for size in SIZES]
    assert len(trace.stem) == len(stem) == len(trace.stem_sizes)  # the folded stem too (no module hook sees it)
    torch.testing.assert_close(trace.stem_sizes[-1], model.backbone.stem_sizes(batch.sizes))
    assert trace.pooled.shape[2:] == (model.backbone.roi_size,) * 2 and trace.pooled.shape[1] == trace.stem[-1].shape[1]
    # The last stem map is activated (>= 0: ReLU / ReLU6), and its ROI max-pooled region is the pooled map.
    last = trace.stem[-1]
    inside = valid_mask(trace.stem_sizes[-1], last.shape[-2], last.shape[-1], torch.bool).expand_as(last)
    assert (last[inside] >= 0).all()
    for photo, (h, w) in enumerate(trace.stem_sizes[-1].tolist()):
        torch.testing.assert_close(trace.pooled[photo].amax(dim=(1, 2)), last[photo, :, :h, :w].amax(dim=(1, 2)))
    names = [name for name, _ in model.backbone.body_stages()]
    assert [name for name, _ in trace.stages] == names and len(names) > 1


def test_trace_under_autograd_gives_gradients_on_every_kept_stage():
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", num_bins=10, freeze_bn=True, pretrained=False).eval()
    batch = _batch(1)
    trace = model.backbone.trace(batch.images, batch.sizes)
    _, middle = trace.stages[len(trace.stages) // 2]
    gradients = torch.autograd.grad(trace.features.sum(), [trace.stem[-1], trace.pooled, middle])
    assert all(gradient.abs().sum() > 0 for gradient in gradients)
    assert set(list_backbones()) >= {"compact", "efficientnet_lite0", "inception_v3"}
