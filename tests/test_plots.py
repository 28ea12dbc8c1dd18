"""Every figure builds with the expected panels and bars, writes a PNG, and the theme browser redraws."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from PIL import Image  # noqa: E402

from workbench.analysis import discretised_gaussian, theme_statistics  # noqa: E402
from workbench.plots import (  # noqa: E402
    photo_grid,
    plot_aspect_ratios,
    plot_failure_cases,
    plot_histograms,
    plot_history,
)
from workbench.theme_plots import plot_theme_distributions, plot_theme_means, plot_with_without_theme, theme_browser  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gaussians(means, std=1.4, num_bins=10):
    return np.stack([discretised_gaussian(m, std, num_bins) for m in means])


def _bars(ax):
    return [patch for container in ax.containers if isinstance(container, BarContainer) for patch in container]


def _assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def _label_table(theme_means=(4.0, 5.0, 6.0, 6.5), photos=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for theme, mean in enumerate(theme_means):
        for _ in range(photos):
            counts = rng.multinomial(150, discretised_gaussian(mean + rng.normal(0, 0.3), 1.4, 10))
            rows.append({"theme_id": theme, **{f"v{k + 1}": c for k, c in enumerate(counts)}})
    table = pd.DataFrame(rows)
    names = ["Motion Blur", "Landscape", "Harsh Environments", "Still Life"][: len(theme_means)]
    table.insert(0, "image_id", [str(i) for i in range(len(table))])
    table.insert(1, "theme", [names[t] for t in table["theme_id"]])
    table.attrs = {"num_bins": 10, "theme_names": names}
    return table


def _photos():
    """Three photos of different aspect ratios (w x h): 120x60, 60x90, 80x80."""
    return [Image.new("RGB", size, color) for size, color in (((120, 60), "red"), ((60, 90), "green"), ((80, 80), "blue"))]


def test_plot_histograms_single_and_grid(tmp_path):
    pred, target = _gaussians([5.0, 6.0, 4.0]), _gaussians([5.2, 5.5, 4.4])
    figure = plot_histograms(pred[0], target[0], save_to=tmp_path / "one.png")
    (ax,) = figure.axes
    bars = _bars(ax)
    assert len(bars) == 20
    assert bars[0].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb("#1f77b4"))  # blue = predicted
    assert bars[10].get_facecolor()[:3] == pytest.approx(matplotlib.colors.to_rgb("#d62728"))  # red = ground truth
    assert "5.00 (5.20) / EMD" in ax.get_title()
    _assert_png(tmp_path / "one.png")
    grid = plot_histograms(pred, target, titles=["a", "b", "c"], ncols=2)
    assert len(grid.axes) == 3 and grid.axes[2].get_title().startswith("c\n")
    only_pred = plot_histograms(pred)
    assert [len(_bars(a)) for a in only_pred.axes] == [10, 10, 10]
    assert only_pred.axes[0].get_title() == "mean 5.00"
    external = plt.figure()
    assert plot_histograms(pred[1], ax=external.add_subplot()) is external
    with pytest.raises(ValueError, match="shapes differ"):
        plot_histograms(pred, target[:2])


def test_photo_grid_keeps_aspect_ratio(tmp_path):
    photos = _photos()
    photos[2].save(tmp_path / "square.png")
    images = [photos[0], np.asarray(photos[1]), tmp_path / "square.png"]  # PIL, array, path
    figure = photo_grid(images, _gaussians([5, 6, 4]), _gaussians([5.1, 5.6, 4.3]), titles=["x", "y", "z"],
                        ncols=2, save_to=tmp_path / "grid.png")
    assert len(figure.axes) == 6  # a photo and a histogram per photo
    shown = [ax.get_images()[0].get_array().shape[:2] for ax in figure.axes if ax.get_images()]
    assert shown == [(60, 120), (90, 60), (80, 80)]
    assert all(ax.get_aspect() == 1.0 for ax in figure.axes if ax.get_images())
    assert "(5.10) / EMD" in figure.axes[1].get_title()
    _assert_png(tmp_path / "grid.png")
    with pytest.raises(ValueError, match="titles has 1"):
        photo_grid(images, _gaussians([5, 6, 4]), titles=["x"])


def test_plot_aspect_ratios_overlays_datasets(tmp_path):
    rng = np.random.default_rng(0)
    figure = plot_aspect_ratios({"AVA": rng.uniform(0.6, 1.8, 300), "Photo.net": rng.uniform(0.6, 1.8, 200)},
                                bins=20, save_to=tmp_path / "ratios.png")
    (ax,) = figure.axes
    assert len(ax.patches) == 40
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AVA (n=300)", "Photo.net (n=200)"]
    _assert_png(tmp_path / "ratios.png")


def test_plot_theme_distributions_by_name_id_and_default(tmp_path):
    table = _label_table()
    stats = theme_statistics(table)
    figure = plot_theme_distributions(stats, themes=["Motion Blur", 2, "Still Life"], save_to=tmp_path / "themes.png")
    (ax,) = figure.axes
    assert len(_bars(ax)) == 30 and len(ax.get_lines()) == 1  # 3 themes x 10 scores + the global line
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["Harsh Environments (n=12)", "Motion Blur (n=12)", "Still Life (n=12)", "all photos"]
    _assert_png(tmp_path / "themes.png")
    from_table = plot_theme_distributions(table, top=2, show_global=False)
    assert len(_bars(from_table.axes[0])) == 20 and not from_table.axes[0].get_lines()
    with pytest.raises(ValueError, match="Portrait"):
        plot_theme_distributions(stats, themes=["Portrait"])


def test_plot_theme_means(tmp_path):
    stats = theme_statistics(_label_table())
    figure = plot_theme_means(stats, save_to=tmp_path / "means.png")
    assert len(figure.axes) == 2
    assert "eta²" in figure.axes[0].get_title() and "eta²" in figure.axes[1].get_title()
    line = figure.axes[0].get_lines()[0]
    assert np.all(np.diff(line.get_ydata()) >= 0)  # sorted theme means
    assert len(plot_theme_means(stats, top=2).axes[0].get_lines()[0].get_ydata()) == 2
    _assert_png(tmp_path / "means.png")


def test_plot_with_without_theme(tmp_path):
    target, with_theme, without = (_gaussians(m, std=0.8) for m in ([4, 6, 5], [4.1, 5.8, 5.1], [5, 5, 5]))
    summary = plot_with_without_theme(with_theme, without, target, save_to=tmp_path / "effect.png")
    assert len(summary.axes) == 2
    assert "67% of 3 photos" in summary.axes[1].get_title()
    _assert_png(tmp_path / "effect.png")
    photos = plot_with_without_theme(with_theme, without, target, images=_photos(), ncols=3)
    assert len(photos.axes) == 3
    assert photos.axes[0].get_xlabel() == "gt 4.00 | with 4.10 | without 5.00"


def test_plot_failure_cases_shows_the_worst(tmp_path):
    target = _gaussians([5, 5, 5, 5])
    target[2] = [0.2, 0, 0, 0.1, 0.3, 0.3, 0.1, 0, 0, 0]  # bimodal, "uncommon" (Fig. 7)
    pred = _gaussians([5.1, 7.0, 5, 5.05])
    figure = plot_failure_cases(pred, target, k=2, titles=["a", "b", "c", "d"], save_to=tmp_path / "fail.png")
    assert len(figure.axes) == 2
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0].startswith("b\n") and titles[1].startswith("c\n")
    assert "2 modes" in titles[1]
    _assert_png(tmp_path / "fail.png")
    with_photos = plot_failure_cases(pred, target, images=_photos() + [_photos()[0]], k=3)
    assert len(with_photos.axes) == 6


def test_plot_history_groups_losses_correlations_and_metrics(tmp_path):
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.7, 0.6], "val_loss": [0.8, 0.75, 0.7],
                            "val_srcc_mean": [0.3, 0.5, 0.6], "val_emd1": [0.06, 0.05, 0.045], "lr": [1e-3] * 3})
    figure = plot_history(history, save_to=tmp_path / "history.png")
    assert len(figure.axes) == 3
    assert [len(ax.get_lines()) for ax in figure.axes] == [2, 1, 1]
    np.testing.assert_array_equal(figure.axes[0].get_lines()[0].get_xdata(), [1, 2, 3])
    _assert_png(tmp_path / "history.png")
    assert len(plot_history([{"loss": 1.0}, {"loss": 0.5}]).axes) == 1
    with pytest.raises(ValueError, match="empty"):
        plot_history(pd.DataFrame())


def test_theme_browser_builds_filters_and_redraws():
    browser = theme_browser(_label_table(), top=2)
    assert len(browser.select.value) == 2
    first = browser.image.value
    assert bytes(first).startswith(PNG_SIGNATURE)
    browser.update(themes=["Harsh Environments", "Still Life", "Landscape"])
    assert set(browser.select.value) == {1, 2, 3}
    assert len(_bars(browser.figure.axes[0])) == 30 and browser.image.value != first
    browser.filter.value = "still"  # the observer narrows the options, keeping matching selections
    assert [label for label, _ in browser.select.options] == ["Still Life (n=12)"]
    assert browser.select.value == (3,)
    assert len(_bars(browser.figure.axes[0])) == 10
    browser.filter.value = ""
    assert len(browser.select.options) == 4
    browser.select.value = ()
    assert browser.figure is None and browser.image.value == b""


def test_plot_history_ticks_whole_epochs_and_keeps_the_legend_off_the_curves():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    history = pd.DataFrame({"epoch": [0, 1, 2], "train_loss": [0.9, 0.7, 0.6], "val_emd1": [0.06, 0.05, 0.045],
                            "val_srcc_mean": [0.3, 0.5, 0.6], "val_srcc_std": [0.6, 0.62, 0.7]})
    figure = plot_history(history)
    FigureCanvasAgg(figure).draw()
    for ax in figure.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        legend = ax.get_legend().get_window_extent()
        assert legend.y1 <= ax.get_window_extent().y0 + 1  # below the axes, never over a curve


def test_model_figures_say_on_themselves_what_data_they_show(tmp_path):
    p = np.array([[0.1, 0.2, 0.3, 0.2, 0.2], [0.3, 0.3, 0.2, 0.1, 0.1]])
    q = np.array([[0.0, 0.2, 0.4, 0.2, 0.2], [0.2, 0.4, 0.2, 0.1, 0.1]])
    figure = plot_histograms(p, q, caption="SYNTHETIC benchmark, test split, n = 2 · demo model")
    text = " ".join(figure._suptitle.get_text().split())  # lines are wrapped to the figure's width
    assert "SYNTHETIC benchmark, test split, n = 2" in text and "predicted mean (ground-truth mean) / EMD" in text
    assert all(ax.get_xlabel() == "score" and ax.get_ylabel() for ax in figure.axes)
    assert plot_histograms(p, q)._suptitle.get_text().startswith("under each")  # the key, even without a caption
    images = [Image.new("RGB", (40, 30)), Image.new("RGB", (30, 40))]
    assert "n = 2" in photo_grid(images, p, q, caption="n = 2")._suptitle.get_text()
    ratios = plot_aspect_ratios({"AVA: 62 photos, sampled to spread over aspect ratio": [0.7, 1.3, 1.5]}, caption="Fig. 6")
    assert "sampled to spread over aspect ratio" in " ".join(ratios.axes[0].get_legend().get_texts()[0].get_text().split())


def test_plot_head_stage_draws_loss_srcc_and_the_theme_prior_line(tmp_path):
    from workbench.notebook import loss_label
    from workbench.plots import plot_head_stage

    rows = [{"epoch": e, "train_loss": 0.2 - 0.01 * e, "val_srcc_mean": 0.05 * e} for e in range(1, 6)]
    figure = plot_head_stage(rows, baseline={"srcc_mean": 0.12}, title="SYNTHETIC", epochs=40, save_to=tmp_path / "head.png",
                             loss_label=loss_label(2, 1.0))  # fmt: skip
    loss, srcc = figure.axes
    assert loss.get_ylabel() == "training loss (EMD, r=2 + 1 x std term)" and loss_label(2, 0) == "training loss (EMD, r=2)"
    np.testing.assert_allclose(loss.get_lines()[0].get_ydata(), [0.19, 0.18, 0.17, 0.16, 0.15])
    prior = [line for line in srcc.get_lines() if "theme prior" in line.get_label()]
    assert len(prior) == 1 and prior[0].get_ydata()[0] == pytest.approx(0.12)
    assert srcc.get_xlim() == (0.5, 40.5) and "SYNTHETIC" in figure._suptitle.get_text()
    _assert_png(tmp_path / "head.png")


def test_plot_history_of_one_epoch_has_whole_ticks_and_says_what_it_is():
    """The head stage alone is one history row: its figure ticks whole epochs (not -0.045, -0.030, ...)
    and its title says what the point is."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plot_history(pd.DataFrame({"epoch": [0], "stage": ["head"], "train_loss": [0.2], "val_srcc_mean": [0.4]}))
    FigureCanvasAgg(figure).draw()
    for ax in figure.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks == [0], ticks
    assert "epoch 0 is the head stage" in figure._suptitle.get_text()
    assert plot_history([{"loss": 1.0}], title="mine")._suptitle.get_text() == "mine"


def test_plot_aspect_ratios_keeps_the_papers_red_for_photonet():
    """Fig. 6: AVA in the paper's blue, Photo.net in its red, any other data (the synthetic benchmark) in neither."""
    from matplotlib.colors import to_hex

    from workbench.plots import PAPER_DATASET_COLORS

    def colours(ratios):
        ax = plot_aspect_ratios(ratios).axes[0]
        return [to_hex(container.patches[0].get_facecolor(), keep_alpha=False) for container in ax.containers]

    ava, synthetic = colours({"AVA: 62 real photos": [0.7, 1.3, 1.5], "SYNTHETIC benchmark": [0.8, 1.0, 1.4]})
    assert ava == PAPER_DATASET_COLORS["AVA"]
    assert synthetic not in PAPER_DATASET_COLORS.values()
    assert colours({"Photo.net": [1.2, 1.5]}) == [PAPER_DATASET_COLORS["Photo.net"]]
    assert len(set(colours({"SYNTHETIC benchmark": [1.0, 1.2], "mine": [0.9, 1.1]}))) == 2


def test_theme_contrast_legends_cover_no_bar():
    """Fig. 2 on real votes (06): each panel's legend lies off its bars, the tallest included."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from workbench.figures import plot_theme_contrast

    tall = np.array([0.01, 0.02, 0.05, 0.12, 0.3, 0.3, 0.12, 0.05, 0.02, 0.01])
    contrast = pd.DataFrame([{
        "tag": tag, "theme_low": "A theme with quite a long challenge name", "theme_high": "Another long challenge name here",
        "n_low": 20, "n_high": 25, "mean_low": 5.1, "mean_high": 5.9, "difference": 0.8, "p_low": tall, "p_high": tall[::-1],
    } for tag in (1, 2)])  # fmt: skip
    figure = plot_theme_contrast(contrast, {1: "Landscape"}, count=2)
    FigureCanvasAgg(figure).draw()
    for ax in figure.axes:
        legend = ax.get_legend().get_window_extent()
        bars = [patch.get_window_extent() for patch in _bars(ax)]
        assert bars and not any(legend.overlaps(bar) for bar in bars)


# --------------------------------------------------------------------------------------------------
# workbench.fidelity_plots: the fidelity figures of notebook 05 (SYNTHETIC benchmark)


def _attribute_table(views=("full", "resized_pad", "resize", "crop"), intervals=True):
    rng = np.random.default_rng(0)
    names = [f"attribute {i}" for i in range(5)]
    table = pd.DataFrame({"theme": [f"theme {i}" for i in range(5)], "scenes": 20, "truth": rng.uniform(-2, 2, 5)}, index=pd.Index(names, name="attribute"))
    for j, view in enumerate(views):
        table[f"{view}_share"] = np.linspace(0.1, 1.1, 5) - 0.2 * j
        if intervals:
            table[f"{view}_share_low"], table[f"{view}_share_high"] = table[f"{view}_share"] - 0.1, table[f"{view}_share"] + 0.15
    return table


def test_attribute_response_bars_are_the_shares_with_their_intervals_and_say_synthetic(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from workbench.fidelity_plots import VIEW_ORDER, plot_attribute_responses

    table = _attribute_table()
    figure = plot_attribute_responses(table, source="this run: computed here", highlight=["attribute 4"], save_to=tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes().startswith(PNG_SIGNATURE)
    ax = figure.axes[0]
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(containers) == 4 and all(len(c) == 5 for c in containers)
    for container, view in zip(containers, VIEW_ORDER):  # full resolution first, then the baselines
        assert [bar.get_height() for bar in container] == pytest.approx(table[f"{view}_share"].tolist())
        assert view in container.get_label()
    title = ax.get_title()
    assert "SYNTHETIC" in title and "this run: computed here" in title and "95% bootstrap" in title
    assert "truth" in ax.get_xticklabels()[0].get_text()
    FigureCanvasAgg(figure).draw()
    legend = figure.legends[0].get_window_extent()
    assert not any(legend.overlaps(bar.get_window_extent()) for bar in _bars(ax))
    plain = plot_attribute_responses(_attribute_table(("full", "resize"), intervals=False), source="x").axes[0]
    assert "no intervals" in plain.get_title() and len([c for c in plain.containers if isinstance(c, BarContainer)]) == 2
    with pytest.raises(ValueError, match="crop"):
        plot_attribute_responses(table.drop(columns="crop_share"), source="x", views=["full", "crop"])


def test_theme_response_scatter_draws_every_pair_the_fit_and_its_numbers(tmp_path):
    from workbench.fidelity import theme_response, theme_response_pairs
    from workbench.fidelity_plots import plot_theme_response

    rng = np.random.default_rng(3)
    own = rng.integers(0, 5, 30)
    truth = _gaussians(rng.uniform(3, 8, 150)).reshape(30, 5, 10)
    pred = _gaussians(rng.uniform(3, 8, 150)).reshape(30, 5, 10)
    pairs, response = theme_response_pairs(pred, truth, own), theme_response(pred, truth, own, bootstrap=20)
    figure = plot_theme_response(pairs, response, source="this run: computed here", caption="data line", save_to=tmp_path / "scatter.png")
    assert (tmp_path / "scatter.png").read_bytes().startswith(PNG_SIGNATURE)
    ax = figure.axes[0]
    assert len(ax.collections[0].get_offsets()) == len(pairs) == 120
    fitted = next(line for line in ax.get_lines() if "fitted" in line.get_label())
    x, y = fitted.get_data()
    assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(response["slope"])
    text = " ".join(t.get_text() for t in ax.texts)
    assert f"slope {response['slope']:.3f}" in text and f"r = {response['r']:.3f}" in text and "sign agreement" in text
    assert "this run: computed here" in text and "30 photos x 4 other themes" in text
    assert "SYNTHETIC" in ax.get_title() and "data line" in figure.get_suptitle()
    with pytest.raises(ValueError, match="empty"):
        plot_theme_response(pairs.iloc[:0], response, source="x")
