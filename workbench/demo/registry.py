"""The page's models: which checkpoints it offers (each checked at start) and one ``DemoSession`` per model.

``--checkpoint`` may name one file or a folder of them. A folder is checked when the app starts: a
file that does not load is left out of the dropdown (and named on the server's console), the first
that loads is the default, and a folder with none is an error. Messages name files, never folders.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from workbench.checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint
from workbench.demo.benchmark import BenchmarkRegistry
from workbench.demo.models import list_checkpoints
from workbench.demo.session import DemoSession, PhotoState
from workbench.demo.store import ImageStore
from workbench.predict import Predictor

CACHE_PHOTOS = 32  # photos whose features (all four views) stay cached, per model
CHECKPOINT_COMMAND = "make demo-checkpoint"  # how the default checkpoint is made (Makefile)


@dataclass
class Checkpoints:
    """The usable checkpoints by file name (in name order, the default first among equals) and the skipped ones."""

    usable: dict[str, Path]
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> why, without its folder
    default: str = ""


def open_checkpoints(source: str | os.PathLike, prefer: str = "demo.pt") -> Checkpoints:
    """Check every checkpoint of ``source`` (a file or a folder) by loading it; ``CheckpointError`` when
    none loads. The default is ``prefer`` when usable, else the first usable file by name."""
    source = Path(source)
    if not source.exists():
        raise CheckpointError(
            f"checkpoint {source} not found. Make the demo checkpoint with `{CHECKPOINT_COMMAND}` "
            "(synthetic benchmark + CPU training), or pass --checkpoint PATH / set WORKBENCH_CHECKPOINT."
        )
    usable, skipped = {}, {}
    for name, path in list_checkpoints(source).items():
        try:
            model_from_checkpoint(load_checkpoint(path), name)  # the weights are read and dropped: only the chosen one stays loaded
        except CheckpointError as error:
            skipped[name] = str(error).replace(str(path), name)
        else:
            usable[name] = path
    if not usable:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise CheckpointError(f"no usable checkpoint in {source.name!r} ({reasons})")
    return Checkpoints(usable, skipped, prefer if prefer in usable else next(iter(usable)))


class ModelRegistry:
    """One ``DemoSession`` per offered model, loaded once on first use; every model's images share one store
    (named ``m<i>-<photo key>-…``) and one registry of benchmark photos. Thread-safe."""

    def __init__(self, checkpoints: Checkpoints, store: ImageStore, benchmark: BenchmarkRegistry, device: str = "cpu",
                 cache_photos: int = CACHE_PHOTOS):  # fmt: skip
        self.checkpoints = checkpoints
        self.store = store
        self.benchmark = benchmark
        self.device = device
        self.cache_photos = cache_photos
        self._sessions: dict[str, DemoSession] = {}
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self.checkpoints.usable)

    @property
    def default(self) -> str:
        return self.checkpoints.default

    def session(self, name: str) -> DemoSession:
        """The model ``name`` with its own feature cache. ValueError for a name the page does not offer;
        CheckpointError (naming the file only) if it no longer loads."""
        if name not in self.checkpoints.usable:
            raise ValueError(f"unknown model {name!r}; this page offers {', '.join(self.names)}")
        with self._lock:
            if name not in self._sessions:
                tag = self.tag(name)
                path = self.checkpoints.usable[name]
                try:
                    predictor = Predictor.from_checkpoint(path, device=self.device)
                except CheckpointError as error:  # changed on disk since the start
                    raise CheckpointError(str(error).replace(str(path), name)) from None
                self._sessions[name] = DemoSession(
                    predictor, self.cache_photos, folder=self.store.drawn, name=name, benchmark=self.benchmark,
                    on_evict=lambda key: self.store.forget(f"{tag}-{key}-"), max_drawn=self.store.max_drawn,
                )  # fmt: skip
            return self._sessions[name]

    def tag(self, name: str) -> str:
        """File name prefix of a model's images (views depend on the model's canvas)."""
        return f"m{self.names.index(name)}"

    def image_name(self, state: PhotoState, part: str) -> str:
        """The store name of one of a photo's images under its model: ``canvas``, a view, a heat map."""
        return f"{self.tag(state.model)}-{state.key}-{part}"

    def clear_caches(self) -> None:
        """Forget every cached feature and image file (benchmarks time a cold analysis after this)."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.cache.clear()
