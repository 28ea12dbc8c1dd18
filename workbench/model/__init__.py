"""The full-resolution, theme-aware distribution model."""
from workbench.model.backbones import RoiBackbone, create_backbone, list_backbones, register_backbone
from workbench.model import efficientnet_lite  # registers efficientnet_lite0
from workbench.model.build import AestheticModel, build_model, freeze_batchnorm
from workbench.model.heads import NO_THEME, DistributionHead, ThemeBranch
from workbench.model.roi import conv_output_sizes, mask_padding, pool_regions, roi_boxes, valid_mask

__all__ = [
    "AestheticModel", "DistributionHead", "NO_THEME", "RoiBackbone", "ThemeBranch", "build_model",
    "conv_output_sizes", "create_backbone", "freeze_batchnorm", "list_backbones", "mask_padding",
    "pool_regions", "register_backbone", "roi_boxes", "valid_mask",
]
