"""Frozen-backbone features on disk: shared only where photos, views and backbone all match."""
import numpy as np
import pytest
import torch

import workbench.evaluation as evaluation
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset
from workbench.evaluation import evaluate_checkpoint, split_features
from workbench.feature_cache import cache_path, cached_split_features, features_fingerprint, evaluation_fingerprint
from workbench.model import build_model


def _model(**changes):
    torch.manual_seed(0)
    args = dict(num_bins=10, num_themes=3, roi_size=33, width=8, theme_dim=16, hidden_dim=32) | changes
    return build_model("compact", **args)


def _dataset(table, split, seed=0, augment="flip_crop"):
    return AestheticDataset(table, split, transform="full", canvas=128, train=split == "train", augment=augment, seed=seed)


def test_the_fingerprint_follows_what_the_features_depend_on(tiny_root):
    table = read_csv_folder(tiny_root)
    model = _model()
    val, train = _dataset(table, "val"), _dataset(table, "train")
    reference = features_fingerprint(model, train, 1)
    # Evaluation views are not random: every seed shares them. Training views are drawn with the seed.
    assert features_fingerprint(model, _dataset(table, "val", seed=5), 1) == features_fingerprint(model, val, 1)
    assert features_fingerprint(model, _dataset(table, "train", seed=5), 1) != reference
    assert features_fingerprint(model, _dataset(table, "train", augment="flip"), 1) != reference
    assert features_fingerprint(model, train, 2) != reference
    # The head does not shape the backbone's features (same weights, no themes, another head size) ...
    assert features_fingerprint(_model(num_themes=0, hidden_dim=64), train, 1) == reference
    # ... the backbone's arguments and weights do.
    assert features_fingerprint(_model(roi_size=40), train, 1) != reference
    tuned = _model()
    with torch.no_grad():
        next(tuned.backbone.parameters()).add_(1e-3)
    assert features_fingerprint(tuned, train, 1) != reference
    assert evaluation_fingerprint(model, val, tta=True) != evaluation_fingerprint(model, val, tta=False)


def test_split_features_are_computed_once_and_read_back_identically(tiny_root, tmp_path):
    table = read_csv_folder(tiny_root)
    model, val = _model().eval(), _dataset(table, "val")
    fingerprint = evaluation_fingerprint(model, val, tta=True)
    path = cache_path(tmp_path, val, fingerprint)
    calls = []

    def compute():
        calls.append(1)
        return list(split_features(model, val, batch_size=4, tta=True))

    first = cached_split_features(path, fingerprint, compute)
    again = cached_split_features(path, fingerprint, compute)
    assert len(calls) == 1 and path.is_file() and not list(tmp_path.glob("*.tmp*"))
    assert len(first) == len(again) > 0
    for a, b in zip(first, again):
        assert torch.equal(a.values, b.values) and torch.equal(a.index, b.index) and torch.equal(a.counts, b.counts)
    assert sorted(torch.cat([part.index for part in again]).tolist()) == list(range(len(val)))
    cached_split_features(path, "another fingerprint", compute)
    assert len(calls) == 2  # a stale file is recomputed, never trusted


def test_evaluate_checkpoint_reads_shared_features_without_the_backbone(make_tiny_checkpoint, tiny_root, tmp_path, monkeypatch):
    checkpoint = make_tiny_checkpoint(tmp_path / "tiny.pt", themes=["Alpha", "Beta", "Gamma"])
    plain, pred, _ = evaluate_checkpoint(checkpoint, data_root=str(tiny_root), tta=True, device="cpu", return_predictions=True)
    cache = tmp_path / "features"
    evaluate_checkpoint(checkpoint, data_root=str(tiny_root), tta=True, device="cpu", feature_cache=cache)
    assert len(list(cache.glob("test-full-*.pt"))) == 1

    def no_backbone(*args, **kwargs):
        raise AssertionError("the backbone ran although its features were cached")

    monkeypatch.setattr(evaluation, "split_features", no_backbone)
    cached, cached_pred, _ = evaluate_checkpoint(
        checkpoint, data_root=str(tiny_root), tta=True, device="cpu", feature_cache=cache, return_predictions=True
    )
    assert np.allclose(cached_pred, pred, atol=1e-6)
    assert cached["srcc_mean"] == pytest.approx(plain["srcc_mean"])
