"""Rendered images as content-addressed PNG files, written atomically.

Gradio 6.31 saves a returned PIL image to its cache by rewriting the file named after the
image's hash on every request. A client that downloads that file while a concurrent request
rewrites it gets a truncated body. A returned path is instead copied
into the cache under a temporary name and renamed, once, so views return paths from here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

__all__ = ["image_file"]

# NOTE: files are not deleted while the server runs. At about 10-100 kB per distinct image, a
# long session grows this folder as it grows Gradio's own cache.
_FOLDER = Path(tempfile.mkdtemp(prefix="dropseg-explorer-images-"))


def image_file(image: Image.Image) -> str:
    """Encode ``image`` as PNG and return the path of a file holding exactly those bytes."""
    buffer = io.BytesIO()
    # A timeline step encodes about 20 overlays. zlib level 1 encodes them about 3x faster than
    # the default level 6, and the files grow by a few percent.
    image.save(buffer, format="PNG", compress_level=1)
    data = buffer.getvalue()
    path = _FOLDER / f"{hashlib.sha256(data).hexdigest()}.png"
    if not path.exists():
        handle, staging = tempfile.mkstemp(dir=_FOLDER, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(staging, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staging)
    return str(path)
