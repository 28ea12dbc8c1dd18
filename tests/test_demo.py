"""workbench.demo without Gradio: pages, the feature cache by content, tables, the benchmark's truth."""
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_predict import CANVAS, make_tiny_checkpoint, photo
from workbench.data.images import ImageError
from workbench.data.synth_attributes import sample_attributes
from workbench.data.synth_render import generate_image
from workbench.data.synth_truth import distribution_moments, expected_distribution
from workbench.demo import BenchmarkPhoto, DemoSession
from workbench.demo.drawing import DISPLAY_SIDE, PADDING_GREY, ROI_COLOUR, THUMBNAIL_SIDE, heat_overlay
from workbench.demo.tables import comparison_table, histogram_frame, movement_table
from workbench.predict import Predictor, summarize

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXAMPLE = EXAMPLES / "motion-blur.jpg"
VIEWS = ["full", "resize", "resized_pad", "crop"]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return Predictor.from_checkpoint(make_tiny_checkpoint(tmp_path_factory.mktemp("demo") / "tiny.pt"))


@pytest.fixture
def session(predictor, tmp_path):
    return DemoSession(predictor, max_photos=4, examples=EXAMPLES / "examples.csv", folder=tmp_path)


@pytest.fixture
def backbone_calls(predictor, monkeypatch):
    calls = []
    model = predictor.model
    original = type(model).features
    monkeypatch.setattr(model, "features", lambda images, sizes: calls.append(images.shape[0]) or original(model, images, sizes))
    return calls


def save(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def test_page_of_a_photo(session):
    page = session.analyze(EXAMPLE, "Motion Blur")
    assert set(page.distributions) == set(VIEWS) | {"no theme"}
    for dist in page.distributions.values():
        assert dist.shape == (10,) and dist.sum() == pytest.approx(1.0, abs=1e-6)
    # 609 x 406 fitted into 256 -> 256 x 170 top-left, the ROI outlined, padding grey below.
    assert "609 × 406" in page.info and "1.50 : 1" in page.info and "Downscaled" in page.info
    canvas = np.asarray(page.canvas)
    roi_bottom = round(170 * DISPLAY_SIDE / CANVAS) - 1
    assert canvas.shape == (DISPLAY_SIDE, DISPLAY_SIDE, 3)
    assert tuple(canvas[roi_bottom, DISPLAY_SIDE // 2]) == ROI_COLOUR and tuple(canvas[DISPLAY_SIDE // 3, DISPLAY_SIDE - 1]) == ROI_COLOUR
    assert tuple(canvas[roi_bottom + 20, 40]) == PADDING_GREY
    assert list(page.views) == VIEWS and page.views["resize"].size == (299, 299)
    assert all(max(view.thumbnail.shape[:2]) <= THUMBNAIL_SIDE for view in page.views.values())
    ranking = page.ranking
    assert len(ranking) == 10 and list(ranking["mean"]) == sorted(ranking["mean"], reverse=True)
    everything = [*page.distributions.values(), page.truth]
    assert max(dist.max() for dist in everything) <= page.histogram_top <= 1
    assert "looks like it" not in page.summary  # this model predicts without a theme by its learned vector


def test_benchmark_photo_shows_its_truth_beside_each_view(session):
    page = session.analyze(EXAMPLE, "Circles")
    assert page.state.benchmark == BenchmarkPhoto(10, 0)  # examples.csv: motion-blur.jpg is photo 10 of seed 0
    expected = expected_distribution(sample_attributes(10, 0), "Circles")
    np.testing.assert_allclose(page.truth, expected)
    table = page.table
    assert list(table["view"]) == ["truth", *VIEWS, "full"] and table.loc[0, "theme"] == "Circles"
    assert table.loc[0, "mean"] == pytest.approx(distribution_moments(expected)[0], abs=1e-3)
    assert (table["EMD against"].iloc[1:] == "truth").all() and (table["EMD(r=1)"].iloc[1:] > 0).all()
    assert f"{table.loc[0, 'mean']:.3f}" in page.summary and "Truth" in page.summary
    # No theme chosen: the truth is judged under the photo's own theme (the benchmark's labels).
    assert session.analyze(EXAMPLE, None).truth_theme == "Motion Blur"
    # The same photo under another file name is still recognised (by content); any other photo has no truth.
    renamed = shutil.copy(EXAMPLE, session.folder / "renamed.jpg")
    assert session.analyze(renamed).truth is not None
    other = session.analyze(save(photo(120, 90), session.folder / "mine.png"))
    assert other.truth is None and other.state.benchmark is None and "truth" not in set(other.table["view"])


def test_examples_are_what_the_benchmark_draws(session):
    """The truth shown for an example is only honest if the file is that benchmark photo."""
    for path, row in zip(sorted(EXAMPLES.glob("*.jpg")), range(6)):
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        known = session.benchmark.lookup(key)
        assert known is not None, path.name
        image, _ = generate_image(known.index, known.seed)
        difference = np.abs(np.asarray(Image.open(path), np.int16) - np.asarray(image, np.int16))
        assert difference.mean() < 2, f"{path.name} is not benchmark photo {known.index}: run examples/make_examples.py"


def test_redrawn_photo_shows_how_truth_and_views_move(session):
    base = BenchmarkPhoto(8, 0)  # a Film Grain photo
    redrawn = base.with_attribute("grain", 1.0)
    page = session.analyze(session.draw_benchmark_photo(redrawn), "Film Grain")
    assert page.state.benchmark == redrawn and "grain = 1" in page.info
    movement = page.movement.set_index("")
    before = distribution_moments(expected_distribution(sample_attributes(8, 0), "Film Grain"))[0]
    after = distribution_moments(expected_distribution(sample_attributes(8, 0, {"grain": 1.0}), "Film Grain"))[0]
    assert movement.loc["truth", "as drawn"] == pytest.approx(before, abs=1e-3)
    assert movement.loc["truth", "redrawn"] == pytest.approx(after, abs=1e-3) and abs(after - before) > 0.1
    as_drawn = session.analyze(session.draw_benchmark_photo(base), "Film Grain")
    for view in VIEWS:
        assert movement.loc[view, "as drawn"] == pytest.approx(summarize(as_drawn.distributions[view])["mean"], abs=1e-3)
        assert movement.loc[view, "redrawn"] == pytest.approx(summarize(page.distributions[view])["mean"], abs=1e-3)
        change = movement.loc[view, "change"]
        assert movement.loc[view, "share of the truth's change"] == pytest.approx(change / (after - before), abs=0.01)
    assert as_drawn.movement is None  # the scene as drawn has nothing to compare with
    # The aspect slider keeps the long side; a redraw of the same scene gives the same file (and cache entry).
    wide = base.with_attribute("aspect", 2.0).draw()[0]
    assert wide.size == (640, 320)
    assert session.draw_benchmark_photo(redrawn) == session.draw_benchmark_photo(redrawn)


def test_redraws_change_one_attribute_of_the_scene_as_drawn(session):
    """A second redraw does not pile onto the first: the lab always compares one changed attribute with the scene as drawn."""
    first = BenchmarkPhoto(8, 0).with_attribute("grain", 1.0)
    second = first.with_attribute("haze", 0.8)
    assert second.overrides == (("haze", 0.8),) and second.base == BenchmarkPhoto(8, 0)
    page = session.analyze(session.draw_benchmark_photo(second), "Film Grain")
    truth_before = distribution_moments(expected_distribution(sample_attributes(8, 0), "Film Grain"))[0]
    assert page.movement.set_index("").loc["truth", "as drawn"] == pytest.approx(truth_before, abs=1e-3)
    assert "haze = 0.8" in page.info and "grain" not in page.info


def test_theme_ids_flow_through_and_no_theme_truth_is_labelled(session):
    page = session.analyze(EXAMPLE, "motion blur")  # any case: turned into an id once
    assert page.state.theme_id == session.predictor.theme_names.index("Motion Blur") and page.theme == "Motion Blur"
    switched = session.switch_theme(page.state, None)
    assert switched.state.theme_id == -1 and switched.truth_theme == "Motion Blur"  # the benchmark has no theme-free truth
    assert "the photo's own theme; the prediction above was given no theme" in switched.summary
    real = session.analyze(save(photo(90, 60), Path(session.folder) / "mine.png"), None)
    assert real.truth is None and "No truth for this photo" in real.summary


def test_drawn_photos_on_disk_are_bounded(predictor, tmp_path):
    session = DemoSession(predictor, max_photos=2, folder=tmp_path, max_drawn=3)
    drawn = [session.draw_benchmark_photo(BenchmarkPhoto(i)) for i in range(5)]
    left = sorted(tmp_path.glob("benchmark-*.jpg"))
    assert len(left) == 3 and drawn[-1] in left and drawn[0] not in left
    again = session.draw_benchmark_photo(BenchmarkPhoto(0))  # redrawn on demand, the same file
    assert again == drawn[0] and again.is_file() and len(list(tmp_path.glob("benchmark-*.jpg"))) == 3


def test_benchmark_photo_rejects_bad_input():
    with pytest.raises(ValueError, match="index"):
        BenchmarkPhoto(-1)
    with pytest.raises(ValueError, match="grain must be in"):
        BenchmarkPhoto(3).with_attribute("grain", 2.0)
    with pytest.raises(ValueError, match="unknown attribute"):
        BenchmarkPhoto(3).with_attribute("theme", 0.5)


def test_same_content_is_served_from_the_cache(session, backbone_calls, tmp_path):
    page = session.analyze(EXAMPLE, None)
    assert backbone_calls == [4]  # four views, one padded batch
    switched = session.switch_theme(page.state, "Circles")
    assert backbone_calls == [4] and switched.canvas is None and switched.views is None  # only the head ran
    again = session.analyze(shutil.copy(EXAMPLE, tmp_path / "again.jpg"), "Circles")  # a re-upload: hash only
    assert backbone_calls == [4] and session.cache.hits >= 2
    np.testing.assert_allclose(again.distributions["full"], switched.distributions["full"])
    session.cache.clear()
    session.analyze(EXAMPLE, "Circles")
    assert backbone_calls == [4, 4]


def test_cache_is_bounded_lru(session, backbone_calls, tmp_path):
    pages = [session.analyze(save(photo(120, 90, seed=i), tmp_path / f"{i}.png")) for i in range(5)]
    assert len(session.cache) == 4 and len(backbone_calls) == 5
    session.switch_theme(pages[4].state, "Panorama")
    assert len(backbone_calls) == 5
    assert session.switch_theme(pages[0].state, "Panorama").theme == "Panorama"  # evicted: reloaded
    assert len(backbone_calls) == 6
    Path(pages[1].state.path).unlink()
    with pytest.raises(ImageError, match="no longer available"):
        session.switch_theme(pages[1].state, "Panorama")


def test_bad_files_and_themes_raise_clear_errors(session, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    with pytest.raises(ImageError, match="not an image") as caught:
        session.analyze(text, "Circles", name="notes.jpg")
    assert str(tmp_path) not in str(caught.value)
    with pytest.raises(ValueError, match="did you mean 'Motion Blur'"):
        session.analyze(EXAMPLE, "Motion Blr")
    with pytest.raises(ValueError, match="upload a photo"):
        session.analyze(None)


def test_comparison_table_without_a_theme_has_no_self_comparison():
    rng = np.random.default_rng(0)
    views = {view: rng.dirichlet(np.ones(10)) for view in VIEWS}
    no_theme = views["full"]
    table = comparison_table(views, no_theme, "no theme")
    assert list(table["view"]) == VIEWS and list(table["EMD against"]) == ["—", "full", "full", "full"]
    themed = comparison_table(views, rng.dirichlet(np.ones(10)), "Circles")
    assert list(themed["view"]) == [*VIEWS, "full"] and themed["EMD against"].iloc[-1] == "full, Circles"


def test_movement_table_and_histogram_frame():
    table = movement_table({"truth": 5.0, "full": 5.0, "resize": 5.0}, {"truth": 6.0, "full": 5.8, "resize": 5.0}).set_index("")
    assert table.loc["full", "share of the truth's change"] == pytest.approx(0.8)
    assert table.loc["resize", "share of the truth's change"] == 0 and np.isnan(table.loc["truth", "share of the truth's change"])
    with pytest.raises(ValueError):
        movement_table({"full": 1.0}, {"full": 2.0})
    barely = movement_table({"truth": 5.0, "full": 5.0}, {"truth": 5.02, "full": 5.05}).set_index("")
    assert np.isnan(barely.loc["full", "share of the truth's change"])  # 2.5x a change of 0.02 is noise, not a share
    frame = histogram_frame(np.full(10, 0.1), "truth")
    assert list(frame["score"]) == [str(s) for s in range(1, 11)] and set(frame["series"]) == {"truth"}


def test_heat_overlay_colours_only_where_the_heat_is():
    image = np.full((40, 60, 3), 128, np.uint8)
    heat = np.zeros((40, 60), np.float32)
    heat[:, :20] = 1.0
    heat[:, 40:] = -1.0
    drawn = np.asarray(heat_overlay(image, heat)).astype(int)
    assert (drawn[:, 25:35] == 128).all()  # no heat: the photo unchanged
    assert drawn[20, 5, 0] > drawn[20, 5, 2] and drawn[20, 55, 2] > drawn[20, 55, 0]  # red raises, blue lowers


def test_list_checkpoints_and_public_card(predictor, tmp_path):
    from workbench.checkpoints import CheckpointError
    from workbench.demo.models import list_checkpoints, model_banner, public_card

    single = make_tiny_checkpoint(tmp_path / "one.pt")
    assert list_checkpoints(single) == {"one.pt": single}
    (tmp_path / "two.pth").write_bytes(single.read_bytes())
    (tmp_path / "readme.md").write_text("x")
    assert list(list_checkpoints(tmp_path)) == ["one.pt", "two.pth"]
    with pytest.raises(CheckpointError, match="holds no"):
        list_checkpoints(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
    with pytest.raises(CheckpointError, match="not found"):
        list_checkpoints(tmp_path / "missing.pt")
    card = public_card(predictor)
    assert card["checkpoint"] == "tiny.pt" and "/" not in str(card["checkpoint"])
    predictor.card["recipe"]["data_root"] = "/datasets/ava"  # an AVA model's recipe names the server's folder
    try:
        assert public_card(predictor)["recipe"]["data_root"] == "…/ava" and "/datasets" not in str(public_card(predictor))
    finally:
        del predictor.card["recipe"]["data_root"]
    assert "synthetic data, not AVA" in model_banner(predictor)


def test_many_photos_scored_bad_files_listed(session, tmp_path, backbone_calls):
    import zipfile

    from workbench.demo.batch import expand_uploads, score_many

    good = [save(photo(120 + 10 * i, 90, seed=i), tmp_path / f"p{i}.png") for i in range(3)]
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(good[0], "inner/a.png")
        handle.write(EXAMPLE, "b.jpg")
        handle.writestr("readme.txt", "hello")
        handle.writestr("../evil.png", b"x")
    broken_zip = tmp_path / "broken.zip"
    broken_zip.write_bytes(b"PK not really")
    out = tmp_path / "out"
    out.mkdir()
    photos, failed = expand_uploads([*good, bad, archive, broken_zip], out)
    assert [name for name, _ in photos] == ["p0.png", "p1.png", "p2.png", "notes.jpg", "set.zip/inner/a.png", "set.zip/b.jpg", "set.zip/../evil.png"]
    assert all(Path(path).parent == out for _, path in photos[4:])  # nothing escapes the folder
    assert {name for name, _ in failed} == {"set.zip/readme.txt", "broken.zip"}
    seen = []
    result = score_many(session, photos, "Circles", progress=lambda done, total, name: seen.append((done, total)))
    assert seen == [(7, 7)]  # one pass: seven files, two of which cannot be used
    table = result.table
    assert list(table["photo"]) == ["p0.png", "p1.png", "p2.png", "set.zip/inner/a.png", "set.zip/b.jpg"]
    assert list(table.columns[:7]) == ["photo", "width", "height", "mean (Circles)", "std (Circles)", "mean (no theme)", "std (no theme)"]
    assert table.loc[4, "width"] == 609 and not np.isnan(table.loc[4, "truth mean"]) and np.isnan(table.loc[0, "truth mean"])
    assert list(result.failed["photo"]) == ["notes.jpg", "set.zip/../evil.png"] and "not an image" in result.failed.loc[0, "error"]
    assert str(tmp_path) not in result.failed.to_string()
    assert len(result.thumbnails) == 5 and backbone_calls == [5]  # the full view only, the five photos in one batch
    # The same photos as on the page: the mean under the theme equals the page's full view.
    page = session.analyze(good[1], "Circles")
    assert table.loc[1, "mean (Circles)"] == pytest.approx(summarize(page.distributions["full"])["mean"], abs=1e-3)
    plain = score_many(session, photos[:2], None)
    assert list(plain.table.columns) == ["photo", "width", "height", "mean (no theme)", "std (no theme)"]
    with pytest.raises(ValueError, match="unknown theme"):
        score_many(session, photos, "Nope")


def _patch_central(data: bytes, name: str, offset: int, value: bytes) -> bytes:
    """``data`` (a zip) with ``value`` written at ``offset`` of member ``name``'s central directory entry."""
    at = 0
    while (at := data.find(b"PK\x01\x02", at + 1)) != -1:
        length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + length] == name.encode():
            return data[: at + offset] + value + data[at + offset + len(value) :]
    raise AssertionError(f"{name} not in the zip")


def test_zip_members_that_cannot_be_read_are_listed_and_the_rest_kept(tmp_path):
    """Encrypted, corrupt and unsupported members each get their own line; the good ones are extracted."""
    import zipfile

    from workbench.demo.batch import expand_uploads

    good = save(photo(60, 40), tmp_path / "good.png").read_bytes()
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for name in ("good.png", "locked.png", "corrupt.png", "odd.png"):
            handle.writestr(name, good)
    data = archive.read_bytes()
    data = _patch_central(data, "locked.png", 8, b"\x01\x00")  # general purpose flag bit 0: encrypted
    data = _patch_central(data, "odd.png", 10, (97).to_bytes(2, "little"))  # compression method 97: not supported
    with zipfile.ZipFile(archive) as handle:
        start = handle.getinfo("corrupt.png").header_offset + 30 + len("corrupt.png")
    data = data[: start + 5] + bytes(b ^ 0xFF for b in data[start + 5 : start + 40]) + data[start + 40 :]  # damaged deflate data
    archive.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    photos, failed = expand_uploads([archive], out)
    assert [name for name, _ in photos] == ["mixed.zip/good.png"] and photos[0][1].read_bytes() == good
    errors = dict(failed)
    assert set(errors) == {"mixed.zip/locked.png", "mixed.zip/corrupt.png", "mixed.zip/odd.png"}
    assert "encrypted" in errors["mixed.zip/locked.png"] and "cannot be extracted" in errors["mixed.zip/corrupt.png"]
    assert "compression method" in errors["mixed.zip/odd.png"] and sorted(out.iterdir()) == [photos[0][1]]  # no partial files left


def test_zip_expansion_is_streamed_and_capped(tmp_path, monkeypatch):
    """A member is copied chunk by chunk (memory holds one chunk, not the member); members over the
    per-member cap, members past the batch's total and photos past MAX_PHOTOS are listed, not written."""
    import tracemalloc
    import zipfile

    from workbench.demo import batch

    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zeros.png", bytes(32 * 2**20))  # 32 MB of zeros: a 32 kB zip
    out = tmp_path / "out"
    out.mkdir()
    tracemalloc.start()
    photos, failed = batch.expand_uploads([big], out)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert failed == [] and photos[0][1].stat().st_size == 32 * 2**20
    assert peak < 4 * batch.CHUNK_BYTES  # read whole, the member alone would be 32 MB

    monkeypatch.setattr(batch, "MAX_MEMBER_BYTES", 2 * 2**20)
    monkeypatch.setattr(batch, "MAX_ZIP_BYTES", 3 * 2**20)
    monkeypatch.setattr(batch, "MAX_PHOTOS", 4)
    monkeypatch.setattr(batch, "MAX_LISTED", 3)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("huge.png", bytes(5 * 2**20))  # over the member cap
        for i in range(3):
            handle.writestr(f"part{i}.png", bytes(2**20 + 1))  # the third passes the 3 MB total
        for i in range(5):
            handle.writestr(f"small{i}.png", b"x")  # photos past MAX_PHOTOS = 4
        for i in range(20):
            handle.writestr(f"note{i}.txt", b"x")
    out = tmp_path / "out2"
    out.mkdir()
    photos, failed = batch.expand_uploads([bomb], out)
    assert [name for name, _ in photos] == ["bomb.zip/part0.png", "bomb.zip/part1.png", "bomb.zip/small0.png", "bomb.zip/small1.png"]
    assert len(list(out.iterdir())) == 4 and sum(path.stat().st_size for path in out.iterdir()) <= 3 * 2**20
    errors = dict(failed)
    assert "more than 2 MB" in errors["bomb.zip/huge.png"] and "exceed" in errors["bomb.zip/part2.png"]
    assert "more than 4 photos" in errors["bomb.zip/small2.png"]
    assert len(failed) == 4 and errors["bomb.zip"] == "… and 22 more members skipped"  # 3 listed, the rest counted


def test_batch_csvs_do_not_pile_up(tmp_path):
    """Each batch writes a new CSV; only the newest ``keep`` stay, the file just written always among them."""
    import pandas as pd

    from workbench.demo.batch import save_scores_csv

    (tmp_path / "canvas.webp").write_bytes(b"not a csv")  # the page's other files are left alone
    written = [save_scores_csv(pd.DataFrame({"photo": [f"p{i}.png"], "mean (no theme)": [5.0 + i]}), tmp_path, keep=3)
               for i in range(7)]  # fmt: skip
    left = sorted(tmp_path.glob("scores-*.csv"))
    assert len(left) == 3 and written[-1] in left and (tmp_path / "canvas.webp").exists()
    assert pd.read_csv(written[-1])["photo"].tolist() == ["p6.png"]
    with pytest.raises(ValueError, match="keep"):
        save_scores_csv(pd.DataFrame(), tmp_path, keep=0)


def test_registry_keeps_the_examples_and_the_latest_drawn(monkeypatch):
    from workbench.demo import benchmark

    monkeypatch.setattr(benchmark, "MAX_REGISTERED", 2)
    registry = benchmark.BenchmarkRegistry()
    registry.register("example", BenchmarkPhoto(10), pinned=True)
    for index in range(3):
        registry.register(f"drawn{index}", BenchmarkPhoto(index))
    assert registry.lookup("example") == BenchmarkPhoto(10) and registry.lookup("drawn0") is None
    assert registry.lookup("drawn2") == BenchmarkPhoto(2) and registry.lookup("unknown") is None


def test_tables_show_every_number_of_a_column_to_the_same_places_and_keep_the_numbers():
    """Gradio shows 1.28 and 1.6 beside 1.265 unless told otherwise: the page's tables go out as Stylers whose text
    has each column's places (EMD to 4), a missing share blank; the data the API returns stays the numbers."""
    import gradio as gr
    import pandas as pd

    from workbench.demo.tables import fixed_decimals, rank_themes

    frame = pd.DataFrame({"view": ["full", "crop"], "mean": [1.28, 5.0], "EMD(r=1)": [0.0088, 0.0], "share": [np.nan, 0.5], "rank": [1, 2]})
    shown = gr.Dataframe(interactive=False).postprocess(fixed_decimals(frame))
    assert shown.metadata["display_value"] == [["full", "1.280", "0.0088", "", "1"], ["crop", "5.000", "0.0000", "0.500", "2"]]
    assert shown.data[0][1:3] == [1.28, 0.0088] and shown.data[1][3] == 0.5
    ranking = rank_themes(np.random.default_rng(0).dirichlet(np.ones(10), size=12), [f"theme {t}" for t in range(12)])
    texts = gr.Dataframe(interactive=False).postprocess(fixed_decimals(ranking)).metadata["display_value"]
    assert all(len(row[2].split(".")[1]) == 3 and len(row[3].split(".")[1]) == 3 for row in texts)
