"""AVA's files as published (AVA.txt, the TANet/ReLIC CSVs, idealo's JSON, challenges.txt, tags.txt,
``*.jpgl``) and the AVA label table with its standard split (``workbench.data.tables``)."""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from workbench.data.tables import (
    NO_THEME, PathLike, absolute_path, check_non_negative, drop_duplicate_ids, fast_read, finish_table,
    numeric_column, read_fields, seeded_split, theme_column,
)  # fmt: skip

AVA_NUM_BINS = 10
AVA_COLUMNS = ["index", "image_id", *[f"v{k}" for k in range(1, 11)], "tag1", "tag2", "challenge_id"]
TANET_HEADER = ["image_id", *[f"score{k}" for k in range(2, 12)], "tag1", "tag2", "tag3"]


def read_ava_txt(path: PathLike) -> pd.DataFrame:
    """AVA.txt (15 space-separated columns) -> ``index, image_id (str), v1..v10, tag1, tag2, challenge_id``."""
    frame = fast_read(path, AVA_COLUMNS, {name: (str if name == "image_id" else np.int64) for name in AVA_COLUMNS})
    if frame is not None and (frame[AVA_COLUMNS[2:12]].to_numpy() >= 0).all():
        return frame
    rows, line_numbers = read_fields(path, 15, "index image_id c1..c10 tag1 tag2 challenge_id")
    columns = list(zip(*rows)) if rows else [()] * 15
    frame = pd.DataFrame({"image_id": pd.Series(columns[1], dtype=str)})
    for position, name in enumerate(AVA_COLUMNS):
        if name != "image_id":
            frame[name] = numeric_column(columns[position], np.int64, path, line_numbers, name)
    frame = frame[AVA_COLUMNS]
    check_non_negative(frame, AVA_COLUMNS[2:12], path, line_numbers)
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
        frame[name] = numeric_column(columns[position], np.int64, path, line_numbers, TANET_HEADER[position])
    check_non_negative(frame, names[:10], path, line_numbers)
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
    frame, duplicates = drop_duplicate_ids(frame, vote_columns, "AVA labels", prefer=prefer)

    challenges = read_challenges(challenges_path)
    theme_names = list(challenges.values())
    theme_of_challenge = {challenge: theme for theme, challenge in enumerate(challenges)}
    unknown = sorted(set(frame["challenge_id"].tolist()) - set(challenges) - {-1})
    if unknown:
        raise ValueError(f"challenge ids {unknown[:10]} ({len(unknown)} in all) are not in {challenges_path}")
    frame["theme_id"] = frame["challenge_id"].map(lambda c: theme_of_challenge.get(c, NO_THEME)).astype(np.int64)
    frame["theme"] = theme_column([theme_names[t] if t >= 0 else None for t in frame["theme_id"]], frame.index)

    if test_list is None:
        test_list = Path(challenges_path).parent / "aesthetics_image_lists" / "generic_test.jpgl"
        if not test_list.is_file():
            raise ValueError(f"no test list given and {test_list} does not exist; pass test_list (a .jpgl path or ids)")
    test_ids = set(read_jpgl(test_list) if isinstance(test_list, (str, os.PathLike)) else map(str, test_list))
    is_test = frame["image_id"].isin(test_ids).to_numpy()
    split = np.full(len(frame), "test", dtype=object)
    pool = np.flatnonzero(~is_test)
    n_val = int(round(val_fraction * len(pool)))
    split[pool] = seeded_split(frame["image_id"].to_numpy()[pool], (len(pool) - n_val, n_val, 0), seed)
    frame["split"] = split
    images_dir = absolute_path(images_dir)
    frame["path"] = [f"{images_dir}{os.sep}{image_id}.jpg" for image_id in frame["image_id"]]
    return finish_table(
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


def real_ava_theme_split(shared_ava_root: PathLike, seed: int = 0, val_fraction: float = 0.1) -> pd.DataFrame:
    """The AVA photos whose votes and challenge (theme) are on disk, as a label table with a split.

    Loads the TANet/ReLIC ``tanet/test.csv`` and ``tanet/val.csv`` (AVA.txt rows: vote counts and
    challenge id) and ``challenges.txt`` under ``shared_ava_root``. These ~25.5k photos are a random
    ~10% subset of AVA (the full AVA.txt is not available), not the standard split: ids in the
    official ``generic_test.jpgl`` (~2k of them) are ``test``; the rest are ``train``, except
    ``val_fraction`` of them held out as ``val`` at random by ``seed``. Their photos are not on disk
    (``path`` points at ``images/<id>.jpg``, mostly absent). Nothing is dropped silently:
    ``attrs["counts"]`` gives rows read per file, repeated ids kept once, rows with no votes, photos
    without theme and photos per split.
    """
    root = Path(shared_ava_root)
    files = {"tanet/test.csv": root / "tanet" / "test.csv", "tanet/val.csv": root / "tanet" / "val.csv"}
    for required in (*files.values(), root / "challenges.txt", root / "aesthetics_image_lists" / "generic_test.jpgl"):
        if not required.is_file():
            raise FileNotFoundError(f"{required} does not exist; shared_ava_root must hold the AVA files of SOURCES.md")
    parts = {name: read_ava_tanet_csv(path) for name, path in files.items()}
    labels = pd.concat(list(parts.values()), ignore_index=True)
    vote_columns = [f"v{k}" for k in range(1, 11)]
    no_votes = labels[vote_columns].sum(axis=1).to_numpy() <= 0
    if no_votes.any():  # a photo without votes has no distribution to learn or score
        labels = labels[~no_votes].reset_index(drop=True)
    test_ids = read_jpgl(root / "aesthetics_image_lists" / "generic_test.jpgl")
    table = ava_table(labels, root / "challenges.txt", root / "images", test_list=test_ids,
                      val_fraction=val_fraction, seed=seed)
    splits = table["split"].value_counts()
    table.attrs["name"] = "AVA (TANet subset)"
    table.attrs["description"] = (
        "AVA photos with votes and challenge ids from the TANet/ReLIC val.csv + test.csv (a random ~10% "
        "subset of AVA, not the full set); test = those in the official generic_test list, the rest "
        f"train with a {val_fraction:.0%} validation hold-out (seed {seed})."
    )
    table.attrs["counts"] = {
        **{f"rows_{name}": int(len(frame)) for name, frame in parts.items()},
        "repeated_ids_kept_once": int(table.attrs.get("dropped", {}).get("duplicate_id", 0)),
        "rows_without_votes_dropped": int(no_votes.sum()),
        "photos": int(len(table)),
        "photos_without_theme": int(np.sum(table["theme_id"].to_numpy() == NO_THEME)),
        "themes": int(table.loc[table["theme_id"] != NO_THEME, "theme_id"].nunique()),
        **{split: int(splits.get(split, 0)) for split in ("train", "val", "test")},
    }
    return table
