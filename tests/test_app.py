"""The Gradio demo: handlers called directly, the API through gradio_client, and a load test.

The app is imported with ``WORKBENCH_CHECKPOINT`` pointing at a tiny untrained checkpoint on a
256 px canvas (see ``test_predict.make_tiny_checkpoint``), so every analysis takes well under a second.
"""
import importlib
import io
import os
import shutil
import socket
import struct
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_predict import CANVAS, make_tiny_checkpoint, photo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "motion-blur.jpg"
VIEWS = ["full", "resize", "resized_pad", "crop"]


def import_app(checkpoint: Path):
    """Import app.py (at the repo root) with the given checkpoint; reload if another one is loaded."""
    os.environ["WORKBENCH_CHECKPOINT"] = str(checkpoint)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    if app.predictor.card["checkpoint"] != str(checkpoint):
        app = importlib.reload(app)
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    previous = os.environ.get("WORKBENCH_CHECKPOINT")
    module = import_app(make_tiny_checkpoint(tmp_path_factory.mktemp("app") / "tiny.pt"))
    yield module
    if previous is None:
        os.environ.pop("WORKBENCH_CHECKPOINT", None)
    else:
        os.environ["WORKBENCH_CHECKPOINT"] = previous


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(demo):
    """Gradio's own test pattern: launch without blocking on a free loopback port, close in finally."""
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture
def backbone_calls(app, monkeypatch):
    """Counts backbone runs (and their batch sizes) of the app's predictor."""
    calls = []
    model = app.predictor.model
    original = type(model).features

    def spy(images, sizes):
        calls.append(images.shape[0])
        return original(model, images, sizes)

    monkeypatch.setattr(model, "features", spy)
    app.clear_cache()
    return calls


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def test_analyze_outputs(app):
    page = app.analyze(str(EXAMPLE), "Motion Blur")
    assert set(page.distributions) == set(VIEWS) | {"no theme"}
    for dist in page.distributions.values():
        assert dist.shape == (10,) and dist.sum() == pytest.approx(1.0, abs=1e-6)
    table = page.table
    assert list(table["view"]) == VIEWS + ["full"]
    assert list(table["theme"]) == ["Motion Blur"] * 4 + ["no theme"]
    assert table.loc[0, "EMD(r=1)"] == 0 and (table["EMD(r=1)"] >= 0).all()
    assert table.loc[4, "EMD(r=1)"] > 0  # the fixture's theme moves the prediction
    assert table.loc[0, "mean"] == pytest.approx(app.summarize(page.distributions["full"])["mean"], abs=1e-3)
    assert f"{table.loc[0, 'mean']:.3f}" in page.summary and "Motion Blur" in page.summary
    # Ranking: 5 highest then 5 lowest, by mean, consistent with predict_all_themes.
    ranking = page.ranking
    assert len(ranking) == 10 and list(ranking["mean"]) == sorted(ranking["mean"], reverse=True)
    assert ranking["rank"].iloc[0] == "highest 1" and ranking["rank"].iloc[-1] == "lowest 1"
    # Photo info and the canvas: 609 x 406 fitted into 256 -> 256 x 170 top-left, ROI outlined.
    assert "609 × 406" in page.info and "1.50 : 1" in page.info and "Downscaled" in page.info
    canvas = np.asarray(page.canvas)
    side = app.DISPLAY_SIDE
    roi_bottom = round(170 * side / CANVAS) - 1
    assert canvas.shape == (side, side, 3)
    assert tuple(canvas[side // 3, 0]) == app.ROI_COLOUR and tuple(canvas[0, side // 2]) == app.ROI_COLOUR
    assert tuple(canvas[roi_bottom, side // 2]) == app.ROI_COLOUR and tuple(canvas[side // 3, side - 1]) == app.ROI_COLOUR
    assert tuple(canvas[roi_bottom + 20, 40]) == app.PADDING_GREY  # below the photo: padding
    # The views, as the network sees them (thumbnails) with their sizes; one y scale for every histogram.
    assert list(page.views) == VIEWS and page.views["resize"].size == (299, 299)
    assert all(cached.thumbnail.ndim == 3 and max(cached.thumbnail.shape[:2]) <= app.THUMBNAIL_SIDE for cached in page.views.values())
    assert max(dist.max() for dist in page.distributions.values()) <= page.histogram_top <= 1
    # Histograms are native bar plots: one row per score, in order, the series named.
    frame = app.histogram_frame(page.distributions["full"], app.WITH_THEME)
    assert list(frame["score"]) == [str(s) for s in range(1, 11)] and set(frame["series"]) == {app.WITH_THEME}
    np.testing.assert_allclose(frame["probability"], page.distributions["full"], atol=1e-4)


def test_theme_switch_reuses_cached_features(app, backbone_calls, tmp_path):
    page = app.analyze(str(EXAMPLE), "no theme")
    assert backbone_calls == [4]  # the four views, one padded batch
    switched = app.switch_theme(page.state, "Circles")
    assert backbone_calls == [4]  # only the head ran
    assert switched.theme == "Circles" and switched.state.theme == "Circles"
    assert switched.canvas is None and switched.views is None and switched.ranking is None  # theme-independent: kept
    assert not np.allclose(switched.distributions["full"], page.distributions["full"])
    np.testing.assert_allclose(switched.distributions["no theme"], page.distributions["no theme"])
    # The same bytes under another name hit the cache too; the theme switch equals a fresh analysis.
    copy = shutil.copy(EXAMPLE, tmp_path / "renamed.jpg")
    again = app.analyze(str(copy), "Circles")
    assert backbone_calls == [4]
    np.testing.assert_allclose(again.distributions["full"], switched.distributions["full"])
    app.clear_cache()
    app.analyze(str(copy), "Circles")
    assert backbone_calls == [4, 4]


def endpoint(app, api_name: str):
    """The page's event for ``api_name`` (its handler ``fn`` and its ``outputs``)."""
    return next(fn for fn in app.demo.fns.values() if fn.api_name == api_name)


def by_id(outputs: dict) -> dict:
    """A handler's {component: value} -> {elem_id: value}; a component returned as an update -> its value."""
    import gradio as gr

    return {block.elem_id or "state": value.constructor_args["value"] if isinstance(value, gr.components.Component) else value
            for block, value in outputs.items()}  # fmt: skip


THEME_INDEPENDENT = {"photo-info", "canvas", "ranking", "histogram-no-theme", *(f"view-{view}" for view in VIEWS)}
THEME_DEPENDENT = {"summary", "table", "histogram-theme", *(f"histogram-{view}" for view in VIEWS)}


def test_switch_sends_only_theme_dependent_outputs(app):
    analysis, switch = endpoint(app, "analyze"), endpoint(app, "switch_theme")
    assert {block.elem_id for block in analysis.outputs if not block.stateful} == THEME_INDEPENDENT | THEME_DEPENDENT
    # A switch's event does not even list the canvas, the view images, the ranking or the no-theme histogram.
    assert {block.elem_id for block in switch.outputs if not block.stateful} == THEME_DEPENDENT
    shown = by_id(analysis.fn(str(EXAMPLE), "no theme"))
    assert set(shown) == THEME_INDEPENDENT | THEME_DEPENDENT | {"state"}
    switched = by_id(switch.fn(str(EXAMPLE), "Circles", shown["state"]))
    assert set(switched) == THEME_DEPENDENT | {"state"} and switched["state"].theme == "Circles"
    assert all(isinstance(switched[name], app.pd.DataFrame) for name in THEME_DEPENDENT if name.startswith("histogram"))
    before, after = shown["histogram-theme"], switched["histogram-theme"]
    assert set(before["series"]) == set(after["series"]) == {app.WITH_THEME}  # a fixed series: the colour stays
    assert not np.allclose(after["probability"], before["probability"])  # the with-theme histogram moved
    page = app.switch_theme(shown["state"], "Circles")
    np.testing.assert_allclose(after["probability"], page.distributions["full"], atol=1e-4)
    np.testing.assert_allclose(shown["histogram-no-theme"]["probability"], page.distributions["no theme"], atol=1e-4)
    # The y scale set with the photo covers it under every theme, so a switch never needs to change it.
    top = app.analyze(str(EXAMPLE)).histogram_top
    for theme in app.predictor.theme_names:
        assert max(dist.max() for dist in app.switch_theme(shown["state"], theme).distributions.values()) <= top
    # The theme chosen while the photo was analysed is shown once the analysis lands; otherwise nothing is sent.
    after_photo = next(fn for fn in app.demo.fns.values() if fn.fn.__name__ == "after_photo")
    assert after_photo.fn(str(EXAMPLE), "no theme", shown["state"]) == {"__type__": "update"}
    assert by_id(after_photo.fn(str(EXAMPLE), "Circles", shown["state"]))["state"].theme == "Circles"


def test_cache_is_bounded_lru(app, backbone_calls, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "CACHE_PHOTOS", 2)
    pages = [app.analyze(str(save(photo(120, 90, seed=i), tmp_path / f"{i}.png")), None) for i in range(3)]
    assert app.cache_info()["entries"] == 8 and len(backbone_calls) == 3
    app.switch_theme(pages[2].state, "Panorama")  # most recent: cached
    assert len(backbone_calls) == 3
    evicted = app.switch_theme(pages[0].state, "Panorama")  # evicted: reloaded and recomputed
    assert len(backbone_calls) == 4 and evicted.theme == "Panorama"


def test_non_rgb_animated_and_huge_photos_work(app, tmp_path):
    cmyk = save(photo(160, 120, mode="CMYK"), tmp_path / "cmyk.jpg")
    assert "Converted from CMYK" in app.analyze(str(cmyk)).info
    sixteen = Image.fromarray((np.random.default_rng(0).random((90, 140)) * 65535).astype(np.uint16))
    assert "I;16" in app.analyze(str(save(sixteen, tmp_path / "deep.png"))).info
    frames = [photo(100, 80, seed=i).convert("P") for i in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert "Animated (3 frames)" in app.analyze(str(gif)).info
    huge = app.analyze(str(save(photo(1200, 900, seed=3), tmp_path / "huge.png")), "Panorama")
    assert "Downscaled" in huge.info and "1200 × 900" in huge.info and "256 × 192" in huge.info
    small = app.analyze(str(save(photo(200, 150), tmp_path / "small.png")))
    assert "Downscaled" not in small.info


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words the error message must contain)."""
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo at all")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    buffer = io.BytesIO()
    photo(300, 200).save(buffer, format="JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    # A PNG header claiming 30000 x 30000 pixels (900 MP) over a few bytes of data.
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + _png_chunk(b"IEND", b""))  # fmt: skip
    tiny = save(photo(8, 8), tmp_path / "tiny.png")
    return {
        "non-image": (text, "not an image"),
        "empty": (empty, "empty"),
        "truncated": (truncated, "truncated"),
        "bomb": (bomb, "decompression bomb"),
        "too small": (tiny, "too small"),
    }


def test_bad_files_raise_gr_error_naming_the_problem(app, tmp_path):
    import gradio as gr

    for name, (path, words) in bad_files(tmp_path).items():
        with pytest.raises(gr.Error) as caught:
            app.analyze(str(path), "Circles")
        assert words in caught.value.message and path.name in caught.value.message, name
        assert str(tmp_path) not in caught.value.message  # the server's temp folder stays private
    with pytest.raises(gr.Error, match="Upload a photo"):
        app.analyze(None)
    with pytest.raises(gr.Error) as caught:
        app.analyze(str(EXAMPLE), "Motion Blr")
    assert "did you mean 'Motion Blur'" in caught.value.message
    assert app.analyze(str(EXAMPLE), "Circles").theme == "Circles"  # still serving


def test_missing_checkpoint_names_it_and_the_command(app, tmp_path):
    with pytest.raises(app.CheckpointError) as caught:
        app.load_predictor(tmp_path / "demo.pt")
    assert str(tmp_path / "demo.pt") in str(caught.value) and "make demo-checkpoint" in str(caught.value)


def test_page_shows_model_and_synthetic_warning(app):
    banner = app.model_banner()
    assert "trained on synthetic data, not AVA" in banner and "SYNTHETIC" in banner
    assert [Path(path).name for path, _ in app.example_rows()][:2] == ["motion-blur.jpg", "panorama.jpg"]
    assert all(theme in app.predictor.theme_names for _, theme in app.example_rows())
    assert sum(f.stat().st_size for f in (ROOT / "examples").iterdir()) < 1_000_000


@pytest.fixture(scope="module")
def server(app):
    with serving(app.demo) as url:
        yield url


def table_rows(output) -> list[dict]:
    """A gr.Dataframe value as the API returns it -> list of row dicts."""
    return [dict(zip(output["headers"], row)) for row in output["data"]]


def api_outputs(app, api_name: str, values) -> dict:
    """The API returns the event's outputs without the gr.State, in order: name them by elem_id.
    Outputs the page updates along with a property (a view's label, the histograms' y scale) come as
    ``{"__type__": "update", "value": ...}``: keep the value."""
    names = [block.elem_id for block in endpoint(app, api_name).outputs if not block.stateful]
    return {name: value["value"] if isinstance(value, dict) and value.get("__type__") == "update" else value
            for name, value in zip(names, values, strict=True)}  # fmt: skip


def test_api_through_gradio_client(app, server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/analyze", "/switch_theme"} <= set(endpoints)
    shown = api_outputs(app, "analyze", client.predict(handle_file(str(EXAMPLE)), "Motion Blur", api_name="/analyze"))
    rows = table_rows(shown["table"])
    assert [row["view"] for row in rows] == VIEWS + ["full"]
    assert "609 × 406" in shown["photo-info"] and f"{rows[0]['mean']:.3f}" in shown["summary"]
    assert Path(shown["canvas"]).is_file() and len(table_rows(shown["ranking"])) == 10
    assert all(Path(shown[f"view-{view}"]).is_file() for view in VIEWS)
    histogram = shown["histogram-theme"]
    assert histogram["columns"] == ["score", "probability", "series"] and len(histogram["data"]) == 10
    switched = api_outputs(app, "switch_theme", client.predict(handle_file(str(EXAMPLE)), "Circles", api_name="/switch_theme"))
    assert set(switched) == THEME_DEPENDENT
    switched_rows = table_rows(switched["table"])
    assert switched_rows[0]["theme"] == "Circles" and switched_rows[0]["mean"] != rows[0]["mean"]
    assert switched["histogram-theme"]["data"] != histogram["data"]
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(bad_files(tmp_path)["non-image"][0])), "Circles", api_name="/analyze")
    again = api_outputs(app, "analyze", client.predict(handle_file(str(EXAMPLE)), "Motion Blur", api_name="/analyze"))  # still serving
    assert table_rows(again["table"])[0]["mean"] == rows[0]["mean"]


@pytest.mark.slow
def test_load_20_concurrent_requests(app, server, tmp_path):
    """20 clients at once, over loopback: every request succeeds and memory stays bounded.

    Bound: baseline RSS + 1 GB. What a request can hold: one decoded upload (photos are refused
    above 64 MP = 192 MB of RGB; ours are small), the backbone batch of its four views (at most two
    analyses run at once: CONCURRENCY_LIMIT) and its figures; the feature cache is capped at
    CACHE_PHOTOS photos (~0.3 MB each); 20 uploads are a few MB. Measured peak growth here is well
    under 200 MB, so 1 GB catches a leak or an unbounded cache without flaking on allocator noise.
    """
    import psutil
    from gradio_client import Client, handle_file

    paths = [str(save(photo(160 + 7 * i, 120 + 5 * i, seed=i), tmp_path / f"load{i}.png")) for i in range(10)]
    themes = ["no theme"] + app.predictor.theme_names
    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    done = threading.Event()

    def sample_memory():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.05)

    def request(i: int):
        client = Client(server, verbose=False)
        outputs = client.predict(handle_file(paths[i % len(paths)]), themes[i % len(themes)], api_name="/analyze")
        return table_rows(api_outputs(app, "analyze", outputs)["table"])

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(request, range(20)))
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - start
    assert len(results) == 20 and all(len(rows) == 5 for rows in results)
    for i, rows in enumerate(results):
        assert rows[0]["theme"] == themes[i % len(themes)]
    growth_mb = (peak - baseline) / 2**20
    print(f"\n20 concurrent analyses in {elapsed:.1f} s; RSS baseline {baseline / 2**20:.0f} MB, peak +{growth_mb:.0f} MB")
    assert peak < baseline + 2**30
