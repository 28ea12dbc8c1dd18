"""Smoke tests of the benchmarks: each script in its tiny ``--quick`` mode on the CPU, so they never rot.

The figures are meaningless at these sizes and timings on shared CPUs are noise, so nothing here
compares speeds; what is checked could still fail: each script exits 0, its RATIO lines parse to
positive finite numbers, the profiler table has 10 rows, the largest-batch search survives a trial
that kills its process, and bench/gpu.sh (DEVICE=cpu QUICK=1) runs every step within its file limit.
"""
import json
import math
import os
import re
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


def run_script(name: str, *extra: str, env: dict | None = None) -> str:
    return run([sys.executable, str(BENCH / name), "--quick", "--device", "cpu", *extra], env=env)


def assert_lines(output: str, *prefixes: str) -> None:
    lines = output.splitlines()
    for prefix in prefixes:
        assert any(line.startswith(prefix) for line in lines), f"no line starting with {prefix!r} in:\n{output}"


def ratios(output: str, *prefixes: str, positive: bool = True) -> list[float]:
    """The value of each ``RATIO <prefix>...: value`` line; each must be there, finite (and positive:
    times, rates; a correlation's ratio or a fraction need not be)."""
    values = []
    for prefix in prefixes:
        line = next((line for line in output.splitlines() if line.startswith(f"RATIO {prefix}")), None)
        assert line is not None, f"no RATIO line starting with {prefix!r} in:\n{output}"
        value = float(re.match(r"RATIO [^:]+: (\S+)", line).group(1))
        assert math.isfinite(value) and (value > 0 or not positive), line
        values.append(value)
    return values


def test_smoke_full_resolution():
    output = run_script("full_resolution.py")
    ratios(
        output,
        "train images/s Pad+ROI-256 / Resize-299 [compact]:",
        "inference images/s Pad+ROI-256 / Resize-299 [compact]:",
        "train peak memory/image Pad+ROI-256 / Resize-299 [compact]:",
    )


def test_smoke_pretrained_cost():
    output = run_script("pretrained_cost.py")
    ratios(
        output,
        "train time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "train, frozen stem time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "infer time Pad+ROI / Resize-224 [efficientnet_lite0]:",
        "train time Pad+ROI, stem activation after / before ROI max pooling:",
    )
    assert_lines(output, "GOAL full-resolution training cost")


def test_smoke_roi_placement_writes_json(tmp_path):
    output = run_script("roi_placement.py", "--json", str(tmp_path / "placement.json"))
    ratios(output, "backbone time after_block0 / after_stem (full):")
    rows = json.loads((tmp_path / "placement.json").read_text())["rows"]
    assert [row["configuration"] for row in rows][:2] == ["after_block0, full", "after_stem, full"]
    assert all(-1 <= row["srcc_mean_theme"] <= 1 for row in rows)


def test_smoke_padding_writes_json(tmp_path):
    output = run_script("padding.py", "--json", str(tmp_path / "padding.json"))
    (padded,) = ratios(output, "padded fraction grouped [synthetic]:", positive=False)
    assert 0 <= padded < 1
    ratios(output, "train images/s grouped / naive [compact]:")
    assert_lines(
        output,
        "GOAL padded pixels <= 15%",
        "GOAL measurable speed-up",
    )
    figures = json.loads((tmp_path / "padding.json").read_text())
    assert {"rows", "sweep", "speed_up", "environment"} <= set(figures)
    assert figures["environment"]["torch"]


def test_smoke_masking():
    output = run_script("masking.py", "--train")
    ratios(
        output,
        "forward time masked / unmasked [compact]:",
        "zero_border_strips_ alone / unmasked forward [compact]:",
        "forward time full mask / unmasked [compact]:",
        "train step masked / unmasked [compact]:",
    )
    assert_lines(output, "GOAL stem masking < 3% [compact]:")
    # The library's border strips must give exactly the full mask's features and gradients.
    check = next(line for line in output.splitlines() if line.startswith("CHECK library == full mask [compact]"))
    assert "PASS" in check and "features 0.0e+00, gradients 0.0e+00" in check


def test_smoke_demo_latency():
    output = run_script("demo_latency.py")
    ratios(
        output,
        "theme switch (cached) / full analysis (cold):",
        "theme switch (uncached) / full analysis (cold):",
    )
    assert_lines(
        output,
        "GOAL theme switch <= 5% of a full analysis:",
    )


def test_smoke_paper_throughput_survives_a_search_trial_that_kills_its_process(tmp_path):
    # The hook makes a search trial at batch >= 4 exit as a lost CUDA context would: the search must
    # report the largest batch below it, and the timed rows must still come.
    output = run_script("paper_throughput.py", "--max-batch-cap", "8", "--resize-baseline", "--baseline-size", "96",
                        "--baseline-roi-size", "24", "--json", str(tmp_path / "throughput.json"),
                        env={"BENCH_CRASH_AT_BATCH": "4"})  # fmt: skip
    assert_lines(output, "largest train batch: 3 (tried 2, 4 crashed (exit 134), 3;", "largest infer batch: 3")
    ratios(output, "train images/s largest batch 3 / batch 2:", "train time full resolution / Resize-96 at batch 2:",
           "inference / training images/s at batch 2:")  # fmt: skip
    tflops = [line for line in output.splitlines() if line.startswith("TFLOPS ")]
    assert len(tflops) == 6 and all(line.split(": ")[1].split()[1] == "TFLOP/s" and "(peak unknown)" in line for line in tflops)
    figures = json.loads((tmp_path / "throughput.json").read_text())
    assert figures["largest_batch"] == {"train": 3, "infer": 3}
    assert all(0 <= row["padding %"] < 100 and row["GFLOP/img"] > 0 for row in figures["rows"])


def test_smoke_profile_step_prints_the_top_10_kernels():
    output = run_script("profile_step.py")
    kernels = [line for line in output.splitlines() if line.startswith("KERNEL ")]
    assert [int(line.split()[1]) for line in kernels] == list(range(1, 11))
    shares = [float(re.search(r"ms +([\d.]+)%", line).group(1)) for line in kernels]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 100.5
    table = output.split("sorted by self_cpu_time_total\n", 1)[1].splitlines()
    separators = [i for i, line in enumerate(table) if set(line.strip()) <= {"-", " "} and line.strip()]
    assert separators[2] - separators[1] - 1 == 10  # the torch.profiler table's own rows


def test_smoke_data_pipeline_runs_one_round_when_the_budget_is_spent(tmp_path):
    output = run_script("data_pipeline.py", "--budget", "0", "--long-side", "320", "--json", str(tmp_path / "pipeline.json"))
    ratios(output, "images/s torchvision / PIL [800 px]:")
    figures = json.loads((tmp_path / "pipeline.json").read_text())
    assert figures["orientation"]["same upright shape"] and figures["orientation"]["max abs diff"] == 0
    assert all(rate > 0 for rate in figures["rates"].values()) and figures["gpu_decode_images_per_s"] is None
    assert "320 px" in output


def test_smoke_gpu_script_runs_its_steps_on_cpu(tmp_path):
    # The script's own logic (bounded steps, logs under $OUT, the summary) on two cheap steps; every other
    # step's script has its own smoke test above. All seven steps on CPU take 40-50 minutes on 2 loaded
    # cores: that is a device command (bench/README.md), not a CI test.
    env = {"DEVICE": "cpu", "QUICK": "1", "OUT": str(tmp_path), "PYTHON": sys.executable, "ONLY": "cuda_checks,profile"}
    output = run(["bash", str(BENCH / "gpu.sh")], env=env, timeout=3000)
    summary = (tmp_path / "summary.log").read_text()
    assert "all steps passed" in output
    steps = ["cuda_checks", "profile"]
    assert [line.split()[1] for line in summary.splitlines() if line.startswith("== ") and "not asked for" not in line] == steps
    assert all(f"   {step}: ok" in summary for step in steps)
    assert "== train_check: not asked for" in summary
    assert_lines(summary, "CHECK batch invariance fp32 roi_pool: PASS", "CHECK batch invariance bf16 roi_align: PASS",
                 "CHECK training steps roi_align: PASS")  # fmt: skip
    assert sum(line.startswith("KERNEL ") for line in summary.splitlines()) == 10
    assert len(list(tmp_path.iterdir())) <= 8  # what a device run can bring back


def test_smoke_roi_cost_checks_new_against_replaced_code():
    output = run_script("roi_cost.py")
    assert_lines(output, "CHECK new == old [batch 2]: PASS", "CHECK new == old [batch 8]: PASS")
    ratios(output, *(f"time new / old {what} [batch {batch}]:" for what in ("strips", "pool fp32", "pool bf16 channels_last")
                     for batch in (2, 8)))  # fmt: skip


def test_smoke_learning_curve():
    output = run_script("learning_curve.py")
    ratios(output, "srcc_mean with theme, most / fewest photos:", positive=False)


def test_smoke_finetune_levers(tmp_path):
    """A tiny run with a resize head, then each view's backbone copy fine-tuned: both views report their steps and
    SRCC before and after, and the sharpness row carries the full / resize ratio with its interval."""
    from workbench.config import TrainConfig
    from workbench.data.synth import generate_dataset
    from workbench.train import train

    root = generate_dataset(tmp_path / "synth", 40, seed=3, workers=1, progress=False, evaluation_photos=28)
    train(TrainConfig(
        data_root=str(root), out_dir=str(tmp_path / "run"), backbone="compact", pretrained=False, freeze_bn=False,
        roi_size=33, canvas=160, epochs=0, head_epochs=1, batch_size=8, num_workers=0, device="cpu", head="film",
        head_targets="every_theme", view_heads="resize", head_optimizer="adamw", theme_dropout=0.0,
    ), progress=False)  # fmt: skip
    report = tmp_path / "levers.json"
    output = run([sys.executable, str(BENCH / "finetune_levers.py"), "--run", str(tmp_path / "run"), "--data-root", str(root),
                  "--photos", "8", "--scenes", "2", "--layers", "early", "--json", str(report)])  # fmt: skip
    assert "== after fine-tuning ==" in output
    result = json.loads(report.read_text())
    assert [row["view"] for row in result["views"]] == ["full", "resize"]
    assert all(row["steps"] >= 1 and math.isfinite(row["loss_last"]) for row in result["views"])
    sharpness = next(row for row in result["after"] if row["attribute"].startswith("sharpness"))
    assert {"full_share", "resize_share", "full_over_resize_low", "full_over_resize_high"} <= set(sharpness)
