"""Label-table preparation: the labels a training config names, ready for a run.

``load_table`` reads the source the settings name (the generic CSV folder, AVA, Photo.net), holds out
validation photos and applies ``limit_images``; ``prepare_table`` then drops photos that are missing or
unreadable (``tables.check_images``) and prints the counts. ``settings`` is a ``config.TrainConfig``,
or anything with the fields of ``DataSettings``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from workbench.data.ava import ava_table, read_ava_tanet_csv, read_ava_txt, read_idealo_json
from workbench.data.csv_folder import read_csv_folder
from workbench.data.photonet import PHOTONET_SPLIT_SIZES, photonet_table
from workbench.data.tables import check_images

DATA_SOURCES = ("csv", "ava", "photonet")


class DataSettings(Protocol):
    """The fields of ``TrainConfig`` that choose and split the data (their comments there)."""

    data: str
    data_root: str
    images_dir: str
    ava_labels: str
    ava_challenges: str
    ava_test_list: str | None
    photonet_labels: str
    val_fraction: float
    split_seed: int
    limit_images: int | None


def _resolve(root: Path, path: str | None) -> Path | None:
    if path is None:
        return None
    path = Path(path).expanduser()
    return path if path.is_absolute() else root / path


def read_ava_labels(path: Path) -> pd.DataFrame:
    """AVA's vote file in any of its published forms, by suffix: a TANet/ReLIC ``.csv``, idealo's ``.json``, or AVA.txt."""
    if path.suffix.lower() == ".csv":
        return read_ava_tanet_csv(path)
    if path.suffix.lower() == ".json":
        return read_idealo_json(path)
    return read_ava_txt(path)


def load_table(config: DataSettings) -> pd.DataFrame:
    """The label table the config names: its source, splits (with a validation hold-out) and limit."""
    root = Path(config.data_root).expanduser()
    if config.data == "csv":
        table = read_csv_folder(root, seed=config.split_seed)
    elif config.data == "ava":
        for name in ("ava_labels", "ava_challenges"):
            if not _resolve(root, getattr(config, name)).is_file():
                raise FileNotFoundError(f"{_resolve(root, getattr(config, name))}: no such file (config {name}, data_root {root})")
        table = ava_table(
            read_ava_labels(_resolve(root, config.ava_labels)), _resolve(root, config.ava_challenges),
            _resolve(root, config.images_dir), test_list=_resolve(root, config.ava_test_list),
            val_fraction=config.val_fraction, seed=config.split_seed,
        )  # fmt: skip
    else:
        labels = _resolve(root, config.photonet_labels)
        if not labels.is_file():
            raise FileNotFoundError(f"{labels}: no such file (config photonet_labels, data_root {root})")
        # Sec. IV-A 2: a random 14,800 train / 666 val / 1,200 test split of the photos that could be downloaded.
        table = photonet_table(labels, _resolve(root, config.images_dir), seed=config.split_seed,
                               split_sizes=PHOTONET_SPLIT_SIZES, require_images=True)  # fmt: skip
    attrs = dict(table.attrs)
    attrs.setdefault("root", str(root.resolve()))
    if config.data == "csv" and not (table["split"] == "val").any() and config.val_fraction > 0:
        table = _hold_out_validation(table, config.val_fraction, config.split_seed)
    if config.limit_images is not None:
        table = _limit_per_split(table, config.limit_images, config.split_seed)
    table.attrs = attrs
    return table


def _hold_out_validation(table: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Move ``fraction`` of the training rows (seeded, independent of row order) to the ``val`` split."""
    table = table.copy()
    train_rows = np.flatnonzero((table["split"] == "train").to_numpy())
    ids = table["image_id"].to_numpy(dtype=str)[train_rows]
    order = train_rows[np.argsort(ids, kind="stable")][np.random.default_rng([seed, 1]).permutation(len(train_rows))]
    table.loc[order[: int(round(fraction * len(train_rows)))], "split"] = "val"
    return table


def _limit_per_split(table: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    keep = []
    for split in ("train", "val", "test"):
        rows = np.flatnonzero((table["split"] == split).to_numpy())
        ids = table["image_id"].to_numpy(dtype=str)[rows]
        rows = rows[np.argsort(ids, kind="stable")][np.random.default_rng([seed, 2]).permutation(len(rows))]
        keep.extend(sorted(rows[:limit].tolist()))
    return table.iloc[sorted(keep)].reset_index(drop=True)


def prepare_table(config: DataSettings, verbose: bool = True) -> pd.DataFrame:
    """``load_table`` then drop photos that are missing or unreadable (``check_images``), printing the counts."""
    table = load_table(config)
    attrs = dict(table.attrs)
    kept, report = check_images(table)
    kept.attrs = attrs
    if verbose:
        splits = kept["split"].value_counts()
        dropped = ", ".join(f"{reason} {count:,}" for reason, count in report.items() if reason != "kept" and count)
        print(
            f"data: {attrs.get('name', config.data)}{' (synthetic)' if attrs.get('synthetic') else ''}: "
            f"{report['kept']:,} of {len(table):,} photos usable{f' (dropped: {dropped})' if dropped else ''}; "
            + " / ".join(f"{split} {int(splits.get(split, 0)):,}" for split in ("train", "val", "test"))
            + f"; {attrs.get('num_bins')} bins, {len(attrs.get('theme_names', []))} themes",
            flush=True,
        )
    return kept


def data_description(table: pd.DataFrame) -> dict[str, Any]:
    """What a checkpoint records about its data; synthetic data is labelled synthetic."""
    attrs = table.attrs
    return {
        "name": str(attrs.get("name", "")),
        "description": str(attrs.get("description", "")),
        "synthetic": bool(attrs.get("synthetic", False)),
        "root": str(attrs.get("root", "")),
    }
