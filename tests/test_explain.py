"""The heat map of the predicted mean lies on the photo's own pixels, never on the padding."""
import numpy as np
import pytest
import torch

from test_predict import make_tiny_checkpoint, photo
from workbench.data.batching import pad_batch, to_normalized_tensor
from workbench.explain import heat_on_canvas, score_heat_map, score_mean
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
