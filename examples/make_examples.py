"""Regenerate the demo's example photos from the synthetic benchmark (nothing downloaded).

    python examples/make_examples.py [--seed 0] [--out examples]

Writes one photo per theme in ``THEMES`` (the first photo of that theme in the benchmark drawn
with ``--seed``, at its full resolution, JPEG as the benchmark stores it) and ``examples.csv``
(file, theme, index, seed, width, height), which app.py reads to pre-select each example's theme.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from workbench.data.synth import JPEG_OPTIONS  # noqa: E402
from workbench.data.synth_attributes import sample_attributes  # noqa: E402
from workbench.data.synth_render import generate_image  # noqa: E402

# Themes whose photos show the method: blur judged by the theme, extreme and portrait aspect
# ratios (what resize warps and crop cuts), shape, colour and the full-resolution grain.
THEMES = ("Motion Blur", "Panorama", "Portrait Orientation", "Circles", "Golden Hour", "Film Grain")
# Photos that show their theme plainly (the benchmark draws a photo that fits its theme 70% of the time).
FITS = {
    "Panorama": lambda a: a["width"] >= 2 * a["height"],
    "Portrait Orientation": lambda a: a["height"] >= 1.25 * a["width"],
}
MAX_INDEX = 2000  # search limit; every theme appears within the first hundred photos


def find_examples(seed: int, themes: tuple[str, ...] = THEMES) -> dict[str, int]:
    """The first photo index of each theme (attributes only: no pixels drawn)."""
    found: dict[str, int] = {}
    for index in range(MAX_INDEX):
        attributes = sample_attributes(index, seed)
        theme = attributes["theme"]
        if theme in themes and theme not in found and FITS.get(theme, lambda a: True)(attributes):
            found[theme] = index
            if len(found) == len(themes):
                break
    missing = set(themes) - set(found)
    if missing:
        raise RuntimeError(f"no photo of {sorted(missing)} among the first {MAX_INDEX} of seed {seed}")
    return {theme: found[theme] for theme in themes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for theme, index in find_examples(args.seed).items():
        image, _ = generate_image(index, args.seed)
        name = theme.lower().replace(" ", "-") + ".jpg"
        image.save(args.out / name, format="JPEG", **JPEG_OPTIONS)
        rows.append({"file": name, "theme": theme, "index": index, "seed": args.seed,
                     "width": image.width, "height": image.height})  # fmt: skip
        print(f"{name}: photo {index} of seed {args.seed}, {image.width}x{image.height}")
    with open(args.out / "examples.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
