"""What stem masking costs: forward time with the padding zeroed after each stem layer vs without.

The masked model is the library's (``RoiBackbone`` calls ``mask_padding`` after each stem layer);
the unmasked variant replaces ``workbench.model.backbones.mask_padding`` by the identity for its
calls only. Two estimates of the overhead, measured side by side:

- end to end: median forward time masked / unmasked - 1 (the real figure; noisy on shared CPUs);
- isolated: the three ``mask_padding`` calls alone, on tensors of the stem's output shapes, over
  the unmasked forward (less noisy; misses cache effects).

A PROPOSAL (not the library's code) is measured beside them and checked against the library's
features and gradients (max relative differences printed): "border strips". Nothing reads most of
the padding. A valid convolution's outputs inside a photo's valid size read only inputs inside it;
a 3x3 padded convolution reads one pixel beyond; ROI pooling's float bin edges can read one row or
column beyond the box (harmless on ReLU output when that pixel is 0). So zeroing, IN PLACE, the
1-pixel strips just beyond each photo's region of the outputs that feed a padded convolution or the
ROI pooling gives the same features as masking everything. Done on the pre-activation (conv or
BatchNorm output, which their backward does not need; ReLU(0) = 0) and unrecorded by autograd (the
ReLU passes no gradient where it outputs 0), it gives the same gradients too.
The library's out-of-place product instead allocates and writes a stem-sized tensor per layer; on
CPU the page faults of that fresh memory are most of its cost.

Goal: overhead < 3% of the forward.

    python bench/masking.py [--quick] [--device cpu|cuda] [--train] [--json OUT]
"""
from __future__ import annotations

import contextlib

import common  # noqa: F401  (puts the repository root on sys.path)
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

import workbench.model.backbones as backbones
from common import (
    Runtime, add_model_options, ava_like_sizes, base_parser, fit_sizes, median, print_goal, print_header, print_ratio,
    print_table, random_padded_batch, random_targets, resolve_model_options, runtime_from_args, write_json,
)  # fmt: skip
from workbench.losses import emd_loss
from workbench.model.build import build_model
from workbench.model.roi import conv_output_sizes, mask_padding, pool_regions

GOAL = 0.03
ROI_POOL_REACH = 1  # ROI pooling's rounded bin edges read at most one pixel beyond the box


def zero_border_strips_(features: torch.Tensor, sizes: torch.Tensor, reach: int) -> torch.Tensor:
    """In place: zero the ``reach``-pixel strips just below and right of each photo's region (h, w).

    Unrecorded by autograd (``no_grad``): recorded, each slice assignment would cost a full-size
    gradient copy in backward. The gradient stays exact because a ReLU follows: it passes no gradient
    where its output is 0, and the convolution or BatchNorm before does not need its own output.
    """
    with torch.no_grad():
        for index, (h, w) in enumerate(sizes.tolist()):
            features[index, :, h : h + reach, : w + reach] = 0
            features[index, :, :h, w : w + reach] = 0
    return features


def _pre_activation(layer: nn.Module) -> nn.Module:
    """The last convolution or BatchNorm of a stem layer: its output is what the ReLU reads."""
    candidates = [m for m in layer.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, FrozenBatchNorm2d))]
    if not candidates:
        raise ValueError(f"stem layer {layer.__class__.__name__} has no Conv2d or BatchNorm")
    return candidates[-1]


def pooled_regions_border_strips(self, images: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """PROPOSAL for ``RoiBackbone.pooled_regions``: zero only the strips the next step reads, in place."""
    x = self.input_transform(images)
    for index, (layer, (kernel, stride, padding)) in enumerate(zip(self.stem, self._geometry)):
        sizes = conv_output_sizes(sizes, kernel, stride, padding)
        reach = self._geometry[index + 1][2] if index + 1 < len(self._geometry) else ROI_POOL_REACH
        if reach == 0:  # a valid convolution reads nothing beyond the valid size
            x = layer(x)
            continue
        hook = _pre_activation(layer).register_forward_hook(
            lambda module, inputs, output, sizes=sizes, reach=reach: zero_border_strips_(output, sizes, reach)
        )
        try:
            x = layer(x)
        finally:
            hook.remove()
    return pool_regions(x, sizes, self.roi_size, self.roi)


VARIANTS = {  # name -> (RoiBackbone.pooled_regions or None to keep the library's, mask_padding)
    "masked": (None, mask_padding),  # the library as it is
    "unmasked": (None, lambda features, sizes: features),
    "border strips": (pooled_regions_border_strips, mask_padding),
}


@contextlib.contextmanager
def variant(name: str):
    """The backbone switched to variant ``name`` of VARIANTS, restored on exit."""
    pooled_regions, mask = VARIANTS[name]
    original = backbones.mask_padding, backbones.RoiBackbone.pooled_regions
    backbones.mask_padding = mask
    if pooled_regions is not None:
        backbones.RoiBackbone.pooled_regions = pooled_regions
    try:
        yield
    finally:
        backbones.mask_padding, backbones.RoiBackbone.pooled_regions = original


def stem_outputs(model, batch, runtime: Runtime) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(features, valid sizes) after each stem layer, as ``mask_padding`` sees them."""
    visual = model.backbone
    outputs = []
    with torch.inference_mode(), runtime.autocast():
        x, sizes = visual.input_transform(batch.images), batch.sizes
        for layer, (kernel, stride, padding) in zip(visual.stem, visual._geometry):
            x = layer(x)
            sizes = conv_output_sizes(sizes, kernel, stride, padding)
            outputs.append((x.clone(), sizes.clone()))
    return outputs


def relative_differences(model, batch, targets, runtime: Runtime) -> dict[str, float]:
    """Max relative difference of the features and of all parameter gradients, proposal vs library.

    BatchNorm in eval mode (frozen: the paper's recipe for Inception-v3), no dropout. (Inception's
    stem has BatchNorm; in train mode its batch statistics span the whole canvas, padding included,
    so any change to what the padding holds changes them. The compact stem has none.)
    """
    features, gradients = {}, {}
    model.eval()
    for name in ("masked", "border strips"):
        model.zero_grad(set_to_none=True)
        with variant(name), runtime.autocast():
            features[name] = model.features(batch.images, batch.sizes).float()
            emd_loss(model.predict_from_features(features[name]).float(), targets).backward()
        gradients[name] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad(set_to_none=True)

    def relative(values: dict[str, torch.Tensor]) -> float:
        scale = values["masked"].abs().max().item() or 1.0
        return (values["border strips"] - values["masked"]).abs().max().item() / scale

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

    def masks_alone() -> None:
        with torch.inference_mode():
            for values, valid in stem:
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
    variants["mask_padding alone"] = masks_alone
    if args.train:
        variants.update({f"train {name}": train_step(name) for name in VARIANTS})
    times = runtime.time(variants, args.repeats, args.warmup, desc=backbone)
    result = {name: median(values) for name, values in times.items()}
    result["spread unmasked"] = (max(times["unmasked"]) - min(times["unmasked"])) / result["unmasked"]
    result["differences"] = relative_differences(model, batch, targets, runtime)
    return result


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
        unmasked = result["unmasked"]
        row = {
            "backbone": backbone, "batch": batch_size, "canvas": args.canvas,
            "masked ms": 1e3 * result["masked"], "unmasked ms": 1e3 * unmasked,
            "mask_padding ms": 1e3 * result["mask_padding alone"],
            "overhead %": 100 * (result["masked"] / unmasked - 1),
            "isolated %": 100 * result["mask_padding alone"] / unmasked,
            "strips %": 100 * (result["border strips"] / unmasked - 1),
            "unmasked spread %": 100 * result["spread unmasked"],
        }  # fmt: skip
        ratios[f"forward masked/unmasked {backbone}"] = result["masked"] / unmasked
        ratios[f"mask_padding alone/forward {backbone}"] = result["mask_padding alone"] / unmasked
        ratios[f"forward border strips/unmasked {backbone}"] = result["border strips"] / unmasked
        ratios[f"border strips differences {backbone}"] = result["differences"]
        if args.train:
            for name in ("masked", "border strips"):
                ratios[f"train {name}/unmasked {backbone}"] = result[f"train {name}"] / result["train unmasked"]
            row["train overhead %"] = 100 * (ratios[f"train masked/unmasked {backbone}"] - 1)
            row["train strips %"] = 100 * (ratios[f"train border strips/unmasked {backbone}"] - 1)
        rows.append(row)
    print_table(rows)
    print()
    for row in rows:
        backbone = row["backbone"]
        differences = ratios[f"border strips differences {backbone}"]
        print_ratio(f"forward time masked / unmasked [{backbone}]", ratios[f"forward masked/unmasked {backbone}"],
                    f"end to end, median of {args.repeats}; unmasked run-to-run spread {row['unmasked spread %']:.1f}%")
        print_ratio(f"mask_padding alone / unmasked forward [{backbone}]", ratios[f"mask_padding alone/forward {backbone}"],
                    "isolated estimate")
        print_ratio(f"forward time PROPOSAL border strips / unmasked [{backbone}]", ratios[f"forward border strips/unmasked {backbone}"],
                    f"max relative diff to the library: features {differences['features']:.1e}, gradients {differences['gradients']:.1e}")
        if args.train:
            print_ratio(f"train step masked / unmasked [{backbone}]", ratios[f"train masked/unmasked {backbone}"])
            print_ratio(f"train step PROPOSAL border strips / unmasked [{backbone}]", ratios[f"train border strips/unmasked {backbone}"])
        met = max(row["overhead %"], 0.0) < 100 * GOAL and row["isolated %"] < 100 * GOAL
        print_goal(f"stem masking < {100 * GOAL:.0f}% [{backbone}]", met,
                   f"library: end to end {row['overhead %']:+.1f}%, isolated {row['isolated %']:.1f}%; "
                   f"proposal border strips: {row['strips %']:+.1f}%")  # fmt: skip
    write_json(args.json, {"rows": rows, "ratios": ratios, "goal": GOAL}, runtime)


if __name__ == "__main__":
    main()
