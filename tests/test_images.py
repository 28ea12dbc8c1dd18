"""workbench.data.images: every kind of photo loads as RGB, every unusable file raises ImageError."""
from __future__ import annotations

import gc
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.data import images
from workbench.data.batching import MIN_SIDE
from workbench.data.images import ImageError, fit_within, load_image, load_image_with_info

AVA_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "ava" / "images"


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _marked(w: int, h: int) -> Image.Image:
    """Grey photo with a red 4x4 block at its top-left corner, to follow flips and rotations."""
    image = Image.new("RGB", (w, h), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, 4, 4))
    return image


def _is_red(pixel) -> bool:
    r, g, b = pixel
    return r > 200 and g < 60 and b < 60


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height but holds no pixels (what a bomb's header looks like)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# --- photos that load --------------------------------------------------------------------------


def test_rgb_jpeg_from_path_str_and_file_object(tmp_path):
    path = tmp_path / "photo.jpg"
    _noise(64, 48).save(path, quality=95)
    for source in (path, str(path)):
        image, info = load_image_with_info(source)
        assert image.mode == "RGB" and image.size == (64, 48)
        assert info.original_size == (64, 48) and info.format == "JPEG" and info.mode == "RGB"
        assert not info.downscaled and info.frames == 1
    with open(path, "rb") as handle:
        assert load_image(handle).size == (64, 48)
        assert not handle.closed  # the caller's file object stays the caller's to close
    assert load_image(io.BytesIO(path.read_bytes())).size == (64, 48)


def test_png_is_lossless(tmp_path):
    original = _noise(40, 30)
    original.save(tmp_path / "photo.png")
    assert np.array_equal(np.asarray(load_image(tmp_path / "photo.png")), np.asarray(original))


@pytest.mark.parametrize("orientation, red_corner", [(6, "top_right"), (8, "bottom_left"), (3, "bottom_right")])
def test_exif_orientation_is_applied(tmp_path, orientation, red_corner):
    path = tmp_path / f"rotated{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    _marked(64, 32).save(path, exif=exif, quality=95)
    image, info = load_image_with_info(path)
    expected = (32, 64) if orientation in (6, 8) else (64, 32)
    assert image.size == expected and info.original_size == expected
    w, h = image.size
    corners = {"top_right": (w - 2, 1), "bottom_left": (1, h - 2), "bottom_right": (w - 2, h - 2)}
    assert _is_red(image.getpixel(corners[red_corner]))
    assert not _is_red(image.getpixel((1, 1)))
    # Downscaling keeps the rotation: the long side (now the height) is the one fitted.
    assert load_image(path, max_side=32).size == ((16, 32) if orientation in (6, 8) else (32, 16))


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(path, quality=95)  # red in naive CMYK
    image, info = load_image_with_info(path)
    assert info.mode == "CMYK" and image.mode == "RGB"
    assert _is_red(image.getpixel((16, 16)))


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grey_and_one_bit(tmp_path, mode):
    path = tmp_path / f"{mode}.png"
    source = Image.new("L", (32, 32), 0)
    source.paste(255, (0, 0, 16, 32))
    source.convert(mode).save(path)
    image, info = load_image_with_info(path)
    assert info.mode == mode and image.mode == "RGB"
    assert image.getpixel((4, 4)) == (255, 255, 255) and image.getpixel((28, 4)) == (0, 0, 0)


def test_palette_without_and_with_transparency(tmp_path):
    palette = Image.new("P", (32, 32), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette.paste(2, (0, 0, 16, 32))  # left half blue, right half red
    palette.save(tmp_path / "p.png")
    image, info = load_image_with_info(tmp_path / "p.png")
    assert info.mode == "P" and image.getpixel((4, 4)) == (0, 0, 255) and image.getpixel((28, 4)) == (255, 0, 0)
    for suffix in ("png", "gif"):
        path = tmp_path / f"p_transparent.{suffix}"
        palette.save(path, transparency=2)  # blue is the transparent index
        image = load_image(path)
        assert image.getpixel((4, 4)) == (255, 255, 255), suffix  # composited over white
        assert image.getpixel((28, 4)) == (255, 0, 0), suffix


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_over_white(tmp_path, mode):
    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 16, 32))  # left half transparent black
    rgba.paste((0, 0, 0, 128), (0, 0, 16, 8))  # a half-transparent black strip
    rgba.convert(mode).save(tmp_path / "alpha.png")
    image, info = load_image_with_info(tmp_path / "alpha.png")
    assert info.mode == mode and image.mode == "RGB"
    assert image.getpixel((4, 20)) == (255, 255, 255)
    assert image.getpixel((28, 20)) == (0, 0, 0)
    assert all(abs(c - 127) <= 2 for c in image.getpixel((4, 4)))


def _gradient16(w: int = 256, h: int = 16) -> np.ndarray:
    return np.linspace(0, 65535, w).round().astype(np.uint16)[None, :].repeat(h, 0)


def _assert_gradient(image: Image.Image, w: int = 256) -> None:
    grey = np.asarray(image)[..., 0].astype(int)
    expected = np.linspace(0, 255, w)
    assert np.abs(grey[0] - expected).max() <= 1  # brightness kept, not clipped at 255
    assert np.all(np.diff(grey[0]) >= 0)


def test_sixteen_bit_png(tmp_path):
    path = tmp_path / "gradient16.png"
    Image.fromarray(_gradient16()).save(path)
    image, info = load_image_with_info(path)
    assert info.mode.startswith("I") and image.mode == "RGB"
    _assert_gradient(image)


def test_sixteen_bit_big_endian_and_mode_i_tiff(tmp_path):
    gradient = _gradient16()
    big_endian = Image.frombytes("I;16B", (256, 16), gradient.astype(">u2").tobytes())
    big_endian.save(tmp_path / "big.tif")
    image, info = load_image_with_info(tmp_path / "big.tif")
    assert info.mode == "I;16B"
    _assert_gradient(image)
    Image.fromarray(gradient.astype(np.int32)).save(tmp_path / "int32.tif")
    image, info = load_image_with_info(tmp_path / "int32.tif")
    assert info.mode == "I"
    _assert_gradient(image)


def test_float_tiff(tmp_path):
    Image.fromarray(_gradient16().astype(np.float32) / 65535).save(tmp_path / "float.tif")
    image, info = load_image_with_info(tmp_path / "float.tif")
    assert info.mode == "F" and info.format == "TIFF"
    _assert_gradient(image)


@pytest.mark.parametrize("suffix, save_args", [("webp", {"lossless": True}), ("tif", {}), ("bmp", {})])
def test_other_formats(tmp_path, suffix, save_args):
    original = _noise(40, 30)
    original.save(tmp_path / f"photo.{suffix}", **save_args)
    image = load_image(tmp_path / f"photo.{suffix}")
    assert np.array_equal(np.asarray(image), np.asarray(original))


@pytest.mark.parametrize("suffix", ["gif", "webp"])
def test_animated_first_frame(tmp_path, suffix):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (32, 32), colour) for colour in colours]
    path = tmp_path / f"animated.{suffix}"
    extra = {"lossless": True} if suffix == "webp" else {}
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    image, info = load_image_with_info(path)
    assert info.frames == 3 and image.mode == "RGB"
    assert _is_red(image.getpixel((16, 16)))


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_huge_photo_is_downscaled(tmp_path, suffix):
    w, h = (6000, 4000) if suffix == "jpg" else (3000, 1999)
    path = tmp_path / f"huge.{suffix}"
    Image.linear_gradient("L").resize((w, h)).convert("RGB").save(path, **({"compress_level": 1} if suffix == "png" else {}))
    image, info = load_image_with_info(path, max_side=800)
    assert max(image.size) == 800 and image.size[0] == 800
    assert abs(image.size[1] - h * 800 / w) <= 1
    assert info.downscaled and info.original_size == (w, h)
    full, full_info = load_image_with_info(path)  # no max_side: full resolution
    assert full.size == (w, h) and not full_info.downscaled


def test_small_enough_photo_is_not_upscaled(tmp_path):
    _noise(100, 50).save(tmp_path / "small.png")
    image, info = load_image_with_info(tmp_path / "small.png", max_side=800)
    assert image.size == (100, 50) and not info.downscaled


def test_fit_within():
    image = Image.new("RGB", (1000, 333))
    w, h = fit_within(image, 500).size
    assert w == 500 and abs(h - 166.5) <= 0.5
    assert fit_within(Image.new("RGB", (333, 1000)), 100).size[1] == 100
    assert fit_within(image, 2000) is image  # never upscales
    with pytest.raises(ValueError, match="max_side"):
        fit_within(image, 0)


def test_loading_closes_files(tmp_path):
    paths = []
    for name, save in [("a.jpg", {}), ("b.gif", {"save_all": True})]:
        _noise(32, 32).save(tmp_path / name, **save)
        paths.append(tmp_path / name)
    (tmp_path / "bad.jpg").write_bytes((tmp_path / "a.jpg").read_bytes()[:200])
    (tmp_path / "text.txt").write_text("not an image")
    gc.collect()  # other tests' garbage (apps, event loops) must not be counted against load_image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in paths:
            load_image(path)
        for path in (tmp_path / "bad.jpg", tmp_path / "text.txt"):
            with pytest.raises(ImageError):
                load_image(path)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# --- files that must be refused ----------------------------------------------------------------


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    noise = _noise(128, 96)
    files = {}
    for suffix in ("jpg", "png"):
        buffer = io.BytesIO()
        noise.save(buffer, "JPEG" if suffix == "jpg" else "PNG")
        files[f"truncated_{suffix}"] = tmp_path / f"truncated.{suffix}"
        files[f"truncated_{suffix}"].write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    files["empty"] = tmp_path / "empty.jpg"
    files["empty"].write_bytes(b"")
    files["text"] = tmp_path / "notes.jpg"
    files["text"].write_text("these are notes, not a photo\n" * 20)
    files["random"] = tmp_path / "random.png"
    files["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    files["too_small"] = tmp_path / "tiny.png"
    _noise(MIN_SIDE - 1, 64).save(files["too_small"])
    files["bomb_header"] = tmp_path / "bomb.png"
    files["bomb_header"].write_bytes(_png_header_only(100_000, 100_000))
    files["warning_level_bomb"] = tmp_path / "warning_bomb.png"  # between PIL's warning and error levels
    files["warning_level_bomb"].write_bytes(_png_header_only(10_000, 10_000))
    return files


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("truncated_jpg", "corrupt or truncated"),
        ("truncated_png", "corrupt or truncated"),
        ("empty", "empty"),
        ("text", "not an image"),
        ("random", "not an image"),
        ("too_small", "too small"),
        ("bomb_header", "decompression bomb"),
        ("warning_level_bomb", "decompression bomb"),
    ],
)
def test_unusable_files_raise_image_error(tmp_path, kind, reason):
    path = _bad_files(tmp_path)[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a bomb must be an error, not a warning
        with pytest.raises(ImageError, match=reason) as raised:
            load_image(path)
        assert path.name in str(raised.value)
        with pytest.raises(ImageError, match=reason):  # the same from an unnamed file object
            load_image(io.BytesIO(path.read_bytes()))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="not found") as raised:
        load_image(tmp_path / "nowhere.jpg")
    assert "nowhere.jpg" in str(raised.value)
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    assert isinstance(raised.value, ValueError)


def test_real_photo_over_the_pixel_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    _noise(200, 100).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 200 * 100 - 1)
    with pytest.raises(ImageError, match="decompression bomb") as raised:
        load_image(path, max_side=50)
    assert "big.jpg" in str(raised.value) and "MAX_PIXELS" in str(raised.value)
    monkeypatch.setattr(images, "MAX_PIXELS", 200 * 100)
    assert load_image(path).size == (200, 100)


def test_extreme_aspect_ratio_too_thin_after_downscaling(tmp_path):
    path = tmp_path / "panorama.png"
    _noise(2000, 20).save(path)
    assert load_image(path).size == (2000, 20)
    with pytest.raises(ImageError, match="panorama.png.*short side"):
        load_image(path, max_side=800)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_side"):
        load_image("whatever.jpg", max_side=0)
    with pytest.raises(TypeError, match="source"):
        load_image(12345)


# --- the real AVA photos in ../shared, where present -------------------------------------------


def test_real_ava_photos_load():
    if not AVA_IMAGES.is_dir():
        pytest.skip(f"no AVA photos at {AVA_IMAGES}")
    paths = sorted(p for p in AVA_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not paths:
        pytest.skip(f"no .jpg files in {AVA_IMAGES}")
    for path in paths:
        image, info = load_image_with_info(path, max_side=800)
        assert image.mode == "RGB" and max(image.size) <= 800
        assert min(image.size) >= MIN_SIDE and info.format == "JPEG"
        with Image.open(path) as raw:  # read in place
            turned = raw.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            assert info.original_size == (raw.size[::-1] if turned else raw.size)
        small = load_image(path, max_side=300)
        assert max(small.size) == 300
