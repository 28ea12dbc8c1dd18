"""The Gradio demo as served: its API through gradio_client, and a load test.

The page's logic is tested without Gradio in test_demo.py; here only what the server sends. The app
is built by ``app.create_app`` for a tiny untrained checkpoint on a 256 px canvas (see
``test_predict.make_tiny_checkpoint``), so every analysis takes well under a second.
"""
import csv
import io
import os
import socket
import struct
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from PIL import Image

from test_predict import make_tiny_checkpoint, photo
from workbench.demo.benchmark import BenchmarkPhoto

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "motion-blur.jpg"
VIEWS = ["full", "resize", "resized_pad", "crop"]


def app_module():
    """app.py at the repo root, imported once (importing it builds nothing)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import app

    return app


def build_app(checkpoint: Path):
    """A fresh demo for ``checkpoint`` through the app's factory (its own models, cache and files)."""
    return app_module().create_app(checkpoint)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    built = build_app(make_tiny_checkpoint(tmp_path_factory.mktemp("app") / "tiny.pt"))
    yield built
    built.store.remove()


LAUNCH_OPTIONS = app_module().LAUNCH_OPTIONS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(demo, **launch_options):
    """Gradio's own test pattern: launch without blocking on a free loopback port, close in finally.
    launch_options: the app's own (``app.LAUNCH_OPTIONS``: its CSS, the upload limit)."""
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


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


def test_missing_checkpoint_names_it_and_the_command(tmp_path):
    from workbench.checkpoints import CheckpointError

    with pytest.raises(CheckpointError) as caught:
        build_app(tmp_path / "demo.pt")
    assert str(tmp_path / "demo.pt") in str(caught.value) and "make demo-checkpoint" in str(caught.value)


def test_page_shows_model_and_synthetic_warning(app):
    from workbench.demo.benchmark import read_examples
    from workbench.demo.models import model_banner, public_card

    predictor = app.session.predictor
    banner = model_banner(predictor)
    assert "trained on synthetic data, not AVA" in banner and "SYNTHETIC" in banner
    examples = read_examples(ROOT / "examples" / "examples.csv")
    assert [example.path.name for example in examples][:2] == ["motion-blur.jpg", "panorama.jpg"]
    assert all(example.theme in predictor.theme_names and example.photo is not None for example in examples)
    assert sum(f.stat().st_size for f in (ROOT / "examples").iterdir()) < 1_000_000
    card = public_card(predictor)  # the card names the checkpoint's file, never the server's folders
    assert card["checkpoint"] == "tiny.pt" and str(Path(predictor.card["checkpoint"]).parent) not in str(card)


@pytest.fixture(scope="module")
def server(app):
    with serving(app.demo, **LAUNCH_OPTIONS) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def table_rows(output) -> list[dict]:
    """A gr.Dataframe value as the API returns it -> list of row dicts."""
    return [dict(zip(output["headers"], row)) for row in output["data"]]


def call(client, api_name: str, *inputs) -> dict:
    """An endpoint's outputs by their labels (the API's own description of what it returns).
    Outputs sent with a property (a view's label, the histograms' y scale) come as updates: keep the value
    (None for an output the endpoint left as it was)."""
    returns = client.view_api(print_info=False, return_format="dict")["named_endpoints"][api_name]["returns"]
    values = client.predict(*inputs, api_name=api_name)
    values = values if isinstance(values, (list, tuple)) else [values]
    return {spec["label"]: value.get("value") if isinstance(value, dict) and value.get("__type__") == "update" else value
            for spec, value in zip(returns, values, strict=True)}  # fmt: skip


TABLE = "Mean, std and EMD(r=1) of each view, against the truth when known"
SLIDER = "new value (redraws on release)"
MOVEMENT = "Mean score, the scene as drawn vs redrawn"
TRUTH = "Truth: the benchmark's expected votes (benchmark photos only)"
WITH_THEME = "Predicted, full view, with the chosen theme"
RANKING = "Themes under which this photo scores highest / lowest (top 5)"


def test_api_analyze_and_switch(app, client):
    from gradio_client import handle_file

    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/analyze", "/switch_theme", "/draw_benchmark_photo", "/redraw", "/heat_map", "/score_many"} <= set(endpoints)
    example = str(endpoints["/analyze"]["parameters"][0]["example_input"])  # the "Use via API" page's example
    assert ".png" in example and ".pdf" not in example
    shown = call(client, "/analyze", handle_file(str(EXAMPLE)), "Motion Blur")
    rows = table_rows(shown[TABLE])
    assert [row["view"] for row in rows] == ["truth", *VIEWS, "full"] and rows[0]["theme"] == "Motion Blur"
    assert "609 × 406" in shown["photo"] and f"{rows[1]['mean']:.3f}" in shown["summary"] and "Truth" in shown["summary"]
    assert Path(shown["Padded canvas: the photo's ROI in red"]).is_file()
    assert len(table_rows(shown["Themes under which this photo scores highest / lowest (top 5)"])) == 10
    assert all(Path(shown[label]).is_file() for label in ("full (pad + ROI)", "resize", "resized_pad", "crop"))
    histogram, truth = shown[WITH_THEME], shown[TRUTH]
    assert histogram["columns"] == ["score", "probability", "series"] and len(histogram["data"]) == 10
    assert sum(row[1] for row in truth["data"]) == pytest.approx(1, abs=1e-3)
    # A switch sends only what depends on the theme: no canvas, view images, ranking or no-theme histogram.
    labels = {name: {spec["label"] for spec in endpoints[name]["returns"]} for name in ("/analyze", "/switch_theme")}
    assert labels["/switch_theme"] < labels["/analyze"]
    assert {"Padded canvas: the photo's ROI in red", "Predicted, full view, no theme", RANKING} <= labels["/analyze"] - labels["/switch_theme"]
    switched = call(client, "/switch_theme", handle_file(str(EXAMPLE)), "Circles")
    sent = {label for label, value in switched.items() if value is not None}  # the view images only with a heat map shown
    assert sent == {"summary", WITH_THEME, TRUTH, TABLE, "Mean score, the scene as drawn vs redrawn",
                    *(f"{view}: predicted scores" for view in VIEWS)}  # fmt: skip
    switched_rows = table_rows(switched[TABLE])
    assert switched_rows[1]["theme"] == "Circles" and switched_rows[1]["mean"] != rows[1]["mean"]
    assert switched[TRUTH]["data"] != truth["data"]  # the truth is judged under the new theme too
    assert {row[2] for row in switched[WITH_THEME]["data"]} == {app_module().WITH_THEME}  # a fixed series: the colour stays


def test_api_bad_file_is_reported_in_place(app, client, tmp_path):
    from gradio_client import handle_file

    for name, (path, words) in bad_files(tmp_path).items():
        shown = call(client, "/analyze", handle_file(str(path)), "Circles")
        assert "Cannot use this file" in shown["photo"] and words in shown["photo"], name
        assert str(tmp_path) not in shown["photo"]
        assert shown["summary"] == "" and table_rows(shown[TABLE]) == [] and table_rows(shown[TABLE]) is not None
        assert shown[TABLE]["headers"][:2] == ["view", "theme"]  # empty tables keep their headers
    shown = call(client, "/analyze", handle_file(str(EXAMPLE)), "Circles")  # still serving
    assert "Predicted mean score" in shown["summary"]


def test_api_draw_redraw_and_heat_map(app, client):
    from gradio_client import handle_file

    drawn, theme, _ = client.predict(8, 0, api_name="/draw_benchmark_photo")
    assert theme == BenchmarkPhoto(8, 0).attributes()["theme"] == "Film Grain"  # predicted under the theme its truth is judged under
    _, _, message = client.predict(-1, 0, api_name="/draw_benchmark_photo")  # said in place: no red pill, no toast that fades
    assert "Cannot draw this photo" in message and "index must be an int >= 0" in message
    shown = call(client, "/analyze", handle_file(drawn), "Film Grain")  # the page's photo.change does this
    assert "benchmark photo 8 (seed 0)" in shown["photo"] and table_rows(shown[TABLE])[0]["view"] == "truth"
    # The slider jumps to the photo's own value (photo 8 has no grain; the page opens at 1), so a
    # release changes the attribute by what the user moved it, not from wherever it stood before.
    assert shown[SLIDER] == pytest.approx(round(BenchmarkPhoto(8, 0).current_value("grain"), 2))
    shown = call(client, "/analyze", handle_file(drawn), "Film Grain", app.registry.default, "sharpness")  # the attribute chosen
    assert shown[SLIDER] == pytest.approx(round(BenchmarkPhoto(8, 0).current_value("sharpness"), 2)) and shown[SLIDER] not in (0, 1)
    redrawn = client.predict("grain", 1.0, api_name="/redraw")  # the same session: its state is this photo
    assert Path(redrawn).name == "benchmark-8-seed0-grain1.jpg"
    shown = call(client, "/analyze", handle_file(redrawn), "Film Grain")
    assert shown[SLIDER] == pytest.approx(1.0)  # the redrawn photo's value: where the user let go
    movement = {row[""]: row for row in table_rows(shown[MOVEMENT])}
    assert set(movement) == {"truth", *VIEWS} and movement["truth"]["change"] > 0.1
    images = call(client, "/heat_map", "resize")
    heat, plain = images["resize"], images["crop"]
    assert "heat" in Path(heat).name and "heat" not in Path(plain).name
    assert Image.open(heat).size == (299, 299)  # over the view image as the network sees it
    plain = call(client, "/heat_map", "off")
    assert all("heat" not in Path(path).name for path in plain.values()) and Image.open(plain["resize"]).size == (299, 299)


def test_api_many_photos(app, client, tmp_path):
    import csv

    from gradio_client import handle_file

    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    page = tmp_path / "page.html"
    page.write_text("<html>not a photo</html>")
    inputs = [handle_file(str(EXAMPLE)), handle_file(str(bad)), handle_file(str(save(photo(200, 150), tmp_path / "mine.png"))),
              handle_file(str(page))]  # a mixed upload: the .html is listed, not the whole upload refused
    table, failed, gallery, csv_path = client.predict(inputs, "Circles", api_name="/score_many")
    rows = table_rows(table)
    assert [row["photo"] for row in rows] == ["motion-blur.jpg", "mine.png"] and rows[0]["size"] == "609×406"
    assert table["headers"] == ["photo", "size", "Circles: mean ± std", "no theme: mean ± std", "truth mean (theme)"]
    assert rows[0]["truth mean (theme)"].endswith("(Circles)") and rows[1]["truth mean (theme)"] == ""
    assert table_rows(failed)[0]["photo"] == "notes.jpg" and "not an image" in table_rows(failed)[0]["error"]
    assert table_rows(failed)[1]["photo"] == "page.html" and len(table_rows(failed)) == 2
    captions = [item["caption"] for item in gallery]  # the score first: a long name cannot hide it
    assert [caption.split(" · ")[1] for caption in captions] == ["motion-blur.jpg", "mine.png"]
    assert captions[0].startswith(rows[0]["Circles: mean ± std"].split(" ± ")[0] + " · ")
    with open(csv_path, newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [row["photo"] for row in written] == ["motion-blur.jpg", "mine.png"]
    assert f"{float(written[0]['mean (Circles)']):.2f} ± {float(written[0]['std (Circles)']):.2f}" == rows[0]["Circles: mean ± std"]
    assert {"width", "height", "mean (no theme)", "std (no theme)", "truth mean", "truth under"} <= set(written[0])


def test_api_batch_csvs_do_not_accumulate(app, server, client, tmp_path):
    """Batch runs across sessions leave at most CSVS_KEPT CSVs in the page's folder, the newest whole."""
    from gradio_client import Client, handle_file

    from workbench.demo.batch import CSVS_KEPT

    runs = CSVS_KEPT + 4
    for i in range(runs):
        session = client if i % 2 else Client(server, verbose=False)  # one session and many
        upload = handle_file(str(save(photo(90 + i, 80, seed=i), tmp_path / f"run{i}.png")))
        *_, csv_path = session.predict([upload], "no theme", api_name="/score_many")
    left = list(app.store.folder.glob("scores-*.csv"))
    assert 0 < len(left) <= CSVS_KEPT < runs
    newest = max(left, key=lambda path: path.stat().st_mtime_ns)
    assert newest.read_text() == Path(csv_path).read_text() and f"run{runs - 1}.png" in newest.read_text()


def mean_by_view(rows: list[dict]) -> dict[tuple[str, str], float]:
    """A comparison table's means by (view, theme): what two answers for the same photo must share."""
    return {(row["view"], row["theme"]): row["mean"] for row in rows}


@pytest.mark.slow
def test_load_20_concurrent_sessions_mixing_the_controls(app, server, tmp_path):
    """20 sessions at once, over loopback, each its own photo: five analyse, five analyse then switch the
    theme, five draw a benchmark photo and redraw it, five score a batch. Every session gets its own
    answer (its photo's size and means, as the library computes them alone), no request fails, and memory
    stays bounded.

    Bound: baseline RSS + 1 GB. What a request can hold: one decoded upload (photos are refused
    above 64 MP = 192 MB of RGB; ours are small), the backbone batch of its four views (at most two
    analyses run at once: CONCURRENCY_LIMIT) and its figures; the feature cache is capped at
    CACHE_PHOTOS photos (~0.3 MB each); 20 uploads are a few MB. Measured peak growth here is well
    under 200 MB, so 1 GB catches a leak or an unbounded cache without flaking on allocator noise.
    """
    import psutil
    from gradio_client import Client, handle_file

    from workbench.demo.batch import score_many
    from workbench.predict import summarize

    sessions = 20
    paths = [save(photo(160 + 7 * i, 120 + 5 * i, seed=i), tmp_path / f"load{i}.png") for i in range(sessions)]
    themes = ["no theme"] + app.session.predictor.theme_names
    theme_of = [themes[i % len(themes)] for i in range(sessions)]
    switched_to = [themes[(i + 3) % len(themes)] for i in range(sessions)]
    scenes = [BenchmarkPhoto(100 + i, 0) for i in range(sessions)]  # photos no other test draws
    grain_to = [1.0 if scene.current_value("grain") < 0.5 else 0.0 for scene in scenes]
    kind_of = [("analyse", "switch", "redraw", "batch")[i % 4] for i in range(sessions)]

    # What each session must get: the library's answer for its own photo, computed alone before the load.
    shown_under = [switched_to[i] if kind_of[i] == "switch" else theme_of[i] for i in range(sessions)]
    analysed = {i: mean_by_view(app.session.analyze(paths[i], shown_under[i]).table.to_dict("records"))
                for i in range(sessions) if kind_of[i] in ("analyse", "switch")}  # fmt: skip
    batches = {i: score_many(app.session, [(path.name, path) for path in paths[i : i + 2]], theme_of[i]).table
               for i in range(sessions) if kind_of[i] == "batch"}  # fmt: skip
    app.registry.clear_caches()  # the concurrent sessions do the backbone work themselves

    def true_mean(scene: BenchmarkPhoto, theme: str) -> float:
        return summarize(scene.truth(None if theme == "no theme" else theme))["mean"]

    def analyse(client, i: int) -> None:
        shown = call(client, "/analyze", handle_file(str(paths[i])), theme_of[i])
        assert f"{160 + 7 * i} × {120 + 5 * i} px" in shown["photo"], shown["photo"]
        assert mean_by_view(table_rows(shown[TABLE])) == pytest.approx(analysed[i], abs=2e-3)

    def switch(client, i: int) -> None:
        call(client, "/analyze", handle_file(str(paths[i])), theme_of[i])
        switched = call(client, "/switch_theme", handle_file(str(paths[i])), switched_to[i])
        assert mean_by_view(table_rows(switched[TABLE])) == pytest.approx(analysed[i], abs=2e-3)

    def redraw(client, i: int) -> None:
        drawn = client.predict(scenes[i].index, 0, api_name="/draw_benchmark_photo")[0]
        shown = call(client, "/analyze", handle_file(drawn), theme_of[i])
        assert f"benchmark photo {scenes[i].index} (seed 0)" in shown["photo"]
        assert shown[SLIDER] == pytest.approx(round(scenes[i].current_value("grain"), 2))
        redrawn = client.predict("grain", grain_to[i], api_name="/redraw")
        assert Path(redrawn).name == scenes[i].with_attribute("grain", grain_to[i]).file_name()
        movement = {row[""]: row for row in table_rows(call(client, "/analyze", handle_file(redrawn), theme_of[i])[MOVEMENT])}
        truth_theme = theme_of[i] if theme_of[i] != "no theme" else scenes[i].attributes()["theme"]
        change = true_mean(scenes[i].with_attribute("grain", grain_to[i]), truth_theme) - true_mean(scenes[i], truth_theme)
        assert movement["truth"]["change"] == pytest.approx(change, abs=2e-3)

    def batch(client, i: int) -> None:
        table, failed, gallery, csv_path = client.predict([handle_file(str(path)) for path in paths[i : i + 2]], theme_of[i],
                                                          api_name="/score_many")  # fmt: skip
        with open(csv_path, newline="") as handle:  # the CSV keeps every number in its own column
            rows = [{k: (v if k == "photo" else float(v)) for k, v in row.items() if k != "truth under"} for row in csv.DictReader(handle)]
        expected = batches[i].drop(columns=["truth under"], errors="ignore").to_dict("records")
        assert [row["photo"] for row in rows] == [row["photo"] for row in expected] and len(gallery) == len(rows)
        assert [row["width"] for row in rows] == [row["width"] for row in expected] and table_rows(failed) == []
        assert [row["size"] for row in table_rows(table)] == [f"{row['width']}×{row['height']}" for row in expected]
        for row, want in zip(rows, expected):
            assert {k: row[k] for k in want if k.startswith("mean")} == pytest.approx({k: v for k, v in want.items() if k.startswith("mean")}, abs=2e-3)

    def session(i: int) -> str:
        {"analyse": analyse, "switch": switch, "redraw": redraw, "batch": batch}[kind_of[i]](Client(server, verbose=False), i)
        return kind_of[i]

    process = psutil.Process()
    baseline = peak = process.memory_info().rss
    done = threading.Event()

    def sample_memory():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=sessions) as pool:
            finished = list(pool.map(session, range(sessions)))  # a failed assertion or request raises here
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - start
    assert finished == kind_of
    growth_mb = (peak - baseline) / 2**20
    print(f"\n20 concurrent sessions in {elapsed:.1f} s; RSS baseline {baseline / 2**20:.0f} MB, peak +{growth_mb:.0f} MB")
    assert peak < baseline + 2**30


def test_a_folder_of_checkpoints_offers_only_usable_models(tmp_path):
    """--checkpoint FOLDER: every checkpoint in it is checked at start; corrupt or foreign files are left out
    (even the first by name), each model has its own card, and no message names a server folder."""
    from gradio_client import Client, handle_file

    from workbench.checkpoints import CheckpointError
    from workbench.demo.models import model_banner, public_card

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "0-broken.pt").write_bytes(b"not a checkpoint either")  # first by name: the app once exited on it
    make_tiny_checkpoint(folder / "a-themed.pt")
    make_tiny_checkpoint(folder / "b-plain.pt", synthetic=False, themes=[])
    (folder / "notes.txt").write_text("not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, folder / "c-foreign.pt")  # loads, but is no workbench checkpoint
    app, fresh = build_app(folder), build_app(folder)
    assert app.registry.names == ["a-themed.pt", "b-plain.pt"] and app.registry.default == "a-themed.pt"
    assert set(app.registry.checkpoints.skipped) == {"0-broken.pt", "c-foreign.pt"}
    assert str(folder) not in str(app.registry.checkpoints.skipped)
    plain = app.registry.session("b-plain.pt").predictor
    assert "without themes" in model_banner(plain) and "synthetic" not in model_banner(plain)
    assert str(tmp_path) not in str(public_card(plain)) and public_card(plain)["checkpoint"] == "b-plain.pt"
    with pytest.raises(ValueError, match="unknown model"):
        app.registry.session("0-broken.pt")
    (folder / "b-plain.pt").write_bytes(b"changed on disk since the start")  # loaded only when chosen: the error names the file only
    with pytest.raises(CheckpointError) as caught:
        fresh.registry.session("b-plain.pt")
    assert "b-plain.pt" in str(caught.value) and str(folder) not in str(caught.value)
    (folder / "a-themed.pt").unlink()
    with pytest.raises(CheckpointError, match="no usable checkpoint in 'models'"):  # nothing to serve: said at start
        build_app(folder)
    with serving(app.demo, **LAUNCH_OPTIONS) as url:
        client = Client(url, verbose=False)
        themed = call(client, "/analyze", handle_file(str(EXAMPLE)), "Circles", "a-themed.pt")
        untouched = call(client, "/analyze", handle_file(str(EXAMPLE)), "no theme", "b-plain.pt")
    assert table_rows(themed[TABLE])[1]["theme"] == "Circles"
    assert [row["view"] for row in table_rows(untouched[TABLE])] == ["truth", *VIEWS]  # no theme: no theme rows
    assert table_rows(untouched[TABLE])[1]["mean"] != table_rows(themed[TABLE])[1]["mean"]  # another model
    for built in (app, fresh):
        built.store.remove()


@pytest.mark.slow
def test_each_server_has_its_own_files_and_removes_them_when_stopped(tmp_path):
    """Two `python app.py` on two ports: each keeps its files (its own and Gradio's) in a folder of its own,
    so stopping one (SIGTERM, as `kill` or a container stop sends) leaves the other's files whole; a
    stopped server leaves no folder behind, on SIGTERM as on Ctrl-C."""
    import signal
    import subprocess
    import urllib.request

    from gradio_client import Client, handle_file

    checkpoint = make_tiny_checkpoint(tmp_path / "tiny.pt")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(temp / "shared-gradio")}  # a shared one is overridden
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--checkpoint", str(checkpoint), "--port", str(port)],
                                env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for port in ports]  # fmt: skip
    try:
        for server, port in zip(servers, ports):
            for _ in range(600):  # up to 5 min on a busy machine: a guard against a hang, not a timing assertion
                assert server.poll() is None, server.stderr.read().decode()
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                    break
                except OSError:
                    time.sleep(0.5)
        for port in ports:
            shown = call(Client(f"http://127.0.0.1:{port}/", verbose=False), "/analyze", handle_file(str(EXAMPLE)), "Circles")
            assert "Predicted mean score" in shown["summary"]
        folders = sorted(temp.glob("workbench-demo-*"))
        assert len(folders) == 2 and not [p for p in (temp / "shared-gradio").rglob("*") if p.is_file()]  # (gradio makes empty folders at import)
        gradio_files = {folder: sorted(p for p in (folder / "gradio").rglob("*") if p.is_file()) for folder in folders}
        assert all(gradio_files.values())  # each served its files from its own Gradio folder
        servers[0].send_signal(signal.SIGTERM)
        assert servers[0].wait(timeout=120) == 0
        left = sorted(temp.glob("workbench-demo-*"))
        assert len(left) == 1 and all(path.exists() for path in gradio_files[left[0]])  # the other's files untouched
        shown = call(Client(f"http://127.0.0.1:{ports[1]}/", verbose=False), "/analyze", handle_file(str(EXAMPLE)), "Circles")
        assert "Predicted mean score" in shown["summary"]
        servers[1].send_signal(signal.SIGINT)
        servers[1].wait(timeout=120)
        assert list(temp.glob("workbench-demo-*")) == []
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()
