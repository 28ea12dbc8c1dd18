"""Analyses behind the paper's figures and tables, as pure functions on label tables and arrays,
one module per job (the library imports from these modules; this file only re-exports, for users):

- ``votes``: label tables -> vote distributions (``vote_distributions``) and each row's theme.
- ``themes`` (Sec. III-B, Fig. 2): ``theme_statistics`` (per-theme counts, means, stds, mean
  distributions), ``theme_variance_explained`` (what share of the variance of photo mean scores and
  stds lies between themes).
- ``baselines``: the theme-only baseline ``theme_prior_baseline`` (each photo predicted by its theme's
  average distribution, shrunk toward the global average), evaluated against the global-average
  baseline by ``theme_baseline_report``.
- ``failures``: failure cases (Fig. 7) ``worst_predictions``, ``distribution_shape``; with / without
  theme (Fig. 8) ``theme_effect``.
- ``aspect`` (Fig. 6): ``aspect_ratios``, ``folder_sizes``, ``aspect_ratio_summary``.
- ``seeds`` (Tables III-V): ``aggregate_seeds``, ``format_mean_sd``.

Distributions are ``[N, K]`` arrays over the scores ``1..K`` (vote counts or probabilities; rows
are normalised). Nothing here plots; ``workbench.plots`` draws these results. Real AVA's themed
subset is read by ``workbench.data.ava.real_ava_theme_split``.
"""
from workbench.analysis.aspect import aspect_ratio_summary, aspect_ratios, folder_sizes
from workbench.analysis.baselines import (
    DEFAULT_SHRINKAGE_GRID, choose_shrinkage, global_baseline, shrinkage_curve, shrinkage_weights, theme_baseline_report,
    theme_prior_baseline,
)  # fmt: skip
from workbench.analysis.failures import count_modes, discretised_gaussian, distribution_shape, theme_effect, worst_predictions
from workbench.analysis.seeds import aggregate_seeds, format_mean_sd
from workbench.analysis.themes import theme_statistics, theme_variance_explained
from workbench.analysis.votes import vote_distributions

__all__ = [
    "DEFAULT_SHRINKAGE_GRID", "aggregate_seeds", "aspect_ratio_summary", "aspect_ratios", "choose_shrinkage", "count_modes",
    "discretised_gaussian", "distribution_shape", "folder_sizes", "format_mean_sd", "global_baseline", "shrinkage_curve",
    "shrinkage_weights", "theme_baseline_report", "theme_effect", "theme_prior_baseline", "theme_statistics",
    "theme_variance_explained", "vote_distributions", "worst_predictions",
]
