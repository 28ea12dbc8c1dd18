"""Many photos at once: one row per photo (mean and std under a theme and with none), bad files listed.

Why its own path: a batch needs only the ``full`` view (a quarter of a page's backbone work), and one
unreadable file must not stop the others. Photos already in the page's cache are not run again.
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from workbench.data.images import ImageError, load_image_with_info
from workbench.demo.cache import content_hash
from workbench.demo.drawing import thumbnail
from workbench.demo.session import DemoSession
from workbench.predict import NO_THEME_NAME, summarize

MAX_PHOTOS = 200  # photos per batch (a zip may hold more: the rest are listed as skipped)
MAX_ZIP_BYTES = 2 * 2**30  # uncompressed bytes read from one zip: a zip bomb stops here
THUMBNAIL_SIDE = 160
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FAILED_COLUMNS = ["photo", "error"]
CSV_PREFIX = "scores-"  # the batch CSVs' file names: scores-<random>.csv
CSVS_KEPT = 16  # batch CSVs kept in the page's folder; Gradio serves its own copy, so only the newest matter


@dataclass
class BatchResult:
    table: pd.DataFrame  # one row per photo: photo, width, height, mean / std under the theme and with none[, truth mean, truth under]
    failed: pd.DataFrame  # photo, error: files that could not be used
    thumbnails: list[tuple[np.ndarray, str]]  # (uint8[h, w, 3], caption) per scored photo, in table order


def expand_uploads(paths: Sequence[str | os.PathLike], folder: str | os.PathLike) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """Uploaded files -> ([(display name, path)], [(name, error)]); each zip's photos are extracted into ``folder``."""
    photos: list[tuple[str, Path]] = []
    failed: list[tuple[str, str]] = []
    for path in map(Path, paths):
        if path.suffix.lower() != ".zip":
            photos.append((path.name, path))
            continue
        try:
            with zipfile.ZipFile(path) as archive:
                budget = MAX_ZIP_BYTES
                for member in archive.infolist():
                    name = f"{path.name}/{member.filename}"
                    if member.is_dir() or Path(member.filename).name.startswith("."):
                        continue
                    if Path(member.filename).suffix.lower() not in IMAGE_SUFFIXES:
                        failed.append((name, "not a photo (skipped by its extension)"))
                        continue
                    if member.file_size > budget:
                        failed.append((name, "skipped: the zip's photos exceed 2 GB uncompressed"))
                        continue
                    budget -= member.file_size
                    target = Path(folder) / f"{len(photos)}-{Path(member.filename).name}"  # flat: no path from the zip is trusted
                    with archive.open(member) as source, open(target, "wb") as sink:
                        sink.write(source.read(member.file_size + 1))
                    photos.append((name, target))
        except (zipfile.BadZipFile, OSError) as error:
            failed.append((path.name, f"not a readable zip file ({error})"))
    return photos, failed


def score_many(
    session: DemoSession,
    photos: Sequence[tuple[str, str | os.PathLike]],
    theme: str | None = NO_THEME_NAME,
    progress: Callable[[int, int, str], None] | None = None,
) -> BatchResult:
    """Score each (name, path) under ``theme`` and with no theme (full view); bad files go to ``failed``.

    progress(done, total, name): called after each photo (the page's progress bar)."""
    theme = session.theme_name(theme)  # a bad theme fails before any photo is read
    predictor = session.predictor
    rows, failed, thumbnails = [], [], []
    photos = list(photos)
    for name, path in photos[MAX_PHOTOS:]:
        failed.append((name, f"skipped: more than {MAX_PHOTOS} photos in one batch"))
    photos = photos[:MAX_PHOTOS]
    for done, (name, path) in enumerate(photos, start=1):
        try:
            key = content_hash(path)
            cached = session.cache.get(key)
            if cached is not None:
                features, size, small = cached.views["full"].features, cached.info.original_size, cached.views["full"].thumbnail
            else:
                photo, info = load_image_with_info(path, max_side=predictor.canvas)
                features, size, small = predictor.features([photo], view="full"), info.original_size, thumbnail(photo, THUMBNAIL_SIDE)
        except ImageError as error:
            failed.append((name, str(error).replace(os.fspath(path), name)))
        except OSError as error:
            failed.append((name, f"cannot be read ({error.strerror or error})"))
        else:
            with_theme = summarize(predictor.predict_from_features(features, theme)[0])
            without = summarize(predictor.predict_from_features(features, None)[0])
            row = {"photo": name, "width": size[0], "height": size[1]}
            if theme != NO_THEME_NAME:
                row |= {f"mean ({theme})": with_theme["mean"], f"std ({theme})": with_theme["std"]}
            row |= {"mean (no theme)": without["mean"], "std (no theme)": without["std"]}
            benchmark = session.benchmark.lookup(key)
            if benchmark is not None:
                truth_theme = theme if theme != NO_THEME_NAME else benchmark.attributes()["theme"]
                row |= {"truth mean": summarize(benchmark.truth(truth_theme))["mean"], "truth under": truth_theme}
            rows.append(row)
            thumbnails.append((small, f"{name}: {with_theme['mean']:.2f}"))
        if progress is not None:
            progress(done, len(photos), name)
    table = pd.DataFrame(rows)
    return BatchResult(table.round(3), pd.DataFrame(failed, columns=FAILED_COLUMNS), thumbnails)


def save_scores_csv(table: pd.DataFrame, folder: str | os.PathLike, keep: int = CSVS_KEPT) -> Path:
    """Write ``table`` as a new CSV in ``folder`` and remove all but the ``keep`` newest batch CSVs there,
    so that downloads do not pile up over requests and sessions.

    Gradio copies a returned file into its own cache as it sends the response, so an older CSV may go
    once a newer one is written: ``keep`` only has to exceed the batches that can finish at once."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    handle, name = tempfile.mkstemp(dir=folder, prefix=CSV_PREFIX, suffix=".csv")
    os.close(handle)
    path = Path(name)
    table.to_csv(path, index=False)
    older = [other for other in sorted(Path(folder).glob(f"{CSV_PREFIX}*.csv"), key=_newest_first) if other != path]
    for old in older[keep - 1:]:
        old.unlink(missing_ok=True)
    return path


def _newest_first(path: Path) -> float:
    try:
        return -path.stat().st_mtime_ns
    except FileNotFoundError:  # another request removed it meanwhile
        return 0
