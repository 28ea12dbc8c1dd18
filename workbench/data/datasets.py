"""Label tables for AVA, Photo.net and any folder of photos with a ``labels.csv``, and the dataset over them.

A *label table* (docs/DESIGN.md) is a DataFrame with one row per photo: ``image_id`` (str), ``path``
(str, absolute), ``split`` ("train" | "val" | "test"), ``theme_id`` (int, -1 = none), ``theme`` (str or
None), the vote counts ``v1..vK``, and optionally ``height``, ``width``. ``df.attrs`` holds ``num_bins``
(K), ``theme_names`` (index = theme id), ``name``, ``description`` and ``synthetic``.

The readers parse the files as published (AVA.txt, the TANet/ReLIC CSVs, idealo's JSON, challenges.txt,
tags.txt, ``*.jpgl``, Photo.net's ``photonet_dataset.txt``) and raise ``ValueError`` naming the file and
line of the first malformed entry. Splits that are drawn at random depend only on the set of image ids
and ``seed``, never on row order.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from workbench.data.augment import TRANSFORMS, test_samples, train_sample
from workbench.data.batching import MIN_SIDE, PaddedBatch, pad_batch, to_normalized_tensor
from workbench.data.images import ImageError, header_size, load_image

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
SPLITS = ("train", "val", "test")
NO_THEME = -1
AVA_NUM_BINS = 10
PHOTONET_NUM_BINS = 7
PHOTONET_SPLIT_SIZES = (14800, 666, 1200)  # train, val, test (the paper: 14,800 train, 1,200 test, 666 validation)
AVA_COLUMNS = ["index", "image_id", *[f"v{k}" for k in range(1, 11)], "tag1", "tag2", "challenge_id"]
TANET_HEADER = ["image_id", *[f"score{k}" for k in range(2, 12)], "tag1", "tag2", "tag3"]
_VOTE_COLUMN = re.compile(r"v(\d+)")


# --------------------------------------------------------------------------------------------------
# Small parsing helpers


def _read_fields(path: PathLike, num_fields: int, layout: str) -> tuple[list[list[str]], list[int]]:
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


def _fast_read(path: PathLike, names: Sequence[str], dtypes: dict[str, Any]) -> pd.DataFrame | None:
    """A well-formed whitespace-separated file through pandas' C parser; None when anything is off, so the
    caller can rerun the line-by-line reader, which names the line."""
    try:
        frame = pd.read_csv(
            path, sep=r"\s+", header=None, names=list(names), dtype=dtypes, engine="c", quoting=csv.QUOTE_NONE
        )
    except (ValueError, pd.errors.ParserError, OverflowError):
        return None
    return None if frame.isna().any().any() else frame


def _numeric_column(values: Sequence[str], dtype, path: PathLike, line_numbers: Sequence[int], name: str) -> np.ndarray:
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


def _check_non_negative(frame: pd.DataFrame, columns: Sequence[str], path: PathLike, line_numbers, what="vote counts"):
    values = frame[list(columns)].to_numpy()
    bad = np.flatnonzero((values < 0).any(axis=1))
    if len(bad):
        row = bad[0]
        raise ValueError(
            f"{path}, line {line_numbers[row]}: {what} must be >= 0, got {values[row].tolist()} "
            f"({len(bad)} such row(s))"
        )


def _seeded_split(image_ids: Sequence[str], sizes: tuple[int, int, int], seed: int) -> np.ndarray:
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


def _proportional_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """(train, val, test) counts summing to ``n`` in the given proportions (val and test rounded, train the rest)."""
    total = float(sum(fractions))
    n_val = int(round(n * fractions[1] / total))
    n_test = int(round(n * fractions[2] / total))
    return n - n_val - n_test, n_val, n_test


def _vote_columns(table: pd.DataFrame) -> list[str]:
    num_bins = table.attrs.get("num_bins")
    if num_bins is None:
        num_bins = len([c for c in table.columns if _VOTE_COLUMN.fullmatch(str(c))])
    columns = [f"v{k}" for k in range(1, int(num_bins) + 1)]
    missing = [c for c in columns if c not in table.columns]
    if not columns or missing:
        raise ValueError(f"label table lacks vote columns {missing or 'v1..vK'}")
    return columns


def _finish_table(frame: pd.DataFrame, num_bins: int, extra: Sequence[str], attrs: dict[str, Any]) -> pd.DataFrame:
    """Order the label-table columns (core first, then ``extra``) and set ``attrs``."""
    core = ["image_id", "path", "split", "theme_id", "theme", *[f"v{k}" for k in range(1, num_bins + 1)]]
    core += [c for c in ("height", "width") if c in frame.columns]
    table = frame[core + [c for c in extra if c in frame.columns and c not in core]].reset_index(drop=True)
    table.attrs = {"num_bins": num_bins, **attrs}
    return table


def _drop_duplicate_ids(
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


def _theme_column(themes: Sequence[str | None], index: pd.Index) -> pd.Series:
    """The ``theme`` column: names, None where a photo has no theme (object dtype, so None stays None)."""
    return pd.Series(list(themes), index=index, dtype=object)


def _absolute(path: PathLike) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


# --------------------------------------------------------------------------------------------------
# AVA


def read_ava_txt(path: PathLike) -> pd.DataFrame:
    """AVA.txt (15 space-separated columns) -> ``index, image_id (str), v1..v10, tag1, tag2, challenge_id``."""
    frame = _fast_read(path, AVA_COLUMNS, {name: (str if name == "image_id" else np.int64) for name in AVA_COLUMNS})
    if frame is not None and (frame[AVA_COLUMNS[2:12]].to_numpy() >= 0).all():
        return frame
    rows, line_numbers = _read_fields(path, 15, "index image_id c1..c10 tag1 tag2 challenge_id")
    columns = list(zip(*rows)) if rows else [()] * 15
    frame = pd.DataFrame({"image_id": pd.Series(columns[1], dtype=str)})
    for position, name in enumerate(AVA_COLUMNS):
        if name != "image_id":
            frame[name] = _numeric_column(columns[position], np.int64, path, line_numbers, name)
    frame = frame[AVA_COLUMNS]
    _check_non_negative(frame, AVA_COLUMNS[2:12], path, line_numbers)
    return frame


def read_ava_tanet_csv(path: PathLike) -> pd.DataFrame:
    """A TANet/ReLIC AVA CSV (``image_id,score2..score11,tag1,tag2,tag3``) -> the columns of ``read_ava_txt``.

    score2..score11 are the counts for ratings 1..10 and tag3 is the challenge id; ``index`` is -1 (the
    AVA.txt line is not in these files).
    """
    rows, line_numbers = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != TANET_HEADER:
            raise ValueError(f"{path}, line 1: expected the header {','.join(TANET_HEADER)!r}, got {header!r}")
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(TANET_HEADER):
                raise ValueError(
                    f"{path}, line {reader.line_num}: expected {len(TANET_HEADER)} comma-separated fields, "
                    f"got {len(fields)}: {','.join(fields)[:100]!r}"
                )
            rows.append([f.strip() for f in fields])
            line_numbers.append(reader.line_num)
    columns = list(zip(*rows)) if rows else [()] * len(TANET_HEADER)
    frame = pd.DataFrame({"index": np.full(len(rows), -1, dtype=np.int64), "image_id": pd.Series(columns[0], dtype=str)})
    names = [f"v{k}" for k in range(1, 11)] + ["tag1", "tag2", "challenge_id"]
    for position, name in enumerate(names, 1):
        frame[name] = _numeric_column(columns[position], np.int64, path, line_numbers, TANET_HEADER[position])
    _check_non_negative(frame, names[:10], path, line_numbers)
    return frame[AVA_COLUMNS]


def read_idealo_json(path: PathLike) -> pd.DataFrame:
    """idealo's AVA labels (``[{"image_id", "label": [10 counts]}]``) -> the columns of ``read_ava_txt``.

    The file has no AVA.txt index, tags or challenge: ``index`` and ``challenge_id`` are -1 and the tags
    0 (AVA's "no tag").
    """
    try:
        with open(path, encoding="utf-8") as handle:
            records = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of {{'image_id', 'label'}} records, got {type(records).__name__}")
    image_ids, votes = [], []
    for number, record in enumerate(records):
        label = record.get("label") if isinstance(record, dict) else None
        if (
            not isinstance(record, dict)
            or "image_id" not in record
            or not isinstance(label, list)
            or len(label) != AVA_NUM_BINS
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in label)
        ):
            raise ValueError(
                f"{path}, record {number}: expected {{'image_id': ..., 'label': [10 counts >= 0]}}, got {str(record)[:100]}"
            )
        image_ids.append(str(record["image_id"]))
        votes.append(label)
    votes = np.asarray(votes, dtype=np.int64).reshape(-1, AVA_NUM_BINS)
    frame = pd.DataFrame({"index": np.full(len(image_ids), -1, dtype=np.int64), "image_id": pd.Series(image_ids, dtype=str)})
    for k in range(AVA_NUM_BINS):
        frame[f"v{k + 1}"] = votes[:, k]
    frame["tag1"] = 0
    frame["tag2"] = 0
    frame["challenge_id"] = -1
    return frame[AVA_COLUMNS]


def _readable_challenge_name(raw: str) -> str:
    """challenges.txt writes every character but letters, digits and ``!,-.`` as ``_``: undo what is certain.

    ``Black___White`` -> ``Black & White`` (``" & "`` between words), other runs of ``_`` -> one space.
    """
    name = re.sub(r"(?<=[A-Za-z0-9])___(?=[A-Za-z0-9])", " & ", raw)
    return re.sub(r"_+", " ", name).strip() or raw


def _read_id_names(path: PathLike, what: str) -> dict[int, str]:
    names: dict[int, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            fields = line.strip().split(maxsplit=1)
            if len(fields) != 2 or not re.fullmatch(r"-?\d+", fields[0]):
                raise ValueError(f"{path}, line {line_number}: expected '<id> <{what} name>', got {line.strip()[:100]!r}")
            key = int(fields[0])
            if key in names:
                raise ValueError(f"{path}, line {line_number}: {what} id {key} appears twice")
            names[key] = fields[1].strip()
    return names


def read_challenges(path: PathLike) -> dict[int, str]:
    """challenges.txt (``<id> <Challenge_Name>``) -> {challenge id: readable name}, in file order.

    The file's underscores stand for spaces and punctuation; names come back with spaces (and `` & ``
    for a triple underscore between words), e.g. ``1396 100_Meters`` -> ``{1396: "100 Meters"}``.
    """
    return {key: _readable_challenge_name(name) for key, name in _read_id_names(path, "challenge").items()}


def read_tags(path: PathLike) -> dict[int, str]:
    """tags.txt (``<id> <Tag Name>``) -> {tag id: name}; AVA.txt uses 0 for "no tag"."""
    return _read_id_names(path, "tag")


def read_jpgl(path: PathLike) -> list[str]:
    """An AVA image list (``*.jpgl``: one image id per line) -> ids as strings, in file order."""
    ids = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 1:
                raise ValueError(f"{path}, line {line_number}: expected one image id, got {line.strip()[:100]!r}")
            ids.append(fields[0])
    return ids


def ava_table(
    labels: pd.DataFrame | PathLike,
    challenges_path: PathLike,
    images_dir: PathLike,
    test_list: PathLike | Iterable[str] | None = None,
    val_fraction: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """The AVA label table with the standard split.

    labels: a DataFrame from ``read_ava_txt`` / ``read_ava_tanet_csv`` / ``read_idealo_json`` (or
        concatenations of them), or the path of AVA.txt.
    test_list: the test ids, a ``.jpgl`` path or an iterable of ids; None -> ``generic_test.jpgl`` in
        ``aesthetics_image_lists/`` beside challenges.txt (the official package layout).
    Ids in the test list are ``test``; every other image is ``train``, except ``val_fraction`` of them
    held out as ``val`` at random by ``seed``. Theme ids number the challenges in challenges.txt order,
    so every AVA table and checkpoint shares the same 1,398 theme names whatever subset of AVA it holds;
    rows with challenge_id -1 (idealo's JSON has none) get theme_id -1. Photos are
    ``images_dir/<image_id>.jpg``. An id repeated with identical votes is kept once, preferring a row
    with a challenge (reported in ``attrs["dropped"]["duplicate_id"]``); with different votes, it is an error.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    frame = read_ava_txt(labels) if isinstance(labels, (str, os.PathLike)) else labels.copy()
    missing = [c for c in AVA_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"labels lack the AVA columns {missing}; read them with read_ava_txt / read_ava_tanet_csv / read_idealo_json"
        )
    frame["image_id"] = frame["image_id"].astype(str)
    vote_columns = [f"v{k}" for k in range(1, AVA_NUM_BINS + 1)]
    # Rows that name a challenge win over rows that do not (idealo's JSON repeats TANet ids without one).
    prefer = frame["challenge_id"].to_numpy() >= 0
    frame, duplicates = _drop_duplicate_ids(frame, vote_columns, "AVA labels", prefer=prefer)

    challenges = read_challenges(challenges_path)
    theme_names = list(challenges.values())
    theme_of_challenge = {challenge: theme for theme, challenge in enumerate(challenges)}
    unknown = sorted(set(frame["challenge_id"].tolist()) - set(challenges) - {-1})
    if unknown:
        raise ValueError(f"challenge ids {unknown[:10]} ({len(unknown)} in all) are not in {challenges_path}")
    frame["theme_id"] = frame["challenge_id"].map(lambda c: theme_of_challenge.get(c, NO_THEME)).astype(np.int64)
    frame["theme"] = _theme_column([theme_names[t] if t >= 0 else None for t in frame["theme_id"]], frame.index)

    if test_list is None:
        test_list = Path(challenges_path).parent / "aesthetics_image_lists" / "generic_test.jpgl"
        if not test_list.is_file():
            raise ValueError(f"no test list given and {test_list} does not exist; pass test_list (a .jpgl path or ids)")
    test_ids = set(read_jpgl(test_list) if isinstance(test_list, (str, os.PathLike)) else map(str, test_list))
    is_test = frame["image_id"].isin(test_ids).to_numpy()
    split = np.full(len(frame), "test", dtype=object)
    pool = np.flatnonzero(~is_test)
    n_val = int(round(val_fraction * len(pool)))
    split[pool] = _seeded_split(frame["image_id"].to_numpy()[pool], (len(pool) - n_val, n_val, 0), seed)
    frame["split"] = split
    images_dir = _absolute(images_dir)
    frame["path"] = [f"{images_dir}{os.sep}{image_id}.jpg" for image_id in frame["image_id"]]
    return _finish_table(
        frame,
        AVA_NUM_BINS,
        extra=["index", "challenge_id", "tag1", "tag2"],
        attrs={
            "theme_names": theme_names,
            "name": "AVA",
            "description": (
                "AVA (Murray et al., CVPR 2012): dpchallenge.com photos with vote counts for ratings 1-10, "
                "one challenge (theme) each; test = the generic_test list, the rest train with a "
                f"{val_fraction:.0%} validation hold-out (seed {seed})."
            ),
            "synthetic": False,
            "dropped": {"duplicate_id": duplicates} if duplicates else {},
        },
    )


# --------------------------------------------------------------------------------------------------
# Photo.net


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
    frame = _fast_read(path, names, {name: types.get(name, np.int64) for name in names})
    if frame is not None:
        votes = frame[vote_columns].to_numpy()
        dummy = (votes == -1).all(axis=1)
    if frame is None or ((votes < 0).any(axis=1) & ~dummy).any():
        rows, line_numbers = _read_fields(path, 12, "index photo_id n_ratings mean_rating variance c1..c7")
        columns = list(zip(*rows)) if rows else [()] * 12
        frame = pd.DataFrame({"image_id": pd.Series(columns[1], dtype=str)})
        for position, name in enumerate(names):
            if name != "image_id":
                frame[name] = _numeric_column(columns[position], types.get(name, np.int64), path, line_numbers, name)
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
    frame, dropped["duplicate_id"] = _drop_duplicate_ids(frame, vote_columns, "Photo.net labels")
    images_dir = _absolute(images_dir)
    frame = frame.assign(path=[f"{images_dir}{os.sep}{image_id}.jpg" for image_id in frame["image_id"]])
    if require_images:
        exists = frame["path"].map(os.path.isfile).to_numpy(dtype=bool)
        dropped["missing_image"] = int((~exists).sum())
        frame = frame[exists]
    sizes = PHOTONET_SPLIT_SIZES if split_sizes is None else tuple(int(s) for s in split_sizes)
    if len(sizes) != 3 or min(sizes) < 0:
        raise ValueError(f"split_sizes must be three counts (train, val, test), got {split_sizes}")
    if split_sizes is None or len(frame) < sum(sizes):
        sizes = _proportional_sizes(len(frame), sizes)
    split = _seeded_split(frame["image_id"].to_numpy(), sizes, seed)
    dropped["beyond_split_sizes"] = int(pd.isna(split).sum())
    frame = frame.assign(split=split, theme_id=NO_THEME, theme=_theme_column([None] * len(frame), frame.index))
    frame = frame[~pd.isna(split)]
    dropped = {reason: count for reason, count in dropped.items() if count}
    if dropped:
        logger.warning("Photo.net: dropped %s row(s) from the label table: %s", sum(dropped.values()), dropped)
    return _finish_table(
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


# --------------------------------------------------------------------------------------------------
# Generic folder + CSV


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
    root = _absolute(root)
    labels_path = root / "labels.csv"
    if not labels_path.is_file():
        raise ValueError(f"{root} is not a dataset folder: {labels_path} does not exist")
    meta: dict[str, Any] = {}
    meta_path = root / "dataset.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{meta_path}, line {error.lineno}: not valid JSON ({error.msg})") from None
        if not isinstance(meta, dict):
            raise ValueError(f"{meta_path}: expected a JSON object with name/description/synthetic/num_bins")

    text_columns = {"image": str, "image_id": str, "split": str, "theme": str}
    frame = pd.read_csv(labels_path, dtype=text_columns, keep_default_na=False, na_values=[""])

    def line_of(row: int) -> int:  # the header is line 1
        return int(row) + 2

    if "image" not in frame.columns:
        raise ValueError(f"{labels_path}, line 1: no 'image' column (got {list(frame.columns)})")
    numbers = sorted(int(m.group(1)) for c in frame.columns if (m := _VOTE_COLUMN.fullmatch(str(c))))
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

    paths = [str(_absolute(root / image)) for image in frame["image"]]
    if len(set(paths)) != len(paths):
        repeated = pd.Series(paths).duplicated()
        raise ValueError(f"{labels_path}, line {line_of(int(np.flatnonzero(repeated)[0]))}: image listed twice")
    frame["path"] = paths
    if "image_id" in frame.columns:
        frame["image_id"] = frame["image_id"].astype(str)
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
        frame["theme"] = _theme_column(themes, frame.index)
    else:
        frame["theme_id"] = NO_THEME
        frame["theme"] = _theme_column([None] * len(frame), frame.index)
    theme_names = theme_names or []

    if "split" in frame.columns:
        splits = frame["split"].fillna("").str.strip()
        bad = np.flatnonzero(~splits.isin(SPLITS).to_numpy())
        if len(bad):
            value = frame["split"].iloc[bad[0]]
            raise ValueError(f"{labels_path}, line {line_of(bad[0])}: split must be one of {SPLITS}, got {value!r}")
        frame["split"] = splits
    else:
        frame["split"] = _seeded_split(frame["image_id"].to_numpy(), _proportional_sizes(len(frame), (8, 1, 1)), seed)

    for column in ("height", "width"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            bad = np.flatnonzero((values.notna() & (values <= 0)).to_numpy())
            if len(bad):
                value = frame[column].iloc[bad[0]]
                raise ValueError(f"{labels_path}, line {line_of(bad[0])}: {column} must be > 0, got {value!r}")
            frame[column] = values.astype("Int64") if values.isna().any() else values.astype(np.int64)
    extra = [c for c in frame.columns if c not in ("image_id", "path", "split", "theme_id", "theme", *vote_columns)]
    return _finish_table(
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


# --------------------------------------------------------------------------------------------------
# Image headers


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


# --------------------------------------------------------------------------------------------------
# Dataset and collate


class AestheticDataset(Dataset):
    """One split of a label table as photos at full resolution (up to ``canvas``) and vote distributions.

    Training items are augmented with ``rng = np.random.default_rng([seed, epoch, index])``, so an item's
    augmentation depends only on (seed, epoch, index): identical across runs, resumes and DataLoader
    workers. Call ``set_epoch`` before each epoch's iterator is created (with ``persistent_workers`` the
    workers keep the epoch they were started with). Other items are the single deterministic test view.
    Items are ``dict(image=Tensor[3, h, w] normalised, target=Tensor[K] float summing to 1, theme=int,
    index=int)`` (``index`` is the row of ``.table``, the split's rows), or None for a missing or corrupt photo (with a warning naming it); ``collate_padded``
    drops and counts those.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        split: str | None,
        transform: str = "full",
        canvas: int = 800,
        train: bool = False,
        augment: str = "flip_crop",
        seed: int = 0,
    ):
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None (all rows), got {split!r}")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
        rows = table if split is None else table[table["split"] == split]
        self.table = rows.reset_index(drop=True)
        self.table.attrs = dict(table.attrs)
        vote_columns = _vote_columns(table)
        self.num_bins = len(vote_columns)
        self.theme_names = list(table.attrs.get("theme_names", []))
        votes = self.table[vote_columns].to_numpy(dtype=np.float64)
        totals = votes.sum(axis=1, keepdims=True)
        if (totals <= 0).any() or not np.isfinite(votes).all():
            row = int(np.flatnonzero((totals[:, 0] <= 0) | ~np.isfinite(votes).all(axis=1))[0])
            image_id = self.table["image_id"].iloc[row]
            raise ValueError(f"image {image_id!r}: votes {votes[row].tolist()} do not form a distribution")
        self.targets = torch.from_numpy(votes / totals).float()
        self.themes = self.table["theme_id"].to_numpy(dtype=np.int64)
        self.paths = self.table["path"].astype(str).tolist()
        self.split = split
        self.transform = transform
        self.canvas = canvas
        self.train = train
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self._sizes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def sizes(self) -> np.ndarray:
        """np.ndarray[N, 2] (h, w) of the split's photos (read once, on first use), for the shape-grouped sampler."""
        if self._sizes is None:
            self._sizes = image_sizes(self.table)
        return self._sizes

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load_photo(self, index: int) -> Image.Image | None:
        """Photo ``index`` as RGB fitted within the canvas, or None (with a warning naming it) when it is
        missing or corrupt: what every view of it starts from."""
        try:
            return load_image(self.paths[index], max_side=self.canvas)
        except ImageError as error:
            warnings.warn(f"skipping photo {self.paths[index]}: {error}", stacklevel=3)
            return None

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        image = self.load_photo(index)
        if image is None:
            return None
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            view = train_sample(image, self.transform, rng, augment=self.augment, canvas=self.canvas)
        else:
            view = test_samples(image, self.transform, tta=False, rng=None, canvas=self.canvas)[0]
        if min(view.size) < MIN_SIDE:
            width, height = view.size
            warnings.warn(f"skipping photo {self.paths[index]}: {width}x{height} px is below {MIN_SIDE} px", stacklevel=2)
            return None
        return {
            "image": to_normalized_tensor(view),
            "target": self.targets[index].clone(),
            "theme": int(self.themes[index]),
            "index": int(index),
        }

    def test_items(self, index: int, tta: bool, rng: np.random.Generator | None = None) -> list[torch.Tensor] | None:
        """Normalised views Tensor[3, h, w] of photo ``index`` for test-time averaging (six views, or 20
        random views for ``resize``/``crop``; one view without ``tta``); None if the photo is missing or corrupt."""
        image = self.load_photo(index)
        if image is None:
            return None
        views = test_samples(image, self.transform, tta=tta, rng=rng, canvas=self.canvas)
        return [to_normalized_tensor(view) for view in views]


def collate_padded(items: Sequence[dict[str, Any] | None], canvas: int | None = None) -> dict[str, Any] | None:
    """DataLoader collate: drop None items (counted in ``skipped``) and pad the photos into one ``PaddedBatch``.

    canvas: pad to a square canvas of this side, or (None) to the batch's largest photo (rounded up to 16).
    Returns ``dict(batch=PaddedBatch, target=Tensor[B, K], theme=LongTensor[B], index=LongTensor[B],
    skipped=int)``, or None when every item was None. Use ``functools.partial(collate_padded, canvas=800)``.
    """
    kept = [item for item in items if item is not None]
    if not kept:
        return None
    batch: PaddedBatch = pad_batch([item["image"] for item in kept], canvas=canvas)
    return {
        "batch": batch,
        "target": torch.stack([item["target"] for item in kept]),
        "theme": torch.tensor([item["theme"] for item in kept], dtype=torch.long),
        "index": torch.tensor([item["index"] for item in kept], dtype=torch.long),
        "skipped": len(items) - len(kept),
    }
