"""The generic folder format (``labels.csv`` + optional ``themes.txt`` / ``dataset.json``; docs/DESIGN.md):
what the synthetic benchmark writes and what users bring."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.data.tables import (
    NO_THEME, SPLITS, VOTE_COLUMN, PathLike, absolute_path, finish_table, proportional_sizes, read_json_object, seeded_split,
    theme_column,
)  # fmt: skip


def _read_themes(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names = []
    for line_number, line in enumerate(lines, 1):
        name = line.strip()
        if not name:
            raise ValueError(f"{path}, line {line_number}: empty theme name (line order is the theme id)")
        if name in names:
            raise ValueError(f"{path}, line {line_number}: theme {name!r} appears twice")
        names.append(name)
    return names


def read_csv_folder(root: PathLike, seed: int = 0) -> pd.DataFrame:
    """A folder in the generic format (docs/DESIGN.md) -> label table.

    ROOT/labels.csv: ``image`` (relative to ROOT, or absolute), ``split`` (optional), ``theme`` (optional),
    ``v1..vK``, ``width``/``height`` (optional), any other columns (kept); an ``image_id`` column is used
    when present, else the file stem (or the ``image`` value when stems repeat). K is the number of v
    columns. ROOT/themes.txt (optional): theme names, line order = theme id; without it, the distinct
    themes of labels.csv in sorted order. ROOT/dataset.json (optional): name, description, synthetic,
    num_bins. Without a ``split`` column, rows are split 80/10/10 at random by ``seed``.
    """
    root = absolute_path(root)
    labels_path = root / "labels.csv"
    if not labels_path.is_file():
        raise ValueError(f"{root} is not a dataset folder: {labels_path} does not exist")
    meta: dict[str, Any] = {}
    meta_path = root / "dataset.json"
    if meta_path.is_file():
        meta = read_json_object(meta_path, "name/description/synthetic/num_bins")

    text_columns = {"image": str, "image_id": str, "split": str, "theme": str}
    frame = pd.read_csv(labels_path, dtype=text_columns, keep_default_na=False, na_values=[""])

    def line_of(row: int) -> int:  # the header is line 1
        return int(row) + 2

    if "image" not in frame.columns:
        raise ValueError(f"{labels_path}, line 1: no 'image' column (got {list(frame.columns)})")
    numbers = sorted(int(m.group(1)) for c in frame.columns if (m := VOTE_COLUMN.fullmatch(str(c))))
    num_bins = len(numbers)
    if num_bins < 2 or numbers != list(range(1, num_bins + 1)):
        found = [f"v{n}" for n in numbers]
        raise ValueError(f"{labels_path}, line 1: vote columns must be v1..vK with K >= 2, got {found}")
    if "num_bins" in meta and int(meta["num_bins"]) != num_bins:
        raise ValueError(f"{meta_path}: num_bins is {meta['num_bins']} but {labels_path} has v1..v{num_bins}")
    vote_columns = [f"v{k}" for k in range(1, num_bins + 1)]

    if frame["image"].isna().any():
        raise ValueError(f"{labels_path}, line {line_of(int(np.flatnonzero(frame['image'].isna())[0]))}: empty 'image'")
    for column in vote_columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float)) | (values < 0).to_numpy())
        if len(bad):
            value = frame[column].iloc[bad[0]]
            raise ValueError(f"{labels_path}, line {line_of(bad[0])}: {column} must be a count >= 0, got {value!r}")
        frame[column] = values
    empty = np.flatnonzero(frame[vote_columns].sum(axis=1).to_numpy() <= 0)
    if len(empty):
        raise ValueError(f"{labels_path}, line {line_of(empty[0])}: the votes v1..v{num_bins} sum to 0")

    paths = [str(absolute_path(root / image)) for image in frame["image"]]
    if len(set(paths)) != len(paths):
        repeated = pd.Series(paths).duplicated()
        raise ValueError(f"{labels_path}, line {line_of(int(np.flatnonzero(repeated)[0]))}: image listed twice")
    frame["path"] = paths
    if "image_id" in frame.columns:
        frame["image_id"] = frame["image_id"].astype(str)
        repeated_id = frame["image_id"].duplicated(keep="first").to_numpy()
        if repeated_id.any():  # the id keys splits, caches and results: two photos must not share one
            row = int(np.flatnonzero(repeated_id)[0])
            raise ValueError(f"{labels_path}, line {line_of(row)}: image_id {frame['image_id'].iloc[row]!r} listed twice")
    else:
        stems = [Path(image).stem for image in frame["image"]]
        frame["image_id"] = stems if len(set(stems)) == len(stems) else frame["image"].tolist()

    themes_path = root / "themes.txt"
    theme_names = _read_themes(themes_path) if themes_path.is_file() else None
    if "theme" in frame.columns:
        themes = [t.strip() if isinstance(t, str) and t.strip() else None for t in frame["theme"]]
        if theme_names is None:
            theme_names = sorted({t for t in themes if t})
        theme_of_name = {name: index for index, name in enumerate(theme_names)}
        unknown = np.flatnonzero([bool(t) and t not in theme_of_name for t in themes])
        if len(unknown):
            row = unknown[0]
            raise ValueError(
                f"{labels_path}, line {line_of(row)}: theme {themes[row]!r} is not in {themes_path} "
                f"({len(unknown)} such row(s)); add it there or fix the row"
            )
        frame["theme_id"] = np.array([theme_of_name[t] if t else NO_THEME for t in themes], dtype=np.int64)
        frame["theme"] = theme_column(themes, frame.index)
    else:
        frame["theme_id"] = NO_THEME
        frame["theme"] = theme_column([None] * len(frame), frame.index)
    theme_names = theme_names or []

    if "split" in frame.columns:
        splits = frame["split"].fillna("").str.strip()
        bad = np.flatnonzero(~splits.isin(SPLITS).to_numpy())
        if len(bad):
            value = frame["split"].iloc[bad[0]]
            raise ValueError(f"{labels_path}, line {line_of(bad[0])}: split must be one of {SPLITS}, got {value!r}")
        frame["split"] = splits
    else:
        frame["split"] = seeded_split(frame["image_id"].to_numpy(), proportional_sizes(len(frame), (8, 1, 1)), seed)

    for column in ("height", "width"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = np.flatnonzero((values.notna() & (values <= 0)).to_numpy())
            if len(bad):
                value = frame[column].iloc[bad[0]]
                raise ValueError(f"{labels_path}, line {line_of(bad[0])}: {column} must be > 0, got {value!r}")
            frame[column] = values.astype("Int64") if values.isna().any() else values.astype(np.int64)
    extra = [c for c in frame.columns if c not in ("image_id", "path", "split", "theme_id", "theme", *vote_columns)]
    return finish_table(
        frame,
        num_bins,
        extra=extra,
        attrs={
            "theme_names": theme_names,
            "name": str(meta.get("name", root.name)),
            "description": str(meta.get("description", "")),
            "synthetic": bool(meta.get("synthetic", False)),
            "root": str(root),
        },
    )
