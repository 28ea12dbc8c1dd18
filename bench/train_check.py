"""Checks the training engine's device paths end to end: ``workbench.train.train`` on a tiny dataset.

On CUDA this runs the engine's GPU options: autocast in the device's dtype (``amp``, bf16 where
native), channels_last, optionally ``torch.compile``, pinned-memory DataLoader workers; then a
resume in float16 with a GradScaler that extends the run by one epoch, and ``evaluate_checkpoint``
on the result. (``cuda_checks.py`` checks the model on the device; this checks the trainer around
it.) On CPU the same options run through ``accelerate_on_cpu`` (bf16 autocast, channels_last,
compile), which is how tests/test_bench.py keeps the script itself working.

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
from workbench.config import TrainConfig
from workbench.evaluation import evaluate_checkpoint
from workbench.train import train
from workbench.trainer import Hook

results: list[dict] = []


class Capture(Hook):
    """What the trainer ran with: autocast dtype, memory format, compile, pinned memory, GradScaler."""

    def before_train(self, trainer) -> None:
        self.options, self.scaler_enabled = trainer.options, trainer.scaler.is_enabled()

    def describe(self) -> str:
        o = self.options
        return (f"device {o.device}, autocast {str(o.amp_dtype).removeprefix('torch.')}, "
                f"{str(o.memory_format).removeprefix('torch.')}, compile {o.compile}, pin_memory {o.pin_memory}, "
                f"GradScaler {self.scaler_enabled}")  # fmt: skip


def check(name: str, passed: bool, detail: str) -> None:
    results.append({"check": name, "passed": bool(passed), "detail": detail})
    print(f"CHECK {name}: {'PASS' if passed else 'FAIL'} ({detail})", flush=True)


def main() -> int:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--compile", action="store_true", help="also torch.compile the backbone body (slow first step)")
    parser.add_argument("--photos", type=int, default=None, help="synthetic photos to train on (default 64, --quick 24)")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    print_header("training engine on the device", runtime)
    photos = args.photos or (24 if args.quick else 64)
    with tempfile.TemporaryDirectory(prefix="workbench-train-check-") as scratch:
        scratch = Path(scratch)
        root = generate_dataset(scratch / "data", photos, seed=0, workers=1, progress=False)
        config = TrainConfig(
            data_root=str(root), out_dir=str(scratch / "run"), backbone="compact", pretrained=False, freeze_bn=False,
            canvas=256 if args.quick else 800, roi_size=64 if args.quick else 146, epochs=1,
            batch_size=4 if args.quick else 16, lr_backbone=0.01, lr_head=0.1, num_workers=0 if args.quick else 2,
            device=runtime.device.type, amp=True, channels_last=True, compile=args.compile, accelerate_on_cpu=True,
            max_steps_per_epoch=3 if args.quick else None, seed=args.seed,
        )  # fmt: skip
        options = Capture()
        first = train(config, progress=False, hooks=[options])
        loss = float(first.history["train_loss"].iloc[-1])
        check("train one epoch (amp, channels_last" + (", compile" if args.compile else "") + ")",
              math.isfinite(loss) and first.checkpoint.is_file(), f"train_loss {loss:.4f}, {options.describe()}")
        payload = load_checkpoint(first.checkpoint)
        weights_finite = all(torch.isfinite(value).all() for value in payload["model"].values() if value.is_floating_point())
        check("checkpoint weights finite and loadable", weights_finite, f"{len(payload['model'])} tensors")

        extended = train(dataclasses.replace(config, epochs=2, amp_dtype="float16"), resume=True, progress=False, hooks=[options])
        losses = extended.history["train_loss"].tolist()
        check("resume extends the run in float16 with a GradScaler",
              list(extended.history["epoch"]) == [1, 2] and all(map(math.isfinite, losses)) and options.scaler_enabled,
              f"epochs {list(extended.history['epoch'])}, train_loss {losses[-1]:.4f}, {options.describe()}")  # fmt: skip

        metrics = evaluate_checkpoint(extended.checkpoint, split="test", tta=True, device=runtime.device.type)
        check("evaluate with six-view TTA", all(math.isfinite(metrics[k]) for k in ("emd1", "kl")),
              f"emd1 {metrics['emd1']:.4f}, kl {metrics['kl']:.4f}")  # fmt: skip
    failed = [r["check"] for r in results if not r["passed"]]
    print(f"RESULT {len(results) - len(failed)}/{len(results)} checks passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    write_json(args.json, {"checks": results}, runtime)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
