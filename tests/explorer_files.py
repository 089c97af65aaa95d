"""Upload files for the explorer tests: good photos in every awkward format and bad files of
every kind, written into a folder."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# Each bad upload of bad_uploads and a phrase its rejection message must contain.
BAD_UPLOAD_PHRASES = [
    ("empty.png", "empty file"),
    ("truncated.jpg", "truncated or corrupt"),
    ("text.jpg", "not an image file"),
    ("bomb.png", "decompression bomb"),
    ("bomb-warning.png", "decompression bomb"),
]
# Photo size of the generated good uploads, in pixels (width, height).
PHOTO_SIZE = (96, 64)


def _photo() -> Image.Image:
    y, x = np.mgrid[0 : PHOTO_SIZE[1], 0 : PHOTO_SIZE[0]]
    rgb = np.stack([x * 255 // PHOTO_SIZE[0], y * 255 // PHOTO_SIZE[1], (x + y) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def _png_with_declared_size(path: Path, width: int, height: int) -> None:
    """Write a valid 1 x 1 PNG, then rewrite its header to declare ``width`` x ``height``."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    # Bytes 16-23 are the IHDR width and height, 29-32 the IHDR CRC over bytes 12-28.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def good_uploads(folder: Path) -> dict[str, Path]:
    """Write photos that must be accepted: CMYK JPEG, 16-bit grayscale PNG, palette PNG, RGBA
    PNG, an EXIF-rotated JPEG (stored landscape, shown portrait) and a 2000-pixel-wide JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = _photo()
    files = {
        name: folder / name
        for name in ("cmyk.jpg", "gray16.png", "palette.png", "rgba.png", "exif.jpg", "large.jpg")
    }
    photo.convert("CMYK").save(files["cmyk.jpg"])
    gray16 = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(files["gray16.png"])
    photo.convert("P", palette=Image.ADAPTIVE, colors=16).save(files["palette.png"])
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(files["rgba.png"])
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    photo.save(files["exif.jpg"], exif=exif)
    photo.resize((2000, 1333)).save(files["large.jpg"])
    return files


def bad_uploads(folder: Path, real_jpeg: Path) -> dict[str, Path]:
    """Write files that must be rejected: empty, truncated JPEG, text named .jpg, and two PNG
    decompression bombs (one above Pillow's error limit, one between its warning and error)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        name: folder / name
        for name in ("empty.png", "truncated.jpg", "text.jpg", "bomb.png", "bomb-warning.png")
    }
    files["empty.png"].write_bytes(b"")
    data = real_jpeg.read_bytes()
    files["truncated.jpg"].write_bytes(data[: len(data) // 2])
    files["text.jpg"].write_text("this is not an image\n")
    _png_with_declared_size(files["bomb.png"], 30_000, 30_000)
    _png_with_declared_size(files["bomb-warning.png"], 8_000, 7_000)
    return files
