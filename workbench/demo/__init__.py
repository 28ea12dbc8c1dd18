"""The demo's logic, testable without Gradio: feature cache by photo content, pages, tables, benchmark truth."""
from workbench.demo.benchmark import SLIDER_ATTRIBUTES, BenchmarkPhoto, BenchmarkRegistry
from workbench.demo.cache import CachedPhoto, CachedView, FeatureCache, content_hash
from workbench.demo.session import DemoSession, Page, PhotoState

__all__ = [
    "SLIDER_ATTRIBUTES", "BenchmarkPhoto", "BenchmarkRegistry", "CachedPhoto", "CachedView", "FeatureCache",
    "content_hash", "DemoSession", "Page", "PhotoState",
]  # fmt: skip
