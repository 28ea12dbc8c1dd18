"""Many photos at once: one row per photo (mean and std under a theme and with none), bad files listed.

Why its own path: a batch needs only the ``full`` view (a quarter of a page's backbone work), runs
through the predictor in real batches of photos, and one unreadable file must not stop the others.
Zips are expanded member by member, streamed in chunks, under caps on photos, bytes per member and
bytes in all (``LIMITS``): no upload the page accepts can fill the server's memory or disk.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
import zlib
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

MAX_PHOTOS = 200  # photos per batch, uploaded or extracted (the rest are listed as skipped, not written)
MAX_MEMBER_BYTES = 200 * 2**20  # one zip member, uncompressed: a 64-MP photo as TIFF is 192 MB
MAX_ZIP_BYTES = 1 * 2**30  # all members of one batch, uncompressed, written to disk: a zip bomb stops here
CHUNK_BYTES = 1 << 20  # members are copied in chunks of this size: memory holds one chunk, never a member
MAX_LISTED = 50  # skipped zip members listed one by one; the rest are counted in one row
PHOTOS_PER_PASS = 16  # photos decoded and run through the backbone together (memory: 16 fitted photos)
THUMBNAIL_SIDE = 160
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FAILED_COLUMNS = ["photo", "error"]
CSV_PREFIX = "scores-"  # the batch CSVs' file names: scores-<random>.csv
CSVS_KEPT = 16  # batch CSVs kept in the page's folder; Gradio serves its own copy, so only the newest matter
# What can go wrong reading one member: encrypted (RuntimeError), an unsupported method (NotImplementedError),
# corrupt data (BadZipFile: bad CRC; zlib.error: bad deflate stream; EOFError: cut short), a disk error.
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError, ValueError)
try:  # bz2 / lzma members raise their own errors; the modules may be missing from a minimal Python
    import lzma

    MEMBER_ERRORS += (lzma.LZMAError,)
except ImportError:  # pragma: no cover
    pass


def limits_text() -> str:
    """The batch caps in words, for the page."""
    return (f"at most {MAX_PHOTOS} photos; a zip member may expand to {MAX_MEMBER_BYTES // 2**20} MB and a batch's "
            f"zips to {MAX_ZIP_BYTES / 2**30:g} GB in all")  # fmt: skip


@dataclass
class BatchResult:
    table: pd.DataFrame  # one row per photo: photo, width, height, mean / std under the theme and with none[, truth mean, truth under]
    failed: pd.DataFrame  # photo, error: files that could not be used
    thumbnails: list[tuple[np.ndarray, str]]  # (uint8[h, w, 3], caption) per scored photo, in table order


class _Skips:
    """Failed entries: every uploaded file and the first MAX_LISTED zip members, then a count per zip."""

    def __init__(self):
        self.rows: list[tuple[str, str]] = []
        self.unlisted: dict[str, int] = {}

    def add(self, name: str, error: str, zip_name: str | None = None) -> None:
        if zip_name is not None and sum(n.startswith(f"{zip_name}/") for n, _ in self.rows) >= MAX_LISTED:
            self.unlisted[zip_name] = self.unlisted.get(zip_name, 0) + 1
        else:
            self.rows.append((name, error))

    def finish(self) -> list[tuple[str, str]]:
        return self.rows + [(name, f"… and {count} more members skipped") for name, count in self.unlisted.items()]


def expand_uploads(paths: Sequence[str | os.PathLike], folder: str | os.PathLike) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """Uploaded files -> ([(display name, path)], [(name, error)]); each zip's photos are extracted into
    ``folder`` (flat: no path from a zip is trusted), at most ``MAX_PHOTOS`` photos in all."""
    photos: list[tuple[str, Path]] = []
    skips = _Skips()
    budget = MAX_ZIP_BYTES
    for path in map(Path, paths):
        if path.suffix.lower() != ".zip":
            if len(photos) < MAX_PHOTOS:
                photos.append((path.name, path))
            else:
                skips.add(path.name, f"skipped: more than {MAX_PHOTOS} photos in one batch")
            continue
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as error:
            skips.add(path.name, f"not a readable zip file ({error})")
            continue
        with archive:
            for member in archive.infolist():
                name = f"{path.name}/{member.filename}"
                if member.is_dir() or Path(member.filename).name.startswith("."):
                    continue
                if Path(member.filename).suffix.lower() not in IMAGE_SUFFIXES:
                    skips.add(name, "not a photo (skipped by its extension)", path.name)
                elif len(photos) >= MAX_PHOTOS:
                    skips.add(name, f"skipped: more than {MAX_PHOTOS} photos in one batch", path.name)
                elif member.flag_bits & 0x1:
                    skips.add(name, "encrypted (password-protected): skipped", path.name)
                elif member.file_size > min(MAX_MEMBER_BYTES, budget):
                    skips.add(name, _too_large(member.file_size, budget), path.name)
                else:
                    target = Path(folder) / f"{len(photos)}-{Path(member.filename).name}"
                    try:
                        written = _extract(archive, member, target, min(MAX_MEMBER_BYTES, budget))
                    except MEMBER_ERRORS as error:
                        target.unlink(missing_ok=True)
                        skips.add(name, f"cannot be extracted ({_first_line(error)})", path.name)
                        continue
                    if written is None:  # the member expands past what its header said: a bomb
                        target.unlink(missing_ok=True)
                        skips.add(name, _too_large(None, budget), path.name)
                        continue
                    budget -= written
                    photos.append((name, target))
    return photos, skips.finish()


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, cap: int) -> int | None:
    """Copy ``member`` to ``target`` in chunks; the bytes written, or None once more than ``cap`` come out.
    ``shutil.copyfileobj`` would copy chunk by chunk too, but cannot stop at a cap."""
    written = 0
    with archive.open(member) as source, open(target, "wb") as sink:
        while chunk := source.read(CHUNK_BYTES):
            written += len(chunk)
            if written > cap:
                return None
            sink.write(chunk)
    return written


def _too_large(size: int | None, budget: int) -> str:
    if budget < MAX_MEMBER_BYTES and (size is None or size > budget):
        return f"skipped: the batch's zips exceed {MAX_ZIP_BYTES / 2**30:g} GB uncompressed"
    return f"skipped: expands to more than {MAX_MEMBER_BYTES // 2**20} MB"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def score_many(
    session: DemoSession,
    photos: Sequence[tuple[str, str | os.PathLike]],
    theme: str | None = NO_THEME_NAME,
    progress: Callable[[int, int, str], None] | None = None,
) -> BatchResult:
    """Score each (name, path) under ``theme`` and with no theme (full view); bad files go to ``failed``.

    Photos are decoded PHOTOS_PER_PASS at a time and run through the predictor as one batch (grouped by
    shape there). progress(done, total, name): called after each pass (the page's progress bar)."""
    theme = session.theme_name(theme)  # a bad theme fails before any photo is read
    predictor = session.predictor
    rows, failed, thumbnails = [], [], []
    photos = list(photos)
    for name, path in photos[MAX_PHOTOS:]:
        failed.append((name, f"skipped: more than {MAX_PHOTOS} photos in one batch"))
    photos = photos[:MAX_PHOTOS]
    for start in range(0, len(photos), PHOTOS_PER_PASS):
        loaded = []  # (name, key, fitted photo, original size)
        for name, path in photos[start : start + PHOTOS_PER_PASS]:
            try:
                photo, info = load_image_with_info(path, max_side=predictor.canvas)
                loaded.append((name, content_hash(path), photo, info.original_size))
            except ImageError as error:
                failed.append((name, str(error).replace(os.fspath(path), name)))
            except OSError as error:
                failed.append((name, f"cannot be read ({error.strerror or error})"))
        if loaded:
            features = predictor.features([photo for _, _, photo, _ in loaded], view="full", batch_size=PHOTOS_PER_PASS)
            with_theme = summarize(predictor.predict_from_features(features, theme))
            without = summarize(predictor.predict_from_features(features, None))
            for i, (name, key, photo, size) in enumerate(loaded):
                row = {"photo": name, "width": size[0], "height": size[1]}
                if theme != NO_THEME_NAME:
                    row |= {f"mean ({theme})": with_theme["mean"][i], f"std ({theme})": with_theme["std"][i]}
                row |= {"mean (no theme)": without["mean"][i], "std (no theme)": without["std"][i]}
                benchmark = session.benchmark.lookup(key)
                if benchmark is not None:
                    truth_theme = benchmark.truth_theme(theme)
                    row |= {"truth mean": summarize(benchmark.truth(truth_theme))["mean"], "truth under": truth_theme}
                rows.append(row)
                thumbnails.append((thumbnail(photo, THUMBNAIL_SIDE), f"{with_theme['mean'][i]:.2f} · {name}"))  # the score first: never cut
        if progress is not None:
            done = min(start + PHOTOS_PER_PASS, len(photos))
            progress(done, len(photos), photos[done - 1][0])
    table = pd.DataFrame(rows, columns=batch_columns(theme) if not rows else None)
    return BatchResult(table.round(3), pd.DataFrame(failed, columns=FAILED_COLUMNS), thumbnails)


def batch_columns(theme: str = NO_THEME_NAME) -> list[str]:
    """The score table's columns before any photo is scored (the CSV's; ``shown_table`` condenses them)."""
    themed = [f"mean ({theme})", f"std ({theme})"] if theme != NO_THEME_NAME else []
    return ["photo", "width", "height", *themed, "mean (no theme)", "std (no theme)"]


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The score table as the page shows it: size as w×h and each mean with its std in one cell, so that
    every column stays in view on a phone (nine numeric columns did not); the CSV keeps the numbers apart."""
    shown = pd.DataFrame({"photo": table["photo"], "size": [f"{w}×{h}" for w, h in zip(table["width"], table["height"])]})
    for column in [c for c in table.columns if c.startswith("mean (")]:
        label = column.removeprefix("mean (").removesuffix(")")
        std = table[f"std ({label})"]
        shown[f"{label}: mean ± std"] = [f"{m:.2f} ± {s:.2f}" for m, s in zip(table[column], std)]
    if "truth mean" in table.columns:
        shown["truth mean (theme)"] = [f"{m:.2f} ({t})" if isinstance(t, str) else "" for m, t in zip(table["truth mean"], table["truth under"])]
    return shown


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


def score_uploads(session: DemoSession, paths: Sequence[str | os.PathLike], theme: str | None, store,
                  progress: Callable[[int, int, str], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list, Path]:  # fmt: skip
    """What the page's "Score them" shows: (shown table, files that could not be used, thumbnails, CSV path).
    Zips are expanded into a work folder of ``store`` (an ``ImageStore``), removed before this returns."""
    work = store.work_folder("batch-")
    try:
        photos, failed = expand_uploads(paths, work)
        result = score_many(session, photos, theme, progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    unreadable = pd.concat([pd.DataFrame(failed, columns=FAILED_COLUMNS), result.failed], ignore_index=True)
    return shown_table(result.table), unreadable, result.thumbnails, save_scores_csv(result.table, store.folder)
