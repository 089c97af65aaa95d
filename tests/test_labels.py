"""VOC class names, palette and drawing helpers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dropseg.labels import (
    IGNORE_COLOR,
    VOC_CLASSES,
    VOC_PALETTE,
    blend,
    colorize,
    draw_legend,
    palette_bytes,
    present_classes,
)


def test_palette_matches_voc_label_files(voc_root):
    label_path = next((voc_root / "VOCdevkit" / "VOC2012" / "SegmentationClass").glob("*.png"))
    with Image.open(label_path) as label:
        stored = np.array(label.getpalette()[: 21 * 3]).reshape(21, 3)
    np.testing.assert_array_equal(stored, VOC_PALETTE[:21])


def test_class_names():
    assert len(VOC_CLASSES) == 21
    assert VOC_CLASSES[10] == "cow"
    assert VOC_CLASSES[20] == "tvmonitor"


def test_colorize_maps_indices_to_palette():
    rgb = colorize(np.array([[0, 1], [15, 255]]))
    assert rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 1]) == (128, 0, 0)
    assert tuple(rgb[1, 0]) == (192, 128, 128)
    assert tuple(rgb[1, 1]) == IGNORE_COLOR


def test_palette_bytes_round_trip():
    image = Image.fromarray(np.array([[3, 20]], dtype=np.uint8), mode="P")
    image.putpalette(palette_bytes())
    assert tuple(np.asarray(image.convert("RGB"))[0, 1]) == tuple(VOC_PALETTE[20])


def test_blend_leaves_background_and_mixes_objects():
    photo = Image.new("RGB", (2, 1), (100, 100, 100))
    blended = np.asarray(blend(photo, np.array([[0, 1]]), opacity=0.5))
    assert tuple(blended[0, 0]) == (100, 100, 100)
    assert tuple(blended[0, 1]) == (114, 50, 50)


def test_blend_rejects_size_mismatch():
    with pytest.raises(ValueError, match="differs"):
        blend(Image.new("RGB", (3, 3)), np.zeros((2, 2), dtype=np.uint8))


def test_legend_has_one_row_per_class():
    legend = draw_legend([0, 10, 20], swatch=18)
    assert legend.height == 3 * 24
    pixels = np.asarray(legend)
    assert tuple(pixels[24 + 3 + 9, 4 + 9]) == tuple(VOC_PALETTE[10])


def test_present_classes_skip_ignore():
    assert present_classes([np.array([[0, 255]]), np.array([[7, 7]])]) == [0, 7]
