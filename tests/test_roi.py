"""ROI pooling over chunks of photos and the vectorised border strips (workbench/model/roi.py, issue 20)."""
import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torchvision.ops import roi_align, roi_pool

from workbench.model import roi
from workbench.model.roi import mask_padding, pool_regions, roi_boxes, zero_border_strips_

SIZES = torch.tensor([[30, 40], [11, 17], [29, 3], [1, 1], [30, 39]])


class RecordOps(TorchDispatchMode):
    """Records every aten op run inside, with its outputs' (dtype, numel)."""

    def __init__(self):
        super().__init__()
        self.ops: list[tuple[str, list[tuple[torch.dtype, int]]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outputs = out if isinstance(out, (tuple, list)) else [out]
        self.ops.append((str(func.overloadpacket.__name__), [(o.dtype, o.numel()) for o in outputs if isinstance(o, torch.Tensor)]))
        return out


def features_and_gradient(features: torch.Tensor, sizes: torch.Tensor, mode: str, output_size: int = 8):
    features = features.detach().requires_grad_(True)
    pooled = pool_regions(features, sizes, output_size, mode)
    weights = torch.linspace(-1, 1, pooled.numel()).view_as(pooled).to(pooled.dtype)
    (pooled * weights).sum().backward()
    return pooled.detach(), features.grad


@pytest.mark.parametrize("mode", ["pool", "align"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_chunked_pooling_gives_the_unchunked_features_and_gradients(mode, channels_last, monkeypatch):
    features = torch.randn(5, 4, 30, 40)
    if channels_last:
        features = features.to(memory_format=torch.channels_last)
    whole = features_and_gradient(features, SIZES, mode)
    calls = []
    original = roi._pool_chunk
    monkeypatch.setattr(roi, "_pool_chunk", lambda *args: calls.append(len(args[0])) or original(*args))
    monkeypatch.setattr(roi, "MAX_ROI_CHUNK_ELEMENTS", 2 * 4 * 30 * 40)  # two photos per chunk
    chunked = features_and_gradient(features, SIZES, mode)
    assert calls == [2, 2, 1]
    assert torch.equal(chunked[0], whole[0]) and torch.equal(chunked[1], whole[1])
    # and both are torchvision's own result on the whole batch
    reference = roi_pool if mode == "pool" else (lambda x, b, s, scale: roi_align(x, b, s, scale, 2, False))
    assert torch.equal(whole[0], reference(features.contiguous(), roi_boxes(SIZES), 8, 1.0))


@pytest.mark.parametrize("mode", ["pool", "align"])
def test_bfloat16_pools_chunk_by_chunk_without_a_float32_copy_of_the_map(mode, monkeypatch):
    features = torch.randn(5, 4, 30, 40).to(torch.bfloat16).to(memory_format=torch.channels_last)
    monkeypatch.setattr(roi, "MAX_ROI_CHUNK_ELEMENTS", 2 * 4 * 30 * 40)
    with RecordOps() as recorded, torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = pool_regions(features, SIZES, 8, mode)
    float_sizes = [numel for _, outputs in recorded.ops for dtype, numel in outputs if dtype == torch.float32]
    assert max(float_sizes) <= 2 * 4 * 30 * 40 < features.numel()
    copies = [name for name, outputs in recorded.ops if name in ("_to_copy", "clone", "contiguous", "copy_")
              and any(dtype == torch.float32 and numel > 8 * 8 * 4 * 5 for dtype, numel in outputs)]
    assert len(copies) == 3  # one copy per chunk: dtype and layout converted together
    assert pooled.dtype == torch.bfloat16
    assert torch.equal(pooled, pool_regions(features.float().contiguous(), SIZES, 8, mode).to(torch.bfloat16))


def test_one_photo_past_the_chunk_limit_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(roi, "MAX_ROI_CHUNK_ELEMENTS", 100)
    with pytest.raises(ValueError, match="MAX_ROI_CHUNK_ELEMENTS"):
        pool_regions(torch.randn(2, 4, 30, 40), torch.tensor([[30, 40], [5, 5]]), 8)


def test_adaptive_max_pooling_is_not_roi_pools_arithmetic():
    """Why pool_regions keeps roi_pool: its float32 bin edges differ from adaptive pooling's exact ones
    at some sizes (side 90 at S = 146), though not at others (side 100), so switching would move
    trained checkpoints' features."""
    torch.manual_seed(0)
    for side, same in [(100, True), (90, False)]:
        features = torch.randn(1, 8, side, side)
        box = roi_boxes(torch.tensor([[side, side]]))
        assert torch.equal(roi_pool(features, box, 146, 1.0), F.adaptive_max_pool2d(features, 146)) == same


def loop_reference(features: torch.Tensor, sizes: torch.Tensor, reach: int) -> torch.Tensor:
    """The previous ``zero_border_strips_``: two slice writes per photo."""
    features = features.clone()
    for index, (h, w) in enumerate(sizes.tolist()):
        features[index, :, h : h + reach, : w + reach] = 0
        features[index, :, :h, w : w + reach] = 0
    return features


@pytest.mark.parametrize("reach", [1, 2])
@pytest.mark.parametrize("channels_last", [False, True])
def test_border_strips_zero_what_the_loop_zeroed_and_keep_every_region(reach, channels_last):
    features = torch.randn(5, 3, 30, 40) + 5  # no zeros of its own
    if channels_last:
        features = features.to(memory_format=torch.channels_last)
    zeroed = zero_border_strips_(features.clone(), SIZES, reach)
    reference = loop_reference(features, SIZES, reach)
    assert torch.equal(zeroed[reference == 0], reference[reference == 0])  # every strip the next step reads
    assert torch.equal(mask_padding(zeroed, SIZES), mask_padding(features, SIZES))  # regions untouched
    assert zeroed.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_border_strips_run_the_same_ops_whatever_the_batch_size():
    def ops(batch: int) -> list[str]:
        sizes = torch.tensor([[20, 30], [10, 40]]).repeat(batch // 2, 1)
        with RecordOps() as recorded:
            zero_border_strips_(torch.randn(batch, 3, 30, 40), sizes, 1)
        return [name for name, _ in recorded.ops if name.startswith("index_put")]

    assert ops(2) == ops(64) == ["index_put_", "index_put_"]
