"""The demo in a real browser: Playwright drives Debian's Chromium against the app on loopback.

Upload, analyse, switch the theme (one request per change), clear, a bad file (the error stays in
place, no component left in an error state), a benchmark photo with its truth and a redraw, the heat
map, and the page at 400 px; no console errors throughout. Screenshots go to artifacts/browser/.
"""
import re
from pathlib import Path

import pytest

from test_app import EXAMPLE, ROOT, import_app, serving
from test_predict import make_tiny_checkpoint
from workbench.demo.benchmark import BenchmarkPhoto

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MEAN = re.compile(r"Predicted mean score: ([0-9.]+) \(std [0-9.]+\) under theme (.+)")
TIMEOUT_MS = 120_000  # the 2-core CI machine is shared; an analysis takes ~1-3 s there
# Each header cell of a table: its text, the words the browser laid out over more than one line (split
# mid-word), and whether its text overflows the cell (cut). A word's rectangles, one per line it spans.
HEADER_LAYOUT_JS = """(table) => [...table.querySelectorAll('th span.header')].map(span => {
  const split = [];
  for (const node of [...span.childNodes].filter(child => child.nodeType === Node.TEXT_NODE)) {
    for (const match of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      if (new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1) split.push(match[0]);
    }
  }
  return {text: span.innerText, split, cut: span.scrollWidth > span.clientWidth};
})"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (make browser-deps)"),
]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    app = import_app(make_tiny_checkpoint(tmp_path_factory.mktemp("browser") / "tiny.pt"))
    with serving(app.demo, **app.LAUNCH_OPTIONS) as address:
        yield address


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
    page.wait_for_timeout(1000)  # a second request, if any, would have gone out by now
    assert sum('"Circles"' in body for body in tab.requests[sent:]) == 1  # one request per theme change
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


def test_benchmark_photo_truth_redraw_and_heat_map(tab):
    from playwright.sync_api import expect

    page = tab.page
    page.locator("#photo-index input").fill("8")
    page.locator("#make-photo-button").click()
    expect(page.locator("#photo-info")).to_contain_text("benchmark photo 8 (seed 0)")
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
        for table in ("movement", "table", "ranking"):  # headers wrap between words, never inside one ("redraw-n"), nor are cut
            headers = page.locator(f"#{table} table.header-table").evaluate(HEADER_LAYOUT_JS)
            assert len(headers) >= 4 and all(not header["split"] and not header["cut"] for header in headers), (table, headers)
        assert "share of the truth's change" in [header["text"] for header in page.locator("#movement table.header-table").evaluate(HEADER_LAYOUT_JS)]
        screenshot(page, "app_400.png")
        assert narrow.errors == []
    finally:
        page.close()


def test_model_choice_hides_theme_controls_for_a_model_without_themes(browser, tmp_path):
    """Last in this file: it serves another app (a folder of checkpoints)."""
    from playwright.sync_api import expect

    folder = tmp_path / "models"
    folder.mkdir()
    make_tiny_checkpoint(folder / "a-themed.pt")
    make_tiny_checkpoint(folder / "b-plain.pt", synthetic=False, themes=[])
    app = import_app(folder)
    with serving(app.demo, **app.LAUNCH_OPTIONS) as address:
        tab = Tab(browser, address)
        page = tab.page
        tab.upload(EXAMPLE)
        expect(page.locator("#summary")).to_contain_text("Predicted mean score")
        expect(page.locator("#theme")).to_be_visible()
        dropdown = page.locator("#model input")
        dropdown.click()
        page.get_by_role("option", name="b-plain.pt", exact=True).click()
        expect(page.locator("#model-banner")).to_contain_text("trained without themes")
        expect(page.locator("#theme")).to_be_hidden()
        expect(page.locator("#ranking")).to_be_hidden()
        expect(page.locator("#histogram-no-theme")).to_be_hidden()
        expect(page.locator("#table")).not_to_contain_text("Circles")
        page.get_by_text("About this model (checkpoint card)").click()
        expect(page.locator("#card")).to_contain_text("b-plain.pt")
        assert str(tmp_path) not in page.locator("#card").inner_text()
        assert tab.errors == []
        page.close()
