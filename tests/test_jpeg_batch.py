"""Batched torchvision JPEG decoding (workbench/data/jpeg_batch.py) gives the PIL path's photos and errors."""
import numpy as np
import pytest
import torch
from PIL import Image

from workbench.data.batching import to_normalized_tensor
from workbench.data.images import ImageError, load_image
from workbench.data.jpeg_batch import decode_device, decode_photos, normalize_photo, orient
from workbench.data.synth_render import generate_image

EXIF_ORIENTATION = 0x0112


def pil_pixels(path) -> torch.Tensor:
    return torch.from_numpy(np.array(load_image(path))).permute(2, 0, 1)


def synthetic_photo(index: int, width: int, height: int) -> Image.Image:
    image, _ = generate_image(index, 0, overrides={"width": width, "height": height})
    return image


@pytest.fixture
def jpegs(tmp_path):
    """Camera-like JPEGs: odd and even sizes, 4:2:0 and 4:4:4, grey, progressive, every EXIF orientation."""
    paths = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        path = tmp_path / f"orientation{orientation}.jpg"
        synthetic_photo(orientation, 97 + orientation, 64 + 2 * orientation).save(path, quality=90, exif=exif)
        paths.append(path)
    synthetic_photo(9, 120, 81).save(tmp_path / "444.jpg", quality=95, subsampling=0)
    synthetic_photo(10, 90, 70).convert("L").save(tmp_path / "grey.jpg", quality=90)
    synthetic_photo(11, 101, 77).save(tmp_path / "progressive.jpg", quality=85, progressive=True)
    return paths + [tmp_path / name for name in ("444.jpg", "grey.jpg", "progressive.jpg")]


def test_cpu_decoding_gives_the_pil_paths_pixels_upright(jpegs):
    photos = decode_photos(jpegs, "cpu")
    for path, photo in zip(jpegs, photos):
        reference = pil_pixels(path)
        assert photo.dtype == torch.uint8 and photo.shape == reference.shape, path.name
        # Both are libjpeg-turbo with its defaults (islow IDCT, fancy upsampling): measured identical.
        assert torch.equal(photo, reference), f"{path.name}: max difference {(photo.int() - reference.int()).abs().max()}"
    assert torch.allclose(normalize_photo(photos[0]), to_normalized_tensor(load_image(jpegs[0])), atol=1e-6)


def test_orientation_matches_pils_transposes():
    stored = torch.arange(2 * 3 * 5, dtype=torch.uint8).view(2, 3, 5)
    image = Image.fromarray(stored.permute(1, 2, 0).numpy()[..., 0])
    from workbench.data.images import _ORIENTATION

    for orientation in range(1, 9):
        shown = image.transpose(_ORIENTATION[orientation]) if orientation in _ORIENTATION else image
        assert torch.equal(orient(stored, orientation)[0], torch.from_numpy(np.array(shown))), orientation


def test_files_torchvision_does_not_decode_take_the_pil_path(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 32), (0, 255, 255, 0)).save(cmyk, quality=95)
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray(np.linspace(0, 65535, 40 * 32).reshape(32, 40).astype(np.uint16)).save(sixteen)
    photos = decode_photos([cmyk, sixteen], "cpu")
    assert torch.equal(photos[0], pil_pixels(cmyk)) and torch.equal(photos[1], pil_pixels(sixteen))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing", "tiny"])
def test_unusable_files_raise_the_pil_paths_error(tmp_path, damage):
    good = tmp_path / "good.jpg"
    synthetic_photo(0, 96, 64).save(good, quality=90)
    path = tmp_path / f"{damage}.jpg"
    data = good.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(data[:200] + bytes(range(256)) * 20 + b"\xff\xd9")  # a valid header, then noise
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "tiny":
        synthetic_photo(0, 96, 64).resize((8, 8)).save(path)
    with pytest.raises(ImageError) as expected:
        load_image(path)
    with pytest.raises(ImageError) as raised:
        decode_photos([good, path], "cpu")
    assert str(raised.value) == str(expected.value)


def test_decoding_moves_to_the_gpu_only_when_asked_and_there():
    assert decode_device("cuda:0", gpu_decode=True) == torch.device("cuda:0")
    assert decode_device("cuda:0", gpu_decode=False) == torch.device("cpu")
    assert decode_device("cpu", gpu_decode=True) == torch.device("cpu")
