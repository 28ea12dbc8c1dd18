"""Label tables: the format every reader returns and the helpers the readers share.

A *label table* (docs/DESIGN.md) is a DataFrame with one row per photo: ``image_id`` (str), ``path``
(str, absolute), ``split`` ("train" | "val" | "test"), ``theme_id`` (int, ``NO_THEME`` = none), ``theme``
(str or None), the vote counts ``v1..vK``, and optionally ``height``, ``width``. ``df.attrs`` holds
``num_bins`` (K), ``theme_names`` (index = theme id), ``name``, ``description`` and ``synthetic``.

The readers (``ava``, ``photonet``, ``csv_folder``) parse the files as published and raise ``ValueError``
naming the file and line of the first malformed entry. Splits that are drawn at random depend only on
the set of image ids and ``seed``, never on row order. ``image_sizes`` and ``check_images`` read photo
headers only (for the shape-grouped sampler, and to drop unusable photos before training).
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.data.batching import MIN_SIDE
from workbench.data.images import header_size

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
SPLITS = ("train", "val", "test")
NO_THEME = -1  # theme id meaning "no theme" (a photo without one; the model's learned no-theme vector)
VOTE_COLUMN = re.compile(r"v(\d+)")  # vote-count columns v1..vK


def read_json_object(path: PathLike, expected: str) -> dict[str, Any]:
    """A JSON file that must hold one object (dataset.json, a results sidecar); a file that is not valid JSON or
    not an object is an error naming it and what it should hold (``expected``), never a traceback from json."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: not valid JSON ({error.msg}); fix or remove it") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object with {expected}, got {type(value).__name__}")
    return value


def read_fields(path: PathLike, num_fields: int, layout: str) -> tuple[list[list[str]], list[int]]:
    """Whitespace-separated rows of a text file (LF or CRLF), skipping blank lines, with their line numbers."""
    rows, line_numbers = [], []
    with open(path, encoding="utf-8") as handle:  # universal newlines: CRLF reads as LF
        for line_number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != num_fields:
                raise ValueError(
                    f"{path}, line {line_number}: expected {num_fields} space-separated fields "
                    f"({layout}), got {len(fields)}: {line.strip()[:100]!r}"
                )
            rows.append(fields)
            line_numbers.append(line_number)
    return rows, line_numbers


def fast_read(path: PathLike, names: Sequence[str], dtypes: dict[str, Any]) -> pd.DataFrame | None:
    """A well-formed whitespace-separated file through pandas' C parser; None when anything is off, so the
    caller can rerun the line-by-line reader, which names the line."""
    try:
        frame = pd.read_csv(
            path, sep=r"\s+", header=None, names=list(names), dtype=dtypes, engine="c", quoting=csv.QUOTE_NONE
        )
    except (ValueError, pd.errors.ParserError, OverflowError):
        return None
    return None if frame.isna().any().any() else frame


def numeric_column(values: Sequence[str], dtype, path: PathLike, line_numbers: Sequence[int], name: str) -> np.ndarray:
    """Strings -> numbers; on failure, name the file and line of the first value that is not a number."""
    array = np.asarray(values, dtype=str)
    try:
        return array.astype(dtype)
    except ValueError:
        for value, line_number in zip(array, line_numbers):
            try:
                np.asarray([value]).astype(dtype)
            except ValueError:
                kind = "an integer" if np.issubdtype(np.dtype(dtype), np.integer) else "a number"
                raise ValueError(f"{path}, line {line_number}: column {name!r} must be {kind}, got {value!r}") from None
        raise


def check_non_negative(frame: pd.DataFrame, columns: Sequence[str], path: PathLike, line_numbers, what="vote counts"):
    values = frame[list(columns)].to_numpy()
    bad = np.flatnonzero((values < 0).any(axis=1))
    if len(bad):
        row = bad[0]
        raise ValueError(
            f"{path}, line {line_numbers[row]}: {what} must be >= 0, got {values[row].tolist()} "
            f"({len(bad)} such row(s))"
        )


def seeded_split(image_ids: Sequence[str], sizes: tuple[int, int, int], seed: int) -> np.ndarray:
    """Assign ``sizes = (train, val, test)`` rows at random by ``seed``; rows beyond the sizes get None.

    The permutation is drawn over the ids in sorted order, so the split depends on the id set, not row order.
    """
    image_ids = np.asarray(image_ids, dtype=str)
    n_train, n_val, n_test = sizes
    if n_train + n_val + n_test > len(image_ids):
        raise ValueError(f"split sizes {sizes} exceed the {len(image_ids)} rows")
    order = np.argsort(image_ids, kind="stable")[np.random.default_rng(seed).permutation(len(image_ids))]
    split = np.full(len(image_ids), None, dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test : n_test + n_val]] = "val"
    split[order[n_test + n_val : n_test + n_val + n_train]] = "train"
    return split


def proportional_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """(train, val, test) counts summing to ``n`` in the given proportions (val and test rounded, train the rest)."""
    total = float(sum(fractions))
    n_val = int(round(n * fractions[1] / total))
    n_test = int(round(n * fractions[2] / total))
    return n - n_val - n_test, n_val, n_test


def vote_columns(table: pd.DataFrame) -> list[str]:
    num_bins = table.attrs.get("num_bins")
    if num_bins is None:
        num_bins = len([c for c in table.columns if VOTE_COLUMN.fullmatch(str(c))])
    columns = [f"v{k}" for k in range(1, int(num_bins) + 1)]
    missing = [c for c in columns if c not in table.columns]
    if not columns or missing:
        raise ValueError(f"label table lacks vote columns {missing or 'v1..vK'}")
    return columns


def finish_table(frame: pd.DataFrame, num_bins: int, extra: Sequence[str], attrs: dict[str, Any]) -> pd.DataFrame:
    """Order the label-table columns (core first, then ``extra``) and set ``attrs``."""
    core = ["image_id", "path", "split", "theme_id", "theme", *[f"v{k}" for k in range(1, num_bins + 1)]]
    core += [c for c in ("height", "width") if c in frame.columns]
    table = frame[core + [c for c in extra if c in frame.columns and c not in core]].reset_index(drop=True)
    table.attrs = {"num_bins": num_bins, **attrs}
    return table


def drop_duplicate_ids(
    frame: pd.DataFrame, vote_columns: list[str], source: str, prefer: np.ndarray | None = None
) -> tuple[pd.DataFrame, int]:
    """Drop repeated image ids whose votes agree, keeping the first row (the first ``prefer`` row when given)
    of each; raise when the votes disagree. Row order is kept."""
    duplicated = frame["image_id"].duplicated(keep=False)
    if not duplicated.any():
        return frame, 0
    repeats = frame[duplicated]
    conflicting = repeats.groupby("image_id")[vote_columns].nunique().gt(1).any(axis=1)
    if conflicting.any():
        ids = conflicting[conflicting].index.tolist()
        raise ValueError(f"{source}: image id(s) {ids[:5]} appear more than once with different vote counts")
    order = np.arange(len(frame)) if prefer is None else np.argsort(~np.asarray(prefer, dtype=bool), kind="stable")
    keep = np.empty(len(frame), dtype=bool)
    keep[order] = ~frame["image_id"].iloc[order].duplicated(keep="first").to_numpy()
    return frame[keep], int((~keep).sum())


def theme_column(themes: Sequence[str | None], index: pd.Index) -> pd.Series:
    """The ``theme`` column: names, None where a photo has no theme (object dtype, so None stays None)."""
    return pd.Series(list(themes), index=index, dtype=object)


def absolute_path(path: PathLike) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def _header_sizes(paths: Sequence[str], num_threads: int = 8) -> np.ndarray:
    if len(paths) < 64:
        sizes = [header_size(p) for p in paths]
    else:
        with ThreadPoolExecutor(num_threads) as pool:
            sizes = list(pool.map(header_size, paths, chunksize=64))
    return np.asarray(sizes, dtype=np.int64).reshape(-1, 2)


def image_sizes(table: pd.DataFrame) -> np.ndarray:
    """np.ndarray[N, 2] of (h, w) per row: the ``height``/``width`` columns where given, else the file header.

    Headers are read without decoding the pixels; unreadable or missing files give (0, 0).
    """
    sizes = np.zeros((len(table), 2), dtype=np.int64)
    known = np.zeros(len(table), dtype=bool)
    if "height" in table.columns and "width" in table.columns:
        heights = pd.to_numeric(table["height"], errors="coerce").to_numpy(dtype=float)
        widths = pd.to_numeric(table["width"], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(heights) & np.isfinite(widths)
        sizes[known, 0] = heights[known]
        sizes[known, 1] = widths[known]
    unknown = np.flatnonzero(~known)
    if len(unknown):
        sizes[unknown] = _header_sizes(table["path"].to_numpy()[unknown].tolist())
    return sizes


def check_images(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows whose photo cannot be used, before training, so no epoch meets them.

    Returns the kept rows (index reset, ``height``/``width`` filled from the headers where absent) and
    counts per reason: ``missing`` (no file), ``unreadable`` (header not an image), ``too_small`` (a side
    below ``MIN_SIDE``), and ``kept``. Only headers are read; a file whose pixels are corrupt past the
    header is caught later, when the dataset returns None for it.
    """
    paths = table["path"].astype(str).tolist()
    exists = np.array([os.path.isfile(p) for p in paths], dtype=bool)
    sizes = np.zeros((len(table), 2), dtype=np.int64)
    sizes[exists] = _header_sizes([p for p, e in zip(paths, exists) if e])
    unreadable = exists & (sizes.min(axis=1) == 0)
    too_small = exists & ~unreadable & (sizes.min(axis=1) < MIN_SIDE)
    keep = exists & ~unreadable & ~too_small
    report = {
        "missing": int((~exists).sum()),
        "unreadable": int(unreadable.sum()),
        "too_small": int(too_small.sum()),
        "kept": int(keep.sum()),
    }
    kept = table.copy()
    for column, index in (("height", 0), ("width", 1)):
        header = pd.Series(sizes[:, index], index=kept.index)
        kept[column] = pd.to_numeric(kept[column], errors="coerce").fillna(header) if column in kept.columns else header
    kept = kept[keep].reset_index(drop=True)
    for column in ("height", "width"):
        kept[column] = kept[column].astype(np.int64)
    kept.attrs = dict(table.attrs)
    if len(table) > report["kept"]:
        logger.warning("check_images: dropped %d of %d rows: %s", len(table) - report["kept"], len(table), report)
    return kept, report
