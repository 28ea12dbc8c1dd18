"""Photo.net's ``photonet_dataset.txt`` and its label table (7 bins, no themes; the paper's random split)."""
from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from workbench.data.tables import (
    NO_THEME, PathLike, absolute_path, drop_duplicate_ids, fast_read, finish_table, numeric_column, proportional_sizes,
    read_fields, seeded_split, theme_column,
)  # fmt: skip

logger = logging.getLogger(__name__)

PHOTONET_NUM_BINS = 7
PHOTONET_SPLIT_SIZES = (14800, 666, 1200)  # train, val, test (the paper: 14,800 train, 1,200 test, 666 validation)


def read_photonet(path: PathLike) -> pd.DataFrame:
    """photonet_dataset.txt -> ``index, image_id, n_ratings, mean_rating, variance, v1..v7, has_votes``.

    12 columns ``index photo_id n_ratings mean_rating variance c1..c7`` (c1..c7 count ratings 1..7, CRLF
    line endings). Rows that give only the mean (the counts are all -1 dummies, or all 0) get
    ``has_votes = False``, counts 0 and variance NaN. The published quirks are kept as they are: photo
    2985331 appears twice, and in 2,780 rows with votes the counts do not sum to ``n_ratings`` (off by
    -13 to +52; the counts are what the table uses).
    """
    vote_columns = [f"v{k}" for k in range(1, PHOTONET_NUM_BINS + 1)]
    names = ["index", "image_id", "n_ratings", "mean_rating", "variance", *vote_columns]
    types = {"image_id": str, "mean_rating": np.float64, "variance": np.float64}
    frame = fast_read(path, names, {name: types.get(name, np.int64) for name in names})
    if frame is not None:
        votes = frame[vote_columns].to_numpy()
        dummy = (votes == -1).all(axis=1)
    if frame is None or ((votes < 0).any(axis=1) & ~dummy).any():
        rows, line_numbers = read_fields(path, 12, "index photo_id n_ratings mean_rating variance c1..c7")
        columns = list(zip(*rows)) if rows else [()] * 12
        frame = pd.DataFrame({"image_id": pd.Series(columns[1], dtype=str)})
        for position, name in enumerate(names):
            if name != "image_id":
                frame[name] = numeric_column(columns[position], types.get(name, np.int64), path, line_numbers, name)
        frame = frame[names]
        votes = frame[vote_columns].to_numpy()
        dummy = (votes == -1).all(axis=1)
        bad = np.flatnonzero((votes < 0).any(axis=1) & ~dummy)
        if len(bad):
            row = bad[0]
            raise ValueError(f"{path}, line {line_numbers[row]}: counts must be >= 0 (or all -1), got {votes[row].tolist()}")
    votes = votes.copy()
    votes[dummy] = 0
    has_votes = votes.sum(axis=1) > 0
    for k, name in enumerate(vote_columns):
        frame[name] = votes[:, k]
    frame.loc[~has_votes | (frame["variance"] < 0), "variance"] = np.nan
    frame["has_votes"] = has_votes
    return frame


def photonet_table(
    labels: pd.DataFrame | PathLike,
    images_dir: PathLike,
    seed: int = 0,
    split_sizes: tuple[int, int, int] | None = PHOTONET_SPLIT_SIZES,
    require_images: bool = False,
) -> pd.DataFrame:
    """The Photo.net label table (7 bins, no themes), split at random by ``seed`` into (train, val, test) sizes.

    labels: a DataFrame from ``read_photonet`` or the path of photonet_dataset.txt. Photos are
    ``images_dir/<image_id>.jpg``.
    Dropped rows, counted in ``attrs["dropped"]`` (reason -> count) and logged:
    ``no_votes`` - rows that give only the mean rating: with no vote distribution there is no target for
    a distribution loss or metric, so they are left out rather than guessed (1,173 rows of the published
    file); ``duplicate_id`` - a repeated photo id with identical counts (1 row; different counts are an
    error); ``missing_image`` - with ``require_images=True``, rows whose file does not exist, so the split
    sizes apply to the photos you have; ``beyond_split_sizes`` - rows left after filling the split sizes.
    With fewer rows than ``sum(split_sizes)`` (or ``split_sizes=None``), all rows are split in the
    proportions of the sizes.
    """
    frame = read_photonet(labels) if isinstance(labels, (str, os.PathLike)) else labels.copy()
    vote_columns = [f"v{k}" for k in range(1, PHOTONET_NUM_BINS + 1)]
    if "has_votes" not in frame.columns or any(c not in frame.columns for c in vote_columns):
        raise ValueError("labels lack the columns of read_photonet (v1..v7, has_votes)")
    frame["image_id"] = frame["image_id"].astype(str)
    dropped: dict[str, int] = {}
    dropped["no_votes"] = int((~frame["has_votes"]).sum())
    frame = frame[frame["has_votes"].to_numpy(dtype=bool)]
    frame, dropped["duplicate_id"] = drop_duplicate_ids(frame, vote_columns, "Photo.net labels")
    images_dir = absolute_path(images_dir)
    frame = frame.assign(path=[f"{images_dir}{os.sep}{image_id}.jpg" for image_id in frame["image_id"]])
    if require_images:
        exists = frame["path"].map(os.path.isfile).to_numpy(dtype=bool)
        dropped["missing_image"] = int((~exists).sum())
        frame = frame[exists]
    sizes = PHOTONET_SPLIT_SIZES if split_sizes is None else tuple(int(s) for s in split_sizes)
    if len(sizes) != 3 or min(sizes) < 0:
        raise ValueError(f"split_sizes must be three counts (train, val, test), got {split_sizes}")
    if split_sizes is None or len(frame) < sum(sizes):
        sizes = proportional_sizes(len(frame), sizes)
    split = seeded_split(frame["image_id"].to_numpy(), sizes, seed)
    dropped["beyond_split_sizes"] = int(pd.isna(split).sum())
    frame = frame.assign(split=split, theme_id=NO_THEME, theme=theme_column([None] * len(frame), frame.index))
    frame = frame[~pd.isna(split)]
    dropped = {reason: count for reason, count in dropped.items() if count}
    if dropped:
        logger.warning("Photo.net: dropped %s row(s) from the label table: %s", sum(dropped.values()), dropped)
    return finish_table(
        frame,
        PHOTONET_NUM_BINS,
        extra=["index", "n_ratings", "mean_rating", "variance"],
        attrs={
            "theme_names": [],
            "name": "Photo.net",
            "description": (
                "Photo.net (Datta et al., ECCV 2006): photos with vote counts for ratings 1-7, no themes; "
                f"random train/val/test split of {sizes} rows (seed {seed})."
            ),
            "synthetic": False,
            "dropped": dropped,
        },
    )
