"""The demo's feature cache: a photo's backbone features, keyed by the photo's content.

Why content and not file name: a browser re-uploads the same photo under a new temp name, and two
users may upload the same file; both should cost a hash, not a backbone pass.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from workbench.data.images import ImageInfo
from workbench.predict import Features

DEFAULT_MAX_PHOTOS = 32  # each entry: four feature vectors, four thumbnails, the theme table and the fitted photo (<= 2 MB)


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes: the same photo under any name gives the same key."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class CachedView:
    """One view of a photo as the network saw it."""

    features: Features  # values Tensor[1, 1, D]
    thumbnail: np.ndarray  # uint8[h, w, 3]: the view image, shrunk for drawing
    size: tuple[int, int]  # (w, h) of the view image the network sees
    image: Image.Image | None = None  # the view image the network sees (the heat map is drawn over it)


@dataclass(frozen=True)
class CachedPhoto:
    """Everything about one photo that does not depend on the theme."""

    key: str
    views: dict[str, CachedView]  # transform -> view, in ``TRANSFORMS`` order
    info: ImageInfo
    fitted_size: tuple[int, int]  # (w, h) after fitting within the canvas: the ROI on the canvas
    under_every_theme: dict[str, np.ndarray]  # transform -> [T, K]: the ranking and the histograms' y scale
    photo: Image.Image  # the fitted RGB photo (the canvas preview and the heat map are drawn on it)
    theme_guess: np.ndarray | None = None  # p(theme | photo) [T], full view; None: the model has no theme classifier


class FeatureCache:
    """A bounded, thread-safe LRU of ``CachedPhoto`` by content key.

    on_evict(key): called outside the lock for each photo dropped (the app removes its image files).

    Why not ``functools.lru_cache``: it memoises one function's calls, while entries here are put by the
    page after a backbone pass that must run outside the lock, and evictions must call ``on_evict``.
    ``cachetools.LRUCache`` (popitem overridden) would do, but is not a dependency of this project for
    these forty lines: an ``OrderedDict`` under a lock is the standard recipe.
    """

    def __init__(self, max_photos: int = DEFAULT_MAX_PHOTOS, on_evict: Callable[[str], None] | None = None):
        if max_photos < 1:
            raise ValueError(f"max_photos must be >= 1, got {max_photos}")
        self.max_photos = max_photos
        self._entries: OrderedDict[str, CachedPhoto] = OrderedDict()
        self._lock = threading.Lock()
        self._on_evict = on_evict
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedPhoto | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return entry

    def put(self, entry: CachedPhoto) -> None:
        with self._lock:
            self._entries[entry.key] = entry
            self._entries.move_to_end(entry.key)
            evicted = []
            while len(self._entries) > self.max_photos:
                evicted.append(self._entries.popitem(last=False)[0])
        for key in evicted:
            if self._on_evict is not None:
                self._on_evict(key)

    def clear(self) -> None:
        with self._lock:
            keys = list(self._entries)
            self._entries.clear()
        for key in keys:
            if self._on_evict is not None:
                self._on_evict(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries
