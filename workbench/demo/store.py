"""The page's files on the server: one temp folder per app process, bounded, removed at exit and on SIGTERM.

What goes in it: the page's images as webp files named by model and photo content (removed with the
photo's cache entry), benchmark photos drawn on the page (the newest ``max_drawn`` kept), batch work
folders and CSVs, and, for ``python app.py``, Gradio's own file cache (``GRADIO_TEMP_DIR``), so that two
app processes never share one and stopping one cannot delete the other's files.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

DRAWN_KEPT = 64  # benchmark photos drawn on the page kept on disk (each ~100-300 kB); older ones are redrawn on demand


class ImageStore:
    """A temp folder of the page's files. ``image(name, draw)`` writes ``name.webp`` once, atomically: two
    sessions showing the same photo never serve a half-written file. Removed by ``remove()``, at exit, and
    on SIGTERM once ``remove_on_signals()`` is called (a server's main thread)."""

    def __init__(self, parent: str | os.PathLike | None = None, max_drawn: int = DRAWN_KEPT):
        if max_drawn < 1:
            raise ValueError(f"max_drawn must be >= 1, got {max_drawn}")
        self.folder = Path(tempfile.mkdtemp(prefix="workbench-demo-", dir=parent))
        self.drawn = self.folder / "drawn"  # benchmark photos: their own folder, so a bound on them touches nothing else
        self.drawn.mkdir()
        self.max_drawn = max_drawn
        # Not a TemporaryDirectory finaliser: an app built twice in one process would lose its first folder early.
        atexit.register(self.remove)

    def image(self, name: str, draw: Callable[[], Image.Image | np.ndarray]) -> str:
        """``folder/name.webp``, drawn and written once."""
        path = self.folder / f"{name}.webp"
        if not path.exists():
            image = draw()
            image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
            handle, staging = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            os.close(handle)
            image.save(staging, format="webp")
            os.replace(staging, path)
        return str(path)

    def existing(self, name: str) -> str | None:
        """``folder/name.webp`` if it was written (and not forgotten since)."""
        path = self.folder / f"{name}.webp"
        return str(path) if path.exists() else None

    def forget(self, prefix: str) -> None:
        """Remove the images whose names start with ``prefix`` (a photo dropped from the cache)."""
        for path in self.folder.glob(f"{prefix}*.webp"):
            path.unlink(missing_ok=True)

    def work_folder(self, prefix: str) -> Path:
        """A fresh folder for one request's files (a batch's extracted zip), inside this store."""
        return Path(tempfile.mkdtemp(dir=self.folder, prefix=prefix))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def remove_on_signals(self) -> None:
        """On SIGTERM (``kill``, a container stop) stop as on Ctrl-C: the server closes, then exit handlers
        remove this folder. Main thread only (Python's rule for signal handlers). SIGINT too: a process started in
        the background by a shell without job control inherits SIGINT ignored, and Ctrl-C (or a test's SIGINT)
        would then leave the server and its folder behind."""
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


_keep_lock = threading.Lock()


def keep_newest(folder: Path, pattern: str, keep: int, used: Path) -> None:
    """Mark ``used`` as just used and remove all but the ``keep`` most recently used ``pattern`` files of
    ``folder``: an LRU by file time (the files are the state, so nothing else has to agree with the disk)."""
    with _keep_lock:
        used.touch(exist_ok=True)
        for old in sorted(folder.glob(pattern), key=_newest_first)[keep:]:
            if old != used:
                old.unlink(missing_ok=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # Gradio's launch() closes the server on it; atexit then runs


def _newest_first(path: Path) -> float:
    try:
        return -path.stat().st_mtime_ns
    except FileNotFoundError:  # another request removed it meanwhile
        return 0
