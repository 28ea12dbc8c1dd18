"""The demo in a real browser: Playwright drives Debian's Chromium against the app on loopback.

Upload, analyse, switch the theme (one request per change), clear, a bad file (the error stays in
place, no component left in an error state), a benchmark photo with its truth and a redraw, the heat
map, and the page at 400 px; no console errors throughout. Screenshots go to artifacts/browser/.
"""
import re
from pathlib import Path

import pytest

from test_app import EXAMPLE, LAUNCH_OPTIONS, ROOT, build_app, serving
from test_predict import make_tiny_checkpoint
from workbench.demo.benchmark import BenchmarkPhoto

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MEAN = re.compile(r"Predicted mean score: ([0-9.]+) \(std [0-9.]+\) under theme (.+)")
TIMEOUT_MS = 120_000  # the 2-core CI machine is shared; an analysis takes ~1-3 s there
# Each cell of a table (the span with its text, picked by a selector): its text, the words the browser laid
# out over more than one line (split mid-word: "redraw-n", "5.09 / 9"), whether its text overflows the cell
# (cut), and the right edge of the cell. A word's rectangles, one per line it spans.
CELL_LAYOUT_JS = """(root, selector) => [...root.querySelectorAll(selector)].map(span => {
  const split = [];
  for (const node of [...span.childNodes].filter(child => child.nodeType === Node.TEXT_NODE)) {
    for (const match of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      if (new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1) split.push(match[0]);
    }
  }
  const cell = span.closest('th, [role=gridcell]');
  return {text: span.innerText, split, cut: span.scrollWidth > span.clientWidth, right: cell.getBoundingClientRect().right};
})"""
HEADERS = "th span.header"
CELLS = "th span.header, [role=gridcell] span"  # the header row and every row shown (not Gradio's hidden sizing row)
# A Gradio table's frame: the right edge of its grid and how far any box inside it scrolls sideways (a column
# pushed out of the frame hides behind a scroll bar of its own, while the page itself does not scroll).
TABLE_FRAME_JS = """(root) => {
  const grid = root.querySelector('[role=grid]');
  const shown = [grid, ...grid.querySelectorAll('*')].filter(box => !box.closest('[aria-hidden=true]'));
  const scrolling = shown.filter(box => /auto|scroll/.test(getComputedStyle(box).overflowX));
  return {right: grid.getBoundingClientRect().right, sideways: Math.max(0, ...scrolling.map(box => box.scrollWidth - box.clientWidth))};
}"""
# True once the tables' cells have kept their places for 20 animation frames (Gradio sizes the columns after
# the rows arrive): a wait counted in frames drawn, not in seconds.
TABLES_SETTLED_JS = """(selector) => {
  const now = JSON.stringify([...document.querySelectorAll(selector)].map(cell => Math.round(cell.getBoundingClientRect().right)));
  const seen = window.__tableLayout || {now: '', frames: 0};
  window.__tableLayout = {now, frames: seen.now === now ? seen.frames + 1 : 0};
  return window.__tableLayout.frames >= 20;
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (make browser-deps)"),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    app = build_app(make_tiny_checkpoint(tmp_path_factory.mktemp("browser") / "tiny.pt"))
    with serving(app.demo, **LAUNCH_OPTIONS) as address:
        yield address
    app.store.remove()


@pytest.fixture(scope="module")
def browser(url):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # expect() has its own 5 s default; set_default_timeout misses it
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """A fresh page with its console errors and its event requests recorded."""

    def __init__(self, browser, url: str, width: int = 1400):
        self.page = browser.new_page(viewport={"width": width, "height": 1000})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.post_data or "") if "queue/join" in request.url else None)
        self.page.goto(url)

    def upload(self, path: Path) -> None:
        self.page.locator("#photo input[type=file]").set_input_files(str(path))

    def clear(self) -> None:
        self.page.locator("#photo button[aria-label=Clear]").click()


@pytest.fixture
def tab(browser, url):
    opened = Tab(browser, url)
    yield opened
    opened.page.close()


def summary_mean(page) -> tuple[float, str]:
    text = page.locator("#summary").inner_text()
    match = MEAN.search(text)
    assert match, f"no predicted mean in the summary: {text!r}"
    return float(match.group(1)), match.group(2).strip()


# Each bar's (score, probability) from its aria-label (vega-lite describes every mark it draws).
BARS_JS = """(plot) => [...plot.querySelectorAll('.mark-rect path')].map(bar => {
  const label = bar.getAttribute('aria-label') || '';
  const score = /score: ([0-9]+)/.exec(label), p = /probability: ([0-9.e-]+)/.exec(label);
  return score && p ? [Number(score[1]), Number(p[1]), bar.getBoundingClientRect().height] : null;
}).filter(Boolean)"""


def chart_mean(page, elem_id: str) -> float:
    """The mean score a bar chart shows (what the user reads off it)."""
    bars = page.locator(f"#{elem_id}").evaluate(BARS_JS)
    assert len(bars) >= 10, (elem_id, bars)
    total = sum(p for _, p, _ in bars)
    return sum(score * p for score, p, _ in bars) / total


def drawn_bars(page, elem_id: str) -> bool:
    """Whether the chart shows bars with height (not only axes, not only zero bars)."""
    return any(height > 1 for _, _, height in page.locator(f"#{elem_id}").evaluate(BARS_JS))


CHARTS = ["histogram-theme", "histogram-truth", "histogram-no-theme", "histogram-full", "histogram-resize", "histogram-resized_pad", "histogram-crop"]


def pick(page, dropdown: str, option: str) -> None:
    page.locator(f"#{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the plots finish drawing
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_upload_analyze_switch_theme_clear(tab):
    from playwright.sync_api import expect

    page = tab.page
    expect(page.locator("#model-banner")).to_contain_text("trained on synthetic data, not AVA")
    expect(page.locator("#table")).to_contain_text("EMD against")  # empty tables show their headers, not "1 | 2 | 3"
    intro = page.locator("h1 + p, .prose p").first.inner_text()
    assert "downscaled to fit" in intro and "never resized" not in intro  # what happens to photos over the canvas
    tab.upload(EXAMPLE)
    expect(page.locator("#summary")).to_contain_text("Predicted mean score")
    expect(page.locator("#photo-info")).to_contain_text("609 × 406")
    expect(page.locator("#summary")).to_contain_text("Truth")  # an example: a benchmark photo
    before, theme = summary_mean(page)
    assert theme == "no theme" and 1 <= before <= 10
    expect(page.locator("#view-crop")).to_contain_text("crop: ")  # each view's label gives its size
    images = {name: page.locator(f"#{name} img").get_attribute("src") for name in ("canvas", "view-full", "view-crop")}
    assert all(images.values())

    sent = len(tab.requests)
    dropdown = page.locator("#theme input")
    dropdown.click()
    dropdown.fill("circ")  # searchable: typing filters the choices
    page.get_by_role("option", name="Circles", exact=True).click()
    expect(page.locator("#summary")).to_contain_text("under theme Circles")
    after, theme = summary_mean(page)
    assert theme == "Circles" and after != before
    expect(page.locator("#table")).to_contain_text("Circles")
    page.wait_for_timeout(1500)  # a second request (a heat-map follow-up), if any, would have gone out by now
    assert len(tab.requests[sent:]) == 1 and '"Circles"' in tab.requests[sent]  # one request per theme change, nothing else
    assert {name: page.locator(f"#{name} img").get_attribute("src") for name in images} == images  # images stay
    for plot in ("histogram-theme", "histogram-truth", "histogram-no-theme", "histogram-crop"):
        expect(page.locator(f"#{plot} .vega-embed")).to_be_visible()
        expect(page.locator(f"#{plot} .mark-rect path").first).to_be_attached()  # bars, not just axes
    screenshot(page, "app.png")

    tab.clear()
    expect(page.locator("#photo-info")).to_contain_text("Upload a photo")
    expect(page.locator("#summary")).to_have_text("")
    expect(page.locator("#view-full")).not_to_contain_text("256×")  # the old size label is gone
    expect(page.locator("#table")).to_contain_text("EMD against")
    expect(page.locator("#table")).not_to_contain_text("resized_pad")
    page.wait_for_timeout(1000)
    assert tab.errors == []  # no console errors on load, analyse, switch or clear


def test_bad_upload_error_stays_readable_and_no_component_errs(tab, tmp_path):
    from playwright.sync_api import expect

    page = tab.page
    tab.upload(EXAMPLE)
    expect(page.locator("#summary")).to_contain_text("Predicted mean score")
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    tab.clear()
    tab.upload(bad)
    expect(page.locator("#photo-info")).to_contain_text("not an image file")
    page.wait_for_timeout(13_000)  # a toast would have faded after ~12 s; the message stays until the next action
    expect(page.locator("#photo-info")).to_contain_text("Cannot use this file")
    expect(page.locator("#photo-info")).to_contain_text("notes.jpg")
    assert page.locator(".error").count() == 0  # no component left showing an error badge
    expect(page.locator("#summary")).to_have_text("")
    screenshot(page, "bad_upload.png")
    tab.clear()
    tab.upload(EXAMPLE)  # still serving
    expect(page.locator("#summary")).to_contain_text("Predicted mean score")
    expect(page.locator("#photo-info")).not_to_contain_text("Cannot use")


def test_after_a_bad_file_and_a_theme_pick_nothing_stays_in_error_and_every_chart_draws(tab, tmp_path):
    """A text file named .jpg, then a theme: once ten components turned into red "Error" pills that stayed,
    and after Clear and a good photo the seven charts stayed empty."""
    from playwright.sync_api import expect

    page = tab.page
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    tab.upload(bad)
    expect(page.locator("#photo-info")).to_contain_text("not an image file")
    pick(page, "theme", "Circles")
    page.wait_for_timeout(1500)
    expect(page.locator("#photo-info")).to_contain_text("Cannot use this file")
    assert page.locator(".error").count() == 0  # no component left showing an error badge
    tab.clear()
    tab.upload(EXAMPLE)
    expect(page.locator("#summary")).to_contain_text("under theme Circles")
    for chart in CHARTS:
        expect(page.locator(f"#{chart} .mark-rect path").first).to_be_attached()
        assert drawn_bars(page, chart), chart
    assert chart_mean(page, "histogram-theme") == pytest.approx(summary_mean(page)[0], abs=0.01)
    assert page.locator(".error").count() == 0 and tab.errors == []


def test_lab_on_a_real_photo_says_why_and_a_bad_index_stays_in_place(tab, tmp_path):
    from playwright.sync_api import expect

    from test_predict import photo

    page = tab.page
    real = tmp_path / "mine.png"
    photo(300, 200).save(real)
    tab.upload(real)
    expect(page.locator("#summary")).to_contain_text("No truth for this photo")  # the empty Truth chart, explained
    expect(page.locator("#lab-note")).to_contain_text("benchmark")
    expect(page.locator("#attribute-value input[type=range]")).to_be_disabled()  # no redraw of a photo the benchmark did not draw
    page.locator("#photo-index input").fill("-1")
    page.locator("#make-photo-button").click()
    expect(page.locator("#photo-info")).to_contain_text("Cannot draw this photo")
    page.wait_for_timeout(500)
    assert page.locator(".error").count() == 0 and tab.errors == []


def test_benchmark_photo_truth_redraw_and_heat_map(tab):
    from playwright.sync_api import expect

    page = tab.page
    page.locator("#photo-index input").fill("8")
    page.locator("#make-photo-button").click()
    expect(page.locator("#photo-info")).to_contain_text("benchmark photo 8 (seed 0)")
    expect(page.locator("#summary")).to_contain_text("under theme Film Grain")  # its own theme: the one its truth is judged under
    expect(page.locator("#summary")).to_contain_text("Truth")
    expect(page.locator("#table")).to_contain_text("truth")
    expect(page.locator("#histogram-truth .mark-rect path").first).to_be_attached()
    own = round(BenchmarkPhoto(8, 0).current_value("grain"), 2)  # 0: the page opens with the slider at 1
    slider = page.locator("#attribute-value input[type=range]")
    expect(slider).to_have_value(f"{own:g}")  # the slider shows the photo's own grain: a release changes only what is asked
    expect(page.locator("#attribute-value input[type=number]")).to_have_value(f"{own:g}")

    slider.fill("1")
    slider.dispatch_event("pointerup")  # what a release of the mouse sends
    expect(page.locator("#photo-info")).to_contain_text("redrawn with grain = 1")
    expect(page.locator("#movement")).to_contain_text("resized_pad")
    text = page.locator("#movement").inner_text()
    assert re.search(r"truth\s+[0-9.]+\s+[0-9.]+\s+-?[0-9.]+", text), text  # truth: as drawn, redrawn, change

    full = page.locator("#view-full img")
    plain = full.get_attribute("src")
    page.locator("#heat-view").get_by_label("full", exact=True).check()
    expect(full).not_to_have_attribute("src", plain)
    assert "heat" in full.get_attribute("src")
    expect(page.locator("#heat-scale")).to_contain_text("lowers the mean")  # the colour scale beside the maps
    heated, sent = full.get_attribute("src"), len(tab.requests)
    pick(page, "theme", "Circles")
    expect(page.locator("#summary")).to_contain_text("under theme Circles")
    expect(full).not_to_have_attribute("src", heated)  # the heat map under the new theme, in the same answer
    page.wait_for_timeout(1500)
    assert len(tab.requests[sent:]) == 1  # one request for the switch and its heat map
    screenshot(page, "benchmark.png")
    page.locator("#heat-view").get_by_label("off", exact=True).check()
    expect(full).not_to_have_attribute("src", re.compile("heat"))
    assert tab.errors == []


def test_many_photos_table_thumbnails_csv(tab, tmp_path):
    import zipfile

    from playwright.sync_api import expect

    page = tab.page
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(ROOT / "examples" / "circles.jpg", "circles.jpg")
        handle.write(ROOT / "examples" / "panorama.jpg", "panorama.jpg")
    page.get_by_role("tab", name="Many photos").click()
    page.locator("#batch-files input[type=file]").set_input_files([str(EXAMPLE), str(bad), str(archive)])
    expect(page.locator("#batch-files").get_by_role("button", name="Remove this file")).to_have_count(3)  # all uploaded
    page.locator("#batch-run").click()
    expect(page.locator("#batch-table")).to_contain_text("set.zip/panorama.jpg")
    expect(page.locator("#batch-table")).to_contain_text("motion-blur.jpg")
    expect(page.locator("#batch-failed")).to_contain_text("not an image")
    expect(page.locator("#batch-gallery img")).to_have_count(3)
    expect(page.locator("#batch-csv")).to_contain_text(".csv")
    screenshot(page, "many.png")
    assert tab.errors == []


def test_card_hides_server_paths(tab, url):
    from playwright.sync_api import expect

    page = tab.page
    page.get_by_text("About this model (checkpoint card)").click()
    expect(page.locator("#card")).to_contain_text("tiny.pt")
    assert "/tmp" not in page.locator("#card").inner_text()


def test_narrow_page_has_nothing_cut_or_overlapping(browser, url):
    from playwright.sync_api import expect

    narrow = Tab(browser, url, width=400)
    page = narrow.page
    try:
        narrow.upload(EXAMPLE)
        expect(page.locator("#summary")).to_contain_text("Predicted mean score")
        page.wait_for_timeout(1000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 400  # nothing pushes the page sideways
        boxes = {name: page.locator(f"#{name}").bounding_box() for name in ("histogram-theme", "histogram-truth", "histogram-no-theme")}
        tops = sorted(box["y"] for box in boxes.values())
        assert all(later - earlier >= 200 for earlier, later in zip(tops, tops[1:]))  # stacked, not squeezed side by side
        assert all(box["width"] >= 300 for box in boxes.values())
        s = page.locator("#attribute-value input[type=range]")
        s.fill("1")
        s.dispatch_event("pointerup")
        expect(page.locator("#movement")).to_contain_text("resized_pad")  # every table filled
        page.wait_for_timeout(500)
        rights = page.evaluate("() => [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right)")
        assert len(rights) >= 4 and max(rights) <= 400, rights  # every table (examples, views, ranking, redraw) whole in view
        page.wait_for_function(TABLES_SETTLED_JS, arg="#movement [role=gridcell], #table [role=gridcell], #ranking [role=gridcell]", polling="raf")
        for table in ("movement", "table", "ranking"):  # and inside its own frame: no column behind a table's scroll bar
            frame = page.locator(f"#{table}").evaluate(TABLE_FRAME_JS)
            beyond = [cell["text"] for cell in page.locator(f"#{table}").evaluate(CELL_LAYOUT_JS, CELLS) if cell["right"] > frame["right"] + 1]
            assert not beyond and frame["sideways"] <= 1, (table, frame, beyond)
        for table in ("movement", "table", "ranking"):  # headers wrap between words, never inside one ("redraw-n"), nor are cut
            headers = page.locator(f"#{table} table.header-table").evaluate(CELL_LAYOUT_JS, HEADERS)
            assert len(headers) >= 4 and all(not header["split"] and not header["cut"] for header in headers), (table, headers)
        assert "share of the truth's change" in [header["text"] for header in page.locator("#movement table.header-table").evaluate(CELL_LAYOUT_JS, HEADERS)]
        screenshot(page, "app_400.png")
        assert narrow.errors == []
    finally:
        page.close()


def test_narrow_batch_tab_shows_every_column_and_caption(browser, url, tmp_path):
    """At 400 px the score table once showed only photo / width / height, error texts and zip captions were
    cut (the score hidden) and the gallery's fourth column was clipped; the empty table showed "1 | 2 | 3"."""
    import zipfile

    from playwright.sync_api import expect

    narrow = Tab(browser, url, width=400)
    page = narrow.page
    try:
        page.get_by_role("tab", name="Many photos").click()
        expect(page.locator("#batch-table")).to_contain_text("no theme: mean ± std")  # empty, with its headers
        expect(page.locator("#batch-table")).not_to_contain_text("1 2 3")
        expect(page.get_by_text("at most 200 photos")).to_be_visible()  # the caps, stated
        archive = tmp_path / "a-long-name-for-a-set-of-holiday-photos.zip"
        with zipfile.ZipFile(archive, "w") as handle:
            for name in ("circles.jpg", "panorama.jpg", "golden-hour.jpg", "film-grain.jpg", "motion-blur.jpg"):
                handle.write(ROOT / "examples" / name, f"some/deep/folder/{name}")
            handle.writestr("some/deep/folder/notes-about-the-trip.txt", "not a photo")
        pick(page, "batch-theme", "Circles")
        page.locator("#batch-files input[type=file]").set_input_files([str(archive)])
        expect(page.locator("#batch-files")).to_contain_text("a-long-name")
        page.locator("#batch-run").click()
        expect(page.locator("#batch-gallery img")).to_have_count(5)
        screenshot(page, "many_400.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        for table in ("batch-table", "batch-failed"):
            right = page.locator(f"#{table} table").first.evaluate("t => t.getBoundingClientRect().right")
            assert right <= 400, (table, right)  # every column in view
            cut = page.locator(f"#{table} table td").evaluate_all("cells => cells.filter(c => c.scrollWidth > c.clientWidth + 1).length")
            assert cut == 0, table
        expect(page.locator("#batch-table")).to_contain_text("Circles: mean ± std")
        rights = page.locator("#batch-gallery img").evaluate_all("images => images.map(i => i.getBoundingClientRect().right)")
        assert max(rights) <= 400, rights
        captions = page.locator("#batch-gallery .caption-label, #batch-gallery figcaption").all_inner_texts()
        assert captions and all(re.match(r"[0-9]+\.[0-9]{2} · ", caption) for caption in captions), captions  # the score leads
        assert narrow.errors == []
    finally:
        page.close()


def test_shipped_model_at_400_px_shows_every_column_of_the_view_and_ranking_tables_whole(browser):
    """The shipped checkpoint (EfficientNet-Lite0, four views, sixteen themes) at 400 px. The view table's last
    column ("EMD against") once ended 13 px right of the table's frame, cut behind the table's own sideways
    scroll bar, while the page did not scroll sideways and every table stayed left of 400 px; the first
    mend split numbers over two lines ("5.09" above "9"). Every cell of the view and ranking tables ends
    inside its frame, no table scrolls sideways, and no word or number is split."""
    from playwright.sync_api import expect

    app = build_app(ROOT / "checkpoints" / "demo.pt")
    try:
        with serving(app.demo, **LAUNCH_OPTIONS) as address:
            narrow = Tab(browser, address, width=400)
            page = narrow.page
            narrow.upload(EXAMPLE)
            expect(page.locator("#summary")).to_contain_text("Predicted mean score")
            expect(page.locator("#table [role=gridcell]").filter(has_text="resized_pad")).to_have_count(1)  # every view's row
            expect(page.locator("#ranking [role=gridcell]").filter(has_text="lowest 1")).to_have_count(1)
            page.wait_for_function(TABLES_SETTLED_JS, arg="#table [role=gridcell], #ranking [role=gridcell]", polling="raf")
            assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
            for table in ("table", "ranking"):
                frame = page.locator(f"#{table}").evaluate(TABLE_FRAME_JS)
                cells = page.locator(f"#{table}").evaluate(CELL_LAYOUT_JS, CELLS)
                assert len(cells) >= 36, (table, cells)  # 6 x 6 (header, truth, four views), 4 x 11 (header, ten ranks)
                beyond = [(cell["text"], round(cell["right"])) for cell in cells if cell["right"] > frame["right"] + 1]
                assert not beyond, (table, round(frame["right"]), beyond)  # every column inside the table's frame
                assert frame["sideways"] <= 1, (table, frame)
                assert [(cell["text"], cell["split"]) for cell in cells if cell["split"] or cell["cut"]] == [], table
            screenshot(page, "demo_400.png")
            assert narrow.errors == []
            page.close()
    finally:
        app.store.remove()


def test_model_choice_redraws_every_chart_and_keeps_the_theme(browser, tmp_path):
    """Last in this file: it serves another app (a folder of checkpoints). Switching to a model without
    themes and back, twice, redraws every chart with the new model's bars (once they kept the old ones,
    cut at the new axis, and the console filled with TypeErrors), and the chosen theme stays."""
    from playwright.sync_api import expect

    folder = tmp_path / "models"
    folder.mkdir()
    make_tiny_checkpoint(folder / "a-themed.pt")
    make_tiny_checkpoint(folder / "b-plain.pt", synthetic=False, themes=[])
    make_tiny_checkpoint(folder / "c-themed.pt")
    app = build_app(folder)
    with serving(app.demo, **LAUNCH_OPTIONS) as address:
        tab = Tab(browser, address)
        page = tab.page
        tab.upload(EXAMPLE)
        expect(page.locator("#summary")).to_contain_text("Predicted mean score")
        pick(page, "theme", "Circles")
        expect(page.locator("#summary")).to_contain_text("under theme Circles")
        themed = summary_mean(page)[0]
        for _ in range(2):
            pick(page, "model", "b-plain.pt")
            expect(page.locator("#model-banner")).to_contain_text("trained without themes")
            expect(page.locator("#summary")).to_contain_text("under theme no theme")
            expect(page.locator("#theme")).to_be_hidden()
            expect(page.locator("#ranking")).to_be_hidden()
            expect(page.locator("#histogram-no-theme")).to_be_hidden()
            expect(page.locator("#table")).not_to_contain_text("Circles")
            page.wait_for_timeout(1000)
            plain = summary_mean(page)[0]
            assert plain != themed and chart_mean(page, "histogram-full") == pytest.approx(plain, abs=0.01)
            assert chart_mean(page, "histogram-theme") == pytest.approx(plain, abs=0.01)
            pick(page, "model", "a-themed.pt")
            expect(page.locator("#model-banner")).not_to_contain_text("trained without themes")
            expect(page.locator("#theme")).to_be_visible()
            expect(page.locator("#summary")).to_contain_text("Predicted mean score")
            page.wait_for_timeout(1000)
            mean, theme = summary_mean(page)
            assert chart_mean(page, "histogram-full") == pytest.approx(mean, abs=0.01)
            assert all(drawn_bars(page, chart) for chart in CHARTS)
        pick(page, "theme", "Circles")
        expect(page.locator("#summary")).to_contain_text("under theme Circles")
        pick(page, "model", "c-themed.pt")  # another model that knows the theme: it stays chosen
        expect(page.locator("#model-banner")).to_contain_text("c-themed.pt")
        expect(page.locator("#summary")).to_contain_text("under theme Circles")
        expect(page.locator("#theme input")).to_have_value("Circles")
        page.get_by_text("About this model (checkpoint card)").click()
        expect(page.locator("#card")).to_contain_text("c-themed.pt")
        assert str(tmp_path) not in page.locator("#card").inner_text()
        assert tab.errors == []  # no TypeError (offsetWidth) on any switch
        page.close()
    app.store.remove()
