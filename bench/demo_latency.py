"""Demo latency: a full analysis of one photo (four views) vs a theme switch, with and without the cache.

Calls app.py's own functions (no browser, no Gradio server): ``analyze(path, theme)``,
``switch_theme(page.state, theme)`` and ``clear_cache()``. Four figures, interleaved:

- analysis, cold: ``clear_cache()`` then ``analyze`` (load, four views through the backbone, page);
- analysis, cached: ``analyze`` of a photo whose features are cached (hash, load, head, page);
- theme switch, cached: ``switch_theme`` (head + page only) -- what the app promises to make cheap;
- theme switch, uncached: ``clear_cache()`` then ``switch_theme`` (the backbone runs again);
- "served" variants of the cold analysis and the cached switch also encode the page's figures and
  canvas image the way Gradio's ``gr.Plot`` / ``gr.Image`` postprocess them (webp), which the user waits for too.

Requirement: a cached theme switch costs at most 5% of a cold full analysis. A breakdown of the
switch (head calls vs tables and figures) follows.

Checkpoint: ``--checkpoint``, else ``checkpoints/demo.pt``; when that is missing an untrained compact
model with the demo's geometry (canvas 800, roi 146, 16 synthetic themes) is saved in a temp dir,
and the output says so (latency does not depend on the weights).

    python bench/demo_latency.py [--quick] [--checkpoint PATH] [--photo PATH] [--json OUT]
"""
from __future__ import annotations

import importlib
import itertools
import os
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the repository root on sys.path)
from common import ROOT, base_parser, median, print_goal, print_header, print_ratio, print_table, runtime_from_args, write_json

GOAL = 0.05
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "demo.pt"
DEFAULT_PHOTO = ROOT / "examples" / "golden-hour.jpg"


def untrained_checkpoint(folder: Path) -> Path:
    """An untrained compact model with the demo checkpoint's geometry, saved under ``folder``."""
    from workbench.checkpoints import save_checkpoint
    from workbench.data.synth import theme_names
    from workbench.model.build import build_model

    names = theme_names()
    model = build_model("compact", num_bins=10, num_themes=len(names), roi_size=146)
    payload = {
        "model_args": model.model_args, "model": model.state_dict(), "theme_names": names, "num_bins": 10,
        "canvas": 800, "config": {"canvas": 800},
        "data": {"name": "bench (untrained)", "description": "random weights, for latency only",
                 "synthetic": True, "untrained": True},
    }  # fmt: skip
    return save_checkpoint(folder / "bench_untrained.pt", payload)


def photo_path(args, folder: Path) -> Path:
    if args.photo:
        return Path(args.photo)
    if DEFAULT_PHOTO.is_file():
        return DEFAULT_PHOTO
    from workbench.data.synth import generate_image

    path = folder / "photo.jpg"
    generate_image(7, 0)[0].save(path, quality=90)
    return path


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=None, help=f"default {DEFAULT_CHECKPOINT.relative_to(ROOT)} if present")
    parser.add_argument("--photo", default=None, help=f"default {DEFAULT_PHOTO.relative_to(ROOT)}")
    args = parser.parse_args()
    args.device = "cpu"  # app.py serves on the CPU by default; its --device is not exposed to callers
    runtime = runtime_from_args(args)
    args.repeats = args.repeats or (1 if args.quick else 7)
    args.warmup = 0 if args.quick else args.warmup

    with tempfile.TemporaryDirectory(prefix="bench_demo_") as folder:
        folder = Path(folder)
        checkpoint = Path(args.checkpoint) if args.checkpoint else DEFAULT_CHECKPOINT
        note = f"checkpoint {checkpoint}"
        if not checkpoint.is_file():
            if args.checkpoint:
                raise SystemExit(f"--checkpoint {checkpoint}: no such file")
            checkpoint = untrained_checkpoint(folder)
            note = (f"NOTE: {DEFAULT_CHECKPOINT.relative_to(ROOT)} not found; using an UNTRAINED compact model with "
                    f"the demo's geometry saved at {checkpoint} (latency does not depend on the weights)")  # fmt: skip
        os.environ["WORKBENCH_CHECKPOINT"] = str(checkpoint)
        app = importlib.import_module("app")  # loads the predictor once, as the served app does
        photo = photo_path(args, folder)
        print_header("demo latency: full analysis vs theme switch", runtime)
        print(f"   {note}")
        print(f"   model: {app.predictor.describe()}, canvas {app.predictor.canvas}; photo {photo}")

        themes = itertools.cycle(app.predictor.theme_names or [app.NO_THEME_NAME])
        page = app.analyze(str(photo), next(themes))

        def analysis_cold() -> None:
            app.clear_cache()
            app.analyze(str(photo), next(themes))

        def analysis_cold_served() -> None:
            app.clear_cache()
            serve(app.analyze(str(photo), next(themes)))

        def switch_cached_served() -> None:
            serve(app.switch_theme(page.state, next(themes)))

        def analysis_cached() -> None:
            app.analyze(str(photo), next(themes))

        def switch_cached() -> None:
            app.switch_theme(page.state, next(themes))

        def switch_uncached() -> None:
            app.clear_cache()
            app.switch_theme(page.state, next(themes))

        variants = {
            "analysis, cold": analysis_cold,
            "analysis, cached": analysis_cached,
            "theme switch, cached": switch_cached,
            "theme switch, uncached": switch_uncached,
            "analysis, cold, served": analysis_cold_served,
            "theme switch, cached, served": switch_cached_served,
        }
        # Every variant leaves this photo's features cached (the cold ones re-fill the cache they
        # emptied), so the cached variants hit the cache whatever the order.
        times = runtime.time(variants, args.repeats, args.warmup, desc="demo")
        seconds = {name: median(values) for name, values in times.items()}
        breakdown = switch_breakdown(app, page, runtime, args)

    rows = [{"call": name, "ms": 1e3 * value,
             "% of cold analysis": 100 * value / seconds["analysis, cold, served" if "served" in name else "analysis, cold"]}
            for name, value in seconds.items()]  # fmt: skip
    print_table(rows)
    print()
    print("theme switch, cached, broken down (the same calls switch_theme makes):")
    print_table([{"part": name, "ms": 1e3 * value, "% of switch": 100 * value / seconds["theme switch, cached"]}
                 for name, value in breakdown.items()])  # fmt: skip
    print()
    ratio = seconds["theme switch, cached"] / seconds["analysis, cold"]
    print_ratio("theme switch (cached) / full analysis (cold)", ratio)
    print_ratio("theme switch (uncached) / full analysis (cold)", seconds["theme switch, uncached"] / seconds["analysis, cold"])
    print_ratio("full analysis cached / cold", seconds["analysis, cached"] / seconds["analysis, cold"])
    served = seconds["theme switch, cached, served"] / seconds["analysis, cold, served"]
    print_ratio("theme switch (cached) / full analysis (cold), served", served, "figures encoded as Gradio does")
    head = breakdown["head (5 predict_from_features)"] / seconds["analysis, cold"]
    print_ratio("switch's head calls / full analysis (cold)", head)
    print_goal(f"theme switch <= {100 * GOAL:.0f}% of a full analysis", ratio <= GOAL,
               f"{1e3 * seconds['theme switch, cached']:.0f} ms vs {1e3 * seconds['analysis, cold']:.0f} ms = {100 * ratio:.1f}%; "
               f"served {100 * served:.1f}%; the head alone {100 * head:.2f}%")  # fmt: skip
    write_json(args.json, {"seconds": seconds, "breakdown": breakdown, "ratio": ratio, "served_ratio": served,
                           "head_ratio": head, "goal": GOAL, "note": note}, runtime)  # fmt: skip


def serve(page) -> None:
    """Encode what Gradio sends for this page: both figures (gr.Plot, webp) and the canvas (gr.Image)."""
    import io

    from gradio.processing_utils import encode_plot_to_base64

    for figure in (page.theme_plot, page.views_plot):
        encode_plot_to_base64(figure, "webp")
    if page.canvas is not None:
        page.canvas.save(io.BytesIO(), format="webp")


def switch_breakdown(app, page, runtime, args) -> dict[str, float]:
    """Time the parts of a cached theme switch: the head calls, the table, the two figures."""
    views = app.view_features(page.state.key, None, lambda: None)
    theme = app.predictor.theme_names[0] if app.predictor.theme_names else None
    distributions = {view: app.predictor.predict_from_features(cached.features, theme)[0] for view, cached in views.items()}
    no_theme = app.predictor.predict_from_features(views["full"].features, None)[0]
    name = app._theme_name(theme)
    parts = {
        "head (5 predict_from_features)": lambda: [app.predictor.predict_from_features(c.features, theme) for c in views.values()]
        + [app.predictor.predict_from_features(views["full"].features, None)],
        "comparison_table": lambda: app.comparison_table(distributions, no_theme, name),
        "theme_figure": lambda: app.theme_figure(distributions["full"], no_theme, name),
        "views_figure": lambda: app.views_figure(distributions, {v: c.thumbnail for v, c in views.items()},
                                                 {v: c.size for v, c in views.items()}, name),
        "encode both figures (webp, as gr.Plot)": lambda: serve(page),
    }  # fmt: skip
    times = runtime.time(parts, args.repeats, args.warmup, desc="switch parts")
    return {part: median(values) for part, values in times.items()}


if __name__ == "__main__":
    main()
