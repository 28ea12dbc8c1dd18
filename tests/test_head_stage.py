"""The head stage: its feature cache (through workbench.inference, checked against its old loop) and its training loop on cached features."""
import pytest
import torch

from workbench.config import TrainConfig
from workbench.head_stage import fit_head
from workbench.model.build import build_model


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.05), ("adamw", 0.003)])
def test_fit_head_reports_each_epoch_and_the_loss_falls(optimizer, lr):
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=8)
    photos, dim = 64, model.backbone.feature_dim
    features = torch.randn(photos, 1, dim)
    # Targets that depend on the features: a head that learns anything lowers the loss.
    logits = features[:, 0, :10] * 3
    targets = torch.softmax(logits, dim=1)
    themes = torch.randint(0, 3, (photos,))
    seen = []
    losses = fit_head(model, features, torch.ones(photos, 1, dtype=torch.bool), targets, themes, epochs=12, batch_size=8,
                      lr=lr, optimizer=optimizer, progress=False, on_epoch=lambda epoch, loss: seen.append((epoch, loss, model.head.training)))  # fmt: skip
    assert [epoch for epoch, _, _ in seen] == list(range(1, 13))
    assert [loss for _, loss, _ in seen] == losses
    assert losses[-1] < 0.7 * losses[0]


def test_an_unknown_head_optimizer_is_refused_by_name():
    with pytest.raises(ValueError, match="head_optimizer"):
        TrainConfig(head_optimizer="adam")
    model = build_model("compact", num_bins=10, num_themes=0, roi_size=8)
    with pytest.raises(ValueError, match="'lbfgs'"):
        fit_head(model, torch.zeros(2, 1, model.backbone.feature_dim), torch.ones(2, 1, dtype=torch.bool),
                 torch.full((2, 10), 0.1), torch.full((2,), -1), epochs=1, batch_size=2, lr=0.1, optimizer="lbfgs", progress=False)  # fmt: skip


def _features_by_the_old_loop(model, dataset, views, batch_size):
    """extract_features as it was before it went through workbench.inference: its own loop of
    shape-grouped batches of one view each, epoch after epoch (the reference the new path must match)."""
    from torch.utils.data import DataLoader

    from workbench.data.batching import ShapeGroupedBatchSampler
    from workbench.data.datasets import collate_padded

    model.eval()
    features = torch.zeros(len(dataset), views, model.backbone.feature_dim)
    loaded = torch.zeros(len(dataset), views, dtype=torch.bool)
    sampler = ShapeGroupedBatchSampler(dataset.sizes, batch_size, seed=0)
    with torch.no_grad():
        for view in range(views):
            dataset.set_epoch(view)
            for data in DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_padded):
                features[data["index"], view] = model.features(data["batch"].images, data["batch"].sizes).float()
                loaded[data["index"], view] = True
    dataset.set_epoch(0)
    return features, loaded


def test_extract_features_gives_the_old_loops_features_whatever_the_batch_size(tiny_root, tiny_config, tmp_path):
    """The cached training views (run through inference.view_features, the path every prediction takes)
    equal, within float rounding, what the head stage's own batching loop gave, at any batch size."""
    import workbench.head_stage as head_stage
    from workbench.data.prepare import prepare_table
    from workbench.data.datasets import AestheticDataset

    config = tiny_config(tiny_root, tmp_path)
    train_set = AestheticDataset(prepare_table(config, verbose=False), "train", canvas=128, train=True, augment="flip_crop", seed=0)
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=32).train()
    features, loaded = head_stage.extract_features(model, train_set, views=2, batch_size=5, device=torch.device("cpu"), progress=False)
    expected, expected_loaded = _features_by_the_old_loop(model, train_set, views=2, batch_size=5)
    assert features.shape == (24, 2, model.backbone.feature_dim) and torch.equal(loaded, expected_loaded) and loaded.all()
    assert (features - expected).abs().max() <= 1e-5
    assert not torch.allclose(features[:, 0], features[:, 1])  # two different augmentations, each in its slot
    one_by_one, _ = head_stage.extract_features(model, train_set, views=2, batch_size=1, device=torch.device("cpu"), progress=False)
    assert (one_by_one - features).abs().max() <= 1e-5


def test_a_photo_that_cannot_be_loaded_is_marked_not_loaded(tiny_root, tiny_config, tmp_path):
    from workbench.data.prepare import prepare_table
    from workbench.data.datasets import AestheticDataset
    from workbench.head_stage import extract_features

    table = prepare_table(tiny_config(tiny_root, tmp_path), verbose=False)
    train_set = AestheticDataset(table, "train", canvas=128, train=True, seed=0)
    train_set.paths[3] = str(tmp_path / "missing.png")
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=32)
    with pytest.warns(UserWarning, match="missing.png"):
        features, loaded = extract_features(model, train_set, views=2, batch_size=4, device=torch.device("cpu"), progress=False)
    assert not loaded[3].any() and loaded[[i for i in range(24) if i != 3]].all()
    assert torch.count_nonzero(features[3]) == 0


def test_on_epoch_sees_eval_mode_and_training_resumes_in_train_mode():
    """fit_head trains the head in train mode (dropout on), hands on_epoch the whole model in eval mode,
    then trains again; every module leaves in the mode it came in (a frozen module stays frozen)."""
    torch.manual_seed(0)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=8).train()
    model.backbone.eval()  # e.g. a frozen backbone: not the head stage's to switch
    before = {name: module.training for name, module in model.named_modules()}
    head_modes, seen = [], []
    model.head.register_forward_pre_hook(lambda module, inputs: head_modes.append(module.training))

    def on_epoch(epoch, loss):
        seen.append((model.training, model.head.training, model.theme_branch.training))
        head_modes.append("on_epoch")

    photos = 16
    fit_head(model, torch.randn(photos, 1, model.backbone.feature_dim), torch.ones(photos, 1, dtype=torch.bool),
             torch.full((photos, 10), 0.1), torch.randint(0, 3, (photos,)), epochs=3, batch_size=8, lr=0.01,
             progress=False, on_epoch=on_epoch)  # fmt: skip
    assert seen == [(False, False, False)] * 3
    assert head_modes == [True, True, "on_epoch"] * 3  # two training batches an epoch, each in train mode
    assert {name: module.training for name, module in model.named_modules()} == before


def test_in_mode_restores_each_modules_own_mode_even_on_error():
    from workbench.head_stage import in_mode

    model = build_model("compact", num_bins=10, num_themes=0, roi_size=8).train()
    model.head.eval()
    with pytest.raises(RuntimeError):
        with in_mode(model, True):
            assert model.head.training
            raise RuntimeError("a callback failed")
    assert model.training and not model.head.training


# --- predicting without a theme: the themes' predictions mixed by p(theme | photo) (no_theme="posterior") ---


def _separable_theme_features(model, photos=48, themes=4):
    """Features whose first channel says the theme: a fitted classifier must read it."""
    torch.manual_seed(1)
    theme = torch.arange(photos) % themes
    features = torch.randn(photos, model.backbone.feature_dim)
    features[:, 0] += 4.0 * theme
    return features, theme


def test_the_posterior_option_adds_a_classifier_that_leaves_every_other_layer_as_before():
    torch.manual_seed(0)
    learned = build_model("compact", num_bins=10, num_themes=4, roi_size=8)
    torch.manual_seed(0)
    posterior = build_model("compact", num_bins=10, num_themes=4, roi_size=8, no_theme="posterior")
    extra = set(posterior.state_dict()) - set(learned.state_dict())
    assert extra and all(key.startswith("theme_classifier.") for key in extra)
    assert all(torch.equal(value, posterior.state_dict()[key]) for key, value in learned.state_dict().items())
    assert "no_theme" not in learned.model_args  # checkpoints of the learned path are as before
    with pytest.raises(ValueError, match="'guess'"):
        build_model("compact", num_themes=4, no_theme="guess")
    with pytest.raises(ValueError, match="head_epochs"):
        TrainConfig(no_theme="posterior", head_epochs=0)


def test_fit_theme_classifier_learns_the_theme_and_leaves_the_global_random_state_alone():
    from workbench.head_stage import fit_theme_classifier

    model = build_model("compact", num_bins=10, num_themes=4, roi_size=8, no_theme="posterior").eval()
    features, theme = _separable_theme_features(model)
    with pytest.raises(ValueError, match="no fitted theme classifier"):
        model.theme_posterior(features)
    state = torch.get_rng_state()
    losses = fit_theme_classifier(model.theme_classifier, features, theme, epochs=20, batch_size=8, lr=0.05)
    assert torch.equal(state, torch.get_rng_state())
    assert losses[-1] < 0.2 * losses[0]
    assert (model.theme_posterior(features).argmax(1) == theme).float().mean() > 0.9
    assert not any(p.requires_grad for p in model.theme_classifier.parameters())  # never moved by end-to-end steps


def test_without_a_theme_the_prediction_is_the_mixture_of_the_themed_ones_by_the_posterior():
    from workbench.head_stage import fit_theme_classifier

    model = build_model("compact", num_bins=10, num_themes=4, roi_size=8, no_theme="posterior").eval()
    features, theme = _separable_theme_features(model)
    before = model.predict_from_features(features, torch.full_like(theme, -1))
    fit_theme_classifier(model.theme_classifier, features, theme, epochs=5, batch_size=8, lr=0.05)
    with torch.no_grad():
        posterior = model.theme_posterior(features)
        every = torch.stack([model.predict_from_features(features, torch.full_like(theme, t)) for t in range(4)], dim=1)
        mixed = model.predict_from_features(features, torch.full_like(theme, -1))
        some = torch.where(torch.arange(len(theme)) % 2 == 0, theme, torch.full_like(theme, -1))
        half = model.predict_from_features(features, some)
        logits = model.predict_from_features(features, None, return_logits=True)
    expected = (posterior[:, :, None] * every).sum(1)
    assert torch.allclose(mixed, expected, atol=1e-6)
    assert not torch.allclose(mixed, before, atol=1e-3)  # the learned "no theme" vector is no longer used
    assert torch.allclose(half[1::2], expected[1::2], atol=1e-6)  # rows without a theme: the mixture
    assert torch.allclose(half[0::2], every[torch.arange(0, len(theme), 2), theme[0::2]], atol=1e-6)  # rows with one: as before
    assert torch.allclose(torch.softmax(logits, 1), expected, atol=1e-6)


def test_the_head_evaluates_every_theme_at_once_as_it_does_pair_by_pair():
    model = build_model("compact", num_bins=10, num_themes=5, roi_size=8).eval()
    features = torch.randn(3, model.backbone.feature_dim)
    every = model.theme_branch(torch.arange(5), 5)
    together = model.head.forward_all_themes(features, every)
    for t in range(5):
        assert torch.allclose(together[:, t], model.head(features, every[t].expand(3, -1)), atol=1e-5)


def test_the_head_stage_fits_the_classifier_and_a_checkpoint_keeps_it(tiny_root, tiny_config, tmp_path):
    from workbench.checkpoints import load_checkpoint, model_from_checkpoint
    from workbench.train import train

    config = tiny_config(tiny_root, tmp_path / "run", epochs=0, head_epochs=2, theme_dropout=0.3, no_theme="posterior")
    train(config, progress=False)
    model = model_from_checkpoint(load_checkpoint(tmp_path / "run" / "best.pt")).eval()
    assert model.model_args["no_theme"] == "posterior" and bool(model.theme_classifier.fitted)
    assert model.theme_classifier.scale.ne(1).any()  # standardised by the cached features
    features = torch.randn(2, model.backbone.feature_dim)
    posterior = model.theme_posterior(features)
    assert torch.allclose(posterior.sum(1), torch.ones(2)) and not torch.allclose(posterior, posterior[:, :1].expand_as(posterior))


def test_own_theme_weight_pulls_the_head_towards_each_photos_own_theme():
    """Photos the head cannot tell apart (one feature vector): under each theme it predicts a blend of the
    photos' targets, and weighing each photo's own theme higher moves the blend towards those photos' targets
    (every_theme targets: under its own theme a photo's votes sit in the top bin, under the others in the bottom)."""
    themes_count, photos = 4, 32
    themes = torch.arange(photos) % themes_count
    targets = torch.zeros(photos, themes_count, 10)
    targets[:, :, 0] = 1
    targets[torch.arange(photos), themes] = torch.nn.functional.one_hot(torch.tensor(9), 10).float()
    loaded = torch.ones(photos, 1, dtype=torch.bool)

    def own_theme_mean(weight):
        torch.manual_seed(0)
        model = build_model("compact", num_bins=10, num_themes=themes_count, roi_size=8)
        fit_head(model, torch.zeros(photos, 1, model.backbone.feature_dim), loaded, targets, themes, epochs=40,
                 batch_size=8, lr=0.01, optimizer="adamw", progress=False, own_theme_weight=weight)  # fmt: skip
        with torch.no_grad():
            pred = model.eval().predict_from_features(torch.zeros(1, model.backbone.feature_dim), torch.tensor([0]))
        return float(pred[0] @ torch.arange(1, 11, dtype=torch.float32))

    plain, weighted = own_theme_mean(1.0), own_theme_mean(themes_count * 3.0)
    # weight 1: a quarter of the pairs under theme 0 have mean 10 -> ~3.25; weight 12: 12 of 15 -> ~8.2
    assert plain < 5 < weighted
    with pytest.raises(ValueError, match="own_theme_weight"):
        own_theme_mean(0.0)
    model = build_model("compact", num_bins=10, num_themes=themes_count, roi_size=8)
    with pytest.raises(ValueError, match="own_theme_weight"):  # one target per photo: nothing to weigh
        fit_head(model, torch.zeros(photos, 1, model.backbone.feature_dim), loaded, targets[:, 0], themes, epochs=1,
                 batch_size=8, lr=0.01, progress=False, own_theme_weight=5.0)  # fmt: skip
