"""What stem masking costs: forward (and training-step) time of the library's masking vs none.

The library (``RoiBackbone.pooled_regions``) zeroes, in place and before each stem ReLU, only the
"border strips" just beyond each photo's region that the next step reads (``zero_border_strips_``,
whose docstring says why that is exact). Three variants, measured side by side, round-robin:

- "library (border strips)": the library as it is;
- "full mask (previous)": the previous library code, patched in here as the reference:
  ``mask_padding`` (an out-of-place multiply by a full [B, 1, H, W] mask) after each stem layer;
- "unmasked": the stem layers run plainly, nothing zeroed (wrong answers; the time baseline).

Overhead = library / unmasked - 1, end to end (the real figure; noisy on shared CPUs), and isolated:
the ``zero_border_strips_`` (resp. ``mask_padding``) calls alone, on tensors of the stem's output
shapes, over the unmasked forward (less noisy; misses cache effects). The library is checked against
the full mask (CHECK line): max relative differences of the features and of all parameter gradients.

Goal: overhead < 3% of the forward.

    python bench/masking.py [--quick] [--device cpu|cuda] [--train] [--json OUT]
"""
from __future__ import annotations

import contextlib

import common  # noqa: F401  (puts the repository root on sys.path)
import torch

from common import (
    Runtime, add_model_options, ava_like_sizes, base_parser, fit_sizes, median, print_goal, print_header, print_ratio,
    print_table, random_padded_batch, random_targets, resolve_model_options, runtime_from_args, write_json,
)  # fmt: skip
from workbench.losses import emd_loss
from workbench.model.backbones import RoiBackbone
from workbench.model.build import build_model
from workbench.model.roi import conv_output_sizes, mask_padding, pool_regions, zero_border_strips_

GOAL = 0.03
EXACT = 1e-5  # max relative difference of features and gradients, library vs full mask
LIBRARY, FULL_MASK, UNMASKED = "library (border strips)", "full mask (previous)", "unmasked"


def pooled_regions_full_mask(self: RoiBackbone, images: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """The previous ``RoiBackbone.pooled_regions``: ``mask_padding`` after each whole stem layer."""
    x = self.input_transform(images)
    for layer, geometry in zip(self.stem, self._geometry):
        sizes = geometry.output_sizes(sizes)
        x = mask_padding(layer(x), sizes)
    return pool_regions(x, sizes, self.roi_size, self.roi)


def pooled_regions_unmasked(self: RoiBackbone, images: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """``RoiBackbone.pooled_regions`` without any masking: padding leaks (the time baseline)."""
    x = self.input_transform(images)
    for layer, geometry in zip(self.stem, self._geometry):
        sizes = geometry.output_sizes(sizes)
        x = layer(x)
    return pool_regions(x, sizes, self.roi_size, self.roi)


VARIANTS = {  # name -> RoiBackbone.pooled_regions, None for the library's
    LIBRARY: None,
    FULL_MASK: pooled_regions_full_mask,
    UNMASKED: pooled_regions_unmasked,
}


@contextlib.contextmanager
def variant(name: str):
    """The backbone switched to variant ``name`` of VARIANTS, restored on exit."""
    original = RoiBackbone.pooled_regions
    if VARIANTS[name] is not None:
        RoiBackbone.pooled_regions = VARIANTS[name]
    try:
        yield
    finally:
        RoiBackbone.pooled_regions = original


def stem_outputs(model, batch, runtime: Runtime) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """(features, valid sizes, reach) after each stem layer, as the masking functions see them."""
    visual = model.backbone
    outputs = []
    with torch.inference_mode(), runtime.autocast():
        x, sizes = visual.input_transform(batch.images), batch.sizes.cpu()
        for layer, geometry, reach in zip(visual.stem, visual._geometry, visual._reaches):
            x = layer(x)
            sizes = geometry.output_sizes(sizes)
            outputs.append((x.clone(), sizes.clone(), reach))
    return outputs


def relative_differences(model, batch, targets, runtime: Runtime) -> dict[str, float]:
    """Max relative difference of the features and of all parameter gradients, library vs full mask.

    BatchNorm in eval mode (frozen: the paper's recipe for Inception-v3), no dropout. (Inception's
    stem has BatchNorm; in train mode its batch statistics span the whole canvas, padding included,
    so any change to what the padding holds changes them. The compact stem has none.)
    """
    features, gradients = {}, {}
    model.eval()
    for name in (FULL_MASK, LIBRARY):
        model.zero_grad(set_to_none=True)
        with variant(name), runtime.autocast():
            features[name] = model.features(batch.images, batch.sizes).float()
            emd_loss(model.predict_from_features(features[name]).float(), targets).backward()
        gradients[name] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad(set_to_none=True)

    def relative(values: dict[str, torch.Tensor]) -> float:
        scale = values[FULL_MASK].abs().max().item() or 1.0
        return (values[LIBRARY] - values[FULL_MASK]).abs().max().item() / scale

    return {"features": relative(features), "gradients": relative(gradients)}


def bench_backbone(backbone: str, batch_size: int, args, runtime: Runtime) -> dict:
    torch.manual_seed(args.seed)
    model = runtime.module(build_model(backbone, num_bins=10, roi_size=args.roi_size)).eval()
    sizes = fit_sizes(ava_like_sizes(batch_size, args.seed), args.canvas)
    batch = runtime.batch(random_padded_batch(sizes, canvas=args.canvas, seed=args.seed))
    targets = random_targets(batch_size, 10, args.seed).to(runtime.device)
    stem = stem_outputs(model, batch, runtime)

    def forward(name: str):
        def run() -> None:
            with variant(name), torch.inference_mode(), runtime.autocast():
                model.features(batch.images, batch.sizes)

        return run

    def strips_alone() -> None:
        with torch.inference_mode():
            for values, valid, reach in stem:
                if reach:
                    zero_border_strips_(values, valid, reach)

    def masks_alone() -> None:
        with torch.inference_mode():
            for values, valid, _ in stem:
                mask_padding(values, valid)

    def train_step(name: str):
        def run() -> None:
            model.train()
            with variant(name), runtime.autocast():
                loss = emd_loss(model(batch.images, batch.sizes).float(), targets)
            loss.backward()
            model.zero_grad(set_to_none=True)
            model.eval()

        return run

    variants = {name: forward(name) for name in VARIANTS}
    variants["zero_border_strips_ alone"] = strips_alone
    variants["mask_padding alone"] = masks_alone
    if args.train:
        variants.update({f"train {name}": train_step(name) for name in VARIANTS})
    times = runtime.time(variants, args.repeats, args.warmup, desc=backbone)
    result = {name: median(values) for name, values in times.items()}
    result["spread unmasked"] = (max(times[UNMASKED]) - min(times[UNMASKED])) / result[UNMASKED]
    result["differences"] = relative_differences(model, batch, targets, runtime)
    return result


def summarise(backbone: str, batch_size: int, canvas: int, result: dict, train: bool) -> tuple[dict, dict]:
    """(table row, ratios) of one backbone's ``bench_backbone`` result."""
    unmasked = result[UNMASKED]
    row = {
        "backbone": backbone, "batch": batch_size, "canvas": canvas,
        "library ms": 1e3 * result[LIBRARY], "full mask ms": 1e3 * result[FULL_MASK], "unmasked ms": 1e3 * unmasked,
        "overhead %": 100 * (result[LIBRARY] / unmasked - 1),
        "isolated %": 100 * result["zero_border_strips_ alone"] / unmasked,
        "full mask %": 100 * (result[FULL_MASK] / unmasked - 1),
        "full mask isolated %": 100 * result["mask_padding alone"] / unmasked,
        "unmasked spread %": 100 * result["spread unmasked"],
    }  # fmt: skip
    ratios = {
        f"forward library/unmasked {backbone}": result[LIBRARY] / unmasked,
        f"forward full mask/unmasked {backbone}": result[FULL_MASK] / unmasked,
        f"zero_border_strips_ alone/forward {backbone}": result["zero_border_strips_ alone"] / unmasked,
        f"mask_padding alone/forward {backbone}": result["mask_padding alone"] / unmasked,
        f"library vs full mask differences {backbone}": result["differences"],
    }
    if train:
        for name, short in ((LIBRARY, "library"), (FULL_MASK, "full mask")):
            ratios[f"train {short}/unmasked {backbone}"] = result[f"train {name}"] / result[f"train {UNMASKED}"]
        row["train overhead %"] = 100 * (ratios[f"train library/unmasked {backbone}"] - 1)
        row["train full mask %"] = 100 * (ratios[f"train full mask/unmasked {backbone}"] - 1)
    return row, ratios


def print_ratios(row: dict, ratios: dict, repeats: int, train: bool) -> None:
    backbone = row["backbone"]
    differences = ratios[f"library vs full mask differences {backbone}"]
    exactness = f"max relative diff to the full mask: features {differences['features']:.1e}, gradients {differences['gradients']:.1e}"
    print_ratio(f"forward time masked / unmasked [{backbone}]", ratios[f"forward library/unmasked {backbone}"],
                f"library, border strips; end to end, median of {repeats}; "
                f"unmasked run-to-run spread {row['unmasked spread %']:.1f}%")  # fmt: skip
    print_ratio(f"zero_border_strips_ alone / unmasked forward [{backbone}]",
                ratios[f"zero_border_strips_ alone/forward {backbone}"], "library, isolated estimate")
    print_ratio(f"forward time full mask / unmasked [{backbone}]", ratios[f"forward full mask/unmasked {backbone}"],
                "previous library code, the reference")
    print_ratio(f"mask_padding alone / unmasked forward [{backbone}]", ratios[f"mask_padding alone/forward {backbone}"],
                "full mask, isolated estimate")
    exact = max(differences.values()) <= EXACT
    print(f"CHECK library == full mask [{backbone}]: {'PASS' if exact else 'FAIL'} ({exactness}; pass <= {EXACT:.0e})")
    if train:
        print_ratio(f"train step masked / unmasked [{backbone}]", ratios[f"train library/unmasked {backbone}"], "library")
        print_ratio(f"train step full mask / unmasked [{backbone}]", ratios[f"train full mask/unmasked {backbone}"])
    met = max(row["overhead %"], 0.0) < 100 * GOAL and row["isolated %"] < 100 * GOAL
    print_goal(f"stem masking < {100 * GOAL:.0f}% [{backbone}]", met,
               f"library (border strips): end to end {row['overhead %']:+.1f}%, isolated {row['isolated %']:.2f}%; "
               f"previous full mask: {row['full mask %']:+.1f}%")  # fmt: skip


def main() -> None:
    parser = base_parser(__doc__.split("\n")[0])
    add_model_options(parser)
    parser.add_argument("--train", action="store_true", help="also time training steps (forward + backward) of each variant")
    args = parser.parse_args()
    runtime = runtime_from_args(args)
    batch_sizes = resolve_model_options(args, runtime, repeats=7)
    print_header("stem masking overhead", runtime)

    rows, ratios = [], {}
    for backbone in args.backbones:
        batch_size = batch_sizes.get(backbone, 2)
        result = bench_backbone(backbone, batch_size, args, runtime)
        row, backbone_ratios = summarise(backbone, batch_size, args.canvas, result, args.train)
        rows.append(row)
        ratios.update(backbone_ratios)
    print_table(rows)
    print()
    for row in rows:
        print_ratios(row, ratios, args.repeats, args.train)
    write_json(args.json, {"rows": rows, "ratios": ratios, "goal": GOAL}, runtime)


if __name__ == "__main__":
    main()
