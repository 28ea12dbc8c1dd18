"""Checks that the CUDA paths work: batch invariance, ROI Align, agreement with the CPU, training steps.

- batch invariance (roi pool and roi align): each photo alone vs padded into one canvas with others,
  max abs difference of the predicted distributions; fp32 (TF32 off) must be <= 1e-4, autocast bf16
  is reported (bf16 rounds differently per batch shape; <= 5e-2 passes), on CPU too;
- device vs CPU (CUDA only): the same weights and batch on the device (fp32, TF32 off) and on the CPU;
- training: a few AMP steps on one fixed batch (roi pool and roi align): losses and gradients finite,
  the loss goes down.

Prints ``CHECK name: PASS|FAIL (detail)`` lines and exits 1 when any check fails. Runs on CPU too
(``--device cpu --quick``: compact backbone, canvas 256) so the script itself is tested.

    python bench/cuda_checks.py [--device cuda] [--backbone inception_v3] [--json OUT]
"""
from __future__ import annotations

import sys

import common  # noqa: F401  (puts the repository root on sys.path)
import torch
from torch import nn

from common import Runtime, base_parser, print_header, random_padded_batch, random_targets, runtime_from_args, write_json
from workbench.data.batching import pad_batch
from workbench.losses import emd_loss
from workbench.model.build import build_model

SIZES_800 = [(301, 457), (517, 233), (64, 99), (800, 800), (17, 16), (533, 800)]
SIZES_256 = [(150, 230), (256, 120), (64, 99), (256, 256), (17, 16)]
FP32_TOLERANCE = 1e-4
BF16_TOLERANCE = 5e-2
CPU_TOLERANCE = 1e-3
NUM_THEMES = 4

results: list[dict] = []


def check(name: str, passed: bool, detail: str) -> None:
    results.append({"check": name, "passed": bool(passed), "detail": detail})
    print(f"CHECK {name}: {'PASS' if passed else 'FAIL'} ({detail})", flush=True)


def calibrated(model: nn.Module, canvas: int, device: torch.device) -> nn.Module:
    """Realistic BatchNorm running statistics from one train-mode pass, then eval mode.

    A freshly initialised Inception-v3 in eval mode (running mean 0, var 1) blows activations up to
    ~1e10, which would make any absolute tolerance meaningless (as in tests/test_model.py).
    """
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, canvas, canvas, device=device), torch.full((4, 2), canvas, device=device))
    return model.eval()


def alone_and_batched(model, photos, themes, runtime: Runtime, amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
    autocast = torch.autocast(runtime.device.type, dtype=torch.bfloat16) if amp else torch.autocast(runtime.device.type, enabled=False)
    fmt = runtime.memory_format
    with torch.inference_mode(), autocast:
        batch = pad_batch(photos, canvas=max(max(p.shape[1:]) for p in photos)).to(runtime.device, memory_format=fmt)
        batched = model(batch.images, batch.sizes, themes).float()
        alone = torch.cat([
            model(p[None].to(runtime.device, memory_format=fmt), torch.tensor([p.shape[1:]], device=runtime.device),
                  themes[i : i + 1]).float()
            for i, p in enumerate(photos)
        ])  # fmt: skip
    return batched, alone


def invariance(args, runtime: Runtime, sizes, canvas: int) -> None:
    torch.manual_seed(args.seed)
    photos = [torch.randn(3, h, w) for h, w in sizes]
    themes = torch.tensor([i % NUM_THEMES for i in range(len(sizes))], device=runtime.device)
    for roi in ("pool", "align"):
        model = build_model(args.backbone, num_bins=10, num_themes=NUM_THEMES, roi=roi, roi_size=args.roi_size)
        model = calibrated(runtime.module(model), canvas, runtime.device)
        batched, alone = alone_and_batched(model, photos, themes, runtime, amp=False)
        diff = (batched - alone).abs().max().item()
        spread = batched.std(dim=1).min().item()
        check(f"batch invariance fp32 roi_{roi}", diff <= FP32_TOLERANCE and spread > 1e-4,
              f"max abs diff {diff:.2e} <= {FP32_TOLERANCE:.0e}; predictions not uniform: min std {spread:.2e}")
        # bf16 autocast on CPU too: the same ROI code path (pooling in float32) as on the GPU.
        batched16, alone16 = alone_and_batched(model, photos, themes, runtime, amp=True)
        diff16 = (batched16 - alone16).abs().max().item()
        check(f"batch invariance bf16 roi_{roi}", diff16 <= BF16_TOLERANCE,
              f"max abs diff {diff16:.2e} <= {BF16_TOLERANCE:.0e}; bf16 vs fp32 {(batched16 - batched).abs().max().item():.2e}")
        if runtime.cuda:
            reference = model.to("cpu", memory_format=torch.contiguous_format)
            with torch.inference_mode():
                batch = pad_batch(photos, canvas=canvas)
                on_cpu = reference(batch.images, batch.sizes, themes.cpu())
            check(f"{runtime.device.type} vs cpu fp32 roi_{roi}", (on_cpu - batched.cpu()).abs().max().item() <= CPU_TOLERANCE,
                  f"max abs diff {(on_cpu - batched.cpu()).abs().max().item():.2e} <= {CPU_TOLERANCE:.0e}")


def training(args, runtime: Runtime, sizes, canvas: int) -> None:
    for roi in ("pool", "align"):
        torch.manual_seed(args.seed)
        model = runtime.module(build_model(args.backbone, num_bins=10, num_themes=NUM_THEMES, roi=roi,
                                           roi_size=args.roi_size, dropout=0.0)).train()  # fmt: skip
        batch = runtime.batch(random_padded_batch(sizes[: args.train_batch], canvas=canvas, seed=args.seed))
        themes = torch.arange(len(batch), device=runtime.device) % NUM_THEMES
        targets = random_targets(len(batch), 10, args.seed).to(runtime.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses, finite_grads = [], True
        for _ in range(args.steps):
            with runtime.autocast():
                prediction = model(batch.images, batch.sizes, themes)
            loss = emd_loss(prediction.float(), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            finite_grads &= all(torch.isfinite(p.grad).all().item() for p in model.parameters() if p.grad is not None)
            optimizer.step()
            losses.append(loss.item())
        finite = all(torch.isfinite(torch.tensor(losses)))
        check(f"training steps roi_{roi}", finite and finite_grads and losses[-1] < losses[0],
              f"{args.steps} steps, batch {len(batch)}, loss {losses[0]:.4f} -> {losses[-1]:.4f}, "
              f"finite losses {finite}, finite grads {finite_grads}")


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    parser.add_argument("--backbone", default=None, help="default inception_v3 (compact with --quick)")
    parser.add_argument("--roi-size", type=int, default=146)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 8; 3 with --quick)")
    parser.add_argument("--train-batch", type=int, default=4)
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    # Exact comparisons: no TF32 (runtime_from_args enables it for the throughput benchmarks).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    args.backbone = args.backbone or ("compact" if args.quick else "inception_v3")
    args.steps = args.steps or (3 if args.quick else 8)
    sizes, canvas = (SIZES_256, 256) if args.quick else (SIZES_800, 800)
    print_header(f"CUDA path checks: {args.backbone}", runtime)
    invariance(args, runtime, sizes, canvas)
    training(args, runtime, sizes, canvas)
    failed = [r["check"] for r in results if not r["passed"]]
    print(f"CHECKS {len(results) - len(failed)}/{len(results)} passed" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    write_json(args.json, {"checks": results}, runtime)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
