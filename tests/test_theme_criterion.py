"""Learning each theme's criterion (issue 24): spatial grid features, the FiLM head, targets under every
theme, one trained head per view, the head stage's feature cache, and the benchmark's extra training photos."""
import numpy as np
import pandas as pd
import pytest
import torch

from workbench import Predictor
from workbench.checkpoints import load_checkpoint
from workbench.config import TrainConfig
from workbench.data.csv_folder import read_csv_folder
from workbench.data.synth import generate_dataset
from workbench.data.synth_truth import distribution_moments, theme_names, truth_under_every_theme
from workbench.feature_cache import cached_features
from workbench.head_stage import fit_head
from workbench.model.build import build_model
from workbench.model.heads import FilmHead
from workbench.train import train


def test_film_head_under_every_theme_equals_each_pair_and_starts_theme_blind():
    torch.manual_seed(0)
    head = FilmHead([("global", 6, 1), ("grid", 4, 2)], theme_dim=5, num_bins=10, hidden_dim=12, dropout=0.0).eval()
    features, themes = torch.randn(3, 6 + 4 * 4), torch.randn(7, 5)
    every = head.forward_all_themes(features, themes)
    assert every.shape == (3, 7, 10)
    # zero-initialised modulation: every theme gives the same logits until the head is trained
    assert torch.allclose(every[:, 0], every[:, 3])
    torch.nn.init.normal_(head.modulation.weight)
    every = head.forward_all_themes(features, themes)
    for t in range(7):
        assert torch.allclose(every[:, t], head(features, themes[t].expand(3, -1)), atol=1e-6)
    assert not torch.allclose(every[:, 0], every[:, 3])


def test_film_head_grid_cells_share_one_projection_and_keep_position():
    torch.manual_seed(0)
    head = FilmHead([("global", 2, 1), ("grid", 3, 2)], theme_dim=4, num_bins=10, hidden_dim=8, dropout=0.0).eval()
    assert head.grid_projections[0].weight.shape == (32, 3)  # channels -> grid_channels, the same for the 4 cells
    cue = torch.zeros(1, 2 + 12)
    left, right = cue.clone(), cue.clone()
    left[0, 2 + 0] = 1.0  # channel 0 in cell 0 (channel-major layout: channel * cells + cell)
    right[0, 2 + 3] = 1.0  # channel 0 in cell 3
    theme = torch.zeros(1, 4)
    assert not torch.allclose(head(left, theme), head(right, theme))  # where the cue sits changes the prediction


def test_standardisation_does_not_blow_up_a_feature_constant_in_training():
    head = FilmHead([("global", 4, 1)], theme_dim=2, num_bins=10, dropout=0.0)
    features = torch.randn(50, 4)
    features[:, 2] = 0.0  # a channel that ReLU keeps at 0 on every training photo
    head.fit_standardisation(features)
    assert head.input_scale[2] >= 0.1 * features[:, [0, 1, 3]].std(0).median() - 1e-6
    x = torch.zeros(1, 4)
    x[0, 2] = 1.0
    assert ((x - head.input_mean) / head.input_scale).abs().max() < 100


def test_fit_head_learns_a_criterion_that_flips_with_the_theme():
    """Targets under every theme: theme 0 rewards feature 0, theme 1 punishes it. A FiLM head fit on
    [N, T, K] targets ranks photos by feature 0 in opposite orders under the two themes."""
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=2, roi_size=8, head="film", theme_dim=16, hidden_dim=32, dropout=0.0)
    photos, dim = 96, model.backbone.feature_dim
    features = torch.randn(photos, 1, dim)
    cue = features[:, 0, 0]
    scores = torch.arange(1, 11).float()

    def distribution(mean):
        return torch.softmax(-0.5 * ((scores[None] - mean[:, None]) / 1.2) ** 2, dim=1)

    targets = torch.stack([distribution(5.5 + 1.5 * cue), distribution(5.5 - 1.5 * cue)], dim=1)  # [N, 2, K]
    losses = fit_head(model, features, torch.ones(photos, 1, dtype=torch.bool), targets, torch.zeros(photos, dtype=torch.long),
                      epochs=40, batch_size=16, lr=3e-3, optimizer="adamw", progress=False)  # fmt: skip
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    with torch.no_grad():
        means = [(model.predict_from_features(features[:, 0], torch.full((photos,), t)) * scores).sum(1) for t in (0, 1)]
    from scipy.stats import spearmanr

    assert spearmanr(means[0], cue).statistic > 0.8
    assert spearmanr(means[1], cue).statistic < -0.8


def test_targets_under_every_theme_must_match_the_themes():
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=8, head="film")
    with pytest.raises(ValueError, match="every theme"):
        fit_head(model, torch.zeros(4, 1, model.backbone.feature_dim), torch.ones(4, 1, dtype=torch.bool),
                 torch.full((4, 2, 10), 0.1), torch.zeros(4, dtype=torch.long), epochs=1, batch_size=2, lr=0.1, progress=False)  # fmt: skip


@pytest.mark.parametrize("head", ["concat", "film"])
def test_the_every_theme_forward_is_each_themes_prediction(head):
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=16, head=head).eval()
    with torch.no_grad():  # themes that differ (FiLM's modulation starts at zero: theme-blind)
        for parameter in [*model.theme_branch.parameters(), *model.head.parameters()]:
            parameter.normal_(std=0.1)
    images, sizes = torch.randn(2, 3, 64, 64), torch.tensor([[64, 64], [48, 40]])
    every = model(images, sizes, every_theme=True)
    assert every.shape == (2, 3, 10)
    for theme in range(3):
        assert torch.allclose(every[:, theme], model(images, sizes, torch.full((2,), theme)), atol=1e-6)
    assert not torch.allclose(every[:, 0], every[:, 1])


def test_each_view_is_predicted_by_its_own_head(tmp_path):
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=16, head="film", view_heads=["resize", "crop"]).eval()
    assert set(model.view_heads) == {"resize", "crop"}
    features = torch.randn(2, model.backbone.feature_dim)
    themes = torch.tensor([0, 2])
    before = {view: model.predict_from_features(features, themes, view=view) for view in ("full", "resize", "crop", "resized_pad")}
    with torch.no_grad():
        model.view_heads["resize"].head.output.bias.add_(torch.linspace(-3, 3, 10))
    after = {view: model.predict_from_features(features, themes, view=view) for view in before}
    assert not torch.allclose(before["resize"], after["resize"])  # its own head answers for it ...
    for view in ("full", "crop", "resized_pad"):  # ... and no other view's (resized_pad has none: the model's own)
        assert torch.allclose(before[view], after[view])
    assert torch.allclose(after["full"], after["resized_pad"])
    with pytest.raises(ValueError, match="view_heads"):
        build_model("compact", num_bins=10, num_themes=3, roi_size=16, view_heads=["zoom"])


def _synthetic_folder(tmp_path):
    return generate_dataset(tmp_path / "synth", 40, seed=3, workers=1, progress=False, evaluation_photos=28)


def test_extra_training_photos_keep_the_benchmark_splits(tmp_path):
    small = read_csv_folder(generate_dataset(tmp_path / "small", 28, seed=3, workers=1, progress=False))
    grown = read_csv_folder(_synthetic_folder(tmp_path))
    assert (grown["split"].iloc[:28].to_numpy() == small["split"].to_numpy()).all()  # the first photos keep their split
    assert (grown["split"].iloc[28:] == "train").all()  # the rest train
    with pytest.raises(ValueError, match="evaluation_photos"):
        generate_dataset(tmp_path / "bad", 5, workers=1, progress=False, evaluation_photos=6)


def test_truth_under_every_theme_gives_each_photo_its_own_truth_under_its_theme(tmp_path):
    table = read_csv_folder(_synthetic_folder(tmp_path))
    truth = truth_under_every_theme(table, theme_names())
    assert truth.shape == (40, 16, 10)
    assert np.allclose(truth.sum(axis=2), 1.0)
    own = truth[np.arange(40), table["theme_id"].to_numpy()]
    assert np.allclose([distribution_moments(p)[0] for p in own], table["gt_mean"], atol=1e-4)
    assert truth[:, :, :].std(axis=1).mean() > 0.01  # themes disagree
    with pytest.raises(ValueError, match="synthetic"):
        truth_under_every_theme(pd.DataFrame({"image": ["a.jpg"]}))


def test_cached_features_are_reused_only_with_the_same_fingerprint(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return torch.full((2, 1, 3), float(len(calls))), torch.ones(2, 1, dtype=torch.bool)

    path = tmp_path / "cache" / "train-full.pt"
    first, _ = cached_features(path, "a", compute)
    again, _ = cached_features(path, "a", compute)
    assert len(calls) == 1 and torch.equal(first, again)
    other, _ = cached_features(path, "b", compute)
    assert len(calls) == 2 and other[0, 0, 0] == 2.0
    assert not list(path.parent.glob("*.tmp*"))  # written atomically


def test_the_demo_recipe_trains_every_theme_and_every_view_and_reuses_its_features(tmp_path, monkeypatch):
    root = _synthetic_folder(tmp_path)
    config = TrainConfig(
        data_root=str(root), out_dir=str(tmp_path / "run"), backbone="compact", pretrained=False, freeze_bn=False,
        roi_size=33, canvas=160, epochs=0, head_epochs=2, head_views=1, batch_size=8, num_workers=0, device="cpu",
        head="film", head_targets="every_theme", view_heads="resize,crop", no_theme="posterior", head_optimizer="adamw",
        head_lr=1e-3, theme_dropout=0.0,
    )  # fmt: skip
    result = train(config, progress=False)
    payload = load_checkpoint(result.best_checkpoint)
    assert payload["model_args"]["view_heads"] == ["resize", "crop"] and payload["model_args"]["head"] == "film"
    predictor = Predictor.from_checkpoint(result.best_checkpoint)
    features = predictor.features([str(root / "images" / "000001.jpg")], view=["full", "resize", "crop"])
    by_view = {view: predictor.predict_from_features(features, "Film Grain", view=view) for view in ("full", "resize", "crop")}
    assert not np.allclose(by_view["resize"], by_view["crop"])
    assert predictor.theme_posterior(features, view="crop") is not None  # each view's head has its own classifier
    cached = sorted(path.name for path in (tmp_path / "run" / "head_features").iterdir())
    assert cached == ["train-crop.pt", "train-full.pt", "train-resize.pt"]

    import workbench.trainer as trainer_module

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were extracted again")

    monkeypatch.setattr(trainer_module, "extract_features", no_extraction)
    again = train(config, progress=False)  # the same photos and backbone: every view's features come from the cache
    assert again.best_checkpoint.is_file()


def test_end_to_end_epochs_fit_the_head_stages_every_theme_targets(tmp_path, monkeypatch):
    """Fine-tuning after an every-theme head stage keeps its objective: each photo under every theme, its own
    theme weighed own_theme_weight (the photos' own votes alone would undo the criteria the head learned)."""
    import workbench.trainer as trainer_module

    root = _synthetic_folder(tmp_path)
    config = TrainConfig(
        data_root=str(root), out_dir=str(tmp_path / "run"), backbone="compact", pretrained=False, freeze_bn=False,
        roi_size=33, canvas=160, epochs=1, max_steps_per_epoch=2, head_epochs=1, batch_size=4, num_workers=0, device="cpu",
        head="film", head_targets="every_theme", own_theme_weight=5, head_optimizer="adamw", theme_dropout=0.0,
    )  # fmt: skip
    calls = []
    real_loss = trainer_module.training_loss

    def recording_loss(pred, target, **kwargs):
        calls.append((pred.shape, target.clone(), kwargs.get("sample_weight")))
        return real_loss(pred, target, **kwargs)

    monkeypatch.setattr(trainer_module, "training_loss", recording_loss)
    result = train(config, progress=False)
    assert [row["stage"] for row in result.history.to_dict("records")] == ["head", "end_to_end"]
    themes = len(theme_names())
    truth = torch.from_numpy(truth_under_every_theme(read_csv_folder(root).query("split == 'train'"), theme_names())).float()
    assert len(calls) == 2  # the end-to-end steps (the head stage has its own loss call in head_stage)
    for shape, target, weight in calls:
        assert shape[0] % themes == 0 and shape[0] == len(target) == len(weight)
        rows = target.reshape(-1, themes, target.shape[-1])
        # every row is one training photo's truth under all the themes, in theme order
        assert all(any(torch.allclose(row, photo, atol=1e-6) for photo in truth) for row in rows)
        assert sorted(set(weight.tolist())) == [1.0, 5.0] and int((weight == 5).sum()) == len(rows)  # one own theme each


def test_end_to_end_epochs_refit_the_theme_classifier_on_the_fine_tuned_features(tmp_path):
    """p(theme | photo), which mixes the themes of a prediction without one, is fit on the features the saved
    backbone makes, not on the head stage's features from before fine-tuning."""
    from workbench.checkpoints import model_from_checkpoint
    from workbench.data.datasets import AestheticDataset
    from workbench.data.prepare import prepare_table
    from workbench.head_stage import extract_features

    root = _synthetic_folder(tmp_path)
    config = TrainConfig(
        data_root=str(root), out_dir=str(tmp_path / "run"), backbone="compact", pretrained=False, freeze_bn=False,
        roi_size=33, canvas=160, epochs=1, max_steps_per_epoch=3, head_epochs=1, batch_size=4, num_workers=0, device="cpu",
        head="film", head_targets="every_theme", no_theme="posterior", head_optimizer="adamw", theme_dropout=0.0, lr_backbone=0.05,
    )  # fmt: skip
    train(config, progress=False)
    model = model_from_checkpoint(load_checkpoint(tmp_path / "run" / "last.pt")).eval()
    train_set = AestheticDataset(prepare_table(config, verbose=False), "train", "full", config.canvas, train=True, augment=config.augment, seed=config.seed)
    fine_tuned, loaded = extract_features(model, train_set, 1, 4, torch.device("cpu"), progress=False)
    before = torch.load(tmp_path / "run" / "head_features" / "train-full.pt", weights_only=True)
    fine_tuned, head_stage = fine_tuned[loaded], before["features"][before["loaded"]]
    assert not torch.allclose(fine_tuned.mean(0), head_stage.mean(0), atol=1e-3)  # fine-tuning moved the features
    assert torch.allclose(model.theme_classifier.mean, fine_tuned.mean(0), atol=1e-4)
    assert torch.allclose(model.theme_classifier.scale, fine_tuned.std(0) + 1e-6, atol=1e-4)
    assert bool(model.theme_classifier.fitted)


def test_config_checks_the_new_fields():
    with pytest.raises(ValueError, match="view_heads"):
        TrainConfig(view_heads="full", head_epochs=1, epochs=0)
    with pytest.raises(ValueError, match="head_epochs"):
        TrainConfig(head_targets="every_theme", head_epochs=0)
    with pytest.raises(ValueError, match="spatial_grid"):
        TrainConfig(spatial_grid=True, backbone="compact")
    with pytest.raises(ValueError, match="head"):
        TrainConfig(head="bilinear")
    with pytest.raises(ValueError, match="fine-tune the backbone they share"):
        TrainConfig(view_heads="resize", head_epochs=1, epochs=1)
    assert TrainConfig(view_heads="resize, crop", head_epochs=1, epochs=0).view_head_names == ["resize", "crop"]
    assert TrainConfig(view_heads="", head_epochs=1, epochs=1).epochs == 1  # the full view's head alone may be fine-tuned


def test_spatial_grid_keeps_a_photo_independent_of_its_batch():
    torch.manual_seed(0)
    model = build_model("efficientnet_lite0", spatial_grid=True, freeze_bn=True).eval()
    layout = model.backbone.feature_layout
    assert [kind for kind, _, _ in layout] == ["global", "grid", "grid"]
    assert model.backbone.feature_dim == sum(size * side * side for _, size, side in layout)
    photo = torch.randn(1, 3, 150, 230)
    canvas = torch.zeros(2, 3, 240, 256)
    canvas[0, :, :150, :230] = photo[0]
    canvas[1] = torch.randn(3, 240, 256)
    with torch.no_grad():
        alone = model.features(photo, torch.tensor([[150, 230]]))
        batched = model.features(canvas, torch.tensor([[150, 230], [240, 256]]))
    assert torch.allclose(alone[0], batched[0], atol=1e-4)


def test_a_stop_signal_in_the_head_stage_saves_and_a_resume_finishes(tmp_path, write_tiny_folder, tiny_config):
    """SIGTERM (here: the flag its handler sets) during the head stage stops after that head epoch with
    last.pt saved (exit 143); the resume redoes the stage from the cached features and ends trained."""
    import signal

    from workbench.trainer import Hook

    class StopAfterSecondHeadEpoch(Hook):
        def after_head_epoch(self, trainer, epoch, loss):
            if epoch == 2:
                trainer.stop_signal = signal.SIGTERM

    root = write_tiny_folder(tmp_path / "data")
    config = tiny_config(root, tmp_path / "run", epochs=0, head_epochs=4, head_views=1)
    with pytest.raises(SystemExit) as stopped:
        train(config, progress=False, hooks=[StopAfterSecondHeadEpoch()])
    assert stopped.value.code == 128 + signal.SIGTERM
    assert (tmp_path / "run" / "last.pt").is_file() and not (tmp_path / "run" / "best.pt").exists()
    resumed = train(config, resume=True, progress=False)
    assert list(resumed.history["stage"]) == ["head"] and resumed.best_checkpoint.is_file()
