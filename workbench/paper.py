"""The paper's published numbers (Tables I-VI), as printed, for side-by-side comparison with a run.

Each table is ``model -> {metric key: value}`` with the keys of ``workbench.metrics.METRIC_NAMES``;
a "-" in the paper (not reported) is ``None`` here and NaN in ``published_table``. Numbers the
paper marks with ``*`` (derived by the authors, not reported by the cited work) are kept as
printed and listed in ``DERIVED``.
"""
from __future__ import annotations

import pandas as pd

from workbench.metrics import TABLE_LAYOUTS, results_table

_ = None  # a "-" in the paper: not reported


def _rows(table: str, printed: dict[str, tuple]) -> dict[str, dict[str, float | None]]:
    """Rows typed as printed, in the order of ``TABLE_LAYOUTS[table]`` -> model -> {metric: value}."""
    columns = TABLE_LAYOUTS[table]
    for model, values in printed.items():
        if len(values) != len(columns):
            raise ValueError(f"Table {table}, {model}: {len(values)} values for {len(columns)} columns")
    return {model: dict(zip(columns, values)) for model, values in printed.items()}


# Table I: distribution prediction on AVA ("Align": ROI pooling replaced by ROI align).
# Columns: Euc, KL, JS, chi2, EMD (r=2), EMD (r=1), CD.
TABLE_I = _rows("I", {
    "Talebi et al. [18]": (_, _, _, _, _, 0.050, _),
    "Zhang et al. [19]": (_, _, _, _, _, 0.045, _),
    "Wang et al. [29]": (_, _, _, _, _, 0.065, _),
    "Fang et al. [12]": (0.144, 0.120, _, _, _, _, 0.056),
    "Cui et al. [14]": (0.127, 0.094, _, _, _, _, 0.042),
    "Jin et al. [17]": (0.158, _, 0.037, 0.068, 0.082, _, _),
    "Ours": (0.134, 0.088, 0.022, 0.041, 0.059, 0.041, 0.040),
    "Ours (Align)": (0.134, 0.089, 0.022, 0.041, 0.059, 0.041, 0.040),
})

# Table II: mean score and standard deviation prediction on AVA.
# Columns: SRCC (mean), PLCC (mean), SRCC (std.dev), PLCC (std.dev), MSE (mean).
TABLE_II = _rows("II", {
    "Kao et al. [26]": (_, _, _, _, 0.4501),
    "Jin et al. [33]": (_, _, _, _, 0.3373),
    "Kao et al. [42]": (_, 0.5214, _, _, 0.3988),
    "Kong et al. [43]": (0.5581, _, _, _, _),
    "Talebi et al. [18]": (0.6120, 0.6360, 0.2330, 0.2180, _),
    "Meng et al. [44]": (0.6730, 0.6860, _, _, _),
    "Wang et al. [29]": (0.6868, 0.6923, _, _, 0.2764),
    "Zhang et al. [19]": (0.6900, 0.7042, _, _, 0.2752),
    "Hosu et al. [31]": (0.7450, 0.7480, _, _, _),
    "Ours": (0.7611, 0.7632, 0.6918, 0.7013, 0.2366),
    "Ours (Align)": (0.7611, 0.7621, 0.7031, 0.7111, 0.2390),
})

# Table III: ablation on AVA (input transforms; Pad+ROI with and without themes).
# Columns (also Tables IV and V): SRCC (mean), SRCC (std.dev), EMD (r=1), KL.
TABLE_III = _rows("III", {
    "Resize": (0.7026, 0.2709, 0.046, 0.108),
    "Resized Pad": (0.6894, 0.2927, 0.046, 0.107),
    "Random Crop": (0.6965, 0.2780, 0.046, 0.108),
    "Pad+ROI": (0.7438, 0.3424, 0.043, 0.098),
    "Pad+ROI+Theme": (0.7611, 0.6918, 0.041, 0.088),
})

# Table IV: image size (longest side, px) and ROI-pooled feature map size on AVA.
TABLE_IV = _rows("IV", {
    "Image 400, Feature 73": (0.7189, 0.4667, 0.044, 0.102),
    "Image 800, Feature 73": (0.7531, 0.6872, 0.042, 0.091),
    "Image 800, Feature 146": (0.7611, 0.6918, 0.041, 0.088),
})

# Table V: training augmentation on AVA.
TABLE_V = _rows("V", {
    "Flip": (0.7553, 0.6707, 0.041, 0.090),
    "Flip+Crop": (0.7611, 0.6918, 0.041, 0.088),
})

# Table VI: Photo.net (no themes). The paper prints "EMD" without r; read as r = 1 (see
# metrics.TABLE_LAYOUTS). The text calls [19] the only earlier distribution work on Photo.net,
# yet the table's competitor row is labelled "Kong et al. [43]"; kept as printed.
# Columns: SRCC (mean), PLCC (mean), MSE (mean), EMD (r=1).
TABLE_VI = _rows("VI", {
    "Kong et al. [43]": (0.5217, 0.5464, 0.2715, 0.070),
    "Ours-CropAug": (0.5644, 0.5749, 0.2273, 0.066),
    "Ours": (0.5826, 0.5858, 0.2195, 0.065),
})

TABLES = {"I": TABLE_I, "II": TABLE_II, "III": TABLE_III, "IV": TABLE_IV, "V": TABLE_V, "VI": TABLE_VI}

# Entries marked "*" in the paper: (table, model, metric) -> how the authors obtained them.
DERIVED = {
    ("I", "Jin et al. [17]", "emd2"): "derived from the reported Euclidean distance of cumulative distributions",
    ("II", "Zhang et al. [19]", "mse_mean"): "induced from the reported root MSE",
}

# The paper's full model (Pad+ROI+Theme, ROI pooling) on AVA: Tables I and II, "Ours".
PAPER_AVA = {**TABLE_I["Ours"], **TABLE_II["Ours"]}
# The paper's model on Photo.net: Table VI, "Ours".
PAPER_PHOTONET = dict(TABLE_VI["Ours"])


def published_table(name: str, labels: bool = True, source: str | None = None) -> pd.DataFrame:
    """One of the paper's Tables "I"-"VI" in the column layout of ``metrics.results_table``.

    labels: column headers as printed ("EMD (r=1)"); False keeps metric keys ("emd1").
    source: when given, adds a "source" column with this value (e.g. "paper") for stacking with
        ``results_table(..., sources=...)`` of a run.
    """
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; choose one of {', '.join(TABLES)}")
    rows = TABLES[name]
    sources = None if source is None else {model: source for model in rows}
    return results_table(rows, table=name, sources=sources, labels=labels)

