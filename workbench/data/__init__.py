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
from workbench.data.ava import (
    ava_table, read_ava_tanet_csv, read_ava_txt, read_challenges, read_idealo_json, read_jpgl, read_tags, real_ava_theme_split,
)  # fmt: skip
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset, collate_padded
from workbench.data.photonet import photonet_table, read_photonet
from workbench.data.prepare import load_table, prepare_table
from workbench.data.tables import NO_THEME, check_images, image_sizes

__all__ = [
    "AestheticDataset", "IMAGENET_MEAN", "IMAGENET_STD", "ImageError", "ImageInfo", "MIN_SIDE", "PaddedBatch",
    "NO_THEME", "SIX_VIEWS", "ShapeGroupedBatchSampler", "TRANSFORMS", "apply_view", "ava_table", "check_images",
    "collate_padded", "convert_image", "fit_within", "header_size", "image_sizes", "load_image", "load_table", "load_image_with_info", "pad_batch",
    "padded_fraction", "photonet_table", "prepare_table", "read_ava_tanet_csv", "read_ava_txt", "read_challenges",
    "read_csv_folder", "read_idealo_json", "read_jpgl", "read_photonet", "read_tags", "real_ava_theme_split", "shape_order",
    "to_normalized_tensor", "to_rgb", "train_sample", "transform_canvas", "view_names", "view_samples_for_testing",
]
