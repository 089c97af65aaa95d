"""Validation and conversion of uploaded photos.

An upload becomes an 8-bit RGB image no larger than :data:`MAX_INFERENCE_SIDE` pixels on its
longest side, with its EXIF orientation applied, or is rejected with an :class:`UploadError`
whose message states what is wrong and what to upload instead.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

_logger = logging.getLogger(__name__)

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_INFERENCE_SIDE",
    "MAX_UPLOAD_BYTES",
    "MIN_SIDE",
    "UploadError",
    "load_upload",
]

# Maximum side, in pixels, that an upload is shrunk to before inference. It is the 513-pixel
# crop of the Spilsbury and Camps 2019 recipe. Models trained on smaller crops, such as the cpu
# preset's 129, then see objects larger than in training.
MAX_INFERENCE_SIDE = 513
# Shortest side, in pixels, that the output-stride-16 encoder still maps to a feature map.
MIN_SIDE = 16
# Decoded size above which an upload counts as a decompression bomb: 40 megapixels, about
# 160 MB as RGBA, more than any camera photo that PASCAL-style scenes need.
MAX_IMAGE_PIXELS = 40_000_000
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; load_upload turns the
# warning into an error as well.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


class UploadError(ValueError):
    """An upload that cannot be used; the message is shown on the page as it is."""


def load_upload(path: str | Path) -> Image.Image:
    """Read, check and convert an uploaded file to an RGB image of at most MAX_INFERENCE_SIDE.

    Raises:
        UploadError: for a missing, empty, oversized, truncated or non-image file, a
            decompression bomb, or an image smaller than MIN_SIDE.
    """
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise UploadError(f"the upload {name!r} could not be read; upload it again") from None
    if size == 0:
        raise UploadError(f"{name!r} is an empty file (0 bytes); upload a PNG or JPEG photo")
    if size > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{name!r} is {size / 2**20:.1f} MiB, above the {MAX_UPLOAD_BYTES // 2**20} MiB limit; "
            "upload a smaller photo"
        )

    image = _decode(path, name)
    if min(image.size) < MIN_SIDE:
        raise UploadError(
            f"{name!r} is {image.width} x {image.height} pixels; both sides must be {MIN_SIDE} pixels or more"
        )
    image = to_rgb(image)
    if max(image.size) > MAX_INFERENCE_SIDE:
        scale = MAX_INFERENCE_SIDE / max(image.size)
        target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(target, Image.LANCZOS)
    return image


def _decode(path: Path, name: str) -> Image.Image:
    """Decode the first frame fully and apply the EXIF orientation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.seek(0)
                opened.load()
                image = ImageOps.exif_transpose(opened)
                image.load()
                return image.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            f"{name!r} declares more than {MAX_IMAGE_PIXELS:,} pixels and is rejected as a possible "
            "decompression bomb; upload a photo of at most that size"
        ) from None
    except UnidentifiedImageError:
        raise UploadError(
            f"{name!r} is not an image file Pillow can read; upload a PNG, JPEG or WebP photo"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # Pillow reports truncated and corrupt image data as OSError (SyntaxError for some
        # malformed headers).
        _logger.info("rejected upload %s: %s", name, error)
        raise UploadError(f"{name!r} is truncated or corrupt ({error}); upload the complete file") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    16-bit and 32-bit grayscale are scaled by their own maximum, because their range varies by
    camera. Transparency is composited on white. CMYK, palette and grayscale use Pillow's
    conversion.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = float(values.max()) if values.size else 0.0
        scaled = np.zeros_like(values) if high <= 0 else np.clip(values / high, 0.0, 1.0) * 255.0
        return Image.fromarray(scaled.round().astype(np.uint8), mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
