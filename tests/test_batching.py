"""Padding into one canvas and shape-grouped batches."""
import numpy as np
import pytest
import torch
from PIL import Image

from workbench.data.batching import (
    IMAGENET_MEAN,
    EpochBatchSampler,
    ResumedBatchSampler,
    ShapeGroupedBatchSampler,
    pad_batch,
    padded_fraction,
    shape_order,
    split_across_ranks,
    to_normalized_tensor,
)


def test_pad_batch_places_photos_top_left_and_pads_with_zeros():
    photos = [torch.ones(3, 17, 19), torch.full((3, 20, 16), 2.0)]
    batch = pad_batch(photos, canvas=32)
    assert batch.images.shape == (2, 3, 32, 32)
    assert batch.sizes.tolist() == [[17, 19], [20, 16]]
    assert (batch.images[0, :, :17, :19] == 1).all()
    assert batch.images[0].sum().item() == 3 * 17 * 19
    assert (batch.images[1, :, 20:, :] == 0).all() and (batch.images[1, :, :, 16:] == 0).all()


def test_pad_batch_without_canvas_pads_to_the_batch_maximum_rounded():
    batch = pad_batch([torch.ones(3, 17, 40), torch.ones(3, 33, 20)], canvas=None, multiple=16)
    assert batch.images.shape[-2:] == (48, 48)
    assert pad_batch([torch.ones(3, 17, 40)], canvas=None, multiple=1).images.shape[-2:] == (17, 40)


@pytest.mark.parametrize(
    "photos, message",
    [([], "at least one"), ([torch.ones(3, 900, 20)], "exceeds"), ([torch.ones(3, 8, 40)], "minimum"), ([torch.ones(1, 20, 20)], "Tensor\\[3")],
)
def test_pad_batch_rejects_bad_photos(photos, message):
    with pytest.raises(ValueError, match=message):
        pad_batch(photos, canvas=800)


def test_normalisation_happens_before_padding_so_padding_is_zero_in_input_space():
    mean_colour = tuple(round(m * 255) for m in IMAGENET_MEAN)
    tensor = to_normalized_tensor(Image.new("RGB", (20, 10), mean_colour))
    assert tensor.shape == (3, 10, 20) and tensor.abs().max().item() < 0.01
    with pytest.raises(ValueError, match="RGB"):
        to_normalized_tensor(Image.new("L", (20, 10)))


def test_padded_fraction():
    assert padded_fraction([[10, 10], [10, 5]], (10, 10)) == pytest.approx(0.25)
    assert pad_batch([torch.ones(3, 16, 16)], canvas=32).padded_fraction == pytest.approx(0.75)


def ava_like_sizes(n, seed=0):
    rng = np.random.default_rng(seed)
    aspect = rng.choice([1.5, 2 / 3, 4 / 3, 0.75, 1.0, 2.0], size=n)
    long_side = rng.integers(300, 801, size=n)
    return [(int(ls / a), int(ls)) if a >= 1 else (int(ls), int(ls * a)) for a, ls in zip(aspect, long_side)]


def test_sampler_covers_every_photo_once_deterministically():
    sizes = ava_like_sizes(203)
    sampler = ShapeGroupedBatchSampler(sizes, batch_size=16, seed=3, pool_batches=4)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert len(batches) == len(sampler)
    assert batches == list(ShapeGroupedBatchSampler(sizes, batch_size=16, seed=3, pool_batches=4))
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_sampler_wastes_far_fewer_pixels_than_padding_to_the_canvas():
    sizes = ava_like_sizes(2048)
    grouped = [padded_fraction([sizes[i] for i in b], (max(sizes[i][0] for i in b), max(sizes[i][1] for i in b)))
               for b in ShapeGroupedBatchSampler(sizes, batch_size=16, seed=0)]  # fmt: skip
    naive = padded_fraction(sizes, (800, 800))
    assert np.mean(grouped) < 0.15 < naive


def test_distributed_ranks_split_the_same_batch_list():
    sizes = ava_like_sizes(100)
    ranks = [list(ShapeGroupedBatchSampler(sizes, 8, seed=1, num_replicas=2, rank=r)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    seen = {i for batches in ranks for b in batches for i in b}
    assert seen == set(range(100))
    assert {tuple(b) for b in ranks[0]}.isdisjoint({tuple(b) for b in ranks[1]}) or len(ranks[0]) * 2 > 13
    with pytest.raises(ValueError, match="rank"):
        ShapeGroupedBatchSampler(sizes, 8, num_replicas=2, rank=2)


def test_epoch_batch_sampler_splits_one_batch_list_across_ranks():
    one = EpochBatchSampler(10, 3, seed=1)
    one.set_epoch(2)
    ranks = [EpochBatchSampler(10, 3, seed=1, num_replicas=2, rank=r) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(2)
    batches = list(one)
    # The batch order runs resume exactly: numpy's permutation by (seed, epoch), cut in order.
    order = np.random.default_rng([1, 2]).permutation(10)
    assert batches == [order[i : i + 3].tolist() for i in range(0, 10, 3)]
    assert list(ranks[0]) == batches[0::2] and list(ranks[1]) == batches[1::2]
    assert len(ranks[0]) == len(list(ranks[0])) == 2
    one.set_epoch(3)
    assert list(one) != batches


def test_ranks_get_equal_shares_padded_by_repetition():
    batches = [[0], [1], [2], [3], [4]]
    assert split_across_ranks(batches, 2, 0) == [[0], [2], [4]]
    assert split_across_ranks(batches, 2, 1) == [[1], [3], [0]]  # the list wrapped: same step count
    assert split_across_ranks(batches, 1, 0) == batches and split_across_ranks([], 4, 3) == []


def test_a_resumed_sampler_skips_the_batches_done_and_stops_at_the_limit():
    sampler = EpochBatchSampler(20, 4, seed=0)
    batches = list(sampler)
    assert list(ResumedBatchSampler(sampler, skip=2)) == batches[2:] and len(ResumedBatchSampler(sampler, skip=2)) == 3
    assert list(ResumedBatchSampler(sampler, skip=1, limit=3)) == batches[1:3] and len(ResumedBatchSampler(sampler, 1, 3)) == 2
    assert len(ResumedBatchSampler(sampler, skip=7)) == 0


def test_shape_order_groups_orientation_then_area():
    sizes = np.array([[300, 400], [400, 300], [600, 800], [0, 0], [150, 200]])
    order = shape_order(sizes)
    aspect = np.round(np.log(np.maximum(sizes[:, 0], 1) / np.maximum(sizes[:, 1], 1)) * 8)
    assert order.tolist() == np.lexsort((np.maximum(sizes, 1).prod(axis=1), aspect)).tolist()
    assert order.tolist() == [4, 0, 2, 3, 1]  # landscape by area, the unknown (square) one, then portrait
