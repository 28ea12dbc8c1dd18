"""Checks the training engine's device paths end to end: ``workbench.train.train`` on a tiny dataset.

On CUDA this is the only place the engine's GPU options run: bf16/fp16 autocast (``amp``),
channels_last, optionally ``torch.compile``, pinned-memory DataLoader workers, then a resume that
extends the run by one epoch, and ``evaluate_checkpoint`` on the result. (``cuda_checks.py`` checks
the model on the device; this checks the trainer around it.) On CPU the same calls run with those
options ignored, which is how tests/test_bench.py keeps the script itself working.

Prints ``CHECK name: PASS|FAIL (detail)`` lines and exits 1 when any check fails.

    python bench/train_check.py [--device cuda] [--compile] [--quick] [--json OUT]
"""
from __future__ import annotations

import dataclasses
import math
import sys
import tempfile
from pathlib import Path

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import base_parser, print_header, runtime_from_args, write_json
from workbench.checkpoints import load_checkpoint
from workbench.data.synth import generate_dataset
from workbench.train import TrainConfig, evaluate_checkpoint, train

results: list[dict] = []


def check(name: str, passed: bool, detail: str) -> None:
    results.append({"check": name, "passed": bool(passed), "detail": detail})
    print(f"CHECK {name}: {'PASS' if passed else 'FAIL'} ({detail})", flush=True)


def main() -> int:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--compile", action="store_true", help="also torch.compile the model (CUDA only; slow first step)")
    parser.add_argument("--photos", type=int, default=None, help="synthetic photos to train on (default 64, --quick 24)")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    print_header("training engine on the device", runtime)
    photos = args.photos or (24 if args.quick else 64)
    with tempfile.TemporaryDirectory(prefix="workbench-train-check-") as scratch:
        scratch = Path(scratch)
        root = generate_dataset(scratch / "data", photos, seed=0, workers=1, progress=False)
        config = TrainConfig(
            data_root=str(root), out_dir=str(scratch / "run"), backbone="compact", pretrained=False,
            canvas=256 if args.quick else 800, roi_size=64 if args.quick else 146, epochs=1,
            batch_size=4 if args.quick else 16, lr_backbone=0.01, lr_head=0.1, num_workers=0 if args.quick else 2,
            device=runtime.device.type, amp=True, channels_last=True, compile=args.compile,
            max_steps_per_epoch=3 if args.quick else None, seed=args.seed,
        )  # fmt: skip
        first = train(config, progress=False)
        loss = float(first.history["train_loss"].iloc[-1])
        check("train one epoch (amp, channels_last" + (", compile" if args.compile else "") + ")",
              math.isfinite(loss) and first.checkpoint.is_file(), f"train_loss {loss:.4f}, device {runtime.device.type}")
        payload = load_checkpoint(first.checkpoint)
        weights_finite = all(torch.isfinite(value).all() for value in payload["model"].values() if value.is_floating_point())
        check("checkpoint weights finite and loadable", weights_finite, f"{len(payload['model'])} tensors")

        extended = train(dataclasses.replace(config, epochs=2), resume=True, progress=False)
        check("resume extends the run", list(extended.history["epoch"]) == [1, 2],
              f"epochs {list(extended.history['epoch'])}")  # fmt: skip

        metrics = evaluate_checkpoint(extended.checkpoint, split="test", tta=True, device=runtime.device.type)
        check("evaluate with six-view TTA", all(math.isfinite(metrics[k]) for k in ("emd1", "kl")),
              f"emd1 {metrics['emd1']:.4f}, kl {metrics['kl']:.4f}")  # fmt: skip
    failed = [r["check"] for r in results if not r["passed"]]
    print(f"RESULT {len(results) - len(failed)}/{len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    write_json(args.json, {"checks": results}, runtime)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
