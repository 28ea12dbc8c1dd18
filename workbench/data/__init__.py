"""Photos in, padded batches out: loading, padding, augmentation, datasets, the synthetic benchmark."""
from workbench.data.images import (
    ImageError, ImageInfo, convert_image, fit_within, header_size, load_image, load_image_with_info, to_rgb,
)  # fmt: skip
from workbench.data.batching import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MIN_SIDE,
    PaddedBatch,
    ShapeGroupedBatchSampler,
    pad_batch,
    padded_fraction,
    shape_order,
    to_normalized_tensor,
)
from workbench.data.augment import SIX_VIEWS, TRANSFORMS, apply_view, train_sample, transform_canvas, view_names
from workbench.data.augment import test_samples as view_samples_for_testing
from workbench.data.datasets import (
    AestheticDataset,
    ava_table,
    check_images,
    collate_padded,
    image_sizes,
    photonet_table,
    read_ava_tanet_csv,
    read_ava_txt,
    read_challenges,
    read_csv_folder,
    read_idealo_json,
    read_jpgl,
    read_photonet,
    read_tags,
)

__all__ = [
    "AestheticDataset", "IMAGENET_MEAN", "IMAGENET_STD", "ImageError", "ImageInfo", "MIN_SIDE", "PaddedBatch",
    "SIX_VIEWS", "ShapeGroupedBatchSampler", "TRANSFORMS", "apply_view", "ava_table", "check_images",
    "collate_padded", "convert_image", "fit_within", "header_size", "image_sizes", "load_image", "load_image_with_info", "pad_batch",
    "padded_fraction", "photonet_table", "read_ava_tanet_csv", "read_ava_txt", "read_challenges",
    "read_csv_folder", "read_idealo_json", "read_jpgl", "read_photonet", "read_tags", "shape_order",
    "to_normalized_tensor", "to_rgb", "train_sample", "transform_canvas", "view_names", "view_samples_for_testing",
]
