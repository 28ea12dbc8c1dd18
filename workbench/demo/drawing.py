"""Pictures the demo draws: the padded canvas with the photo's ROI, and a heat map over a view."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

ROI_COLOUR = (255, 64, 64)
PADDING_GREY = (40, 40, 40)
HEAT_COLORMAP = "RdBu_r"  # diverging: blue lowers the predicted mean, white leaves it, red raises it
DISPLAY_SIDE = 480  # px: the canvas preview's side
THUMBNAIL_SIDE = 320  # px: view thumbnails kept in the cache for drawing


def thumbnail(image: Image.Image, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """uint8[h, w, 3], the image shrunk to fit ``side`` (aspect kept)."""
    small = image.copy()
    small.thumbnail((side, side))
    return np.asarray(small)


def canvas_with_roi(photo: Image.Image, canvas: int, display_side: int = DISPLAY_SIDE) -> Image.Image:
    """The padded canvas the model sees, drawn at ``display_side`` px: the photo top-left on a grey
    field, its ROI (the region ROI pooling reads) outlined."""
    scale = display_side / canvas
    w, h = max(1, round(photo.width * scale)), max(1, round(photo.height * scale))
    field = Image.new("RGB", (display_side, display_side), PADDING_GREY)
    field.paste(photo.resize((w, h), Image.Resampling.BILINEAR), (0, 0))
    draw = ImageDraw.Draw(field)
    line = max(2, display_side // 160)
    draw.rectangle((0, 0, w - 1, h - 1), outline=ROI_COLOUR, width=line)
    font = ImageFont.load_default(size=max(10, display_side // 32))
    label = f"ROI {photo.width}x{photo.height}"
    corner = (line + 5, max(line + 5, h - line - 5))  # bottom-left inside the ROI (the page's label covers the top)
    box = draw.textbbox(corner, label, font=font, anchor="ld")
    draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(0, 0, 0))
    draw.text(corner, label, fill=ROI_COLOUR, font=font, anchor="ld")
    # Label the padding in its larger free band (right of or below the photo) if the text fits there.
    left, top = (w, 0) if display_side - w >= display_side - h else (0, h)
    for text in (f"padding (canvas {canvas}x{canvas})", "padding"):
        if draw.textlength(text, font=font) + 8 <= display_side - left and font.size + 8 <= display_side - top:
            centre = ((left + display_side) / 2, (top + display_side) / 2)
            draw.text(centre, text, fill=(200, 200, 200), font=font, anchor="mm")
            break
    return field


def heat_overlay(image: Image.Image | np.ndarray, heat: np.ndarray, alpha: float = 0.6, colormap: str = HEAT_COLORMAP) -> Image.Image:
    """The image with ``heat`` (float[h, w] in [-1, 1], any size: resized to the image) blended over it:
    red raises the score, blue lowers it, and the blend fades to the photo where the heat is near 0."""
    base = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heat must be float[h, w], got shape {heat.shape}")
    scaled = Image.fromarray(heat).resize(base.size, Image.Resampling.BILINEAR)
    heat = np.clip(np.asarray(scaled), -1.0, 1.0)
    colours = colormaps[colormap]((heat + 1) / 2)[..., :3]
    weight = alpha * np.abs(heat)[..., None]
    blended = (1 - weight) * np.asarray(base.convert("RGB"), np.float32) / 255 + weight * colours
    return Image.fromarray(np.round(255 * np.clip(blended, 0, 1)).astype(np.uint8))


def heat_scale_html(colormap: str = HEAT_COLORMAP, stops: int = 11) -> str:
    """The heat maps' colour scale as an HTML bar (a CSS gradient through the colormap, with its ends
    labelled): what a colour on a heat map means, with no image to fetch."""
    colours = colormaps[colormap](np.linspace(0, 1, stops))[:, :3]
    gradient = ", ".join(f"rgb({r:.0f}, {g:.0f}, {b:.0f})" for r, g, b in np.round(255 * colours))
    return (
        '<div class="heat-scale" style="font-size: 12px; line-height: 1.3; max-width: 420px">'
        f'<div style="height: 12px; border-radius: 3px; background: linear-gradient(to right, {gradient})"></div>'
        '<div style="display: flex; justify-content: space-between; gap: 4px"><span>−1 lowers the mean</span>'
        "<span>0 no effect</span><span>+1 raises it</span></div>"
        "<div>Scaled per map: ±1 is its 99th percentile of |effect|; pale = little effect.</div></div>"
    )
