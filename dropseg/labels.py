"""PASCAL VOC 2012 class names and colour palette, and helpers to draw label maps."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "IGNORE_INDEX",
    "IGNORE_COLOR",
    "NUM_CLASSES",
    "VOC_CLASSES",
    "VOC_PALETTE",
    "blend",
    "colorize",
    "draw_legend",
    "palette_bytes",
    "present_classes",
]

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)  # fmt: skip
NUM_CLASSES = len(VOC_CLASSES)
IGNORE_INDEX = 255
IGNORE_COLOR = (224, 224, 192)


def _voc_color(index: int) -> tuple[int, int, int]:
    # The VOC development kit spreads the bits of the class index over the three channels,
    # high bits first.
    red = green = blue = 0
    for shift in range(8):
        red |= ((index >> 0) & 1) << (7 - shift)
        green |= ((index >> 1) & 1) << (7 - shift)
        blue |= ((index >> 2) & 1) << (7 - shift)
        index >>= 3
    return red, green, blue


VOC_PALETTE: np.ndarray = np.array([_voc_color(i) for i in range(256)], dtype=np.uint8)
VOC_PALETTE[IGNORE_INDEX] = IGNORE_COLOR


def palette_bytes() -> list[int]:
    """Return the palette as the flat list that ``PIL.Image.putpalette`` takes."""
    return VOC_PALETTE.reshape(-1).tolist()


def colorize(label_map: np.ndarray) -> np.ndarray:
    """Return an (H, W, 3) uint8 RGB image for an (H, W) integer label map."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise ValueError(f"label_map must be (H, W), got shape {label_map.shape}")
    if label_map.size and (label_map.min() < 0 or label_map.max() > 255):
        raise ValueError("label values must be in [0, 255]")
    return VOC_PALETTE[label_map.astype(np.uint8)]


def blend(image: Image.Image | np.ndarray, label_map: np.ndarray, opacity: float = 0.6) -> Image.Image:
    """Overlay the colours of ``label_map`` on ``image`` with the given opacity.

    Background (0) and ignored (255) pixels keep the photo as it is.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    photo = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    label_map = np.asarray(label_map)
    if photo.shape[:2] != label_map.shape:
        raise ValueError(f"image size {photo.shape[:2]} differs from label size {label_map.shape}")

    colors = colorize(label_map).astype(np.float32)
    weight = np.where((label_map == 0) | (label_map == IGNORE_INDEX), 0.0, opacity)[..., None]
    mixed = photo * (1.0 - weight) + colors * weight
    return Image.fromarray(mixed.round().astype(np.uint8))


def present_classes(label_maps: Iterable[np.ndarray]) -> list[int]:
    """Return the sorted class indices that occur in any of ``label_maps``, without 255."""
    found: set[int] = set()
    for label_map in label_maps:
        found.update(int(v) for v in np.unique(label_map))
    found.discard(IGNORE_INDEX)
    return sorted(found)


def draw_legend(classes: Iterable[int], swatch: int = 18, width: int = 180) -> Image.Image:
    """Draw a legend of coloured swatches with class names, one row per class index."""
    classes = list(classes)
    font = ImageFont.load_default()
    row = swatch + 6
    legend = Image.new("RGB", (width, max(row * len(classes), row)), "white")
    draw = ImageDraw.Draw(legend)
    for position, index in enumerate(classes):
        if not 0 <= index < NUM_CLASSES:
            raise ValueError(f"class index must be in [0, {NUM_CLASSES}), got {index}")
        top = position * row + 3
        draw.rectangle((4, top, 4 + swatch, top + swatch), fill=tuple(VOC_PALETTE[index]), outline="black")
        draw.text((swatch + 12, top + 2), VOC_CLASSES[index], fill="black", font=font)
    return legend
