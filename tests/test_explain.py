"""The heat map of the predicted mean lies on the photo's own pixels, never on the padding."""
import numpy as np
import pytest
import torch

from test_predict import make_tiny_checkpoint, photo
from workbench.data.batching import pad_batch, to_normalized_tensor
from PIL import Image

from workbench.explain import explain_score, heat_on_canvas, score_heat_map, score_mean
from workbench.model import build_model
from workbench.predict import Predictor


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path_factory.mktemp("explain") / "tiny.pt"))


def test_heat_map_covers_the_photo_and_only_the_photo(predictor):
    image = photo(150, 90, seed=1)
    heat = score_heat_map(predictor.model, image, theme_id=3)
    assert heat.shape == (90, 150) and heat.dtype == np.float32
    assert 0.9 < np.abs(heat).max() <= 1 and -1 <= heat.min() and heat.std() > 0.01  # a map, not a constant
    placed = heat_on_canvas(heat, predictor.canvas)
    assert placed.shape == (predictor.canvas, predictor.canvas)
    assert not placed[90:].any() and not placed[:, 150:].any()  # nothing on the padding
    np.testing.assert_array_equal(placed[:90, :150], heat)
    # Another theme weighs the photo differently; the model is left as it was.
    assert not np.allclose(score_heat_map(predictor.model, image, theme_id=-1), heat)
    assert not predictor.model.training


def test_the_predicted_mean_does_not_depend_on_the_padding(predictor):
    """Why the map can be read on the photo's pixels: the mean's gradient on every padded pixel is 0."""
    batch = pad_batch([to_normalized_tensor(photo(150, 90, seed=2))], canvas=predictor.canvas)
    images = batch.images.clone().requires_grad_(True)
    mean = score_mean(predictor.model(images, batch.sizes, torch.tensor([3])))
    (gradient,) = torch.autograd.grad(mean.sum(), images)
    assert gradient[..., :90, :150].abs().sum() > 0
    assert gradient[..., 90:, :].abs().max() == 0 and gradient[..., :, 150:].abs().max() == 0


def test_heat_map_rejects_bad_input(predictor):
    with pytest.raises(TypeError, match="PIL image"):
        score_heat_map(predictor.model, np.zeros((10, 10, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        heat_on_canvas(np.zeros((300, 10)), 256)


@pytest.mark.parametrize("backbone", ["compact", "efficientnet_lite0"])
def test_grad_cam_on_a_later_stage_offers_its_colour_scale_and_stays_on_the_photo(backbone):
    torch.manual_seed(0)
    model = build_model(backbone, num_bins=10, num_themes=2, freeze_bn=backbone != "compact", pretrained=False, **({"roi_size": 32} if backbone == "compact" else {}))
    image = photo(120, 72, seed=4)
    result = explain_score(model, image, theme_id=1)
    assert result.heat.shape == (72, 120) and -1 <= result.heat.min() and result.heat.max() <= 1
    assert result.scale > 0 and result.value_range == (-result.scale, result.scale)
    names = [name for name, _ in model.backbone.body_stages()]
    assert result.stage in names and names.index(result.stage) > 0  # a later stage than the pooled map
    assert min(result.grid) >= max(4, model.backbone.roi_size // 8) and max(result.grid) < model.backbone.roi_size
    np.testing.assert_array_equal(score_heat_map(model, image, theme_id=1), result.heat)
    placed = heat_on_canvas(result.heat, 128)
    assert not placed[72:].any() and not placed[:, 120:].any() and np.abs(placed[:72, :120]).max() > 0.5
    with pytest.raises(ValueError, match="stage must be one of"):
        explain_score(model, image, stage="no such stage")


def test_the_map_is_smooth_where_the_photo_is_smooth(predictor):
    """Issue 21: no row-to-row streaks on a smooth area; the map varies as slowly down as across."""
    flat = Image.fromarray(np.tile(np.linspace(60, 200, 150, dtype=np.uint8), (90, 1))[..., None].repeat(3, axis=2))
    heat = score_heat_map(predictor.model, flat, theme_id=3)
    down, across = np.abs(np.diff(heat, axis=0)).mean(), np.abs(np.diff(heat, axis=1)).mean()
    assert down < 0.015 and across < 0.015  # gradient x activation on the pooled map: 0.035 and 0.028
