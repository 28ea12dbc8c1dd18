"""The benchmarks run: each script in its tiny ``--quick`` mode on the CPU, so they never rot.

Only exit codes and the printed ratio lines are checked: timings on shared CPUs are noise, and the
quick figures are meaningless anyway. bench/gpu.sh runs with DEVICE=cpu QUICK=1, which covers
cuda_checks.py, train_check.py, paper_throughput.py and data_pipeline.py.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

# Generous limits (over ten times the idle run on 2 cores): a test fails for a wrong result, not a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def run(args: list[str], env: dict | None = None, timeout: int = 3000) -> str:
    result = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )  # fmt: skip
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def run_script(name: str, *extra: str) -> str:
    return run([sys.executable, str(BENCH / name), "--quick", "--device", "cpu", *extra])


def assert_lines(output: str, *prefixes: str) -> None:
    lines = output.splitlines()
    for prefix in prefixes:
        assert any(line.startswith(prefix) for line in lines), f"no line starting with {prefix!r} in:\n{output}"


def test_full_resolution():
    output = run_script("full_resolution.py")
    assert_lines(
        output,
        "RATIO train images/s Pad+ROI-256 / Resize-299 [compact]:",
        "RATIO inference images/s Pad+ROI-256 / Resize-299 [compact]:",
        "RATIO train peak memory/image Pad+ROI-256 / Resize-299 [compact]:",
    )


def test_pretrained_cost():
    output = run_script("pretrained_cost.py")
    assert_lines(
        output,
        "RATIO train time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "RATIO train, frozen stem time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "RATIO infer time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "RATIO train time Pad+ROI, stem activation after / before ROI max pooling:",
        "GOAL full-resolution training cost",
    )


def test_roi_placement_writes_json(tmp_path):
    output = run_script("roi_placement.py", "--json", str(tmp_path / "placement.json"))
    assert_lines(output, "RATIO backbone time after_block0 / after_stem (full):")
    rows = json.loads((tmp_path / "placement.json").read_text())["rows"]
    assert [row["configuration"] for row in rows][:2] == ["after_block0, full", "after_stem, full"]
    assert all(-1 <= row["srcc_mean_theme"] <= 1 for row in rows)


def test_padding_writes_json(tmp_path):
    output = run_script("padding.py", "--json", str(tmp_path / "padding.json"))
    assert_lines(
        output,
        "RATIO padded fraction grouped [synthetic]:",
        "RATIO train images/s grouped / naive [compact]:",
        "GOAL padded pixels <= 15%",
        "GOAL measurable speed-up",
    )
    figures = json.loads((tmp_path / "padding.json").read_text())
    assert {"rows", "sweep", "speed_up", "environment"} <= set(figures)
    assert figures["environment"]["torch"]


def test_masking():
    output = run_script("masking.py", "--train")
    assert_lines(
        output,
        "RATIO forward time masked / unmasked [compact]:",
        "RATIO zero_border_strips_ alone / unmasked forward [compact]:",
        "RATIO forward time full mask / unmasked [compact]:",
        "RATIO train step masked / unmasked [compact]:",
        "GOAL stem masking < 3% [compact]:",
    )
    # The library's border strips must give exactly the full mask's features and gradients.
    check = next(line for line in output.splitlines() if line.startswith("CHECK library == full mask [compact]"))
    assert "PASS" in check and "features 0.0e+00, gradients 0.0e+00" in check


def test_demo_latency():
    source = (ROOT / "app.py").read_text() if (ROOT / "app.py").is_file() else ""
    if not all(f"def {name}(" in source for name in ("analyze", "switch_theme", "clear_cache")):
        pytest.skip("app.py with analyze / switch_theme / clear_cache is not there yet")
    output = run_script("demo_latency.py")
    assert_lines(
        output,
        "RATIO theme switch (cached) / full analysis (cold):",
        "RATIO theme switch (uncached) / full analysis (cold):",
        "GOAL theme switch <= 5% of a full analysis:",
    )


def test_gpu_script_runs_its_steps_on_cpu(tmp_path):
    # COMPILE=1: torch.compile runs too (train_check through accelerate_on_cpu, paper_throughput).
    env = {"DEVICE": "cpu", "QUICK": "1", "COMPILE": "1", "OUT": str(tmp_path), "PYTHON": sys.executable}
    output = run(["bash", str(BENCH / "gpu.sh")], env=env)
    summary = (tmp_path / "summary.log").read_text()
    assert "all steps passed" in output
    assert_lines(summary, "CHECK batch invariance fp32 roi_pool: PASS", "CHECK batch invariance bf16 roi_align: PASS", "CHECK training steps roi_align: PASS", "THROUGHPUT train img/s", "WORKERS needed",
                 "CHECK resume extends the run in float16 with a GradScaler: PASS", "CHECK evaluate with six-view TTA: PASS")
    assert "autocast bfloat16, channels_last, compile True" in summary and "GradScaler True" in summary
    assert json.loads((tmp_path / "throughput.json").read_text())["train_images_per_s"]
    assert len(list(tmp_path.iterdir())) <= 8  # what a device run can bring back


def test_learning_curve():
    output = run_script("learning_curve.py")
    assert_lines(output, "RATIO srcc_mean with theme, most / fewest photos:")
